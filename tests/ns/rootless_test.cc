// The rootless fast path (SandboxSpec::rootless_keeper, docs/run.md): an
// unprivileged `mntns run --unshare-user` served by a per-user keeper instead
// of a copy of the caller's table. Each test runs as uid/gid 65534 in a
// private mount namespace of its own, with XDG_RUNTIME_DIR set to a fresh
// directory, and kills the keepers it started before it ends.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mntns/features.h"
#include "support/cli_runner.h"
#include "sys/uapi.h"
#include "support/namespace.h"
#include "support/probe.h"

namespace mntns {
namespace {

using testing::CliResult;

constexpr uid_t kUser = 65534;
constexpr gid_t kGroup = 65534;

#define EXPECT_RUN_OK(result) \
  EXPECT_EQ((result).exit_status, 0) << "stdout:\n" << (result).out << "stderr:\n" << (result).err

// A runtime directory for uid 65534, made by root; removed (with whatever the
// keepers left) by Cleanup.
struct RuntimeDirectory {
  std::string path;

  static RuntimeDirectory Make() {
    char name[] = "/tmp/mntns-rootless-test-XXXXXX";
    RuntimeDirectory dir;
    if (::mkdtemp(name) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
      return dir;
    }
    dir.path = name;
    EXPECT_EQ(::chown(name, kUser, kGroup), 0) << std::strerror(errno);
    return dir;
  }

  [[nodiscard]] std::string Records() const { return path + "/mntns"; }

  // The recorded keeper's pid, 0 without a record.
  [[nodiscard]] pid_t KeeperPid() const {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(Records(), ec)) {
      const std::string name = entry.path().filename();
      if (name.starts_with("rootless-") && name.find('.') == std::string::npos) {
        pid_t pid = 0;
        std::ifstream(entry.path()) >> pid;
        return pid;
      }
    }
    return 0;
  }

  [[nodiscard]] std::string RecordPath() const {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(Records(), ec)) {
      const std::string name = entry.path().filename();
      if (name.starts_with("rootless-") && name.find('.') == std::string::npos) return entry.path();
    }
    return "";
  }

  // Kills the keepers this test started (named in `pids`, and the recorded
  // one) and removes the directory.
  void Cleanup(std::vector<pid_t> pids = {}) const {
    pids.push_back(KeeperPid());
    for (pid_t pid : pids) {
      if (pid > 0 && IsKeeper(pid)) ::kill(pid, SIGKILL);
    }
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }

  static bool IsKeeper(pid_t pid) {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    comm >> name;
    return name == "mntns-template";
  }
};

std::vector<std::string> ProbeRun(const std::vector<std::string>& extra, const std::string& what) {
  std::vector<std::string> args = {"run", "--unshare-user", "--unshare-pid"};
  const auto base = testing::ProbeBinds();
  args.insert(args.end(), base.begin(), base.end());
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--", "/probe", "--probe", what});
  return args;
}

// `mntns run` with the runtime directory; `fast` false turns sharing off
// (MNTNS_TEMPLATE_IDLE=0: the slow path).
CliResult RunAs(const RuntimeDirectory& dir, const std::vector<std::string>& args, bool fast = true,
                int idle_seconds = 30) {
  testing::RunOptions options;
  options.environment = {"XDG_RUNTIME_DIR=" + dir.path,
                         "MNTNS_TEMPLATE_IDLE=" + std::to_string(fast ? idle_seconds : 0)};
  return testing::RunCli(args, options);
}

// As uid/gid 65534 with the saved uid kept 0, so that the test can mount as
// root in between (seteuid), in a private mount namespace of its own.
void AsUserWithRootSaved(const std::function<void(const RuntimeDirectory&)>& body) {
  testing::InPrivateMountNamespace([&] {
    const RuntimeDirectory dir = RuntimeDirectory::Make();
    if (::testing::Test::HasFailure()) return;
    ASSERT_EQ(::setgroups(0, nullptr), 0) << std::strerror(errno);
    ASSERT_EQ(::setresgid(kGroup, kGroup, 0), 0) << std::strerror(errno);
    ASSERT_EQ(::setresuid(kUser, kUser, 0), 0) << std::strerror(errno);
    body(dir);
    ASSERT_EQ(::seteuid(0), 0);
    dir.Cleanup();
  });
}

const std::vector<std::string> kSystem = {"--proc", "/proc", "--tmpfs", "/tmp", "--dir", "/data", "--uid", "1000"};

