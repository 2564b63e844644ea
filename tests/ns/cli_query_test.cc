// `mntns ls`, `mntns stat` and `mntns features` as a user runs them.
#include <sys/mount.h>

#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mntns/features.h"
#include "mntns/query.h"
#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::RunCli;

TEST(CliFeatures, JsonHasEveryDocumentedKeyAndMatchesTheLibrary) {
  auto result = RunCli({"features", "--json"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  const Features& features = KernelFeatures();
  EXPECT_EQ(json["kernel"], features.kernel);
  EXPECT_EQ(json["statmount"], features.statmount);
  EXPECT_EQ(json["listmount"], features.listmount);
  EXPECT_EQ(json["listmount_by_ns_fd"], features.listmount_by_ns_fd);
  EXPECT_EQ(json["statmount_by_fd"], features.statmount_by_fd);
  EXPECT_EQ(json["open_tree_namespace"], features.open_tree_namespace);
  EXPECT_EQ(json["fsmount_namespace"], features.fsmount_namespace);
  EXPECT_EQ(json["mount_setattr"], features.mount_setattr);
  EXPECT_EQ(json["open_tree_attr"], features.open_tree_attr);
  EXPECT_EQ(json["fanotify_mount_events"], features.fanotify_mount_events);
}

TEST(CliLs, JsonListsTheSameMountsAsTheLibraryWithEveryDocumentedKey) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base, "size=32k"));
    ASSERT_TRUE(testing::SetPropagation(base, MS_SHARED));
    auto result = RunCli({"ls", "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    auto mounts = ListMounts();
    ASSERT_TRUE(mounts);
    ASSERT_EQ(json["mounts"].size(), mounts->size());
    bool found = false;
    for (const auto& m : json["mounts"]) {
      for (const char* key : {"id", "parent", "old_id", "old_parent", "target", "root", "source",
                              "fstype", "vfs_options", "fs_options", "propagation", "ns_id"}) {
        EXPECT_TRUE(m.contains(key)) << key;
      }
      if (m["target"] == base) {
        found = true;
        EXPECT_EQ(m["fstype"], "tmpfs");
        // Debian's 7.x kernels add ",inode64" to every tmpfs.
        EXPECT_TRUE(m["fs_options"].get<std::string>().starts_with("rw,size=32k")) << m["fs_options"];
        EXPECT_EQ(m["vfs_options"], "rw,relatime");
        EXPECT_TRUE(m["propagation"].get<std::string>().starts_with("shared:"));
        if (KernelFeatures().listmount) {
          EXPECT_TRUE(m["id"].is_number());
        }
      }
    }
    EXPECT_TRUE(found) << "no mount at " << base << " in:\n" << result.out;
  });
}

// ls reads and renders blocks of mounts on every core and writes them in
// order: a table of many blocks must come out whole, in the library's order.
TEST(CliLs, JsonAndTableOfManyBlocksAreTheWholeTableInOrder) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    ASSERT_TRUE(testing::MakeDirs(base + "/d"));
    for (int i = 0; i < 1500; ++i) {
      const std::string dir = base + "/" + std::to_string(i);
      ASSERT_TRUE(i % 10 == 0 ? testing::MountTmpfs(dir) : testing::BindMount(base + "/d", dir)) << i;
    }
    auto mounts = ListMounts({}, {.mask = field::kMntBasic | field::kMntPoint});
    ASSERT_TRUE(mounts) << mounts.error().Message();
    auto json = RunCli({"ls", "--json"});
    ASSERT_EQ(json.exit_status, 0) << json.err;
    const auto listed = nlohmann::json::parse(json.out)["mounts"];
    ASSERT_EQ(listed.size(), mounts->size());
    auto table = RunCli({"ls", "-o", "ID,TARGET"});
    ASSERT_EQ(table.exit_status, 0) << table.err;
    std::istringstream lines(table.out);
    std::string line;
    std::getline(lines, line);  // the header
    for (std::size_t i = 0; i < mounts->size(); ++i) {
      const Mount& mount = (*mounts)[i];
      EXPECT_EQ(listed[i]["target"], mount.point) << "mount #" << i;
      if (KernelFeatures().listmount) {
        EXPECT_EQ(listed[i]["id"], mount.id) << "mount #" << i;
      }
      ASSERT_TRUE(std::getline(lines, line)) << "the table ends at row " << i;
      // TARGET, the last column, is the rest of the line after ID and its padding.
      const std::size_t after_id = line.find_first_not_of(' ', line.find(' '));
      ASSERT_NE(after_id, std::string::npos) << line;
      EXPECT_EQ(line.substr(after_id, line.find_last_not_of(' ') + 1 - after_id), mount.point) << "row " << i;
    }
    EXPECT_FALSE(std::getline(lines, line)) << "extra row: " << line;
  });
}

