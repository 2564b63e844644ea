#include "cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

extern char** environ;

namespace mntns::testing {

std::string CliPath() {
  if (const char* path = std::getenv("MNTNS_CLI")) return path;
  return MNTNS_CLI_PATH;
}

std::string SharedLibraryPath() { return MNTNS_SHARED_PATH; }

std::string DlopenRuntimePath() { return MNTNS_DLOPEN_RUNTIME_PATH; }
std::string EmptyRootProbePath() { return MNTNS_EMPTY_ROOT_PROBE_PATH; }

CliResult RunCli(const std::vector<std::string>& args, int inherit_fd) {
  return RunCli(args, RunOptions{.inherit_fd = inherit_fd});
}

CliResult RunCli(const std::vector<std::string>& args, const RunOptions& options) {
  std::vector<std::string> argv{CliPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, options);
}

CliResult RunProgram(const std::vector<std::string>& args, const RunOptions& options) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) return {};
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
  environment.insert(environment.end(), options.environment.begin(), options.environment.end());
  std::vector<char*> envp;
  for (const std::string& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid == 0) {
    switch (options.stdout_kind) {
      case RunOptions::Stdout::kCaptured:
        ::dup2(out_pipe[1], STDOUT_FILENO);
        break;
      case RunOptions::Stdout::kClosed:
        ::close(STDOUT_FILENO);
        break;
      case RunOptions::Stdout::kFile: {
        const int fd = ::open(options.stdout_file.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0) ::_exit(126);
        break;
      }
      case RunOptions::Stdout::kBrokenPipe: {
        int unread[2];
        if (::pipe2(unread, O_CLOEXEC) != 0 || ::dup2(unread[1], STDOUT_FILENO) < 0) ::_exit(126);
        ::close(unread[0]);
        ::signal(SIGPIPE, SIG_IGN);  // an ignored signal stays ignored across exec
        break;
      }
    }
    ::dup2(err_pipe[1], STDERR_FILENO);
    if (options.inherit_fd >= 0) {
      // dup2 onto itself keeps O_CLOEXEC; clear it so the fd survives exec.
      ::fcntl(options.inherit_fd, F_SETFD, 0);
    }
    ::execvpe(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CliResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buffer[65536];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace mntns::testing
