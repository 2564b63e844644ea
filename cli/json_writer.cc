#include "json_writer.h"

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

void JsonWriter::Newline() {
  constexpr std::size_t kFlushBytes = 64 * 1024;
  if (sink_ != nullptr && out_.size() >= kFlushBytes) Flush();
  static constexpr std::string_view kSpaces = "\n                                                  ";
  const std::size_t width = 1 + 2 * has_members_.size();
  if (width <= kSpaces.size()) {
    out_.append(kSpaces.substr(0, width));
  } else {
    out_.push_back('\n');
    for (std::size_t i = 0; i < has_members_.size(); ++i) out_.append(std::string_view("  "));
  }
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_members_.empty()) {
    if (has_members_.back()) out_.push_back(',');
    has_members_.back() = true;
    Newline();
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
  if (had_members) Newline();
  out_.push_back(bracket);
}

void JsonWriter::String(std::string_view text) {
  BeforeValue();
  WriteQuoted(text);
}

void JsonWriter::WriteQuoted(std::string_view text) {
  out_.push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    // Copy the longest run that needs no escaping in one append.
    std::size_t run = i;
    while (run < text.size()) {
      const unsigned char c = static_cast<unsigned char>(text[run]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
      ++run;
    }
    if (run > i) {
      out_.append(text.substr(i, run - i));
      i = run;
      if (i == text.size()) break;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out_.append(std::string_view("\\\"")); ++i; continue;
      case '\\': out_.append(std::string_view("\\\\")); ++i; continue;
      case '\n': out_.append(std::string_view("\\n")); ++i; continue;
      case '\t': out_.append(std::string_view("\\t")); ++i; continue;
      case '\r': out_.append(std::string_view("\\r")); ++i; continue;
      default: break;
    }
    if (c < 0x20) {
      fmt::format_to(std::back_inserter(out_), "\\u{:04x}", c);
      ++i;
      continue;
    }
    const std::size_t length = Utf8SequenceLength(text.substr(i));
    if (length == 0) {
      out_.append(std::string_view("\xEF\xBF\xBD"));  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out_.append(text.substr(i, length));
      i += length;
    }
  }
  out_.push_back('"');
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
