// Empty mount namespaces: 7.1's UNSHARE_EMPTY_MNTNS and CLONE_EMPTY_MNTNS,
// and their emulations (namespace.h lists how they differ).
#include <linux/capability.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include <fmt/format.h>

#include "mntns/namespace.h"
#include "namespace/internal.h"
#include "sys/files.h"
#include "sys/namespaces.h"
#include "sys/process.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns {
namespace {

constexpr NamespaceOperation kOperation = NamespaceOperation::kEmptyMountNamespace;
constexpr const char* kUnshareOperation = "unshare(UNSHARE_EMPTY_MNTNS)";
constexpr const char* kCloneOperation = "clone3(CLONE_EMPTY_MNTNS)";

// What clone3 may add to CLONE_EMPTY_MNTNS here: the namespaces a runtime
// wants with it. CLONE_FS would share root and cwd with the parent, which a
// new mount namespace cannot (the kernel says EINVAL).
constexpr std::uint64_t kCloneFlags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
                                      CLONE_NEWCGROUP | CLONE_NEWNS;

// The emulations run on other threads (the factory's, a helper's) that hold
// their own credentials: without this check a thread that dropped
// CAP_SYS_ADMIN for itself would get what the kernel refuses it.
Result<void> RequireSysAdmin(const char* operation) {
  auto has = sys::HasEffectiveCapability(CAP_SYS_ADMIN);
  if (!has) return std::unexpected(has.error());
  if (!*has) return MakeError(EPERM, operation, "no CAP_SYS_ADMIN in the calling thread's user namespace");
  return kOk;
}

// The template strategy's template, built in a namespace of its own: what
// kClassic gives (O(the caller's mounts)). The calling thread ends up in it.
Result<UniqueFd> BuildEmptyInPlace() {
  auto opener = internal::ThreadNamespaceOpener::ForCallingThread();
  if (!opener) return std::unexpected(opener.error());
  return internal::BuildTemplateNamespace(*opener);
}

Result<UniqueFd> NativeOnHelperThread() {
  Result<UniqueFd> result = MakeError(EINVAL, kUnshareOperation);
  auto thread = internal::StartHelperThread([&result] {
    // Taken before: the empty namespace has no /proc to find it by.
    auto opener = internal::ThreadNamespaceOpener::ForCallingThread();
    if (!opener) {
      result = std::unexpected(opener.error());
      return;
    }
    if (auto r = sys::Unshare(UNSHARE_EMPTY_MNTNS); !r) {
      result = std::unexpected(r.error());
      result.error().operation = kUnshareOperation;
      return;
    }
    result = opener->Current();
  });
  if (!thread) return std::unexpected(thread.error());
  thread->join();
  return result;
}

Result<UniqueFd> Emulated(NamespaceStrategy strategy) {
  if (strategy == NamespaceStrategy::kTemplate) return internal::TemplateNamespace(UniqueFd(), false);
  Result<UniqueFd> result = MakeError(EINVAL, kUnshareOperation);
  auto thread = internal::StartHelperThread([&result] { result = BuildEmptyInPlace(); });
  if (!thread) return std::unexpected(thread.error());
  thread->join();
  return result;
}

// The strategy that serves a call: kAuto resolved; kNative refused (EINVAL,
// as a 6.x kernel would say) where the kernel lacks the flag.
Result<NamespaceStrategy> Choose(const NamespaceOptions& options, const char* operation) {
  const NamespaceStrategy strategy = ResolveStrategy(kOperation, options.strategy);
  if (strategy == NamespaceStrategy::kNative && !internal::HasNativeFlag(kOperation)) {
    return MakeError(EINVAL, operation, fmt::format("native strategy{}", internal::MissingFlag(kOperation)));
  }
  return strategy;
}

// After a native call failed: whether kAuto should try the emulation instead.
bool FallBack(const NamespaceOptions& options, const Error& error) {
  return options.strategy == NamespaceStrategy::kAuto && internal::KernelLacksFlag(kOperation, error);
}

std::string Context(NamespaceStrategy strategy) {
  return fmt::format("empty mount namespace ({} strategy)", StrategyName(strategy));
}

}  // namespace

Result<UniqueFd> EmptyMountNamespace(const NamespaceOptions& options) {
  auto strategy = Choose(options, kUnshareOperation);
  if (!strategy) return std::unexpected(strategy.error());
  if (auto r = RequireSysAdmin(kUnshareOperation); !r) return std::unexpected(r.error());
  if (*strategy == NamespaceStrategy::kNative) {
    auto ns = NativeOnHelperThread();
    if (ns || !FallBack(options, ns.error())) return ns;
    *strategy = internal::Emulation();
  }
  auto ns = Emulated(*strategy);
  if (!ns) ns.error().Wrap(Context(*strategy));
  return ns;
}

