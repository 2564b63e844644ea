// The polyfill's traced step: unshare(UNSHARE_EMPTY_MNTNS) and
// clone3(CLONE_EMPTY_MNTNS) change the calling task's own mount namespace,
// which only that task can do. The filter stops them with SECCOMP_RET_TRACE;
// the supervisor, the ptracer of CMD and of everything CMD starts, rewrites
// the call into the 6.x call that makes the task's own copy (CLONE_NEWNS:
// owned by the task's user namespace, refused where 7.2 refuses it), then
// empties that copy from outside and resets the task's cwd
// (docs/polyfill.md, "How the namespace calls are answered"). The emptied
// task then installs one more filter, which stops its statmount calls here,
// so that its root answers as 7.2's nullfs root does.
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "namespace/internal.h"
#include "polyfill/internal.h"
#include "sys/namespaces.h"
#include "sys/files.h"
#include "sys/process.h"
#include "sys/seccomp.h"
#include "sys/tracing.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns::internal {
namespace {

constexpr unsigned long long kUnshare = 272, kClone3 = 435, kChdir = 80, kSeccomp = 317, kStatmount = 457;
constexpr std::uint64_t kUnshareEmpty = UNSHARE_EMPTY_MNTNS;
constexpr std::uint64_t kCloneEmpty = CLONE_EMPTY_MNTNS;
// A syscall-stop as PTRACE_O_TRACESYSGOOD reports it.
constexpr int kSyscallStop = SIGTRAP | 0x80;
// An injected call's memory ("/", a filter) is written this far below the
// stack pointer: past the 128-byte red zone, on a page the stack has used
// (the kernel does not grow a stack for another process's write).
constexpr std::uint64_t kBelowStack = 256;
constexpr unsigned kSeccompSetModeFilter = 1;    // SECCOMP_SET_MODE_FILTER
// The filter is no sandbox: installing it must not turn on the speculation
// mitigations a sandboxing filter gets (SECCOMP_FILTER_FLAG_SPEC_ALLOW).
constexpr unsigned kSeccompFilterSpecAllow = SECCOMP_FILTER_FLAG_SPEC_ALLOW;

// What the tracer is doing for a task between its seccomp stop and the exit
// of the rewritten call.
struct Step {
  enum class Kind { kNone, kUnshare, kClone3 } kind = Kind::kNone;
  std::uint64_t clone_args = 0;   // the caller's struct clone_args
  std::uint64_t clone_flags = 0;  // its flags as the caller wrote them, restored at the exit
};

// How many seccomp filters task `tid` (0: this process) has, from
// /proc/PID/status's Seccomp_filters; nullopt where it cannot be read.
std::optional<long> SeccompFilters(pid_t tid) {
  const std::string path = tid == 0 ? std::string("/proc/self/status") : fmt::format("/proc/{}/status", tid);
  auto status = sys::ReadProcStatus(AT_FDCWD, path.c_str());
  const auto field = status ? sys::ProcStatusField(*status, "Seccomp_filters") : std::nullopt;
  const auto count = field ? sys::ProcStatusNumbers(*field) : std::vector<unsigned long long>();
  if (count.size() != 1) return std::nullopt;
  return static_cast<long>(count[0]);
}

bool IsGroupStop(int signal) { return signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU; }

// Empties the mount namespace task `tid` is in (its own fresh copy) from a
// child of the supervisor: the child enters that namespace (first its user
// namespace, where the supervisor has no privilege over the namespace but
// owns the user namespace), stacks an empty root on it and pivot_roots onto
// it; pivot_root moves the task's root with the child's. A child, because
// setns(CLONE_NEWUSER) needs a single-threaded process. The empty root is a
// permanently empty directory cloned from `empty_dirs` (EmptyDirectorySource,
// or -1), where creating fails with ENOENT as in 7.2's nullfs root, else
// the template's read-only tmpfs (EROFS). Returns 0 or the errno.
int EmptyNamespaceOf(pid_t tid, int empty_dirs) {
  auto mount_ns = sys::Open(AT_FDCWD, fmt::format("/proc/{}/ns/mnt", tid).c_str(), O_RDONLY | O_CLOEXEC);
  auto user_ns = sys::Open(AT_FDCWD, fmt::format("/proc/{}/ns/user", tid).c_str(), O_RDONLY | O_CLOEXEC);
  if (!mount_ns || !user_ns) return ESRCH;
  // Raw clone3: the child makes raw calls only, and in InstallPolyfill's
  // supervisor process glibc's fork would run the caller's atfork handlers.
  auto child = sys::ForkWithPidfd("polyfill empty namespace helper");
  if (!child) return child.error().code;
  if (child->pid == 0) {
    int err = sys::EnterMountNamespaceInChild(mount_ns->Get());
    if (err == EPERM && sys::EnterUserNamespaceInChild(user_ns->Get()) == 0) {
      err = sys::EnterMountNamespaceInChild(mount_ns->Get());
    }
    if (err == 0) err = sys::EmptyCurrentMountNamespaceInChild(kTemplateRootSource.data(), empty_dirs);
    ::_exit(err);
  }
  auto status = sys::WaitPid(child->pid, 0);
  if (!status) return status.error().code;
  if (!WIFEXITED(status->status)) return ENOMEM;
  return WEXITSTATUS(status->status);
}

class Tracer {
 public:
  // `command`: the task whose exit ends the run (0: none, the run ends when no
  // tracee is left); `running`: tasks seized while they ran (no first stop).
  Tracer(pid_t command, std::span<const pid_t> running) : command_(command) {
    if (command != 0) known_.insert(command);
    known_.insert(running.begin(), running.end());
    // The tracees started as this process is (CMD's parent, InstallPolyfill's
    // caller before the install) and then installed the polyfill's filter.
    if (auto own = SeccompFilters(0)) polyfill_filters_only_ = *own + 1;
  }

