// The C API's error objects (mntns.h): an mntns::Error behind an opaque
// pointer, and the one place where a C call's failure becomes -errno.
#include <cerrno>

#include "capi/internal.h"

namespace mntns::capi {

int Fail(Error error, mntns_error** out) noexcept {
  const int code = error.code > 0 ? error.code : EIO;
  if (out == nullptr) return -code;
  try {
    auto* object = new mntns_error{std::move(error), {}};
    object->error.code = code;
    object->message = object->error.Message();
    *out = object;
  } catch (...) {
    // No memory for the object: the caller still has the errno.
    *out = nullptr;
  }
  return -code;
}

Result<NamespaceStrategy> StrategyFromC(int strategy) {
  switch (strategy) {
    case MNTNS_STRATEGY_AUTO:
      return NamespaceStrategy::kAuto;
    case MNTNS_STRATEGY_NATIVE:
      return NamespaceStrategy::kNative;
    case MNTNS_STRATEGY_TEMPLATE:
      return NamespaceStrategy::kTemplate;
    case MNTNS_STRATEGY_CLASSIC:
      return NamespaceStrategy::kClassic;
    default:
      return MakeError(EINVAL, "strategy", std::to_string(strategy) + " is not an MNTNS_STRATEGY_* value");
  }
}

int StrategyToC(NamespaceStrategy strategy) noexcept {
  switch (strategy) {
    case NamespaceStrategy::kAuto:
      return MNTNS_STRATEGY_AUTO;
    case NamespaceStrategy::kNative:
      return MNTNS_STRATEGY_NATIVE;
    case NamespaceStrategy::kTemplate:
      return MNTNS_STRATEGY_TEMPLATE;
    case NamespaceStrategy::kClassic:
      return MNTNS_STRATEGY_CLASSIC;
  }
  return -EINVAL;
}

}  // namespace mntns::capi

extern "C" {

int mntns_error_code(const mntns_error* error) { return error != nullptr ? error->error.code : 0; }

const char* mntns_error_operation(const mntns_error* error) {
  return error != nullptr ? error->error.operation.c_str() : "";
}

const char* mntns_error_argument(const mntns_error* error) {
  return error != nullptr ? error->error.argument.c_str() : "";
}

const char* mntns_error_kernel_log(const mntns_error* error) {
  return error != nullptr ? error->error.kernel_log.c_str() : "";
}

const char* mntns_error_message(const mntns_error* error) { return error != nullptr ? error->message.c_str() : ""; }

void mntns_error_free(mntns_error* error) { delete error; }

}  // extern "C"
