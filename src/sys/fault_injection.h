// The fault-injection seam of the raw-syscall layer: in a test build of the
// library (CMake option MNTNS_FAULT_INJECTION, which defines
// MNTNS_FAULT_INJECTION=1 for the separate mntns_fault_injection objects only)
// every wrapper of src/sys asks InjectFault() before its system call, and a
// test can make the N-th call of one kind fail with an errno of its choice.
// In the shipped library InjectFault() is a constant false: no code, no state.
#pragma once

#include <cstddef>

namespace mntns::sys {

// The system calls that can be made to fail, one per kernel entry point the
// wrappers use (every ioctl request is kIoctl, every prctl option kPrctl).
enum class Call : int {
  kOpen,            // openat(2) (Open)
  kOpenat2,
  kMemfdCreate,
  kFcntl,           // F_ADD_SEALS, F_GET_SEALS, F_SETLK, F_SETFD, F_DUPFD_CLOEXEC
  kStatmount,
  kListmount,
  kStatx,           // UniqueMountIdOf, IsMountRoot
  kFstat,
  kOpenTree,
  kFsopen,
  kFsmount,
  kFsconfig,
  kMoveMount,
  kMountSetattr,
  kIoctl,
  kSetns,
  kUnshare,
  kPivotRoot,
  kUmount2,
  kFchdir,
  kChdir,
  kPidfdOpen,
  kPidfdSendSignal,
  kCapset,
  kSocket,
  kFork,
  kClone3,
  kPipe2,
  kSocketpair,
  kWaitpid,
  kWaitid,
  kSignalfd,
  kPrctl,
  kFlock,
  kMkdir,           // mkdirat(2)
  kSymlink,         // symlinkat(2)
  kChmod,           // fchmod(2)
  kRename,          // renameat(2)
  kUtimensat,
  kChroot,
  kGetrandom,
  kPoll,
  kCloseRange,
  kRead,
  kWrite,
  kPread,
  kStatfs,
  kFstatfs,
  kFstatat,
  kReadlink,        // readlinkat(2)
  kSetresuid,
  kSetresgid,
  kSetsid,
  kSendmsg,
  kRecvmsg,
  kFstatvfs,
  kSethostname,
  kUnlink,          // unlinkat(2) of a file
  kCount,
};

#if MNTNS_FAULT_INJECTION

// True when this call is the one armed (see fault_injection_control.h): errno
// is then set to the armed errno and the wrapper must fail as if the kernel
// had answered it, without making the call. Async-signal-safe (atomics and
// raw system calls only), so it may run in a child between clone3 and exec.
[[nodiscard]] bool InjectFault(Call call) noexcept;

#else

[[nodiscard]] constexpr bool InjectFault(Call) noexcept { return false; }

#endif

}  // namespace mntns::sys