TEST(CliLs, MountinfoBackendShowsNullIdsButTheSameTargets) {
  auto listmount = RunCli({"ls", "--json"});
  auto mountinfo = RunCli({"ls", "--json", "--backend", "mountinfo"});
  ASSERT_EQ(listmount.exit_status, 0) << listmount.err;
  ASSERT_EQ(mountinfo.exit_status, 0) << mountinfo.err;
  const auto a = nlohmann::json::parse(listmount.out)["mounts"];
  const auto b = nlohmann::json::parse(mountinfo.out)["mounts"];
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(b[i]["id"].is_null());
    for (const char* key : {"old_id", "old_parent", "target", "root", "source", "fstype", "vfs_options",
                            "fs_options", "propagation"}) {
      EXPECT_EQ(a[i][key], b[i][key]) << key << " of mount #" << i;
    }
  }
}

TEST(CliLs, DefaultTableHasFindmntLikeColumns) {
  auto result = RunCli({"ls"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const std::string header = result.out.substr(0, result.out.find('\n'));
  // ID is right-aligned, header too, as findmnt aligns its numbers.
  EXPECT_EQ(header.substr(header.find_first_not_of(' '), 3), "ID ") << result.out;
  for (const char* column : {"ID", "PARENT", "TARGET", "SOURCE", "FSTYPE", "OPTIONS"}) {
    EXPECT_NE(header.find(column), std::string::npos) << column;
  }
}

TEST(CliLs, TreeDrawsChildrenUnderTheirParent) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    ASSERT_TRUE(testing::MountTmpfs(base + "/child"));
    auto result = RunCli({"ls", "--tree", "-o", "TARGET,FSTYPE"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto parent_at = result.out.find(base + " ");
    const auto child_at = result.out.find("─" + base + "/child");
    ASSERT_NE(parent_at, std::string::npos) << result.out;
    ASSERT_NE(child_at, std::string::npos) << result.out;
    EXPECT_LT(parent_at, child_at);
  });
}

TEST(CliLs, UnknownColumnIsAUsageError) {
  auto result = RunCli({"ls", "-o", "ID,NOPE"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("\"NOPE\" is not a column"), std::string::npos) << result.err;
}

TEST(CliLs, NamespaceOfAMissingPidFailsWithExitStatusOne) {
  auto result = RunCli({"ls", "--pid", "1073741808"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_EQ(result.err,
            "mntns: ls --pid: open \"/proc/1073741808/ns/mnt\": No such file or directory (ENOENT)\n");
}

TEST(CliLs, ConflictingNamespaceOptionsAreAUsageError) {
  auto result = RunCli({"ls", "--pid", "1", "--ns-file", "/proc/1/ns/mnt"});
  EXPECT_EQ(result.exit_status, 2) << result.err;
}

TEST(CliStat, MissingPathNamesTheOperationThePathAndTheErrno) {
  auto result = RunCli({"stat", "/nope"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_EQ(result.err, "mntns: stat \"/nope\": No such file or directory (ENOENT)\n");
}

TEST(CliStat, JsonHasTheMaskOfReturnedFields) {
  auto result = RunCli({"stat", "/proc", "--json"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["target"], "/proc");
  EXPECT_EQ(json["fstype"], "proc");
  ASSERT_TRUE(json["mask"].is_array());
  const auto& mask = json["mask"];
  EXPECT_NE(std::find(mask.begin(), mask.end(), "mnt_point"), mask.end()) << mask.dump();
}

TEST(CliStat, ByIdAgreesWithStatByPath) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no statmount (before 6.8)";
  auto by_path = RunCli({"stat", "/proc", "--json"});
  ASSERT_EQ(by_path.exit_status, 0) << by_path.err;
  const auto id = nlohmann::json::parse(by_path.out)["id"].get<std::uint64_t>();
  auto by_id = RunCli({"stat", "--id", std::to_string(id), "--json"});
  ASSERT_EQ(by_id.exit_status, 0) << by_id.err;
  EXPECT_EQ(nlohmann::json::parse(by_id.out), nlohmann::json::parse(by_path.out));
}

TEST(CliStat, NeitherPathNorIdIsAUsageError) {
  auto result = RunCli({"stat"});
  EXPECT_EQ(result.exit_status, 2);
}

}  // namespace
}  // namespace mntns
