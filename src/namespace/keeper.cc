// ShareTemplateNamespace: a template namespace that outlives the process.
//
// The keeper is a fresh image of the caller's own program: fork, then exec of
// /proc/self/exe with argv {"mntns-template"} and an environment of one entry,
// its start parameters. A constructor of this file (linked into every program
// that can call ShareTemplateNamespace) sees them before main() and runs the
// keeper instead of the program. So the keeper shows none of its starter's
// arguments (`mntns run --setenv API_TOKEN ...` would be readable by everyone
// in /proc/KEEPER/cmdline), environment or memory, and does not pin the
// starter's whole image for as long as it lives. After exec it forks once
// more and the intermediate exits (the keeper must not be the caller's child:
// a caller's waitpid(-1) or child accounting would meet it). It builds the
// template itself, in a copy of the caller's namespace (exec does not change
// namespaces); the caller receives the template's nsfs fd over a socketpair.
// Later processes find the keeper through its record and open
// /proc/PID/ns/mnt, once the process proves to be the keeper: the record's
// random token is in its environment, which only the starter could have put
// there (a record naming any other process, with that process's right
// namespace id, would land its whole table in our namespaces).
//
// Liveness without a protocol: every call touches the record's mtime; the
// keeper sleeps until mtime + idle and exits once that passes untouched. It
// removes its record under the lock that callers hold while they read the
// record and open the namespace, so no caller opens the namespace of a keeper
// that is leaving; a caller that holds the fd keeps the namespace alive alone.
#include <dirent.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "helper_thread.h"
#include "mntns/namespace.h"
#include "namespace/internal.h"
#include "sys/files.h"
#include "sys/namespaces.h"
#include "sys/process.h"
#include "sys/fd_passing.h"
#include "sys/syscalls.h"
#if MNTNS_FAULT_INJECTION
#include "sys/fault_injection_control.h"
#endif

namespace mntns {
namespace {

constexpr const char* kKeeperName = "mntns-template";

// The keeper's environment entry: "MNTNS_TEMPLATE_KEEPER=TOKEN DIRECTORY_FD
// SOCKET_FD IDLE_SECONDS". The token comes first: callers check for it.
constexpr const char* kKeeperVariable = "MNTNS_TEMPLATE_KEEPER";

// 128 random bits in hex.
constexpr std::size_t kTokenLength = 32;

// A record ("PID MNTNS_ID TOKEN\n") is at most 65 bytes; anything longer is not one.
constexpr std::size_t kRecordLimit = 128;

// File names inside the directory, and the directory for error text.
struct KeeperFiles {
  std::string directory;
  std::string record;
  std::string record_draft;
  std::string lock;

