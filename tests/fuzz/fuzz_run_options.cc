// `mntns run` options: the input is the argument vector, NUL-separated. The
// parser must give a spec or a usage error, never crash; a spec it gives
// must pass ValidateSandboxSpec or fail it with EINVAL. --json-spec FILE is
// left out (it reads the filesystem; fuzz_json_spec covers the document).
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "mntns/sandbox.h"
#include "run_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args;
  std::string current;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (!current.empty()) args.push_back(std::move(current));
  for (const std::string& arg : args) {
    if (arg.starts_with("--json")) return 0;
  }
  auto spec = mntns::cli::ParseRunArguments(args);
  if (!spec) {
    if (spec.error().code == 0 || spec.error().Message().empty()) std::abort();
    return 0;
  }
  if (auto valid = mntns::ValidateSandboxSpec(*spec); !valid && valid.error().code != EINVAL) std::abort();
  return 0;
}
