// mntns features: what the running kernel offers.
#include <sys/auxv.h>

#include <cstdlib>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.h"
#include "mntns/features.h"
#include "mntns/namespace.h"

namespace mntns::cli {
namespace {

struct FeatureRow {
  const char* key;
  bool Features::*member;
  const char* meaning;
};

constexpr FeatureRow kRows[] = {
    {"statmount", &Features::statmount, "statmount(2) (6.8)"},
    {"listmount", &Features::listmount, "listmount(2) (6.8)"},
    {"listmount_by_ns_fd", &Features::listmount_by_ns_fd, "listmount of a namespace given by fd (6.18)"},
    {"statmount_by_fd", &Features::statmount_by_fd, "statmount(STATMOUNT_BY_FD) (7.0)"},
    {"open_tree_namespace", &Features::open_tree_namespace, "open_tree(OPEN_TREE_NAMESPACE) (7.0)"},
    {"fsmount_namespace", &Features::fsmount_namespace, "fsmount(FSMOUNT_NAMESPACE) (7.1)"},
    {"empty_mount_namespace", &Features::empty_mount_namespace, "unshare(UNSHARE_EMPTY_MNTNS) (7.1)"},
    {"mount_setattr", &Features::mount_setattr, "mount_setattr(2) (5.12)"},
    {"open_tree_attr", &Features::open_tree_attr, "open_tree_attr(2) (6.15)"},
    {"fanotify_mount_events", &Features::fanotify_mount_events, "fanotify FAN_REPORT_MNT (6.15, needs CAP_SYS_ADMIN to probe)"},
    {"ns_mnt_get_info", &Features::ns_mnt_get_info, "ioctl NS_MNT_GET_INFO (6.12)"},
    {"ns_mnt_get_next_prev", &Features::ns_mnt_get_next_prev, "ioctl NS_MNT_GET_NEXT/PREV (6.12)"},
    {"statx_mnt_id_unique", &Features::statx_mnt_id_unique, "statx(STATX_MNT_ID_UNIQUE) (6.8)"},
};

constexpr std::pair<const char*, NamespaceOperation> kOperations[] = {
    {"open_tree_namespace", NamespaceOperation::kOpenTreeNamespace},
    {"fsmount_namespace", NamespaceOperation::kFsmountNamespace},
    {"empty_mount_namespace", NamespaceOperation::kEmptyMountNamespace},
};

// A profile that was set but not applied would make a test run look profiled.
void WarnAboutAnIgnoredProfile(const Features& features) {
  const char* value = std::getenv(kFeatureProfileVariable);
  if (value == nullptr || *value == '\0' || !features.profile.empty()) return;
  if (::getauxval(AT_SECURE) != 0) {
    fmt::print(stderr, "mntns: {} is ignored in a set-user-ID or otherwise secure-execution process\n",
               kFeatureProfileVariable);
    return;
  }
  if (auto applied = ApplyFeatureProfile(features, value); !applied) {
    fmt::print(stderr, "mntns: {} is ignored: {}\n", kFeatureProfileVariable, applied.error().Message());
  }
}

int RunFeatures(bool json) {
  const Features& features = KernelFeatures();
  WarnAboutAnIgnoredProfile(features);
  if (json) {
    nlohmann::ordered_json out;
    out["kernel"] = features.kernel;
    for (const FeatureRow& row : kRows) out[row.key] = features.*(row.member);
    out["profile"] = features.profile;
    for (const auto& [key, operation] : kOperations) {
      out["auto_strategy"][key] = StrategyName(ResolveStrategy(operation, NamespaceStrategy::kAuto));
    }
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("kernel {}\n", features.kernel);
  if (!features.profile.empty()) {
    fmt::print("profile {} ({}: the features it names are reported absent)\n", features.profile,
               kFeatureProfileVariable);
  }
  for (const FeatureRow& row : kRows) {
    fmt::print("{:<22} {:<3}  {}\n", row.key, features.*(row.member) ? "yes" : "no", row.meaning);
  }
  fmt::print("strategy auto: OpenTreeNamespace {}, FsmountNamespace {}, EmptyMountNamespace {}\n",
             StrategyName(ResolveStrategy(NamespaceOperation::kOpenTreeNamespace, NamespaceStrategy::kAuto)),
             StrategyName(ResolveStrategy(NamespaceOperation::kFsmountNamespace, NamespaceStrategy::kAuto)),
             StrategyName(ResolveStrategy(NamespaceOperation::kEmptyMountNamespace, NamespaceStrategy::kAuto)));
  return 0;
}

}  // namespace

void AddFeaturesCommand(CLI::App& app, Runner& runner) {
  auto json = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand(
      "features", "Show which mount-API features the running kernel has (probed without side effects).");
  command->add_flag("--json", *json, "Print one JSON object: kernel (uname release) and a boolean per feature");
  command->callback([json, &runner] { runner = [json] { return RunFeatures(*json); }; });
}

}  // namespace mntns::cli
