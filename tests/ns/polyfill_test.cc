// mntns polyfill, judged by an unmodified program: tests/polyfill/raw_calls.c
// issues the raw 7.x calls and prints what it got. On 6.x it runs under
// `mntns polyfill`; on 7.x it runs directly (the reference) and under
// `mntns polyfill`, which installs nothing there. Every way must give the
// same lines: what Linux 7.2 gives (docs/polyfill.md).
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mntns/namespace.h"
#include "mntns/polyfill.h"
#include "mntns/query.h"
#include "support/cli_runner.h"
#include "support/namespace.h"
#include "sys/uapi.h"

namespace mntns {
namespace {

using testing::CliPath;
using testing::SetEffectiveCapabilities;
using testing::RunProgram;

// kDirect: raw_calls alone; kPolyfill: under `mntns polyfill`; kInstalled:
// the same cases in a process that called InstallPolyfill() first.
enum class Way { kDirect, kPolyfill, kInstalled };

std::string WayName(const ::testing::TestParamInfo<Way>& info) {
  switch (info.param) {
    case Way::kDirect: return "Direct";
    case Way::kPolyfill: return "Polyfill";
    case Way::kInstalled: return "Installed";
  }
  return "?";
}

std::vector<std::string> Command(Way way, const std::string& mode) {
  if (way == Way::kDirect) return {MNTNS_RAW_CALLS_PATH, mode};
  if (way == Way::kInstalled) return {MNTNS_INSTALLED_CALLS_PATH, mode};
  return {CliPath(), "polyfill", "--", MNTNS_RAW_CALLS_PATH, mode};
}

// "NAME RESULT..." lines of one run of raw_calls, run once per process.
const std::map<std::string, std::string>& Results(Way way, const std::string& mode) {
  static std::map<std::pair<Way, std::string>, std::map<std::string, std::string>> cache;
  auto [slot, fresh] = cache.try_emplace({way, mode});
  if (fresh) {
    const auto result = RunProgram(Command(way, mode));
    EXPECT_EQ(result.exit_status, 0) << result.err;
    std::istringstream lines(result.out);
    for (std::string line; std::getline(lines, line);) {
      const auto space = line.find(' ');
      if (space != std::string::npos) slot->second[line.substr(0, space)] = line.substr(space + 1);
    }
  }
  return slot->second;
}

class PolyfillTest : public ::testing::TestWithParam<Way> {
 protected:
  void SetUp() override {
    if (getuid() != 0) GTEST_SKIP() << "needs root (the cases mount in a namespace of their own)";
    if (GetParam() == Way::kDirect && PolyfillNeeded().Any()) {
      GTEST_SKIP() << "this kernel lacks the 7.x calls: the direct run is the 7.x reference";
    }
  }
  std::string Case(const std::string& name, const std::string& mode = "cases") {
    const auto& results = Results(GetParam(), mode);
    const auto found = results.find(name);
    return found == results.end() ? "(no line for " + name + ")" : found->second;
  }
};

INSTANTIATE_TEST_SUITE_P(Ways, PolyfillTest, ::testing::Values(Way::kDirect, Way::kPolyfill, Way::kInstalled),
                         WayName);

// ---- open_tree(OPEN_TREE_NAMESPACE) ----

TEST_P(PolyfillTest, OpenTreeNamespaceGivesANamespaceHoldingOnlyTheTree) {
  EXPECT_EQ(Case("ot_plain"), "ok mntns=1 cloexec=0 marker=1 sub-mount=0");
}
TEST_P(PolyfillTest, OpenTreeNamespaceCloexecSetsCloseOnExec) {
  EXPECT_EQ(Case("ot_cloexec"), "ok mntns=1 cloexec=1 marker=1 sub-mount=0");
}
TEST_P(PolyfillTest, OpenTreeNamespaceRecursiveCopiesSubmounts) {
  EXPECT_EQ(Case("ot_recursive"), "ok mntns=1 cloexec=0 marker=1 sub-mount=1");
}
TEST_P(PolyfillTest, OpenTreeNamespaceMakesANewNamespaceEachCall) {
  EXPECT_EQ(Case("ot_new_namespace_each_call"), "ok distinct=1");
}
TEST_P(PolyfillTest, OpenTreeNamespaceResolvesRelativeToTheCallersDirfd) {
  EXPECT_EQ(Case("ot_relative_to_dirfd"), "ok mntns=1 cloexec=0 marker=1 sub-mount=0");
}
TEST_P(PolyfillTest, OpenTreeNamespaceResolvesRelativeToTheCallersCwd) {
  EXPECT_EQ(Case("ot_relative_to_cwd"), "ok mntns=1 cloexec=0 marker=1 sub-mount=0");
}
TEST_P(PolyfillTest, OpenTreeNamespaceTakesAnEmptyPathWithAtEmptyPath) {
  EXPECT_EQ(Case("ot_empty_path"), "ok mntns=1 cloexec=0 marker=1 sub-mount=0");
}
TEST_P(PolyfillTest, OpenTreeNamespaceWorksFromASecondThread) {
  EXPECT_EQ(Case("ot_from_second_thread"), "ok mntns=1 cloexec=0 marker=1 sub-mount=0");
}
TEST_P(PolyfillTest, OpenTreeNamespaceWithOpenTreeCloneIsEinval) {
  EXPECT_EQ(Case("ot_clone_and_namespace"), "EINVAL");
}
TEST_P(PolyfillTest, OpenTreeNamespaceWithAnUnknownFlagIsEinval) { EXPECT_EQ(Case("ot_unknown_flag"), "EINVAL"); }
TEST_P(PolyfillTest, OpenTreeNamespaceOfAFileIsEnotdir) { EXPECT_EQ(Case("ot_not_a_directory"), "ENOTDIR"); }
TEST_P(PolyfillTest, OpenTreeNamespaceOfAMissingPathIsEnoent) { EXPECT_EQ(Case("ot_missing_path"), "ENOENT"); }
TEST_P(PolyfillTest, OpenTreeNamespaceWithAnEmptyPathAloneIsEnoent) {
  EXPECT_EQ(Case("ot_empty_path_without_flag"), "ENOENT");
}
TEST_P(PolyfillTest, OpenTreeNamespaceWithAnUnreadablePathIsEfault) {
  EXPECT_EQ(Case("ot_bad_path_pointer"), "EFAULT");
}
TEST_P(PolyfillTest, OpenTreeNamespaceWithAPathOfPathMaxIsEnametoolong) {
  EXPECT_EQ(Case("ot_path_too_long"), "ENAMETOOLONG");
}
TEST_P(PolyfillTest, OpenTreeNamespaceWithAClosedDirfdIsEbadf) { EXPECT_EQ(Case("ot_bad_dirfd"), "EBADF"); }
// The lookup has the caller's filesystem capabilities: root without
// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH may not search another user's 0700
// directory, whether by path or from a dirfd on it.
TEST_P(PolyfillTest, OpenTreeNamespaceLooksUpWithTheCallersFilesystemCapabilities) {
  ASSERT_EQ(Case("without_dac_drop"), "ok");
  EXPECT_EQ(Case("ot_without_dac_below_anothers_dir"), "EACCES");
  EXPECT_EQ(Case("ot_without_dac_from_anothers_dir"), "EACCES");
  EXPECT_EQ(Case("ot_without_dac_searchable"), "ok mntns=1 cloexec=0 marker=1 sub-mount=0");
}
// ... in the lookup alone: the copy of what it found takes no permission, so
// a tree whose root the caller may not search (its own 0000 directory) is
// copied, also where it holds a mount-namespace file (left out of the copy);
// fsmount looks nothing up, so a tmpfs of mode 0 makes a namespace too. On
// the host and in a user namespace of the caller's own (a child of the
// supervisor serves that one).
TEST_P(PolyfillTest, OpenTreeAndFsmountNamespaceCheckNoPermissionAfterTheLookup) {
  for (const std::string mode : {"cases", "userns"}) {
    const std::string prefix = mode == "cases" ? "without_dac" : "without_dac_in_user_namespace";
    ASSERT_EQ(Case(prefix + "_unsearchable_drop", mode), "ok") << mode;
    EXPECT_EQ(Case("ot_" + prefix + "_own_unsearchable_dir", mode), "ok mntns=1 cloexec=0 marker=0 sub-mount=0")
        << mode;
    EXPECT_EQ(Case("ot_" + prefix + "_own_unsearchable_dir_with_a_namespace_file", mode),
              "ok mntns=1 cloexec=0 marker=0 sub-mount=0")
        << mode;
    EXPECT_EQ(Case("fm_" + prefix + "_unsearchable_root", mode), "ok mntns=1 cloexec=0") << mode;
  }
}
// procfs's "self" is the caller, not the supervisor that looks the path up
// for it: /proc/self/fd/N, /proc/thread-self/fd/N, a symlink of the
// caller's to /proc/self/fd and /proc/self/cwd name the caller's own fd and
// cwd (the tree "a"); without following the last symlink, the magic link
// itself is no directory. On the host and in a user namespace of the
// caller's own (which also holds a supplementary group it does not map).
TEST_P(PolyfillTest, OpenTreeNamespaceThroughProcSelfNamesTheCallersOwnFdAndCwd) {
  const std::string tree = "ok mntns=1 cloexec=0 marker=1 sub-mount=0";
  for (const std::string mode : {"cases", "userns"}) {
    const std::string prefix = mode == "cases" ? "ot" : "ot_in_user_namespace";
    EXPECT_EQ(Case(prefix + "_through_proc_self_fd", mode), tree) << mode;
    EXPECT_EQ(Case(prefix + "_through_proc_thread_self_fd", mode), tree) << mode;
    EXPECT_EQ(Case(prefix + "_through_a_link_to_proc_self_fd", mode), tree) << mode;
    EXPECT_EQ(Case(prefix + "_through_proc_self_cwd", mode), tree) << mode;
    EXPECT_EQ(Case(prefix + "_through_proc_self_fd_nofollow", mode), "ENOTDIR") << mode;
    EXPECT_EQ(Case(prefix + "_through_proc_self_fd_and_dotdot", mode), tree) << mode;
    EXPECT_EQ(Case(prefix + "_symlink_loop_below_proc_self", mode), "E40") << mode;  // ELOOP
  }
}
TEST_P(PolyfillTest, OpenTreeNamespaceWithoutCapSysAdminIsEperm) {
  EXPECT_EQ(Case("ot_unprivileged", "unprivileged"), "EPERM");
}
TEST_P(PolyfillTest, OpenTreeNamespaceChecksPrivilegeBeforeReadingThePath) {
  EXPECT_EQ(Case("ot_unprivileged_bad_pointer", "unprivileged"), "EPERM");
}

// As the kernel's selftests call it: after unshare(CLONE_NEWUSER | CLONE_NEWNS).
TEST_P(PolyfillTest, OpenTreeNamespaceWorksInsideAUserNamespace) {
  EXPECT_EQ(Case("ot_in_user_namespace", "userns"), "ok mntns=1 cloexec=0 marker=1 sub-mount=0");
}
TEST_P(PolyfillTest, OpenTreeNamespaceRecursiveWorksInsideAUserNamespace) {
  EXPECT_EQ(Case("ot_recursive_in_user_namespace", "userns"), "ok mntns=1 cloexec=0 marker=1 sub-mount=1");
}

// The kernel's selftests list the new namespace from outside and unmount all
// of it from inside: 7.2 lists and counts (NS_MNT_GET_INFO) the tree alone,
// no hidden root, and every mount of it can be unmounted, "/" last, except
// where the copy is locked.
TEST_P(PolyfillTest, OpenTreeNamespaceListedFromOutsideHoldsTheTreeAlone) {
  EXPECT_EQ(Case("ot_listed_from_outside"),
            "ok listed=1 first=tmpfs://own-parent=0/attr=0 paged=1 ordered=1 forward=1 unprivileged=ENOENT "
            "counted=1 umounted=1/1");
  EXPECT_EQ(Case("ot_recursive_listed_from_outside"),
            "ok listed=2 first=tmpfs://own-parent=0/attr=0 paged=2 ordered=1 forward=2 unprivileged=ENOENT "
            "counted=2 umounted=2/2");
}
TEST_P(PolyfillTest, ListmountOfHostileRequestsFailsAsTheKernelDoes) {
  EXPECT_EQ(Case("lm_bad_request_pointer"), "EFAULT");
  EXPECT_EQ(Case("lm_bad_ids_pointer"), "EFAULT");
  EXPECT_EQ(Case("lm_too_many_ids"), "EOVERFLOW");
}
TEST_P(PolyfillTest, OpenTreeNamespaceListedByItsNamespaceFd) {
  // By fd the kernel lists it for whoever holds the fd, by id only for
  // CAP_SYS_ADMIN over its owner.
  EXPECT_EQ(Case("ot_listed_by_ns_fd"),
            "ok listed=2 first=tmpfs://own-parent=0/attr=0 paged=2 ordered=1 forward=2 unprivileged=listed counted=2 "
            "umounted=2/2");
}
TEST_P(PolyfillTest, OpenTreeNamespaceInAUserNamespaceKeepsItsRootLocked) {
  // A namespace owned by a child's user namespace, listed by root in the
  // parent one: the tree alone; a plain copy of a tree with a locked mount
  // below was EINVAL already.
  EXPECT_EQ(Case("ot_userns_made_listed_from_its_parent"), "EINVAL");
  EXPECT_EQ(Case("ot_userns_made_recursive_listed_from_its_parent"),
            "ok listed=2 first=tmpfs://own-parent=0/attr=0 paged=2 ordered=1 forward=2 unprivileged=ENOENT "
            "counted=2 umounted=0/2/EINVAL");
  EXPECT_EQ(Case("ot_listed_in_user_namespace", "userns"),
            "ok listed=2 first=tmpfs://own-parent=0/attr=0 paged=2 ordered=1 forward=2 unprivileged=no-uid-65534 "
            "counted=2 umounted=1/2/EINVAL");
}

// ---- fsmount(FSMOUNT_NAMESPACE) ----

TEST_P(PolyfillTest, FsmountNamespaceGivesANamespaceFd) { EXPECT_EQ(Case("fm_plain"), "ok mntns=1 cloexec=0"); }
TEST_P(PolyfillTest, FsmountNamespaceCloexecSetsCloseOnExec) {
  EXPECT_EQ(Case("fm_cloexec"), "ok mntns=1 cloexec=1");
}
TEST_P(PolyfillTest, FsmountNamespaceListedFromOutsideHoldsTheNewMountWithItsAttributes) {
  // rdonly, nosuid, noexec, noatime: 0x1b
  EXPECT_EQ(Case("fm_listed_from_outside"),
            "ok listed=1 first=tmpfs://own-parent=0/attr=1b paged=1 ordered=1 forward=1 unprivileged=ENOENT "
            "counted=1 umounted=1/1");
}
TEST_P(PolyfillTest, FsmountNamespaceInAUserNamespaceKeepsItsRootLocked) {
  EXPECT_EQ(Case("fm_listed_in_user_namespace", "userns"),
            "ok listed=1 first=tmpfs://own-parent=0/attr=0 paged=1 ordered=1 forward=1 unprivileged=no-uid-65534 "
            "counted=1 umounted=0/1/EINVAL");
}
TEST_P(PolyfillTest, FsmountNamespaceOfAClosedFdIsEbadf) { EXPECT_EQ(Case("fm_bad_fd"), "EBADF"); }
TEST_P(PolyfillTest, FsmountNamespaceWithAnUnknownFlagIsEinval) { EXPECT_EQ(Case("fm_unknown_flag"), "EINVAL"); }
TEST_P(PolyfillTest, FsmountNamespaceOfAnFdThatIsNoContextIsEinval) {
  EXPECT_EQ(Case("fm_not_a_context"), "EINVAL");
}
TEST_P(PolyfillTest, FsmountNamespaceOfAnOPathFdIsEbadf) { EXPECT_EQ(Case("fm_o_path_fd"), "EBADF"); }
TEST_P(PolyfillTest, FsmountNamespaceWithoutCapSysAdminIsEperm) {
  EXPECT_EQ(Case("fm_unprivileged", "unprivileged"), "EPERM");
}

TEST_P(PolyfillTest, FsmountNamespaceWorksInsideAUserNamespace) {
  EXPECT_EQ(Case("fm_in_user_namespace", "userns"), "ok mntns=1 cloexec=0");
}

// ---- statmount(STATMOUNT_BY_FD) ----

TEST_P(PolyfillTest, StatmountByFdWritesTheKernelsBytesForAnAttachedMount) {
  EXPECT_EQ(Case("sm_attached"), "ok point=/tmp/raw-calls/a has_ns_id=1 same-as-by-id=1");
}
TEST_P(PolyfillTest, StatmountByFdTakesAVersion1Request) {
  EXPECT_EQ(Case("sm_request_ver1"), "ok point=/tmp/raw-calls/a has_ns_id=0 same-as-by-id=1");
}
TEST_P(PolyfillTest, StatmountByFdOfADetachedMountHasNoMountPointAndNoNamespace) {
  EXPECT_EQ(Case("sm_detached"), "ok point=- has_ns_id=0");
}
TEST_P(PolyfillTest, StatmountByFdWorksWithoutPrivileges) {
  EXPECT_EQ(Case("sm_unprivileged", "unprivileged"), "ok point=/tmp/raw-calls/a has_ns_id=0 same-as-by-id=1");
}
TEST_P(PolyfillTest, StatmountByFdWorksInsideAUserNamespace) {
  EXPECT_EQ(Case("sm_in_user_namespace", "userns"), "ok point=/tmp/raw-calls/a has_ns_id=0 same-as-by-id=1");
}
// An unprivileged user in a user namespace of its own (uid and gid mapped to
// 0), as the kernel selftests set up: 7.2 copies a tree of the mount
// namespace that user namespace does not own, recursively only (a plain copy
// would reveal what the locked mounts below cover: EINVAL), and serves
// statmount BY_FD and open_tree once it has a mount namespace of its own.
TEST_P(PolyfillTest, AUserInAUserNamespaceOfItsOwnGetsWhat72GivesIt) {
  EXPECT_EQ(Case("userns_of_its_own_enter", "unprivileged"), "ok");
  EXPECT_EQ(Case("ot_userns_of_its_own_recursive", "unprivileged"), "ok mntns=1 cloexec=0 marker=1 sub-mount=1");
  EXPECT_EQ(Case("ot_userns_of_its_own_plain", "unprivileged"), "EINVAL");
  EXPECT_EQ(Case("ot_userns_of_its_own_from_a_dirfd", "unprivileged"), "ok mntns=1 cloexec=0 marker=1 sub-mount=1");
  // The path is looked up as the caller: its ids and groups, not the supervisor's (root's).
  EXPECT_EQ(Case("ot_userns_of_its_own_below_a_locked_dir", "unprivileged"), "EACCES");
  EXPECT_EQ(Case("sm_userns_of_its_own_own_mntns", "unprivileged"),
            "ok point=/tmp/raw-calls/a has_ns_id=0 same-as-by-id=1");
  EXPECT_EQ(Case("ot_userns_of_its_own_own_mntns_recursive", "unprivileged"),
            "ok mntns=1 cloexec=0 marker=1 sub-mount=1");
}
TEST_P(PolyfillTest, StatmountByFdOfADetachedTreeOfOneMountIsEnoent) {
  EXPECT_EQ(Case("sm_fsmount_before_move_mount"), "ENOENT");
  EXPECT_EQ(Case("sm_clone_of_one_mount"), "ENOENT");
}
TEST_P(PolyfillTest, StatmountByFdOfADetachedTreeWithASubmountFindsItsRoot) {
  EXPECT_EQ(Case("sm_detached_tree_root"), "ok point=- has_ns_id=0");
}
TEST_P(PolyfillTest, NamespaceInfoIsTheKernelsOnAnyOtherFdAndWithoutABuffer) {
  EXPECT_EQ(Case("ns_info_of_a_pipe"), "ENOTTY");
  EXPECT_EQ(Case("ns_info_without_a_buffer"), "EINVAL");
}
TEST_P(PolyfillTest, StatmountByFdOfFdMinusOneIsEbadf) { EXPECT_EQ(Case("sm_bad_fd"), "EBADF"); }
TEST_P(PolyfillTest, StatmountByFdWithAMountIdIsEinval) { EXPECT_EQ(Case("sm_with_mnt_id"), "EINVAL"); }
TEST_P(PolyfillTest, StatmountByFdOfAPipeIsEinval) { EXPECT_EQ(Case("sm_pipe"), "EINVAL"); }
TEST_P(PolyfillTest, StatmountByFdWithAnUnknownFlagIsEinval) { EXPECT_EQ(Case("sm_unknown_flag"), "EINVAL"); }
TEST_P(PolyfillTest, StatmountByFdWithARequestBelowVersion0IsEinval) {
  EXPECT_EQ(Case("sm_short_request"), "EINVAL");
}
TEST_P(PolyfillTest, StatmountByFdWithNonzeroBytesPastTheKnownRequestIsE2big) {
  EXPECT_EQ(Case("sm_nonzero_tail"), "E2BIG");
}
TEST_P(PolyfillTest, StatmountByFdIntoAShortBufferIsEoverflow) { EXPECT_EQ(Case("sm_short_buffer"), "EOVERFLOW"); }
TEST_P(PolyfillTest, StatmountByFdWithAnUnreadableRequestIsEfault) {
  EXPECT_EQ(Case("sm_bad_request_pointer"), "EFAULT");
}
TEST_P(PolyfillTest, StatmountByFdIntoAnUnwritableBufferIsEfault) {
  EXPECT_EQ(Case("sm_bad_buffer_pointer"), "EFAULT");
}

// ---- unshare(UNSHARE_EMPTY_MNTNS) and clone3(CLONE_EMPTY_MNTNS) (7.1) ----
// What 7.2 gives (docs/empty-namespaces.md): the caller alone at "/" of an
// empty namespace, cwd "/", one mount that listmount lists, no /proc, nothing
// can be made there (ENOENT). Its root, by id (every field) and by fd, is a
// nullfs that is its own parent (the kernel selftests' empty_mntns checks),
// and a tmpfs mounted over it makes 2 mounts. The polyfill's root is an
// empty directory of a fresh sysfs (ENOENT too) and its statmount answers
// are 7.2's.

constexpr const char* kEmptyFacts =
    "ok cwd=/ entries=0 mounts=1 point=/ proc=0 mkdir=ENOENT creat=ENOENT"
    " root-mask=127f size=531 own-parent=1 fs=nullfs source=nullfs magic=4e554c4c attr=20 prop=40000"
    " by-fd=nullfs/own-parent=1 request-40=own-parent=1 fs-type-in-519=EOVERFLOW in-520=520 basic-in-24=24"
    " opts-size=513"
    " overmounted=2 top=tmpfs/parent-is-root=1";

TEST_P(PolyfillTest, UnshareEmptyMntnsPutsTheCallerAloneAtAnEmptyRoot) {
  EXPECT_EQ(Case("ue_plain", "empty"), kEmptyFacts);
}
TEST_P(PolyfillTest, UnshareEmptyMntnsTakesCloneNewnsBesideIt) {
  EXPECT_EQ(Case("ue_with_clone_newns", "empty"), kEmptyFacts);
}
TEST_P(PolyfillTest, UnshareEmptyMntnsTakesCloneFsBesideIt) {
  EXPECT_EQ(Case("ue_with_clone_fs", "empty"), kEmptyFacts);
}
TEST_P(PolyfillTest, UnshareEmptyMntnsWithCloneNewuserInTheSameCallWorks) {
  EXPECT_EQ(Case("ue_with_clone_newuser", "empty"), kEmptyFacts);
}
TEST_P(PolyfillTest, UnshareEmptyMntnsTwiceGivesTwoNamespaces) {
  EXPECT_EQ(Case("ue_twice", "empty"), "ok distinct=1");
}
TEST_P(PolyfillTest, UnshareEmptyMntnsWithAnUnknownHighBitIsEinval) {
  EXPECT_EQ(Case("ue_unknown_high_bit", "empty"), "EINVAL");
}
// 7.2 never reads the caller's stack here. The traced step makes the task
// chdir("/") with the path written below its stack pointer: where that
// points nowhere, the task, already in the emptied namespace but with its
// cwd in the old tree, is killed rather than told unshare failed
// (docs/polyfill.md, "Differences").
TEST_P(PolyfillTest, UnshareEmptyMntnsWithTheStackPointerNowhereEmptiesOrKillsTheCaller) {
  const bool traced = GetParam() != Way::kDirect && PolyfillNeeded().empty_mount_namespace;
  EXPECT_EQ(Case("ue_stack_pointer_nowhere", "empty"), traced ? "killed by SIGKILL" : kEmptyFacts);
}
TEST_P(PolyfillTest, UnshareEmptyMntnsLeavesTheOtherProcessesWhereTheyAre) {
  EXPECT_EQ(Case("ue_caller_unchanged", "empty"), "ok same-namespace=1 same-cwd=1");
}
TEST_P(PolyfillTest, UnshareEmptyMntnsWithoutCapSysAdminIsEperm) {
  EXPECT_EQ(Case("ue_unprivileged", "empty-unprivileged"), "EPERM");
}
TEST_P(PolyfillTest, UnshareEmptyMntnsUnprivilegedWithCloneNewuserWorks) {
  EXPECT_EQ(Case("ue_unprivileged_with_clone_newuser", "empty-unprivileged"), kEmptyFacts);
}
TEST_P(PolyfillTest, UnshareEmptyMntnsUnprivilegedAfterCloneNewuserWorks) {
  EXPECT_EQ(Case("ue_unprivileged_after_clone_newuser", "empty-unprivileged"), kEmptyFacts);
}
TEST_P(PolyfillTest, Clone3EmptyMntnsStartsTheChildAloneAtAnEmptyRoot) {
  EXPECT_EQ(Case("ce_plain", "empty"), kEmptyFacts);
}
TEST_P(PolyfillTest, Clone3EmptyMntnsLeavesTheCallersCloneArgsAsTheyWere) {
  EXPECT_EQ(Case("ce_plain_args", "empty"), "as-written");
}
TEST_P(PolyfillTest, Clone3EmptyMntnsTakesCloneNewnsBesideIt) {
  EXPECT_EQ(Case("ce_with_clone_newns", "empty"), kEmptyFacts);
}
TEST_P(PolyfillTest, Clone3EmptyMntnsWithCloneFsIsEinval) {
  EXPECT_EQ(Case("ce_with_clone_fs", "empty"), "EINVAL");
}
TEST_P(PolyfillTest, Clone3EmptyMntnsWithCloneNewuserWorks) {
  EXPECT_EQ(Case("ce_with_clone_newuser", "empty"), kEmptyFacts);
}
TEST_P(PolyfillTest, Clone3EmptyMntnsWithoutCapSysAdminIsEperm) {
  EXPECT_EQ(Case("ce_unprivileged", "empty-unprivileged"), "EPERM");
}
TEST_P(PolyfillTest, Clone3EmptyMntnsUnprivilegedWithCloneNewuserWorks) {
  EXPECT_EQ(Case("ce_unprivileged_with_clone_newuser", "empty-unprivileged"), kEmptyFacts);
}

// ---- the same cases through the library calls the polyfill answers with ----
// The library must give what the raw calls give (natively on 7.x, trapped on
// 6.x): the polyfill adds nothing of its own to these answers.

std::string Outcome(const Result<UniqueFd>& result) { return result ? "ok" : ErrnoName(result.error().code); }

TEST(PolyfillMatchesLibrary, OpenTreeNamespaceRefusesWhatTheRawCallRefuses) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  const auto& raw = Results(PolyfillNeeded().Any() ? Way::kPolyfill : Way::kDirect, "cases");
  testing::InPrivateMountNamespace([&] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base + "/a"));
    const int file = ::open((base + "/file").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    ASSERT_GE(file, 0);
    ::close(file);
    EXPECT_EQ(Outcome(OpenTreeNamespace(AT_FDCWD, base + "/a", 1U /* OPEN_TREE_CLONE */)),
              raw.at("ot_clone_and_namespace"));
    EXPECT_EQ(Outcome(OpenTreeNamespace(AT_FDCWD, base + "/a", 1U << 2)), raw.at("ot_unknown_flag"));
    EXPECT_EQ(Outcome(OpenTreeNamespace(AT_FDCWD, base + "/file", 0)), raw.at("ot_not_a_directory"));
    EXPECT_EQ(Outcome(OpenTreeNamespace(AT_FDCWD, "/nonexistent/raw-calls", 0)), raw.at("ot_missing_path"));
    EXPECT_EQ(Outcome(OpenTreeNamespace(9999, "a", 0)), raw.at("ot_bad_dirfd"));
  });
}

