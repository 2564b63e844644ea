// Mount-table queries: listmount(2) + statmount(2), falling back on mountinfo.
#include "mntns/query.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "mntns/features.h"
#include "namespace/internal.h"
#include "query/listmount.h"
#include "query/mountinfo.h"
#include "query/statmount.h"
#include "sys/files.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"

namespace mntns {
namespace {

// Unique mount ids start above this (MNT_UNIQUE_ID_OFFSET); statmount answers
// EINVAL for anything at or below it.
constexpr std::uint64_t kLastOldMountId = 1ULL << 31;

bool UseListmount(Backend backend) {
  switch (backend) {
    case Backend::kListmount:
      return true;
    case Backend::kMountinfo:
      return false;
    case Backend::kAuto:
      break;
  }
  const Features& features = KernelFeatures();
  return features.listmount && features.statmount;
}

Result<std::uint64_t> NamespaceIdOfFile(const std::string& path) {
  auto fd = sys::OpenMountNamespaceFile(path);
  if (!fd) return std::unexpected(fd.error());
  return sys::MountNamespaceId(fd->Get());
}

// The mnt_ns_id to put into listmount/statmount requests; 0 is the caller's.
Result<std::uint64_t> ResolveNamespaceId(const NamespaceRef& ns) {
  switch (ns.kind) {
    case NamespaceRef::Kind::kCaller:
      return 0;
    case NamespaceRef::Kind::kId:
      return ns.id;
    case NamespaceRef::Kind::kFile:
      return NamespaceIdOfFile(ns.path);
    case NamespaceRef::Kind::kPid:
      return NamespaceIdOfFile(fmt::format("/proc/{}/ns/mnt", ns.pid));
  }
  return MakeError(EINVAL, "resolve namespace");
}

// Whether `ns` (a namespace file or a process's) is a namespace with no mount
// listmount can show from outside: 7.1's empty namespaces (their nullfs root
// is hidden, as OPEN_TREE_NAMESPACE's is), for which listmount says ENOENT as
// for a namespace that does not exist. A namespace given by id cannot be told
// apart that way: it stays an error.
bool HoldsNoListedMount(const NamespaceRef& ns) {
  std::string path = ns.path;
  if (ns.kind == NamespaceRef::Kind::kPid) path = fmt::format("/proc/{}/ns/mnt", ns.pid);
  if (ns.kind != NamespaceRef::Kind::kFile && ns.kind != NamespaceRef::Kind::kPid) return false;
  auto fd = sys::Open(AT_FDCWD, path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd) return false;
  auto info = sys::MountNamespaceInfo(fd->Get());
  return info && info->nr_mounts == 0;
}

std::unexpected<Error> WithContext(Error error, const NamespaceRef& ns) {
  // A listmount by namespace id names it already ("mnt_ns_id=N").
  const bool named = ns.kind == NamespaceRef::Kind::kId &&
                     error.argument.find(fmt::format("mnt_ns_id={}", ns.id)) != std::string::npos;
  if (ns.kind != NamespaceRef::Kind::kCaller && !named) error.argument += " in " + ns.Describe();
  return std::unexpected(std::move(error));
}

// Blocks of ids, listed on one thread and read on all (ReadInBlocks). Blocks
// are handed out in index order.
class BlockQueue {
 public:
  void Push(std::vector<std::uint64_t> ids) {
    {
      std::lock_guard lock(mutex_);
      pending_.push_back(std::move(ids));
      ++pushed_;
    }
    ready_.notify_one();
  }

  // No more blocks will come (all listed, or the listing failed).
  void Finish() {
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
    }
    ready_.notify_all();
  }

  // Another thread failed: nobody takes more blocks.
  void Stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    ready_.notify_all();
  }

  [[nodiscard]] bool Stopped() {
    std::lock_guard lock(mutex_);
    return stopped_;
  }

  // The next block and its index; nothing once all are taken or after Stop().
  [[nodiscard]] std::optional<std::pair<std::size_t, std::vector<std::uint64_t>>> Pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return stopped_ || finished_ || !pending_.empty(); });
    if (stopped_ || pending_.empty()) return std::nullopt;
    std::vector<std::uint64_t> ids = std::move(pending_.front());
    pending_.pop_front();
    return std::make_pair(taken_++, std::move(ids));
  }

  [[nodiscard]] std::size_t Pushed() {
    std::lock_guard lock(mutex_);
    return pushed_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::vector<std::uint64_t>> pending_;
  std::size_t pushed_ = 0;
  std::size_t taken_ = 0;
  bool finished_ = false;
  bool stopped_ = false;
};

