#include "target_options.h"

#include <map>

namespace mntns::cli {

NamespaceRef TargetOptions::Namespace() const {
  if (ns_id != 0) return NamespaceRef::ById(ns_id);
  if (!ns_file.empty()) return NamespaceRef::ByFile(ns_file);
  if (pid != 0) return NamespaceRef::ByPid(pid);
  return NamespaceRef::Caller();
}

void AddTargetOptions(CLI::App& command, TargetOptions& options) {
  auto* ns = command.add_option("--ns", options.ns_id,
                                "Mount namespace by its 64-bit id (the ns_id that `mntns ls --json` shows;\n"
                                "not the inode number lsns prints)")
                 ->check(CLI::PositiveNumber);
  auto* file = command.add_option("--ns-file", options.ns_file,
                                  "Mount namespace by nsfs file, e.g. /proc/PID/ns/mnt or a pinned bind");
  auto* pid = command.add_option("--pid", options.pid, "Mount namespace of process PID")
                  ->check(CLI::PositiveNumber);
  ns->excludes(file, pid);
  file->excludes(pid);
  const std::map<std::string, Backend> backends{{"auto", Backend::kAuto},
                                                {"listmount", Backend::kListmount},
                                                {"mountinfo", Backend::kMountinfo}};
  command
      .add_option("--backend", options.backend,
                  "auto: listmount+statmount where the kernel has them (6.8+), else mountinfo;\n"
                  "listmount: only listmount+statmount; mountinfo: only /proc/PID/mountinfo\n"
                  "(no unique ids there: id and parent show as - / null)")
      ->transform(CLI::CheckedTransformer(backends, CLI::ignore_case))
      ->option_text("auto|listmount|mountinfo (default: auto)");
}

}  // namespace mntns::cli
