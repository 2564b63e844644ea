// mntns new: a container mount namespace from a directory, in one call.
#include <fcntl.h>
#include <sched.h>
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
#include "sys/namespaces.h"
#include "sys/syscalls.h"

namespace mntns::cli {
namespace {

struct NewOptions {
  bool recursive = false;
  std::string strategy = "auto";
  std::string pin;
  bool json = false;
  std::string path;
  bool run_command = false;  // "--" was given: run `command`
  std::vector<std::string> command;
};

std::string ParentDirectory(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Binds the namespace onto `file`, as `unshare --mount=FILE` does, so it
// outlives this process (nsenter --mount=FILE, mntns ls --ns-file FILE).
Result<void> Pin(int ns_fd, const std::string& file) {
  const std::string directory = ParentDirectory(file);
  // The kernel refuses to propagate a namespace file (it could build loops),
  // so the bind fails on a shared mount; say why instead of a bare EINVAL.
  auto parent = StatmountByPath(directory, {.mask = field::kMntBasic | field::kMntPoint});
  if (!parent) {
    return MakeError(parent.error().code, "--pin", fmt::format("{}: its directory {}", QuotePath(file), QuotePath(directory)));
  }
  if ((parent->propagation & MS_SHARED) != 0) {
    return MakeError(EINVAL, "--pin",
                     fmt::format("{}: the mount it is on ({}) is shared, and a namespace can only be pinned "
                                 "on a private mount (as for unshare --mount=FILE); e.g. "
                                 "`mount --bind DIR DIR && mount --make-private DIR` and pin inside DIR",
                                 QuotePath(file), QuotePath(parent->point)));
  }
  bool created = false;
  {
    // O_NONBLOCK: a FIFO in FILE's place must not hang the open.
    auto existing = sys::Open(AT_FDCWD, file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (existing) {
      auto is_directory = sys::IsDirectory(existing->Get());
      if (is_directory && *is_directory) {
        return MakeError(EISDIR, "--pin", QuotePath(file) + " is a directory; the namespace is bound onto a file "
                                                            "(created if missing)");
      }
      // A second bind would stack on the first and hide it.
      if (sys::NamespaceType(existing->Get())) {
        return MakeError(EBUSY, "--pin", QuotePath(file) + " already pins a namespace (release it with umount first)");
      }
    } else if (existing.error().code == ENOENT) {
      auto made = sys::Open(AT_FDCWD, file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
      if (!made) {
        Error error = made.error();
        error.operation = "--pin";
        return std::unexpected(error);
      }
      created = true;
    } else {
      Error error = existing.error();
      error.operation = "--pin";
      return std::unexpected(error);
    }
  }
  const std::string source = fmt::format("/proc/self/fd/{}", ns_fd);
  auto tree = sys::OpenTree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  Result<void> bound = tree ? sys::MoveMount(tree->Get(), "", AT_FDCWD, file.c_str(), MOVE_MOUNT_F_EMPTY_PATH)
                            : Result<void>(std::unexpected(tree.error()));
  if (!bound) {
    if (created) ::unlink(file.c_str());
    Error error = bound.error();
    error.argument = fmt::format("{} onto {}", error.argument, QuotePath(file));
    return std::unexpected(error);
  }
  return kOk;
}

// Runs `command` inside the namespace; returns its exit status, 128+signal
// if it was killed.
int RunInside(int ns_fd, const std::vector<std::string>& command) {
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    return ReportError(MakeError(err, "fork").error());
  }
  if (pid == 0) {
    // A forked child has one thread and an fs_struct of its own: setns works.
    if (auto r = sys::Setns(ns_fd, CLONE_NEWNS); !r) {
      ReportError(r.error());
      ::_exit(kExitFailure);
    }
    std::vector<char*> argv;
    for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    const int err = errno;
    ReportError(MakeError(err, "exec", QuotePath(command[0]) + " inside the new namespace").error());
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
  auto id = sys::MountNamespaceId(ns_fd);
  if (!id) return ReportError(id.error());
  auto mounts = ListMounts(NamespaceRef::ById(*id),
                           {.mask = field::kMntPoint | field::kFsType | field::kSbSource | field::kMntBasic});
  if (!mounts) return ReportError(mounts.error());
  if (options.json) {
    nlohmann::ordered_json out;
    out["ns_id"] = *id;
    out["strategy"] = StrategyName(strategy);
    out["source"] = options.path;
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
  fmt::print("mount namespace {} ({} strategy): {} of {} as \"/\", {} mount{}\n", *id, StrategyName(strategy),
             options.recursive ? "a recursive copy" : "a copy", QuotePath(TerminalSafe(options.path)),
             mounts->size(), mounts->size() == 1 ? "" : "s");
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

int RunNew(const NewOptions& options) {
  auto requested = ParseStrategy(options.strategy);
  if (!requested) {
    fmt::print(stderr, "mntns: {}\n", requested.error().Message());
    return kExitUsage;
  }
  ShareTemplateWhenUseful(NamespaceOperation::kOpenTreeNamespace, *requested);
  NamespaceStrategy strategy = ResolveStrategy(NamespaceOperation::kOpenTreeNamespace, *requested);
  auto ns = OpenTreeNamespace(AT_FDCWD, options.path, (options.recursive ? AT_RECURSIVE : 0) | OPEN_TREE_CLOEXEC,
                              {.strategy = strategy});
  if (!ns) return ReportError(ns.error());
  if (!options.pin.empty()) {
    auto pinned = Pin(ns->Get(), options.pin);
    // The kernel binds a namespace file only into a namespace with a smaller
    // sequence number (mnt_ns_loop); 6.18 draws them from per-CPU batches, so
    // a namespace made on another CPU than ours may get a smaller one, and a
    // CPU whose batch lags keeps giving smaller ones. Made on each allowed CPU
    // in turn (the classic strategy's helper thread inherits this thread's
    // affinity), one of them is newer than ours: the CPU ours was made on.
    cpu_set_t allowed;
    const bool known = ::sched_getaffinity(0, sizeof allowed, &allowed) == 0;
    for (int cpu = 0; known && !pinned && pinned.error().code == ELOOP && cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &allowed)) continue;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (::sched_setaffinity(0, sizeof one, &one) != 0) continue;
      ns = OpenTreeNamespace(AT_FDCWD, options.path, (options.recursive ? AT_RECURSIVE : 0) | OPEN_TREE_CLOEXEC,
                             {.strategy = NamespaceStrategy::kClassic});
      ::sched_setaffinity(0, sizeof allowed, &allowed);
      if (!ns) return ReportError(ns.error());
      strategy = NamespaceStrategy::kClassic;
      pinned = Pin(ns->Get(), options.pin);
    }
    if (!pinned) return ReportError(pinned.error());
  }
  if (options.run_command) return RunInside(ns->Get(), options.command);
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
  command->add_option("path", options->path, "The directory to copy; it becomes \"/\" of the namespace")->required();
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
      "  mntns new --strategy classic -r / -- true       the unshare+pivot_root baseline",
      kTemplateSharingHelp));
  command->callback([options, &runner, &command_line] {
    if (command_line.given && command_line.command.empty()) throw CLI::ValidationError("--", "needs CMD after it");
    options->run_command = command_line.given;
    options->command = command_line.command;
    runner = [options] { return RunNew(*options); };
  });
}

}  // namespace mntns::cli