TEST(PolyfillMatchesLibrary, StatmountByFdRefusesWhatTheRawCallRefuses) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  const auto& raw = Results(PolyfillNeeded().Any() ? Way::kPolyfill : Way::kDirect, "cases");
  auto bad = StatmountByFd(-1, field::kMntBasic);
  EXPECT_EQ(bad ? "ok" : ErrnoName(bad.error().code), raw.at("sm_bad_fd"));
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  auto pipe = StatmountByFd(pipefd[0], field::kMntBasic);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  EXPECT_EQ(pipe ? "ok" : ErrnoName(pipe.error().code), raw.at("sm_pipe"));
}

// ---- the filter itself ----

TEST(Polyfill, InstallsAFilterOnlyWhereTheKernelLacksACall) {
  const auto result = RunProgram({CliPath(), "polyfill", "--", MNTNS_RAW_CALLS_PATH, "seccomp"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, PolyfillNeeded().Any() ? "Seccomp:\t2\n" : "Seccomp:\t0\n");
}

// The filter is no sandbox: a kernel that turns Speculative Store Bypass
// Disable on for every task installing a seccomp filter
// (spec_store_bypass_disable=seccomp) must not do it for the polyfill's, in
// CMD or in an InstallPolyfill caller. Where the kernel mitigates only on
// request (prctl) no filter changes the state, and the test has nothing to judge.
TEST(Polyfill, LeavesTheSpeculationMitigationsAsTheyWere) {
  if (!PolyfillNeeded().Any()) GTEST_SKIP() << "no filter is installed on this kernel";
  std::string mode;
  if (FILE* f = std::fopen("/sys/devices/system/cpu/vulnerabilities/spec_store_bypass", "re")) {
    char line[256] = "";
    if (std::fgets(line, sizeof line, f) != nullptr) mode = line;
    std::fclose(f);
  }
  if (mode.find("seccomp") == std::string::npos) GTEST_SKIP() << "this kernel mitigates only on request: " << mode;
  const auto bare = RunProgram({MNTNS_RAW_CALLS_PATH, "speculation"});
  const auto traced = RunProgram({CliPath(), "polyfill", "--", MNTNS_RAW_CALLS_PATH, "speculation"});
  const auto installed = RunProgram({MNTNS_INSTALLED_CALLS_PATH, "speculation"});
  ASSERT_EQ(bare.exit_status, 0) << bare.err;
  EXPECT_EQ(traced.out, bare.out) << traced.err;
  EXPECT_EQ(installed.out, bare.out) << installed.err;
}

// A CMD with a seccomp filter of its own (here one that kills it for any
// seccomp() call) is not made to install the statmount filter: it keeps
// working, and its root's statmount answer is the kernel's, of the sysfs
// directory (docs/polyfill.md), while creating there is still ENOENT.
TEST(Polyfill, ATaskWithAFilterOfItsOwnKeepsTheKernelsStatmount) {
  if (!PolyfillNeeded().empty_mount_namespace) GTEST_SKIP() << "unshare(UNSHARE_EMPTY_MNTNS) is native here";
  const auto result = RunProgram({CliPath(), "polyfill", "--", MNTNS_RAW_CALLS_PATH, "empty-own-filter"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("ue_with_a_filter_of_its_own ok cwd=/ entries=0 mounts=1 point=/ proc=0 mkdir=ENOENT "
                            "creat=ENOENT root-mask="),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find(" own-parent=0 fs=sysfs source=mntns-template "), std::string::npos) << result.out;
}

TEST(Polyfill, PassesOnTheExitStatusOfTheCommand) {
  const auto result = RunProgram({CliPath(), "polyfill", "--", MNTNS_RAW_CALLS_PATH, "no-such-mode"});
  EXPECT_EQ(result.exit_status, 2);
}

TEST(Polyfill, ACommandThatCannotBeRunExits127AndSaysWhy) {
  const auto result = RunProgram({CliPath(), "polyfill", "--", "/nonexistent/program"});
  EXPECT_EQ(result.exit_status, 127);
  EXPECT_EQ(result.err, "mntns: execvp \"/nonexistent/program\": No such file or directory (ENOENT)\n");
}

TEST(Polyfill, ListSaysWhichCallsAreTrapped) {
  const auto result = RunProgram({CliPath(), "polyfill", "--list"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const bool trapped = PolyfillNeeded().open_tree_namespace;
  EXPECT_NE(result.out.find(std::string("open_tree(OPEN_TREE_NAMESPACE)       ") +
                            (trapped ? "emulated (trapped)" : "native (not trapped)")),
            std::string::npos)
      << result.out;
  const bool listmount = trapped || PolyfillNeeded().fsmount_namespace;
  EXPECT_NE(result.out.find(std::string("listmount(2)                         ") +
                            (listmount ? "trapped (emulated namespaces" : "native (not trapped)")),
            std::string::npos)
      << result.out;
}

// `mntns polyfill -- CMD` passes SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to it on
// to CMD (as `mntns run` does) and exits as CMD did: CMD's status, 128+N when
// a signal N killed it.
struct SignalRun {
  std::string out;
  int status = 0;
};

SignalRun SignalThePolyfill(int sig, const char* disposition) {
  SignalRun run;
  int from_child[2];
  if (::pipe2(from_child, O_CLOEXEC) != 0) return run;
  const pid_t supervisor = ::fork();
  if (supervisor == 0) {
    ::dup2(from_child[1], 1);
    const std::string cli = CliPath();
    ::execl(cli.c_str(), cli.c_str(), "polyfill", "--", MNTNS_RAW_CALLS_PATH, "wait-signal", disposition, nullptr);
    ::_exit(127);
  }
  ::close(from_child[1]);
  char chunk[256];
  while (run.out.find("ready\n") == std::string::npos) {
    const ssize_t n = ::read(from_child[0], chunk, sizeof chunk);
    if (n <= 0) break;
    run.out.append(chunk, static_cast<std::size_t>(n));
  }
  ::kill(supervisor, sig);
  for (ssize_t n; (n = ::read(from_child[0], chunk, sizeof chunk)) > 0;) run.out.append(chunk, static_cast<std::size_t>(n));
  ::close(from_child[0]);
  ::waitpid(supervisor, &run.status, 0);
  return run;
}

class PolyfillSignals : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(Forwarded, PolyfillSignals, ::testing::Values(SIGINT, SIGTERM, SIGHUP, SIGQUIT),
                         [](const ::testing::TestParamInfo<int>& info) { return std::string(sigabbrev_np(info.param)); });

TEST_P(PolyfillSignals, ReachCmd) {
  const SignalRun run = SignalThePolyfill(GetParam(), "catch");
  EXPECT_EQ(run.out, "ready\ngot " + std::to_string(GetParam()) + "\n");
  ASSERT_TRUE(WIFEXITED(run.status)) << "mntns itself was killed: the signal was not passed on";
  EXPECT_EQ(WEXITSTATUS(run.status), 0);
}

TEST_P(PolyfillSignals, ThatKillCmdGiveExitStatus128PlusTheSignal) {
  const SignalRun run = SignalThePolyfill(GetParam(), "die");
  EXPECT_EQ(run.out, "ready\n");
  ASSERT_TRUE(WIFEXITED(run.status)) << "mntns itself was killed: the signal was not passed on";
  EXPECT_EQ(WEXITSTATUS(run.status), 128 + GetParam());
}

// InstallPolyfill() in a process: a thread that existed before the call is
// filtered too (TSYNC), and its raw open_tree(OPEN_TREE_NAMESPACE) returns a
// mount namespace fd where the kernel lacks the call (natively where it has it).
TEST(InstallPolyfill, ServesEveryThreadOfTheProcess) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int verdict = 1;
    int ready[2];
    if (::pipe(ready) != 0) ::_exit(3);
    std::thread earlier([&] {
      char go;
      if (::read(ready[0], &go, 1) != 1) return;
      const long fd = ::syscall(428, AT_FDCWD, "/", (1U << 1) | AT_RECURSIVE | O_CLOEXEC);
      if (fd >= 0 && ::ioctl(static_cast<int>(fd), _IO(0xb7, 0x3)) == CLONE_NEWNS) verdict = 0;
    });
    auto installed = InstallPolyfill();
    const bool expected = installed && installed->open_tree_namespace == PolyfillNeeded().open_tree_namespace;
    (void)!::write(ready[1], "g", 1);
    earlier.join();
    ::_exit(expected ? verdict : 2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the call failed, 2: InstallPolyfill did not trap what is missing";
}

// A number from the line "KEY:\tN" of /proc/PID/status (-1 without it).
long StatusNumber(pid_t pid, const std::string& key) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(key + ":")) return std::stol(line.substr(key.size() + 1));
  }
  return -1;
}
long ThreadCount() { return StatusNumber(::getpid(), "Threads"); }
pid_t TracerOf(pid_t pid) { return static_cast<pid_t>(StatusNumber(pid, "TracerPid")); }

// What the fds of process `pid` are (their /proc/PID/fd links).
std::vector<std::string> FdTargets(pid_t pid) {
  std::vector<std::string> targets;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code error;
    // Gone meanwhile (the supervisor opens /proc directories of its own): not held.
    const auto target = std::filesystem::read_symlink(entry.path(), error);
    if (!error) targets.push_back(target.string());
  }
  return targets;
}

