#include "bench/host.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "mntns/tree.h"

namespace mntns::cli {

Result<void> MakeDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    const int err = errno;
    return MakeError(err, "mkdir", QuotePath(path));
  }
  return kOk;
}

Result<void> MountTmpfs(const std::string& path, const char* source) {
  if (auto made = MakeDirectory(path); !made) return made;
  auto fs = FsContext::Open("tmpfs");
  if (!fs) return std::unexpected(fs.error());
  if (auto set = fs->SetString("source", source); !set) return set;
  if (auto created = fs->Create(); !created) return created;
  auto mnt = fs->Mount();
  if (!mnt) return std::unexpected(mnt.error());
  return MoveMount(mnt->Get(), "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
}

Result<void> BindMount(const std::string& source, const std::string& target) {
  if (auto made = MakeDirectory(target); !made) return made;
  auto tree = OpenTree(AT_FDCWD, source, OPEN_TREE_CLONE);
  if (!tree) return std::unexpected(tree.error());
  return MoveMount(tree->Get(), "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
}

Result<void> AddHostMounts(const std::string& dir, std::size_t count, std::size_t peer_groups) {
  if (auto made = MakeDirectory(dir); !made) return made;
  // Every source is a mount of its own, never a directory of the mount that
  // receives the binds: a non-recursive bind walks all children of its source
  // mount (has_locked_children() in fs/namespace.c), which made 30,000 binds of
  // such a directory take 11 s instead of under a second.
  std::vector<std::string> sources;
  if (peer_groups == 0) {
    sources.push_back(dir + "/source");
    if (auto mounted = MountTmpfs(sources.back(), "mntns-bench-source"); !mounted) return mounted;
  }
  for (std::size_t g = 0; g < peer_groups; ++g) {
    sources.push_back(fmt::format("{}/group{}", dir, g));
    if (auto mounted = MountTmpfs(sources.back(), "mntns-bench-group"); !mounted) return mounted;
    if (auto shared = MountSetattr(AT_FDCWD, sources.back(), 0, {.propagation = MS_SHARED}); !shared) return shared;
  }
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    if (auto bound = BindMount(sources[i % sources.size()], fmt::format("{}/{}", dir, i)); !bound) {
      return bound;
    }
    if ((i + 1) % 10000 == 0) fmt::print(stderr, "mntns bench: {} of {} host mounts\n", i + 1, count);
  }
  if (count >= 10000) {
    fmt::print(stderr, "mntns bench: {} host mounts in {:.1f} s\n", count,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return kOk;
}

int InPrivateBenchNamespace(const std::function<int(const std::string& base)>& body) {
  std::string base = "/tmp/mntns-bench-XXXXXX";
  if (::mkdtemp(base.data()) == nullptr) {
    const int err = errno;
    fmt::print(stderr, "mntns: {}\n", MakeError(err, "mkdtemp", QuotePath(base)).error().Message());
    return 1;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::rmdir(base.c_str());
    fmt::print(stderr, "mntns: {}\n", MakeError(err, "fork").error().Message());
    return 1;
  }
  if (pid == 0) {
    int status = 1;
    if (auto unshared = UnshareMountNamespace(); !unshared) {
      fmt::print(stderr, "mntns: {}\n", unshared.error().Message());
    } else if (auto privatized = MountSetattr(AT_FDCWD, "/", AT_RECURSIVE, {.propagation = MS_PRIVATE});
               !privatized) {
      fmt::print(stderr, "mntns: {}\n", privatized.error().Message());
    } else if (auto mounted = MountTmpfs(base, "mntns-bench"); !mounted) {
      fmt::print(stderr, "mntns: {}\n", mounted.error().Message());
    } else {
      status = body(base);
    }
    std::fflush(stdout);
    std::fflush(stderr);
    // The mounts go with this process's namespace; no destructor has anything to release.
    ::_exit(status);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::rmdir(base.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace mntns::cli
