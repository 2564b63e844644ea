// raw_calls (tests/polyfill/raw_calls.c, built in with its main renamed) in
// a process that installed the polyfill itself with the library call
// InstallPolyfill(): the same cases must print the same lines as under
// `mntns polyfill` and as on Linux 7.2.
//   installed_calls MODE                  the cases of raw_calls MODE
//   installed_calls --exec PROGRAM ARG... install, then exec PROGRAM
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "mntns/polyfill.h"

extern "C" int RawCallsMain(int argc, char** argv);


int main(int argc, char** argv) {
  const auto installed = mntns::InstallPolyfill();
  if (!installed) {
    std::fprintf(stderr, "installed_calls: %s\n", installed.error().Message().c_str());
    return 1;
  }
  const mntns::PolyfillCalls needed = mntns::PolyfillNeeded();
  if (installed->open_tree_namespace != needed.open_tree_namespace ||
      installed->fsmount_namespace != needed.fsmount_namespace ||
      installed->statmount_by_fd != needed.statmount_by_fd ||
      installed->empty_mount_namespace != needed.empty_mount_namespace) {
    std::fprintf(stderr, "installed_calls: InstallPolyfill trapped other calls than this kernel lacks\n");
    return 1;
  }
  if (argc >= 3 && std::strcmp(argv[1], "--exec") == 0) {
    ::execv(argv[2], argv + 2);
    std::perror("installed_calls: execv");
    return 127;
  }
  // _exit, not a return: in the sanitizer build LeakSanitizer's check at exit
  // stops the threads with ptrace, which a process that the polyfill's
  // supervisor traces cannot be (a fatal error, exit status 1).
  const int status = RawCallsMain(argc, argv);
  std::fflush(nullptr);
  ::_exit(status);
}