// Runs work(0) on the calling thread and work(1..parts-1) on threads of
// their own, joins them, then returns the first error a part stored in
// `errors` (one slot per part). Parts that get no thread (EAGAIN: a process
// or thread limit) are left out: part 0 reads whatever the others do not.
Result<void> RunParts(std::size_t parts, const std::function<void(std::size_t)>& work,
                      std::vector<std::optional<Error>>& errors) {
  std::vector<std::thread> helpers;
  for (std::size_t part = 1; part < parts; ++part) {
    auto helper = internal::StartHelperThread([&work, part] { work(part); });
    if (!helper) break;
    helpers.push_back(std::move(*helper));
  }
  work(0);
  for (std::thread& helper : helpers) helper.join();
  for (auto& error : errors) {
    if (error) return std::unexpected(std::move(*error));
  }
  return kOk;
}

// The one reading loop of every listmount query: this thread lists the ids of
// namespace `ns_id` block by block while one thread per core (this one too,
// once the listing is done) reads the blocks listed so far; listmount of
// 30,000 mounts takes 2-5 ms against ~60 ms for reading them on two cores.
// `take(index, mounts)` gets each block's mounts (those unmounted meanwhile
// left out) on the thread that read it, in no order across threads; it may
// move them out: the thread reads its next block into the same vector.
using BlockTaker = std::function<Result<void>(std::size_t index, std::vector<Mount>& mounts)>;

Result<std::size_t> ReadInBlocks(const NamespaceRef& ns, std::uint64_t ns_id, FieldMask mask,
                                 std::size_t block_size, const BlockTaker& take) {
  internal::MountIdLister lister(ns_id);
  auto list_block = [&]() -> Result<std::vector<std::uint64_t>> {
    std::vector<std::uint64_t> ids(block_size);
    auto count = lister.Next(ids);
    if (!count) return WithContext(count.error(), ns);
    ids.resize(*count);
    return ids;
  };
  auto first = list_block();
  if (!first && first.error().code == ENOENT && HoldsNoListedMount(ns)) return 0;
  if (!first) return std::unexpected(first.error());
  if (first->empty()) return 0;
  // A table that fits one block is read on this thread alone.
  const bool more = first->size() == block_size;
  const std::size_t threads = more ? internal::UsableCpuCount() : 1;
  BlockQueue queue;
  queue.Push(*std::move(first));
  if (!more) queue.Finish();
  std::vector<std::optional<Error>> errors(threads);
  auto work = [&](std::size_t part) {
    if (part == 0 && more) {
      for (;;) {
        auto ids = list_block();
        if (!ids) {
          errors[part] = ids.error();
          queue.Stop();
          return;
        }
        const bool last = ids->size() < block_size;
        if (!ids->empty()) queue.Push(*std::move(ids));
        if (last || queue.Stopped()) break;
      }
      queue.Finish();
    }
    internal::MountTableReader reader(ns_id, mask);
    std::vector<Mount> mounts;
    while (auto block = queue.Pop()) {
      const auto& [index, ids] = *block;
      if (mounts.size() < ids.size()) mounts.resize(ids.size());
      std::size_t kept = 0;
      for (std::uint64_t id : ids) {
        auto read = reader.ReadInto(id, mounts[kept]);
        if (read) {
          ++kept;
        } else if (read.error().code != ENOENT) {  // ENOENT: unmounted meanwhile
          errors[part] = WithContext(read.error(), ns).error();
          queue.Stop();
          return;
        }
      }
      mounts.resize(kept);
      if (auto taken = take(index, mounts); !taken) {
        errors[part] = taken.error();
        queue.Stop();
        return;
      }
    }
  };
  if (auto failed = RunParts(threads, work, errors); !failed) return std::unexpected(failed.error());
  return queue.Pushed();
}

// Blocks of this many ids for ListMounts: a block per thread from ~2,000
// mounts on, and a few per thread at 30,000.
constexpr std::size_t kListMountsBlock = 1024;

