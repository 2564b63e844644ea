// The polyfill's supervisor: answers each trapped call as Linux 7.2 would,
// acting for the caller (docs/polyfill.md). The order of the checks is the
// kernel's: flags (EINVAL), privilege (EPERM), then arguments in memory
// (EFAULT), then the work, so that a caller without the privilege costs no
// work and sees the errno 7.2 gives it.
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "helper_thread.h"
#include "mntns/namespace.h"
#include "mntns/query.h"
#include "namespace/internal.h"
#include "polyfill/internal.h"
#include "query/statmount.h"
#include "sys/namespaces.h"
#include "sys/process.h"
#include "sys/seccomp.h"
#include "sys/fd_passing.h"
#include "sys/files.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns::internal {
namespace {

constexpr long kOpenTree = 428, kFsmount = 432, kStatmount = 457, kListmount = 458, kIoctl = 16;
constexpr unsigned kOpenTreeClone = 1U << 0;
constexpr unsigned kOpenTreeNamespace = 1U << 1;
constexpr unsigned kOpenTreeKnownFlags = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_RECURSIVE |
                                         O_CLOEXEC | kOpenTreeClone | kOpenTreeNamespace;
constexpr unsigned kFsmountCloexec = 0x1;
constexpr unsigned kFsmountNamespace = 0x2;
constexpr std::size_t kPathMax = 4096;   // PATH_MAX, with its NUL
constexpr std::size_t kPageSize = 4096;  // copy_mnt_id_req's limit (E2BIG above)
// A statmount answer is a 512-byte header and a few strings; the kernel
// itself builds it in a seq_file that grows to what the mount needs. The
// supervisor's copy of a caller's buffer stays below this, whatever bufsize says.
constexpr std::size_t kMaximumStatmountBuffer = 1 << 20;

// What the supervisor knows of the task that made the call, opened while the
// notification was valid (checked after every open: a pid can be reused).
struct Caller {
  pid_t tid = 0;
  PathOwner ids;       // its process and thread ids (/proc/TID/status NStgid, NSpid)
  UniqueFd pidfd;
  UniqueFd proc;       // /proc/TID
  UniqueFd mount_ns;   // /proc/TID/ns/mnt
  UniqueFd user_ns;    // /proc/TID/ns/user
  UniqueFd root;       // /proc/TID/root, O_PATH
  UniqueFd cwd;        // /proc/TID/cwd, O_PATH
  bool has_sys_admin = false;  // CAP_SYS_ADMIN in its effective set (over its own user namespace)
  std::uint64_t effective = 0; // its effective capabilities (bit N: capability N)
  bool same_user_ns = false;   // in the supervisor's user namespace
  uid_t euid = 0;
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  std::vector<gid_t> groups;  // its supplementary groups
};

// The errno a failed step answers with: its own code.
struct Answer {
  int error = 0;             // errno, or 0
  std::optional<long> value; // return value where error == 0 and no fd is installed
  UniqueFd fd;               // an fd to install (ADDFD)
  unsigned fd_flags = 0;     // O_CLOEXEC or 0
  bool native = false;       // the kernel makes the call itself (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
};

Answer Fail(int code) {
  Answer answer;
  answer.error = code;
  return answer;
}
Answer Success() {
  Answer answer;
  answer.value = 0;
  return answer;
}
// For calls the filter cannot tell apart (listmount): the kernel runs it,
// with its own checks, as if there were no filter. Safe for a call the
// supervisor does not act on: whatever the caller changes meanwhile is what
// the kernel then reads.
Answer Native() {
  Answer answer;
  answer.native = true;
  return answer;
}
Answer NewFd(UniqueFd fd, bool cloexec) {
  Answer answer;
  answer.fd = std::move(fd);
  answer.fd_flags = cloexec ? unsigned{O_CLOEXEC} : 0U;
  return answer;
}

Result<UniqueFd> OpenAt(int dirfd, const char* path, int flags) { return sys::Open(dirfd, path, flags | O_CLOEXEC); }

Result<std::uint64_t> InodeOf(int dirfd, const char* path) {
  struct stat st {};
  if (::fstatat(dirfd, path, &st, 0) != 0) {
    const int err = errno;
    return MakeError(err, "stat", path);
  }
  return static_cast<std::uint64_t>(st.st_ino);
}

// Opens what the supervisor needs of the caller. nullopt: the task is gone or
// no longer in its call (answer nothing: the kernel has moved on).
// `own_user_ns`: the serving thread's user namespace (nsfs fstat).
std::optional<Caller> OpenCaller(int listener, const seccomp_notif& notification, const struct stat& own_user_ns) {
  Caller caller;
  caller.tid = static_cast<pid_t>(notification.pid);
  auto pidfd = sys::PidfdOpen(caller.tid, sys::kPidfdThread);
  if (!pidfd) pidfd = sys::PidfdOpen(caller.tid, 0);
  if (!pidfd) return std::nullopt;
  caller.pidfd = std::move(*pidfd);
  auto proc = OpenAt(AT_FDCWD, fmt::format("/proc/{}", caller.tid).c_str(), O_PATH | O_DIRECTORY);
  if (!proc) return std::nullopt;
  caller.proc = std::move(*proc);
  // The pidfd's ioctls (6.11) are cheaper than /proc's nsfs links.
  auto mount_ns = sys::PidfdMountNamespace(caller.pidfd.Get());
  if (!mount_ns) mount_ns = OpenAt(caller.proc.Get(), "ns/mnt", O_RDONLY);
  auto user_ns_fd = sys::PidfdUserNamespace(caller.pidfd.Get());
  if (!user_ns_fd) user_ns_fd = OpenAt(caller.proc.Get(), "ns/user", O_RDONLY);
  auto root = OpenAt(caller.proc.Get(), "root", O_PATH | O_DIRECTORY);
  auto cwd = OpenAt(caller.proc.Get(), "cwd", O_PATH | O_DIRECTORY);
  auto status = sys::ReadProcStatus(caller.proc.Get(), "status");
  auto start_time = TaskStartTime(caller.proc.Get(), ".");
  // Everything above was read from whatever task has TID now: only a
  // notification still pending proves that it is the caller.
  if (!sys::NotificationStillValid(listener, notification.id)) return std::nullopt;
  struct stat user_ns {};
  if (!mount_ns || !user_ns_fd || !root || !cwd || !status || !start_time ||
      ::fstat(user_ns_fd->Get(), &user_ns) != 0) {
    return std::nullopt;
  }
  caller.ids.start_time = *start_time;
  caller.mount_ns = std::move(*mount_ns);
  caller.user_ns = std::move(*user_ns_fd);
  caller.root = std::move(*root);
  caller.cwd = std::move(*cwd);
  caller.same_user_ns = user_ns.st_dev == own_user_ns.st_dev && user_ns.st_ino == own_user_ns.st_ino;
  const auto effective = sys::ProcStatusField(*status, "CapEff");
  const auto uids = sys::ProcStatusField(*status, "Uid");
  const auto gids = sys::ProcStatusField(*status, "Gid");
  const auto groups = sys::ProcStatusField(*status, "Groups");
  const auto tgids = sys::ProcStatusField(*status, "NStgid");
  const auto tids = sys::ProcStatusField(*status, "NSpid");
  if (!effective || !uids || !gids || !groups || !tgids || !tids) return std::nullopt;
  for (const auto id : sys::ProcStatusNumbers(*tgids)) caller.ids.tgids.push_back(static_cast<pid_t>(id));
  for (const auto id : sys::ProcStatusNumbers(*tids)) caller.ids.tids.push_back(static_cast<pid_t>(id));
  if (caller.ids.tgids.empty() || caller.ids.tgids.size() != caller.ids.tids.size()) return std::nullopt;
  const auto caps = sys::ProcStatusNumbers(*effective, 16);
  const auto uid_set = sys::ProcStatusNumbers(*uids);  // real, effective, saved, fs
  const auto gid_set = sys::ProcStatusNumbers(*gids);
  if (caps.size() != 1 || uid_set.size() != 4 || gid_set.size() != 4) return std::nullopt;
  caller.effective = caps[0];
  caller.has_sys_admin = (caps[0] & (1ULL << CAP_SYS_ADMIN)) != 0;
  caller.euid = static_cast<uid_t>(uid_set[1]);
  caller.fsuid = static_cast<uid_t>(uid_set[3]);
  caller.fsgid = static_cast<gid_t>(gid_set[3]);
  for (const auto group : sys::ProcStatusNumbers(*groups)) caller.groups.push_back(static_cast<gid_t>(group));
  return caller;
}

// A directory, as the same directory of the same mount.
struct Place {
  std::uint64_t mount_id;
  dev_t dev;
  ino_t ino;
  bool operator==(const Place&) const = default;
};

// `path` from `dirfd` ("": the fd itself).
std::optional<Place> Identify(int dirfd, const char* path) {
  const int flags = path[0] == '\0' ? AT_EMPTY_PATH : 0;
  auto mount_id = sys::UniqueMountIdOf(dirfd, path, flags);
  struct stat st {};
  if (!mount_id || ::fstatat(dirfd, path, &st, flags) != 0) return std::nullopt;
  return Place{*mount_id, st.st_dev, st.st_ino};
}

// The capabilities a path lookup consults: the filesystem ones (directory
// permissions: root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH may not
// search another user's 0700 directory) and CAP_SYS_PTRACE (/proc's magic
// links, PTRACE_MODE_READ_FSCREDS).
constexpr std::uint64_t kLookupCapabilities = sys::kFilesystemCapabilities | (1ULL << CAP_SYS_PTRACE);

// Whether the calling thread has `wanted`'s fs ids and groups and no
// capability beyond `wanted`'s (setfsuid fails silently; capset leaves out
// what the permitted set lacks).
bool HasCredentials(const sys::ThreadCredentials& wanted) {
  auto now = sys::CallingThreadCredentials();
  if (!now) return false;
  auto sorted = [](std::vector<gid_t> groups) {
    std::sort(groups.begin(), groups.end());
    return groups;
  };
  return now->fsuid == wanted.fsuid && now->fsgid == wanted.fsgid && sorted(now->groups) == sorted(wanted.groups) &&
         (now->effective & ~wanted.effective) == 0;
}

// Where the calling thread's fs ids and groups come from for a lookup.
enum class CallerIds {
  kTake,   // the caller's, as the supervisor read them (its user namespace)
  kTaken,  // the thread's own: a child that took the caller's before it entered
           // the caller's user namespace, inside which those numbers mean others
};

// `lookup` run on the calling thread with the caller's groups, fs ids and
// lookup capabilities (its others stay: CAP_SYS_ADMIN, which the caller has,
// checked before), then the thread's own again. 7.2 checks the caller's
// credentials in the lookup alone: the work on what it found (a chdir into
// the tree, the copy) runs with the supervisor's, as the kernel's copy runs
// with none (in a user-namespace helper the make step is another child:
// FdFromCallersPlace). ENOSYS where the thread could not take them all. A
// thread that cannot take its own back (never seen: it keeps CAP_SETGID, and
// its own fs ids are its real ones) would serve the next callers with this
// one's: the process stops instead (the supervisor: trapped calls fail with
// ENOSYS; a helper child: its call does).
Result<UniqueFd> LookUpAsCaller(const Caller& caller, const std::function<Result<UniqueFd>()>& lookup,
                                CallerIds ids = CallerIds::kTake) {
  auto own = sys::CallingThreadCredentials();
  if (!own) return MakeError(ENOSYS, "polyfill", "the supervisor thread's credentials");
  sys::ThreadCredentials theirs = *own;
  if (ids == CallerIds::kTake) theirs = {caller.fsuid, caller.fsgid, caller.groups, 0};
  theirs.effective = (own->effective & ~kLookupCapabilities) | (caller.effective & kLookupCapabilities);
  Result<UniqueFd> found = MakeError(ENOSYS, "polyfill", "the caller's credentials");
  if (sys::AdoptThreadCredentials(theirs) && HasCredentials(theirs)) found = lookup();
  if (!sys::AdoptThreadCredentials(*own) || !HasCredentials(*own)) {
    fmt::print(stderr, "mntns polyfill: a supervisor thread or helper could not take its own credentials back "
                       "after a caller's lookup; it stops (what it serves now fails with ENOSYS)\n");
    std::abort();
  }
  return found;
}

// Whether the O_PATH fd `fd` and `path` name the same directory of the same mount.
bool SamePlace(int fd, const char* path) {
  auto here = Identify(fd, "");
  auto there = Identify(AT_FDCWD, path);
  return here && there && *here == *there;
}

// Runs `work` where the caller stands: its mount namespace, root and cwd.
// The work takes the caller's credentials for its lookup alone
// (LookUpAsCaller). A caller that stands where the supervisor stands (its
// mount namespace, at its root: most programs) has it done on the serving
// thread itself, which is there already; any other on a thread of its own for
// the call, because these are per-thread (unshare(CLONE_FS)) and must not
// leak into the serving thread or the next call, nor keep the caller's
// namespace and root alive. Used by the serving thread only.
class CallerPlaces {
 public:
  CallerPlaces() {
    struct stat ns_st {};
    if (::stat("/proc/thread-self/ns/mnt", &ns_st) != 0) return;
    auto root = Identify(AT_FDCWD, "/");
    if (!root) return;
    home_ = Home{ns_st.st_dev, ns_st.st_ino, *root};
  }

