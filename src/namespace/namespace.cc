// OpenTreeNamespace / FsmountNamespace: the kernel's flag rules, then the strategy.
#include "mntns/namespace.h"

#include <fcntl.h>
#include <sys/mount.h>

#include <cerrno>

#include <fmt/format.h>

#include "features_internal.h"
#include "mntns/features.h"
#include "namespace/internal.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns {
namespace {

// What open_tree(OPEN_TREE_NAMESPACE) accepts on 7.2 (fs/namespace.c).
constexpr unsigned kOpenTreeNamespaceFlags = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT |
                                             AT_RECURSIVE | OPEN_TREE_CLOEXEC | OPEN_TREE_NAMESPACE;
// The path-lookup part of those, which OPEN_TREE_CLONE takes too.
constexpr unsigned kLookupFlags = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_RECURSIVE;
constexpr unsigned kFsmountNamespaceFlags = FSMOUNT_CLOEXEC | FSMOUNT_NAMESPACE;
constexpr const char* kOpenTreeOperation = "open_tree(OPEN_TREE_NAMESPACE)";

std::string DescribeSource(int dirfd, const std::string& path) {
  return sys::DescribeDirFd(dirfd, path.c_str());
}

Result<UniqueFd> FromDetachedTree(UniqueFd tree, bool recursive, NamespaceStrategy strategy) {
  if (strategy == NamespaceStrategy::kTemplate) return internal::TemplateNamespace(std::move(tree), recursive);
  return internal::ClassicNamespace(std::move(tree), recursive);
}

Result<void> RequireDirectory(int tree_fd, std::string operation, std::string argument) {
  auto is_directory = sys::IsDirectory(tree_fd);
  if (!is_directory) return std::unexpected(is_directory.error());
  // 7.1 restricted OPEN_TREE_NAMESPACE/FSMOUNT_NAMESPACE to directories: a
  // namespace whose root is a file has no usable cwd or root.
  if (!*is_directory) return MakeError(ENOTDIR, std::move(operation), std::move(argument));
  return kOk;
}

}  // namespace

namespace internal {

bool HasNativeFlag(NamespaceOperation operation) {
  const Features& features = KernelFeatures();
  switch (operation) {
    case NamespaceOperation::kOpenTreeNamespace:
      return features.open_tree_namespace;
    case NamespaceOperation::kFsmountNamespace:
      return features.fsmount_namespace;
    case NamespaceOperation::kEmptyMountNamespace:
      return features.empty_mount_namespace;
  }
  return false;
}

NamespaceStrategy Emulation() {
  // The template strategy finds mount-namespace files with listmount/statmount.
  const Features& features = KernelFeatures();
  return features.statmount && features.listmount ? NamespaceStrategy::kTemplate : NamespaceStrategy::kClassic;
}

std::string MissingFlag(NamespaceOperation operation) {
  std::string_view flag = "OPEN_TREE_NAMESPACE";
  std::string_view release = "7.0";
  if (operation == NamespaceOperation::kFsmountNamespace) {
    flag = "FSMOUNT_NAMESPACE";
    release = "7.1";
  } else if (operation == NamespaceOperation::kEmptyMountNamespace) {
    flag = "UNSHARE_EMPTY_MNTNS";
    release = "7.1";
  }
  const std::string& profile = KernelFeatures().profile;
  const std::string missing =
      profile.empty() ? fmt::format("this kernel has no {}", flag)
                      : fmt::format("{} is missing or hidden by {}={}", flag, kFeatureProfileVariable, profile);
  return fmt::format(" ({}: it needs Linux {}; the template and classic strategies emulate it)", missing, release);
}

}  // namespace internal

using internal::Emulation;
using internal::HasNativeFlag;
using internal::MissingFlag;

std::string_view StrategyName(NamespaceStrategy strategy) {
  switch (strategy) {
    case NamespaceStrategy::kAuto:
      return "auto";
    case NamespaceStrategy::kNative:
      return "native";
    case NamespaceStrategy::kTemplate:
      return "template";
    case NamespaceStrategy::kClassic:
      return "classic";
  }
  return "?";
}

Result<NamespaceStrategy> ParseStrategy(std::string_view name) {
  for (NamespaceStrategy strategy : {NamespaceStrategy::kAuto, NamespaceStrategy::kNative,
                                     NamespaceStrategy::kTemplate, NamespaceStrategy::kClassic}) {
    if (StrategyName(strategy) == name) return strategy;
  }
  return MakeError(EINVAL, "parse strategy", fmt::format("\"{}\" (auto|native|template|classic)", name));
}

NamespaceStrategy ResolveStrategy(NamespaceOperation operation, NamespaceStrategy strategy) {
  if (strategy != NamespaceStrategy::kAuto) return strategy;
  if (HasNativeFlag(operation)) return NamespaceStrategy::kNative;
  return Emulation();
}

