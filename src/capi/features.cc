// The C API's feature probe (mntns.h): mntns::KernelFeatures() as bits.
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "capi/internal.h"
#include "mntns/features.h"

namespace {

struct FeatureBit {
  std::uint64_t bit;
  const char* name;  // as `mntns features` prints it
  bool mntns::Features::*field;
};

constexpr FeatureBit kFeatureBits[] = {
    {MNTNS_FEATURE_STATMOUNT, "statmount", &mntns::Features::statmount},
    {MNTNS_FEATURE_LISTMOUNT, "listmount", &mntns::Features::listmount},
    {MNTNS_FEATURE_LISTMOUNT_BY_NS_FD, "listmount_by_ns_fd", &mntns::Features::listmount_by_ns_fd},
    {MNTNS_FEATURE_STATMOUNT_BY_FD, "statmount_by_fd", &mntns::Features::statmount_by_fd},
    {MNTNS_FEATURE_OPEN_TREE_NAMESPACE, "open_tree_namespace", &mntns::Features::open_tree_namespace},
    {MNTNS_FEATURE_FSMOUNT_NAMESPACE, "fsmount_namespace", &mntns::Features::fsmount_namespace},
    {MNTNS_FEATURE_MOUNT_SETATTR, "mount_setattr", &mntns::Features::mount_setattr},
    {MNTNS_FEATURE_OPEN_TREE_ATTR, "open_tree_attr", &mntns::Features::open_tree_attr},
    {MNTNS_FEATURE_FANOTIFY_MOUNT_EVENTS, "fanotify_mount_events", &mntns::Features::fanotify_mount_events},
    {MNTNS_FEATURE_NS_MNT_GET_INFO, "ns_mnt_get_info", &mntns::Features::ns_mnt_get_info},
    {MNTNS_FEATURE_NS_MNT_GET_NEXT_PREV, "ns_mnt_get_next_prev", &mntns::Features::ns_mnt_get_next_prev},
    {MNTNS_FEATURE_STATX_MNT_ID_UNIQUE, "statx_mnt_id_unique", &mntns::Features::statx_mnt_id_unique},
    {MNTNS_FEATURE_EMPTY_MOUNT_NAMESPACE, "empty_mount_namespace", &mntns::Features::empty_mount_namespace},
};

// struct mntns_features of MNTNS_1.0 ends with `kernel`.
constexpr std::size_t kFeaturesFirstVersionSize = sizeof(mntns_features);

}  // namespace

extern "C" {

int mntns_get_features(mntns_features* features) {
  return mntns::capi::Guard("mntns_get_features", nullptr, [&]() -> int {
    mntns_features probe{};
    if (features == nullptr || features->size < kFeaturesFirstVersionSize) return -EINVAL;
    const mntns::Features& kernel = mntns::KernelFeatures();
    for (const FeatureBit& feature : kFeatureBits) {
      probe.known |= feature.bit;
      if (kernel.*feature.field) probe.present |= feature.bit;
    }
    const std::size_t length = kernel.kernel.size() < sizeof(probe.kernel) - 1 ? kernel.kernel.size()
                                                                                : sizeof(probe.kernel) - 1;
    std::memcpy(probe.kernel, kernel.kernel.data(), length);
    return mntns::capi::WriteSized(features, kFeaturesFirstVersionSize, probe);
  });
}

const char* mntns_feature_profile(void) {
  try {
    return mntns::KernelFeatures().profile.c_str();
  } catch (...) {
    return "";
  }
}

const char* mntns_feature_name(std::uint64_t feature) {
  for (const FeatureBit& entry : kFeatureBits) {
    if (entry.bit == feature) return entry.name;
  }
  return nullptr;
}

}  // extern "C"