  enum class Work {
    // open_tree, fsmount: a namespace from the template factory, which is
    // started here, by the serving thread (a factory that cannot start fails
    // the call, with the reason), not by a thread in a caller's place.
    kMakesANamespace,
    // statmount BY_FD: none may be in the way of the walk up to a mount's
    // root (IsLoneDetachedMount), whose factory namespace is not needed.
    kDescribes,
  };

  // `work` looks up relative paths from caller.cwd as a dirfd, not from its
  // thread's cwd, which is the serving thread's at home.
  Answer Run(const Caller& caller, const std::function<Answer()>& work, Work kind) {
    if (Emulation() == NamespaceStrategy::kTemplate) {
      auto started = PrepareTemplateFactory();
      if (!started && kind == Work::kMakesANamespace) return Fail(started.error().code);
    }
    if (AtHome(caller)) return work();
    return RunOnce(caller, work);
  }

 private:
  struct Home {
    dev_t ns_dev;  // the supervisor's mount namespace (nsfs device, inode)
    ino_t ns_ino;
    Place root;
  };

  [[nodiscard]] bool AtHome(const Caller& caller) const {
    struct stat ns_st {};
    if (!home_ || ::fstat(caller.mount_ns.Get(), &ns_st) != 0) return false;
    if (ns_st.st_dev != home_->ns_dev || ns_st.st_ino != home_->ns_ino) return false;
    auto root = Identify(caller.root.Get(), "");
    return root && *root == home_->root;
  }

