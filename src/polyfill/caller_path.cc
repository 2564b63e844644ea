// open_tree's path lookup as the caller's own would go, run by a supervisor
// thread (FindAsCaller in polyfill/internal.h; docs/polyfill.md, step 3).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "polyfill/internal.h"
#include "sys/files.h"
#include "sys/openat2.h"
#include "sys/process.h"
#include "sys/seccomp.h"
#include "sys/syscalls.h"

namespace mntns::internal {
namespace {

constexpr int kMaximumSymlinks = 40;  // the kernel's MAXSYMLINKS
constexpr ino_t kProcRootInode = 1;   // PROC_ROOT_INO

bool OnProcfs(int fd) {
  auto fs = sys::Fstatfs(fd);
  return fs && fs->f_type == PROC_SUPER_MAGIC;
}

bool IsProcRoot(int fd) {
  struct stat st {};
  return OnProcfs(fd) && ::fstat(fd, &st) == 0 && st.st_ino == kProcRootInode;
}

// Which of `owner`'s pid namespaces procfs root `proc_root` shows it in:
// the index into owner.tgids whose directory there is the owner's process
// (its status lists the same ids from that namespace inward, and it started
// when the owner did: a process of an outer namespace may have the owner's
// inner pid), or nullopt.
std::optional<std::size_t> OwnersLevel(int proc_root, const PathOwner& owner) {
  for (std::size_t level = owner.tgids.size(); level-- > 0;) {
    const std::string pid = fmt::format("{}", owner.tgids[level]);
    auto status = sys::ReadProcStatus(proc_root, (pid + "/status").c_str());
    if (!status) continue;
    auto field = sys::ProcStatusField(*status, "NStgid");
    if (!field) continue;
    const auto seen = sys::ProcStatusNumbers(*field);
    const bool same_ids =
        seen.size() == owner.tgids.size() - level &&
        std::equal(seen.begin(), seen.end(), owner.tgids.begin() + static_cast<std::ptrdiff_t>(level),
                   [](unsigned long long a, pid_t b) { return a == static_cast<unsigned long long>(b); });
    if (!same_ids) continue;
    const auto started = TaskStartTime(proc_root, fmt::format("{}/task/{}", pid, owner.tids[level]));
    if (started && *started == owner.start_time) return level;
  }
  return std::nullopt;
}

// Where a walk stands in a procfs, as far as it matters: which of its
// symlinks are magic links (followed by the kernel to the file itself)
// rather than text.
enum class ProcPlace {
  kElsewhere,
  kRoot,      // a procfs root: "self" and "thread-self" are text naming the reader
  kProcess,   // /proc/PID (cwd, root, exe are magic)
  kTasks,     // /proc/PID/task
  kThread,    // /proc/PID/task/TID (cwd, root, exe are magic)
  kLinks,     // fd/, ns/, map_files/ of one of those: every entry is magic
};
struct ProcStep {
  ProcPlace place = ProcPlace::kElsewhere;
  bool walkers = false;  // of the process that walks (this one), not the caller's
};

bool IsNumber(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Where stepping into `name` from `from` leads; `entered` is what it opened.
ProcStep StepInProc(const ProcStep& from, const std::string& name, int proc_root, int entered) {
  switch (from.place) {
    case ProcPlace::kRoot:
      if (IsNumber(name)) {
        // The walking process's own directory: the kernel lets a process
        // into its own fds without the ptrace check the caller would need.
        auto own = sys::ReadLink(proc_root, "self");
        auto status = sys::ReadProcStatus(entered, "status");
        auto tgid = status ? sys::ProcStatusField(*status, "Tgid") : std::nullopt;
        const bool walkers = own && tgid && *tgid == *own;
        return {ProcPlace::kProcess, walkers};
      }
      break;
    case ProcPlace::kProcess:
      if (name == "task") return {ProcPlace::kTasks, from.walkers};
      [[fallthrough]];
    case ProcPlace::kThread:
      if (name == "fd" || name == "ns" || name == "map_files") return {ProcPlace::kLinks, from.walkers};
      break;
    case ProcPlace::kTasks:
      if (IsNumber(name)) return {ProcPlace::kThread, from.walkers};
      break;
    case ProcPlace::kElsewhere:
    case ProcPlace::kLinks:
      break;
  }
  return {IsProcRoot(entered) ? ProcPlace::kRoot : ProcPlace::kElsewhere, false};
}

bool IsMagicLink(const ProcStep& at, const std::string& name) {
  if (at.place == ProcPlace::kLinks) return true;
  const bool process = at.place == ProcPlace::kProcess || at.place == ProcPlace::kThread;
  return process && (name == "cwd" || name == "root" || name == "exe");
}

// The components of `path`, in order ("" and "." dropped: they name the
// directory they are in; ".." kept).
void PushFront(std::deque<std::string>& components, std::string_view path) {
  std::deque<std::string> ahead;
  for (std::size_t at = 0; at <= path.size();) {
    std::size_t slash = path.find('/', at);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view part = path.substr(at, slash - at);
    if (!part.empty() && part != ".") ahead.emplace_back(part);
    at = slash + 1;
  }
  components.insert(components.begin(), ahead.begin(), ahead.end());
}

Result<UniqueFd> Fail(int code, std::string_view path) {
  return MakeError(code, "open_tree", fmt::format("\"{}\" (the caller's lookup)", path));
}

// `path` from `dirfd` (an absolute one from the thread's root), one
// component at a time. `follow_last`: the last component's symlink is
// followed; `automount_last`: an automount point there is triggered. At most
// 40 symlinks (ELOOP).
Result<UniqueFd> WalkAsCaller(int dirfd, std::string_view path, const PathOwner& owner, bool follow_last,
                              bool automount_last) {
  if (path.empty()) return Fail(ENOENT, path);
  // Where the walk starts: the thread's root (the caller's) or `dirfd`.
  auto current = sys::Open(path.front() == '/' ? AT_FDCWD : dirfd, path.front() == '/' ? "/" : ".",
                           O_PATH | O_DIRECTORY);
  if (!current) return std::unexpected(current.error());
  std::deque<std::string> components;
  PushFront(components, path);
  // A trailing slash (or "/." at the end) asks for a directory, as in the kernel.
  bool want_directory = path.back() == '/' || path.ends_with("/.") || path == ".";
  int symlinks = 0;
  // Where each directory walked into stands in a procfs (".." goes back one).
  std::vector<ProcStep> steps{{IsProcRoot(current->Get()) ? ProcPlace::kRoot : ProcPlace::kElsewhere, false}};
  while (!components.empty()) {
    const std::string name = std::move(components.front());
    components.pop_front();
    const bool last = components.empty();
    // One step, no symlink followed: the kernel checks the search permission
    // on `current` and crosses what is mounted on the result.
    auto next = sys::Openat2(current->Get(), name.c_str(), O_PATH | O_NOFOLLOW,
                             RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (!next) return std::unexpected(next.error());
    struct stat st {};
    if (::fstat(next->Get(), &st) != 0) return Fail(errno, path);
    const ProcStep here = steps.empty() ? ProcStep{} : steps.back();
    if (S_ISLNK(st.st_mode) && (!last || follow_last || want_directory)) {
      if (++symlinks > kMaximumSymlinks) return Fail(ELOOP, path);
      const bool on_proc_root = here.place == ProcPlace::kRoot;
      if (on_proc_root && (name == "self" || name == "thread-self")) {
        // The reader's pid: the caller's, not this thread's (ENOENT where
        // this procfs's pid namespace does not see the caller, as the kernel).
        auto level = OwnersLevel(current->Get(), owner);
        if (!level) return Fail(ENOENT, path);
        const pid_t tgid = owner.tgids[*level];
        PushFront(components, name == "self" ? fmt::format("{}", tgid)
                                             : fmt::format("{}/task/{}", tgid, owner.tids[*level]));
        continue;
      }
      if (IsMagicLink(here, name) && OnProcfs(next->Get())) {
        // A magic link of a pid directory (fd/N, cwd, root, exe, ns/...): the
        // kernel follows it to the file itself, checking that this thread
        // (the caller's credentials) may look at that process. Not for this
        // process's own links, which the kernel lets it follow unchecked: the
        // caller would need CAP_SYS_PTRACE (or this process's very ids; the
        // stricter answer is kept).
        if (here.walkers) {
          auto capabilities = sys::ThreadEffectiveCapabilities();
          if (!capabilities || (*capabilities & (1ULL << CAP_SYS_PTRACE)) == 0) return Fail(EACCES, path);
        }
        auto followed = sys::Openat2(current->Get(), name.c_str(), O_PATH, 0);
        if (!followed) return std::unexpected(followed.error());
        current = std::move(followed);
        steps = {{IsProcRoot(current->Get()) ? ProcPlace::kRoot : ProcPlace::kElsewhere, false}};
        if (!last && ::fstat(current->Get(), &st) == 0 && !S_ISDIR(st.st_mode)) return Fail(ENOTDIR, path);
        continue;
      }
      auto text = sys::ReadLink(next->Get(), "");
      if (!text) return std::unexpected(text.error());
      if (text->empty()) return Fail(ENOENT, path);
      if (text->front() == '/') {
        auto root = sys::Open(AT_FDCWD, "/", O_PATH | O_DIRECTORY);
        if (!root) return std::unexpected(root.error());
        current = std::move(root);
        steps = {{IsProcRoot(current->Get()) ? ProcPlace::kRoot : ProcPlace::kElsewhere, false}};
      }
      if (last && (text->back() == '/' || text->ends_with("/.") || *text == ".")) want_directory = true;
      PushFront(components, *text);
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode)) return Fail(ENOTDIR, path);
    if (S_ISDIR(st.st_mode) && (!last || automount_last || want_directory)) {
      // The step once more as a directory lookup, which triggers an
      // automount point there, as the kernel does on the way and, without
      // AT_NO_AUTOMOUNT, at the end of open_tree's lookup.
      auto mounted = sys::Openat2(current->Get(), name.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY,
                                  RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
      if (!mounted) return std::unexpected(mounted.error());
      next = std::move(mounted);
    }
    if (name == "..") {
      if (!steps.empty()) steps.pop_back();
      if (IsProcRoot(next->Get())) steps = {{ProcPlace::kRoot, false}};
    } else {
      steps.push_back(StepInProc(here, name, current->Get(), next->Get()));
    }
    current = std::move(next);
  }
  if (want_directory) {
    struct stat st {};
    if (::fstat(current->Get(), &st) != 0) return Fail(errno, path);
    if (!S_ISDIR(st.st_mode)) return Fail(ENOTDIR, path);
  }
  return std::move(*current);
}

}  // namespace

std::optional<unsigned long long> TaskStartTime(int dirfd, const std::string& task) {
  auto stat = sys::ReadProcStatus(dirfd, (task + "/stat").c_str());
  if (!stat) return std::nullopt;
  // "PID (COMM) S PPID ...": COMM may hold anything, so fields count from
  // the last ')'; starttime is field 22, the 20th after it.
  const auto close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(*stat).substr(close + 1);
  for (int field = 3; field < 22; ++field) {
    const auto space = rest.find_first_not_of(' ');
    if (space == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(space);
    const auto end = rest.find(' ');
    if (end == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(end);
  }
  const auto numbers = sys::ProcStatusNumbers(rest.substr(0, rest.find(' ', 1)));
  if (numbers.empty()) return std::nullopt;
  return numbers.front();
}

Result<UniqueFd> FindAsCaller(int dirfd, const std::string& path, unsigned flags, const PathOwner& owner) {
  const bool follow_last = (flags & AT_SYMLINK_NOFOLLOW) == 0;
  const bool automount_last = (flags & AT_NO_AUTOMOUNT) == 0;
  // "" names `dirfd` itself (with AT_EMPTY_PATH; else ENOENT): nothing to walk.
  if (path.empty()) return sys::OpenTree(dirfd, "", (flags & (AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) | O_CLOEXEC);
  // O_DIRECTORY makes the last step trigger an automount point, as
  // open_tree's lookup does without AT_NO_AUTOMOUNT (a non-directory is
  // ENOTDIR here, as OPEN_TREE_NAMESPACE makes it on 7.2).
  auto found = sys::Openat2(dirfd, path.c_str(),
                            O_PATH | (follow_last ? 0 : O_NOFOLLOW) | (automount_last ? O_DIRECTORY : 0),
                            RESOLVE_NO_MAGICLINKS);
  // A lookup through /proc/self fails here where this process lacks what
  // the caller has (its fd N: ENOENT), meets a magic link (ELOOP) or ends
  // on procfs: each is walked again as the caller's, which answers for it.
  // Any other lookup never read "self", or left it by "..".
  if (found && !OnProcfs(found->Get())) return found;
  return WalkAsCaller(dirfd, path, owner, follow_last, automount_last);
}

}  // namespace mntns::internal
