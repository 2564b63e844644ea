#include <sys/mount.h>

#include <gtest/gtest.h>

#include "mntns/query.h"

namespace mntns {
namespace {

TEST(MountinfoParser, ReadsEveryFieldOfAPlainLine) {
  auto mount = ParseMountinfoLine(
      "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(mount->old_id, 36U);
  EXPECT_EQ(mount->old_parent_id, 35U);
  EXPECT_EQ(mount->sb_dev_major, 98U);
  EXPECT_EQ(mount->sb_dev_minor, 0U);
  EXPECT_EQ(mount->root, "/mnt1");
  EXPECT_EQ(mount->point, "/mnt/parent");
  EXPECT_EQ(mount->attr, static_cast<std::uint64_t>(MOUNT_ATTR_NOATIME));
  EXPECT_EQ(mount->propagation, static_cast<std::uint64_t>(MS_SLAVE));
  EXPECT_EQ(mount->master, 1U);
  EXPECT_EQ(mount->fs_type, "ext3");
  EXPECT_EQ(mount->sb_source, "/dev/root");
  EXPECT_EQ(mount->fs_options, "errors=continue");
  EXPECT_EQ(mount->fs_option_array, std::vector<std::string>{"errors=continue"});
  EXPECT_EQ(mount->sb_flags, 0U);
  EXPECT_EQ(mount->id, 0U) << "mountinfo has no unique ids";
}

TEST(MountinfoParser, DecodesOctalEscapesInPathsAndSource) {
  auto mount = ParseMountinfoLine(
      "40 1 0:50 /a\\134b /mnt/with\\040space\\011tab\\012nl rw,relatime - tmpfs my\\040src rw");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(mount->root, "/a\\b");
  EXPECT_EQ(mount->point, "/mnt/with space\ttab\nnl");
  EXPECT_EQ(mount->sb_source, "my src");
}

TEST(MountinfoParser, KeepsSuperOptionsEscapedLikeStatmountButUnescapesTheArray) {
  auto mount = ParseMountinfoLine("40 1 0:50 / /m rw - tmpfs none rw,label=a\\040b,size=4k");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(mount->fs_options, "label=a\\040b,size=4k");
  EXPECT_EQ(mount->fs_option_array, (std::vector<std::string>{"label=a b", "size=4k"}));
}

TEST(MountinfoParser, ReadsNoOptionalFieldsAsPrivate) {
  auto mount = ParseMountinfoLine("22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(mount->propagation, static_cast<std::uint64_t>(MS_PRIVATE));
  EXPECT_EQ(PropagationText(*mount), "private");
  EXPECT_EQ(VfsOptions(*mount), "rw,nosuid,nodev,noexec,relatime");
}

TEST(MountinfoParser, ReadsSharedPeerGroup) {
  auto mount = ParseMountinfoLine("40 1 0:50 / /m rw shared:7 - tmpfs none rw");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(mount->propagation, static_cast<std::uint64_t>(MS_SHARED));
  EXPECT_EQ(mount->peer_group, 7U);
  EXPECT_EQ(PropagationText(*mount), "shared:7");
}

TEST(MountinfoParser, ReadsSharedAndSlaveWithPropagateFrom) {
  auto mount = ParseMountinfoLine("40 1 0:50 / /m rw shared:3 master:2 propagate_from:5 - tmpfs none rw");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(mount->propagation, static_cast<std::uint64_t>(MS_SHARED | MS_SLAVE));
  EXPECT_EQ(mount->peer_group, 3U);
  EXPECT_EQ(mount->master, 2U);
  EXPECT_EQ(mount->propagate_from, 5U);
  EXPECT_EQ(PropagationText(*mount), "shared:3 master:2 propagate_from:5");
}

TEST(MountinfoParser, ReadsUnbindable) {
  auto mount = ParseMountinfoLine("40 1 0:50 / /m rw unbindable - tmpfs none rw");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(mount->propagation, static_cast<std::uint64_t>(MS_UNBINDABLE));
  EXPECT_EQ(PropagationText(*mount), "unbindable");
}

TEST(MountinfoParser, IgnoresUnknownOptionalFields) {
  auto mount = ParseMountinfoLine("40 1 0:50 / /m rw future:9 shared:1 - tmpfs none rw");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(PropagationText(*mount), "shared:1");
}

TEST(MountinfoParser, SplitsFuseSubtype) {
  auto mount = ParseMountinfoLine("40 1 0:50 / /m rw,nosuid,nodev - fuse.sshfs host:/ rw,user_id=0");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(mount->fs_type, "fuse");
  EXPECT_EQ(mount->fs_subtype, "sshfs");
  EXPECT_TRUE(mount->Has(field::kFsSubtype));
  EXPECT_EQ(FsTypeText(*mount), "fuse.sshfs");
}

TEST(MountinfoParser, ReadsReadOnlyAndSuperblockFlags) {
  auto mount = ParseMountinfoLine("40 1 0:50 / /m ro,nodiratime,nosymfollow - ext4 /dev/x ro,sync,dirsync,lazytime,data=ordered");
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(VfsOptions(*mount), "ro,nodiratime,nosymfollow");
  EXPECT_EQ(SuperOptions(*mount), "ro,sync,dirsync,lazytime,data=ordered");
  EXPECT_EQ(mount->fs_options, "data=ordered");
}

TEST(MountinfoParser, RejectsALineWithoutSeparator) {
  auto mount = ParseMountinfoLine("40 1 0:50 / /m rw shared:1 tmpfs none rw");
  ASSERT_FALSE(mount);
  EXPECT_EQ(mount.error().code, EINVAL);
  EXPECT_NE(mount.error().Message().find("separator"), std::string::npos) << mount.error().Message();
}

TEST(MountinfoParser, RejectsTruncatedLines) {
  for (const char* line : {"", "40", "40 1 0:50 / /m rw -", "40 1 0:50 / /m rw - tmpfs none"}) {
    auto mount = ParseMountinfoLine(line);
    EXPECT_FALSE(mount) << "accepted: \"" << line << "\"";
  }
}

TEST(MountinfoParser, RejectsBadNumbersAndEscapes) {
  for (const char* line : {"x 1 0:50 / /m rw - tmpfs none rw", "40 1 0-50 / /m rw - tmpfs none rw",
                           "40 1 0:50 /\\09 /m rw - tmpfs none rw", "40 1 0:50 / /m\\04 rw - tmpfs none rw",
                           "40 1 0:50 / /m rw shared:x - tmpfs none rw", "40 1 0:50 / /m bogus - tmpfs none rw",
                           "40 1 0:50 / /m nosuid - tmpfs none rw"}) {
    auto mount = ParseMountinfoLine(line);
    EXPECT_FALSE(mount) << "accepted: \"" << line << "\"";
    if (!mount) {
      EXPECT_EQ(mount.error().code, EINVAL);
    }
  }
}

TEST(MountinfoParser, NamesTheLineNumberOfAMalformedLine) {
  auto mounts = ParseMountinfo("22 27 0:21 / /proc rw - proc proc rw\nbroken line\n");
  ASSERT_FALSE(mounts);
  EXPECT_NE(mounts.error().Message().find("line 2"), std::string::npos) << mounts.error().Message();
}

TEST(MountinfoParser, ParsesTheRunningKernelsOwnMountinfo) {
  std::FILE* file = std::fopen("/proc/self/mountinfo", "r");
  ASSERT_NE(file, nullptr);
  std::string text;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  std::fclose(file);
  auto mounts = ParseMountinfo(text);
  ASSERT_TRUE(mounts) << mounts.error().Message();
  EXPECT_GE(mounts->size(), 1U);
}

}  // namespace
}  // namespace mntns
