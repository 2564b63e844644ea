// The fallback source: poll(2) on /proc/PID/mountinfo, which reports
// POLLPRI|POLLERR whenever the namespace's table changed, then one re-read
// diffed by old id. For kernels before 6.15 and callers fanotify refuses.
#include <fcntl.h>

#include <cerrno>

#include <fmt/format.h>

#include "sys/syscalls.h"
#include "watch/internal.h"

namespace mntns::internal {

Result<void> OpenMountinfoSource(MountWatcher::State& state) {
  std::string path;
  switch (state.ns.kind) {
    case NamespaceRef::Kind::kCaller:
      path = "/proc/self/mountinfo";
      break;
    case NamespaceRef::Kind::kPid:
      path = fmt::format("/proc/{}/mountinfo", state.ns.pid);
      break;
    case NamespaceRef::Kind::kFile:
    case NamespaceRef::Kind::kId:
      return MakeError(ENOTSUP, "watch --backend mountinfo",
                       state.ns.Describe() + " (mountinfo is polled through a process: use --pid)");
  }
  auto file = sys::Open(AT_FDCWD, path.c_str(), O_RDONLY);
  if (!file) return std::unexpected(file.error());
  state.poll_fd = *std::move(file);
  return kOk;
}

Result<void> ReadMountinfoChanges(MountWatcher::State& state, std::vector<MountEvent>& events) {
  auto table = ReadWholeTable(state);
  if (!table) return std::unexpected(table.error());
  ++state.stats.full_reads;
  ReplaceTable(state, *std::move(table), events);
  return kOk;
}

}  // namespace mntns::internal
