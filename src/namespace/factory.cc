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
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <thread>
#include <vector>

#include "mntns/namespace.h"
#include "namespace/internal.h"
#include "sys/namespaces.h"
#include "sys/seccomp.h"
#include "sys/syscalls.h"

namespace mntns::internal {
namespace {

// Factory threads: enough to keep two cores busy; more only queue in the
// kernel's namespace lock.
constexpr unsigned kMaximumWorkers = 4;

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

// ---- the factory: worker threads sitting in the template ------------------------

class TemplateFactory {
 public:
  TemplateFactory(UniqueFd shared_template, TemplateFactoryOptions options)
      : template_fd_(std::move(shared_template)), options_(std::move(options)) {
    if (options_.workers == 0) {
      options_.workers = std::min(static_cast<unsigned>(UsableCpuCount()), kMaximumWorkers);
    }
  }
  TemplateFactory(const TemplateFactory&) = delete;
  TemplateFactory& operator=(const TemplateFactory&) = delete;
  // Only ever destroyed stopped (or abandoned after a fork, and then leaked).
  ~TemplateFactory() = default;

  // Starts the threads; the first one builds the template namespace unless
  // one (a keeper's) was given.
  Result<void> Start() {
    auto credentials = sys::CallingThreadCredentials();
    if (!credentials) return std::unexpected(credentials.error());
    credentials_ = std::move(*credentials);
    const bool build_template = !template_fd_;
    for (unsigned i = 0; i < options_.workers; ++i) {
      if (auto started = StartThread(build_template && i == 0); !started) {
        Stop();
        return started;
      }
    }
    return kOk;
  }

  // nullopt: the factory is stopping and took no job (the caller asks the
  // slot for the next factory).
  std::optional<Result<UniqueFd>> Create(int tree_fd, bool recursive) {
    Job job;
    job.tree_fd = tree_fd;
    job.recursive = recursive;
    // Queued only while a worker is listed, in one critical section: the last
    // worker may retire between a check and a push, and a job queued with no
    // worker would wait forever. A retiring worker is still listed until its
    // caller's ReplaceRetired, which fails what is queued if it cannot start
    // a replacement.
    for (;;) {
      std::unique_lock lock(mutex_);
      if (stopping_) return std::nullopt;
      if (!workers_.empty()) {
        queue_.push_back(&job);
        break;
      }
      lock.unlock();
      // Every worker retired and no replacement could start: try again here.
      if (auto r = StartThread(false); !r) return std::unexpected(r.error());
    }
    wake_.notify_one();
    job.done.acquire();
    if (job.retired_worker) ReplaceRetired(*job.retired_worker);
    return std::move(job.result);
  }

  // Serves what is queued, then joins every thread. Create calls that come
  // later get nullopt. Safe to call more than once, from any thread but a worker.
  void Stop() {
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      workers.swap(workers_);
    }
    wake_.notify_all();
    for (std::thread& worker : workers) worker.join();
    // Workers serve the queue before they exit; jobs are left only where
    // every worker had retired. Their callers must not wait forever.
    std::lock_guard lock(mutex_);
    for (Job* job : queue_) {
      job->result = MakeError(EAGAIN, "template factory", "stopped with no worker left");
      job->done.release();
    }
    queue_.clear();
  }

  // In a forked child the threads do not exist: drop the fd copies. The
  // object must then leak (destroying a joinable std::thread terminates).
  void AbandonAfterFork() { template_fd_.Reset(); }

  [[nodiscard]] pid_t owner() const { return owner_; }

 private:
  struct Job {
    int tree_fd = -1;
    bool recursive = false;
    Result<UniqueFd> result;
    // Set when the worker could not return to the template and left: the
    // caller starts the next one (which takes the factory's credentials and
    // a fs_struct of its own, SetUpThread).
    std::optional<std::thread::id> retired_worker;
    std::binary_semaphore done{0};
  };

