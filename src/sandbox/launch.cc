// Sandbox processes: namespace creation, the setup process (forked, then a
// fresh exec of this program), the pid-1 reaper, user-namespace maps, and the
// error channel back to the caller.
#include <fcntl.h>
#include <linux/audit.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <linux/securebits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include <linux/openat2.h>

#include <algorithm>

#include <fmt/format.h>

#include "mntns/sandbox.h"
#include "namespace/internal.h"
#include "sandbox/internal.h"
#include "sys/files.h"
#include "sys/namespaces.h"
#include "sys/openat2.h"
#include "sys/process.h"
#include "sys/syscalls.h"

extern char** environ;

namespace mntns {
namespace {

constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
constexpr int kSetupFailed = 1;

// ---- the error channel: a close-on-exec pipe --------------------------------
// EOF without data means CMD was exec'd (the last write end closed with it).

void AppendField(std::string& out, const std::string& field) {
  const auto size = static_cast<std::uint32_t>(field.size());
  out.append(reinterpret_cast<const char*>(&size), sizeof size);
  out += field;
}

// The report's layout: the errno first (StartSandbox's child patches it into
// a report built before the fork), then the three texts.
std::string EncodeError(const Error& error) {
  std::string message;
  message.append(reinterpret_cast<const char*>(&error.code), sizeof error.code);
  AppendField(message, error.operation);
  AppendField(message, error.argument);
  AppendField(message, error.kernel_log);
  for (const std::string& context : error.context) AppendField(message, context);
  return message;
}

// Async-signal-safe: only write(2).
void WriteAll(int fd, const char* data, std::size_t size) {
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, data + written, size - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    written += static_cast<std::size_t>(n);
  }
}

void SendError(int fd, const Error& error) {
  const std::string message = EncodeError(error);
  WriteAll(fd, message.data(), message.size());
}

// What CMD's process sends, instead of an error, when it is about to wait on
// spec.block_fd: the caller may go on (an errno is never negative).
constexpr int kReadyCode = -1;

// What the sandbox's first process sends with spec.report_status, before
// entering the sandbox's mount namespace: kStatusCode, then a SandboxStatus.
constexpr int kStatusCode = -2;

// `ready`: nullptr, or set when the channel said kReadyCode (the rest, if
// any, comes later: read it again with ready == nullptr). A status record
// (kStatusCode) on the way goes to `status`.
Result<void> ReceiveError(int fd, bool* ready = nullptr, std::optional<SandboxStatus>* status = nullptr) {
  std::string data;
  char buffer[4096];
  constexpr std::size_t kStatusRecord = sizeof(int) + sizeof(SandboxStatus);
  for (;;) {
    if (data.size() >= sizeof(int)) {
      int code = 0;
      std::memcpy(&code, data.data(), sizeof code);
      if (code == kReadyCode && ready != nullptr) {
        *ready = true;
        return kOk;
      }
      if (code == kReadyCode) {
        // A second wait (--userns-block-fd, then --block-fd): the caller
        // went on at the first.
        data.erase(0, sizeof code);
        continue;
      }
      if (code == kStatusCode && data.size() >= kStatusRecord) {
        SandboxStatus record;
        std::memcpy(&record, data.data() + sizeof(int), sizeof record);
        if (status != nullptr) *status = record;
        data.erase(0, kStatusRecord);
        continue;
      }
    }
    // Only the first field until it is known: a report that follows a ready
    // record (an exec failure) is for WaitSandbox.
    // (and a status record whole): what follows is read only after.
    std::size_t want = sizeof buffer;
    if (data.size() < sizeof(int)) {
      want = sizeof(int) - data.size();
    } else if (int code = 0; std::memcpy(&code, data.data(), sizeof code), code == kStatusCode) {
      want = kStatusRecord - data.size();
    }
    auto n = sys::Read(fd, std::span(buffer, want), "the sandbox setup channel");
    if (!n) return std::unexpected(n.error());
    if (*n == 0) break;
    data.append(buffer, *n);
  }
  if (data.empty()) return kOk;
  Error error;
  std::size_t at = 0;
  const auto take = [&](void* out, std::size_t size) {
    if (at + size > data.size()) return false;
    std::memcpy(out, data.data() + at, size);
    at += size;
    return true;
  };
  const auto take_field = [&](std::string& out) {
    std::uint32_t size = 0;
    if (!take(&size, sizeof size) || at + size > data.size()) return false;
    out.assign(data, at, size);
    at += size;
    return true;
  };
  if (!take(&error.code, sizeof error.code) || !take_field(error.operation) || !take_field(error.argument) ||
      !take_field(error.kernel_log)) {
    return MakeError(EPROTO, "sandbox setup", "a truncated error report");
  }
  while (at < data.size()) {
    if (!take_field(error.context.emplace_back())) {
      return MakeError(EPROTO, "sandbox setup", "a truncated error report");
    }
  }
  return std::unexpected(std::move(error));
}

[[noreturn]] void Fail(int error_fd, const Error& error) {
  SendError(error_fd, error);
  ::_exit(kSetupFailed);
}

// ---- pieces of the setup ------------------------------------------------------

// With spec.strategy auto, not the resolved strategy: where the native call
// finds the flag missing after all, the library falls back to the emulation
// (an unprivileged probe cannot tell 7.0 from 7.1: fsmount checks
// CAP_SYS_ADMIN before its flags, and this runs in the user namespace then).
Result<UniqueFd> CreateRootNamespace(const SandboxSpec& spec) {
  const NamespaceOptions options{.strategy = spec.strategy};
  if (!spec.root.empty()) {
    return OpenTreeNamespace(AT_FDCWD, spec.root, AT_RECURSIVE | OPEN_TREE_CLOEXEC, options);
  }
  auto fs = sys::FsOpen("tmpfs", 0);
  if (!fs) return std::unexpected(fs.error());
  if (auto r = sys::FsConfigString(fs->Get(), "source", "tmpfs"); !r) return std::unexpected(r.error());
  if (auto r = sys::FsConfigString(fs->Get(), "mode", "755"); !r) return std::unexpected(r.error());
  if (auto r = sys::FsConfigCreate(fs->Get()); !r) return std::unexpected(r.error());
  // nosuid,nodev as bwrap's root tmpfs: nothing CMD writes there can be a
  // setuid binary or a device node that works.
  return FsmountNamespace(fs->Get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, options);
}

std::vector<std::string> BuildEnvironment(const SandboxSpec& spec) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) env.emplace_back(*entry);
  const auto remove = [&env](const std::string& name) {
    std::erase_if(env, [&](const std::string& e) { return e.compare(0, name.size() + 1, name + "=") == 0; });
  };
  for (const SandboxEnvChange& change : spec.env) {
    switch (change.kind) {
      case SandboxEnvChange::Kind::kClear:
        env.clear();
        break;
      case SandboxEnvChange::Kind::kUnset:
        remove(change.name);
        break;
      case SandboxEnvChange::Kind::kSet:
        remove(change.name);
        env.push_back(change.name + "=" + change.value);
        break;
    }
  }
  return env;
}

Result<void> WriteProcFile(int proc_dir, const std::string& path, const std::string& text) {
  auto file = sys::Open(proc_dir, path.c_str(), O_WRONLY);
  if (!file) return std::unexpected(file.error());
  return sys::WriteAll(file->Get(), text, fmt::format("/proc/{} \"{}\"", path, text.substr(0, text.size() - 1)));
}

// unshare(CLONE_NEWUSER) once this process has one thread again: the
// namespace helpers' threads (CreateRootNamespace) are joined but may not be
// gone yet, and the kernel refuses a multi-threaded caller (EINVAL).
Result<void> UnshareUserNamespace(int proc_dir) {
  sys::AwaitSingleThread(proc_dir);
  return sys::Unshare(CLONE_NEWUSER);
}

