/* An unmodified program that issues Linux 7.x's mount calls as raw syscalls,
 * knowing nothing of mntns: run directly on 7.2 and under `mntns polyfill` on
 * 6.x, it must print the same lines (tests/ns/polyfill_test.cc).
 * Statically linked and multi-threaded on purpose (one case calls from a
 * second thread).
 *
 *   raw_calls cases               every case, as root, in a private mount namespace
 *                                 it makes itself: one "NAME RESULT" line each
 *   raw_calls unprivileged        the cases of a caller without privileges (uid 65534)
 *   raw_calls userns              the cases of a caller in a user namespace of its own
 *                                 (uid 0 mapped to 0), whose mount namespace it owns
 *   raw_calls nobody              without any setup, as whoever runs it: open_tree("/",
 *                                 OPEN_TREE_NAMESPACE), statmount BY_FD of "/",
 *                                 unshare(UNSHARE_EMPTY_MNTNS) alone and with CLONE_NEWUSER
 *   raw_calls empty               unshare(UNSHARE_EMPTY_MNTNS) and clone3(CLONE_EMPTY_MNTNS)
 *                                 as root, in a private mount namespace of its own
 *   raw_calls empty-unprivileged  the same calls as uid 65534 without capabilities
 *   raw_calls wait-open-tree      reads one byte from stdin, then open_tree("/",
 *                                 OPEN_TREE_NAMESPACE): "open_tree RESULT"
 *   raw_calls wait-signal catch   says "ready", then waits for SIGINT/SIGTERM/SIGHUP/SIGQUIT:
 *                                 "got N" and exit 0 ("die": the default action, death)
 *   raw_calls seccomp             the Seccomp: line of /proc/self/status (0: no filter)
 *   raw_calls getppid N           N getppid() calls (for the benchmark)
 *   raw_calls open-tree-loop N    N open_tree(".", OPEN_TREE_NAMESPACE|AT_RECURSIVE) + close
 * RESULT is "ok" (and facts) or the errno's name. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define OPEN_TREE_NAMESPACE_ (1U << 1)
#define OPEN_TREE_CLONE_ 1U
#define FSMOUNT_NAMESPACE_ 0x2U
#define FSMOUNT_CLOEXEC_ 0x1U
#define STATMOUNT_BY_FD_ 0x1U
#define NS_GET_NSTYPE_ _IO(0xb7, 0x3)
#define NS_GET_MNTNS_ID_ _IOR(0xb7, 5, uint64_t)
struct mnt_ns_info_ { uint32_t size, nr_mounts; uint64_t mnt_ns_id; };
#define NS_MNT_GET_INFO_ _IOR(0xb7, 10, struct mnt_ns_info_)
#define FSCONFIG_CMD_CREATE_ 6
#define STATX_MNT_ID_UNIQUE_ 0x4000U
#define SM_MNT_BASIC 0x2ULL
#define SM_MNT_POINT 0x10ULL
#define SM_FS_TYPE 0x20ULL
#define SM_MNT_NS_ID 0x40ULL
#define SM_MNT_ROOT 0x8ULL
#define SM_SB_BASIC 0x1ULL
#define UNSHARE_EMPTY_MNTNS_ 0x00100000UL
#define CLONE_EMPTY_MNTNS_ (1ULL << 37)
#define LSMT_ROOT_ 0xffffffffffffffffULL

struct clone_args_ {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

struct mnt_id_req_ {
  uint32_t size;
  uint32_t mnt_fd;
  uint64_t mnt_id;
  uint64_t param;
  uint64_t mnt_ns_id;
};

static const char* Name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case E2BIG: return "E2BIG";
    case ENOSYS: return "ENOSYS";
    case EOVERFLOW: return "EOVERFLOW";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case ENOTTY: return "ENOTTY";
    default: {
      static char text[32];
      snprintf(text, sizeof text, "E%d", e);
      return text;
    }
  }
}

static long OpenTree(int dirfd, const char* path, unsigned flags) {
  return syscall(428, dirfd, path, flags);
}
static long Fsmount(int fs_fd, unsigned flags, unsigned attr) { return syscall(432, fs_fd, flags, attr); }
static long Statmount(const struct mnt_id_req_* req, void* buf, size_t size, unsigned flags) {
  return syscall(457, req, buf, size, flags);
}

static char dir[64];  /* the scratch directory: tmpfs "a" with tmpfs "a/sub" */
static char a[96], sub[128], file[128];
static char locked_pub[128]; /* dir/locked (0700, root's) / pub (0755) */

static void Report(const char* name, long result, const char* facts) {
  if (result < 0) printf("%s %s\n", name, Name(errno));
  else printf("%s ok%s%s\n", name, facts[0] ? " " : "", facts);
  fflush(stdout);
}

/* Runs `work` in a child and returns the text it writes into `out` (the
 * child may change its ids or namespaces: this process keeps its own). */
static void InChild(void (*work)(char* text, size_t size, const void* arg), const void* arg, char* out, size_t size) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char text[64] = "";
    work(text, sizeof text, arg);
    (void)!write(pipefd[1], text, strlen(text));
    _exit(0);
  }
  close(pipefd[1]);
  ssize_t got = read(pipefd[0], out, size - 1);
  out[got > 0 ? got : 0] = '\0';
  close(pipefd[0]);
  waitpid(pid, NULL, 0);
}

/* What a process that enters namespace `fd` sees: "marker" (the tree's file
 * shows at /), "sub-mount" (a/sub is copied as a mount). */
static void SeeInside(char* text, size_t size, const void* arg) {
  if (setns(*(const int*)arg, CLONE_NEWNS) != 0) {
    snprintf(text, size, "setns-%s", Name(errno));
    return;
  }
  struct statx stx;
  int marker = access("/marker", F_OK) == 0;
  int submount = statx(AT_FDCWD, "/sub", 0, STATX_BASIC_STATS, &stx) == 0 &&
                 (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
  snprintf(text, size, "marker=%d sub-mount=%d", marker, submount);
}

static void Inside(int fd, char* facts, size_t size) { InChild(SeeInside, &fd, facts, size); }

static void NamespaceFacts(long fd, char* facts, size_t size) {
  if (fd < 0) return;
  char inside[96] = "";
  int type = ioctl((int)fd, NS_GET_NSTYPE_);
  int cloexec = (fcntl((int)fd, F_GETFD) & FD_CLOEXEC) != 0;
  Inside((int)fd, inside, sizeof inside);
  snprintf(facts, size, "mntns=%d cloexec=%d %s", type == CLONE_NEWNS, cloexec, inside);
}

static void OpenTreeCase(const char* name, int dirfd, const char* path, unsigned flags) {
  long fd = OpenTree(dirfd, path, flags);
  char facts[192] = "";
  NamespaceFacts(fd, facts, sizeof facts);
  Report(name, fd, facts);
  if (fd >= 0) close((int)fd);
}

/* Drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the calling thread's
 * effective set (1: done). */
static int DropDacCapabilities(void) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) != 0) return 0;
  data[0].effective &= ~((1U << CAP_DAC_OVERRIDE) | (1U << CAP_DAC_READ_SEARCH));
  return syscall(SYS_capset, &header, data) == 0;
}

/* Root that dropped CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its
 * effective set (keeping CAP_SYS_ADMIN): another user's 0700 directory stops
 * its lookups (EACCES), by path and from a dirfd opened before the drop; a
 * path it may search still works. Its own capabilities, not the supervisor's. */