// The supervisor is a process of its own: the caller stays single-threaded
// (so unshare(CLONE_NEWUSER) and setns into a user namespace still work).
TEST(InstallPolyfill, LeavesTheProcessSingleThreaded) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  if (!PolyfillNeeded().Any()) GTEST_SKIP() << "nothing is trapped on this kernel";
  testing::InPrivateMountNamespace([] {
    auto installed = InstallPolyfill();
    ASSERT_TRUE(installed) << installed.error().Message();
    EXPECT_EQ(ThreadCount(), 1);
    EXPECT_EQ(::unshare(CLONE_NEWUSER), 0) << std::strerror(errno);
  });
}

// Threads started while InstallPolyfill seizes the process (by a thread not
// yet seized, or by one already seized) are all traced: none is left
// stopped, and a thread started afterwards gets the empty namespace.
TEST(InstallPolyfill, SeizesThreadsStartedWhileItInstalls) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  if (!PolyfillNeeded().empty_mount_namespace) GTEST_SKIP() << "no call is traced on this kernel";
  testing::InPrivateMountNamespace([] {
    std::atomic<bool> stop{false};
    std::atomic<long> started{0};
    std::vector<std::thread> spawners;
    for (int i = 0; i < 4; ++i) {
      spawners.emplace_back([&] {
        while (!stop) {
          std::thread([&] { ++started; }).join();
        }
      });
    }
    while (started < 100) std::this_thread::yield();
    auto installed = InstallPolyfill();
    const long before = started;
    while (started < before + 100) std::this_thread::yield();  // they go on under the tracer
    stop = true;
    for (auto& spawner : spawners) spawner.join();
    ASSERT_TRUE(installed) << installed.error().Message();
    ASSERT_TRUE(installed->empty_mount_namespace) << "the process was not traced";
    int entries = -1;
    std::thread([&] {
      if (::syscall(SYS_unshare, 0x00100000UL /* UNSHARE_EMPTY_MNTNS */) != 0) return;
      entries = 0;
      std::error_code error;
      for (auto it = std::filesystem::directory_iterator("/", error); !error && it != std::filesystem::directory_iterator();
           it.increment(error)) {
        ++entries;
      }
    }).join();
    EXPECT_EQ(entries, 0) << "-1: the new thread's unshare(UNSHARE_EMPTY_MNTNS) failed";
  });
}

