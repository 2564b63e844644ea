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
#include "sys/files.h"
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

// With --file-label (spec.file_label), the SELinux context every file of
// the new filesystem gets: the `context` option (bwrap's label_mount).
std::vector<std::pair<std::string, std::string>> LabelOptions(const SandboxSpec& spec) {
  if (spec.file_label.empty()) return {};
  return {{"context", spec.file_label}};
}

Result<UniqueFd> FreshTmpfs(const SandboxSpec& spec, std::optional<mode_t> perms, std::uint64_t size,
                            unsigned attr_flags, mode_t default_mode = 0755) {
  std::vector<std::pair<std::string, std::string>> options = LabelOptions(spec);
  options.emplace_back("mode", fmt::format("{:o}", perms.value_or(default_mode)));
  if (size != 0) options.emplace_back("size", std::to_string(size));
  return FreshMount("tmpfs", "tmpfs", options, attr_flags);
}

// overlayfs reads upperdir and workdir with its option unescaping, also
// through fsconfig: a backslash takes the next character literally (a path
// ending in '\\' would lose it, "a\\b" would be "ab"). bwrap's rule, a
// backslash before each ',' ':' '\\', makes every path read as itself.
// lowerdir+ (and datadir+) take the path as it is, with no unescaping.
std::string EscapeOverlayPath(const std::string& path) {
  std::string escaped;
  for (char c : path) {
    if (c == ',' || c == ':' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

Result<void> WriteData(int fd, const std::string& data) {
  return sys::WriteAll(fd, data, fmt::format("{} bytes of data", data.size()));
}

Result<PreparedMount> PrepareOne(const SandboxSpec& spec, const SandboxMount& mount) {
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
      auto tree = FreshTmpfs(spec, mount.perms, mount.size, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
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
      constexpr unsigned kProcAttr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
      auto tree = FreshMount("proc", "proc", {}, kProcAttr);
      // A user namespace that does not own the caller's pid namespace may not
      // make a proc of it (EPERM). Sharing that pid namespace, the sandbox
      // sees the same processes through a bind of the host's /proc, which
      // is what bwrap falls back to as well.
      if (!tree && tree.error().code == EPERM && !spec.unshare_pid) tree = CloneTree("/proc", kProcAttr);
      if (!tree) return std::unexpected(tree.error());
      prepared.tree = std::move(*tree);
      return prepared;
    }
    case Kind::kDev: {
      // nodev as bwrap: the device nodes are separate binds on top of it, and
      // CMD must not make usable ones of its own in it.
      auto dev = FreshTmpfs(spec, std::nullopt, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
      if (!dev) return std::unexpected(dev.error());
      prepared.tree = std::move(*dev);
      // Every devpts mount is a new instance since 4.7: its ptys are the sandbox's own.
      auto devpts = FreshMount("devpts", "devpts", {{"ptmxmode", "0666"}, {"mode", "620"}},
                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
      if (!devpts) return std::unexpected(devpts.error());
      prepared.devpts = std::move(*devpts);
      auto shm = FreshTmpfs(spec, std::nullopt, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 01777);
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
      // lowerdir+ (6.8) takes one layer per call, its path as it is (no
      // escaping of ':' ',' '\\'); the first one given is the topmost.
      for (auto layer = mount.layers.rbegin(); layer != mount.layers.rend(); ++layer) {
        options.emplace_back("lowerdir+", *layer);
      }
      unsigned attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      if (mount.overlay_upper == SandboxMount::OverlayUpper::kDirectory) {
        options.emplace_back("upperdir", EscapeOverlayPath(mount.source));
        options.emplace_back("workdir", EscapeOverlayPath(mount.workdir));
      } else if (mount.overlay_upper == SandboxMount::OverlayUpper::kNone) {
        attr |= MOUNT_ATTR_RDONLY;
      }
      UniqueFd scratch;  // --tmp-overlay: upper and work on a detached tmpfs, gone with the sandbox
      if (mount.overlay_upper == SandboxMount::OverlayUpper::kTmpfs) {
        auto tmpfs = FreshTmpfs(spec, std::nullopt, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (!tmpfs) return std::unexpected(tmpfs.error());
        scratch = std::move(*tmpfs);
        for (const char* name : {"upper", "work"}) {
          if (auto r = sys::MakeDirectory(scratch.Get(), name, 0755); !r) {
            r.error().argument = fmt::format("\"{}\" on the --tmp-overlay tmpfs", name);
            return std::unexpected(r.error());
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
    case Kind::kMqueue: {
      // Of the IPC namespace of the process calling fsopen: the sandbox's
      // (RunInit unshares it before preparing).
      auto tree = FreshMount("mqueue", "mqueue", LabelOptions(spec), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
      if (!tree) return std::unexpected(tree.error());
      prepared.tree = std::move(*tree);
      return prepared;
    }
    case Kind::kBindFd: {
      // The fd is the caller's; CMD must not inherit it (bwrap closes it too).
      UniqueFd source(mount.fd);
      auto tree = sys::OpenTree(source.Get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
      if (!tree) return std::unexpected(tree.error());
      std::uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      if (mount.read_only) attr |= MOUNT_ATTR_RDONLY;
      if (auto r = SetTreeAttributes(tree->Get(), attr); !r) return std::unexpected(r.error());
      auto is_directory = sys::IsDirectory(tree->Get());
      if (!is_directory) return std::unexpected(is_directory.error());
      prepared.source_is_directory = *is_directory;
      prepared.tree = std::move(*tree);
      return prepared;
    }
    case Kind::kBindData: {
      // The file lives on a tmpfs of its own that is never attached: only the
      // bind of the one file is, and it keeps that tmpfs alive.
      auto scratch = FreshTmpfs(spec, 0700, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
      if (!scratch) return std::unexpected(scratch.error());
      const mode_t mode = mount.perms.value_or(0600);
      auto file = sys::CreateFile(scratch->Get(), "data", O_EXCL | O_WRONLY, mode);
      if (!file) {
        file.error().argument = "the file for the data on a detached tmpfs";
        return std::unexpected(file.error());
      }
      if (auto r = WriteData(file->Get(), mount.data); !r) return std::unexpected(r.error());
      if (auto r = sys::Chmod(file->Get(), mode); !r) {
        r.error().argument = fmt::format("{:#o} on the file for the data", mode);
        return std::unexpected(r.error());
      }
      std::uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      if (mount.read_only) attr |= MOUNT_ATTR_RDONLY;
      auto tree = sys::OpenTree(scratch->Get(), "data", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (!tree) return std::unexpected(tree.error());
      if (auto r = SetTreeAttributes(tree->Get(), attr); !r) return std::unexpected(r.error());
      prepared.source_is_directory = false;
      prepared.tree = std::move(*tree);
      return prepared;
    }
    case Kind::kDir:
    case Kind::kSymlink:
    case Kind::kRemountRo:
    case Kind::kChmod:
    case Kind::kFile:
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
      if (auto r = sys::MakeDirectory(parent->Get(), name.c_str(), mode); !r && r.error().code != EEXIST) {
        r.error().argument = QuotePath("/" + prefix) + " inside the sandbox";
        return std::unexpected(r.error());
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
    auto created = sys::CreateFile(parent->Get(), name.c_str(), O_EXCL | O_WRONLY | O_NOFOLLOW, 0444);
    if (!created && created.error().code != EEXIST) {
      created.error().argument = QuotePath(dest) + " inside the sandbox";
      return std::unexpected(created.error());
    }
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
  if (auto linked = sys::Symlink(target.c_str(), parent->Get(), name.c_str()); !linked) {
    const int err = linked.error().code;
    // As bwrap: an existing link with the same target is fine; another
    // target, or not a link, is an error that says what is there.
    if (err == EEXIST) {
      auto existing = sys::ReadLink(parent->Get(), name.c_str());
      if (!existing && existing.error().code == EINVAL) {
        return MakeError(EEXIST, "symlink", fmt::format("{} inside the sandbox: the destination exists and is not a symlink",
                                                        QuotePath(dest)));
      }
      if (!existing) {
        existing.error().argument = QuotePath(dest) + " inside the sandbox (the existing destination)";
        return std::unexpected(existing.error());
      }
      const std::string& text = *existing;
      if (text == target) return kOk;
      return MakeError(EEXIST, "symlink",
                       fmt::format("{} inside the sandbox: the existing destination is {}", QuotePath(dest),
                                   QuotePath(text)));
    }
    return MakeError(err, "symlink", fmt::format("{} -> {} inside the sandbox", QuotePath(dest), QuotePath(target)));
  }
  return kOk;
}

// chmod of DEST itself (symlinks followed inside the root, as chmod(2) would),
// through its O_PATH fd: fchmodat2(AT_EMPTY_PATH) on 6.6+, else by reopening it.
Result<void> Chmod(int root, const std::string& dest, mode_t mode) {
  auto target = Resolve(root, dest);
  if (!target) return std::unexpected(target.error());
  auto changed = sys::ChmodFd(target->Get(), mode);
  if (changed) return kOk;
  int err = changed.error().code;
  if (err == ENOSYS) {
    auto reopened = sys::Open(target->Get(), ".", O_RDONLY);
    auto chmodded = reopened ? sys::Chmod(reopened->Get(), mode) : Result<void>(std::unexpected(reopened.error()));
    if (chmodded) return kOk;
    err = chmodded.error().code;
  }
  return MakeError(err, "chmod", fmt::format("{:#o} {} inside the sandbox", mode, QuotePath(dest)));
}

// A regular file at DEST with `data`, mode exactly `mode` (the umask does not apply).
Result<void> CreateFile(int root, const std::string& dest, mode_t mode, const std::string& data) {
  const auto [parent_path, name] = SplitParent(dest);
  auto parent = MakeDirectories(root, parent_path);
  if (!parent) return std::unexpected(parent.error());
  // O_NONBLOCK: a FIFO already at DEST (a hostile --root) would block the
  // open until some process opened it for reading, forever; without a
  // reader it fails with ENXIO instead. Anything not a regular file is refused.
  auto file = sys::CreateFile(parent->Get(), name.c_str(), O_TRUNC | O_WRONLY | O_NOFOLLOW | O_NONBLOCK, mode);
  if (!file) {
    file.error().argument = QuotePath(dest) + " inside the sandbox";
    return std::unexpected(file.error());
  }
  auto status = sys::Fstat(file->Get());
  if (!status) {
    status.error().argument = QuotePath(dest) + " inside the sandbox";
    return std::unexpected(status.error());
  }
  if (!S_ISREG(status->st_mode)) {
    return MakeError(EEXIST, "create", QuotePath(dest) + " inside the sandbox exists and is not a regular file");
  }
  if (auto r = WriteData(file->Get(), data); !r) {
    r.error().argument += " to " + QuotePath(dest) + " inside the sandbox";
    return r;
  }
  if (auto r = sys::Chmod(file->Get(), mode); !r) {
    r.error().argument = fmt::format("{:#o} {} inside the sandbox", mode, QuotePath(dest));
    return r;
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
    case Kind::kOverlay:
    case Kind::kMqueue:
    case Kind::kBindFd:
    case Kind::kBindData: {
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
    case Kind::kChmod:
      return Chmod(root, mount.dest, *mount.perms);
    case Kind::kFile:
      return CreateFile(root, mount.dest, mount.perms.value_or(0666), mount.data);
    case Kind::kRemountRo: {
      auto target = Resolve(root, mount.dest);
      if (!target) return std::unexpected(target.error());
      // mount_setattr says only EINVAL for a path that is not the root of a mount.
      auto is_mount_root = sys::IsMountRoot(target->Get());
      if (!is_mount_root) return std::unexpected(is_mount_root.error());
      if (!*is_mount_root) return MakeError(EINVAL, DescribeSandboxMount(mount), "is not a mount point inside the sandbox");
      // As bwrap (bind-mount.c, without BIND_RECURSIVE): the mount at DEST
      // alone, which also loses suid and devices; the mounts below it keep
      // their flags (a writable --bind under a --remount-ro DEST stays writable).
      struct mount_attr attr {};
      attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      return sys::MountSetattr(target->Get(), "", AT_EMPTY_PATH, attr);
    }
  }
  return kOk;
}

}  // namespace

Result<std::vector<PreparedMount>> PrepareMounts(const SandboxSpec& spec) {
  std::vector<PreparedMount> prepared;
  prepared.reserve(spec.mounts.size());
  for (const SandboxMount& mount : spec.mounts) {
    auto one = PrepareOne(spec, mount);
    if (!one) return std::unexpected(ForStep(std::move(one.error()), mount));
    prepared.push_back(std::move(*one));
  }
  return prepared;
}

Result<void> AttachMounts(const SandboxSpec& spec, std::vector<PreparedMount>& prepared) {
  auto root = sys::Open(AT_FDCWD, "/", O_PATH | O_DIRECTORY);
  if (!root) return std::unexpected(root.error());
  bool root_covered = false;
  for (std::size_t i = 0; i < spec.mounts.size(); ++i) {
    // A mount on DEST "/" (`--bind / /`) covers the root. A walk that starts
    // at the old root's dentry never steps into a mount stacked on that
    // dentry itself, so later steps resolve from the new mount: its fd,
    // which stays the attached mount's root after move_mount.
    UniqueFd new_root;
    if (prepared[i].tree && Relative(spec.mounts[i].dest) == ".") {
      auto copy = sys::DuplicateFd(prepared[i].tree.Get(), 0);
      if (!copy) {
        copy.error().argument = "the mount for the new root";
        return std::unexpected(ForStep(std::move(copy.error()), spec.mounts[i]));
      }
      new_root = std::move(*copy);
    }
    if (auto r = AttachOne(root->Get(), spec.mounts[i], prepared[i]); !r) {
      return std::unexpected(ForStep(std::move(r.error()), spec.mounts[i]));
    }
    if (new_root) {
      *root = std::move(new_root);
      root_covered = true;
    }
    prepared[i] = PreparedMount{};  // attached trees are closed as soon as they are in place
  }
  if (!root_covered) return kOk;
  // The process's root is still the covered one: move it (and the working
  // directory, which the caller sets next) onto the mount on top.
  auto moved = sys::Fchdir(root->Get());
  if (moved) moved = sys::Chroot(".");
  if (!moved) {
    moved.error().argument = "the mount on \"/\" inside the sandbox";
    return moved;
  }
  return kOk;
}

}  // namespace mntns::internal
