// mntns's bwrap entry point (mntns run as `bwrap`) against Debian's bwrap
// 0.8.0: the same command line under both, compared as a user or a script
// sees it (stdout, exit status, the words scripts match). Each runs through
// /bin/sh so that fds (--file 3, --info-fd 4) are set up the same way;
// "$BWRAP" is the bwrap under test. Options newer than 0.8 are checked
// against what bwrap 0.13 documents, stated in the test. Skipped where bwrap
// or /bin/sh is missing (the 7.x VM packs neither).
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/namespace.h"
#include "support/probe.h"

namespace mntns {
namespace {

using testing::CliResult;
using testing::RunProgram;

bool HaveBwrapAndShell() { return ::access("/usr/bin/bwrap", X_OK) == 0 && ::access("/bin/sh", X_OK) == 0; }

// The entry point the build makes: bin/bwrap/bwrap -> mntns-bwrap -> ../mntns.
std::string OurBwrap() {
  const std::string cli = testing::CliPath();
  return cli.substr(0, cli.rfind('/')) + "/bwrap/bwrap";
}

// One scratch directory per test process ($TESTDIR in the scripts).
const std::string& Scratch() {
  static const std::string dir = testing::TempDir();
  return dir;
}

CliResult RunScript(const std::string& bwrap, const std::string& script) {
  testing::RunOptions options;
  options.environment = {"BWRAP=" + bwrap, "TESTDIR=" + Scratch()};
  return RunProgram({"/bin/sh", "-c", script}, options);
}

// The script under Debian's bwrap, then under ours.
std::pair<CliResult, CliResult> UnderBoth(const std::string& script) {
  return {RunScript("/usr/bin/bwrap", script), RunScript(OurBwrap(), script)};
}

#define SKIP_WITHOUT_BWRAP() \
  if (!HaveBwrapAndShell()) GTEST_SKIP() << "bwrap (Debian's bubblewrap) or /bin/sh is not installed here"

// The same stdout and status under both; with `expected`, that stdout too
// (so that two runs that both failed early cannot pass for a match).
void ExpectSame(const std::string& script, const std::optional<std::string>& expected = std::nullopt) {
  auto [bwrap, ours] = UnderBoth(script);
  EXPECT_EQ(ours.exit_status, bwrap.exit_status) << script << "\nbwrap: " << bwrap.err << "\nours: " << ours.err;
  EXPECT_EQ(ours.out, bwrap.out) << script << "\nours: " << ours.err;
  if (expected) {
    EXPECT_EQ(ours.out, *expected) << script << "\nours: " << ours.err;
  }
}

void WriteFile(const std::string& path, const std::string& data) { std::ofstream(path, std::ios::binary) << data; }

TEST(BwrapEntry, HostRootOverTheTmpfsRootWithATmpfsOnTmp) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --bind / / --tmpfs /tmp /bin/sh -c 'ls -A /tmp | wc -l; test -x /usr/bin/env && echo usr; "
               "grep -c \" / / \" /proc/self/mountinfo'",
               "0\nusr\n1\n");
  });
}

TEST(BwrapEntry, ProcWithoutAPidNamespaceShowsTheCallersProcesses) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --unshare-user --ro-bind / / --proc /proc /bin/sh -c "
               "'test -d /proc/$PPID && echo sees-parent; test -r /proc/self/status && echo ok'",
               "sees-parent\nok\n");
  });
}

// bwrap 0.10+ (0.8 fails both): a --symlink whose DEST already is a link to
// the same TARGET succeeds; another TARGET fails with "Can't make symlink at
// DEST: existing destination is TARGET".
TEST(BwrapEntry, SymlinkTwiceWithTheSameTargetIsFineAnotherTargetFails) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    const CliResult same =
        RunScript(OurBwrap(), "$BWRAP --ro-bind / / --tmpfs /tmp --symlink a /tmp/l --symlink a /tmp/l readlink /tmp/l");
    EXPECT_EQ(same.exit_status, 0) << same.err;
    EXPECT_EQ(same.out, "a\n");
    auto [bwrap, ours] = UnderBoth("$BWRAP --ro-bind / / --tmpfs /tmp --symlink a /tmp/l --symlink b /tmp/l true");
    EXPECT_EQ(ours.exit_status, 1);
    EXPECT_EQ(ours.exit_status, bwrap.exit_status);
    EXPECT_NE(ours.err.find("bwrap: Can't make symlink at /tmp/l: existing destination is a"), std::string::npos)
        << ours.err;
  });
}

TEST(BwrapEntry, PermsApplyToTheNextOptionOnly) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --ro-bind / / --tmpfs /tmp --perms 700 --dir /tmp/a --dir /tmp/b --perms 1777 --tmpfs /tmp/c "
               "stat -c '%a %n' /tmp/a /tmp/b /tmp/c",
               "700 /tmp/a\n755 /tmp/b\n1777 /tmp/c\n");
  });
}

TEST(BwrapEntry, PermsBeforeAnOptionThatMakesNoFileIsAnError) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --perms 700 --ro-bind / / echo ran", "");
    ExpectSame("$BWRAP --ro-bind / / --size 4096 --dir /tmp echo ran", "");
    ExpectSame("$BWRAP --ro-bind / / --size 4096 --tmpfs /tmp echo ran", "ran\n");
  });
}

