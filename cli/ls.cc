// mntns ls: a namespace's mount table, as a table, a tree or JSON, filtered
// with findmnt's options.
#include <limits.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "command.h"
#include "ls_filter.h"
#include "output/mount_output.h"
#include "output/terminal.h"
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
  bool ascii = false;
  bool list = false;
  bool raw = false;
  bool pairs = false;
  bool noheadings = false;
  bool notruncate = false;
  bool df = false;
  bool all = false;
  bool submounts = false;
  std::string columns;
  MountFilter filter;
  std::string target_path;  // -T
  pid_t task = 0;           // -N
  TargetOptions target;
};

// {"mounts": [...]}, streamed: no DOM and no table in memory. The library
// hands over blocks of mounts on its reading threads (one per core); each is
// rendered right there (turning a mount into JSON costs about as much as the
// statmount call that read it) and written out in table order by whichever
// thread completes the next block due.
class JsonBlockPrinter {
 public:
  Result<void> Print(std::size_t index, std::span<const Mount* const> mounts) {
    constexpr std::size_t kArrayDepth = 2;  // inside {"mounts": [ ... ]}
    fmt::memory_buffer text = TakeBuffer();
    JsonWriter json(text, kArrayDepth, true);  // each block starts with its comma
    for (const Mount* mount : mounts) WriteMountJson(json, *mount);
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

// Where the targets of the namespace can be reached from here, for statvfs:
// "" for the caller's own, /proc/PID/root for a process's.
Result<std::string> TargetPrefix(const NamespaceRef& ns) {
  switch (ns.kind) {
    case NamespaceRef::Kind::kCaller:
      return std::string();
    case NamespaceRef::Kind::kPid:
      return fmt::format("/proc/{}/root", ns.pid);
    case NamespaceRef::Kind::kId:
    case NamespaceRef::Kind::kFile:
      break;
  }
  return MakeError(ENOTSUP, "ls --df/SIZE", ns.Describe() +
                                                " has no path to its targets from here (use --pid/-N PID)");
}

// statvfs(2) of each mount's target, as findmnt and df take it.
std::vector<Usage> UsageOf(std::span<const Mount> mounts, const std::string& prefix) {
  std::vector<Usage> usage(mounts.size());
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    if (!mounts[i].Has(field::kMntPoint)) continue;
    struct statvfs stats {};
    if (::statvfs((prefix + mounts[i].point).c_str(), &stats) != 0) continue;
    const std::uint64_t unit = stats.f_frsize != 0 ? stats.f_frsize : stats.f_bsize;
    usage[i] = {true, stats.f_blocks * unit, (stats.f_blocks - stats.f_bfree) * unit, stats.f_bavail * unit};
  }
  return usage;
}

// Which mounts of a whole table to show, for the filters that need every
// mount (-T, -R, --shadowed): the per-mount filters and -T pick mounts,
// --shadowed keeps the covered ones among them (-R then adds every mount
// below them: WithSubmounts).
std::vector<bool> WholeTableSelection(std::span<const Mount> table, std::span<const Usage> usage,
                                      const LsOptions& options, const std::string& target_path) {
  std::vector<bool> keep(table.size(), true);
  for (std::size_t i = 0; i < table.size(); ++i) {
    keep[i] = options.filter.Matches(table[i], i < usage.size() ? &usage[i] : nullptr);
  }
  if (!target_path.empty()) {
    // findmnt shows every mount on the mount point found, the covered ones too.
    const std::optional<std::size_t> found = MountOfPath(table, target_path);
    for (std::size_t i = 0; i < table.size(); ++i) keep[i] = keep[i] && found && table[i].point == table[*found].point;
  }
  if (options.filter.shadowed) {
    const std::vector<bool> covered = CoveredMounts(table);
    for (std::size_t i = 0; i < table.size(); ++i) keep[i] = keep[i] && covered[i];
  }
  return keep;
}

// Puts the mounts of `order` (WithSubmounts: findmnt -R's) first in `table`,
// in that order and selected, with what goes with each mount; the others
// follow, not selected.
void ShowInOrder(const std::vector<std::size_t>& order, std::vector<Mount>& table, std::vector<Usage>& usage,
                 std::vector<bool>& selection) {
  std::vector<bool> placed(table.size(), false);
  for (const std::size_t index : order) placed[index] = true;
  std::vector<std::size_t> all = order;
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (!placed[i]) all.push_back(i);
  }
  std::vector<Mount> mounts;
  std::vector<Usage> usages;
  mounts.reserve(table.size());
  for (const std::size_t index : all) {
    mounts.push_back(std::move(table[index]));
    if (index < usage.size()) usages.push_back(std::move(usage[index]));
  }
  table = std::move(mounts);
  usage = std::move(usages);
  selection.assign(table.size(), false);
  std::fill(selection.begin(), selection.begin() + static_cast<std::ptrdiff_t>(order.size()), true);
}