  // A thread for this call alone, with the supervisor's credentials: entering
  // the caller's place needs no permission of the caller's (7.2 does not
  // search the caller's root or cwd for a call that does not use them).
  static Answer RunOnce(const Caller& caller, const std::function<Answer()>& work) {
    Answer answer = Fail(ENOSYS);
    auto thread = StartHelperThread([&] {
      if (auto r = sys::Unshare(CLONE_FS); !r) return void(answer = Fail(r.error().code));
      // setns(CLONE_NEWNS) needs CAP_SYS_ADMIN over the namespace's owner; a
      // supervisor that shares the caller's namespace has nothing to enter.
      auto own = InodeOf(AT_FDCWD, "/proc/thread-self/ns/mnt");
      struct stat theirs {};
      if (!own || ::fstat(caller.mount_ns.Get(), &theirs) != 0) return void(answer = Fail(ENOSYS));
      if (*own != theirs.st_ino) {
        if (auto r = sys::Setns(caller.mount_ns.Get(), CLONE_NEWNS); !r) return void(answer = Fail(ENOSYS));
      }
      // chroot needs CAP_SYS_CHROOT, which an unprivileged supervisor lacks:
      // a caller whose root is the supervisor's needs none.
      if (!SamePlace(caller.root.Get(), "/")) {
        if (auto r = sys::Fchdir(caller.root.Get()); !r) return void(answer = Fail(ENOSYS));
        if (auto r = sys::ChrootToWorkingDirectory(); !r) return void(answer = Fail(ENOSYS));
      }
      if (auto r = sys::Fchdir(caller.cwd.Get()); !r) return void(answer = Fail(ENOSYS));
      answer = work();
    });
    if (!thread) return Fail(ENOSYS);
    thread->join();
    return answer;
  }