static void WithoutDacCapabilitiesCases(void) {
  char others[128], below[160];
  snprintf(others, sizeof others, "%s/others", dir);
  snprintf(below, sizeof below, "%s/tree", others);
  if (mkdir(others, 0700) != 0 || mkdir(below, 0755) != 0 || chown(others, 65534, 65534) != 0) {
    perror("mkdir others");
    return;
  }
  int at_others = open(others, O_PATH | O_DIRECTORY | O_CLOEXEC);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    int ok = DropDacCapabilities();
    Report("without_dac_drop", ok ? 0 : -1, "");
    if (ok) {
      OpenTreeCase("ot_without_dac_below_anothers_dir", AT_FDCWD, below, OPEN_TREE_NAMESPACE_);
      OpenTreeCase("ot_without_dac_from_anothers_dir", at_others, "tree", OPEN_TREE_NAMESPACE_);
      OpenTreeCase("ot_without_dac_searchable", AT_FDCWD, a, OPEN_TREE_NAMESPACE_);
    }
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  close(at_others);
}

/* Paths through procfs's "self": the caller's own fd `at` (a directory of
 * tree "a") and cwd, also through a symlink of its own to /proc/self/fd.
 * `prefix` names the cases. */
static void ProcSelfCases(const char* prefix, int at) {
  char path[160], name[128], link[128];
  snprintf(path, sizeof path, "/proc/self/fd/%d", at);
  snprintf(name, sizeof name, "%s_through_proc_self_fd", prefix);
  OpenTreeCase(name, AT_FDCWD, path, OPEN_TREE_NAMESPACE_);
  snprintf(name, sizeof name, "%s_through_proc_self_fd_nofollow", prefix);
  OpenTreeCase(name, AT_FDCWD, path, OPEN_TREE_NAMESPACE_ | AT_SYMLINK_NOFOLLOW);
  snprintf(path, sizeof path, "/proc/self/fd/%d/../a/.", at);
  snprintf(name, sizeof name, "%s_through_proc_self_fd_and_dotdot", prefix);
  OpenTreeCase(name, AT_FDCWD, path, OPEN_TREE_NAMESPACE_);
  snprintf(link, sizeof link, "%s/%s-loop", dir, prefix);
  if (symlink(link, link) == 0) {
    snprintf(path, sizeof path, "/proc/self/root/%s", link + 1);
    snprintf(name, sizeof name, "%s_symlink_loop_below_proc_self", prefix);
    OpenTreeCase(name, AT_FDCWD, path, OPEN_TREE_NAMESPACE_);
  }
  snprintf(path, sizeof path, "/proc/thread-self/fd/%d", at);
  snprintf(name, sizeof name, "%s_through_proc_thread_self_fd", prefix);
  OpenTreeCase(name, AT_FDCWD, path, OPEN_TREE_NAMESPACE_);
  snprintf(link, sizeof link, "%s/%s-fd", dir, prefix);
  if (symlink("/proc/self/fd", link) == 0) {
    snprintf(path, sizeof path, "%s/%d", link, at);
    snprintf(name, sizeof name, "%s_through_a_link_to_proc_self_fd", prefix);
    OpenTreeCase(name, AT_FDCWD, path, OPEN_TREE_NAMESPACE_);
  }
  if (fchdir(at) == 0) {
    snprintf(name, sizeof name, "%s_through_proc_self_cwd", prefix);
    OpenTreeCase(name, AT_FDCWD, "/proc/self/cwd", OPEN_TREE_NAMESPACE_);
    if (chdir("/") != 0) perror("chdir /");
  }
}

static void* ThreadCall(void* arg) {
  (void)arg;
  OpenTreeCase("ot_from_second_thread", AT_FDCWD, a, OPEN_TREE_NAMESPACE_ | OPEN_TREE_CLONE_ * 0);
  return NULL;
}

static int NewTmpfsContext(void) {
  int fs = (int)syscall(430, "tmpfs", 1 /* FSOPEN_CLOEXEC */);
  if (fs >= 0) syscall(431, fs, FSCONFIG_CMD_CREATE_, NULL, NULL, 0);
  return fs;
}

static void FsmountCase(const char* name, int fs, unsigned flags) {
  long fd = Fsmount(fs, flags, 0);
  char facts[192] = "";
  if (fd >= 0) {
    int type = ioctl((int)fd, NS_GET_NSTYPE_);
    snprintf(facts, sizeof facts, "mntns=%d cloexec=%d", type == CLONE_NEWNS,
             (fcntl((int)fd, F_GETFD) & FD_CLOEXEC) != 0);
  }
  Report(name, fd, facts);
  if (fd >= 0) close((int)fd);
}

static int NewTmpfsContextWithMode(const char* mode) {
  int fs = (int)syscall(430, "tmpfs", 1 /* FSOPEN_CLOEXEC */);
  if (fs >= 0 && (syscall(431, fs, 1 /* FSCONFIG_SET_STRING */, "mode", mode, 0) != 0 ||
                  syscall(431, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0) != 0)) {
    close(fs);
    return -1;
  }
  return fs;
}

/* A caller without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH and a tree whose
 * root it may not search (its own directory, mode 0000): 7.2 checks the
 * caller's permissions in the lookup alone, which does not search the last
 * component, and copies the tree without another check. Also with a
 * mount-namespace file in the tree (7.2 leaves it out of the copy), and an
 * fsmount of a tmpfs whose root is mode 0. `prefix` names the cases. */
static void OwnUnsearchableTreeCases(const char* prefix) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid != 0) {
    waitpid(pid, NULL, 0);
    return;
  }
  /* A mount-namespace file may be bound only where it is newer than the
   * namespace it is bound in, and 6.18 hands out namespace ids in per-CPU
   * batches: this process and the child that makes the newer namespace stay
   * on one CPU, and this process takes a namespace of its own first. */
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  char own[128], ns_file[160], name[128], newer[64];
  snprintf(own, sizeof own, "%s/%s-own", dir, prefix);
  snprintf(ns_file, sizeof ns_file, "%s/namespace", own);
  int ready[2];
  if (sched_setaffinity(0, sizeof one, &one) != 0 || unshare(CLONE_NEWNS) != 0 || pipe(ready) != 0) {
    perror("a namespace on one CPU");
    _exit(0);
  }
  pid_t maker = fork();
  if (maker == 0) {
    char byte = unshare(CLONE_NEWNS) == 0 ? 1 : 0;
    (void)!write(ready[1], &byte, 1);
    pause(); /* until killed: its namespace is bound by then */
    _exit(0);
  }
  char made = 0;
  (void)!read(ready[0], &made, 1);
  snprintf(newer, sizeof newer, "/proc/%d/ns/mnt", (int)maker);
  int bound = made && mkdir(own, 0755) == 0 && close(open(ns_file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == 0 &&
              mount(newer, ns_file, NULL, MS_BIND, NULL) == 0 && chmod(own, 0) == 0;
  if (!bound) perror("own unsearchable tree");
  kill(maker, SIGKILL);
  waitpid(maker, NULL, 0);
  if (!bound) _exit(0);
  int ok = DropDacCapabilities();
  snprintf(name, sizeof name, "%s_unsearchable_drop", prefix);
  Report(name, ok ? 0 : -1, "");
  if (ok) {
    snprintf(name, sizeof name, "ot_%s_own_unsearchable_dir", prefix);
    OpenTreeCase(name, AT_FDCWD, own, OPEN_TREE_NAMESPACE_);
    snprintf(name, sizeof name, "ot_%s_own_unsearchable_dir_with_a_namespace_file", prefix);
    OpenTreeCase(name, AT_FDCWD, own, OPEN_TREE_NAMESPACE_ | AT_RECURSIVE);
    int fs = NewTmpfsContextWithMode("0");
    snprintf(name, sizeof name, "fm_%s_unsearchable_root", prefix);
    FsmountCase(name, fs, FSMOUNT_NAMESPACE_);
    if (fs >= 0) close(fs);
  }
  fflush(stdout);
  _exit(0);
}

static uint64_t UniqueMountId(int fd) {
  struct statx stx;
  memset(&stx, 0, sizeof stx);
  if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE_, &stx) != 0) return 0;
  return stx.stx_mnt_id;
}

