// mntns bench watch: what following mount events costs, measured side by side
// in one private namespace: `mntns watch` against `findmnt --poll` as
// processes on the same mount and umount calls (CPU of each from the kernel's
// accounting), and the live table (one statmount per event) against
// re-reading a 30,000-mount table per event.
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/host.h"
#include "command.h"
#include "mntns/fd.h"
#include "mntns/query.h"
#include "mntns/tree.h"
#include "mntns/watch.h"

namespace mntns::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchWatchOptions {
  std::size_t host_mounts = 30000;
  std::size_t watch_mounts = 100;
  std::size_t events = 10000;
  bool json = false;
};

double ThreadCpuMicroseconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(fraction * static_cast<double>(values.size())))];
}

std::string SelfExe() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string("mntns");
}

double Microseconds(Clock::duration elapsed) { return std::chrono::duration<double, std::micro>(elapsed).count(); }

// A watcher process whose stdout comes back through a pipe, one line per event.
struct WatcherProcess {
  std::string name{};
  pid_t pid = 0;
  UniqueFd out;
  std::size_t lines = 0;    // event lines read so far
  double start_cpu_us = 0;  // its CPU when the measured events began
  double cpu_us = 0;        // over the measured events
  std::size_t seen = 0;     // lines during the measured events
  std::vector<double> latency_us{};
};

Result<WatcherProcess> StartWatcher(std::string name, const std::vector<std::string>& argv) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) {
    const int err = errno;
    return MakeError(err, "pipe2", "bench watch: a watcher's stdout");
  }
  UniqueFd read_end(ends[0]);
  UniqueFd write_end(ends[1]);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    return MakeError(err, "fork", "bench watch: " + name);
  }
  if (pid == 0) {
    // A watcher must not outlive the benchmark (and its namespace).
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::dup2(write_end.Get(), STDOUT_FILENO) < 0) ::_exit(127);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return WatcherProcess{.name = std::move(name), .pid = pid, .out = std::move(read_end)};
}

// Reads what the watcher has written, waiting up to `timeout` for at least
// `lines` lines in all; false if they did not come.
bool AwaitLines(WatcherProcess& watcher, std::size_t lines, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  char buffer[65536];
  while (watcher.lines < lines) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left < 0) return false;
    pollfd ready{watcher.out.Get(), POLLIN, 0};
    const int n = ::poll(&ready, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    const ssize_t got = ::read(watcher.out.Get(), buffer, sizeof buffer);
    if (got <= 0) return false;  // it exited
    watcher.lines += static_cast<std::size_t>(std::count(buffer, buffer + got, '\n'));
  }
  return true;
}

