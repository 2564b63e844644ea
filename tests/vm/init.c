// PID 1 of the mntns test VM (see tests/vm/README.md). Built with `cc -static` by mntns-vm-run.
//
// Contract with mntns-vm-run:
//   /vm/workload   the commands to run, in order: each argument NUL-terminated, each command
//                  ended by an empty argument. Without it, the kernel command line's words after
//                  "--" (init's argv) are run as one command.
//   /vm/env        optional extra environment, NAME=VALUE entries, each NUL-terminated.
//   /vm/modules    optional kernel modules (.ko, .ko.xz, .ko.zst), one path a line, loaded in
//                  order before the workload.
//   output         every command's stdout and stderr go to /dev/hvc0 (QEMU streams it live).
//   status         the virtio serial port named "status" receives "cmd I STATUS" per command
//                  and then "exit STATUS": 0 when all commands exited 0, else the first failing
//                  command's status (128+N for signal N). No "exit" line means the VM broke.
// Then the VM powers off. Commands run with cwd /tmp/work (tmpfs), MNTNS_IN_VM=1 in their
// environment, stdin on /dev/null, in their own session without a controlling tty.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define WORK_DIR "/tmp/work"

static int out_fd = 2;  // /dev/hvc0 once it is open; the kernel console (ttyS0) until then

static void say(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  (void)!write(out_fd, "mntns-vm-init: ", 15);
  (void)!write(out_fd, buf, n);
}

static void do_mount(const char *src, const char *target, const char *type, unsigned long flags,
                     const char *data) {
  mkdir(target, 0755);
  if (mount(src, target, type, flags, data) != 0) {
    int err = errno;
    say("mount(\"%s\", \"%s\", \"%s\", %#lx, \"%s\"): %s", src, target, type, flags,
        data ? data : "", strerror(err));
  }
}

// The initramfs root ("rootfs") has no parent mount, so pivot_root(2) refuses it (EINVAL) and
// sandbox code under test would fail for a reason real hosts never have. Bind-mounting rootfs
// onto itself and chrooting into that bind mount gives the workload a root that is an ordinary
// mount with a parent, as on a booted system.
static void leave_rootfs(void) {
  if (mkdir("/.vmroot", 0755) != 0 && errno != EEXIST) return;
  if (mount("/", "/.vmroot", NULL, MS_BIND | MS_REC, NULL) != 0 || chdir("/.vmroot") != 0 ||
      mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 || chdir("/") != 0) {
    int err = errno;
    say("cannot move the root off rootfs (pivot_root will fail in the guest): %s",
        strerror(err));
  }
}

static int has_entries(const char *path) {
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  int found = 0;
  while (!found && (e = readdir(d)))
    found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return found;
}

static void mount_basics(void) {
  do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  do_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
  do_mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  // Programs built under /tmp are shipped at their host path: a tmpfs there would hide them.
  // The initramfs root is itself a writable tmpfs, so such a /tmp stays usable.
  if (!has_entries("/tmp")) do_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  chmod("/tmp", 01777);
  if (!has_entries("/run")) do_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  do_mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  symlink("/proc/self/fd", "/dev/fd");
  symlink("/proc/self/fd/0", "/dev/stdin");
  symlink("/proc/self/fd/1", "/dev/stdout");
  symlink("/proc/self/fd/2", "/dev/stderr");
  // systemd makes / recursively shared; do the same so tests see a host-like propagation setup.
  if (mount(NULL, "/", NULL, MS_SHARED | MS_REC, NULL) != 0) say("make-rshared /: %m");
  mkdir(WORK_DIR, 0755);
}

static int open_output(void) {
  // virtio_console is built in and probed before init runs, but allow the node a moment.
  for (int i = 0; i < 50; i++) {
    int fd = open("/dev/hvc0", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
      struct termios t;
      // Raw output: no "\n" -> "\r\n" translation in the host's log.
      if (tcgetattr(fd, &t) == 0) {
        t.c_oflag &= ~OPOST;
        tcsetattr(fd, TCSANOW, &t);
      }
      return fd;
    }
    usleep(20000);
  }
  say("cannot open /dev/hvc0: %m; output goes to the kernel console");
  return -1;
}

// There is no udev, so /dev/virtio-ports/NAME does not exist: find the port by its sysfs name.
static int open_status_port(void) {
  DIR *d = opendir("/sys/class/virtio-ports");
  if (!d) return -1;
  struct dirent *e;
  int fd = -1;
  while ((e = readdir(d)) && fd < 0) {
    if (e->d_name[0] == '.') continue;
    char path[512], name[64] = "";
    snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
    int nfd = open(path, O_RDONLY | O_CLOEXEC);
    if (nfd < 0) continue;
    ssize_t n = read(nfd, name, sizeof name - 1);
    close(nfd);
    if (n <= 0 || strncmp(name, "status\n", 7) != 0) continue;
    snprintf(path, sizeof path, "/dev/%s", e->d_name);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      mkdir("/dev/virtio-ports", 0755);
      symlink(path, "/dev/virtio-ports/status");
    }
  }
  closedir(d);
  return fd;
}

static char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += r;
  }
  close(fd);
  buf[n] = '\0';
  *len = n;
  return buf;
}

