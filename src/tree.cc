#include "mntns/tree.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <utility>

#include <fmt/format.h>

#include "mntns/query.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns {

Result<UniqueFd> OpenTree(int dirfd, const std::string& path, unsigned flags) {
  return sys::OpenTree(dirfd, path.c_str(), flags | OPEN_TREE_CLOEXEC);
}

Result<void> Unmount(const std::string& path, int flags) { return sys::Umount(path.c_str(), flags); }

Result<void> MoveMount(int from_dirfd, const std::string& from_path, int to_dirfd, const std::string& to_path,
                       unsigned flags) {
  return sys::MoveMount(from_dirfd, from_path.c_str(), to_dirfd, to_path.c_str(), flags);
}

Result<void> MountSetattr(int dirfd, const std::string& path, unsigned flags, const MountAttributes& attributes) {
  struct mount_attr attr {};
  attr.attr_set = attributes.attr_set;
  attr.attr_clr = attributes.attr_clr;
  attr.propagation = attributes.propagation;
  // The kernel reads userns_fd only for MOUNT_ATTR_IDMAP, and then refuses
  // anything above INT_MAX: -1 must not reach it as 2^64-1.
  attr.userns_fd = attributes.userns_fd < 0 ? 0 : static_cast<std::uint64_t>(attributes.userns_fd);
  return sys::MountSetattr(dirfd, path.c_str(), flags, attr);
}

Result<UniqueFd> FsMount(int fs_fd, unsigned flags, unsigned attr_flags) {
  return sys::FsMount(fs_fd, flags, attr_flags);
}

FsContext::FsContext(UniqueFd fd, std::string fs_type) noexcept : fd_(std::move(fd)), fs_type_(std::move(fs_type)) {}

Result<FsContext> FsContext::Open(const std::string& fs_type) {
  auto fd = sys::FsOpen(fs_type.c_str(), 0);
  if (!fd) return std::unexpected(fd.error());
  return FsContext(std::move(*fd), fs_type);
}

namespace {

// fsconfig's Error names the parameter; which filesystem it was for is
// worth saying too, as mount(8) does ("tmpfs mode=zzz").
Result<void> NameFsType(Result<void> result, const std::string& fs_type) {
  if (!result) result.error().argument = fmt::format("{} {}", QuotePath(fs_type), result.error().argument);
  return result;
}

}  // namespace

Result<void> FsContext::SetFlag(const std::string& key) {
  return NameFsType(sys::FsConfigFlag(fd_.Get(), key.c_str()), fs_type_);
}

Result<void> FsContext::SetString(const std::string& key, const std::string& value) {
  return NameFsType(sys::FsConfigString(fd_.Get(), key.c_str(), value.c_str()), fs_type_);
}

Result<void> FsContext::SetFd(const std::string& key, int fd) {
  return NameFsType(sys::FsConfigFd(fd_.Get(), key.c_str(), fd), fs_type_);
}

Result<void> FsContext::Create() { return NameFsType(sys::FsConfigCreate(fd_.Get()), fs_type_); }

Result<UniqueFd> FsContext::Mount(unsigned flags, unsigned attr_flags) {
  auto mnt = sys::FsMount(fd_.Get(), flags, attr_flags);
  if (!mnt) mnt.error().argument = fmt::format("{} {}", QuotePath(fs_type_), mnt.error().argument);
  return mnt;
}

Result<std::uint64_t> MountNamespaceId(int ns_fd) { return sys::MountNamespaceId(ns_fd); }

Result<std::uint32_t> CountMountsInNamespace(int ns_fd) {
  auto info = sys::MountNamespaceInfo(ns_fd);
  if (!info) return std::unexpected(info.error());
  return info->nr_mounts;
}

Result<void> EnterMountNamespace(int ns_fd) { return sys::Setns(ns_fd, CLONE_NEWNS); }

Result<void> UnshareMountNamespace() { return sys::Unshare(CLONE_NEWNS); }

