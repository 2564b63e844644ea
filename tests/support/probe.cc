#include "probe.h"

#include <filesystem>

namespace mntns::testing {

std::string SelfPath() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

std::vector<std::string> ProbeBinds() {
  std::vector<std::string> args;
  for (const char* dir : {"/usr", "/lib", "/lib64", "/bin"}) {
    std::error_code ec;
    const auto status = std::filesystem::symlink_status(dir, ec);
    if (ec) continue;
    if (std::filesystem::is_symlink(status)) {
      args.insert(args.end(), {"--symlink", std::filesystem::read_symlink(dir).string(), dir});
    } else if (std::filesystem::is_directory(status)) {
      args.insert(args.end(), {"--ro-bind", dir, dir});
    }
  }
  args.insert(args.end(), {"--ro-bind", SelfPath(), "/probe"});
  return args;
}

}  // namespace mntns::testing