TEST(BwrapEntry, ChmodChangesAnExistingPathInside) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --ro-bind / / --tmpfs /tmp --dir /tmp/x --chmod 711 /tmp/x stat -c %a /tmp/x", "711\n");
    ExpectSame("$BWRAP --ro-bind / / --tmpfs /tmp --chmod 711 /tmp/missing echo ran", "");
  });
}

TEST(BwrapEntry, FileAndDataBindsHoldTheFdsDataWithBwrapsModes) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    WriteFile(Scratch() + "/data", "payload\n");
    ExpectSame("$BWRAP --ro-bind / / --tmpfs /tmp --file 3 /tmp/f --bind-data 4 /tmp/g --ro-bind-data 5 /tmp/h "
               "--perms 640 --file 6 /tmp/p /bin/sh -c 'cat /tmp/f /tmp/g /tmp/h; stat -c \"%a %s %n\" /tmp/f /tmp/g /tmp/h /tmp/p; "
               "echo x >> /tmp/g && echo g-writable; (echo x >> /tmp/h) 2>/dev/null || echo h-read-only' "
               "3<$TESTDIR/data 4<$TESTDIR/data 5<$TESTDIR/data 6<$TESTDIR/data",
               "payload\npayload\npayload\n666 8 /tmp/f\n600 8 /tmp/g\n600 8 /tmp/h\n640 8 /tmp/p\ng-writable\n"
               "h-read-only\n");
  });
}

TEST(BwrapEntry, BindFdBindsTheDirectoryTheFdIsOpenOn) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    WriteFile(Scratch() + "/in-dir", "x");
    ExpectSame("$BWRAP --ro-bind / / --tmpfs /tmp --bind-fd 3 /tmp/d --ro-bind-fd 4 /tmp/r /bin/sh -c "
               "'ls /tmp/d | grep -c in-dir; touch /tmp/r/new 2>/dev/null || echo read-only' 3<$TESTDIR 4<$TESTDIR",
               "1\nread-only\n");
  });
}

TEST(BwrapEntry, ArgsFdInsertsNulSeparatedArguments) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    WriteFile(Scratch() + "/args", [] {
      const char args[] = "--ro-bind\0/\0/\0--setenv\0A\0from args\0";
      return std::string(args, sizeof args - 1);
    }());
    ExpectSame("$BWRAP --args 3 /bin/sh -c 'echo \"$A\"' 3<$TESTDIR/args", "from args\n");
  });
}

// bwrap 0.9+ (not in 0.8): --argv0 VALUE sets the argv[0] CMD sees.
TEST(BwrapEntry, Argv0IsWhatTheCommandSeesAsItsName) {
  if (::access("/bin/sh", X_OK) != 0) GTEST_SKIP() << "/bin/sh is not installed here";
  testing::InPrivateMountNamespace([] {
    const CliResult ours =
        RunScript(OurBwrap(), R"($BWRAP --ro-bind / / --argv0 renamed /bin/sh -c 'tr "\0" " " < /proc/$$/cmdline')");
    EXPECT_EQ(ours.exit_status, 0) << ours.err;
    EXPECT_EQ(ours.out.substr(0, 11), "renamed -c ") << ours.out;
  });
}

TEST(BwrapEntry, InfoFdAndJsonStatusFdReportTheSameKeys) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    // Numbers differ between runs: both reports are compared with digits masked.
    const std::string mask = " | sed 's/[0-9][0-9]*/N/g'";
    ExpectSame("$BWRAP --ro-bind / / --info-fd 3 true 3>$TESTDIR/i; cat $TESTDIR/i" + mask);
    ExpectSame("$BWRAP --unshare-all --share-net --ro-bind / / --info-fd 3 true 3>$TESTDIR/i; cat $TESTDIR/i" +
               mask);
    ExpectSame("$BWRAP --unshare-pid --ro-bind / / --json-status-fd 3 /bin/sh -c 'exit 3' 3>$TESTDIR/j; "
               "echo status $?; cat $TESTDIR/j" + mask);
  });
}

// flatpak reads --info-fd to its end while the sandbox runs: CMD must not hold it.
TEST(BwrapEntry, InfoFdEndsOnceWrittenWhileTheCommandRuns) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("rm -f $TESTDIR/p; mkfifo $TESTDIR/p; $BWRAP --ro-bind / / --info-fd 3 sleep 2.5 3>$TESTDIR/p & "
               "timeout 2 cat $TESTDIR/p >$TESTDIR/info; echo cat-status $?; grep -c child-pid $TESTDIR/info; "
               "wait",
               "cat-status 0\n1\n");
  });
}

TEST(BwrapEntry, JsonStatusHasNoExitCodeWhenTheCommandCouldNotRun) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    auto [bwrap, ours] =
        UnderBoth("$BWRAP --ro-bind / / --json-status-fd 3 /nonexistent 3>$TESTDIR/j; echo status $?; "
                  "grep -c exit-code $TESTDIR/j");
    EXPECT_EQ(ours.out, bwrap.out);
    EXPECT_EQ(ours.out, "status 1\n0\n");
    EXPECT_NE(ours.err.find("bwrap: execvp /nonexistent: No such file or directory"), std::string::npos) << ours.err;
  });
}

