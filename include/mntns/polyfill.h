// The 7.x mount calls for unmodified programs on 6.8+ kernels: a seccomp filter
// that traps only open_tree(OPEN_TREE_NAMESPACE), fsmount(FSMOUNT_NAMESPACE)
// and statmount(STATMOUNT_BY_FD), answered by a supervisor with this library's
// emulations (OpenTreeNamespace, FsmountNamespace, StatmountByFd), and
// unshare(UNSHARE_EMPTY_MNTNS) and clone3(CLONE_EMPTY_MNTNS) through a traced
// step. Design and limits: docs/polyfill.md.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "mntns/error.h"
#include "mntns/export.h"

namespace mntns {

// Which calls the polyfill traps: those the running kernel lacks
// (KernelFeatures(), so a feature profile counts). All false on 7.1+, where
// the polyfill installs nothing.
struct PolyfillCalls {
  bool open_tree_namespace = false;  // open_tree(..., OPEN_TREE_NAMESPACE), native 7.0
  bool fsmount_namespace = false;    // fsmount(..., FSMOUNT_NAMESPACE, ...), native 7.1
  bool statmount_by_fd = false;      // statmount(..., STATMOUNT_BY_FD), native 7.0
  // unshare(UNSHARE_EMPTY_MNTNS), clone3(CLONE_EMPTY_MNTNS), native 7.1:
  // traced (the supervisor becomes the caller's ptracer).
  bool empty_mount_namespace = false;
  [[nodiscard]] bool Any() const {
    return open_tree_namespace || fsmount_namespace || statmount_by_fd || empty_mount_namespace;
  }
};

[[nodiscard]] MNTNS_EXPORT PolyfillCalls PolyfillNeeded();

// Installs the polyfill for every thread of the calling process (seccomp
// TSYNC) and every process and thread they start later, across exec() too.
// The supervisor is a process of its own (a grandchild in a session of its
// own, named "mntns-polyfill", holding none of the caller's fds): the caller
// stays single-threaded, and its later setuid() or exec() does not end the
// service. It lives until the caller and everything it started are gone.
// It also traces the caller (unshare/clone3 above); where it cannot (another
// tracer holds a thread, or ptrace is refused) those two calls stay native
// and empty_mount_namespace is false in the result, which says what was
// trapped. A caller that is a subreaper or a pid namespace's init becomes
// the supervisor's parent (docs/polyfill.md, "Lifetime"). Nothing is installed (and nothing started) where PolyfillNeeded()
// is all false. Sets no_new_privs where the calling thread lacks
// CAP_SYS_ADMIN (seccomp requires one of them). Errors: EINVAL/EBUSY/EACCES
// from seccomp (e.g. a thread that cannot be synchronised); fork's and
// socketpair's where the supervisor cannot be started (ESRCH where it ended
// before it answered); EPERM after unshare(CLONE_NEWPID) without the
// privilege to leave and remake the pending namespace. Minimum kernel: 5.14
// (SECCOMP_ADDFD_FLAG_SEND), 6.8 for the emulations. Call it once.
[[nodiscard]] MNTNS_EXPORT Result<PolyfillCalls> InstallPolyfill();

// Runs `command` (argv; argv[0] searched in $PATH as execvp does) in a child
// that has the polyfill's filter, serves its trapped calls (and those of
// every process it starts) on the calling thread until the child exits, and
// returns the child's wait status. Descendants that outlive the child get
// ENOSYS for the trapped calls. Where PolyfillNeeded() is all false the child
// is started without any filter. A child that cannot install the filter or
// exec exits 127 and this call reports that step's error instead.
// Where empty_mount_namespace is trapped the calling thread is the ptracer of
// the child and of every task it starts (so nobody else can trace them; the
// calling thread must not wait for other children meanwhile: it reaps with
// waitpid(-1)). Each signal in `forward_signals` that reaches the calling
// process while the child runs is sent on to the child (blocked in the
// calling thread meanwhile, as SIGCHLD is; from a terminal (SI_KERNEL), and
// the child in our process group, it reached the child already and is not
// sent twice).
[[nodiscard]] MNTNS_EXPORT Result<int> RunUnderPolyfill(const std::vector<std::string>& command,
                                                        std::span<const int> forward_signals = {});

}  // namespace mntns
