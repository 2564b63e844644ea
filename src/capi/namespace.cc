// The C API's namespace calls (mntns.h): OpenTreeNamespace and
// FsmountNamespace with the strategy choice, and the mount-API calls a
// runtime needs to fill and enter the namespace (tree.h).
#include <cerrno>
#include <string>

#include "capi/internal.h"
#include "mntns/namespace.h"
#include "mntns/tree.h"

namespace mntns::capi {
namespace {

Result<NamespaceOperation> OperationFromC(int operation) {
  switch (operation) {
    case MNTNS_OPERATION_OPEN_TREE_NAMESPACE:
      return NamespaceOperation::kOpenTreeNamespace;
    case MNTNS_OPERATION_FSMOUNT_NAMESPACE:
      return NamespaceOperation::kFsmountNamespace;
    default:
      return MakeError(EINVAL, "operation", std::to_string(operation) + " is not an MNTNS_OPERATION_* value");
  }
}

// An fd result handed to C: the caller owns it from here.
int HandOver(Result<UniqueFd> fd, mntns_error** error) {
  if (!fd) return Fail(std::move(fd.error()), error);
  return fd->Release();
}

int NullArgument(const char* operation, const char* name, mntns_error** error) {
  return Fail(EINVAL, operation, std::string(name) + " is NULL", error);
}

}  // namespace
}  // namespace mntns::capi

extern "C" {

const char* mntns_strategy_name(int strategy) {
  auto parsed = mntns::capi::StrategyFromC(strategy);
  // StrategyName's views point at string literals.
  return parsed ? mntns::StrategyName(*parsed).data() : nullptr;
}

int mntns_parse_strategy(const char* name) {
  return mntns::capi::Guard("mntns_parse_strategy", nullptr, [&]() -> int {
    if (name == nullptr) return -EINVAL;
    auto strategy = mntns::ParseStrategy(name);
    return strategy ? mntns::capi::StrategyToC(*strategy) : -EINVAL;
  });
}

int mntns_resolve_strategy(int operation, int strategy) {
  return mntns::capi::Guard("mntns_resolve_strategy", nullptr, [&]() -> int {
    auto parsed_operation = mntns::capi::OperationFromC(operation);
    auto parsed_strategy = mntns::capi::StrategyFromC(strategy);
    if (!parsed_operation || !parsed_strategy) return -EINVAL;
    return mntns::capi::StrategyToC(mntns::ResolveStrategy(*parsed_operation, *parsed_strategy));
  });
}

int mntns_open_tree_namespace(int dirfd, const char* path, unsigned int flags, int strategy, mntns_error** error) {
  return mntns::capi::Guard("mntns_open_tree_namespace", error, [&]() -> int {
    if (path == nullptr) return mntns::capi::NullArgument("mntns_open_tree_namespace", "path", error);
    auto parsed = mntns::capi::StrategyFromC(strategy);
    if (!parsed) return mntns::capi::Fail(std::move(parsed.error()), error);
    return mntns::capi::HandOver(mntns::OpenTreeNamespace(dirfd, path, flags, {.strategy = *parsed}), error);
  });
}

int mntns_fsmount_namespace(int fs_fd, unsigned int flags, unsigned int attr_flags, int strategy,
                            mntns_error** error) {
  return mntns::capi::Guard("mntns_fsmount_namespace", error, [&]() -> int {
    auto parsed = mntns::capi::StrategyFromC(strategy);
    if (!parsed) return mntns::capi::Fail(std::move(parsed.error()), error);
    return mntns::capi::HandOver(mntns::FsmountNamespace(fs_fd, flags, attr_flags, {.strategy = *parsed}), error);
  });
}

int mntns_open_tree(int dirfd, const char* path, unsigned int flags, mntns_error** error) {
  return mntns::capi::Guard("mntns_open_tree", error, [&]() -> int {
    if (path == nullptr) return mntns::capi::NullArgument("open_tree", "path", error);
    return mntns::capi::HandOver(mntns::OpenTree(dirfd, path, flags), error);
  });
}

int mntns_move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path, unsigned int flags,
                     mntns_error** error) {
  return mntns::capi::Guard("mntns_move_mount", error, [&]() -> int {
    if (from_path == nullptr || to_path == nullptr) {
      return mntns::capi::NullArgument("move_mount", from_path == nullptr ? "from_path" : "to_path", error);
    }
    auto moved = mntns::MoveMount(from_dirfd, from_path, to_dirfd, to_path, flags);
    return moved ? 0 : mntns::capi::Fail(std::move(moved.error()), error);
  });
}

int mntns_enter_namespace(int ns_fd, mntns_error** error) {
  return mntns::capi::Guard("mntns_enter_namespace", error, [&]() -> int {
    auto entered = mntns::EnterMountNamespace(ns_fd);
    return entered ? 0 : mntns::capi::Fail(std::move(entered.error()), error);
  });
}

int mntns_namespace_id(int ns_fd, uint64_t* id, mntns_error** error) {
  return mntns::capi::Guard("mntns_namespace_id", error, [&]() -> int {
    if (id == nullptr) return mntns::capi::NullArgument("ioctl(NS_GET_MNTNS_ID)", "id", error);
    auto got = mntns::MountNamespaceId(ns_fd);
    if (!got) return mntns::capi::Fail(std::move(got.error()), error);
    *id = *got;
    return 0;
  });
}

int64_t mntns_count_mounts(int ns_fd, mntns_error** error) {
  return mntns::capi::Guard("mntns_count_mounts", error, [&]() -> int64_t {
    auto count = mntns::CountMountsInNamespace(ns_fd);
    if (!count) return mntns::capi::Fail(std::move(count.error()), error);
    return static_cast<int64_t>(*count);
  });
}

}  // extern "C"