TEST(BwrapEntry, BlockFdHoldsTheCommandUntilDataArrives) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("rm -f $TESTDIR/f; mkfifo $TESTDIR/f; (sleep 0.3; echo go > $TESTDIR/f) & "
               "$BWRAP --ro-bind / / --block-fd 3 echo ran 3<$TESTDIR/f & sleep 0.1; echo first; wait",
               "first\nran\n");
  });
}

// With a pid namespace, pid 1 holds the lock: CMD gets no fd of the file.
TEST(BwrapEntry, LockFileHeldByPidOneIsNoFdOfTheCommand) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --ro-bind / / --tmpfs /tmp --file 4 /tmp/lock --unshare-pid --lock-file /tmp/lock "
               "sh -c 'for fd in /proc/self/fd/*; do readlink $fd; done | grep -c /tmp/lock' 4</dev/null",
               "0\n");
  });
}

TEST(BwrapEntry, SyncFdAndLockFileAreAccepted) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --ro-bind / / --tmpfs /tmp --file 4 /tmp/lock --sync-fd 3 --lock-file /tmp/lock echo ran "
               "3</dev/null 4</dev/null",
               "ran\n");
    // A missing lock file fails both; bwrap has started CMD by then (it
    // takes the lock afterwards), mntns fails before CMD runs.
    auto [bwrap, ours] = UnderBoth("$BWRAP --ro-bind / / --tmpfs /tmp --lock-file /tmp/missing echo ran");
    EXPECT_EQ(bwrap.exit_status, 1);
    EXPECT_EQ(ours.exit_status, 1);
    EXPECT_EQ(ours.out, "");
    EXPECT_NE(ours.err.find("bwrap: Unable to open lock file /tmp/missing: No such file or directory"),
              std::string::npos)
        << ours.err;
  });
}

TEST(BwrapEntry, NewSessionMakesTheCommandASessionLeader) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    const std::string check = "/bin/sh -c 'set -- $(cat /proc/$$/stat); [ \"$1\" = \"$6\" ] && echo leader || echo not'";
    ExpectSame("$BWRAP --ro-bind / / --new-session " + check, "leader\n");
    ExpectSame("setsid -w $BWRAP --ro-bind / / " + check + " 2>/dev/null || echo no-setsid");
  });
}

TEST(BwrapEntry, AsPid1RunsTheCommandAsPid1) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --unshare-pid --as-pid-1 --ro-bind / / --proc /proc /bin/sh -c 'echo $$'", "1\n");
    ExpectSame("$BWRAP --unshare-pid --ro-bind / / --proc /proc /bin/sh -c 'echo $$'", "2\n");
    ExpectSame("$BWRAP --as-pid-1 --ro-bind / / echo ran", "");
  });
}

TEST(BwrapEntry, CapabilitiesFollowBwrapsRules) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    for (const std::string options : {"", "--unshare-user", "--unshare-user --uid 1000", "--cap-drop ALL",
                                      "--cap-drop ALL --cap-add CAP_CHOWN", "--cap-drop cap_chown",
                                      "--unshare-user --uid 5 --cap-add CAP_SYS_ADMIN"}) {
      ExpectSame("$BWRAP --ro-bind / / " + options + " grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status");
    }
    ExpectSame("$BWRAP --ro-bind / / --cap-add CAP_NOPE true");
  });
}

// A program that makes uname(2) fail with EPERM and allows everything else.
std::string UnameRefused() {
  const sock_filter code[] = {
      {BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(seccomp_data, nr)},
      {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, SYS_uname},
      {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | 1},
      {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW},
  };
  return std::string(reinterpret_cast<const char*>(code), sizeof code);
}

TEST(BwrapEntry, SeccompProgramsFromFdsApplyToTheCommand) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    WriteFile(Scratch() + "/filter", UnameRefused());
    ExpectSame("$BWRAP --ro-bind / / --seccomp 3 uname -s 3<$TESTDIR/filter 2>/dev/null; echo $?", "1\n");
    ExpectSame("$BWRAP --ro-bind / / --add-seccomp-fd 3 --add-seccomp-fd 4 uname -s 3<$TESTDIR/filter "
               "4<$TESTDIR/filter 2>/dev/null; echo $?",
               "1\n");
    ExpectSame("$BWRAP --ro-bind / / --seccomp 3 --add-seccomp-fd 4 true 3<$TESTDIR/filter 4<$TESTDIR/filter; echo $?",
               "1\n");
    ExpectSame("$BWRAP --ro-bind / / uname -s", "Linux\n");
  });
}

TEST(BwrapEntry, DisableUsernsKeepsTheCommandFromMakingUserNamespaces) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --unshare-user --disable-userns --ro-bind / / unshare -U true 2>/dev/null; echo $?", "1\n");
    ExpectSame("$BWRAP --unshare-user --ro-bind / / unshare -U true; echo $?", "0\n");
    ExpectSame("$BWRAP --disable-userns --ro-bind / / true; echo $?", "1\n");
    ExpectSame("$BWRAP --unshare-user --disable-userns --assert-userns-disabled --ro-bind / / echo ran", "ran\n");
    ExpectSame("$BWRAP --unshare-user --assert-userns-disabled --ro-bind / / echo ran", "");
  });
}

