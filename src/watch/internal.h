// The watcher's state and its two event sources: fanotify mount events
// (fanotify_source.cc) and polling mountinfo (mountinfo_source.cc), the way
// libmount keeps monitor_fanotify.c beside monitor_mountinfo.c.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "mntns/fd.h"
#include "mntns/watch.h"
#include "query/statmount.h"

namespace mntns {

struct MountWatcher::State {
  NamespaceRef ns;
  WatchOptions options;
  WatchBackend backend = WatchBackend::kAuto;
  UniqueFd poll_fd;       // the fanotify group, or the mountinfo file
  UniqueFd ns_fd;         // the namespace of kPid and kFile, checked and pinned by Open
  std::uint64_t ns_id = 0;  // for statmount requests; 0: the caller's
  // The mountinfo backend's rows have no namespace id of their own: this one
  // (NS_GET_MNTNS_ID, 6.12+), or none where the kernel cannot tell it.
  std::optional<std::uint64_t> mountinfo_ns_id;
  std::map<std::uint64_t, Mount> table;  // by Key()
  WatchStats stats;
  internal::StatmountReader reader;
  std::vector<std::uint64_t> buffer;  // fanotify reads (uint64_t: the events' alignment)

  // The table's key of a mount: the unique id with fanotify, the old id with mountinfo.
  [[nodiscard]] std::uint64_t Key(const Mount& mount) const {
    return backend == WatchBackend::kFanotify ? mount.id : mount.old_id;
  }
  [[nodiscard]] std::uint64_t ParentKey(const Mount& mount) const {
    return backend == WatchBackend::kFanotify ? mount.parent_id : mount.old_parent_id;
  }
};

namespace internal {

// Opens the namespace of a kPid or kFile reference into state.ns_fd: ENOENT
// for a process or path that is not there, EINVAL for a file that is not a
// mount namespace. The backends use that fd, so the namespace is the one
// checked even if the path or the process goes away.
[[nodiscard]] Result<void> OpenWatchedNamespace(MountWatcher::State& state);

// Marks the namespace with a new FAN_REPORT_MNT group (state.poll_fd) and
// fills state.ns_id; the table is not read.
[[nodiscard]] Result<void> OpenFanotifySource(MountWatcher::State& state);
// Reads every queued event and applies it, appending what it reports.
[[nodiscard]] Result<void> ReadFanotifyEvents(MountWatcher::State& state, std::vector<MountEvent>& events);

// Opens the namespace's mountinfo for poll(2) (state.poll_fd): the caller's,
// the process's, or for a namespace file the one a helper thread sees after
// entering it. The open file holds its namespace, so it is read again from
// the start on every change (ReadWholeTable).
[[nodiscard]] Result<void> OpenMountinfoSource(MountWatcher::State& state);
// The table as the mountinfo file (state.poll_fd) shows it now.
[[nodiscard]] Result<std::vector<Mount>> ReadMountinfoTable(const MountWatcher::State& state);
// Re-reads the table and reports how it differs.
[[nodiscard]] Result<void> ReadMountinfoChanges(MountWatcher::State& state, std::vector<MountEvent>& events);

// Reads the whole table the way the backend keys it.
[[nodiscard]] Result<std::vector<Mount>> ReadWholeTable(const MountWatcher::State& state);

// Replaces the table with `fresh` and appends the events that turn the old
// table into it: detaches, then attaches, moves and changes in key order. A
// key whose mount has another superblock, root or source now is a new mount
// (old ids are reused): detach, then attach.
void ReplaceTable(MountWatcher::State& state, std::vector<Mount> fresh, std::vector<MountEvent>& events);

}  // namespace internal
}  // namespace mntns