  [[nodiscard]] std::string PathOf(const std::string& name) const { return QuotePath(directory + "/" + name); }
};

struct KeeperRecord {
  pid_t pid = 0;
  std::uint64_t ns_id = 0;
  std::string token;
};

// What the keeper sends back, with the template's nsfs fd when `error` is 0.
struct KeeperReport {
  pid_t pid = 0;
  int error = 0;
  char operation[64] = {};
  char argument[192] = {};
};

// What the exec'd keeper was given by its starter.
struct KeeperStart {
  std::string token;
  int dir_fd = -1;
  int socket_fd = -1;
  time_t idle = 0;
  bool rootless = false;  // the per-user keeper (ShareRootlessNamespaces)
};

void BecomeKeeperWhenStartedAsOne();

// One keeper per user namespace: namespaces copied from a template are owned
// by the copier's user namespace, but the template's mounts would be locked
// for a copier in a child user namespace of the keeper's.
// A rootless keeper also holds a copy of its starter's mount namespace (the
// host view bind sources are cloned from): one per mount namespace too, so
// that a caller in another namespace never binds from a table not its own.
Result<KeeperFiles> KeeperFilesFor(const std::string& directory, bool rootless) {
  auto user_ns = sys::Statx(AT_FDCWD, "/proc/self/ns/user", 0, STATX_INO);
  if (!user_ns) return std::unexpected(user_ns.error());
  std::string base = fmt::format("template-{}", user_ns->stx_ino);
  if (rootless) {
    auto mnt = sys::Open(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY);
    if (!mnt) return std::unexpected(mnt.error());
    auto id = sys::MountNamespaceId(mnt->Get());
    if (!id) return std::unexpected(id.error());
    base = fmt::format("rootless-{}-{}", user_ns->stx_ino, *id);
  }
  return KeeperFiles{directory, base, base + ".new", base + ".lock"};
}

bool IsToken(std::string_view text) {
  return text.size() == kTokenLength && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

Result<std::string> NewToken() {
  unsigned char bytes[kTokenLength / 2];
  if (auto r = sys::RandomBytes(bytes, "template keeper token"); !r) return std::unexpected(r.error());
  std::string token;
  for (const unsigned char byte : bytes) token += fmt::format("{:02x}", byte);
  return token;
}

// "PID MNTNS_ID TOKEN\n" exactly; anything else is no record.
std::optional<KeeperRecord> ParseRecord(std::string_view text) {
  KeeperRecord record;
  const char* end = text.data() + text.size();
  auto [after_pid, pid_error] = std::from_chars(text.data(), end, record.pid);
  if (pid_error != std::errc() || after_pid == end || *after_pid != ' ' || record.pid <= 0) return std::nullopt;
  auto [after_id, id_error] = std::from_chars(after_pid + 1, end, record.ns_id);
  if (id_error != std::errc() || after_id == end || *after_id != ' ' || record.ns_id == 0) return std::nullopt;
  const std::string_view rest(after_id + 1, static_cast<std::size_t>(end - after_id - 1));
  if (rest.size() != kTokenLength + 1 || rest.back() != '\n' || !IsToken(rest.substr(0, kTokenLength))) {
    return std::nullopt;
  }
  record.token = rest.substr(0, kTokenLength);
  return record;
}

// Up to `limit` bytes of `name`; nullopt if it cannot be opened or read.
std::optional<std::string> ReadSmallFile(int dir_fd, const char* name, std::size_t limit) {
  auto fd = sys::Open(dir_fd, name, O_RDONLY | O_NOFOLLOW);
  if (!fd) return std::nullopt;
  std::string text(limit, '\0');
  std::size_t size = 0;
  while (size < limit) {
    auto got = sys::Read(fd->Get(), std::span(text).subspan(size), name);
    if (!got) return std::nullopt;
    if (*got == 0) break;
    size += *got;
  }
  text.resize(size);
  return text;
}

// The record, if `name` is one: a small regular file of our euid that nobody
// else can read (it holds the token) or write. `changed` receives its mtime:
// the last time a caller found the keeper. Whoever planted something else
// there gets nothing, and nobody waits: a FIFO is never opened for a blocking
// read, a device never opened at all. An Error when a call failed otherwise
// (ENOMEM, EIO): whether there is a record is then not known.
Result<std::optional<KeeperRecord>> LookUpRecord(int dir_fd, const std::string& name, timespec* changed) {
  // Absent, or a link in its place: no record.
  const auto none = [](const Error& error) { return error.code == ENOENT || error.code == ELOOP; };
  auto before = sys::Fstatat(dir_fd, name.c_str(), AT_SYMLINK_NOFOLLOW);
  if (!before) {
    if (none(before.error())) return std::nullopt;
    return std::unexpected(before.error());
  }
  if (!S_ISREG(before->st_mode)) return std::nullopt;
  auto fd = sys::Open(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (!fd) {
    if (none(fd.error())) return std::nullopt;
    return std::unexpected(fd.error());
  }
  auto status = sys::Fstat(fd->Get());
  if (!status) return std::unexpected(status.error());
  const struct stat& st = *status;
  if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0 || st.st_size <= 0 ||
      static_cast<std::size_t>(st.st_size) >= kRecordLimit) {
    return std::nullopt;
  }
  char text[kRecordLimit];
  auto size = sys::Read(fd->Get(), text, name);
  if (!size) return std::unexpected(size.error());
  if (*size == 0 || *size >= sizeof text) return std::nullopt;
  if (changed != nullptr) *changed = st.st_mtim;
  return ParseRecord(std::string_view(text, *size));
}

// For callers, a record that cannot be read is no record: they start a keeper.
std::optional<KeeperRecord> ReadRecord(int dir_fd, const std::string& name, timespec* changed) {
  auto record = LookUpRecord(dir_fd, name, changed);
  return record ? *record : std::nullopt;
}

bool Before(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

bool NamesKeeper(const std::optional<KeeperRecord>& record, pid_t pid, const std::string& token) {
  return record && record->pid == pid && record->token == token;
}

// The keeper's life once its record is written: sleep until the record has
// gone `idle` seconds untouched, then remove it (under the lock) and exit.
// Exits as well when the record no longer names this keeper.
//
// A call of this loop that fails (the record unreadable, the lock not taken,
// an unlink refused) is looked at again after a pause: exiting then would
// leave the record (and lock file) behind for good, and giving up the
// namespace early would cost the next caller a new keeper. Only a failure
// that persists for kMostFailedLooks looks in a row ends the keeper; it
// leaves its files then (a stale record: callers prove it names no keeper,
// as after a SIGKILL, and replace it).
constexpr int kMostFailedLooks = 50;
constexpr timespec kPauseAfterAFailedLook{.tv_sec = 0, .tv_nsec = 100'000'000};

// The lock file goes with the record (callers take their lock again when the
// file they locked is no longer linked): records are per namespace, and a
// runtime directory would otherwise keep a lock file per namespace that ever
// ran a sandbox. Only the file this keeper holds locked. The record is gone
// already, so no look could try this again: a failed call is retried here
// (callers wait on the lock meanwhile, so only a few times), and a lasting
// failure leaves the file, which callers reuse.
constexpr int kMostLockRemovals = 5;
void RemoveHeldLockFile(int dir_fd, const KeeperFiles& files, int lock_fd) {
  for (int failed = 0; failed < kMostLockRemovals; ++failed) {
    auto linked = sys::Fstatat(dir_fd, files.lock.c_str(), AT_SYMLINK_NOFOLLOW);
    if (!linked && linked.error().code == ENOENT) return;
    auto held = sys::Fstat(lock_fd);
    if (held && linked) {
      if (held->st_ino != linked->st_ino || held->st_dev != linked->st_dev) return;  // not the one we hold
      if (sys::Unlink(dir_fd, files.lock.c_str())) return;
    }
    ::clock_nanosleep(CLOCK_MONOTONIC, 0, &kPauseAfterAFailedLook, nullptr);
  }
}

// One look at the record: whether the keeper goes on waiting (true), must
// exit (false: it removed its record, or the record is gone or names another
// keeper), or could not tell (an Error).
Result<bool> LookOnceBeforeLeaving(int dir_fd, const KeeperFiles& files, const std::string& token, time_t idle,
                                   pid_t self) {
  timespec touched{};
  auto record = LookUpRecord(dir_fd, files.record, &touched);
  if (!record) return std::unexpected(record.error());
  if (!NamesKeeper(*record, self, token)) return false;  // replaced or removed: not ours to remove
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  // A record touched in the future (the clock was set back, or touch -d)
  // would keep the keeper for as long (and overflow the deadline): its idle
  // time starts now instead. `idle` is at most a day, so the sum below fits.
  if (Before(now, touched)) {
    if (auto r = sys::TouchNow(dir_fd, files.record.c_str()); !r) return std::unexpected(r.error());
    return true;
  }
  const timespec deadline{touched.tv_sec + idle, touched.tv_nsec};
  if (Before(now, deadline)) {
    // Not a wrapper of src/sys: it fails only with EINTR (no handler is
    // installed here) or EINVAL, and either way the loop looks again.
    ::clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &deadline, nullptr);
    return true;
  }
  // Callers read the record and open the namespace under this lock: none
  // is between the two while the record goes. A lock file that is not there
  // (removed by hand) is nobody's lock.
  auto lock = sys::Open(dir_fd, files.lock.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (!lock && lock.error().code != ENOENT) return std::unexpected(lock.error());
  if (lock) {
    if (auto r = sys::Flock(lock->Get(), LOCK_EX); !r) return std::unexpected(r.error());
  }
  record = LookUpRecord(dir_fd, files.record, &touched);
  if (!record) return std::unexpected(record.error());
  if (!NamesKeeper(*record, self, token)) return false;
  ::clock_gettime(CLOCK_REALTIME, &now);
  if (Before(now, touched) || Before(now, timespec{touched.tv_sec + idle, touched.tv_nsec})) {
    return true;  // a caller came meanwhile
  }
  if (auto r = sys::Unlink(dir_fd, files.record.c_str()); !r) return std::unexpected(r.error());
  if (lock) RemoveHeldLockFile(dir_fd, files, lock->Get());
  return false;  // the lock goes with `lock`; no record is left to be read under it
}

[[noreturn]] void KeepUntilIdle(int dir_fd, const KeeperFiles& files, const std::string& token, time_t idle) {
  const pid_t self = ::getpid();
  for (int failed_looks = 0; failed_looks < kMostFailedLooks;) {
    auto waiting = LookOnceBeforeLeaving(dir_fd, files, token, idle, self);
    if (waiting && !*waiting) ::_exit(0);
    if (waiting) {
      failed_looks = 0;
      continue;
    }
    ++failed_looks;
    ::clock_nanosleep(CLOCK_MONOTONIC, 0, &kPauseAfterAFailedLook, nullptr);
  }
  // Leaving with the record in place: under the exclusive lock, if it can be
  // had, so that no caller is between reading the record and opening the
  // namespace while this process goes (they find it dead afterwards).
  if (auto lock = sys::Open(dir_fd, files.lock.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY); lock) {
    static_cast<void>(sys::Flock(lock->Get(), LOCK_EX));
    ::_exit(1);  // releases it
  }
  ::_exit(1);
}

void CopyText(std::span<char> to, const std::string& from) {
  const std::size_t n = std::min(from.size(), to.size() - 1);
  std::memcpy(to.data(), from.data(), n);
  to[n] = '\0';
}

Result<void> SendReport(int socket_fd, const KeeperReport& report, int fd) {
  return sys::SendWithFileDescriptor(socket_fd, std::as_bytes(std::span(&report, 1)), fd, "template keeper report");
}

// Receives the keeper's report and, with it, the template's nsfs fd.
// How long a starter waits for the keeper to come up and report: building the
// template copies the caller's table (~1 s at 100,000 mounts). A keeper image
// that never reaches its constructor (a preloaded library replaced on disk)
// must not hold the exclusive lock, and every later caller, forever.
constexpr int kKeeperStartMilliseconds = 60'000;

// Waits until `fd` is readable (POLLIN or hangup); ETIMEDOUT after the deadline.
Result<void> AwaitReadable(int fd, const char* what) {
  pollfd ready{fd, POLLIN, 0};
  auto n = sys::Poll(std::span(&ready, 1), kKeeperStartMilliseconds, what);
  if (!n) return std::unexpected(n.error());
  if (*n == 0) return MakeError(ETIMEDOUT, "start template keeper", what);
  return kOk;
}

// The report of a keeper that failed: its starter names the keeper's failed
// call and errno, not only that the keeper went away.
KeeperReport FailureReport(pid_t pid, const Error& error) {
  KeeperReport report;
  report.pid = pid;
  report.error = error.code;
  CopyText(report.operation, error.operation);
  CopyText(report.argument, error.argument);
  return report;
}

Result<UniqueFd> ReceiveReport(int socket_fd, KeeperReport& report) {
  if (auto ready = AwaitReadable(socket_fd, "its report"); !ready) return std::unexpected(ready.error());
  auto received = sys::ReceiveWithFileDescriptor(socket_fd, std::as_writable_bytes(std::span(&report, 1)),
                                                 "template keeper report");
  if (!received) return std::unexpected(received.error());
  UniqueFd fd = std::move(received->fd);
  if (received->size != sizeof report) {
    return MakeError(ECHILD, "start template keeper", "it exited before reporting");
  }
  if (report.error != 0) return MakeError(report.error, report.operation, report.argument);
  if (!fd) return MakeError(EPROTO, "start template keeper", "no namespace fd in its report");
  return fd;
}

Result<UniqueFd> BuildKeptTemplate() {
  auto opener = internal::ThreadNamespaceOpener::ForCallingThread();
  if (!opener) return std::unexpected(opener.error());
  return internal::BuildTemplateNamespace(*opener);
}

Result<void> WriteOwnProcFile(const char* name, const std::string& text) {
  auto file = sys::Open(AT_FDCWD, name, O_WRONLY);
  if (!file) return std::unexpected(file.error());
  return sys::WriteAll(file->Get(), text, QuotePath(name));
}

// The rootless keeper's namespaces: a user namespace that maps the user's own
// uid and gid to themselves (all an unprivileged process may map; setgroups
// denied, as the kernel requires for the gid map), in which this process has
// every capability; then a copy of the starter's mount namespace that this
// user namespace owns, the host view. The copy into a less privileged user
// namespace turns the starter's shared mounts into slaves of them (the kernel
// does so, CL_SHARED_TO_SLAVE), so mounts made later under a shared host
// mount propagate into the view; nothing propagates back. Mounts copied from
// the host are locked together in it, as in any unprivileged copy. A thread
// is left there (its /proc/PID/task/TID/ns/mnt and root are how callers find
// the view); the main thread goes on to build the template from a further copy.
Result<UniqueFd> BuildRootlessKeeper() {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (auto r = sys::Unshare(CLONE_NEWUSER); !r) return std::unexpected(r.error());
  if (auto r = WriteOwnProcFile("/proc/self/setgroups", "deny\n"); !r) return std::unexpected(r.error());
  if (auto r = WriteOwnProcFile("/proc/self/uid_map", fmt::format("{} {} 1\n", uid, uid)); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = WriteOwnProcFile("/proc/self/gid_map", fmt::format("{} {} 1\n", gid, gid)); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = sys::Unshare(CLONE_NEWNS); !r) return std::unexpected(r.error());
  // It never returns and holds nothing: a thread that only sleeps (the
  // process's signals end it with the rest). Without it callers could not
  // find the view: a keeper that cannot start it fails (EAGAIN), it does
  // not throw.
  auto view_thread = internal::StartHelperThread([] {
    for (;;) ::pause();
  });
  if (!view_thread) return std::unexpected(std::move(view_thread.error().Wrap("the rootless keeper's host view")));
  view_thread->detach();
  return BuildKeptTemplate();
}

// The keeper, in its own image: builds the template, reports it, waits until
// its record is written (the caller closes the socket then), then keeps it.
[[noreturn]] void RunKeeper(const KeeperStart& start) {
  // Exec'd with only the directory and the socket: fds 0-2 are closed, and
  // the lock or record opened later would take them, to receive whatever a
  // runtime prints on stderr.
  sys::ReserveStandardFds();
  // Callers recognise the keeper by its name (OpenKeptTemplate): one without
  // it could never be adopted, and would only hold its namespace.
  if (auto named = sys::SetThreadName(kKeeperName); !named) {
    static_cast<void>(SendReport(start.socket_fd, FailureReport(::getpid(), named.error()), -1));
    ::_exit(1);
  }
  // The starter waits for this intermediate process, which leaves at once.
  const auto keeper = sys::Fork("template keeper");
  if (!keeper) {
    static_cast<void>(SendReport(start.socket_fd, FailureReport(::getpid(), keeper.error()), -1));
    ::_exit(1);
  }
  if (*keeper != 0) ::_exit(0);
  ::setsid();  // no terminal signals, no job control of the caller's shell
  // exec kept the signals the starter ignored, and its mask.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Passed across exec without close-on-exec; this process execs nothing.
  UniqueFd dir(start.dir_fd);
  UniqueFd socket(start.socket_fd);
  ::fcntl(dir.Get(), F_SETFD, FD_CLOEXEC);
  ::fcntl(socket.Get(), F_SETFD, FD_CLOEXEC);
  // Named before the rootless keeper leaves its starter's namespaces.
  auto files = KeeperFilesFor("", start.rootless);
  {
    Result<UniqueFd> built = !files           ? std::unexpected(files.error())
                             : start.rootless ? BuildRootlessKeeper()
                                              : BuildKeptTemplate();
    KeeperReport report = built ? KeeperReport{.pid = ::getpid()} : FailureReport(::getpid(), built.error());
    const int template_fd = built ? built->Get() : -1;
    if (auto sent = SendReport(socket.Get(), report, template_fd); !sent) {
      // The report with the fd did not go (ENOBUFS, ETOOMANYREFS): one
      // without it still tells the starter why.
      if (built) static_cast<void>(SendReport(socket.Get(), FailureReport(::getpid(), sent.error()), -1));
      ::_exit(1);
    }
    if (!built) ::_exit(1);
  }
  char ignored;
  while (::read(socket.Get(), &ignored, 1) < 0 && errno == EINTR) {
  }
  socket.Reset();
  KeepUntilIdle(dir.Get(), *files, start.token, start.idle);
}

// "TOKEN DIRECTORY_FD SOCKET_FD IDLE_SECONDS ROOTLESS", the fds being a
// directory and a socket, ROOTLESS 0 or 1.
std::optional<KeeperStart> ParseKeeperStart(std::string_view text) {
  KeeperStart start;
  if (text.size() < kTokenLength + 1 || !IsToken(text.substr(0, kTokenLength)) || text[kTokenLength] != ' ') {
    return std::nullopt;
  }
  start.token = text.substr(0, kTokenLength);
  const char* at = text.data() + kTokenLength + 1;
  const char* end = text.data() + text.size();
  // Each number ends with a space, the last one with the text.
  auto number = [&](auto& value, bool last) {
    auto [after, error] = std::from_chars(at, end, value);
    if (error != std::errc()) return false;
    if (last) return after == end;
    if (after == end || *after != ' ') return false;
    at = after + 1;
    return true;
  };
  int rootless = 0;
  if (!number(start.dir_fd, false) || !number(start.socket_fd, false) || !number(start.idle, false) ||
      !number(rootless, true) || (rootless != 0 && rootless != 1)) {
    return std::nullopt;
  }
  start.rootless = rootless == 1;
  if (start.idle < 1 || start.idle > TemplateSharingOptions::kMaximumIdle.count()) return std::nullopt;
  struct stat dir {};
  struct stat socket {};
  if (::fstat(start.dir_fd, &dir) != 0 || !S_ISDIR(dir.st_mode) || ::fstat(start.socket_fd, &socket) != 0 ||
      !S_ISSOCK(socket.st_mode)) {
    return std::nullopt;
  }
  return start;
}

// Runs before main() in every program that links this file. In a process
// that StartKeeper (below) exec'd, it runs the keeper and never returns: no
// code of the program runs, nothing of its starter is there.
__attribute__((constructor(101))) void BecomeKeeperWhenStartedAsOne() {
  const char* parameters = std::getenv(kKeeperVariable);
  if (parameters == nullptr) return;
  // In a set-user-ID (or otherwise secure-execution) program the environment
  // is an unprivileged starter's: its fds and token are nothing to act on.
  if (::getauxval(AT_SECURE) != 0) return;
  auto start = ParseKeeperStart(parameters);
  if (!start) ::_exit(127);
  RunKeeper(*start);
}

// The absolute path of the file mapped at `address` (/proc/self/maps), or
// nullopt (an anonymous or deleted mapping, no /proc).
std::optional<std::string> MappedFileOf(std::uintptr_t address) {
  auto maps = sys::Open(AT_FDCWD, "/proc/self/maps", O_RDONLY);
  if (!maps) return std::nullopt;
  std::string text;
  char buffer[16384];
  for (Result<std::size_t> n; (n = sys::Read(maps->Get(), buffer, "/proc/self/maps")) && *n > 0;) {
    text.append(buffer, *n);
  }
  // "START-END PERMS OFFSET DEV INODE PATH"
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end_of_line = text.find('\n', at);
    if (end_of_line == std::string::npos) end_of_line = text.size();
    const std::string_view line(text.data() + at, end_of_line - at);
    at = end_of_line + 1;
    std::uintptr_t start = 0;
    std::uintptr_t end = 0;
    const auto dash = std::from_chars(line.data(), line.data() + line.size(), start, 16);
    if (dash.ec != std::errc() || dash.ptr == line.data() + line.size() || *dash.ptr != '-') continue;
    if (std::from_chars(dash.ptr + 1, line.data() + line.size(), end, 16).ec != std::errc()) continue;
    if (address < start || address >= end) continue;
    const std::size_t slash = line.find('/');
    if (slash == std::string_view::npos || line.ends_with(" (deleted)")) return std::nullopt;
    return std::string(line.substr(slash));
  }
  return std::nullopt;
}

// The shared object to preload into the keeper's image so that the
// constructor above runs there (a program that dlopen()s libmntns.so does not
// load it at start); empty when this file is part of the executable itself.
Result<std::string> KeeperLibrary() {
  struct Search {
    std::uintptr_t address = 0;
    bool first = true;
    bool found = false;
    bool in_executable = false;
    std::string path;
  } search;
  search.address = reinterpret_cast<std::uintptr_t>(&BecomeKeeperWhenStartedAsOne);
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        auto* s = static_cast<Search*>(data);
        const bool first = std::exchange(s->first, false);  // the executable comes first
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& segment = info->dlpi_phdr[i];
          const std::uintptr_t start = info->dlpi_addr + segment.p_vaddr;
          if (segment.p_type == PT_LOAD && s->address >= start && s->address - start < segment.p_memsz) {
            s->found = true;
            s->in_executable = first;
            s->path = info->dlpi_name != nullptr ? info->dlpi_name : "";
            return 1;
          }
        }
        return 0;
      },
      &search);
  if (!search.found) return MakeError(ENOENT, "start template keeper", "libmntns is in no loaded object");
  if (search.in_executable) return std::string();
  // dlopen("./libmntns.so") leaves the name relative to the cwd of that
  // moment; the mapping of the address names the file absolutely.
  if (search.path.empty() || search.path[0] != '/') {
    if (auto mapped = MappedFileOf(search.address); mapped) search.path = std::move(*mapped);
  }
  // LD_PRELOAD splits its list at spaces and colons, and a relative name
  // would be looked up from the keeper's cwd, not where it was loaded from.
  if (search.path.empty() || search.path[0] != '/' || search.path.find_first_of(" :") != std::string::npos) {
    return MakeError(EINVAL, "start template keeper", fmt::format("cannot preload {}", QuotePath(search.path)));
  }
  return search.path;
}

