// The single place where errno values become text (STYLE.md rule 1).
#include "mntns/error.h"

#include <cstring>

#include <fmt/format.h>

namespace mntns {

std::string ErrnoName(int code) {
  // strerrorname_np (glibc >= 2.32) knows every errno glibc knows.
  if (const char* name = ::strerrorname_np(code); name != nullptr) return name;
  return fmt::format("E{}", code);
}

std::string QuotePath(std::string_view path) {
  // Error text reaches terminals: a control character in a path (newline,
  // escape) is written \xNN instead of acting on the terminal.
  std::string out = "\"";
  for (char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string Error::Message() const {
  std::string text = operation;
  if (!argument.empty()) text += " " + argument;
  text += fmt::format(": {} ({})", ::strerrordesc_np(code) ? ::strerrordesc_np(code) : "Unknown error",
                      ErrnoName(code));
  if (!kernel_log.empty()) text += "\n  kernel: " + kernel_log;
  return text;
}

std::unexpected<Error> MakeError(int code, std::string operation, std::string argument) {
  return std::unexpected(Error{code, std::move(operation), std::move(argument), {}});
}

}  // namespace mntns
