// Watching a mount namespace: mount events as they happen, and a mount table
// kept current by them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "mntns/error.h"
#include "mntns/export.h"
#include "mntns/query.h"

namespace mntns {

enum class MountEventType {
  kAttach,    // a mount appeared in the namespace (mount, bind, move_mount of a detached tree)
  kDetach,    // a mount left it (umount, or moved to another namespace)
  kMove,      // a mount moved within the namespace (move_mount, mount --move)
  kChange,    // mountinfo backend only: a mount's options or propagation changed
  kOverflow,  // events were lost (the fanotify queue overflowed); the table was read again
};

// "attach", "detach", "move", "change", "overflow".
[[nodiscard]] MNTNS_EXPORT std::string_view MountEventName(MountEventType type);

// One event. `mount` is the mount as read after the event (kAttach, kMove,
// kChange) or as last known before it (kDetach), with the fields of
// WatchOptions::mask; empty for kOverflow. The fanotify backend gives unique
// ids (Mount::id); the mountinfo backend old ids only (Mount::old_id, id 0).
// A mount that came and went before the watcher could read it is still
// reported, attach and detach, with `id` and an empty `mount` (mask 0, only
// Mount::id set): no event is dropped.
struct MountEvent {
  MountEventType type = MountEventType::kAttach;
  Mount mount;
  std::uint64_t id = 0;  // the table's key: unique id (fanotify) or old id (mountinfo); 0 for kOverflow
};

enum class WatchBackend {
  kAuto,       // fanotify where the kernel has mount events and lets us mark the namespace, else mountinfo
  kFanotify,   // fanotify FAN_REPORT_MNT + FAN_MARK_MNTNS (Linux 6.15+; CAP_SYS_ADMIN over the namespace)
  kMountinfo,  // poll(2) on /proc/PID/mountinfo, re-read and diffed by old id on every change
};

struct WatchOptions {
  WatchBackend backend = WatchBackend::kAuto;
  // What each event's mount carries (kMntBasic is always added: the table is
  // keyed by ids). Every field costs one statmount per event the same.
  FieldMask mask = field::kMntBasic | field::kMntPoint | field::kFsType | field::kSbSource | field::kMntNsId;
};

// Counters, for tests and benchmarks.
struct WatchStats {
  std::size_t events = 0;           // events reported
  std::size_t statmount_calls = 0;  // one per attach or move event (fanotify backend)
  std::size_t full_reads = 0;       // whole-table reads: the first, one per overflow, one per
                                    // mountinfo change
  std::size_t overflows = 0;
};

// Watches one mount namespace and keeps its mount table current: with
// fanotify, one statmount per attach or move event instead of a re-read; a
// queue overflow is reported as a kOverflow event and answered with one full
// re-read, diffed against the table so that the events lost are reported
// after it. The namespace is given as for ListMounts, except by id (ENOTSUP:
// both backends need a file or a process). Not thread-safe; movable.
//
// Kernel notes: the kernel reports attach and detach (a move as both at once)
// but no remount and no propagation change; a move is reported for the moved
// mount only, so the watcher re-reads the mounts below it. Events are queued
// when the mount call returns, so after the call a Next(0) sees them.
class MNTNS_EXPORT MountWatcher {
 public:
  // Starts watching, then reads the table. Another namespace (kPid, kFile)
  // is opened and checked first, and held for the watcher's life: ENOENT
  // where the process or the file is not there, EINVAL for a file that is not
  // a mount namespace. With mountinfo, a namespace file is entered on a short
  // helper thread that opens the mountinfo it sees there. Errors: ENOTSUP
  // for kId; with kFanotify, what fanotify_init/fanotify_mark answer (EINVAL
  // before 6.15, EPERM without CAP_SYS_ADMIN); with kAuto those make it fall
  // back on mountinfo.
  [[nodiscard]] static Result<MountWatcher> Open(const NamespaceRef& ns = {}, const WatchOptions& options = {});

  MountWatcher(MountWatcher&&) noexcept;
  MountWatcher& operator=(MountWatcher&&) noexcept;
  ~MountWatcher();

  // Waits up to `timeout_ms` (-1: no limit, 0: only what is queued) for
  // events, applies them to the table and returns them in order; empty after
  // a timeout. Takes every event queued by then.
  [[nodiscard]] Result<std::vector<MountEvent>> Next(int timeout_ms);

  // An fd that poll(2) reports readable (fanotify) or POLLPRI (mountinfo)
  // when Next has events; owned by the watcher.
  [[nodiscard]] int PollFd() const;

  // The backend in use (never kAuto).
  [[nodiscard]] WatchBackend backend() const;

  // The table as the events so far have left it, keyed by unique id
  // (fanotify) or old id (mountinfo).
  [[nodiscard]] const std::map<std::uint64_t, Mount>& Table() const;

  [[nodiscard]] WatchStats stats() const;

  struct State;

 private:
  explicit MountWatcher(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// A mount table that a watcher keeps current: what service managers need
// instead of re-parsing the whole table on every change. After Update has
// taken the events of a change, Mounts() equals a fresh ListMounts of the
// namespace (in the fields of the mask; the options of a remount and
// propagation changes excepted with fanotify: the kernel does not report them).
class MNTNS_EXPORT LiveMountTable {
 public:
  [[nodiscard]] static Result<LiveMountTable> Open(const NamespaceRef& ns = {}, const WatchOptions& options = {});

  // Applies the events that come within `timeout_ms` (as MountWatcher::Next)
  // and returns how many there were.
  [[nodiscard]] Result<std::size_t> Update(int timeout_ms = 0);

  // The mounts, in ascending id order (ListMounts' order).
  [[nodiscard]] std::vector<Mount> Mounts() const;
  [[nodiscard]] std::size_t size() const;

  [[nodiscard]] MountWatcher& watcher() { return watcher_; }

 private:
  explicit LiveMountTable(MountWatcher watcher) : watcher_(std::move(watcher)) {}
  MountWatcher watcher_;
};

}  // namespace mntns
