// A streaming JSON writer for large outputs (`ls --json` of 100,000 mounts):
// no DOM, no per-key allocation, one buffer. Pretty-prints with two-space
// indentation like nlohmann::json::dump(2).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace mntns::cli {

// Length of the valid UTF-8 sequence at the start of `text` (1 for ASCII), or
// 0 where it does not start with one (overlong forms and surrogates are invalid).
[[nodiscard]] std::size_t Utf8SequenceLength(std::string_view text);
[[nodiscard]] bool IsValidUtf8(std::string_view text);
// "2f74ff": two lowercase hex digits per byte. For the `*_hex` JSON keys that
// carry a string's exact bytes where the string is not valid UTF-8.
[[nodiscard]] std::string HexBytes(std::string_view text);

class JsonWriter {
 public:
  explicit JsonWriter(fmt::memory_buffer& out) : out_(out) {}

  // Continues a document another writer started: values written here are
  // members of a container `depth` levels deep that already has members when
  // `container_has_members` (so the first one gets its comma). For rendering
  // parts of one big array on several threads.
  JsonWriter(fmt::memory_buffer& out, std::size_t depth, bool container_has_members)
      : out_(out), has_members_(depth, 1) {
    if (depth > 0) has_members_.back() = container_has_members ? 1 : 0;
  }

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // The key of the next value inside an object.
  void Key(std::string_view key);

  // Bytes that are not valid UTF-8 (paths may hold any byte) become U+FFFD:
  // JSON text must be UTF-8. Callers that must stay lossless add a `*_hex`
  // key with HexBytes() beside such a string.
  void String(std::string_view text);
  void Number(std::uint64_t value);
  void Bool(bool value);
  void Null();
  void Strings(std::span<const std::string> values);

  template <typename T>
  void Field(std::string_view key, const T& value) {
    Key(key);
    Value(value);
  }

 private:
  void Value(std::string_view text) { String(text); }
  void Value(const std::string& text) { String(text); }
  void Value(const char* text) { String(text); }
  void Value(std::uint64_t value) { Number(value); }
  void Value(std::uint32_t value) { Number(value); }
  void Value(bool value) { Bool(value); }
  void Value(std::nullptr_t) { Null(); }
  void Value(const std::vector<std::string>& values) { Strings(values); }

  // Room for a value of up to `most` bytes, after the comma, newline and
  // indentation it needs; Commit() then says where the value ended. One
  // capacity check per value, not one per piece (a 30,000-mount listing is
  // ~20 MB of JSON, ~20 values per mount).
  char* BeginValue(std::size_t most);
  char* Extend(std::size_t most);
  void Commit(const char* end);
  void Literal(std::string_view text);
  static char* WriteQuoted(char* p, std::string_view text);
  void Open(char bracket);
  void Close(char bracket);

  fmt::memory_buffer& out_;
  // Per open container: whether it has members yet (char, not the slower bit vector).
  std::vector<char> has_members_;
  bool after_key_ = false;
};

}  // namespace mntns::cli
