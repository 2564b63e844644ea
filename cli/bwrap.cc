// mntns as bwrap: the entry point, bwrap's --help and --version, and the
// sandbox run both entry points share (reports on --info-fd and
// --json-status-fd, bwrap's exit statuses).
#include "bwrap.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.h"
#include "mntns/fd.h"
#include "mntns/sandbox.h"
#include "template_sharing.h"

namespace mntns::cli {
namespace {

// Every signal whose default action would end mntns while CMD went on: a
// sandbox lives exactly as long as its mntns unless it is killed (SIGKILL;
// --die-with-parent covers that).
constexpr std::array kForwarded = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Prints diagnostics as the dialect does: "mntns: ..." or "bwrap: ..."
// (after "<3>" with --level-prefix).
class Diagnostics {
 public:
  Diagnostics(RunDialect dialect, bool level_prefix) : dialect_(dialect), level_prefix_(level_prefix) {}

  void Say(const std::string& text) const {
    fmt::print(stderr, "{}{}: {}\n", level_prefix_ ? "<3>" : "", dialect_ == RunDialect::kBwrap ? "bwrap" : "mntns",
               text);
  }

  // A failed setup: bwrap's "Can't ..." words for the failures scripts see
  // most, mntns's full message (operation, path, errno, kernel log) otherwise.
  void SetupFailed(const Error& error) const {
    if (dialect_ != RunDialect::kBwrap) return Say(error.Message());
    const std::string reason = std::strerror(error.code);
    if (error.operation == "execvp") {
      return Say(fmt::format("execvp {}: {}", Unquoted(error.argument), reason));
    }
    const std::string step = error.context.empty() ? std::string() : error.context.front();
    const bool bind = step.starts_with("--bind ") || step.starts_with("--ro-bind ") || step.starts_with("--dev-bind ");
    if (bind && error.operation == "open_tree") {
      return Say(fmt::format("Can't find source path {}: {}", Unquoted(error.argument), reason));
    }
    if (error.operation == "mkdir") return Say(fmt::format("Can't mkdir {}: {}", Unquoted(error.argument), reason));
    if (error.operation == "symlink") {
      // `"/x" inside the sandbox: the existing destination is "a"`, or no detail (then the errno says it).
      const auto detail = error.argument.find(": the ");
      if (detail == std::string::npos) {
        return Say(fmt::format("Can't make symlink at {}: {}", Unquoted(error.argument), reason));
      }
      std::string what = error.argument.substr(detail + 6);
      if (const auto quote = what.find(" is \""); quote != std::string::npos) {
        what = what.substr(0, quote + 4) + Unquoted(what.substr(quote + 4));
      }
      return Say(fmt::format("Can't make symlink at {}: {}", Unquoted(error.argument.substr(0, detail)), what));
    }
    if (error.operation == "open" && error.argument.ends_with("(--lock-file)")) {
      return Say(fmt::format("Unable to open lock file {}: {}", Unquoted(error.argument), reason));
    }
    if (error.operation == "chmod") return Say(fmt::format("Can't chmod {}: {}", Unquoted(error.argument), reason));
    if (error.operation == "setresuid" || error.operation == "setresgid") {
      // `5 (--uid, in the --userns namespace)`: bwrap's "unable to switch to uid 5".
      const std::string id = error.argument.substr(0, error.argument.find(' '));
      return Say(fmt::format("unable to switch to {} {}: {}", error.operation == "setresuid" ? "uid" : "gid", id, reason));
    }
    Say(error.Message());
  }

 private:
  // `"/x" inside the sandbox` -> /x, for bwrap's unquoted paths.
  static std::string Unquoted(const std::string& argument) {
    std::string text = argument;
    if (const auto inside = text.find(" inside the sandbox"); inside != std::string::npos) text.erase(inside);
    if (const auto step = text.find(" (--"); step != std::string::npos) text.erase(step);
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
    return text;
  }

