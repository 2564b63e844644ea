#include "output/mount_output.h"

#include <sys/mount.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <map>
#include <utility>

#include <fmt/format.h>

namespace mntns::cli {
namespace {

std::string Number(std::uint64_t value) { return std::to_string(value); }

std::string TargetText(const Mount& m) {
  return m.Has(field::kMntPoint) ? TerminalSafe(m.point) : std::string(UnreachableTarget(m));
}

// findmnt's SOURCE: the source, and for a mount of a directory below the
// filesystem's root (a bind mount, a btrfs subvolume) that root in brackets.
std::string SourceText(const Mount& m) {
  if (m.Has(field::kMntRoot) && !m.root.empty() && m.root != "/") {
    return TerminalSafe(m.sb_source) + "[" + TerminalSafe(m.root) + "]";
  }
  return TerminalSafe(m.sb_source);
}

// findmnt's PROPAGATION: "shared" or "private", then ",slave" and ",unbindable".
std::string PropagationFlags(const Mount& m) {
  std::string text = (m.propagation & MS_SHARED) != 0 ? "shared" : "private";
  if ((m.propagation & MS_SLAVE) != 0) text += ",slave";
  if ((m.propagation & MS_UNBINDABLE) != 0) text += ",unbindable";
  return text;
}

std::string UniqueId(std::uint64_t id) { return id != 0 ? Number(id) : std::string("-"); }

std::string UsageCell(const Row& row, std::uint64_t Usage::*value) {
  return row.usage != nullptr && row.usage->known ? HumanSize(row.usage->*value) : std::string("-");
}

std::string UsePercent(const Row& row) {
  if (row.usage == nullptr || !row.usage->known || row.usage->size == 0) return "-";
  return fmt::format("{:.0f}%", static_cast<double>(row.usage->used) * 100.0 / static_cast<double>(row.usage->size));
}

constexpr FieldMask kOptionsMask = field::kMntBasic | field::kSbBasic | field::kMntOpts;

// The layout hints are findmnt 2.38's (its infos[] table): a whole number is
// an absolute width, a fraction a share of the terminal; TRUNC columns are
// cut first, NOEXTREMES ones measured without their outliers.
const Column kColumns[] = {
    {"ID", field::kMntBasic, [](const Row& r) { return UniqueId(r.mount.id); }, true, false, false, 2},
    {"PARENT", field::kMntBasic, [](const Row& r) { return UniqueId(r.mount.parent_id); }, true, false, false, 2},
    {"UNIQ-ID", field::kMntBasic, [](const Row& r) { return UniqueId(r.mount.id); }, true, false, false, 2},
    {"OLD_ID", field::kMntBasic, [](const Row& r) { return Number(r.mount.old_id); }, true, false, false, 2},
    {"OLD_PARENT", field::kMntBasic, [](const Row& r) { return Number(r.mount.old_parent_id); }, true, false, false, 2},
    // MNT_NS_ID tells a mount outside the caller's root from a detached one.
    {"TARGET", field::kMntPoint | field::kMntNsId, [](const Row& r) { return TargetText(r.mount); }, false, false,
     false, 0, 0.30, true},
    {"FSROOT", field::kMntRoot, [](const Row& r) { return TerminalSafe(r.mount.root); }, false, false, false, 0, 0.25,
     true},
    {"SOURCE", field::kSbSource | field::kMntRoot, [](const Row& r) { return SourceText(r.mount); }, false, false,
     false, 0, 0.25, true},
    {"FSTYPE", field::kFsType | field::kFsSubtype, [](const Row& r) { return TerminalSafe(FsTypeText(r.mount)); },
     false, true, false, 0, 0.10},
    {"OPTIONS", kOptionsMask, [](const Row& r) { return TerminalSafe(AllOptions(r.mount)); }, false, true, false, 0,
     0.10},
    {"VFS-OPTIONS", field::kMntBasic, [](const Row& r) { return VfsOptions(r.mount); }, false, true, false, 0, 0.20},
    {"FS-OPTIONS", field::kSbBasic | field::kMntOpts, [](const Row& r) { return TerminalSafe(SuperOptions(r.mount)); },
     false, true, false, 0, 0.10},
    {"PROPAGATION", field::kMntBasic, [](const Row& r) { return PropagationFlags(r.mount); }, false, false, false, 0,
     0.10},
    // mountinfo's optional fields, as findmnt shows them: empty for a private mount.
    {"OPT-FIELDS", field::kMntBasic | field::kPropagateFrom,
     [](const Row& r) {
       std::string text = PropagationText(r.mount);
       return text == "private" ? std::string() : text;
     },
     false, true, false, 0, 0.10},
    {"NS_ID", field::kMntNsId,
     [](const Row& r) { return r.mount.Has(field::kMntNsId) ? Number(r.mount.ns_id) : std::string("-"); }, true},
    {"MAJ:MIN", field::kSbBasic,
     [](const Row& r) { return fmt::format("{}:{}", r.mount.sb_dev_major, r.mount.sb_dev_minor); }, false, false,
     false, 6},
    {"SIZE", field::kMntPoint, [](const Row& r) { return UsageCell(r, &Usage::size); }, true, false, true, 5},
    {"USED", field::kMntPoint, [](const Row& r) { return UsageCell(r, &Usage::used); }, true, false, true, 5},
    {"AVAIL", field::kMntPoint, [](const Row& r) { return UsageCell(r, &Usage::avail); }, true, false, true, 5},
    {"USE%", field::kMntPoint, UsePercent, true, false, true, 3},
};

// Other names -o takes for a column: the names from before findmnt's were adopted.
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {{"ROOT", "FSROOT"}};

// -o names are matched upper-case with '_' read as '-': findmnt writes
// FS-OPTIONS, mntns wrote FS_OPTIONS.
std::string NormalizedName(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = c == '_' ? '-' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Display width: the tree characters are one column each but three bytes.
std::size_t Width(std::string_view text) {
  std::size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80 ? 1 : 0;
  return width;
}

// findmnt writes MAJ:MIN as "%3u:%-3u" in lists and trees, so that the
// colons line up: the text shown for a MAJ:MIN cell (in `scratch`).
bool IsDeviceColumn(const Column& column) { return column.name == "MAJ:MIN"; }

std::string_view DeviceText(std::string_view text, std::string& scratch) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return text;
  scratch = fmt::format("{:>3}:{:<3}", text.substr(0, colon), text.substr(colon + 1));
  return scratch;
}

// The longest head of `text` that is at most `width` columns wide.
std::string_view CutToWidth(std::string_view text, std::size_t width) {
  std::size_t columns = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (columns == width) return text.substr(0, i);
    ++columns;
  }
  return text;
}

// -P values: libsmartcols writes '"', '`', '$' and '\' as \xNN. A backslash
// that starts an \xNN the text already holds (TerminalSafe) stays as it is.
void AppendPairValue(fmt::memory_buffer& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool escape_start = c == '\\' && i + 1 < text.size() && text[i + 1] == 'x';
    if (c == '"' || c == '`' || c == '$' || (c == '\\' && !escape_start)) {
      const char escaped[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
      out.append(std::string_view(escaped, 4));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

// -r cells: whitespace would split a cell in two.
void AppendRawCell(fmt::memory_buffer& out, std::string_view text) {
  for (char c : text) {
    if (c == ' ') {
      out.append(std::string_view("\\x20"));
    } else {
      out.push_back(c);
    }
  }
}

void Pad(fmt::memory_buffer& out, std::size_t spaces) {
  static constexpr std::string_view kSpaces = "                                                                ";
  for (; spaces > kSpaces.size(); spaces -= kSpaces.size()) out.append(kSpaces);
  out.append(kSpaces.substr(0, spaces));
}

void Flush(fmt::memory_buffer& out) {
  std::fwrite(out.data(), 1, out.size(), stdout);
  out.clear();
}

}  // namespace

std::string AllOptions(const Mount& m) {
  const std::string vfs = VfsOptions(m);
  const std::string super = SuperOptions(m);
  if (vfs == super) return vfs;
  bool read_only = false;
  std::string rest;
  for (const std::string* list : {&vfs, &super}) {
    std::size_t start = 0;
    while (start <= list->size()) {
      std::size_t end = list->find(',', start);
      if (end == std::string::npos) end = list->size();
      const std::string_view option(list->data() + start, end - start);
      if (option == "ro") {
        read_only = true;
      } else if (option != "rw" && !option.empty()) {
        rest += ',';
        rest += option;
      }
      start = end + 1;
    }
  }
  return (read_only ? "ro" : "rw") + rest;
}

std::string HumanSize(std::uint64_t bytes) {
  // util-linux's size_to_human_string(SIZE_SUFFIX_1LETTER): the exponent is
  // the largest power of 1024 not above the value, the fraction rounded to
  // one digit (4/5), a carry into the integer part kept.
  static constexpr char kLetters[] = "BKMGTPE";
  int exponent = 0;
  for (int shift = 10; shift <= 60; shift += 10) {
    if (bytes < (1ULL << shift)) break;
    exponent = shift;
  }
  if (exponent == 0) return std::to_string(bytes);
  std::uint64_t whole = bytes >> exponent;
  std::uint64_t fraction = bytes & ((1ULL << exponent) - 1);
  if (fraction != 0) {
    // Three digits after the point, without overflowing 64 bits.
    fraction = fraction >= UINT64_MAX / 1000 ? ((fraction / 1024) * 1000) / (1ULL << (exponent - 10))
                                             : (fraction * 1000) / (1ULL << exponent);
    fraction = ((fraction + 50) / 100) * 10;
    if (fraction == 100) {
      ++whole;
      fraction = 0;
    }
  }
  const char letter = kLetters[exponent / 10];
  if (fraction == 0) return fmt::format("{}{}", whole, letter);
  return fmt::format("{}.{}{}", whole, fraction / 10, letter);
}

std::string TerminalSafe(std::string_view text) {
  // Most text needs nothing escaped: one scan, one copy.
  const auto plain = std::find_if(text.begin(), text.end(), [](char byte) {
    const unsigned char c = static_cast<unsigned char>(byte);
    return c < 0x20 || c >= 0x7f || c == '\\';
  });
  if (plain == text.end()) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  const auto escape = [&out](unsigned char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  };
  out.append(text.begin(), plain);
  for (std::size_t i = static_cast<std::size_t>(plain - text.begin()); i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      // A backslash that starts "\x" would read as an escape: findmnt's \x5c.
      if (c == '\\' && i + 1 < text.size() && text[i + 1] == 'x') {
        escape(c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    const std::size_t length = c < 0x80 ? 0 : Utf8SequenceLength(text.substr(i));
    // U+0080..U+009F (C1 controls, 0xC2 0x80..0x9F) act on terminals too.
    const bool c1 = length == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (length == 0 || c1) {
      for (std::size_t k = 0; k < (c1 ? 2 : 1); ++k) escape(static_cast<unsigned char>(text[i + k]));
      i += c1 ? 2 : 1;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

std::string_view UnreachableTarget(const Mount& mount) {
  // statmount leaves MNT_POINT out for a mount attached nowhere, and for one
  // outside the caller's root (chroot), which still has its namespace.
  return mount.Has(field::kMntNsId) ? "(outside your root)" : "(detached)";
}

Mount TerminalSafeCopy(const Mount& mount) {
  Mount safe = mount;
  for (std::string* text : {&safe.root, &safe.point, &safe.fs_type, &safe.fs_options, &safe.fs_subtype,
                            &safe.sb_source}) {
    *text = TerminalSafe(*text);
  }
  for (auto* list : {&safe.fs_option_array, &safe.security_option_array, &safe.uid_map, &safe.gid_map}) {
    for (std::string& text : *list) text = TerminalSafe(text);
  }
  return safe;
}

void WriteMountJson(JsonWriter& json, const Mount& mount) {
  const bool basic = mount.Has(field::kMntBasic);
  const bool sb = mount.Has(field::kSbBasic);
  // A key the backend could not fill is null, never left out.
  auto number_or_null = [&json](std::string_view key, bool known, std::uint64_t value) {
    json.Key(key);
    if (known) {
      json.Number(value);
    } else {
      json.Null();
    }
  };
  // Paths may hold any byte, JSON strings only UTF-8: where a value is not
  // valid UTF-8, "KEY_hex" follows with its exact bytes (README, ls --json).
  auto string_or_null = [&json](std::string_view key, bool known, std::string_view value) {
    json.Key(key);
    if (!known) {
      json.Null();
      return;
    }
    json.String(value);
    if (!IsValidUtf8(value)) json.Field(std::string(key) + "_hex", HexBytes(value));
  };
  auto strings = [&json](std::string_view key, const std::vector<std::string>& values) {
    json.Field(key, values);
    const bool valid = std::all_of(values.begin(), values.end(), [](const std::string& v) { return IsValidUtf8(v); });
    if (valid) return;
    std::vector<std::string> hex;
    for (const std::string& value : values) hex.push_back(HexBytes(value));
    json.Field(std::string(key) + "_hex", hex);
  };
  json.BeginObject();
  number_or_null("id", basic && mount.id != 0, mount.id);
  number_or_null("parent", basic && mount.parent_id != 0, mount.parent_id);
  number_or_null("old_id", basic, mount.old_id);
  number_or_null("old_parent", basic, mount.old_parent_id);
  string_or_null("target", mount.Has(field::kMntPoint), mount.point);
  string_or_null("root", mount.Has(field::kMntRoot), mount.root);
  string_or_null("source", mount.Has(field::kSbSource), mount.sb_source);
  string_or_null("fstype", mount.Has(field::kFsType), FsTypeText(mount));
  string_or_null("vfs_options", basic, VfsOptions(mount));
  // statmount leaves kMntOpts out of the mask when a filesystem has no options.
  // A derived mount (StatmountByFd) knows neither superblock options nor propagation.
  string_or_null("fs_options", sb && !mount.derived, SuperOptions(mount));
  string_or_null("propagation", basic && !mount.derived, PropagationText(mount));
  number_or_null("ns_id", mount.Has(field::kMntNsId), mount.ns_id);
  char maj_min[24];
  const auto maj_min_end = fmt::format_to_n(maj_min, sizeof maj_min, "{}:{}", mount.sb_dev_major,
                                            mount.sb_dev_minor);
  string_or_null("maj_min", sb, std::string_view(maj_min, maj_min_end.out));
  number_or_null("sb_magic", sb && mount.sb_magic != 0, mount.sb_magic);
  number_or_null("attr", basic, mount.attr);
  number_or_null("peer_group", basic && mount.peer_group != 0, mount.peer_group);
  number_or_null("master", basic && mount.master != 0, mount.master);
  number_or_null("propagate_from", mount.Has(field::kPropagateFrom) && mount.propagate_from != 0,
                 mount.propagate_from);
  if (mount.Has(field::kOptArray)) strings("fs_option_array", mount.fs_option_array);
  if (mount.Has(field::kOptSecArray)) strings("security_option_array", mount.security_option_array);
  if (mount.Has(field::kMntUidmap)) strings("uid_map", mount.uid_map);
  if (mount.Has(field::kMntGidmap)) strings("gid_map", mount.gid_map);
  // Names written straight from the bits: a vector of names per mount is a
  // dozen allocations in a 100,000-mount listing.
  auto field_names = [&json](std::string_view key, FieldMask mask) {
    json.Key(key);
    json.BeginArray();
    for (FieldMask bit = 1; bit <= field::kAll; bit <<= 1) {
      if ((mask & bit) != 0) json.String(FieldName(bit));
    }
    json.EndArray();
  };
  if (mount.Has(field::kSupportedMask)) field_names("supported_mask", mount.supported_mask);
  // The kernel leaves MNT_POINT out for a mount attached nowhere, and for one
  // outside the caller's root, which still has its namespace id.
  if (!mount.Has(field::kMntPoint)) json.Field(mount.Has(field::kMntNsId) ? "outside_root" : "detached", true);
  if (mount.derived) json.Field("derived", true);
  field_names("mask", mount.mask);
  json.EndObject();
}

nlohmann::ordered_json MountToJson(const Mount& mount) {
  fmt::memory_buffer text;
  JsonWriter json(text);
  WriteMountJson(json, mount);
  return nlohmann::ordered_json::parse(std::string_view(text.data(), text.size()));
}

std::span<const Column> AllColumns() { return kColumns; }

std::string DefaultColumns() { return "ID,PARENT,TARGET,SOURCE,FSTYPE,OPTIONS"; }

std::string DfColumns() { return "SOURCE,FSTYPE,SIZE,USED,AVAIL,USE%,TARGET"; }

Result<std::vector<const Column*>> ParseColumns(const std::string& list, const std::string& defaults) {
  // findmnt: "-o +COLS" appends to the default columns.
  const std::string names = list.starts_with('+') ? defaults + "," + list.substr(1) : list;
  std::vector<const Column*> columns;
  std::size_t start = 0;
  while (start <= names.size()) {
    std::size_t end = names.find(',', start);
    if (end == std::string::npos) end = names.size();
    const std::string given = names.substr(start, end - start);
    std::string name = NormalizedName(given);
    for (const auto& [alias, canonical] : kAliases) {
      if (name == alias) name = canonical;
    }
    const auto found = std::find_if(std::begin(kColumns), std::end(kColumns),
                                    [&name](const Column& c) { return NormalizedName(c.name) == name; });
    if (found == std::end(kColumns)) {
      std::string upper = given;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return MakeError(EINVAL, "ls -o", QuotePath(upper) + " is not a column");
    }
    columns.push_back(&*found);
    start = end + 1;
  }
  return columns;
}

void RenderRows(std::span<const Mount* const> mounts, std::span<const Column* const> columns,
                std::vector<std::string>& cells, std::span<const Usage> usage) {
  cells.reserve(cells.size() + mounts.size() * columns.size());
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    const Row row{*mounts[i], i < usage.size() ? &usage[i] : nullptr};
    for (const Column* column : columns) cells.push_back(column->render(row));
  }
}

void RenderRows(std::span<const Mount> mounts, std::span<const Column* const> columns,
                std::vector<std::string>& cells) {
  std::vector<const Mount*> rows;
  rows.reserve(mounts.size());
  for (const Mount& mount : mounts) rows.push_back(&mount);
  RenderRows(rows, columns, cells);
}

namespace {

// What a tree column shows on the lines a row's overflowing cells push down:
// the row's tree prefix with its own branch turned into what a child of it
// would see ("|-" to "| ", "`-" to "  "), as findmnt draws it.
std::string TreeArtBelow(std::string_view target) {
  std::size_t end = 0;
  while (end < target.size() && target[end] != '/' && target[end] != '(') ++end;
  std::string art(target.substr(0, end));
  for (auto [branch, below] : {std::pair{"|-", "| "}, std::pair{"`-", "  "}, std::pair{"\u251c\u2500", "\u2502 "},
                               std::pair{"\u2514\u2500", "  "}}) {
    const std::string_view from = branch;
    if (art.ends_with(from)) {
      art.replace(art.size() - from.size(), from.size(), below);
      break;
    }
  }
  return art;
}

// libsmartcols' column widths (calculate.c, util-linux 2.38), for a table
// `format.width` wide (0: no terminal, every column as wide as it needs).
// `cell_widths` holds each cell's display width, block by block as `blocks`
// holds the cells.
std::vector<std::size_t> ColumnWidths(std::span<const Column* const> columns,
                                      std::span<const std::vector<std::uint32_t>> cell_widths,
                                      const TableFormat& format) {
  const std::size_t count = columns.size();
  if (count == 0) return {};
  struct Layout {
    std::size_t width = 0;
    std::size_t min = 0;  // the header's width, with -n too
    std::size_t max = 0;
    std::size_t average = 0;
    bool extreme = false;  // some cell is over twice the average (NOEXTREMES columns)
  };
  std::vector<Layout> layout(count);
  // One pass over a column's cells; the second (for extreme columns) leaves
  // the cells over twice the average out.
  auto measure = [&](std::size_t c) {
    Layout& column = layout[c];
    column.width = 0;
    std::size_t sum = 0;
    std::size_t measured = 0;
    for (const auto& widths : cell_widths) {
      for (std::size_t i = c; i < widths.size(); i += count) {
        const std::size_t length = widths[i];
        column.max = std::max(column.max, length);
        if (column.extreme && column.average != 0 && length > column.average * 2) continue;
        sum += length;
        ++measured;
        column.width = std::max(column.width, length);
      }
    }
    if (columns[c]->noextremes && measured != 0 && column.average == 0) {
      column.average = sum / measured;
      column.extreme = column.average != 0 && column.max > column.average * 2;
    }
    const std::size_t hint = columns[c]->min_width;
    if (column.width < column.min) {
      column.width = column.min;
    } else if (hint >= 1 && column.width < hint && column.min < hint) {
      column.width = hint;
    }
  };
  std::size_t width = count - 1;  // one space between columns
  std::size_t extremes = 0;
  for (std::size_t c = 0; c < count; ++c) {
    layout[c].min = std::max<std::size_t>(Width(columns[c]->name), 1);
    measure(c);
    width += layout[c].width;
    extremes += layout[c].extreme ? 1 : 0;
  }
  std::vector<std::size_t> widths;
  for (const Layout& column : layout) widths.push_back(column.width);
  const std::size_t terminal = format.width;
  if (terminal == 0) return widths;
  if (width > terminal && extremes != 0) {
    for (std::size_t c = 0; c < count; ++c) {
      if (!layout[c].extreme) continue;
      const std::size_t before = layout[c].width;
      measure(c);
      if (before > layout[c].width) {
        width -= before - layout[c].width;
      } else {
        --extremes;
      }
    }
  }
  if (width < terminal) {
    if (extremes != 0) {
      for (std::size_t c = 0; c < count && width < terminal; ++c) {
        if (!layout[c].extreme) continue;
        const std::size_t add = std::min(terminal - width, layout[c].max - std::min(layout[c].max, layout[c].width));
        layout[c].width += add;
        width += add;
      }
    }
    if (width < terminal && !columns[count - 1]->right) {
      layout[count - 1].width += terminal - width;
      width = terminal;
    }
  }
  // Too wide: in three stages, one column a step each round: (1) cut columns
  // past their share of the terminal, (2) cut columns, (3) narrow columns
  // with a share, cuttable or not (their cells then overflow to a new line).
  for (int stage = 1; width > terminal && stage <= 3;) {
    const std::size_t before = width;
    for (std::size_t c = 0; c < count && width > terminal; ++c) {
      Layout& column = layout[c];
      if (column.width == column.min || column.width == 0) continue;
      const double share = columns[c]->relative_width;
      const bool cuttable = columns[c]->truncate && !format.notruncate;
      const bool relative = share > 0 && share < 1;
      bool narrow = false;
      if (stage == 1) {
        narrow = cuttable && relative &&
                 column.width >= static_cast<std::size_t>(share * static_cast<double>(terminal));
      } else if (stage == 2) {
        narrow = cuttable;
      } else {
        narrow = relative;
      }
      if (narrow) {
        --column.width;
        --width;
      }
    }
    if (before == width) ++stage;
  }
  widths.clear();
  for (const Layout& column : layout) widths.push_back(column.width);
  return widths;
}

}  // namespace

void MeasureCells(std::span<const Column* const> columns, std::span<const std::string> cells,
                  std::vector<std::uint32_t>& widths) {
  const std::size_t count = columns.size();
  widths.clear();
  if (count == 0) return;
  widths.reserve(cells.size());
  std::string device_text;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const Column& column = *columns[i % count];
    const std::string_view text = IsDeviceColumn(column) ? DeviceText(cells[i], device_text) : cells[i];
    widths.push_back(static_cast<std::uint32_t>(Width(text)));
  }
}

void PrintCells(std::span<const Column* const> columns, std::span<const std::vector<std::string>> blocks,
                const TableFormat& format, std::span<const std::vector<std::uint32_t>> cell_widths) {
  const std::size_t count = columns.size();
  // One buffer written out in 64 KiB pieces: a formatted print per line of a
  // 30,000-line table costs more than building it.
  fmt::memory_buffer out;
  auto end_row = [&out] {
    out.push_back('\n');
    if (out.size() >= 64 * 1024) Flush(out);
  };
  if (format.kind == TableFormat::Kind::kPairs) {
    for (const auto& cells : blocks) {
      for (std::size_t i = 0; i < cells.size(); ++i) {
        const std::size_t c = i % count;
        out.append(columns[c]->name);
        out.append(std::string_view("=\""));
        AppendPairValue(out, cells[i]);
        out.push_back('"');
        if (c + 1 < count) {
          out.push_back(' ');
        } else {
          end_row();
        }
      }
    }
    Flush(out);
    return;
  }
  if (format.kind == TableFormat::Kind::kRaw) {
    auto cell = [&](std::size_t c, std::string_view text) {
      AppendRawCell(out, text);
      if (c + 1 < count) {
        out.push_back(' ');
      } else {
        end_row();
      }
    };
    if (format.headings) {
      for (std::size_t c = 0; c < count; ++c) cell(c, columns[c]->name);
    }
    for (const auto& cells : blocks) {
      for (std::size_t i = 0; i < cells.size(); ++i) cell(i % count, cells[i]);
    }
    Flush(out);
    return;
  }
  std::vector<bool> is_device(count);
  for (std::size_t c = 0; c < count; ++c) is_device[c] = IsDeviceColumn(*columns[c]);
  std::string device_text;
  auto shown = [&](std::size_t c, std::string_view text) -> std::string_view {
    return is_device[c] ? DeviceText(text, device_text) : text;
  };
  // Each cell's width is measured once, for the layout and for its padding;
  // a table read block by block brings them measured on its reading threads.
  std::vector<std::vector<std::uint32_t>> measured_here;
  bool paired = cell_widths.size() == blocks.size();
  for (std::size_t b = 0; paired && b < blocks.size(); ++b) paired = cell_widths[b].size() == blocks[b].size();
  if (!paired) {
    measured_here.resize(blocks.size());
    for (std::size_t b = 0; b < blocks.size(); ++b) MeasureCells(columns, blocks[b], measured_here[b]);
    cell_widths = measured_here;
  }
  const std::vector<std::size_t> widths = ColumnWidths(columns, cell_widths, format);
  const bool cut = format.width != 0 && !format.notruncate;
  // `row` holds the cells of the row that cell `c` belongs to; `length` is
  // the width of `text` as shown.
  auto cell = [&](const std::string* row, std::size_t c, std::string_view text, std::size_t length) {
    text = shown(c, text);
    const bool last = c + 1 == count;
    std::size_t width = widths[c];
    // The last column is not padded.
    if (last && length < width && !columns[c]->right) width = length;
    if (length > width && cut && columns[c]->truncate) {
      text = CutToWidth(text, width);
      length = Width(text);
    }
    if (columns[c]->right && length < width) Pad(out, width - length);
    out.append(text);
    if (!columns[c]->right && length < width) Pad(out, width - length);
    if (length > width && !last) {
      // libsmartcols: a cell wider than its column ends the line, and the
      // next cell starts below, at its column; a tree column there carries
      // the row's lines down.
      out.push_back('\n');
      for (std::size_t before = 0; before <= c; ++before) {
        std::size_t art_width = 0;
        if (format.tree && columns[before]->name == "TARGET" && row != nullptr) {
          const std::string art = TreeArtBelow(row[before]);
          out.append(art);
          art_width = Width(art);
        }
        Pad(out, widths[before] - std::min(widths[before], art_width));
        out.push_back(' ');
      }
    } else if (!last) {
      out.push_back(' ');
    }
    if (last) end_row();
  };
  if (format.headings) {
    const std::vector<bool> devices = std::exchange(is_device, std::vector<bool>(count));
    for (std::size_t c = 0; c < count; ++c) cell(nullptr, c, columns[c]->name, Width(columns[c]->name));
    is_device = devices;
  }
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const auto& cells = blocks[b];
    for (std::size_t i = 0; i < cells.size(); ++i) {
      cell(&cells[i - i % count], i % count, cells[i], cell_widths[b][i]);
    }
  }
  Flush(out);
}

std::vector<std::pair<std::size_t, std::string>> TreeOrder(std::span<const TreeRow> rows, bool ascii) {
  const std::string_view branch = ascii ? "|-" : "├─";
  const std::string_view last_branch = ascii ? "`-" : "└─";
  const std::string_view through = ascii ? "| " : "│ ";
  std::map<std::uint32_t, std::vector<std::size_t>> children;
  std::map<std::uint32_t, std::size_t> by_id;
  for (std::size_t i = 0; i < rows.size(); ++i) by_id[rows[i].id] = i;
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const bool has_parent = rows[i].parent != rows[i].id && by_id.contains(rows[i].parent);
    if (has_parent) {
      children[rows[i].parent].push_back(i);
    } else {
      roots.push_back(i);
    }
  }
  // Siblings in ascending (old) mount id, as libmount's next-child walk
  // gives them to findmnt: not the table's order, which differs once the
  // kernel has handed a freed id to a later mount.
  for (auto& [parent, kids] : children) {
    std::stable_sort(kids.begin(), kids.end(), [&](std::size_t a, std::size_t b) { return rows[a].id < rows[b].id; });
  }
  std::vector<std::pair<std::size_t, std::string>> order;
  order.reserve(rows.size());
  // An explicit stack: a chain of 100,000 nested mounts would overflow a
  // recursive walk's stack.
  struct Pending {
    std::size_t row;
    std::string prefix;  // of the row's children
    bool is_root;
    bool last;
  };
  for (std::size_t root : roots) {
    std::vector<Pending> stack{{root, "", true, true}};
    while (!stack.empty()) {
      Pending next = std::move(stack.back());
      stack.pop_back();
      order.emplace_back(next.row,
                         next.is_root ? std::string() : next.prefix + std::string(next.last ? last_branch : branch));
      const std::string child_prefix =
          next.is_root ? std::string() : next.prefix + std::string(next.last ? std::string_view("  ") : through);
      const auto found = children.find(rows[next.row].id);
      if (found == children.end()) continue;
      const auto& kids = found->second;
      for (std::size_t k = kids.size(); k-- > 0;) stack.push_back({kids[k], child_prefix, false, k + 1 == kids.size()});
    }
  }
  return order;
}

void PrintTable(std::span<const Mount> mounts, std::span<const Column* const> columns, bool tree) {
  std::vector<std::string> cells;
  if (!tree) {
    RenderRows(mounts, columns, cells);
  } else {
    std::vector<TreeRow> rows;
    rows.reserve(mounts.size());
    for (const Mount& mount : mounts) rows.push_back({mount.old_id, mount.old_parent_id});
    cells.reserve(mounts.size() * columns.size());
    for (const auto& [index, prefix] : TreeOrder(rows)) {
      for (const Column* column : columns) {
        std::string text = column->render(Row{mounts[index]});
        cells.push_back(column->name == "TARGET" ? prefix + text : std::move(text));
      }
    }
  }
  PrintCells(columns, std::span(&cells, 1));
}

}  // namespace mntns::cli