// Unshares a user namespace and maps the caller's ids (one each) to the ids
// CMD gets. Without CAP_SETUID/CAP_SETGID over the parent namespace (which the
// process gave up by unsharing) the kernel accepts exactly this one-id map, and
// a gid map only after setgroups is denied.
Result<void> EnterUserNamespace(const SandboxSpec& spec, int proc_dir, uid_t outside_uid, gid_t outside_gid) {
  if (auto r = UnshareUserNamespace(proc_dir); !r) return r;
  if (auto r = WriteProcFile(proc_dir, "self/setgroups", "deny\n"); !r) return r;
  if (auto r = WriteProcFile(proc_dir, "self/uid_map", fmt::format("{} {} 1\n", spec.uid.value_or(outside_uid), outside_uid));
      !r) {
    return r;
  }
  return WriteProcFile(proc_dir, "self/gid_map", fmt::format("{} {} 1\n", spec.gid.value_or(outside_gid), outside_gid));
}

// Empties the bounding, ambient, effective, permitted and inheritable sets, so
// CMD has no capability even as uid 0 of its user namespace (no_new_privs,
// set for every CMD, keeps setuid and file-capability binaries from giving
// them back).
Result<void> DropCapabilities() {
  for (int cap = 0;; ++cap) {
    if (auto dropped = sys::DropBoundingCapability(cap); !dropped) {
      const int err = dropped.error().code;
      if (err == EINVAL) break;  // past the last capability this kernel knows
      return std::unexpected(dropped.error());
    }
  }
  if (auto r = sys::ClearAmbientCapabilities(); !r) return r;
  return sys::ClearCapabilitySets();
}

// As bwrap, for every CMD (root without a user namespace too): execve never
// grants more than the caller has (no setuid, no file capabilities), and
// seccomp filters are allowed without CAP_SYS_ADMIN.
Result<void> SetNoNewPrivileges() { return sys::SetNoNewPrivileges(); }

// ---- the terminal filter -------------------------------------------------------
// CMD keeps mntns's session and controlling terminal: a new session (setsid)
// would cost interactive shells their job control and ^C. But then TIOCSTI
// pushes bytes into that terminal's input queue as if typed, and the caller's
// shell reads and runs them once the sandbox exits; TIOCLINUX can paste on a
// virtual console. Both fail with EPERM under a seccomp filter, as in flatpak.
// (The kernel allows TIOCSTI on one's own controlling terminal, or with
// CAP_SYS_ADMIN, or not at all when dev.tty.legacy_tiocsti is 0.)

struct IoctlAbi {
  std::uint32_t arch;                      // AUDIT_ARCH_*, seccomp_data.arch
  std::span<const std::uint32_t> numbers;  // what seccomp_data.nr is for ioctl in it
};

#if defined(__x86_64__)
// x32 shares AUDIT_ARCH_X86_64 and marks its numbers with bit 30; its ioctl
// is 514 (16 with the bit is ENOSYS for x32 today; refused too should a
// kernel take it). i386 (int 0x80, any process may use it) has 54.
constexpr std::uint32_t kX32Bit = 0x40000000;
constexpr std::uint32_t kX86_64Ioctl[] = {16, kX32Bit | 514, kX32Bit | 16};
constexpr std::uint32_t kI386Ioctl[] = {54};
constexpr IoctlAbi kIoctlAbis[] = {{AUDIT_ARCH_X86_64, kX86_64Ioctl}, {AUDIT_ARCH_I386, kI386Ioctl}};
#elif defined(__aarch64__)
constexpr std::uint32_t kAarch64Ioctl[] = {29};
constexpr std::uint32_t kArmIoctl[] = {54};
constexpr IoctlAbi kIoctlAbis[] = {{AUDIT_ARCH_AARCH64, kAarch64Ioctl}, {AUDIT_ARCH_ARM, kArmIoctl}};
#else
#error "the TIOCSTI filter needs this architecture's AUDIT_ARCH values and ioctl numbers"
#endif

constexpr sock_filter Load(std::uint32_t offset) {
  return {static_cast<std::uint16_t>(BPF_LD | BPF_W | BPF_ABS), 0, 0, offset};
}
constexpr sock_filter Return(std::uint32_t action) { return {static_cast<std::uint16_t>(BPF_RET | BPF_K), 0, 0, action}; }
constexpr sock_filter JumpIfEqual(std::uint32_t value, std::uint8_t if_equal, std::uint8_t otherwise) {
  return {static_cast<std::uint16_t>(BPF_JMP | BPF_JEQ | BPF_K), if_equal, otherwise, value};
}

// The kernel's ioctl takes the request as an unsigned int: a filter that
// compared all 64 bits of args[1] would let TIOCSTI | 1 << 32 through
// (flatpak's CVE-2019-10063). Only the low word is loaded.
constexpr std::uint32_t kRequestLowWord = offsetof(seccomp_data, args) + sizeof(std::uint64_t) +
                                          (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4);

std::vector<sock_filter> TerminalInjectionFilter() {
  std::vector<sock_filter> code;
  std::vector<std::size_t> to_request_check;  // jumps patched once its place is known
  for (const IoctlAbi& abi : kIoctlAbis) {
    code.push_back(Load(offsetof(seccomp_data, arch)));
    // Another ABI: skip this block (the nr load, its compares, the allow).
    code.push_back(JumpIfEqual(abi.arch, 0, static_cast<std::uint8_t>(abi.numbers.size() + 2)));
    code.push_back(Load(offsetof(seccomp_data, nr)));
    for (std::uint32_t number : abi.numbers) {
      to_request_check.push_back(code.size());
      code.push_back(JumpIfEqual(number, 0, 0));
    }
    code.push_back(Return(SECCOMP_RET_ALLOW));
  }
  // An ABI not listed above could reach ioctl unchecked.
  code.push_back(Return(SECCOMP_RET_KILL_PROCESS));
  for (std::size_t at : to_request_check) code[at].jt = static_cast<std::uint8_t>(code.size() - at - 1);
  code.push_back(Load(kRequestLowWord));
  code.push_back(JumpIfEqual(TIOCSTI, 2, 0));
  code.push_back(JumpIfEqual(TIOCLINUX, 1, 0));
  code.push_back(Return(SECCOMP_RET_ALLOW));
  code.push_back(Return(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
  return code;
}

// Needs no_new_privs (or CAP_SYS_ADMIN). Inherited by everything CMD starts.
Result<void> RefuseTerminalInjection() {
  std::vector<sock_filter> code = TerminalInjectionFilter();
  const sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
  return sys::SetSeccompFilter(program, "the TIOCSTI/TIOCLINUX filter");
}

// A new network namespace starts with only "lo", and down; bwrap brings it up.
Result<void> BringUpLoopback() { return sys::BringUpInterface("lo"); }

sigset_t ForwardedSet(bool with_child) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kForwardedSignals) sigaddset(&set, sig);
  if (with_child) sigaddset(&set, SIGCHLD);
  return set;
}

// With die_with_parent: a pidfd of this process, for the child it is about to
// fork (see SetDeathSignal); empty otherwise.
Result<UniqueFd> PidfdForChild(const SandboxSpec& spec) {
  if (!spec.die_with_parent) return UniqueFd();
  return sys::PidfdOpen(::getpid(), 0);
}

// PR_SET_PDEATHSIG fires only when the parent exits after it is set; whether it
// exited before, its pidfd tells (readable once it has exited). getppid()
// cannot: in a new pid namespace it is 0, the parent being outside it.
void SetDeathSignal(const SandboxSpec& spec, UniqueFd parent_pidfd) {
  if (!spec.die_with_parent) return;
  static_cast<void>(sys::SetParentDeathSignal(SIGKILL));
  pollfd exited{parent_pidfd.Get(), POLLIN, 0};
  if (::poll(&exited, 1, 0) != 0) ::_exit(kSetupFailed);
}

int StatusCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// Waits for `child` while forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT to it and
// reaping every other child (as pid 1 of a pid namespace, orphans are
// re-parented here). Returns the child's status code. The caller has blocked
// ForwardedSet(true) before forking `child`.
int Supervise(pid_t child) {
  const sigset_t set = ForwardedSet(true);
  const auto sfd = sys::SignalFd(set);
  for (;;) {
    Result<sys::ChildStatus> reaped;
    while ((reaped = sys::WaitPid(-1, WNOHANG)) && reaped->pid > 0) {
      if (reaped->pid == child) return StatusCode(reaped->status);
    }
    if (!reaped && reaped.error().code == ECHILD) return kSetupFailed;
    // A failed waitpid may have been the look after the child's SIGCHLD was
    // read: no signal would come again, so wait for the child itself.
    if (!sfd || !reaped) {
      // Without a signalfd (fd limit): still reap, without forwarding.
      if (auto exited = sys::WaitPid(child, 0); exited && exited->pid == child) return StatusCode(exited->status);
      continue;
    }
    signalfd_siginfo info{};
    if (::read(sfd->Get(), &info, sizeof info) != sizeof info) continue;
    // A terminal's ^C, ^\ or hangup (SI_KERNEL) reached CMD itself: it is in
    // our process group, the terminal's foreground one. Sending it on would
    // deliver it twice (once more per process of the chain).
    if (info.ssi_signo != SIGCHLD && info.ssi_code != SI_KERNEL) ::kill(child, static_cast<int>(info.ssi_signo));
  }
}

[[noreturn]] void ExecCommand(const SandboxSpec& spec, std::vector<std::string> env,
                              const std::string& working_directory, int error_fd) {
  std::vector<char*> argv;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  if (!spec.argv0.empty()) argv[0] = const_cast<char*>(spec.argv0.c_str());
  // As bwrap: PWD is the directory CMD starts in, after every environment
  // change; the caller's would be stale (programs read PWD without checking it).
  std::erase_if(env, [](const std::string& entry) { return entry.starts_with("PWD="); });
  env.push_back("PWD=" + working_directory);
  std::vector<char*> envp;
  for (const std::string& entry : env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  // exec resets handlers but keeps SIG_IGN: a caller that ignores SIGPIPE
  // (shells, Python) or a real-time signal (ctest ignores 32) would hand that
  // to CMD. CMD starts with every signal at its default action.
  sys::ResetAllSignalActions();
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  ::execvpe(spec.argv[0].c_str(), argv.data(), envp.data());
  const int err = errno;
  Fail(error_fd, MakeError(err, "execvp", QuotePath(spec.argv[0]) + " inside the sandbox").error());
}

struct Launch {
  const SandboxSpec& spec;
  bool privileged;
  uid_t outside_uid;
  gid_t outside_gid;
  std::string cwd;
  std::vector<std::string> env;
  int ns_fd;  // -1: created by the child (unprivileged)
  int error_fd;
  // The rootless fast path: the keeper's namespaces (-1: the slow path).
  int rootless_user_ns_fd;
  int rootless_host_view_fd;
  int rootless_template_fd;
  // Whether CMD's user namespace is made last, after setup (as root, or in
  // the rootless keeper's user namespace), not first.
  [[nodiscard]] bool NestsUserNamespace() const { return privileged || rootless_user_ns_fd >= 0; }
  // The caller's bounding set: a new user namespace starts with a full one,
  // and bwrap gives CMD no capability the caller could not have had.
  std::uint64_t caller_bounding;
};

// Every capability this kernel knows that the process may still have (its bounding set).
std::uint64_t BoundingCapabilities() {
  std::uint64_t set = 0;
  for (int cap = 0; cap < 64; ++cap) {
    if (auto in = sys::InBoundingSet(cap); in && *in) set |= std::uint64_t{1} << cap;
  }
  return set;
}

// bwrap's --cap-add/--cap-drop: effective, permitted, inheritable and ambient
// all become `set`. SECBIT_NOROOT keeps an exec as uid 0 from granting the
// rest back (uid 0 would otherwise get the whole bounding set at exec);
// ambient capabilities survive an exec as any uid.
Result<void> ApplyCapabilities(std::uint64_t set) {
  if (auto r = sys::SetSecureBits(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED); !r) {
    r.error().argument = "SECBIT_NOROOT";
    return r;
  }
  if (auto r = sys::SetCapabilitySets(set); !r) return r;
  if (auto r = sys::ClearAmbientCapabilities(); !r) return r;
  for (int cap = 0; cap < 64; ++cap) {
    if ((set >> cap & 1) == 0) continue;
    if (auto r = sys::RaiseAmbientCapability(cap); !r) return r;
  }
  return kOk;
}

// bwrap's --disable-userns: a user namespace may have at most one child
// (user.max_user_namespaces = 1 in the sandbox's), and CMD goes into that
// one, so any namespace CMD creates would be a second. The nested namespace
// maps CMD's ids to themselves.
Result<void> DisableUserNamespaces(int proc_dir) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (auto r = WriteProcFile(proc_dir, "sys/user/max_user_namespaces", "1\n"); !r) return r;
  if (auto r = UnshareUserNamespace(proc_dir); !r) return r;
  if (auto r = WriteProcFile(proc_dir, "self/setgroups", "deny\n"); !r) return r;
  if (auto r = WriteProcFile(proc_dir, "self/uid_map", fmt::format("{} {} 1\n", uid, uid)); !r) return r;
  return WriteProcFile(proc_dir, "self/gid_map", fmt::format("{} {} 1\n", gid, gid));
}

// Whether a child of this process can create a user namespace.
Result<bool> CanCreateUserNamespace() {
  auto forked = sys::Fork("the --assert-userns-disabled check");
  if (!forked) return std::unexpected(forked.error());
  if (*forked == 0) ::_exit(sys::Unshare(CLONE_NEWUSER) ? 0 : 1);
  auto waited = sys::WaitPid(*forked, 0);
  // A check that did not run proves nothing: its own failure is the answer,
  // not "disabled". The unshare failing with any errno is "disabled", as
  // with bwrap.
  if (!waited) return std::unexpected(waited.error());
  return WIFEXITED(waited->status) && WEXITSTATUS(waited->status) == 0;
}

