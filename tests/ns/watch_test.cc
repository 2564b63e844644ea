// MountWatcher, LiveMountTable and `mntns watch`, with both backends: fanotify
// mount events (6.15+) and polling mountinfo.
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <sstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mntns/features.h"
#include "mntns/watch.h"
#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

bool InVm() {
  const char* value = std::getenv("MNTNS_IN_VM");
  return value != nullptr && std::string(value) == "1";
}

std::string BackendName(WatchBackend backend) {
  return backend == WatchBackend::kFanotify ? "fanotify" : "mountinfo";
}

class WatchTest : public ::testing::TestWithParam<WatchBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == WatchBackend::kFanotify && !KernelFeatures().fanotify_mount_events) {
      GTEST_SKIP() << "no fanotify mount events on this kernel (or hidden by the feature profile)";
    }
  }

  Result<MountWatcher> Open() { return MountWatcher::Open({}, {.backend = GetParam()}); }
};

// Takes events until one of `type` at `target` came (or 10 s passed).
std::vector<MountEvent> EventsUntil(MountWatcher& watcher, MountEventType type, const std::string& target) {
  std::vector<MountEvent> seen;
  for (int round = 0; round < 100; ++round) {
    auto events = watcher.Next(100);
    EXPECT_TRUE(events) << events.error().Message();
    if (!events) return seen;
    for (MountEvent& event : *events) {
      const bool done = event.type == type && event.mount.point == target;
      seen.push_back(std::move(event));
      if (done) return seen;
    }
  }
  ADD_FAILURE() << "no " << MountEventName(type) << " event at " << target;
  return seen;
}

TEST_P(WatchTest, UsesTheBackendAskedFor) {
  testing::InPrivateMountNamespace([this] {
    auto watcher = Open();
    ASSERT_TRUE(watcher) << watcher.error().Message();
    EXPECT_EQ(watcher->backend(), GetParam());
  });
}

TEST_P(WatchTest, AttachIsReportedWithTargetTypeAndSource) {
  testing::InPrivateMountNamespace([this] {
    const std::string base = testing::TempDir();
    auto watcher = Open();
    ASSERT_TRUE(watcher) << watcher.error().Message();
    ASSERT_EQ(::mount("watched", base.c_str(), "tmpfs", 0, nullptr), 0);
    const auto events = EventsUntil(*watcher, MountEventType::kAttach, base);
    ASSERT_FALSE(events.empty());
    const Mount& mount = events.back().mount;
    EXPECT_EQ(mount.fs_type, "tmpfs");
    EXPECT_EQ(mount.sb_source, "watched");
    EXPECT_TRUE(mount.Has(field::kMntNsId));
    if (GetParam() == WatchBackend::kFanotify) {
      EXPECT_NE(mount.id, 0U);
    }
  });
}

TEST_P(WatchTest, MoveIsReportedWithTheNewTarget) {
  testing::InPrivateMountNamespace([this] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    ASSERT_TRUE(testing::MakeDirs(base + "/from") && testing::MakeDirs(base + "/to"));
    ASSERT_TRUE(testing::MountTmpfs(base + "/from"));
    auto watcher = Open();
    ASSERT_TRUE(watcher) << watcher.error().Message();
    const std::size_t before = watcher->Table().size();
    ASSERT_EQ(::mount((base + "/from").c_str(), (base + "/to").c_str(), nullptr, MS_MOVE, nullptr), 0);
    const auto events = EventsUntil(*watcher, MountEventType::kMove, base + "/to");
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(watcher->Table().size(), before);
  });
}

TEST_P(WatchTest, DetachIsReportedWithTheLastKnownTarget) {
  testing::InPrivateMountNamespace([this] {
    const std::string base = testing::TempDir();
    ASSERT_EQ(::mount("going", base.c_str(), "tmpfs", 0, nullptr), 0);
    auto watcher = Open();
    ASSERT_TRUE(watcher) << watcher.error().Message();
    ASSERT_EQ(::umount2(base.c_str(), 0), 0);
    const auto events = EventsUntil(*watcher, MountEventType::kDetach, base);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().mount.sb_source, "going");
    for (const auto& [key, mount] : watcher->Table()) EXPECT_NE(mount.point, base);
  });
}

