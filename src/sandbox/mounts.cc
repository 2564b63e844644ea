// Sandbox mount setup: detached mounts made in the caller's namespace, then
// attached inside the sandbox's namespace, every DEST resolved inside its root.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "sandbox/internal.h"
#include "sys/namespaces.h"
#include "sys/openat2.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns::internal {
namespace {

using Kind = SandboxMount::Kind;

// RESOLVE_IN_ROOT makes "..", absolute symlinks and the starting point all
// mean the sandbox root, so a hostile root filesystem (etc -> /etc,
// a -> ../../..) cannot lead a mount outside it; magic links (/proc/self/root,
// /proc/PID/cwd) would jump anywhere and are refused (ELOOP).
constexpr std::uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

struct SandboxDevice {
  const char* name;
};
constexpr SandboxDevice kDevices[] = {{"null"}, {"zero"}, {"full"}, {"random"}, {"urandom"}, {"tty"}};

Result<void> SetTreeAttributes(int tree, std::uint64_t attr_set) {
  // A clone keeps the source's propagation: a clone of a shared host mount
  // would stay in the host's peer group and mounts would propagate both ways.
  struct mount_attr attr {};
  attr.attr_set = attr_set;
  attr.propagation = MS_PRIVATE;
  return sys::MountSetattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, attr);
}

Result<UniqueFd> CloneTree(const std::string& source, std::uint64_t attr_set) {
  auto tree = sys::OpenTree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (!tree) return tree;
  if (auto r = SetTreeAttributes(tree->Get(), attr_set); !r) return std::unexpected(r.error());
  return tree;
}

// A fresh filesystem as a detached mount: fsopen, the options in order, create, fsmount.
Result<UniqueFd> FreshMount(const char* fs_type, const char* source,
                            const std::vector<std::pair<std::string, std::string>>& options,
                            unsigned attr_flags) {
  auto fs = sys::FsOpen(fs_type, 0);
  if (!fs) return std::unexpected(fs.error());
  if (auto r = sys::FsConfigString(fs->Get(), "source", source); !r) return std::unexpected(r.error());
  for (const auto& [key, value] : options) {
    auto r = value.empty() ? sys::FsConfigFlag(fs->Get(), key.c_str())
                           : sys::FsConfigString(fs->Get(), key.c_str(), value.c_str());
    if (!r) return std::unexpected(r.error());
  }
  if (auto r = sys::FsConfigCreate(fs->Get()); !r) return std::unexpected(r.error());
  return sys::FsMount(fs->Get(), 0, attr_flags);
}

Result<UniqueFd> FreshTmpfs(std::optional<mode_t> perms, std::uint64_t size, unsigned attr_flags,
                            mode_t default_mode = 0755) {
  std::vector<std::pair<std::string, std::string>> options = {
      {"mode", fmt::format("{:o}", perms.value_or(default_mode))}};
  if (size != 0) options.emplace_back("size", std::to_string(size));
  return FreshMount("tmpfs", "tmpfs", options, attr_flags);
}

