// `mntns run` as a command line: where CMD starts, --help, usage errors, and
// what mntns does with the signals that would end it. Part of the run suite:
// the probe (`--probe WHAT`, tests/ns/run_test.cc) is this binary.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "run_spec.h"
#include "support/cli_runner.h"
#include "support/namespace.h"
#include "support/probe.h"

namespace mntns {
namespace {

using testing::CliResult;
using testing::InPrivateMountNamespace;
using testing::RunCli;

// A command that cannot exist in the sandbox: mntns exits 127 naming it once
// it parsed the command line and set the sandbox up.
constexpr const char* kMissingCommand = "/nonexistent-mntns/cmd";

using testing::ProbeBinds;

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::size_t Count(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

#define EXPECT_RAN_MISSING_COMMAND(result)                                                          \
  do {                                                                                             \
    EXPECT_EQ((result).exit_status, 127) << (result).err;                                          \
    EXPECT_NE((result).err.find(std::string("execvp \"") + kMissingCommand + "\" inside the sandbox"), \
              std::string::npos)                                                                   \
        << (result).err;                                                                           \
  } while (0)

// ---- where CMD starts -----------------------------------------------------------

TEST(MntnsRunCommandLine, ACommandAfterALoneDoubleDashIsRun) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli({"run", "--", kMissingCommand});
    EXPECT_RAN_MISSING_COMMAND(r);
  });
}

// CLI11 handed the "--" after flag-only options back to `mntns`, which then
// refused CMD as an unexpected argument.
TEST(MntnsRunCommandLine, ACommandAfterFlagsAndADoubleDashIsRun) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli({"run", "--unshare-pid", "--unshare-ipc", "--", kMissingCommand, "arg"});
    EXPECT_RAN_MISSING_COMMAND(r);
  });
}

TEST(MntnsRunCommandLine, ACommandAfterFlagsWithoutADoubleDashIsRun) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli({"run", "--unshare-pid", kMissingCommand, "--help"});
    EXPECT_RAN_MISSING_COMMAND(r);
  });
}

TEST(MntnsRunCommandLine, ACommandAfterOptionsWithValuesAndADoubleDashIsRun) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli(Concat(Concat({"run"}, ProbeBinds()), {"--", "/probe", "--probe", "exit", "7"}));
    EXPECT_EQ(r.exit_status, 7) << r.err;
  });
}

TEST(MntnsRunCommandLine, ACommandNamedLikeAnMntnsCommandIsTheCommand) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli({"run", "--unshare-pid", "ls", "-l"});
    EXPECT_EQ(r.exit_status, 127) << r.err;
    EXPECT_NE(r.err.find("execvp \"ls\""), std::string::npos) << r.err;
  });
}

// ---- help and usage errors ---------------------------------------------------------

