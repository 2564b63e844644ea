// mntns watch: mount events of a namespace as they happen, one line each.
#include <climits>
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.h"
#include "ls_filter.h"
#include "mntns/watch.h"
#include "output/mount_output.h"
#include "target_options.h"

namespace mntns::cli {
namespace {

struct WatchCommandOptions {
  bool json = false;
  bool noheadings = false;
  std::string columns;
  std::uint64_t count = 0;    // 0: no limit
  std::uint64_t timeout = 0;  // seconds; 0: no limit
  MountFilter filter;
  TargetOptions target;
};

constexpr const char* kDefaultColumns = "ID,PARENT,TARGET,FSTYPE,SOURCE,NS_ID";
// The mountinfo backend has old ids only.
constexpr const char* kDefaultMountinfoColumns = "OLD_ID,OLD_PARENT,TARGET,FSTYPE,SOURCE,NS_ID";

void PrintEvent(const MountEvent& event, const std::vector<const Column*>& columns, bool json) {
  if (json) {
    nlohmann::ordered_json line;
    line["event"] = MountEventName(event.type);
    if (event.type != MountEventType::kOverflow) {
      line["id"] = event.id;
      line["mount"] = MountToJson(event.mount);
    }
    std::fputs(line.dump().c_str(), stdout);
    std::fputc('\n', stdout);
  } else {
    std::vector<std::string> cells{std::string(MountEventName(event.type))};
    if (event.type != MountEventType::kOverflow) RenderRows(std::span(&event.mount, 1), columns, cells);
    // A row of its own per event: no column widths to wait for. Raw cells,
    // so that a target with a space stays one cell.
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) line += ' ';
      for (char c : cells[i]) {
        if (c == ' ') {
          line += "\\x20";
        } else {
          line += c;
        }
      }
    }
    line += '\n';
    std::fputs(line.c_str(), stdout);
  }
  // Each event reaches a pipe at once: a script reads it as it happens.
  std::fflush(stdout);
}

int RunWatch(WatchCommandOptions& options) {
  if (!options.filter.mountpoint.empty()) options.filter.mountpoint = NormalPath(options.filter.mountpoint);
  WatchOptions watch;
  // --backend as for ls: listmount reads the table with listmount+statmount
  // and takes fanotify's events; mountinfo polls /proc/PID/mountinfo.
  watch.backend = options.target.backend == Backend::kListmount   ? WatchBackend::kFanotify
                  : options.target.backend == Backend::kMountinfo ? WatchBackend::kMountinfo
                                                                  : WatchBackend::kAuto;
  // The columns' and the filters' fields, as for ls.
  FieldMask mask = field::kMntBasic | options.filter.Mask();
  std::vector<const Column*> columns;
  const bool custom_columns = !options.columns.empty();
  if (options.json) {
    mask |= kJsonMask;
  } else {
    auto parsed = ParseColumns(custom_columns ? options.columns : kDefaultColumns, kDefaultColumns);
    if (!parsed) {
      fmt::print(stderr, "mntns: watch: {}\n", parsed.error().Message());
      return kExitUsage;
    }
    // The mountinfo defaults name the same fields.
    for (const Column* column : *parsed) mask |= column->mask;
    columns = *std::move(parsed);
  }
  watch.mask = mask;
  auto watcher = MountWatcher::Open(options.target.Namespace(), watch);
  if (!watcher) {
    return ReportError(options.target.NameTheOption(watcher.error(), "watch"));
  }
  if (!options.json && !custom_columns && watcher->backend() == WatchBackend::kMountinfo) {
    columns = *ParseColumns(kDefaultMountinfoColumns);
  }
  if (!options.json && !options.noheadings) {
    std::string header = "EVENT";
    for (const Column* column : columns) header += " " + column->name;
    fmt::print("{}\n", header);
    std::fflush(stdout);
  }
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(options.timeout);
  std::uint64_t shown = 0;
  for (;;) {
    int wait = -1;
    if (options.timeout != 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return 0;
      wait = static_cast<int>(std::min<std::int64_t>(left, INT_MAX));
    }
    auto events = watcher->Next(wait);
    if (!events) return ReportError(events.error());
    for (const MountEvent& event : *events) {
      if (event.type != MountEventType::kOverflow && !options.filter.Matches(event.mount, nullptr)) continue;
      PrintEvent(event, columns, options.json);
      if (options.count != 0 && ++shown >= options.count) return 0;
    }
  }
}

}  // namespace

void AddWatchCommand(CLI::App& app, Runner& runner) {
  auto options = std::make_shared<WatchCommandOptions>();
  CLI::App* command = app.add_subcommand("watch", "Print the mount events of a namespace as they happen.");
  command->add_flag("-J,--json", options->json,
                    "One JSON object per line: {\"event\": \"attach\", \"id\": N, \"mount\": {...}} with\n"
                    "the keys of `ls --json` (mask [] for a mount gone before it could be read);\n"
                    "{\"event\": \"overflow\"} when the kernel dropped events");
  std::string column_help = "Columns after EVENT, as for ls (default " + std::string(kDefaultColumns) +
                            ";\nwith the mountinfo backend OLD_ID,OLD_PARENT instead of ID,PARENT)";
  command->add_option("-o,--output", options->columns, column_help);
  command->add_flag("-n,--noheadings", options->noheadings, "No header line");
  AddNumberOption(*command, "--count", 1, std::numeric_limits<std::uint64_t>::max(),
                  [options](std::uint64_t value) { options->count = value; }, "Exit after N events");
  AddNumberOption(*command, "--timeout", 1, 100000000, [options](std::uint64_t value) { options->timeout = value; },
                  "Exit (status 0) after S seconds");
  command->add_option("-t,--types", options->filter.types, "Only events of these filesystem types (as ls -t)");
  command->add_option("-O,--options", options->filter.options, "Only events of mounts with these options (as ls -O)");
  command->add_option("-S,--source", options->filter.source, "Only events of mounts of this source");
  AddPathOption(*command, "-M,--mountpoint", options->filter.mountpoint, "Only events of mounts on this directory");
  AddTargetOptions(*command, options->target);
  command->footer(
      "--backend listmount: fanotify mount events (FAN_REPORT_MNT, 6.15+, CAP_SYS_ADMIN over\n"
      "the namespace), one statmount per event; mountinfo: poll(2) /proc/PID/mountinfo\n"
      "(for --ns-file: the mountinfo a thread sees inside the namespace) and diff it by\n"
      "old id on every change; auto: fanotify where the kernel has it and allows it,\n"
      "else mountinfo.\n"
      "\n"
      "Events: attach, detach, move (within the namespace), change (mountinfo backend:\n"
      "options or propagation changed), overflow (events lost; the table was read again\n"
      "and the differences follow as events). The kernel's fanotify reports no remount.\n"
      "\n"
      "Examples:\n"
      "  mntns watch                         your namespace\n"
      "  mntns watch --pid 1 --json -t tmpfs the initial namespace's tmpfs mounts\n"
      "  mntns watch --count 1 --timeout 5   wait up to 5 s for one event");
  command->callback([options, &runner] { runner = [options] { return RunWatch(*options); }; });
}

}  // namespace mntns::cli
