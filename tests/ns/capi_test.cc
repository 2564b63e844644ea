// The C API (include/mntns/mntns.h) as a C program sees it: negative errno
// results, error objects, size-versioned structs, opaque mounts and tables,
// namespaces with each strategy, the sandbox, and examples/crun_start.c.
// The same binary runs on the host (6.x emulations) and in the 7.x VM.
// Its probe mode (`--probe WHAT`) is what the sandboxes and the example run.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mntns/features.h"
#include "mntns/mntns.h"
#include "mntns/namespace.h"
#include "mntns/query.h"
#include "support/cli_runner.h"
#include "support/namespace.h"
#include "support/probe.h"

namespace mntns {
namespace {

using testing::InPrivateMountNamespace;
using testing::MakeDirs;
using testing::MountTmpfs;
using testing::RunProgram;
using testing::SelfPath;
using testing::TempDir;

// Frees what a C caller must free, at scope exit.
struct ErrorOwner {
  mntns_error* error = nullptr;
  ~ErrorOwner() { mntns_error_free(error); }
  std::string Text() const { return error != nullptr ? mntns_error_message(error) : "(no error object)"; }
};
struct MountOwner {
  mntns_mount* mount = nullptr;
  ~MountOwner() { mntns_mount_free(mount); }
};
struct TableOwner {
  mntns_mount_table* table = nullptr;
  ~TableOwner() { mntns_mount_table_free(table); }
};
struct FdOwner {
  int fd = -1;
  ~FdOwner() {
    if (fd >= 0) ::close(fd);
  }
};

mntns_query QueryFor(std::uint32_t kind) {
  mntns_query query{};
  query.size = sizeof query;
  query.ns_kind = kind;
  return query;
}

std::vector<std::uint64_t> Ids(const mntns_mount_table* table) {
  std::vector<std::uint64_t> ids;
  for (size_t i = 0; i < mntns_mount_table_count(table); ++i) {
    mntns_mount_info info{};
    info.size = sizeof info;
    EXPECT_EQ(mntns_mount_get_info(mntns_mount_table_get(table, i), &info), 0);
    ids.push_back(info.id);
  }
  return ids;
}

std::vector<std::string> Points(const mntns_mount_table* table) {
  std::vector<std::string> points;
  for (size_t i = 0; i < mntns_mount_table_count(table); ++i) {
    points.emplace_back(mntns_mount_point(mntns_mount_table_get(table, i)));
  }
  return points;
}

// A tmpfs with two tmpfs submounts, as a namespace source.
std::string TreeWithTwoSubmounts() {
  const std::string root = TempDir() + "/tree";
  EXPECT_TRUE(MakeDirs(root));
  EXPECT_TRUE(MountTmpfs(root));
  EXPECT_TRUE(MakeDirs(root + "/a"));
  EXPECT_TRUE(MakeDirs(root + "/b"));
  EXPECT_TRUE(MountTmpfs(root + "/a"));
  EXPECT_TRUE(MountTmpfs(root + "/b"));
  return root;
}

// ---- features ------------------------------------------------------------

TEST(CApiFeatures, ReportTheSameFeaturesAsKernelFeatures) {
  mntns_features features{};
  features.size = sizeof features;
  ASSERT_EQ(mntns_get_features(&features), 0);
  EXPECT_EQ(features.size, sizeof features);
  const Features& cxx = KernelFeatures();
  EXPECT_EQ(std::string(features.kernel), cxx.kernel);
  EXPECT_EQ((features.present & MNTNS_FEATURE_STATMOUNT) != 0, cxx.statmount);
  EXPECT_EQ((features.present & MNTNS_FEATURE_LISTMOUNT_BY_NS_FD) != 0, cxx.listmount_by_ns_fd);
  EXPECT_EQ((features.present & MNTNS_FEATURE_STATMOUNT_BY_FD) != 0, cxx.statmount_by_fd);
  EXPECT_EQ((features.present & MNTNS_FEATURE_OPEN_TREE_NAMESPACE) != 0, cxx.open_tree_namespace);
  EXPECT_EQ((features.present & MNTNS_FEATURE_FSMOUNT_NAMESPACE) != 0, cxx.fsmount_namespace);
  EXPECT_EQ((features.present & MNTNS_FEATURE_STATX_MNT_ID_UNIQUE) != 0, cxx.statx_mnt_id_unique);
  EXPECT_EQ((features.present & MNTNS_FEATURE_EMPTY_MOUNT_NAMESPACE) != 0, cxx.empty_mount_namespace);
  EXPECT_EQ(features.known, (MNTNS_FEATURE_EMPTY_MOUNT_NAMESPACE << 1) - 1);
  EXPECT_EQ(std::string(mntns_feature_profile()), cxx.profile);
}

TEST(CApiFeatures, NameEveryKnownBitAsTheCliDoes) {
  EXPECT_STREQ(mntns_feature_name(MNTNS_FEATURE_OPEN_TREE_NAMESPACE), "open_tree_namespace");
  EXPECT_STREQ(mntns_feature_name(MNTNS_FEATURE_STATX_MNT_ID_UNIQUE), "statx_mnt_id_unique");
  EXPECT_STREQ(mntns_feature_name(MNTNS_FEATURE_EMPTY_MOUNT_NAMESPACE), "empty_mount_namespace");
  EXPECT_EQ(mntns_feature_name(MNTNS_FEATURE_EMPTY_MOUNT_NAMESPACE << 1), nullptr);
}

TEST(CApiSizedStructs, ASizeBelowTheFirstVersionIsEinval) {
  mntns_features features{};
  features.size = offsetof(mntns_features, kernel);
  EXPECT_EQ(mntns_get_features(&features), -EINVAL);
  EXPECT_EQ(mntns_get_features(nullptr), -EINVAL);
}

TEST(CApiSizedStructs, ALargerStructGetsTheBytesThisLibraryKnowsAndTheirCount) {
  struct {
    mntns_features known;
    unsigned char later[16];
  } bigger;
  std::memset(&bigger, 0xAB, sizeof bigger);
  bigger.known.size = sizeof bigger;
  ASSERT_EQ(mntns_get_features(&bigger.known), 0);
  EXPECT_EQ(bigger.known.size, sizeof(mntns_features));
  for (unsigned char byte : bigger.later) EXPECT_EQ(byte, 0xAB);
}

TEST(CApiSizedStructs, AQueryWithNonZeroBytesBeyondWhatTheLibraryKnowsIsE2big) {
  struct {
    mntns_query known;
    std::uint64_t later;
  } bigger{};
  bigger.known.size = sizeof bigger;
  bigger.later = 1;
  TableOwner table;
  ErrorOwner error;
  EXPECT_EQ(mntns_list_mounts(&bigger.known, &table.table, &error.error), -E2BIG);
  EXPECT_EQ(table.table, nullptr);
  bigger.later = 0;
  EXPECT_EQ(mntns_list_mounts(&bigger.known, &table.table, nullptr), 0);
}

TEST(CApiSizedStructs, AQueryWithAnUnknownNamespaceKindIsEinvalSayingSo) {
  mntns_query query = QueryFor(99);
  TableOwner table;
  ErrorOwner error;
  EXPECT_EQ(mntns_list_mounts(&query, &table.table, &error.error), -EINVAL);
  EXPECT_NE(error.Text().find("ns_kind 99"), std::string::npos) << error.Text();
}

// ---- errors ------------------------------------------------------------------

TEST(CApiErrors, AFailureReturnsMinusErrnoAndAnErrorNamingOperationAndArgument) {
  MountOwner mount;
  ErrorOwner error;
  EXPECT_EQ(mntns_statmount_by_path("/nonexistent-mntns-capi", 0, &mount.mount, &error.error), -ENOENT);
  ASSERT_NE(error.error, nullptr);
  EXPECT_EQ(mntns_error_code(error.error), ENOENT);
  EXPECT_STRNE(mntns_error_operation(error.error), "");
  EXPECT_NE(std::string(mntns_error_argument(error.error)).find("/nonexistent-mntns-capi"), std::string::npos);
  EXPECT_STREQ(mntns_error_kernel_log(error.error), "");
  EXPECT_NE(error.Text().find("No such file or directory (ENOENT)"), std::string::npos) << error.Text();
  EXPECT_EQ(mount.mount, nullptr);
}

TEST(CApiErrors, ANullErrorPointerStillGetsTheErrno) {
  MountOwner mount;
  EXPECT_EQ(mntns_statmount_by_path("/nonexistent-mntns-capi", 0, &mount.mount, nullptr), -ENOENT);
}

TEST(CApiErrors, SuccessLeavesTheErrorPointerAsItWas) {
  MountOwner mount;
  auto* sentinel = reinterpret_cast<mntns_error*>(0x1);
  mntns_error* error = sentinel;
  EXPECT_EQ(mntns_statmount_by_path("/", 0, &mount.mount, &error), 0);
  EXPECT_EQ(error, sentinel);
}

TEST(CApiErrors, ControlCharactersInTheMessageAreEscaped) {
  MountOwner mount;
  ErrorOwner error;
  EXPECT_EQ(mntns_statmount_by_path("/nonexistent\033[2J", 0, &mount.mount, &error.error), -ENOENT);
  EXPECT_EQ(error.Text().find('\033'), std::string::npos);
  EXPECT_NE(error.Text().find("\\x1b[2J"), std::string::npos) << error.Text();
}

// ---- one mount -----------------------------------------------------------------

TEST(CApiStatmount, ByPathGivesTheFieldsAndStringsOfATmpfs) {
  InPrivateMountNamespace([] {
    const std::string dir = TempDir() + "/t";
    ASSERT_TRUE(MakeDirs(dir));
    ASSERT_TRUE(MountTmpfs(dir, "size=64k"));
    MountOwner mount;
    ErrorOwner error;
    ASSERT_EQ(mntns_statmount_by_path(dir.c_str(), 0, &mount.mount, &error.error), 0) << error.Text();
    mntns_mount_info info{};
    info.size = sizeof info;
    ASSERT_EQ(mntns_mount_get_info(mount.mount, &info), 0);
    const Result<Mount> cxx = StatmountByPath(dir);
    ASSERT_TRUE(cxx) << cxx.error().Message();
    EXPECT_EQ(info.id, cxx->id);
    EXPECT_EQ(info.parent_id, cxx->parent_id);
    EXPECT_EQ(info.mask, cxx->mask);
    EXPECT_EQ(info.sb_magic, 0x01021994u);
    EXPECT_EQ(info.ns_id, cxx->ns_id);
    EXPECT_STREQ(mntns_mount_fs_type(mount.mount), "tmpfs");
    EXPECT_EQ(std::string(mntns_mount_point(mount.mount)), dir);
    EXPECT_STREQ(mntns_mount_root(mount.mount), "/");
    EXPECT_NE(std::string(mntns_mount_fs_options(mount.mount)).find("size=64k"), std::string::npos);
    const ssize_t options = mntns_mount_array_count(mount.mount, MNTNS_MOUNT_FS_OPTION_ARRAY);
    ASSERT_EQ(options, static_cast<ssize_t>(cxx->fs_option_array.size()));
    for (ssize_t i = 0; i < options; ++i) {
      EXPECT_EQ(mntns_mount_array_item(mount.mount, MNTNS_MOUNT_FS_OPTION_ARRAY, i), cxx->fs_option_array[i]);
    }
    EXPECT_EQ(mntns_mount_array_item(mount.mount, MNTNS_MOUNT_FS_OPTION_ARRAY, options), nullptr);
    EXPECT_EQ(mntns_mount_array_count(mount.mount, 42), -EINVAL);
  });
}

TEST(CApiStatmount, AMaskAsksOnlyForItsFields) {
  MountOwner mount;
  ASSERT_EQ(mntns_statmount_by_path("/", MNTNS_FIELD_FS_TYPE, &mount.mount, nullptr), 0);
  mntns_mount_info info{};
  info.size = sizeof info;
  ASSERT_EQ(mntns_mount_get_info(mount.mount, &info), 0);
  EXPECT_EQ(info.mask & ~MNTNS_FIELD_FS_TYPE, 0u);
  EXPECT_STRNE(mntns_mount_fs_type(mount.mount), "");
  EXPECT_STREQ(mntns_mount_point(mount.mount), "");
}

TEST(CApiStatmount, AnUnknownMaskBitIsEinval) {
  MountOwner mount;
  EXPECT_EQ(mntns_statmount_by_path("/", MNTNS_FIELD_ALL + 1, &mount.mount, nullptr), -EINVAL);
}

TEST(CApiStatmount, ByFdDescribesADetachedClone) {
  InPrivateMountNamespace([] {
    const std::string dir = TempDir() + "/t";
    ASSERT_TRUE(MakeDirs(dir));
    ASSERT_TRUE(MountTmpfs(dir));
    ErrorOwner error;
    FdOwner clone{mntns_open_tree(AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE, &error.error)};
    ASSERT_GE(clone.fd, 0) << error.Text();
    MountOwner mount;
    ASSERT_EQ(mntns_statmount_by_fd(clone.fd, 0, &mount.mount, &error.error), 0) << error.Text();
    mntns_mount_info info{};
    info.size = sizeof info;
    ASSERT_EQ(mntns_mount_get_info(mount.mount, &info), 0);
    EXPECT_EQ(info.sb_magic, 0x01021994u);
    EXPECT_NE(info.id, 0u);
    EXPECT_EQ(info.mask & MNTNS_FIELD_MNT_NS_ID, 0u) << "a detached mount is in no namespace";
  });
}

TEST(CApiStatmount, ByFdOfAClosedFdIsEbadf) {
  MountOwner mount;
  EXPECT_EQ(mntns_statmount_by_fd(-1, 0, &mount.mount, nullptr), -EBADF);
}

TEST(CApiStatmount, ByIdFindsTheMountListedUnderThatId) {
  TableOwner table;
  ASSERT_EQ(mntns_list_mounts(nullptr, &table.table, nullptr), 0);
  ASSERT_GT(mntns_mount_table_count(table.table), 0u);
  const std::vector<std::uint64_t> ids = Ids(table.table);
  MountOwner mount;
  ErrorOwner error;
  ASSERT_EQ(mntns_statmount_by_id(ids.back(), nullptr, &mount.mount, &error.error), 0) << error.Text();
  EXPECT_STREQ(mntns_mount_point(mount.mount), mntns_mount_point(mntns_mount_table_get(table.table, ids.size() - 1)));
}

// ---- tables ----------------------------------------------------------------------

TEST(CApiListMounts, ByNamespaceFdIdAndFileGiveTheSameTable) {
  InPrivateMountNamespace([] {
    const std::string tree = TreeWithTwoSubmounts();
    ErrorOwner error;
    FdOwner ns{mntns_open_tree_namespace(AT_FDCWD, tree.c_str(), AT_RECURSIVE, MNTNS_STRATEGY_AUTO, &error.error)};
    ASSERT_GE(ns.fd, 0) << error.Text();

    mntns_query by_fd = QueryFor(MNTNS_NS_FD);
    by_fd.ns_fd = ns.fd;
    TableOwner from_fd;
    ASSERT_EQ(mntns_list_mounts(&by_fd, &from_fd.table, &error.error), 0) << error.Text();
    EXPECT_EQ(Points(from_fd.table), (std::vector<std::string>{"/", "/a", "/b"}));

    mntns_query by_id = QueryFor(MNTNS_NS_ID);
    ASSERT_EQ(mntns_namespace_id(ns.fd, &by_id.ns_id, &error.error), 0) << error.Text();
    TableOwner from_id;
    ASSERT_EQ(mntns_list_mounts(&by_id, &from_id.table, &error.error), 0) << error.Text();

    const std::string path = "/proc/self/fd/" + std::to_string(ns.fd);
    mntns_query by_file = QueryFor(MNTNS_NS_FILE);
    by_file.ns_path = path.c_str();
    TableOwner from_file;
    ASSERT_EQ(mntns_list_mounts(&by_file, &from_file.table, &error.error), 0) << error.Text();

    EXPECT_EQ(Ids(from_fd.table), Ids(from_id.table));
    EXPECT_EQ(Ids(from_fd.table), Ids(from_file.table));
  });
}

TEST(CApiListMounts, ByPidGivesThatProcesssTable) {
  InPrivateMountNamespace([] {
    ASSERT_TRUE(MountTmpfs(TempDir()));
    mntns_query by_pid = QueryFor(MNTNS_NS_PID);
    by_pid.pid = ::getpid();
    TableOwner mine;
    TableOwner by_caller;
    ErrorOwner error;
    ASSERT_EQ(mntns_list_mounts(&by_pid, &mine.table, &error.error), 0) << error.Text();
    ASSERT_EQ(mntns_list_mounts(nullptr, &by_caller.table, &error.error), 0) << error.Text();
    EXPECT_EQ(Points(mine.table), Points(by_caller.table));
  });
}

TEST(CApiListMounts, AMissingNamespaceIdIsEnoent) {
  mntns_query query = QueryFor(MNTNS_NS_ID);
  query.ns_id = ~0ULL;
  query.backend = MNTNS_BACKEND_LISTMOUNT;
  TableOwner table;
  ErrorOwner error;
  EXPECT_EQ(mntns_list_mounts(&query, &table.table, &error.error), -ENOENT) << error.Text();
}

struct BlockWalk {
  std::mutex mutex;
  std::vector<std::vector<std::uint64_t>> blocks;
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  int stop_with = 0;
};

int CollectBlock(void* user_data, size_t index, const mntns_mount_table* block) {
  auto* walk = static_cast<BlockWalk*>(user_data);
  const int now = ++walk->inside;
  if (now > walk->most_inside) walk->most_inside = now;
  {
    std::lock_guard lock(walk->mutex);
    if (walk->blocks.size() <= index) walk->blocks.resize(index + 1);
    walk->blocks[index] = Ids(block);
  }
  ::usleep(200);  // gives another reading thread the time to call in meanwhile
  --walk->inside;
  return walk->stop_with;
}

TEST(CApiForEachMountBlock, HandsOverEveryMountOnceInOrderedBlocksOneCallAtATime) {
  InPrivateMountNamespace([] {
    const std::string dir = TempDir();
    for (int i = 0; i < 60; ++i) {
      ASSERT_TRUE(MakeDirs(dir + "/" + std::to_string(i)));
      ASSERT_TRUE(MountTmpfs(dir + "/" + std::to_string(i)));
    }
    BlockWalk walk;
    ErrorOwner error;
    const ssize_t blocks = mntns_for_each_mount_block(nullptr, 7, CollectBlock, &walk, &error.error);
    ASSERT_GT(blocks, 0) << error.Text();
    EXPECT_EQ(static_cast<size_t>(blocks), walk.blocks.size());
    std::vector<std::uint64_t> walked;
    for (const auto& block : walk.blocks) {
      EXPECT_LE(block.size(), 7u);
      walked.insert(walked.end(), block.begin(), block.end());
    }
    TableOwner table;
    ASSERT_EQ(mntns_list_mounts(nullptr, &table.table, nullptr), 0);
    EXPECT_EQ(walked, Ids(table.table));
    EXPECT_EQ(walk.most_inside, 1);
  });
}

TEST(CApiForEachMountBlock, WalksAnotherNamespaceGivenByItsFd) {
  InPrivateMountNamespace([] {
    const std::string tree = TreeWithTwoSubmounts();
    ErrorOwner error;
    FdOwner ns{mntns_open_tree_namespace(AT_FDCWD, tree.c_str(), AT_RECURSIVE, MNTNS_STRATEGY_AUTO, &error.error)};
    ASSERT_GE(ns.fd, 0) << error.Text();
    mntns_query query = QueryFor(MNTNS_NS_FD);
    query.ns_fd = ns.fd;
    BlockWalk walk;
    ASSERT_EQ(mntns_for_each_mount_block(&query, 2, CollectBlock, &walk, &error.error), 2) << error.Text();
    TableOwner table;
    ASSERT_EQ(mntns_list_mounts(&query, &table.table, &error.error), 0) << error.Text();
    const std::vector<std::uint64_t> ids = Ids(table.table);
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(walk.blocks, (std::vector<std::vector<std::uint64_t>>{{ids[0], ids[1]}, {ids[2]}}));
  });
}

TEST(CApiForEachMountBlock, AVisitorsErrorStopsTheWalkAndIsReturned) {
  BlockWalk walk;
  walk.stop_with = -ECANCELED;
  ErrorOwner error;
  EXPECT_EQ(mntns_for_each_mount_block(nullptr, 1, CollectBlock, &walk, &error.error), -ECANCELED);
  EXPECT_STREQ(mntns_error_operation(error.error), "visitor");
}

TEST(CApiForEachMountBlock, BlockSizeZeroIsEinval) {
  BlockWalk walk;
  EXPECT_EQ(mntns_for_each_mount_block(nullptr, 0, CollectBlock, &walk, nullptr), -EINVAL);
  EXPECT_TRUE(walk.blocks.empty());
}

// ---- namespaces ------------------------------------------------------------------

TEST(CApiStrategy, NamesRoundTripAndUnknownOnesAreRefused) {
  for (int strategy : {MNTNS_STRATEGY_AUTO, MNTNS_STRATEGY_NATIVE, MNTNS_STRATEGY_TEMPLATE, MNTNS_STRATEGY_CLASSIC}) {
    EXPECT_EQ(mntns_parse_strategy(mntns_strategy_name(strategy)), strategy);
  }
  EXPECT_EQ(mntns_strategy_name(4), nullptr);
  EXPECT_EQ(mntns_parse_strategy("fast"), -EINVAL);
  EXPECT_EQ(mntns_parse_strategy(nullptr), -EINVAL);
}

TEST(CApiStrategy, AutoResolvesAsTheCxxCallDoes) {
  EXPECT_EQ(mntns_resolve_strategy(MNTNS_OPERATION_OPEN_TREE_NAMESPACE, MNTNS_STRATEGY_AUTO),
            static_cast<int>(ResolveStrategy(NamespaceOperation::kOpenTreeNamespace, NamespaceStrategy::kAuto)));
  EXPECT_EQ(mntns_resolve_strategy(MNTNS_OPERATION_FSMOUNT_NAMESPACE, MNTNS_STRATEGY_AUTO),
            static_cast<int>(ResolveStrategy(NamespaceOperation::kFsmountNamespace, NamespaceStrategy::kAuto)));
  EXPECT_EQ(mntns_resolve_strategy(MNTNS_OPERATION_FSMOUNT_NAMESPACE, MNTNS_STRATEGY_CLASSIC), MNTNS_STRATEGY_CLASSIC);
  EXPECT_EQ(mntns_resolve_strategy(7, MNTNS_STRATEGY_AUTO), -EINVAL);
}

class CApiOpenTreeNamespace : public ::testing::TestWithParam<int> {};

TEST_P(CApiOpenTreeNamespace, HoldsOnlyTheCopiedTree) {
  const int strategy = GetParam();
  if (strategy == MNTNS_STRATEGY_NATIVE && !KernelFeatures().open_tree_namespace) {
    GTEST_SKIP() << "needs open_tree(OPEN_TREE_NAMESPACE), Linux 7.0";
  }
  InPrivateMountNamespace([strategy] {
    const std::string tree = TreeWithTwoSubmounts();
    ErrorOwner error;
    FdOwner ns{mntns_open_tree_namespace(AT_FDCWD, tree.c_str(), AT_RECURSIVE, strategy, &error.error)};
    ASSERT_GE(ns.fd, 0) << error.Text();
    EXPECT_NE(::fcntl(ns.fd, F_GETFD) & FD_CLOEXEC, 0);
    mntns_query query = QueryFor(MNTNS_NS_FD);
    query.ns_fd = ns.fd;
    TableOwner table;
    ASSERT_EQ(mntns_list_mounts(&query, &table.table, &error.error), 0) << error.Text();
    // namespace.h: with kClassic on 7.x the caller's rootfs (on 7.x's nullfs
    // root) stays below the tree, listed.
    std::vector<std::string> expected{"/", "/a", "/b"};
    if (strategy == MNTNS_STRATEGY_CLASSIC && testing::CallerListsARootfs()) expected.insert(expected.begin(), "/");
    EXPECT_EQ(Points(table.table), expected);
  });
}

INSTANTIATE_TEST_SUITE_P(EveryStrategy, CApiOpenTreeNamespace,
                         ::testing::Values(MNTNS_STRATEGY_AUTO, MNTNS_STRATEGY_NATIVE, MNTNS_STRATEGY_TEMPLATE,
                                           MNTNS_STRATEGY_CLASSIC),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(mntns_strategy_name(info.param));
                         });

TEST(CApiOpenTreeNamespaceErrors, OpenTreeCloneIsEinvalAndAnUnknownStrategyToo) {
  ErrorOwner error;
  EXPECT_EQ(mntns_open_tree_namespace(AT_FDCWD, "/", OPEN_TREE_CLONE, MNTNS_STRATEGY_AUTO, &error.error), -EINVAL);
  EXPECT_EQ(mntns_open_tree_namespace(AT_FDCWD, "/", 0, 9, nullptr), -EINVAL);
  EXPECT_EQ(mntns_open_tree_namespace(AT_FDCWD, nullptr, 0, MNTNS_STRATEGY_AUTO, nullptr), -EINVAL);
}

TEST(CApiOpenTreeNamespaceErrors, AMissingSourceIsEnoentNamingThePath) {
  ErrorOwner error;
  EXPECT_EQ(mntns_open_tree_namespace(AT_FDCWD, "/nonexistent-mntns-capi", 0, MNTNS_STRATEGY_AUTO, &error.error),
            -ENOENT);
  EXPECT_NE(error.Text().find("\"/nonexistent-mntns-capi\""), std::string::npos) << error.Text();
}

TEST(CApiFsmountNamespace, AFreshTmpfsIsTheOnlyMount) {
  InPrivateMountNamespace([] {
    FdOwner fs{::fsopen("tmpfs", FSOPEN_CLOEXEC)};
    ASSERT_GE(fs.fd, 0) << std::strerror(errno);
    ASSERT_EQ(::fsconfig(fs.fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0), 0) << std::strerror(errno);
    ErrorOwner error;
    FdOwner ns{mntns_fsmount_namespace(fs.fd, 0, MOUNT_ATTR_NODEV, MNTNS_STRATEGY_AUTO, &error.error)};
    ASSERT_GE(ns.fd, 0) << error.Text();
    mntns_query query = QueryFor(MNTNS_NS_FD);
    query.ns_fd = ns.fd;
    TableOwner table;
    ASSERT_EQ(mntns_list_mounts(&query, &table.table, &error.error), 0) << error.Text();
    ASSERT_EQ(mntns_mount_table_count(table.table), 1u);
    EXPECT_STREQ(mntns_mount_fs_type(mntns_mount_table_get(table.table, 0)), "tmpfs");
    EXPECT_STREQ(mntns_mount_point(mntns_mount_table_get(table.table, 0)), "/");
  });
}

TEST(CApiFsmountNamespace, AnFdThatIsNoFsContextFailsWithAnErrno) {
  FdOwner dir{::open("/", O_PATH | O_CLOEXEC)};
  ErrorOwner error;
  EXPECT_LT(mntns_fsmount_namespace(dir.fd, 0, 0, MNTNS_STRATEGY_AUTO, &error.error), 0);
  ASSERT_NE(error.error, nullptr);
  EXPECT_GT(mntns_error_code(error.error), 0);
}

TEST(CApiNamespaceFds, CountMountsCountsAtLeastTheListedOnes) {
  if (!KernelFeatures().ns_mnt_get_info) GTEST_SKIP() << "needs NS_MNT_GET_INFO, Linux 6.12";
  InPrivateMountNamespace([] {
    const std::string tree = TreeWithTwoSubmounts();
    FdOwner ns{mntns_open_tree_namespace(AT_FDCWD, tree.c_str(), AT_RECURSIVE, MNTNS_STRATEGY_AUTO, nullptr)};
    ASSERT_GE(ns.fd, 0);
    ErrorOwner error;
    const std::int64_t count = mntns_count_mounts(ns.fd, &error.error);
    EXPECT_GE(count, 3) << error.Text();
    EXPECT_LE(count, 5) << "3 listed, plus at most a template tmpfs and a 7.x rootfs";
  });
}

TEST(CApiNamespaceFds, EnteringANonNamespaceFdIsEinval) {
  FdOwner dir{::open("/", O_RDONLY | O_CLOEXEC)};
  ErrorOwner error;
  EXPECT_EQ(mntns_enter_namespace(dir.fd, &error.error), -EINVAL);
  EXPECT_NE(error.error, nullptr);
}

// ---- sandbox -----------------------------------------------------------------------

struct SpecOwner {
  mntns_sandbox_spec* spec = mntns_sandbox_spec_new();
  ~SpecOwner() { mntns_sandbox_spec_free(spec); }
};

// A spec that runs this binary as /probe with `probe_args`, in an empty
// tmpfs root with the host's /usr (and its /lib, /lib64 symlinks) for the
// loader and libraries.
void ProbeSpec(mntns_sandbox_spec* spec, const std::vector<std::string>& probe_args) {
  for (const char* dir : {"/usr", "/lib", "/lib64", "/bin"}) {
    std::error_code ec;
    const auto status = std::filesystem::symlink_status(dir, ec);
    if (ec) continue;
    if (std::filesystem::is_symlink(status)) {
      ASSERT_EQ(mntns_sandbox_spec_add_symlink(spec, std::filesystem::read_symlink(dir).c_str(), dir), 0);
    } else if (std::filesystem::is_directory(status)) {
      ASSERT_EQ(mntns_sandbox_spec_add_bind(spec, dir, dir, MNTNS_BIND_READ_ONLY), 0);
    }
  }
  ASSERT_EQ(mntns_sandbox_spec_add_bind(spec, SelfPath().c_str(), "/probe", MNTNS_BIND_READ_ONLY), 0);
  std::vector<const char*> argv{"/probe", "--probe"};
  for (const std::string& arg : probe_args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  ASSERT_EQ(mntns_sandbox_spec_set_argv(spec, argv.data()), 0);
}

// Runs a probe spec with its stdout in a file, and returns what it printed
// (status in *status).
std::string RunCapturing(mntns_sandbox_spec* spec, int* status, std::string* error_text) {
  const std::string out = TempDir() + "/out";
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "open " + out + " failed";
  // The probe writes to fd 1: hand it the file there for the run.
  const int saved = ::dup(1);
  ::dup2(fd, 1);
  ::close(fd);
  mntns_sandbox* sandbox = nullptr;
  ErrorOwner error;
  const int started = mntns_sandbox_start(spec, &sandbox, &error.error);
  *status = started == 0 ? mntns_sandbox_wait(sandbox, nullptr, 0, &error.error) : started;
  std::fflush(stdout);
  ::dup2(saved, 1);
  ::close(saved);
  mntns_sandbox_free(sandbox);
  *error_text = error.Text();
  std::string text;
  if (std::FILE* file = std::fopen(out.c_str(), "re"); file != nullptr) {
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
    std::fclose(file);
  }
  return text;
}

TEST(CApiSandbox, WaitReturnsTheCommandsExitStatus) {
  InPrivateMountNamespace([] {
    SpecOwner spec;
    ASSERT_NE(spec.spec, nullptr);
    ProbeSpec(spec.spec, {"exit", "7"});
    ErrorOwner error;
    mntns_sandbox* sandbox = nullptr;
    ASSERT_EQ(mntns_sandbox_start(spec.spec, &sandbox, &error.error), 0) << error.Text();
    EXPECT_GT(mntns_sandbox_pid(sandbox), 0);
    EXPECT_GE(mntns_sandbox_pidfd(sandbox), 0);
    EXPECT_NE(mntns_sandbox_strategy(sandbox), MNTNS_STRATEGY_AUTO);
    EXPECT_EQ(mntns_sandbox_wait(sandbox, nullptr, 0, &error.error), 7) << error.Text();
    EXPECT_EQ(mntns_sandbox_pid(sandbox), -1);
    EXPECT_EQ(mntns_sandbox_wait(sandbox, nullptr, 0, nullptr), -ECHILD);
    mntns_sandbox_free(sandbox);
  });
}

TEST(CApiSandbox, TheSpecsStepsAndEnvironmentReachTheCommand) {
  InPrivateMountNamespace([] {
    SpecOwner spec;
    ASSERT_EQ(mntns_sandbox_spec_add_tmpfs(spec.spec, "/scratch", 65536, 0700), 0);
    ASSERT_EQ(mntns_sandbox_spec_add_dir(spec.spec, "/scratch/made", 0750), 0);
    ASSERT_EQ(mntns_sandbox_spec_setenv(spec.spec, "MNTNS_CAPI_PROBE", "set by the spec"), 0);
    ProbeSpec(spec.spec, {"describe", "/scratch/made", "MNTNS_CAPI_PROBE"});
    int status = -1;
    std::string error;
    const std::string got = RunCapturing(spec.spec, &status, &error);
    ASSERT_EQ(status, 0) << error;
    EXPECT_NE(got.find("/scratch/made dir 0750\n"), std::string::npos) << got;
    EXPECT_NE(got.find("MNTNS_CAPI_PROBE=set by the spec\n"), std::string::npos) << got;
  });
}

TEST(CApiSandbox, AReadOnlyOverlayShowsTheFilesOfEveryLowerLayer) {
  InPrivateMountNamespace([] {
    const std::string dir = TempDir();
    ASSERT_TRUE(MakeDirs(dir + "/low/from-low"));
    ASSERT_TRUE(MakeDirs(dir + "/high/from-high"));
    SpecOwner spec;
    const std::string low = dir + "/low";
    const std::string high = dir + "/high";
    const char* layers[] = {low.c_str(), high.c_str()};
    ASSERT_EQ(mntns_sandbox_spec_add_overlay(spec.spec, "/o", layers, 2, MNTNS_OVERLAY_READ_ONLY, nullptr, nullptr), 0);
    ProbeSpec(spec.spec, {"describe", "/o/from-low", "/o/from-high"});
    int status = -1;
    std::string error;
    const std::string got = RunCapturing(spec.spec, &status, &error);
    if (error.find("fsopen \"overlay\"") != std::string::npos) GTEST_SKIP() << "no overlayfs: " << error;
    ASSERT_EQ(status, 0) << error;
    EXPECT_NE(got.find("/o/from-low dir"), std::string::npos) << got;
    EXPECT_NE(got.find("/o/from-high dir"), std::string::npos) << got;
    EXPECT_NE(got.find("mount /o overlay"), std::string::npos) << got;
  });
}

TEST(CApiSandbox, TheKernelsFsContextLogReachesTheErrorObject) {
  InPrivateMountNamespace([] {
    const std::string dir = TempDir();
    const std::string file = dir + "/not-a-dir";
    std::FILE* created = std::fopen(file.c_str(), "we");
    ASSERT_NE(created, nullptr);
    std::fclose(created);
    SpecOwner spec;
    const char* layers[] = {file.c_str(), "/usr"};
    ASSERT_EQ(mntns_sandbox_spec_add_overlay(spec.spec, "/o", layers, 2, MNTNS_OVERLAY_READ_ONLY, nullptr, nullptr), 0);
    ProbeSpec(spec.spec, {"exit", "0"});
    mntns_sandbox* sandbox = nullptr;
    ErrorOwner error;
    EXPECT_EQ(mntns_sandbox_start(spec.spec, &sandbox, &error.error), -EINVAL) << error.Text();
    ASSERT_NE(error.error, nullptr);
    if (error.Text().find("fsopen \"overlay\"") != std::string::npos) GTEST_SKIP() << "no overlayfs: " << error.Text();
    EXPECT_STREQ(mntns_error_operation(error.error), "fsconfig");
    EXPECT_NE(std::string(mntns_error_kernel_log(error.error)).find("not a directory"), std::string::npos)
        << error.Text();
    EXPECT_NE(error.Text().find("kernel: "), std::string::npos) << error.Text();
    EXPECT_EQ(sandbox, nullptr);
  });
}

TEST(CApiSandbox, AnOverlayWithAnUpperDirNeedsItsWorkDir) {
  SpecOwner spec;
  const char* layers[] = {"/usr"};
  EXPECT_EQ(mntns_sandbox_spec_add_overlay(spec.spec, "/o", layers, 1, MNTNS_OVERLAY_DIRECTORY, "/up", nullptr),
            -EINVAL);
  EXPECT_EQ(mntns_sandbox_spec_add_overlay(spec.spec, "/o", layers, 1, MNTNS_OVERLAY_TMPFS, "/up", nullptr), -EINVAL);
  EXPECT_EQ(mntns_sandbox_spec_add_overlay(spec.spec, "/o", layers, 1, 3, nullptr, nullptr), -EINVAL);
  EXPECT_EQ(mntns_sandbox_spec_add_overlay(spec.spec, "/o", layers, 1, MNTNS_OVERLAY_TMPFS, nullptr, nullptr), 0);
}

TEST(CApiSandbox, ASignalToTheCallerIsForwardedToTheSandbox) {
  InPrivateMountNamespace([] {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    ASSERT_EQ(::sigprocmask(SIG_BLOCK, &term, nullptr), 0);
    SpecOwner spec;
    ProbeSpec(spec.spec, {"pause"});
    mntns_sandbox* sandbox = nullptr;
    ErrorOwner error;
    ASSERT_EQ(mntns_sandbox_start(spec.spec, &sandbox, &error.error), 0) << error.Text();
    ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
    const int forward[] = {SIGTERM};
    EXPECT_EQ(mntns_sandbox_wait(sandbox, forward, 1, &error.error), 128 + SIGTERM) << error.Text();
    mntns_sandbox_free(sandbox);
  });
}

TEST(CApiSandbox, FreeingAnUnwaitedSandboxKillsAndReapsIt) {
  InPrivateMountNamespace([] {
    SpecOwner spec;
    ProbeSpec(spec.spec, {"pause"});
    mntns_sandbox* sandbox = nullptr;
    ErrorOwner error;
    ASSERT_EQ(mntns_sandbox_start(spec.spec, &sandbox, &error.error), 0) << error.Text();
    const pid_t pid = mntns_sandbox_pid(sandbox);
    mntns_sandbox_free(sandbox);
    EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
  });
}

TEST(CApiSandbox, AnInvalidSpecIsEinvalWithTheReason) {
  SpecOwner spec;
  ASSERT_EQ(mntns_sandbox_spec_add_tmpfs(spec.spec, "relative/dest", 0, -1), 0);
  const char* argv[] = {"/bin/true", nullptr};
  ASSERT_EQ(mntns_sandbox_spec_set_argv(spec.spec, argv), 0);
  ErrorOwner error;
  EXPECT_EQ(mntns_sandbox_spec_validate(spec.spec, &error.error), -EINVAL);
  EXPECT_NE(error.Text().find("relative/dest"), std::string::npos) << error.Text();
  mntns_sandbox* sandbox = nullptr;
  EXPECT_EQ(mntns_sandbox_start(spec.spec, &sandbox, nullptr), -EINVAL);
  EXPECT_EQ(sandbox, nullptr);
}

TEST(CApiSandbox, SettersRefuseNullAndUnknownFlags) {
  SpecOwner spec;
  EXPECT_EQ(mntns_sandbox_spec_add_bind(spec.spec, nullptr, "/x", 0), -EINVAL);
  EXPECT_EQ(mntns_sandbox_spec_add_bind(spec.spec, "/usr", "/usr", 0x80), -EINVAL);
  EXPECT_EQ(mntns_sandbox_spec_set_unshare(spec.spec, 0x100), -EINVAL);
  EXPECT_EQ(mntns_sandbox_spec_set_strategy(spec.spec, 12), -EINVAL);
  EXPECT_EQ(mntns_sandbox_spec_add_proc(nullptr, "/proc"), -EINVAL);
}

// ---- examples/crun_start.c -----------------------------------------------------------

// The rootfs a runtime gets: the loader's directories as symlinks into /usr.
std::string RootfsWithUsrSymlinks() {
  const std::string rootfs = TempDir() + "/rootfs";
  EXPECT_TRUE(MakeDirs(rootfs));
  for (const char* dir : {"lib", "lib64", "bin"}) {
    std::error_code ec;
    const std::string host = std::string("/") + dir;
    if (std::filesystem::is_symlink(std::filesystem::symlink_status(host, ec))) {
      std::filesystem::create_symlink(std::filesystem::read_symlink(host), rootfs + host);
    }
  }
  return rootfs;
}

TEST(CApiCrunExample, AttachesThePreopenedMountsAndExecsInTheRootfs) {
  InPrivateMountNamespace([] {
    const std::string rootfs = RootfsWithUsrSymlinks();
    const testing::CliResult r =
        RunProgram({MNTNS_CRUN_EXAMPLE_PATH, "-r", "/usr:/usr", "-r", SelfPath() + ":/probe", "-d", "null", "-p",
                    rootfs, "--", "/probe", "--probe", "describe", "/dev/null", "/proc/self", "/probe"});
    EXPECT_EQ(r.exit_status, 0) << r.err;
    EXPECT_NE(r.out.find("/dev/null chr\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/proc/self dir"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("mount / "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("mount /usr "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("mount /dev/null devtmpfs"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("mount /proc proc"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("strategy"), std::string::npos) << "says which path it took: " << r.err;
  });
}

TEST(CApiCrunExample, ExitsWithTheCommandsStatus) {
  InPrivateMountNamespace([] {
    const std::string rootfs = RootfsWithUsrSymlinks();
    const testing::CliResult r = RunProgram({MNTNS_CRUN_EXAMPLE_PATH, "-r", "/usr:/usr", "-r",
                                             SelfPath() + ":/probe", rootfs, "--", "/probe", "--probe", "exit", "9"});
    EXPECT_EQ(r.exit_status, 9) << r.err;
  });
}

TEST(CApiCrunExample, AMissingBindSourceFailsBeforeAnythingStarts) {
  InPrivateMountNamespace([] {
    const std::string rootfs = RootfsWithUsrSymlinks();
    const testing::CliResult r =
        RunProgram({MNTNS_CRUN_EXAMPLE_PATH, "-b", "/nonexistent-mntns-capi:/data", rootfs, "--", "/probe"});
    EXPECT_EQ(r.exit_status, 125);
    EXPECT_NE(r.err.find("open_tree \"/nonexistent-mntns-capi\": No such file or directory (ENOENT)"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(std::filesystem::exists(rootfs + "/data"));
  });
}

// ---- the probe ---------------------------------------------------------------------

int ProbeDescribe(int argc, char** argv) {
  for (int i = 3; i < argc; ++i) {
    const std::string what = argv[i];
    if (what[0] != '/') {
      const char* value = std::getenv(what.c_str());
      std::printf("%s=%s\n", what.c_str(), value != nullptr ? value : "(unset)");
      continue;
    }
    struct stat st {};
    if (::stat(what.c_str(), &st) != 0) {
      std::printf("%s missing\n", what.c_str());
      continue;
    }
    const char* type = S_ISCHR(st.st_mode) ? "chr" : S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other";
    if (S_ISDIR(st.st_mode)) {
      std::printf("%s %s %04o\n", what.c_str(), type, st.st_mode & 07777);
    } else {
      std::printf("%s %s\n", what.c_str(), type);
    }
  }
  // The table as this process sees it, through the C API.
  mntns_mount_table* table = nullptr;
  if (mntns_list_mounts(nullptr, &table, nullptr) == 0) {
    for (size_t i = 0; i < mntns_mount_table_count(table); ++i) {
      const mntns_mount* mount = mntns_mount_table_get(table, i);
      std::printf("mount %s %s\n", mntns_mount_point(mount), mntns_mount_fs_type(mount));
    }
    mntns_mount_table_free(table);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int Probe(int argc, char** argv) {
  const std::string what = argc > 2 ? argv[2] : "";
  if (what == "exit" && argc > 3) return std::atoi(argv[3]);
  if (what == "pause") {
    for (;;) ::pause();
  }
  if (what == "describe") return ProbeDescribe(argc, argv);
  std::fprintf(stderr, "probe: unknown %s\n", what.c_str());
  return 2;
}

}  // namespace
}  // namespace mntns

namespace {
bool probe_mode = false;
}  // namespace

// LeakSanitizer (make test's ASan build) needs /proc to stop the world at
// exit; a probe inside a sandbox often has none, so it does not check there.
extern "C" int __lsan_is_turned_off() { return probe_mode ? 1 : 0; }

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--probe") {
    probe_mode = true;
    return mntns::Probe(argc, argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
