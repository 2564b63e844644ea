// The mount-table queries against a tree this test builds in its own namespace.
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "mntns/features.h"
#include "mntns/query.h"
#include "query/statmount.h"
#include "sys/uapi.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::BindMount;
using testing::InPrivateMountNamespace;
using testing::MountTmpfs;
using testing::SetMountAttributes;
using testing::SetPropagation;

// `count` binds side by side under a tmpfs at `base`, all of one tmpfs mounted
// elsewhere: one superblock for every bind. Not stacked (every path walk would
// cross each layer) and not of a directory of `base` (every bind would walk all
// of base's children): either makes each bind cost more than the one before.
void MountBindsOfOneTmpfs(const std::string& base, int count) {
  ASSERT_TRUE(MountTmpfs(base));
  const std::string source = testing::TempDir();
  ASSERT_TRUE(MountTmpfs(source));
  for (int i = 0; i < count; ++i) ASSERT_TRUE(BindMount(source, base + "/" + std::to_string(i))) << i;
}

// Builds, under `base`:
//   base            tmpfs (private)
//   base/shared     tmpfs, shared
//   base/peer       bind of base/shared: same peer group
//   base/slave      bind of base/shared, then made a slave of it
//   base/unbindable tmpfs, unbindable
//   base/ro         tmpfs size=64k, read-only, nosuid, noexec
//   base/with space tmpfs (tests escaping)
bool BuildKnownTree(const std::string& base) {
  return MountTmpfs(base) && MountTmpfs(base + "/shared") &&
         SetPropagation(base + "/shared", MS_SHARED) && BindMount(base + "/shared", base + "/peer") &&
         BindMount(base + "/shared", base + "/slave") && SetPropagation(base + "/slave", MS_SLAVE) &&
         MountTmpfs(base + "/unbindable") && SetPropagation(base + "/unbindable", MS_UNBINDABLE) &&
         MountTmpfs(base + "/ro", "size=64k") &&
         SetMountAttributes(base + "/ro", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) &&
         MountTmpfs(base + "/with space");
}

std::map<std::string, Mount> MountsUnder(const std::vector<Mount>& mounts, const std::string& base) {
  std::map<std::string, Mount> under;
  for (const Mount& mount : mounts) {
    if (mount.point == base || mount.point.starts_with(base + "/")) {
      under[mount.point.substr(base.size())] = mount;
    }
  }
  return under;
}

// Everything both backends can say, rendered the way mountinfo shows it.
std::string Describe(const Mount& m) {
  return std::to_string(m.old_id) + " " + std::to_string(m.old_parent_id) + " " +
         std::to_string(m.sb_dev_major) + ":" + std::to_string(m.sb_dev_minor) + " " + m.root + " " +
         m.point + " " + VfsOptions(m) + " [" + PropagationText(m) + "] " + FsTypeText(m) + " " +
         m.sb_source + " " + SuperOptions(m) + " ns=" + std::to_string(m.ns_id);
}

TEST(ListMounts, ListmountBackendSeesTheTreeAsBuilt) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(BuildKnownTree(base));
    auto mounts = ListMounts({}, {.mask = field::kAll, .backend = Backend::kListmount});
    ASSERT_TRUE(mounts) << mounts.error().Message();
    auto tree = MountsUnder(*mounts, base);
    ASSERT_EQ(tree.size(), 7U);
    EXPECT_EQ(tree[""].fs_type, "tmpfs");
    EXPECT_EQ(PropagationText(tree[""]), "private");
    EXPECT_EQ(tree["/shared"].propagation, static_cast<std::uint64_t>(MS_SHARED));
    EXPECT_NE(tree["/shared"].peer_group, 0U);
    EXPECT_EQ(tree["/peer"].peer_group, tree["/shared"].peer_group) << "a bind of a shared mount is its peer";
    EXPECT_EQ(tree["/slave"].propagation, static_cast<std::uint64_t>(MS_SLAVE));
    EXPECT_EQ(tree["/slave"].master, tree["/shared"].peer_group);
    EXPECT_EQ(PropagationText(tree["/unbindable"]), "unbindable");
    EXPECT_EQ(VfsOptions(tree["/ro"]), "ro,nosuid,noexec,relatime");
    // Debian's 7.x kernels add "inode64" to every tmpfs; 6.18 here does not.
    EXPECT_TRUE(SuperOptions(tree["/ro"]).starts_with("rw,size=64k")) << SuperOptions(tree["/ro"]);
    ASSERT_FALSE(tree["/ro"].fs_option_array.empty());
    EXPECT_EQ(tree["/ro"].fs_option_array.front(), "size=64k");
    EXPECT_EQ(tree["/with space"].point, base + "/with space");
    for (const auto& [name, mount] : tree) {
      EXPECT_NE(mount.id, 0U) << name;
      EXPECT_NE(mount.ns_id, 0U) << name;
      EXPECT_EQ(mount.sb_magic, 0x01021994U) << name << " (TMPFS_MAGIC)";
      if (!name.empty()) {
        EXPECT_EQ(mount.parent_id, tree[""].id) << name;
      }
    }
  });
}

