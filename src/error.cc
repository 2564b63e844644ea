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

namespace {

// Error text reaches terminals, and much of it is the user's (paths, JSON
// keys, option values) or a filesystem's (the fs_context log): C0 controls
// (newline, escape), DEL and C1 controls (U+0080..U+009F, 0xC2 0x80..0x9F)
// are written \xNN instead of acting on the terminal. With `quote`, '"' and
// '\\' get a backslash too.
std::string WithoutControls(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const bool c1 = byte == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (byte < 0x20 || byte == 0x7f || c1) {
      out += fmt::format("\\x{:02x}", byte);
      if (c1) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[++i]));
      continue;
    }
    if (quote && (byte == '"' || byte == '\\')) out += '\\';
    out += text[i];
  }
  return out;
}

}  // namespace

std::string QuotePath(std::string_view path) { return "\"" + WithoutControls(path, true) + "\""; }

Error& Error::Wrap(std::string what) {
  context.push_back(std::move(what));
  return *this;
}

std::string Error::Message() const {
  std::string text;
  for (auto it = context.rbegin(); it != context.rend(); ++it) {
    if (!it->empty()) text += WithoutControls(*it, false) + ": ";
  }
  text += WithoutControls(operation, false);
  if (!argument.empty()) text += " " + WithoutControls(argument, false);
  text += fmt::format(": {} ({})", ::strerrordesc_np(code) ? ::strerrordesc_np(code) : "Unknown error",
                      ErrnoName(code));
  if (!kernel_log.empty()) text += "\n  kernel: " + WithoutControls(kernel_log, false);
  return text;
}

std::unexpected<Error> MakeError(int code, std::string operation, std::string argument) {
  return std::unexpected(Error{code, std::move(operation), std::move(argument), {}, {}});
}

}  // namespace mntns
