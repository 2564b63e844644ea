/* What a container runtime does on Linux 7.0+ (crun 1.29 does it): a mount
 * namespace holding only a copy of one tree, in one call, then setns into it.
 * A plain C program that knows nothing of mntns: on 6.x it fails with EINVAL,
 * unless it runs under `mntns polyfill` (make demo shows both).
 *   open_tree_namespace DIR   */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef OPEN_TREE_NAMESPACE
#define OPEN_TREE_NAMESPACE (1 << 1)
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

int main(int argc, char** argv) {
  if (argc != 2) return fprintf(stderr, "usage: %s DIR\n", argv[0]), 2;
  long fd = syscall(428 /* open_tree */, AT_FDCWD, argv[1], OPEN_TREE_NAMESPACE | AT_RECURSIVE | O_CLOEXEC);
  if (fd < 0) {
    printf("open_tree(\"%s\", OPEN_TREE_NAMESPACE|AT_RECURSIVE): %s\n", argv[1], strerror(errno));
    return 1;
  }
  char link[64] = "";
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%ld", fd);
  ssize_t n = readlink(path, link, sizeof link - 1);
  link[n > 0 ? n : 0] = '\0';
  printf("open_tree(\"%s\", OPEN_TREE_NAMESPACE|AT_RECURSIVE) = fd %ld -> %s\n", argv[1], fd, link);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (setns((int)fd, CLONE_NEWNS) != 0) return perror("setns"), 1;
    printf("after setns, \"/\" holds:");
    DIR* root = opendir("/");
    for (struct dirent* entry; root && (entry = readdir(root));) {
      if (entry->d_name[0] != '.') printf(" %s", entry->d_name);
    }
    printf("\n");
    return 0;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
