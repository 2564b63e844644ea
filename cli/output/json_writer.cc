#include "output/json_writer.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mntns::cli {
namespace {

// Bytes copied into a JSON string as they are: printable ASCII but '"' and '\\'.
bool IsPlain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

// How many bytes at the start of `text` are plain; 16 at a time where SSE2 is
// there (x86-64 always has it): paths and options are almost all plain.
std::size_t PlainPrefix(std::string_view text) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= text.size(); i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    // Signed: bytes from 0x80 up are negative, so "below space" also finds non-ASCII.
    const __m128i special = _mm_or_si128(_mm_cmplt_epi8(bytes, space),
                                         _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)));
    const int found = _mm_movemask_epi8(special);
    if (found != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(found)));
  }
#endif
  while (i < text.size() && IsPlain(static_cast<unsigned char>(text[i]))) ++i;
  return i;
}

}  // namespace

std::size_t Utf8SequenceLength(std::string_view text) {
  if (text.empty()) return 0;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length;
  std::uint32_t code;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3F);
  }
  const bool overlong = (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
  const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
  if (overlong || surrogate || code > 0x10FFFF) return 0;
  return length;
}

bool IsValidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = Utf8SequenceLength(text.substr(i));
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string HexBytes(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(text.size() * 2);
  for (unsigned char c : text) {
    hex += kHex[c >> 4];
    hex += kHex[c & 0xF];
  }
  return hex;
}

char* JsonWriter::Extend(std::size_t most) {
  const std::size_t size = out_.size();
  out_.resize(size + most);
  return out_.data() + size;
}

void JsonWriter::Commit(const char* end) { out_.resize(static_cast<std::size_t>(end - out_.data())); }

char* JsonWriter::BeginValue(std::size_t most) {
  if (after_key_) {
    after_key_ = false;
    return Extend(most);
  }
  if (has_members_.empty()) return Extend(most);
  const bool comma = has_members_.back() != 0;
  has_members_.back() = 1;
  const std::size_t indent = 2 * has_members_.size();
  char* p = Extend(indent + 2 + most);
  if (comma) *p++ = ',';
  *p++ = '\n';
  std::memset(p, ' ', indent);
  return p + indent;
}

void JsonWriter::Key(std::string_view key) {
  // At most 6 bytes per key byte (\u001f), the quotes and ": ".
  char* p = WriteQuoted(BeginValue(key.size() * 6 + 4), key);
  std::memcpy(p, ": ", 2);
  Commit(p + 2);
  after_key_ = true;
}

void JsonWriter::Open(char bracket) {
  char* p = BeginValue(1);
  *p = bracket;
  Commit(p + 1);
  has_members_.push_back(0);
}

void JsonWriter::Close(char bracket) {
  const bool had_members = has_members_.back() != 0;
  has_members_.pop_back();
  if (had_members) {
    const std::size_t indent = 2 * has_members_.size();
    char* p = Extend(indent + 2);
    *p++ = '\n';
    std::memset(p, ' ', indent);
    p[indent] = bracket;
    Commit(p + indent + 1);
  } else {
    out_.push_back(bracket);
  }
}

void JsonWriter::String(std::string_view text) {
  // At most 6 bytes per input byte (\u001f); U+FFFD for one bad byte is 3.
  Commit(WriteQuoted(BeginValue(text.size() * 6 + 2), text));
}

char* JsonWriter::WriteQuoted(char* p, std::string_view text) {
  *p++ = '"';
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t plain = PlainPrefix(text.substr(i));
    std::memcpy(p, text.data() + i, plain);
    p += plain;
    i += plain;
    if (i == text.size()) break;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const char* escape = nullptr;
    switch (c) {
      case '"': escape = "\\\""; break;
      case '\\': escape = "\\\\"; break;
      case '\n': escape = "\\n"; break;
      case '\t': escape = "\\t"; break;
      case '\r': escape = "\\r"; break;
      default: break;
    }
    if (escape != nullptr) {
      *p++ = escape[0];
      *p++ = escape[1];
      ++i;
      continue;
    }
    if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      std::memcpy(p, "\\u00", 4);
      p[4] = kHex[c >> 4];
      p[5] = kHex[c & 0xF];
      p += 6;
      ++i;
      continue;
    }
    const std::size_t length = Utf8SequenceLength(text.substr(i));
    if (length == 0) {
      std::memcpy(p, "\xEF\xBF\xBD", 3);  // U+FFFD REPLACEMENT CHARACTER
      p += 3;
      ++i;
    } else {
      std::memcpy(p, text.data() + i, length);
      p += length;
      i += length;
    }
  }
  *p++ = '"';
  return p;
}

void JsonWriter::Number(std::uint64_t value) {
  const fmt::format_int digits(value);  // no format-string parsing: ids are most of the numbers
  char* p = BeginValue(digits.size());
  std::memcpy(p, digits.data(), digits.size());
  Commit(p + digits.size());
}

void JsonWriter::Bool(bool value) { Literal(value ? "true" : "false"); }

void JsonWriter::Null() { Literal("null"); }

void JsonWriter::Literal(std::string_view text) {
  char* p = BeginValue(text.size());
  std::memcpy(p, text.data(), text.size());
  Commit(p + text.size());
}

void JsonWriter::Strings(std::span<const std::string> values) {
  BeginArray();
  for (const std::string& value : values) String(value);
  EndArray();
}

}  // namespace mntns::cli
