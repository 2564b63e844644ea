// How the CLI shows mounts: JSON objects and findmnt-like table columns.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "output/json_writer.h"
#include "mntns/error.h"
#include "mntns/query.h"

namespace mntns::cli {

// The statmount fields MountToJson reads (everything but the option arrays,
// id maps and supported mask, which `stat` adds with kAll).
inline constexpr FieldMask kJsonMask = field::kSbBasic | field::kMntBasic | field::kPropagateFrom |
                                       field::kMntRoot | field::kMntPoint | field::kFsType |
                                       field::kMntNsId | field::kMntOpts | field::kFsSubtype |
                                       field::kSbSource;

// One mount as a JSON object, streamed: the keys of `ls --json` and `stat
// --json`, plus "mask" (the fields the backend returned). Keys whose field the
// backend did not return are null (e.g. "id" from the mountinfo backend, which
// has no unique ids). A string that is not valid UTF-8 is written with U+FFFD
// and followed by "KEY_hex" holding its exact bytes in hex. Without MNT_POINT,
// "detached": true, or "outside_root": true for a mount above the caller's root.
void WriteMountJson(JsonWriter& json, const Mount& mount);

// The same object as a JSON value (for one mount; WriteMountJson for tables).
[[nodiscard]] nlohmann::ordered_json MountToJson(const Mount& mount);

// Text output (tables, trees, stat, new): bytes that a terminal would act on
// or that would break a row are written \xNN, as findmnt writes them: C0
// controls (newline, tab, escape ...), DEL, C1 controls, bytes that are not
// valid UTF-8, and the backslash of a "\x" already in the text (\x5c), so
// that every row stays one line and the bytes can be recovered.
[[nodiscard]] std::string TerminalSafe(std::string_view text);
// `mount` with every string passed through TerminalSafe (for `stat`).
[[nodiscard]] Mount TerminalSafeCopy(const Mount& mount);

// What text output shows as TARGET for a mount without MNT_POINT:
// "(detached)", or "(outside your root)" when it has a namespace (a mount
// above the caller's chroot).
[[nodiscard]] std::string_view UnreachableTarget(const Mount& mount);

// What `ls -D` and the SIZE, USED, AVAIL and USE% columns show: statvfs(2) of
// the mount's target, as findmnt takes it (so a covered mount shows the sizes
// of the mount on top of it, as in findmnt and df). `known` is false where
// the target could not be reached (the cells then read "-").
struct Usage {
  bool known = false;
  std::uint64_t size = 0;   // f_blocks * f_frsize
  std::uint64_t used = 0;   // (f_blocks - f_bfree) * f_frsize
  std::uint64_t avail = 0;  // f_bavail * f_frsize
};

// findmnt's OPTIONS: the per-mount options, then the superblock's, under one
// leading "ro" or "rw" ("ro" if either side is read-only), as libmount merges
// them: "rw,nosuid,relatime,size=1024k". Needs kMntBasic, kSbBasic, kMntOpts.
[[nodiscard]] std::string AllOptions(const Mount& mount);

// findmnt's human-readable size: 1024-based, one decimal where it is not
// zero, a one-letter suffix from K on ("0", "512", "4K", "1.5M", "11.8G").
[[nodiscard]] std::string HumanSize(std::uint64_t bytes);

// One row's data: the mount, and its usage where a column needs it.
struct Row {
  const Mount& mount;
  const Usage* usage = nullptr;
};

// A table column: its name for -o, its header, and the fields it needs.
// Names are findmnt's where the meaning is findmnt's (TARGET SOURCE FSTYPE
// OPTIONS VFS-OPTIONS FS-OPTIONS FSROOT PROPAGATION OPT-FIELDS MAJ:MIN SIZE
// USED AVAIL USE% UNIQ-ID); ID and PARENT are the unique 64-bit ids (findmnt's
// ID is the old id: OLD_ID here).
struct Column {
  std::string name;
  FieldMask mask;
  std::string (*render)(const Row&);
  bool right = false;      // right-aligned, as findmnt aligns numbers and sizes
  bool truncate = false;   // may be cut to fit the terminal (findmnt's option columns)
  bool usage = false;      // needs Row::usage (statvfs of the target)
  std::size_t min_width = 0;  // findmnt's absolute width hint, kept also without headings
  double relative_width = 0;  // findmnt's share of the terminal (0.30 for TARGET), for narrowing
  bool noextremes = false;    // width measured without cells over twice the average (findmnt's NOEXTREMES)
};

[[nodiscard]] std::span<const Column> AllColumns();
[[nodiscard]] std::string DefaultColumns();  // "ID,PARENT,TARGET,SOURCE,FSTYPE,OPTIONS"
// findmnt -D's columns.
[[nodiscard]] std::string DfColumns();  // "SOURCE,FSTYPE,SIZE,USED,AVAIL,USE%,TARGET"

// Parses "-o ID,TARGET" (case-insensitive, '-' and '_' alike, "+COLS"
// appends to `defaults`); EINVAL naming the unknown column.
[[nodiscard]] Result<std::vector<const Column*>> ParseColumns(const std::string& list,
                                                              const std::string& defaults = DefaultColumns());

// How a table is printed.
struct TableFormat {
  enum class Kind {
    kList,   // aligned columns (findmnt -l)
    kRaw,    // one space between cells, whitespace written \x20 (findmnt -r)
    kPairs,  // NAME="value" (findmnt -P)
  };
  Kind kind = Kind::kList;
  bool headings = true;
  // kList: the terminal width to fit (0: no terminal: nothing is fit). As
  // findmnt does, the option columns are cut and the others narrowed; a cell
  // wider than its column ends its line and the next cell starts below.
  std::size_t width = 0;
  // -u: the width is fit by narrowing only, no cell is cut.
  bool notruncate = false;
  // TARGET cells start with TreeOrder's prefix (for the lines drawn below them).
  bool tree = false;
};

// Prints a table with a header. With `tree`, rows are in depth-first order of
// the mount tree and TARGET is drawn as a tree, like findmnt.
void PrintTable(std::span<const Mount> mounts, std::span<const Column* const> columns, bool tree);

// The pieces of PrintTable, for tables read block by block (ForEachMountBlock):
// RenderRows appends the cells of `mounts` (row after row, one per column) to
// `cells` (`usage`, where given, holds one Usage per mount); PrintCells prints
// the header and the blocks' rows in order, every column as wide as its
// widest cell.
void RenderRows(std::span<const Mount* const> mounts, std::span<const Column* const> columns,
                std::vector<std::string>& cells, std::span<const Usage> usage = {});
void RenderRows(std::span<const Mount> mounts, std::span<const Column* const> columns,
                std::vector<std::string>& cells);
// MeasureCells gives the display width of each cell as PrintCells shows it
// (for a list), so that the reading threads can measure their blocks; given to
// PrintCells as `cell_widths` (one per block, or none: measured there).
void MeasureCells(std::span<const Column* const> columns, std::span<const std::string> cells,
                  std::vector<std::uint32_t>& widths);
void PrintCells(std::span<const Column* const> columns, std::span<const std::vector<std::string>> blocks,
                const TableFormat& format = {}, std::span<const std::vector<std::uint32_t>> cell_widths = {});

// The rows of a tree: each row's old id and old parent id (both backends have
// them) and its cells. TreeOrder gives the rows' depth-first order, each with
// the prefix ("├─", "│ └─") to put before its TARGET; a row whose parent is not
// among them is a root.
struct TreeRow {
  std::uint32_t id = 0;
  std::uint32_t parent = 0;
};
// With `ascii`, findmnt -a's "|-", "`-" and "| " instead of the line-drawing characters.
[[nodiscard]] std::vector<std::pair<std::size_t, std::string>> TreeOrder(std::span<const TreeRow> rows,
                                                                         bool ascii = false);

}  // namespace mntns::cli
