// The options that pick a namespace and a backend, shared by `ls` and `stat`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "mntns/query.h"

namespace mntns::cli {

struct TargetOptions {
  std::uint64_t ns_id = 0;
  std::string ns_file;
  pid_t pid = 0;
  Backend backend = Backend::kAuto;

  [[nodiscard]] NamespaceRef Namespace() const;
  // `error` with the option that named the namespace as its outermost
  // context ("ls --pid: open ..."): the library names the path or the pid,
  // the option is the user's word for it. Unchanged for the caller's own.
  [[nodiscard]] Error NameTheOption(Error error, std::string_view command) const;
};

// Adds --ns ID | --ns-file PATH | --pid PID (mutually exclusive) and --backend.
void AddTargetOptions(CLI::App& command, TargetOptions& options);

}  // namespace mntns::cli
