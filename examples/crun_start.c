/* crun_start: what crun 1.29 does to start a container, with the mntns C API.
 *
 *   crun_start [-s STRATEGY] [-b SRC:DEST]... [-r SRC:DEST]... [-d NAME]... [-p] ROOTFS -- CMD [ARG...]
 *
 * -b / -r   bind SRC (recursively; -r read-only) on DEST inside
 * -d NAME   the host's /dev/NAME as /dev/NAME inside (null, zero, tty, ...)
 * -p        a fresh proc on /proc
 * -s        auto (default), native, template or classic
 *
 * Every mount is opened as an fd first, in the caller's namespace: bind
 * sources with open_tree(OPEN_TREE_CLONE), device nodes the same way, proc
 * with fsopen/fsmount. Only then is the namespace made from ROOTFS in one
 * call (open_tree(OPEN_TREE_NAMESPACE) on 7.0+, emulated before), entered by
 * a child, and everything attached by fd with move_mount: after setns no
 * path of the host is reachable, so none is ever looked up there again (the
 * mistake that turned crun's host "/" bind into the container's own rootfs,
 * and its /dev/null into a regular file). ROOTFS gets the missing mount
 * points (directories, or empty files for device nodes), as crun makes them.
 * Exit status: CMD's (128+N if killed by signal N), 125 when setup failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mntns/mntns.h>

#define MAX_MOUNTS 64

struct prepared_mount {
  int fd;               /* the detached mount, opened before entering */
  const char *dest;     /* inside the container */
  int is_directory;     /* the mount point to create: a directory, else a file */
};

static struct prepared_mount mounts[MAX_MOUNTS];
static size_t mount_count;
static char device_paths[MAX_MOUNTS][128];

static int fail(const char *what, int rc, struct mntns_error *error) {
  if (error != NULL) {
    fprintf(stderr, "crun_start: %s: %s\n", what, mntns_error_message(error));
    mntns_error_free(error);
  } else {
    fprintf(stderr, "crun_start: %s: %s\n", what, strerror(-rc));
  }
  return 125;
}

static int add(int fd, const char *dest, int is_directory) {
  if (mount_count == MAX_MOUNTS) return -E2BIG;
  mounts[mount_count].fd = fd;
  mounts[mount_count].dest = dest;
  mounts[mount_count].is_directory = is_directory;
  mount_count++;
  return 0;
}

/* SRC:DEST, recursively, read-only when asked. */
static int prepare_bind(char *spec, int read_only, struct mntns_error **error) {
  char *colon = strchr(spec, ':');
  if (colon == NULL || colon[1] != '/') {
    fprintf(stderr, "crun_start: bind %s: want SRC:/DEST\n", spec);
    return -EINVAL;
  }
  *colon = '\0';
  int fd = mntns_open_tree(AT_FDCWD, spec, OPEN_TREE_CLONE | AT_RECURSIVE, error);
  if (fd < 0) return fd;
  if (read_only) {
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
      int saved = errno;
      close(fd);
      fprintf(stderr, "crun_start: mount_setattr \"%s\": %s\n", spec, strerror(saved));
      return -saved;
    }
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int saved = errno;
    close(fd);
    return -saved;
  }
  int rc = add(fd, colon + 1, S_ISDIR(st.st_mode));
  if (rc < 0) close(fd);
  return rc;
}

/* A device node of the host, cloned as a one-file mount. */
static int prepare_device(const char *name, struct mntns_error **error) {
  if (strchr(name, '/') != NULL || mount_count == MAX_MOUNTS) return -EINVAL;
  snprintf(device_paths[mount_count], sizeof device_paths[0], "/dev/%s", name);
  int fd = mntns_open_tree(AT_FDCWD, device_paths[mount_count], OPEN_TREE_CLONE, error);
  if (fd < 0) return fd;
  int rc = add(fd, device_paths[mount_count], 0);
  if (rc < 0) close(fd);
  return rc;
}

/* A fresh proc, made (detached) in the caller's namespace. */
static int prepare_proc(void) {
  int fs = fsopen("proc", FSOPEN_CLOEXEC);
  if (fs < 0) return -errno;
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    int saved = errno;
    close(fs);
    return -saved;
  }
  int fd = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  int saved = errno;
  close(fs);
  if (fd < 0) return -saved;
  int rc = add(fd, "/proc", 1);
  if (rc < 0) close(fd);
  return rc;
}

