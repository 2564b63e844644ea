#include "sys/probe.h"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "mntns/fd.h"
#include "sys/uapi.h"

namespace mntns::sys {
namespace {

// The errno of a call that returned `rc`; an fd it returned is closed.
int ErrnoOf(long rc, bool returns_fd) {
  if (rc < 0) return errno;
  if (returns_fd) {
    UniqueFd unexpected(static_cast<int>(rc));  // closed here: a probe keeps nothing
  }
  return 0;
}

}  // namespace

int ProbeSyscallWithNullArgs(long number) {
  return ErrnoOf(::syscall(number, nullptr, nullptr, 0, 0), false);
}

int ProbeOpenTreeOnBadFd(unsigned flags) { return ErrnoOf(::open_tree(-1, "", flags), true); }

int ProbeFsmountOnBadFd(unsigned flags) { return ErrnoOf(::fsmount(-1, flags, 0), true); }

int ProbeMountSetattrWithZeroSize() {
  return ErrnoOf(::mount_setattr(-1, "", AT_EMPTY_PATH, nullptr, 0), false);
}

int ProbeOpenTreeAttrOnBadFd() {
  return ErrnoOf(::syscall(SYS_open_tree_attr, -1, "", AT_EMPTY_PATH, nullptr, 0), true);
}

int ProbeFanotifyInit(unsigned flags) { return ErrnoOf(::fanotify_init(flags, O_RDONLY), true); }

int ProbeClone3IntoBadCgroup(unsigned long long flags) {
  clone_args args{};
  args.flags = flags | CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = INT_MAX;
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  const int err = pid < 0 ? errno : 0;
  // Unreachable (the fd cannot be open); should a kernel ignore the cgroup,
  // the child must not run the caller's code.
  if (pid == 0) ::_exit(127);
  if (pid > 0) ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return err;
}

int ProbeIoctl(int fd, unsigned long request, void* arg) { return ErrnoOf(::ioctl(fd, request, arg), true); }

}  // namespace mntns::sys
