// Error and Result<T>: how every fallible mntns call reports failure.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "mntns/export.h"

namespace mntns {

// A failed operation. Keeps the raw errno (never folded into generic codes),
// the operation that failed (usually the syscall or the mntns verb, e.g.
// "statmount" or "stat"), its key argument (a path, an id, an fd) and, for the
// fs_context API, the messages the kernel logged on the context.
struct MNTNS_EXPORT Error {
  int code = 0;             // errno value, e.g. ENOENT
  std::string operation;    // e.g. "open_tree"
  std::string argument;     // e.g. "\"/nope\"" or "mnt_id=0x1234"; may be empty
  std::string kernel_log;   // fs_context log lines ("e tmpfs: Bad value..."), may be empty
  // What the callers were doing, innermost first (see Wrap); may be empty.
  std::vector<std::string> context;

  // Adds what the caller was doing around the failed operation (e.g.
  // `sandbox --bind "/a"`), outside every context added before, and returns
  // *this. The failed operation, its argument and the errno stay as they are:
  // each level adds its words instead of rewriting the error.
  Error& Wrap(std::string what);

  // The contexts outermost first, then `operation argument: strerror (ENAME)`,
  // then the kernel log, e.g. `stat "/nope": No such file or directory
  // (ENOENT)` or, wrapped twice, `run: --bind "/a": stat "/a": No such file or
  // directory (ENOENT)`. Control characters in any part (C0, DEL, C1) are
  // written \xNN: the text reaches terminals.
  [[nodiscard]] std::string Message() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// A Result<void> success value, for readability at return sites.
inline constexpr std::expected<void, Error> kOk{};

// Builds the unexpected value for `return MakeError(...)`. `code` is an errno.
[[nodiscard]] MNTNS_EXPORT std::unexpected<Error> MakeError(int code, std::string operation,
                                               std::string argument = {});

// Quotes a path for error text: `"/tmp/a b"`; `"` and `\` get a backslash,
// control characters (C0 such as newline and escape, DEL, C1) are written \xNN.
[[nodiscard]] MNTNS_EXPORT std::string QuotePath(std::string_view path);

// The symbolic name of an errno value ("ENOENT"), or "E<number>" if unknown.
[[nodiscard]] MNTNS_EXPORT std::string ErrnoName(int code);

}  // namespace mntns