Result<PreparedMount> PrepareOne(const SandboxMount& mount) {
  PreparedMount prepared;
  switch (mount.kind) {
    case Kind::kBind: {
      std::uint64_t attr = MOUNT_ATTR_NOSUID;
      if (!mount.allow_devices) attr |= MOUNT_ATTR_NODEV;
      if (mount.read_only) attr |= MOUNT_ATTR_RDONLY;
      auto tree = CloneTree(mount.source, attr);
      if (!tree) {
        if (mount.optional && tree.error().code == ENOENT) return prepared;
        return std::unexpected(tree.error());
      }
      auto is_directory = sys::IsDirectory(tree->Get());
      if (!is_directory) return std::unexpected(is_directory.error());
      prepared.source_is_directory = *is_directory;
      prepared.tree = std::move(*tree);
      return prepared;
    }
    case Kind::kTmpfs: {
      auto tree = FreshTmpfs(mount.perms, mount.size, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
      if (!tree) return std::unexpected(tree.error());
      prepared.tree = std::move(*tree);
      return prepared;
    }
    case Kind::kProc: {
      // proc's context takes the pid namespace of the process calling fsopen,
      // which is why the sandbox's pid 1 prepares it. Inside a user namespace
      // fsmount refuses a proc that no fully visible proc in the current mount
      // namespace covers ("too revealing"): here, in the caller's namespace,
      // the host /proc does.
      auto tree = FreshMount("proc", "proc", {}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
      if (!tree) return std::unexpected(tree.error());
      prepared.tree = std::move(*tree);
      return prepared;
    }
    case Kind::kDev: {
      // nodev as bwrap: the device nodes are separate binds on top of it, and
      // CMD must not make usable ones of its own in it.
      auto dev = FreshTmpfs(std::nullopt, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
      if (!dev) return std::unexpected(dev.error());
      prepared.tree = std::move(*dev);
      // Every devpts mount is a new instance since 4.7: its ptys are the sandbox's own.
      auto devpts = FreshMount("devpts", "devpts", {{"ptmxmode", "0666"}, {"mode", "620"}},
                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
      if (!devpts) return std::unexpected(devpts.error());
      prepared.devpts = std::move(*devpts);
      auto shm = FreshTmpfs(std::nullopt, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 01777);
      if (!shm) return std::unexpected(shm.error());
      prepared.shm = std::move(*shm);
      for (const SandboxDevice& device : kDevices) {
        auto node = CloneTree(fmt::format("/dev/{}", device.name), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (!node) {
          // A host without a controlling-tty device node (some containers) still gets the rest.
          if (node.error().code == ENOENT) continue;
          return std::unexpected(node.error());
        }
        prepared.devices.emplace_back(device.name, std::move(*node));
      }
      return prepared;
    }
    case Kind::kOverlay: {
      std::vector<std::pair<std::string, std::string>> options;
      // lowerdir+ (6.8) takes one layer per call, so paths need no escaping of
      // ':' or ','; the first one given is the topmost.
      for (auto layer = mount.layers.rbegin(); layer != mount.layers.rend(); ++layer) {
        options.emplace_back("lowerdir+", *layer);
      }
      unsigned attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      if (mount.overlay_upper == SandboxMount::OverlayUpper::kDirectory) {
        options.emplace_back("upperdir", mount.source);
        options.emplace_back("workdir", mount.workdir);
      } else if (mount.overlay_upper == SandboxMount::OverlayUpper::kNone) {
        attr |= MOUNT_ATTR_RDONLY;
      }
      UniqueFd scratch;  // --tmp-overlay: upper and work on a detached tmpfs, gone with the sandbox
      if (mount.overlay_upper == SandboxMount::OverlayUpper::kTmpfs) {
        auto tmpfs = FreshTmpfs(std::nullopt, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (!tmpfs) return std::unexpected(tmpfs.error());
        scratch = std::move(*tmpfs);
        for (const char* name : {"upper", "work"}) {
          if (::mkdirat(scratch.Get(), name, 0755) != 0) {
            const int err = errno;
            return MakeError(err, "mkdir", fmt::format("\"{}\" on the --tmp-overlay tmpfs", name));
          }
        }
        // overlayfs takes layers by path; the detached tmpfs has one only through its fd.
        options.emplace_back("upperdir", fmt::format("/proc/self/fd/{}/upper", scratch.Get()));
        options.emplace_back("workdir", fmt::format("/proc/self/fd/{}/work", scratch.Get()));
      }
      auto tree = FreshMount("overlay", "overlay", options, attr);
      if (!tree) return std::unexpected(tree.error());
      prepared.tree = std::move(*tree);
      return prepared;
    }
    case Kind::kDir:
    case Kind::kSymlink:
    case Kind::kRemountRo:
      return prepared;
  }
  return prepared;
}

// ---- inside the sandbox ----------------------------------------------------

std::string Relative(const std::string& path) {
  const auto start = path.find_first_not_of('/');
  return start == std::string::npos ? std::string(".") : path.substr(start);
}

Result<UniqueFd> Resolve(int root, const std::string& path, int flags = O_PATH) {
  auto resolved = sys::Openat2(root, Relative(path).c_str(), flags, kInRoot);
  if (!resolved) resolved.error().argument = QuotePath(path) + " inside the sandbox";
  return resolved;
}

// mkdir -p inside the root. Each missing component is made with mkdirat()
// relative to its already resolved parent (one name, no lookup that could
// follow a link), then resolved again from the root.
Result<UniqueFd> MakeDirectories(int root, const std::string& path, mode_t mode = 0755) {
  auto whole = Resolve(root, path, O_PATH | O_DIRECTORY);
  if (whole || whole.error().code != ENOENT) return whole;
  const std::string relative = Relative(path);
  auto parent = sys::Openat2(root, ".", O_PATH | O_DIRECTORY, kInRoot);
  if (!parent) return parent;
  std::size_t start = 0;
  while (start < relative.size()) {
    std::size_t end = relative.find('/', start);
    if (end == std::string::npos) end = relative.size();
    const std::string name = relative.substr(start, end - start);
    const std::string prefix = relative.substr(0, end);
    start = end + 1;
    if (name.empty() || name == ".") continue;
    auto next = sys::Openat2(root, prefix.c_str(), O_PATH | O_DIRECTORY, kInRoot);
    if (!next && next.error().code == ENOENT) {
      if (::mkdirat(parent->Get(), name.c_str(), mode) != 0 && errno != EEXIST) {
        const int err = errno;
        return MakeError(err, "mkdir", QuotePath("/" + prefix) + " inside the sandbox");
      }
      next = sys::Openat2(root, prefix.c_str(), O_PATH | O_DIRECTORY, kInRoot);
    }
    if (!next) {
      next.error().argument = QuotePath("/" + prefix) + " inside the sandbox";
      return next;
    }
    parent = std::move(next);
  }
  return parent;
}

std::pair<std::string, std::string> SplitParent(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const auto slash = trimmed.rfind('/');
  return {trimmed.substr(0, slash + 1), trimmed.substr(slash + 1)};
}

// The mount point for a tree: a directory, or for a non-directory source a
// file (created empty, mode 0444, as bwrap does). A type mismatch is an error,
// never silently "fixed".
Result<UniqueFd> MakeMountPoint(int root, const std::string& dest, bool directory) {
  if (directory) return MakeDirectories(root, dest);
  auto existing = Resolve(root, dest);
  if (!existing && existing.error().code == ENOENT) {
    const auto [parent_path, name] = SplitParent(dest);
    auto parent = MakeDirectories(root, parent_path);
    if (!parent) return parent;
    const int fd = ::openat(parent->Get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (fd < 0 && errno != EEXIST) {
      const int err = errno;
      return MakeError(err, "create", QuotePath(dest) + " inside the sandbox");
    }
    UniqueFd created(fd);
    existing = Resolve(root, dest);
  }
  if (!existing) {
    existing.error().argument = QuotePath(dest) + " inside the sandbox";
    return existing;
  }
  auto is_directory = sys::IsDirectory(existing->Get());
  if (!is_directory) return std::unexpected(is_directory.error());
  if (*is_directory) {
    return MakeError(EISDIR, "mount point", QuotePath(dest) + " inside the sandbox is a directory, SRC is not");
  }
  return existing;
}

Result<void> Attach(int tree, int target, const std::string& dest) {
  auto r = sys::MoveMount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
  if (!r) r.error().argument = QuotePath(dest) + " inside the sandbox";
  return r;
}

Result<void> Symlink(int root, const std::string& target, const std::string& dest) {
  const auto [parent_path, name] = SplitParent(dest);
  auto parent = MakeDirectories(root, parent_path);
  if (!parent) return std::unexpected(parent.error());
  if (::symlinkat(target.c_str(), parent->Get(), name.c_str()) != 0) {
    const int err = errno;
    // As bwrap: an existing link with the same target is fine.
    if (err == EEXIST) {
      char existing[4096];
      const ssize_t n = ::readlinkat(parent->Get(), name.c_str(), existing, sizeof existing);
      if (n >= 0 && std::string(existing, static_cast<std::size_t>(n)) == target) return kOk;
    }
    return MakeError(err, "symlink", fmt::format("{} -> {} inside the sandbox", QuotePath(dest), QuotePath(target)));
  }
  return kOk;
}

Result<void> AttachDev(int root, const std::string& dest, PreparedMount& prepared) {
  auto dir = MakeDirectories(root, dest);
  if (!dir) return std::unexpected(dir.error());
  if (auto r = Attach(prepared.tree.Get(), dir->Get(), dest); !r) return r;
  const std::string base = dest.back() == '/' ? dest : dest + "/";
  for (auto& [name, node] : prepared.devices) {
    auto point = MakeMountPoint(root, base + name, false);
    if (!point) return std::unexpected(point.error());
    if (auto r = Attach(node.Get(), point->Get(), base + name); !r) return r;
  }
  for (const auto& [name, target] : std::initializer_list<std::pair<const char*, const char*>>{
           {"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
           {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"}}) {
    if (auto r = Symlink(root, target, base + name); !r) return r;
  }
  auto pts = MakeDirectories(root, base + "pts");
  if (!pts) return std::unexpected(pts.error());
  if (auto r = Attach(prepared.devpts.Get(), pts->Get(), base + "pts"); !r) return r;
  auto shm = MakeDirectories(root, base + "shm");
  if (!shm) return std::unexpected(shm.error());
  return Attach(prepared.shm.Get(), shm->Get(), base + "shm");
}

Result<void> AttachOne(int root, const SandboxMount& mount, PreparedMount& prepared) {
  switch (mount.kind) {
    case Kind::kBind:
    case Kind::kTmpfs:
    case Kind::kProc:
    case Kind::kOverlay: {
      if (!prepared.tree) return kOk;  // an optional bind whose source is missing
      auto point = MakeMountPoint(root, mount.dest, prepared.source_is_directory);
      if (!point) return std::unexpected(point.error());
      return Attach(prepared.tree.Get(), point->Get(), mount.dest);
    }
    case Kind::kDev:
      return AttachDev(root, mount.dest, prepared);
    case Kind::kDir: {
      auto dir = MakeDirectories(root, mount.dest, mount.perms.value_or(0755));
      if (!dir) return std::unexpected(dir.error());
      return kOk;
    }
    case Kind::kSymlink:
      return Symlink(root, mount.source, mount.dest);
    case Kind::kRemountRo: {
      auto target = Resolve(root, mount.dest);
      if (!target) return std::unexpected(target.error());
      // mount_setattr says only EINVAL for a path that is not the root of a mount.
      auto is_mount_root = sys::IsMountRoot(target->Get());
      if (!is_mount_root) return std::unexpected(is_mount_root.error());
      if (!*is_mount_root) return MakeError(EINVAL, DescribeSandboxMount(mount), "is not a mount point inside the sandbox");
      struct mount_attr attr {};
      attr.attr_set = MOUNT_ATTR_RDONLY;
      return sys::MountSetattr(target->Get(), "", AT_EMPTY_PATH | AT_RECURSIVE, attr);
    }
  }
  return kOk;
}

}  // namespace

Result<std::vector<PreparedMount>> PrepareMounts(const SandboxSpec& spec) {
  std::vector<PreparedMount> prepared;
  prepared.reserve(spec.mounts.size());
  for (const SandboxMount& mount : spec.mounts) {
    auto one = PrepareOne(mount);
    if (!one) return std::unexpected(ForStep(std::move(one.error()), mount));
    prepared.push_back(std::move(*one));
  }
  return prepared;
}

Result<void> AttachMounts(const SandboxSpec& spec, std::vector<PreparedMount>& prepared) {
  auto root = sys::Open(AT_FDCWD, "/", O_PATH | O_DIRECTORY);
  if (!root) return std::unexpected(root.error());
  for (std::size_t i = 0; i < spec.mounts.size(); ++i) {
    if (auto r = AttachOne(root->Get(), spec.mounts[i], prepared[i]); !r) {
      return std::unexpected(ForStep(std::move(r.error()), spec.mounts[i]));
    }
    prepared[i] = PreparedMount{};  // attached trees are closed as soon as they are in place
  }
  return kOk;
}

}  // namespace mntns::internal