  RunDialect dialect_;
  bool level_prefix_;
};

// bwrap's report: {"child-pid": N, "<ns>-namespace": INODE, ...} with the
// namespaces the sandbox made (the mount one always), on several lines for
// --info-fd, on one for --json-status-fd.
std::string StatusReport(const SandboxStatus& status, bool one_line) {
  std::vector<std::string> fields{fmt::format("\"child-pid\": {}", status.child_pid)};
  const std::pair<const char*, std::uint64_t> namespaces[] = {{"cgroup", status.cgroup_ns}, {"ipc", status.ipc_ns},
                                                              {"mnt", status.mnt_ns},       {"net", status.net_ns},
                                                              {"pid", status.pid_ns},       {"uts", status.uts_ns}};
  for (const auto& [name, inode] : namespaces) {
    if (inode != 0) fields.push_back(fmt::format("\"{}-namespace\": {}", name, inode));
  }
  if (one_line) return fmt::format("{{ {} }}\n", fmt::join(fields, ", "));
  return fmt::format("{{\n    {}\n}}\n", fmt::join(fields, ",\n    "));
}

void WriteReport(int fd, const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // as bwrap: a reader that went away does not stop the sandbox
    done += static_cast<std::size_t>(n);
  }
}

// The checks bwrap makes of a whole command line, in its words; nullopt if it passes.
std::optional<std::string> BwrapProblem(const RunCommandLine& line) {
  const SandboxSpec& spec = line.spec;
  if (line.spec.userns_block_fd >= 0 && !spec.unshare_user) return "--userns-block-fd requires --unshare-user";
  if (line.spec.userns_block_fd >= 0 && line.info_fd < 0) return "--userns-block-fd requires --info-fd";
  if (spec.userns_fd >= 0 && spec.unshare_user) {
    return line.unshare_user_try ? "--userns not compatible --unshare-user-try" : "--userns not compatible --unshare-user";
  }
  if (spec.uid && !spec.unshare_user && spec.userns_fd < 0) return "Specifying --uid requires --unshare-user or --userns";
  if (spec.gid && !spec.unshare_user && spec.userns_fd < 0) return "Specifying --gid requires --unshare-user or --userns";
  if (!spec.hostname.empty() && !spec.unshare_uts) return "Specifying --hostname requires --unshare-uts";
  if (spec.as_pid_1 && !spec.unshare_pid) return "Specifying --as-pid-1 requires --unshare-pid";
  if (spec.as_pid_1 && !spec.lock_files.empty()) return "Specifying --as-pid-1 and --lock-file is not permitted";
  if (spec.disable_userns && !spec.unshare_user) return "--disable-userns requires --unshare-user";
  if (spec.userns_block_fd >= 0 && spec.disable_userns) return "--disable-userns is not compatible with  --userns-block-fd";
  return std::nullopt;
}

std::string BwrapUsage(const std::string& argv0) {
  std::string text = fmt::format("usage: {} [OPTIONS...] [--] COMMAND [ARGS...]\n\n", argv0);
  const auto line = [&text](std::string head, std::string_view description) {
    constexpr std::size_t kColumn = 33;
    head = "    " + head;
    head += head.size() < kColumn ? std::string(kColumn - head.size(), ' ') : std::string(" ");
    text += head + std::string(description) + "\n";
  };
  line("--help", "Print this help");
  line("--version", "Print version");
  line("--args FD", "Read NUL-separated arguments from FD, in place of --args FD");
  for (const RunOption& option : RunOptions()) {
    // mntns's own additions are `mntns run`'s; bwrap has no such options.
    if (option.name == "--root" || option.name == "--strategy" || option.name == "--json-spec") continue;
    std::string head(option.name);
    for (const RunValue& value : option.values) head += fmt::format(" {}", value.metavar);
    line(std::move(head), option.description);
  }
  text += "\nmntns's bwrap: the same options with bwrap 0.13's meaning, built with the new mount API.\n";
  return text;
}

}  // namespace

bool IsBwrapName(std::string_view argv0) {
  const auto slash = argv0.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  return base == "bwrap" || base == "mntns-bwrap";
}