  Result<ThreadNamespaceOpener> SetUpThread(bool build_template) {
    // A replacement starts with the credentials of the thread that called
    // Create, which may have taken on a caller's (the polyfill's supervisor
    // does): every worker has those of the thread that started the factory.
    if (auto r = sys::AdoptThreadCredentials(credentials_); !r) return std::unexpected(r.error());
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

  Result<void> ReturnToTemplate() {
    if (options_.return_to_template) return options_.return_to_template(template_fd_.Get());
    return sys::Setns(template_fd_.Get(), CLONE_NEWNS);
  }

  static Result<UniqueFd> AttachTree(const ThreadNamespaceOpener& opener, const Job& job) {
    // No tree: the fresh copy of the template is the empty namespace.
    if (job.tree_fd < 0) return opener.Current();
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
      if (auto r = sys::Unshare(CLONE_NEWNS); !r) {
        job->result = std::unexpected(r.error());
        job->done.release();
        continue;
      }
      job->result = AttachTree(*opener, *job);
      // Back to the template whatever happened; on failure this drops the
      // last reference to the half-built namespace.
      if (auto r = ReturnToTemplate(); !r) {
        // Still in that job's namespace: every later job would be a copy of
        // it. This thread leaves (exiting drops the namespace); the job
        // reports why and its caller starts a replacement.
        job->result = std::unexpected(r.error());
        job->retired_worker = std::this_thread::get_id();
        job->done.release();
        return;
      }
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
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) {
        workers_.push_back(std::move(*thread));
        return kOk;
      }
    }
    // Stop() ran meanwhile and will not see this thread: it serves what is
    // left in the queue, sees the stop and ends.
    wake_.notify_all();
    thread->join();
    return kOk;
  }

  void ReplaceRetired(std::thread::id retired) {
    std::thread leaving;
    {
      std::lock_guard lock(mutex_);
      const auto found = std::find_if(workers_.begin(), workers_.end(),
                                      [retired](const std::thread& t) { return t.get_id() == retired; });
      if (found == workers_.end()) return;  // Stop() took it
      leaving = std::move(*found);
      workers_.erase(found);
    }
    leaving.join();
    auto started = StartThread(false);
    if (started) return;
    // A thread fewer. With none left, what is queued would wait forever: it
    // fails with the reason, and the next Create tries to start one again.
    std::lock_guard lock(mutex_);
    if (!workers_.empty()) return;
    for (Job* job : queue_) {
      job->result = std::unexpected(started.error());
      job->done.release();
    }
    queue_.clear();
  }

