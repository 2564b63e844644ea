// mntns: create, inspect and reason about Linux mount namespaces.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bwrap.h"
#include "command.h"
#include "mntns/fd.h"

namespace mntns::cli {
namespace {

// findmnt's rule: output that did not reach its file is a failure (exit 1),
// whether the file is full (ENOSPC), gone (EIO, EPIPE) or was never open (EBADF).
int CheckStdout(int status) {
  errno = 0;
  if (std::fflush(stdout) == 0 && std::ferror(stdout) == 0) return status;
  // stdio keeps no errno of an earlier failed write (a table is written in
  // pieces as it is built): what fd 1 is now says what it was. A closed
  // (reserved) fd 1 is EBADF, a pipe or socket whose reader went away EPIPE
  // (with SIGPIPE ignored, as a spawning program may leave it).
  int error = errno;
  if (error == 0) {
    const int flags = ::fcntl(STDOUT_FILENO, F_GETFL);
    pollfd out{.fd = STDOUT_FILENO, .events = POLLOUT, .revents = 0};
    if (flags < 0 || (flags & O_PATH) != 0) {
      error = EBADF;
    } else if (::poll(&out, 1, 0) == 1 && (out.revents & POLLERR) != 0) {
      error = EPIPE;
    } else {
      error = EIO;
    }
  }
  ReportError(MakeError(error, "write", "standard output").error());
  return status == 0 ? kExitFailure : status;
}

int Main(int argc, char** argv) {
  // Closed fds 0-2 held by placeholders: nothing mntns opens lands there.
  ReserveStandardFds();
  CLI::App app{
      "mntns: create, inspect and reason about Linux mount namespaces.\n"
      "Uses listmount/statmount, open_tree(OPEN_TREE_NAMESPACE) and STATMOUNT_BY_FD where the\n"
      "kernel has them (7.x) and emulates them faithfully on older kernels (6.x).",
      "mntns"};
  // "mntns: " before CLI11's parse errors too, as before every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return fmt::format("mntns: {}\nRun with --help for more information.\n", error.what());
  });
  // At most one command: `run --unshare-pid ls` runs ls, not `mntns ls`.
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", fmt::format("mntns {}", MNTNS_VERSION), "Print the version and exit");
  app.footer(
      "Exit status: 0 success, 1 a failed operation, 2 a usage error.\n"
      "Run `mntns COMMAND --help` (or `mntns help COMMAND`) for the options of one command.");

  Runner runner;
  NewCommandLine new_command;
  AddFeaturesCommand(app, runner);
  AddLsCommand(app, runner);
  AddNewCommand(app, runner, new_command);
  NewCommandLine polyfill_command;
  AddPolyfillCommand(app, runner, polyfill_command);
  AddRunCommand(app, runner);
  AddStatCommand(app, runner);
  AddWatchCommand(app, runner);
  AddBenchCommand(app, runner);

  // `mntns help [COMMAND]` is `mntns [COMMAND] --help`.
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "help") {
    args.erase(args.begin());
    args.resize(std::min<std::size_t>(args.size(), 1));
    args.push_back("--help");
  }
  // `mntns new PATH -- CMD`: CMD is whatever follows the first "--", and only
  // that (CLI11 would also take a second positional as CMD: `new /tmp /tmp`
  // ran "/tmp").
  if (!args.empty() && args[0] == "new") {
    const auto dashes = std::find(args.begin(), args.end(), "--");
    if (dashes != args.end()) {
      new_command.command.assign(dashes + 1, args.end());
      new_command.given = true;
      args.erase(dashes, args.end());
    }
  }
  // `mntns polyfill [OPTIONS] [--] CMD [ARGS...]`: CMD is the first word that
  // is not an option (or what follows "--"); its ARGS are not mntns's.
  if (!args.empty() && args[0] == "polyfill") {
    const auto start = std::find_if(args.begin() + 1, args.end(),
                                    [](const std::string& word) { return word == "--" || !word.starts_with("-"); });
    if (start != args.end()) {
      polyfill_command.command.assign(start + (*start == "--" ? 1 : 0), args.end());
      polyfill_command.given = true;
      args.erase(start, args.end());
    }
  }
  const auto is_command = [&app](const std::string& name) {
    for (const CLI::App* command : app.get_subcommands({})) {
      if (command->get_name() == name) return true;
    }
    return false;
  };
  if (!args.empty() && !args[0].starts_with("-") && !is_command(args[0])) {
    fmt::print(stderr, "mntns: unknown command {} (the commands: features, ls, new, polyfill, run, stat, watch, bench;"
                       " see mntns --help)\n", QuotePath(args[0]));
    return kExitUsage;
  }
  int status;
  try {
    // CLI11 wants the arguments in reverse order.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(std::move(reversed));  // the && overload: the & one stops at the first leftover
    if (!runner) {
      std::fputs(app.help().c_str(), stdout);
      status = kExitUsage;
    } else {
      status = runner();
    }
  } catch (const CLI::CallForHelp& e) {
    status = app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    status = app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    status = app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    status = kExitUsage;
  }
  return CheckStdout(status);
}

}  // namespace

int CheckedBwrapMain(int argc, char** argv) { return CheckStdout(BwrapMain(argc, argv)); }
int CheckedMain(int argc, char** argv) { return Main(argc, argv); }
}  // namespace mntns::cli

int main(int argc, char** argv) {
  // Under the name bwrap (or mntns-bwrap), mntns is bubblewrap's command line.
  if (argc > 0 && mntns::cli::IsBwrapName(argv[0])) return mntns::cli::CheckedBwrapMain(argc, argv);
  return mntns::cli::CheckedMain(argc, argv);
}