TEST(BwrapEntry, CgroupAndNetOptionsMakeTheNamespacesAsked) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    const std::string check =
        " /bin/sh -c '[ $(readlink /proc/self/ns/cgroup) = '$(readlink /proc/self/ns/cgroup)' ] && echo cg-shared "
        "|| echo cg-new; [ $(readlink /proc/self/ns/net) = '$(readlink /proc/self/ns/net)' ] && echo net-shared || "
        "echo net-new'";
    for (const std::string options : {"--unshare-cgroup", "--unshare-cgroup-try", "--unshare-net",
                                      "--unshare-all --share-net", "--unshare-user-try"}) {
      ExpectSame("$BWRAP --ro-bind / / " + options + check);
    }
  });
}

TEST(BwrapEntry, UsageErrorsAreBwrapsWordsAndStatus) {
  SKIP_WITHOUT_BWRAP();
  for (const std::string args : {"--foo", "--bind /", "--ro-bind / / --uid 5 true", "--hostname x --ro-bind / / true",
                                 "--ro-bind / / --size 0 --tmpfs /tmp true",
                                 "", "--ro-bind / /"}) {
    auto [bwrap, ours] = UnderBoth("$BWRAP " + args);
    EXPECT_EQ(ours.exit_status, 1) << args;
    EXPECT_EQ(ours.exit_status, bwrap.exit_status) << args;
    EXPECT_EQ(ours.out, "") << args;
    // The first line: the message, or the usage line with the name it was invoked by.
    const auto first = [](const std::string& text, const std::string& name) {
      std::string line = text.substr(0, text.find('\n'));
      if (const auto at = line.find(name); at != std::string::npos) line.replace(at, name.size(), "BWRAP");
      return line;
    };
    EXPECT_EQ(first(ours.err, OurBwrap()), first(bwrap.err, "/usr/bin/bwrap")) << args;
  }
}

TEST(BwrapEntry, HelpAndVersionGoToStdoutWithStatusZero) {
  SKIP_WITHOUT_BWRAP();
  for (const std::string option : {"--help", "--version"}) {
    auto [bwrap, ours] = UnderBoth("$BWRAP " + option);
    EXPECT_EQ(ours.exit_status, 0);
    EXPECT_EQ(bwrap.exit_status, 0);
    EXPECT_EQ(ours.out.substr(0, 6), bwrap.out.substr(0, 6)) << ours.out;
  }
}

// bwrap 0.13 (NEWS): "Arguments that expect a path argument ... now reject
// empty strings", as "OPTION does not take an empty path argument".
TEST(BwrapEntry, EmptyPathArgumentsAreRejectedAsIn013) {
  if (::access("/bin/sh", X_OK) != 0) GTEST_SKIP() << "/bin/sh is not installed here";
  for (const std::string args : {"--bind '' /x true", "--tmpfs '' true", "--symlink a '' true"}) {
    const CliResult ours = RunScript(OurBwrap(), "$BWRAP " + args);
    EXPECT_EQ(ours.exit_status, 1) << args;
    EXPECT_NE(ours.err.find("does not take an empty path argument"), std::string::npos) << ours.err;
  }
}

// bwrap 0.11+: --level-prefix puts "<3>" before errors; 0.12+ accepts
// --not-a-security-boundary.
TEST(BwrapEntry, LevelPrefixAndNotASecurityBoundary) {
  if (::access("/bin/sh", X_OK) != 0) GTEST_SKIP() << "/bin/sh is not installed here";
  const CliResult prefixed = RunScript(OurBwrap(), "$BWRAP --level-prefix --ro-bind /nonexistent /x true");
  EXPECT_EQ(prefixed.exit_status, 1);
  EXPECT_EQ(prefixed.err.substr(0, 10), "<3>bwrap: ") << prefixed.err;
  EXPECT_NE(prefixed.err.find("Can't find source path /nonexistent"), std::string::npos) << prefixed.err;
  testing::InPrivateMountNamespace([] {
    const CliResult accepted = RunScript(OurBwrap(), "$BWRAP --not-a-security-boundary --ro-bind / / echo ran");
    EXPECT_EQ(accepted.exit_status, 0) << accepted.err;
    EXPECT_EQ(accepted.out, "ran\n");
  });
}

// ---- namespaces to join, SELinux labels, --remount-ro, overlay paths --------
// Each behaviour twice: as a shell command line under both bwraps (host), and
// as `mntns run` with the suite's probe (no shell: these also run in the 7.x VM).

