// The template strategy (6.8+): mount namespaces without a fork and at a cost
// that does not depend on the caller's mount table.
//
// Kernel behaviour this relies on (see shared/facts/namespace-factory.md):
//  - unshare(CLONE_NEWNS) copies the *whole* table of the namespace the thread
//    is in. Done from a template namespace that holds two mounts, it is cheap.
//  - setns(CLONE_NEWNS) puts root and cwd on the top of the mount stack at the
//    namespace root. A detached tree moved onto "/" of a fresh copy of the
//    template is therefore already a container namespace: whoever enters sees
//    the tree as "/", and mountinfo lists only what is reachable from there.
//  - setns(CLONE_NEWNS) is refused (EINVAL) to a thread sharing its fs_struct,
//    so each factory thread unshares CLONE_FS first; threads are spawned from
//    the caller's thread, never from a factory thread (they would share ITS
//    fs_struct).
//  - open_tree(OPEN_TREE_CLONE) must run in the caller's namespace (from any
//    other it answers EINVAL), so the caller clones and the factory attaches.
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <semaphore>

#include "mntns/namespace.h"
#include "namespace/internal.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"

namespace mntns::internal {
namespace {

// Factory threads: enough to keep two cores busy; more only queue in the
// kernel's namespace lock.
constexpr unsigned kMaximumWorkers = 4;

struct Job {
  int tree_fd = -1;
  bool recursive = false;
  Result<UniqueFd> result;
  std::binary_semaphore done{0};
};

Result<void> MakePrivate(int dirfd, const char* path, unsigned flags) {
  struct mount_attr attr {};
  attr.propagation = MS_PRIVATE;
  return sys::MountSetattr(dirfd, path, flags, attr);
}

}  // namespace

// The copy (by the unshare) and the detach below cost O(caller's mounts): the
// factory pays them once per process, unless a keeper process already holds
// a template (namespace/keeper.cc).
Result<UniqueFd> BuildTemplateNamespace(const ThreadNamespaceOpener& opener) {
  if (auto r = sys::Unshare(CLONE_NEWNS); !r) return std::unexpected(r.error());
  // Nothing done below may propagate back into the caller's namespace.
  if (auto r = MakePrivate(AT_FDCWD, "/", AT_RECURSIVE); !r) return std::unexpected(r.error());
  auto fs = sys::FsOpen("tmpfs", 0);
  if (!fs) return std::unexpected(fs.error());
  if (auto r = sys::FsConfigString(fs->Get(), "source", kTemplateRootSource.data()); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = sys::FsConfigString(fs->Get(), "mode", "0555"); !r) return std::unexpected(r.error());
  if (auto r = sys::FsConfigCreate(fs->Get()); !r) return std::unexpected(r.error());
  auto root = sys::FsMount(fs->Get(), 0,
                           MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (!root) return std::unexpected(root.error());
  if (auto r = sys::MoveMount(root->Get(), "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH); !r) {
    return std::unexpected(r.error());
  }
  // pivot_root(".", ".") with the tmpfs as cwd: the old root lands on top of
  // it and is detached with its whole subtree. Inside a user namespace the old
  // root is locked; pivot_root hands that lock to the new root, which makes
  // the detach legal.
  if (auto r = sys::Fchdir(root->Get()); !r) return std::unexpected(r.error());
  if (auto r = sys::PivotRoot(".", "."); !r) return std::unexpected(r.error());
  if (auto r = sys::Umount(".", MNT_DETACH); !r) return std::unexpected(r.error());
  if (auto r = sys::Chdir("/"); !r) return std::unexpected(r.error());
  return opener.Current();
}

namespace {

class Factory {
 public:
  // Starts the threads; the first one builds the template namespace unless
  // `shared_template` (a keeper's) is given.
  static Result<Factory*> Start(UniqueFd shared_template);

  Result<UniqueFd> Create(int tree_fd, bool recursive) {
    Job job;
    job.tree_fd = tree_fd;
    job.recursive = recursive;
    {
      std::lock_guard lock(mutex_);
      if (broken_) return MakeError(EIO, "namespace factory", "a factory thread could not leave a namespace");
      queue_.push_back(&job);
    }
    wake_.notify_one();
    job.done.acquire();
    return std::move(job.result);
  }

  void Stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
  }

  // In a forked child the threads do not exist: drop the fd copies and let the
  // object leak (destroying a joinable std::thread would terminate).
  void AbandonAfterFork() { template_fd_.Reset(); }

  [[nodiscard]] pid_t owner() const { return owner_; }

 private:
  Factory() = default;

  Result<ThreadNamespaceOpener> SetUpThread(bool build_template) {
    if (auto r = sys::Unshare(CLONE_FS); !r) return std::unexpected(r.error());
    auto opener = ThreadNamespaceOpener::ForCallingThread();
    if (!opener) return std::unexpected(opener.error());
    if (build_template) {
      auto built = BuildTemplateNamespace(*opener);
      if (!built) return std::unexpected(built.error());
      template_fd_ = std::move(*built);
    } else if (auto r = sys::Setns(template_fd_.Get(), CLONE_NEWNS); !r) {
      return std::unexpected(r.error());
    }
    return opener;
  }

  // One namespace, on a factory thread sitting in the template namespace.
  Result<UniqueFd> Build(const ThreadNamespaceOpener& opener, const Job& job) {
    if (auto r = sys::Unshare(CLONE_NEWNS); !r) return std::unexpected(r.error());
    auto result = AttachTree(opener, job);
    // Back to the template whatever happened; on failure this drops the last
    // reference to the half-built namespace.
    if (auto r = sys::Setns(template_fd_.Get(), CLONE_NEWNS); !r) {
      std::lock_guard lock(mutex_);
      broken_ = true;
      return std::unexpected(r.error());
    }
    return result;
  }

  static Result<UniqueFd> AttachTree(const ThreadNamespaceOpener& opener, const Job& job) {
    // Stacks the tree on the template root: no pivot_root, no old root to
    // detach (that detach is what makes pivot_root slow).
    if (auto r = sys::MoveMount(job.tree_fd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH); !r) {
      return std::unexpected(r.error());
    }
    auto ns = opener.Current();
    if (!ns || !job.recursive) return ns;
    // The common case: no mount-namespace file in the tree, found by mount id
    // without entering (which would cost a setns per namespace).
    auto has_files = HasMountNamespaceFiles();
    if (!has_files) return std::unexpected(has_files.error());
    if (!*has_files) return ns;
    // Our root is the template root below the tree; enter properly to see
    // the tree as "/" and unmount the files by path.
    if (auto r = sys::Setns(ns->Get(), CLONE_NEWNS); !r) return std::unexpected(r.error());
    if (auto r = DropMountNamespaceFiles(); !r) return std::unexpected(r.error());
    return ns;
  }

  void Run(bool build_template, std::binary_semaphore* ready, Result<void>* setup) {
    auto opener = SetUpThread(build_template);
    if (!opener) *setup = std::unexpected(opener.error());
    ready->release();  // `setup` and `ready` are gone after this
    if (!opener) return;
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = queue_.front();
        queue_.pop_front();
      }
      job->result = Build(*opener, *job);
      job->done.release();
    }
  }

  Result<void> StartThread(bool build_template) {
    std::binary_semaphore ready{0};
    Result<void> setup = kOk;
    auto thread = StartHelperThread([this, build_template, &ready, &setup] {
      Run(build_template, &ready, &setup);
    });
    if (!thread) return std::unexpected(thread.error());
    ready.acquire();
    if (!setup) {
      thread->join();
      return setup;
    }
    workers_.push_back(std::move(*thread));
    return kOk;
  }

  pid_t owner_ = ::getpid();
  UniqueFd template_fd_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job*> queue_;
  bool stopping_ = false;
  bool broken_ = false;
  std::vector<std::thread> workers_;
};

Result<Factory*> Factory::Start(UniqueFd shared_template) {
  auto* factory = new Factory();
  const bool build_template = !shared_template;
  factory->template_fd_ = std::move(shared_template);
  const unsigned workers = std::min(static_cast<unsigned>(UsableCpuCount()), kMaximumWorkers);
  for (unsigned i = 0; i < workers; ++i) {
    if (auto started = factory->StartThread(build_template && i == 0); !started) {
      factory->Stop();
      delete factory;
      return std::unexpected(started.error());
    }
  }
  return factory;
}

// The one process-wide factory, created on first use (like KernelFeatures()).
struct FactorySlot {
  std::mutex mutex;
  Factory* factory = nullptr;
  UniqueFd shared_template;  // for the next Factory::Start
};

FactorySlot& Slot() {
  static FactorySlot slot;
  return slot;
}

}  // namespace

