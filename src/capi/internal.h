// Shared by the C API's files (src/capi/): the error object, the exception
// barrier and the size-versioned struct copies. Nothing here is exported.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "mntns/error.h"
#include "mntns/mntns.h"
#include "mntns/namespace.h"

struct mntns_error {
  mntns::Error error;
  std::string message;  // error.Message(), made once for mntns_error_message
};

namespace mntns::capi {

// Stores `error` in *out (when out is not NULL) and returns -errno. An error
// whose code is not a positive errno becomes EIO: a C caller tells success
// from failure by the sign alone.
int Fail(Error error, mntns_error** out) noexcept;
inline int Fail(int code, std::string operation, std::string argument, mntns_error** out) noexcept {
  try {
    return Fail(Error{code, std::move(operation), std::move(argument), {}, {}}, out);
  } catch (...) {
    if (out != nullptr) *out = nullptr;
    return -(code > 0 ? code : EIO);
  }
}

// Runs `body` (which returns an integer result) so that no C++ exception
// reaches C: bad_alloc becomes -ENOMEM, anything else -EIO, each with an
// error object naming `operation` when one can still be made.
template <typename Body>
auto Guard(const char* operation, mntns_error** out, Body&& body) noexcept -> decltype(body()) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(ENOMEM, operation, "out of memory", out);
  } catch (...) {
    return Fail(EIO, operation, "unexpected C++ exception", out);
  }
}

// The size-versioned structs, read the way the kernel reads mnt_id_req and
// clone_args (copy_struct_from_user): `size` below the first version is
// EINVAL; above what this library knows is accepted when the unknown tail is
// zero (E2BIG otherwise); fields the caller's shorter struct lacks are zero.
template <typename T>
[[nodiscard]] int ReadSized(const T* user, std::size_t first_version_size, T& out) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  out = T{};
  if (user == nullptr) return -EINVAL;
  const std::uint32_t size = user->size;
  if (size < first_version_size) return -EINVAL;
  const auto* bytes = reinterpret_cast<const unsigned char*>(user);
  for (std::size_t i = sizeof(T); i < size; ++i) {
    if (bytes[i] != 0) return -E2BIG;
  }
  std::memcpy(&out, user, size < sizeof(T) ? size : sizeof(T));
  return 0;
}

// Writes `value` into the caller's struct: at most user->size bytes, and
// user->size then says how many were written.
template <typename T>
[[nodiscard]] int WriteSized(T* user, std::size_t first_version_size, const T& value) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  if (user == nullptr) return -EINVAL;
  const std::uint32_t size = user->size;
  if (size < first_version_size) return -EINVAL;
  const std::uint32_t written = size < sizeof(T) ? size : static_cast<std::uint32_t>(sizeof(T));
  std::memcpy(user, &value, written);
  user->size = written;
  return 0;
}

// MNTNS_STRATEGY_* to the C++ enum; EINVAL for anything else.
[[nodiscard]] Result<NamespaceStrategy> StrategyFromC(int strategy);
[[nodiscard]] int StrategyToC(NamespaceStrategy strategy) noexcept;

}  // namespace mntns::capi
