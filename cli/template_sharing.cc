#include "template_sharing.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace mntns::cli {

void ShareTemplateWhenUseful(NamespaceOperation operation, NamespaceStrategy requested) {
  if (::geteuid() != 0) return;
  if (ResolveStrategy(operation, requested) != NamespaceStrategy::kTemplate) return;
  TemplateSharingOptions options;
  const char* idle = std::getenv(kTemplateIdleVariable);
  if (idle != nullptr) {
    unsigned long long seconds = 0;
    const char* end = idle + std::strlen(idle);
    const auto [at, error] = std::from_chars(idle, end, seconds);
    const auto longest = static_cast<unsigned long long>(TemplateSharingOptions::kMaximumIdle.count());
    if (at != end || (error != std::errc() && error != std::errc::result_out_of_range)) {
      fmt::print(stderr, "mntns: {}=\"{}\" is not a number of seconds; template sharing is off\n",
                 kTemplateIdleVariable, idle);
      return;
    }
    if (error == std::errc::result_out_of_range || seconds > longest) {
      fmt::print(stderr, "mntns: {}=\"{}\" is more than {} seconds (a day); template sharing is off\n",
                 kTemplateIdleVariable, idle, longest);
      return;
    }
    if (seconds == 0) return;
    options.idle = std::chrono::seconds(static_cast<long long>(seconds));
  }
  if (auto shared = ShareTemplateNamespace(options); !shared && idle != nullptr) {
    fmt::print(stderr, "mntns: template sharing is off: {}\n", shared.error().Message());
  }
}

}  // namespace mntns::cli