TEST_P(WatchTest, MountsBelowAMovedMountGetTheirNewTargets) {
  testing::InPrivateMountNamespace([this] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    ASSERT_TRUE(testing::MakeDirs(base + "/from") && testing::MakeDirs(base + "/to"));
    ASSERT_TRUE(testing::MountTmpfs(base + "/from"));
    ASSERT_TRUE(testing::MakeDirs(base + "/from/inner"));
    ASSERT_TRUE(testing::MountTmpfs(base + "/from/inner"));
    auto watcher = Open();
    ASSERT_TRUE(watcher) << watcher.error().Message();
    ASSERT_EQ(::mount((base + "/from").c_str(), (base + "/to").c_str(), nullptr, MS_MOVE, nullptr), 0);
    (void)EventsUntil(*watcher, MountEventType::kMove, base + "/to");
    auto more = watcher->Next(0);
    ASSERT_TRUE(more) << more.error().Message();
    bool inner_moved = false;
    for (const auto& [key, mount] : watcher->Table()) {
      EXPECT_FALSE(mount.point.starts_with(base + "/from")) << mount.point;
      inner_moved = inner_moved || mount.point == base + "/to/inner";
    }
    EXPECT_TRUE(inner_moved);
  });
}

// The live table's promise: after the events of any change, what a fresh
// listing says, in the fields the watcher reads.
void ExpectSameAsFreshListing(const LiveMountTable& live, WatchBackend backend, int batch) {
  auto fresh = ListMounts({}, {.mask = WatchOptions{}.mask | field::kMntBasic,
                               .backend = backend == WatchBackend::kFanotify ? Backend::kListmount
                                                                             : Backend::kMountinfo});
  ASSERT_TRUE(fresh) << fresh.error().Message();
  auto key = [backend](const Mount& m) { return backend == WatchBackend::kFanotify ? m.id : m.old_id; };
  std::sort(fresh->begin(), fresh->end(), [&](const Mount& a, const Mount& b) { return key(a) < key(b); });
  const std::vector<Mount> kept = live.Mounts();
  ASSERT_EQ(kept.size(), fresh->size()) << "after batch " << batch;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(key(kept[i]), key((*fresh)[i])) << "batch " << batch;
    EXPECT_EQ(kept[i].parent_id, (*fresh)[i].parent_id) << "batch " << batch;
    EXPECT_EQ(kept[i].old_parent_id, (*fresh)[i].old_parent_id) << "batch " << batch;
    EXPECT_EQ(kept[i].point, (*fresh)[i].point) << "batch " << batch;
    EXPECT_EQ(kept[i].fs_type, (*fresh)[i].fs_type) << "batch " << batch;
    EXPECT_EQ(kept[i].sb_source, (*fresh)[i].sb_source) << "batch " << batch;
  }
}