// --block-fd: tells the caller that it may write now, then waits for a byte or EOF.
void BlockOn(int block_fd, int error_fd) {
  const int ready = kReadyCode;
  WriteAll(error_fd, reinterpret_cast<const char*>(&ready), sizeof ready);
  char byte;
  while (::read(block_fd, &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(block_fd);
}

// Writes an SELinux attribute of the calling thread (exec, fscreate) through
// `proc_dir` (the caller's /proc: the sandbox may have none).
Result<void> WriteSelinuxAttribute(int proc_dir, const char* attribute, const std::string& label) {
  const std::string path = fmt::format("thread-self/attr/{}", attribute);
  auto file = sys::Open(proc_dir, path.c_str(), O_WRONLY);
  if (!file) return std::unexpected(file.error());
  return sys::WriteAll(file->Get(), label, fmt::format("/proc/{} {}", path, QuotePath(label)));
}

// --userns-block-fd: a user namespace without id maps for this process (and
// what it starts); the caller writes them while it waits. The caller learns
// this process's pid from the status record sent before.
Result<void> AwaitCallersIdMaps(const SandboxSpec& spec, int proc_dir, int error_fd) {
  if (auto r = UnshareUserNamespace(proc_dir); !r) return r;
  BlockOn(spec.userns_block_fd, error_fd);
  return kOk;
}

// The sandbox's CMD: last steps in the process that execs.
[[noreturn]] void BecomeCommand(const Launch& launch, int proc_dir, const std::string& working_directory) {
  const SandboxSpec& spec = launch.spec;
  const auto fail = [&](const Error& error) { Fail(launch.error_fd, error); };
  // With --userns-block-fd the namespace is made already (RunInit), and
  // with --userns2 CMD is in that one.
  if (spec.unshare_user && launch.NestsUserNamespace() && spec.userns_block_fd < 0 && spec.userns2_fd < 0) {
    if (auto r = EnterUserNamespace(spec, proc_dir, launch.outside_uid, launch.outside_gid); !r) fail(r.error());
  }
  if (spec.userns_fd >= 0 && (spec.gid || spec.uid)) {
    // In a joined namespace nothing is mapped by mntns: --uid/--gid pick
    // ids that its maps already have. As bwrap: no setgroups (an
    // unprivileged user's namespace denies it), the supplementary groups stay.
    if (spec.gid) {
      if (auto r = sys::SetAllGroupIds(*spec.gid); !r) {
        r.error().argument += " (--gid, in the --userns namespace)";
        fail(r.error());
      }
    }
    if (spec.uid) {
      if (auto r = sys::SetAllUserIds(*spec.uid); !r) {
        r.error().argument += " (--uid, in the --userns namespace)";
        fail(r.error());
      }
    }
  }
  if (spec.disable_userns) {
    if (auto r = DisableUserNamespaces(proc_dir); !r) fail(r.error());
  }
  if (spec.assert_userns_disabled) {
    auto can = CanCreateUserNamespace();
    if (!can) fail(can.error().Wrap("--assert-userns-disabled"));
    if (can && *can) {
      fail(MakeError(EPERM, "--assert-userns-disabled", "creating a user namespace inside the sandbox still works")
               .error());
    }
  }
  if (spec.capabilities || spec.keep_capabilities) {
    for (int cap = 0; cap < 64; ++cap) {
      if ((launch.caller_bounding >> cap & 1) != 0) continue;
      auto in = sys::InBoundingSet(cap);
      if (!in) fail(in.error());
      if (!in || !*in) continue;
      if (auto r = sys::DropBoundingCapability(cap); !r) fail(r.error());
    }
  }
  if (spec.capabilities) {
    if (auto r = ApplyCapabilities(*spec.capabilities & launch.caller_bounding); !r) fail(r.error());
  } else if (spec.unshare_user && !spec.keep_capabilities) {
    if (auto r = DropCapabilities(); !r) fail(r.error());
  }
  if (spec.new_session) {
    if (auto r = sys::NewSession(); !r) {
      r.error().argument = "--new-session";
      fail(r.error());
    }
  }
  if (!spec.exec_label.empty()) {
    if (auto r = WriteSelinuxAttribute(proc_dir, "exec", spec.exec_label); !r) {
      r.error().Wrap("--exec-label");
      fail(r.error());
    }
  }
  if (auto r = SetNoNewPrivileges(); !r) fail(r.error());
  if (auto r = RefuseTerminalInjection(); !r) fail(r.error());
  for (std::size_t i = 0; i < spec.seccomp_programs.size(); ++i) {
    const std::string& bytes = spec.seccomp_programs[i];
    std::vector<sock_filter> code(bytes.size() / sizeof(sock_filter));
    std::memcpy(code.data(), bytes.data(), code.size() * sizeof(sock_filter));
    const sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
    const std::string what = fmt::format("seccomp program {} of {} ({} instructions)", i + 1,
                                         spec.seccomp_programs.size(), code.size());
    if (auto r = sys::SetSeccompFilter(program, what.c_str()); !r) fail(r.error());
  }
  if (spec.block_fd >= 0) BlockOn(spec.block_fd, launch.error_fd);
  ExecCommand(spec, launch.env, working_directory, launch.error_fd);
}

// The inode of one of this process's namespaces, through the caller's /proc
// (the sandbox's mount namespace is not entered yet); 0 if unknown.
std::uint64_t OwnNamespace(const char* name) {
  struct stat st {};
  return ::stat(fmt::format("/proc/self/ns/{}", name).c_str(), &st) == 0 ? st.st_ino : 0;
}

// spec.report_status: every namespace but the mount one is this process's
// already; /proc/self, in the caller's /proc, names this process by its pid
// in the caller's pid namespace.
void SendStatusRecord(const SandboxStatus& status, int error_fd);

void SendStatus(const SandboxSpec& spec, int ns_fd, int error_fd) {
  SandboxStatus status;
  char self[32] = {};
  if (::readlink("/proc/self", self, sizeof self - 1) > 0) status.child_pid = static_cast<pid_t>(std::atoi(self));
  if (spec.unshare_cgroup) status.cgroup_ns = OwnNamespace("cgroup");
  if (spec.unshare_ipc) status.ipc_ns = OwnNamespace("ipc");
  if (spec.unshare_net) status.net_ns = OwnNamespace("net");
  if (spec.unshare_pid) status.pid_ns = OwnNamespace("pid");
  if (spec.unshare_uts) status.uts_ns = OwnNamespace("uts");
  if (struct stat st {}; ::fstat(ns_fd, &st) == 0) status.mnt_ns = st.st_ino;
  SendStatusRecord(status, error_fd);
}

void SendStatusRecord(const SandboxStatus& status, int error_fd) {
  char record[sizeof(int) + sizeof status];
  const int code = kStatusCode;
  std::memcpy(record, &code, sizeof code);
  std::memcpy(record + sizeof code, &status, sizeof status);
  WriteAll(error_fd, record, sizeof record);
}

// The sandbox's init: prepares the mounts in the caller's namespace, enters
// the sandbox's, attaches them, then becomes CMD (or, as pid 1 of a new pid
// namespace, forks CMD and reaps).
[[noreturn]] void RunInit(const Launch& launch, UniqueFd ns, bool is_pid1) {
  const SandboxSpec& spec = launch.spec;
  const int error_fd = launch.error_fd;
  const auto fail = [&](const Error& error) { Fail(error_fd, error); };

  int other = 0;
  if (spec.unshare_net) other |= CLONE_NEWNET;
  if (spec.unshare_uts) other |= CLONE_NEWUTS;
  if (spec.unshare_ipc) other |= CLONE_NEWIPC;
  if (spec.unshare_cgroup) other |= CLONE_NEWCGROUP;
  if (other != 0) {
    if (auto r = sys::Unshare(other); !r) fail(r.error());
  }
  if (spec.unshare_net) {
    if (auto r = BringUpLoopback(); !r) fail(r.error());
  }
  if (!spec.hostname.empty()) {
    if (auto r = sys::SetHostname(spec.hostname); !r) fail(r.error());
  }
  // The host's /proc, for the user-namespace maps written after entering.
  UniqueFd proc_dir;
  if ((spec.unshare_user && launch.NestsUserNamespace()) || spec.disable_userns || !spec.exec_label.empty() ||
      !spec.file_label.empty()) {
    auto proc = sys::Open(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY);
    if (!proc) fail(proc.error());
    proc_dir = std::move(*proc);
  } else if (spec.userns2_fd >= 0) {
    // Only to wait for the helper threads before setns (AwaitSingleThread):
    // without a /proc the setns goes ahead and reports for itself.
    if (auto proc = sys::Open(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY)) proc_dir = std::move(*proc);
  }
  // --file-label: what the setup creates (directories, files, mount points) gets it.
  if (!spec.file_label.empty()) {
    if (auto r = WriteSelinuxAttribute(proc_dir.Get(), "fscreate", spec.file_label); !r) {
      r.error().Wrap("--file-label");
      fail(r.error());
    }
  }
  auto prepared = internal::PrepareMounts(spec);
  if (!prepared) fail(prepared.error());
  if (spec.report_status) SendStatus(spec, ns.Get(), error_fd);
  // setns(CLONE_NEWNS) refuses a process whose fs_struct is shared (the
  // template factory's threads share it when the namespace was made here).
  if (auto r = sys::Unshare(CLONE_FS); !r) fail(r.error());
  if (auto r = sys::Setns(ns.Get(), CLONE_NEWNS); !r) fail(r.error());
  ns.Reset();
  // A shared --root keeps its peer group in the copy (as 7.x does): make the
  // whole sandbox private so nothing propagates to or from the host. A --root
  // copy also becomes nosuid,nodev, as any --bind (the tmpfs root has them).
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  attr.propagation = MS_PRIVATE;
  if (auto r = sys::MountSetattr(AT_FDCWD, "/", AT_RECURSIVE, attr); !r) fail(r.error());
  if (auto r = internal::AttachMounts(spec, *prepared); !r) fail(r.error());
  // As bwrap: a process-owned lock, held by the sandbox's pid 1 (or by CMD,
  // without a pid namespace: the fd is left open across the exec, since
  // closing any fd of the file would drop the lock).
  for (const std::string& lock : spec.lock_files) {
    const auto fail_on = [&](Error error) {
      error.argument = QuotePath(lock) + " inside the sandbox (--lock-file)";
      fail(error);
    };
    auto file = sys::Open(AT_FDCWD, lock.c_str(), O_RDONLY | O_NOCTTY);
    if (!file) fail_on(file.error());
    if (auto r = sys::LockWholeFile(file->Get(), F_RDLCK); !r) fail_on(r.error());
    // Held until the process exits: pid 1's stays close-on-exec (CMD, forked,
    // would only inherit an fd it has no use for); CMD's own exec keeps it.
    const bool this_process_execs = !is_pid1 || spec.as_pid_1;
    if (this_process_execs) {
      if (auto r = sys::SetCloseOnExec(file->Get(), false); !r) fail_on(r.error());
    }
    static_cast<void>(file->Release());
  }
  if (!spec.chdir.empty()) {
    if (auto r = sys::Chdir(spec.chdir.c_str()); !r) {
      r.error().argument += " inside the sandbox";
      r.error().Wrap("--chdir");
      fail(r.error());
    }
  } else if (launch.cwd.empty() || ::chdir(launch.cwd.c_str()) != 0) {
    if (auto r = sys::Chdir("/"); !r) fail(r.error());
  }
  std::string working_directory = "/";
  if (char buffer[4096]; ::getcwd(buffer, sizeof buffer) != nullptr) working_directory = buffer;
  // The namespaces CMD (and, with unshare_pid, this pid 1) ends in, made or
  // joined once nothing more needs the caller's user namespace.
  if (spec.userns_block_fd >= 0 && launch.privileged) {
    if (auto r = AwaitCallersIdMaps(spec, proc_dir.Get(), error_fd); !r) fail(r.error());
  }
  if (spec.userns2_fd >= 0) {
    sys::AwaitSingleThread(proc_dir.Get());  // as UnshareUserNamespace
    if (auto r = sys::Setns(spec.userns2_fd, CLONE_NEWUSER); !r) {
      r.error().Wrap("--userns2");
      fail(r.error());
    }
    ::close(spec.userns2_fd);
  }
  if (!is_pid1 || spec.as_pid_1) BecomeCommand(launch, proc_dir.Get(), working_directory);

  const sigset_t set = ForwardedSet(true);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  auto init_pidfd = PidfdForChild(spec);
  if (!init_pidfd) fail(init_pidfd.error());
  auto forked = sys::Fork("CMD inside the sandbox");
  if (!forked) fail(forked.error());
  const pid_t command = *forked;
  if (command == 0) {
    SetDeathSignal(spec, std::move(*init_pidfd));
    BecomeCommand(launch, proc_dir.Get(), working_directory);
  }
  init_pidfd->Reset();
  ::close(error_fd);
  ::_exit(Supervise(command));
}

[[noreturn]] void RunChild(const Launch& launch, UniqueFd ns, UniqueFd parent_pidfd) {
  const SandboxSpec& spec = launch.spec;
  const auto fail = [&](const Error& error) { Fail(launch.error_fd, error); };
  SetDeathSignal(spec, std::move(parent_pidfd));
  if (!launch.privileged && launch.rootless_user_ns_fd >= 0) {
    // The fast path: the keeper's user namespace (we are its owner, so every
    // capability is ours in it) and its copy of the caller's namespace, which
    // it owns: bind sources are cloned there, the sandbox is a copy of its
    // template. setns resets the cwd to the view's root; relative sources are
    // the caller's cwd's.
    if (auto r = sys::Setns(launch.rootless_user_ns_fd, CLONE_NEWUSER); !r) fail(r.error());
    if (auto r = sys::Setns(launch.rootless_host_view_fd, CLONE_NEWNS); !r) fail(r.error());
    if (!launch.cwd.empty()) static_cast<void>(::chdir(launch.cwd.c_str()));
    // Without the copy (fd limit) the factory builds a template of its own.
    auto shared = sys::DuplicateFd(launch.rootless_template_fd, 3);
    static_cast<void>(internal::UseSharedTemplate(shared ? std::move(*shared) : UniqueFd()));
    auto created = CreateRootNamespace(spec);
    if (!created) fail(created.error());
    ns = std::move(*created);
    StopNamespaceFactory();
  } else if (!launch.privileged) {
    // Without privileges over the caller's namespace nothing can be cloned
    // from it: first a user namespace, then a copy of the caller's mount
    // namespace that it owns (mounts from the caller's stay locked together).
    auto proc = sys::Open(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY);
    if (!proc) fail(proc.error());
    if (spec.userns_fd >= 0) {
      // --userns: the given namespace instead of a new one (all of its
      // capabilities come with setns).
      if (auto r = sys::Setns(spec.userns_fd, CLONE_NEWUSER); !r) {
        r.error().Wrap("--userns");
        fail(r.error());
      }
      ::close(spec.userns_fd);
    } else if (spec.userns_block_fd >= 0) {
      SandboxStatus early;
      if (char self[32] = {}; ::readlink("/proc/self", self, sizeof self - 1) > 0) early.child_pid = std::atoi(self);
      SendStatusRecord(early, launch.error_fd);
      if (auto r = AwaitCallersIdMaps(spec, proc->Get(), launch.error_fd); !r) fail(r.error());
    } else if (auto r = EnterUserNamespace(spec, proc->Get(), launch.outside_uid, launch.outside_gid); !r) {
      fail(r.error());
    }
    if (auto r = sys::Unshare(CLONE_NEWNS); !r) fail(r.error());
    struct mount_attr attr {};
    attr.propagation = MS_PRIVATE;
    if (auto r = sys::MountSetattr(AT_FDCWD, "/", AT_RECURSIVE, attr); !r) fail(r.error());
    auto created = CreateRootNamespace(spec);
    if (!created) fail(created.error());
    ns = std::move(*created);
    // With kTemplate that started the factory's threads here; forks follow.
    StopNamespaceFactory();
  }
  if (spec.pidns_fd >= 0) {
    // --pidns: setns only sets the namespace of the children, and a new one
    // (unshare_pid, nested) can be made only by a process already in it: one
    // fork first, this process relays.
    if (auto r = sys::Setns(spec.pidns_fd, CLONE_NEWPID); !r) {
      r.error().Wrap("--pidns");
      fail(r.error());
    }
    ::close(spec.pidns_fd);
    const sigset_t set = ForwardedSet(true);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    auto joined_pidfd = PidfdForChild(spec);
    if (!joined_pidfd) fail(joined_pidfd.error());
    auto forked = sys::Fork("the first process in the --pidns namespace");
    if (!forked) fail(forked.error());
    if (*forked != 0) {
      joined_pidfd->Reset();
      ns.Reset();
      ::close(launch.error_fd);
      ::_exit(Supervise(*forked));
    }
    SetDeathSignal(spec, std::move(*joined_pidfd));
  }
  if (!spec.unshare_pid) RunInit(launch, std::move(ns), false);

  // A new pid namespace applies to children only: this process stays outside
  // and relays; its child is the sandbox's pid 1.
  if (auto r = sys::Unshare(CLONE_NEWPID); !r) fail(r.error());
  const sigset_t set = ForwardedSet(true);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  auto relay_pidfd = PidfdForChild(spec);
  if (!relay_pidfd) fail(relay_pidfd.error());
  auto forked = sys::Fork("the sandbox's pid 1");
  if (!forked) fail(forked.error());
  const pid_t init = *forked;
  if (init == 0) {
    SetDeathSignal(spec, std::move(*relay_pidfd));
    RunInit(launch, std::move(ns), true);
  }
  relay_pidfd->Reset();
  ns.Reset();
  ::close(launch.error_fd);
  ::_exit(Supervise(init));
}

// ---- the setup process: a fresh exec of this program --------------------------
// StartSandbox forks and the child execs /proc/self/exe at once; a constructor
// below finds kSetupVariable before main() and runs the setup (RunChild) in
// that clean, single-threaded image instead of the program. Between the fork
// and that exec the child runs on memory prepared before the fork and makes
// only raw system calls: fcntl, execveat and, should the exec fail, write and
// _exit. The caller's other threads may have held any lock at the fork
// (malloc's, a sanitizer's, the factory's), and nothing would release it in
// the child.

// "HANDOFF_FD ERROR_FD": the memfd holding the SandboxHandoff, the setup channel.
constexpr const char* kSetupVariable = "MNTNS_SANDBOX_SETUP";

// The handoff is at most this long: the spec's texts (a JSON spec is at most
// 16 MiB), CMD's argv and environment (bounded by ARG_MAX-like limits).
constexpr off_t kMaximumHandoffBytes = off_t{64} << 20;
constexpr unsigned kHandoffSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// A variable that names no handoff of StartSandbox: say so, run nothing.
[[noreturn]] void RefuseSetup(const char* why) {
  const std::string message = fmt::format("mntns: {} is set but names no sandbox setup ({}); not running\n",
                                          kSetupVariable, why);
  static_cast<void>(::write(STDERR_FILENO, message.data(), message.size()));
  ::_exit(127);
}

// Why `handoff_fd`/`error_fd` are not what StartSandbox passes on (a sealed
// memfd of this euid, and a pipe), or nullptr.
const char* HandoffProblem(int handoff_fd, int error_fd) {
  if (handoff_fd <= STDERR_FILENO || error_fd <= STDERR_FILENO || handoff_fd == error_fd) {
    return "fds 0-2 or the same fd twice";
  }
  struct stat handoff {};
  struct stat channel {};
  if (::fstat(handoff_fd, &handoff) != 0 || ::fstat(error_fd, &channel) != 0) return "a closed fd";
  if (!S_ISREG(handoff.st_mode) || !S_ISFIFO(channel.st_mode)) return "not a file and a pipe";
  if (handoff.st_uid != ::geteuid()) return "a handoff of another user";
  if (handoff.st_size > kMaximumHandoffBytes) return "an over-long handoff";
  auto seals = sys::FileSeals(handoff_fd);
  // EINVAL: a file that takes no seals. Any other failure is not a refusal:
  // the handoff is this user's and the channel a pipe, so the caller hears it.
  if (!seals && seals.error().code != EINVAL) Fail(error_fd, seals.error());
  if (!seals || (*seals & kHandoffSeals) != kHandoffSeals) return "an unsealed handoff";
  return nullptr;
}

// Every byte of the memfd: sealed, so its size is the size it was written with.
Result<std::string> ReadHandoff(int fd) {
  auto st = sys::Fstat(fd);
  if (!st) return std::unexpected(st.error());
  if (st->st_size < 0 || st->st_size > kMaximumHandoffBytes) {
    return MakeError(EPROTO, "sandbox setup", "a malformed handoff");
  }
  std::string data(static_cast<std::size_t>(st->st_size), '\0');
  for (std::size_t done = 0; done < data.size();) {
    auto n = sys::ReadAt(fd, std::span(data).subspan(done), static_cast<off_t>(done), "the sandbox handoff (memfd)");
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return MakeError(EPROTO, "sandbox setup", "a malformed handoff");
    done += *n;
  }
  return data;
}

[[noreturn]] void RunSetup(int handoff_fd, int error_fd) {
  UniqueFd handoff_file(handoff_fd);
  // Passed across the exec without close-on-exec; CMD must not inherit them
  // (the channel's EOF is how the caller learns that CMD was exec'd: CMD
  // holding it would keep the caller waiting as long as CMD runs).
  if (auto r = sys::SetCloseOnExec(error_fd, true); !r) Fail(error_fd, r.error());
  auto data = ReadHandoff(handoff_file.Get());
  handoff_file.Reset();
  if (!data) Fail(error_fd, data.error());
  auto handoff = internal::DecodeHandoff(*data);
  if (!handoff) Fail(error_fd, MakeError(EPROTO, "sandbox setup", "a malformed handoff").error());
  for (int fd : {handoff->ns_fd, handoff->parent_pidfd, handoff->rootless_user_ns_fd, handoff->rootless_host_view_fd,
                 handoff->rootless_template_fd}) {
    if (fd < 0) continue;
    if (auto r = sys::SetCloseOnExec(fd, true); !r) Fail(error_fd, r.error());
  }
  // The processes of the setup keep the caller's name (comm) and mask, as a
  // plain fork would have.
  static_cast<void>(sys::SetThreadName(handoff->name.c_str()));
  ::sigprocmask(SIG_SETMASK, &handoff->signal_mask, nullptr);
  // The exec kept the caller's credentials (a secure-execution exec is
  // refused), so they are read here rather than believed from the handoff.
  // Owned here: closed before CMD runs (close-on-exec), kept for the setup.
  const UniqueFd rootless_fds[] = {UniqueFd(handoff->rootless_user_ns_fd), UniqueFd(handoff->rootless_host_view_fd),
                                   UniqueFd(handoff->rootless_template_fd)};
  const bool rootless = rootless_fds[0] && rootless_fds[1] && rootless_fds[2];
  // Joining a user namespace (--userns) builds the sandbox there, as
  // without privileges.
  const Launch launch{.spec = handoff->spec,
                      .privileged = ::geteuid() == 0 && handoff->spec.userns_fd < 0,
                      .outside_uid = ::geteuid(),
                      .outside_gid = ::getegid(),
                      .cwd = handoff->cwd,
                      .env = std::move(handoff->env),
                      .ns_fd = handoff->ns_fd,
                      .error_fd = error_fd,
                      .rootless_user_ns_fd = rootless ? rootless_fds[0].Get() : -1,
                      .rootless_host_view_fd = rootless ? rootless_fds[1].Get() : -1,
                      .rootless_template_fd = rootless ? rootless_fds[2].Get() : -1,
                      .caller_bounding = BoundingCapabilities()};
  RunChild(launch, UniqueFd(handoff->ns_fd), UniqueFd(handoff->parent_pidfd));
}

// Runs before main() in every program that links libmntns (statically, or the
// shared library loaded at start or preloaded). In a process that StartSandbox
// exec'd, it runs the setup and never returns.
// The variable is a way into the setup only for the program's own user: its
// handoff must be a sealed memfd owned by the process's effective uid, so a
// less privileged user who passes the variable (and fds) into a program
// running with more privileges (sudo -E, a daemon forwarding its client's
// environment) offers a file of the wrong owner and is refused; anyone else
// could have exec'd the program with any arguments anyway.
__attribute__((constructor(101))) void BecomeSandboxSetupWhenStartedAsOne() {
  const char* value = std::getenv(kSetupVariable);
  if (value == nullptr) return;
  const std::string parameters(value);
  // Nothing this process starts (CMD gets the caller's environment from the
  // handoff anyway) sees it again.
  ::unsetenv(kSetupVariable);
  // In a set-user-ID (or otherwise secure-execution) program the environment
  // is an unprivileged starter's: its fds are nothing to act on.
  if (::getauxval(AT_SECURE) != 0) return;
  int fds[2] = {-1, -1};
  const char* at = parameters.data();
  const char* end = parameters.data() + parameters.size();
  for (int i = 0; i < 2; ++i) {
    auto [after, error] = std::from_chars(at, end, fds[i]);
    if (error != std::errc() || (i == 0 ? (after == end || *after != ' ') : after != end)) {
      RefuseSetup("not \"HANDOFF_FD ERROR_FD\"");
    }
    at = after + 1;
  }
  if (auto problem = HandoffProblem(fds[0], fds[1])) RefuseSetup(problem);
  RunSetup(fds[0], fds[1]);
}

// The caller's command line, for the setup processes' argv (ps shows them as
// the program that started them, as after a plain fork).
std::vector<std::string> OwnCommandLine() {
  std::vector<std::string> args;
  auto file = sys::Open(AT_FDCWD, "/proc/self/cmdline", O_RDONLY);
  std::string text;
  char buffer[4096];
  // Unreadable, it is only a name for ps: "mntns" stands in below.
  for (Result<std::size_t> n; file && (n = sys::Read(file->Get(), buffer, "/proc/self/cmdline")) && *n > 0;) {
    text.append(buffer, *n);
  }
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t nul = text.find('\0', start);
    const std::size_t stop = nul == std::string::npos ? text.size() : nul;
    args.push_back(text.substr(start, stop - start));
    start = stop + 1;
  }
  if (args.empty()) args.push_back("mntns");
  return args;
}

// What the forked child needs to exec the setup, all made before the fork.
struct SetupExec {
  UniqueFd exe;
  UniqueFd handoff;
  std::vector<std::string> argv_text;
  std::vector<std::string> env_text;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string fcntl_failure;  // reports with the errno left 0, patched by the child
  std::string exec_failure;
};

Result<SetupExec> PrepareSetupExec(const internal::SandboxHandoff& handoff) {
  SetupExec setup;
  auto library = internal::LibraryToPreload();
  if (!library) {
    Error error = library.error();
    error.operation = "sandbox setup";  // it names the keeper, which shares the lookup
    return std::unexpected(std::move(error));
  }
  // A preload that the loader cannot open is ignored with a warning, and the
  // program's main() would then run again with the caller's argv.
  if (struct stat st {}; !library->empty() && (::stat(library->c_str(), &st) != 0 || !S_ISREG(st.st_mode))) {
    return MakeError(ENOENT, "sandbox setup", fmt::format("{} (libmntns, to preload) is gone", QuotePath(*library)));
  }
  auto exe = sys::Open(AT_FDCWD, "/proc/self/exe", O_PATH);
  if (!exe) return std::unexpected(exe.error());
  setup.exe = std::move(*exe);
  auto file = sys::MemoryFile("mntns-sandbox-setup");
  if (!file) return std::unexpected(file.error());
  setup.handoff = std::move(*file);
  const std::string data = internal::EncodeHandoff(handoff);
  if (auto r = sys::WriteAll(setup.handoff.Get(), data, "the sandbox handoff (memfd)"); !r) {
    return std::unexpected(r.error());
  }
  // The setup accepts only a sealed handoff (see BecomeSandboxSetupWhenStartedAsOne).
  if (auto sealed = sys::SealFile(setup.handoff.Get(), kHandoffSeals); !sealed) return std::unexpected(sealed.error());
  setup.argv_text = OwnCommandLine();
  // The caller's environment, as a fork would have kept it, for the loader and
  // the runtime (CMD gets handoff.env instead).
  const std::string preload_key = "LD_PRELOAD=";
  std::string preload = library->empty() ? std::string() : preload_key + *library;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.starts_with(kSetupVariable) && text.substr(std::strlen(kSetupVariable)).starts_with("=")) continue;
    if (!preload.empty() && text.starts_with(preload_key)) {
      preload += ":" + std::string(text.substr(preload_key.size()));
      continue;
    }
    setup.env_text.emplace_back(text);
  }
  if (!preload.empty()) setup.env_text.push_back(std::move(preload));
  setup.env_text.push_back(fmt::format("{}={} {}", kSetupVariable, setup.handoff.Get(), handoff.error_fd));
  for (std::string& arg : setup.argv_text) setup.argv.push_back(arg.data());
  setup.argv.push_back(nullptr);
  for (std::string& entry : setup.env_text) setup.envp.push_back(entry.data());
  setup.envp.push_back(nullptr);
  setup.fcntl_failure = EncodeError(MakeError(0, "fcntl(F_SETFD)", "the fds for the sandbox setup").error());
  setup.exec_failure =
      EncodeError(MakeError(0, "execveat", "\"/proc/self/exe\" (the sandbox setup)").error());
  return setup;
}

