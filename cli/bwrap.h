// The bubblewrap entry point: mntns invoked as `bwrap` or `mntns-bwrap`
// speaks bwrap 0.13's command line (the `mntns run` option table, bwrap's
// wording, exit statuses and --help/--version).
#pragma once

#include <string_view>

#include "run_spec.h"

namespace mntns::cli {

// Whether argv[0]'s basename is "bwrap" or "mntns-bwrap".
[[nodiscard]] bool IsBwrapName(std::string_view argv0);

// The whole program under that name: parses argv[1...] as bwrap does and runs
// the sandbox. Returns the exit status (CMD's; 1 for any failure of bwrap's own).
int BwrapMain(int argc, char** argv);

// Runs a parsed command line (both `mntns run` and the bwrap entry): the
// sandbox, the --info-fd/--json-status-fd reports, the wait. Errors are
// printed in the dialect's words ("mntns: ...", "bwrap: ...").
int RunParsedCommandLine(RunCommandLine& line, RunDialect dialect);

}  // namespace mntns::cli