// unshare(CLONE_NEWPID) before InstallPolyfill: the next child is still the
// new namespace's init (the supervisor is not made in it, which would end
// it with the short-lived middle process).
TEST(InstallPolyfill, LeavesAPendingPidNamespaceToTheNextChild) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  if (!PolyfillNeeded().Any()) GTEST_SKIP() << "nothing is trapped on this kernel";
  testing::InPrivateMountNamespace([] {
    ASSERT_EQ(::unshare(CLONE_NEWPID), 0) << std::strerror(errno);
    auto installed = InstallPolyfill();
    ASSERT_TRUE(installed) << installed.error().Message();
    const pid_t init = ::fork();
    ASSERT_GE(init, 0) << "fork after InstallPolyfill: " << std::strerror(errno);
    if (init == 0) ::_exit(::getpid() == 1 ? 0 : 1);
    int status = 0;
    ASSERT_EQ(::waitpid(init, &status, 0), init);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the next child was not pid 1 of the new namespace";
  });
}

// A caller that used the library's template factory before: the supervisor
// process, a fork of it, drops that factory's fds before it closes the
// caller's, and builds its own (no fd of its own is closed by mistake).
TEST(InstallPolyfill, ServesACallerThatUsedTheTemplateFactoryBefore) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  if (!PolyfillNeeded().open_tree_namespace) GTEST_SKIP() << "open_tree is not trapped on this kernel";
  testing::InPrivateMountNamespace([] {
    auto before = OpenTreeNamespace(AT_FDCWD, "/", AT_RECURSIVE);
    ASSERT_TRUE(before) << before.error().Message();
    auto installed = InstallPolyfill();
    ASSERT_TRUE(installed) << installed.error().Message();
    for (int call = 0; call < 3; ++call) {
      const long fd = ::syscall(428, AT_FDCWD, "/", (1U << 1) | AT_RECURSIVE | O_CLOEXEC);
      ASSERT_GE(fd, 0) << "trapped open_tree " << call << ": " << std::strerror(errno);
      EXPECT_EQ(::ioctl(static_cast<int>(fd), _IO(0xb7, 0x3)), CLONE_NEWNS);
      ::close(static_cast<int>(fd));
    }
  });
}

