// A bubblewrap-class sandbox: run a command in a minimal mount namespace built
// with the new mount API only (fsopen/fsconfig/fsmount, open_tree, move_mount,
// mount_setattr), on top of OpenTreeNamespace/FsmountNamespace.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mntns/error.h"
#include "mntns/export.h"
#include "mntns/fd.h"
#include "mntns/namespace.h"

namespace mntns {

// One setup step. Steps run in the order given, like bubblewrap's options:
// a later step may mount on or below what an earlier one set up.
// Every DEST is a path inside the sandbox; it is resolved inside the new root
// with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so symlinks in the
// root filesystem cannot send a mount outside it; missing directories (and, for
// a non-directory source, the final file) are created the same way.
struct SandboxMount {
  enum class Kind {
    kBind,        // bind SRC (recursive) on DEST: --bind, --ro-bind, --dev-bind, *-try
    kTmpfs,       // a fresh tmpfs on DEST: --tmpfs [--size] [--perms]
    kProc,        // a fresh proc on DEST (of the sandbox's pid namespace): --proc
    kDev,         // a minimal /dev on DEST: --dev
    kDir,         // mkdir -p DEST: --dir [--perms]
    kSymlink,     // symlink DEST -> SOURCE: --symlink
    kRemountRo,   // make the mount at DEST read-only, nosuid and nodev, not the mounts
                  // below it (as bwrap): --remount-ro
                  // (DEST must be a mount point: EINVAL saying so otherwise)
    kOverlay,     // overlayfs on DEST from `layers`: --overlay, --tmp-overlay, --ro-overlay
    kMqueue,      // a fresh mqueue on DEST (of the sandbox's IPC namespace): --mqueue
    kChmod,       // chmod DEST to `perms` (DEST must exist): --chmod
    kFile,        // a regular file DEST holding `data`, mode `perms` (default 0666): --file
    kBindData,    // a file holding `data` (mode `perms`, default 0600) bound on DEST:
                  // --bind-data, --ro-bind-data (read_only)
    kBindFd,      // bind the directory or file that `fd` refers to on DEST: --bind-fd, --ro-bind-fd
  };
  enum class OverlayUpper {
    kDirectory,   // upper = SOURCE, work = `workdir` (host paths): --overlay
    kTmpfs,       // upper and work on a fresh tmpfs, changes are lost: --tmp-overlay
    kNone,        // read-only, no upper: --ro-overlay (needs two layers or more)
  };

  Kind kind = Kind::kBind;
  // kBind: the host path (resolved in the caller's namespace, symlinks followed).
  // kSymlink: the link's target text. kOverlay with kDirectory: the upper dir.
  std::string source;
  std::string dest;
  bool read_only = false;      // kBind: MOUNT_ATTR_RDONLY, recursively
  bool allow_devices = false;  // kBind: without it binds get MOUNT_ATTR_NODEV (as bwrap)
  bool optional = false;       // kBind: skip silently when SOURCE does not exist (ENOENT)
  std::uint64_t size = 0;      // kTmpfs: size in bytes, 0: the kernel default
  std::optional<mode_t> perms; // kTmpfs: mode of the root (default 0755); kDir: mode
  std::vector<std::string> layers;  // kOverlay: host lower dirs, lowest first
  std::string workdir;              // kOverlay with kDirectory
  OverlayUpper overlay_upper = OverlayUpper::kNone;
  std::string data;  // kFile, kBindData: the file's contents (at most kSandboxDataMaxBytes)
  int fd = -1;       // kBindFd: an fd open in the caller (not close-on-exec: the setup
                     // process inherits it by number); closed in the sandbox before CMD runs
};

// The most a kFile/kBindData step may hold (they travel in the setup handoff).
inline constexpr std::size_t kSandboxDataMaxBytes = std::size_t{32} << 20;

// A change to the environment CMD gets; applied in order to the caller's.
// `name` must be non-empty and hold no '=' (nor NUL; `value` neither).
// After all changes PWD is set to the directory CMD starts in, as bwrap does
// (even after kClear, and over a kSet of PWD).
struct SandboxEnvChange {
  enum class Kind { kSet, kUnset, kClear };
  Kind kind = Kind::kSet;
  std::string name;
  std::string value;
};

struct SandboxSpec {
  // The sandbox's "/": a recursive copy of this host directory, or (empty) a
  // fresh tmpfs (mode 0755) as with bubblewrap. Both are nosuid,nodev (the
  // copy recursively, like a kBind). The copy shows DIR itself, not a snapshot:
  // the directories, empty mount-point files and symlinks the steps create
  // are made in DIR and stay there after the run (the mounts on them do not).
  std::string root;
  std::vector<SandboxMount> mounts;
  std::vector<SandboxEnvChange> env;
  // The working directory inside; empty: the caller's cwd if it exists inside, else "/".
  std::string chdir;
  bool unshare_user = false;
  bool unshare_pid = false;
  bool unshare_net = false;
  bool unshare_uts = false;
  bool unshare_ipc = false;
  // With unshare_user: the ids CMD has inside (default: the caller's). The
  // caller's uid/gid are mapped to them (one id each).
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string hostname;  // needs unshare_uts
  // PR_SET_PDEATHSIG(SIGKILL) for every process of the sandbox (each for its
  // parent, so that mntns dying, even by SIGKILL, takes the whole sandbox
  // down; with unshare_pid too). The kernel fires it when the *thread* that
  // called StartSandbox exits, not only when its process does: call
  // StartSandbox from a thread that outlives the sandbox (a pool thread that
  // is retired kills it). A caller's process that exited before the signal
  // was set is caught through its pidfd.
  bool die_with_parent = false;
  NamespaceStrategy strategy = NamespaceStrategy::kAuto;
  std::vector<std::string> argv;  // argv[0] is looked up in PATH (execvpe)

