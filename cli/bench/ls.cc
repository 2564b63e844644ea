// mntns bench ls: reading a big mount table, mntns against mountinfo and findmnt, side by side.
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/host.h"
#include "bench/statmount_floor.h"
#include "command.h"
#include "mntns/fd.h"
#include "mntns/query.h"
#include "mntns/tree.h"
#include "output/mount_output.h"

extern char** environ;

namespace mntns::cli {
namespace {

struct BenchLsOptions {
  std::size_t host_mounts = 10000;
  std::size_t peers = 0;
  std::size_t peer_namespaces = 0;
  int runs = 5;
  bool json = false;
};

struct Contender {
  std::string name;
  std::function<Result<void>()> run;
  std::vector<double> milliseconds;
};

std::string SelfExe() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string("mntns");
}

// Runs a program with stdout on /dev/null (printing is part of its cost, the
// terminal is not) and fails on a non-zero exit.
Result<void> Spawn(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return MakeError(err, "posix_spawn", QuotePath(argv[0]));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return MakeError(ECHILD, "run", fmt::format("{} (exit status {})", QuotePath(argv[0]), status));
  }
  return kOk;
}

// The library's own mountinfo backend: read /proc/thread-self/mountinfo whole
// and parse it (plus one NS_GET_MNTNS_ID ioctl, negligible at these sizes).
Result<void> ReadAndParseMountinfo() {
  auto mounts = ListMounts({}, {.backend = Backend::kMountinfo});
  if (!mounts) return std::unexpected(mounts.error());
  return kOk;
}

// N copies of the calling thread's namespace, held by fds until the process
// exits: every shared host mount gains a peer in each, as on a host whose
// containers got a copy of its (shared) table. Their mounts only need to exist.
Result<UniqueFd> OpenOwnNamespace() {
  UniqueFd fd(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    return MakeError(err, "open", "\"/proc/self/ns/mnt\"");
  }
  return fd;
}

Result<void> MakePeerNamespaces(std::size_t count) {
  auto home = OpenOwnNamespace();
  if (!home) return std::unexpected(home.error());
  for (std::size_t i = 0; i < count; ++i) {
    if (auto r = UnshareMountNamespace(); !r) {
      return std::unexpected(std::move(r.error().Wrap(fmt::format("peer namespace {} of {}", i + 1, count))));
    }
    auto copy = OpenOwnNamespace();
    if (!copy) return std::unexpected(copy.error());
    (void)copy->Release();  // deliberately kept open until the benchmark process exits
  }
  if (count > 0) fmt::print(stderr, "mntns bench: {} peer namespaces\n", count);
  if (auto r = EnterMountNamespace(home->Get()); !r) return r;
  return kOk;
}

