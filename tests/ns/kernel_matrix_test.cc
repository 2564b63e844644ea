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

std::string KernelRelease() {
  struct utsname name {};
  if (::uname(&name) != 0) return "(uname failed)";
  return name.release;
}

int KernelMajor() { return std::atoi(KernelRelease().c_str()); }

bool InVm() {
  const char* value = std::getenv("MNTNS_IN_VM");
  return value != nullptr && std::string(value) == "1";
}

TEST(KernelMatrix, PrintsMntnsFeaturesIntoTheTestLog) {
  auto result = testing::RunCli({"features"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  std::printf("---- mntns features (%s) ----\n%s----\n", InVm() ? "inside the 7.x VM" : "on the host",
              result.out.c_str());
  // The log is worth reading only if it is this kernel's and has the 7.x features in it.
  EXPECT_TRUE(result.out.starts_with("kernel " + KernelRelease() + "\n")) << result.out;
  for (const char* feature : {"open_tree_namespace", "statmount_by_fd", "fsmount_namespace", "empty_mount_namespace"}) {
    EXPECT_NE(result.out.find(std::string("\n") + feature + " "), std::string::npos) << feature;
  }
}

// On the host it passed whatever the kernel (6.x is all mntns needs there), so
// a green host run claimed a check it never made.
TEST(KernelMatrix, TheVmRunsA7xKernel) {
  if (!InVm()) {
    GTEST_SKIP() << "checks the 7.x VM (MNTNS_IN_VM=1, tests/vm); this is the host, Linux " << KernelRelease();
  }
  EXPECT_GE(KernelMajor(), 7) << "the VM part must boot Linux 7.x, or the native paths go untested; it booted "
                              << KernelRelease();
}

// On 7.x the native calls are there and are what mntns uses; on 6.x they are
// absent and mntns must emulate them. The kernel's own answer: a feature
// profile (MNTNS_FEATURE_PROFILE) hides features from KernelFeatures() only.
TEST(KernelMatrix, SevenXFeaturesArePresentExactlyOnSevenX) {
  const Features features = ProbeFeatures();
  const bool seven = KernelMajor() >= 7;
  EXPECT_EQ(features.open_tree_namespace, seven) << features.kernel;
  EXPECT_EQ(features.statmount_by_fd, seven) << features.kernel;
  // FSMOUNT_NAMESPACE and empty mount namespaces came in 7.1.
  if (KernelMajor() == 7 && features.kernel.starts_with("7.0")) {
    EXPECT_FALSE(features.fsmount_namespace) << features.kernel;
    EXPECT_FALSE(features.empty_mount_namespace) << features.kernel;
  } else {
    EXPECT_EQ(features.fsmount_namespace, seven) << features.kernel;
    EXPECT_EQ(features.empty_mount_namespace, seven) << features.kernel;
  }
  if (InVm()) {
    EXPECT_TRUE(features.open_tree_namespace && features.statmount_by_fd)
        << "in the VM the native paths must be exercised";
  }
}

TEST(KernelMatrix, CliFeaturesJsonAgreesWithTheLibraryProbe) {
  auto result = testing::RunCli({"features", "--json"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(json.is_object()) << result.out;
  // operator[] on a const json with a missing key is undefined behaviour: at() with a check first.
  const Features& features = KernelFeatures();
  for (const auto& [key, probed] : {std::pair{"open_tree_namespace", features.open_tree_namespace},
                                    std::pair{"statmount_by_fd", features.statmount_by_fd},
                                    std::pair{"fsmount_namespace", features.fsmount_namespace},
                                    std::pair{"empty_mount_namespace", features.empty_mount_namespace}}) {
    ASSERT_TRUE(json.contains(key)) << key << " missing from " << result.out;
    EXPECT_EQ(json.at(key), probed) << key;
  }
  ASSERT_TRUE(json.contains("profile")) << result.out;
  EXPECT_EQ(json.at("profile"), features.profile);
  ASSERT_TRUE(json.contains("auto_strategy") && json.at("auto_strategy").contains("fsmount_namespace")) << result.out;
  EXPECT_EQ(json.at("auto_strategy").at("fsmount_namespace"),
            std::string(StrategyName(ResolveStrategy(NamespaceOperation::kFsmountNamespace, NamespaceStrategy::kAuto))));
}

}  // namespace
}  // namespace mntns