/* mkdir -p for the mount point `path` inside (we are in the container). */
static int make_mount_point(const char *path, int is_directory) {
  char buffer[4096];
  if (strlen(path) >= sizeof buffer) return -ENAMETOOLONG;
  strcpy(buffer, path);
  for (char *slash = strchr(buffer + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    if (mkdir(buffer, 0755) < 0 && errno != EEXIST) return -errno;
    *slash = '/';
  }
  if (is_directory) {
    if (mkdir(buffer, 0755) < 0 && errno != EEXIST) return -errno;
    return 0;
  }
  int fd = open(buffer, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return errno == EISDIR ? -EISDIR : -errno;
  close(fd);
  return 0;
}

/* The container's first process: enter, attach, exec. Never returns. */
static void container_init(int ns, char **argv) {
  struct mntns_error *error = NULL;
  int entered = mntns_enter_namespace(ns, &error);
  if (entered < 0) _exit(fail("enter the namespace", entered, error));
  for (size_t i = 0; i < mount_count; i++) {
    int rc = make_mount_point(mounts[i].dest, mounts[i].is_directory);
    if (rc < 0) {
      fprintf(stderr, "crun_start: mount point \"%s\": %s\n", mounts[i].dest, strerror(-rc));
      _exit(125);
    }
    rc = mntns_move_mount(mounts[i].fd, "", AT_FDCWD, mounts[i].dest, MOVE_MOUNT_F_EMPTY_PATH, &error);
    if (rc < 0) _exit(fail("attach", rc, error));
    close(mounts[i].fd);
  }
  close(ns);
  execvp(argv[0], argv);
  fprintf(stderr, "crun_start: exec \"%s\": %s\n", argv[0], strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

int main(int argc, char **argv) {
  struct mntns_error *error = NULL;
  int strategy = MNTNS_STRATEGY_AUTO;
  int opt;
  int rc;
  while ((opt = getopt(argc, argv, "+s:b:r:d:p")) != -1) {
    switch (opt) {
      case 's':
        strategy = mntns_parse_strategy(optarg);
        if (strategy < 0) {
          fprintf(stderr, "crun_start: -s %s: not auto, native, template or classic\n", optarg);
          return 125;
        }
        break;
      case 'b':
      case 'r':
        if ((rc = prepare_bind(optarg, opt == 'r', &error)) < 0) return fail("bind source", rc, error);
        break;
      case 'd':
        if ((rc = prepare_device(optarg, &error)) < 0) return fail("device", rc, error);
        break;
      case 'p':
        if ((rc = prepare_proc()) < 0) return fail("proc", rc, NULL);
        break;
      default:
        fprintf(stderr, "usage: crun_start [-s STRATEGY] [-b SRC:DEST]... [-r SRC:DEST]... [-d NAME]... [-p] "
                        "ROOTFS -- CMD [ARG...]\n");
        return 125;
    }
  }
  int command = optind + 1;
  if (command < argc && strcmp(argv[command], "--") == 0) command++;
  if (optind >= argc || command >= argc) {
    fprintf(stderr, "crun_start: want ROOTFS -- CMD [ARG...] (see the usage at the top of crun_start.c)\n");
    return 125;
  }
  const char *rootfs = argv[optind];

  int ns = mntns_open_tree_namespace(AT_FDCWD, rootfs, AT_RECURSIVE, strategy, &error);
  if (ns < 0) return fail("make the namespace", ns, error);
  /* Say which path was taken, as a runtime should. */
  fprintf(stderr, "crun_start: namespace of \"%s\" by the %s strategy, %zu mounts to attach\n", rootfs,
          mntns_strategy_name(mntns_resolve_strategy(MNTNS_OPERATION_OPEN_TREE_NAMESPACE, strategy)), mount_count);

  /* setns(CLONE_NEWNS) needs a thread that shares its fs_struct with no
   * other: a freshly forked child, like crun's container init. */
  pid_t child = fork();
  if (child < 0) return fail("fork", -errno, NULL);
  if (child == 0) container_init(ns, argv + command);
  close(ns);
  for (size_t i = 0; i < mount_count; i++) close(mounts[i].fd);

  int status;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return fail("waitpid", -errno, NULL);
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