  // What bwrap adds (each off/empty by default):
  bool unshare_cgroup = false;  // a new cgroup namespace (rooted at the caller's cgroup)
  std::string argv0;            // argv[0] CMD gets instead of argv[0] (which is still what runs)
  bool new_session = false;     // setsid() before CMD: no controlling terminal
  bool as_pid_1 = false;        // with unshare_pid: CMD is pid 1 itself, no reaper
  // Classic BPF programs (struct sock_filter arrays, as bytes), installed in
  // order just before exec, after mntns's own terminal filter.
  std::vector<std::string> seccomp_programs;
  // The capability sets CMD gets, bwrap's way: effective, permitted,
  // inheritable and ambient all set to these bits (securebits NOROOT so that
  // an exec as uid 0 adds none), the bounding set left as it is. nullopt:
  // mntns's rule (all of root's without unshare_user, none with it).
  std::optional<std::uint64_t> capabilities;
  // Without `capabilities`, with unshare_user: CMD keeps what the new user
  // namespace gives (all, kept by an exec as uid 0, dropped by the kernel at
  // an exec as another uid; the bounding set untouched), as with bwrap,
  // instead of mntns's rule of none at all.
  bool keep_capabilities = false;
  // CMD reads one byte (or EOF) from it before exec: --block-fd. -1: none.
  int block_fd = -1;
  // Files inside the sandbox (they must exist) that the sandbox holds a read
  // lock on (fcntl F_SETLK) for as long as it runs: its pid 1 with
  // unshare_pid, else CMD's process (the fd stays open across the exec):
  // --lock-file.
  std::vector<std::string> lock_files;
  // With unshare_user: CMD cannot create user namespaces (a nested user
  // namespace under a limit of 1, as bwrap --disable-userns).
  bool disable_userns = false;
  // Setup fails unless creating a user namespace fails for CMD: --assert-userns-disabled.
  bool assert_userns_disabled = false;
  // Fill SandboxProcess::status (bwrap's --info-fd): a few stat() calls more.
  bool report_status = false;

  // Namespaces to join (bwrap's --userns, --userns2, --pidns): fds open in
  // the caller on a /proc/PID/ns/{user,pid} file (or another namespace fd),
  // not close-on-exec (the setup process inherits them by number); -1: none.
  // userns_fd: the setup joins it first (setns) and builds the sandbox in it,
  // as an unprivileged caller does in its new one (a private copy of the
  // caller's mount table owned by it): it excludes unshare_user. Needs
  // CAP_SYS_ADMIN in it (its owner, or an ancestor's).
  int userns_fd = -1;
  // userns2_fd: after the setup, just before CMD (and the sandbox's pid 1)
  // starts, they join this user namespace: a descendant of the one the
  // sandbox was built in (userns_fd's, or the caller's). With it, as root,
  // unshare_user makes no user namespace of its own for CMD.
  int userns2_fd = -1;
  // pidns_fd: the sandbox's processes are in this pid namespace; with
  // unshare_pid in a new one nested inside it.
  int pidns_fd = -1;
  // bwrap's --userns-block-fd (with unshare_user): the sandbox's user
  // namespace is made without id maps, and its first process (the one
  // SandboxStatus::child_pid names) waits for a byte (or EOF) on this fd
  // while the caller writes /proc/CHILD_PID/uid_map and gid_map (and
  // setgroups); StartSandbox returns once it waits, as with block_fd. As
  // root that namespace is made after the mount setup, for CMD; unprivileged,
  // before it (the setup runs with the maps the caller wrote).
  int userns_block_fd = -1;
  // SELinux labels (bwrap's --exec-label, --file-label): CMD's exec context
  // (written to /proc/thread-self/attr/exec before exec), and the context of
  // the filesystems the setup makes (tmpfs, mqueue: the `context` mount
  // option; files it creates: attr/fscreate). StartSandbox refuses them with
  // ENOTSUP where SELinux is not enabled (CheckSandboxLabel).
  std::string exec_label;
  std::string file_label;

