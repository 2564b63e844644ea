// mntns bench polyfill: what the polyfill costs, side by side in one run.
//  - calls the filter does not trap (getppid) with and without the filter,
//    and under a one-instruction allow-all seccomp filter: the floor of any
//    seccomp-based polyfill on this kernel (a process with a filter leaves the
//    syscall fast path, whatever the filter says);
//  - a trapped open_tree(OPEN_TREE_NAMESPACE) against the library call it is
//    answered with, and against unshare(CLONE_NEWNS) + pivot_root (kClassic),
//    at M host mounts.
// Each filtered side is a child, one that installed the polyfill
// (InstallPolyfill) and one with the allow-all filter; the parent and the
// children take turns, so none runs while another measures.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/host.h"
#include "command.h"
#include "mntns/namespace.h"
#include "mntns/polyfill.h"
#include "mntns/tree.h"

namespace mntns::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned kOpenTreeNamespace = 1U << 1;

struct PolyfillBenchOptions {
  std::size_t host_mounts = 10000;
  std::size_t rounds = 15;
  std::size_t calls = 2000000;  // getppid per round
  std::size_t count = 200;      // namespaces per contender
  std::size_t classic_count = 5;
  bool json = false;
};

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double GetppidRound(std::size_t calls) {
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < calls; ++i) (void)::getppid();
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / static_cast<double>(calls);
}

