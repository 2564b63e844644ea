// InstallPolyfill / RunUnderPolyfill: the filter is installed, its listener
// handed to a supervisor (docs/polyfill.md).
#include "mntns/polyfill.h"

#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include <cerrno>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "helper_thread.h"
#include "mntns/features.h"
#include "polyfill/internal.h"
#include "sys/namespaces.h"
#include "sys/process.h"
#include "sys/tracing.h"
#include "sys/seccomp.h"
#include "sys/fd_passing.h"

namespace mntns {
namespace {

// The filter is no sandbox: where the kernel turns on speculation
// mitigations (Speculative Store Bypass Disable) for every task that installs
// a seccomp filter (spec_store_bypass_disable=seccomp), they would slow every
// instruction of the program, not only its system calls.
constexpr unsigned kNoSandboxMitigations = SECCOMP_FILTER_FLAG_SPEC_ALLOW;

// seccomp needs CAP_SYS_ADMIN or no_new_privs; a privileged caller keeps the
// ability of its programs to gain privileges (set-user-ID files).
Result<void> AllowSeccomp() {
  auto privileged = sys::HasEffectiveCapability(CAP_SYS_ADMIN);
  if (privileged && *privileged) return kOk;
  return sys::SetNoNewPrivileges();
}

sock_fprog ProgramOf(std::vector<sock_filter>& filter) {
  return sock_fprog{.len = static_cast<unsigned short>(filter.size()), .filter = filter.data()};
}

}  // namespace

PolyfillCalls PolyfillNeeded() {
  const Features& features = KernelFeatures();
  PolyfillCalls calls;
  // The emulations need listmount/statmount (6.8); without them nothing is trapped.
  if (!features.statmount || !features.listmount) return calls;
  calls.open_tree_namespace = !features.open_tree_namespace;
  calls.fsmount_namespace = !features.fsmount_namespace;
  calls.statmount_by_fd = !features.statmount_by_fd;
  calls.empty_mount_namespace = !features.empty_mount_namespace;
  return calls;
}

Result<PolyfillCalls> InstallPolyfill() {
  PolyfillCalls calls = PolyfillNeeded();
  if (!calls.Any()) return calls;
  if (auto r = AllowSeccomp(); !r) return std::unexpected(std::move(r.error().Wrap("install the polyfill")));
  // The supervisor is a process of its own (supervisor_process.cc). For the
  // traced calls it seizes this process before the filter can stop it; where
  // it cannot (another tracer holds a thread, or ptrace is refused) those
  // calls stay native, and the result says so.
  auto supervisor = internal::StartSupervisorProcess(calls.empty_mount_namespace);
  if (!supervisor && calls.empty_mount_namespace) {
    calls.empty_mount_namespace = false;
    if (!calls.Any()) return calls;
    supervisor = internal::StartSupervisorProcess(false);
  }
  if (!supervisor) return std::unexpected(std::move(supervisor.error().Wrap("install the polyfill")));
  std::vector<sock_filter> filter = internal::PolyfillFilter(calls);
  const sock_fprog program = ProgramOf(filter);
  // On failure the socket closes without a listener: the supervisor lets go
  // of this process and exits.
  auto listener = sys::InstallSeccompListener(
      program, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH | kNoSandboxMitigations);
  if (!listener) return std::unexpected(std::move(listener.error().Wrap("install the polyfill")));
  // Where this fails the filter stays, and with nobody listening the kernel
  // answers its calls with ENOSYS: said, as any failure after the install.
  if (auto sent = sys::SendFileDescriptor(supervisor->Get(), listener->Get()); !sent) {
    return std::unexpected(std::move(sent.error().Wrap("install the polyfill")));
  }
  return calls;
}

Result<int> RunUnderPolyfill(const std::vector<std::string>& command, std::span<const int> forward_signals) {
  if (command.empty()) return MakeError(EINVAL, "polyfill", "no command");
  const PolyfillCalls calls = PolyfillNeeded();
  const bool traced = calls.empty_mount_namespace;
  // Everything the child needs is made before the fork: it makes only raw
  // calls until it execs.
  std::vector<char*> argv;
  for (const std::string& word : command) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  std::vector<sock_filter> filter = internal::PolyfillFilter(calls);
  const sock_fprog program = ProgramOf(filter);
  const bool privileged = sys::HasEffectiveCapability(CAP_SYS_ADMIN).value_or(false);
  auto channel = sys::SocketPair(AF_UNIX, SOCK_SEQPACKET, "polyfill listener");
  if (!channel) return std::unexpected(channel.error());
  auto [ours, theirs] = std::move(*channel);
  auto report = sys::Pipe(0, "polyfill child errors");
  if (!report) return std::unexpected(report.error());
  auto [report_read, report_write] = std::move(*report);
  // The tracer seizes the child before it execs: it waits for this byte.
  auto go = sys::Pipe(0, "polyfill start");
  if (!go) return std::unexpected(go.error());
  auto [go_read, go_write] = std::move(*go);
  auto stop = sys::Pipe(0, "polyfill supervisor stop");
  if (!stop) return std::unexpected(stop.error());
  auto [stop_read, stop_write] = std::move(*stop);

  // SIGCHLD (the tracer's wake-up) and the forwarded signals are read from a
  // signalfd; the child gets the mask back before it execs.
  sigset_t blocked;
  sigemptyset(&blocked);
  for (int sig : forward_signals) sigaddset(&blocked, sig);
  if (traced) sigaddset(&blocked, SIGCHLD);
  const bool waits_for_signals = traced || !forward_signals.empty();
  sigset_t old_mask;
  if (waits_for_signals) ::pthread_sigmask(SIG_BLOCK, &blocked, &old_mask);
  else ::pthread_sigmask(SIG_BLOCK, nullptr, &old_mask);
  UniqueFd signal_fd;
  if (waits_for_signals) {
    if (auto created = sys::SignalFd(blocked); created) signal_fd = std::move(*created);
  }
  auto restore_mask = [&] {
    if (waits_for_signals) ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  };

  auto child = sys::ForkWithPidfd("polyfill CMD");
  if (!child) {
    restore_mask();
    return std::unexpected(child.error());
  }
  if (child->pid == 0) {
    // The child: the step that failed and its errno go to the parent.
    auto fail = [&](int step, int code) {
      const int message[2] = {step, code};
      (void)!::write(report_write.Get(), message, sizeof message);
      ::_exit(127);
    };
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    if (calls.Any()) {
      if (!privileged) {
        if (auto r = sys::SetNoNewPrivileges(); !r) fail(0, r.error().code);
      }
      auto listener = sys::InstallSeccompListener(program, kNoSandboxMitigations);
      if (!listener) fail(1, listener.error().code);
      if (auto r = sys::SendFileDescriptor(theirs.Get(), listener->Get()); !r) fail(2, r.error().code);
    }
    if (traced) {
      go_write.Reset();
      char byte = 0;
      // EOF: the parent could not trace; the trapped calls then get ENOSYS.
      while (::read(go_read.Get(), &byte, 1) < 0 && errno == EINTR) {
      }
    }
    ::execvp(argv[0], argv.data());
    fail(3, errno);
  }
  theirs.Reset();
  report_write.Reset();
  go_read.Reset();
  UniqueFd listener;
  if (calls.Any()) {
    // No listener: the child failed before it (its report says why).
    if (auto received = sys::ReceiveFileDescriptor(ours.Get()); received) listener = std::move(*received);
  }
  if (traced && listener) {
    // Without a tracer the traced calls would fail with ENOSYS: CMD does not
    // start at all (another tracer holds it, or ptrace is forbidden here).
    if (auto seized = sys::PtraceSeize(child->pid, internal::TracerOptions()); !seized) {
      (void)sys::PidfdSendSignal(child->pidfd.Get(), SIGKILL);
      (void)sys::WaitPid(child->pid, 0);
      restore_mask();
      return std::unexpected(std::move(seized.error().Wrap("polyfill CMD")));
    }
  }
  go_write.Reset();
  // The notifications are answered on a thread of their own while this one
  // traces and waits; it stops when `stop_write` closes.
  Result<void> served = kOk;
  std::optional<std::thread> server;
  if (listener) {
    auto thread = internal::StartHelperThread([&served, &listener, fd = stop_read.Get()] {
      served = internal::ServeNotifications(listener.Get(), fd);
    });
    if (thread) server = std::move(*thread);
    else served = std::unexpected(thread.error());
  }
  Result<int> status = traced && listener
                           ? internal::TraceUntilExit(child->pid, signal_fd ? signal_fd.Get() : -1)
                           : internal::WaitForwarding(child->pid, child->pidfd.Get(), signal_fd ? signal_fd.Get() : -1);
  stop_write.Reset();
  if (server) server->join();
  restore_mask();
  if (!status) return std::unexpected(status.error());
  int message[2] = {0, 0};
  if (::read(report_read.Get(), message, sizeof message) == sizeof message) {
    static constexpr const char* kSteps[] = {"prctl(PR_SET_NO_NEW_PRIVS)", "seccomp", "sendmsg", "execvp"};
    return MakeError(message[1], kSteps[message[0] & 3], message[0] == 3 ? QuotePath(command[0]) : "polyfill child");
  }
  if (!served) return std::unexpected(served.error());
  return *status;
}

}  // namespace mntns
