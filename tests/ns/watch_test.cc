// MountWatcher, LiveMountTable and `mntns watch`, with both backends: fanotify
// mount events (6.15+) and polling mountinfo.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

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
#include "sys/syscalls.h"

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

// Whether a JSON event carries the mount's fields (one gone before it could
// be read, and an overflow, carry none). Looked up with contains(): a const
// json's operator[] on a missing key is undefined.
bool WasRead(const nlohmann::json& event) {
  return event.contains("mount") && event["mount"].contains("mask") && !event["mount"]["mask"].empty();
}

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
      if (!WasRead(event)) continue;
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

// Mounts that come and go on a thread of the test's own: each mount in turn
// is mounted, kept 20 ms, unmounted and left away 20 ms, until the object
// goes. The pause after each unmount lets the mountinfo backend read the
// table between two mounts: else an unmount and a mount elsewhere that
// reuse the old id and the device number read as a move.
struct ChurnMount {
  std::string dir;
  std::string source = "cli";
  std::string type = "tmpfs";
  unsigned long flags = 0;
};

class MountChurn {
 public:
  explicit MountChurn(std::vector<ChurnMount> mounts)
      : mounts_(std::move(mounts)), thread_([this] {
          for (int i = 0; !done_ && i < 2000; ++i) {
            for (const ChurnMount& m : mounts_) {
              if (::mount(m.source.c_str(), m.dir.c_str(), m.type.c_str(), m.flags, nullptr) == 0) {
                ::usleep(20000);
                ::umount2(m.dir.c_str(), 0);
              }
              ::usleep(20000);
            }
          }
        }) {}
  MountChurn(const MountChurn&) = delete;
  MountChurn& operator=(const MountChurn&) = delete;
  ~MountChurn() {
    done_ = true;
    thread_.join();
  }

 private:
  std::vector<ChurnMount> mounts_;
  std::atomic<bool> done_ = false;
  std::thread thread_;
};

// A process in a mount namespace of its own (a copy of the test's, every
// mount private) that mounts tmpfs `source` on `dir` and unmounts it again
// every 20 ms, until it is killed with the object.
class ChurningNamespace {
 public:
  ChurningNamespace(const std::string& dir, const std::string& source) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        ::_exit(1);
      }
      const char byte = 1;
      if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
      for (int i = 0; i < 6000; ++i) {
        if (::mount(source.c_str(), dir.c_str(), "tmpfs", 0, nullptr) == 0) {
          ::usleep(20000);
          ::umount2(dir.c_str(), 0);
        }
        ::usleep(20000);
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    char byte = 0;
    const bool entered = pid_ > 0 && ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
    if (!entered) Stop();
  }
  ChurningNamespace(const ChurningNamespace&) = delete;
  ChurningNamespace& operator=(const ChurningNamespace&) = delete;
  ~ChurningNamespace() { Stop(); }

  // 0 where the process could not start or enter its namespace.
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string NamespaceFile() const { return "/proc/" + std::to_string(pid_) + "/ns/mnt"; }

 private:
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  pid_t pid_ = 0;
};

std::uint64_t NamespaceIdOf(const std::string& path) {
  auto fd = sys::Open(AT_FDCWD, path.c_str(), O_RDONLY);
  if (!fd) return 0;
  auto id = sys::MountNamespaceId(fd->Get());
  return id ? *id : 0;
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << "not JSON: " << line;
    if (nlohmann::json::accept(line)) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 0xF];
  }
  return hex;
}

