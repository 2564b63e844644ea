// The sandbox spec model: validation and the option text used in errors.
#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include <fmt/format.h>

#include "mntns/sandbox.h"
#include "sandbox/internal.h"
#include "sys/files.h"
#include "sys/syscalls.h"

namespace mntns {
namespace internal {

std::string DescribeSandboxMount(const SandboxMount& mount) {
  using Kind = SandboxMount::Kind;
  switch (mount.kind) {
    case Kind::kBind: {
      std::string option = mount.allow_devices ? "--dev-bind" : mount.read_only ? "--ro-bind" : "--bind";
      if (mount.optional) option += "-try";
      return fmt::format("{} {} {}", option, mount.source, mount.dest);
    }
    case Kind::kTmpfs:
      return fmt::format("--tmpfs {}", mount.dest);
    case Kind::kProc:
      return fmt::format("--proc {}", mount.dest);
    case Kind::kDev:
      return fmt::format("--dev {}", mount.dest);
    case Kind::kDir:
      return fmt::format("--dir {}", mount.dest);
    case Kind::kSymlink:
      return fmt::format("--symlink {} {}", mount.source, mount.dest);
    case Kind::kRemountRo:
      return fmt::format("--remount-ro {}", mount.dest);
    case Kind::kOverlay:
      switch (mount.overlay_upper) {
        case SandboxMount::OverlayUpper::kDirectory:
          return fmt::format("--overlay {} {} {}", mount.source, mount.workdir, mount.dest);
        case SandboxMount::OverlayUpper::kTmpfs:
          return fmt::format("--tmp-overlay {}", mount.dest);
        case SandboxMount::OverlayUpper::kNone:
          return fmt::format("--ro-overlay {}", mount.dest);
      }
      break;
    case Kind::kMqueue:
      return fmt::format("--mqueue {}", mount.dest);
    case Kind::kChmod:
      return fmt::format("--chmod {:o} {}", mount.perms.value_or(0), mount.dest);
    case Kind::kFile:
      return fmt::format("--file {}", mount.dest);
    case Kind::kBindData:
      return fmt::format("--{}bind-data {}", mount.read_only ? "ro-" : "", mount.dest);
    case Kind::kBindFd:
      return fmt::format("--{}bind-fd {} {}", mount.read_only ? "ro-" : "", mount.fd, mount.dest);
  }
  return mount.dest;
}

Error ForStep(Error error, const SandboxMount& mount) {
  std::string step = DescribeSandboxMount(mount);
  if (error.operation == step) return error;  // a check of the step itself names it already
  error.Wrap(std::move(step));
  return error;
}

}  // namespace internal

NamespaceOperation SandboxOperation(const SandboxSpec& spec) {
  return spec.root.empty() ? NamespaceOperation::kFsmountNamespace : NamespaceOperation::kOpenTreeNamespace;
}

Result<void> ValidateSandboxSpec(const SandboxSpec& spec) {
  const auto invalid = [](std::string what) { return MakeError(EINVAL, "sandbox spec", std::move(what)); };
  if (spec.argv.empty()) return invalid("no command to run");
  if (!spec.hostname.empty() && !spec.unshare_uts) return invalid("--hostname needs --unshare-uts");
  if ((spec.uid || spec.gid) && !spec.unshare_user && spec.userns_fd < 0) {
    return invalid("--uid/--gid need --unshare-user or --userns");
  }
  if (spec.userns_fd >= 0 && spec.unshare_user) return invalid("--userns and --unshare-user cannot be combined");
  if (spec.userns_block_fd >= 0 && !spec.unshare_user) return invalid("--userns-block-fd needs --unshare-user");
  if (spec.userns_block_fd >= 0 && spec.disable_userns) {
    return invalid("--userns-block-fd and --disable-userns cannot be combined");
  }
  for (const std::string* label : {&spec.exec_label, &spec.file_label}) {
    if (label->find('\0') != std::string::npos) return invalid("an SELinux label holds a NUL byte");
  }
  if (spec.as_pid_1 && !spec.unshare_pid) return invalid("--as-pid-1 needs --unshare-pid");
  if (spec.as_pid_1 && !spec.lock_files.empty()) return invalid("--as-pid-1 and --lock-file cannot be combined");
  if (spec.disable_userns && !spec.unshare_user) return invalid("--disable-userns needs --unshare-user");
  if (!spec.argv0.empty() && spec.argv0.find('\0') != std::string::npos) return invalid("--argv0 holds a NUL byte");
  for (const std::string& program : spec.seccomp_programs) {
    // struct sock_filter is 8 bytes; sock_fprog counts them in 16 bits.
    if (program.empty() || program.size() % 8 != 0 || program.size() / 8 > 0xffff) {
      return invalid(fmt::format("a seccomp program of {} bytes (a multiple of 8, from 8 to {})", program.size(),
                                 8 * 0xffff));
    }
  }
  for (const std::string& lock : spec.lock_files) {
    if (lock.empty() || lock[0] != '/') return invalid(fmt::format("--lock-file {}: must be absolute", QuotePath(lock)));
  }
  for (const SandboxMount& mount : spec.mounts) {
    const std::string step = internal::DescribeSandboxMount(mount);
    if (mount.dest.empty() || mount.dest[0] != '/') {
      return invalid(fmt::format("{}: DEST must be an absolute path inside the sandbox", step));
    }
    // DEST "/" mounts over the sandbox's root, as with bwrap (`--bind / /`);
    // what cannot stand there is a directory entry of its own.
    if (mount.dest.find_first_not_of('/') == std::string::npos &&
        (mount.kind == SandboxMount::Kind::kSymlink || mount.kind == SandboxMount::Kind::kFile ||
         mount.kind == SandboxMount::Kind::kBindData)) {
      return invalid(fmt::format("{}: DEST \"/\" is the sandbox root, not a file", step));
    }
    if (mount.kind == SandboxMount::Kind::kChmod && !mount.perms) {
      return invalid(fmt::format("{}: no mode", step));
    }
    if (mount.kind == SandboxMount::Kind::kBindFd && mount.fd < 0) {
      return invalid(fmt::format("{}: not an fd", step));
    }
    if (mount.data.size() > kSandboxDataMaxBytes) {
      return invalid(fmt::format("{}: more than {} bytes", step, kSandboxDataMaxBytes));
    }
    if (mount.kind == SandboxMount::Kind::kOverlay) {
      if (mount.layers.empty()) return invalid(fmt::format("{}: no --overlay-src before it", step));
      if (mount.overlay_upper == SandboxMount::OverlayUpper::kNone && mount.layers.size() < 2) {
        return invalid(fmt::format("{}: a read-only overlay needs at least two --overlay-src", step));
      }
    }
    if (mount.kind == SandboxMount::Kind::kBind && mount.source.empty()) {
      return invalid(fmt::format("{}: empty SRC", step));
    }
  }
  for (const SandboxEnvChange& change : spec.env) {
    if (change.kind == SandboxEnvChange::Kind::kClear) continue;
    const std::string step = change.kind == SandboxEnvChange::Kind::kSet
                                 ? fmt::format("--setenv {} {}", QuotePath(change.name), QuotePath(change.value))
                                 : fmt::format("--unsetenv {}", QuotePath(change.name));
    // An environment entry is one C string split at its first '=': a name with
    // '=' or NUL in it would set another variable than the one asked for
    // (`A=B` `C` becomes A with the value "B=C"). bwrap's setenv(3) refuses it too.
    if (change.name.empty() || change.name.find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
      return invalid(fmt::format("{}: VAR must not be empty or contain '='", step));
    }
    if (change.value.find('\0') != std::string::npos) {
      return invalid(fmt::format("{}: VALUE must not contain a NUL byte", step));
    }
  }
  return kOk;
}

Result<void> CheckSandboxLabel(const std::string& label) {
  // libselinux's is_selinux_enabled(): selinuxfs mounted where the kernel
  // mounts it. Without it no attr/exec or context= means anything.
  constexpr long kSelinuxMagic = 0xf97cff8c;
  auto fs = sys::Statfs("/sys/fs/selinux");
  // ENOENT: no such directory (no sysfs, or no SELinux in the kernel); any
  // other failure is the system's, not a missing SELinux.
  if (!fs && fs.error().code != ENOENT) return std::unexpected(fs.error());
  if (!fs || static_cast<long>(fs->f_type) != kSelinuxMagic) {
    return MakeError(ENOTSUP, "SELinux label", fmt::format("{}: labeling not supported on this system (SELinux is not "
                                                            "enabled: no selinuxfs on /sys/fs/selinux)",
                                                            QuotePath(label)));
  }
  // The policy's own check (security_check_context): the kernel parses the
  // context written to selinuxfs' "context" file and refuses (EINVAL) an invalid one.
  auto file = sys::Open(AT_FDCWD, "/sys/fs/selinux/context", O_RDWR);
  if (!file) {
    file.error().argument += " (to check an SELinux label)";
    return std::unexpected(file.error());
  }
  // The context with its NUL, as libselinux writes it.
  if (auto r = sys::WriteAll(file->Get(), std::string_view(label.c_str(), label.size() + 1), "selinuxfs context");
      !r) {
    return MakeError(r.error().code, "SELinux label", fmt::format("{}: refused by the policy", QuotePath(label)));
  }
  return kOk;
}

}  // namespace mntns
