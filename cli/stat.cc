// mntns stat: one mount, every field statmount returns.
#include <memory>

#include <fmt/format.h>

#include "command.h"
#include "mount_output.h"
#include "target_options.h"

namespace mntns::cli {
namespace {

struct StatOptions {
  std::string path;
  std::uint64_t id = 0;
  bool json = false;
  TargetOptions target;
};

int RunStat(const StatOptions& options) {
  const QueryOptions query{.mask = field::kAll, .backend = options.target.backend};
  auto mount = options.path.empty() ? StatMountById(options.id, options.target.Namespace(), query)
                                    : StatMountByPath(options.path, query);
  if (!mount) return ReportError(mount.error());

  nlohmann::ordered_json out = MountToJson(*mount);
  out["mask"] = FieldNames(mount->mask);
  if (options.json) {
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
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
      "stat", "Show one mount: the one PATH lives on, or the mount with unique id ID.");
  auto* path = command->add_option("path", options->path, "A path; its mount is shown (symlinks followed)");
  auto* id = command->add_option("--id", options->id,
                                 "A unique mount id (`mntns ls` ID column); with --backend mountinfo,\n"
                                 "an old id (OLD_ID column)")
                 ->check(CLI::PositiveNumber);
  path->excludes(id);
  command->add_flag("--json", options->json,
                    "Print one JSON object: the `ls --json` keys, plus mask (the fields the\n"
                    "kernel or the emulation returned) and the option arrays and id maps");
  AddTargetOptions(*command, options->target);
  command->footer(
      "Examples:\n"
      "  mntns stat /proc\n"
      "  mntns stat --id 12345 --pid 1 --json");
  command->callback([options, path, id, &runner] {
    if (path->count() + id->count() == 0) throw CLI::RequiredError("PATH or --id");
    runner = [options] { return RunStat(*options); };
  });
}

}  // namespace mntns::cli
