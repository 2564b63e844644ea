// mntns new: a container mount namespace from a directory, in one call.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.h"
#include "output/json_writer.h"
#include "output/mount_output.h"
#include "template_sharing.h"
#include "mntns/namespace.h"
#include "mntns/query.h"
#include "mntns/tree.h"

namespace mntns::cli {
namespace {

struct NewOptions {
  bool recursive = false;
  bool empty = false;  // --empty: no PATH, an empty namespace
  std::string strategy = "auto";
  std::string pin;
  bool json = false;
  std::string path;
  bool run_command = false;  // "--" was given: run `command`
  std::vector<std::string> command;
};

// PinNamespace's own refusals, said as the option that asked for the pin.
Error PinErrorAsOption(Error error) {
  if (error.operation == "PinNamespace") error.operation = "--pin";
  return error;
}

// `name` as execvp would find it (a path when it has a slash, else the first
// executable file of that name in $PATH), opened O_PATH|O_CLOEXEC for fexecve.
Result<UniqueFd> OpenProgram(const std::string& name) {
  auto open = [](const std::string& path) -> Result<UniqueFd> {
    UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!fd) {
      const int err = errno;
      return MakeError(err, "open", QuotePath(path) + " (CMD, opened before entering the empty namespace)");
    }
    return fd;
  };
  if (name.find('/') != std::string::npos) return open(name);
  const char* search = std::getenv("PATH");
  std::string_view path = search != nullptr ? search : "/usr/local/bin:/usr/bin:/bin";
  for (;;) {
    const std::size_t colon = path.find(':');
    const std::string directory(path.substr(0, colon));
    const std::string candidate = (directory.empty() ? "." : directory) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return open(candidate);
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  return MakeError(ENOENT, "find", QuotePath(name) + " in $PATH (CMD, looked up before entering the empty namespace)");
}

// Runs `command` inside the namespace; returns its exit status, 128+signal
// if it was killed. In an empty namespace nothing can be found by path: the
// program is opened (through PATH) before entering and run by fd, so a
// statically linked one runs and a dynamically linked one fails (ENOENT: its
// loader is not there).
int RunInside(int ns_fd, const std::vector<std::string>& command, bool empty) {
  // The namespace is made; the template factory's threads have no more work.
  // Joined before the fork, so that the child is a copy of a single-threaded
  // process: no lock another thread held at the fork is copied locked.
  StopNamespaceFactory();
  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  UniqueFd program;
  if (empty) {
    auto opened = OpenProgram(command[0]);
    if (!opened) return ReportError(opened.error());
    program = std::move(*opened);
  }
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    return ReportError(MakeError(err, "fork").error());
  }
  if (pid == 0) {
    // A forked child has one thread and an fs_struct of its own: setns works.
    if (auto r = EnterMountNamespace(ns_fd); !r) {
      ReportError(r.error());
      ::_exit(kExitFailure);
    }
    if (program) {
      ::fexecve(program.Get(), argv.data(), environ);
    } else {
      ::execvp(argv[0], argv.data());
    }
    const int err = errno;
    ReportError(MakeError(err, "exec", QuotePath(command[0]) +
                                           (program ? " inside the empty namespace (nothing is there: only a "
                                                      "statically linked program runs)"
                                                    : " inside the new namespace"))
                    .error());
    ::_exit(err == ENOENT ? 127 : 126);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      const int err = errno;
      return ReportError(MakeError(err, "waitpid", fmt::format("pid {}", pid)).error());
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int PrintSummary(const NewOptions& options, NamespaceStrategy strategy, int ns_fd) {
  auto id = MountNamespaceId(ns_fd);
  if (!id) return ReportError(id.error());
  // By file, not by id: 7.x answers ENOENT to listmount of an empty namespace
  // as of one that does not exist, and only a namespace file tells them apart.
  auto mounts = ListMounts(NamespaceRef::ByFile(fmt::format("/proc/self/fd/{}", ns_fd)),
                           {.mask = field::kMntPoint | field::kFsType | field::kSbSource | field::kMntBasic});
  if (!mounts) return ReportError(mounts.error());
  if (options.json) {
    nlohmann::ordered_json out;
    out["ns_id"] = *id;
    out["strategy"] = StrategyName(strategy);
    out["source"] = options.empty ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(options.path);
    out["empty"] = options.empty;
    out["recursive"] = options.recursive;
    out["pinned"] = options.pin.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(options.pin);
    out["mounts"] = nlohmann::ordered_json::array();
    for (const Mount& m : *mounts) {
      out["mounts"].push_back({{"target", m.point}, {"fstype", m.fs_type}, {"source", m.sb_source},
                               {"propagation", PropagationText(m)}});
      // As in ls --json: U+FFFD where a string is not UTF-8, its bytes beside it.
      for (const auto& [key, value] : {std::pair{"target", &m.point}, std::pair{"source", &m.sb_source}}) {
        if (!IsValidUtf8(*value)) out["mounts"].back()[std::string(key) + "_hex"] = HexBytes(*value);
      }
    }
    if (!IsValidUtf8(options.path)) out["source_hex"] = HexBytes(options.path);
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    return 0;
  }
  if (options.empty) {
    fmt::print("mount namespace {} ({} strategy): empty, an empty read-only root at \"/\" that lists no mount\n",
               *id, StrategyName(strategy));
  } else {
    fmt::print("mount namespace {} ({} strategy): {} of {} as \"/\", {} mount{}\n", *id, StrategyName(strategy),
               options.recursive ? "a recursive copy" : "a copy", QuotePath(TerminalSafe(options.path)),
               mounts->size(), mounts->size() == 1 ? "" : "s");
  }
  for (const Mount& m : *mounts) {
    fmt::print("  {:<30} {:<10} {:<20} {}\n", TerminalSafe(m.point), TerminalSafe(m.fs_type),
               TerminalSafe(m.sb_source), PropagationText(m));
  }
  if (options.pin.empty()) {
    fmt::print("(released when mntns exits: use --pin FILE to keep it, or -- CMD to run something in it)\n");
  } else {
    const std::string pin = TerminalSafe(options.pin);
    fmt::print("pinned at {}: enter with `nsenter --mount={}`, release with `umount {}`\n", pin, pin, pin);
  }
  return 0;
}

int RunNewEmpty(const NewOptions& options, NamespaceStrategy requested) {
  ShareTemplateWhenUseful(NamespaceOperation::kEmptyMountNamespace, requested);
  if (!options.pin.empty()) {
    auto pinned = PinnedEmptyMountNamespace(options.pin, {.strategy = requested});
    if (!pinned) return ReportError(PinErrorAsOption(pinned.error()));
    if (options.run_command) return RunInside(pinned->ns.Get(), options.command, true);
    return PrintSummary(options, pinned->strategy, pinned->ns.Get());
  }
  const NamespaceStrategy strategy = ResolveStrategy(NamespaceOperation::kEmptyMountNamespace, requested);
  auto ns = EmptyMountNamespace({.strategy = requested});
  if (!ns) return ReportError(ns.error());
  if (options.run_command) return RunInside(ns->Get(), options.command, true);
  return PrintSummary(options, strategy, ns->Get());
}

int RunNew(const NewOptions& options) {
  auto requested = ParseStrategy(options.strategy);
  if (!requested) {
    fmt::print(stderr, "mntns: {}\n", requested.error().Message());
    return kExitUsage;
  }
  if (options.empty) return RunNewEmpty(options, *requested);
  ShareTemplateWhenUseful(NamespaceOperation::kOpenTreeNamespace, *requested);
  const unsigned flags = (options.recursive ? AT_RECURSIVE : 0) | OPEN_TREE_CLOEXEC;
  if (!options.pin.empty()) {
    auto pinned = OpenPinnedTreeNamespace(AT_FDCWD, options.path, flags, options.pin, {.strategy = *requested});
    if (!pinned) return ReportError(PinErrorAsOption(pinned.error()));
    if (options.run_command) return RunInside(pinned->ns.Get(), options.command, false);
    return PrintSummary(options, pinned->strategy, pinned->ns.Get());
  }
  const NamespaceStrategy strategy = ResolveStrategy(NamespaceOperation::kOpenTreeNamespace, *requested);
  auto ns = OpenTreeNamespace(AT_FDCWD, options.path, flags, {.strategy = *requested});
  if (!ns) return ReportError(ns.error());
  if (options.run_command) return RunInside(ns->Get(), options.command, false);
  return PrintSummary(options, strategy, ns->Get());
}

}  // namespace

void AddNewCommand(CLI::App& app, Runner& runner, const NewCommandLine& command_line) {
  auto options = std::make_shared<NewOptions>();
  CLI::App* command = app.add_subcommand(
      "new", "Create a mount namespace that holds only a copy of PATH (as \"/\"), like Linux 7's\n"
             "open_tree(OPEN_TREE_NAMESPACE); run CMD in it, pin it to a file, or describe it.");
  command->add_flag("-r,--recursive", options->recursive,
                    "Copy the submounts of PATH too (unbindable ones and mount-namespace files are left out)");
  command
      ->add_option("--strategy", options->strategy,
                   "auto: native on 7.x, else template; native: open_tree(OPEN_TREE_NAMESPACE) (7.0+);\n"
                   "template: no-fork factory, cost independent of your mount table (6.8+);\n"
                   "classic: unshare + pivot_root (slow with many mounts; copies become private)")
      ->check(CLI::IsMember({"auto", "native", "template", "classic"}))
      ->option_text("auto|native|template|classic (default: auto)");
  command->add_option("--pin", options->pin,
                      "Bind the namespace to FILE (created if missing) so it outlives mntns, like\n"
                      "`unshare --mount=FILE`; FILE must be on a private mount");
  command->add_flag("--json", options->json,
                    "Without CMD: print {ns_id, strategy, source, recursive, pinned, mounts: [...]}");
  command->add_flag("--empty", options->empty,
                    "No PATH: an empty namespace, as Linux 7.1's unshare(UNSHARE_EMPTY_MNTNS)\n"
                    "(one empty root; CMD is opened before entering, so it must be statically linked)");
  command->add_option("path", options->path, "The directory to copy; it becomes \"/\" of the namespace");
  command->footer(fmt::format(
      "CMD is everything after `--` (mntns new [OPTIONS] PATH -- CMD [ARGS...]).\n"
      "Without CMD and without --pin the namespace is described and released when mntns exits.\n"
      "With CMD, mntns exits with CMD's status (128+signal if it was killed).\n"
      "{}\n"
      "\n"
      "Examples:\n"
      "  mntns new /srv/rootfs --recursive -- /bin/sh      a shell whose \"/\" is /srv/rootfs\n"
      "  mntns new /tmp -- ls /                          what a copy of /tmp looks like from inside\n"
      "  mntns new --pin /run/ns/web -r /srv/web         keep it: /run/ns must be on a private mount\n"
      "  nsenter --mount=/run/ns/web sh                  enter a pinned namespace later\n"
      "  mntns ls --ns-file /run/ns/web                  list its mounts from outside\n"
      "  mntns new --json -r /srv/web                    its id and mounts as JSON\n"
      "  mntns new --strategy classic -r / -- true       the unshare+pivot_root baseline\n"
      "  mntns new --empty --pin /run/ns/empty           an empty namespace (7.1's UNSHARE_EMPTY_MNTNS)\n"
      "  mntns new --empty -- /opt/static-init           a static program alone in one",
      kTemplateSharingHelp));
  command->callback([options, &runner, &command_line] {
    if (command_line.given && command_line.command.empty()) throw CLI::ValidationError("--", "needs CMD after it");
    if (options->empty && !options->path.empty()) throw CLI::ValidationError("--empty", "takes no PATH");
    if (options->empty && options->recursive) throw CLI::ValidationError("--empty", "has nothing to copy: no --recursive");
    if (!options->empty && options->path.empty()) throw CLI::RequiredError("path (or --empty)");
    options->run_command = command_line.given;
    options->command = command_line.command;
    runner = [options] { return RunNew(*options); };
  });
}

}  // namespace mntns::cli
