// InstallPolyfill / RunUnderPolyfill: the filter is installed, its listener
// handed to a supervisor (docs/polyfill.md).
#include "mntns/polyfill.h"

#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "helper_thread.h"
#include "mntns/features.h"
#include "polyfill/internal.h"
#include "sys/namespaces.h"
#include "sys/process.h"
#include "sys/seccomp.h"
#include "sys/fd_passing.h"

namespace mntns {
namespace {

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
  return calls;
}

Result<PolyfillCalls> InstallPolyfill() {
  const PolyfillCalls calls = PolyfillNeeded();
  if (!calls.Any()) return calls;
  if (auto r = AllowSeccomp(); !r) return std::unexpected(std::move(r.error().Wrap("install the polyfill")));
  std::vector<sock_filter> filter = internal::PolyfillFilter(calls);
  const sock_fprog program = ProgramOf(filter);
  auto listener = sys::InstallSeccompListener(
      program, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH);
  if (!listener) return std::unexpected(std::move(listener.error().Wrap("install the polyfill")));
  // The supervisor is filtered too (TSYNC), which is harmless: where a call
  // is trapped the library never issues it natively.
  auto thread = internal::StartHelperThread([fd = std::make_shared<UniqueFd>(std::move(*listener))] {
    (void)internal::ServeNotifications(fd->Get(), -1);
  });
  if (!thread) return std::unexpected(std::move(thread.error().Wrap("install the polyfill")));
  thread->detach();
  return calls;
}

Result<int> RunUnderPolyfill(const std::vector<std::string>& command) {
  if (command.empty()) return MakeError(EINVAL, "polyfill", "no command");
  const PolyfillCalls calls = PolyfillNeeded();
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

  auto child = sys::ForkWithPidfd("polyfill CMD");
  if (!child) return std::unexpected(child.error());
  if (child->pid == 0) {
    // The child: the step that failed and its errno go to the parent.
    auto fail = [&](int step, int code) {
      const int message[2] = {step, code};
      (void)!::write(report_write.Get(), message, sizeof message);
      ::_exit(127);
    };
    if (calls.Any()) {
      if (!privileged) {
        if (auto r = sys::SetNoNewPrivileges(); !r) fail(0, r.error().code);
      }
      auto listener = sys::InstallSeccompListener(program, 0);
      if (!listener) fail(1, listener.error().code);
      if (auto r = sys::SendFileDescriptor(theirs.Get(), listener->Get()); !r) fail(2, r.error().code);
    }
    ::execvp(argv[0], argv.data());
    fail(3, errno);
  }
  theirs.Reset();
  report_write.Reset();
  Result<void> served = kOk;
  if (calls.Any()) {
    auto listener = sys::ReceiveFileDescriptor(ours.Get());
    // No listener: the child failed before it (its report says why).
    if (listener) served = internal::ServeNotifications(listener->Get(), child->pidfd.Get());
  }
  auto status = sys::WaitPid(child->pid, 0);
  if (!status) return std::unexpected(status.error());
  int message[2] = {0, 0};
  if (::read(report_read.Get(), message, sizeof message) == sizeof message) {
    static constexpr const char* kSteps[] = {"prctl(PR_SET_NO_NEW_PRIVS)", "seccomp", "sendmsg", "execvp"};
    return MakeError(message[1], kSteps[message[0] & 3], message[0] == 3 ? QuotePath(command[0]) : "polyfill child");
  }
  if (!served) return std::unexpected(served.error());
  return status->status;
}

}  // namespace mntns
