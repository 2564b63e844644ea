// The fallback source: poll(2) on /proc/PID/mountinfo, which reports
// POLLPRI|POLLERR whenever the namespace's table changed, then one re-read
// diffed by old id. For kernels before 6.15 and callers fanotify refuses.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "helper_thread.h"
#include "sys/files.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"
#include "watch/internal.h"

namespace mntns::internal {
namespace {

// On a thread of its own: unshare(CLONE_FS) gives the thread a private root
// and cwd, which setns(CLONE_NEWNS) requires; the thread's mountinfo, opened
// inside, keeps that namespace (and the root the thread had there) for as
// long as the file is open, after the thread is gone.
Result<UniqueFd> OpenMountinfoInside(int ns_fd) {
  // thread-self, not self/task/gettid(): a tid of this pid namespace names
  // another task where /proc is another pid namespace's.
  auto task_dir = sys::Open(AT_FDCWD, "/proc/thread-self", O_PATH | O_DIRECTORY);
  if (!task_dir) return std::unexpected(task_dir.error());
  if (auto r = sys::Unshare(CLONE_FS); !r) return std::unexpected(r.error());
  if (auto r = sys::Setns(ns_fd, CLONE_NEWNS); !r) return std::unexpected(r.error());
  // The task directory was opened before entering: the namespace need not have /proc.
  return sys::Open(task_dir->Get(), "mountinfo", O_RDONLY);
}

}  // namespace

Result<void> OpenMountinfoSource(MountWatcher::State& state) {
  std::string path;
  switch (state.ns.kind) {
    case NamespaceRef::Kind::kCaller:
      // The calling thread's namespace, as the fanotify backend and
      // mountinfo_ns_id take it (a thread may have entered another).
      path = "/proc/thread-self/mountinfo";
      break;
    case NamespaceRef::Kind::kPid:
      path = fmt::format("/proc/{}/mountinfo", state.ns.pid);
      break;
    case NamespaceRef::Kind::kFile: {
      Result<UniqueFd> inside = MakeError(EINVAL, "open mountinfo", state.ns.Describe());
      const int ns_fd = state.ns_fd.Get();
      auto thread = StartHelperThread([&inside, ns_fd] { inside = OpenMountinfoInside(ns_fd); });
      if (!thread) return std::unexpected(thread.error());
      thread->join();
      if (!inside) return std::unexpected(std::move(inside.error().Wrap("mountinfo of " + state.ns.Describe())));
      state.poll_fd = *std::move(inside);
      break;
    }
    case NamespaceRef::Kind::kId:
      return MakeError(ENOTSUP, "watch --backend mountinfo", state.ns.Describe());
  }
  if (!path.empty()) {
    auto file = sys::Open(AT_FDCWD, path.c_str(), O_RDONLY);
    if (!file) return std::unexpected(file.error());
    state.poll_fd = *std::move(file);
  }
  if (state.ns_fd) {
    if (auto id = sys::MountNamespaceId(state.ns_fd.Get()); id) state.mountinfo_ns_id = *id;
  } else if (auto own = sys::Open(AT_FDCWD, "/proc/thread-self/ns/mnt", O_RDONLY); own) {
    if (auto id = sys::MountNamespaceId(own->Get()); id) state.mountinfo_ns_id = *id;
  }
  return kOk;
}

Result<std::vector<Mount>> ReadMountinfoTable(const MountWatcher::State& state) {
  // A seq file: reading from offset 0 again renders the table as it is now.
  std::string text;
  char chunk[65536];
  for (off_t offset = 0;;) {
    auto n = sys::ReadAt(state.poll_fd.Get(), chunk, offset, "mountinfo of " + state.ns.Describe());
    if (!n) return std::unexpected(n.error());
    if (*n == 0) break;
    text.append(chunk, *n);
    offset += static_cast<off_t>(*n);
  }
  auto mounts = ParseMountinfo(text);
  if (!mounts) return mounts;
  if (state.mountinfo_ns_id) {
    for (Mount& mount : *mounts) {
      mount.ns_id = *state.mountinfo_ns_id;
      mount.mask |= field::kMntNsId;
    }
  }
  return mounts;
}

Result<void> ReadMountinfoChanges(MountWatcher::State& state, std::vector<MountEvent>& events) {
  auto table = ReadWholeTable(state);
  if (!table) return std::unexpected(table.error());
  ++state.stats.full_reads;
  ReplaceTable(state, *std::move(table), events);
  return kOk;
}

}  // namespace mntns::internal