TEST(ListMounts, BothBackendsReturnTheSameTable) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(BuildKnownTree(base));
    auto by_listmount = ListMounts({}, {.mask = field::kAll, .backend = Backend::kListmount});
    auto by_mountinfo = ListMounts({}, {.mask = field::kAll, .backend = Backend::kMountinfo});
    ASSERT_TRUE(by_listmount) << by_listmount.error().Message();
    ASSERT_TRUE(by_mountinfo) << by_mountinfo.error().Message();
    ASSERT_EQ(by_listmount->size(), by_mountinfo->size());
    for (std::size_t i = 0; i < by_listmount->size(); ++i) {
      EXPECT_EQ(Describe((*by_listmount)[i]), Describe((*by_mountinfo)[i])) << "mount #" << i;
      EXPECT_EQ((*by_listmount)[i].fs_option_array, (*by_mountinfo)[i].fs_option_array) << "mount #" << i;
    }
  });
}

TEST(ListMounts, RequestsOnlyTheFieldsAskedFor) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  auto mounts = ListMounts({}, {.mask = field::kMntPoint, .backend = Backend::kListmount});
  ASSERT_TRUE(mounts) << mounts.error().Message();
  ASSERT_FALSE(mounts->empty());
  for (const Mount& mount : *mounts) {
    EXPECT_EQ(mount.mask, field::kMntPoint);
    EXPECT_TRUE(mount.fs_type.empty());
  }
}

TEST(StatMount, GrowsItsBufferWhenTheStringsDoNotFit) {
  if (!KernelFeatures().statmount) GTEST_SKIP() << "kernel has no statmount (before 6.8)";
  InPrivateMountNamespace([] {
    // A bind whose mount point and root are each ~3,000 bytes long: with the
    // 512-byte struct that overflows the first 4 KiB buffer (EOVERFLOW).
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    std::string long_path = base;
    for (int i = 0; i < 14; ++i) long_path += "/" + std::string(200, static_cast<char>('a' + i));
    ASSERT_TRUE(testing::MakeDirs(long_path + "/src"));
    ASSERT_TRUE(BindMount(long_path + "/src", long_path + "/dst"));
    for (Backend backend : {Backend::kListmount, Backend::kMountinfo}) {
      auto mount = StatmountByPath(long_path + "/dst", {.mask = field::kAll, .backend = backend});
      ASSERT_TRUE(mount) << mount.error().Message();
      EXPECT_EQ(mount->point, long_path + "/dst");
      EXPECT_EQ(mount->root, long_path.substr(base.size()) + "/src");
    }
  });
}

TEST(ListMounts, PagesThroughTablesLargerThanOneListmountBatch) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    constexpr int kBinds = 9000;  // more than one listmount batch (8192)
    ASSERT_NO_FATAL_FAILURE(MountBindsOfOneTmpfs(testing::TempDir(), kBinds));
    auto by_listmount = ListMounts({}, {.mask = field::kMntBasic, .backend = Backend::kListmount});
    auto by_mountinfo = ListMounts({}, {.backend = Backend::kMountinfo});
    ASSERT_TRUE(by_listmount) << by_listmount.error().Message();
    ASSERT_TRUE(by_mountinfo) << by_mountinfo.error().Message();
    EXPECT_EQ(by_listmount->size(), by_mountinfo->size());
    EXPECT_GE(by_listmount->size(), static_cast<std::size_t>(kBinds));
    for (std::size_t i = 0; i < std::min(by_listmount->size(), by_mountinfo->size()); ++i) {
      ASSERT_EQ((*by_listmount)[i].old_id, (*by_mountinfo)[i].old_id) << i;
    }
  });
}