  std::optional<Home> home_;
};

// In a child of the supervisor (single-threaded, so that it may enter a user
// namespace): enters the caller's user and mount namespaces, then its root
// and cwd. A privileged supervisor enters the mount namespace first, while
// the child still has the supervisor's privilege over its owner (which may
// be an ancestor of the caller's user namespace). An unprivileged one cannot
// (setns(CLONE_NEWNS) wants CAP_SYS_ADMIN and CAP_SYS_CHROOT where the child
// stands): it enters the caller's user namespace first, which it owns and
// where it then holds them, and from there a mount namespace that user
// namespace owns. A namespace the child is in already is not entered again.
//
// With `as_caller` (for a lookup: LookUpAsCaller with CallerIds::kTaken),
// the child takes the caller's groups and fs ids first, here, where they mean
// what the supervisor read in /proc (inside the caller's user namespace the
// same numbers name other users, and setgroups is often denied there).
// Without it the child keeps the supervisor's: its work checks no permission
// of the caller's. Its capabilities are those the child has where it stands
// (all of them over the caller's user namespace).
bool EnterCallersPlace(const Caller& caller, bool as_caller) {
  if (as_caller) {
    if (!sys::SetThreadGroups(caller.groups)) return false;
    sys::SetThreadFilesystemIds(caller.fsuid, caller.fsgid);
    // setfsuid fails silently: a lookup with the supervisor's ids would pass more.
    auto now = sys::CallingThreadCredentials();
    if (!now || now->fsuid != caller.fsuid || now->fsgid != caller.fsgid) return false;
  }
  auto own_mount_ns = InodeOf(AT_FDCWD, "/proc/self/ns/mnt");
  struct stat theirs {};
  if (!own_mount_ns || ::fstat(caller.mount_ns.Get(), &theirs) != 0) return false;
  const bool same_mount_ns = *own_mount_ns == theirs.st_ino;
  auto enter_user_ns = [&] { return caller.same_user_ns || sys::Setns(caller.user_ns.Get(), CLONE_NEWUSER).has_value(); };
  auto enter_mount_ns = [&] { return same_mount_ns || sys::Setns(caller.mount_ns.Get(), CLONE_NEWNS).has_value(); };
  const bool entered = enter_mount_ns() ? enter_user_ns() : enter_user_ns() && enter_mount_ns();
  return entered && sys::Fchdir(caller.root.Get()) && sys::ChrootToWorkingDirectory() &&
         sys::Fchdir(caller.cwd.Get());
}

// `work` run where the caller stands, as EnterCallersPlace puts a child of
// the supervisor: for a caller whose namespaces a supervisor thread cannot
// enter (an unprivileged supervisor and a caller in a user namespace of its
// own). The child's answer comes back through a pipe: its errno, then the bytes.
Result<std::vector<std::byte>> InCallersPlace(const Caller& caller,
                                              const std::function<Result<std::vector<std::byte>>()>& work) {
  auto pipe = sys::Pipe(O_CLOEXEC, "polyfill caller's place helper");
  if (!pipe) return MakeError(ENOSYS, "pipe");
  auto [read_end, write_end] = std::move(*pipe);
  auto pid = sys::Fork("polyfill caller's place helper");
  if (!pid) return MakeError(ENOSYS, "fork");
  if (*pid == 0) {
    read_end.Reset();
    int code = ENOSYS;
    Result<std::vector<std::byte>> bytes = MakeError(ENOSYS, "enter the caller's namespaces");
    if (EnterCallersPlace(caller, false)) {
      bytes = work();
      code = bytes ? 0 : bytes.error().code;
    }
    bool written = ::write(write_end.Get(), &code, sizeof code) == sizeof code;
    for (std::size_t at = 0; written && bytes && at < bytes->size();) {
      const ssize_t n = ::write(write_end.Get(), bytes->data() + at, bytes->size() - at);
      if (n <= 0 && errno != EINTR) written = false;
      if (n > 0) at += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  write_end.Reset();
  // Read to the end whatever comes (the child blocks on a full pipe until
  // then), keeping at most what a statmount answer can be.
  std::vector<std::byte> reply;
  bool too_long = false;
  std::array<std::byte, 4096> chunk{};
  for (;;) {
    const ssize_t n = ::read(read_end.Get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (reply.size() + static_cast<std::size_t>(n) > sizeof(int) + kMaximumStatmountBuffer) too_long = true;
    if (!too_long) reply.insert(reply.end(), chunk.begin(), chunk.begin() + n);
  }
  read_end.Reset();
  (void)sys::WaitPid(*pid, 0);
  int code = ENOSYS;
  if (too_long || reply.size() < sizeof code) return MakeError(ENOSYS, "polyfill caller's place helper");
  std::memcpy(&code, reply.data(), sizeof code);
  if (code != 0) return MakeError(code, "statmount");
  return std::vector<std::byte>(reply.begin() + sizeof code, reply.end());
}

// For a caller in another user namespace than the supervisor's: the new
// namespace must be owned by the caller's user namespace (as 7.2's is), and
// only a single-threaded process can enter one (setns(CLONE_NEWUSER)). So a
// short-lived child of the supervisor enters the caller's user and mount
// namespaces, root and cwd (EnterCallersPlace), runs `work` there and passes
// the fd it makes back. Its capabilities are those of the owner of that user
// namespace (the caller has CAP_SYS_ADMIN there, checked before); with
// `as_caller` its ids and groups are the caller's (for a lookup), else the
// supervisor's.
Result<UniqueFd> FdFromCallersPlace(const Caller& caller, bool as_caller, const std::function<Result<UniqueFd>()>& work) {
  auto channel = sys::SocketPair(AF_UNIX, SOCK_SEQPACKET, "polyfill user namespace helper");
  if (!channel) return MakeError(ENOSYS, "socketpair");
  auto [ours, theirs] = std::move(*channel);
  auto pid = sys::Fork("polyfill user namespace helper");
  if (!pid) return MakeError(ENOSYS, "fork");
  if (*pid == 0) {
    ours.Reset();
    int code = 0;
    if (!EnterCallersPlace(caller, as_caller)) {
      code = ENOSYS;
    } else if (auto fd = work(); !fd) {
      code = fd.error().code;
    } else if (!sys::SendFileDescriptor(theirs.Get(), fd->Get())) {
      code = ENOSYS;
    }
    if (code != 0) (void)!::write(theirs.Get(), &code, sizeof code);
    ::_exit(0);
  }
  theirs.Reset();
  // One message: the fd, or the errno without one.
  int code = ENOSYS;
  auto received = sys::ReceiveWithFileDescriptor(ours.Get(), std::as_writable_bytes(std::span(&code, 1)),
                                                 "the polyfill helper's fd");
  (void)sys::WaitPid(*pid, 0);
  if (received && received->fd) return std::move(received->fd);
  if (!received || received->size != sizeof code || code == 0) return MakeError(ENOSYS, "polyfill helper");
  return MakeError(code, "polyfill helper");
}

Answer FdAnswer(Result<UniqueFd> fd, bool cloexec) {
  if (!fd) return Fail(fd.error().code);
  return NewFd(std::move(*fd), cloexec);
}

// A NUL-terminated string of the caller's, as getname() reads it: EFAULT
// where it cannot be read, ENAMETOOLONG at PATH_MAX bytes without a NUL.
Result<std::string> ReadCallerString(const Caller& caller, std::uint64_t address) {
  std::string text;
  std::array<std::byte, kPathMax> chunk{};
  while (text.size() < kPathMax) {
    // Up to the end of the page: the next one may be unmapped.
    const std::size_t in_page = kPageSize - static_cast<std::size_t>(address % kPageSize);
    const std::size_t want = std::min(in_page, kPathMax - text.size());
    auto n = sys::ReadProcessMemory(caller.tid, address, std::span(chunk.data(), want));
    if (!n || *n == 0) return MakeError(EFAULT, "read the caller's path");
    const auto* bytes = reinterpret_cast<const char*>(chunk.data());
    const auto* nul = static_cast<const char*>(std::memchr(bytes, '\0', *n));
    if (nul != nullptr) return text.append(bytes, static_cast<std::size_t>(nul - bytes));
    text.append(bytes, *n);
    address += *n;
  }
  return MakeError(ENAMETOOLONG, "read the caller's path");
}

// Whether the caller's user namespace owns its mount namespace (false also
// where that cannot be told).
bool OwnsItsMountNamespace(const Caller& caller) {
  auto owner = sys::OwningUserNamespace(caller.mount_ns.Get());
  struct stat owner_st {}, user_st {};
  return owner && ::fstat(owner->Get(), &owner_st) == 0 && ::fstat(caller.user_ns.Get(), &user_st) == 0 &&
         owner_st.st_ino == user_st.st_ino && owner_st.st_dev == user_st.st_dev;
}

// The caller's fd `number` (EBADF where it has none).
Result<UniqueFd> CallerFd(const Caller& caller, int number) {
  if (number < 0) return MakeError(EBADF, "pidfd_getfd");
  return sys::PidfdGetFd(caller.pidfd.Get(), number);
}

Answer OpenTree(int listener, const seccomp_notif& notification, const Caller& caller, CallerPlaces& places) {
  const int dirfd = static_cast<int>(notification.data.args[0]);
  const std::uint64_t path_address = notification.data.args[1];
  const auto flags = static_cast<unsigned>(notification.data.args[2]);
  if ((flags & ~kOpenTreeKnownFlags) != 0 || (flags & kOpenTreeClone) != 0) return Fail(EINVAL);
  if (!caller.has_sys_admin) return Fail(EPERM);
  auto path = ReadCallerString(caller, path_address);
  if (!path) return Fail(path.error().code);
  // The path was read from memory the caller may change meanwhile: it is
  // used only if the call was still pending after the read.
  if (!sys::NotificationStillValid(listener, notification.id)) return Fail(ENOENT);
  // The kernel looks at dirfd only for a relative path or AT_EMPTY_PATH.
  UniqueFd dir;
  int at = AT_FDCWD;
  if (dirfd != AT_FDCWD && (path->empty() || (*path)[0] != '/')) {
    auto fd = CallerFd(caller, dirfd);
    if (!fd) return Fail(fd.error().code);
    dir = std::move(*fd);
    at = dir.Get();
  }
  // The lookup, as the caller (LookUpAsCaller, FindAsCaller), needs no
  // privilege. The namespace is then made from what it found, which looks
  // nothing up again.
  const unsigned make_flags = ((flags & ~kOpenTreeNamespace) & ~AT_SYMLINK_NOFOLLOW) | AT_EMPTY_PATH;
  // `at` as it is when the lookup runs: a relative path from the caller's cwd.
  if (!caller.same_user_ns) {
    // Two children: one looks the path up with the caller's ids (taken
    // where they mean what the supervisor read, before it enters the
    // caller's user namespace), one makes the namespace from what it found
    // with the supervisor's: its work (a chdir into the tree) checks no
    // permission of the caller's, as 7.2's copy checks none.
    auto found = FdFromCallersPlace(caller, true, [&] {
      return LookUpAsCaller(caller, [&] { return FindAsCaller(at, *path, flags, caller.ids); }, CallerIds::kTaken);
    });
    if (!found) return Fail(found.error().code);
    const bool owns_mount_ns = OwnsItsMountNamespace(caller);
    return FdAnswer(FdFromCallersPlace(caller, false, [&]() -> Result<UniqueFd> {
      // 7.2 copies a tree of a mount namespace the caller's user namespace
      // does not own (recursively; its mounts are locked in the copy). The
      // classic strategy clones the tree, which takes a namespace of its
      // own: a copy, whose mounts are locked as 7.2's are (so a
      // non-recursive copy of "/" is EINVAL, as on 7.2). What the lookup
      // found lives in the original namespace, which the copy cannot clone
      // from: it becomes the cwd, which the unshare moves into the copy
      // (a file is ENOTDIR here, as it is on 7.2).
      int from = found->Get();
      if (!owns_mount_ns) {
        if (auto r = sys::Fchdir(from); !r) return std::unexpected(r.error());
        if (auto r = sys::Unshare(CLONE_NEWNS); !r) return std::unexpected(r.error());
        from = AT_FDCWD;
      }
      return OpenTreeNamespace(from, "", make_flags, {.strategy = NamespaceStrategy::kClassic});
    }), (flags & O_CLOEXEC) != 0);
  }
  // A relative path (or AT_EMPTY_PATH) with AT_FDCWD: from the caller's cwd.
  if (at == AT_FDCWD && (path->empty() || (*path)[0] != '/')) at = caller.cwd.Get();
  return places.Run(caller, [&] {
    auto found = LookUpAsCaller(caller, [&] { return FindAsCaller(at, *path, flags, caller.ids); });
    if (!found) return Fail(found.error().code);
    auto ns = OpenTreeNamespace(found->Get(), "", make_flags);
    if (!ns) return Fail(ns.error().code);
    return NewFd(std::move(*ns), (flags & O_CLOEXEC) != 0);
  }, CallerPlaces::Work::kMakesANamespace);
}

Answer Fsmount(const seccomp_notif& notification, const Caller& caller, CallerPlaces& places) {
  const int fs_fd = static_cast<int>(notification.data.args[0]);
  const auto flags = static_cast<unsigned>(notification.data.args[1]);
  const auto attr_flags = static_cast<unsigned>(notification.data.args[2]);
  // fsmount checks may_mount() before anything else.
  if (!caller.has_sys_admin) return Fail(EPERM);
  if ((flags & ~(kFsmountCloexec | kFsmountNamespace)) != 0) return Fail(EINVAL);
  auto fd = CallerFd(caller, fs_fd);
  if (!fd) return Fail(fd.error().code);
  if (!caller.same_user_ns) {
    return FdAnswer(FdFromCallersPlace(caller, false, [&] {
      return FsmountNamespace(fd->Get(), flags & ~kFsmountNamespace, attr_flags,
                              {.strategy = NamespaceStrategy::kClassic});
    }), (flags & kFsmountCloexec) != 0);
  }
  return places.Run(caller, [&] {
    auto ns = FsmountNamespace(fd->Get(), flags & ~kFsmountNamespace, attr_flags);
    if (!ns) return Fail(ns.error().code);
    return NewFd(std::move(*ns), (flags & kFsmountCloexec) != 0);
  }, CallerPlaces::Work::kMakesANamespace);
}

// Whether the directory fd `fd` lives on a detached tree of one mount (an
// fsmount() fd before move_mount, open_tree(OPEN_TREE_CLONE) of a directory
// without submounts), for which 7.2's BY_FD finds nothing (ENOENT) where the
// library derives an answer from the fd. The mount has no parent (".." stays
// put at its root); such a tree is an anonymous namespace made from the
// calling thread's namespace, which 6.x lets that thread clone (an unmounted
// mount, an internal one or another namespace's are EINVAL); and whether it
// has submounts shows once the clone is attached in an empty namespace of
// the supervisor's own. Runs on a thread that stands where the caller stands.
bool IsLoneDetachedMount(int fd) {
  auto start = sys::UniqueMountIdOf(fd, "", AT_EMPTY_PATH);
  if (!start) return false;
  UniqueFd walked;
  int at = fd;
  constexpr int kMaximumWalk = 4096;  // directories up to the mount's root, at most
  for (int depth = 0;; ++depth) {
    if (depth == kMaximumWalk) return false;
    auto up = sys::Open(at, "..", O_PATH | O_DIRECTORY);  // fails for a non-directory
    if (!up) return false;
    auto up_mount = sys::UniqueMountIdOf(up->Get(), "", AT_EMPTY_PATH);
    if (!up_mount || *up_mount != *start) return false;  // a mount above: not a lone one
    struct stat here {}, above {};
    if (::fstat(at, &here) != 0 || ::fstat(up->Get(), &above) != 0) return false;
    if (here.st_dev == above.st_dev && here.st_ino == above.st_ino) break;  // the mount's root
    walked = std::move(*up);
    at = walked.Get();
  }
  auto clone = sys::OpenTree(at, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  if (!clone) return false;
  auto scratch = EmptyMountNamespace({.strategy = NamespaceStrategy::kTemplate});
  if (!scratch) return false;
  bool lone = false;
  auto thread = StartHelperThread([&] {
    if (!sys::Unshare(CLONE_FS) || !sys::Setns(scratch->Get(), CLONE_NEWNS)) return;
    if (!sys::MoveMount(clone->Get(), "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH)) return;
    auto root = sys::UniqueMountIdOf(clone->Get(), "", AT_EMPTY_PATH);
    if (!root) return;
    sys::MntIdReq children{};
    children.size = sys::kMntIdReqSizeVer0;
    children.mnt_id = *root;
    std::array<std::uint64_t, 1> first{};
    auto listed = sys::Listmount(children, first, 0);
    lone = listed && *listed == 0;
  });
  if (!thread) return false;
  thread->join();
  return lone;
}

// The kernel's own bytes for a mount in the namespace the calling thread is
// in (statmount by id, the fd's unique mount id), or nullopt where the kernel
// has no answer by id (a detached mount, another namespace, outside the root)
// and the emulation must describe it.
std::optional<Result<std::vector<std::byte>>> KernelStatmount(int fd, std::uint64_t mask, std::size_t bufsize) {
  auto id = sys::UniqueMountIdOf(fd, "", AT_EMPTY_PATH);
  if (!id) return std::nullopt;
  // The root of a namespace the tracer emptied: nullfs's answer, as 7.2's.
  if (auto root = EmptyRootStatmount(*id, 0, mask, bufsize, true)) return std::move(*root);
  sys::MntIdReq request{};
  request.size = sys::kMntIdReqSizeVer0;
  request.mnt_id = *id;
  request.param = mask;
  std::vector<std::uint64_t> storage(std::min(bufsize, kMaximumStatmountBuffer) / 8 + 1);
  auto buffer = std::as_writable_bytes(std::span(storage)).first(std::min(bufsize, kMaximumStatmountBuffer));
  auto done = sys::Statmount(request, buffer, 0);
  if (!done) {
    if (done.error().code == ENOENT) return std::nullopt;
    return std::unexpected(done.error());
  }
  std::uint32_t size = 0;
  std::memcpy(&size, buffer.data(), sizeof size);
  return std::vector<std::byte>(buffer.begin(), buffer.begin() + std::min<std::size_t>(size, buffer.size()));
}

Answer Statmount(int listener, const seccomp_notif& notification, const Caller& caller, CallerPlaces& places) {
  const std::uint64_t request_address = notification.data.args[0];
  const std::uint64_t buffer_address = notification.data.args[1];
  const std::uint64_t bufsize = notification.data.args[2];
  const auto flags = static_cast<unsigned>(notification.data.args[3]);
  if ((flags & ~sys::kStatmountByFd) != 0) return Fail(EINVAL);
  auto read = ReadMntIdReq(caller.tid, request_address);
  if (!read) return Fail(read.error().code);
  const sys::MntIdReq request = *read;
  if (!sys::NotificationStillValid(listener, notification.id)) return Fail(ENOENT);
  if (request.mnt_id != 0 || request.mnt_ns_id != 0) return Fail(EINVAL);
  auto fd = CallerFd(caller, static_cast<int>(request.mnt_ns_fd_or_mnt_fd));
  if (!fd) return Fail(fd.error().code);
  auto describe = [&, mount_fd = fd->Get()]() -> Result<std::vector<std::byte>> {
    auto kernel = KernelStatmount(mount_fd, request.param, bufsize);
    if (kernel.has_value()) return std::move(*kernel);
    if (IsLoneDetachedMount(mount_fd)) return MakeError(ENOENT, "statmount", "a detached mount of its own");
    auto mount = StatmountByFd(mount_fd, request.param);
    if (!mount) return std::unexpected(mount.error());
    return FitStatmount(EncodeStatmount(*mount, request.param), bufsize);
  };
  std::vector<std::byte> bytes;
  Answer answer = places.Run(caller, [&] {
    auto described = describe();
    if (!described) return Fail(described.error().code);
    bytes = std::move(*described);
    return Success();
  }, CallerPlaces::Work::kDescribes);
  // ENOSYS: the supervisor's thread could not stand where the caller stands
  // (an unprivileged supervisor, a caller in a user namespace of its own).
  if (answer.error == ENOSYS && !caller.same_user_ns) {
    auto described = InCallersPlace(caller, describe);
    answer = described ? Success() : Fail(described.error().code);
    if (described) bytes = std::move(*described);
  }
  if (answer.error != 0) return answer;
  // Written only while the call is pending: after that the memory may be
  // another program's (an exec) or reused.
  if (!sys::NotificationStillValid(listener, notification.id)) return Fail(ENOENT);
  auto put = sys::WriteProcessMemory(caller.tid, buffer_address, bytes);
  if (!put || *put != bytes.size()) return Fail(EFAULT);
  return answer;
}

// ---- listmount of the namespaces the supervisor made --------------------------

// The caller's fd `number` where it is a mount namespace's (nsfs) fd, else
// nullopt. Looked at through /proc before it is taken (pidfd_getfd has
// effects of its own on sockets) and again after (the caller may have put
// another file there meanwhile): no ioctl of ours reaches another driver.
std::optional<UniqueFd> CallerMountNamespaceFd(const Caller& caller, int number) {
  if (number < 0) return std::nullopt;
  std::array<char, 64> link{};
  const std::string name = fmt::format("fd/{}", number);
  const ssize_t length = ::readlinkat(caller.proc.Get(), name.c_str(), link.data(), link.size() - 1);
  if (length <= 0 || !std::string_view(link.data(), static_cast<std::size_t>(length)).starts_with("mnt:[")) {
    return std::nullopt;
  }
  auto fd = CallerFd(caller, number);
  if (!fd) return std::nullopt;
  constexpr long kNsfsMagic = 0x6e736673;  // NSFS_MAGIC
  auto fs = sys::Fstatfs(fd->Get());
  if (!fs || fs->f_type != kNsfsMagic) return std::nullopt;
  auto type = sys::NamespaceType(fd->Get());
  if (!type || *type != CLONE_NEWNS) return std::nullopt;
  return std::move(*fd);
}

// The unique id of the mount a process that enters namespace `ns_fd` stands
// on at "/" (a thread of its own enters it; setns needs CAP_SYS_ADMIN over
// its owner, which the supervisor has over its callers' user namespaces
// where it runs as root).
Result<std::uint64_t> RootMountInside(int ns_fd) {
  Result<std::uint64_t> id = MakeError(ENOSYS, "setns", "a namespace the polyfill made");
  auto thread = StartHelperThread([&] {
    if (auto r = sys::Unshare(CLONE_FS); !r) return void(id = std::unexpected(r.error()));
    if (auto r = sys::Setns(ns_fd, CLONE_NEWNS); !r) return void(id = std::unexpected(r.error()));
    id = sys::UniqueMountIdOf(AT_FDCWD, "/", 0);
  });
  if (!thread) return std::unexpected(thread.error());
  thread->join();
  return id;
}

// The mounts listmount lists, from outside, of a namespace the emulation
// made where 7.2 lists the tree alone: what lies below the tree. With the
// template strategy that is its empty root (on 7.x with the copied rootfs
// below it; 6.x starts a foreign namespace's listing at the first mount
// above the namespace's real root, which is that empty root). With the
// classic strategy (callers in a user namespace of their own) it is the
// rootfs of the caller's namespace on 7.x, which 7.x lists and 6.x does not.
// By namespace id, for the namespaces this supervisor made; at most
// kRemembered of them (the oldest forgotten first: listmount of those lists
// what lies below again, as the library's raw table does). Used by the
// serving thread only.
class HiddenRoots {
 public:
  static constexpr std::size_t kRemembered = 1 << 16;

  // Right after namespace `ns_fd` was made, before its caller has it.
  void Remember(int ns_fd) {
    auto ns_id = sys::MountNamespaceId(ns_fd);
    if (!ns_id) return;
    sys::MntIdReq request{};
    request.size = sys::kMntIdReqSizeVer1;
    request.mnt_id = sys::kListmountRoot;
    request.mnt_ns_id = *ns_id;
    std::array<std::uint64_t, 1> newest{};
    auto listed = sys::Listmount(request, newest, sys::kListmountReverse);
    if (!listed || *listed != 1) return;
    StatmountReader reader;
    constexpr FieldMask kFields = field::kMntBasic | field::kFsType | field::kSbSource;
    auto mount = reader.ById(newest[0], *ns_id, kFields);
    if (!mount) return;
    // The template's empty root is the newest mount (the tree was cloned
    // before the template was copied); a classic namespace's newest mount is
    // one of the tree's, whose root is what a process inside stands on.
    std::uint64_t below = newest[0];
    if (!IsTemplateRoot(mount->fs_type, mount->sb_source)) {
      auto root = RootMountInside(ns_fd);
      auto tree_root = root ? reader.ById(*root, *ns_id, kFields) : Result<Mount>(std::unexpected(root.error()));
      if (!tree_root || tree_root->parent_id == *root) return;
      below = tree_root->parent_id;
    }
    std::vector<std::uint64_t> hidden;
    std::uint32_t counted = 0;
    constexpr std::size_t kMaximumDepth = 4;  // an empty root, a rootfs, a nullfs
    for (std::uint64_t id = below; hidden.size() < kMaximumDepth;) {
      auto next = id == newest[0] ? Result<Mount>(*mount) : reader.ById(id, *ns_id, field::kMntBasic);
      if (!next) break;
      hidden.push_back(id);
      // NS_MNT_GET_INFO counts every mount of the namespace but its real root
      // (its own parent: 6.x's copied rootfs, 7.x's nullfs).
      if (next->parent_id == id) break;
      ++counted;
      id = next->parent_id;
    }
    auto owners = OwnersOf(ns_fd);
    if (hidden.empty() || owners.empty()) return;
    if (order_.size() == kRemembered) {
      by_namespace_.erase(order_.front());
      order_.pop_front();
    }
    Namespace entry{std::move(hidden), counted, std::move(owners)};
    if (by_namespace_.insert_or_assign(*ns_id, std::move(entry)).second) order_.push_back(*ns_id);
  }

  // A user namespace: its nsfs device and inode, and the uid that made it
  // (in the supervisor's user namespace).
  struct UserNamespace {
    dev_t dev;
    ino_t ino;
    uid_t owner;
  };
  struct Namespace {
    std::vector<std::uint64_t> hidden;  // the mounts below the tree that listmount lists
    std::uint32_t counted;              // how many of them NS_MNT_GET_INFO counts
    // Its owning user namespace, then that one's parents up to the
    // supervisor's: where a capability can count over it.
    std::vector<UserNamespace> owners;
  };
  [[nodiscard]] const Namespace* Find(std::uint64_t ns_id) const {
    const auto found = by_namespace_.find(ns_id);
    return found == by_namespace_.end() ? nullptr : &found->second;
  }

 private:
  // The user namespace that owns `ns_fd`, then its parents as far as the
  // supervisor sees them (user namespaces nest 32 deep at most).
  static std::vector<UserNamespace> OwnersOf(int ns_fd) {
    std::vector<UserNamespace> owners;
    auto at = sys::OwningUserNamespace(ns_fd);
    for (int depth = 0; at && depth <= 32; ++depth) {
      struct stat st {};
      auto owner = sys::UserNamespaceOwner(at->Get());
      if (::fstat(at->Get(), &st) != 0 || !owner) break;
      owners.push_back({st.st_dev, st.st_ino, *owner});
      at = sys::ParentNamespace(at->Get());
    }
    return owners;
  }

  std::unordered_map<std::uint64_t, Namespace> by_namespace_;
  std::deque<std::uint64_t> order_;
};

// Whether `caller` has CAP_SYS_ADMIN over the user namespace that owns
// `made`, as the kernel's cap_capable walks up from it: the caller's own
// user namespace with the capability in its effective set, or the child of
// the caller's that the caller's euid made (whose owner has every capability
// in it). A uid the supervisor's user namespace does not map (shown as the
// overflow uid 65534) is nobody's here.
bool CapableOver(const Caller& caller, const HiddenRoots::Namespace& made) {
  struct stat user_st {};
  if (::fstat(caller.user_ns.Get(), &user_st) != 0) return false;
  auto is_callers = [&](const HiddenRoots::UserNamespace& ns) {
    return ns.dev == user_st.st_dev && ns.ino == user_st.st_ino;
  };
  constexpr uid_t kOverflowUid = 65534;
  for (std::size_t at = 0; at < made.owners.size(); ++at) {
    if (is_callers(made.owners[at])) return caller.has_sys_admin;
    const bool child_of_callers = at + 1 < made.owners.size() && is_callers(made.owners[at + 1]);
    if (child_of_callers && made.owners[at].owner == caller.euid && caller.euid != kOverflowUid) return true;
  }
  return false;
}

// The kernel's listing, without the hidden mounts, where the call lists a
// namespace the supervisor made from outside it, for a caller with
// CAP_SYS_ADMIN over the user namespace that owns it (CapableOver); every
// other listmount is the kernel's own (Native), its errors included.
Answer Listmount(int listener, const seccomp_notif& notification, const Caller& caller,
                 const HiddenRoots& hidden_roots) {
  const std::uint64_t ids_address = notification.data.args[1];
  const std::uint64_t wanted = notification.data.args[2];
  const auto flags = static_cast<unsigned>(notification.data.args[3]);
  // The kernel's limit on one call's ids; above it the kernel says no itself.
  constexpr std::uint64_t kMaximumIds = 1000000;
  if (wanted == 0 || wanted > kMaximumIds || (flags & ~sys::kListmountReverse) != 0) return Native();
  auto request = ReadMntIdReq(caller.tid, notification.data.args[0]);
  if (!request) return Native();
  std::uint64_t ns_id = request->mnt_ns_id;
  if (ns_id == 0 && request->mnt_ns_fd_or_mnt_fd != 0) {
    auto fd = CallerMountNamespaceFd(caller, static_cast<int>(request->mnt_ns_fd_or_mnt_fd));
    if (!fd) return Native();  // the kernel's EBADF or EINVAL
    auto id = sys::MountNamespaceId(fd->Get());
    if (!id) return Native();
    ns_id = *id;
  } else if (request->mnt_ns_fd_or_mnt_fd != 0) {
    return Native();  // both: EINVAL
  }
  const HiddenRoots::Namespace* made = ns_id == 0 ? nullptr : hidden_roots.Find(ns_id);
  if (made == nullptr) return Native();
  const std::vector<std::uint64_t>* hidden = &made->hidden;
  // From inside, the listing starts at the caller's root, above the hidden
  // mounts. From outside it takes CAP_SYS_ADMIN over the namespace's owner
  // (else the kernel's ENOENT, left to the kernel).
  auto own = sys::MountNamespaceId(caller.mount_ns.Get());
  if (!own || *own == ns_id || !CapableOver(caller, *made)) return Native();
  sys::MntIdReq ours = *request;
  ours.size = sys::kMntIdReqSizeVer1;
  ours.mnt_ns_fd_or_mnt_fd = 0;
  ours.mnt_ns_id = ns_id;
  // Pages of the kernel's listing from the caller's last id on, the hidden
  // ids dropped, until `wanted` are found or the listing ends.
  std::vector<std::uint64_t> ids;
  std::vector<std::uint64_t> page(std::min(wanted + hidden->size(), kMaximumIds));
  for (;;) {
    auto listed = sys::Listmount(ours, page, flags);
    if (!listed) return Fail(listed.error().code);
    for (std::size_t i = 0; i < *listed && ids.size() < wanted; ++i) {
      if (std::find(hidden->begin(), hidden->end(), page[i]) == hidden->end()) ids.push_back(page[i]);
    }
    if (ids.size() == wanted || *listed < page.size()) break;
    ours.param = page[*listed - 1];  // the next page starts after the last id listed
  }
  if (!sys::NotificationStillValid(listener, notification.id)) return Fail(ENOENT);
  auto put = sys::WriteProcessMemory(caller.tid, ids_address, std::as_bytes(std::span(ids)));
  if (!put || *put != ids.size() * sizeof(std::uint64_t)) return Fail(EFAULT);
  Answer answer = Success();
  answer.value = static_cast<long>(ids.size());
  return answer;
}

// ioctl(fd, NS_MNT_GET_INFO, info) on a namespace the supervisor made: the
// kernel's answer without the mounts below the tree in nr_mounts (7.2
// counts the copied mounts alone). Any other fd is the kernel's (the number
// may mean another driver's ioctl there).
Answer NamespaceInfo(int listener, const seccomp_notif& notification, const Caller& caller,
                     const HiddenRoots& hidden_roots) {
  // NULL is the kernel's EINVAL; any fd but a mount namespace's is its own.
  if (notification.data.args[2] == 0) return Native();
  auto fd = CallerMountNamespaceFd(caller, static_cast<int>(notification.data.args[0]));
  if (!fd) return Native();
  auto ns_id = sys::MountNamespaceId(fd->Get());
  const HiddenRoots::Namespace* made = ns_id ? hidden_roots.Find(*ns_id) : nullptr;
  if (made == nullptr) return Native();
  auto info = sys::MountNamespaceInfo(fd->Get());
  if (!info) return Native();
  info->nr_mounts -= std::min(info->nr_mounts, made->counted);
  if (!sys::NotificationStillValid(listener, notification.id)) return Fail(ENOENT);
  auto put = sys::WriteProcessMemory(caller.tid, notification.data.args[2], std::as_bytes(std::span(&*info, 1)));
  if (!put || *put != sizeof *info) return Fail(EFAULT);
  return Success();
}

void Respond(int listener, const seccomp_notif& notification, Answer answer) {
  if (answer.native) {
    seccomp_notif_resp response{};
    response.id = notification.id;
    response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    (void)sys::SendNotificationResponse(listener, response);
    return;
  }
  if (answer.error == 0 && answer.fd) {
    // ENOENT: the caller left its call; the copy is not installed.
    (void)sys::AddFdAndRespond(listener, notification.id, answer.fd.Get(), answer.fd_flags);
    return;
  }
  seccomp_notif_resp response{};
  response.id = notification.id;
  response.error = answer.error == 0 ? 0 : -answer.error;
  response.val = answer.error == 0 ? answer.value.value_or(0) : 0;
  (void)sys::SendNotificationResponse(listener, response);
}

// What the serving thread keeps between notifications.
struct Server {
  struct stat own_user_ns {};  // its user namespace
  HiddenRoots hidden_roots;
  CallerPlaces places;
};

void Handle(int listener, const seccomp_notif& notification, Server& server) {
  auto caller = OpenCaller(listener, notification, server.own_user_ns);
  if (!caller) {
    // The task is gone or left its call; answering is harmless (ENOENT).
    // listmount and ioctl are every program's: the kernel's, rather than ENOSYS.
    const bool everyones = notification.data.nr == kListmount || notification.data.nr == kIoctl;
    Respond(listener, notification, everyones ? Native() : Fail(ENOSYS));
    return;
  }
  Answer answer = Fail(ENOSYS);
  switch (notification.data.nr) {
    case kOpenTree: answer = OpenTree(listener, notification, *caller, server.places); break;
    case kFsmount: answer = Fsmount(notification, *caller, server.places); break;
    case kListmount: answer = Listmount(listener, notification, *caller, server.hidden_roots); break;
    case kIoctl: answer = NamespaceInfo(listener, notification, *caller, server.hidden_roots); break;
    case kStatmount: answer = Statmount(listener, notification, *caller, server.places); break;
    default: break;
  }
  // A namespace made here is remembered before the caller has its fd.
  if (answer.error == 0 && answer.fd) server.hidden_roots.Remember(answer.fd.Get());
  // Nothing of the caller's is held once its call returns (its cwd, root and
  // namespaces): a mount it stood on unmounts right after, as on 7.2.
  caller.reset();
  Respond(listener, notification, std::move(answer));
}

}  // namespace

Result<void> ServeNotifications(int listener, int stop_fd) {
  Server server;
  if (::stat("/proc/thread-self/ns/user", &server.own_user_ns) != 0) {
    const int err = errno;
    return MakeError(err, "stat", "/proc/thread-self/ns/user");
  }
  for (;;) {
    std::array<pollfd, 2> fds{pollfd{listener, POLLIN, 0}, pollfd{stop_fd, POLLIN, 0}};
    const int ready = ::poll(fds.data(), stop_fd >= 0 ? 2 : 1, -1);
    if (ready < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return MakeError(err, "poll", fmt::format("seccomp listener fd {}", listener));
    }
    if ((fds[0].revents & POLLIN) != 0) {
      seccomp_notif notification{};
      auto received = sys::ReceiveNotification(listener, notification);
      // ENOENT: the task left the call before we took it.
      if (received) Handle(listener, notification, server);
      else if (received.error().code != ENOENT) return std::unexpected(received.error());
      continue;
    }
    if ((fds[0].revents & POLLNVAL) != 0) return MakeError(EBADF, "poll", fmt::format("seccomp listener fd {}", listener));
    if ((fds[0].revents & (POLLHUP | POLLERR)) != 0) return kOk;
    if (stop_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP)) != 0) return kOk;
  }
}

}  // namespace mntns::internal