Result<UniqueFd> OpenPrivateDirectory(const std::string& path) {
  if (auto r = sys::MakeDirectory(AT_FDCWD, path.c_str(), 0700); !r && r.error().code != EEXIST) {
    return std::unexpected(r.error());
  }
  auto dir = sys::Open(AT_FDCWD, path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!dir) return std::unexpected(dir.error());
  auto status = sys::Fstat(dir->Get());
  if (!status) {
    status.error().argument = QuotePath(path);
    return std::unexpected(status.error());
  }
  const struct stat& st = *status;
  // Whoever can write the record chooses the namespace our sandboxes start from.
  if (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    return MakeError(EPERM, "share template namespace",
                     fmt::format("{} is not private (owner {}, mode {:o}; needs owner {}, no group/other write)",
                                 QuotePath(path), st.st_uid, st.st_mode & 07777, ::geteuid()));
  }
  return dir;
}

Result<UniqueFd> OpenLock(int dir_fd, const KeeperFiles& files) {
  // Non-blocking: a FIFO planted in its place must not hold us up.
  auto lock = sys::Open(dir_fd, files.lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0600);
  if (!lock) {
    Error error = lock.error();
    error.argument = files.PathOf(files.lock);
    return std::unexpected(error);
  }
  auto status = sys::Fstat(lock->Get());
  if (!status) {
    status.error().argument = files.PathOf(files.lock);
    return std::unexpected(status.error());
  }
  if (!S_ISREG(status->st_mode)) {
    return MakeError(EPERM, "share template namespace", files.PathOf(files.lock) + " is not a regular file");
  }
  return lock;
}