// Per-namespace microseconds of `make` (create + close), median of `count`.
template <typename Make>
Result<double> NamespaceMedian(std::size_t count, Make make) {
  std::vector<double> us;
  for (std::size_t i = 0; i < count + 2; ++i) {
    const auto t0 = Clock::now();
    auto ns = make();
    if (!ns) return std::unexpected(ns.error());
    ns->Reset();
    if (i >= 2) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return Median(std::move(us));
}

bool WriteAll(int fd, const void* data, std::size_t size) { return ::write(fd, data, size) == static_cast<ssize_t>(size); }
bool ReadAll(int fd, void* data, std::size_t size) { return ::read(fd, data, size) == static_cast<ssize_t>(size); }

// Installs a seccomp filter that allows every call: the kernel caches its
// answer per syscall number, so what remains is the filtered entry path.
int InstallAllowAllFilter() {
  sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  const sock_fprog program{.len = 1, .filter = &allow};
  // Either prctl's errno; the parent reports it as the filter's failure.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) return -errno;
  return 0;
}

enum class Filter { kPolyfill, kAllowAll };

// A child's side: installs its filter, then answers each token from the
// parent with one measurement ('g': a getppid round in ns per call, 't': the
// trapped open_tree median in us, polyfill only; a negative value: the errno
// of a failure).
[[noreturn]] void FilteredSide(Filter filter, int from_parent, int to_parent, const std::string& tree,
                               const PolyfillBenchOptions& options) {
  double failed = 0;
  if (filter == Filter::kAllowAll) {
    failed = InstallAllowAllFilter();
  } else {
    auto installed = InstallPolyfill();
    failed = installed ? (installed->open_tree_namespace ? 0 : -ENOSYS) : -installed.error().code;
  }
  for (char token; ReadAll(from_parent, &token, 1);) {
    double value = failed;
    if (failed == 0 && token == 'g') value = GetppidRound(options.calls);
    if (failed == 0 && token == 't' && filter == Filter::kPolyfill) {
      // The raw call, as an unmodified program makes it: the filter traps it.
      auto median = NamespaceMedian(options.count, [&] {
        return OpenTree(AT_FDCWD, tree, kOpenTreeNamespace | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
      });
      value = median ? *median : -median.error().code;
    }
    if (!WriteAll(to_parent, &value, sizeof value)) break;
  }
  ::_exit(0);
}

// The parent's end of a filtered side.
struct Side {
  pid_t pid = -1;
  int to_child = -1;
  int from_child = -1;

  // One measurement (see FilteredSide); -EPIPE where the child is gone.
  double Ask(char token) const {
    double value = -EPIPE;
    if (!WriteAll(to_child, &token, 1) || !ReadAll(from_child, &value, sizeof value)) return -EPIPE;
    return value;
  }
  // Closing its pipe ends the child's loop.
  void Finish() {
    if (pid < 0) return;
    ::close(to_child);
    ::close(from_child);
    (void)::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

// `started`: the sides started before, whose pipe ends the new child must
// not keep (an end it held open would keep that side from ever seeing EOF).
Result<Side> StartSide(Filter filter, const std::string& tree, const PolyfillBenchOptions& options,
                       std::initializer_list<const Side*> started) {
  int down[2], up[2];
  if (::pipe2(down, O_CLOEXEC) != 0) {
    const int err = errno;
    return MakeError(err, "pipe2");
  }
  if (::pipe2(up, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(down[0]);
    ::close(down[1]);
    return MakeError(err, "pipe2");
  }
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child < 0) {
    const int err = errno;
    for (int fd : {down[0], down[1], up[0], up[1]}) ::close(fd);
    return MakeError(err, "fork", "a filtered side");
  }
  if (child == 0) {
    ::close(down[1]);
    ::close(up[0]);
    for (const Side* side : started) {
      ::close(side->to_child);
      ::close(side->from_child);
    }
    FilteredSide(filter, down[0], up[1], tree, options);
  }
  ::close(down[0]);
  ::close(up[1]);
  return Side{.pid = child, .to_child = down[1], .from_child = up[0]};
}

int Measure(const PolyfillBenchOptions& options, const std::string& base) {
  const std::string host = base + "/host";
  const std::string tree = base + "/tree";
  for (const auto& [dir, source] : {std::pair{host, "mntns-bench-host"}, std::pair{tree, "mntns-bench-tree"}}) {
    if (auto r = MountTmpfs(dir, source); !r) return ReportError(r.error());
  }
  if (auto r = MountTmpfs(tree + "/sub", "mntns-bench-sub"); !r) return ReportError(r.error());
  if (auto r = AddHostMounts(host, options.host_mounts); !r) return ReportError(r.error());

  auto polyfill = StartSide(Filter::kPolyfill, tree, options, {});
  if (!polyfill) return ReportError(polyfill.error());
  auto floor = StartSide(Filter::kAllowAll, tree, options, {&*polyfill});
  if (!floor) {
    polyfill->Finish();
    return ReportError(floor.error());
  }
  auto finish = [&](int status) {
    polyfill->Finish();
    floor->Finish();
    return status;
  };

  std::vector<double> without, with, allow_all;
  for (std::size_t round = 0; round < options.rounds; ++round) {
    without.push_back(GetppidRound(options.calls));
    const double filtered = polyfill->Ask('g');
    if (filtered < 0) {
      return finish(ReportError(MakeError(static_cast<int>(-filtered), "InstallPolyfill", "filtered side").error()));
    }
    with.push_back(filtered);
    const double floored = floor->Ask('g');
    if (floored < 0) {
      const Error error = MakeError(static_cast<int>(-floored), "install the allow-all seccomp filter", "prctl").error();
      return finish(ReportError(error));
    }
    allow_all.push_back(floored);
  }
  const double trapped = polyfill->Ask('t');
  if (trapped < 0) {
    return finish(ReportError(MakeError(static_cast<int>(-trapped), "trapped open_tree", tree).error()));
  }
  auto library = NamespaceMedian(options.count, [&] { return OpenTreeNamespace(AT_FDCWD, tree, AT_RECURSIVE); });
  if (!library) return finish(ReportError(library.error()));
  auto classic = NamespaceMedian(options.classic_count, [&] {
    return OpenTreeNamespace(AT_FDCWD, tree, AT_RECURSIVE, {.strategy = NamespaceStrategy::kClassic});
  });
  if (!classic) return finish(ReportError(classic.error()));

  const double getppid_without = Median(without), getppid_with = Median(with), getppid_floor = Median(allow_all);
  const double getppid_ratio = getppid_with / getppid_without;
  const double floor_ratio = getppid_floor / getppid_without;
  const double to_library = trapped / *library;
  const double classic_ratio = *classic / trapped;
  if (options.json) {
    nlohmann::ordered_json out;
    out["host_mounts"] = options.host_mounts;
    out["getppid_ns_without"] = getppid_without;
    out["getppid_ns_with"] = getppid_with;
    out["getppid_ratio"] = getppid_ratio;
    out["getppid_ns_allow_all"] = getppid_floor;
    out["allow_all_ratio"] = floor_ratio;
    out["polyfill_to_allow_all"] = getppid_with / getppid_floor;
    out["trapped_open_tree_us"] = trapped;
    out["library_open_tree_us"] = *library;
    out["classic_us"] = *classic;
    out["trapped_to_library"] = to_library;
    out["classic_to_trapped"] = classic_ratio;
    fmt::print("{}\n", out.dump());
  } else {
    fmt::print("getppid, {} rounds of {} calls: {:.1f} ns without the polyfill, {:.1f} ns with it: ratio {:.3f} "
               "(target <= 1.05)\n"
               "  under an allow-all seccomp filter (any filter's floor) {:.1f} ns: ratio {:.3f}; "
               "polyfill/allow-all {:.3f}\n",
               options.rounds, options.calls, getppid_without, getppid_with, getppid_ratio, getppid_floor, floor_ratio,
               getppid_with / getppid_floor);
    fmt::print("open_tree(OPEN_TREE_NAMESPACE|AT_RECURSIVE) + close at {} host mounts, medians:\n"
               "  trapped (polyfill)            {:10.1f} us\n"
               "  OpenTreeNamespace (library)   {:10.1f} us   trapped/library {:.2f} (target <= 3)\n"
               "  unshare + pivot_root (classic){:10.1f} us   classic/trapped {:.1f} (target >= 50)\n",
               options.host_mounts, trapped, *library, to_library, *classic, classic_ratio);
  }
  return finish(0);
}

}  // namespace

void AddBenchPolyfillCommand(CLI::App& bench, Runner& runner) {
  auto options = std::make_shared<PolyfillBenchOptions>();
  CLI::App* command = bench.add_subcommand(
      "polyfill", "What `mntns polyfill` costs: untrapped calls with and without the filter, and a trapped\n"
                  "open_tree(OPEN_TREE_NAMESPACE) against the library call and against unshare + pivot_root.");
  command->add_option("--host-mounts", options->host_mounts, "M: extra bind mounts in the caller's namespace")
      ->default_str("10000");
  command->add_option("--rounds", options->rounds, "getppid rounds per side")->check(CLI::PositiveNumber)->default_str("15");
  command->add_option("--count", options->count, "namespaces per contender (classic: 5)")
      ->check(CLI::PositiveNumber)
      ->default_str("200");
  command->add_flag("--json", options->json,
                    "Print one JSON object: getppid_ns_without, getppid_ns_with, getppid_ratio, getppid_ns_allow_all,\n"
                    "allow_all_ratio, polyfill_to_allow_all, trapped_open_tree_us,\n"
                    "library_open_tree_us, classic_us, trapped_to_library, classic_to_trapped");
  command->footer("Needs root and a kernel without OPEN_TREE_NAMESPACE (on 7.x nothing is trapped).\n"
                  "Example:\n  mntns bench polyfill --host-mounts 10000");
  command->callback([options, &runner] {
    runner = [options] { return InPrivateBenchNamespace([&](const std::string& base) { return Measure(*options, base); }); };
  });
}

}  // namespace mntns::cli
