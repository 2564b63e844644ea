// MountWatcher and LiveMountTable: choosing a source, waiting, and the table diff.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "mntns/features.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"
#include "watch/internal.h"

namespace mntns {
namespace {

bool SameMount(const Mount& a, const Mount& b) {
  return a.sb_dev_major == b.sb_dev_major && a.sb_dev_minor == b.sb_dev_minor && a.root == b.root &&
         a.sb_source == b.sb_source && a.fs_type == b.fs_type;
}

bool SamePlace(const Mount& a, const Mount& b) {
  return a.point == b.point && a.parent_id == b.parent_id && a.old_parent_id == b.old_parent_id;
}

bool SameSettings(const Mount& a, const Mount& b) {
  return a.attr == b.attr && a.sb_flags == b.sb_flags && a.fs_options == b.fs_options &&
         a.propagation == b.propagation && a.peer_group == b.peer_group && a.master == b.master;
}

// fanotify refusals that the mountinfo backend can stand in for: a kernel
// before 6.15 (EINVAL), no fanotify at all (ENOSYS), or no CAP_SYS_ADMIN over
// the namespace (EPERM).
bool FallBackOn(int code) { return code == EINVAL || code == ENOSYS || code == EPERM || code == ENOTSUP; }

}  // namespace

std::string_view MountEventName(MountEventType type) {
  switch (type) {
    case MountEventType::kAttach:
      return "attach";
    case MountEventType::kDetach:
      return "detach";
    case MountEventType::kMove:
      return "move";
    case MountEventType::kChange:
      return "change";
    case MountEventType::kOverflow:
      return "overflow";
  }
  return "?";
}

namespace internal {

Result<void> OpenWatchedNamespace(MountWatcher::State& state) {
  std::string path;
  if (state.ns.kind == NamespaceRef::Kind::kPid) path = fmt::format("/proc/{}/ns/mnt", state.ns.pid);
  if (state.ns.kind == NamespaceRef::Kind::kFile) path = state.ns.path;
  if (path.empty()) return kOk;
  auto fd = sys::OpenMountNamespaceFile(path);
  if (!fd) return std::unexpected(fd.error());
  state.ns_fd = *std::move(fd);
  return kOk;
}

Result<std::vector<Mount>> ReadWholeTable(const MountWatcher::State& state) {
  if (state.backend == WatchBackend::kMountinfo) return ReadMountinfoTable(state);
  // A held namespace by its id: the pid may have exited (or been reused) and
  // the file may be gone since Open.
  const NamespaceRef ns = state.ns_fd && state.ns_id != 0 ? NamespaceRef::ById(state.ns_id) : state.ns;
  return ListMounts(ns, {.mask = state.options.mask, .backend = Backend::kListmount});
}

void ReplaceTable(MountWatcher::State& state, std::vector<Mount> fresh, std::vector<MountEvent>& events) {
  std::map<std::uint64_t, Mount> next;
  for (Mount& mount : fresh) {
    const std::uint64_t key = state.Key(mount);
    next.emplace(key, std::move(mount));
  }
  for (const auto& [key, old] : state.table) {
    const auto found = next.find(key);
    if (found == next.end() || !SameMount(old, found->second)) events.push_back({MountEventType::kDetach, old, key});
  }
  for (const auto& [key, mount] : next) {
    const auto found = state.table.find(key);
    if (found == state.table.end() || !SameMount(found->second, mount)) {
      events.push_back({MountEventType::kAttach, mount, key});
    } else if (!SamePlace(found->second, mount)) {
      events.push_back({MountEventType::kMove, mount, key});
    } else if (!SameSettings(found->second, mount)) {
      events.push_back({MountEventType::kChange, mount, key});
    }
  }
  state.table = std::move(next);
}

}  // namespace internal

MountWatcher::MountWatcher(std::unique_ptr<State> state) : state_(std::move(state)) {}
MountWatcher::MountWatcher(MountWatcher&&) noexcept = default;
MountWatcher& MountWatcher::operator=(MountWatcher&&) noexcept = default;
MountWatcher::~MountWatcher() = default;

Result<MountWatcher> MountWatcher::Open(const NamespaceRef& ns, const WatchOptions& options) {
  if (ns.kind == NamespaceRef::Kind::kId) {
    return MakeError(ENOTSUP, "watch", ns.Describe() + " (a watch needs a namespace file or a process)");
  }
  auto state = std::make_unique<State>();
  state->ns = ns;
  state->options = options;
  state->options.mask |= field::kMntBasic;
  if (auto opened = internal::OpenWatchedNamespace(*state); !opened) return std::unexpected(opened.error());
  bool fanotify = options.backend == WatchBackend::kFanotify ||
                  (options.backend == WatchBackend::kAuto && KernelFeatures().fanotify_mount_events);
  if (fanotify) {
    state->backend = WatchBackend::kFanotify;
    auto opened = internal::OpenFanotifySource(*state);
    if (!opened) {
      if (options.backend == WatchBackend::kFanotify || !FallBackOn(opened.error().code)) {
        return std::unexpected(opened.error());
      }
      fanotify = false;
    }
  }
  if (!fanotify) {
    state->backend = WatchBackend::kMountinfo;
    if (auto opened = internal::OpenMountinfoSource(*state); !opened) return std::unexpected(opened.error());
  }
  // Read after the mark: a mount attached in between is in the table and
  // its attach event is then recognised as no change.
  auto table = internal::ReadWholeTable(*state);
  if (!table) return std::unexpected(table.error());
  ++state->stats.full_reads;
  std::vector<MountEvent> ignored;
  internal::ReplaceTable(*state, *std::move(table), ignored);
  return MountWatcher(std::move(state));
}

Result<std::vector<MountEvent>> MountWatcher::Next(int timeout_ms) {
  std::vector<MountEvent> events;
  const bool fanotify = state_->backend == WatchBackend::kFanotify;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  for (;;) {
    int wait = timeout_ms;
    if (timeout_ms > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      wait = static_cast<int>(std::max<std::int64_t>(left.count(), 0));
    }
    pollfd ready{state_->poll_fd.Get(), static_cast<short>(fanotify ? POLLIN : POLLPRI), 0};
    const int count = ::poll(&ready, 1, wait);
    if (count < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return MakeError(err, "poll", fanotify ? "fanotify group" : "mountinfo");
    }
    if (count == 0) return events;
    // mountinfo signals a change with POLLERR|POLLPRI; poll() itself takes
    // the change notice, so the next poll waits for the next change.
    auto read = fanotify ? internal::ReadFanotifyEvents(*state_, events)
                         : internal::ReadMountinfoChanges(*state_, events);
    if (!read) return std::unexpected(read.error());
    if (!events.empty() || timeout_ms == 0) {
      state_->stats.events += events.size();
      return events;
    }
  }
}

int MountWatcher::PollFd() const { return state_->poll_fd.Get(); }
WatchBackend MountWatcher::backend() const { return state_->backend; }
const std::map<std::uint64_t, Mount>& MountWatcher::Table() const { return state_->table; }
WatchStats MountWatcher::stats() const { return state_->stats; }

Result<LiveMountTable> LiveMountTable::Open(const NamespaceRef& ns, const WatchOptions& options) {
  auto watcher = MountWatcher::Open(ns, options);
  if (!watcher) return std::unexpected(watcher.error());
  return LiveMountTable(*std::move(watcher));
}

Result<std::size_t> LiveMountTable::Update(int timeout_ms) {
  auto events = watcher_.Next(timeout_ms);
  if (!events) return std::unexpected(events.error());
  return events->size();
}

std::vector<Mount> LiveMountTable::Mounts() const {
  std::vector<Mount> mounts;
  mounts.reserve(watcher_.Table().size());
  for (const auto& [key, mount] : watcher_.Table()) mounts.push_back(mount);
  return mounts;
}

std::size_t LiveMountTable::size() const { return watcher_.Table().size(); }

}  // namespace mntns
