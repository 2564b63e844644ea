// The statmount buffer decoder on buffers the kernel would never fill: it
// reads only inside them (tests/fuzz/fuzz_statmount.cc fuzzes the same).
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "query/statmount.h"

namespace mntns {
namespace {

// A struct statmount followed by `table`, with `size` = all of it.
std::vector<std::byte> Buffer(const sys::RawStatmount& header, const std::string& table) {
  std::vector<std::byte> bytes(sizeof header + table.size());
  std::memcpy(bytes.data(), &header, sizeof header);
  std::memcpy(bytes.data() + sizeof header, table.data(), table.size());
  auto* raw = reinterpret_cast<sys::RawStatmount*>(bytes.data());
  if (raw->size == 0) raw->size = static_cast<std::uint32_t>(bytes.size());
  return bytes;
}

TEST(DecodeStatmount, WellFormedBufferGivesEveryString) {
  sys::RawStatmount header{};
  header.mask = field::kMntPoint | field::kFsType | field::kOptArray;
  const std::string table("/tmp\0tmpfs\0size=1k\0mode=755\0", 28);
  header.mnt_point = 0;
  header.fs_type = 5;
  header.opt_array = 11;
  header.opt_num = 2;
  const Mount mount = internal::DecodeStatmount(Buffer(header, table));
  EXPECT_EQ(mount.point, "/tmp");
  EXPECT_EQ(mount.fs_type, "tmpfs");
  EXPECT_EQ(mount.fs_option_array, (std::vector<std::string>{"size=1k", "mode=755"}));
  EXPECT_EQ(mount.mask, header.mask);
}

TEST(DecodeStatmount, StringOffsetPastTheBufferLeavesTheFieldOut) {
  sys::RawStatmount header{};
  header.mask = field::kMntPoint | field::kFsType;
  header.mnt_point = 0x7fffffff;
  header.fs_type = 0;
  const Mount mount = internal::DecodeStatmount(Buffer(header, std::string("tmpfs\0", 6)));
  EXPECT_EQ(mount.point, "");
  EXPECT_FALSE(mount.Has(field::kMntPoint));
  EXPECT_EQ(mount.fs_type, "tmpfs");
}

TEST(DecodeStatmount, UnterminatedStringLeavesTheFieldOut) {
  sys::RawStatmount header{};
  header.mask = field::kMntRoot;
  const Mount mount = internal::DecodeStatmount(Buffer(header, "no terminator"));
  EXPECT_FALSE(mount.Has(field::kMntRoot));
  EXPECT_EQ(mount.root, "");
}

TEST(DecodeStatmount, StringsEndAtTheSizeTheKernelReports) {
  sys::RawStatmount header{};
  header.mask = field::kMntRoot;
  // size counts only "/a" without its NUL: the rest of the buffer is not the call's.
  header.size = sizeof header + 2;
  const Mount mount = internal::DecodeStatmount(Buffer(header, std::string("/a\0", 3)));
  EXPECT_FALSE(mount.Has(field::kMntRoot));
}

TEST(DecodeStatmount, ArrayCountBeyondTheTableLeavesTheArrayOutWithoutAllocatingIt) {
  sys::RawStatmount header{};
  header.mask = field::kOptArray | field::kMntUidmap;
  header.opt_array = 0;
  header.opt_num = 0xffffffff;  // would be 4 billion strings
  header.mnt_uidmap = 0;
  header.mnt_uidmap_num = 3;  // more entries than the table has
  const Mount mount = internal::DecodeStatmount(Buffer(header, std::string("a\0b\0", 4)));
  EXPECT_FALSE(mount.Has(field::kOptArray));
  EXPECT_TRUE(mount.fs_option_array.empty());
  EXPECT_FALSE(mount.Has(field::kMntUidmap));
  EXPECT_TRUE(mount.uid_map.empty());
}

TEST(DecodeStatmount, BufferShorterThanTheStructDecodesNothing) {
  const std::vector<std::byte> bytes(100, std::byte{0xff});
  const Mount mount = internal::DecodeStatmount(bytes);
  EXPECT_EQ(mount.mask, 0u);
  EXPECT_EQ(mount.point, "");
}

}  // namespace
}  // namespace mntns