TEST(RootlessFastPath, GivesTheSameMountTableAsTheSlowPath) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    const CliResult slow = RunAs(dir, ProbeRun(kSystem, "mounts"), false);
    EXPECT_RUN_OK(slow);
    EXPECT_EQ(dir.KeeperPid(), 0) << "MNTNS_TEMPLATE_IDLE=0 started a keeper";
    const CliResult fast = RunAs(dir, ProbeRun(kSystem, "mounts"));
    EXPECT_RUN_OK(fast);
    EXPECT_NE(dir.KeeperPid(), 0) << "no keeper served the run";
    EXPECT_EQ(fast.out, slow.out);
  });
}

TEST(RootlessFastPath, GivesTheSameIdsAndNoCapabilitiesAsTheSlowPath) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    const CliResult slow = RunAs(dir, ProbeRun(kSystem, "ids"), false);
    const CliResult fast = RunAs(dir, ProbeRun(kSystem, "ids"));
    EXPECT_RUN_OK(fast);
    EXPECT_NE(dir.KeeperPid(), 0);
    EXPECT_EQ(fast.out, "1000 65534 caps 0 0 0\n");
    EXPECT_EQ(fast.out, slow.out);
  });
}

TEST(RootlessFastPath, ASecondRunReusesTheKeeper) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids")));
    const pid_t first = dir.KeeperPid();
    ASSERT_NE(first, 0);
    EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids")));
    EXPECT_EQ(dir.KeeperPid(), first);
    EXPECT_TRUE(RuntimeDirectory::IsKeeper(first));
  });
}

TEST(RootlessFastPath, AKilledKeeperIsReplaced) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids")));
    const pid_t first = dir.KeeperPid();
    ASSERT_NE(first, 0);
    ASSERT_EQ(::kill(first, SIGKILL), 0);
    for (int i = 0; i < 200 && RuntimeDirectory::IsKeeper(first); ++i) ::usleep(10'000);
    const CliResult r = RunAs(dir, ProbeRun({}, "ids"));
    EXPECT_RUN_OK(r);
    const pid_t second = dir.KeeperPid();
    EXPECT_NE(second, 0);
    EXPECT_NE(second, first);
    EXPECT_TRUE(RuntimeDirectory::IsKeeper(second));
  });
}

TEST(RootlessFastPath, TheKeeperExitsAfterItsIdleTimeAndRemovesItsRecord) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids"), true, 1));
    const pid_t keeper = dir.KeeperPid();
    ASSERT_NE(keeper, 0);
    for (int i = 0; i < 1000 && RuntimeDirectory::IsKeeper(keeper); ++i) ::usleep(10'000);
    EXPECT_FALSE(RuntimeDirectory::IsKeeper(keeper)) << "still there 10 s after an idle time of 1 s";
    EXPECT_EQ(dir.RecordPath(), "");
    // Its lock file goes too: records are per namespace, so a directory
    // would otherwise keep one lock file for every namespace ever served.
    std::vector<std::string> left;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir.Records(), ec)) left.push_back(entry.path());
    EXPECT_EQ(left, std::vector<std::string>{});
    // The next run makes a fresh lock file and keeper.
    EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids"), true, 1));
    EXPECT_NE(dir.KeeperPid(), 0);
  });
}

// A record naming a process of ours that is not the keeper (with a well-formed
// token) would hand its namespaces to every run: it is replaced instead.
TEST(RootlessFastPath, AForgedRecordIsNotTrusted) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids")));
    const std::string record = dir.RecordPath();
    const pid_t keeper = dir.KeeperPid();
    ASSERT_NE(keeper, 0);
    ASSERT_EQ(::kill(keeper, SIGKILL), 0);
    for (int i = 0; i < 200 && RuntimeDirectory::IsKeeper(keeper); ++i) ::usleep(10'000);
    // Our own process, in our own namespaces: everything but the token and name.
    std::string ns_id;
    {
      std::ifstream in(record);
      pid_t ignored;
      in >> ignored >> ns_id;
    }
    {
      std::ofstream out(record, std::ios::trunc);
      out << ::getpid() << " " << ns_id << " " << std::string(32, 'a') << "\n";
    }
    const CliResult r = RunAs(dir, ProbeRun({}, "ids"));
    EXPECT_RUN_OK(r);
    EXPECT_NE(dir.KeeperPid(), ::getpid());
    EXPECT_TRUE(RuntimeDirectory::IsKeeper(dir.KeeperPid()));
  });
}

