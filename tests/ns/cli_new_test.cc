// `mntns new` and `mntns bench create` as a user runs them.
#include <sys/mount.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mntns/namespace.h"
#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::RunCli;

TEST(CliNew, ExitsWithTheCommandsStatus) {
  testing::InPrivateMountNamespace([] {
    auto result = RunCli({"new", "/", "--", "sh", "-c", "exit 7"});
    EXPECT_EQ(result.exit_status, 7) << result.err;
  });
}

TEST(CliNew, ExitsWith128PlusTheSignalThatKilledTheCommand) {
  testing::InPrivateMountNamespace([] {
    auto result = RunCli({"new", "/", "--", "sh", "-c", "kill -9 $$"});
    EXPECT_EQ(result.exit_status, 128 + 9) << result.err;
  });
}

TEST(CliNew, RunsTheCommandWithTheTreeAsRoot) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base + "/tree/sub"));
    auto result = RunCli({"new", "--recursive", "/", "--", "sh", "-c",
                          "test -d " + base + "/tree/sub && wc -l < /proc/self/mountinfo"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    auto own = RunCli({"ls", "--json"});
    ASSERT_EQ(own.exit_status, 0);
    EXPECT_EQ(std::stoul(result.out), nlohmann::json::parse(own.out)["mounts"].size());
  });
}

TEST(CliNew, PinnedNamespaceCanBeListedAfterMntnsExits) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    ASSERT_TRUE(testing::MountTmpfs(base + "/tree", "size=16k"));
    ASSERT_TRUE(testing::MountTmpfs(base + "/tree/sub"));
    auto created = RunCli({"new", "--pin", base + "/ns", "--recursive", base + "/tree"});
    ASSERT_EQ(created.exit_status, 0) << created.err;
    EXPECT_NE(created.out.find("pinned at " + base + "/ns"), std::string::npos) << created.out;
    auto listed = RunCli({"ls", "--json", "--ns-file", base + "/ns"});
    ASSERT_EQ(listed.exit_status, 0) << listed.err;
    const auto mounts = nlohmann::json::parse(listed.out)["mounts"];
    ASSERT_EQ(mounts.size(), 2U) << listed.out;
    EXPECT_EQ(mounts[0]["target"], "/");
    EXPECT_EQ(mounts[0]["fs_options"], "rw,size=16k");
    EXPECT_EQ(mounts[1]["target"], "/sub");
  });
}

TEST(CliNew, PinOnASharedMountSaysWhyItFails) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    ASSERT_TRUE(testing::SetPropagation(base, MS_SHARED));
    auto result = RunCli({"new", "--pin", base + "/ns", "/"});
    EXPECT_EQ(result.exit_status, 1);
    EXPECT_NE(result.err.find("is shared"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(base + "/ns"), std::string::npos) << result.err;
  });
}

TEST(CliNew, ErrorsNameTheOperationThePathAndTheErrno) {
  auto result = RunCli({"new", "/no/such/dir"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.err.find("open_tree(OPEN_TREE_NAMESPACE) \"/no/such/dir\""), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("ENOENT"), std::string::npos) << result.err;
}

TEST(CliNew, UnknownStrategyIsAUsageError) {
  auto result = RunCli({"new", "--strategy", "fast", "/"});
  EXPECT_EQ(result.exit_status, 2) << result.err;
}

TEST(CliNew, JsonDescribesTheNamespace) {
  testing::InPrivateMountNamespace([] {
    auto result = RunCli({"new", "--json", "/proc"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_TRUE(json["ns_id"].is_number());
    EXPECT_EQ(json["strategy"], std::string(StrategyName(ResolveStrategy(NamespaceStrategy::kAuto))));
    EXPECT_TRUE(json["pinned"].is_null());
    ASSERT_EQ(json["mounts"].size(), 1U);
    EXPECT_EQ(json["mounts"][0]["fstype"], "proc");
  });
}

TEST(CliNew, HelpTeachesWithExamples) {
  auto result = RunCli({"new", "--help"});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_NE(result.out.find("Examples:"), std::string::npos);
  EXPECT_NE(result.out.find("--pin"), std::string::npos);
}

TEST(CliBenchCreate, JsonHasEveryDocumentedKey) {
  auto result = RunCli({"bench", "create", "--strategy", "auto", "--count", "50", "--host-mounts", "10",
                        "--workers", "2", "--json"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  for (const char* key : {"strategy", "host_mounts", "count", "workers", "per_second", "p50_us", "p99_us"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["host_mounts"], 10);
  EXPECT_EQ(json["count"], 50);
  EXPECT_GT(json["per_second"].get<double>(), 0);
}

}  // namespace
}  // namespace mntns