Result<void> EnterSlaveNamespace() {
  // The namespace the peer groups were built in must outlive our leaving it:
  // its mounts are the masters every slave here walks to.
  auto master = OpenOwnNamespace();
  if (!master) return std::unexpected(master.error());
  if (auto r = UnshareMountNamespace(); !r) return r;
  if (auto slave = MountSetattr(AT_FDCWD, "/", AT_RECURSIVE, {.propagation = MS_SLAVE}); !slave) return slave;
  (void)master->Release();  // deliberately kept open until the benchmark process exits
  return kOk;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

int Measure(const BenchLsOptions& options, const std::string& base) {
  if (auto added = AddHostMounts(base + "/host", options.host_mounts, options.peers); !added) {
    return ReportError(added.error());
  }
  if (options.peers > 0) {
    if (auto made = MakePeerNamespaces(options.peer_namespaces); !made) return ReportError(made.error());
    if (auto entered = EnterSlaveNamespace(); !entered) return ReportError(entered.error());
  }
  const std::string self = SelfExe();
  // Listed once: the table does not change while the contenders run.
  auto ids = ListCallerMountIds();
  if (!ids) return ReportError(ids.error());
  std::vector<Contender> contenders;
  contenders.push_back({"mntns ls --json", [&] { return Spawn({self, "ls", "--json"}); }, {}});
  contenders.push_back({"mntns ls", [&] { return Spawn({self, "ls"}); }, {}});
  contenders.push_back({"library query", [] {
                          auto mounts = ListMounts({}, {.mask = kJsonMask});
                          return mounts ? kOk : Result<void>(std::unexpected(mounts.error()));
                        }, {}});
  contenders.push_back({"mountinfo read+parse", ReadAndParseMountinfo, {}});
  contenders.push_back({"statmount calls alone", [&] { return StatmountCallsAlone(*ids); }, {}});
  contenders.push_back({"findmnt -l -n", [] { return Spawn({"findmnt", "-l", "-n"}); }, {}});
  // A pushed-down filter: only FS_TYPE and the columns' fields are asked for.
  contenders.push_back({"mntns ls -t tmpfs", [&] { return Spawn({self, "ls", "-l", "-t", "tmpfs"}); }, {}});
  contenders.push_back({"findmnt -l -t tmpfs", [] { return Spawn({"findmnt", "-l", "-t", "tmpfs"}); }, {}});

  // Interleaved, so drift in machine load hits every contender alike.
  for (int run = 0; run < options.runs; ++run) {
    for (Contender& contender : contenders) {
      const auto start = std::chrono::steady_clock::now();
      if (auto done = contender.run(); !done) return ReportError(done.error());
      contender.milliseconds.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    fmt::print(stderr, "mntns bench ls: run {} of {}\n", run + 1, options.runs);
  }

  auto p50 = [&](std::string_view name) {
    for (const Contender& c : contenders) {
      if (c.name == name) return Median(c.milliseconds);
    }
    return 0.0;
  };
  if (options.json) {
    nlohmann::ordered_json out;
    out["host_mounts"] = options.host_mounts;
    out["peers"] = options.peers;
    out["peer_namespaces"] = options.peer_namespaces;
    out["runs"] = options.runs;
    out["contenders"] = nlohmann::ordered_json::array();
    for (const Contender& c : contenders) {
      out["contenders"].push_back({{"name", c.name}, {"p50_ms", std::round(Median(c.milliseconds) * 1000) / 1000}});
    }
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("{} extra mounts, {}; median of {} runs\n", options.host_mounts,
             options.peers > 0 ? fmt::format("slave namespace, {} peer group{} of {} peers each", options.peers,
                                             options.peers == 1 ? "" : "s",
                                             options.host_mounts / options.peers * (options.peer_namespaces + 1))
                               : std::string("private namespace"),
             options.runs);
  for (const Contender& c : contenders) fmt::print("  {:<22} {:>10.2f} ms\n", c.name, Median(c.milliseconds));
  auto ratio = [&](std::string_view slower, std::string_view faster, std::string_view note = "") {
    fmt::print("  {:<38} = {:.2f}{}\n", fmt::format("{} / {}", slower, faster), p50(slower) / p50(faster), note);
  };
  ratio("mntns ls --json", "mountinfo read+parse");
  ratio("findmnt -l -n", "mntns ls --json");
  ratio("findmnt -l -n", "mntns ls");
  ratio("findmnt -l -t tmpfs", "mntns ls -t tmpfs");
  ratio("findmnt -l -n", "statmount calls alone", " (the most a statmount-based ls --json could reach)");
  return 0;
}

}  // namespace

void AddBenchLsCommand(CLI::App& bench, Runner& runner) {
  auto options = std::make_shared<BenchLsOptions>();
  CLI::App* ls = bench.add_subcommand(
      "ls", "Time reading a mount table of M extra mounts (set up in a private namespace of its own):\n"
            "mntns ls, mntns ls --json, the library query, mountinfo read+parse, findmnt -l -n,\n"
            "the statmount calls alone that ls --json makes (its kernel part: a floor),\n"
            "and mntns ls -t tmpfs against findmnt -l -t tmpfs.");
  ls->add_option("--host-mounts", options->host_mounts, "M: extra bind mounts")->default_str("10000");
  ls->add_option("--peers", options->peers,
                 "P: make the binds members of P shared peer groups and read from a slave\n"
                 "namespace of them (where mountinfo pays for every peer)")
      ->default_str("0");
  ls->add_option("--peer-namespaces", options->peer_namespaces,
                 "N (with --peers): N more namespaces hold a copy of every bind, as containers\n"
                 "on a host with a shared table do: each peer group gets M/P*(N+1) members")
      ->default_str("0");
  ls->add_option("--runs", options->runs, "Runs per contender (the median is reported)")
      ->check(CLI::PositiveNumber)
      ->default_str("5");
  ls->add_flag("--json", options->json,
               "Print {\"host_mounts\": M, \"peers\": P, \"peer_namespaces\": N, \"runs\": R,\n"
               "\"contenders\": [{\"name\", \"p50_ms\"}]}");
  ls->footer(
      "Examples:\n"
      "  mntns bench ls --host-mounts 30000\n"
      "  mntns bench ls --host-mounts 10000 --peers 100 --json\n"
      "  mntns bench ls --host-mounts 10000 --peers 100 --peer-namespaces 40");
  ls->callback([options, &runner] {
    runner = [options] {
      return InPrivateBenchNamespace([&](const std::string& base) { return Measure(*options, base); });
    };
  });
}

}  // namespace mntns::cli