static uint64_t buffer[4096 / 8], other[4096 / 8];

/* statmount BY_FD of `fd`; with compare, the bytes must equal statmount by id's. */
static void StatmountCase(const char* name, uint32_t size, uint32_t fd, uint64_t mnt_id, uint64_t mask,
                          size_t bufsize, int compare) {
  struct { struct mnt_id_req_ req; uint64_t tail[2]; } request;
  memset(&request, 0, sizeof request);
  request.req.size = size;
  request.req.mnt_fd = fd;
  request.req.mnt_id = mnt_id;
  request.req.param = mask;
  if (size > sizeof request.req) request.tail[0] = 1;
  memset(buffer, 0xa5, sizeof buffer);
  long r = Statmount(&request.req, buffer, bufsize, STATMOUNT_BY_FD_);
  char facts[192] = "";
  if (r == 0) {
    uint64_t got = buffer[1];
    const char* point = (got & SM_MNT_POINT) ? (const char*)buffer + 512 + ((uint32_t*)buffer)[27] : "-";
    snprintf(facts, sizeof facts, "point=%s has_ns_id=%d", point, (got & SM_MNT_NS_ID) != 0);
    if (compare) {
      struct mnt_id_req_ by_id = {.size = 24, .mnt_id = UniqueMountId((int)fd), .param = mask};
      memset(other, 0xa5, sizeof other);
      long r2 = Statmount(&by_id, other, bufsize, 0);
      uint32_t length = (uint32_t)buffer[0];
      strcat(facts, r2 == 0 && memcmp(buffer, other, length) == 0 ? " same-as-by-id=1" : " same-as-by-id=0");
    }
  }
  Report(name, r, facts);
}

static int WriteFile(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok ? 0 : -1;
}

static int Setup(int user_namespace) {
  if (user_namespace) {
    if (unshare(CLONE_NEWUSER) != 0) return perror("unshare(CLONE_NEWUSER)"), -1;
    if (WriteFile("/proc/self/uid_map", "0 0 1\n") != 0 || WriteFile("/proc/self/setgroups", "deny") != 0 ||
        WriteFile("/proc/self/gid_map", "0 0 1\n") != 0) {
      return perror("write the id maps"), -1;
    }
  }
  if (unshare(CLONE_NEWNS) != 0) return perror("unshare"), -1;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return perror("make-rprivate"), -1;
  /* A tmpfs over /tmp, in this namespace only: nothing is left on any disk. */
  mkdir("/tmp", 01777);
  if (mount("scratch", "/tmp", "tmpfs", 0, NULL) != 0) return perror("mount scratch"), -1;
  strcpy(dir, "/tmp/raw-calls");
  if (mkdir(dir, 0755) != 0) return perror("mkdir"), -1;
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(sub, sizeof sub, "%s/a/sub", dir);
  snprintf(file, sizeof file, "%s/file", dir);
  mkdir(a, 0755);
  snprintf(locked_pub, sizeof locked_pub, "%s/locked", dir);
  if (mkdir(locked_pub, 0700) != 0) return perror("mkdir locked"), -1;
  snprintf(locked_pub, sizeof locked_pub, "%s/locked/pub", dir);
  if (mkdir(locked_pub, 0755) != 0) return perror("mkdir locked/pub"), -1;
  if (mount("mt-a", a, "tmpfs", 0, NULL) != 0) return perror("mount a"), -1;
  mkdir(sub, 0755);
  char marker[128];
  snprintf(marker, sizeof marker, "%s/marker", a);
  close(open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  if (mount("mt-sub", sub, "tmpfs", 0, NULL) != 0) return perror("mount sub"), -1;
  close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  return 0;
}

/* How many ids listmount gives for namespace `ns_id` asked one at a time
 * (`flags`: 0 or LISTMOUNT_REVERSE); `ordered` says whether each came after
 * the one before in that order. */
static int PageOneAtATime(uint64_t ns_id, unsigned flags, int* ordered) {
  int pages = 0;
  *ordered = 1;
  for (uint64_t last = 0; pages < 64; ++pages) {
    struct mnt_id_req_ page = {.size = 32, .mnt_id = LSMT_ROOT_, .param = last, .mnt_ns_id = ns_id};
    uint64_t got = 0;
    if (syscall(458, &page, &got, 1, flags) != 1) break;
    if (pages > 0 && (flags ? got >= last : got <= last)) *ordered = 0;
    last = got;
  }
  return pages;
}

struct Listing {
  struct mnt_id_req_ request;
  int fd;
  uint64_t ns_id;
  const uint64_t* ids;
  long count;
};

static void ListUnprivileged(char* text, size_t size, const void* arg) {
  const struct Listing* listing = arg;
  uint64_t one[4];
  if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
    snprintf(text, size, "no-uid-65534"); /* a user namespace that does not map it */
    return;
  }
  long k = syscall(458, &listing->request, one, 4, 0);
  snprintf(text, size, "%s", k < 0 ? Name(errno) : "listed");
}

/* Enters the namespace and unmounts its mounts, the newest first. */
static void UnmountAll(char* text, size_t size, const void* arg) {
  const struct Listing* listing = arg;
  const uint32_t* words = (const uint32_t*)buffer;
  const char* strings = (const char*)buffer + 512;
  int done = 0, refused = 0;
  if (setns(listing->fd, CLONE_NEWNS) != 0) {
    snprintf(text, size, "setns-%s", Name(errno));
    return;
  }
  for (long i = listing->count - 1; i >= 0; --i) {
    struct mnt_id_req_ point = {.size = 32, .mnt_id = listing->ids[i], .param = SM_MNT_POINT, .mnt_ns_id = listing->ns_id};
    if (Statmount(&point, buffer, sizeof buffer, 0) != 0 || umount2(strings + words[27], MNT_DETACH) != 0) {
      if (refused == 0) refused = errno;
      continue;
    }
    ++done;
  }
  snprintf(text, size, "%d/%ld%s%s", done, listing->count, refused ? "/" : "", refused ? Name(refused) : "");
}

/* What another process sees of namespace `fd` from outside with listmount
 * (by mnt_ns_id; with `by_fd` by mnt_ns_fd): how many mounts, the first's
 * fs type, mount point, attributes and whether it is its own parent; the
 * same list paged one id at a time with LISTMOUNT_REVERSE ("paged") and
 * forwards ("forward"), each in its order ("ordered"); whether a process
 * without privileges can list it; then, from a child
 * that entered the namespace, how many of them umount2(MNT_DETACH) takes in
 * that order and the errno of the first it refuses; NS_MNT_GET_INFO's
 * nr_mounts (before the unmounting). 7.2 lists and counts the tree alone. */
