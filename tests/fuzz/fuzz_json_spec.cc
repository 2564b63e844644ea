// `mntns run --json-spec`: any document must be applied or refused (EINVAL
// naming the key), never crash or throw.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "mntns/sandbox.h"
#include "run_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mntns::SandboxSpec spec;
  auto applied = mntns::cli::ApplyJsonSpec(text, "fuzz.json", spec);
  if (!applied && applied.error().code != EINVAL) std::abort();
  return 0;
}
