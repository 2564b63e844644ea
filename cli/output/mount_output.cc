#include "output/mount_output.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <map>

#include <fmt/format.h>

namespace mntns::cli {
namespace {

std::string Number(std::uint64_t value) { return std::to_string(value); }

std::string TargetText(const Mount& m) {
  return m.Has(field::kMntPoint) ? TerminalSafe(m.point) : std::string(UnreachableTarget(m));
}

const Column kColumns[] = {
    {"ID", field::kMntBasic, [](const Mount& m) { return m.id != 0 ? Number(m.id) : std::string("-"); }},
    {"PARENT", field::kMntBasic,
     [](const Mount& m) { return m.parent_id != 0 ? Number(m.parent_id) : std::string("-"); }},
    {"OLD_ID", field::kMntBasic, [](const Mount& m) { return Number(m.old_id); }},
    {"OLD_PARENT", field::kMntBasic, [](const Mount& m) { return Number(m.old_parent_id); }},
    // MNT_NS_ID tells a mount outside the caller's root from a detached one.
    {"TARGET", field::kMntPoint | field::kMntNsId, TargetText},
    {"ROOT", field::kMntRoot, [](const Mount& m) { return TerminalSafe(m.root); }},
    {"SOURCE", field::kSbSource, [](const Mount& m) { return TerminalSafe(m.sb_source); }},
    {"FSTYPE", field::kFsType | field::kFsSubtype, [](const Mount& m) { return TerminalSafe(FsTypeText(m)); }},
    {"OPTIONS", field::kMntBasic, [](const Mount& m) { return VfsOptions(m); }},
    {"FS_OPTIONS", field::kSbBasic | field::kMntOpts, [](const Mount& m) { return TerminalSafe(SuperOptions(m)); }},
    {"PROPAGATION", field::kMntBasic | field::kPropagateFrom,
     [](const Mount& m) { return PropagationText(m); }},
    {"NS_ID", field::kMntNsId, [](const Mount& m) { return m.Has(field::kMntNsId) ? Number(m.ns_id) : std::string("-"); }},
    {"MAJ:MIN", field::kSbBasic,
     [](const Mount& m) { return fmt::format("{}:{}", m.sb_dev_major, m.sb_dev_minor); }},
};

// Depth-first order of the mount tree, with the tree prefix for TARGET.
// Parents are matched by old ids, which both backends have.
std::vector<std::pair<const Mount*, std::string>> TreeOrder(std::span<const Mount> mounts) {
  std::map<std::uint32_t, std::vector<const Mount*>> children;
  std::map<std::uint32_t, const Mount*> by_id;
  for (const Mount& mount : mounts) by_id[mount.old_id] = &mount;
  std::vector<const Mount*> roots;
  for (const Mount& mount : mounts) {
    const bool has_parent = mount.old_parent_id != mount.old_id && by_id.contains(mount.old_parent_id);
    if (has_parent) {
      children[mount.old_parent_id].push_back(&mount);
    } else {
      roots.push_back(&mount);
    }
  }
  std::vector<std::pair<const Mount*, std::string>> order;
  auto visit = [&](auto&& self, const Mount* mount, const std::string& prefix, bool last,
                   bool is_root) -> void {
    order.emplace_back(mount, is_root ? std::string() : prefix + (last ? "└─" : "├─"));
    const std::string child_prefix = is_root ? std::string() : prefix + (last ? "  " : "│ ");
    const auto& kids = children[mount->old_id];
    for (std::size_t i = 0; i < kids.size(); ++i) {
      self(self, kids[i], child_prefix, i + 1 == kids.size(), false);
    }
  };
  for (const Mount* root : roots) visit(visit, root, "", true, true);
  return order;
}

// Display width: the tree characters are one column each but three bytes.
std::size_t Width(const std::string& text) {
  std::size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80 ? 1 : 0;
  return width;
}

}  // namespace

std::string TerminalSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto escape = [&out](unsigned char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  };
  for (std::size_t i = 0; i < text.size();) {
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

Result<std::vector<const Column*>> ParseColumns(const std::string& list) {
  std::vector<const Column*> columns;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(start, end - start);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    const auto found = std::find_if(std::begin(kColumns), std::end(kColumns),
                                    [&name](const Column& c) { return c.name == name; });
    if (found == std::end(kColumns)) return MakeError(EINVAL, "ls -o", QuotePath(name) + " is not a column");
    columns.push_back(&*found);
    start = end + 1;
  }
  return columns;
}

void RenderRows(std::span<const Mount> mounts, std::span<const Column* const> columns,
                std::vector<std::string>& cells) {
  cells.reserve(cells.size() + mounts.size() * columns.size());
  for (const Mount& mount : mounts) {
    for (const Column* column : columns) cells.push_back(column->render(mount));
  }
}

void PrintCells(std::span<const Column* const> columns, std::span<const std::vector<std::string>> blocks) {
  std::vector<std::size_t> widths;
  for (const Column* column : columns) widths.push_back(Width(column->name));
  for (const auto& cells : blocks) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      std::size_t& width = widths[i % columns.size()];
      width = std::max(width, Width(cells[i]));
    }
  }
  // One buffer written out in 64 KiB pieces: a formatted print per line of a
  // 30,000-line table costs more than building it.
  fmt::memory_buffer out;
  auto cell = [&](std::size_t c, const std::string& text) {
    out.append(text);
    if (c + 1 < columns.size()) {
      const std::size_t pad = widths[c] - Width(text) + 1;
      for (std::size_t i = 0; i < pad; ++i) out.push_back(' ');
    } else {
      out.push_back('\n');
      if (out.size() >= 64 * 1024) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        out.clear();
      }
    }
  };
  for (std::size_t c = 0; c < columns.size(); ++c) cell(c, columns[c]->name);
  for (const auto& cells : blocks) {
    for (std::size_t i = 0; i < cells.size(); ++i) cell(i % columns.size(), cells[i]);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void PrintTable(std::span<const Mount> mounts, std::span<const Column* const> columns, bool tree) {
  std::vector<std::string> cells;
  if (!tree) {
    RenderRows(mounts, columns, cells);
  } else {
    cells.reserve(mounts.size() * columns.size());
    for (const auto& [mount, prefix] : TreeOrder(mounts)) {
      for (const Column* column : columns) {
        std::string text = column->render(*mount);
        cells.push_back(column->name == "TARGET" ? prefix + text : std::move(text));
      }
    }
  }
  PrintCells(columns, std::span(&cells, 1));
}

}  // namespace mntns::cli