// The forked child: raw system calls on prepared memory only (see above).
[[noreturn]] void ExecSetup(SetupExec& setup, std::span<const int> inherited, int error_fd) {
  std::string* failure = &setup.fcntl_failure;
  int err = 0;
  for (int fd : inherited) {
    if (fd >= 0 && ::fcntl(fd, F_SETFD, 0) != 0) {
      err = errno;
      break;
    }
  }
  if (err == 0) {
    ::fexecve(setup.exe.Get(), setup.argv.data(), setup.envp.data());
    err = errno;
    failure = &setup.exec_failure;
  }
  std::memcpy(failure->data(), &err, sizeof err);
  WriteAll(error_fd, failure->data(), failure->size());
  ::_exit(kSetupFailed);
}

// Whether the rootless keeper may serve `spec` (see sandbox.h, "Privileges").
bool RootlessFastPathServes(const SandboxSpec& spec) {
  if (!spec.rootless_keeper || !spec.unshare_user) return false;
  if (spec.capabilities && *spec.capabilities != 0) return false;
  if (spec.keep_capabilities && spec.uid.value_or(::geteuid()) == 0) return false;
  if (spec.disable_userns || spec.assert_userns_disabled) return false;
  // Joined namespaces, caller-written maps and labels are set up in the
  // caller's own user namespace, as bwrap does: never the keeper's.
  if (spec.userns_fd >= 0 || spec.userns2_fd >= 0 || spec.pidns_fd >= 0 || spec.userns_block_fd >= 0) return false;
  if (!spec.exec_label.empty() || !spec.file_label.empty()) return false;
  return std::none_of(spec.mounts.begin(), spec.mounts.end(),
                      [](const SandboxMount& m) { return m.kind == SandboxMount::Kind::kBindFd; });
}