static void ListingFacts(int fd, int by_fd, char* facts, size_t size) {
  uint64_t ns_id = 0, ids[64];
  if (ioctl(fd, NS_GET_MNTNS_ID_, &ns_id) != 0) {
    snprintf(facts, size, "ns-id-%s", Name(errno));
    return;
  }
  struct mnt_id_req_ list = {.size = 32, .mnt_fd = by_fd ? (uint32_t)fd : 0, .mnt_id = LSMT_ROOT_,
                             .mnt_ns_id = by_fd ? 0 : ns_id};
  long n = syscall(458, &list, ids, 64, 0);
  if (n <= 0) {
    snprintf(facts, size, "listed=%s", n < 0 ? Name(errno) : "0");
    return;
  }
  const uint32_t* words = (const uint32_t*)buffer;
  const char* strings = (const char*)buffer + 512;
  struct mnt_id_req_ first = {.size = 32, .mnt_id = ids[0], .param = SM_MNT_BASIC | SM_FS_TYPE | SM_MNT_POINT,
                              .mnt_ns_id = ns_id};
  char first_facts[96] = "-";
  if (Statmount(&first, buffer, sizeof buffer, 0) == 0) {
    snprintf(first_facts, sizeof first_facts, "%s:%s/own-parent=%d/attr=%llx", strings + words[9],
             strings + words[27], buffer[6] == buffer[5], (unsigned long long)buffer[8]);
  }
  int descending = 1, ascending = 1;
  const int paged = PageOneAtATime(ns_id, 1 /* LISTMOUNT_REVERSE */, &descending);
  const int forward = PageOneAtATime(ns_id, 0, &ascending);
  const struct Listing listing = {list, fd, ns_id, ids, n};
  /* Without CAP_SYS_ADMIN over its owner, a namespace is not listed from outside. */
  char unprivileged[24] = "-";
  InChild(ListUnprivileged, &listing, unprivileged, sizeof unprivileged);
  struct mnt_ns_info_ info;
  memset(&info, 0, sizeof info);
  char counted[16];
  if (ioctl(fd, NS_MNT_GET_INFO_, &info) != 0) snprintf(counted, sizeof counted, "%s", Name(errno));
  else snprintf(counted, sizeof counted, "%u%s", info.nr_mounts, info.mnt_ns_id == ns_id ? "" : "/other-id");
  char umounted[48] = "-";
  InChild(UnmountAll, &listing, umounted, sizeof umounted);
  snprintf(facts, size, "listed=%ld first=%s paged=%d ordered=%d forward=%d unprivileged=%s counted=%s umounted=%s", n,
           first_facts, paged, descending && ascending, forward, unprivileged, counted, umounted);
}

static void ListingCase(const char* name, long fd, int by_fd) {
  char facts[256] = "";
  if (fd >= 0) ListingFacts((int)fd, by_fd, facts, sizeof facts);
  Report(name, fd, facts);
  if (fd >= 0) close((int)fd);
}

/* A namespace that a child in a user namespace of its own (root mapped to
 * root, owning its mount namespace) makes of `path`, listed by this process,
 * root in the parent user namespace: CAP_SYS_ADMIN there counts over the
 * child's user namespace. `recursive`: AT_RECURSIVE. */
static void ListedFromAnAncestorCase(const char* name, const char* path, int recursive) {
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) return perror("socketpair");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    long ns = -1;
    if (unshare(CLONE_NEWUSER) == 0 && WriteFile("/proc/self/uid_map", "0 0 1\n") == 0 &&
        WriteFile("/proc/self/setgroups", "deny") == 0 && WriteFile("/proc/self/gid_map", "0 0 1\n") == 0 &&
        unshare(CLONE_NEWNS) == 0) {
      ns = OpenTree(AT_FDCWD, path, OPEN_TREE_NAMESPACE_ | O_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
    }
    char byte = ns >= 0 ? 0 : (char)errno;
    struct iovec iov = {&byte, 1};
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
    if (ns >= 0) {
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      struct cmsghdr* header = CMSG_FIRSTHDR(&message);
      header->cmsg_level = SOL_SOCKET;
      header->cmsg_type = SCM_RIGHTS;
      header->cmsg_len = CMSG_LEN(sizeof(int));
      int number = (int)ns;
      memcpy(CMSG_DATA(header), &number, sizeof number);
    }
    (void)!sendmsg(channel[1], &message, 0);
    _exit(0);
  }
  close(channel[1]);
  char byte = 0;
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&byte, 1};
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  int fd = -1;
  if (recvmsg(channel[0], &message, MSG_CMSG_CLOEXEC) == 1) {
    struct cmsghdr* header = CMSG_FIRSTHDR(&message);
    if (header != NULL && header->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(header), sizeof fd);
  }
  close(channel[0]);
  waitpid(pid, NULL, 0);
  if (fd < 0) errno = byte != 0 ? byte : ENOSYS;
  ListingCase(name, fd, 0);
}