// For ListMounts() of another namespace: the fields that PresentNamespace needs.
constexpr FieldMask kPresentationMask = field::kMntBasic | field::kSbSource | field::kFsType;

// Removes the template strategy's hidden mounts (its empty root and the
// namespace root below it) from a namespace's table, as 7.x hides its nullfs
// root, then clears the fields the caller did not ask for (`requested`).
// `mounts` must have been read with kPresentationMask added.
void PresentNamespace(std::vector<Mount>& mounts, FieldMask requested) {
  // The template strategy's layout: namespace root <- the marker tmpfs at "/"
  // <- the tree. 7.x hides its nullfs root the same way. Below the marker lie
  // the namespace root (its own parent) on 6.x, and on 7.x the initial
  // namespace's rootfs on an immutable nullfs root that listmount never shows:
  // every listed ancestor of the marker goes.
  const auto marker = std::find_if(mounts.begin(), mounts.end(), [](const Mount& m) {
    return internal::IsTemplateRoot(m.fs_type, m.sb_source);
  });
  if (marker != mounts.end()) {
    std::vector<std::uint64_t> hidden{marker->id};
    for (std::uint64_t parent = marker->parent_id; parent != hidden.back();) {
      const auto found =
          std::find_if(mounts.begin(), mounts.end(), [parent](const Mount& m) { return m.id == parent; });
      if (found == mounts.end()) break;
      hidden.push_back(found->id);
      parent = found->parent_id;
    }
    std::erase_if(mounts,
                  [&](const Mount& m) { return std::find(hidden.begin(), hidden.end(), m.id) != hidden.end(); });
  }
  const FieldMask added = kPresentationMask & ~requested;
  if (added == 0) return;
  for (Mount& m : mounts) {
    m.mask &= ~added;
    if (added & field::kFsType) m.fs_type.clear();
    if (added & field::kSbSource) m.sb_source.clear();
    if (added & field::kMntBasic) {
      m.id = m.parent_id = m.attr = m.propagation = m.peer_group = m.master = 0;
      m.old_id = m.old_parent_id = 0;
    }
  }
}

Result<std::vector<Mount>> ListMountsWithListmount(const NamespaceRef& ns, FieldMask mask) {
  auto ns_id = ResolveNamespaceId(ns);
  if (!ns_id) return std::unexpected(ns_id.error());
  // Another namespace may be one the template strategy built: read what it
  // takes to hide its template root (namespace.h), as 7.x hides its nullfs root.
  const bool foreign = ns.kind != NamespaceRef::Kind::kCaller;
  const FieldMask read_mask = foreign ? mask | kPresentationMask : mask;
  std::mutex mutex;
  std::vector<std::vector<Mount>> blocks;
  auto keep = [&](std::size_t index, std::vector<Mount>& mounts) -> Result<void> {
    std::lock_guard lock(mutex);
    if (blocks.size() <= index) blocks.resize(index + 1);
    blocks[index] = std::move(mounts);
    return kOk;
  };
  if (auto read = ReadInBlocks(ns, *ns_id, read_mask, kListMountsBlock, keep); !read) {
    return std::unexpected(read.error());
  }
  std::size_t total = 0;
  for (const auto& block : blocks) total += block.size();
  std::vector<Mount> table;
  table.reserve(total);
  for (auto& block : blocks) {
    std::move(block.begin(), block.end(), std::back_inserter(table));
    block = std::vector<Mount>();  // the moved-from shells, freed as we go
  }
  if (foreign) PresentNamespace(table, mask);
  return table;
}

Result<Mount> FindInMountinfo(std::uint64_t old_id, const NamespaceRef& ns, std::string argument) {
  auto mounts = internal::ListMountsFromMountinfo(ns);
  if (!mounts) return std::unexpected(mounts.error());
  const auto found = std::find_if(mounts->begin(), mounts->end(),
                                  [old_id](const Mount& m) { return m.old_id == old_id; });
  if (found == mounts->end()) return WithContext(MakeError(ENOENT, "stat", argument).error(), ns);
  return std::move(*found);
}

}  // namespace

std::string NamespaceRef::Describe() const {
  switch (kind) {
    case Kind::kCaller:
      return "the caller's namespace";
    case Kind::kId:
      return fmt::format("namespace id {}", id);
    case Kind::kFile:
      return fmt::format("namespace file {}", QuotePath(path));
    case Kind::kPid:
      return fmt::format("the namespace of pid {}", pid);
  }
  return "?";
}

