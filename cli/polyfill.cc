// mntns polyfill: run an unmodified program with the 7.x mount calls on 6.x.
#include <sys/wait.h>

#include <csignal>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.h"
#include "mntns/polyfill.h"

namespace mntns::cli {
namespace {

// The trapped calls, one per line, for --list.
int ListCalls() {
  const PolyfillCalls calls = PolyfillNeeded();
  auto line = [](bool trapped, const char* call) {
    fmt::print("{:<36} {}\n", call, trapped ? "emulated (trapped)" : "native (not trapped)");
  };
  line(calls.open_tree_namespace, "open_tree(OPEN_TREE_NAMESPACE)");
  line(calls.fsmount_namespace, "fsmount(FSMOUNT_NAMESPACE)");
  line(calls.statmount_by_fd, "statmount(STATMOUNT_BY_FD)");
  line(calls.empty_mount_namespace, "unshare(UNSHARE_EMPTY_MNTNS)");
  line(calls.empty_mount_namespace, "clone3(CLONE_EMPTY_MNTNS)");
  // Not a call the kernel lacks: the lists of the emulated namespaces.
  const bool listmount = calls.open_tree_namespace || calls.fsmount_namespace;
  fmt::print("{:<36} {}\n", "listmount(2)",
             listmount ? "trapped (emulated namespaces are listed as 7.2 lists them)" : "native (not trapped)");
  fmt::print("{:<36} {}\n", "ioctl(NS_MNT_GET_INFO)",
             listmount ? "trapped (their mounts are counted as 7.2 counts them)" : "native (not trapped)");
  return 0;
}

int RunPolyfill(const std::vector<std::string>& command) {
  // As `mntns run`: what mntns gets, CMD gets (a terminal's ^C reached it already).
  static constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  auto status = RunUnderPolyfill(command, kForwarded);
  if (!status) {
    ReportError(status.error());
    // As env(1) and timeout(1): 127 for a command that could not be run.
    return 127;
  }
  if (WIFEXITED(*status)) return WEXITSTATUS(*status);
  if (WIFSIGNALED(*status)) return 128 + WTERMSIG(*status);
  return kExitFailure;
}

}  // namespace

void AddPolyfillCommand(CLI::App& app, Runner& runner, const NewCommandLine& command_line) {
  auto list = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand(
      "polyfill",
      "mntns polyfill [--list] [--] CMD [ARGS...]\nRun CMD so that it gets Linux 7.x's mount calls on this kernel: open_tree(OPEN_TREE_NAMESPACE),\n"
      "fsmount(FSMOUNT_NAMESPACE), statmount(STATMOUNT_BY_FD), unshare(UNSHARE_EMPTY_MNTNS) and\n"
      "clone3(CLONE_EMPTY_MNTNS), for CMD and everything it starts.");
  command->add_flag("--list", *list, "Print which calls this kernel lacks (and CMD would get emulated), then exit");
  command->footer(
      "A seccomp filter traps only those calls with those flags (every other call runs natively)\n"
      "and mntns answers them as Linux 7.2 would, with CMD's namespace, root, cwd, fds and\n"
      "privileges. On a kernel that has a call, it is not trapped; on 7.1+ nothing is installed.\n"
      "Where namespaces are emulated, every listmount and ioctl(NS_MNT_GET_INFO) goes to mntns\n"
      "too: it lists and counts those namespaces as 7.2 does (the tree alone) and lets the\n"
      "kernel answer every other.\n"
      "Processes that outlive CMD get ENOSYS for the trapped calls. For unshare and clone3\n"
      "mntns is the ptracer of CMD and of all it starts (no debugger or strace can attach\n"
      "to them meanwhile); every clone3 stops once at mntns. Only native x86_64 calls are\n"
      "trapped: i386 and x32 programs get their kernel's answers (docs/polyfill.md).\n"
      "SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to mntns are passed on to CMD.\n"
      "Exit status: CMD's; 128+N when CMD was killed by signal N; 127 when CMD could not be run.\n"
      "Examples:\n"
      "  mntns polyfill -- crun run mycontainer\n"
      "  mntns polyfill --list");
  command->callback([&command_line, list, &runner] {
    const std::vector<std::string>& words = command_line.command;
    if (*list) {
      runner = [] { return ListCalls(); };
      return;
    }
    if (words.empty()) throw CLI::RequiredError("CMD");
    runner = [words] { return RunPolyfill(words); };
  });
}

}  // namespace mntns::cli
