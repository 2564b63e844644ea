// mntns ls: a namespace's mount table, as a table, a tree or JSON.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "command.h"
#include "mount_output.h"
#include "target_options.h"

namespace mntns::cli {
namespace {

struct LsOptions {
  bool json = false;
  bool tree = false;
  std::string columns = DefaultColumns();
  TargetOptions target;
};

int RunLs(const LsOptions& options) {
  auto columns = ParseColumns(options.columns);
  if (!columns) {
    fmt::print(stderr, "mntns: {}\n", columns.error().Message());
    return kExitUsage;
  }
  // Ask the kernel only for what will be shown: every statmount field costs.
  FieldMask mask = options.tree ? field::kMntBasic : 0;
  if (options.json) {
    mask |= kJsonMask;
  } else {
    for (const Column* column : *columns) mask |= column->mask;
  }
  auto mounts = ListMounts(options.target.Namespace(), {.mask = mask, .backend = options.target.backend});
  if (!mounts) return ReportError(mounts.error());

  if (options.json) {
    // Streamed: a DOM of 100,000 mounts would cost more than reading them.
    fmt::memory_buffer text;
    JsonWriter json(text, stdout);
    json.BeginObject();
    json.Key("mounts");
    json.BeginArray();
    for (const Mount& mount : *mounts) WriteMountJson(json, mount);
    json.EndArray();
    json.EndObject();
    text.push_back('\n');
    json.Flush();
    return 0;
  }
  PrintTable(*mounts, *columns, options.tree);
  return 0;
}

}  // namespace

void AddLsCommand(CLI::App& app, Runner& runner) {
  auto options = std::make_shared<LsOptions>();
  CLI::App* command = app.add_subcommand("ls", "List the mounts of a mount namespace (default: your own).");
  command->add_flag("--json", options->json,
                    "Print {\"mounts\": [...]}: one object per mount with id, parent, old_id,\n"
                    "old_parent, target, root, source, fstype, vfs_options, fs_options,\n"
                    "propagation, ns_id and more (null where the backend cannot know a field)");
  command->add_flag("--tree", options->tree, "Draw TARGET as the mount tree (depth-first order)");
  std::string column_help = "Columns to show, comma-separated, from:";
  for (const Column& column : AllColumns()) column_help += " " + column.name;
  command->add_option("-o,--output", options->columns, column_help)->default_str(DefaultColumns());
  AddTargetOptions(*command, options->target);
  command->footer(
      "Examples:\n"
      "  mntns ls                         your namespace, findmnt-like\n"
      "  mntns ls --tree -o TARGET,FSTYPE,PROPAGATION\n"
      "  mntns ls --pid 1 --json          the initial namespace, as JSON\n"
      "  mntns ls --ns-file /run/ns/web   a namespace pinned with `mntns new --pin`");
  command->callback([options, &runner] { runner = [options] { return RunLs(*options); }; });
}

}  // namespace mntns::cli
