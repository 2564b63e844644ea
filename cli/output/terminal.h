// The width that text tables are fit to, found as findmnt (libsmartcols) finds it.
#pragma once

#include <cstddef>

namespace mntns::cli {

// 0 (never cut) unless stdout is a terminal. On a terminal: its width from
// ioctl(TIOCGWINSZ); where the terminal reports none (0 columns, or the ioctl
// fails), $COLUMNS if it is a whole positive number; else 80. These are
// util-linux's rules (lib/ttyutils.c get_terminal_width, libsmartcols).
[[nodiscard]] std::size_t TerminalWidth();

}  // namespace mntns::cli
