// A statically linked program for `mntns new --empty -- CMD`: nothing can be
// loaded from a path in an empty namespace, so the tests' other commands
// (dynamically linked) cannot run there. Prints what it finds and exits 0
// when it is alone at "/": "mounts N cwd PATH root-entries M".
#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>

int main() {
  // struct mnt_id_req, version 0: size, spare, mnt_id (LSMT_ROOT), param.
  struct {
    std::uint32_t size;
    std::uint32_t spare;
    std::uint64_t mnt_id;
    std::uint64_t param;
  } request{24, 0, ~std::uint64_t{0}, 0};
  std::uint64_t ids[16];
  const long mounts = ::syscall(458 /* listmount */, &request, ids, 16, 0);
  char cwd[256] = "?";
  if (::getcwd(cwd, sizeof cwd) == nullptr) cwd[0] = '?';
  int entries = 0;
  if (DIR* root = ::opendir("/")) {
    while (const dirent* entry = ::readdir(root)) entries += entry->d_name[0] != '.';
    ::closedir(root);
  }
  std::printf("mounts %ld cwd %s root-entries %d\n", mounts, cwd, entries);
  return mounts == 1 && cwd[0] == '/' && cwd[1] == '\0' && entries == 0 ? 0 : 1;
}
