#include "target_options.h"

#include <cctype>
#include <climits>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "command.h"

namespace mntns::cli {

NamespaceRef TargetOptions::Namespace() const {
  if (ns_id != 0) return NamespaceRef::ById(ns_id);
  if (!ns_file.empty()) return NamespaceRef::ByFile(ns_file);
  if (pid != 0) return NamespaceRef::ByPid(pid);
  return NamespaceRef::Caller();
}

Error TargetOptions::NameTheOption(Error error, std::string_view command) const {
  if (ns_id != 0) error.Wrap(fmt::format("{} --ns", command));
  if (!ns_file.empty()) error.Wrap(fmt::format("{} --ns-file", command));
  if (pid != 0) error.Wrap(fmt::format("{} --pid", command));
  return error;
}

void AddTargetOptions(CLI::App& command, TargetOptions& options) {
  auto* ns = AddNumberOption(command, "--ns", 1, std::numeric_limits<std::uint64_t>::max(),
                             [&options](std::uint64_t id) { options.ns_id = id; },
                             "Mount namespace by its 64-bit id (the ns_id that `mntns ls --json` shows;\n"
                             "not the inode number lsns prints)");
  auto* file = AddPathOption(command, "--ns-file", options.ns_file,
                             "Mount namespace by nsfs file, e.g. /proc/PID/ns/mnt or a pinned bind");
  auto* pid = AddNumberOption(command, "--pid", 1, INT_MAX,
                              [&options](std::uint64_t value) { options.pid = static_cast<pid_t>(value); },
                              "Mount namespace of process PID");
  ns->excludes(file, pid);
  file->excludes(pid);
  command.add_option_function<std::string>(
             "--backend",
             [&options](const std::string& given) {
               std::string name = given;  // case-insensitive, as before
               for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
               if (name == "auto") {
                 options.backend = Backend::kAuto;
               } else if (name == "listmount") {
                 options.backend = Backend::kListmount;
               } else if (name == "mountinfo") {
                 options.backend = Backend::kMountinfo;
               } else {
                 throw CLI::ValidationError("--backend",
                                            QuotePath(given) + " is not one of auto|listmount|mountinfo");
               }
             },
             "auto: listmount+statmount where the kernel has them (6.8+), else mountinfo;\n"
             "listmount: only listmount+statmount; mountinfo: only /proc/PID/mountinfo\n"
             "(no unique ids there: id and parent show as - / null)")
      ->type_name("auto|listmount|mountinfo (default: auto)");
}

}  // namespace mntns::cli