Result<std::vector<Mount>> ListMounts(const NamespaceRef& ns, const QueryOptions& options) {
  if (UseListmount(options.backend)) return ListMountsWithListmount(ns, options.mask);
  return internal::ListMountsFromMountinfo(ns);
}

Result<std::size_t> ForEachMountBlock(const NamespaceRef& ns, const QueryOptions& options,
                                      std::size_t block_size, const MountBlockVisitor& visit) {
  if (block_size == 0) return MakeError(EINVAL, "list mounts", "block size 0");
  // Another namespace may need its template root hidden, which takes the
  // whole table (PresentNamespace); mountinfo is one read anyway.
  if (!UseListmount(options.backend) || ns.kind != NamespaceRef::Kind::kCaller) {
    auto mounts = ListMounts(ns, options);
    if (!mounts) return std::unexpected(mounts.error());
    std::size_t blocks = 0;
    for (std::size_t begin = 0; begin < mounts->size(); begin += block_size, ++blocks) {
      const std::size_t size = std::min(block_size, mounts->size() - begin);
      if (auto visited = visit(blocks, std::span(*mounts).subspan(begin, size)); !visited) {
        return std::unexpected(visited.error());
      }
    }
    return blocks;
  }
  auto ns_id = ResolveNamespaceId(ns);
  if (!ns_id) return std::unexpected(ns_id.error());
  // The reader keeps its block's Mounts for the next block: no allocation per mount.
  auto show = [&visit](std::size_t index, std::vector<Mount>& mounts) { return visit(index, mounts); };
  return ReadInBlocks(ns, *ns_id, options.mask, block_size, show);
}

Result<Mount> StatmountById(std::uint64_t id, const NamespaceRef& ns, const QueryOptions& options) {
  const std::string argument = fmt::format("--id {}", id);
  if (!UseListmount(options.backend)) return FindInMountinfo(id, ns, argument);
  if (id <= kLastOldMountId) {
    return MakeError(EINVAL, "stat",
                     argument + " (unique mount ids start at 2^31; ids below are the old ids "
                                "mountinfo shows: use --backend mountinfo for those)");
  }
  auto ns_id = ResolveNamespaceId(ns);
  if (!ns_id) return std::unexpected(ns_id.error());
  internal::StatmountReader reader;
  auto mount = reader.ById(id, *ns_id, options.mask);
  if (!mount) {
    Error error = mount.error();
    error.Wrap(ns.kind == NamespaceRef::Kind::kCaller ? "stat " + argument
                                                      : fmt::format("stat {} in {}", argument, ns.Describe()));
    return std::unexpected(std::move(error));
  }
  return mount;
}

Result<Mount> StatmountByPath(const std::string& path, const QueryOptions& options) {
  if (!UseListmount(options.backend)) {
    auto stx = sys::Statx(AT_FDCWD, path.c_str(), 0, STATX_MNT_ID);
    if (!stx) return MakeError(stx.error().code, "stat", QuotePath(path));
    return FindInMountinfo(stx->stx_mnt_id, NamespaceRef::Caller(), QuotePath(path));
  }
  auto id = sys::UniqueMountIdOf(AT_FDCWD, path.c_str(), 0);
  if (!id) return MakeError(id.error().code, "stat", QuotePath(path));
  internal::StatmountReader reader;
  auto mount = reader.ById(*id, 0, options.mask);
  if (!mount) return MakeError(mount.error().code, "stat", QuotePath(path));
  return mount;
}

Result<std::vector<std::uint64_t>> ListMountIds(const NamespaceRef& ns) {
  auto ns_id = ResolveNamespaceId(ns);
  if (!ns_id) return std::unexpected(ns_id.error());
  return internal::ListMountIds(*ns_id);
}

Result<void> StatmountUndecoded(std::uint64_t id, FieldMask mask, std::span<std::byte> buffer) {
  const sys::MntIdReq request{
      .size = sys::kMntIdReqSizeVer1, .mnt_ns_fd_or_mnt_fd = 0, .mnt_id = id, .param = mask, .mnt_ns_id = 0};
  return sys::Statmount(request, buffer, 0);
}

}  // namespace mntns
