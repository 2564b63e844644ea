// InstallPolyfill's supervisor: a process of its own, not a thread of the
// caller's. unshare(UNSHARE_EMPTY_MNTNS) and clone3(CLONE_EMPTY_MNTNS) need a
// ptracer (tracer.cc), which a process cannot be of itself; and a thread of
// the caller would make it multi-threaded (no unshare(CLONE_NEWUSER) after
// that), would lose its privileges with the caller's setuid(), and would end
// with its exec(). So a grandchild of the caller seizes every thread of the
// caller, receives the filter's listener, answers the notifications and
// traces the caller and everything it starts until none of them is left
// (docs/polyfill.md, "Lifetime, failure, threads, static programs").
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "helper_thread.h"
#include "namespace/internal.h"
#include "polyfill/internal.h"
#include "sys/fd_passing.h"
#include "sys/namespaces.h"
#include "sys/process.h"
#include "sys/syscalls.h"
#include "sys/tracing.h"

namespace mntns::internal {
namespace {

// The tids of process `pid` as /proc lists them now; empty where /proc
// cannot be read.
std::vector<pid_t> ThreadsOf(pid_t pid) {
  std::vector<pid_t> tids;
  DIR* dir = ::opendir(fmt::format("/proc/{}/task", pid).c_str());
  if (dir == nullptr) return tids;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] >= '1' && entry->d_name[0] <= '9') tids.push_back(static_cast<pid_t>(std::atoi(entry->d_name)));
  }
  ::closedir(dir);
  return tids;
}

// The supervisor's own state: nothing of the caller's but what it needs.
// Its signal handlers are the caller's code and its mask the caller's
// choice; its fds would keep the caller's pipes and files open; its cwd
// would keep a mount busy. Returns the channel's fd number now (3).
int LeaveTheCallersState(int channel) {
  ForgetInheritedTemplateFactory();
  struct sigaction plain {};
  plain.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) (void)::sigaction(sig, &plain, nullptr);
  }
  constexpr int kChannel = 3;
  if (channel != kChannel && ::dup2(channel, kChannel) != kChannel) ::_exit(0);
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) (void)::close_range(0, kChannel - 1, 0);  // no /dev/null here: none rather than the caller's
  for (int fd = 0; fd < kChannel && null >= 0; ++fd) (void)::dup2(null, fd);
  (void)::close_range(kChannel + 1, ~0U, 0);
  (void)::chdir("/");
  (void)sys::SetThreadName("mntns-polyfill");
  return kChannel;
}

// A field of /proc/PID/task/TID/status ("TracerPid", "State"): the text
// after the colon and its blanks; empty where the thread is gone.
std::string ThreadStatusField(pid_t pid, pid_t tid, const char* key) {
  auto status = sys::ReadProcStatus(AT_FDCWD, fmt::format("/proc/{}/task/{}/status", pid, tid).c_str());
  const auto field = status ? sys::ProcStatusField(*status, key) : std::nullopt;
  return field ? std::string(*field) : std::string();
}

// Seizes every thread of `pid` that `seen` does not list, again and again
// until a pass finds no new one (a thread not yet seized may start threads
// meanwhile). 0 or the errno of the first failed seize; `seized` gets the
// threads seized.
int SeizeNewThreads(pid_t pid, std::set<pid_t>& seen, std::vector<pid_t>& seized) {
  for (bool fresh = true; fresh;) {
    fresh = false;
    const std::vector<pid_t> tids = ThreadsOf(pid);
    if (tids.empty()) return ESRCH;
    for (pid_t tid : tids) {
      if (!seen.insert(tid).second) continue;
      fresh = true;
      auto done = sys::PtraceSeize(tid, TracerOptions());
      if (done) {
        seized.push_back(tid);
        continue;
      }
      const int err = done.error().code;
      if (err == ESRCH) continue;  // it has exited
      if (err == EPERM) {
        // Started by a thread we had seized: attached with it
        // (PTRACE_O_TRACECLONE), its first stop comes to the tracer.
        const auto tracer = sys::ProcStatusNumbers(ThreadStatusField(pid, tid, "TracerPid"));
        if (tracer.size() == 1 && tracer[0] == static_cast<unsigned long long>(::getpid())) continue;
        // Exiting (the kernel says EPERM for those), or gone meanwhile.
        const std::string state = ThreadStatusField(pid, tid, "State");
        if (state.empty() || state[0] == 'Z' || state[0] == 'X') continue;
      }
      return err;
    }
  }
  return 0;
}

