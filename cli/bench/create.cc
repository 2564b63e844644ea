// mntns bench create: how fast container namespaces are made, with M mounts
// in the caller's namespace. Everything runs in a forked child inside a
// private namespace of its own: the caller's mount table is never touched.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/host.h"
#include "command.h"
#include "mntns/namespace.h"
#include "mntns/tree.h"

namespace mntns::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::size_t host_mounts = 0;
  std::size_t count = 1000;
  unsigned workers = 1;
  std::string strategy = "auto";
  bool json = false;
  // Measures the strategy and the bare syscall ("raw") alternately in one run.
  bool against_raw = false;
  // Workers hand each namespace fd to one reaper thread, which closes it.
  bool reaper = false;
  // EmptyMountNamespace instead of OpenTreeNamespace, measured at 0 and at M
  // host mounts and against kClassic at M, in one run.
  bool empty = false;
};

// Closes namespace fds on a thread of its own: the close of the last reference
// pays the kernel's teardown (~40 us waiting in synchronize_rcu_expedited on
// 6.18), and that wait then stays off the workers' create path.
class Reaper {
 public:
  Reaper() : thread_([this] { Run(); }) {}
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;
  ~Reaper() { Finish(); }

  void Release(UniqueFd fd) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(fd));
    }
    wake_.notify_one();
  }

  // When the last fd was closed (valid after Finish).
  [[nodiscard]] Clock::time_point finished_at() const { return finished_at_; }

  // Returns once every fd handed over is closed.
  void Finish() {
    {
      std::lock_guard lock(mutex_);
      finishing_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    std::vector<UniqueFd> batch;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return finishing_ || !queue_.empty(); });
        if (queue_.empty()) {
          finished_at_ = Clock::now();
          return;
        }
        batch.swap(queue_);
      }
      batch.clear();  // the closes
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<UniqueFd> queue_;
  bool finishing_ = false;
  Clock::time_point finished_at_;
  std::thread thread_;
};

// "raw" is not a library strategy: the bare 7.x syscall, the yardstick for native.
constexpr const char* kRawStrategy = "raw";

// The caller's side (already inside the private namespace InPrivateBenchNamespace
// made): `host_mounts` extra binds, and the small tree every namespace is made from.
Result<std::string> PrepareHost(const std::string& base, std::size_t host_mounts) {
  // The host mounts and the tree live on separate mounts: a recursive clone
  // walks every child of the source's mount, so a tree that is a directory
  // of the mount holding the M binds would cost O(M) on every kernel.
  const std::string host = base + "/host";
  if (auto r = MountTmpfs(host, "mntns-bench-host"); !r) return std::unexpected(r.error());
  if (auto r = AddHostMounts(host, host_mounts); !r) return std::unexpected(r.error());
  const std::string tree = base + "/tree";
  if (auto r = MountTmpfs(tree, "mntns-bench-tree"); !r) return std::unexpected(r.error());
  for (const char* dir : {"/a", "/b", "/c", "/a/deeper"}) {
    if (auto r = MakeDirectory(tree + dir); !r) return std::unexpected(r.error());
  }
  if (auto r = MountTmpfs(tree + "/sub", "mntns-bench-sub"); !r) return std::unexpected(r.error());
  return tree;
}

