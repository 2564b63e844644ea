// The fanotify source (Linux 6.15+): a FAN_REPORT_MNT group with a
// FAN_MARK_MNTNS mark gets one event per attached or detached mount, carrying
// the mount's unique id; the watcher asks statmount about that mount alone.
#include <fcntl.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "sys/fanotify_calls.h"
#include "sys/files.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"
#include "watch/internal.h"

namespace mntns::internal {
namespace {

constexpr std::size_t kReadBytes = 64 * 1024;

// What one event said.
struct RawEvent {
  std::uint64_t mask = 0;
  std::uint64_t id = 0;
};

// Reads the mount `id` into the table; false when it is gone (ENOENT: the
// detach event follows).
Result<bool> Restat(MountWatcher::State& state, std::uint64_t id, Mount& into) {
  ++state.stats.statmount_calls;
  auto mount = state.reader.ById(id, state.ns_id, state.options.mask);
  if (!mount) {
    if (mount.error().code == ENOENT) return false;
    return std::unexpected(mount.error());
  }
  into = *std::move(mount);
  return true;
}

// A move is reported for the moved mount only; the mounts below it moved too.
Result<void> RestatBelow(MountWatcher::State& state, std::uint64_t id) {
  std::vector<std::uint64_t> pending{id};
  std::set<std::uint64_t> seen{id};
  while (!pending.empty()) {
    const std::uint64_t parent = pending.back();
    pending.pop_back();
    std::vector<std::uint64_t> children;
    for (const auto& [key, mount] : state.table) {
      if (mount.parent_id == parent && key != parent) children.push_back(key);
    }
    for (std::uint64_t child : children) {
      if (!seen.insert(child).second) continue;
      auto read = Restat(state, child, state.table[child]);
      if (!read) return std::unexpected(read.error());
      if (!*read) state.table.erase(child);
      pending.push_back(child);
    }
  }
  return kOk;
}

Result<void> Apply(MountWatcher::State& state, const RawEvent& event, std::vector<MountEvent>& events) {
  const bool attach = (event.mask & sys::kFanMntAttach) != 0;
  const bool detach = (event.mask & sys::kFanMntDetach) != 0;
  const auto known = state.table.find(event.id);
  if (detach && !attach) {
    if (known == state.table.end()) {
      // Attached and gone before it could be read: reported by id alone.
      Mount gone;
      gone.id = event.id;
      events.push_back({MountEventType::kDetach, std::move(gone), event.id});
      return kOk;
    }
    events.push_back({MountEventType::kDetach, std::move(known->second), event.id});
    state.table.erase(known);
    return kOk;
  }
  Mount mount;
  auto read = Restat(state, event.id, mount);
  if (!read) return std::unexpected(read.error());
  if (!*read) {
    // Gone before we asked: its detach event is queued behind this one.
    if (known != state.table.end()) {
      events.push_back({MountEventType::kDetach, std::move(known->second), event.id});
      state.table.erase(known);
    } else if (attach && !detach) {
      Mount gone;
      gone.id = event.id;
      events.push_back({MountEventType::kAttach, std::move(gone), event.id});
    }
    return kOk;
  }
  if (attach && !detach) {
    // Attached between the mark and the first read: already in the table.
    if (known != state.table.end() && known->second.point == mount.point &&
        known->second.parent_id == mount.parent_id) {
      known->second = std::move(mount);
      return kOk;
    }
    events.push_back({MountEventType::kAttach, mount, event.id});
    state.table[event.id] = std::move(mount);
    return kOk;
  }
  events.push_back({MountEventType::kMove, mount, event.id});
  state.table[event.id] = std::move(mount);
  return RestatBelow(state, event.id);
}

// After detaches: a mount whose parent left the table without an event of
// its own (a tree taken away with it) is asked about again.
Result<void> DropOrphans(MountWatcher::State& state, std::vector<MountEvent>& events) {
  std::vector<std::uint64_t> orphans;
  for (const auto& [key, mount] : state.table) {
    if (mount.parent_id != key && !state.table.contains(mount.parent_id)) orphans.push_back(key);
  }
  for (std::uint64_t key : orphans) {
    Mount mount;
    auto read = Restat(state, key, mount);
    if (!read) return std::unexpected(read.error());
    if (*read) {
      state.table[key] = std::move(mount);
    } else {
      events.push_back({MountEventType::kDetach, std::move(state.table[key]), key});
      state.table.erase(key);
    }
  }
  return kOk;
}

}  // namespace

Result<void> OpenFanotifySource(MountWatcher::State& state) {
  // The caller's namespace, or the one OpenWatchedNamespace checked.
  UniqueFd own;
  if (!state.ns_fd) {
    auto opened = sys::Open(AT_FDCWD, "/proc/thread-self/ns/mnt", O_RDONLY);
    if (!opened) return std::unexpected(opened.error());
    own = *std::move(opened);
  }
  const int ns_fd = state.ns_fd ? state.ns_fd.Get() : own.Get();
  if (state.ns_fd) {
    auto id = sys::MountNamespaceId(ns_fd);
    if (!id) return std::unexpected(std::move(id.error().Wrap(state.ns.Describe())));
    state.ns_id = *id;
  }
  auto group = sys::FanotifyInit(sys::kFanClassNotif | sys::kFanReportMnt | FAN_NONBLOCK, O_RDONLY);
  if (!group) return std::unexpected(group.error());
  if (auto marked = sys::FanotifyMarkFd(group->Get(), FAN_MARK_ADD | sys::kFanMarkMntns,
                                        sys::kFanMntAttach | sys::kFanMntDetach, ns_fd);
      !marked) {
    Error error = marked.error();
    error.Wrap("watch " + state.ns.Describe());
    return std::unexpected(std::move(error));
  }
  state.poll_fd = *std::move(group);
  return kOk;
}

Result<void> ReadFanotifyEvents(MountWatcher::State& state, std::vector<MountEvent>& events) {
  state.buffer.resize(kReadBytes / sizeof(std::uint64_t));
  auto* bytes = reinterpret_cast<unsigned char*>(state.buffer.data());
  std::vector<RawEvent> raw;
  bool overflow = false;
  for (;;) {
    auto got = sys::Read(state.poll_fd.Get(), std::span(reinterpret_cast<char*>(bytes), kReadBytes), "fanotify group");
    if (!got && got.error().code == EAGAIN) break;
    if (!got) return std::unexpected(got.error());
    if (*got == 0) break;
    // The kernel writes whole events only; each is checked against what was read.
    std::size_t offset = 0;
    const std::size_t size = *got;
    while (offset + sizeof(fanotify_event_metadata) <= size) {
      fanotify_event_metadata metadata;
      std::memcpy(&metadata, bytes + offset, sizeof metadata);
      if (metadata.event_len < sizeof metadata || offset + metadata.event_len > size) break;
      if ((metadata.mask & sys::kFanQOverflow) != 0) overflow = true;
      RawEvent event{metadata.mask, 0};
      for (std::size_t info = offset + metadata.metadata_len;
           info + sizeof(sys::FanotifyEventInfoMnt) <= offset + metadata.event_len;) {
        sys::FanotifyEventInfoMnt record;
        std::memcpy(&record, bytes + info, sizeof record);
        if (record.len == 0) break;
        if (record.info_type == sys::kFanEventInfoTypeMnt) event.id = record.mnt_id;
        info += record.len;
      }
      if (metadata.fd >= 0) ::close(metadata.fd);  // never for mount events; owned by us if any
      if (event.id != 0) raw.push_back(event);
      offset += metadata.event_len;
    }
  }
  if (overflow) {
    // Events were dropped: the table is read again and the difference reported.
    ++state.stats.overflows;
    events.push_back({MountEventType::kOverflow, {}});
    auto table = ReadWholeTable(state);
    if (!table) return std::unexpected(table.error());
    ++state.stats.full_reads;
    ReplaceTable(state, *std::move(table), events);
    return kOk;
  }
  bool detached = false;
  for (const RawEvent& event : raw) {
    detached = detached || (event.mask & sys::kFanMntDetach) != 0;
    if (auto applied = Apply(state, event, events); !applied) return std::unexpected(applied.error());
  }
  if (detached) return DropOrphans(state, events);
  return kOk;
}

}  // namespace mntns::internal
