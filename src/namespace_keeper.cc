// ShareTemplateNamespace: a template namespace that outlives the process.
//
// The keeper is forked twice (it must not be the caller's child: a caller's
// waitpid(-1) or child accounting would meet it) and builds the template
// itself, in a copy of the caller's namespace; the caller receives the
// template's nsfs fd over a socketpair. Later processes find the keeper
// through its record and open /proc/PID/ns/mnt.
//
// Liveness without a protocol: every call touches the record's mtime; the
// keeper sleeps until mtime + idle and exits once that passes untouched. It
// removes its record under the lock that callers hold while they read the
// record and open the namespace, so no caller opens the namespace of a keeper
// that is leaving; a caller that holds the fd keeps the namespace alive alone.
//
// After the fork the caller may have had other threads; glibc's fork leaves
// malloc usable in the child, and the keeper needs nothing else from them.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <span>
#include <string>

#include <fmt/format.h>

#include "mntns/namespace.h"
#include "namespace_internal.h"
#include "sys/syscalls.h"

namespace mntns {
namespace {

constexpr const char* kKeeperName = "mntns-template";

// File names inside the directory; made before the fork (no allocation in the keeper's loop).
struct KeeperFiles {
  std::string record;
  std::string record_draft;
  std::string lock;
};

struct KeeperRecord {
  pid_t pid = 0;
  std::uint64_t ns_id = 0;
};

// What the keeper sends back, with the template's nsfs fd when `error` is 0.
struct KeeperReport {
  pid_t pid = 0;
  int error = 0;
  char operation[64] = {};
  char argument[192] = {};
};

// "PID MNTNS_ID\n"; anything else is no record.
std::optional<KeeperRecord> ParseRecord(const char* text, std::size_t size) {
  KeeperRecord record;
  const char* end = text + size;
  auto [after_pid, pid_error] = std::from_chars(text, end, record.pid);
  if (pid_error != std::errc() || after_pid == end || *after_pid != ' ' || record.pid <= 0) return std::nullopt;
  auto [after_id, id_error] = std::from_chars(after_pid + 1, end, record.ns_id);
  if (id_error != std::errc() || record.ns_id == 0) return std::nullopt;
  return record;
}

// Reads the record without allocating (the keeper calls it too). `changed`
// receives the record's mtime: the last time a caller found the keeper.
std::optional<KeeperRecord> ReadRecord(int dir_fd, const char* name, timespec* changed) {
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  char text[64];
  const ssize_t size = ::read(fd, text, sizeof text);
  struct stat st {};
  const bool stated = ::fstat(fd, &st) == 0;
  ::close(fd);
  if (size <= 0 || !stated) return std::nullopt;
  if (changed != nullptr) *changed = st.st_mtim;
  return ParseRecord(text, static_cast<std::size_t>(size));
}

bool Before(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

// The keeper's life once its record is written: sleep until the record has
// gone `idle` seconds untouched, then remove it (under the lock) and exit.
// Exits as well when the record no longer names this keeper.
[[noreturn]] void KeepUntilIdle(int dir_fd, const KeeperFiles& files, time_t idle) {
  const pid_t self = ::getpid();
  for (;;) {
    timespec touched{};
    auto record = ReadRecord(dir_fd, files.record.c_str(), &touched);
    if (!record || record->pid != self) ::_exit(0);
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    // A record touched in the future (the clock was set back, or touch -d)
    // would keep the keeper for as long (and overflow the deadline): its idle
    // time starts now instead. `idle` is at most a day, so the sum below fits.
    if (Before(now, touched)) {
      ::utimensat(dir_fd, files.record.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
      continue;
    }
    const timespec deadline{touched.tv_sec + idle, touched.tv_nsec};
    if (Before(now, deadline)) {
      ::clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &deadline, nullptr);
      continue;
    }
    const int lock_fd = ::openat(dir_fd, files.lock.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (lock_fd >= 0) ::flock(lock_fd, LOCK_EX);
    record = ReadRecord(dir_fd, files.record.c_str(), &touched);
    if (!record || record->pid != self) ::_exit(0);
    ::clock_gettime(CLOCK_REALTIME, &now);
    if (!Before(now, touched) && !Before(now, timespec{touched.tv_sec + idle, touched.tv_nsec})) {
      ::unlinkat(dir_fd, files.record.c_str(), 0);
      ::_exit(0);  // releases the lock
    }
    if (lock_fd >= 0) ::close(lock_fd);
  }
}

void CloseAllFdsExcept(int a, int b) {
  const unsigned low = static_cast<unsigned>(std::min(a, b));
  const unsigned high = static_cast<unsigned>(std::max(a, b));
  if (low > 0) ::close_range(0, low - 1, 0);
  if (high > low + 1) ::close_range(low + 1, high - 1, 0);
  ::close_range(high + 1, ~0U, 0);
}

void CopyText(std::span<char> to, const std::string& from) {
  const std::size_t n = std::min(from.size(), to.size() - 1);
  std::memcpy(to.data(), from.data(), n);
  to[n] = '\0';
}

Result<void> SendReport(int socket_fd, const KeeperReport& report, int fd) {
  iovec data{const_cast<KeeperReport*>(&report), sizeof report};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  }
  if (::sendmsg(socket_fd, &message, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof report)) {
    const int err = errno;
    return MakeError(err, "sendmsg", "template keeper report");
  }
  return kOk;
}

// Receives the keeper's report and, with it, the template's nsfs fd.
Result<UniqueFd> ReceiveReport(int socket_fd, KeeperReport& report) {
  iovec data{&report, sizeof report};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got;
  while ((got = ::recvmsg(socket_fd, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (got < 0) {
    const int err = errno;
    return MakeError(err, "recvmsg", "template keeper report");
  }
  UniqueFd fd;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      int received = -1;
      std::memcpy(&received, CMSG_DATA(header), sizeof received);
      fd.Reset(received);
    }
  }
  if (got != static_cast<ssize_t>(sizeof report)) {
    return MakeError(ECHILD, "start template keeper", "it exited before reporting");
  }
  if (report.error != 0) return MakeError(report.error, report.operation, report.argument);
  if (!fd) return MakeError(EPROTO, "start template keeper", "no namespace fd in its report");
  return fd;
}

// The keeper process: builds the template, reports it, waits until its
// record is written (the caller closes the socket then), then keeps it.
[[noreturn]] void RunKeeper(int dir_fd, int socket_fd, const KeeperFiles& files, time_t idle) {
  ::setsid();  // no terminal signals, no job control of the caller's shell
  ::prctl(PR_SET_NAME, kKeeperName);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);  // not the caller's handlers
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // The caller's stdout may be a pipe someone reads to EOF: hold nothing of its.
  CloseAllFdsExcept(dir_fd, socket_fd);
  {
    KeeperReport report;
    report.pid = ::getpid();
    UniqueFd template_ns;
    auto opener = internal::ThreadNamespaceOpener::ForCallingThread();
    Result<UniqueFd> built = opener ? internal::BuildTemplateNamespace(*opener) : std::unexpected(opener.error());
    if (built) {
      template_ns = std::move(*built);
    } else {
      report.error = built.error().code;
      CopyText(report.operation, built.error().operation);
      CopyText(report.argument, built.error().argument);
    }
    if (!SendReport(socket_fd, report, template_ns.Get()) || report.error != 0) ::_exit(1);
  }
  char ignored;
  while (::read(socket_fd, &ignored, 1) < 0 && errno == EINTR) {
  }
  ::close(socket_fd);
  KeepUntilIdle(dir_fd, files, idle);
}

Result<UniqueFd> OpenPrivateDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    const int err = errno;
    return MakeError(err, "mkdir", QuotePath(path));
  }
  auto dir = sys::Open(AT_FDCWD, path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!dir) return std::unexpected(dir.error());
  struct stat st {};
  if (::fstat(dir->Get(), &st) != 0) {
    const int err = errno;
    return MakeError(err, "fstat", QuotePath(path));
  }
  // Whoever can write the record chooses the namespace our sandboxes start from.
  if (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    return MakeError(EPERM, "share template namespace",
                     fmt::format("{} is not private (owner {}, mode {:o}; needs owner {}, no group/other write)",
                                 QuotePath(path), st.st_uid, st.st_mode & 07777, ::geteuid()));
  }
  return dir;
}

// The live keeper's template, or an empty fd when the record is missing,
// malformed or stale (its pid gone, or no longer in that namespace).
UniqueFd OpenKeptTemplate(int dir_fd, const KeeperFiles& files) {
  auto record = ReadRecord(dir_fd, files.record.c_str(), nullptr);
  if (!record) return {};
  auto ns = sys::Open(AT_FDCWD, fmt::format("/proc/{}/ns/mnt", record->pid).c_str(), O_RDONLY);
  if (!ns) return {};
  // Namespace ids are never reused within a boot: a recycled pid cannot pass.
  auto id = sys::MountNamespaceId(ns->Get());
  if (!id || *id != record->ns_id) return {};
  return std::move(*ns);
}

Result<void> WriteRecord(int dir_fd, const KeeperFiles& files, const KeeperRecord& record) {
  auto draft = sys::Open(dir_fd, files.record_draft.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
  if (!draft) return std::unexpected(draft.error());
  const std::string text = fmt::format("{} {}\n", record.pid, record.ns_id);
  if (::write(draft->Get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    const int err = errno;
    return MakeError(err, "write", QuotePath(files.record_draft));
  }
  // Readers see the old record or the whole new one.
  if (::renameat(dir_fd, files.record_draft.c_str(), dir_fd, files.record.c_str()) != 0) {
    const int err = errno;
    return MakeError(err, "rename", QuotePath(files.record));
  }
  return kOk;
}

Result<UniqueFd> StartKeeper(int dir_fd, const KeeperFiles& files, time_t idle) {
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
    const int err = errno;
    return MakeError(err, "socketpair", "template keeper");
  }
  UniqueFd ours(sockets[0]);
  UniqueFd theirs(sockets[1]);
  const pid_t intermediate = ::fork();
  if (intermediate < 0) {
    const int err = errno;
    return MakeError(err, "fork", "template keeper");
  }
  if (intermediate == 0) {
    const pid_t keeper = ::fork();
    if (keeper == 0) RunKeeper(dir_fd, theirs.Get(), files, idle);
    ::_exit(keeper < 0 ? 1 : 0);
  }
  theirs.Reset();
  int status = 0;
  while (::waitpid(intermediate, &status, 0) < 0 && errno == EINTR) {
  }
  KeeperReport report;
  auto template_ns = ReceiveReport(ours.Get(), report);
  if (!template_ns) return template_ns;
  auto id = sys::MountNamespaceId(template_ns->Get());
  if (!id) return std::unexpected(id.error());
  // Closing `ours` afterwards lets the keeper start its idle clock; without
  // a record it exits at its first look.
  if (auto r = WriteRecord(dir_fd, files, {report.pid, *id}); !r) return std::unexpected(r.error());
  return template_ns;
}

}  // namespace

Result<void> ShareTemplateNamespace(const TemplateSharingOptions& options) {
  if (options.idle < std::chrono::seconds(1) || options.idle > TemplateSharingOptions::kMaximumIdle) {
    return MakeError(EINVAL, "share template namespace",
                     fmt::format("idle time {} s (1 to {} s)", options.idle.count(),
                                 TemplateSharingOptions::kMaximumIdle.count()));
  }
  auto dir = OpenPrivateDirectory(options.directory);
  if (!dir) return std::unexpected(dir.error());
  struct stat user_ns {};
  if (::stat("/proc/self/ns/user", &user_ns) != 0) {
    const int err = errno;
    return MakeError(err, "stat", "\"/proc/self/ns/user\"");
  }
  // One keeper per user namespace: namespaces copied from a template are
  // owned by the copier's user namespace, but the template's mounts would be
  // locked for a copier in a child user namespace of the keeper's.
  const std::string base = fmt::format("template-{}", user_ns.st_ino);
  const KeeperFiles files{base, base + ".new", base + ".lock"};
  auto lock = sys::Open(dir->Get(), files.lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
  if (!lock) return std::unexpected(lock.error());
  auto take = [&](int operation) -> Result<void> {
    while (::flock(lock->Get(), operation) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      return MakeError(err, "flock", QuotePath(options.directory + "/" + files.lock));
    }
    return kOk;
  };
  auto adopt = [&]() -> Result<bool> {
    UniqueFd kept = OpenKeptTemplate(dir->Get(), files);
    if (!kept) return false;
    if (::utimensat(dir->Get(), files.record.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) != 0) {
      const int err = errno;
      return MakeError(err, "utimensat", QuotePath(options.directory + "/" + files.record));
    }
    internal::UseSharedTemplate(std::move(kept));
    return true;
  };
  // The common case, many callers at once, finds a live keeper under a shared
  // lock, so they do not queue behind each other; with none, the exclusive
  // lock starts one, unless another caller did between our two locks.
  for (const int operation : {LOCK_SH, LOCK_EX}) {
    if (auto r = take(operation); !r) return std::unexpected(r.error());
    auto adopted = adopt();
    if (!adopted) return std::unexpected(adopted.error());
    if (*adopted) return kOk;
  }
  auto started = StartKeeper(dir->Get(), files, static_cast<time_t>(options.idle.count()));
  if (!started) {
    Error& error = started.error();
    error.argument = fmt::format("{} ({} in {})", error.argument, kKeeperName, QuotePath(options.directory));
    return std::unexpected(error);
  }
  internal::UseSharedTemplate(std::move(*started));
  return kOk;
}

}  // namespace mntns