// What the supervisor process tells the caller: step 0, or the step that
// failed and its errno.
struct Answer {
  int step = 0;
  int code = 0;
};
constexpr int kSeize = 1, kFork = 2, kSignalFd = 3;

void Tell(int channel, Answer answer) { (void)::send(channel, &answer, sizeof answer, MSG_NOSIGNAL); }

// The supervisor process's whole life; `channel`: its end of
// StartSupervisorProcess's socket.
[[noreturn]] void BeTheSupervisor(pid_t caller, int channel, bool trace) {
  channel = LeaveTheCallersState(channel);
  // SIGCHLD, read from a signalfd, wakes the tracer.
  sigset_t mask;
  sigemptyset(&mask);
  if (trace) sigaddset(&mask, SIGCHLD);
  (void)::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  if (!trace) {
    Tell(channel, {});
    // Nothing of the caller's waits for us: the listener can be awaited here.
    auto listener = sys::ReceiveFileDescriptor(channel);
    if (listener) (void)ServeNotifications(listener->Get(), -1);
    ::_exit(0);
  }
  auto signal_fd = sys::SignalFd(mask);
  if (!signal_fd) {
    Tell(channel, {kSignalFd, signal_fd.error().code});
    ::_exit(0);
  }
  std::set<pid_t> seen;
  std::vector<pid_t> seized;
  const int err = SeizeNewThreads(caller, seen, seized);
  // Nothing seized and no error: /proc listed no thread of the caller's.
  if (err != 0 || seized.empty()) {
    Tell(channel, {kSeize, err != 0 ? err : ESRCH});
    ::_exit(0);
  }
  Tell(channel, {});
  // The caller's threads may stop (a signal, a new thread) before it sends
  // the listener: it is taken while tracing.
  UniqueFd listener;
  auto serve = [&](int fd) -> std::optional<std::vector<pid_t>> {
    auto received = sys::ReceiveFileDescriptor(fd);
    if (!received) return std::nullopt;  // the caller could not install its filter
    listener = std::move(*received);
    auto thread = StartHelperThread([fd = listener.Get()] { (void)ServeNotifications(fd, -1); });
    if (thread) thread->detach();
    else listener.Reset();  // unserved: the kernel answers ENOSYS; the traced calls still work
    // A thread that was inside clone() while its creator was seized is
    // listed only once that clone is done: one more look, now that the
    // filter is in place.
    std::vector<pid_t> late;
    (void)SeizeNewThreads(caller, seen, late);
    return late;
  };
  // Called off: exiting detaches whatever is traced and closes the listener,
  // after which the kernel answers the trapped calls with ENOSYS. Done:
  // every task that has the filter was a tracee, so nothing is left to
  // serve, and the server is not waited for (one blocked on a lock that the
  // fork copied locked, as ASan's allocator's can be, would keep this
  // process forever).
  (void)TraceUntilNoneIsLeft(seized, signal_fd->Get(), channel, serve);
  ::_exit(0);
}

// Whether /proc/self is this process (/proc belongs to our pid namespace):
// the supervisor finds the caller's threads there.
bool ProcShowsThisProcess() {
  char link[32] = {};
  const ssize_t n = ::readlink("/proc/self", link, sizeof link - 1);
  return n > 0 && std::atol(link) == ::getpid();
}