// listmount and the statmount of each id are separate calls: a mount listed
// and then unmounted before it is read is left out, never an error. Here a
// thread mounts and unmounts a tmpfs as fast as it can; its mount has the
// highest id, so it is read last, milliseconds after the listing.
TEST(ListMounts, MountsThatVanishWhileTheTableIsReadAreLeftOut) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_NO_FATAL_FAILURE(MountBindsOfOneTmpfs(base, 3000));  // several blocks on every core
    const std::string churn = testing::TempDir();
    std::atomic<bool> stop{false};
    std::atomic<int> cycles{0};
    std::thread churner([&] {
      while (!stop) {
        if (::mount("churn", churn.c_str(), "tmpfs", 0, nullptr) == 0 && ::umount2(churn.c_str(), 0) == 0) ++cycles;
      }
    });
    const QueryOptions options{.mask = field::kMntBasic | field::kMntPoint, .backend = Backend::kListmount};
    int failures = 0;
    for (int i = 0; i < 30; ++i) {
      auto listed = ListMounts({}, options);
      auto blocks = ForEachMountBlock({}, options, 256, [](std::size_t, std::span<const Mount>) { return kOk; });
      if (!listed) ADD_FAILURE() << "ListMounts: " << listed.error().Message();
      if (!blocks) ADD_FAILURE() << "ForEachMountBlock: " << blocks.error().Message();
      if (listed) {
        EXPECT_GE(listed->size(), 3001U);
      }
      failures += (listed ? 0 : 1) + (blocks ? 0 : 1);
      if (failures > 3) break;
    }
    stop = true;
    churner.join();
    EXPECT_GT(cycles, 100) << "the churning thread hardly ran";
  });
}

// A child in a namespace of its own with a marker mount; it waits until told to exit.
class OtherNamespace {
 public:
  explicit OtherNamespace(const std::string& marker) {
    int ready[2];
    EXPECT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(release_, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(release_[1]);  // or the read below would never see EOF
      bool ok = ::unshare(CLONE_NEWNS) == 0 && SetPropagation("/", MS_PRIVATE, true) &&
                MountTmpfs(marker);
      char byte = ok ? '1' : '0';
      (void)!::write(ready[1], &byte, 1);
      (void)!::read(release_[0], &byte, 1);
      ::_exit(0);
    }
    ::close(ready[1]);
    char byte = 0;
    EXPECT_EQ(::read(ready[0], &byte, 1), 1);
    EXPECT_EQ(byte, '1') << "child could not build its namespace";
    ::close(ready[0]);
  }
  ~OtherNamespace() {
    ::close(release_[1]);
    ::close(release_[0]);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int release_[2] = {-1, -1};
};

bool HasMountAt(const std::vector<Mount>& mounts, const std::string& point) {
  return std::any_of(mounts.begin(), mounts.end(), [&](const Mount& m) { return m.point == point; });
}

TEST(ListMounts, ReadsAnotherNamespaceByPidWithBothBackends) {
  InPrivateMountNamespace([] {
    const std::string marker = testing::TempDir() + "/marker";
    OtherNamespace other(marker);
    for (Backend backend : {Backend::kAuto, Backend::kMountinfo}) {
      auto mounts = ListMounts(NamespaceRef::ByPid(other.pid()), {.backend = backend});
      ASSERT_TRUE(mounts) << mounts.error().Message();
      EXPECT_TRUE(HasMountAt(*mounts, marker)) << "backend " << static_cast<int>(backend);
    }
    auto own = ListMounts();
    ASSERT_TRUE(own);
    EXPECT_FALSE(HasMountAt(*own, marker)) << "the marker must not leak into our namespace";
  });
}

TEST(ListMounts, ReadsAnotherNamespaceByNsFileAndById) {
  InPrivateMountNamespace([] {
    const std::string marker = testing::TempDir() + "/marker";
    OtherNamespace other(marker);
    const std::string ns_file = "/proc/" + std::to_string(other.pid()) + "/ns/mnt";
    for (Backend backend : {Backend::kAuto, Backend::kMountinfo}) {
      auto mounts = ListMounts(NamespaceRef::ByFile(ns_file), {.backend = backend});
      ASSERT_TRUE(mounts) << mounts.error().Message();
      ASSERT_TRUE(HasMountAt(*mounts, marker)) << "backend " << static_cast<int>(backend);
      if (backend == Backend::kAuto && KernelFeatures().listmount) {
        const std::uint64_t ns_id = mounts->front().ns_id;
        auto by_id = ListMounts(NamespaceRef::ById(ns_id));
        ASSERT_TRUE(by_id) << by_id.error().Message();
        EXPECT_TRUE(HasMountAt(*by_id, marker));
      }
    }
  });
}

TEST(ListMounts, MountinfoBackendRefusesNamespaceIdsWithENOTSUP) {
  auto mounts = ListMounts(NamespaceRef::ById(12345), {.backend = Backend::kMountinfo});
  ASSERT_FALSE(mounts);
  EXPECT_EQ(mounts.error().code, ENOTSUP);
}

TEST(ListMounts, UnknownNamespaceIdIsAnError) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  auto mounts = ListMounts(NamespaceRef::ById(0xfffffffffff0ULL));
  ASSERT_FALSE(mounts);
  EXPECT_EQ(mounts.error().code, ENOENT) << mounts.error().Message();
  // Named once: listmount's own request says mnt_ns_id=N already.
  const std::string message = mounts.error().Message();
  const std::string id = std::to_string(0xfffffffffff0ULL);
  ASSERT_NE(message.find(id), std::string::npos) << message;
  EXPECT_EQ(message.find(id, message.find(id) + 1), std::string::npos) << message;
}