// The supervisor keeps one thread for callers that stand where it stands,
// and lets go of the caller's cwd before it answers: right after the call
// nothing of the caller's is in use, and the mount the caller stood on
// unmounts (no EBUSY). Many times: a late let-go loses the race now and then.
TEST(InstallPolyfill, ATrappedCallLeavesNothingOfTheCallersCwdInUse) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  if (!PolyfillNeeded().open_tree_namespace) GTEST_SKIP() << "open_tree is not trapped on this kernel";
  testing::InPrivateMountNamespace([] {
    const std::string dir = testing::TempDir() + "/cwd";
    ASSERT_TRUE(testing::MakeDirs(dir));
    ASSERT_TRUE(testing::MountTmpfs(dir));
    ASSERT_TRUE(testing::MakeDirs(dir + "/tree"));
    auto installed = InstallPolyfill();
    ASSERT_TRUE(installed) << installed.error().Message();
    constexpr int kCalls = 200;
    for (int call = 0; call < kCalls; ++call) {
      ASSERT_EQ(::chdir(dir.c_str()), 0);
      const long fd = ::syscall(428, AT_FDCWD, "tree", (1U << 1) | AT_RECURSIVE | O_CLOEXEC);
      ASSERT_GE(fd, 0) << "trapped open_tree " << call << ": " << std::strerror(errno);
      ::close(static_cast<int>(fd));
      ASSERT_EQ(::chdir("/"), 0);
      ASSERT_EQ(::umount2(dir.c_str(), 0), 0) << "call " << call << ": " << std::strerror(errno);
      if (call + 1 < kCalls) {
        ASSERT_TRUE(testing::MountTmpfs(dir) && testing::MakeDirs(dir + "/tree"));
      }
    }
  });
}