// User + system CPU of a running process (all its threads), from
// /proc/PID/stat in clock ticks (10 ms): taken once before thousands of events.
double ProcessCpuMicroseconds(pid_t pid) {
  std::ifstream file(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const std::size_t name_end = text.rfind(')');
  if (name_end == std::string::npos) return 0;
  std::istringstream fields(text.substr(name_end + 2));
  std::string field;
  double ticks = 0;
  // State is field 3; utime and stime are fields 14 and 15.
  for (int number = 3; number <= 15 && fields >> field; ++number) {
    if (number >= 14) ticks += std::stod(field);
  }
  return ticks * 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Stops the watcher and returns its whole CPU from wait4's rusage.
double StopWatcher(WatcherProcess& watcher) {
  ::kill(watcher.pid, SIGTERM);
  int status = 0;
  rusage usage{};
  while (::wait4(watcher.pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  watcher.pid = 0;
  auto micros = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  return micros(usage.ru_utime) + micros(usage.ru_stime);
}

struct WatchersResult {
  std::vector<WatcherProcess> watchers;
  std::size_t events = 0;
  std::size_t table_mounts = 0;
};

// Both watchers follow the same namespace. The calls are paced: each waits
// for both watchers to print its event, so that findmnt, which re-reads
// mountinfo and diffs it, sees every change apart instead of one sum of many
// (and so that the latency of each event is known).
Result<WatchersResult> CompareWatchers(const std::string& dir, const BenchWatchOptions& options) {
  WatchersResult result;
  auto table = ListMounts({}, {.mask = field::kMntBasic});
  if (!table) return std::unexpected(table.error());
  result.table_mounts = table->size();
  const std::string target = dir + "/event";
  if (auto made = MakeDirectory(target); !made) return std::unexpected(made.error());
  std::vector<std::string> mntns_watch{SelfExe(), "watch", "-n", "-o", "TARGET"};
  std::vector<std::string> findmnt_poll{"findmnt", "--poll", "-n", "-r", "-o", "ACTION,TARGET"};
  for (const auto& [name, argv] : {std::pair{"mntns watch", mntns_watch}, std::pair{"findmnt --poll", findmnt_poll}}) {
    auto watcher = StartWatcher(name, argv);
    if (!watcher) return std::unexpected(watcher.error());
    result.watchers.push_back(*std::move(watcher));
  }
  auto stop_all = [&] {
    for (WatcherProcess& watcher : result.watchers) {
      if (watcher.pid != 0) (void)StopWatcher(watcher);
    }
  };
  auto mount_event = [&] { return MountTmpfs(target, "mntns-bench-watch"); };
  auto umount_event = [&] { return Unmount(target, 0); };
  // Until both are watching: a probe mount that each must report (findmnt
  // prints nothing before its first event to tell that it is ready).
  bool ready = false;
  for (int attempt = 0; attempt < 50 && !ready; ++attempt) {
    if (auto mounted = mount_event(); !mounted) return stop_all(), std::unexpected(mounted.error());
    ready = true;
    for (WatcherProcess& watcher : result.watchers) ready = AwaitLines(watcher, 1, std::chrono::milliseconds(200)) && ready;
    if (auto unmounted = umount_event(); !unmounted) return stop_all(), std::unexpected(unmounted.error());
  }
  for (WatcherProcess& watcher : result.watchers) {
    (void)AwaitLines(watcher, watcher.lines + 1, std::chrono::milliseconds(500));
    // Late lines of the probes would count as events.
    (void)AwaitLines(watcher, SIZE_MAX, std::chrono::milliseconds(200));
  }
  if (!ready) {
    stop_all();
    return MakeError(ETIMEDOUT, "bench watch", "mntns watch and findmnt --poll did not both report a probe mount");
  }
  std::vector<std::size_t> before;
  for (WatcherProcess& watcher : result.watchers) {
    before.push_back(watcher.lines);
    watcher.start_cpu_us = ProcessCpuMicroseconds(watcher.pid);
  }
  for (std::size_t i = 0; i < options.events * 2; ++i) {
    // Latency counts from the call: the kernel queues the event inside it.
    const auto made = Clock::now();
    auto done = i % 2 == 0 ? mount_event() : umount_event();
    if (!done) return stop_all(), std::unexpected(done.error());
    ++result.events;
    for (std::size_t w = 0; w < result.watchers.size(); ++w) {
      WatcherProcess& watcher = result.watchers[w];
      // A watcher that missed an event is not waited for again: its count says so.
      if (AwaitLines(watcher, before[w] + result.events, std::chrono::seconds(5))) {
        watcher.latency_us.push_back(Microseconds(Clock::now() - made));
      }
    }
  }
  for (std::size_t w = 0; w < result.watchers.size(); ++w) {
    WatcherProcess& watcher = result.watchers[w];
    (void)AwaitLines(watcher, before[w] + result.events, std::chrono::seconds(2));
    watcher.seen = watcher.lines - before[w];
    watcher.cpu_us = StopWatcher(watcher) - watcher.start_cpu_us;
  }
  return result;
}

struct LiveTableResult {
  std::string backend;
  std::size_t table_mounts = 0;
  std::size_t events = 0;
  std::size_t seen = 0;
  double live_cpu_us_per_event = 0;
  double reread_cpu_us_per_event = 0;
  std::size_t full_reads = 0;
  bool equals_fresh_listing = false;
};

// The live table in a big namespace: batches of 100 mounts, then their
// umounts, the table brought up to date after each batch; CPU of this thread.
Result<LiveTableResult> MeasureLiveTable(const std::string& dir, const BenchWatchOptions& options) {
  LiveTableResult result;
  auto live = LiveMountTable::Open();
  if (!live) return std::unexpected(live.error());
  result.table_mounts = live->size();
  result.backend = live->watcher().backend() == WatchBackend::kFanotify ? "fanotify" : "mountinfo";
  constexpr std::size_t kBatch = 100;
  double live_cpu = 0;
  auto update = [&]() -> Result<void> {
    const double before = ThreadCpuMicroseconds();
    for (;;) {
      auto taken = live->Update(0);
      if (!taken) return std::unexpected(taken.error());
      if (*taken == 0) break;
      result.seen += *taken;
    }
    live_cpu += ThreadCpuMicroseconds() - before;
    return kOk;
  };
  for (std::size_t made = 0; made < options.events;) {
    const std::size_t batch = std::min(kBatch, options.events - made);
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < batch; ++i) {
      paths.push_back(fmt::format("{}/{}", dir, made + i));
      if (auto dir_made = MakeDirectory(paths.back()); !dir_made) return std::unexpected(dir_made.error());
      if (auto mounted = MountTmpfs(paths.back(), "mntns-bench-watch"); !mounted) return std::unexpected(mounted.error());
    }
    if (auto updated = update(); !updated) return std::unexpected(updated.error());
    for (const std::string& path : paths) {
      if (auto unmounted = Unmount(path, 0); !unmounted) return std::unexpected(unmounted.error());
    }
    if (auto updated = update(); !updated) return std::unexpected(updated.error());
    made += batch;
    result.events += batch * 2;
  }
  // What a table re-read per event costs (what service managers do today).
  std::vector<double> reread;
  std::vector<std::uint64_t> fresh_ids;
  for (int run = 0; run < 5; ++run) {
    const double before = ThreadCpuMicroseconds();
    auto table = ListMounts({}, {.mask = WatchOptions{}.mask});
    if (!table) return std::unexpected(table.error());
    reread.push_back(ThreadCpuMicroseconds() - before);
    fresh_ids.clear();
    for (const Mount& mount : *table) fresh_ids.push_back(mount.id);
  }
  std::vector<std::uint64_t> live_ids;
  for (const Mount& mount : live->Mounts()) live_ids.push_back(mount.id);
  result.live_cpu_us_per_event = result.seen == 0 ? 0 : live_cpu / static_cast<double>(result.seen);
  result.reread_cpu_us_per_event = Percentile(reread, 0.5);
  result.full_reads = live->watcher().stats().full_reads;
  result.equals_fresh_listing = live_ids == fresh_ids;
  return result;
}

int RunBenchWatch(const BenchWatchOptions& options) {
  return InPrivateBenchNamespace([&](const std::string& base) -> int {
    // The watchers' table first, then the rest up to the live table's size.
    const std::size_t watched = std::min(options.watch_mounts, options.host_mounts);
    if (auto added = AddHostMounts(base + "/watched", watched); !added) return ReportError(added.error());
    const std::string dir = base + "/w";
    if (auto made = MakeDirectory(dir); !made) return ReportError(made.error());
    auto watchers = CompareWatchers(dir, options);
    if (!watchers) return ReportError(watchers.error());
    if (auto added = AddHostMounts(base + "/host", options.host_mounts - watched); !added) {
      return ReportError(added.error());
    }
    auto live = MeasureLiveTable(dir, options);
    if (!live) return ReportError(live.error());

    nlohmann::ordered_json out;
    out["events_made"] = watchers->events;
    out["watch_table_mounts"] = watchers->table_mounts;
    out["watchers"] = nlohmann::ordered_json::array();
    for (const WatcherProcess& watcher : watchers->watchers) {
      out["watchers"].push_back({{"name", watcher.name},
                                 {"events_seen", watcher.seen},
                                 {"cpu_us_per_event", watcher.seen == 0 ? 0 : watcher.cpu_us / static_cast<double>(watcher.seen)},
                                 {"latency_us_p50", Percentile(watcher.latency_us, 0.5)},
                                 {"latency_us_p99", Percentile(watcher.latency_us, 0.99)}});
    }
    const double ours = out["watchers"][0]["cpu_us_per_event"].get<double>();
    const double theirs = out["watchers"][1]["cpu_us_per_event"].get<double>();
    out["findmnt_over_mntns_cpu"] = ours > 0 ? theirs / ours : 0;
    out["backend"] = live->backend;
    out["table_mounts"] = live->table_mounts;
    out["live_events_made"] = live->events;
    out["live_events_seen"] = live->seen;
    out["live_cpu_us_per_event"] = live->live_cpu_us_per_event;
    out["reread_cpu_us_per_event"] = live->reread_cpu_us_per_event;
    out["reread_over_live"] =
        live->live_cpu_us_per_event > 0 ? live->reread_cpu_us_per_event / live->live_cpu_us_per_event : 0;
    out["full_reads"] = live->full_reads;
    out["live_equals_fresh_listing"] = live->equals_fresh_listing;
    if (options.json) {
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("watchers, {} mounts in the table, {} events made ({} mount + {} umount)\n",
                 watchers->table_mounts, watchers->events, watchers->events / 2, watchers->events / 2);
      for (const auto& watcher : out["watchers"]) {
        fmt::print("  {:<15} {:>6} seen  {:>8.1f} us CPU per event  latency p50/p99 {:.0f} / {:.0f} us\n",
                   watcher["name"].get<std::string>(), watcher["events_seen"].get<std::size_t>(),
                   watcher["cpu_us_per_event"].get<double>(), watcher["latency_us_p50"].get<double>(),
                   watcher["latency_us_p99"].get<double>());
      }
      fmt::print("  findmnt --poll / mntns watch, CPU per event = {:.1f}\n", out["findmnt_over_mntns_cpu"].get<double>());
      fmt::print("live table, {} mounts, {} events made, {} seen ({} backend){}\n", live->table_mounts, live->events,
                 live->seen, live->backend, live->equals_fresh_listing ? "" : ", NOT equal to a fresh listing");
      fmt::print("  live table, CPU per event      {:>10.2f} us\n", live->live_cpu_us_per_event);
      fmt::print("  re-read per event, CPU         {:>10.2f} us\n", live->reread_cpu_us_per_event);
      fmt::print("  re-read / live                 = {:.1f}\n", out["reread_over_live"].get<double>());
    }
    const bool none_lost = watchers->watchers[0].seen == watchers->events && live->seen == live->events;
    return none_lost && live->equals_fresh_listing ? 0 : kExitFailure;
  });
}

}  // namespace

void AddBenchWatchCommand(CLI::App& bench, Runner& runner) {
  auto options = std::make_shared<BenchWatchOptions>();
  CLI::App* watch = bench.add_subcommand(
      "watch", "Following mount events: `mntns watch` against `findmnt --poll` (CPU per event of each\n"
               "process, latency, events lost) on the same mount and umount calls, then the live\n"
               "table's CPU per event against re-reading a big table per event");
  watch->add_option("--host-mounts", options->host_mounts, "M: mounts in the live table's namespace")
      ->default_str("30000");
  watch->add_option("--watch-mounts", options->watch_mounts,
                    "W: mounts in the namespace while the two watcher processes run (findmnt\n"
                    "re-reads them all per event), besides those the namespace copied")
      ->default_str("100");
  watch->add_option("--events", options->events, "N: mount+umount pairs to make (2N events) for each part")
      ->default_str("10000");
  watch->add_flag("--json", options->json, "Print the numbers as one JSON object");
  watch->footer("Exit status 1 when mntns watch or the live table missed an event, or the live table\n"
                "differs from a fresh listing. Every mount is made in a private namespace of its own.");
  watch->callback([options, &runner] { runner = [options] { return RunBenchWatch(*options); }; });
}

}  // namespace mntns::cli