  // Serves stops until the command exits (its wait status) or, without a
  // command, until no tracee is left (0). `commit_fd` (or -1): when it
  // becomes readable, `commit(commit_fd)` runs once: the tasks it returns
  // were seized while they ran; where it returns nullopt the run ends at
  // once (ECANCELED).
  Result<int> Run(int signal_fd, int commit_fd, const CommitFunction& commit) {
    for (;;) {
      for (;;) {
        int status = 0;
        const pid_t tid = ::waitpid(-1, &status, __WALL | (signal_fd >= 0 ? WNOHANG : 0));
        if (tid < 0) {
          const int err = errno;
          if (err == EINTR) continue;
          if (err == ECHILD && command_ == 0) return 0;
          return MakeError(err, "waitpid", "the polyfill's tracees");
        }
        if (tid == 0) break;
        if (auto done = Handle(tid, status)) return *done;
        // Exits an injected call waited for, handled as any other.
        while (!exits_.empty()) {
          const auto [gone, its_status] = exits_.back();
          exits_.pop_back();
          if (auto done = Handle(gone, its_status)) return *done;
        }
      }
      if (commit_fd >= 0) {
        pollfd fds[2] = {{signal_fd, POLLIN, 0}, {commit_fd, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents != 0) {
          auto seized = commit(commit_fd);
          if (!seized) return MakeError(ECANCELED, "polyfill tracer", "called off");
          known_.insert(seized->begin(), seized->end());
          commit_fd = -1;
        }
        if ((fds[0].revents & POLLIN) == 0) continue;
      }
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) != sizeof info) continue;
      // A terminal's ^C, ^\ or hangup (SI_KERNEL) went to the whole
      // foreground process group, CMD with us: passing it on would deliver it twice.
      if (command_ != 0 && info.ssi_signo != SIGCHLD &&
          (info.ssi_code != SI_KERNEL || ::getpgid(command_) != ::getpgrp())) {
        ::kill(command_, static_cast<int>(info.ssi_signo));
      }
    }
  }

