// The raw ptrace(2) layer for the polyfill's traced step (docs/polyfill.md):
// the calls that change the calling task's own mount namespace
// (unshare(UNSHARE_EMPTY_MNTNS), clone3(CLONE_EMPTY_MNTNS)) can only be made
// by that task, so the supervisor rewrites them at their seccomp stop. x86_64
// only. Each wrapper names the request and the tid in its Error.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>

#include "mntns/error.h"

namespace mntns::sys {

// PTRACE_SEIZE (3.4) with `options` (PTRACE_O_*): the task keeps running;
// its stops are reported to the calling thread's waitpid.
[[nodiscard]] Result<void> PtraceSeize(pid_t tid, unsigned options);

// PTRACE_CONT / PTRACE_SYSCALL (stop again at the syscall's exit) /
// PTRACE_LISTEN (stay in the group-stop, report the next event), delivering
// `signal` (0: none) where the stop is a signal-delivery-stop.
[[nodiscard]] Result<void> PtraceContinue(pid_t tid, int signal);
[[nodiscard]] Result<void> PtraceSyscall(pid_t tid, int signal);
[[nodiscard]] Result<void> PtraceListen(pid_t tid);

// PTRACE_GETEVENTMSG: the new task's tid at a fork/vfork/clone event stop.
[[nodiscard]] Result<unsigned long> PtraceEventMessage(pid_t tid);

// PTRACE_GETREGS / PTRACE_SETREGS of a stopped tracee.
[[nodiscard]] Result<user_regs_struct> PtraceGetRegisters(pid_t tid);
[[nodiscard]] Result<void> PtraceSetRegisters(pid_t tid, const user_regs_struct& registers);

// PTRACE_PEEKDATA / PTRACE_POKEDATA of one 8-byte word (FOLL_FORCE: works
// on any mapped page of the tracee, its stack below the red zone included).
[[nodiscard]] Result<std::uint64_t> PtracePeek(pid_t tid, std::uint64_t address);
[[nodiscard]] Result<void> PtracePoke(pid_t tid, std::uint64_t address, std::uint64_t word);

// tkill(2): `signal` to the one thread `tid` (a signal the tracer held back
// while the thread made a call for it).
[[nodiscard]] Result<void> SignalThread(pid_t tid, int signal);

}  // namespace mntns::sys