namespace internal {

bool KernelLacksFlag(NamespaceOperation operation, const Error& error) {
  if (error.code != EINVAL) return false;
  // EINVAL has many causes (an unbindable source, locked child mounts, a bad
  // fs context); only the flag itself is what an emulation can do without.
  // Asked again, not from KernelFeatures(): the probe said the flag is there.
  switch (operation) {
    case NamespaceOperation::kOpenTreeNamespace:
      return !ProbeOpenTreeNamespace();
    case NamespaceOperation::kFsmountNamespace:
      return !ProbeFsmountNamespace();
    case NamespaceOperation::kEmptyMountNamespace:
      return !ProbeEmptyMountNamespace();
  }
  return false;
}

}  // namespace internal

Result<UniqueFd> OpenTreeNamespace(int dirfd, const std::string& path, unsigned flags,
                                   const NamespaceOptions& options) {
  if ((flags & OPEN_TREE_CLONE) != 0 || (flags & ~kOpenTreeNamespaceFlags) != 0) {
    return MakeError(EINVAL, kOpenTreeOperation, fmt::format("{} flags {:#x}", DescribeSource(dirfd, path), flags));
  }
  constexpr NamespaceOperation kOperation = NamespaceOperation::kOpenTreeNamespace;
  NamespaceStrategy strategy = ResolveStrategy(kOperation, options.strategy);
  if (strategy == NamespaceStrategy::kNative) {
    if (!HasNativeFlag(kOperation)) {
      return MakeError(EINVAL, kOpenTreeOperation, DescribeSource(dirfd, path) + MissingFlag(kOperation));
    }
    // The bare syscall: nothing else on this path (the target is within 10%
    // of a direct open_tree call).
    auto ns = sys::OpenTree(dirfd, path.c_str(), flags | OPEN_TREE_NAMESPACE | OPEN_TREE_CLOEXEC);
    if (ns) return ns;
    // The syscall's own error, named by the flag that makes it this call.
    ns.error().operation = kOpenTreeOperation;
    if (options.strategy != NamespaceStrategy::kAuto || !internal::KernelLacksFlag(kOperation, ns.error())) {
      return ns;
    }
    strategy = Emulation();
  }
  const std::string context =
      fmt::format("{} {} ({} strategy)", kOpenTreeOperation, DescribeSource(dirfd, path), StrategyName(strategy));
  // Cloned here, in the caller's namespace: that is where `path` lives.
  auto tree = sys::OpenTree(dirfd, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (flags & kLookupFlags));
  if (!tree) return std::unexpected(std::move(tree.error().Wrap(context)));
  if (auto r = RequireDirectory(tree->Get(), kOpenTreeOperation, DescribeSource(dirfd, path)); !r) {
    return std::unexpected(r.error());
  }
  auto ns = FromDetachedTree(std::move(*tree), (flags & AT_RECURSIVE) != 0, strategy);
  if (!ns && ns.error().code == ELOOP && (flags & AT_RECURSIVE) != 0) {
    // The tree holds a mount-namespace file (a pinned namespace, as snap
    // keeps under /run) older than the new namespace: 7.x leaves such files
    // out of the copy, and so do we, on the slower path that can.
    auto source = sys::OpenTree(dirfd, path.c_str(), OPEN_TREE_CLOEXEC | (flags & kLookupFlags & ~AT_RECURSIVE));
    auto without = source ? internal::CloneTreeWithoutNamespaceFiles(source->Get())
                          : Result<UniqueFd>(std::unexpected(source.error()));
    if (without) ns = FromDetachedTree(std::move(*without), true, strategy);
  }
  if (!ns) ns.error().Wrap(context);
  return ns;
}

Result<UniqueFd> FsmountNamespace(int fs_fd, unsigned flags, unsigned attr_flags,
                                  const NamespaceOptions& options) {
  const std::string operation = "fsmount(FSMOUNT_NAMESPACE)";
  const std::string argument = fmt::format("fd {}", fs_fd);
  if ((flags & ~kFsmountNamespaceFlags) != 0) {
    return MakeError(EINVAL, operation, fmt::format("{} flags {:#x}", argument, flags));
  }
  constexpr NamespaceOperation kOperation = NamespaceOperation::kFsmountNamespace;
  NamespaceStrategy strategy = ResolveStrategy(kOperation, options.strategy);
  if (strategy == NamespaceStrategy::kNative) {
    if (!HasNativeFlag(kOperation)) return MakeError(EINVAL, operation, argument + MissingFlag(kOperation));
    auto ns = sys::FsMount(fs_fd, flags | FSMOUNT_NAMESPACE, attr_flags);
    if (ns) return ns;
    ns.error().operation = operation;
    if (options.strategy != NamespaceStrategy::kAuto || !internal::KernelLacksFlag(kOperation, ns.error())) {
      return ns;
    }
    strategy = Emulation();
  }
  const std::string context = fmt::format("{} {} ({} strategy)", operation, argument, StrategyName(strategy));
  // A fresh superblock's root: private, no peers, as with FSMOUNT_NAMESPACE.
  auto root = sys::FsMount(fs_fd, 0, attr_flags);
  if (!root) return std::unexpected(std::move(root.error().Wrap(context)));
  if (auto r = RequireDirectory(root->Get(), operation, argument); !r) return std::unexpected(r.error());
  auto ns = FromDetachedTree(std::move(*root), false, strategy);
  if (!ns) ns.error().Wrap(context);
  return ns;
}

void StopNamespaceFactory() { internal::StopTemplateFactory(); }

}  // namespace mntns