 private:
  std::optional<int> Handle(pid_t tid, int status) {
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      Forget(tid);
      if (tid == command_) return status;
      return std::nullopt;
    }
    if (!WIFSTOPPED(status)) return std::nullopt;
    const int signal = WSTOPSIG(status);
    const int event = status >> 16;
    if (signal == kSyscallStop) {
      SyscallExit(tid);
    } else if (event == PTRACE_EVENT_SECCOMP) {
      SeccompStop(tid);
    } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) {
      NewTask(tid);
    } else if (event == PTRACE_EVENT_EXEC) {
      // An exec from another thread than the leader: the leader's tid goes on.
      if (auto former = sys::PtraceEventMessage(tid); former && static_cast<pid_t>(*former) != tid) {
        Forget(static_cast<pid_t>(*former));
      }
      Resume(tid);
    } else if (event == PTRACE_EVENT_STOP) {
      if (IsGroupStop(signal)) (void)sys::PtraceListen(tid);
      else FirstStopOrWakeUp(tid);
    } else {
      // A signal-delivery-stop: the signal goes on to the task.
      (void)sys::PtraceContinue(tid, signal);
    }
    return std::nullopt;
  }

  void Forget(pid_t tid) {
    steps_.erase(tid);
    known_.erase(tid);
    held_.erase(tid);
    announced_.erase(tid);
    statmount_trapped_.erase(tid);
  }

  void Resume(pid_t tid) {
    // Between its seccomp stop and its exit a rewritten call must stop at the exit.
    const auto step = steps_.find(tid);
    if (step != steps_.end() && step->second.kind != Step::Kind::kNone) (void)sys::PtraceSyscall(tid, 0);
    else (void)sys::PtraceContinue(tid, 0);
  }

  void SeccompStop(pid_t tid) {
    auto registers = sys::PtraceGetRegisters(tid);
    if (!registers) return Resume(tid);
    Step step;
    if (registers->orig_rax == kUnshare) {
      // unshare(2) adds CLONE_FS to CLONE_NEWNS itself, as 7.2 does for
      // UNSHARE_EMPTY_MNTNS; every other bit is the caller's (unknown ones
      // still give EINVAL, the high half included).
      registers->rdi = (registers->rdi & ~kUnshareEmpty) | CLONE_NEWNS;
      if (!sys::PtraceSetRegisters(tid, *registers)) return Resume(tid);
      step.kind = Step::Kind::kUnshare;
    } else if (registers->orig_rax == kClone3) {
      // A struct clone_args the kernel cannot read (size, address) fails
      // there as it would without the polyfill.
      auto flags = sys::PtracePeek(tid, registers->rdi);
      if (registers->rsi < sizeof(std::uint64_t) || !flags || (*flags & kCloneEmpty) == 0) return Resume(tid);
      // CLONE_NEWNS with CLONE_FS is EINVAL, as CLONE_EMPTY_MNTNS with it on 7.2.
      if (!sys::PtracePoke(tid, registers->rdi, (*flags & ~kCloneEmpty) | CLONE_NEWNS)) return Resume(tid);
      step = {Step::Kind::kClone3, registers->rdi, *flags};
    } else if (registers->orig_rax == kStatmount) {
      return AnswerStatmount(tid, *registers);
    } else {
      return Resume(tid);
    }
    steps_[tid] = step;
    (void)sys::PtraceSyscall(tid, 0);
  }

  void SyscallExit(pid_t tid) {
    const Step step = steps_[tid];
    steps_.erase(tid);
    auto registers = sys::PtraceGetRegisters(tid);
    if (step.kind == Step::Kind::kClone3) {
      (void)sys::PtracePoke(tid, step.clone_args, step.clone_flags);
    } else if (step.kind == Step::Kind::kUnshare && registers && registers->rax == 0) {
      if (const int err = EmptyNamespaceOf(tid, EmptyDirectories()); err != 0) {
        // The task stays in its (non-empty) copy: rare (ENOMEM, a task killed
        // meanwhile), and said by the errno.
        registers->rax = static_cast<unsigned long long>(-static_cast<long long>(err));
        (void)sys::PtraceSetRegisters(tid, *registers);
      } else if (const int err = ResetWorkingDirectory(tid, *registers); err != 0) {
        if (err != ESRCH) KillWithItsCwdOutside(tid);
      } else {
        TrapStatmountOfTheRoot(tid, *registers);
      }
    }
    (void)sys::PtraceContinue(tid, 0);
  }

  void NewTask(pid_t parent) {
    auto message = sys::PtraceEventMessage(parent);
    const auto step = steps_.find(parent);
    const bool empty = step != steps_.end() && step->second.kind == Step::Kind::kClone3;
    if (message) {
      const auto child = static_cast<pid_t>(*message);
      // Filters are inherited: the child of a task that has the statmount one has it too.
      if (statmount_trapped_.count(parent) != 0) statmount_trapped_.insert(child);
      // The child has not run a single instruction of its own yet: it stops
      // first (PTRACE_SEIZE's inherited attach). Its namespace is emptied now.
      const int err = empty ? EmptyNamespaceOf(child, EmptyDirectories()) : 0;
      if (err != 0) ::kill(child, SIGKILL);
      if (held_.erase(child) != 0) {
        known_.insert(child);
        StartChild(child, empty);
      } else {
        announced_[child] = empty;
      }
    }
    if (empty) (void)sys::PtracePoke(parent, step->second.clone_args, step->second.clone_flags);
    Resume(parent);
  }

  void FirstStopOrWakeUp(pid_t tid) {
    if (known_.count(tid) != 0) return void(sys::PtraceContinue(tid, 0));
    const auto announced = announced_.find(tid);
    if (announced == announced_.end()) {
      // Its first stop came before its parent's fork event: wait for that.
      held_.insert(tid);
      return;
    }
    const bool empty = announced->second;
    announced_.erase(announced);
    known_.insert(tid);
    StartChild(tid, empty);
  }

  void StartChild(pid_t tid, bool empty) {
    if (empty) {
      auto registers = sys::PtraceGetRegisters(tid);
      const int err = registers ? ResetWorkingDirectory(tid, *registers) : registers.error().code;
      if (err != 0 && err != ESRCH) KillWithItsCwdOutside(tid);
      if (err == 0) TrapStatmountOfTheRoot(tid, *registers);
    }
    (void)sys::PtraceContinue(tid, 0);
  }

  // The fresh sysfs the empty roots are cloned from, made at the first
  // emptying; -1 where it cannot be (an unprivileged tracer: a sysfs needs
  // CAP_SYS_ADMIN over the network namespace's owner), and the roots are tmpfs.
  int EmptyDirectories() {
    if (!empty_dirs_) {
      auto source = sys::EmptyDirectorySource(kTemplateRootSource.data());
      empty_dirs_ = source ? std::move(*source) : UniqueFd();
    }
    return empty_dirs_->Get();
  }

  // A task whose namespace was emptied but whose cwd could not be moved to
  // its new root (ResetWorkingDirectory writes "/" below its stack pointer:
  // a task whose rsp points nowhere has no room there; or ENOMEM)
  // still reaches the old tree through its cwd, which 7.2 never allows, and
  // it cannot be told that unshare failed, since its namespace did change.
  // It is killed (docs/polyfill.md). Not where the reset said ESRCH: the
  // task is gone (reaped there), and its tid may name another task now.
  static void KillWithItsCwdOutside(pid_t tid) { (void)sys::SignalThread(tid, SIGKILL); }

  // 7.2 puts the caller's cwd at the new root; pivot_root moved it only if it
  // was the old root. The task is made to call chdir("/") itself.
  int ResetWorkingDirectory(pid_t tid, const user_regs_struct& saved) {
    return InjectCall(tid, saved, kChdir, [](std::uint64_t address) {
      std::vector<std::uint64_t> words{std::uint64_t{'/'}};
      return std::pair{words, std::array<std::uint64_t, 3>{address, 0, 0}};
    });
  }

  // The task, whose namespace was just emptied, installs
  // EmptyRootStatmountFilter(), allowed since it holds CAP_SYS_ADMIN in its
  // user namespace (which the unshare or clone3 needed). Once per task: its
  // children inherit it. Where that fails its statmount answers stay the
  // kernel's, of the sysfs or tmpfs root (docs/polyfill.md).
  // A task with filters of its own besides the polyfill's is left alone: its
  // filter could kill it for the seccomp() call, or stop it at a supervisor
  // of its own that waits for this tracer.
  void TrapStatmountOfTheRoot(pid_t tid, const user_regs_struct& saved) {
    if (statmount_trapped_.count(tid) != 0) return;
    if (!polyfill_filters_only_ || SeccompFilters(tid) != polyfill_filters_only_) return;
    const std::vector<sock_filter> filter = EmptyRootStatmountFilter();
    const int err = InjectCall(tid, saved, kSeccomp, [&](std::uint64_t address) {
      // struct sock_fprog {u16 len; u64 filter;} at `address`, the
      // instructions right after it.
      std::vector<std::uint64_t> words{filter.size(), address + 16};
      for (const sock_filter& instruction : filter) {
        std::uint64_t word = 0;
        std::memcpy(&word, &instruction, sizeof word);
        words.push_back(word);
      }
      return std::pair{words, std::array<std::uint64_t, 3>{kSeccompSetModeFilter, kSeccompFilterSpecAllow, address}};
    });
    if (err == 0) statmount_trapped_.insert(tid);
  }

  // statmount from a task whose namespace was emptied: where the request
  // names the emulation's empty root (by id, in the task's namespace), the
  // call is skipped and answered with 7.2's nullfs root; every other
  // request goes on to the kernel unchanged. BY_FD (by the fd's mount)
  // stops here only where the kernel has it (7.0): on 6.x the first
  // filter's notification wins and the supervisor answers the same way.
  void AnswerStatmount(pid_t tid, user_regs_struct registers) {
    auto answer = EmptyRootAnswer(tid, registers);
    if (!answer) return Resume(tid);
    long long value = 0;
    if (!*answer) {
      value = -static_cast<long long>(answer->error().code);
    } else if (!answer->value().empty()) {
      auto put = sys::WriteProcessMemory(tid, registers.rsi, answer->value());
      if (!put || *put != answer->value().size()) value = -EFAULT;
    }
    registers.orig_rax = ~0ULL;  // skipped: the task gets rax
    registers.rax = static_cast<unsigned long long>(value);
    if (!sys::PtraceSetRegisters(tid, registers)) return Resume(tid);
    (void)sys::PtraceContinue(tid, 0);
  }

  static std::optional<Result<std::vector<std::byte>>> EmptyRootAnswer(pid_t tid, const user_regs_struct& registers) {
    // Unknown flags are the kernel's.
    const auto flags = static_cast<unsigned>(registers.r10);
    if (flags != 0 && flags != sys::kStatmountByFd) return std::nullopt;
    // Any request the kernel refuses is the kernel's to refuse.
    auto read = ReadMntIdReq(tid, registers.rdi);
    if (!read) return std::nullopt;
    sys::MntIdReq request = *read;
    if (flags == sys::kStatmountByFd) {
      // Only where BY_FD is native (7.0): on 6.x the first filter sends it
      // to the supervisor. The fd's mount, by id, as below.
      if (request.mnt_id != 0 || request.mnt_ns_id != 0) return std::nullopt;
      auto pidfd = sys::PidfdOpen(tid, sys::kPidfdThread);
      auto fd = pidfd ? sys::PidfdGetFd(pidfd->Get(), static_cast<int>(request.mnt_ns_fd_or_mnt_fd))
                      : Result<UniqueFd>(std::unexpected(pidfd.error()));
      auto id = fd ? sys::UniqueMountIdOf(fd->Get(), "", AT_EMPTY_PATH) : Result<std::uint64_t>(std::unexpected(fd.error()));
      if (!id) return std::nullopt;
      request.mnt_id = *id;
    } else if (request.mnt_ns_fd_or_mnt_fd != 0) {
      return std::nullopt;
    }
    auto mount_ns = sys::Open(AT_FDCWD, fmt::format("/proc/{}/ns/mnt", tid).c_str(), O_RDONLY | O_CLOEXEC);
    if (!mount_ns) return std::nullopt;
    auto ns_id = sys::MountNamespaceId(mount_ns->Get());
    if (!ns_id || (request.mnt_ns_id != 0 && request.mnt_ns_id != *ns_id)) return std::nullopt;
    // Seen from the task, the root's mount point is "/" only while the task
    // stands on it (after mounting over it and chroot()ing in, it is outside).
    auto root = sys::UniqueMountIdOf(AT_FDCWD, fmt::format("/proc/{}/root", tid).c_str(), 0);
    return EmptyRootStatmount(request.mnt_id, *ns_id, request.param, registers.rdx,
                              root && *root == request.mnt_id);
  }

  // Makes the task, stopped right after a syscall instruction with
  // registers `saved`, make one more call itself: `number`, with the
  // arguments `build(address)` returns along with the words it wants at
  // `address` (below the stack pointer). Its registers are pointed back at
  // that instruction with the call's number, and its memory and registers
  // restored afterwards. A signal that arrives meanwhile is sent again
  // after. Returns 0 or the call's (or ptrace's) errno.
  using InjectedCall = std::function<std::pair<std::vector<std::uint64_t>, std::array<std::uint64_t, 3>>(
      std::uint64_t address)>;
  int InjectCall(pid_t tid, const user_regs_struct& saved, unsigned long long number, const InjectedCall& build) {
    // Sized with a dry run: the words' count does not depend on the address.
    const std::size_t count = build(0).first.size();
    const std::uint64_t address = (saved.rsp - kBelowStack - 8 * count) & ~std::uint64_t{7};
    const auto [words, arguments] = build(address);
    std::vector<std::uint64_t> old;
    int err = 0;
    for (std::size_t i = 0; i < words.size() && err == 0; ++i) {
      auto word = sys::PtracePeek(tid, address + 8 * i);
      if (!word) err = word.error().code;
      else if (old.push_back(*word); !sys::PtracePoke(tid, address + 8 * i, words[i])) err = EFAULT;
    }
    user_regs_struct call = saved;
    call.orig_rax = number;
    call.rax = number;
    call.rdi = arguments[0];
    call.rsi = arguments[1];
    call.rdx = arguments[2];
    call.rip = saved.rip - 2;  // `syscall` is two bytes
    std::optional<int> deferred;
    if (err == 0) {
      if (auto r = sys::PtraceSetRegisters(tid, call); !r) err = r.error().code;
      else if (auto r2 = sys::PtraceSyscall(tid, 0); !r2) err = r2.error().code;
    }
    for (int syscall_stops = 0; err == 0 && syscall_stops < 2;) {
      int status = 0;
      if (::waitpid(tid, &status, __WALL) != tid) {
        if (errno == EINTR) continue;
        err = ESRCH;
        break;
      }
      if (!WIFSTOPPED(status)) {
        exits_.emplace_back(tid, status);  // Run handles it (the command's status ends the run)
        err = ESRCH;
        break;
      }
      if (WSTOPSIG(status) == kSyscallStop) ++syscall_stops;
      else if ((status >> 16) == 0) deferred = WSTOPSIG(status);
      if (syscall_stops < 2) (void)sys::PtraceSyscall(tid, 0);
    }
    if (err == 0) {
      auto after = sys::PtraceGetRegisters(tid);
      if (!after) err = after.error().code;
      else if (static_cast<long long>(after->rax) < 0) err = static_cast<int>(-static_cast<long long>(after->rax));
    }
    for (std::size_t i = 0; i < old.size(); ++i) (void)sys::PtracePoke(tid, address + 8 * i, old[i]);
    (void)sys::PtraceSetRegisters(tid, saved);
    if (deferred) (void)sys::SignalThread(tid, *deferred);
    return err;
  }

  pid_t command_;
  std::map<pid_t, Step> steps_;
  std::set<pid_t> known_;               // tasks past their first stop
  std::set<pid_t> held_;                // first stop seen, parent's event not yet
  std::map<pid_t, bool> announced_;     // parent's event seen, first stop not yet (bool: empty it)
  std::set<pid_t> statmount_trapped_;   // tasks that have EmptyRootStatmountFilter()
  std::optional<UniqueFd> empty_dirs_;  // EmptyDirectories(), once tried
  std::optional<long> polyfill_filters_only_;          // a tracee's filter count with no filter of its own
  std::vector<std::pair<pid_t, int>> exits_;           // exits InjectCall reaped, for Run
};

}  // namespace