TEST(MntnsRunHelp, HasOneUsageLineThatSaysWhereCmdStarts) {
  const CliResult r = RunCli({"run", "--help"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(Count(r.out, "Usage:"), 1U) << r.out;
  EXPECT_NE(r.out.find("Usage: mntns run [OPTION...] [--] CMD [ARG...]"), std::string::npos) << r.out;
}

TEST(MntnsRunUsage, ABadStrategyNamesTheOptionAndTheErrnoOnce) {
  const CliResult r = RunCli({"run", "--strategy", "bogus", "--", kMissingCommand});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_NE(r.err.find("--strategy \"bogus\""), std::string::npos) << r.err;
  EXPECT_EQ(Count(r.err, "(EINVAL)"), 1U) << r.err;
}

TEST(MntnsRunHelp, ListsEveryOptionOfTheTable) {
  const CliResult r = RunCli({"run", "--help"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  for (const cli::RunOption& option : cli::RunOptions()) {
    // The name, then its values or (past the column) the description's line.
    const bool listed = r.out.find("\n  " + std::string(option.name) + " ") != std::string::npos ||
                        r.out.find("\n  " + std::string(option.name) + "\n") != std::string::npos;
    EXPECT_TRUE(listed) << option.name;
  }
}

TEST(MntnsRunUsage, RangeErrorsOfIdsAreUsageErrors) {
  for (const char* option : {"--uid", "--gid"}) {
    const CliResult r = RunCli({"run", "--unshare-user", option, "4294967296", "--", kMissingCommand});
    EXPECT_EQ(r.exit_status, 2) << r.err;
    EXPECT_NE(r.err.find(std::string(option) + " 4294967296: out of range"), std::string::npos) << r.err;
  }
  const std::string spec = testing::TempDir() + "/gid.json";
  std::ofstream(spec) << R"({"unshare": ["user"], "gid": 4294967296})";
  const CliResult r = RunCli({"run", "--json-spec", spec, "--", kMissingCommand});
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_NE(r.err.find("gid: must be an integer from 0 to 4294967294, not 4294967296"), std::string::npos) << r.err;
}

// `--root ''` ran CMD on an empty tmpfs root, as if no --root had been given.
TEST(MntnsRunUsage, AnEmptyRootIsAUsageError) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli({"run", "--root", "", "--", kMissingCommand});
    EXPECT_EQ(r.exit_status, 2) << r.err;
    EXPECT_NE(r.err.find("--root \"\": the path is empty"), std::string::npos) << r.err;
  });
}

// sethostname(2) refused it only once the sandbox was set up: exit 1, not a usage error.
TEST(MntnsRunUsage, AHostnameLongerThan64BytesIsAUsageError) {
  InPrivateMountNamespace([] {
    const CliResult r =
        RunCli({"run", "--unshare-uts", "--hostname", std::string(65, 'h'), "--", kMissingCommand});
    EXPECT_EQ(r.exit_status, 2) << r.err;
    EXPECT_NE(r.err.find("--hostname"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("longer than 64 bytes"), std::string::npos) << r.err;
  });
}

// Each of these ran a sandbox (without the isolation meant), hung, or grew
// without bound; now each is a usage error, named, before anything starts.
TEST(MntnsRunUsage, HostileJsonSpecsAreUsageErrors) {
  const std::string dir = testing::TempDir();
  const std::map<std::string, std::string> specs = {
      {"unknown-key.json", R"({"unshar": ["net"], "command": ["/nonexistent-mntns/cmd"]})"},
      {"perms-number.json", R"({"mounts": [{"type": "tmpfs", "dest": "/t", "perms": 1777}]})"},
      {"uid-float.json", R"({"unshare": ["user"], "uid": 1e30})"},
      {"nul.json", R"({"mounts": [{"type": "tmpfs", "dest": "/a\u0000b"}]})"},
      {"deep.json", std::string(100000, '[')},
  };
  for (const auto& [name, text] : specs) {
    std::ofstream(dir + "/" + name) << text;
    const CliResult r = RunCli({"run", "--json-spec", dir + "/" + name, "--", kMissingCommand});
    EXPECT_EQ(r.exit_status, 2) << name << ": " << r.err;
    EXPECT_EQ(Count(r.err, "\n"), 1U) << name << ": " << r.err;
    EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << name << ": " << r.err;
  }
  for (const std::string& path : {dir, std::string("/dev/zero")}) {
    const CliResult r = RunCli({"run", "--json-spec", path, "--", kMissingCommand});
    EXPECT_EQ(r.exit_status, 2) << path << ": " << r.err;
    EXPECT_NE(r.err.find("--json-spec \"" + path + "\""), std::string::npos) << r.err;
  }
}

// ---- signals ------------------------------------------------------------------------

// A started `mntns run`: its pid and the read end of the probe's stdout.
struct Running {
  pid_t pid = -1;
  int out = -1;
};

Running StartMntns(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = Concat({testing::CliPath()}, args);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    // SIGQUIT's default action dumps core; a probe that gets it should not.
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    for (const std::string& entry : env) ::putenv(const_cast<char*>(entry.c_str()));
    std::vector<char*> pointers;
    for (auto& a : argv) pointers.push_back(a.data());
    pointers.push_back(nullptr);
    ::execv(pointers[0], pointers.data());
    ::_exit(127);
  }
  ::close(out[1]);
  return {pid, out[0]};
}

// Every process below `root` (from /proc/PID/stat's ppid field).
std::vector<pid_t> Descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    children.emplace(ppid, std::stoi(name));
  }
  std::vector<pid_t> found;
  std::vector<pid_t> queue = {root};
  while (!queue.empty()) {
    const pid_t parent = queue.back();
    queue.pop_back();
    for (auto [it, end] = children.equal_range(parent); it != end; ++it) {
      found.push_back(it->second);
      queue.push_back(it->second);
    }
  }
  return found;
}

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// Runs the probe waiting for a signal, sends `sig` to mntns once the probe is
// ready, and checks that mntns ends with 128+sig and that no process of the
// sandbox outlives it.
void ExpectSignalEndsTheSandbox(const std::vector<std::string>& extra, int sig) {
  const Running mntns =
      StartMntns(Concat(Concat(Concat({"run"}, ProbeBinds()), extra), {"--", "/probe", "--probe", "wait-for-signal"}));
  ASSERT_GT(mntns.pid, 0);
  char buffer[16] = {};
  const ssize_t n = ::read(mntns.out, buffer, sizeof buffer - 1);
  ::close(mntns.out);
  ASSERT_EQ(std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0), "ready\n");
  const std::vector<pid_t> sandbox = Descendants(mntns.pid);
  EXPECT_FALSE(sandbox.empty());
  ::kill(mntns.pid, sig);
  int status = 0;
  ::waitpid(mntns.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + sig)
      << "mntns " << (WIFEXITED(status) ? "exited " : "was killed by signal ")
      << (WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  for (const pid_t pid : sandbox) {
    EXPECT_FALSE(Alive(pid)) << "sandbox process " << pid << " outlived mntns (" << strsignal(sig) << ")";
    if (Alive(pid)) ::kill(pid, SIGKILL);
  }
}