// Whether every host path the spec names (bind sources, overlay directories,
// the root) is the same file in the caller's namespace and in the keeper's
// host view: a mount made or removed since the view was copied (under a
// private mount, which does not propagate) shows as another device or inode.
bool HostViewMatches(const SandboxSpec& spec, const std::string& cwd, int host_root) {
  std::vector<const std::string*> paths;
  if (!spec.root.empty()) paths.push_back(&spec.root);
  for (const SandboxMount& m : spec.mounts) {
    if (m.kind == SandboxMount::Kind::kBind) paths.push_back(&m.source);
    if (m.kind != SandboxMount::Kind::kOverlay) continue;
    for (const std::string& layer : m.layers) paths.push_back(&layer);
    if (m.overlay_upper == SandboxMount::OverlayUpper::kDirectory) {
      paths.push_back(&m.source);
      paths.push_back(&m.workdir);
    }
  }
  for (const std::string* path : paths) {
    const std::string absolute = !path->empty() && (*path)[0] == '/' ? *path : cwd + "/" + *path;
    struct stat here {};
    const bool found_here = ::stat(absolute.c_str(), &here) == 0;
    const std::string inside = absolute.find_first_not_of('/') == std::string::npos
                                   ? std::string(".")
                                   : absolute.substr(absolute.find_first_not_of('/'));
    auto there = sys::Openat2(host_root, inside.c_str(), O_PATH, RESOLVE_IN_ROOT);
    if (!found_here && !there) continue;
    struct stat st {};
    if (found_here != static_cast<bool>(there) || ::fstat(there->Get(), &st) != 0 || st.st_dev != here.st_dev ||
        st.st_ino != here.st_ino) {
      return false;
    }
  }
  return true;
}