TEST(ListMounts, NonexistentPidIsAnErrorNamingThePath) {
  auto mounts = ListMounts(NamespaceRef::ByPid(0x3ffffff0));
  ASSERT_FALSE(mounts);
  EXPECT_EQ(mounts.error().code, ENOENT);
  EXPECT_NE(mounts.error().Message().find("/proc/1073741808/ns/mnt"), std::string::npos)
      << mounts.error().Message();
}

TEST(ListMounts, NonNamespaceFileIsEINVAL) {
  for (const char* path : {"/proc/self/ns/net", "/proc/self/status"}) {
    auto mounts = ListMounts(NamespaceRef::ByFile(path), {.backend = Backend::kListmount});
    ASSERT_FALSE(mounts) << path;
    EXPECT_EQ(mounts.error().code, EINVAL) << mounts.error().Message();
  }
}

TEST(StatMount, ByPathFindsTheMountThePathLivesOn) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(BuildKnownTree(base));
    ASSERT_TRUE(testing::MakeDirs(base + "/ro/../shared/inner"));
    for (Backend backend : {Backend::kAuto, Backend::kMountinfo}) {
      auto mount = StatmountByPath(base + "/shared/inner", {.backend = backend});
      ASSERT_TRUE(mount) << mount.error().Message();
      EXPECT_EQ(mount->point, base + "/shared");
      EXPECT_EQ(PropagationText(*mount), "shared:" + std::to_string(mount->peer_group));
    }
  });
}

TEST(StatMount, ByIdMatchesTheListing) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  auto mounts = ListMounts();
  ASSERT_TRUE(mounts) << mounts.error().Message();
  const Mount& last = mounts->back();
  auto mount = StatmountById(last.id);
  ASSERT_TRUE(mount) << mount.error().Message();
  EXPECT_EQ(mount->point, last.point);
  EXPECT_EQ(mount->old_id, last.old_id);
  auto by_old_id = StatmountById(last.old_id, {}, {.backend = Backend::kMountinfo});
  ASSERT_TRUE(by_old_id) << by_old_id.error().Message();
  EXPECT_EQ(by_old_id->point, last.point);
}

TEST(ListMountIds, ListsTheIdsOfTheTableInItsOrder) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir() + "/ids";
    MountBindsOfOneTmpfs(base, 5);
    auto mounts = ListMounts({}, {.mask = field::kMntBasic, .backend = Backend::kListmount});
    ASSERT_TRUE(mounts) << mounts.error().Message();
    std::vector<std::uint64_t> listed;
    for (const Mount& mount : *mounts) listed.push_back(mount.id);
    auto ids = ListMountIds();
    ASSERT_TRUE(ids) << ids.error().Message();
    EXPECT_EQ(*ids, listed);
  });
}

TEST(ListMountIds, ReadsAnotherNamespaceByFile) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    const std::string marker = testing::TempDir() + "/marker";
    OtherNamespace other(marker);
    const auto ns = NamespaceRef::ByFile("/proc/" + std::to_string(other.pid()) + "/ns/mnt");
    auto mounts = ListMounts(ns, {.mask = field::kMntBasic});
    ASSERT_TRUE(mounts) << mounts.error().Message();
    auto ids = ListMountIds(ns);
    ASSERT_TRUE(ids) << ids.error().Message();
    ASSERT_EQ(ids->size(), mounts->size());
    EXPECT_EQ(ids->back(), mounts->back().id);
  });
}