// The namespace is held from Open on: the process that named it may go.
// The test keeps the namespace's file too, and mounts in it from a thread
// that entered it once the process is gone.
TEST_P(WatchTest, KeepsReportingTheNamespaceOfAPidAfterTheProcessExited) {
  testing::InPrivateMountNamespace([this] {
    const std::string dir = testing::TempDir();
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        ::_exit(1);
      }
      const char byte = 1;
      if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char byte = 0;
    const bool entered = ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
    auto ns = sys::Open(AT_FDCWD, ("/proc/" + std::to_string(child) + "/ns/mnt").c_str(), O_RDONLY);
    auto watcher = MountWatcher::Open(NamespaceRef::ByPid(child), {.backend = GetParam()});
    ::kill(child, SIGKILL);
    ASSERT_EQ(::waitpid(child, nullptr, 0), child);
    ASSERT_TRUE(entered);
    ASSERT_TRUE(ns) << ns.error().Message();
    ASSERT_TRUE(watcher) << watcher.error().Message();
    int error = 0;  // errno is the thread's own
    std::thread inside([&] {
      if (::unshare(CLONE_FS) != 0 || ::setns(ns->Get(), CLONE_NEWNS) != 0 ||
          ::mount("after", dir.c_str(), "tmpfs", 0, nullptr) != 0) {
        error = errno;
      }
    });
    inside.join();
    ASSERT_EQ(error, 0) << std::strerror(error);
    const auto events = EventsUntil(*watcher, MountEventType::kAttach, dir);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().mount.sb_source, "after");
  });
}

// `mntns watch --backend NAME` tests: "listmount" (fanotify) and "mountinfo".
class CliWatchBackend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "listmount" && !KernelFeatures().fanotify_mount_events) {
      GTEST_SKIP() << "no fanotify mount events on this kernel (or hidden by the feature profile)";
    }
  }

  // `mntns watch --backend NAME ARGS... --json --count 4 --timeout 60`.
  testing::CliResult WatchJson(std::vector<std::string> args) {
    std::vector<std::string> all{"watch", "--backend", GetParam(), "--json", "--count", "4", "--timeout", "60"};
    all.insert(all.end(), args.begin(), args.end());
    return testing::RunCli(all);
  }
};

// The other namespace's mounts are "theirs", the test's own "ours", on the
// same directory: only "theirs" may be reported, with their namespace's id.
void ExpectOnlyTheirEvents(const testing::CliResult& result, std::uint64_t their_ns_id) {
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const auto events = JsonLines(result.out);
  EXPECT_EQ(events.size(), 4U) << result.out;
  for (const auto& event : events) {
    if (!WasRead(event)) continue;  // gone before it could be read: its id alone
    EXPECT_EQ(event["mount"]["source"], "theirs") << event.dump();
    EXPECT_EQ(event["mount"]["ns_id"], their_ns_id) << event.dump();
  }
}

TEST_P(CliWatchBackend, PidWatchesThatProcessesNamespaceNotTheCallers) {
  testing::InPrivateMountNamespace([this] {
    const std::string dir = testing::TempDir();
    ChurningNamespace theirs(dir, "theirs");
    ASSERT_NE(theirs.pid(), 0);
    const std::uint64_t their_id = NamespaceIdOf(theirs.NamespaceFile());
    ASSERT_NE(their_id, 0U);
    ASSERT_NE(their_id, NamespaceIdOf("/proc/self/ns/mnt"));
    MountChurn ours({{.dir = dir, .source = "ours"}});
    ExpectOnlyTheirEvents(WatchJson({"--pid", std::to_string(theirs.pid())}), their_id);
  });
}