// Whether the lock file `lock_fd` is open on is still the one linked in the
// directory under its name (an exiting keeper unlinks it).
Result<bool> LockIsLinked(int dir_fd, const KeeperFiles& files, int lock_fd) {
  auto open = sys::Fstat(lock_fd);
  if (!open) return std::unexpected(open.error());
  auto linked = sys::Statx(dir_fd, files.lock.c_str(), AT_SYMLINK_NOFOLLOW, STATX_INO);
  if (!linked) {
    if (linked.error().code == ENOENT) return false;
    linked.error().argument = files.PathOf(files.lock);
    return std::unexpected(linked.error());
  }
  return linked->stx_ino == open->st_ino && makedev(linked->stx_dev_major, linked->stx_dev_minor) == open->st_dev;
}

// The live keeper's template, or an empty fd when the record is missing,
// malformed, stale, or names a process that is not our keeper.
UniqueFd OpenKeptTemplate(int dir_fd, const KeeperFiles& files) {
  auto record = ReadRecord(dir_fd, files.record, nullptr);
  if (!record) return {};
  // Every look below goes through this directory: it stays bound to the
  // process it was opened for, and lookups in it fail once that process is
  // gone, even if its pid has been reused.
  auto process = sys::Open(AT_FDCWD, fmt::format("/proc/{}", record->pid).c_str(), O_RDONLY | O_DIRECTORY);
  if (!process) return {};
  // The name first: reading it does not touch the process's memory, as
  // reading its environment does (waiting for its mmap lock, which a foreign
  // process stuck in a page fault may hold).
  // Ours, before anything is read: anyone can name a process "mntns-template",
  // and reading a stranger's environment waits on its memory (a process stuck
  // in a FUSE page fault would stall every caller under the shared lock).
  if (auto owner = sys::Fstat(process->Get()); !owner || owner->st_uid != ::geteuid()) return {};
  auto name = ReadSmallFile(process->Get(), "comm", 32);
  if (!name || *name != std::string(kKeeperName) + "\n") return {};
  // The token is in the record and in the environment the keeper was exec'd
  // with, nowhere else: only our keeper has it there.
  const std::string expected = fmt::format("{}={} ", kKeeperVariable, record->token);
  auto environment = ReadSmallFile(process->Get(), "environ", expected.size());
  if (!environment || *environment != expected) return {};
  auto ns = sys::Open(process->Get(), "ns/mnt", O_RDONLY);
  if (!ns) return {};
  // The keeper never leaves its template; namespace ids are never reused.
  auto id = sys::MountNamespaceId(ns->Get());
  if (!id || *id != record->ns_id) return {};
  return std::move(*ns);
}

