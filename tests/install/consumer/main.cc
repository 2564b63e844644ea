// Prints the kernel release and the mount point of "/" through the installed library.
#include <cstdio>

#include <mntns/features.h>
#include <mntns/query.h>
#include <mntns/tree.h>  // installed and self-contained

int main() {
  const mntns::Features& features = mntns::KernelFeatures();
  auto mount = mntns::StatmountByPath("/", {.mask = mntns::field::kMntPoint});
  if (!mount) {
    std::fprintf(stderr, "%s\n", mount.error().Message().c_str());
    return 1;
  }
  std::printf("kernel=%s root=%s\n", features.kernel.c_str(), mount->point.c_str());
  return 0;
}
