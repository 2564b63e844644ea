// mntns ls: a namespace's mount table, as a table, a tree or JSON.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <thread>

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

// {"mounts": [...]}, streamed (a DOM of 100,000 mounts would cost more than
// reading them) and rendered on two threads, block by block: turning a mount
// into JSON costs about as much as the statmount call that read it.
void PrintJson(std::span<const Mount> mounts) {
  constexpr std::size_t kBlock = 2048;
  constexpr std::size_t kArrayDepth = 2;  // inside {"mounts": [ ... ]}
  std::fputs("{\n  \"mounts\": [", stdout);
  fmt::memory_buffer first;
  fmt::memory_buffer second;
  auto render = [&mounts](fmt::memory_buffer& out, std::size_t begin) {
    out.clear();
    JsonWriter json(out, kArrayDepth, begin > 0);
    const std::size_t end = std::min(mounts.size(), begin + kBlock);
    for (std::size_t i = begin; i < end; ++i) WriteMountJson(json, mounts[i]);
  };
  for (std::size_t begin = 0; begin < mounts.size(); begin += 2 * kBlock) {
    const std::size_t next = begin + kBlock;
    std::optional<std::jthread> helper;
    if (next < mounts.size()) helper.emplace([&render, &second, next] { render(second, next); });
    render(first, begin);
    helper.reset();  // joins
    std::fwrite(first.data(), 1, first.size(), stdout);
    if (next < mounts.size()) std::fwrite(second.data(), 1, second.size(), stdout);
  }
  std::fputs(mounts.empty() ? "]\n}\n" : "\n  ]\n}\n", stdout);
}

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
    PrintJson(*mounts);
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