static void RootCases(void) {
  OpenTreeCase("ot_plain", AT_FDCWD, a, OPEN_TREE_NAMESPACE_);
  OpenTreeCase("ot_cloexec", AT_FDCWD, a, OPEN_TREE_NAMESPACE_ | O_CLOEXEC);
  OpenTreeCase("ot_recursive", AT_FDCWD, a, OPEN_TREE_NAMESPACE_ | AT_RECURSIVE);
  OpenTreeCase("ot_clone_and_namespace", AT_FDCWD, a, OPEN_TREE_NAMESPACE_ | OPEN_TREE_CLONE_);
  OpenTreeCase("ot_unknown_flag", AT_FDCWD, a, OPEN_TREE_NAMESPACE_ | (1U << 2));
  OpenTreeCase("ot_not_a_directory", AT_FDCWD, file, OPEN_TREE_NAMESPACE_);
  OpenTreeCase("ot_missing_path", AT_FDCWD, "/nonexistent/raw-calls", OPEN_TREE_NAMESPACE_);
  OpenTreeCase("ot_bad_path_pointer", AT_FDCWD, (const char*)8, OPEN_TREE_NAMESPACE_);
  OpenTreeCase("ot_bad_dirfd", 9999, "a", OPEN_TREE_NAMESPACE_);
  {
    char longpath[5000];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    OpenTreeCase("ot_path_too_long", AT_FDCWD, longpath, OPEN_TREE_NAMESPACE_);
  }
  int scratch = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  OpenTreeCase("ot_relative_to_dirfd", scratch, "a", OPEN_TREE_NAMESPACE_);
  int at_a = open(a, O_PATH | O_DIRECTORY | O_CLOEXEC);
  OpenTreeCase("ot_empty_path", at_a, "", OPEN_TREE_NAMESPACE_ | AT_EMPTY_PATH);
  OpenTreeCase("ot_empty_path_without_flag", at_a, "", OPEN_TREE_NAMESPACE_);
  ProcSelfCases("ot", at_a);
  if (chdir(dir) == 0) OpenTreeCase("ot_relative_to_cwd", AT_FDCWD, "a", OPEN_TREE_NAMESPACE_);
  if (chdir("/") != 0) return;
  {
    long one = OpenTree(AT_FDCWD, a, OPEN_TREE_NAMESPACE_);
    long two = OpenTree(AT_FDCWD, a, OPEN_TREE_NAMESPACE_);
    uint64_t id1 = 0, id2 = 0;
    int got = one >= 0 && two >= 0 && ioctl((int)one, NS_GET_MNTNS_ID_, &id1) == 0 &&
              ioctl((int)two, NS_GET_MNTNS_ID_, &id2) == 0;
    Report("ot_new_namespace_each_call", one < 0 ? one : two, got && id1 != id2 ? "distinct=1" : "distinct=0");
    if (one >= 0) close((int)one);
    if (two >= 0) close((int)two);
  }
  {
    /* Hostile listmount requests: unreadable request, unwritable ids, of an emulated namespace. */
    uint64_t ids[4];
    Report("lm_bad_request_pointer", syscall(458, (void*)8, ids, 4, 0), "");
    long ns = OpenTree(AT_FDCWD, a, OPEN_TREE_NAMESPACE_);
    uint64_t ns_id = 0;
    if (ns >= 0 && ioctl((int)ns, NS_GET_MNTNS_ID_, &ns_id) == 0) {
      struct mnt_id_req_ list = {.size = 32, .mnt_id = LSMT_ROOT_, .mnt_ns_id = ns_id};
      Report("lm_bad_ids_pointer", syscall(458, &list, (void*)8, 4, 0), "");
      Report("lm_too_many_ids", syscall(458, &list, ids, 2000000, 0), "");
    }
    if (ns >= 0) close((int)ns);
  }
  ListingCase("ot_listed_from_outside", OpenTree(AT_FDCWD, a, OPEN_TREE_NAMESPACE_), 0);
  ListingCase("ot_recursive_listed_from_outside", OpenTree(AT_FDCWD, a, OPEN_TREE_NAMESPACE_ | AT_RECURSIVE), 0);
  ListingCase("ot_listed_by_ns_fd", OpenTree(AT_FDCWD, a, OPEN_TREE_NAMESPACE_ | AT_RECURSIVE), 1);
  ListedFromAnAncestorCase("ot_userns_made_listed_from_its_parent", a, 0);
  ListedFromAnAncestorCase("ot_userns_made_recursive_listed_from_its_parent", a, 1);
  {
    int fs = NewTmpfsContext();
    ListingCase("fm_listed_from_outside",
                Fsmount(fs, FSMOUNT_NAMESPACE_, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME), 0);
    if (fs >= 0) close(fs);
  }
  pthread_t thread;
  if (pthread_create(&thread, NULL, ThreadCall, NULL) == 0) pthread_join(thread, NULL);

  int fs = NewTmpfsContext();
  FsmountCase("fm_plain", fs, FSMOUNT_NAMESPACE_);
  close(fs);
  fs = NewTmpfsContext();
  FsmountCase("fm_cloexec", fs, FSMOUNT_NAMESPACE_ | FSMOUNT_CLOEXEC_);
  close(fs);
  FsmountCase("fm_bad_fd", 9999, FSMOUNT_NAMESPACE_);
  fs = NewTmpfsContext();
  FsmountCase("fm_unknown_flag", fs, FSMOUNT_NAMESPACE_ | 0x4);
  close(fs);
  {
    int directory = open(a, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FsmountCase("fm_not_a_context", directory, FSMOUNT_NAMESPACE_);
    close(directory);
  }
  /* fsmount takes no O_PATH fd (fdget refuses it before looking at the file). */
  FsmountCase("fm_o_path_fd", at_a, FSMOUNT_NAMESPACE_);

  StatmountCase("sm_attached", 24, (uint32_t)at_a, 0, SM_SB_BASIC | SM_MNT_BASIC | SM_MNT_POINT | SM_FS_TYPE | SM_MNT_NS_ID | SM_MNT_ROOT, sizeof buffer, 1);
  StatmountCase("sm_request_ver1", 32, (uint32_t)at_a, 0, SM_MNT_BASIC | SM_MNT_POINT, sizeof buffer, 1);
  StatmountCase("sm_bad_fd", 24, (uint32_t)-1, 0, SM_MNT_BASIC, sizeof buffer, 0);
  StatmountCase("sm_with_mnt_id", 24, (uint32_t)at_a, 1, SM_MNT_BASIC, sizeof buffer, 0);
  StatmountCase("sm_short_request", 16, (uint32_t)at_a, 0, SM_MNT_BASIC, sizeof buffer, 0);
  StatmountCase("sm_nonzero_tail", 40, (uint32_t)at_a, 0, SM_MNT_BASIC, sizeof buffer, 0);
  StatmountCase("sm_short_buffer", 24, (uint32_t)at_a, 0, SM_MNT_POINT | SM_FS_TYPE, 514, 0);
  {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) == 0) {
      StatmountCase("sm_pipe", 24, (uint32_t)pipefd[0], 0, SM_MNT_BASIC, sizeof buffer, 0);
      close(pipefd[0]);
      close(pipefd[1]);
    }
  }
  {
    struct mnt_id_req_ req = {.size = 24, .mnt_fd = (uint32_t)at_a, .param = SM_MNT_BASIC};
    long r = Statmount(&req, buffer, sizeof buffer, STATMOUNT_BY_FD_ | 0x2);
    Report("sm_unknown_flag", r, "");
    r = Statmount((const struct mnt_id_req_*)8, buffer, sizeof buffer, STATMOUNT_BY_FD_);
    Report("sm_bad_request_pointer", r, "");
    r = Statmount(&req, (void*)8, sizeof buffer, STATMOUNT_BY_FD_);
    Report("sm_bad_buffer_pointer", r, "");
  }
  {
    /* A detached tree with a submount: found (its mount point cleared). */
    long tree = OpenTree(AT_FDCWD, a, OPEN_TREE_CLONE_ | AT_RECURSIVE | O_CLOEXEC);
    if (tree >= 0) StatmountCase("sm_detached_tree_root", 24, (uint32_t)tree, 0, SM_MNT_BASIC | SM_MNT_POINT, sizeof buffer, 0);
    if (tree >= 0) close((int)tree);
    /* NS_MNT_GET_INFO where it is no mount namespace's fd, or without a buffer. */
    struct mnt_ns_info_ info;
    int pipefd[2];
    if (pipe(pipefd) == 0) {
      Report("ns_info_of_a_pipe", ioctl(pipefd[0], NS_MNT_GET_INFO_, &info), "");
      close(pipefd[0]);
      close(pipefd[1]);
    }
    long ns = OpenTree(AT_FDCWD, a, OPEN_TREE_NAMESPACE_);
    if (ns >= 0) Report("ns_info_without_a_buffer", ioctl((int)ns, NS_MNT_GET_INFO_, NULL), "");
    if (ns >= 0) close((int)ns);
  }
  {
    int at_sub = open(sub, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (umount2(sub, MNT_DETACH) == 0) {
      StatmountCase("sm_detached", 24, (uint32_t)at_sub, 0, SM_MNT_BASIC | SM_MNT_POINT | SM_MNT_NS_ID | SM_FS_TYPE, sizeof buffer, 0);
    }
    close(at_sub);
  }
  {
    /* A detached tree of one mount: 7.2 finds nothing (ENOENT), whatever the mask. */
    int fs = NewTmpfsContext();
    long lone = fs >= 0 ? Fsmount(fs, FSMOUNT_CLOEXEC_, 0) : -1;
    if (lone >= 0) StatmountCase("sm_fsmount_before_move_mount", 24, (uint32_t)lone, 0, SM_MNT_BASIC | SM_FS_TYPE, sizeof buffer, 0);
    long single = OpenTree(AT_FDCWD, a, OPEN_TREE_CLONE_ | O_CLOEXEC);
    if (single >= 0) StatmountCase("sm_clone_of_one_mount", 24, (uint32_t)single, 0, SM_SB_BASIC, sizeof buffer, 0);
    if (single >= 0) close((int)single);
    if (lone >= 0) close((int)lone);
    if (fs >= 0) close(fs);
  }
  WithoutDacCapabilitiesCases();
  OwnUnsearchableTreeCases("without_dac");
  close(at_a);
  close(scratch);
}

/* ---- empty mount namespaces (7.1) ---- */

/* The empty root as statmount describes it, by id (every field asked) and
 * by fd; then how many mounts listmount lists once a tmpfs is mounted over
 * "/" (the way to build on an empty namespace). On 7.2: nullfs, its own
 * parent, source "nullfs", MOUNT_ATTR_STRICTATIME, private, 2 mounts. */