  // The rootless fast path: for an unprivileged caller with unshare_user,
  // where the per-user keeper's record lives (`directory`, e.g.
  // $XDG_RUNTIME_DIR/mntns) and how long it stays idle. nullopt: every such
  // run copies the caller's mount table (the slow path). Ignored as root.
  // See StartSandbox ("Privileges") for what the keeper is and when it serves.
  std::optional<TemplateSharingOptions> rootless_keeper;
};

// Whether `label` can be applied here: ENOTSUP where SELinux is not enabled
// (no selinuxfs on /sys/fs/selinux), else the errno of the policy's check of
// the context (writing it to /sys/fs/selinux/context, as libselinux's
// security_check_context does: EINVAL for an invalid one).
[[nodiscard]] MNTNS_EXPORT Result<void> CheckSandboxLabel(const std::string& label);

// What a started sandbox is, for reports like bwrap's --info-fd: the pid of
// its first process (its pid 1 with unshare_pid, else CMD), in the caller's
// pid namespace, and the inode numbers of its namespaces (0: not one of its
// own, shared with the caller). Taken before CMD runs, so it holds even for a
// CMD that is already gone.
struct SandboxStatus {
  pid_t child_pid = -1;
  std::uint64_t cgroup_ns = 0;
  std::uint64_t ipc_ns = 0;
  std::uint64_t mnt_ns = 0;
  std::uint64_t net_ns = 0;
  std::uint64_t pid_ns = 0;
  std::uint64_t uts_ns = 0;
};

// EINVAL with the reason when the spec cannot work (no argv, relative DEST,
// hostname without unshare_uts, uid/gid without unshare_user, an overlay
// without layers, an environment name that is empty or has '=', ...).
// StartSandbox calls it first.
[[nodiscard]] MNTNS_EXPORT Result<void> ValidateSandboxSpec(const SandboxSpec& spec);

// The namespace call StartSandbox makes for `spec`: kOpenTreeNamespace with a
// root directory, kFsmountNamespace for the default tmpfs root. The strategy it
// uses is ResolveStrategy(SandboxOperation(spec), spec.strategy).
[[nodiscard]] MNTNS_EXPORT NamespaceOperation SandboxOperation(const SandboxSpec& spec);

// A started sandbox: the process mntns waits for (with unshare_pid it relays
// the status of the sandbox's pid 1, which reaps everything and exits with
// CMD's status). Move-only; it owns that child process, like a std::thread
// its thread, except that dropping it is not fatal: a SandboxProcess
// destroyed (or assigned over) before WaitSandbox reaped it kills the
// process with SIGKILL (through the pidfd, so never a recycled pid) and
// reaps it, blocking until it is gone. No zombie is left, and no sandbox
// outlives its handle unnoticed. Without unshare_pid that process is CMD;
// with it, it is the relay, and the sandbox's pid 1 (with everything
// inside) goes with it only under die_with_parent: set that with
// unshare_pid, or WaitSandbox after ending CMD another way.
// A caller that reaps children itself (waitpid(-1), SIGCHLD handlers) must
// leave this one to WaitSandbox or the destructor.
struct MNTNS_EXPORT SandboxProcess {
  pid_t pid = -1;  // -1 once reaped
  UniqueFd pidfd;
  NamespaceStrategy strategy = NamespaceStrategy::kAuto;  // the resolved one
  // With spec.block_fd: StartSandbox returns once CMD's process waits on it
  // (the caller can now write to it); a later failure to exec CMD comes
  // through this channel and WaitSandbox returns it. Empty otherwise.
  UniqueFd setup_channel;
  std::optional<SandboxStatus> status;  // with spec.report_status

