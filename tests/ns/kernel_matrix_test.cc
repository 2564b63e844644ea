// Which kernel paths this run exercises. The same binary runs on the host
// (6.x: the emulations) and in the 7.x VM (MNTNS_IN_VM=1: the native calls);
// these tests prove which one it was and print `mntns features` into the log.
#include <sys/utsname.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mntns/features.h"
#include "mntns/namespace.h"
#include "support/cli_runner.h"

namespace mntns {
namespace {

int KernelMajor() {
  struct utsname name {};
  if (::uname(&name) != 0) return -1;
  return std::atoi(name.release);
}

bool InVm() {
  const char* value = std::getenv("MNTNS_IN_VM");
  return value != nullptr && std::string(value) == "1";
}

TEST(KernelMatrix, PrintsMntnsFeaturesIntoTheTestLog) {
  auto result = testing::RunCli({"features"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  std::printf("---- mntns features (%s) ----\n%s----\n", InVm() ? "inside the 7.x VM" : "on the host",
              result.out.c_str());
  EXPECT_NE(result.out.find("open_tree_namespace"), std::string::npos);
}

TEST(KernelMatrix, TheVmRunsA7xKernel) {
  if (!InVm()) {
    EXPECT_GE(KernelMajor(), 6) << "mntns needs the 6.x mount API at least";
    return;
  }
  EXPECT_GE(KernelMajor(), 7) << "the VM part must boot Linux 7.x, or the native paths go untested";
}

// On 7.x the native calls are there and are what mntns uses; on 6.x they are
// absent and mntns must emulate them. The kernel's own answer: a feature
// profile (MNTNS_FEATURE_PROFILE) hides features from KernelFeatures() only.
TEST(KernelMatrix, SevenXFeaturesArePresentExactlyOnSevenX) {
  const Features features = ProbeFeatures();
  const bool seven = KernelMajor() >= 7;
  EXPECT_EQ(features.open_tree_namespace, seven) << features.kernel;
  EXPECT_EQ(features.statmount_by_fd, seven) << features.kernel;
  // FSMOUNT_NAMESPACE came in 7.1.
  if (KernelMajor() == 7 && features.kernel.starts_with("7.0")) {
    EXPECT_FALSE(features.fsmount_namespace) << features.kernel;
  } else {
    EXPECT_EQ(features.fsmount_namespace, seven) << features.kernel;
  }
  if (InVm()) {
    EXPECT_TRUE(features.open_tree_namespace && features.statmount_by_fd)
        << "in the VM the native paths must be exercised";
  }
}

TEST(KernelMatrix, CliFeaturesJsonAgreesWithTheLibraryProbe) {
  auto result = testing::RunCli({"features", "--json"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["open_tree_namespace"], KernelFeatures().open_tree_namespace);
  EXPECT_EQ(json["statmount_by_fd"], KernelFeatures().statmount_by_fd);
  EXPECT_EQ(json["fsmount_namespace"], KernelFeatures().fsmount_namespace);
  EXPECT_EQ(json["profile"], KernelFeatures().profile);
  EXPECT_EQ(json["auto_strategy"]["fsmount_namespace"],
            std::string(StrategyName(ResolveStrategy(NamespaceOperation::kFsmountNamespace, NamespaceStrategy::kAuto))));
}

}  // namespace
}  // namespace mntns
