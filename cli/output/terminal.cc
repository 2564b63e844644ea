#include "output/terminal.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "mntns/fd.h"

namespace mntns::cli {
namespace {

// util-linux's get_env_int: the whole value a decimal number in 1..INT_MAX.
std::size_t ColumnsFromEnvironment() {
  const char* text = std::getenv("COLUMNS");
  if (text == nullptr) return 0;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value <= 0 || value > INT_MAX) return 0;
  return static_cast<std::size_t>(value);
}

}  // namespace

std::size_t TerminalWidth() {
  if (::isatty(STDOUT_FILENO) == 0) return 0;
  if (auto columns = TerminalColumns(STDOUT_FILENO); columns && *columns > 0) return *columns;
  if (const std::size_t columns = ColumnsFromEnvironment(); columns > 0) return columns;
  return 80;
}

}  // namespace mntns::cli
