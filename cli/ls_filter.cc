#include "ls_filter.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include <fmt/format.h>

namespace mntns::cli {
namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Calls `each(item)` for the items of a comma-separated list, empty ones too.
template <typename Each>
void ForEachItem(std::string_view list, Each&& each) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = list.find(',', start);
    each(list.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return;
    start = end + 1;
  }
}

// util-linux 2.38 libmount/src/utils.c, sorted.
constexpr std::string_view kPseudoFilesystems[] = {
    "anon_inodefs", "apparmorfs", "autofs", "bdev", "binder", "binfmt_misc", "bpf", "cgroup", "cgroup2",
    "configfs", "cpuset", "debugfs", "devfs", "devpts", "devtmpfs", "dlmfs", "dmabuf", "drm", "efivarfs",
    "fuse", "fuse.archivemount", "fuse.avfsd", "fuse.dumpfs", "fuse.encfs", "fuse.gvfs-fuse-daemon",
    "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.rofiles-fuse", "fuse.vmware-vmblock", "fuse.xwmfs", "fusectl",
    "hugetlbfs", "ipathfs", "mqueue", "nfsd", "none", "nsfs", "overlay", "pipefs", "proc", "pstore", "ramfs",
    "resctrl", "rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "smackfs", "sockfs", "spufs", "sysfs",
    "tmpfs", "tracefs", "vboxsf", "virtiofs"};

// Whether `dev` is "MAJ:MIN" of the mount.
bool MatchesDevice(const Mount& mount, std::string_view dev) {
  return dev == fmt::format("{}:{}", mount.sb_dev_major, mount.sb_dev_minor);
}

}  // namespace

FieldMask MountFilter::Mask() const {
  FieldMask mask = 0;
  if (!types.empty() || real || pseudo) mask |= field::kFsType | field::kFsSubtype;
  if (!options.empty()) mask |= field::kMntBasic | field::kSbBasic | field::kMntOpts;
  if (!source.empty()) mask |= field::kSbSource | field::kSbBasic;
  if (!mountpoint.empty() || nonzero_size) mask |= field::kMntPoint;
  if (shadowed) mask |= field::kMntBasic | field::kMntPoint;
  return mask;
}

bool MountFilter::Active() const {
  return !types.empty() || !options.empty() || !source.empty() || !mountpoint.empty() || real || pseudo ||
         nonzero_size;
}

bool MountFilter::Matches(const Mount& mount, const Usage* usage) const {
  if (!types.empty() && !MatchesTypes(FsTypeText(mount), types)) return false;
  if ((real || pseudo) && IsPseudoFilesystem(FsTypeText(mount)) != pseudo) return false;
  if (!options.empty() && !MatchesOptions(AllOptions(mount), options)) return false;
  if (!source.empty() && mount.sb_source != source && !MatchesDevice(mount, source)) return false;
  if (!mountpoint.empty() && (!mount.Has(field::kMntPoint) || NormalPath(mount.point) != mountpoint)) return false;
  if (nonzero_size && usage != nullptr && (!usage->known || usage->size == 0)) return false;
  return true;
}

bool MatchesTypes(std::string_view type, std::string_view pattern) {
  bool negated = false;
  if (pattern.starts_with("no")) {
    negated = true;
    pattern.remove_prefix(2);
  }
  std::optional<bool> verdict;
  ForEachItem(pattern, [&](std::string_view item) {
    if (verdict) return;
    if (item.starts_with("no") && EqualsIgnoringCase(item.substr(2), type)) {
      verdict = false;
    } else if (EqualsIgnoringCase(item, type)) {
      verdict = !negated;
    }
  });
  return verdict.value_or(negated);
}