// A process holding a namespace of its own until the test ends: a user
// namespace (its uid and gid 0 mapped to 0 by the test, which is root), or a
// pid namespace whose pid 1 is the holder's child.
class NamespaceHolder {
 public:
  // `deny_setgroups`: the user namespace is made as an unprivileged user's
  // (`unshare -U`: setgroups denied) with ids 0-1999 mapped; else 0 only.
  explicit NamespaceHolder(int flags, bool deny_setgroups = false) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::unshare(flags) != 0) ::_exit(1);
      if ((flags & CLONE_NEWPID) != 0 && ::fork() == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) ::pause();
      }
      static_cast<void>(::write(ready[1], "x", 1));
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char byte;
    const bool started = ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
    if (!started) return;
    if ((flags & CLONE_NEWUSER) != 0) {
      if (deny_setgroups) std::ofstream(fmt::format("/proc/{}/setgroups", pid_)) << "deny\n";
      for (const char* map : {"uid_map", "gid_map"}) {
        std::ofstream(fmt::format("/proc/{}/{}", pid_, map)) << (deny_setgroups ? "0 0 2000\n" : "0 0 1\n");
      }
    }
    ok_ = true;
  }
  ~NamespaceHolder() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  [[nodiscard]] bool ok() const { return ok_; }
  // /proc/PID/ns/NAME of the holder ("pid_for_children" for its pid namespace).
  [[nodiscard]] std::string Path(const std::string& name) const { return fmt::format("/proc/{}/ns/{}", pid_, name); }
  [[nodiscard]] std::string Id(const std::string& name) const {
    std::error_code ec;
    return std::filesystem::read_symlink(Path(name), ec).string();
  }

 private:
  pid_t pid_ = -1;
  bool ok_ = false;
};

// The fd of one of the holder's namespaces, not close-on-exec (RunCli's child inherits it).
int OpenNamespace(const NamespaceHolder& holder, const std::string& name) {
  return ::open(holder.Path(name).c_str(), O_RDONLY);
}

// mntns run PROBE-BINDS... EXTRA... -- /probe --probe WHAT [ARG]
CliResult RunProbe(const std::vector<std::string>& extra, const std::string& what, const std::string& arg = "",
                   int inherit_fd = -1) {
  std::vector<std::string> args = {"run"};
  const auto binds = testing::ProbeBinds();
  args.insert(args.end(), binds.begin(), binds.end());
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--", "/probe", "--probe", what});
  if (!arg.empty()) args.push_back(arg);
  return testing::RunCli(args, inherit_fd);
}

// The probe's `stat` of a symlink: "link 777\nTARGET\n".
std::string LinkTarget(const CliResult& stat) {
  const auto newline = stat.out.find('\n');
  if (newline == std::string::npos) return {};
  return stat.out.substr(newline + 1, stat.out.size() - newline - 2);
}

// bwrap-bind-mount.c's --remount-ro is not recursive (no BIND_RECURSIVE):
// DEST becomes ro,nosuid,nodev, the mounts below it keep their flags.
TEST(BwrapEntry, RemountRoMakesOnlyTheMountAtDestReadOnly) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    ExpectSame("$BWRAP --ro-bind / / --tmpfs /tmp --tmpfs /tmp/sub --dev-bind /dev/null /tmp/null --remount-ro /tmp "
               "/bin/sh -c 'touch /tmp/x 2>/dev/null || echo tmp-read-only; touch /tmp/sub/y && echo sub-writable; "
               "grep \" /tmp\" /proc/self/mountinfo | cut -d\" \" -f5,6 | sed s/,relatime//'",
               "tmp-read-only\nsub-writable\n/tmp ro,nosuid,nodev\n/tmp/sub rw,nosuid,nodev\n/tmp/null rw,nosuid\n");
  });
}

TEST(BwrapOptions, RemountRoLeavesTheMountsBelowDestWritable) {
  testing::InPrivateMountNamespace([] {
    const CliResult r = RunProbe({"--tmpfs", "/t", "--tmpfs", "/t/sub", "--remount-ro", "/t"}, "mounts");
    EXPECT_EQ(r.exit_status, 0) << r.err;
    EXPECT_NE(r.out.find("/t tmpfs ro,nodev\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/t/sub tmpfs rw,nodev\n"), std::string::npos) << r.out;
  });
}

// --pidns FD: the command is in that pid namespace (not its pid 1); with
// --unshare-pid it is pid 2 of a new one nested in it.
TEST(BwrapEntry, PidnsJoinsTheGivenPidNamespaceAndNestsWithUnsharePid) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    const NamespaceHolder holder(CLONE_NEWPID);
    ASSERT_TRUE(holder.ok());
    const std::string fd = " 3<" + holder.Path("pid_for_children");
    ExpectSame("$BWRAP --ro-bind / / --pidns 3 /bin/sh -c '[ $(readlink /proc/self/ns/pid) = " +
                   holder.Id("pid_for_children") + " ] && echo joined; [ $$ -gt 1 ] && echo not-pid-1'" + fd,
               "joined\nnot-pid-1\n");
    ExpectSame("$BWRAP --ro-bind / / --pidns 3 --unshare-pid --proc /proc /bin/sh -c 'echo $$; [ $(readlink "
               "/proc/self/ns/pid) != " + holder.Id("pid_for_children") + " ] && echo nested'" + fd,
               "2\nnested\n");
  });
}

