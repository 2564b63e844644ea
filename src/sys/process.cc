#include "sys/process.h"
#include "sys/fault_injection.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sched.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>

namespace mntns::sys {

Result<pid_t> Fork(const char* purpose) {
  const pid_t pid = InjectFault(Call::kFork) ? -1 : ::fork();
  if (pid < 0) {
    const int err = errno;
    return MakeError(err, "fork", purpose);
  }
  return pid;
}

Result<ForkedProcess> ForkWithPidfd(const char* purpose) { return CloneWithPidfd(0, purpose); }

Result<ForkedProcess> CloneWithPidfd(std::uint64_t flags, const char* purpose) {
  int pidfd = -1;
  clone_args args{};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&pidfd));
  args.exit_signal = SIGCHLD;
  const long pid = InjectFault(Call::kClone3) ? -1 : ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) {
    const int err = errno;
    return MakeError(err, "clone3", purpose);
  }
  ForkedProcess forked;
  forked.pid = static_cast<pid_t>(pid);
  // The kernel makes pidfds close-on-exec.
  if (pid != 0) forked.pidfd.Reset(pidfd);
  return forked;
}

Result<std::pair<UniqueFd, UniqueFd>> Pipe(int flags, const char* purpose) {
  int fds[2];
  if (InjectFault(Call::kPipe2) || ::pipe2(fds, flags | O_CLOEXEC) != 0) {
    const int err = errno;
    return MakeError(err, "pipe2", purpose);
  }
  return std::pair<UniqueFd, UniqueFd>(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

Result<std::pair<UniqueFd, UniqueFd>> SocketPair(int domain, int type, const char* purpose) {
  int fds[2];
  if (InjectFault(Call::kSocketpair) || ::socketpair(domain, type | SOCK_CLOEXEC, 0, fds) != 0) {
    const int err = errno;
    return MakeError(err, "socketpair", purpose);
  }
  return std::pair<UniqueFd, UniqueFd>(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

Result<ChildStatus> WaitPid(pid_t pid, int options) {
  ChildStatus child;
  while ((child.pid = InjectFault(Call::kWaitpid) ? -1 : ::waitpid(pid, &child.status, options)) < 0) {
    const int err = errno;
    if (err == EINTR) continue;
    return MakeError(err, "waitpid", fmt::format("pid {}", pid));
  }
  return child;
}

Result<siginfo_t> WaitId(idtype_t type, id_t id, int options) {
  siginfo_t info{};
  while (InjectFault(Call::kWaitid) || ::waitid(type, id, &info, options) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    return MakeError(err, "waitid", type == P_PIDFD ? fmt::format("pidfd {}", id) : fmt::format("pid {}", id));
  }
  return info;
}

Result<UniqueFd> SignalFd(const sigset_t& set) {
  const int fd = InjectFault(Call::kSignalfd) ? -1 : ::signalfd(-1, &set, SFD_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "signalfd");
  }
  return UniqueFd(fd);
}

Result<void> PidfdSendSignal(int pidfd, int sig) {
  if (InjectFault(Call::kPidfdSendSignal) || ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0) {
    const int err = errno;
    return MakeError(err, "pidfd_send_signal", fmt::format("pidfd {} signal {}", pidfd, sig));
  }
  return kOk;
}

Result<void> SetNoNewPrivileges() {
  if (InjectFault(Call::kPrctl) || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    const int err = errno;
    return MakeError(err, "prctl(PR_SET_NO_NEW_PRIVS)");
  }
  return kOk;
}

Result<void> DropBoundingCapability(int capability) {
  if (InjectFault(Call::kPrctl) || ::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0) {
    const int err = errno;
    return MakeError(err, "prctl(PR_CAPBSET_DROP)", std::to_string(capability));
  }
  return kOk;
}

Result<bool> InBoundingSet(int capability) {
  const int in = InjectFault(Call::kPrctl) ? -1 : ::prctl(PR_CAPBSET_READ, capability, 0, 0, 0);
  if (in < 0) {
    const int err = errno;
    if (err == EINVAL) return false;
    return MakeError(err, "prctl(PR_CAPBSET_READ)", std::to_string(capability));
  }
  return in == 1;
}

Result<void> SetSecureBits(unsigned long bits) {
  if (InjectFault(Call::kPrctl) || ::prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) {
    const int err = errno;
    return MakeError(err, "prctl(PR_SET_SECUREBITS)", fmt::format("{:#x}", bits));
  }
  return kOk;
}

Result<void> RaiseAmbientCapability(int capability) {
  if (InjectFault(Call::kPrctl) || ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0) != 0) {
    const int err = errno;
    return MakeError(err, "prctl(PR_CAP_AMBIENT_RAISE)", std::to_string(capability));
  }
  return kOk;
}

Result<void> ClearAmbientCapabilities() {
  if (InjectFault(Call::kPrctl) || ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    const int err = errno;
    return MakeError(err, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
  return kOk;
}

Result<void> SetSeccompFilter(const sock_fprog& program, const char* what) {
  if (InjectFault(Call::kPrctl) || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) {
    const int err = errno;
    return MakeError(err, "prctl(PR_SET_SECCOMP)", what);
  }
  return kOk;
}

Result<void> SetParentDeathSignal(int sig) {
  if (InjectFault(Call::kPrctl) || ::prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0) {
    const int err = errno;
    return MakeError(err, "prctl(PR_SET_PDEATHSIG)", std::to_string(sig));
  }
  return kOk;
}

Result<std::string> ReadProcStatus(int dirfd, const char* path) {
  constexpr std::size_t kLimit = std::size_t{1} << 20;
  UniqueFd fd(::openat(dirfd, path, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    return MakeError(err, "open", path);
  }
  std::string text;
  std::array<char, 4096> chunk{};
  for (;;) {
    const ssize_t n = ::read(fd.Get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      return MakeError(err, "read", path);
    }
    if (n == 0) return text;
    if (text.size() + static_cast<std::size_t>(n) > kLimit) return MakeError(E2BIG, "read", path);
    text.append(chunk.data(), static_cast<std::size_t>(n));
  }
}

std::optional<std::string_view> ProcStatusField(std::string_view status, std::string_view key) {
  for (std::size_t line = 0; line < status.size();) {
    const std::size_t end = std::min(status.find('\n', line), status.size());
    const std::string_view text = status.substr(line, end - line);
    if (text.size() > key.size() && text.starts_with(key) && text[key.size()] == ':') {
      std::string_view value = text.substr(key.size() + 1);
      value.remove_prefix(std::min(value.find_first_not_of(" \t"), value.size()));
      return value;
    }
    line = end + 1;
  }
  return std::nullopt;
}

std::vector<unsigned long long> ProcStatusNumbers(std::string_view field, int base) {
  std::vector<unsigned long long> numbers;
  for (;;) {
    field.remove_prefix(std::min(field.find_first_not_of(" \t"), field.size()));
    unsigned long long value = 0;
    const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value, base);
    if (error != std::errc()) return numbers;
    numbers.push_back(value);
    field.remove_prefix(static_cast<std::size_t>(end - field.data()));
  }
}

namespace {

// The "Threads:" count of `proc_dir`/self/status; 0 where it cannot be read.
long ThreadCount(int proc_dir) {
  auto status = ReadProcStatus(proc_dir, "self/status");
  if (!status) return 0;
  const auto field = ProcStatusField(*status, "Threads");
  const auto count = field ? ProcStatusNumbers(*field) : std::vector<unsigned long long>();
  return count.empty() ? 0 : static_cast<long>(count[0]);
}

}  // namespace

void AwaitSingleThread(int proc_dir) {
  constexpr int kMaximumWaits = 1000;  // of a millisecond each
  for (int waited = 0; waited < kMaximumWaits && ThreadCount(proc_dir) > 1; ++waited) ::usleep(1000);
}

Result<void> SetThreadName(const char* name) {
  if (InjectFault(Call::kPrctl) || ::prctl(PR_SET_NAME, name, 0, 0, 0) != 0) {
    const int err = errno;
    return MakeError(err, "prctl(PR_SET_NAME)", QuotePath(name));
  }
  return kOk;
}

Result<std::string> ThreadName() {
  char name[17] = {};  // TASK_COMM_LEN and a NUL
  if (InjectFault(Call::kPrctl) || ::prctl(PR_GET_NAME, name, 0, 0, 0) != 0) {
    const int err = errno;
    return MakeError(err, "prctl(PR_GET_NAME)");
  }
  return std::string(name);
}

Result<void> SetAllGroupIds(gid_t id) {
  if (InjectFault(Call::kSetresgid) || ::setresgid(id, id, id) != 0) {
    const int err = errno;
    return MakeError(err, "setresgid", std::to_string(id));
  }
  return kOk;
}

Result<void> SetAllUserIds(uid_t id) {
  if (InjectFault(Call::kSetresuid) || ::setresuid(id, id, id) != 0) {
    const int err = errno;
    return MakeError(err, "setresuid", std::to_string(id));
  }
  return kOk;
}

Result<void> NewSession() {
  if (InjectFault(Call::kSetsid) || ::setsid() < 0) {
    const int err = errno;
    return MakeError(err, "setsid");
  }
  return kOk;
}

Result<void> Flock(int fd, int operation) {
  while (InjectFault(Call::kFlock) || ::flock(fd, operation) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    return MakeError(err, "flock", fmt::format("fd {}", fd));
  }
  return kOk;
}

Result<unsigned> TerminalColumns(int fd) {
  struct winsize size {};
  if (::ioctl(fd, TIOCGWINSZ, &size) != 0) {
    const int err = errno;
    return MakeError(err, "ioctl(TIOCGWINSZ)", fmt::format("fd {}", fd));
  }
  return size.ws_col;
}

}  // namespace mntns::sys