bool MatchesOptions(std::string_view options, std::string_view pattern) {
  // The options as name -> value ("" for a bare flag).
  std::map<std::string, std::string, std::less<>> present;
  ForEachItem(options, [&present](std::string_view item) {
    if (item.empty()) return;
    const std::size_t equals = item.find('=');
    present.emplace(std::string(item.substr(0, equals)),
                    equals == std::string_view::npos ? std::string() : std::string(item.substr(equals + 1)));
  });
  bool match = true;
  ForEachItem(pattern, [&](std::string_view item) {
    if (!match || item.empty()) return;
    bool absent_wanted = false;
    if (item.starts_with('+')) {
      item.remove_prefix(1);
    } else if (item.starts_with("no")) {
      absent_wanted = true;
      item.remove_prefix(2);
    }
    const std::size_t equals = item.find('=');
    const std::string_view name = item.substr(0, equals);
    const auto found = present.find(name);
    bool there = found != present.end();
    if (there && equals != std::string_view::npos) there = found->second == item.substr(equals + 1);
    if (there == absent_wanted) match = false;
  });
  return match;
}

bool IsPseudoFilesystem(std::string_view type) {
  return std::binary_search(std::begin(kPseudoFilesystems), std::end(kPseudoFilesystems), type);
}

std::string NormalPath(std::string_view path) {
  std::string out;
  const bool absolute = path.starts_with('/');
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (!part.empty() && part != ".") {
      if (!out.empty() || absolute) out += '/';
      out += part;
    }
    start = end + 1;
  }
  if (out.empty()) return absolute ? "/" : ".";
  return out;
}

std::optional<std::size_t> MountOfPath(std::span<const Mount> mounts, const std::string& path) {
  std::string candidate = NormalPath(path);
  for (;;) {
    for (std::size_t i = mounts.size(); i-- > 0;) {
      if (mounts[i].Has(field::kMntPoint) && mounts[i].point == candidate) return i;
    }
    if (candidate == "/" || candidate.empty()) return std::nullopt;
    const std::size_t slash = candidate.rfind('/');
    candidate = slash == 0 || slash == std::string::npos ? "/" : candidate.substr(0, slash);
  }
}

std::vector<bool> CoveredMounts(std::span<const Mount> mounts) {
  // A mount on top of another on the same path is its child there.
  std::map<std::uint32_t, std::size_t> by_id;
  for (std::size_t i = 0; i < mounts.size(); ++i) by_id[mounts[i].old_id] = i;
  std::vector<bool> covered(mounts.size(), false);
  for (const Mount& mount : mounts) {
    if (mount.old_parent_id == mount.old_id) continue;
    const auto parent = by_id.find(mount.old_parent_id);
    if (parent == by_id.end()) continue;
    if (mounts[parent->second].point == mount.point) covered[parent->second] = true;
  }
  return covered;
}

std::vector<std::size_t> WithSubmounts(std::span<const Mount> mounts, const std::vector<bool>& keep) {
  std::map<std::uint32_t, std::vector<std::size_t>> children;
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    if (mounts[i].old_parent_id != mounts[i].old_id) children[mounts[i].old_parent_id].push_back(i);
  }
  // Not the table's order, which differs once the kernel has handed a freed
  // id to a later mount.
  for (auto& [parent, kids] : children) {
    std::stable_sort(kids.begin(), kids.end(),
                     [&](std::size_t a, std::size_t b) { return mounts[a].old_id < mounts[b].old_id; });
  }
  std::vector<bool> listed(mounts.size(), false);
  std::vector<std::size_t> order;
  // An explicit stack: a chain of 100,000 nested mounts would overflow a
  // recursive walk's.
  std::vector<std::size_t> pending;
  for (std::size_t start = 0; start < keep.size(); ++start) {
    if (!keep[start] || listed[start]) continue;
    pending.push_back(start);
    while (!pending.empty()) {
      const std::size_t next = pending.back();
      pending.pop_back();
      if (listed[next]) continue;
      listed[next] = true;
      order.push_back(next);
      const auto found = children.find(mounts[next].old_id);
      if (found == children.end()) continue;
      for (std::size_t k = found->second.size(); k-- > 0;) {
        if (!listed[found->second[k]]) pending.push_back(found->second[k]);
      }
    }
  }
  return order;
}

}  // namespace mntns::cli
