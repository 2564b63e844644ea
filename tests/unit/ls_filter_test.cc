// The matching rules of `mntns ls` filters and findmnt's size format.
#include <gtest/gtest.h>

#include "ls_filter.h"
#include "output/mount_output.h"

namespace mntns {
namespace {

TEST(HumanSize, WritesBytesBelowOneKibibyteWithoutASuffix) {
  EXPECT_EQ(cli::HumanSize(0), "0");
  EXPECT_EQ(cli::HumanSize(1023), "1023");
}

TEST(HumanSize, RoundsToOneDecimalAndDropsAZeroFraction) {
  EXPECT_EQ(cli::HumanSize(4096), "4K");
  EXPECT_EQ(cli::HumanSize(1536 * 1024), "1.5M");
  EXPECT_EQ(cli::HumanSize(2047 * 1024), "2M");  // 1.999 rounds up into the integer part
  EXPECT_EQ(cli::HumanSize(303104), "296K");
}

TEST(MatchesTypes, ALeadingNoNegatesTheWholeList) {
  EXPECT_FALSE(cli::MatchesTypes("sysfs", "nosysfs,proc"));
  EXPECT_FALSE(cli::MatchesTypes("proc", "nosysfs,proc"));
  EXPECT_TRUE(cli::MatchesTypes("tmpfs", "nosysfs,proc"));
}

TEST(MatchesTypes, ANoItemRejectsOnlyItsType) {
  EXPECT_TRUE(cli::MatchesTypes("tmpfs", "tmpfs,noproc"));
  EXPECT_FALSE(cli::MatchesTypes("proc", "tmpfs,noproc"));
  EXPECT_FALSE(cli::MatchesTypes("ext4", "tmpfs,noproc"));
  EXPECT_TRUE(cli::MatchesTypes("tmpfs", "TMPFS"));
}

TEST(MatchesOptions, EveryItemMustHold) {
  EXPECT_TRUE(cli::MatchesOptions("rw,noexec,relatime,size=2048k", "noexec,size=2048k"));
  EXPECT_FALSE(cli::MatchesOptions("rw,noexec,relatime,size=2048k", "noexec,size=2"));
  // "noX" asks for X to be absent; "+noX" for the option "noX" itself.
  EXPECT_TRUE(cli::MatchesOptions("rw,relatime", "noexec"));
  EXPECT_FALSE(cli::MatchesOptions("rw,relatime", "+noexec"));
  EXPECT_FALSE(cli::MatchesOptions("ro,relatime", "norelatime"));
}

TEST(NormalPath, DropsRepeatedAndTrailingSlashesAndDots) {
  EXPECT_EQ(cli::NormalPath("//a/./b//"), "/a/b");
  EXPECT_EQ(cli::NormalPath("/"), "/");
}

TEST(TreeOrder, ANestedChainIsOrderedParentFirstWithOneMoreLevelEachRow) {
  // Deep enough to matter, small enough for the VM: each row's prefix is two
  // bytes per level, so the output of a chain grows with its square.
  std::vector<cli::TreeRow> rows;
  for (std::uint32_t i = 1; i <= 3000; ++i) rows.push_back({i, i == 1 ? 1 : i - 1});
  const auto order = cli::TreeOrder(rows, true);
  ASSERT_EQ(order.size(), rows.size());
  for (std::size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i].first, i);
  EXPECT_EQ(order[2].second, "  `-");
}

}  // namespace
}  // namespace mntns