TEST_P(WatchTest, LiveTableEqualsAFreshListingAfterEveryBatchOfRandomChurn) {
  testing::InPrivateMountNamespace([this] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    auto live = LiveMountTable::Open({}, {.backend = GetParam()});
    ASSERT_TRUE(live) << live.error().Message();
    std::mt19937 random(19);
    std::vector<std::string> mounted;  // our mount points, some nested
    int next_dir = 0;
    const int batches = InVm() ? 6 : 30;
    for (int batch = 0; batch < batches; ++batch) {
      for (int op = 0; op < 12; ++op) {
        const unsigned choice = random() % 4;
        if (choice <= 1 || mounted.empty()) {
          // A new mount at the top or inside one of ours.
          const std::string parent = mounted.empty() || choice == 0 ? base : mounted[random() % mounted.size()];
          const std::string dir = parent + "/d" + std::to_string(next_dir++);
          if (!testing::MakeDirs(dir)) continue;
          ASSERT_EQ(::mount(("churn" + std::to_string(next_dir)).c_str(), dir.c_str(), "tmpfs", 0, nullptr), 0);
          mounted.push_back(dir);
        } else if (choice == 2) {
          // Move one of ours (and all below it) to a fresh place at the top.
          const std::string from = mounted[random() % mounted.size()];
          const std::string to = base + "/m" + std::to_string(next_dir++);
          ASSERT_TRUE(testing::MakeDirs(to));
          ASSERT_EQ(::mount(from.c_str(), to.c_str(), nullptr, MS_MOVE, nullptr), 0) << from;
          for (std::string& path : mounted) {
            if (path == from || path.starts_with(from + "/")) path = to + path.substr(from.size());
          }
        } else {
          // Detach one of ours with everything below it.
          const std::string gone = mounted[random() % mounted.size()];
          ASSERT_EQ(::umount2(gone.c_str(), MNT_DETACH), 0) << gone;
          std::erase_if(mounted, [&](const std::string& p) { return p == gone || p.starts_with(gone + "/"); });
        }
      }
      // The events of this batch are queued by now; take them all.
      for (;;) {
        auto taken = live->Update(0);
        ASSERT_TRUE(taken) << taken.error().Message();
        if (*taken == 0) break;
      }
      ExpectSameAsFreshListing(*live, GetParam(), batch);
      if (::testing::Test::HasFailure()) return;
    }
    if (GetParam() == WatchBackend::kFanotify) {
      // One statmount per event, not a re-read: the first read only.
      EXPECT_EQ(live->watcher().stats().full_reads, 1U);
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, WatchTest, ::testing::Values(WatchBackend::kFanotify, WatchBackend::kMountinfo),
                         [](const auto& info) { return BackendName(info.param); });

TEST(Watch, QueueOverflowIsReportedAndTheTableReadAgain) {
  if (!KernelFeatures().fanotify_mount_events) GTEST_SKIP() << "no fanotify mount events";
  if (InVm()) GTEST_SKIP() << "17,000 mounts take minutes under TCG";
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    auto watcher = MountWatcher::Open({}, {.backend = WatchBackend::kFanotify});
    ASSERT_TRUE(watcher) << watcher.error().Message();
    // fs.fanotify.max_queued_events is 16,384 by default: two events per
    // mount and umount overflow it. The last mount stays.
    const std::string dir = base + "/x";
    ASSERT_TRUE(testing::MakeDirs(dir));
    for (int i = 0; i < 8400; ++i) {
      ASSERT_EQ(::mount("flood", dir.c_str(), "tmpfs", 0, nullptr), 0);
      ASSERT_EQ(::umount2(dir.c_str(), 0), 0);
    }
    ASSERT_EQ(::mount("last", dir.c_str(), "tmpfs", 0, nullptr), 0);
    auto events = watcher->Next(1000);
    ASSERT_TRUE(events) << events.error().Message();
    bool overflow = false;
    for (const MountEvent& event : *events) overflow = overflow || event.type == MountEventType::kOverflow;
    EXPECT_TRUE(overflow);
    EXPECT_EQ(watcher->stats().overflows, 1U);
    bool last_there = false;
    for (const auto& [key, mount] : watcher->Table()) last_there = last_there || mount.sb_source == "last";
    EXPECT_TRUE(last_there);
  });
}

TEST(Watch, AMountGoneBeforeItWasReadIsStillReportedByItsId) {
  if (!KernelFeatures().fanotify_mount_events) GTEST_SKIP() << "no fanotify mount events";
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    auto watcher = MountWatcher::Open({}, {.backend = WatchBackend::kFanotify});
    ASSERT_TRUE(watcher) << watcher.error().Message();
    ASSERT_EQ(::mount("brief", base.c_str(), "tmpfs", 0, nullptr), 0);
    ASSERT_EQ(::umount2(base.c_str(), 0), 0);
    auto events = watcher->Next(1000);
    ASSERT_TRUE(events) << events.error().Message();
    ASSERT_EQ(events->size(), 2U);
    EXPECT_EQ((*events)[0].type, MountEventType::kAttach);
    EXPECT_EQ((*events)[1].type, MountEventType::kDetach);
    EXPECT_NE((*events)[0].id, 0U);
    EXPECT_EQ((*events)[0].id, (*events)[1].id);
    EXPECT_EQ((*events)[0].mount.mask, 0U);
  });
}

TEST(Watch, ANamespaceByIdIsRefusedWithEnotsup) {
  auto watcher = MountWatcher::Open(NamespaceRef::ById(12345));
  ASSERT_FALSE(watcher);
  EXPECT_EQ(watcher.error().code, ENOTSUP);
}