TEST(StatmountUndecoded, WritesTheKernelsStructForTheMount) {
  if (!KernelFeatures().statmount) GTEST_SKIP() << "kernel has no statmount (before 6.8)";
  auto mounts = ListMounts({}, {.mask = field::kMntBasic});
  ASSERT_TRUE(mounts) << mounts.error().Message();
  alignas(std::uint64_t) std::array<std::byte, 4096> buffer{};
  ASSERT_TRUE(StatmountUndecoded(mounts->back().id, field::kMntBasic, buffer));
  sys::RawStatmount reply;
  std::memcpy(&reply, buffer.data(), sizeof reply);
  EXPECT_EQ(reply.mnt_id, mounts->back().id);
  EXPECT_NE(reply.mask & sys::kStatmountMntBasic, 0U);
  EXPECT_GE(reply.size, sizeof reply);
}

TEST(StatmountUndecoded, ShortBufferIsEOVERFLOWAndAMissingMountENOENT) {
  if (!KernelFeatures().statmount) GTEST_SKIP() << "kernel has no statmount (before 6.8)";
  auto mounts = ListMounts({}, {.mask = field::kMntBasic});
  ASSERT_TRUE(mounts) << mounts.error().Message();
  // Room for the struct and none for its strings.
  alignas(std::uint64_t) std::array<std::byte, sizeof(sys::RawStatmount)> small{};
  auto short_read = StatmountUndecoded(mounts->back().id, field::kMntPoint, small);
  ASSERT_FALSE(short_read);
  EXPECT_EQ(short_read.error().code, EOVERFLOW);
  std::array<std::byte, 4096> buffer{};
  auto missing = StatmountUndecoded(0xfffffff00ULL, field::kMntBasic, buffer);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ENOENT);
}

TEST(StatMount, NonexistentPathNamesOperationPathAndErrno) {
  auto mount = StatmountByPath("/nope/not-here");
  ASSERT_FALSE(mount);
  EXPECT_EQ(mount.error().Message(), "stat \"/nope/not-here\": No such file or directory (ENOENT)");
}

TEST(StatMount, UnknownUniqueIdIsENOENT) {
  if (!KernelFeatures().statmount) GTEST_SKIP() << "kernel has no statmount (before 6.8)";
  auto mount = StatmountById(0xfffffff00ULL);
  ASSERT_FALSE(mount);
  EXPECT_EQ(mount.error().code, ENOENT);
  EXPECT_NE(mount.error().Message().find("--id 68719476480"), std::string::npos) << mount.error().Message();
}

TEST(StatMount, OldIdGivenAsUniqueIdIsEINVALWithAHint) {
  auto mount = StatmountById(12345, {}, {.backend = Backend::kListmount});
  ASSERT_FALSE(mount);
  EXPECT_EQ(mount.error().code, EINVAL);
  EXPECT_NE(mount.error().Message().find("--backend mountinfo"), std::string::npos) << mount.error().Message();
}

}  // namespace
}  // namespace mntns

namespace mntns {
namespace {

// The blocks ForEachMountBlock hands over, put back in index order.
Result<std::vector<Mount>> CollectBlocks(const QueryOptions& options, std::size_t block_size,
                                         std::size_t* calls = nullptr) {
  std::mutex mutex;
  std::map<std::size_t, std::vector<Mount>> blocks;
  auto count = ForEachMountBlock({}, options, block_size, [&](std::size_t index, std::span<const Mount> mounts) {
    std::lock_guard lock(mutex);
    EXPECT_FALSE(blocks.contains(index)) << "block " << index << " twice";
    EXPECT_LE(mounts.size(), block_size);
    blocks[index].assign(mounts.begin(), mounts.end());
    return kOk;
  });
  if (!count) return std::unexpected(count.error());
  EXPECT_EQ(blocks.size(), *count);
  if (calls != nullptr) *calls = blocks.size();
  std::vector<Mount> all;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_TRUE(blocks.contains(i)) << "block " << i << " missing";
    all.insert(all.end(), blocks[i].begin(), blocks[i].end());
  }
  return all;
}

TEST(ForEachMountBlock, BlocksInIndexOrderAreTheTableListMountsReturns) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(BuildKnownTree(base));
    // Enough mounts for several blocks on every core, with fields that differ
    // from one mount to the next (a reused Mount must not keep old values).
    for (int i = 0; i < 600; ++i) {
      const std::string dir = base + "/many/" + std::to_string(i);
      ASSERT_TRUE(i % 3 == 0 ? MountTmpfs(dir, i % 2 == 0 ? "size=" + std::to_string(64 + i) + "k" : "")
                             : BindMount(base + "/shared", dir));
    }
    for (Backend backend : {Backend::kListmount, Backend::kMountinfo}) {
      if (backend == Backend::kListmount && !KernelFeatures().listmount) continue;
      auto listed = ListMounts({}, {.mask = field::kAll, .backend = backend});
      ASSERT_TRUE(listed) << listed.error().Message();
      std::size_t calls = 0;
      auto blocks = CollectBlocks({.mask = field::kAll, .backend = backend}, 64, &calls);
      ASSERT_TRUE(blocks) << blocks.error().Message();
      EXPECT_EQ(calls, (listed->size() + 63) / 64);
      ASSERT_EQ(blocks->size(), listed->size());
      for (std::size_t i = 0; i < listed->size(); ++i) {
        EXPECT_EQ(Describe((*blocks)[i]), Describe((*listed)[i])) << "mount #" << i;
        EXPECT_EQ((*blocks)[i].fs_option_array, (*listed)[i].fs_option_array) << "mount #" << i;
        EXPECT_EQ((*blocks)[i].mask, (*listed)[i].mask) << "mount #" << i;
      }
    }
  });
}

