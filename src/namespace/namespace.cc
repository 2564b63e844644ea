// OpenTreeNamespace / FsmountNamespace: the kernel's flag rules, then the strategy.
#include "mntns/namespace.h"

#include <fcntl.h>
#include <sys/mount.h>

#include <cerrno>

#include <fmt/format.h>

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

NamespaceStrategy ResolveStrategy(NamespaceStrategy strategy) {
  if (strategy != NamespaceStrategy::kAuto) return strategy;
  const Features& features = KernelFeatures();
  if (features.open_tree_namespace) return NamespaceStrategy::kNative;
  // The template strategy finds mount-namespace files with listmount/statmount.
  if (features.statmount && features.listmount) return NamespaceStrategy::kTemplate;
  return NamespaceStrategy::kClassic;
}

Result<UniqueFd> OpenTreeNamespace(int dirfd, const std::string& path, unsigned flags,
                                   const NamespaceOptions& options) {
  if ((flags & OPEN_TREE_CLONE) != 0 || (flags & ~kOpenTreeNamespaceFlags) != 0) {
    return MakeError(EINVAL, kOpenTreeOperation, fmt::format("{} flags {:#x}", DescribeSource(dirfd, path), flags));
  }
  const NamespaceStrategy strategy = ResolveStrategy(options.strategy);
  if (strategy == NamespaceStrategy::kNative) {
    // The bare syscall: nothing else on this path (the target is within 10%
    // of a direct open_tree call).
    auto ns = sys::OpenTree(dirfd, path.c_str(), flags | OPEN_TREE_NAMESPACE | OPEN_TREE_CLOEXEC);
    if (!ns) {
      ns.error().operation = kOpenTreeOperation;
      if (ns.error().code == EINVAL && !KernelFeatures().open_tree_namespace) {
        ns.error().argument += " (this kernel has no OPEN_TREE_NAMESPACE: it needs Linux 7.0; the template "
                               "and classic strategies emulate it)";
      }
    }
    return ns;
  }
  const std::string operation = kOpenTreeOperation;
  // Cloned here, in the caller's namespace: that is where `path` lives.
  auto tree = sys::OpenTree(dirfd, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (flags & kLookupFlags));
  if (!tree) {
    tree.error().operation = operation;
    return std::unexpected(tree.error());
  }
  if (auto r = RequireDirectory(tree->Get(), operation, DescribeSource(dirfd, path)); !r) {
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
  if (!ns) {
    Error& error = ns.error();
    error.argument = fmt::format("{} ({} strategy, {} {})", DescribeSource(dirfd, path), StrategyName(strategy),
                                 error.operation, error.argument);
    error.operation = operation;
  }
  return ns;
}

Result<UniqueFd> FsmountNamespace(int fs_fd, unsigned flags, unsigned attr_flags,
                                  const NamespaceOptions& options) {
  const std::string operation = "fsmount(FSMOUNT_NAMESPACE)";
  const std::string argument = fmt::format("fd {}", fs_fd);
  if ((flags & ~kFsmountNamespaceFlags) != 0) {
    return MakeError(EINVAL, operation, fmt::format("{} flags {:#x}", argument, flags));
  }
  const NamespaceStrategy strategy = ResolveStrategy(options.strategy);
  if (strategy == NamespaceStrategy::kNative) {
    auto ns = sys::FsMount(fs_fd, flags | FSMOUNT_NAMESPACE, attr_flags);
    if (!ns) {
      ns.error().operation = operation;
      if (ns.error().code == EINVAL && !KernelFeatures().fsmount_namespace) {
        ns.error().argument += " (this kernel has no FSMOUNT_NAMESPACE: it needs Linux 7.1; the template "
                               "and classic strategies emulate it)";
      }
    }
    return ns;
  }
  // A fresh superblock's root: private, no peers, as with FSMOUNT_NAMESPACE.
  auto root = sys::FsMount(fs_fd, 0, attr_flags);
  if (!root) {
    root.error().operation = operation;
    return std::unexpected(root.error());
  }
  if (auto r = RequireDirectory(root->Get(), operation, argument); !r) return std::unexpected(r.error());
  auto ns = FromDetachedTree(std::move(*root), false, strategy);
  if (!ns) {
    Error& error = ns.error();
    error.argument = fmt::format("{} ({} strategy, {} {})", argument, StrategyName(strategy), error.operation,
                                 error.argument);
    error.operation = operation;
  }
  return ns;
}

void StopNamespaceFactory() { internal::StopTemplateFactory(); }

}  // namespace mntns