static void RootFacts(char* facts, size_t size) {
  int root = open("/", O_PATH | O_CLOEXEC);
  struct mnt_id_req_ by_id = {.size = 24, .mnt_id = UniqueMountId(root), .param = 0x7fff};
  const uint32_t* words = (const uint32_t*)buffer;
  const char* strings = (const char*)buffer + 512;
  int length = 0;
  if (Statmount(&by_id, buffer, sizeof buffer, 0) != 0) {
    length = snprintf(facts, size, " root=%s", Name(errno));
  } else {
    /* mask 8, magic 24, fs_type 36, mnt_id 40, parent 48, attr 64,
     * propagation 72, sb_source 124 (byte offsets in struct statmount) */
    length = snprintf(facts, size, " root-mask=%llx size=%u own-parent=%d fs=%s source=%s magic=%llx attr=%llx prop=%llx",
                      (unsigned long long)buffer[1], words[0], buffer[6] == buffer[5],
                      (buffer[1] & SM_FS_TYPE) ? strings + words[9] : "-",
                      (buffer[1] & 0x200) ? strings + words[31] : "-", (unsigned long long)buffer[3],
                      (unsigned long long)buffer[8], (unsigned long long)buffer[9]);
  }
  struct mnt_id_req_ by_fd = {.size = 24, .mnt_fd = (uint32_t)root, .param = SM_MNT_BASIC | SM_FS_TYPE};
  if (length > 0 && (size_t)length < size) {
    if (Statmount(&by_fd, buffer, sizeof buffer, STATMOUNT_BY_FD_) != 0) {
      length += snprintf(facts + length, size - (size_t)length, " by-fd=%s", Name(errno));
    } else {
      length += snprintf(facts + length, size - (size_t)length, " by-fd=%s/own-parent=%d",
                         (buffer[1] & SM_FS_TYPE) ? strings + words[9] : "-", buffer[6] == buffer[5]);
    }
  }
  /* 7.2's rules for a short buffer: the strings whole or EOVERFLOW; the
   * header alone cut where the buffer ends ("size" says how much). */
  if (length > 0 && (size_t)length < size) {
    struct mnt_id_req_ fs_type = {.size = 24, .mnt_id = by_id.mnt_id, .param = SM_FS_TYPE};
    char short_buffer[16] = "", fitting[16] = "", cut[16] = "";
    if (Statmount(&fs_type, buffer, 519, 0) != 0) snprintf(short_buffer, sizeof short_buffer, "%s", Name(errno));
    else snprintf(short_buffer, sizeof short_buffer, "ok");
    if (Statmount(&fs_type, buffer, 520, 0) == 0) snprintf(fitting, sizeof fitting, "%u", words[0]);
    struct mnt_id_req_ basic = {.size = 24, .mnt_id = by_id.mnt_id, .param = SM_MNT_BASIC};
    buffer[0] = 0;
    if (Statmount(&basic, buffer, 24, 0) == 0) snprintf(cut, sizeof cut, "%u", words[0]);
    /* A request longer than the struct, its tail zero: accepted. */
    struct {
      struct mnt_id_req_ req;
      uint64_t tail;
    } longer = {{.size = 40, .mnt_id = by_id.mnt_id, .param = SM_MNT_BASIC}, 0};
    char longer_facts[16] = "";
    if (Statmount(&longer.req, buffer, sizeof buffer, 0) != 0) snprintf(longer_facts, sizeof longer_facts, "%s", Name(errno));
    else snprintf(longer_facts, sizeof longer_facts, "own-parent=%d", buffer[6] == buffer[5]);
    length += snprintf(facts + length, size - (size_t)length, " request-40=%s", longer_facts);
    /* No options on the root: 7.2 still opens the string area (513). */
    struct mnt_id_req_ options = {.size = 24, .mnt_id = by_id.mnt_id, .param = 0x80 /* MNT_OPTS */};
    char options_size[16] = "";
    if (Statmount(&options, buffer, sizeof buffer, 0) == 0) snprintf(options_size, sizeof options_size, "%u", words[0]);
    length += snprintf(facts + length, size - (size_t)length, " fs-type-in-519=%s in-520=%s basic-in-24=%s opts-size=%s",
                       short_buffer, fitting, cut, options_size);
  }
  const uint64_t root_id = by_id.mnt_id;
  close(root);
  long fs = syscall(430, "tmpfs", 1 /* FSOPEN_CLOEXEC */);
  long mounted = -1;
  if (fs >= 0 && syscall(431, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0) == 0) mounted = Fsmount((int)fs, 1, 0);
  struct mnt_id_req_ list = {.size = 24, .mnt_id = LSMT_ROOT_};
  uint64_t ids[16];
  long over = -1;
  if (mounted >= 0 && syscall(429, (int)mounted, "", AT_FDCWD, "/", 4 /* MOVE_MOUNT_F_EMPTY_PATH */) == 0) {
    over = syscall(458, &list, ids, 16, 0);
  }
  /* The tmpfs on top is the kernel's own answer: its parent is the root. */
  char over_facts[64] = "-";
  if (over == 2) {
    struct mnt_id_req_ top = {.size = 24, .mnt_id = ids[0] == root_id ? ids[1] : ids[0], .param = SM_MNT_BASIC | SM_FS_TYPE};
    if (Statmount(&top, buffer, sizeof buffer, 0) == 0) {
      snprintf(over_facts, sizeof over_facts, "%s/parent-is-root=%d", strings + words[9], buffer[6] == root_id);
    }
  }
  if (length > 0 && (size_t)length < size) {
    snprintf(facts + length, size - (size_t)length, " overmounted=%ld top=%s", over, over_facts);
  }
  if (mounted >= 0) close((int)mounted);
  if (fs >= 0) close((int)fs);
}

/* What the calling process sees of its mount namespace: cwd, the entries of
 * "/", the mounts listmount(LSMT_ROOT) lists, the mount point of the first,
 * whether /proc is there and what mkdir("/x") and open("/y", O_CREAT) say. */
static void EmptyFacts(char* facts, size_t size) {
  char cwd[256] = "?";
  if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "%s", Name(errno));
  int entries = 0;
  int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root >= 0) {
    char dents[4096];
    long n;
    while ((n = syscall(SYS_getdents64, root, dents, sizeof dents)) > 0) {
      for (long at = 0; at < n;) {
        unsigned short length = *(unsigned short*)(dents + at + 16);
        const char* name = dents + at + 19;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) ++entries;
        at += length;
      }
    }
    close(root);
  }
  struct mnt_id_req_ list = {.size = 24, .mnt_id = LSMT_ROOT_};
  uint64_t ids[16];
  long mounts = syscall(458, &list, ids, 16, 0);
  const char* point = "-";
  if (mounts > 0) {
    struct mnt_id_req_ one = {.size = 24, .mnt_id = ids[0], .param = SM_MNT_POINT};
    if (Statmount(&one, buffer, sizeof buffer, 0) == 0 && (buffer[1] & SM_MNT_POINT)) {
      point = (const char*)buffer + 512 + ((uint32_t*)buffer)[27];
    }
  }
  int proc = access("/proc/self", F_OK) == 0;
  const char* made_dir = mkdir("/x", 0755) == 0 ? "ok" : Name(errno);
  const int made = open("/y", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  const char* made_file = made >= 0 ? "ok" : Name(errno);
  if (made >= 0) close(made);
  int length = snprintf(facts, size, "cwd=%s entries=%d mounts=%ld point=%s proc=%d mkdir=%s creat=%s", cwd, entries,
                        mounts, point, proc, made_dir, made_file);
  if (length > 0 && (size_t)length < size) RootFacts(facts + length, size - (size_t)length);
}

/* The namespace id of the first mount listmount lists (in an empty namespace: its only one). */
static uint64_t NamespaceId(void) {
  struct mnt_id_req_ list = {.size = 24, .mnt_id = LSMT_ROOT_};
  uint64_t id = 0;
  if (syscall(458, &list, &id, 1, 0) != 1) return 0;
  struct mnt_id_req_ one = {.size = 24, .mnt_id = id, .param = SM_MNT_NS_ID};
  if (Statmount(&one, buffer, sizeof buffer, 0) != 0) return 0;
  return (buffer[1] & SM_MNT_NS_ID) ? buffer[14] : 0; /* mnt_ns_id: byte 112 */
}