Result<void> WriteRecord(int dir_fd, const KeeperFiles& files, const KeeperRecord& record) {
  // Whatever lies in the draft's place goes (we hold the exclusive lock):
  // O_EXCL then never opens a FIFO or follows a link someone left there.
  ::unlinkat(dir_fd, files.record_draft.c_str(), 0);
  auto draft = sys::Open(dir_fd, files.record_draft.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (!draft) {
    Error error = draft.error();
    error.argument = files.PathOf(files.record_draft);
    return std::unexpected(error);
  }
  const std::string text = fmt::format("{} {} {}\n", record.pid, record.ns_id, record.token);
  if (auto r = sys::WriteAll(draft->Get(), text, files.PathOf(files.record_draft)); !r) {
    ::unlinkat(dir_fd, files.record_draft.c_str(), 0);
    return r;
  }
  // Readers see the old record or the whole new one.
  if (auto r = sys::Rename(dir_fd, files.record_draft.c_str(), files.record.c_str()); !r) {
    ::unlinkat(dir_fd, files.record_draft.c_str(), 0);
    r.error().argument = fmt::format("{} to {}", files.PathOf(files.record_draft), files.PathOf(files.record));
    return r;
  }
  return kOk;
}

Result<UniqueFd> StartKeeper(int dir_fd, const KeeperFiles& files, const std::string& token, time_t idle,
                             bool rootless) {
  // The keeper's image would be secure-execution too, and ignore its start.
  if (::getauxval(AT_SECURE) != 0) {
    return MakeError(EPERM, "start template keeper",
                     "not from a set-user-ID, set-group-ID or capability-raising program");
  }
  auto library = KeeperLibrary();
  if (!library) return std::unexpected(library.error());
  auto exe = sys::Open(AT_FDCWD, "/proc/self/exe", O_PATH);
  if (!exe) return std::unexpected(exe.error());
  auto sockets = sys::SocketPair(AF_UNIX, SOCK_SEQPACKET, "template keeper");
  if (!sockets) return std::unexpected(sockets.error());
  auto& [ours, theirs] = *sockets;
  // Everything the child needs is made now: between fork and exec it makes
  // only async-signal-safe calls (another of our threads may have held
  // malloc's lock at the fork, and nobody would release it there).
  const std::string parameters =
      fmt::format("{}={} {} {} {} {}", kKeeperVariable, token, dir_fd, theirs.Get(), idle, rootless ? 1 : 0);
  std::string preload = library->empty() ? std::string() : "LD_PRELOAD=" + *library;
  // The loader needs it to find the program's libraries again.
  std::string search_path;
  if (const char* path = std::getenv("LD_LIBRARY_PATH"); path != nullptr) {
    search_path = std::string("LD_LIBRARY_PATH=") + path;
  }
  // The fault-injection walk arms the keeper's image as it arms the sandbox
  // setup's: the arming entry and its marker pipe cross the exec, which
  // otherwise keeps neither; one meant for the keeper only arms it alone.
  std::string fault_arming;
  int fault_marker_fd = -1;
#if MNTNS_FAULT_INJECTION
  sys::fault::Arming arming;
  if (const char* text = std::getenv(sys::fault::kEnvironmentVariable);
      text != nullptr && sys::fault::ParseArming(text, arming) && arming.target != sys::fault::Target::kNotTheKeeper) {
    arming.target = sys::fault::Target::kAnyProcess;
    fault_arming = std::string(sys::fault::kEnvironmentVariable) + "=" + sys::fault::FormatArming(arming);
    fault_marker_fd = arming.marker_fd;
  }
#endif
  std::vector<char*> environment{const_cast<char*>(parameters.c_str())};
  for (std::string* entry : {&preload, &search_path, &fault_arming}) {
    if (!entry->empty()) environment.push_back(entry->data());
  }
  environment.push_back(nullptr);
  char* arguments[] = {const_cast<char*>(kKeeperName), nullptr};
  KeeperReport exec_failure;
  CopyText(exec_failure.operation, "execveat");
  CopyText(exec_failure.argument, "\"/proc/self/exe\" (the template keeper)");
  auto forked = sys::Fork("template keeper");
  if (!forked) return std::unexpected(forked.error());
  const pid_t intermediate = *forked;
  if (intermediate == 0) {
    // Only the directory and the socket cross the exec.
    int err = sys::MarkCloseOnExecFromInChild(0);
    // Not a pipe any more (or none): the keeper's image is then not armed.
    if (fault_marker_fd >= 0) static_cast<void>(::fcntl(fault_marker_fd, F_SETFD, 0));
    if (err == 0 && ::fcntl(dir_fd, F_SETFD, 0) == 0 && ::fcntl(theirs.Get(), F_SETFD, 0) == 0) {
      ::fexecve(exe->Get(), arguments, environment.data());
    }
    exec_failure.error = err != 0 ? err : errno;
    ::send(theirs.Get(), &exec_failure, sizeof exec_failure, MSG_NOSIGNAL);
    ::_exit(127);
  }
  theirs.Reset();
  // The intermediate leaves as soon as its image forked the keeper.
  auto intermediate_fd = sys::PidfdOpen(intermediate, 0);
  auto left = intermediate_fd ? AwaitReadable(intermediate_fd->Get(), "the keeper's intermediate process")
                              : Result<void>(std::unexpected(intermediate_fd.error()));
  if (!left) ::kill(intermediate, SIGKILL);
  static_cast<void>(sys::WaitPid(intermediate, 0));
  if (!left) return std::unexpected(left.error());
  KeeperReport report;
  auto template_ns = ReceiveReport(ours.Get(), report);
  if (!template_ns) return template_ns;
  auto id = sys::MountNamespaceId(template_ns->Get());
  if (!id) return std::unexpected(id.error());
  // Closing `ours` afterwards lets the keeper start its idle clock; without
  // a record it exits at its first look.
  if (auto r = WriteRecord(dir_fd, files, {report.pid, *id, token}); !r) return std::unexpected(r.error());
  return template_ns;
}


// The rootless keeper's namespaces, as OpenKeptTemplate for the root one,
// with more to prove: its user namespace is owned by our euid and owns both
// mount namespaces, and the host view is the one a thread of the keeper (not
// in the template) is in. Empty fds when anything does not hold.
internal::RootlessNamespaces OpenKeptRootless(int dir_fd, const KeeperFiles& files) {
  internal::RootlessNamespaces kept;
  UniqueFd template_ns = OpenKeptTemplate(dir_fd, files);
  if (!template_ns) return {};
  auto record = ReadRecord(dir_fd, files.record, nullptr);
  if (!record) return {};
  auto process = sys::Open(AT_FDCWD, fmt::format("/proc/{}", record->pid).c_str(), O_RDONLY | O_DIRECTORY);
  if (!process) return {};
  // The record may have been replaced since the template was opened: the
  // template must still be this process's.
  auto process_ns = sys::Open(process->Get(), "ns/mnt", O_RDONLY);
  if (!process_ns) return {};
  if (auto id = sys::MountNamespaceId(process_ns->Get()); !id || *id != record->ns_id) return {};
  auto user_ns = sys::Open(process->Get(), "ns/user", O_RDONLY);
  if (!user_ns) return {};
  auto owner = sys::UserNamespaceOwner(user_ns->Get());
  if (!owner || *owner != ::geteuid()) return {};
  auto user_status = sys::Fstat(user_ns->Get());
  if (!user_status) return {};
  const struct stat& user_st = *user_status;
  const auto owned_by_keeper = [&](int ns_fd) {
    auto owning = sys::OwningUserNamespace(ns_fd);
    auto st = owning ? sys::Fstat(owning->Get()) : Result<struct stat>(std::unexpected(owning.error()));
    return st && st->st_ino == user_st.st_ino && st->st_dev == user_st.st_dev;
  };
  if (!owned_by_keeper(template_ns.Get())) return {};
  auto tasks = sys::Open(process->Get(), "task", O_RDONLY | O_DIRECTORY);
  if (!tasks) return {};
  DIR* listing = ::fdopendir(tasks->Get());
  if (listing == nullptr) return {};
  static_cast<void>(tasks->Release());
  std::vector<std::string> thread_ids;
  while (const dirent* entry = ::readdir(listing)) {
    const std::string_view name(entry->d_name);
    if (name.find_first_not_of("0123456789") == std::string_view::npos && name != std::to_string(record->pid)) {
      thread_ids.emplace_back(name);
    }
  }
  ::closedir(listing);
  for (const std::string& tid : thread_ids) {
    auto view = sys::Open(process->Get(), fmt::format("task/{}/ns/mnt", tid).c_str(), O_RDONLY);
    if (!view) continue;
    auto id = sys::MountNamespaceId(view->Get());
    if (!id || *id == record->ns_id || !owned_by_keeper(view->Get())) continue;
    auto root = sys::Open(process->Get(), fmt::format("task/{}/root", tid).c_str(), O_PATH | O_DIRECTORY);
    if (!root) continue;
    kept.pid = record->pid;
    kept.user_ns = std::move(*user_ns);
    kept.host_view = std::move(*view);
    kept.host_root = std::move(*root);
    kept.template_ns = std::move(template_ns);
    return kept;
  }
  return {};
}

// What ShareTemplateNamespace and ShareRootlessNamespaces have in common:
// find a live keeper under the shared lock, else start one under the
// exclusive lock. `adopt` returns whether it found (and took) a live one;
// `started` takes the template a new keeper reported.
template <typename Adopt, typename Started>
Result<void> FindOrStartKeeper(const TemplateSharingOptions& options, bool rootless, Adopt adopt, Started started) {
  if (options.idle < std::chrono::seconds(1) || options.idle > TemplateSharingOptions::kMaximumIdle) {
    return MakeError(EINVAL, "share template namespace",
                     fmt::format("idle time {} s (1 to {} s)", options.idle.count(),
                                 TemplateSharingOptions::kMaximumIdle.count()));
  }
  auto dir = OpenPrivateDirectory(options.directory);
  if (!dir) return std::unexpected(dir.error());
  auto found = KeeperFilesFor(options.directory, rootless);
  if (!found) return std::unexpected(found.error());
  const KeeperFiles& files = *found;
  auto lock = OpenLock(dir->Get(), files);
  if (!lock) return std::unexpected(lock.error());
  // A keeper that exits removes the lock file too (KeepUntilIdle): a lock
  // taken on a file no longer linked there locks nobody out, so it is taken
  // again on the file the path names now.
  auto take = [&](int operation) -> Result<void> {
    for (int attempt = 0;; ++attempt) {
      auto taken = sys::Flock(lock->Get(), operation);
      if (!taken) {
        taken.error().argument = files.PathOf(files.lock);
        return taken;
      }
      auto linked = LockIsLinked(dir->Get(), files, lock->Get());
      if (!linked) return std::unexpected(linked.error());
      if (*linked) return kOk;
      if (attempt == 64) {
        return MakeError(EAGAIN, "share template namespace", files.PathOf(files.lock) + " keeps being replaced");
      }
      lock = OpenLock(dir->Get(), files);
      if (!lock) return std::unexpected(lock.error());
    }
  };
  auto touch_and_adopt = [&]() -> Result<bool> {
    if (!adopt(dir->Get(), files)) return false;
    if (auto r = sys::TouchNow(dir->Get(), files.record.c_str()); !r) {
      r.error().argument = files.PathOf(files.record);
      return std::unexpected(r.error());
    }
    return true;
  };
  // The common case, many callers at once, finds a live keeper under a shared
  // lock, so they do not queue behind each other; with none, the exclusive
  // lock starts one, unless another caller did between our two locks.
  for (const int operation : {LOCK_SH, LOCK_EX}) {
    if (auto r = take(operation); !r) return std::unexpected(r.error());
    auto adopted = touch_and_adopt();
    if (!adopted) return std::unexpected(adopted.error());
    if (*adopted) return kOk;
  }
  auto token = NewToken();
  if (!token) return std::unexpected(token.error());
  auto kept = StartKeeper(dir->Get(), files, *token, static_cast<time_t>(options.idle.count()), rootless);
  if (!kept) {
    return std::unexpected(
        std::move(kept.error().Wrap(fmt::format("start {} in {}", kKeeperName, QuotePath(options.directory)))));
  }
  return started(dir->Get(), files, std::move(*kept));
}

}  // namespace