// The keeper's namespaces for this run, or empty fds (the slow path): a
// keeper whose view is stale is retired and a fresh one tried once.
internal::RootlessNamespaces FindRootlessNamespaces(const SandboxSpec& spec, const std::string& cwd) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto kept = internal::ShareRootlessNamespaces(*spec.rootless_keeper);
    if (!kept) return {};
    if (HostViewMatches(spec, cwd, kept->host_root.Get())) return std::move(*kept);
    internal::RetireRootlessKeeper(*spec.rootless_keeper, kept->pid);
  }
  return {};
}

}  // namespace

Result<SandboxProcess> StartSandbox(const SandboxSpec& spec) {
  if (auto r = ValidateSandboxSpec(spec); !r) return std::unexpected(r.error());
  const bool privileged = ::geteuid() == 0 && spec.userns_fd < 0;
  if (!privileged && !spec.unshare_user && spec.userns_fd < 0) {
    return MakeError(EPERM, "sandbox", "not root: add --unshare-user to build the sandbox in a user namespace");
  }
  // The setup's image would be secure-execution too, and ignore its start.
  if (::getauxval(AT_SECURE) != 0) {
    return MakeError(EPERM, "sandbox", "not from a set-user-ID, set-group-ID or capability-raising program");
  }
  for (const auto& [option, label] : {std::pair{"--exec-label", &spec.exec_label}, {"--file-label", &spec.file_label}}) {
    if (label->empty()) continue;
    if (auto r = CheckSandboxLabel(*label); !r) {
      r.error().Wrap(option);
      return std::unexpected(r.error());
    }
  }
  const NamespaceStrategy strategy = ResolveStrategy(SandboxOperation(spec), spec.strategy);
  UniqueFd ns;
  if (privileged) {
    auto created = CreateRootNamespace(spec);
    if (!created) return std::unexpected(created.error());
    ns = std::move(*created);
  }
  std::string cwd;
  if (char buffer[4096]; ::getcwd(buffer, sizeof buffer) != nullptr) cwd = buffer;
  internal::RootlessNamespaces rootless;
  if (!privileged && RootlessFastPathServes(spec)) rootless = FindRootlessNamespaces(spec, cwd);

  auto channel = sys::Pipe(0, "the sandbox setup channel");
  if (!channel) return std::unexpected(channel.error());
  auto& [read_end, write_end] = *channel;
  auto parent_pidfd = PidfdForChild(spec);
  if (!parent_pidfd) return std::unexpected(parent_pidfd.error());
  internal::SandboxHandoff handoff{.spec = spec,
                                   .cwd = cwd,
                                   .env = BuildEnvironment(spec),
                                   .name = {},
                                   .signal_mask = {},
                                   .ns_fd = ns.Get(),
                                   .error_fd = write_end.Get(),
                                   .parent_pidfd = parent_pidfd->Get(),
                                   .rootless_user_ns_fd = rootless.user_ns.Get(),
                                   .rootless_host_view_fd = rootless.host_view.Get(),
                                   .rootless_template_fd = rootless.template_ns.Get()};
  if (auto name = sys::ThreadName(); name) handoff.name = std::move(*name);
  ::pthread_sigmask(SIG_BLOCK, nullptr, &handoff.signal_mask);
  auto setup = PrepareSetupExec(handoff);
  if (!setup) return std::unexpected(setup.error());
  const int inherited[] = {setup->handoff.Get(),           handoff.error_fd,
                           handoff.ns_fd,                   handoff.parent_pidfd,
                           handoff.rootless_user_ns_fd,     handoff.rootless_host_view_fd,
                           handoff.rootless_template_fd};
  // No handler of the caller may run in the child (it would run on a copy of
  // the caller's memory, in a process made without glibc): every signal is
  // blocked across the clone; the setup restores the caller's mask after exec.
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
  auto forked = sys::ForkWithPidfd("the sandbox");
  if (forked && forked->pid == 0) ExecSetup(*setup, inherited, handoff.error_fd);
  ::pthread_sigmask(SIG_SETMASK, &handoff.signal_mask, nullptr);
  if (!forked) return std::unexpected(forked.error());
  write_end.Reset();
  parent_pidfd->Reset();
  ns.Reset();
  rootless = {};
  setup->handoff.Reset();
  bool ready = false;
  std::optional<SandboxStatus> status;
  auto reported =
      ReceiveError(read_end.Get(), spec.block_fd >= 0 || spec.userns_block_fd >= 0 ? &ready : nullptr, &status);
  if (!reported) {
    static_cast<void>(sys::WaitPid(forked->pid, 0));
    return std::unexpected(reported.error());
  }
  SandboxProcess process;
  if (ready) process.setup_channel = std::move(read_end);
  process.status = status;
  process.pid = forked->pid;
  process.strategy = strategy;
  process.pidfd = std::move(forked->pidfd);
  return process;
}