// Reading threads are an optimisation: where none can start (RLIMIT_NPROC
// reached), the table is still read, on the calling thread, and nothing
// throws (std::jthread did, and the process died in std::terminate).
TEST(ForEachMountBlock, ReadsTheWholeTableWhenNoThreadCanStart) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "listmount(2) needs Linux 6.8";
  std::size_t expected = 0;
  testing::AsUnprivilegedUser(
      [&] {
        const std::string base = testing::TempDir();
        ASSERT_TRUE(MountTmpfs(base));
        for (int i = 0; i < 40; ++i) ASSERT_TRUE(MountTmpfs(base + "/" + std::to_string(i)));
        auto listed = ListMounts({}, {.mask = field::kMntBasic});
        ASSERT_TRUE(listed) << listed.error().Message();
        expected = listed->size();
      },
      [&] {
        const rlimit none{1, 1};  // this process alone: no clone() for this uid succeeds
        ASSERT_EQ(::setrlimit(RLIMIT_NPROC, &none), 0);
        std::size_t seen = 0;
        std::set<std::thread::id> threads;
        auto read = ForEachMountBlock({}, {.mask = field::kMntBasic | field::kMntPoint}, 4,
                                      [&](std::size_t, std::span<const Mount> mounts) -> Result<void> {
                                        seen += mounts.size();
                                        threads.insert(std::this_thread::get_id());
                                        return kOk;
                                      });
        ASSERT_TRUE(read) << read.error().Message();
        EXPECT_EQ(seen, expected);
        EXPECT_EQ(threads, std::set<std::thread::id>{std::this_thread::get_id()});
        // The mountinfo backend needs a thread to enter a namespace: an error, not a crash.
        auto inside = ListMounts(NamespaceRef::ByFile("/proc/self/ns/mnt"), {.backend = Backend::kMountinfo});
        ASSERT_FALSE(inside);
        EXPECT_EQ(inside.error().code, EAGAIN) << inside.error().Message();
      });
}

// taskset and cpusets limit the CPUs; one reading thread per CPU the process
// may use, not per CPU the machine has.
TEST(ForEachMountBlock, ReadsOnNoMoreThreadsThanTheCpusItMayUse) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "listmount(2) needs Linux 6.8";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(MountTmpfs(base + "/" + std::to_string(i)));
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(std::max(::sched_getcpu(), 0), &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
    std::mutex mutex;
    std::set<std::thread::id> threads;
    auto read = ForEachMountBlock({}, {.mask = field::kMntBasic}, 4,
                                  [&](std::size_t, std::span<const Mount>) -> Result<void> {
                                    std::lock_guard lock(mutex);
                                    threads.insert(std::this_thread::get_id());
                                    return kOk;
                                  });
    ASSERT_TRUE(read) << read.error().Message();
    EXPECT_EQ(threads.size(), 1U);
  });
}

TEST(ForEachMountBlock, ATableEndingOnABlockBoundaryHasNoEmptyLastBlock) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(MountTmpfs(base + "/" + std::to_string(i)));
    auto listed = ListMounts({}, {.mask = field::kMntBasic});
    ASSERT_TRUE(listed) << listed.error().Message();
    const std::size_t size = listed->size();
    // One block exactly (the listing ends with an empty page), one block per
    // mount, and one short block after a full one.
    for (std::size_t block_size : {size, std::size_t{1}, size - 1}) {
      std::size_t calls = 0;
      auto blocks = CollectBlocks({.mask = field::kMntBasic}, block_size, &calls);
      ASSERT_TRUE(blocks) << blocks.error().Message();
      EXPECT_EQ(calls, (size + block_size - 1) / block_size) << "block size " << block_size;
      ASSERT_EQ(blocks->size(), size) << "block size " << block_size;
      for (std::size_t i = 0; i < size; ++i) EXPECT_EQ((*blocks)[i].id, (*listed)[i].id) << i;
    }
  });
}