Result<UniqueFd> TemplateNamespace(UniqueFd tree, bool recursive) {
  Factory* factory = nullptr;
  {
    FactorySlot& slot = Slot();
    std::lock_guard lock(slot.mutex);
    if (slot.factory != nullptr && slot.factory->owner() != ::getpid()) {
      slot.factory->AbandonAfterFork();
      slot.factory = nullptr;
    }
    if (slot.factory == nullptr) {
      auto started = Factory::Start(std::move(slot.shared_template));
      if (!started) return std::unexpected(started.error());
      slot.factory = *started;
    }
    factory = slot.factory;
  }
  return factory->Create(tree.Get(), recursive);
}

void StopTemplateFactory() {
  FactorySlot& slot = Slot();
  std::lock_guard lock(slot.mutex);
  slot.shared_template.Reset();
  if (slot.factory == nullptr) return;
  if (slot.factory->owner() == ::getpid()) {
    slot.factory->Stop();
    delete slot.factory;
  } else {
    slot.factory->AbandonAfterFork();
  }
  slot.factory = nullptr;
}

bool UseSharedTemplate(UniqueFd template_ns) {
  FactorySlot& slot = Slot();
  std::lock_guard lock(slot.mutex);
  if (slot.factory != nullptr && slot.factory->owner() == ::getpid()) return false;
  slot.shared_template = std::move(template_ns);
  return true;
}

void PresentNamespace(std::vector<Mount>& mounts, FieldMask requested) {
  // The template strategy's layout: namespace root <- the marker tmpfs at "/"
  // <- the tree. 7.x hides its nullfs root the same way. Below the marker lie
  // the namespace root (its own parent) on 6.x, and on 7.x the initial
  // namespace's rootfs on an immutable nullfs root that listmount never shows:
  // every listed ancestor of the marker goes.
  const auto marker = std::find_if(mounts.begin(), mounts.end(), [](const Mount& m) {
    return m.fs_type == "tmpfs" && m.sb_source == kTemplateRootSource;
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

}  // namespace mntns::internal