int RunLs(LsOptions& options) {
  if (options.task != 0) {
    if (options.target.ns_id != 0 || !options.target.ns_file.empty() ||
        (options.target.pid != 0 && options.target.pid != options.task)) {
      fmt::print(stderr, "mntns: ls: -N/--task is --pid by another name; give one of --ns, --ns-file, --pid, -N\n");
      return kExitUsage;
    }
    options.target.pid = options.task;
  }
  if (options.df && !options.all) options.filter.nonzero_size = true;
  const std::string defaults = options.df ? DfColumns() : DefaultColumns();
  auto columns = ParseColumns(options.columns.empty() ? defaults : options.columns, defaults);
  if (!columns) {
    fmt::print(stderr, "mntns: {}\n", columns.error().Message());
    return kExitUsage;
  }
  const NamespaceRef ns = options.target.Namespace();
  bool needs_usage = options.filter.nonzero_size;
  for (const Column* column : *columns) needs_usage = needs_usage || (column->usage && !options.json);
  std::string prefix;
  if (needs_usage) {
    auto found = TargetPrefix(ns);
    if (!found) return ReportError(found.error());
    prefix = *found;
  }
  // -T resolves the path as findmnt does: in the caller's namespace, where
  // the path must exist; in another namespace the path is taken as written.
  std::string target_path;
  if (!options.target_path.empty()) {
    if (ns.kind == NamespaceRef::Kind::kCaller) {
      char resolved[PATH_MAX];
      if (::realpath(options.target_path.c_str(), resolved) == nullptr) {
        return ReportError(MakeError(errno, "ls -T: realpath", QuotePath(options.target_path)).error());
      }
      target_path = resolved;
    } else {
      target_path = NormalPath(options.target_path);
    }
  }
  if (!options.filter.mountpoint.empty()) {
    char resolved[PATH_MAX];
    options.filter.mountpoint = ns.kind == NamespaceRef::Kind::kCaller &&
                                        ::realpath(options.filter.mountpoint.c_str(), resolved) != nullptr
                                    ? std::string(resolved)
                                    : NormalPath(options.filter.mountpoint);
  }
  const bool tree = options.tree && !options.list && !options.raw && !options.pairs && !options.json;
  const bool whole_table = !target_path.empty() || options.filter.shadowed || options.submounts;
  // Ask the kernel only for what will be shown or filtered on: every
  // statmount field costs.
  FieldMask mask = options.filter.Mask() | (tree || whole_table ? field::kMntBasic | field::kMntPoint : 0);
  if (options.json) {
    mask |= kJsonMask;
  } else {
    for (const Column* column : *columns) mask |= column->mask;
  }
  const QueryOptions query{.mask = mask, .backend = options.target.backend};
  TableFormat format;
  format.headings = !options.noheadings;
  format.kind = options.pairs ? TableFormat::Kind::kPairs
                : options.raw ? TableFormat::Kind::kRaw
                              : TableFormat::Kind::kList;
  format.width = TerminalWidth();
  format.notruncate = options.notruncate;
  // findmnt's exit status: 1 when filters leave nothing to show.
  const bool filtered = options.filter.Active() || whole_table;
  std::mutex mutex;
  std::size_t shown = 0;

  // Each block is filtered and rendered on the thread that read it.
  std::vector<std::vector<std::string>> blocks;
  std::vector<std::vector<std::uint32_t>> width_blocks;  // of `blocks`' cells, for a list
  const bool measure_here = !tree && format.kind == TableFormat::Kind::kList;
  std::vector<std::vector<TreeRow>> tree_blocks;
  std::unordered_map<std::uint32_t, std::uint32_t> parents;  // of every mount, when filters left some out
  JsonBlockPrinter printer;
  // `selection`, where given, says which mounts to show instead of the filters.
  auto show = [&](std::size_t index, std::span<const Mount> mounts, const std::vector<bool>* selection,
                  std::vector<Usage> usage) -> Result<void> {
    // The mounts shown, by address: a copy of each kept Mount (a dozen
    // strings) cost more than rendering it.
    std::vector<const Mount*> kept;
    kept.reserve(mounts.size());
    if (options.filter.Active() || needs_usage || selection != nullptr) {
      if (needs_usage && usage.empty()) usage = UsageOf(mounts, prefix);
      std::vector<Usage> kept_usage;
      for (std::size_t i = 0; i < mounts.size(); ++i) {
        const bool wanted = selection != nullptr ? (*selection)[i]
                                                 : options.filter.Matches(mounts[i], needs_usage ? &usage[i] : nullptr);
        if (!wanted) continue;
        kept.push_back(&mounts[i]);
        if (needs_usage) kept_usage.push_back(usage[i]);
      }
      usage = std::move(kept_usage);
    } else {
      for (const Mount& mount : mounts) kept.push_back(&mount);
    }
    if (options.json) {
      {
        std::lock_guard lock(mutex);
        shown += kept.size();
      }
      return printer.Print(index, kept);
    }
    std::vector<std::string> cells;
    RenderRows(kept, *columns, cells, usage);
    // The list's widths are measured here, on the reading threads.
    std::vector<std::uint32_t> widths;
    if (measure_here) MeasureCells(*columns, cells, widths);
    // A tree needs the parents of the mounts left out too: a kept mount hangs
    // below its nearest kept ancestor, as in findmnt.
    std::vector<TreeRow> rows;
    std::vector<TreeRow> all_rows;
    if (tree) {
      for (const Mount* mount : kept) rows.push_back({mount->old_id, mount->old_parent_id});
      if (kept.size() != mounts.size()) {
        for (const Mount& mount : mounts) all_rows.push_back({mount.old_id, mount.old_parent_id});
      }
    }
    std::lock_guard lock(mutex);
    shown += kept.size();
    if (blocks.size() <= index) blocks.resize(index + 1);
    blocks[index] = std::move(cells);
    if (measure_here) {
      if (width_blocks.size() <= index) width_blocks.resize(index + 1);
      width_blocks[index] = std::move(widths);
    }
    if (tree) {
      if (tree_blocks.size() <= index) tree_blocks.resize(index + 1);
      tree_blocks[index] = std::move(rows);
      for (const TreeRow& row : all_rows) parents[row.id] = row.parent;
    }
    return kOk;
  };

  auto render = [&show](std::size_t index, std::span<const Mount> mounts) { return show(index, mounts, nullptr, {}); };
  if (whole_table) {
    auto table = ListMounts(ns, query);
    if (!table) return ReportError(options.target.NameTheOption(table.error(), "ls"));
    std::vector<Usage> usage = needs_usage ? UsageOf(*table, prefix) : std::vector<Usage>();
    std::vector<bool> selection = WholeTableSelection(*table, usage, options, target_path);
    if (options.submounts) ShowInOrder(WithSubmounts(*table, selection), *table, usage, selection);
    if (auto shown_rows = show(0, *table, &selection, std::move(usage)); !shown_rows) {
      return ReportError(shown_rows.error());
    }
  } else if (auto read = ForEachMountBlock(ns, query, kMountsPerBlock, render); !read) {
    std::fflush(stdout);
    return ReportError(options.target.NameTheOption(read.error(), "ls"));
  }
  if (options.json) {
    printer.CloseDocument();
    return filtered && shown == 0 ? kExitFailure : 0;
  }
  if (filtered && shown == 0) return kExitFailure;
  if (tree) {
    // The tree needs every row's parent before the first line, but only the
    // rows' ids and cells, not the Mounts.
    std::vector<TreeRow> rows;
    std::vector<const std::string*> row_cells;
    const std::size_t count = columns->size();
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      if (b >= tree_blocks.size()) break;
      for (std::size_t r = 0; r < tree_blocks[b].size(); ++r) {
        rows.push_back(tree_blocks[b][r]);
        row_cells.push_back(&blocks[b][r * count]);
      }
    }
    if (!parents.empty()) {
      std::unordered_set<std::uint32_t> shown_ids;
      for (const TreeRow& row : rows) shown_ids.insert(row.id);
      for (TreeRow& row : rows) {
        // Bounded: a cycle in a table read while it changed must not hang.
        std::uint32_t parent = row.parent;
        for (std::size_t step = 0; step <= parents.size() && !shown_ids.contains(parent); ++step) {
          const auto up = parents.find(parent);
          if (up == parents.end() || up->second == parent) break;
          parent = up->second;
        }
        row.parent = parent;
      }
    }
    std::vector<std::string> ordered;
    ordered.reserve(rows.size() * count);
    for (const auto& [row, tree_prefix] : TreeOrder(rows, options.ascii)) {
      for (std::size_t c = 0; c < count; ++c) {
        const std::string& text = row_cells[row][c];
        ordered.push_back((*columns)[c]->name == "TARGET" ? tree_prefix + text : text);
      }
    }
    format.tree = true;
    PrintCells(*columns, std::span(&ordered, 1), format);
    return 0;
  }
  // One entry per block; raw and pairs output were not measured and need no widths.
  width_blocks.resize(blocks.size());
  PrintCells(*columns, blocks, format, width_blocks);
  return 0;
}

}  // namespace

