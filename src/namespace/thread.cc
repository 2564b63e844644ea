// ThreadNamespaceOpener: the mount namespace a thread is in, as an nsfs fd.
#include <fcntl.h>

#include "namespace/internal.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"

namespace mntns::internal {

Result<ThreadNamespaceOpener> ThreadNamespaceOpener::ForCallingThread() {
  ThreadNamespaceOpener opener;
  // A thread pidfd needs 6.9 and PIDFD_GET_MNT_NAMESPACE 6.11; both are
  // cheaper than a path walk through /proc for every namespace.
  if (auto pidfd = sys::PidfdOpen(sys::ThreadId(), sys::kPidfdThread); pidfd) {
    if (auto probe = sys::PidfdMountNamespace(pidfd->Get()); probe) {
      opener.pidfd_ = std::move(*pidfd);
      return opener;
    }
  }
  // /proc/thread-self names the calling thread; the directory fd keeps
  // pointing at it after the thread's root changes.
  auto dir = sys::Open(AT_FDCWD, "/proc/thread-self", O_RDONLY | O_DIRECTORY);
  if (!dir) return std::unexpected(dir.error());
  opener.proc_dir_ = std::move(*dir);
  return opener;
}

Result<UniqueFd> ThreadNamespaceOpener::Current() const {
  if (pidfd_) return sys::PidfdMountNamespace(pidfd_.Get());
  return sys::Open(proc_dir_.Get(), "ns/mnt", O_RDONLY);
}

}  // namespace mntns::internal
