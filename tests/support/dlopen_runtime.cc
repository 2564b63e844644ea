// A runtime that loads libmntns.so with dlopen() (not linked against it) and
// starts one sandbox: `mntns_dlopen_runtime LIBRARY CMD [ARG...]`, the host's
// /usr bound read-only with /bin, /lib, /lib64 as its symlinks. Exits with
// CMD's status, or 100+ when a step fails. The sandbox's setup process is a
// fresh exec of this program, which must preload the library to take over.
// With MNTNS_TEST_UNLINK_LIBRARY set, LIBRARY is removed once loaded (a
// package upgrade or a temporary copy), so that no preload can find it.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <new>

#include "mntns/sandbox.h"

using namespace mntns;

int main(int argc, char** argv) {
  if (argc < 3) return 100;
  void* library = ::dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", ::dlerror());
    return 101;
  }
  if (std::getenv("MNTNS_TEST_UNLINK_LIBRARY") != nullptr && ::unlink(argv[1]) != 0) return 105;
  // Itanium-ABI names of the two calls (this program links no libmntns code).
  using Start = Result<SandboxProcess> (*)(const SandboxSpec&);
  using Wait = Result<int> (*)(SandboxProcess&, std::span<const int>);
  auto start = reinterpret_cast<Start>(::dlsym(library, "_ZN5mntns12StartSandboxERKNS_11SandboxSpecE"));
  auto wait = reinterpret_cast<Wait>(
      ::dlsym(library, "_ZN5mntns11WaitSandboxERNS_14SandboxProcessESt4spanIKiLm18446744073709551615EE"));
  if (start == nullptr || wait == nullptr) return 102;
  SandboxSpec spec;
  SandboxMount usr;
  usr.kind = SandboxMount::Kind::kBind;
  usr.source = usr.dest = "/usr";
  usr.read_only = true;
  spec.mounts.push_back(usr);
  for (const char* link : {"bin", "lib", "lib64"}) {
    SandboxMount symlink;
    symlink.kind = SandboxMount::Kind::kSymlink;
    symlink.source = std::string("usr/") + link;
    symlink.dest = std::string("/") + link;
    spec.mounts.push_back(symlink);
  }
  for (int i = 2; i < argc; ++i) spec.argv.emplace_back(argv[i]);
  // Never destroyed: its destructor lives in the library, which this
  // program does not link (WaitSandbox reaps the process).
  union Holder {
    Result<SandboxProcess> process;
    Holder() {}
    ~Holder() {}
  } holder;
  new (&holder.process) Result<SandboxProcess>(start(spec));
  if (!holder.process) {
    std::fprintf(stderr, "StartSandbox: %s %s (errno %d)\n", holder.process.error().operation.c_str(),
                 holder.process.error().argument.c_str(), holder.process.error().code);
    return 103;
  }
  auto status = wait(*holder.process, {});
  return status ? *status : 104;
}
