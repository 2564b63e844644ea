// Raw calls for the feature probe (src/features.cc): each is a call the kernel
// must reject, and what the probe needs is which errno it picked. They return
// that errno, or 0 if the call succeeded (then any fd it made is closed).
#pragma once

namespace mntns::sys {

// syscall(number, NULL, NULL, 0, 0): EFAULT where it exists, ENOSYS where not.
[[nodiscard]] int ProbeSyscallWithNullArgs(long number);
// open_tree(-1, "", flags).
[[nodiscard]] int ProbeOpenTreeOnBadFd(unsigned flags);
// fsmount(-1, flags, 0).
[[nodiscard]] int ProbeFsmountOnBadFd(unsigned flags);
// mount_setattr(-1, "", AT_EMPTY_PATH, NULL, 0): size 0 is below MOUNT_ATTR_SIZE_VER0.
[[nodiscard]] int ProbeMountSetattrWithZeroSize();
// open_tree_attr(-1, "", AT_EMPTY_PATH, NULL, 0).
[[nodiscard]] int ProbeOpenTreeAttrOnBadFd();
// fanotify_init(flags, O_RDONLY).
[[nodiscard]] int ProbeFanotifyInit(unsigned flags);
// clone3(flags | CLONE_INTO_CGROUP) with cgroup fd INT_MAX, which no process
// can have open: a kernel that knows every flag fails at the cgroup (EBADF),
// or earlier for want of privilege (EPERM); one that does not, with EINVAL at
// the flag check before. No child ever runs.
[[nodiscard]] int ProbeClone3IntoBadCgroup(unsigned long long flags);
// ioctl(fd, request, arg); a returned fd is closed.
[[nodiscard]] int ProbeIoctl(int fd, unsigned long request, void* arg);

}  // namespace mntns::sys