Result<UniqueFd> CreateOne(const std::string& tree, const std::string& strategy) {
  if (strategy == kRawStrategy) {
    return OpenTree(AT_FDCWD, tree, OPEN_TREE_NAMESPACE | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
  }
  auto parsed = ParseStrategy(strategy);
  if (!parsed) return std::unexpected(parsed.error());
  return OpenTreeNamespace(AT_FDCWD, tree, AT_RECURSIVE | OPEN_TREE_CLOEXEC, {.strategy = *parsed});
}

// Create, use (NS_MNT_GET_INFO needs no setns), release.
Result<void> CreateUseRelease(const std::string& tree, const std::string& strategy, Reaper* reaper = nullptr) {
  auto ns = CreateOne(tree, strategy);
  if (!ns) return std::unexpected(ns.error());
  auto mounts = CountMountsInNamespace(ns->Get());
  if (!mounts) return std::unexpected(mounts.error());
  if (reaper != nullptr) reaper->Release(std::move(*ns));
  return kOk;
}

double Percentile(std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

// One namespace at a time, alternating the strategy and raw in pairs (in
// changing order, so neither always runs on a warmer cache), and prints both
// medians and their ratio: only ratios inside one run mean anything in a VM.
int MeasureAgainstRaw(const BenchOptions& options, const std::string& tree, const std::string& strategy) {
  std::vector<double> own;
  std::vector<double> raw;
  own.reserve(options.count);
  raw.reserve(options.count);
  const std::size_t warmup = std::clamp<std::size_t>(options.count / 100, 3, 200);
  for (std::size_t i = 0; i < warmup + options.count; ++i) {
    for (int half = 0; half < 2; ++half) {
      const bool raw_now = (half == 0) == (i % 2 == 0);
      const auto t0 = Clock::now();
      if (auto r = CreateUseRelease(tree, raw_now ? std::string(kRawStrategy) : strategy); !r) {
        return ReportError(r.error());
      }
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      if (i >= warmup) (raw_now ? raw : own).push_back(us);
    }
  }
  std::sort(own.begin(), own.end());
  std::sort(raw.begin(), raw.end());
  const double own_p50 = Percentile(own, 0.50);
  const double raw_p50 = Percentile(raw, 0.50);
  const double ratio = raw_p50 > 0 ? own_p50 / raw_p50 : 0;
  if (options.json) {
    nlohmann::ordered_json out;
    out["strategy"] = strategy;
    out["host_mounts"] = options.host_mounts;
    out["count"] = options.count;
    out["p50_us"] = own_p50;
    out["p99_us"] = Percentile(own, 0.99);
    out["raw_p50_us"] = raw_p50;
    out["raw_p99_us"] = Percentile(raw, 0.99);
    out["ratio_to_raw"] = ratio;
    fmt::print("{}\n", out.dump());
  } else {
    fmt::print("strategy {} against raw open_tree(OPEN_TREE_NAMESPACE) with {} host mounts, {} pairs: "
               "p50 {:.1f} us vs {:.1f} us, ratio {:.3f} (create + NS_MNT_GET_INFO + close)\n",
               strategy, options.host_mounts, options.count, own_p50, raw_p50, ratio);
  }
  return 0;
}

int Measure(const BenchOptions& options, const std::string& tree) {
  const std::string strategy =
      options.strategy == kRawStrategy
          ? options.strategy
          : std::string(StrategyName(ResolveStrategy(NamespaceOperation::kOpenTreeNamespace, *ParseStrategy(options.strategy))));
  if (options.against_raw) return MeasureAgainstRaw(options, tree, strategy);
  // Warm-up: starts the template factory (its one-time copy of this table).
  const std::size_t warmup = std::clamp<std::size_t>(options.count / 100, 3, 200);
  for (std::size_t i = 0; i < warmup; ++i) {
    if (auto r = CreateUseRelease(tree, strategy); !r) return ReportError(r.error());
  }
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::atomic<bool> failed{false};
  std::vector<std::vector<double>> latencies(options.workers);
  std::vector<Error> errors(options.workers);
  // Each worker's end: the progress loop below polls, its wake-ups must not count.
  std::vector<Clock::time_point> finished(options.workers);
  const auto start = Clock::now();
  std::optional<Reaper> reaper;
  if (options.reaper) reaper.emplace();
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < options.workers; ++w) {
    threads.emplace_back([&, w] {
      latencies[w].reserve(options.count / options.workers + 1);
      while (!failed && next.fetch_add(1) < options.count) {
        const auto t0 = Clock::now();
        if (auto r = CreateUseRelease(tree, strategy, reaper ? &*reaper : nullptr); !r) {
          errors[w] = r.error();
          failed = true;
          return;
        }
        latencies[w].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        ++done;
      }
      finished[w] = Clock::now();
    });
  }
  auto last_report = start;
  while (done < options.count && !failed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (Clock::now() - last_report > std::chrono::seconds(2)) {
      last_report = Clock::now();
      fmt::print(stderr, "mntns bench: {} of {} namespaces\n", done.load(), options.count);
    }
  }
  for (std::thread& thread : threads) thread.join();
  // The clock stops once every namespace is released.
  Clock::time_point end = *std::max_element(finished.begin(), finished.end());
  if (reaper) {
    reaper->Finish();
    end = std::max(end, reaper->finished_at());
  }
  const double seconds = std::chrono::duration<double>(end - start).count();
  for (const Error& error : errors) {
    if (error.code != 0) return ReportError(error);
  }
  std::vector<double> all;
  for (const auto& worker : latencies) all.insert(all.end(), worker.begin(), worker.end());
  std::sort(all.begin(), all.end());
  const double per_second = static_cast<double>(all.size()) / seconds;
  const double p50 = Percentile(all, 0.50);
  const double p99 = Percentile(all, 0.99);
  if (options.json) {
    nlohmann::ordered_json out;
    out["strategy"] = strategy;
    out["host_mounts"] = options.host_mounts;
    out["count"] = options.count;
    out["workers"] = options.workers;
    out["reaper"] = options.reaper;
    out["per_second"] = per_second;
    out["p50_us"] = p50;
    out["p99_us"] = p99;
    fmt::print("{}\n", out.dump());
  } else {
    fmt::print("strategy {} with {} host mounts: {} namespaces by {} worker{}{} in {:.3f} s: {:.0f}/s, "
               "p50 {:.1f} us, p99 {:.1f} us ({})\n",
               strategy, options.host_mounts, all.size(), options.workers, options.workers == 1 ? "" : "s",
               options.reaper ? " and a reaper" : "", seconds, per_second, p50, p99,
               options.reaper ? "create + NS_MNT_GET_INFO; the reaper closes" : "create + NS_MNT_GET_INFO + close");
  }
  return 0;
}

// The median of `count` EmptyMountNamespace calls (create + NS_MNT_GET_INFO +
// close) with `strategy`, after a warm-up that starts the template factory.
Result<double> EmptyMedian(NamespaceStrategy strategy, std::size_t count) {
  std::vector<double> latencies;
  latencies.reserve(count);
  const std::size_t warmup = std::clamp<std::size_t>(count / 100, 3, 200);
  for (std::size_t i = 0; i < warmup + count; ++i) {
    const auto t0 = Clock::now();
    auto ns = EmptyMountNamespace({.strategy = strategy});
    if (!ns) return std::unexpected(ns.error());
    auto mounts = CountMountsInNamespace(ns->Get());
    if (!mounts) return std::unexpected(mounts.error());
    ns->Reset();
    if (i >= warmup) latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(latencies.begin(), latencies.end());
  return Percentile(latencies, 0.50);
}

// The empty-namespace targets (#16), side by side in one run: the strategy's
// cost at M host mounts against its cost at 0 (the emulation must not grow
// with the table), and kClassic (unshare + pivot_root + detach of the copy:
// what an empty namespace costs without the template) against it at M.
int MeasureEmpty(const BenchOptions& options, const std::string& base) {
  auto requested = ParseStrategy(options.strategy);
  if (!requested) return ReportError(requested.error());
  const NamespaceStrategy strategy = ResolveStrategy(NamespaceOperation::kEmptyMountNamespace, *requested);
  const std::string host = base + "/host";
  if (auto r = MountTmpfs(host, "mntns-bench-host"); !r) return ReportError(r.error());
  auto at_zero = EmptyMedian(strategy, options.count);
  if (!at_zero) return ReportError(at_zero.error());
  if (auto r = AddHostMounts(host, options.host_mounts); !r) return ReportError(r.error());
  // A new factory, whose template is built from the table as it is now.
  StopNamespaceFactory();
  auto at_m = EmptyMedian(strategy, options.count);
  if (!at_m) return ReportError(at_m.error());
  const std::size_t classic_count = std::clamp<std::size_t>(options.count / 100, 5, 50);
  auto classic = EmptyMedian(NamespaceStrategy::kClassic, classic_count);
  if (!classic) return ReportError(classic.error());
  const double growth = *at_m / *at_zero;
  const double classic_ratio = *classic / *at_m;
  if (options.json) {
    nlohmann::ordered_json out;
    out["operation"] = "empty";
    out["strategy"] = StrategyName(strategy);
    out["host_mounts"] = options.host_mounts;
    out["count"] = options.count;
    out["p50_us_at_0"] = *at_zero;
    out["p50_us"] = *at_m;
    out["classic_count"] = classic_count;
    out["classic_p50_us"] = *classic;
    out["ratio_to_0_mounts"] = growth;
    out["classic_ratio"] = classic_ratio;
    fmt::print("{}\n", out.dump());
  } else {
    fmt::print("empty namespaces, strategy {}: p50 {:.1f} us at 0 host mounts, {:.1f} us at {} ({:.2f}x); "
               "classic (unshare + pivot_root + detach) {:.1f} us at {} ({:.0f}x the {} strategy)\n",
               StrategyName(strategy), *at_zero, *at_m, options.host_mounts, growth, *classic,
               options.host_mounts, classic_ratio, StrategyName(strategy));
  }
  return 0;
}

int RunBenchCreate(const BenchOptions& options) {
  if (options.empty) {
    return InPrivateBenchNamespace([&options](const std::string& base) { return MeasureEmpty(options, base); });
  }
  return InPrivateBenchNamespace([&options](const std::string& base) {
    auto tree = PrepareHost(base, options.host_mounts);
    return tree ? Measure(options, *tree) : ReportError(tree.error());
  });
}

}  // namespace

void AddBenchCommand(CLI::App& app, Runner& runner) {
  CLI::App* bench = app.add_subcommand("bench", "Measure mntns operations (see `mntns bench COMMAND --help`).");
  bench->require_subcommand(1);
  AddBenchLsCommand(*bench, runner);
  AddBenchPolyfillCommand(*bench, runner);
  AddBenchWatchCommand(*bench, runner);
  auto options = std::make_shared<BenchOptions>();
  CLI::App* create = bench->add_subcommand(
      "create", "Create, use (NS_MNT_GET_INFO) and release COUNT namespaces from a small tree, with\n"
                "M extra mounts in the caller's namespace (set up in a private namespace of its own).");
  create->add_option("--host-mounts", options->host_mounts, "M: extra bind mounts in the caller's namespace")
      ->default_str("0");
  create->add_option("--count", options->count, "K: namespaces to create")
      ->check(CLI::PositiveNumber)
      ->default_str("1000");
  create->add_option("--workers", options->workers, "W: threads creating namespaces in parallel")
      ->check(CLI::Range(1U, 256U))
      ->default_str("1");
  create->add_option("--strategy", options->strategy,
                     "auto, native, template, classic, or raw: the bare open_tree(OPEN_TREE_NAMESPACE)\n"
                     "syscall (7.x), the yardstick for native")
      ->check(CLI::IsMember({"auto", "native", "template", "classic", kRawStrategy}))
      ->required();
  create->add_flag("--json", options->json,
                   "Print one JSON object: strategy, host_mounts, count, workers, per_second, p50_us, p99_us");
  create->add_flag("--against-raw", options->against_raw,
                   "Alternate the strategy with the bare open_tree(OPEN_TREE_NAMESPACE) syscall (7.x) in one\n"
                   "run and print both medians and their ratio (one worker; JSON adds raw_p50_us,\n"
                   "raw_p99_us, ratio_to_raw)");
  create->add_flag("--reaper", options->reaper,
                   "Workers hand each fd to one reaper thread that closes it (the kernel's teardown then\n"
                   "waits off the create path); the clock stops when all are closed, latency excludes close");
  create->add_flag("--empty", options->empty,
                   "Empty namespaces (EmptyMountNamespace) instead: one worker, the strategy's median at 0\n"
                   "and at M host mounts and kClassic's at M, side by side (JSON: p50_us_at_0, p50_us,\n"
                   "classic_p50_us, ratio_to_0_mounts, classic_ratio)");
  create->footer(
      "Latency is per namespace: create + NS_MNT_GET_INFO on its fd + close (the close of the last\n"
      "reference pays the kernel's teardown). bench/create.sh runs the comparisons side by side.\n"
      "\n"
      "Examples:\n"
      "  mntns bench create --strategy auto --count 10000\n"
      "  mntns bench create --strategy classic --host-mounts 10000 --count 50\n"
      "  mntns bench create --strategy auto --host-mounts 30000 --count 20000 --workers 2 --json\n"
      "  mntns bench create --strategy native --against-raw --count 5000    (7.x)\n"
      "  mntns bench create --empty --strategy auto --host-mounts 10000 --count 2000");
  create->callback([options, &runner] {
    if (options->empty && (options->against_raw || options->reaper || options->workers != 1 ||
                           options->strategy == kRawStrategy)) {
      throw CLI::ValidationError("--empty", "takes one worker and a library strategy (no raw, --against-raw, --reaper)");
    }
    runner = [options] { return RunBenchCreate(*options); };
  });
}

}  // namespace mntns::cli