Result<void> UnshareEmptyMountNamespace(const NamespaceOptions& options) {
  auto strategy = Choose(options, kUnshareOperation);
  if (!strategy) return std::unexpected(strategy.error());
  if (*strategy == NamespaceStrategy::kNative) {
    auto r = sys::Unshare(UNSHARE_EMPTY_MNTNS);
    if (r) return r;
    r.error().operation = kUnshareOperation;
    if (!FallBack(options, r.error())) return r;
    *strategy = internal::Emulation();
  }
  if (auto r = RequireSysAdmin(kUnshareOperation); !r) return r;
  if (*strategy == NamespaceStrategy::kClassic) {
    // Built on this thread, so that it is owned by this thread's user
    // namespace. The way back is taken first: a half-built namespace (a
    // private copy of the caller's table) is not where the thread may stay.
    auto opener = internal::ThreadNamespaceOpener::ForCallingThread();
    if (!opener) return std::unexpected(opener.error());
    auto original = opener->Current();
    if (!original) return std::unexpected(original.error());
    auto built = internal::BuildTemplateNamespace(*opener);
    if (built) return kOk;
    (void)sys::Setns(original->Get(), CLONE_NEWNS);
    return std::unexpected(std::move(built.error().Wrap(Context(*strategy))));
  }
  auto ns = Emulated(*strategy);
  if (!ns) return std::unexpected(std::move(ns.error().Wrap(Context(*strategy))));
  // setns(CLONE_NEWNS) is refused to a thread that shares its fs_struct; the
  // kernel's unshare(CLONE_NEWNS) unshares it the same way.
  if (auto r = sys::Unshare(CLONE_FS); !r) return std::unexpected(std::move(r.error().Wrap(Context(*strategy))));
  if (auto r = sys::Setns(ns->Get(), CLONE_NEWNS); !r) return std::unexpected(std::move(r.error().Wrap(Context(*strategy))));
  return kOk;
}

Result<MountNamespaceChild> ForkIntoEmptyMountNamespace(std::uint64_t clone_flags, const NamespaceOptions& options) {
  if ((clone_flags & ~kCloneFlags) != 0) {
    return MakeError(EINVAL, kCloneOperation, fmt::format("flags {:#x}", clone_flags));
  }
  auto strategy = Choose(options, kCloneOperation);
  if (!strategy) return std::unexpected(strategy.error());
  if (*strategy == NamespaceStrategy::kNative) {
    auto child = sys::CloneWithPidfd(clone_flags | CLONE_EMPTY_MNTNS, "a child in an empty mount namespace");
    if (child) return MountNamespaceChild{child->pid, std::move(child->pidfd)};
    child.error().operation = kCloneOperation;
    if (!FallBack(options, child.error())) return std::unexpected(child.error());
    *strategy = internal::Emulation();
  }
  if (auto r = RequireSysAdmin(kCloneOperation); !r) return std::unexpected(r.error());
  // A namespace of this user namespace cannot be entered from a new one: with
  // CLONE_NEWUSER the child builds its own.
  const bool in_place = (clone_flags & CLONE_NEWUSER) != 0;
  UniqueFd ns;
  if (!in_place) {
    auto made = Emulated(*strategy);
    if (!made) return std::unexpected(std::move(made.error().Wrap(Context(*strategy))));
    ns = std::move(*made);
  }
  auto report = sys::Pipe(0, "the empty-namespace child's report");
  if (!report) return std::unexpected(report.error());
  auto child = sys::CloneWithPidfd(clone_flags & ~static_cast<std::uint64_t>(CLONE_NEWNS),
                                   "a child in an empty mount namespace");
  if (!child) return std::unexpected(std::move(child.error().Wrap(Context(*strategy))));
  if (child->pid == 0) {
    // Raw calls only from here (see sys::ForkWithPidfd); the fds close as
    // this returns, and nothing else here allocates.
    const int err = in_place ? sys::MakeEmptyRootInChild(internal::kTemplateRootSource.data())
                             : sys::EnterMountNamespaceInChild(ns.Get());
    if (err != 0) {
      (void)!::write(report->second.Get(), &err, sizeof err);
      ::_exit(127);
    }
    return MountNamespaceChild{};
  }
  report->second.Reset();
  ns.Reset();
  // EOF: the child is in its namespace (its end closed as it returned).
  int err = 0;
  auto got = sys::Read(report->first.Get(), std::span(reinterpret_cast<char*>(&err), sizeof err),
                       "the empty-namespace child's report");
  if (!got) {
    // Whether the child got into its namespace is unknown: it goes.
    static_cast<void>(sys::PidfdSendSignal(child->pidfd.Get(), SIGKILL));
    static_cast<void>(sys::WaitId(P_PIDFD, static_cast<id_t>(child->pidfd.Get()), WEXITED));
    return std::unexpected(std::move(got.error().Wrap(Context(*strategy))));
  }
  if (*got == sizeof err) {
    (void)sys::WaitId(P_PIDFD, static_cast<id_t>(child->pidfd.Get()), WEXITED);
    return MakeError(err, in_place ? "build the empty root in the child" : "setns into the empty mount namespace",
                     Context(*strategy));
  }
  return MountNamespaceChild{child->pid, std::move(child->pidfd)};
}

}  // namespace mntns
