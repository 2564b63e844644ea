// The fault-injection seam's state, in the test build only (fault_injection.h).
// Global mutable state against STYLE.md rule 5, which is why it exists only
// in the mntns_fault_injection objects: it stands for the kernel, which is
// global too.
#include "sys/fault_injection_control.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <iterator>
#include <string>

namespace mntns::sys {
namespace {

constexpr std::size_t kCalls = static_cast<std::size_t>(Call::kCount);

std::atomic<bool> active{false};
std::atomic<int> armed_call{-1};
std::atomic<std::size_t> armed_nth{0};
std::atomic<int> armed_error{0};
std::atomic<pid_t> armed_pid{0};
std::atomic<bool> triggered{false};
std::atomic<int> marker_fd{-1};
std::array<std::atomic<std::size_t>, kCalls> counts{};
// 0: the environment not read yet; 1: read (or being read).
std::atomic<int> environment_read{0};

// glibc's getpid() is a system call since 2.25 (no cache), but the raw call
// says plainly that no wrapper state is involved after clone3.
pid_t RawPid() { return static_cast<pid_t>(::syscall(SYS_getpid)); }

void ResetCounts() {
  for (auto& count : counts) count.store(0, std::memory_order_relaxed);
}

void ArmFromEnvironment() {
  int expected = 0;
  if (!environment_read.compare_exchange_strong(expected, 1)) return;
  const char* text = std::getenv(fault::kEnvironmentVariable);
  fault::Arming arming;
  if (text == nullptr || !fault::ParseArming(text, arming)) return;
  // A keeper is handed kKeeperOnly as kAnyProcess (StartKeeper): here it
  // names some other process's calls.
  if (arming.target == fault::Target::kKeeperOnly) return;
  // Only a pipe inherited from the arming test counts; the mark is made
  // close-on-exec so that CMD, exec'd from here with the same environment,
  // finds no pipe and is not armed.
  struct stat st {};
  if (::fstat(arming.marker_fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return;
  ::fcntl(arming.marker_fd, F_SETFD, FD_CLOEXEC);
  marker_fd.store(arming.marker_fd);
  fault::Arm(arming.call, arming.nth, arming.error);
  // The setup forks the sandbox's pid 1 and CMD's parent, which do part of
  // its work: they inherit the arming and count on from the fork.
  armed_pid.store(0);
}

}  // namespace

bool InjectFault(Call call) noexcept {
  if (environment_read.load(std::memory_order_acquire) == 0) ArmFromEnvironment();
  if (!active.load(std::memory_order_acquire)) return false;
  if (const pid_t pid = armed_pid.load(std::memory_order_relaxed); pid != 0 && RawPid() != pid) return false;
  const std::size_t n = counts[static_cast<std::size_t>(call)].fetch_add(1) + 1;
  const std::size_t nth = armed_nth.load(std::memory_order_relaxed);
  if (static_cast<int>(call) != armed_call.load(std::memory_order_relaxed) || nth == 0 || n != nth) return false;
  triggered.store(true);
  if (const int fd = marker_fd.load(); fd >= 0) {
    const char mark = 'x';
    static_cast<void>(::write(fd, &mark, 1));
  }
  errno = armed_error.load(std::memory_order_relaxed);
  return true;
}

namespace fault {

bool ParseArming(const char* text, Arming& arming) noexcept {
  unsigned long values[5] = {};
  char* end = const_cast<char*>(text);
  for (std::size_t i = 0; i < std::size(values); ++i) {
    // Digits only (strtoul would take a sign, blanks or nothing), one space
    // between the fields: a cut entry is no entry.
    if (i > 0 && *end++ != ' ') return false;
    if (*end < '0' || *end > '9') return false;
    errno = 0;
    values[i] = std::strtoul(end, &end, 10);
    if (errno != 0) return false;
  }
  if (*end != '\0' || values[0] >= kCalls || values[3] > INT_MAX || values[4] > 2 || values[2] > 4095) return false;
  arming = {.call = static_cast<Call>(values[0]),
            .nth = values[1],
            .error = static_cast<int>(values[2]),
            .marker_fd = static_cast<int>(values[3]),
            .target = static_cast<Target>(values[4])};
  return true;
}

std::string FormatArming(const Arming& arming) {
  return std::to_string(static_cast<int>(arming.call)) + " " + std::to_string(arming.nth) + " " +
         std::to_string(arming.error) + " " + std::to_string(arming.marker_fd) + " " +
         std::to_string(static_cast<int>(arming.target));
}

std::string_view CallName(Call call) {
  static constexpr std::string_view kNames[] = {
      "open",         "openat2",    "memfd_create", "fcntl",      "statmount", "listmount",
      "statx",        "fstat",      "open_tree",    "fsopen",     "fsmount",   "fsconfig",
      "move_mount",   "mount_setattr", "ioctl",     "setns",      "unshare",   "pivot_root",
      "umount2",      "fchdir",     "chdir",        "pidfd_open", "pidfd_send_signal",
      "capset",       "socket",     "fork",         "clone3",     "pipe2",     "socketpair",
      "waitpid",      "waitid",     "signalfd",     "prctl",      "flock",
      "mkdir",        "symlink",    "chmod",        "rename",     "utimensat", "chroot",
      "getrandom",    "poll",       "close_range",  "read",       "write",     "pread",
      "statfs",       "fstatfs",    "fstatat",      "readlink",   "setresuid", "setresgid",
      "setsid",       "sendmsg",    "recvmsg",      "fstatvfs",   "sethostname", "unlinkat",
  };
  // A kind added to Call without its name here would name nothing.
  static_assert(std::size(kNames) == kCalls);
  return kNames[static_cast<std::size_t>(call)];
}

void Arm(Call call, std::size_t nth, int error) {
  // A test arms from its own thread; the environment of this process is
  // then no longer a source.
  environment_read.store(1);
  active.store(false);
  ResetCounts();
  triggered.store(false);
  armed_call.store(static_cast<int>(call));
  armed_nth.store(nth);
  armed_error.store(error);
  armed_pid.store(RawPid());
  active.store(true, std::memory_order_release);
}

void Disarm() { active.store(false, std::memory_order_release); }

bool Triggered() { return triggered.load(); }

std::array<std::size_t, kCalls> Counts() {
  std::array<std::size_t, kCalls> result{};
  for (std::size_t i = 0; i < kCalls; ++i) result[i] = counts[i].load();
  return result;
}

}  // namespace fault
}  // namespace mntns::sys