// SIGHUP (the terminal went away) ended mntns alone: CMD ran on, orphaned.
TEST(MntnsRunSignals, SighupToMntnsEndsTheCommandToo) {
  InPrivateMountNamespace([] {
    ExpectSignalEndsTheSandbox({}, SIGHUP);
    ExpectSignalEndsTheSandbox({"--unshare-pid"}, SIGHUP);
  });
}

TEST(MntnsRunSignals, SigquitToMntnsEndsTheCommandToo) {
  InPrivateMountNamespace([] {
    ExpectSignalEndsTheSandbox({}, SIGQUIT);
    ExpectSignalEndsTheSandbox({"--unshare-pid"}, SIGQUIT);
  });
}

// The signal mask in /proc/PID/status, or 0 if it cannot be read.
unsigned long long BlockedSignals(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("SigBlk:")) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

// Whether /proc/locks shows `pid` waiting for a lock ("N: -> FLOCK ... PID ...").
bool WaitsForALock(pid_t pid) {
  std::ifstream locks("/proc/locks");
  for (std::string line; std::getline(locks, line);) {
    std::istringstream fields(line);
    std::string number, arrow, type, mode, access, owner;
    fields >> number >> arrow >> type >> mode >> access >> owner;
    if (arrow == "->" && owner == std::to_string(pid)) return true;
  }
  return false;
}

// Sharing the template can wait on the keeper's lock as long as another
// mntns holds it; Ctrl-C must end mntns there, so nothing is blocked yet.
TEST(MntnsRunSignals, NothingIsBlockedWhileWaitingForTheTemplateKeeper) {
  InPrivateMountNamespace([] {
    // A private, empty /run/mntns: the lock the test holds is no other run's.
    ASSERT_TRUE(testing::MountTmpfs("/run/mntns", "mode=0700"));
    struct stat user_ns {};
    ASSERT_EQ(::stat("/proc/self/ns/user", &user_ns), 0);
    const std::string lock_path = "/run/mntns/template-" + std::to_string(user_ns.st_ino) + ".lock";
    const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(lock, 0) << std::strerror(errno);
    ASSERT_EQ(::flock(lock, LOCK_EX), 0);
    const Running mntns = StartMntns(
        Concat(Concat({"run", "--strategy", "template"}, ProbeBinds()), {"--", "/probe", "--probe", "exit", "0"}),
        {"MNTNS_TEMPLATE_IDLE=1"});
    ASSERT_GT(mntns.pid, 0);
    ::close(mntns.out);
    int status = 0;
    bool waiting = false;
    while (!(waiting = WaitsForALock(mntns.pid)) && ::waitpid(mntns.pid, &status, WNOHANG) == 0) ::usleep(1000);
    if (!waiting) {
      ::close(lock);
      GTEST_SKIP() << "mntns run did not wait for " << lock_path << " (the keeper's lock is elsewhere)";
    }
    const unsigned long long blocked = BlockedSignals(mntns.pid);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
      EXPECT_EQ(blocked & (1ULL << (sig - 1)), 0U) << strsignal(sig) << " is blocked while mntns waits";
    }
    ::kill(mntns.pid, (blocked & (1ULL << (SIGINT - 1))) != 0 ? SIGKILL : SIGINT);
    ::waitpid(mntns.pid, &status, 0);
    ::close(lock);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
  });
}

}  // namespace
}  // namespace mntns