/* unshare(flags) in a child, which reports what it sees; "again": it
 * unshares twice and says whether the namespaces differ. */
static void UnshareCase(const char* name, unsigned long flags, int before_newuser, int again) {
  pid_t pid = fork();
  if (pid == 0) {
    if (before_newuser && unshare(CLONE_NEWUSER) != 0) {
      Report(name, -1, "");
      _exit(0);
    }
    long r = syscall(SYS_unshare, flags);
    char facts[512] = "";
    if (r == 0 && again) {
      uint64_t first = NamespaceId();
      r = syscall(SYS_unshare, flags);
      snprintf(facts, sizeof facts, "distinct=%d", r == 0 && first != 0 && NamespaceId() != first);
    } else if (r == 0) {
      EmptyFacts(facts, sizeof facts);
    }
    Report(name, r, facts);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
}

/* unshare(flags) made with the stack pointer at `sp` (restored right after
 * the syscall instruction): the kernel never touches the stack, so on 7.2
 * the call succeeds. The child reports what it sees, or the parent reports
 * the signal that ended it. */
static long UnshareWithStackAt(unsigned long flags, unsigned long sp) {
  long result;
  __asm__ volatile(
      "mov %%rsp, %%r12\n\t"
      "mov %[sp], %%rsp\n\t"
      "syscall\n\t"
      "mov %%r12, %%rsp\n\t"
      : "=a"(result)
      : "a"((long)SYS_unshare), "D"(flags), [sp] "r"(sp)
      : "rcx", "r11", "r12", "memory");
  return result;
}

static void UnshareWithStackCase(const char* name, unsigned long flags, unsigned long sp) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    long r = UnshareWithStackAt(flags, sp);
    char facts[512] = "";
    if (r == 0) EmptyFacts(facts, sizeof facts);
    Report(name, r < 0 ? (errno = (int)-r, -1) : r, facts);
    fflush(stdout);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) printf("%s killed by %s\n", name, WTERMSIG(status) == SIGKILL ? "SIGKILL" : "another signal");
}

/* clone3(flags): the child reports what it sees; the parent reports the
 * errno where there is no child. */
static void Clone3Case(const char* name, uint64_t flags) {
  struct clone_args_ args;
  memset(&args, 0, sizeof args);
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  long pid = syscall(435, &args, sizeof args);
  if (pid == 0) {
    char facts[512] = "";
    EmptyFacts(facts, sizeof facts);
    Report(name, 0, facts);
    _exit(0);
  }
  if (pid < 0) {
    Report(name, -1, "");
    return;
  }
  waitpid((pid_t)pid, NULL, 0);
  /* The flags are the caller's again once the call returned. */
  printf("%s_args %s\n", name, args.flags == flags ? "as-written" : "changed");
}

static void EmptyCases(void) {
  uint64_t id_before = 0, id_after = 0;
  int self = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  ioctl(self, NS_GET_MNTNS_ID_, &id_before);
  if (chdir(a) != 0) return;
  UnshareCase("ue_plain", UNSHARE_EMPTY_MNTNS_, 0, 0);
  UnshareCase("ue_with_clone_newns", UNSHARE_EMPTY_MNTNS_ | CLONE_NEWNS, 0, 0);
  UnshareCase("ue_with_clone_fs", UNSHARE_EMPTY_MNTNS_ | CLONE_FS, 0, 0);
  UnshareCase("ue_with_clone_newuser", UNSHARE_EMPTY_MNTNS_ | CLONE_NEWUSER, 0, 0);
  UnshareCase("ue_twice", UNSHARE_EMPTY_MNTNS_, 0, 1);
  UnshareCase("ue_unknown_high_bit", UNSHARE_EMPTY_MNTNS_ | (1UL << 40), 0, 0);
  UnshareWithStackCase("ue_stack_pointer_nowhere", UNSHARE_EMPTY_MNTNS_, 8);
  Clone3Case("ce_plain", CLONE_EMPTY_MNTNS_);
  Clone3Case("ce_with_clone_newns", CLONE_EMPTY_MNTNS_ | CLONE_NEWNS);
  Clone3Case("ce_with_clone_fs", CLONE_EMPTY_MNTNS_ | CLONE_FS);
  Clone3Case("ce_with_clone_newuser", CLONE_EMPTY_MNTNS_ | CLONE_NEWUSER);
  {
    char cwd[256] = "";
    (void)!getcwd(cwd, sizeof cwd);
    ioctl(self, NS_GET_MNTNS_ID_, &id_after);
    int fresh = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    uint64_t id_now = 0;
    ioctl(fresh, NS_GET_MNTNS_ID_, &id_now);
    char facts[300];
    snprintf(facts, sizeof facts, "same-namespace=%d same-cwd=%d", id_before != 0 && id_before == id_now,
             strcmp(cwd, a) == 0);
    Report("ue_caller_unchanged", 0, facts);
    close(fresh);
  }
  close(self);
}

static void EmptyUnprivilegedCases(void) {
  if (chdir(a) != 0) return;
  if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
    perror("drop privileges");
    exit(1);
  }
  UnshareCase("ue_unprivileged", UNSHARE_EMPTY_MNTNS_, 0, 0);
  UnshareCase("ue_unprivileged_with_clone_newuser", UNSHARE_EMPTY_MNTNS_ | CLONE_NEWUSER, 0, 0);
  UnshareCase("ue_unprivileged_after_clone_newuser", UNSHARE_EMPTY_MNTNS_, 1, 0);
  Clone3Case("ce_unprivileged", CLONE_EMPTY_MNTNS_);
  Clone3Case("ce_unprivileged_with_clone_newuser", CLONE_EMPTY_MNTNS_ | CLONE_NEWUSER);
}

static volatile sig_atomic_t received;
static void Receive(int sig) { received = sig; }

static int WaitSignal(int catch_them) {
  const int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  sigset_t mask, old;
  sigemptyset(&mask);
  for (int i = 0; i < 4; ++i) {
    if (catch_them) signal(signals[i], Receive);
    sigaddset(&mask, signals[i]);
  }
  sigprocmask(SIG_BLOCK, &mask, &old);
  puts("ready");
  while (!received) sigsuspend(&old);
  printf("got %d\n", (int)received);
  return 0;
}

/* An unprivileged user in a user namespace of its own (the kernel
 * selftests' enter_userns(): its uid and gid mapped to 0): `path`'s tree
 * copied from the mount namespace that user namespace does not own (7.2: a
 * recursive copy works; a plain one of a tree with mounts below is EINVAL),
 * then statmount BY_FD and open_tree again once it has a mount namespace
 * of its own. `prefix` names the cases. */
