#include "json_writer.h"

#include <cstring>

namespace mntns::cli {
namespace {

// Length of the valid UTF-8 sequence at the start of `text`, or 0.
std::size_t Utf8SequenceLength(std::string_view text) {
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

}  // namespace

void JsonWriter::Flush() {
  if (sink_ == nullptr) return;
  std::fwrite(out_.data(), 1, out_.size(), sink_);
  out_.clear();
}

// Grows `out` by up to `most` bytes and returns where they go; Commit() then
// sets the size to what was written. One capacity check per value instead of
// one per appended piece (a 30,000-mount listing is ~20 MB of JSON).
char* JsonWriter::Extend(std::size_t most) {
  const std::size_t size = out_.size();
  out_.resize(size + most);
  return out_.data() + size;
}

void JsonWriter::Commit(const char* end) { out_.resize(static_cast<std::size_t>(end - out_.data())); }

void JsonWriter::Newline(bool comma) {
  constexpr std::size_t kFlushBytes = 64 * 1024;
  if (sink_ != nullptr && out_.size() >= kFlushBytes) Flush();
  const std::size_t indent = 2 * has_members_.size();
  char* p = Extend(indent + 2);
  if (comma) *p++ = ',';
  *p++ = '\n';
  std::memset(p, ' ', indent);
  Commit(p + indent);
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_members_.empty()) {
    const bool comma = has_members_.back();
    has_members_.back() = true;
    Newline(comma);
  }
}

void JsonWriter::Key(std::string_view key) {
  BeforeValue();
  WriteQuoted(key);
  out_.append(std::string_view(": "));
  after_key_ = true;
}

void JsonWriter::Open(char bracket) {
  BeforeValue();
  out_.push_back(bracket);
  has_members_.push_back(false);
}

void JsonWriter::Close(char bracket) {
  const bool had_members = has_members_.back();
  has_members_.pop_back();
  if (had_members) Newline(false);
  out_.push_back(bracket);
}

void JsonWriter::String(std::string_view text) {
  BeforeValue();
  WriteQuoted(text);
}

void JsonWriter::WriteQuoted(std::string_view text) {
  // At most 6 bytes per input byte (\u001f); U+FFFD for one bad byte is 3.
  char* p = Extend(text.size() * 6 + 2);
  *p++ = '"';
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      *p++ = static_cast<char>(c);
      ++i;
      continue;
    }
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
  Commit(p);
}

void JsonWriter::Number(std::uint64_t value) {
  BeforeValue();
  const fmt::format_int digits(value);  // no format-string parsing: ids are most of the numbers
  out_.append(std::string_view(digits.data(), digits.size()));
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  out_.append(value ? std::string_view("true") : std::string_view("false"));
}

void JsonWriter::Null() {
  BeforeValue();
  out_.append(std::string_view("null"));
}

void JsonWriter::Strings(std::span<const std::string> values) {
  BeginArray();
  for (const std::string& value : values) String(value);
  EndArray();
}

}  // namespace mntns::cli