unsigned TracerOptions() {
  return PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
         PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;
}

Result<int> TraceUntilExit(pid_t command, int signal_fd) { return Tracer(command, {}).Run(signal_fd, -1, {}); }

Result<void> TraceUntilNoneIsLeft(std::span<const pid_t> seized, int signal_fd, int commit_fd,
                                  const CommitFunction& commit) {
  auto done = Tracer(0, seized).Run(signal_fd, commit_fd, commit);
  if (!done) return std::unexpected(done.error());
  return kOk;
}

Result<int> WaitForwarding(pid_t command, int pidfd, int signal_fd) {
  while (signal_fd >= 0) {
    pollfd fds[2] = {{pidfd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if ((fds[0].revents & POLLIN) != 0) break;
    signalfd_siginfo info{};
    if ((fds[1].revents & POLLIN) != 0 && ::read(signal_fd, &info, sizeof info) == sizeof info &&
        info.ssi_signo != SIGCHLD && (info.ssi_code != SI_KERNEL || ::getpgid(command) != ::getpgrp())) {
      ::kill(command, static_cast<int>(info.ssi_signo));
    }
  }
  auto status = sys::WaitPid(command, 0);
  if (!status) return std::unexpected(status.error());
  return status->status;
}

}  // namespace mntns::internal