void AddLsCommand(CLI::App& app, Runner& runner) {
  auto options = std::make_shared<LsOptions>();
  CLI::App* command = app.add_subcommand(
      "ls", "List the mounts of a mount namespace (default: your own), with findmnt's filters and formats.");
  command->add_flag("-J,--json", options->json,
                    "Print {\"mounts\": [...]}: one object per mount with id, parent, old_id,\n"
                    "old_parent, target, root, source, fstype, vfs_options, fs_options,\n"
                    "propagation, ns_id and more (null where the backend cannot know a field);\n"
                    "filters apply, -o does not");
  command->add_flag("--tree", options->tree, "Draw TARGET as the mount tree (depth-first order)");
  command->add_flag("-a,--ascii", options->ascii, "Draw the tree with ASCII characters (|- `-)");
  command->add_flag("-l,--list", options->list, "A list, one row per mount (the default; overrides --tree)");
  command->add_flag("-r,--raw", options->raw, "Cells separated by one space, spaces in them written \\x20");
  command->add_flag("-P,--pairs", options->pairs, "NAME=\"value\" pairs, one row per line");
  command->add_flag("-n,--noheadings", options->noheadings, "No header line");
  command->add_flag("-u,--notruncate", options->notruncate,
                    "Never cut a cell to fit the terminal. Without -u, when stdout is a terminal\n"
                    "(its width, else $COLUMNS, else 80), the option columns are cut and TARGET\n"
                    "and SOURCE narrowed, as findmnt does; a pipe gets whole rows");
  std::string column_help = "Columns to show, comma-separated (\"+COLS\" adds to the default), from:\n";
  for (const Column& column : AllColumns()) column_help += " " + column.name;
  column_help += "\nID and PARENT are unique ids (findmnt's ID is OLD_ID here)";
  command->add_option("-o,--output", options->columns, column_help)->default_str(DefaultColumns());
  command->add_flag("-D,--df", options->df,
                    "Like df: columns " + DfColumns() + ",\nfilesystems of size 0 left out (unless -A)");
  command->add_flag("-A,--all", options->all, "With -D: show filesystems of size 0 too");
  command->add_option("-t,--types", options->filter.types,
                      "Only these filesystem types, comma-separated; \"noX\" excludes X, and a\n"
                      "leading \"no\" negates the whole list (-t nosysfs,proc: neither)");
  command->add_option("-O,--options", options->filter.options,
                      "Only mounts with all these options (OPTIONS column); \"noX\": without X,\n"
                      "\"+noX\": with the option noX itself, \"X=V\": with that value");
  command->add_option("-S,--source", options->filter.source, "Only mounts of this source (or MAJ:MIN)");
  AddPathOption(*command, "-T,--target", options->target_path,
                "Only the mounts on the mount point that PATH lies under (resolved here;\nin another namespace as written)");
  AddPathOption(*command, "-M,--mountpoint", options->filter.mountpoint, "Only mounts on exactly this directory");
  command->add_flag("-R,--submounts", options->submounts, "With the mounts matched, every mount below them");
  command->add_flag("--real", options->filter.real, "Only real filesystems (not proc, tmpfs, cgroup2, ...)");
  command->add_flag("--pseudo", options->filter.pseudo, "Only pseudo filesystems (findmnt's list)");
  command->add_flag("--shadowed", options->filter.shadowed, "Only mounts covered by another mount on the same path");
  AddTargetOptions(*command, options->target);
  AddNumberOption(*command, "-N,--task", 1, INT_MAX,
                  [options](std::uint64_t value) { options->task = static_cast<pid_t>(value); },
                  "The namespace of process PID (findmnt's name for --pid)");
  command->footer(
      "Filters (-t -O -S -M --real --pseudo) are applied while the table is read, and only\n"
      "the fields that columns and filters need are asked of the kernel. -T, -R and\n"
      "--shadowed need the whole table first. Exit status 1 when filters match nothing.\n"
      "\n"
      "Examples:\n"
      "  mntns ls                         your namespace, findmnt-like\n"
      "  mntns ls -t tmpfs,proc -o TARGET,SOURCE,FS-OPTIONS\n"
      "  mntns ls -T /var/lib -R --tree   the mount /var/lib is on, and all below it\n"
      "  mntns ls -D -N 1                 df of the initial namespace\n"
      "  mntns ls --tree -o TARGET,FSTYPE,PROPAGATION\n"
      "  mntns ls --pid 1 --json          the initial namespace, as JSON\n"
      "  mntns ls --ns-file /run/ns/web   a namespace pinned with `mntns new --pin`");
  command->callback([options, &runner] { runner = [options] { return RunLs(*options); }; });
}

}  // namespace mntns::cli
