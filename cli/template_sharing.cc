#include "template_sharing.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace mntns::cli {

namespace {

// The idle time MNTNS_TEMPLATE_IDLE asks for: nullopt to turn sharing off
// (0, or not a number: said on stderr), else the default or the value.
std::optional<std::chrono::seconds> IdleTime(bool* explicitly_set) {
  const char* idle = std::getenv(kTemplateIdleVariable);
  *explicitly_set = idle != nullptr;
  if (idle == nullptr) return TemplateSharingOptions{}.idle;
  unsigned long long seconds = 0;
  const char* end = idle + std::strlen(idle);
  const auto [at, error] = std::from_chars(idle, end, seconds);
  const auto longest = static_cast<unsigned long long>(TemplateSharingOptions::kMaximumIdle.count());
  if (at != end || (error != std::errc() && error != std::errc::result_out_of_range)) {
    fmt::print(stderr, "mntns: {}=\"{}\" is not a number of seconds; template sharing is off\n",
               kTemplateIdleVariable, idle);
    return std::nullopt;
  }
  if (error == std::errc::result_out_of_range || seconds > longest) {
    fmt::print(stderr, "mntns: {}=\"{}\" is more than {} seconds (a day); template sharing is off\n",
               kTemplateIdleVariable, idle, longest);
    return std::nullopt;
  }
  if (seconds == 0) return std::nullopt;
  return std::chrono::seconds(static_cast<long long>(seconds));
}

// Whether `path` is a directory of ours that nobody else can write.
bool IsPrivateDirectoryOfOurs(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 022) == 0;
}

}  // namespace

void ShareTemplateWhenUseful(NamespaceOperation operation, NamespaceStrategy requested) {
  if (::geteuid() != 0) return;
  if (ResolveStrategy(operation, requested) != NamespaceStrategy::kTemplate) return;
  bool explicitly_set = false;
  const auto idle = IdleTime(&explicitly_set);
  if (!idle) return;
  TemplateSharingOptions options;
  options.idle = *idle;
  if (auto shared = ShareTemplateNamespace(options); !shared && explicitly_set) {
    fmt::print(stderr, "mntns: template sharing is off: {}\n", shared.error().Message());
  }
}

std::string RootlessKeeperDirectory() {
  // XDG_RUNTIME_DIR only if it is an absolute path to a private directory of
  // ours (the variable is the caller's to set; the keeper's checks hold anyway).
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && runtime[0] == '/' &&
                                                          IsPrivateDirectoryOfOurs(runtime)) {
    return std::string(runtime) + "/mntns";
  }
  if (const std::string user_run = fmt::format("/run/user/{}", ::geteuid()); IsPrivateDirectoryOfOurs(user_run)) {
    return user_run + "/mntns";
  }
  // Anyone may make this name first in a shared /tmp: then the keeper's
  // directory check fails (not ours) and runs take the slow path.
  return fmt::format("/tmp/mntns-{}", ::geteuid());
}

std::optional<TemplateSharingOptions> RootlessKeeperWhenUseful(const SandboxSpec& spec) {
  if (::geteuid() == 0 || !spec.unshare_user) return std::nullopt;
  bool explicitly_set = false;
  const auto idle = IdleTime(&explicitly_set);
  if (!idle) return std::nullopt;
  TemplateSharingOptions options;
  options.directory = RootlessKeeperDirectory();
  options.idle = *idle;
  return options;
}

}  // namespace mntns::cli