  SandboxProcess() = default;
  SandboxProcess(SandboxProcess&& other) noexcept;
  SandboxProcess& operator=(SandboxProcess&& other) noexcept;
  ~SandboxProcess();
};

// Builds the sandbox and starts CMD in it. Returns once CMD has been exec'd
// (or setup failed: then every process is reaped and the first failing step's
// Error is returned, naming the option, the operation, the path, the errno and
// the kernel's fs_context log).
//
// How (see src/sandbox/launch.cc): the namespace is made by OpenTreeNamespace(root,
// AT_RECURSIVE) or FsmountNamespace(tmpfs) with `spec.strategy` (auto: native
// where the kernel has that call, 7.0 and 7.1; else template on 6.8+). A child
// process (clone3) then makes only raw system calls on memory prepared before
// the fork (so no lock another thread of the caller held at the fork
// matters): it clears close-on-exec on the fds it hands on and execs
// /proc/self/exe, the program's own image, with the caller's argv and
// environment and MNTNS_SANDBOX_SETUP set (libmntns.so in LD_PRELOAD where
// the program dlopen()ed it). A constructor of libmntns
// takes over that image before main() (constructors of libraries loaded
// before libmntns do run first) and does the setup, single-threaded,
// from a memfd holding the spec: it clones bind sources and creates the
// fresh filesystems in the caller's namespace (detached, private), enters the
// namespace (setns), makes "/" private recursively and attaches everything in
// order with move_mount. No mount(2), no mountinfo reads, and nothing is ever
// attached in the caller's namespace, so a failure leaves nothing behind.
// Refused (EPERM) in a set-user-ID or otherwise secure-execution process.
// The constructor acts only on a sealed memfd handoff owned by the process's
// euid (and exits 127 otherwise, before main()): the variable set by a less
// privileged user (sudo -E) runs nothing. See docs/run.md.
//
// Privileges: as root (euid 0) the namespace is owned by the caller's user
// namespace and unshare_user puts CMD into a new user namespace after setup
// (CMD then has no capabilities outside it, nor inside: every capability is
// dropped); without unshare_user CMD keeps root's capabilities. CMD always has
// no_new_privs (as with bwrap). Otherwise unshare_user is required: the
// child first unshares a user namespace and a private copy of the caller's
// mount namespace (cost grows with the caller's table on 6.x): the slow path.
//
// The rootless fast path (spec.rootless_keeper set, not root): a per-user
// keeper process ("mntns-template", started on first use, the same fresh
// image as ShareTemplateNamespace's keeper, exiting after `idle` seconds
// unused) owns a user namespace that maps the caller's uid and gid to
// themselves, a copy of the caller's mount namespace owned by it (the host
// view, made once when the keeper starts) and a template namespace. The
// setup joins that user namespace (its owner, the same user, has every
// capability there: nothing a user can do through it that the same user
// cannot do alone, as with bwrap), clones bind sources from the host view,
// copies the template, and CMD gets a nested user namespace with the ids
// asked for, as with root. The record is found and trusted as
// ShareTemplateNamespace's, one per user and mount namespace, in the
// directory given; a stale, forged, foreign or wrong-mode record is replaced.
// Staleness: the host view shows mounts made later under the caller's
// shared mounts (they propagate, as slaves), not those under private ones
// nor unmounts there. So before every run the caller compares each bind
// source, overlay directory and --root (device and inode, looked up in its
// own namespace and in the host view): on any difference the keeper is
// retired, a fresh one started, and the run takes the slow path if that one
// differs too. It serves only runs whose CMD ends up with no capability (no
// --cap-add, no uid 0 with kept capabilities), without --bind-fd,
// --disable-userns, --assert-userns-disabled, joined namespaces
// (userns_fd, userns2_fd, pidns_fd), userns_block_fd and labels: CMD's user namespace is a
// child of the keeper's, so the sandbox's mount, pid, net, ipc, uts and
// cgroup namespaces belong to the keeper's user namespace, where a CMD with
// capabilities could not use them as it can under bwrap. Any failure of the
// keeper costs only speed: the run takes the slow path.
//
// CMD's process: fds are not leaked (every fd mntns opens is close-on-exec;
// inherited fds without FD_CLOEXEC stay open, as with bwrap), the signal mask
// is empty, every signal has its default action (none ignored). CMD stays
// in the caller's session and controlling terminal (job control and ^C keep
// working; no setsid as bwrap --new-session), and a seccomp filter makes
// ioctl(TIOCSTI) and ioctl(TIOCLINUX) fail with EPERM for CMD and everything
// it starts (every ABI: x86_64, x32, i386; aarch64, arm), so that it cannot
// type into that terminal (the caller's shell would run it).
// Minimum kernel: 6.8 (openat2 5.6, mount_setattr 5.12, lowerdir+ for overlays 6.8).
[[nodiscard]] MNTNS_EXPORT Result<SandboxProcess> StartSandbox(const SandboxSpec& spec);

// Waits for the sandbox and returns CMD's exit status (128+N if it was killed
// by signal N). Each signal in `forward_signals` that reaches the caller is
// sent on to the sandbox: block them (sigprocmask) before StartSandbox so none
// is lost; the mask is left as it was. A signal from the terminal (SI_KERNEL:
// ^C, ^\, hangup) is not sent on while the sandbox is in the caller's process
// group: the terminal delivered it to the sandbox too.
[[nodiscard]] MNTNS_EXPORT Result<int> WaitSandbox(SandboxProcess& process, std::span<const int> forward_signals = {});

}  // namespace mntns