TEST(BwrapOptions, PidnsPutsTheCommandInTheGivenPidNamespace) {
  testing::InPrivateMountNamespace([] {
    const NamespaceHolder holder(CLONE_NEWPID);
    ASSERT_TRUE(holder.ok());
    const int fd = OpenNamespace(holder, "pid_for_children");
    ASSERT_GE(fd, 0);
    const CliResult joined = RunProbe({"--pidns", std::to_string(fd), "--proc", "/proc"}, "stat",
                                      "/proc/self/ns/pid", fd);
    EXPECT_EQ(joined.exit_status, 0) << joined.err;
    EXPECT_EQ(LinkTarget(joined), holder.Id("pid_for_children")) << joined.out;
    const CliResult nested = RunProbe({"--pidns", std::to_string(fd), "--unshare-pid"}, "pid", "", fd);
    EXPECT_EQ(nested.out, "2 1\n") << nested.err;
    ::close(fd);
  });
}

// --userns FD: the sandbox is built in that user namespace (as bwrap: setns
// before anything is made), not in a new one; with --unshare-user it is an error.
TEST(BwrapEntry, UsernsBuildsTheSandboxInTheGivenUserNamespace) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    const NamespaceHolder holder(CLONE_NEWUSER);
    ASSERT_TRUE(holder.ok());
    const std::string fd = " 3<" + holder.Path("user");
    ExpectSame("$BWRAP --userns 3 --ro-bind / / --tmpfs /tmp /bin/sh -c '[ $(readlink /proc/self/ns/user) = " +
                   holder.Id("user") + " ] && echo joined; id -u; touch /tmp/x && echo writable'" + fd,
               "joined\n0\nwritable\n");
    for (const std::string other : {"--unshare-user", "--unshare-user-try"}) {
      auto [bwrap, ours] = UnderBoth("$BWRAP --userns 3 " + other + " --ro-bind / / true" + fd);
      EXPECT_EQ(ours.exit_status, 1);
      EXPECT_EQ(ours.exit_status, bwrap.exit_status);
      EXPECT_EQ(ours.err, bwrap.err);
    }
  });
}

// --userns FD --uid/--gid: bwrap switches ids with setuid/setgid alone, so
// they work in a namespace whose setgroups is denied (any unprivileged
// user's), and the supplementary groups stay.
TEST(BwrapEntry, UsernsWithUidAndGidSwitchesIdsWhereSetgroupsIsDenied) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    const NamespaceHolder holder(CLONE_NEWUSER, /*deny_setgroups=*/true);
    ASSERT_TRUE(holder.ok());
    const std::string fd = " 3<" + holder.Path("user");
    ExpectSame("$BWRAP --userns 3 --gid 1500 --ro-bind / / /bin/sh -c 'id -u; id -g'" + fd, "0\n1500\n");
    // With a non-zero --uid too, bwrap 0.8.0 fails (exit 1, nothing run)
    // and so do we: the uid switch leaves no capability for what follows.
    ExpectSame("$BWRAP --userns 3 --uid 1000 --gid 1500 --ro-bind / / /bin/sh -c 'id -u; id -g'" + fd, "");
  });
}

// A namespace fd that is closed or not a namespace: exit 1 under both, with
// one line naming the option, the fd and the errno; nothing runs, nothing
// stays. (bwrap 0.8.0 with a bad --userns2 exits 1 too, but leaves its
// sandbox process behind, waiting forever: that one runs under us alone.)
TEST(BwrapEntry, NamespaceFdsThatAreNoNamespaceFailBeforeAnythingRuns) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    for (const std::string option : {"--userns", "--userns2", "--pidns"}) {
      for (const auto& [fd, errno_name] :
           std::vector<std::pair<std::string, std::string>>{{"9 9<&-", "EBADF"}, {"3 3</dev/null", "EINVAL"}}) {
        const std::string script = "$BWRAP " + option + " " + fd + " --ro-bind / / echo ran";
        if (option != "--userns2") {
          const CliResult bwrap = RunScript("/usr/bin/bwrap", script);
          EXPECT_EQ(bwrap.exit_status, 1) << script << ": " << bwrap.err;
          EXPECT_EQ(bwrap.out, "") << script;
        }
        const CliResult ours = RunScript(OurBwrap(), script);
        EXPECT_EQ(ours.exit_status, 1) << script << ": " << ours.err;
        EXPECT_EQ(ours.out, "") << script;
        EXPECT_TRUE(ours.err.starts_with("bwrap: " + option)) << script << ": " << ours.err;
        EXPECT_NE(ours.err.find(fd.substr(0, 1)), std::string::npos) << script << ": " << ours.err;
        EXPECT_NE(ours.err.find("(" + errno_name + ")\n"), std::string::npos) << script << ": " << ours.err;
        EXPECT_EQ(std::count(ours.err.begin(), ours.err.end(), '\n'), 1) << ours.err;
      }
    }
  });
}

TEST(BwrapOptions, UsernsBuildsTheSandboxInTheGivenUserNamespace) {
  testing::InPrivateMountNamespace([] {
    const NamespaceHolder holder(CLONE_NEWUSER);
    ASSERT_TRUE(holder.ok());
    const int fd = OpenNamespace(holder, "user");
    ASSERT_GE(fd, 0);
    const CliResult r = RunProbe({"--userns", std::to_string(fd), "--proc", "/proc"}, "stat", "/proc/self/ns/user", fd);
    EXPECT_EQ(r.exit_status, 0) << r.err;
    EXPECT_EQ(LinkTarget(r), holder.Id("user")) << r.out;
    const CliResult refused = RunProbe({"--userns", std::to_string(fd), "--unshare-user"}, "exit", "0", fd);
    EXPECT_EQ(refused.exit_status, 2);
    EXPECT_NE(refused.err.find("--userns and --unshare-user cannot be combined"), std::string::npos) << refused.err;
    ::close(fd);
  });
}