namespace {

// SIGKILL and reap, for a SandboxProcess dropped before WaitSandbox.
void KillAndReap(pid_t pid, const UniqueFd& pidfd) {
  if (pid <= 0) return;
  if (pidfd) {
    static_cast<void>(sys::PidfdSendSignal(pidfd.Get(), SIGKILL));
    static_cast<void>(sys::WaitId(P_PIDFD, static_cast<id_t>(pidfd.Get()), WEXITED));
    return;
  }
  // Still our unreaped child (WaitSandbox sets -1): the pid cannot be reused.
  ::kill(pid, SIGKILL);
  static_cast<void>(sys::WaitPid(pid, 0));
}

}  // namespace

SandboxProcess::SandboxProcess(SandboxProcess&& other) noexcept
    : pid(std::exchange(other.pid, -1)),
      pidfd(std::move(other.pidfd)),
      strategy(other.strategy),
      setup_channel(std::move(other.setup_channel)),
      status(other.status) {}

SandboxProcess& SandboxProcess::operator=(SandboxProcess&& other) noexcept {
  if (this != &other) {
    KillAndReap(pid, pidfd);
    pid = std::exchange(other.pid, -1);
    pidfd = std::move(other.pidfd);
    strategy = other.strategy;
    setup_channel = std::move(other.setup_channel);
    status = other.status;
  }
  return *this;
}

SandboxProcess::~SandboxProcess() { KillAndReap(pid, pidfd); }

Result<int> WaitSandbox(SandboxProcess& process, std::span<const int> forward_signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : forward_signals) sigaddset(&set, sig);
  UniqueFd sfd;
  sigset_t old;
  const bool forwarding = !forward_signals.empty() && process.pidfd;
  if (forwarding) {
    ::pthread_sigmask(SIG_BLOCK, &set, &old);
    if (auto created = sys::SignalFd(set); created) sfd = std::move(*created);
  }
  while (forwarding && sfd) {
    pollfd fds[2] = {{process.pidfd.Get(), POLLIN, 0}, {sfd.Get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if ((fds[0].revents & POLLIN) != 0) break;
    signalfd_siginfo info{};
    if ((fds[1].revents & POLLIN) != 0 && ::read(sfd.Get(), &info, sizeof info) == sizeof info) {
      // From the terminal (SI_KERNEL) it went to the whole foreground process
      // group, the sandbox with us: only what was sent to mntns alone is passed on.
      if (info.ssi_code != SI_KERNEL || ::getpgid(process.pid) != ::getpgrp()) {
        ::kill(process.pid, static_cast<int>(info.ssi_signo));
      }
    }
  }
  auto waited = sys::WaitPid(process.pid, 0);
  if (forwarding) ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!waited) return std::unexpected(waited.error());
  process.pid = -1;
  process.pidfd.Reset();
  if (process.setup_channel) {
    // After a ready record (--block-fd): whether CMD could be exec'd after all.
    auto reported = ReceiveError(process.setup_channel.Get());
    process.setup_channel.Reset();
    if (!reported) return std::unexpected(reported.error());
  }
  return StatusCode(waited->status);
}

}  // namespace mntns
