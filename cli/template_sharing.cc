#include "template_sharing.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "mntns/features.h"

namespace mntns::cli {

void ShareTemplateWhenUseful(NamespaceStrategy requested) {
  if (::geteuid() != 0) return;
  const NamespaceStrategy resolved = ResolveStrategy(requested);
  // 7.0 serves auto with the template strategy where FSMOUNT_NAMESPACE (7.1) is missing.
  const bool template_serves = resolved == NamespaceStrategy::kTemplate ||
                               (requested == NamespaceStrategy::kAuto && resolved == NamespaceStrategy::kNative &&
                                !KernelFeatures().fsmount_namespace);
  if (!template_serves) return;
  TemplateSharingOptions options;
  const char* idle = std::getenv(kTemplateIdleVariable);
  if (idle != nullptr) {
    long seconds = 0;
    const char* end = idle + std::strlen(idle);
    if (auto [at, error] = std::from_chars(idle, end, seconds); error != std::errc() || at != end || seconds < 0) {
      fmt::print(stderr, "mntns: {}=\"{}\" is not a number of seconds; template sharing is off\n",
                 kTemplateIdleVariable, idle);
      return;
    }
    if (seconds == 0) return;
    options.idle = std::chrono::seconds(seconds);
  }
  if (auto shared = ShareTemplateNamespace(options); !shared && idle != nullptr) {
    fmt::print(stderr, "mntns: template sharing is off: {}\n", shared.error().Message());
  }
}

}  // namespace mntns::cli
