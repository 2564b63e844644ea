// StatmountByFd on an attached mount against one statmount-by-id call, side by side.
// Target: the 6.x emulation (statx + statmount by id) costs at most 2x statmount by id.
// Runs in a private mount namespace of its own (needs root) so that the measured
// mount table is small and the caller's is never touched.
//
//   build/bin/mntns_statmount_by_fd_bench [--benchmark_repetitions=5 ...]
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include <benchmark/benchmark.h>

#include "mntns/features.h"
#include "mntns/query.h"
#include "mntns/tree.h"
// White-box: both StatmountByFd implementations and the bare statmount reader,
// side by side, which no public call can choose (hence under tests/, not bench/).
#include "query/statmount.h"
#include "query/statmount_by_fd.h"

namespace {

constexpr const char* kMountPoint = "/tmp";  // a tmpfs is mounted over it, privately

int g_fd = -1;
std::uint64_t g_id = 0;

// The work the benchmark compares: one mount, every field.
void BM_StatmountById(benchmark::State& state) {
  mntns::internal::StatmountReader reader;
  for (auto _ : state) {
    auto mount = reader.ById(g_id, 0, mntns::field::kAll);
    if (!mount) state.SkipWithError(mount.error().Message().c_str());
    benchmark::DoNotOptimize(mount);
  }
}

void BM_PublicStatmountById(benchmark::State& state) {
  for (auto _ : state) {
    auto mount = mntns::StatmountById(g_id);
    if (!mount) state.SkipWithError(mount.error().Message().c_str());
    benchmark::DoNotOptimize(mount);
  }
}

void BM_EmulatedStatmountByFd(benchmark::State& state) {
  for (auto _ : state) {
    auto mount = mntns::internal::EmulatedStatmountByFd(g_fd, mntns::field::kAll);
    if (!mount) state.SkipWithError(mount.error().Message().c_str());
    benchmark::DoNotOptimize(mount);
  }
}

void BM_NativeStatmountByFd(benchmark::State& state) {
  if (!mntns::KernelFeatures().statmount_by_fd) {
    state.SkipWithError("no STATMOUNT_BY_FD on this kernel (7.0+)");
    return;
  }
  for (auto _ : state) {
    auto mount = mntns::internal::NativeStatmountByFd(g_fd, mntns::field::kAll);
    if (!mount) state.SkipWithError(mount.error().Message().c_str());
    benchmark::DoNotOptimize(mount);
  }
}

BENCHMARK(BM_StatmountById);
BENCHMARK(BM_PublicStatmountById);
BENCHMARK(BM_EmulatedStatmountByFd);
BENCHMARK(BM_NativeStatmountByFd);

// Collects the per-iteration real time of each benchmark (the mean where repeated).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  RatioReporter() : ConsoleReporter(::isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      // Repetitions reported as aggregates only: their mean stands for the runs.
      const bool mean = run.run_type == Run::RT_Aggregate && run.aggregate_name == "mean";
      if (run.run_type != Run::RT_Iteration && !mean) continue;
      auto& [sum, count] = times_[run.run_name.function_name];
      sum += run.GetAdjustedRealTime();
      ++count;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  double Mean(const std::string& name) const {
    auto found = times_.find(name);
    return found == times_.end() || found->second.second == 0
               ? 0
               : found->second.first / found->second.second;
  }

 private:
  std::map<std::string, std::pair<double, int>> times_;
};

// Nothing of the benchmark's reaches the caller's table (STYLE.md rule 10).
mntns::Result<void> PrivateNamespaceWithTmpfs(const char* path) {
  if (auto r = mntns::UnshareMountNamespace(); !r) return r;
  if (auto r = mntns::MountSetattr(AT_FDCWD, "/", AT_RECURSIVE, {.propagation = MS_PRIVATE}); !r) return r;
  auto fs = mntns::FsContext::Open("tmpfs");
  if (!fs) return std::unexpected(fs.error());
  if (auto r = fs->SetString("source", "bench"); !r) return r;
  if (auto r = fs->Create(); !r) return r;
  auto mnt = fs->Mount();
  if (!mnt) return std::unexpected(mnt.error());
  return mntns::MoveMount(mnt->Get(), "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
}

}  // namespace

int main(int argc, char** argv) {
  if (auto ready = PrivateNamespaceWithTmpfs(kMountPoint); !ready) {
    std::fprintf(stderr, "needs root: a private namespace with a tmpfs on %s: %s\n", kMountPoint,
                 ready.error().Message().c_str());
    return 1;
  }
  g_fd = ::open(kMountPoint, O_PATH | O_CLOEXEC);
  auto mount = mntns::StatmountByPath(kMountPoint);
  if (g_fd < 0 || !mount) {
    std::fprintf(stderr, "cannot open or stat %s\n", kMountPoint);
    return 1;
  }
  g_id = mount->id;

  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const double by_id = reporter.Mean("BM_StatmountById");
  const double emulated = reporter.Mean("BM_EmulatedStatmountByFd");
  const double native = reporter.Mean("BM_NativeStatmountByFd");
  if (by_id > 0 && emulated > 0) {
    std::printf("emulated StatmountByFd / statmount by id = %.2fx (target <= 2x) on %s\n",
                emulated / by_id, mntns::KernelFeatures().kernel.c_str());
  }
  if (by_id > 0 && native > 0) {
    std::printf("native   StatmountByFd / statmount by id = %.2fx\n", native / by_id);
  }
  return 0;
}