int RunParsedCommandLine(RunCommandLine& line, RunDialect dialect) {
  const bool bwrap = dialect == RunDialect::kBwrap;
  const Diagnostics say(dialect, line.level_prefix);
  SandboxSpec& spec = line.spec;
  const int usage_status = bwrap ? kExitFailure : kExitUsage;
  for (const auto& [option, label] : {std::pair{"--exec-label", &spec.exec_label}, {"--file-label", &spec.file_label}}) {
    if (label->empty()) continue;
    if (auto valid = CheckSandboxLabel(*label); !valid) {
      // bwrap's words where SELinux is off; the policy's refusal otherwise.
      if (bwrap && valid.error().code == ENOTSUP) {
        say.Say("labeling not supported on this system");
      } else {
        say.Say(valid.error().Wrap(option).Message());
      }
      return usage_status;
    }
  }
  if (!bwrap && spec.userns_block_fd >= 0 && line.info_fd < 0) {
    // Without the report the caller cannot know whose maps to write (the
    // bwrap dialect says so in bwrap's order, below).
    say.Say("--userns-block-fd needs --info-fd FD");
    return usage_status;
  }
  if (bwrap) {
    // As bwrap, unprivileged: the user namespace is implied (unless one is
    // joined), and CMD keeps what that namespace gives it (uid 0 inside:
    // every capability).
    if (::geteuid() != 0 && spec.userns_fd < 0) spec.unshare_user = true;
    spec.keep_capabilities = true;
    if (auto problem = BwrapProblem(line)) {
      say.Say(*problem);
      return usage_status;
    }
  }
  for (int fd : line.sync_fds) {
    if (::fcntl(fd, F_GETFD) < 0) {
      const int err = errno;
      say.Say(MakeError(err, "--sync-fd", std::to_string(fd)).error().Message());
      return usage_status;
    }
  }
  spec.report_status = line.info_fd >= 0 || line.json_status_fd >= 0;
  // Written by this process only: CMD must not hold them (a reader of the
  // info waits for its EOF, which must come once the report is written).
  for (int fd : {line.info_fd, line.json_status_fd}) {
    if (fd < 0) continue;
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
      const int err = errno;
      say.Say(MakeError(err, fd == line.info_fd ? "--info-fd" : "--json-status-fd", std::to_string(fd)).error().Message());
      return usage_status;
    }
  }
  if (auto valid = ValidateSandboxSpec(spec); !valid) {
    say.Say(valid.error().Message());
    return usage_status;
  }
  // Sharing can wait on the keeper's lock or record: with the signals still
  // unblocked, Ctrl-C ends mntns there as anywhere before the sandbox exists.
  ShareTemplateWhenUseful(SandboxOperation(spec), spec.strategy);
  spec.rootless_keeper = RootlessKeeperWhenUseful(spec);
  // Blocked before the sandbox starts so that none is lost; WaitSandbox
  // forwards them and CMD starts with an empty mask.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kForwarded) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  const auto exec_status = [bwrap](const Error& error) {
    if (bwrap) return kExitFailure;  // bwrap: 1 for a CMD it could not exec, as for any failure
    return error.code == ENOENT ? 127 : 126;
  };
  auto process = StartSandbox(spec);
  if (!process) {
    say.SetupFailed(process.error());
    if (process.error().operation == "execvp") return exec_status(process.error());
    return kExitFailure;
  }
  if (process->status) {
    if (line.info_fd >= 0) {
      WriteReport(line.info_fd, StatusReport(*process->status, false));
      ::close(line.info_fd);
    }
    if (line.json_status_fd >= 0) WriteReport(line.json_status_fd, StatusReport(*process->status, true));
  }
  auto status = WaitSandbox(*process, kForwarded);
  if (!status) {
    say.SetupFailed(status.error());
    return status.error().operation == "execvp" ? exec_status(status.error()) : kExitFailure;
  }
  if (line.json_status_fd >= 0) WriteReport(line.json_status_fd, fmt::format("{{ \"exit-code\": {} }}\n", *status));
  return *status;
}

int BwrapMain(int argc, char** argv) {
  ReserveStandardFds();
  const std::string argv0 = argc > 0 ? argv[0] : "bwrap";
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  // --help and --version act where bwrap's parser meets them: among the
  // options, not as an option's value nor in COMMAND.
  for (std::size_t i = 0; i < args.size() && args[i].starts_with("--") && args[i] != "--"; ++i) {
    if (args[i] == "--help") {
      fmt::print("{}", BwrapUsage(argv0));
      return 0;
    }
    if (args[i] == "--version") {
      fmt::print("bubblewrap 0.13.1 (mntns {})\n", MNTNS_VERSION);
      return 0;
    }
    if (args[i] == "--args") {
      ++i;
      continue;
    }
    // Skips the option's values; the loop's bound check then stops at the
    // end of a command line that ends short of them (`--bind /`).
    for (const RunOption& option : RunOptions()) {
      if (option.name != args[i]) continue;
      i += option.values.size();
      break;
    }
  }
  auto line = ParseRunCommandLine(args, RunDialect::kBwrap);
  if (!line) {
    const Error& error = line.error();
    // A usage error's text is all bwrap says; a failed read (--args, --file) names its call.
    Diagnostics(RunDialect::kBwrap, false).Say(error.operation == "mntns run" ? error.argument : error.Message());
    return kExitFailure;
  }
  if (line->spec.argv.empty()) {
    // As bwrap: no COMMAND is the usage, on stderr, and a failure.
    fmt::print(stderr, "{}", BwrapUsage(argv0));
    return kExitFailure;
  }
  return RunParsedCommandLine(*line, RunDialect::kBwrap);
}

}  // namespace mntns::cli
