// Feature profiles (MNTNS_FEATURE_PROFILE): parsing and what they hide.
#include <cerrno>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "features_internal.h"
#include "mntns/features.h"

namespace mntns {
namespace {

Features Everything() {
  Features features;
  features.kernel = "7.2.13";
  for (bool* flag : {&features.statmount, &features.listmount, &features.listmount_by_ns_fd,
                     &features.statmount_by_fd, &features.open_tree_namespace, &features.fsmount_namespace,
                     &features.empty_mount_namespace, &features.mount_setattr, &features.open_tree_attr, &features.fanotify_mount_events,
                     &features.ns_mnt_get_info, &features.ns_mnt_get_next_prev, &features.statx_mnt_id_unique}) {
    *flag = true;
  }
  return features;
}

TEST(FeatureProfile, Linux70HidesOnlyThe71Features) {
  auto features = ApplyFeatureProfile(Everything(), "linux-7.0");
  ASSERT_TRUE(features) << features.error().Message();
  EXPECT_FALSE(features->fsmount_namespace);
  EXPECT_FALSE(features->empty_mount_namespace);
  EXPECT_TRUE(features->open_tree_namespace);
  EXPECT_TRUE(features->statmount_by_fd);
  EXPECT_EQ(features->profile, "linux-7.0");
  EXPECT_EQ(features->kernel, "7.2.13");
}

TEST(FeatureProfile, Linux618HidesEvery7xFeature) {
  auto features = ApplyFeatureProfile(Everything(), "linux-6.18");
  ASSERT_TRUE(features) << features.error().Message();
  EXPECT_FALSE(features->fsmount_namespace);
  EXPECT_FALSE(features->empty_mount_namespace);
  EXPECT_FALSE(features->open_tree_namespace);
  EXPECT_FALSE(features->statmount_by_fd);
  EXPECT_TRUE(features->listmount_by_ns_fd);
  EXPECT_TRUE(features->open_tree_attr);
}

TEST(FeatureProfile, Linux68KeepsOnlyWhat68Had) {
  auto features = ApplyFeatureProfile(Everything(), "linux-6.8");
  ASSERT_TRUE(features) << features.error().Message();
  EXPECT_TRUE(features->statmount && features->listmount && features->statx_mnt_id_unique);
  EXPECT_TRUE(features->mount_setattr);
  EXPECT_FALSE(features->listmount_by_ns_fd);
  EXPECT_FALSE(features->ns_mnt_get_info);
  EXPECT_FALSE(features->ns_mnt_get_next_prev);
  EXPECT_FALSE(features->open_tree_attr);
  EXPECT_FALSE(features->fanotify_mount_events);
  EXPECT_FALSE(features->open_tree_namespace);
}

TEST(FeatureProfile, NamesFeaturesAndCombinesWithAComma) {
  auto features = ApplyFeatureProfile(Everything(), "statmount_by_fd,ns_mnt_get_info");
  ASSERT_TRUE(features) << features.error().Message();
  EXPECT_FALSE(features->statmount_by_fd);
  EXPECT_FALSE(features->ns_mnt_get_info);
  EXPECT_TRUE(features->open_tree_namespace);
  auto both = ApplyFeatureProfile(Everything(), "linux-7.0,statmount_by_fd");
  ASSERT_TRUE(both);
  EXPECT_FALSE(both->fsmount_namespace);
  EXPECT_FALSE(both->statmount_by_fd);
}

TEST(FeatureProfile, OnlyRemovesFeatures) {
  Features none;
  auto features = ApplyFeatureProfile(none, "linux-7.2");
  ASSERT_TRUE(features);
  EXPECT_FALSE(features->open_tree_namespace);
  EXPECT_FALSE(features->statmount);
}

TEST(FeatureProfile, EmptyChangesNothing) {
  auto features = ApplyFeatureProfile(Everything(), "");
  ASSERT_TRUE(features);
  EXPECT_TRUE(features->fsmount_namespace);
  EXPECT_EQ(features->profile, "");
}

TEST(FeatureProfile, UnknownItemsAreEINVALNamingTheItem) {
  for (const char* bad : {"linux-7", "linux-7.x", "linux-", "fsmount", "linux-7.0,", ",linux-7.0", "LINUX-7.0",
                          "linux-7.0 "}) {
    auto features = ApplyFeatureProfile(Everything(), bad);
    ASSERT_FALSE(features) << bad;
    EXPECT_EQ(features.error().code, EINVAL);
    EXPECT_NE(features.error().Message().find("feature profile"), std::string::npos) << features.error().Message();
  }
}

TEST(FeatureProfile, TheEnvironmentIsIgnoredUnderSecureExecution) {
  const Features secure = internal::WithEnvironmentProfile(Everything(), "linux-6.8", true);
  EXPECT_TRUE(secure.open_tree_namespace);
  EXPECT_EQ(secure.profile, "");
  const Features plain = internal::WithEnvironmentProfile(Everything(), "linux-6.8", false);
  EXPECT_FALSE(plain.open_tree_namespace);
  EXPECT_EQ(plain.profile, "linux-6.8");
}

TEST(FeatureProfile, AnInvalidOrMissingEnvironmentValueLeavesTheProbe) {
  EXPECT_TRUE(internal::WithEnvironmentProfile(Everything(), "linux-six", false).fsmount_namespace);
  EXPECT_TRUE(internal::WithEnvironmentProfile(Everything(), nullptr, false).fsmount_namespace);
  EXPECT_TRUE(internal::WithEnvironmentProfile(Everything(), "", false).fsmount_namespace);
}

// Where a run is profiled (CTest's *.profile.* tests), the profile is in effect:
// a typo must not let a run pass as profiled while it was not.
TEST(FeatureProfile, TheProfileOfThisRunIsApplied) {
  const char* value = std::getenv(kFeatureProfileVariable);
  if (value == nullptr) GTEST_SKIP() << kFeatureProfileVariable << " is not set";
  EXPECT_EQ(KernelFeatures().profile, value);
  auto expected = ApplyFeatureProfile(ProbeFeatures(), value);
  ASSERT_TRUE(expected) << expected.error().Message();
  EXPECT_EQ(KernelFeatures().open_tree_namespace, expected->open_tree_namespace);
  EXPECT_EQ(KernelFeatures().fsmount_namespace, expected->fsmount_namespace);
  EXPECT_EQ(KernelFeatures().statmount_by_fd, expected->statmount_by_fd);
  EXPECT_EQ(KernelFeatures().ns_mnt_get_info, expected->ns_mnt_get_info);
}

}  // namespace
}  // namespace mntns