// --userns2 FD: the setup is done where mntns runs, then the command joins FD's namespace.
TEST(BwrapEntry, Userns2IsJoinedAfterTheSetup) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    const NamespaceHolder holder(CLONE_NEWUSER);
    ASSERT_TRUE(holder.ok());
    ExpectSame("$BWRAP --ro-bind / / --tmpfs /tmp --userns2 3 /bin/sh -c '[ $(readlink /proc/self/ns/user) = " +
                   holder.Id("user") + " ] && echo joined; cat /proc/self/uid_map | tr -s \" \"' 3<" +
                   holder.Path("user"),
               "joined\n 0 0 1\n");
  });
}

TEST(BwrapOptions, Userns2IsJoinedAfterTheSetup) {
  testing::InPrivateMountNamespace([] {
    const NamespaceHolder holder(CLONE_NEWUSER);
    ASSERT_TRUE(holder.ok());
    const int fd = OpenNamespace(holder, "user");
    ASSERT_GE(fd, 0);
    const CliResult r = RunProbe({"--userns2", std::to_string(fd), "--proc", "/proc"}, "stat", "/proc/self/ns/user", fd);
    EXPECT_EQ(r.exit_status, 0) << r.err;
    EXPECT_EQ(LinkTarget(r), holder.Id("user")) << r.out;
    ::close(fd);
  });
}

// --userns-block-fd: the sandbox's user namespace has no maps until the
// caller writes them, at /proc/CHILD-PID/ (from --info-fd), while it waits.
TEST(BwrapEntry, UsernsBlockFdLetsTheCallerWriteTheIdMaps) {
  SKIP_WITHOUT_BWRAP();
  testing::InPrivateMountNamespace([] {
    // The info is read up to its closing brace, not to EOF (the shell may
    // hold the FIFO while bwrap runs) nor less (bwrap writes it in pieces: a
    // reader gone early would end bwrap with SIGPIPE).
    ExpectSame("T=$(mktemp -d); mkfifo $T/info $T/block; "
               "( pid=$(sed -n -e 's/.*\"child-pid\": \\([0-9]*\\).*/\\1/p' -e '/^}/q' < $T/info); "
               "echo '1000 0 1' > /proc/$pid/uid_map; echo '2000 0 1' > /proc/$pid/gid_map; echo go > $T/block ) & "
               "$BWRAP --unshare-user --userns-block-fd 4 --info-fd 3 --ro-bind / / /bin/sh -c 'id -u; id -g; "
               "cat /proc/self/uid_map | tr -s \" \"' 3>$T/info 4<>$T/block; echo status $?; wait; rm -r $T",
               "1000\n2000\n 1000 0 1\nstatus 0\n");
    for (const std::string args : {"--userns-block-fd 4 --info-fd 3 --ro-bind / / true 3>/dev/null 4</dev/null",
                                   "--unshare-user --userns-block-fd 4 --ro-bind / / true 4</dev/null"}) {
      auto [bwrap, ours] = UnderBoth("$BWRAP " + args);
      EXPECT_EQ(ours.exit_status, 1) << args;
      EXPECT_EQ(ours.exit_status, bwrap.exit_status) << args;
      EXPECT_EQ(ours.err, bwrap.err) << args;
    }
  });
}

// Unprivileged, the namespace comes first and the setup runs with the maps
// the caller wrote (its own ids only, after setgroups "deny").
TEST(BwrapEntry, UsernsBlockFdUnprivilegedTheCallerMapsItsOwnIds) {
  SKIP_WITHOUT_BWRAP();
  // Scratch() (made as root) is only named in the scripts' environment.
  testing::AsUnprivilegedUser([] { static_cast<void>(Scratch()); }, [] {
    ExpectSame("T=$(mktemp -d); mkfifo $T/info $T/block; "
               "( pid=$(sed -n -e 's/.*\"child-pid\": \\([0-9]*\\).*/\\1/p' -e '/^}/q' < $T/info); "
               "echo deny > /proc/$pid/setgroups; echo \"0 $(id -u) 1\" > /proc/$pid/uid_map; "
               "echo \"0 $(id -g) 1\" > /proc/$pid/gid_map; echo go > $T/block ) & "
               "$BWRAP --unshare-user --userns-block-fd 4 --info-fd 3 --ro-bind / / /bin/sh -c 'id -u; "
               "cat /proc/self/uid_map | tr -s \" \"' 3>$T/info 4<>$T/block; echo status $?; wait; rm -r $T",
               "0\n 0 65534 1\nstatus 0\n");
  });
}

