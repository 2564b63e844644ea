// `mntns run` and `mntns new` make one namespace per process: on 6.x they
// share the template strategy's template through a keeper process.
#pragma once

#include "mntns/namespace.h"

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

// The help text paragraph describing the above.
inline constexpr const char* kTemplateSharingHelp =
    "On 6.x (template strategy), root shares one template namespace between mntns processes:\n"
    "a keeper process \"mntns-template\" (record in /run/mntns) holds it and exits after\n"
    "MNTNS_TEMPLATE_IDLE seconds without use (default 10, at most 86400; 0: each process copies\n"
    "your mount table).";

}  // namespace mntns::cli