Result<void> ShareTemplateNamespace(const TemplateSharingOptions& options) {
  return FindOrStartKeeper(
      options, false,
      [](int dir_fd, const KeeperFiles& files) {
        UniqueFd kept = OpenKeptTemplate(dir_fd, files);
        if (!kept) return false;
        internal::UseSharedTemplate(std::move(kept));
        return true;
      },
      [](int, const KeeperFiles&, UniqueFd template_ns) -> Result<void> {
        internal::UseSharedTemplate(std::move(template_ns));
        return kOk;
      });
}

namespace internal {

Result<std::string> LibraryToPreload() { return KeeperLibrary(); }

Result<RootlessNamespaces> ShareRootlessNamespaces(const TemplateSharingOptions& options) {
  if (::geteuid() == 0) return MakeError(EINVAL, "share rootless namespaces", "for unprivileged callers only");
  RootlessNamespaces result;
  auto shared = FindOrStartKeeper(
      options, true,
      [&](int dir_fd, const KeeperFiles& files) {
        result = OpenKeptRootless(dir_fd, files);
        return static_cast<bool>(result.template_ns);
      },
      [&](int dir_fd, const KeeperFiles& files, UniqueFd) -> Result<void> {
        // Still under the exclusive lock: the record just written names it.
        result = OpenKeptRootless(dir_fd, files);
        if (!result.template_ns) {
          return MakeError(ESRCH, "share rootless namespaces", "the new keeper's namespaces cannot be opened");
        }
        return kOk;
      });
  if (!shared) return std::unexpected(shared.error());
  return result;
}

void RetireRootlessKeeper(const TemplateSharingOptions& options, pid_t pid) {
  auto dir = OpenPrivateDirectory(options.directory);
  if (!dir) return;
  auto files = KeeperFilesFor(options.directory, true);
  if (!files) return;
  auto lock = OpenLock(dir->Get(), *files);
  if (!lock || !sys::Flock(lock->Get(), LOCK_EX)) return;
  // The keeper sees its record gone at its next look and exits.
  if (auto record = ReadRecord(dir->Get(), files->record, nullptr); record && record->pid == pid) {
    ::unlinkat(dir->Get(), files->record.c_str(), 0);
  }
}

}  // namespace internal
}  // namespace mntns