TEST_P(CliWatchBackend, NsFileWatchesThePinnedNamespaceNotTheCallers) {
  testing::InPrivateMountNamespace([this] {
    const std::string base = testing::TempDir();
    const std::string dir = base + "/churn";
    const std::string pin = base + "/pin";
    ASSERT_TRUE(testing::MakeDirs(dir));
    const int file = ::open(pin.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(file, 0);
    ::close(file);
    // A mount-namespace file binds only into a namespace with a smaller id
    // than the one it names (else mount(2) says EINVAL, move_mount ELOOP),
    // and 6.18 hands out ids in per-CPU batches: on one CPU, ours is made
    // again here, then theirs.
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(std::max(::sched_getcpu(), 0), &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0) << std::strerror(errno);
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
    ChurningNamespace theirs(dir, "theirs");
    ASSERT_NE(theirs.pid(), 0);
    // A namespace pinned the way `mntns new --pin` pins one: its nsfs file bound on a file.
    ASSERT_EQ(::mount(theirs.NamespaceFile().c_str(), pin.c_str(), nullptr, MS_BIND, nullptr), 0)
        << std::strerror(errno);
    const std::uint64_t their_id = NamespaceIdOf(pin);
    ASSERT_NE(their_id, 0U);
    MountChurn ours({{.dir = dir, .source = "ours"}});
    ExpectOnlyTheirEvents(WatchJson({"--ns-file", pin}), their_id);
  });
}

// The kept mount and the left-out one take turns; every event shown must
// be the kept mount's.
void ExpectOnlyKeptEvents(const testing::CliResult& result, const std::string& kept_dir,
                          const std::string& kept_source) {
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const auto events = JsonLines(result.out);
  EXPECT_EQ(events.size(), 4U) << result.out;
  for (const auto& event : events) {
    EXPECT_TRUE(event["event"] == "attach" || event["event"] == "detach") << event.dump();
    EXPECT_EQ(event["mount"]["target"], kept_dir) << event.dump();
    EXPECT_EQ(event["mount"]["source"], kept_source) << event.dump();
  }
}

TEST_P(CliWatchBackend, OptionsFilterKeepsOnlyEventsOfMountsWithThoseOptions) {
  testing::InPrivateMountNamespace([this] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MakeDirs(base + "/ro") && testing::MakeDirs(base + "/rw"));
    MountChurn churn({{.dir = base + "/ro", .flags = MS_RDONLY | MS_NOEXEC}, {.dir = base + "/rw"}});
    ExpectOnlyKeptEvents(WatchJson({"-O", "ro,noexec"}), base + "/ro", "cli");
  });
}

TEST_P(CliWatchBackend, SourceFilterKeepsOnlyEventsOfMountsOfThatSource) {
  testing::InPrivateMountNamespace([this] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MakeDirs(base + "/a") && testing::MakeDirs(base + "/b"));
    MountChurn churn({{.dir = base + "/a", .source = "wanted"}, {.dir = base + "/b", .source = "unwanted"}});
    ExpectOnlyKeptEvents(WatchJson({"-S", "wanted"}), base + "/a", "wanted");
  });
}

TEST_P(CliWatchBackend, MountpointFilterKeepsOnlyEventsOfMountsOnThatDirectory) {
  testing::InPrivateMountNamespace([this] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MakeDirs(base + "/a") && testing::MakeDirs(base + "/b"));
    MountChurn churn({{.dir = base + "/a"}, {.dir = base + "/b"}});
    // Written with a trailing slash, as findmnt -M takes it.
    ExpectOnlyKeptEvents(WatchJson({"-M", base + "/b/"}), base + "/b", "cli");
  });
}

// A directory name with a newline, a tab, an escape sequence, a byte that is
// not UTF-8 and a space.
std::string HostileDir(const std::string& base) { return base + "/a\nb\tc\x1b[31md\xff e"; }

TEST_P(CliWatchBackend, TextOutputEscapesATargetAsLsRawDoes) {
  testing::InPrivateMountNamespace([this] {
    const std::string dir = HostileDir(testing::TempDir());
    ASSERT_TRUE(testing::MakeDirs(dir));
    testing::CliResult watched;
    {
      MountChurn churn({{.dir = dir, .source = "hostile"}});
      watched = testing::RunCli({"watch", "--backend", GetParam(), "-n", "-o", "TARGET,SOURCE", "-S", "hostile",
                                 "--count", "1", "--timeout", "60"});
    }
    ASSERT_EQ(watched.exit_status, 0) << watched.err;
    for (unsigned char c : watched.out.substr(0, watched.out.size() - 1)) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "raw byte " << static_cast<int>(c) << " in " << watched.out;
    }
    ASSERT_EQ(::mount("hostile", dir.c_str(), "tmpfs", 0, nullptr), 0);
    const auto listed = testing::RunCli({"ls", "--backend", GetParam(), "-r", "-n", "-o", "TARGET,SOURCE",
                                         "-S", "hostile"});
    ASSERT_EQ(listed.exit_status, 0) << listed.err;
    const std::size_t space = watched.out.find(' ');
    ASSERT_NE(space, std::string::npos) << watched.out;
    EXPECT_EQ(watched.out.substr(space + 1), listed.out);
  });
}

