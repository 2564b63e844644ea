// What the namespace strategies share (private to the library).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mntns/error.h"
#include "mntns/fd.h"
#include "mntns/namespace.h"
#include "mntns/query.h"
#include "helper_thread.h"

namespace mntns::internal {

// The sb_source of the template strategy's hidden root (an empty read-only
// tmpfs), and of the polyfill's empty roots (a directory of a fresh sysfs
// that stays empty, or that tmpfs: sys::EmptyCurrentMountNamespaceInChild).
inline constexpr std::string_view kTemplateRootSource = "mntns-template";

// Whether a mount (its fs type and sb_source) is one of those empty roots.
inline bool IsTemplateRoot(std::string_view fs_type, std::string_view sb_source) {
  return sb_source == kTemplateRootSource && (fs_type == "tmpfs" || fs_type == "sysfs");
}

// Opens the mount namespace the calling thread is in *now*. Made before the
// thread switches namespaces: after a pivot_root or inside the template there
// is no /proc to open, so the handle is taken while it is still reachable.
class ThreadNamespaceOpener {
 public:
  // A pidfd for the thread (PIDFD_GET_MNT_NAMESPACE, 6.11) where the kernel has
  // it, else a directory fd on /proc/thread-self.
  [[nodiscard]] static Result<ThreadNamespaceOpener> ForCallingThread();

  // A close-on-exec nsfs fd for the thread's current mount namespace. Only the
  // thread that created the opener may call it.
  [[nodiscard]] Result<UniqueFd> Current() const;