// Others could read the token (mode 0644): not a record of ours any more.
TEST(RootlessFastPath, ARecordOthersCanReadIsReplaced) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids")));
    const pid_t first = dir.KeeperPid();
    ASSERT_NE(first, 0);
    ASSERT_EQ(::chmod(dir.RecordPath().c_str(), 0644), 0);
    EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids")));
    const pid_t second = dir.KeeperPid();
    EXPECT_NE(second, first);
    EXPECT_TRUE(RuntimeDirectory::IsKeeper(second));
    dir.Cleanup({first});
  });
}

// A runtime directory of another user: no keeper is started there, and the
// run still works (the slow path).
TEST(RootlessFastPath, ARecordDirectoryOfAnotherUserIsNotUsed) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    ASSERT_EQ(::seteuid(0), 0);
    ASSERT_EQ(::mkdir(dir.Records().c_str(), 0700), 0);
    ASSERT_EQ(::seteuid(kUser), 0);
    const CliResult r = RunAs(dir, ProbeRun({}, "ids"));
    EXPECT_RUN_OK(r);
    EXPECT_EQ(r.out, "65534 65534 caps 0 0 0\n");
    ASSERT_EQ(::seteuid(0), 0);
    EXPECT_EQ(dir.KeeperPid(), 0);
    ASSERT_EQ(::seteuid(kUser), 0);
  });
}

// A mount made in the caller's namespace after the keeper copied it (under a
// private mount: nothing propagates) is seen by the next run all the same. It
// is read-only, so the bind shows "ro" where the directory below showed "rw"
// (whatever filesystem /tmp is: ext4 on the host, tmpfs in the VM).
TEST(RootlessFastPath, AMountMadeAfterTheKeeperStartedIsSeen) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    const std::string source = dir.path + "/source";
    ASSERT_EQ(::mkdir(source.c_str(), 0755), 0);
    const std::vector<std::string> bind = {"--bind", source, "/data"};
    const CliResult before = RunAs(dir, ProbeRun(bind, "mounts"));
    EXPECT_RUN_OK(before);
    EXPECT_NE(before.out.find("/data "), std::string::npos) << before.out;
    EXPECT_EQ(before.out.find("/data tmpfs ro"), std::string::npos) << before.out;
    const pid_t first = dir.KeeperPid();
    ASSERT_NE(first, 0);
    ASSERT_EQ(::seteuid(0), 0);
    ASSERT_TRUE(testing::MountTmpfs(source));
    ASSERT_TRUE(testing::SetMountAttributes(source, MOUNT_ATTR_RDONLY));
    ASSERT_EQ(::seteuid(kUser), 0);
    const CliResult after = RunAs(dir, ProbeRun(bind, "mounts"));
    EXPECT_RUN_OK(after);
    EXPECT_NE(after.out.find("/data tmpfs ro"), std::string::npos) << after.out;
    EXPECT_NE(dir.KeeperPid(), first) << "the stale keeper still serves";
    ASSERT_EQ(::seteuid(0), 0);
    static_cast<void>(::umount2(source.c_str(), MNT_DETACH));
    ASSERT_EQ(::seteuid(kUser), 0);
    dir.Cleanup({first});
  });
}

TEST(RootlessFastPath, LeavesTheCallersMountTableUnchanged) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    const auto table = [] {
      std::ifstream in("/proc/self/mountinfo");
      std::stringstream text;
      text << in.rdbuf();
      return text.str();
    };
    const std::string before = table();
    EXPECT_RUN_OK(RunAs(dir, ProbeRun(kSystem, "ids")));
    EXPECT_RUN_OK(RunAs(dir, ProbeRun(kSystem, "ids")));
    EXPECT_NE(dir.KeeperPid(), 0);
    EXPECT_EQ(table(), before);
  });
}

TEST(RootlessFastPath, NoFdLeaksIntoTheCommand) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    std::string expected = "0\n1\n2\n";
    for (int fd = 3; fd < 4096; ++fd) {
      const int flags = ::fcntl(fd, F_GETFD);
      if (flags >= 0 && (flags & FD_CLOEXEC) == 0) expected += std::to_string(fd) + "\n";
    }
    EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids")));  // starts the keeper
    const CliResult r = RunAs(dir, ProbeRun(kSystem, "fds"));
    EXPECT_RUN_OK(r);
    EXPECT_NE(dir.KeeperPid(), 0);
    EXPECT_EQ(r.out, expected);
  });
}