// Each trapped call looks up its path with the caller's fs ids of the
// moment, also after a call with others: root's fsuid searches a directory
// of mode 0700, fsuid 65534 (which keeps CAP_SYS_ADMIN, not CAP_DAC_*) may
// not (EACCES, as 7.2 says), root's again may. A cwd that fsuid may not
// search matters only to a relative path, as on 7.2.
TEST(InstallPolyfill, EachTrappedCallLooksUpWithTheCallersFsIdsOfTheMoment) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  if (!PolyfillNeeded().open_tree_namespace) GTEST_SKIP() << "open_tree is not trapped on this kernel";
  testing::InPrivateMountNamespace([] {
    // A tmpfs over /mnt, in this namespace only: TempDir()'s parents are
    // mkdtemp's 0700, and only "locked" is to be locked here.
    ASSERT_TRUE(testing::MakeDirs("/mnt") && testing::MountTmpfs("/mnt", "mode=0755"));
    const std::string locked = "/mnt/locked";
    ASSERT_TRUE(testing::MakeDirs(locked + "/tree"));
    ASSERT_EQ(::chmod(locked.c_str(), 0700), 0);
    ASSERT_EQ(::chown(locked.c_str(), 0, 0), 0);
    const std::string open = "/mnt/open";
    ASSERT_TRUE(testing::MakeDirs(open + "/tree"));
    const std::string tree = locked + "/tree";
    auto installed = InstallPolyfill();
    ASSERT_TRUE(installed) << installed.error().Message();
    auto call = [](const std::string& path) {
      const long fd = ::syscall(428, AT_FDCWD, path.c_str(), (1U << 1) | O_CLOEXEC);
      if (fd < 0) return std::string(strerrorname_np(errno));
      ::close(static_cast<int>(fd));
      return std::string("ok");
    };
    EXPECT_EQ(call(tree), "ok");
    ASSERT_EQ(::chdir(locked.c_str()), 0);
    (void)::syscall(SYS_setfsuid, 65534);
    EXPECT_EQ(::syscall(SYS_setfsuid, -1), 65534);
    EXPECT_EQ(call(tree), "EACCES");
    EXPECT_EQ(call("tree"), "EACCES");
    EXPECT_EQ(call(open + "/tree"), "ok");
    // fsuid 65534 that raised CAP_DAC_READ_SEARCH again (setfsuid dropped it)
    // searches anything: the caller's capabilities count after its fs ids.
    auto set_read_search = [](bool on) { ASSERT_TRUE(SetEffectiveCapabilities(1U << CAP_DAC_READ_SEARCH, on)); };
    set_read_search(true);
    EXPECT_EQ(call(tree), "ok");
    set_read_search(false);
    EXPECT_EQ(call(tree), "EACCES");
    (void)::syscall(SYS_setfsuid, 0);
    EXPECT_EQ(call(tree), "ok");
    EXPECT_EQ(call("tree"), "ok");
    ASSERT_EQ(::chdir("/"), 0);
  });
}