static void OwnUserNamespaceCases(const char* prefix, const char* path) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char name[96], map[64];
    const unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();
    /* A process that dropped root is not dumpable, and its /proc/self files
     * stay root's: the maps could not be written. */
    int ok = prctl(PR_SET_DUMPABLE, 1) == 0 && unshare(CLONE_NEWUSER) == 0;
    snprintf(map, sizeof map, "0 %u 1", uid);
    ok = ok && WriteFile("/proc/self/uid_map", map) == 0 && WriteFile("/proc/self/setgroups", "deny") == 0;
    snprintf(map, sizeof map, "0 %u 1", gid);
    ok = ok && WriteFile("/proc/self/gid_map", map) == 0;
    snprintf(name, sizeof name, "%s_enter", prefix);
    Report(name, ok ? 0 : -1, "");
    if (!ok) _exit(0);
    snprintf(name, sizeof name, "ot_%s_recursive", prefix);
    OpenTreeCase(name, AT_FDCWD, path, OPEN_TREE_NAMESPACE_ | AT_RECURSIVE);
    snprintf(name, sizeof name, "ot_%s_plain", prefix);
    OpenTreeCase(name, AT_FDCWD, path, OPEN_TREE_NAMESPACE_);
    {
      /* A dirfd on a mount of the namespace its user namespace does not own. */
      int at_path = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
      snprintf(name, sizeof name, "ot_%s_from_a_dirfd", prefix);
      OpenTreeCase(name, at_path, "", OPEN_TREE_NAMESPACE_ | AT_RECURSIVE | AT_EMPTY_PATH);
      close(at_path);
    }
    if (locked_pub[0] != '\0') {
      /* Below a directory only root may search: the lookup is the caller's (EACCES). */
      snprintf(name, sizeof name, "ot_%s_below_a_locked_dir", prefix);
      OpenTreeCase(name, AT_FDCWD, locked_pub, OPEN_TREE_NAMESPACE_ | AT_RECURSIVE);
    }
    snprintf(name, sizeof name, "%s_unshare_newns", prefix);
    Report(name, unshare(CLONE_NEWNS) == 0 ? 0 : -1, "");
    int at = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    snprintf(name, sizeof name, "sm_%s_own_mntns", prefix);
    StatmountCase(name, 24, (uint32_t)at, 0, SM_MNT_BASIC | SM_MNT_POINT, sizeof buffer, 1);
    close(at);
    snprintf(name, sizeof name, "ot_%s_own_mntns_recursive", prefix);
    OpenTreeCase(name, AT_FDCWD, path, OPEN_TREE_NAMESPACE_ | AT_RECURSIVE);
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
}

static void UnprivilegedCases(void) {
  int at_a = open(a, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int fs = NewTmpfsContext(); /* as root: the fsmount below is the call being judged */
  if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
    perror("drop privileges");
    exit(1);
  }
  OpenTreeCase("ot_unprivileged", AT_FDCWD, a, OPEN_TREE_NAMESPACE_);
  OpenTreeCase("ot_unprivileged_bad_pointer", AT_FDCWD, (const char*)8, OPEN_TREE_NAMESPACE_);
  FsmountCase("fm_unprivileged", fs, FSMOUNT_NAMESPACE_);
  StatmountCase("sm_unprivileged", 24, (uint32_t)at_a, 0, SM_MNT_BASIC | SM_MNT_POINT | SM_FS_TYPE, sizeof buffer, 1);
  OwnUserNamespaceCases("userns_of_its_own", a);
}

int main(int argc, char** argv) {
  if (argc < 2) return fprintf(stderr, "usage: raw_calls MODE\n"), 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(argv[1], "seccomp") == 0) {
    FILE* status = fopen("/proc/self/status", "re");
    char line[256];
    while (status && fgets(line, sizeof line, status)) {
      if (strncmp(line, "Seccomp:", 8) == 0) fputs(line, stdout);
    }
    return 0;
  }
  if (strcmp(argv[1], "empty-own-filter") == 0) {
    /* A filter of its own that kills the process for any seccomp() call. */
    struct sock_filter kill_seccomp[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {4, kill_seccomp};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) return perror("seccomp"), 1;
    UnshareCase("ue_with_a_filter_of_its_own", UNSHARE_EMPTY_MNTNS_, 0, 0);
    return 0;
  }
  if (strcmp(argv[1], "speculation") == 0) {
    printf("store-bypass=%d\n", prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, 0, 0, 0));
    return 0;
  }
  if (strcmp(argv[1], "getppid") == 0 && argc == 3) {
    long n = atol(argv[2]);
    for (long i = 0; i < n; ++i) syscall(SYS_getppid);
    return 0;
  }
  if (strcmp(argv[1], "open-tree-loop") == 0 && argc == 3) {
    long n = atol(argv[2]);
    for (long i = 0; i < n; ++i) {
      long fd = OpenTree(AT_FDCWD, ".", OPEN_TREE_NAMESPACE_ | AT_RECURSIVE | O_CLOEXEC);
      if (fd < 0) return fprintf(stderr, "open_tree: %s\n", Name(errno)), 1;
      close((int)fd);
    }
    return 0;
  }
  if (strcmp(argv[1], "nobody") == 0) {
    OpenTreeCase("ot_nobody", AT_FDCWD, "/", OPEN_TREE_NAMESPACE_ | AT_RECURSIVE);
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    StatmountCase("sm_nobody", 24, (uint32_t)root, 0, SM_MNT_BASIC | SM_MNT_POINT | SM_FS_TYPE, sizeof buffer, 1);
    UnshareCase("ue_nobody", UNSHARE_EMPTY_MNTNS_, 0, 0);
    UnshareCase("ue_nobody_with_clone_newuser", UNSHARE_EMPTY_MNTNS_ | CLONE_NEWUSER, 0, 0);
    OwnUserNamespaceCases("nobody_userns", "/");
    return 0;
  }
  if (strcmp(argv[1], "wait-signal") == 0 && argc == 3) return WaitSignal(strcmp(argv[2], "catch") == 0);
  if (strcmp(argv[1], "wait-open-tree") == 0) {
    char byte;
    puts("ready");
    if (read(0, &byte, 1) < 0) return 1;
    long fd = OpenTree(AT_FDCWD, "/", OPEN_TREE_NAMESPACE_ | AT_RECURSIVE);
    Report("open_tree", fd, "");
    return 0;
  }
  if (strcmp(argv[1], "cases") == 0 || strcmp(argv[1], "unprivileged") == 0) {
    if (Setup(0) != 0) return 1;
    if (strcmp(argv[1], "cases") == 0) RootCases();
    else UnprivilegedCases();
    return 0;
  }
  if (strcmp(argv[1], "empty") == 0 || strcmp(argv[1], "empty-unprivileged") == 0) {
    if (Setup(0) != 0) return 1;
    if (strcmp(argv[1], "empty") == 0) EmptyCases();
    else EmptyUnprivilegedCases();
    return 0;
  }
  if (strcmp(argv[1], "userns") == 0) {
    /* A supplementary group its user namespace does not map (shown as 65534 inside). */
    const gid_t daemon_group = 1;
    if (setgroups(1, &daemon_group) != 0) return perror("setgroups"), 1;
    if (Setup(1) != 0) return 1;
    OpenTreeCase("ot_in_user_namespace", AT_FDCWD, a, OPEN_TREE_NAMESPACE_);
    OpenTreeCase("ot_recursive_in_user_namespace", AT_FDCWD, a, OPEN_TREE_NAMESPACE_ | AT_RECURSIVE);
    int fs = NewTmpfsContext();
    FsmountCase("fm_in_user_namespace", fs, FSMOUNT_NAMESPACE_);
    close(fs);
    /* The copies are locked here: nothing in them can be unmounted (EINVAL). */
    ListingCase("ot_listed_in_user_namespace", OpenTree(AT_FDCWD, a, OPEN_TREE_NAMESPACE_ | AT_RECURSIVE), 0);
    fs = NewTmpfsContext();
    ListingCase("fm_listed_in_user_namespace", Fsmount(fs, FSMOUNT_NAMESPACE_, 0), 0);
    close(fs);
    int at_a = open(a, O_PATH | O_DIRECTORY | O_CLOEXEC);
    StatmountCase("sm_in_user_namespace", 24, (uint32_t)at_a, 0, SM_MNT_BASIC | SM_MNT_POINT, sizeof buffer, 1);
    OwnUnsearchableTreeCases("without_dac_in_user_namespace");
    ProcSelfCases("ot_in_user_namespace", at_a);
    return 0;
  }
  fprintf(stderr, "raw_calls: unknown mode %s\n", argv[1]);
  return 2;
}