TEST_P(CliWatchBackend, JsonOutputGivesATargetsExactBytesAsLsJsonDoes) {
  testing::InPrivateMountNamespace([this] {
    const std::string dir = HostileDir(testing::TempDir());
    ASSERT_TRUE(testing::MakeDirs(dir));
    testing::CliResult watched;
    {
      MountChurn churn({{.dir = dir, .source = "hostile"}});
      watched = testing::RunCli({"watch", "--backend", GetParam(), "--json", "-S", "hostile", "--count", "1",
                                 "--timeout", "60"});
    }
    ASSERT_EQ(watched.exit_status, 0) << watched.err;
    const auto events = JsonLines(watched.out);
    ASSERT_EQ(events.size(), 1U) << watched.out;
    const auto& mount = events[0]["mount"];
    EXPECT_EQ(mount["target_hex"], Hex(dir)) << mount.dump();
    ASSERT_EQ(::mount("hostile", dir.c_str(), "tmpfs", 0, nullptr), 0);
    const auto listed = testing::RunCli({"ls", "--backend", GetParam(), "--json", "-S", "hostile"});
    ASSERT_EQ(listed.exit_status, 0) << listed.err;
    ASSERT_TRUE(nlohmann::json::accept(listed.out)) << listed.out;
    const auto table = nlohmann::json::parse(listed.out);
    ASSERT_EQ(table["mounts"].size(), 1U) << listed.out;
    EXPECT_EQ(mount["target"], table["mounts"][0]["target"]);
    EXPECT_EQ(mount["target_hex"], table["mounts"][0]["target_hex"]);
  });
}

// One line on stderr that names `words`, with the errno name once; exit 1.
void ExpectOneErrorLine(const testing::CliResult& result, const std::vector<std::string>& words,
                        const std::string& errno_name) {
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_TRUE(result.err.starts_with("mntns: watch ")) << result.err;
  for (const std::string& word : words) EXPECT_NE(result.err.find(word), std::string::npos) << word << ": " << result.err;
  const std::size_t first = result.err.find(errno_name);
  EXPECT_NE(first, std::string::npos) << result.err;
  if (first != std::string::npos) {
    EXPECT_EQ(result.err.find(errno_name, first + 1), std::string::npos) << result.err;
  }
}

TEST_P(CliWatchBackend, APidWithoutAProcessFailsWithOneLineNamingOptionPidAndErrno) {
  // A process that was, and is reaped: its pid names nothing now.
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ASSERT_GT(gone, 0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
  const auto result = testing::RunCli({"watch", "--backend", GetParam(), "--pid", std::to_string(gone),
                                       "--timeout", "1"});
  ExpectOneErrorLine(result, {"--pid", "/proc/" + std::to_string(gone) + "/"}, "ENOENT");
}

TEST_P(CliWatchBackend, AFileThatIsNotANamespaceFailsWithOneLineNamingOptionPathAndErrno) {
  const std::string path = testing::TempDir() + "/plain";
  const int file = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(file, 0);
  ::close(file);
  const auto result = testing::RunCli({"watch", "--backend", GetParam(), "--ns-file", path, "--timeout", "1"});
  ExpectOneErrorLine(result, {"--ns-file", "\"" + path + "\"", "not a namespace file"}, "EINVAL");
}

TEST_P(CliWatchBackend, ANamespaceFileOfAnotherTypeFailsWithOneLineNamingOptionPathAndErrno) {
  const auto result = testing::RunCli({"watch", "--backend", GetParam(), "--ns-file", "/proc/self/ns/net",
                                       "--timeout", "1"});
  ExpectOneErrorLine(result, {"--ns-file", "\"/proc/self/ns/net\"", "not a mount namespace"}, "EINVAL");
}

INSTANTIATE_TEST_SUITE_P(Backends, CliWatchBackend, ::testing::Values("listmount", "mountinfo"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mntns
