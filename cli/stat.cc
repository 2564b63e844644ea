// mntns stat: one mount, every field statmount returns.
#include <climits>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "command.h"
#include "output/mount_output.h"
#include "target_options.h"

namespace mntns::cli {
namespace {

struct StatOptions {
  std::string path;
  std::uint64_t id = 0;
  int fd = -1;
  bool by_path = false;
  bool by_fd = false;
  bool json = false;
  TargetOptions target;
};

int RunStat(const StatOptions& options) {
  const QueryOptions query{.mask = field::kAll, .backend = options.target.backend};
  // An empty PATH is a path (stat(2) answers ENOENT), not "no PATH".
  auto mount = options.by_fd     ? StatmountByFd(options.fd, query.mask)
               : options.by_path ? StatmountByPath(options.path, query)
                                 : StatmountById(options.id, options.target.Namespace(), query);
  if (!mount) {
    // The namespace options count only for --id (a PATH or an fd names its own).
    const bool by_id = !options.by_fd && !options.by_path;
    return ReportError(by_id ? options.target.NameTheOption(mount.error(), "stat") : mount.error());
  }

  if (options.json) {
    fmt::print("{}\n", MountToJson(*mount).dump(2));
    return 0;
  }
  // Text rows: no byte of a path may act on the terminal or break the row.
  nlohmann::ordered_json out = MountToJson(TerminalSafeCopy(*mount));
  if (!mount->Has(field::kMntPoint)) out["target"] = UnreachableTarget(*mount);
  for (const auto& [key, value] : out.items()) {
    if (value.is_null()) continue;
    fmt::print("{:<22} {}\n", key + ":", value.is_string() ? value.get<std::string>() : value.dump());
  }
  return 0;
}

}  // namespace

void AddStatCommand(CLI::App& app, Runner& runner) {
  auto options = std::make_shared<StatOptions>();
  CLI::App* command = app.add_subcommand(
      "stat", "Show one mount: the one PATH or open fd FD lives on, or the mount with unique id ID.");
  auto* path = command->add_option("path", options->path, "A path; its mount is shown (symlinks followed)");
  auto* id = AddNumberOption(*command, "--id", 1, std::numeric_limits<std::uint64_t>::max(),
                             [options](std::uint64_t value) { options->id = value; },
                             "A unique mount id (`mntns ls` ID column); with --backend mountinfo,\n"
                             "an old id (OLD_ID column)");
  auto* fd = AddNumberOption(*command, "--fd", 0, INT_MAX,
                             [options](std::uint64_t value) { options->fd = static_cast<int>(value); },
                             "An open fd inherited from the caller: its mount is shown, also when it\n"
                             "is detached (umount -l, open_tree, fsmount). In a shell, open it with\n"
                             "a redirection: `mntns stat --fd 3 3</proc`");
  path->excludes(id);
  fd->excludes(path)->excludes(id);
  command->add_flag("--json", options->json,
                    "Print one JSON object: the `ls --json` keys, plus mask (the fields the\n"
                    "kernel or the emulation returned) and the option arrays and id maps;\n"
                    "with --fd also detached: true (no target) and derived: true (fields\n"
                    "derived from the fd where the kernel could not describe the mount)");
  AddTargetOptions(*command, options->target);
  command->footer(
      "Examples:\n"
      "  mntns stat /proc\n"
      "  mntns stat --id 12345 --pid 1 --json\n"
      "  mntns stat --fd 3 3</proc");
  command->callback([options, path, id, fd, &runner] {
    if (path->count() + id->count() + fd->count() == 0) throw CLI::RequiredError("PATH, --id or --fd");
    options->by_path = path->count() > 0;
    options->by_fd = fd->count() > 0;
    runner = [options] { return RunStat(*options); };
  });
}

}  // namespace mntns::cli