static void load_modules(void) {
  size_t len;
  char *list = read_file("/vm/modules", &len);
  if (!list) return;
  for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
    int fd = open(line, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      say("module %s: open: %m", line);
      continue;
    }
    size_t l = strlen(line);
    int compressed = (l > 3 && strcmp(line + l - 3, ".xz") == 0) ||
                     (l > 4 && strcmp(line + l - 4, ".zst") == 0) ||
                     (l > 3 && strcmp(line + l - 3, ".gz") == 0);
    if (syscall(SYS_finit_module, fd, "", compressed ? MODULE_INIT_COMPRESSED_FILE : 0) != 0 &&
        errno != EEXIST)
      say("module %s: finit_module: %m", line);
    close(fd);
  }
  free(list);
}

static void bring_up_loopback(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

// Splits NUL-terminated entries of buf[0..len) into a NULL-terminated vector, starting at
// *pos and stopping after an empty entry (end of one command) or at the end of the buffer.
static char **split_entries(char *buf, size_t len, size_t *pos, int stop_at_empty) {
  size_t cap = 16, n = 0;
  char **v = malloc(cap * sizeof *v);
  while (*pos < len) {
    char *s = buf + *pos;
    size_t l = strnlen(s, len - *pos);
    *pos += l + 1;
    if (l == 0 && stop_at_empty) break;
    if (l == 0) continue;
    if (n + 2 > cap) v = realloc(v, (cap *= 2) * sizeof *v);
    v[n++] = s;
  }
  v[n] = NULL;
  return v;
}

static char **build_env(void) {
  static char *base[] = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=" WORK_DIR,
      "TMPDIR=/tmp",
      "MNTNS_IN_VM=1",
  };
  size_t nbase = sizeof base / sizeof *base, len = 0, pos = 0;
  char *extra_buf = read_file("/vm/env", &len);
  char **extra = extra_buf ? split_entries(extra_buf, len, &pos, 0) : NULL;
  size_t nextra = 0;
  while (extra && extra[nextra]) nextra++;
  char **env = malloc((nbase + nextra + 1) * sizeof *env);
  size_t n = 0;
  for (size_t i = 0; i < nbase; i++) env[n++] = base[i];
  for (size_t i = 0; i < nextra; i++) env[n++] = extra[i];
  env[n] = NULL;
  return env;
}

static int run_command(char **argv, char **envp) {
  pid_t pid = fork();
  if (pid < 0) {
    say("fork: %m");
    return 127;
  }
  if (pid == 0) {
    setsid();
    int in = open("/dev/null", O_RDONLY);
    // Not the controlling tty: when a session leader exits, the kernel hangs up its (non-pty)
    // controlling tty, which would cut off init's own output and any unflushed bytes.
    int out = open("/dev/hvc0", O_WRONLY | O_NOCTTY);
    if (in >= 0) dup2(in, 0);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    if (in > 2) close(in);
    if (out > 2) close(out);
    if (chdir(WORK_DIR) != 0) say("chdir %s: %m", WORK_DIR);
    environ = envp;
    execvp(argv[0], argv);
    int err = errno;
    out_fd = 2;
    say("exec %s: %s", argv[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  // As PID 1 we also inherit every orphan: reap them all until the command itself exits.
  for (;;) {
    int st;
    pid_t w = waitpid(-1, &st, 0);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      say("waitpid: %m");
      return 127;
    }
    if (w != pid) continue;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) {
      say("%s killed by signal %d (%s)", argv[0], WTERMSIG(st), strsignal(WTERMSIG(st)));
      return 128 + WTERMSIG(st);
    }
  }
}

static void write_all(int fd, const char *s) {
  size_t len = strlen(s);
  while (len > 0) {
    ssize_t n = write(fd, s, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s += n;
    len -= n;
  }
}

int main(int argc, char **argv) {
  leave_rootfs();
  mount_basics();
  int hvc = open_output();
  if (hvc >= 0) out_fd = hvc;
  int status_fd = open_status_port();
  if (status_fd < 0) say("no virtio port named \"status\"; the host will see no exit status");
  sethostname("mntns-vm", 8);
  bring_up_loopback();
  load_modules();

  char **envp = build_env();
  size_t len = 0, pos = 0;
  char *workload = read_file("/vm/workload", &len);
  int combined = 0, index = 0;
  char line[64];
  if (!workload && argc < 2) {
    say("no /vm/workload and no command after \"--\" on the kernel command line");
    combined = 127;
  }
  while (workload ? pos < len : index == 0 && argc >= 2) {
    char **cmd = workload ? split_entries(workload, len, &pos, 1) : argv + 1;
    if (!cmd[0]) continue;
    int st = run_command(cmd, envp);
    if (st != 0 && combined == 0) combined = st;
    snprintf(line, sizeof line, "cmd %d %d\n", index++, st);
    if (status_fd >= 0) write_all(status_fd, line);
  }
  // hvc0 output is pushed to the host asynchronously (khvcd); without draining it, the last
  // lines a command printed would be lost when the VM powers off.
  if (hvc >= 0) tcdrain(hvc);
  snprintf(line, sizeof line, "exit %d\n", combined);
  if (status_fd >= 0) {
    write_all(status_fd, line);
    fsync(status_fd);
    close(status_fd);
  }
  sync();
  reboot(RB_POWER_OFF);
  say("reboot(RB_POWER_OFF): %m");
  return combined;
}