namespace {

constexpr const char* kPinOperation = "PinNamespace";

std::string ParentDirectory(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::unexpected<Error> AsPinError(Error error) {
  error.operation = kPinOperation;
  return std::unexpected(std::move(error));
}

}  // namespace

Result<void> PinNamespace(int ns_fd, const std::string& path) {
  const std::string directory = ParentDirectory(path);
  // The kernel refuses to propagate a namespace file (it could build loops),
  // so the bind fails on a shared mount; say why instead of a bare EINVAL.
  auto parent = StatmountByPath(directory, {.mask = field::kMntBasic | field::kMntPoint});
  if (!parent) {
    return MakeError(parent.error().code, kPinOperation,
                     fmt::format("{}: its directory {}", QuotePath(path), QuotePath(directory)));
  }
  if ((parent->propagation & MS_SHARED) != 0) {
    return MakeError(EINVAL, kPinOperation,
                     fmt::format("{}: the mount it is on ({}) is shared, and a namespace can only be pinned "
                                 "on a private mount (as for unshare --mount=FILE); e.g. "
                                 "`mount --bind DIR DIR && mount --make-private DIR` and pin inside DIR",
                                 QuotePath(path), QuotePath(parent->point)));
  }
  bool created = false;
  {
    // O_NONBLOCK: a FIFO in the file's place must not hang the open.
    auto existing = sys::Open(AT_FDCWD, path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (existing) {
      auto is_directory = sys::IsDirectory(existing->Get());
      if (is_directory && *is_directory) {
        return MakeError(EISDIR, kPinOperation,
                         QuotePath(path) + " is a directory; the namespace is bound onto a file "
                                           "(created if missing)");
      }
      // A second bind would stack on the first and hide it.
      if (sys::NamespaceType(existing->Get())) {
        return MakeError(EBUSY, kPinOperation,
                         QuotePath(path) + " already pins a namespace (release it with umount first)");
      }
    } else if (existing.error().code == ENOENT) {
      auto made = sys::Open(AT_FDCWD, path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
      if (!made) return AsPinError(made.error());
      created = true;
    } else {
      return AsPinError(existing.error());
    }
  }
  // open_tree of the nsfs fd's magic link clones the nsfs mount holding that
  // namespace's file; attached on `path`, it is the bind unshare(1) makes.
  const std::string source = fmt::format("/proc/self/fd/{}", ns_fd);
  auto tree = sys::OpenTree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  Result<void> bound = tree ? sys::MoveMount(tree->Get(), "", AT_FDCWD, path.c_str(), MOVE_MOUNT_F_EMPTY_PATH)
                            : Result<void>(std::unexpected(tree.error()));
  if (!bound) {
    if (created) ::unlink(path.c_str());
    Error error = bound.error();
    error.argument = fmt::format("{} onto {}", error.argument, QuotePath(path));
    return std::unexpected(error);
  }
  return kOk;
}

namespace {

// `make` with `options` (the requested strategy, not the resolved one, so
// that kAuto keeps its fallback where the kernel refuses the native flag
// after all), then pinned on `pin_path`, retried as below.
Result<PinnedNamespace> MakeAndPin(NamespaceOperation operation,
                                   const std::function<Result<UniqueFd>(const NamespaceOptions&)>& make,
                                   const std::string& pin_path, const NamespaceOptions& options) {
  NamespaceStrategy strategy = ResolveStrategy(operation, options.strategy);
  auto ns = make(options);
  if (!ns) return std::unexpected(ns.error());
  auto pinned = PinNamespace(ns->Get(), pin_path);
  // The kernel binds a namespace file only into a namespace with a smaller
  // sequence number (mnt_ns_loop); 6.18 draws them from per-CPU batches, so
  // a namespace made on another CPU than ours may get a smaller one, and a
  // CPU whose batch lags keeps giving smaller ones. Made on each allowed CPU
  // in turn (the classic strategy's helper thread inherits this thread's
  // affinity), one of them is newer than ours: the CPU ours was made on.
  cpu_set_t allowed;
  const bool known = ::sched_getaffinity(0, sizeof allowed, &allowed) == 0;
  for (int cpu = 0; known && !pinned && pinned.error().code == ELOOP && cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0) continue;
    ns = make({.strategy = NamespaceStrategy::kClassic});
    ::sched_setaffinity(0, sizeof allowed, &allowed);
    if (!ns) return std::unexpected(ns.error());
    strategy = NamespaceStrategy::kClassic;
    pinned = PinNamespace(ns->Get(), pin_path);
  }
  if (!pinned) return std::unexpected(pinned.error());
  return PinnedNamespace{std::move(*ns), strategy};
}

}  // namespace

Result<PinnedNamespace> OpenPinnedTreeNamespace(int dirfd, const std::string& path, unsigned flags,
                                                const std::string& pin_path, const NamespaceOptions& options) {
  return MakeAndPin(
      NamespaceOperation::kOpenTreeNamespace,
      [&](const NamespaceOptions& with) { return OpenTreeNamespace(dirfd, path, flags, with); }, pin_path, options);
}

Result<PinnedNamespace> PinnedEmptyMountNamespace(const std::string& pin_path, const NamespaceOptions& options) {
  return MakeAndPin(
      NamespaceOperation::kEmptyMountNamespace, [](const NamespaceOptions& with) { return EmptyMountNamespace(with); },
      pin_path, options);
}

}  // namespace mntns