// unshare(CLONE_NEWPID) done but no child forked yet: the next child would be
// that namespace's init, and the middle process, which exits at once, would
// end the namespace with it. So the supervisor is made outside it.
struct PendingPidNamespace {
  bool pending = false;
  // To go back to. 6.x refuses to open a namespace before it has its init
  // (pid_for_children: ENOENT), so there is none there; 7.x opens it.
  UniqueFd fd;
};

PendingPidNamespace FindPendingPidNamespace() {
  PendingPidNamespace found;
  struct stat active {}, pending {};
  if (::stat("/proc/thread-self/ns/pid", &active) != 0) return found;
  if (::stat("/proc/thread-self/ns/pid_for_children", &pending) != 0) {
    found.pending = errno == ENOENT;
    return found;
  }
  if (pending.st_ino == active.st_ino) return found;
  found.pending = true;
  found.fd = UniqueFd(::open("/proc/thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC));
  return found;
}

}  // namespace

Result<UniqueFd> StartSupervisorProcess(bool trace) {
  const pid_t caller = ::getpid();
  if (trace && !ProcShowsThisProcess()) {
    return MakeError(ESRCH, "start the polyfill's tracer", "/proc is not this pid namespace's");
  }
  auto channel = sys::SocketPair(AF_UNIX, SOCK_SEQPACKET, "the polyfill's supervisor");
  if (!channel) return std::unexpected(channel.error());
  auto [ours, theirs] = std::move(*channel);
  // The supervisor is made in our own pid namespace, not in a pending one,
  // which is set back afterwards (setns and unshare change the calling
  // thread's pid_for_children only). Where it cannot be opened, an equal one
  // (same owner, same parent) is made again, which nobody can tell apart,
  // as nobody could open the first.
  const PendingPidNamespace pending = FindPendingPidNamespace();
  if (pending.pending) {
    auto active = sys::Open(AT_FDCWD, "/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (!active) return std::unexpected(active.error());
    if (auto r = sys::Setns(active->Get(), CLONE_NEWPID); !r) {
      return std::unexpected(std::move(r.error().Wrap("start the polyfill's supervisor outside the pending pid namespace")));
    }
  }
  // Through glibc's fork: the supervisor allocates and starts threads.
  auto middle = sys::Fork("the polyfill's supervisor");
  if (middle && *middle == 0) {
    ours.Reset();
    (void)sys::NewSession();
    auto supervisor = sys::Fork("the polyfill's supervisor");
    if (supervisor && *supervisor == 0) BeTheSupervisor(caller, theirs.Get(), trace);
    if (!supervisor) Tell(theirs.Get(), {kFork, supervisor.error().code});
    ::_exit(0);
  }
  if (pending.pending) {
    // Not expected to fail (the caller got there the same way); its next
    // child would be in our own namespace instead: said.
    auto back = pending.fd ? sys::Setns(pending.fd.Get(), CLONE_NEWPID) : sys::Unshare(CLONE_NEWPID);
    if (!back) return std::unexpected(std::move(back.error().Wrap("return to the pending pid namespace")));
  }
  if (!middle) return std::unexpected(middle.error());
  theirs.Reset();
  // ECHILD: a SIGCHLD handler or another thread of the caller reaped it first.
  (void)sys::WaitPid(*middle, 0);
  Answer answer;
  ssize_t got;
  while ((got = ::recv(ours.Get(), &answer, sizeof answer, 0)) < 0 && errno == EINTR) {
  }
  if (got != sizeof answer) return MakeError(ESRCH, "start the polyfill's supervisor", "it exited before it answered");
  switch (answer.step) {
    case 0: return std::move(ours);
    case kSeize: return MakeError(answer.code, "ptrace(PTRACE_SEIZE)", fmt::format("the threads of process {}", caller));
    case kFork: return MakeError(answer.code, "fork", "the polyfill's supervisor");
    default: return MakeError(answer.code, "signalfd", "the polyfill's tracer");
  }
}

}  // namespace mntns::internal