// A trapped call has the caller's filesystem capabilities of the moment: root
// that dropped CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its effective set
// may not search another user's 0700 directory (EACCES, as 7.2 says), and may
// again once it raises them. The serving thread, which takes the caller's
// credentials for the lookup and gives them back, must follow. On 7.x nothing
// is installed and the kernel answers the same.
TEST(InstallPolyfill, EachTrappedCallLooksUpWithTheCallersFilesystemCapabilities) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  testing::InPrivateMountNamespace([] {
    ASSERT_TRUE(testing::MakeDirs("/mnt") && testing::MountTmpfs("/mnt", "mode=0755"));
    const std::string others = "/mnt/others";
    ASSERT_TRUE(testing::MakeDirs(others + "/tree"));
    ASSERT_EQ(::chmod(others.c_str(), 0700), 0);
    ASSERT_EQ(::chown(others.c_str(), 65534, 65534), 0);
    const std::string tree = others + "/tree";
    auto installed = InstallPolyfill();
    ASSERT_TRUE(installed) << installed.error().Message();
    auto call = [](const std::string& path) {
      const long fd = ::syscall(428, AT_FDCWD, path.c_str(), (1U << 1) | O_CLOEXEC);
      if (fd < 0) return std::string(strerrorname_np(errno));
      ::close(static_cast<int>(fd));
      return std::string("ok");
    };
    auto set_dac = [](bool on) {
      ASSERT_TRUE(SetEffectiveCapabilities((1U << CAP_DAC_OVERRIDE) | (1U << CAP_DAC_READ_SEARCH), on));
    };
    EXPECT_EQ(call(tree), "ok");
    set_dac(false);
    EXPECT_EQ(call(tree), "EACCES");
    EXPECT_EQ(call("/mnt"), "ok");
    set_dac(true);
    EXPECT_EQ(call(tree), "ok");
  });
}

// statmount BY_FD of a detached tree of one mount is ENOENT on 7.2, whatever
// the caller may search: the kernel walks nothing. The emulation walks up to
// the mount's root to tell such a tree from one with submounts, which must
// not take the caller's permissions (fsuid 65534 cannot search the root-owned
// 0700 directory above its fd), wherever the caller stands. On 7.x the
// kernel answers.
TEST(InstallPolyfill, StatmountOfALoneDetachedMountIsEnoentWhateverTheCallerMaySearch) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  testing::InPrivateMountNamespace([] {
    const int fs = ::fsopen("tmpfs", FSOPEN_CLOEXEC);
    ASSERT_GE(fs, 0) << std::strerror(errno);
    ASSERT_EQ(::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0), 0) << std::strerror(errno);
    const int mount = ::fsmount(fs, FSMOUNT_CLOEXEC, 0);
    ASSERT_GE(mount, 0) << std::strerror(errno);
    ASSERT_EQ(::mkdirat(mount, "locked", 0700), 0);
    ASSERT_EQ(::mkdirat(mount, "locked/inner", 0755), 0);
    const int inner = ::openat(mount, "locked/inner", O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(inner, 0) << std::strerror(errno);
    auto installed = InstallPolyfill();
    ASSERT_TRUE(installed) << installed.error().Message();
    auto call = [](int fd) {
      sys::MntIdReq request{};
      request.size = sys::kMntIdReqSizeVer0;
      request.mnt_ns_fd_or_mnt_fd = static_cast<std::uint32_t>(fd);
      request.param = 0x2;  // STATMOUNT_MNT_BASIC
      std::array<std::uint64_t, 512> buffer{};
      if (::syscall(457, &request, buffer.data(), sizeof buffer, sys::kStatmountByFd) != 0) {
        return std::string(strerrorname_np(errno));
      }
      return std::string("ok");
    };
    auto as_nobody = [&](const char* where) {
      SCOPED_TRACE(where);
      EXPECT_EQ(call(inner), "ENOENT");
      (void)::syscall(SYS_setfsuid, 65534);
      EXPECT_EQ(call(inner), "ENOENT");
      EXPECT_EQ(call(mount), "ENOENT");
      (void)::syscall(SYS_setfsuid, 0);
    };
    as_nobody("in the supervisor's mount namespace");
    // A caller in a namespace of its own has a thread of the supervisor's
    // for the call, which must not take its fs ids either.
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
    as_nobody("in a mount namespace of its own");
    ::close(inner);
    ::close(mount);
    ::close(fs);
  });
}

// The same in a user namespace of the caller's own, served by an
// unprivileged supervisor: its threads cannot enter the caller's mount
// namespace, so a child of the supervisor walks, which must not take the
// caller's filesystem capabilities (the caller dropped CAP_DAC_OVERRIDE and
// CAP_DAC_READ_SEARCH, and may not search its own directory of mode 0
// above its fd). On 7.x the kernel answers.
TEST(InstallPolyfill, StatmountOfALoneDetachedMountIsEnoentForAnUnprivilegedSupervisorsCallerInItsUserNamespace) {
  if (getuid() != 0) GTEST_SKIP() << "needs root (to become uid 65534)";
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto say = [&](const std::string& text) {
      (void)!::write(report[1], text.data(), text.size());
      ::_exit(0);
    };
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0 ||
        ::prctl(PR_SET_DUMPABLE, 1) != 0) {
      say(std::string("drop privileges: ") + strerrorname_np(errno));
    }
    if (auto installed = InstallPolyfill(); !installed) say("install: " + installed.error().Message());
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) say(std::string("unshare: ") + strerrorname_np(errno));
    auto write_file = [](const char* path, const char* text) {
      std::ofstream out(path);
      out << text;
      out.close();
      return !out.fail();
    };
    if (!write_file("/proc/self/uid_map", "0 65534 1") || !write_file("/proc/self/setgroups", "deny") ||
        !write_file("/proc/self/gid_map", "0 65534 1")) {
      say("id maps");
    }
    const int fs = ::fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0 || ::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) say("fsopen");
    const int mount = ::fsmount(fs, FSMOUNT_CLOEXEC, 0);
    if (mount < 0 || ::mkdirat(mount, "own", 0755) != 0 || ::mkdirat(mount, "own/inner", 0755) != 0) say("fsmount");
    const int inner = ::openat(mount, "own/inner", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (inner < 0 || ::fchmodat(mount, "own", 0, 0) != 0) say("own/inner");
    if (!SetEffectiveCapabilities((1U << CAP_DAC_OVERRIDE) | (1U << CAP_DAC_READ_SEARCH), false)) say("capset");
    if (::faccessat(inner, "..", X_OK, AT_EACCESS) == 0) say("own is searchable without CAP_DAC_*");
    sys::MntIdReq request{};
    request.size = sys::kMntIdReqSizeVer0;
    request.mnt_ns_fd_or_mnt_fd = static_cast<std::uint32_t>(inner);
    request.param = 0x2;  // STATMOUNT_MNT_BASIC
    std::array<std::uint64_t, 512> buffer{};
    if (::syscall(457, &request, buffer.data(), sizeof buffer, sys::kStatmountByFd) != 0) say(strerrorname_np(errno));
    say("ok");
  }
  ::close(report[1]);
  std::string reported;
  std::array<char, 256> chunk{};
  for (ssize_t n; (n = ::read(report[0], chunk.data(), chunk.size())) > 0;) reported.append(chunk.data(), n);
  ::close(report[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(reported, "ENOENT");
}

// An exec() keeps the filter, and the supervisor, a process of its own,
// keeps answering: the new program gets the 7.2 answers too.
TEST(InstallPolyfill, KeepsServingTheProcessAfterItExecs) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  if (!PolyfillNeeded().Any()) GTEST_SKIP() << "nothing is trapped on this kernel";
  for (const std::string mode : {"cases", "empty"}) {
    const auto result = RunProgram({MNTNS_INSTALLED_CALLS_PATH, "--exec", MNTNS_RAW_CALLS_PATH, mode});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const std::string expected = mode == "cases" ? "ot_plain ok mntns=1 cloexec=0 marker=1 sub-mount=0\n"
                                                 : std::string("ue_plain ") + kEmptyFacts + "\n";
    EXPECT_NE(result.out.find(expected), std::string::npos) << result.out;
  }
}

