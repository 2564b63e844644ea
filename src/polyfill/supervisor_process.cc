// InstallPolyfill's supervisor: a process of its own, not a thread of the
// caller's. unshare(UNSHARE_EMPTY_MNTNS) and clone3(CLONE_EMPTY_MNTNS) need a
// ptracer (tracer.cc), which a process cannot be of itself; and a thread of
// the caller would make it multi-threaded (no unshare(CLONE_NEWUSER) after
// that), would lose its privileges with the caller's setuid(), and would end
// with its exec(). So a grandchild of the caller seizes every thread of the
// caller, receives the filter's listener, answers the notifications and
// traces the caller and everything it starts until none of them is left
// (docs/polyfill.md, "InstallPolyfill").
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "helper_thread.h"
#include "polyfill/internal.h"
#include "sys/fd_passing.h"
#include "sys/process.h"
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

// Whether thread `tid` of `pid` is traced by the calling process: a thread
// the caller started after we seized its creator is attached already
// (PTRACE_O_TRACECLONE), and a second PTRACE_SEIZE of it fails EPERM.
bool TracedByUs(pid_t pid, pid_t tid) {
  FILE* status = std::fopen(fmt::format("/proc/{}/task/{}/status", pid, tid).c_str(), "re");
  if (status == nullptr) return false;
  char line[128];
  long tracer = -1;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::strncmp(line, "TracerPid:", 10) == 0) tracer = std::atol(line + 10);
  }
  std::fclose(status);
  return tracer == ::getpid();
}

// The supervisor's own state: nothing of the caller's but what it needs.
// Its signal handlers are the caller's code and its mask the caller's
// choice; its fds would keep the caller's pipes and files open; its cwd
// would keep a mount busy. Returns the channel's fd number now (3).
int LeaveTheCallersState(int channel) {
  struct sigaction plain {};
  plain.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) (void)::sigaction(sig, &plain, nullptr);
  }
  constexpr int kChannel = 3;
  if (channel != kChannel && ::dup2(channel, kChannel) != kChannel) ::_exit(0);
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < kChannel && null >= 0; ++fd) (void)::dup2(null, fd);
  (void)::close_range(kChannel + 1, ~0U, 0);
  (void)::chdir("/");
  (void)sys::SetThreadName("mntns-polyfill");
  return kChannel;
}

// Seizes every thread of `pid`, again and again until a pass finds no new
// one (a thread not yet seized may start threads meanwhile). 0 or the errno
// of the first failed seize; `seized` lists the threads seized.
int SeizeEveryThread(pid_t pid, std::vector<pid_t>& seized) {
  std::set<pid_t> seen;
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
      } else if (done.error().code == EPERM && TracedByUs(pid, tid)) {
        // Attached with its creator: its first stop comes to the tracer.
      } else if (done.error().code != ESRCH) {  // ESRCH: it has exited
        return done.error().code;
      }
    }
  }
  return 0;
}

// The supervisor process's whole life; `channel`: its end of
// StartSupervisorProcess's socket.
[[noreturn]] void BeTheSupervisor(pid_t caller, int channel, bool trace) {
  channel = LeaveTheCallersState(channel);
  // SIGCHLD, read from a signalfd, wakes the tracer.
  sigset_t mask;
  sigemptyset(&mask);
  if (trace) sigaddset(&mask, SIGCHLD);
  (void)::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  Result<UniqueFd> signal_fd = trace ? sys::SignalFd(mask) : Result<UniqueFd>(UniqueFd{});
  std::vector<pid_t> seized;
  const int answer = !signal_fd ? signal_fd.error().code : trace ? SeizeEveryThread(caller, seized) : 0;
  if (::send(channel, &answer, sizeof answer, MSG_NOSIGNAL) != sizeof answer || answer != 0) ::_exit(0);
  if (!trace) {
    // Nothing of the caller's waits for us: the listener can be awaited here.
    auto listener = sys::ReceiveFileDescriptor(channel);
    if (listener) (void)ServeNotifications(listener->Get(), -1);
    ::_exit(0);
  }
  // The caller's threads may stop (a signal, a new thread) before it sends
  // the listener: it is taken while tracing.
  UniqueFd listener;
  std::optional<std::thread> server;
  auto serve = [&](int fd) {
    auto received = sys::ReceiveFileDescriptor(fd);
    if (!received) return false;
    listener = std::move(*received);
    auto thread = StartHelperThread([fd = listener.Get()] { (void)ServeNotifications(fd, -1); });
    if (!thread) return false;
    server = std::move(*thread);
    return true;
  };
  // Called off (the caller could not install its filter), or done: exiting
  // detaches whatever is still traced and closes the listener, after which
  // the kernel answers the trapped calls with ENOSYS.
  if (TraceUntilNoneIsLeft(seized, signal_fd->Get(), channel, serve) && server) server->join();
  ::_exit(0);
}

}  // namespace

Result<UniqueFd> StartSupervisorProcess(bool trace) {
  const pid_t caller = ::getpid();
  auto channel = sys::SocketPair(AF_UNIX, SOCK_SEQPACKET, "the polyfill's supervisor");
  if (!channel) return std::unexpected(channel.error());
  auto [ours, theirs] = std::move(*channel);
  // Through glibc's fork: the supervisor allocates and starts threads.
  auto middle = sys::Fork("the polyfill's supervisor");
  if (!middle) return std::unexpected(middle.error());
  if (*middle == 0) {
    ours.Reset();
    (void)sys::NewSession();
    auto supervisor = sys::Fork("the polyfill's supervisor");
    if (supervisor && *supervisor == 0) BeTheSupervisor(caller, theirs.Get(), trace);
    if (!supervisor) (void)::send(theirs.Get(), &supervisor.error().code, sizeof(int), MSG_NOSIGNAL);
    ::_exit(0);
  }
  theirs.Reset();
  // ECHILD: a SIGCHLD handler or another thread of the caller reaped it first.
  (void)sys::WaitPid(*middle, 0);
  int answer = 0;
  ssize_t got;
  while ((got = ::recv(ours.Get(), &answer, sizeof answer, 0)) < 0 && errno == EINTR) {
  }
  if (got != sizeof answer) return MakeError(ESRCH, "start the polyfill's supervisor", "it exited before it answered");
  if (answer != 0) {
    return MakeError(answer, trace ? "ptrace(PTRACE_SEIZE)" : "start the polyfill's supervisor",
                     fmt::format("the threads of process {}", caller));
  }
  return std::move(ours);
}

}  // namespace mntns::internal
