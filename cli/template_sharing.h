// `mntns run` and `mntns new` make one namespace per process: on 6.x they
// share the template strategy's template through a keeper process.
#pragma once

#include <optional>
#include <string>

#include "mntns/namespace.h"
#include "mntns/sandbox.h"

namespace mntns::cli {

// The environment variable that sets the keeper's idle time in seconds
// (default 10, at most 86400); 0 turns sharing off, and so does anything else
// (with a message).
inline constexpr const char* kTemplateIdleVariable = "MNTNS_TEMPLATE_IDLE";

// Calls ShareTemplateNamespace() when `operation` with `requested` will be
// served by the template strategy and we are root. Sharing is an optimization: a failure
// only costs speed, so it is reported (on stderr) only when the user set
// MNTNS_TEMPLATE_IDLE explicitly.
void ShareTemplateWhenUseful(NamespaceOperation operation, NamespaceStrategy requested);

// Where an unprivileged user's keeper keeps its record: $XDG_RUNTIME_DIR/mntns
// when that is a private directory of ours, else /run/user/UID/mntns when
// that one is, else /tmp/mntns-UID.
[[nodiscard]] std::string RootlessKeeperDirectory();

// SandboxSpec::rootless_keeper for `spec` run by this process: set when not
// root and with unshare_user, unless MNTNS_TEMPLATE_IDLE turns sharing off.
[[nodiscard]] std::optional<TemplateSharingOptions> RootlessKeeperWhenUseful(const SandboxSpec& spec);

// The help text paragraph describing the above.
inline constexpr const char* kTemplateSharingHelp =
    "On 6.x (template strategy), root shares one template namespace between mntns processes:\n"
    "a keeper process \"mntns-template\" (record in /run/mntns) holds it and exits after\n"
    "MNTNS_TEMPLATE_IDLE seconds without use (default 10, at most 86400; 0: each process copies\n"
    "your mount table).\n"
    "Unprivileged runs with --unshare-user share a per-user keeper the same way (record in\n"
    "$XDG_RUNTIME_DIR/mntns, else /run/user/UID/mntns, else /tmp/mntns-UID): it holds a user\n"
    "namespace, a copy of your mount table taken when it started, and a template; runs whose\n"
    "bind sources look different there, or whose CMD keeps capabilities, copy your table.";

}  // namespace mntns::cli