// `mntns watch` in a namespace the test mounts in until it has printed its
// --count events.
void ExpectWatchJsonLines(const std::string& backend) {
  testing::InPrivateMountNamespace([&] {
    const std::string base = testing::TempDir();
    std::atomic<bool> done = false;
    std::thread churn([&] {
      for (int i = 0; !done && i < 2000; ++i) {
        if (::mount("cli", base.c_str(), "tmpfs", 0, nullptr) == 0) {
          ::usleep(20000);
          ::umount2(base.c_str(), 0);
        }
        ::usleep(20000);
      }
    });
    auto result = testing::RunCli({"watch", "--backend", backend, "--json", "--count", "4", "--timeout", "60"});
    done = true;
    churn.join();
    ASSERT_EQ(result.exit_status, 0) << result.err;
    std::istringstream text(result.out);
    int count = 0;
    for (std::string line; std::getline(text, line); ++count) {
      const auto event = nlohmann::json::parse(line);
      EXPECT_TRUE(event["event"] == "attach" || event["event"] == "detach") << line;
      EXPECT_TRUE(event["id"].is_number()) << line;
      // A mount gone before it could be read comes with its id alone.
      if (event["mount"]["mask"].empty()) continue;
      EXPECT_EQ(event["mount"]["target"], base) << line;
      EXPECT_EQ(event["mount"]["source"], "cli") << line;
    }
    EXPECT_EQ(count, 4) << result.out;
  });
}

TEST(CliWatch, PrintsCountEventsAsJsonLinesWithFanotify) {
  if (!KernelFeatures().fanotify_mount_events) GTEST_SKIP() << "no fanotify mount events";
  ExpectWatchJsonLines("listmount");
}

TEST(CliWatch, PrintsCountEventsAsJsonLinesPollingMountinfo) { ExpectWatchJsonLines("mountinfo"); }

// `mntns watch -t tmpfs` while ramfs and tmpfs mounts come and go: only the
// tmpfs events are printed.
void ExpectTypesFilterKeepsOnlyThoseEvents(const std::string& backend) {
  testing::InPrivateMountNamespace([&] {
    const std::string base = testing::TempDir();
    const std::string ramfs = base + "/ramfs";
    const std::string tmpfs = base + "/tmpfs";
    ASSERT_TRUE(testing::MakeDirs(ramfs));
    ASSERT_TRUE(testing::MakeDirs(tmpfs));
    std::atomic<bool> done = false;
    std::thread churn([&] {
      for (int i = 0; !done && i < 2000; ++i) {
        for (const auto& [path, type] : {std::pair{ramfs, "ramfs"}, std::pair{tmpfs, "tmpfs"}}) {
          if (::mount("cli", path.c_str(), type, 0, nullptr) == 0) {
            ::usleep(20000);
            ::umount2(path.c_str(), 0);
          }
        }
        ::usleep(20000);
      }
    });
    auto result = testing::RunCli(
        {"watch", "--backend", backend, "--json", "-t", "tmpfs", "--count", "4", "--timeout", "60"});
    done = true;
    churn.join();
    ASSERT_EQ(result.exit_status, 0) << result.err;
    std::istringstream text(result.out);
    int count = 0;
    for (std::string line; std::getline(text, line); ++count) {
      const auto event = nlohmann::json::parse(line);
      EXPECT_EQ(event["mount"]["fstype"], "tmpfs") << line;
      EXPECT_EQ(event["mount"]["target"], tmpfs) << line;
    }
    EXPECT_EQ(count, 4) << result.out;
  });
}

TEST(CliWatch, TypesFilterKeepsOnlyThoseEventsWithFanotify) {
  if (!KernelFeatures().fanotify_mount_events) GTEST_SKIP() << "no fanotify mount events";
  ExpectTypesFilterKeepsOnlyThoseEvents("listmount");
}

TEST(CliWatch, TypesFilterKeepsOnlyThoseEventsPollingMountinfo) { ExpectTypesFilterKeepsOnlyThoseEvents("mountinfo"); }

TEST(CliWatch, TimeoutEndsAQuietWatchWithStatusZero) {
  testing::InPrivateMountNamespace([] {
    auto result = testing::RunCli({"watch", "--timeout", "1", "-n"});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out, "");
  });
}

}  // namespace
}  // namespace mntns
