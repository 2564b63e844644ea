// mntns bench watch: what keeping a big mount table current costs, per event,
// with the live table (one statmount per event) against re-reading the table
// per event, measured side by side in one namespace.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/host.h"
#include "command.h"
#include "mntns/query.h"
#include "mntns/watch.h"

namespace mntns::cli {
namespace {

struct BenchWatchOptions {
  std::size_t host_mounts = 30000;
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

int RunBenchWatch(const BenchWatchOptions& options) {
  return InPrivateBenchNamespace([&](const std::string& base) -> int {
    if (auto added = AddHostMounts(base + "/host", options.host_mounts); !added) return ReportError(added.error());
    const std::string dir = base + "/w";
    if (auto made = MakeDirectory(dir); !made) return ReportError(made.error());
    auto live = LiveMountTable::Open();
    if (!live) return ReportError(live.error());
    const std::size_t table_size = live->size();
    // The events: new tmpfs mounts side by side (the CLI makes no raw
    // umount calls: the layout rule keeps them in src/sys), 100 per batch,
    // the table brought up to date after each batch; CPU of this thread only.
    constexpr std::size_t kBatch = 100;
    std::size_t seen = 0;
    double live_cpu = 0;
    std::size_t next_dir = 0;
    auto mount_one = [&]() -> Result<void> {
      const std::string path = dir + "/" + std::to_string(next_dir++);
      if (auto made = MakeDirectory(path); !made) return made;
      return MountTmpfs(path, "mntns-bench-watch");
    };
    for (std::size_t made = 0; made < options.events;) {
      for (std::size_t i = 0; i < kBatch && made < options.events; ++i, ++made) {
        if (auto mounted = mount_one(); !mounted) return ReportError(mounted.error());
      }
      const double before = ThreadCpuMicroseconds();
      for (;;) {
        auto taken = live->Update(0);
        if (!taken) return ReportError(taken.error());
        if (*taken == 0) break;
        seen += *taken;
      }
      live_cpu += ThreadCpuMicroseconds() - before;
    }
    // What a table re-read per event costs (what service managers do today).
    std::vector<double> reread;
    for (int run = 0; run < 5; ++run) {
      const double before = ThreadCpuMicroseconds();
      auto table = ListMounts({}, {.mask = WatchOptions{}.mask});
      if (!table) return ReportError(table.error());
      reread.push_back(ThreadCpuMicroseconds() - before);
    }
    // Latency from the mount call to the event in hand.
    std::vector<double> latency;
    for (int i = 0; i < 200; ++i) {
      const auto start = std::chrono::steady_clock::now();
      if (auto mounted = mount_one(); !mounted) return ReportError(mounted.error());
      auto events = live->watcher().Next(1000);
      if (!events) return ReportError(events.error());
      latency.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    const double per_event = seen == 0 ? 0 : live_cpu / static_cast<double>(seen);
    const double reread_p50 = Percentile(reread, 0.5);
    nlohmann::ordered_json out;
    out["backend"] = live->watcher().backend() == WatchBackend::kFanotify ? "fanotify" : "mountinfo";
    out["table_mounts"] = table_size;
    out["events_made"] = options.events;
    out["events_seen"] = seen;
    out["live_cpu_us_per_event"] = per_event;
    out["reread_cpu_us_per_event"] = reread_p50;
    out["reread_over_live"] = per_event > 0 ? reread_p50 / per_event : 0;
    out["latency_us_p50"] = Percentile(latency, 0.5);
    out["latency_us_p99"] = Percentile(latency, 0.99);
    out["full_reads"] = live->watcher().stats().full_reads;
    if (options.json) {
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("watch, {} mounts in the table, {} events made, {} seen ({} backend)\n", table_size,
                 options.events, seen, out["backend"].get<std::string>());
      fmt::print("  live table, CPU per event      {:>10.2f} us\n", per_event);
      fmt::print("  re-read per event, CPU         {:>10.2f} us\n", reread_p50);
      fmt::print("  re-read / live                 = {:.1f}\n", out["reread_over_live"].get<double>());
      fmt::print("  latency mount -> event p50/p99 {:>6.1f} / {:.1f} us\n", out["latency_us_p50"].get<double>(),
                 out["latency_us_p99"].get<double>());
    }
    return seen >= options.events ? 0 : kExitFailure;
  });
}

}  // namespace

void AddBenchWatchCommand(CLI::App& bench, Runner& runner) {
  auto options = std::make_shared<BenchWatchOptions>();
  CLI::App* watch = bench.add_subcommand(
      "watch", "Keeping a mount table current: the live table's CPU per event against re-reading the\n"
               "table per event, events lost, and the latency from a mount call to its event");
  watch->add_option("--host-mounts", options->host_mounts, "M: bind mounts in the table")->default_str("30000");
  watch->add_option("--events", options->events, "N: mount events to make")->default_str("10000");
  watch->add_flag("--json", options->json, "Print the numbers as one JSON object");
  watch->callback([options, &runner] { runner = [options] { return RunBenchWatch(*options); }; });
}

}  // namespace mntns::cli
