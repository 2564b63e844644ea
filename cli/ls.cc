// mntns ls: a namespace's mount table, as a table, a tree or JSON.
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "command.h"
#include "output/mount_output.h"
#include "target_options.h"

namespace mntns::cli {
namespace {

// Mounts per block of ForEachMountBlock: small enough that a 1,000-mount table
// still spreads over the cores and a block's JSON (~180 KB) is cheap to hold
// back, large enough that the per-block costs vanish. 1,024 measured slower at
// 1,000 mounts (8.8 vs 7.4 ms for ls --json) and no faster at 30,000.
constexpr std::size_t kMountsPerBlock = 256;

struct LsOptions {
  bool json = false;
  bool tree = false;
  std::string columns = DefaultColumns();
  TargetOptions target;
};

// {"mounts": [...]}, streamed: no DOM and no table in memory. The library
// hands over blocks of mounts on its reading threads (one per core); each is
// rendered right there (turning a mount into JSON costs about as much as the
// statmount call that read it) and written out in table order by whichever
// thread completes the next block due.
class JsonBlockPrinter {
 public:
  Result<void> Print(std::size_t index, std::span<const Mount> mounts) {
    constexpr std::size_t kArrayDepth = 2;  // inside {"mounts": [ ... ]}
    fmt::memory_buffer text = TakeBuffer();
    JsonWriter json(text, kArrayDepth, true);  // each block starts with its comma
    for (const Mount& mount : mounts) WriteMountJson(json, mount);
    std::lock_guard lock(mutex_);
    // Opened with the first block, so that an error before it (a namespace
    // that cannot be opened) leaves stdout empty.
    OpenDocument();
    ready_.emplace(index, std::move(text));
    for (auto due = ready_.find(next_); due != ready_.end(); due = ready_.find(next_)) {
      const fmt::memory_buffer& block = due->second;
      // The first mount of the document takes no comma.
      const std::size_t skip = written_any_ || block.size() == 0 ? 0 : 1;
      std::fwrite(block.data() + skip, 1, block.size() - skip, stdout);
      written_any_ = written_any_ || block.size() > 0;
      // Kept for the next block: a fresh buffer per block cost page faults and
      // a dozen copies while it grew.
      spare_.push_back(std::move(due->second));
      ready_.erase(due);
      ++next_;
    }
    return kOk;
  }

  // After the last block.
  void CloseDocument() {
    OpenDocument();
    std::fputs(written_any_ ? "\n  ]\n}\n" : "]\n}\n", stdout);
  }

 private:
  fmt::memory_buffer TakeBuffer() {
    std::lock_guard lock(mutex_);
    if (spare_.empty()) return fmt::memory_buffer();
    fmt::memory_buffer buffer = std::move(spare_.back());
    spare_.pop_back();
    buffer.clear();
    return buffer;
  }

  void OpenDocument() {
    if (!opened_) std::fputs("{\n  \"mounts\": [", stdout);
    opened_ = true;
  }

  bool opened_ = false;
  std::mutex mutex_;
  std::map<std::size_t, fmt::memory_buffer> ready_;  // rendered, waiting for earlier blocks
  std::vector<fmt::memory_buffer> spare_;             // written, to be reused
  std::size_t next_ = 0;
  bool written_any_ = false;
};

int PrintJson(const LsOptions& options, FieldMask mask) {
  JsonBlockPrinter printer;
  auto print = [&printer](std::size_t index, std::span<const Mount> mounts) { return printer.Print(index, mounts); };
  auto printed = ForEachMountBlock(options.target.Namespace(), {.mask = mask, .backend = options.target.backend},
                                   kMountsPerBlock, print);
  if (!printed) {
    std::fflush(stdout);
    return ReportError(printed.error());
  }
  printer.CloseDocument();
  return 0;
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
  if (options.json) return PrintJson(options, mask);
  const QueryOptions query{.mask = mask, .backend = options.target.backend};
  if (options.tree) {
    // A tree needs every mount's parent before the first line.
    auto mounts = ListMounts(options.target.Namespace(), query);
    if (!mounts) return ReportError(mounts.error());
    PrintTable(*mounts, *columns, true);
    return 0;
  }
  // Column widths need every row, but not every Mount: each block's cells are
  // rendered on the thread that read it.
  std::mutex mutex;
  std::vector<std::vector<std::string>> blocks;
  auto render = [&](std::size_t index, std::span<const Mount> mounts) -> Result<void> {
    std::vector<std::string> cells;
    RenderRows(mounts, *columns, cells);
    std::lock_guard lock(mutex);
    if (blocks.size() <= index) blocks.resize(index + 1);
    blocks[index] = std::move(cells);
    return kOk;
  };
  if (auto read = ForEachMountBlock(options.target.Namespace(), query, kMountsPerBlock, render); !read) {
    return ReportError(read.error());
  }
  PrintCells(*columns, blocks);
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