TEST(BwrapOptions, UsernsBlockFdLetsTheCallerWriteTheIdMaps) {
  testing::InPrivateMountNamespace([] {
    int info[2];
    int block[2];
    ASSERT_EQ(::pipe2(info, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(block, O_CLOEXEC), 0);
    ASSERT_EQ(::fcntl(info[1], F_SETFD, 0), 0);  // the CLI's ends are inherited by number
    std::string written;
    std::thread caller([&] {
      std::string report;
      char buffer[4096];
      // The report comes in one write; this copy of the write end keeps EOF away.
      while (report.find('}') == std::string::npos) {
        const ssize_t n = ::read(info[0], buffer, sizeof buffer);
        if (n <= 0) break;
        report.append(buffer, static_cast<std::size_t>(n));
      }
      const auto at = report.find("\"child-pid\": ");
      if (at != std::string::npos) {
        const int pid = std::atoi(report.c_str() + at + 13);
        std::ofstream(fmt::format("/proc/{}/uid_map", pid)) << "1000 0 1\n";
        std::ofstream(fmt::format("/proc/{}/gid_map", pid)) << "2000 0 1\n";
        written = report;
      }
      static_cast<void>(::write(block[1], "x", 1));
    });
    const CliResult r = RunProbe({"--unshare-user", "--info-fd", std::to_string(info[1]), "--userns-block-fd",
                                  std::to_string(block[0])},
                                 "ids", "", block[0]);
    caller.join();
    EXPECT_EQ(r.exit_status, 0) << r.err;
    EXPECT_NE(written.find("child-pid"), std::string::npos);
    EXPECT_EQ(r.out.substr(0, 10), "1000 2000 ") << r.out;
    for (int fd : {info[0], info[1], block[0], block[1]}) ::close(fd);
  });
}

bool SelinuxEnabled() {
  struct statfs fs {};
  return ::statfs("/sys/fs/selinux", &fs) == 0 && static_cast<unsigned long>(fs.f_type) == SELINUX_MAGIC;
}

// Where SELinux is not enabled, both refuse a label at once with bwrap's
// words. (Where it is, the label goes to /proc/thread-self/attr/exec and the
// context= mount option: not tested on these hosts, which have no SELinux.)
TEST(BwrapEntry, SelinuxLabelsAreRefusedWhereSelinuxIsNotEnabled) {
  SKIP_WITHOUT_BWRAP();
  if (SelinuxEnabled()) GTEST_SKIP() << "SELinux is enabled here";
  for (const std::string option : {"--exec-label", "--file-label"}) {
    auto [bwrap, ours] = UnderBoth("$BWRAP " + option + " system_u:system_r:svirt_t:s0 --ro-bind / / echo ran");
    EXPECT_EQ(ours.exit_status, 1) << option;
    EXPECT_EQ(ours.exit_status, bwrap.exit_status) << option;
    EXPECT_EQ(ours.out, "");
    EXPECT_EQ(ours.err, "bwrap: labeling not supported on this system\n") << option;
    EXPECT_EQ(ours.err, bwrap.err) << option;
  }
}

TEST(BwrapOptions, SelinuxLabelsAreRefusedWhereSelinuxIsNotEnabled) {
  if (SelinuxEnabled()) GTEST_SKIP() << "SELinux is enabled here";
  for (const std::string option : {"--exec-label", "--file-label"}) {
    const CliResult r = RunProbe({option, "system_u:system_r:svirt_t:s0"}, "exit", "0");
    EXPECT_EQ(r.exit_status, 2) << option;
    EXPECT_NE(r.err.find(option), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("labeling not supported on this system"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("(EOPNOTSUPP)"), std::string::npos) << r.err;  // ENOTSUP, as glibc names it
  }
}

// bwrap 0.13 (bwrap.xml, --overlay-src): paths with ',' ':' '\\' are
// escaped for overlayfs, so such directories work as layers, upper and work
// directories (0.8 has no overlays: checked against the kernel's mount here).
TEST(BwrapOptions, OverlayPathsMayHoldCommasColonsAndBackslashes) {
  testing::InPrivateMountNamespace([] {
    const std::string dir = Scratch() + "/overlay";
    const std::string lower = dir + "/lo,w:er\\1";
    const std::string lower2 = dir + "/lo:2";
    const std::string upper = dir + "/up,p:er\\";
    const std::string work = dir + "/wo:rk,\\";
    for (const std::string& d : {lower, lower2, upper, work}) std::filesystem::create_directories(d);
    WriteFile(lower + "/a", "from-lower\n");
    const CliResult read = RunProbe({"--overlay-src", lower, "--overlay-src", lower2, "--overlay", upper, work, "/o"},
                                    "cat", "/o/a");
    EXPECT_EQ(read.exit_status, 0) << read.err;
    EXPECT_EQ(read.out, "from-lower\n");
    const CliResult wrote = RunProbe({"--overlay-src", lower, "--overlay", upper, work, "/o"}, "write", "/o/new");
    EXPECT_EQ(wrote.out, "ok\n") << wrote.err;
    EXPECT_TRUE(std::filesystem::exists(upper + "/new")) << "the write went to the upper directory";
    const CliResult ro = RunProbe({"--overlay-src", lower, "--overlay-src", lower2, "--ro-overlay", "/o"}, "cat", "/o/a");
    EXPECT_EQ(ro.out, "from-lower\n") << ro.err;
  });
}

}  // namespace
}  // namespace mntns