// The supervisor (the tracer of the process, where the empty-namespace calls
// are trapped) holds none of the caller's fds (a pipe's reader would never
// see its end), and is gone once the process is.
TEST(InstallPolyfill, TheSupervisorHoldsNoneOfTheCallersFdsAndEndsWithIt) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  if (!PolyfillNeeded().empty_mount_namespace) GTEST_SKIP() << "no tracer on this kernel: nothing names it";
  // Both pipes are the caller's (not closed on fork): the supervisor must hold neither.
  int report[2], go[2];
  ASSERT_EQ(::pipe(report), 0);
  ASSERT_EQ(::pipe(go), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(go[1]);  // so that a parent that fails below ends this child too
    ::close(report[0]);
    pid_t supervisor = InstallPolyfill() ? TracerOf(::getpid()) : 0;
    (void)!::write(report[1], &supervisor, sizeof supervisor);
    char byte;
    (void)!::read(go[0], &byte, 1);
    ::_exit(0);
  }
  ::close(report[1]);
  ::close(go[0]);
  pid_t supervisor = 0;
  ASSERT_EQ(::read(report[0], &supervisor, sizeof supervisor), static_cast<ssize_t>(sizeof supervisor));
  ASSERT_GT(supervisor, 0) << "InstallPolyfill failed, or nothing traces the process";
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, supervisor, 0));
  ASSERT_GE(pidfd, 0);
  for (const std::string& target : FdTargets(supervisor)) {
    EXPECT_TRUE(target == "/dev/null" || target.starts_with("socket:") || target.starts_with("anon_inode:"))
        << "the supervisor holds " << target;
    EXPECT_FALSE(target.starts_with("pipe:")) << "the supervisor holds one of the caller's pipes: " << target;
  }
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  pollfd ended{pidfd, POLLIN, 0};
  EXPECT_EQ(::poll(&ended, 1, 10000), 1) << "the supervisor outlived the process it served";
  ::close(pidfd);
  ::close(report[0]);
  ::close(go[1]);
}

// A process that another tracer holds (a debugger) cannot be seized: the
// empty-namespace calls stay native (the result says so), the rest is
// trapped as where it can be seized.
TEST(InstallPolyfill, UnderAnotherTracerLeavesOnlyTheTracedCallsNative) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  if (!PolyfillNeeded().empty_mount_namespace) GTEST_SKIP() << "no call is traced on this kernel";
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(go[1]);  // a parent that fails below ends this child too
    char byte;
    if (::read(go[0], &byte, 1) != 1) ::_exit(3);
    auto installed = InstallPolyfill();
    if (!installed) ::_exit(2);
    const long fd = ::syscall(428, AT_FDCWD, "/", (1U << 1) | AT_RECURSIVE | O_CLOEXEC);
    const bool served = fd >= 0 && ::ioctl(static_cast<int>(fd), _IO(0xb7, 0x3)) == CLONE_NEWNS;
    // open_tree is trapped where it is missing (native under the linux-7.0 profile): it works either way.
    const bool as_needed = installed->open_tree_namespace == PolyfillNeeded().open_tree_namespace;
    ::_exit(!installed->empty_mount_namespace && as_needed && served ? 0 : 1);
  }
  ::close(go[0]);
  if (::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) != 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    FAIL() << "PTRACE_SEIZE of the child: " << std::strerror(errno);
  }
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  int status = 0;
  // The debugger's part: every stop (a signal on its way) is let go.
  while (::waitpid(child, &status, __WALL) == child && WIFSTOPPED(status)) {
    const int signal = (status >> 16) == 0 ? WSTOPSIG(status) : 0;
    ::ptrace(PTRACE_CONT, child, nullptr, signal);
  }
  ::close(go[1]);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the result or open_tree was not as expected; 2: InstallPolyfill failed";
}

// An unprivileged supervisor (no_new_privs, no capabilities) serves an
// unprivileged caller what 7.2 gives it.
TEST(Polyfill, WorksForAnUnprivilegedUser) {
  if (getuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs root and setpriv";
  const auto result = RunProgram({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CliPath(),
                                  "polyfill", "--", MNTNS_RAW_CALLS_PATH, "nobody"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("ot_nobody EPERM\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("sm_nobody ok point=/ has_ns_id=0 same-as-by-id=1\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("ue_nobody EPERM\n"), std::string::npos) << result.out;
  // An unprivileged mntns cannot make the sysfs its empty roots come from
  // (that needs CAP_SYS_ADMIN over the network namespace's owner): the root
  // is the read-only tmpfs, where creating fails with EROFS (7.2: ENOENT;
  // docs/polyfill.md). Everything else is as 7.2 gives it.
  std::string tmpfs_root = kEmptyFacts;
  for (const char* call : {"mkdir=", "creat="}) {
    const auto at = tmpfs_root.find(call) + std::strlen(call);
    tmpfs_root.replace(at, std::strlen("ENOENT"), "EROFS");
  }
  EXPECT_NE(result.out.find("ue_nobody_with_clone_newuser " + tmpfs_root + "\n"), std::string::npos)
      << result.out;
  // In a user namespace of its own (AUserInAUserNamespaceOfItsOwnGetsWhat72GivesIt
  // with "/"): the unprivileged supervisor cannot enter the caller's
  // namespaces from a thread; its helper enters the user namespace first.
  EXPECT_NE(result.out.find("ot_nobody_userns_recursive ok mntns=1 cloexec=0 marker=0 sub-mount=0\n"
                            "ot_nobody_userns_plain EINVAL\n"
                            "ot_nobody_userns_from_a_dirfd ok mntns=1 cloexec=0 marker=0 sub-mount=0\n"
                            "nobody_userns_unshare_newns ok\n"
                            "sm_nobody_userns_own_mntns ok point=/ has_ns_id=0 same-as-by-id=1\n"
                            "ot_nobody_userns_own_mntns_recursive ok mntns=1 cloexec=0 marker=0 sub-mount=0\n"),
            std::string::npos)
      << result.out;
}

// The supervisor killed while CMD runs: CMD's next trapped call fails with
// ENOSYS (the kernel's answer when no listener is left) instead of hanging.
TEST(Polyfill, TrappedCallsFailWithEnosysOnceTheSupervisorIsGone) {
  if (!PolyfillNeeded().open_tree_namespace) GTEST_SKIP() << "nothing is trapped on this kernel";
  int to_child[2], from_child[2];
  ASSERT_EQ(::pipe2(to_child, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(from_child, O_CLOEXEC), 0);
  const pid_t supervisor = ::fork();
  ASSERT_GE(supervisor, 0);
  if (supervisor == 0) {
    ::dup2(to_child[0], 0);
    ::dup2(from_child[1], 1);
    const std::string cli = CliPath();
    ::execl(cli.c_str(), cli.c_str(), "polyfill", "--", MNTNS_RAW_CALLS_PATH, "wait-open-tree", nullptr);
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  std::string out;
  char chunk[256];
  while (out.find("ready\n") == std::string::npos) {
    const ssize_t n = ::read(from_child[0], chunk, sizeof chunk);
    ASSERT_GT(n, 0) << "raw_calls never said ready";
    out.append(chunk, static_cast<std::size_t>(n));
  }
  ASSERT_EQ(::kill(supervisor, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(supervisor, &status, 0), supervisor);
  ASSERT_EQ(::write(to_child[1], "x", 1), 1);
  ::close(to_child[1]);
  for (ssize_t n; (n = ::read(from_child[0], chunk, sizeof chunk)) > 0;) out.append(chunk, static_cast<std::size_t>(n));
  ::close(from_child[0]);
  EXPECT_EQ(out, "ready\nopen_tree ENOSYS\n");
}

}  // namespace
}  // namespace mntns
