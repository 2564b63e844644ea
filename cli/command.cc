#include "command.h"

#include <cstdio>

#include <fmt/format.h>

namespace mntns::cli {

int ReportError(const Error& error) {
  fmt::print(stderr, "mntns: {}\n", error.Message());
  return kExitFailure;
}

}  // namespace mntns::cli
