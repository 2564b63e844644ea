// How the CLI shows mounts: JSON objects and findmnt-like table columns.
#pragma once

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

// A table column: its name for -o, its header, and the fields it needs.
struct Column {
  std::string name;
  FieldMask mask;
  std::string (*render)(const Mount&);
};

[[nodiscard]] std::span<const Column> AllColumns();
[[nodiscard]] std::string DefaultColumns();  // "ID,PARENT,TARGET,SOURCE,FSTYPE,OPTIONS"

// Parses "-o ID,TARGET" (case-insensitive); EINVAL naming the unknown column.
[[nodiscard]] Result<std::vector<const Column*>> ParseColumns(const std::string& list);

// Prints a table with a header. With `tree`, rows are in depth-first order of
// the mount tree and TARGET is drawn as a tree, like findmnt.
void PrintTable(std::span<const Mount> mounts, std::span<const Column* const> columns, bool tree);

// The pieces of PrintTable, for tables read block by block (ForEachMountBlock):
// RenderRows appends the cells of `mounts` (row after row, one per column) to
// `cells`; PrintCells prints the header and the blocks' rows in order, every
// column as wide as its widest cell.
void RenderRows(std::span<const Mount> mounts, std::span<const Column* const> columns,
                std::vector<std::string>& cells);
void PrintCells(std::span<const Column* const> columns, std::span<const std::vector<std::string>> blocks);

}  // namespace mntns::cli