TEST(ForEachMountBlock, FieldsNotAskedForStayEmptyInReusedMounts) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  auto blocks = CollectBlocks({.mask = field::kMntPoint, .backend = Backend::kListmount}, 2);
  ASSERT_TRUE(blocks) << blocks.error().Message();
  ASSERT_FALSE(blocks->empty());
  for (const Mount& mount : *blocks) {
    EXPECT_EQ(mount.mask, field::kMntPoint);
    EXPECT_TRUE(mount.fs_type.empty());
    EXPECT_EQ(mount.id, 0U);
  }
}

TEST(ForEachMountBlock, AVisitorsErrorStopsTheReadingAndIsReturned) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(MountTmpfs(base + "/" + std::to_string(i)));
    std::atomic<std::size_t> calls{0};
    std::atomic<bool> failed{false};
    auto count = ForEachMountBlock({}, {.mask = field::kMntBasic}, 4, [&](std::size_t index, std::span<const Mount>) {
      ++calls;
      if (index == 3) {
        failed = true;
        return Result<void>(MakeError(ENOSPC, "write", "block 3"));
      }
      // Later blocks finish only after block 3 failed (and its thread had
      // time to say stop), so the count below does not depend on scheduling.
      if (index > 3) {
        while (!failed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      return Result<void>(kOk);
    });
    ASSERT_FALSE(count);
    EXPECT_EQ(count.error().code, ENOSPC);
    EXPECT_EQ(count.error().operation, "write");
    // Blocks 0-3, plus at most the one each other thread had in hand: far
    // from all 50.
    EXPECT_LE(calls.load(), 4U + std::max(1U, std::thread::hardware_concurrency()));
  });
}

TEST(ForEachMountBlock, BlockSizeZeroIsEINVAL) {
  auto count = ForEachMountBlock({}, {}, 0, [](std::size_t, std::span<const Mount>) { return kOk; });
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().code, EINVAL);
}

// Every field of a Mount, for comparing two reads of one mount.
std::string Everything(const Mount& m) {
  auto joined = [](const std::vector<std::string>& values) {
    std::string text;
    for (const std::string& value : values) text += "[" + value + "]";
    return text;
  };
  return "mask=" + std::to_string(m.mask) + " sb=" + std::to_string(m.sb_dev_major) + ":" +
         std::to_string(m.sb_dev_minor) + "/" + std::to_string(m.sb_magic) + "/" + std::to_string(m.sb_flags) +
         " id=" + std::to_string(m.id) + " parent=" + std::to_string(m.parent_id) + " old=" +
         std::to_string(m.old_id) + "/" + std::to_string(m.old_parent_id) + " attr=" + std::to_string(m.attr) +
         " propagation=" + std::to_string(m.propagation) + "/" + std::to_string(m.peer_group) + "/" +
         std::to_string(m.master) + "/" + std::to_string(m.propagate_from) + " root=" + m.root + " point=" +
         m.point + " type=" + m.fs_type + "." + m.fs_subtype + " ns=" + std::to_string(m.ns_id) +
         " options=" + m.fs_options + " source=" + m.sb_source + " array=" + joined(m.fs_option_array) +
         " security=" + joined(m.security_option_array) + " supported=" + std::to_string(m.supported_mask) +
         " maps=" + joined(m.uid_map) + joined(m.gid_map);
}

// Unique ids of the mounts at or under `base`, in table order.
std::vector<std::uint64_t> IdsUnder(const std::string& base) {
  std::vector<std::uint64_t> ids;
  auto mounts = ListMounts({}, {.mask = field::kMntBasic | field::kMntPoint});
  EXPECT_TRUE(mounts) << mounts.error().Message();
  if (!mounts) return ids;
  for (const Mount& mount : *mounts) {
    if (mount.point == base || mount.point.starts_with(base + "/")) ids.push_back(mount.id);
  }
  return ids;
}