  const pid_t owner_ = ::getpid();
  UniqueFd template_fd_;
  TemplateFactoryOptions options_;
  sys::ThreadCredentials credentials_;  // Start()'s caller's, for every worker
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job*> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

namespace {

// The one process-wide factory, created on first use (like KernelFeatures()).
// Callers hold a shared_ptr while they use it, so StopTemplateFactory never
// deletes a factory under them. The mutex guards these fields only and is
// never held across a start (which builds the template: O(caller's mounts)):
// concurrent first callers wait on `start`, and a child forked meanwhile,
// which has no builder thread, starts a factory of its own.
struct FactoryStart {
  Result<std::shared_ptr<TemplateFactory>> result = MakeError(EAGAIN, "start template factory");
  // Waited on with a futex, not a condition variable: one copied into a
  // forked child with the parent's waiters in it is never signalled there.
  std::atomic<bool> done{false};
};

struct FactorySlot {
  std::mutex mutex;
  std::shared_ptr<TemplateFactory> factory;
  std::shared_ptr<FactoryStart> start;  // while one runs
  pid_t start_owner = 0;  // the process whose thread runs `start`
  UniqueFd shared_template;  // for the next start
};

FactorySlot& Slot() {
  // Never destroyed: a factory's threads must not outlive it at exit, and
  // one abandoned after a fork can only leak. A fork while another thread
  // holds the mutex would copy it locked into the child, where the factory is
  // used again (InstallPolyfill's supervisor process is such a child): a fork
  // through glibc waits for it.
  static FactorySlot* slot = [] {
    auto* made = new FactorySlot;
    ::pthread_atfork([] { Slot().mutex.lock(); }, [] { Slot().mutex.unlock(); }, [] { Slot().mutex.unlock(); });
    return made;
  }();
  return *slot;
}

// After a fork the slot describes the parent's factory: its threads, and the
// thread that may have been starting one, exist only there.
void ForgetParentFactory(FactorySlot& slot) {
  const pid_t self = ::getpid();
  if (slot.factory && slot.factory->owner() != self) {
    slot.factory->AbandonAfterFork();
    new std::shared_ptr<TemplateFactory>(std::move(slot.factory));  // leaked on purpose (see above)
    slot.factory.reset();
  }
  if (slot.start && slot.start_owner != self) slot.start.reset();  // its waiters are in the parent
}

Result<std::shared_ptr<TemplateFactory>> AcquireFactory() {
  FactorySlot& slot = Slot();
  std::unique_lock lock(slot.mutex);
  ForgetParentFactory(slot);
  if (slot.factory) return slot.factory;
  if (slot.start) {
    const std::shared_ptr<FactoryStart> start = slot.start;
    lock.unlock();
    start->done.wait(false);
    return start->result;
  }
  const auto start = std::make_shared<FactoryStart>();
  slot.start = start;
  slot.start_owner = ::getpid();
  UniqueFd shared_template = std::move(slot.shared_template);
  lock.unlock();

  Result<std::shared_ptr<TemplateFactory>> started = StartTemplateFactory(std::move(shared_template), {});

  lock.lock();
  if (slot.start == start) slot.start.reset();
  if (started) slot.factory = *started;
  lock.unlock();
  start->result = started;
  start->done = true;
  start->done.notify_all();
  return started;
}

}  // namespace

Result<std::shared_ptr<TemplateFactory>> StartTemplateFactory(UniqueFd shared_template,
                                                              TemplateFactoryOptions options) {
  auto factory = std::make_shared<TemplateFactory>(std::move(shared_template), std::move(options));
  if (auto r = factory->Start(); !r) return std::unexpected(r.error());
  return factory;
}

std::optional<Result<UniqueFd>> CreateInTemplateFactory(TemplateFactory& factory, int tree_fd, bool recursive) {
  return factory.Create(tree_fd, recursive);
}

void StopTemplateFactory(TemplateFactory& factory) { factory.Stop(); }

Result<UniqueFd> TemplateNamespace(UniqueFd tree, bool recursive) {
  for (;;) {
    auto factory = AcquireFactory();
    if (!factory) return std::unexpected(factory.error());
    // A factory that StopTemplateFactory stopped after we took it serves no
    // more jobs: the slot has (or starts) the next one.
    if (auto created = (*factory)->Create(tree.Get(), recursive)) return std::move(*created);
  }
}

Result<void> PrepareTemplateFactory() {
  auto factory = AcquireFactory();
  if (!factory) return std::unexpected(factory.error());
  return kOk;
}

void ForgetInheritedTemplateFactory() {
  FactorySlot& slot = Slot();
  std::lock_guard lock(slot.mutex);
  ForgetParentFactory(slot);
  slot.shared_template.Reset();
}

void StopTemplateFactory() {
  FactorySlot& slot = Slot();
  std::shared_ptr<TemplateFactory> factory;
  {
    std::lock_guard lock(slot.mutex);
    ForgetParentFactory(slot);
    slot.shared_template.Reset();
    factory = std::move(slot.factory);
    slot.factory.reset();
  }
  // Outside the lock: joining waits for the jobs in flight. Threads still
  // holding the factory get nullopt from Create and move on to the next one.
  if (factory) factory->Stop();
}

bool UseSharedTemplate(UniqueFd template_ns) {
  FactorySlot& slot = Slot();
  std::lock_guard lock(slot.mutex);
  ForgetParentFactory(slot);
  if (slot.factory || slot.start) return false;
  slot.shared_template = std::move(template_ns);
  return true;
}

}  // namespace mntns::internal
