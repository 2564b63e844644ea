#include <sys/mount.h>

#include <gtest/gtest.h>

#include "mntns/query.h"
#include "output/mount_output.h"

namespace mntns {
namespace {

TEST(TerminalSafe, KeepsPrintableTextAndValidUtf8) {
  EXPECT_EQ(cli::TerminalSafe("/srv/data dir/caf\xc3\xa9"), "/srv/data dir/caf\xc3\xa9");
  EXPECT_EQ(cli::TerminalSafe("a\\b"), "a\\b");
}

TEST(TerminalSafe, WritesControlsInvalidBytesAndBackslashXAsHex) {
  EXPECT_EQ(cli::TerminalSafe("new\nline\ttab\x1b[31m"), "new\\x0aline\\x09tab\\x1b[31m");
  EXPECT_EQ(cli::TerminalSafe("del\x7f"), "del\\x7f");
  EXPECT_EQ(cli::TerminalSafe("c1\xc2\x85 nbsp\xc2\xa0"), "c1\\xc2\\x85 nbsp\xc2\xa0");
  EXPECT_EQ(cli::TerminalSafe("bad\xff\xc3"), "bad\\xff\\xc3");
  EXPECT_EQ(cli::TerminalSafe("\\x41"), "\\x5cx41") << "so that \\x in a path cannot pass for an escape";
}

TEST(MountJson, AStringThatIsNotUtf8CarriesItsBytesInHex) {
  Mount mount;
  mount.mask = field::kMntPoint | field::kMntRoot | field::kMntNsId;
  mount.point = "/a\xff" "b";
  mount.root = "/";
  mount.ns_id = 7;
  const auto json = cli::MountToJson(mount);
  EXPECT_EQ(json["target"].get<std::string>(), "/a\xef\xbf\xbd" "b");
  EXPECT_EQ(json["target_hex"].get<std::string>(), "2f61ff62");
  EXPECT_FALSE(json.contains("root_hex"));
}

TEST(MountJson, NoMountPointButANamespaceIsOutsideTheRootNotDetached) {
  Mount outside;
  outside.mask = field::kMntBasic | field::kMntNsId;
  const auto json = cli::MountToJson(outside);
  EXPECT_TRUE(json.value("outside_root", false));
  EXPECT_FALSE(json.contains("detached"));
  EXPECT_EQ(cli::UnreachableTarget(outside), "(outside your root)");
  Mount detached;
  detached.mask = field::kMntBasic;
  EXPECT_TRUE(cli::MountToJson(detached).value("detached", false));
  EXPECT_EQ(cli::UnreachableTarget(detached), "(detached)");
}

TEST(VfsOptions, PrintsFlagsInTheKernelsOrder) {
  Mount mount;
  mount.attr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSYMFOLLOW | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV |
               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_RELATIME;
  EXPECT_EQ(VfsOptions(mount), "ro,nosuid,nodev,noexec,nodiratime,relatime,nosymfollow");
}

TEST(VfsOptions, StrictatimePrintsNothingAndNoatimeReplacesRelatime) {
  Mount mount;
  mount.attr = MOUNT_ATTR_STRICTATIME;
  EXPECT_EQ(VfsOptions(mount), "rw");
  mount.attr = MOUNT_ATTR_NOATIME;
  EXPECT_EQ(VfsOptions(mount), "rw,noatime");
}

TEST(VfsOptions, MarksIdmappedMounts) {
  Mount mount;
  mount.attr = MOUNT_ATTR_IDMAP | MOUNT_ATTR_STRICTATIME;
  EXPECT_EQ(VfsOptions(mount), "rw,idmapped");
}

TEST(SuperOptions, PrefixesReadOnlyStateToFilesystemOptions) {
  Mount mount;
  mount.sb_flags = 1;  // SB_RDONLY
  mount.fs_options = "size=4k,mode=755";
  EXPECT_EQ(SuperOptions(mount), "ro,size=4k,mode=755");
  mount.sb_flags = 0;
  mount.fs_options.clear();
  EXPECT_EQ(SuperOptions(mount), "rw");
}

TEST(PropagationText, HidesPropagateFromWhenItEqualsTheMaster) {
  Mount mount;
  mount.propagation = MS_SLAVE;
  mount.master = 4;
  mount.propagate_from = 4;
  EXPECT_EQ(PropagationText(mount), "master:4");
}

TEST(FieldNames, ListsTheKernelsNamesLowestBitFirst) {
  EXPECT_EQ(FieldNames(field::kMntPoint | field::kSbBasic | field::kMntGidmap),
            (std::vector<std::string>{"sb_basic", "mnt_point", "mnt_gidmap"}));
  EXPECT_TRUE(FieldNames(0).empty());
  EXPECT_EQ(FieldNames(field::kAll).size(), 15U);
}

TEST(Columns, ParsesANamedListCaseInsensitively) {
  auto columns = cli::ParseColumns("id,Target,FSTYPE");
  ASSERT_TRUE(columns) << columns.error().Message();
  ASSERT_EQ(columns->size(), 3U);
  EXPECT_EQ((*columns)[1]->name, "TARGET");
}

TEST(Columns, RejectsAnUnknownColumnByName) {
  auto columns = cli::ParseColumns("ID,BOGUS");
  ASSERT_FALSE(columns);
  EXPECT_EQ(columns.error().Message(), "ls -o \"BOGUS\" is not a column: Invalid argument (EINVAL)");
}

TEST(MountJson, UsesNullForFieldsTheBackendDidNotReturn) {
  Mount mount;
  mount.mask = field::kMntPoint;
  mount.point = "/x";
  const auto json = cli::MountToJson(mount);
  EXPECT_EQ(json["target"], "/x");
  EXPECT_TRUE(json["id"].is_null());
  EXPECT_TRUE(json["fstype"].is_null());
  for (const char* key : {"id", "parent", "old_id", "old_parent", "target", "root", "source", "fstype",
                          "vfs_options", "fs_options", "propagation", "ns_id"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
}

}  // namespace
}  // namespace mntns