TEST(MountTableReader, ReadsWhatOneFullCallPerMountReads) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base, "size=1m"));
    ASSERT_TRUE(testing::MakeDirs(base + "/d"));
    // Runs of binds of one superblock (split calls, strings from the cache)
    // between runs of tmpfs mounts that each have their own superblock and
    // options (full calls), so that the reader changes its way more than once.
    for (int i = 0; i < 900; ++i) {
      const std::string dir = base + "/m" + std::to_string(i);
      const bool own_superblock = (i / 150) % 2 == 1;
      ASSERT_TRUE(own_superblock ? MountTmpfs(dir, "size=" + std::to_string(100 + i) + "k")
                                 : BindMount(base + "/d", dir))
          << i;
    }
    const std::vector<std::uint64_t> ids = IdsUnder(base);
    ASSERT_EQ(ids.size(), 901U);
    // With and without kSbBasic: the reader asks for it itself and must hide it.
    for (FieldMask mask : {field::kAll, field::kAll & ~field::kSbBasic,
                           field::kMntPoint | field::kFsType | field::kMntOpts}) {
      internal::MountTableReader reader(0, mask);
      internal::StatmountReader full;
      Mount mount;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        ASSERT_TRUE(reader.ReadInto(ids[i], mount)) << i;
        auto expected = full.ById(ids[i], 0, mask);
        ASSERT_TRUE(expected) << expected.error().Message();
        ASSERT_EQ(Everything(mount), Everything(*expected)) << "mount #" << i << ", mask " << mask;
      }
      EXPECT_LT(reader.superblock_string_calls(), ids.size()) << "mask " << mask << ": the cache was never used";
    }
  });
}

TEST(MountTableReader, AsksForASharedSuperblocksStringsOncePerRun) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_NO_FATAL_FAILURE(MountBindsOfOneTmpfs(base, 2500));
    const std::vector<std::uint64_t> ids = IdsUnder(base);
    ASSERT_EQ(ids.size(), 2501U);
    using Reader = internal::MountTableReader;
    Reader reader(0, field::kMntPoint | field::kFsType | field::kMntOpts);
    Mount mount;
    for (std::uint64_t id : ids) ASSERT_TRUE(reader.ReadInto(id, mount));
    // Full calls for the first window, then a second call only for the first
    // mount of each later run, after the cache was dropped.
    const std::size_t later_runs = (ids.size() - 1) / Reader::kRunLength;
    EXPECT_EQ(reader.superblock_string_calls(), Reader::kWindow + later_runs);
    EXPECT_EQ(reader.calls(), ids.size() + later_runs);
  });
}

// btrfs prints each mount's subvolume among its options, so options are shared
// only for filesystems on a list; sysfs (not on it) stands in for btrfs here.
TEST(MountTableReader, SharesOptionsOnlyOfFilesystemsThatPrintThemFromTheSuperblock) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  struct statfs sys {};
  if (::statfs("/sys", &sys) != 0 || sys.f_type != SYSFS_MAGIC) GTEST_SKIP() << "no sysfs at /sys";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(BindMount("/sys", base + "/" + std::to_string(i))) << i;
    std::vector<std::uint64_t> ids = IdsUnder(base);
    ids.erase(ids.begin());  // the tmpfs
    ASSERT_EQ(ids.size(), 300U);
    internal::MountTableReader with_options(0, field::kMntPoint | field::kFsType | field::kMntOpts);
    internal::MountTableReader type_only(0, field::kMntPoint | field::kFsType);
    Mount mount;
    for (std::uint64_t id : ids) {
      ASSERT_TRUE(with_options.ReadInto(id, mount));
      EXPECT_EQ(mount.fs_type, "sysfs");
      ASSERT_TRUE(type_only.ReadInto(id, mount));
    }
    EXPECT_EQ(with_options.superblock_string_calls(), ids.size());
    EXPECT_EQ(type_only.superblock_string_calls(), internal::MountTableReader::kWindow);
  });
}

TEST(MountTableReader, MakesOneCallPerMountWhenEachHasItsOwnSuperblock) {
  if (!KernelFeatures().listmount) GTEST_SKIP() << "kernel has no listmount (before 6.8)";
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(MountTmpfs(base + "/" + std::to_string(i))) << i;
    const std::vector<std::uint64_t> ids = IdsUnder(base);
    internal::MountTableReader reader(0, field::kMntPoint | field::kFsType | field::kMntOpts);
    Mount mount;
    for (std::uint64_t id : ids) ASSERT_TRUE(reader.ReadInto(id, mount));
    EXPECT_EQ(reader.calls(), ids.size());
  });
}

}  // namespace
}  // namespace mntns
