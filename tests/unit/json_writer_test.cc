#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "output/json_writer.h"

namespace mntns::cli {
namespace {

std::string Text(const fmt::memory_buffer& buffer) { return std::string(buffer.data(), buffer.size()); }

TEST(JsonWriter, PrettyPrintsLikeNlohmannDumpTwo) {
  fmt::memory_buffer out;
  JsonWriter json(out);
  json.BeginObject();
  json.Field("a", std::uint64_t{1});
  json.Field("b", std::vector<std::string>{"x", "y"});
  json.Field("c", std::vector<std::string>{});
  json.Field("d", nullptr);
  json.Field("e", true);
  json.EndObject();
  const auto parsed = nlohmann::ordered_json::parse(Text(out));
  EXPECT_EQ(Text(out), parsed.dump(2));
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  fmt::memory_buffer out;
  JsonWriter json(out);
  json.String(std::string("a\"b\\c\nd\te\x01\r\x1f", 12));
  EXPECT_EQ(Text(out), R"("a\"b\\c\nd\te\u0001\r\u001f")");
}

TEST(JsonWriter, KeepsValidUtf8AndReplacesInvalidBytes) {
  fmt::memory_buffer out;
  JsonWriter json(out);
  json.String("caf\xC3\xA9 \xFF \xC3");
  EXPECT_EQ(Text(out), "\"caf\xC3\xA9 \xEF\xBF\xBD \xEF\xBF\xBD\"");
  EXPECT_TRUE(nlohmann::json::accept(Text(out)));
}

// Long strings are scanned 16 bytes at a time: every position of a byte that
// needs care, in the first and the later chunks and in the tail, must be found.
TEST(JsonWriter, EscapesAtEveryPositionOfALongString) {
  const std::vector<std::string> specials = {"\"", "\\", "\n", "\x01", "\x1f", "\x7f", "caf\xC3\xA9", "\xE2\x82\xAC"};
  for (std::size_t position = 0; position < 40; ++position) {
    for (const std::string& special : specials) {
      const std::string text = std::string(position, 'a') + special + std::string(40 - position, 'b');
      fmt::memory_buffer out;
      JsonWriter(out).String(text);
      EXPECT_EQ(nlohmann::json::parse(Text(out)).get<std::string>(), text) << Text(out);
    }
    const std::string invalid = std::string(position, 'a') + "\xFF" + std::string(40 - position, 'b');
    fmt::memory_buffer out;
    JsonWriter(out).String(invalid);
    EXPECT_EQ(nlohmann::json::parse(Text(out)).get<std::string>(),
              std::string(position, 'a') + "\xEF\xBF\xBD" + std::string(40 - position, 'b'));
  }
}

TEST(JsonWriter, ContinuesAnArrayAnotherWriterStarted) {
  fmt::memory_buffer whole;
  {
    JsonWriter json(whole);
    json.BeginArray();
    json.Number(1);
    json.Number(2);
    json.EndArray();
  }
  fmt::memory_buffer first;
  fmt::memory_buffer second;
  JsonWriter(first, 1, false).Number(1);
  JsonWriter(second, 1, true).Number(2);
  EXPECT_EQ("[" + Text(first) + Text(second) + "\n]", Text(whole));
}

}  // namespace
}  // namespace mntns::cli