 private:
  UniqueFd pidfd_;
  UniqueFd proc_dir_;
};

// Unmounts the mount-namespace files (nsfs binds of /proc/PID/ns/mnt) that a
// recursive OPEN_TREE_CLONE copied. The calling thread must be inside the new
// namespace with the tree as its root.
[[nodiscard]] Result<void> DropMountNamespaceFiles();

// A recursive clone (OPEN_TREE_CLONE|AT_RECURSIVE) of the directory
// `source_fd` (an O_PATH fd) without the mount-namespace files in it, for
// trees that move_mount refuses with ELOOP (a namespace file may only be
// attached in a namespace older than the one it names; OPEN_TREE_NAMESPACE
// skips such files). A detached tree cannot be unmounted from, so this copies
// the caller's namespace on a helper thread (O(the caller's mounts)), makes the
// copy private, unmounts its namespace files and clones the source from there.
// The clone's mounts are private: peer groups of the tree are not kept.
[[nodiscard]] Result<UniqueFd> CloneTreeWithoutNamespaceFiles(int source_fd);

// Whether the calling thread's namespace holds a mount-namespace file. Needs
// no particular root: listmount and statmount work by mount id.
[[nodiscard]] Result<bool> HasMountNamespaceFiles();

// Whether KernelFeatures() has `operation`'s flag.
[[nodiscard]] bool HasNativeFlag(NamespaceOperation operation);
// The strategy kAuto uses where the kernel's flag is missing: kTemplate with
// listmount and statmount (6.8), else kClassic.
[[nodiscard]] NamespaceStrategy Emulation();
// Why kNative cannot serve `operation` here (" (this kernel has no ...)"),
// appended to the argument of the EINVAL the older kernel would give.
[[nodiscard]] std::string MissingFlag(NamespaceOperation operation);

// With kAuto, whether a native call's `error` means that the kernel does not
// know the operation's flag after all (EINVAL, and a fresh probe agrees):
// then the emulation serves the call.
[[nodiscard]] bool KernelLacksFlag(NamespaceOperation operation, const Error& error);

// The strategies; `tree` is a detached mount (open_tree(OPEN_TREE_CLONE) or
// fsmount()) made in the caller's namespace; `recursive` says whether it may
// hold submounts (and so mount-namespace files).
// TemplateNamespace uses the process-wide factory, started on first use;
// StopTemplateFactory may run concurrently with it (calls in flight finish,
// later ones start the next factory).
// An empty `tree` (no fd) asks for the bare copy of the template: the
// emulation of an empty mount namespace.
[[nodiscard]] Result<UniqueFd> TemplateNamespace(UniqueFd tree, bool recursive);
[[nodiscard]] Result<UniqueFd> ClassicNamespace(UniqueFd tree, bool recursive);
void StopTemplateFactory();
// Starts the process-wide factory from the calling thread where none runs
// yet, or says why it cannot. Its threads take their
// credentials from the thread that starts them: the polyfill's supervisor
// starts it from its serving thread, never from a thread that took a
// caller's fs ids and groups.
[[nodiscard]] Result<void> PrepareTemplateFactory();

// In a forked child that lives on and closes the fds it inherited
// (InstallPolyfill's supervisor process): drops the factory state copied from
// the parent, closing its fds while their numbers are still theirs, so that
// a later close does not hit an fd that reused the number.
void ForgetInheritedTemplateFactory();

// The template strategy's worker threads (namespace/factory.cc), each sitting
// in the template namespace. The process-wide one behind TemplateNamespace
// has the default options; tests start their own through these functions.
class TemplateFactory;

struct TemplateFactoryOptions {
  unsigned workers = 0;  // 0: the usable CPUs, at most 4
  // A test seam: how a worker goes back to the template after each namespace
  // (empty: setns(template_fd, CLONE_NEWNS)). A worker for which it fails is
  // still in that namespace: it reports the failure for that job and leaves,
  // and the job's caller starts a replacement.
  std::function<Result<void>(int template_fd)> return_to_template;
};

// Starts the threads; the first builds a template unless `shared_template`.
[[nodiscard]] Result<std::shared_ptr<TemplateFactory>> StartTemplateFactory(UniqueFd shared_template,
                                                                          TemplateFactoryOptions options);
// One namespace from `tree_fd` (-1: an empty one); nullopt once the factory is stopping (no job taken).
[[nodiscard]] std::optional<Result<UniqueFd>> CreateInTemplateFactory(TemplateFactory& factory, int tree_fd,
                                                                      bool recursive);
// Serves the queued jobs, then joins the threads. Not from a worker.
void StopTemplateFactory(TemplateFactory& factory);

// Turns the calling thread's mount namespace (a fresh private copy, made by
// the caller with unshare) into a template: one empty read-only tmpfs with
// source kTemplateRootSource. Returns an nsfs fd for it. Costs O(mounts of
// the copy): they are all detached.
[[nodiscard]] Result<UniqueFd> BuildTemplateNamespace(const ThreadNamespaceOpener& opener);

// Hands the template factory a template namespace built elsewhere (by the
// keeper process, see namespace/keeper.cc). Used when the factory starts; a
// factory already running keeps its own. Returns whether it will be used.
bool UseSharedTemplate(UniqueFd template_ns);

// For a fresh exec of this program (/proc/self/exe) that must run one of
// libmntns's constructors before main() (the keeper, the sandbox setup): the
// absolute path of libmntns.so to put in LD_PRELOAD (a program that dlopen()ed
// it would not load it at start), or "" when libmntns is part of the
// executable (found through /proc/self/maps where it was dlopen()ed by a
// relative name). EINVAL when that path holds a space or a colon.
[[nodiscard]] Result<std::string> LibraryToPreload();

// The per-user (rootless) keeper's namespaces, for an unprivileged caller's
// sandbox (see ShareRootlessNamespaces and docs/run.md): its user namespace
// (the caller's ids mapped to themselves; the caller, its owner, has every
// capability in it), the host view (a copy of the caller's mount namespace
// owned by that user namespace, made when the keeper started; bind sources
// are cloned from it) and the template namespace (also owned by it).
struct RootlessNamespaces {
  pid_t pid = -1;        // the keeper
  UniqueFd user_ns;
  UniqueFd host_view;
  UniqueFd host_root;    // an O_PATH fd of the host view's root directory
  UniqueFd template_ns;
};

// ShareTemplateNamespace's protocol for unprivileged callers: the record
// <directory>/rootless-<user ns inode>-<mount ns id> names a keeper started
// from this user and mount namespace, trusted as the root keeper's is (a
// private regular file of our euid; the process ours, named
// "mntns-template", with the token in its environment and the template as
// its namespace) and further only if its user namespace is owned by our euid
// and owns the template and the host view. A missing, stale or untrusted
// record is replaced by a new keeper. EINVAL as root (root needs no keeper of
// this kind: ShareTemplateNamespace). The caller touches the record, so the
// keeper's idle time starts again.
[[nodiscard]] Result<RootlessNamespaces> ShareRootlessNamespaces(const TemplateSharingOptions& options);

// Removes the record of the rootless keeper `pid` (if it is still the one
// recorded), for a caller that found its host view stale: the next call
// starts a fresh keeper; the old one exits at its next look at the record.
void RetireRootlessKeeper(const TemplateSharingOptions& options, pid_t pid);

}  // namespace mntns::internal
