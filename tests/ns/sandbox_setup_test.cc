// MNTNS_SANDBOX_SETUP, the way StartSandbox's fresh exec finds its setup: any
// program that links libmntns honours it before main(), so it must not be a
// way for someone else's environment and fds to make the program run commands.
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/cli_runner.h"

namespace mntns {
namespace {

constexpr unsigned kAllSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
constexpr uid_t kNobody = 65534;

struct Started {
  int exit_status = -1;
  std::string out;
  std::string err;
  std::string report;  // what came through the setup channel (fd 11)
};

// Runs `mntns --version` with MNTNS_SANDBOX_SETUP="10 11", `handoff` as fd 10
// and a pipe as fd 11, as root or (with `as_nobody`) as uid/gid 65534.
Started RunWithSetupVariable(int handoff, bool as_nobody, const std::string& value = "10 11") {
  int out[2];
  int err[2];
  int channel[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(channel, O_CLOEXEC), 0);
  const std::string cli = testing::CliPath();
  const std::string variable = "MNTNS_SANDBOX_SETUP=" + value;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    // Move both out of the way first: the caller may already hold fds 10 and
    // 11 (a CI runner that leaks a few fds shifts every number), and dup2 onto
    // 10 must not close the pipe that is about to become 11.
    const int high_handoff = handoff >= 0 ? ::fcntl(handoff, F_DUPFD, 100) : -1;
    const int high_channel = ::fcntl(channel[1], F_DUPFD, 100);
    if (high_handoff >= 0) ::dup2(high_handoff, 10);
    ::dup2(high_channel, 11);
    if (as_nobody && (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
                      ::setresuid(kNobody, kNobody, kNobody) != 0)) {
      ::_exit(120);
    }
    char* argv[] = {const_cast<char*>(cli.c_str()), const_cast<char*>("--version"), nullptr};
    char* envp[] = {const_cast<char*>(variable.c_str()), nullptr};
    ::execve(argv[0], argv, envp);
    ::_exit(121);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(channel[1]);
  Started started;
  for (auto [fd, text] : {std::pair{out[0], &started.out}, std::pair{err[0], &started.err}}) {
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text->append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  started.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  char buffer[4096];
  for (ssize_t n; (n = ::read(channel[0], buffer, sizeof buffer)) > 0;) {
    started.report.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(channel[0]);
  return started;
}

// A memfd holding `bytes`, sealed with `seals`.
int MemoryFile(const std::string& bytes, unsigned seals) {
  const int fd = ::memfd_create("test-handoff", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  if (seals != 0) {
    EXPECT_EQ(::fcntl(fd, F_ADD_SEALS, seals), 0);
  }
  return fd;
}

TEST(SandboxSetupVariable, MalformedValueIsRefusedAndNothingRuns) {
  for (const std::string value : {"", "10", "10 11 12", "x y", "-5 11", "10  11"}) {
    const Started started = RunWithSetupVariable(-1, false, value);
    EXPECT_EQ(started.exit_status, 127) << value;
    EXPECT_EQ(started.out, "") << "main() ran for " << value;
    EXPECT_NE(started.err.find("MNTNS_SANDBOX_SETUP"), std::string::npos) << started.err;
  }
}

TEST(SandboxSetupVariable, StandardFdsAreNoHandoff) {
  const Started started = RunWithSetupVariable(-1, false, "0 1");
  EXPECT_EQ(started.exit_status, 127);
  EXPECT_EQ(started.out, "");
  EXPECT_NE(started.err.find("fds 0-2"), std::string::npos) << started.err;
}

TEST(SandboxSetupVariable, AnUnsealedFileIsNoHandoff) {
  const int handoff = MemoryFile("anything", 0);
  const Started started = RunWithSetupVariable(handoff, false);
  ::close(handoff);
  EXPECT_EQ(started.exit_status, 127);
  EXPECT_EQ(started.out, "");
  EXPECT_NE(started.err.find("unsealed"), std::string::npos) << started.err;
}

// The sudo -E case: a less privileged user's file offered to a program that
// runs with more privileges. Here the other way round (root's sealed memfd,
// the program as nobody), which is the same ownership check; the control run
// as root shows that only the owner differs.
TEST(SandboxSetupVariable, AHandoffOfAnotherUserIsRefused) {
  const int handoff = MemoryFile("not a handoff", kAllSeals);
  const Started foreign = RunWithSetupVariable(handoff, true);
  const Started own = RunWithSetupVariable(handoff, false);
  ::close(handoff);
  EXPECT_EQ(foreign.exit_status, 127) << foreign.err;
  EXPECT_EQ(foreign.out, "");
  EXPECT_NE(foreign.err.find("another user"), std::string::npos) << foreign.err;
  // Accepted as a handoff, then refused by the setup as malformed (exit 1), and
  // still main() never ran.
  EXPECT_EQ(own.exit_status, 1) << own.err;
  EXPECT_EQ(own.out, "");
  EXPECT_NE(own.report.find("malformed handoff"), std::string::npos);
  EXPECT_EQ(foreign.report, "");
}

}  // namespace
}  // namespace mntns