// The keeper is the only process a run leaves, and only one however many
// runs: as a subreaper the test inherits every orphan the runs leave (the
// keeper among them, which double-forks away from its starter).
TEST(RootlessFastPath, RunsLeaveNoProcessButTheKeeper) {
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    for (int i = 0; i < 3; ++i) EXPECT_RUN_OK(RunAs(dir, ProbeRun({}, "ids")));
    std::vector<pid_t> children;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      const auto close = text.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(text.substr(close + 2));
      std::string state;
      pid_t parent = 0;
      rest >> state >> parent;
      if (parent == ::getpid()) children.push_back(std::stoi(name));
    }
    EXPECT_EQ(children, std::vector<pid_t>{dir.KeeperPid()});
  });
}

// Debian's bwrap, unprivileged, against mntns's bwrap entry on the fast path:
// ids, maps, per-mount options and the owners and modes a user sees.
TEST(RootlessFastPath, MatchesBwrapForAnUnprivilegedCommandLine) {
  if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/bin/sh", X_OK) != 0) {
    GTEST_SKIP() << "bwrap (Debian's bubblewrap) or /bin/sh is not installed here";
  }
  AsUserWithRootSaved([](const RuntimeDirectory& dir) {
    const std::string link = dir.path + "/bwrap";
    ASSERT_EQ(::symlink(testing::CliPath().c_str(), link.c_str()), 0);
    const std::vector<std::string> options = {
        "--unshare-user", "--unshare-pid", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin", "--proc", "/proc",
        "--tmpfs", "/tmp", "--dir", "/data", "--uid", "1000", "--gid", "1000", "--", "/bin/sh", "-c",
        "id; cat /proc/self/uid_map /proc/self/gid_map; cut -d' ' -f5,6 /proc/self/mountinfo; "
        "stat -c '%a %u %g %n' / /usr /tmp /data /proc/1; touch /usr/x 2>/dev/null || echo ro"};
    std::vector<std::string> bwrap = {"/usr/bin/bwrap"};
    std::vector<std::string> ours = {link};
    bwrap.insert(bwrap.end(), options.begin(), options.end());
    ours.insert(ours.end(), options.begin(), options.end());
    testing::RunOptions run;
    run.environment = {"XDG_RUNTIME_DIR=" + dir.path};
    const CliResult theirs = testing::RunProgram(bwrap, run);
    const CliResult mine = testing::RunProgram(ours, run);
    ASSERT_EQ(theirs.exit_status, 0) << theirs.err;
    EXPECT_RUN_OK(mine);
    EXPECT_NE(dir.KeeperPid(), 0) << "the bwrap entry took the slow path";
    EXPECT_EQ(mine.out, theirs.out);
    EXPECT_EQ(mine.err, theirs.err);
  });
}

// What 7.x allows an unprivileged process after unshare(CLONE_NEWUSER) alone
// (docs/run.md, "Unprivileged runs"): a recursive OPEN_TREE_NAMESPACE copy of
// a directory of the caller's namespace (owned by the initial user
// namespace), which costs O(the tree), not O(the caller's table); inside that
// new namespace, owned by the new user namespace, OPEN_TREE_CLONE of "/" then
// gives a detached tree to bind elsewhere. Skipped where the kernel lacks the flag.
TEST(RootlessFastPath, OnSevenOpenTreeNamespaceAfterUnshareUserCopiesABindSource) {
  if (!KernelFeatures().open_tree_namespace) GTEST_SKIP() << "no OPEN_TREE_NAMESPACE (7.0) on this kernel";
  testing::AsUnprivilegedUser([] {}, [] {
    ASSERT_EQ(::unshare(CLONE_NEWUSER), 0) << std::strerror(errno);
    const int ns = static_cast<int>(
        ::syscall(SYS_open_tree, AT_FDCWD, "/usr", OPEN_TREE_NAMESPACE | AT_RECURSIVE | OPEN_TREE_CLOEXEC));
    ASSERT_GE(ns, 0) << "open_tree(\"/usr\", OPEN_TREE_NAMESPACE | AT_RECURSIVE): " << std::strerror(errno);
    const int plain = static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_NAMESPACE | OPEN_TREE_CLOEXEC));
    EXPECT_LT(plain, 0) << "a non-recursive copy of \"/\" would show what its child mounts cover";
    if (plain >= 0) ::close(plain);
    ASSERT_EQ(::setns(ns, CLONE_NEWNS), 0) << std::strerror(errno);
    ::close(ns);
    const int tree = static_cast<int>(
        ::syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC));
    EXPECT_GE(tree, 0) << "open_tree(\"/\", OPEN_TREE_CLONE) inside: " << std::strerror(errno);
    if (tree >= 0) ::close(tree);
  });
}

}  // namespace
}  // namespace mntns
