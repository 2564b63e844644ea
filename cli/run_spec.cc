#include "run_spec.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "mntns/fd.h"

namespace mntns::cli {
namespace {

using Kind = SandboxMount::Kind;
using Json = nlohmann::json;

// setresuid/setresgid and the id maps read (uid_t)-1 as "no id".
constexpr std::uint64_t kMaxId = 4294967294;
constexpr std::uint64_t kMaxMode = 07777;

std::unexpected<Error> Usage(std::string what) { return MakeError(EINVAL, "mntns run", std::move(what)); }

// `text` as digits of `base` only (no sign, space or prefix: from_chars takes
// none) from 0 to `max`. Past `max`, also past 2^64-1, the error says
// `out_of_range` ("out of range (0 to 4294967294)"), naming the option and the value.
Result<std::uint64_t> ParseNumber(std::string_view option, const std::string& text, int base, std::uint64_t max,
                                  std::string_view out_of_range) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  const bool digits_only = !text.empty() && end == text.data() + text.size();
  if (digits_only && (ec == std::errc::result_out_of_range || (ec == std::errc() && value > max))) {
    return Usage(fmt::format("{} {}: {}", option, text, out_of_range));
  }
  if (ec != std::errc() || !digits_only) {
    return Usage(fmt::format("{} \"{}\": not a{} number", option, text, base == 8 ? "n octal" : " decimal"));
  }
  return value;
}

Result<std::uint64_t> ParseUnsigned(std::string_view option, const std::string& text, std::uint64_t max) {
  return ParseNumber(option, text, 10, max, fmt::format("out of range (0 to {})", max));
}

// The one rule for a mode, from --perms or a JSON "perms": octal digits only
// ("700", "0700", "1777"), at most 07777.
Result<mode_t> ParseMode(std::string_view where, const std::string& text) {
  auto mode = ParseNumber(where, text, 8, kMaxMode, "not a mode (at most 07777)");
  if (!mode) return std::unexpected(mode.error());
  return static_cast<mode_t>(*mode);
}

// Why `text` is no value of `kind` (a path, a hostname), or nullopt. "" is
// what an unset field holds: `--root ''` ran on an empty tmpfs, `--chdir ''`
// in your directory.
std::optional<std::string> TextProblem(RunValueKind kind, const std::string& text) {
  if (kind == RunValueKind::kPath && text.empty()) return "the path is empty";
  if (kind == RunValueKind::kHostname) {
    if (text.empty()) return "the name is empty";
    // sethostname(2) fails with EINVAL past it, after the sandbox was set up.
    if (text.size() > HOST_NAME_MAX) return fmt::format("longer than {} bytes (HOST_NAME_MAX)", HOST_NAME_MAX);
  }
  return std::nullopt;
}

// The kernel's capability names (include/uapi/linux/capability.h), by number.
constexpr std::string_view kCapabilityNames[] = {
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
    "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
    "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
    "checkpoint_restore"};

// "ALL" (every bit) or one capability: CAP_CHOWN, cap_chown, chown.
std::optional<std::uint64_t> CapabilityBits(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "all") return UINT64_MAX;
  std::string_view name = lower;
  if (name.starts_with("cap_")) name.remove_prefix(4);
  for (std::size_t i = 0; i < std::size(kCapabilityNames); ++i) {
    if (kCapabilityNames[i] == name) return std::uint64_t{1} << i;
  }
  return std::nullopt;
}

// A value from the command line, checked by its kind.
Result<RunArgument> ReadArgument(std::string_view option, const RunValue& value, const std::string& text) {
  RunArgument argument;
  argument.text = text;
  switch (value.kind) {
    case RunValueKind::kText:
      break;
    case RunValueKind::kPath:
    case RunValueKind::kHostname:
      if (auto why = TextProblem(value.kind, text)) {
        return Usage(fmt::format("{} {}: {}", option, QuotePath(text), *why));
      }
      break;
    case RunValueKind::kId:
    case RunValueKind::kBytes: {
      auto number = ParseUnsigned(option, text, value.kind == RunValueKind::kId ? kMaxId : UINT64_MAX);
      if (!number) return std::unexpected(number.error());
      argument.number = *number;
      break;
    }
    case RunValueKind::kMode: {
      auto mode = ParseMode(option, text);
      if (!mode) return std::unexpected(mode.error());
      argument.number = *mode;
      break;
    }
    case RunValueKind::kStrategy: {
      auto strategy = ParseStrategy(text);
      if (!strategy) return Usage(fmt::format("{} {}", option, strategy.error().argument));
      argument.strategy = *strategy;
      break;
    }
    case RunValueKind::kFd: {
      auto number = ParseUnsigned(option, text, INT_MAX);
      if (!number) return std::unexpected(number.error());
      argument.number = *number;
      break;
    }
    case RunValueKind::kCapability: {
      auto bits = CapabilityBits(text);
      if (!bits) return Usage(fmt::format("unknown cap: {}", text));
      argument.number = *bits;
      break;
    }
  }
  return argument;
}

// ---- what each option does ------------------------------------------------------

// A step with its kind and paths; the other fields keep their defaults.
SandboxMount Step(Kind kind, std::string dest, std::string source = {}) {
  SandboxMount mount;
  mount.kind = kind;
  mount.dest = std::move(dest);
  mount.source = std::move(source);
  return mount;
}

const std::string& Text(const RunOccurrence& occurrence, std::size_t index) { return occurrence.values.at(index).text; }

Result<void> AddStep(RunState& state, SandboxMount mount) {
  state.spec.mounts.push_back(std::move(mount));
  return kOk;
}

// --bind, --ro-bind, --dev-bind and their -try forms: the name says which.
Result<void> ApplyBind(const RunOccurrence& occurrence, RunState& state) {
  const std::string_view name = occurrence.option.name;
  SandboxMount mount = Step(Kind::kBind, Text(occurrence, 1), Text(occurrence, 0));
  mount.read_only = name.starts_with("--ro-");
  mount.allow_devices = name.starts_with("--dev-");
  mount.optional = name.ends_with("-try");
  return AddStep(state, std::move(mount));
}

Result<void> ApplyTmpfs(const RunOccurrence& occurrence, RunState& state) {
  SandboxMount mount = Step(Kind::kTmpfs, Text(occurrence, 0));
  mount.perms = state.perms;
  mount.size = state.size.value_or(0);
  state.size.reset();
  state.perms.reset();
  return AddStep(state, std::move(mount));
}

Result<void> ApplyDir(const RunOccurrence& occurrence, RunState& state) {
  SandboxMount mount = Step(Kind::kDir, Text(occurrence, 0));
  mount.perms = state.perms;
  state.perms.reset();
  return AddStep(state, std::move(mount));
}

// --overlay, --tmp-overlay, --ro-overlay: the layers are the --overlay-src before it.
Result<void> AddOverlay(const RunOccurrence& occurrence, RunState& state, SandboxMount mount) {
  if (state.overlay_layers.empty()) {
    return Usage(fmt::format("{} {} needs --overlay-src first", occurrence.option.name, mount.dest));
  }
  mount.kind = Kind::kOverlay;
  mount.layers = std::move(state.overlay_layers);
  state.overlay_layers.clear();
  return AddStep(state, std::move(mount));
}

Result<void> ApplyOverlay(const RunOccurrence& occurrence, RunState& state) {
  SandboxMount mount = Step(Kind::kOverlay, Text(occurrence, 2), Text(occurrence, 0));
  mount.workdir = Text(occurrence, 1);
  mount.overlay_upper = SandboxMount::OverlayUpper::kDirectory;
  return AddOverlay(occurrence, state, std::move(mount));
}

Result<void> ApplyTmpOverlay(const RunOccurrence& occurrence, RunState& state) {
  SandboxMount mount = Step(Kind::kOverlay, Text(occurrence, 0));
  mount.overlay_upper = SandboxMount::OverlayUpper::kTmpfs;
  return AddOverlay(occurrence, state, std::move(mount));
}

Result<void> ApplyRoOverlay(const RunOccurrence& occurrence, RunState& state) {
  SandboxMount mount = Step(Kind::kOverlay, Text(occurrence, 0));
  mount.overlay_upper = SandboxMount::OverlayUpper::kNone;
  return AddOverlay(occurrence, state, std::move(mount));
}

int Fd(const RunOccurrence& occurrence, std::size_t index) { return static_cast<int>(occurrence.values.at(index).number); }

// The part of the command line that is not the sandbox's: absent in a JSON spec.
Result<RunCommandLine*> CommandLine(const RunOccurrence& occurrence, RunState& state) {
  if (state.command_line == nullptr) return Usage(fmt::format("{} is for the command line only", occurrence.option.name));
  return state.command_line;
}

// --file, --bind-data, --ro-bind-data: FD's contents, read now, into a file at DEST.
Result<void> ApplyData(const RunOccurrence& occurrence, RunState& state) {
  const std::string_view name = occurrence.option.name;
  auto data = ReadWholeFd(Fd(occurrence, 0), kSandboxDataMaxBytes, fmt::format("{} {}", name, Fd(occurrence, 0)));
  if (!data) return std::unexpected(data.error());
  SandboxMount mount = Step(name == "--file" ? Kind::kFile : Kind::kBindData, Text(occurrence, 1));
  mount.data = std::move(*data);
  mount.read_only = name.starts_with("--ro-");
  mount.perms = state.perms;
  state.perms.reset();
  return AddStep(state, std::move(mount));
}

// A namespace fd (--userns, --userns2, --pidns) must be open now: joined
// later, a closed number could by then be one of our own fds.
Result<int> NamespaceFd(const RunOccurrence& occurrence) {
  const int fd = Fd(occurrence, 0);
  if (::fcntl(fd, F_GETFD) < 0) {
    const int err = errno;
    return MakeError(err, std::string(occurrence.option.name), std::to_string(fd));
  }
  return fd;
}

Result<void> ApplyBindFd(const RunOccurrence& occurrence, RunState& state) {
  const int fd = Fd(occurrence, 0);
  // Checked here, where "not an open fd" can still name the option.
  if (::fcntl(fd, F_GETFD) < 0) {
    const int err = errno;
    return MakeError(err, std::string(occurrence.option.name), std::to_string(fd));
  }
  SandboxMount mount = Step(Kind::kBindFd, Text(occurrence, 1));
  mount.fd = fd;
  mount.read_only = occurrence.option.name.starts_with("--ro-");
  return AddStep(state, std::move(mount));
}

Result<void> ApplyChmod(const RunOccurrence& occurrence, RunState& state) {
  SandboxMount mount = Step(Kind::kChmod, Text(occurrence, 1));
  mount.perms = static_cast<mode_t>(occurrence.values.at(0).number);
  return AddStep(state, std::move(mount));
}

// --seccomp and --add-seccomp-fd: the program is read now; both kinds apply in the order given.
Result<void> ApplySeccomp(const RunOccurrence& occurrence, RunState& state) {
  auto line = CommandLine(occurrence, state);
  if (!line) return std::unexpected(line.error());
  const bool exclusive = occurrence.option.name == "--seccomp";
  if (exclusive && !state.spec.seccomp_programs.empty()) {
    return Usage((*line)->seccomp_exclusive ? "--seccomp given twice" : "--seccomp cannot be combined with --add-seccomp-fd");
  }
  if (!exclusive && (*line)->seccomp_exclusive) return Usage("--add-seccomp-fd cannot be combined with --seccomp");
  auto program = ReadWholeFd(Fd(occurrence, 0), std::size_t{8} * 0xffff,
                             fmt::format("{} {}", occurrence.option.name, Fd(occurrence, 0)));
  if (!program) return std::unexpected(program.error());
  if (program->empty() || program->size() % 8 != 0) {
    return Usage(fmt::format("{} {}: invalid seccomp data, must be a non-empty multiple of 8 bytes ({})",
                             occurrence.option.name, Fd(occurrence, 0), program->size()));
  }
  (*line)->seccomp_exclusive = (*line)->seccomp_exclusive || exclusive;
  state.spec.seccomp_programs.push_back(std::move(*program));
  return kOk;
}

// --cap-add and --cap-drop, in order, on a set that starts as every capability.
Result<void> ApplyCapability(const RunOccurrence& occurrence, RunState& state) {
  const std::uint64_t bits = occurrence.values.at(0).number;
  std::uint64_t set = state.spec.capabilities.value_or(UINT64_MAX);
  set = occurrence.option.name == "--cap-add" ? set | bits : set & ~bits;
  state.spec.capabilities = set;
  return kOk;
}

// A command-line-only setting stored by `store` into the RunCommandLine.
template <typename Store>
Result<void> SetOnCommandLine(const RunOccurrence& occurrence, RunState& state, Store store) {
  auto line = CommandLine(occurrence, state);
  if (!line) return std::unexpected(line.error());
  store(**line);
  return kOk;
}

Result<std::string> ReadJsonFile(const std::string& path);

Result<void> ApplyJsonSpecFile(const RunOccurrence& occurrence, RunState& state) {
  const std::string& path = Text(occurrence, 0);
  auto text = ReadJsonFile(path);
  if (!text) return std::unexpected(text.error());
  return ApplyJsonSpec(*text, path, state.spec);
}

constexpr std::string_view kFilesystem =
    "Filesystem (in order, like bwrap; DEST is a path inside the sandbox, SRC a host path)";
constexpr std::string_view kEnvironment = "Environment (in order) and working directory";
constexpr std::string_view kNamespaces = "Namespaces";
constexpr std::string_view kOther = "Other";

using P = RunJsonPlace;
using V = RunValueKind;

const std::vector<RunOption>& Table() {
  static const std::vector<RunOption> table = {
      {"--root", {{"DIR", "", V::kPath}}, P::kKey, "root", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.root = Text(o, 0); return kOk; },
       kFilesystem,
       "\"/\" is DIR with its mounts (nosuid,nodev; default: an empty tmpfs); mount points and symlinks the "
       "setup makes are made in DIR and stay"},
      {"--bind", {{"SRC", "src", V::kPath}, {"DEST", "dest", V::kPath}}, P::kMount, "bind", {}, ApplyBind,
       kFilesystem, "bind SRC (recursively, nosuid, nodev) on DEST"},
      {"--ro-bind", {{"SRC", "src", V::kPath}, {"DEST", "dest", V::kPath}}, P::kMount, "ro-bind", {}, ApplyBind,
       kFilesystem, "the same, read-only (recursively)"},
      {"--dev-bind", {{"SRC", "src", V::kPath}, {"DEST", "dest", V::kPath}}, P::kMount, "dev-bind", {}, ApplyBind,
       kFilesystem, "the same, device nodes allowed"},
      {"--bind-try", {{"SRC", "src", V::kPath}, {"DEST", "dest", V::kPath}}, P::kMount, "bind-try", {}, ApplyBind,
       kFilesystem, "--bind, skipped when SRC does not exist"},
      {"--ro-bind-try", {{"SRC", "src", V::kPath}, {"DEST", "dest", V::kPath}}, P::kMount, "ro-bind-try", {},
       ApplyBind, kFilesystem, "--ro-bind, skipped when SRC does not exist"},
      {"--dev-bind-try", {{"SRC", "src", V::kPath}, {"DEST", "dest", V::kPath}}, P::kMount, "dev-bind-try", {},
       ApplyBind, kFilesystem, "--dev-bind, skipped when SRC does not exist"},
      {"--size", {{"BYTES", "", V::kBytes}}, P::kMountKey, "size", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.size = o.values.at(0).number; return kOk; },
       kFilesystem, "the size of the very next --tmpfs (default and 0: the kernel's, half of RAM)"},
      {"--perms", {{"OCTAL", "", V::kMode}}, P::kMountKey, "perms", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         s.perms = static_cast<mode_t>(o.values.at(0).number);
         return kOk;
       },
       kFilesystem, "the mode of the very next --tmpfs, --dir, --file, --bind-data or --ro-bind-data"},
      {"--tmpfs", {{"DEST", "dest", V::kPath}}, P::kMount, "tmpfs", {"--size", "--perms"}, ApplyTmpfs, kFilesystem,
       "a fresh tmpfs; --size and --perms before it apply to it"},
      {"--proc", {{"DEST", "dest", V::kPath}}, P::kMount, "proc", {},
       [](const RunOccurrence& o, RunState& s) { return AddStep(s, Step(Kind::kProc, Text(o, 0))); }, kFilesystem,
       "a fresh proc (of the sandbox's pid namespace)"},
      {"--dev", {{"DEST", "dest", V::kPath}}, P::kMount, "dev", {},
       [](const RunOccurrence& o, RunState& s) { return AddStep(s, Step(Kind::kDev, Text(o, 0))); }, kFilesystem,
       "minimal /dev: null zero full random urandom tty (binds of the host's), a private devpts on pts with "
       "ptmx -> pts/ptmx, shm tmpfs, fd/std* links"},
      {"--dir", {{"DEST", "dest", V::kPath}}, P::kMount, "dir", {"--perms"}, ApplyDir, kFilesystem,
       "mkdir -p (mode from a preceding --perms, default 0755)"},
      {"--symlink", {{"TARGET", "target", V::kPath}, {"DEST", "dest", V::kPath}}, P::kMount, "symlink", {},
       [](const RunOccurrence& o, RunState& s) {
         return AddStep(s, Step(Kind::kSymlink, Text(o, 1), Text(o, 0)));
       },
       kFilesystem, "a symlink DEST -> TARGET"},
      {"--remount-ro", {{"DEST", "dest", V::kPath}}, P::kMount, "remount-ro", {},
       [](const RunOccurrence& o, RunState& s) { return AddStep(s, Step(Kind::kRemountRo, Text(o, 0))); },
       kFilesystem, "make the mount at DEST read-only (and nosuid, nodev), not the mounts below it, as bwrap"},
      {"--overlay-src", {{"SRC", "", V::kPath}}, P::kMountList, "sources", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         s.overlay_layers.push_back(Text(o, 0));
         return kOk;
       },
       kFilesystem, "a lower layer for the next overlay (lowest first)"},
      {"--overlay", {{"RWSRC", "upper", V::kPath}, {"WORKDIR", "work", V::kPath}, {"DEST", "dest", V::kPath}},
       P::kMount, "overlay", {"--overlay-src"}, ApplyOverlay, kFilesystem,
       "overlayfs of the --overlay-src before it, upper RWSRC and its WORKDIR (host paths)"},
      {"--tmp-overlay", {{"DEST", "dest", V::kPath}}, P::kMount, "tmp-overlay", {"--overlay-src"}, ApplyTmpOverlay,
       kFilesystem, "overlayfs whose writes go to a tmpfs and are lost at exit"},
      {"--ro-overlay", {{"DEST", "dest", V::kPath}}, P::kMount, "ro-overlay", {"--overlay-src"}, ApplyRoOverlay,
       kFilesystem, "read-only overlayfs of two or more --overlay-src"},

      {"--bind-fd", {{"FD", "", V::kFd}, {"DEST", "", V::kPath}}, P::kNone, "", {}, ApplyBindFd, kFilesystem,
       "bind what the open directory or O_PATH fd FD refers to on DEST (FD is closed inside)"},
      {"--ro-bind-fd", {{"FD", "", V::kFd}, {"DEST", "", V::kPath}}, P::kNone, "", {}, ApplyBindFd, kFilesystem,
       "the same, read-only"},
      {"--file", {{"FD", "", V::kFd}, {"DEST", "", V::kPath}}, P::kNone, "", {}, ApplyData, kFilesystem,
       "a file DEST holding what FD gives until EOF (mode 0666 or --perms; read now, FD closed)"},
      {"--bind-data", {{"FD", "", V::kFd}, {"DEST", "", V::kPath}}, P::kNone, "", {}, ApplyData, kFilesystem,
       "a file holding FD's data (mode 0600 or --perms) bound on DEST"},
      {"--ro-bind-data", {{"FD", "", V::kFd}, {"DEST", "", V::kPath}}, P::kNone, "", {}, ApplyData, kFilesystem,
       "the same, read-only"},
      {"--mqueue", {{"DEST", "dest", V::kPath}}, P::kMount, "mqueue", {},
       [](const RunOccurrence& o, RunState& s) { return AddStep(s, Step(Kind::kMqueue, Text(o, 0))); }, kFilesystem,
       "a fresh mqueue (of the sandbox's IPC namespace)"},
      {"--chmod", {{"OCTAL", "", V::kMode}, {"PATH", "", V::kPath}}, P::kNone, "", {}, ApplyChmod, kFilesystem,
       "chmod PATH (inside, must exist) to OCTAL"},
      {"--lock-file", {{"DEST", "", V::kPath}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         s.spec.lock_files.push_back(Text(o, 0));
         return kOk;
       },
       kFilesystem, "hold a read lock (fcntl) on DEST (inside; it must exist) while the sandbox runs"},
      {"--exec-label", {{"LABEL", "", V::kText}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.exec_label = Text(o, 0); return kOk; },
       kFilesystem,
       "SELinux context CMD is exec'd in (/proc/thread-self/attr/exec); an error where SELinux is not enabled"},
      {"--file-label", {{"LABEL", "", V::kText}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.file_label = Text(o, 0); return kOk; },
       kFilesystem,
       "SELinux context of what the setup makes: tmpfs and mqueue (context=), files and directories (fscreate); "
       "an error where SELinux is not enabled"},

      {"--setenv", {{"VAR", "set", V::kText}, {"VALUE", "value", V::kText}}, P::kEnv, "set", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         s.spec.env.push_back({SandboxEnvChange::Kind::kSet, Text(o, 0), Text(o, 1)});
         return kOk;
       },
       kEnvironment, "set VAR to VALUE in CMD's environment"},
      {"--unsetenv", {{"VAR", "unset", V::kText}}, P::kEnv, "unset", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         s.spec.env.push_back({SandboxEnvChange::Kind::kUnset, Text(o, 0), {}});
         return kOk;
       },
       kEnvironment, "remove VAR"},
      {"--clearenv", {}, P::kEnv, "clear", {},
       [](const RunOccurrence&, RunState& s) -> Result<void> {
         s.spec.env.push_back({SandboxEnvChange::Kind::kClear, {}, {}});
         return kOk;
       },
       kEnvironment, "remove every variable (PWD is set in any case)"},
      {"--chdir", {{"DIR", "", V::kPath}}, P::kKey, "chdir", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.chdir = Text(o, 0); return kOk; },
       kEnvironment, "working directory inside (default: yours if it exists, else /)"},

      {"--unshare-user", {}, P::kUnshare, "user", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.unshare_user = o.on; return kOk; },
       kNamespaces,
       "new user namespace, your ids mapped to --uid/--gid (needed when you are not root); CMD has no "
       "capabilities (as bwrap: uid 0 inside keeps the namespace's, bounded by yours)"},
      {"--uid", {{"UID", "", V::kId}}, P::kKey, "uid", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         s.spec.uid = static_cast<uid_t>(o.values.at(0).number);
         return kOk;
       },
       kNamespaces, "CMD's uid in the new user namespace (default: yours)"},
      {"--gid", {{"GID", "", V::kId}}, P::kKey, "gid", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         s.spec.gid = static_cast<gid_t>(o.values.at(0).number);
         return kOk;
       },
       kNamespaces, "CMD's gid in the new user namespace (default: yours)"},
      {"--unshare-pid", {}, P::kUnshare, "pid", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.unshare_pid = o.on; return kOk; },
       kNamespaces, "new pid namespace: pid 1 reaps, CMD is its child"},
      {"--unshare-net", {}, P::kUnshare, "net", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.unshare_net = o.on; return kOk; },
       kNamespaces, "new network namespace (only lo, up)"},
      {"--unshare-uts", {}, P::kUnshare, "uts", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.unshare_uts = o.on; return kOk; },
       kNamespaces, "new UTS namespace (hostname)"},
      {"--unshare-ipc", {}, P::kUnshare, "ipc", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.unshare_ipc = o.on; return kOk; },
       kNamespaces, "new IPC namespace"},
      {"--unshare-all", {}, P::kNone, "", {},
       [](const RunOccurrence&, RunState& s) -> Result<void> {
         s.spec.unshare_user = s.spec.unshare_pid = s.spec.unshare_net = s.spec.unshare_uts = s.spec.unshare_ipc =
             true;
         s.spec.unshare_cgroup = ::access("/proc/self/ns/cgroup", F_OK) == 0;
         return kOk;
       },
       kNamespaces, "all the namespaces above, and cgroup where the kernel has it"},
      {"--unshare-user-try", {}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) {
         s.spec.unshare_user = true;
         return SetOnCommandLine(o, s, [](RunCommandLine& l) { l.unshare_user_try = true; });
       },
       kNamespaces, "--unshare-user (mntns always can: as root, or it fails as without it)"},
      {"--unshare-cgroup", {}, P::kUnshare, "cgroup", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.unshare_cgroup = o.on; return kOk; },
       kNamespaces, "new cgroup namespace"},
      {"--unshare-cgroup-try", {}, P::kNone, "", {},
       [](const RunOccurrence&, RunState& s) -> Result<void> {
         s.spec.unshare_cgroup = ::access("/proc/self/ns/cgroup", F_OK) == 0;
         return kOk;
       },
       kNamespaces, "--unshare-cgroup where the kernel has cgroup namespaces"},
      {"--share-net", {}, P::kNone, "", {},
       [](const RunOccurrence&, RunState& s) -> Result<void> { s.spec.unshare_net = false; return kOk; },
       kNamespaces, "keep the network namespace (after --unshare-all)"},
      {"--disable-userns", {}, P::kNone, "", {},
       [](const RunOccurrence&, RunState& s) -> Result<void> { s.spec.disable_userns = true; return kOk; },
       kNamespaces, "CMD cannot create user namespaces (needs --unshare-user)"},
      {"--assert-userns-disabled", {}, P::kNone, "", {},
       [](const RunOccurrence&, RunState& s) -> Result<void> { s.spec.assert_userns_disabled = true; return kOk; },
       kNamespaces, "fail unless CMD cannot create user namespaces"},
      {"--userns", {{"FD", "", V::kFd}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         auto fd = NamespaceFd(o);
         if (!fd) return std::unexpected(fd.error());
         s.spec.userns_fd = *fd;
         return kOk;
       },
       kNamespaces,
       "build the sandbox in the user namespace FD is open on (/proc/PID/ns/user) instead of a new one (not with "
       "--unshare-user); --uid/--gid then pick ids its maps have"},
      {"--userns2", {{"FD", "", V::kFd}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         auto fd = NamespaceFd(o);
         if (!fd) return std::unexpected(fd.error());
         s.spec.userns2_fd = *fd;
         return kOk;
       },
       kNamespaces, "after the setup, CMD joins the user namespace FD is open on (a descendant of the sandbox's)"},
      {"--pidns", {{"FD", "", V::kFd}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         auto fd = NamespaceFd(o);
         if (!fd) return std::unexpected(fd.error());
         s.spec.pidns_fd = *fd;
         return kOk;
       },
       kNamespaces, "the sandbox's processes join the pid namespace FD is open on; with --unshare-pid a new one "
       "nested in it"},
      {"--hostname", {{"NAME", "", V::kHostname}}, P::kKey, "hostname", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.hostname = Text(o, 0); return kOk; },
       kNamespaces, "the hostname inside (with --unshare-uts)"},

      {"--die-with-parent", {}, P::kKey, "die_with_parent", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.die_with_parent = o.on; return kOk; },
       kOther, "kill the sandbox when mntns dies (even by SIGKILL)"},
      {"--strategy", {{"S", "", V::kStrategy}}, P::kKey, "strategy", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> {
         s.spec.strategy = o.values.at(0).strategy;
         return kOk;
       },
       kOther, "how the namespace is made: auto|native|template|classic (as for mntns new)"},
      {"--argv0", {{"VALUE", "", V::kText}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.argv0 = Text(o, 0); return kOk; },
       kOther, "argv[0] CMD sees (CMD itself is still what runs)"},
      {"--new-session", {}, P::kNone, "", {},
       [](const RunOccurrence&, RunState& s) -> Result<void> { s.spec.new_session = true; return kOk; },
       kOther, "CMD in a new session (setsid): no controlling terminal"},
      {"--as-pid-1", {}, P::kNone, "", {},
       [](const RunOccurrence&, RunState& s) -> Result<void> { s.spec.as_pid_1 = true; return kOk; },
       kOther, "CMD is pid 1 itself, no reaper (needs --unshare-pid)"},
      {"--cap-add", {{"CAP", "", V::kCapability}}, P::kNone, "", {}, ApplyCapability, kOther,
       "CMD gets CAP (or ALL) as well; the first --cap-add/--cap-drop starts from every capability"},
      {"--cap-drop", {{"CAP", "", V::kCapability}}, P::kNone, "", {}, ApplyCapability, kOther,
       "CMD does not get CAP (or ALL)"},
      {"--seccomp", {{"FD", "", V::kFd}}, P::kNone, "", {}, ApplySeccomp, kOther,
       "a classic BPF program (struct sock_filter array) read from FD, installed before exec (once)"},
      {"--add-seccomp-fd", {{"FD", "", V::kFd}}, P::kNone, "", {}, ApplySeccomp, kOther,
       "another one, installed in order (repeatable; not with --seccomp)"},
      {"--block-fd", {{"FD", "", V::kFd}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.block_fd = Fd(o, 0); return kOk; },
       kOther, "CMD waits for a byte (or EOF) on FD before it starts"},
      {"--userns-block-fd", {{"FD", "", V::kFd}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) -> Result<void> { s.spec.userns_block_fd = Fd(o, 0); return kOk; },
       kOther,
       "with --unshare-user and --info-fd: the sandbox's user namespace gets no id maps from mntns; its first "
       "process (child-pid) waits for a byte (or EOF) on FD while you write /proc/PID/uid_map and gid_map"},
      {"--sync-fd", {{"FD", "", V::kFd}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) {
         return SetOnCommandLine(o, s, [&](RunCommandLine& l) { l.sync_fds.push_back(Fd(o, 0)); });
       },
       kOther, "keep FD open while the sandbox runs (repeatable)"},
      {"--info-fd", {{"FD", "", V::kFd}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) {
         return SetOnCommandLine(o, s, [&](RunCommandLine& l) { l.info_fd = Fd(o, 0); });
       },
       kOther, "write {\"child-pid\": N, \"<ns>-namespace\": INODE, ...} to FD once CMD runs"},
      {"--json-status-fd", {{"FD", "", V::kFd}}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) {
         return SetOnCommandLine(o, s, [&](RunCommandLine& l) { l.json_status_fd = Fd(o, 0); });
       },
       kOther, "the same on one line, then {\"exit-code\": N} when CMD exits (none if it never ran)"},
      {"--level-prefix", {}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) {
         return SetOnCommandLine(o, s, [](RunCommandLine& l) { l.level_prefix = true; });
       },
       kOther, "\"<3>\" (syslog's error level) before each diagnostic"},
      {"--not-a-security-boundary", {}, P::kNone, "", {},
       [](const RunOccurrence& o, RunState& s) {
         return SetOnCommandLine(o, s, [](RunCommandLine& l) { l.not_a_security_boundary = true; });
       },
       kOther, "accepted (bwrap 0.12): mntns fails every step that fails, as without it"},
      {"--json-spec", {{"FILE", "", V::kPath}}, P::kNone, "", {}, ApplyJsonSpecFile, kOther,
       "insert FILE's setup here (schema below; a regular file or a pipe such as /dev/stdin, at most 16 MiB)"},
  };
  return table;
}

const RunOption* FindOption(std::string_view name) {
  for (const RunOption& option : Table()) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

const RunOption* FindJson(RunJsonPlace place, std::string_view json_name) {
  for (const RunOption& option : Table()) {
    if (option.json_place == place && option.json_name == json_name) return &option;
  }
  return nullptr;
}

// The array of the document that holds the options of `place`, or "".
std::string_view ContainerKey(RunJsonPlace place) {
  switch (place) {
    case RunJsonPlace::kMount:
      return "mounts";
    case RunJsonPlace::kEnv:
      return "env";
    case RunJsonPlace::kUnshare:
      return "unshare";
    default:
      return "";
  }
}

// The document's keys in table order: the options' own keys and the arrays
// that hold the others, then "command" (CMD, which is no option).
const std::vector<std::string_view>& DocumentKeys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> found;
    for (const RunOption& option : Table()) {
      const std::string_view key = option.json_place == RunJsonPlace::kKey ? option.json_name
                                                                            : ContainerKey(option.json_place);
      if (!key.empty() && std::find(found.begin(), found.end(), key) == found.end()) found.push_back(key);
    }
    found.push_back("command");
    return found;
  }();
  return keys;
}

// What a JSON mount takes besides "type", in command-line order: the
// modifiers that precede its option, then the option's own values.
std::vector<std::string_view> MountKeys(const RunOption& mount) {
  std::vector<std::string_view> keys;
  for (std::string_view modifier : mount.json_modifiers) keys.push_back(FindOption(modifier)->json_name);
  for (const RunValue& value : mount.values) keys.push_back(value.json_key);
  return keys;
}

// `{"set": VAR, "value": VALUE}`: an env entry as --help shows it.
std::string EnvForm(const RunOption& option) {
  if (option.values.empty()) return fmt::format("{{\"{}\": true}}", option.json_name);
  std::vector<std::string> parts;
  for (const RunValue& value : option.values) parts.push_back(fmt::format("\"{}\": {}", value.json_key, value.metavar));
  return fmt::format("{{{}}}", fmt::join(parts, ", "));
}

std::string JsonNames(RunJsonPlace place, std::string_view separator) {
  std::vector<std::string_view> names;
  for (const RunOption& option : Table()) {
    if (option.json_place == place) names.push_back(option.json_name);
  }
  return fmt::format("{}", fmt::join(names, separator));
}

const char* FileKind(mode_t mode) {
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// A --json-spec FILE: a regular file or a pipe (/dev/stdin, <(...), a FIFO),
// at most kJsonSpecMaxBytes. Anything else is refused before it is opened:
// /dev/zero never ends, and opening some devices does something.
Result<std::string> ReadJsonFile(const std::string& path) {
  const std::string where = QuotePath(path);
  // What is checked is what gets opened: an O_PATH fd (it opens nothing)
  // first, then the same inode through /proc/self/fd; a path swapped for a
  // device between a stat() and an open() would be opened otherwise.
  UniqueFd handle(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!handle) {
    const int err = errno;
    return MakeError(err, "--json-spec", where);
  }
  struct stat st {};
  if (::fstat(handle.Get(), &st) != 0) {
    const int err = errno;
    return MakeError(err, "--json-spec", where);
  }
  if (S_ISDIR(st.st_mode)) return MakeError(EISDIR, "--json-spec", where);
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
    return MakeError(EINVAL, "--json-spec", fmt::format("{} ({}; it takes a regular file or a pipe)", where,
                                                        FileKind(st.st_mode)));
  }
  // Without O_NONBLOCK, opening a FIFO waits until some process opens it for writing.
  UniqueFd fd(::open(fmt::format("/proc/self/fd/{}", handle.Get()).c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    return MakeError(err, "--json-spec", where);
  }
  if (::fstat(fd.Get(), &st) != 0) {
    const int err = errno;
    return MakeError(err, "--json-spec", where);
  }
  if (S_ISFIFO(st.st_mode)) {
    // Blocking reads from here on: they wait while a writer has the pipe open
    // (one blocked in open() on the FIFO counts already) and return 0 once
    // none has, also when none ever came, so nothing waits forever for a
    // writer that does not exist.
    const int flags = ::fcntl(fd.Get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.Get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
      const int err = errno;
      return MakeError(err, "--json-spec", where + " (fcntl F_SETFL)");
    }
  } else if (!S_ISREG(st.st_mode)) {
    return MakeError(EINVAL, "--json-spec", fmt::format("{} ({}; it takes a regular file or a pipe)", where,
                                                        FileKind(st.st_mode)));
  } else if (static_cast<std::uint64_t>(st.st_size) > kJsonSpecMaxBytes) {
    return MakeError(EFBIG, "--json-spec", where + " (more than 16 MiB)");
  }
  // st_size is only a hint (0 for procfs files, a file may grow): the limit
  // holds on what is read.
  std::string text;
  char buffer[65536];
  while (text.size() <= kJsonSpecMaxBytes) {
    const std::size_t want = std::min(sizeof buffer, kJsonSpecMaxBytes + 1 - text.size());
    const ssize_t n = ::read(fd.Get(), buffer, want);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return MakeError(err, "--json-spec", where + " (read)");
    }
    if (n == 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return MakeError(EFBIG, "--json-spec", where + " (more than 16 MiB)");
}

// ---- the JSON spec ------------------------------------------------------------

// The schema never nests deeper than 4 (document, mounts, a mount, sources).
constexpr int kMaxJsonDepth = 16;

// Thrown by the parser callback to stop parsing at once; caught around parse().
struct JsonRefused {
  std::string why;
};

// nlohmann's messages without their "[json.exception.parse_error.101] " tag.
std::string ParserMessage(const nlohmann::json::exception& e) {
  std::string_view text = e.what();
  if (text.starts_with("[json.exception.")) {
    if (const auto end = text.find("] "); end != std::string_view::npos) text.remove_prefix(end + 2);
  }
  if (text.starts_with("parse error ")) return fmt::format("not valid JSON {}", text.substr(12));
  return std::string(text);
}

// A value for error text: scalars as written, containers by their kind.
std::string Shown(const Json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  // nlohmann reads -0 as a signed 0, which dump() writes as "0": "not 0" would
  // refuse what the message calls valid.
  if (value.is_number_integer() && !value.is_number_unsigned() && value.get<std::int64_t>() == 0) return "-0";
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::string Member(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string Element(const std::string& path, std::size_t index) { return fmt::format("{}[{}]", path, index); }

// Reads one parsed document into a SandboxSpec through the options' own
// handlers: every value is checked for its type and range, every key must be
// known (a misspelt "unshar" would otherwise drop isolation without a word).
class JsonSpecReader {
 public:
  explicit JsonSpecReader(const std::string& origin) : origin_(origin) {}

  std::unexpected<Error> Bad(const std::string& path, std::string_view what) const {
    if (path.empty()) return Usage(fmt::format("--json-spec {}: {}", QuotePath(origin_), what));
    return Usage(fmt::format("--json-spec {}: {}: {}", QuotePath(origin_), path, what));
  }

  Result<void> Document(const Json& doc, SandboxSpec& spec) const {
    if (!doc.is_object()) return Bad("", fmt::format("the document must be an object, not {}", Shown(doc)));
    const auto& known = DocumentKeys();
    for (const auto& [key, value] : doc.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        return Bad(key, fmt::format("unknown key (known: {})", fmt::join(known, ", ")));
      }
    }
    // Top-level state (--size, --perms, --overlay-src) never carries over:
    // a JSON mount brings its own.
    RunState state(spec);
    std::set<RunJsonPlace> read;
    for (const RunOption& option : Table()) {
      Result<void> applied = kOk;
      if (option.json_place == RunJsonPlace::kKey) {
        applied = Key(doc, option, state);
      } else if (const std::string_view container = ContainerKey(option.json_place);
                 !container.empty() && read.insert(option.json_place).second) {
        if (const auto found = doc.find(container); found != doc.end()) {
          applied = Container(*found, std::string(container), option.json_place, spec);
        }
      }
      if (!applied) return applied;
    }
    if (const auto command = doc.find("command"); command != doc.end()) {
      auto argv = Strings(*command, "command");
      if (!argv) return std::unexpected(argv.error());
      spec.argv = std::move(*argv);
    }
    return kOk;
  }

 private:
  // Every string becomes a path, a name or an argv/environment entry, all C
  // strings: a NUL would silently cut it ("/a\u0000b" would be "/a").
  Result<std::string> String(const Json& value, const std::string& path) const {
    if (!value.is_string()) return Bad(path, fmt::format("must be a string, not {}", Shown(value)));
    const auto& text = value.get_ref<const std::string&>();
    if (text.find('\0') != std::string::npos) return Bad(path, "contains a NUL character");
    return text;
  }

  Result<std::vector<std::string>> Strings(const Json& value, const std::string& path) const {
    if (!value.is_array()) return Bad(path, fmt::format("must be an array of strings, not {}", Shown(value)));
    std::vector<std::string> strings;
    for (std::size_t i = 0; i < value.size(); ++i) {
      auto text = String(value[i], Element(path, i));
      if (!text) return std::unexpected(text.error());
      strings.push_back(std::move(*text));
    }
    return strings;
  }

  // A JSON integer (not 1.5, 1e30 or -1, which nlohmann would coerce) from 0 to `max`.
  Result<std::uint64_t> Unsigned(const Json& value, const std::string& path, std::uint64_t max) const {
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() > max) {
      const std::string range = max == UINT64_MAX ? "a non-negative integer" : fmt::format("an integer from 0 to {}", max);
      return Bad(path, fmt::format("must be {}, not {}", range, Shown(value)));
    }
    return value.get<std::uint64_t>();
  }

  // A value at `path`, checked by its kind as ReadArgument checks the
  // command line's, with JSON's types.
  Result<RunArgument> Argument(const RunValue& value, const Json& json, const std::string& path) const {
    RunArgument argument;
    switch (value.kind) {
      case RunValueKind::kText:
      case RunValueKind::kPath:
      case RunValueKind::kHostname:
      case RunValueKind::kStrategy: {
        auto text = String(json, path);
        if (!text) return std::unexpected(text.error());
        argument.text = std::move(*text);
        break;
      }
      case RunValueKind::kId:
      case RunValueKind::kBytes: {
        auto number = Unsigned(json, path, value.kind == RunValueKind::kId ? kMaxId : UINT64_MAX);
        if (!number) return std::unexpected(number.error());
        argument.number = *number;
        argument.text = std::to_string(*number);
        break;
      }
      case RunValueKind::kMode: {
        // A number would be read in decimal: 700 is mode 01274.
        if (json.is_number()) {
          return Bad(path, fmt::format("write the mode as an octal string such as \"0700\", not the number {}",
                                       Shown(json)));
        }
        auto text = String(json, path);
        if (!text) return std::unexpected(text.error());
        auto mode = ParseMode(path, *text);
        if (!mode) return Bad(path, fmt::format("\"{}\" is not an octal mode from 0 to 07777", *text));
        argument.number = *mode;
        argument.text = std::move(*text);
        break;
      }
      case RunValueKind::kFd:
      case RunValueKind::kCapability:
        // No JSON key takes them: the table gives such options json_place kNone.
        return Bad(path, "not a value a JSON spec can hold");
    }
    if (auto why = TextProblem(value.kind, argument.text)) return Bad(path, *why);
    if (value.kind == RunValueKind::kStrategy) {
      auto strategy = ParseStrategy(argument.text);
      if (!strategy) return Bad(path, fmt::format("unknown strategy {}", strategy.error().argument));
      argument.strategy = *strategy;
    }
    return argument;
  }

  // A kKey option: its one value, or for a flag true or false.
  Result<void> Key(const Json& doc, const RunOption& option, RunState& state) const {
    const auto found = doc.find(option.json_name);
    if (found == doc.end()) return kOk;
    const std::string path(option.json_name);
    RunOccurrence occurrence{option, {}, true};
    if (option.values.empty()) {
      if (!found->is_boolean()) return Bad(path, fmt::format("must be true or false, not {}", Shown(*found)));
      occurrence.on = found->get<bool>();
    } else {
      auto argument = Argument(option.values.front(), *found, path);
      if (!argument) return std::unexpected(argument.error());
      occurrence.values.push_back(std::move(*argument));
    }
    return option.apply(occurrence, state);
  }

  Result<void> Container(const Json& array, const std::string& path, RunJsonPlace place, SandboxSpec& spec) const {
    if (place == RunJsonPlace::kUnshare) return Unshare(array, spec);
    if (!array.is_array()) return Bad(path, fmt::format("must be an array, not {}", Shown(array)));
    for (std::size_t i = 0; i < array.size(); ++i) {
      auto added = place == RunJsonPlace::kMount ? Mount(array[i], Element(path, i), spec)
                                                 : EnvChange(array[i], Element(path, i), spec);
      if (!added) return added;
    }
    return kOk;
  }

  Result<void> Unshare(const Json& value, SandboxSpec& spec) const {
    auto names = Strings(value, "unshare");
    if (!names) return std::unexpected(names.error());
    RunState state(spec);
    for (std::size_t i = 0; i < names->size(); ++i) {
      const RunOption* option = FindJson(RunJsonPlace::kUnshare, (*names)[i]);
      if (option == nullptr) {
        return Bad(Element("unshare", i), fmt::format("unknown namespace \"{}\" ({})", (*names)[i],
                                                      JsonNames(RunJsonPlace::kUnshare, ", ")));
      }
      if (auto applied = option->apply(RunOccurrence{*option, {}, true}, state); !applied) return applied;
    }
    return kOk;
  }

  // The option's values, each under its json_key, all required.
  Result<std::vector<RunArgument>> Values(const Json& object, const std::string& path, const RunOption& option) const {
    std::vector<RunArgument> arguments;
    for (const RunValue& value : option.values) {
      const auto found = object.find(value.json_key);
      if (found == object.end()) return Bad(Member(path, value.json_key), "missing");
      auto argument = Argument(value, *found, Member(path, value.json_key));
      if (!argument) return std::unexpected(argument.error());
      arguments.push_back(std::move(*argument));
    }
    return arguments;
  }

  // A mount is its modifiers' occurrences ("size" is a --size before it),
  // then its option's, applied as on the command line.
  Result<void> Mount(const Json& object, const std::string& path, SandboxSpec& spec) const {
    if (!object.is_object()) return Bad(path, fmt::format("must be an object, not {}", Shown(object)));
    const auto type_key = object.find("type");
    if (type_key == object.end()) return Bad(Member(path, "type"), "missing");
    auto type = String(*type_key, Member(path, "type"));
    if (!type) return std::unexpected(type.error());
    const RunOption* mount = FindJson(RunJsonPlace::kMount, *type);
    if (mount == nullptr) {
      return Bad(Member(path, "type"), fmt::format("unknown mount type \"{}\" ({})", *type,
                                                   JsonNames(RunJsonPlace::kMount, " ")));
    }
    const std::vector<std::string_view> keys = MountKeys(*mount);
    for (const auto& [key, value] : object.items()) {
      if (key != "type" && std::find(keys.begin(), keys.end(), key) == keys.end()) {
        return Bad(Member(path, key),
                   fmt::format("not a key of a \"{}\" mount (it takes {})", *type, fmt::join(keys, ", ")));
      }
    }
    auto values = Values(object, path, *mount);
    if (!values) return std::unexpected(values.error());
    RunState state(spec);
    for (std::string_view name : mount->json_modifiers) {
      const RunOption& modifier = *FindOption(name);
      const std::string where = Member(path, modifier.json_name);
      const auto found = object.find(modifier.json_name);
      if (found == object.end()) {
        if (modifier.json_place == RunJsonPlace::kMountList) return Bad(where, "missing");
        continue;
      }
      std::vector<std::pair<const Json*, std::string>> occurrences;
      if (modifier.json_place == RunJsonPlace::kMountList) {
        if (!found->is_array()) return Bad(where, fmt::format("must be an array of strings, not {}", Shown(*found)));
        if (found->empty()) return Bad(where, "must not be empty");
        for (std::size_t i = 0; i < found->size(); ++i) occurrences.emplace_back(&(*found)[i], Element(where, i));
      } else {
        occurrences.emplace_back(&*found, where);
      }
      for (const auto& [json, at] : occurrences) {
        auto argument = Argument(modifier.values.front(), *json, at);
        if (!argument) return std::unexpected(argument.error());
        if (auto applied = modifier.apply(RunOccurrence{modifier, {std::move(*argument)}, true}, state); !applied) {
          return applied;
        }
      }
    }
    return mount->apply(RunOccurrence{*mount, std::move(*values), true}, state);
  }

  // An env entry is the first env option whose json_name it has as a key.
  Result<void> EnvChange(const Json& object, const std::string& path, SandboxSpec& spec) const {
    if (!object.is_object()) return Bad(path, fmt::format("must be an object, not {}", Shown(object)));
    const RunOption* change = nullptr;
    std::vector<std::string> forms;
    for (const RunOption& option : Table()) {
      if (option.json_place != RunJsonPlace::kEnv) continue;
      forms.push_back(EnvForm(option));
      if (change == nullptr && object.contains(option.json_name)) change = &option;
    }
    if (change == nullptr) {
      const std::string last = forms.back();
      forms.pop_back();
      return Bad(path, fmt::format("an env entry is {} or {}", fmt::join(forms, ", "), last));
    }
    for (const auto& [key, value] : object.items()) {
      const bool known = key == change->json_name ||
                         std::any_of(change->values.begin(), change->values.end(),
                                     [&](const RunValue& v) { return v.json_key == key; });
      if (!known) return Bad(Member(path, key), fmt::format("not a key of a {} entry", EnvForm(*change)));
    }
    RunState state(spec);
    if (change->values.empty()) {
      const Json& flag = object.at(change->json_name);
      if (flag != true) return Bad(Member(path, change->json_name), fmt::format("must be true, not {}", Shown(flag)));
      return change->apply(RunOccurrence{*change, {}, true}, state);
    }
    auto values = Values(object, path, *change);
    if (!values) return std::unexpected(values.error());
    return change->apply(RunOccurrence{*change, std::move(*values), true}, state);
  }

  const std::string& origin_;
};

// `text` as lines of at most `width` columns, the first after `first`, the
// others indented to `indent` columns.
std::string Wrap(std::string first, std::size_t indent, std::string_view text, std::size_t width = 98) {
  std::string out = std::move(first);
  std::size_t column = out.size() - (out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  bool line_empty = true;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (!line_empty && column + 1 + word.size() > width) {
      out += '\n' + std::string(indent, ' ');
      column = indent;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    line_empty = false;
  }
  return out + '\n';
}

}  // namespace

std::span<const RunOption> RunOptions() { return Table(); }

Result<std::string> ReadWholeFd(int fd, std::size_t max, std::string_view what) {
  UniqueFd owned(fd);
  std::string data;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(owned.Get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      return MakeError(err, "read", std::string(what));
    }
    if (n == 0) return data;
    if (data.size() + static_cast<std::size_t>(n) > max) {
      return MakeError(EFBIG, "read", fmt::format("{}: more than {} bytes", what, max));
    }
    data.append(buffer, static_cast<std::size_t>(n));
  }
}

Result<SandboxSpec> ParseRunArguments(const std::vector<std::string>& args) {
  auto line = ParseRunCommandLine(args);
  if (!line) return std::unexpected(line.error());
  return std::move(line->spec);
}

namespace {

// bwrap's limit on the arguments an --args FD may add (it counts them all).
constexpr std::size_t kMaxArguments = 9000;

// --args FD: the NUL-separated arguments FD holds (a last one without its NUL too).
Result<std::vector<std::string>> ReadArgumentsFd(int fd) {
  auto data = ReadWholeFd(fd, std::size_t{64} << 20, fmt::format("--args {}", fd));
  if (!data) return std::unexpected(data.error());
  std::vector<std::string> args;
  for (std::size_t start = 0; start < data->size();) {
    std::size_t nul = data->find('\0', start);
    if (nul == std::string::npos) nul = data->size();
    args.push_back(data->substr(start, nul - start));
    start = nul + 1;
  }
  return args;
}

bool CreatesFile(std::string_view option) {
  return option == "--tmpfs" || option == "--dir" || option == "--file" || option == "--bind-data" ||
         option == "--ro-bind-data";
}

}  // namespace

Result<RunCommandLine> ParseRunCommandLine(const std::vector<std::string>& given, RunDialect dialect) {
  const bool bwrap = dialect == RunDialect::kBwrap;
  RunCommandLine line;
  SandboxSpec& spec = line.spec;
  RunState state(spec, &line);
  std::vector<std::string> args = given;
  bool expanded = false;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& name = args[i];
    if (name == "--") {
      ++i;
      break;
    }
    if (!name.starts_with("--")) break;
    if (name == "--args") {
      // As bwrap: the arguments go in place of `--args FD`, and may not hold another.
      if (expanded) return Usage("--args not supported in arguments file");
      if (i + 1 >= args.size()) return Usage(bwrap ? "--args takes an argument" : "--args needs 1 argument");
      auto fd = ParseUnsigned("--args", args[i + 1], INT_MAX);
      if (!fd) return std::unexpected(fd.error());
      auto inserted = ReadArgumentsFd(static_cast<int>(*fd));
      if (!inserted) return std::unexpected(inserted.error());
      if (inserted->size() + args.size() > kMaxArguments) {
        return Usage(fmt::format("Exceeded maximum number of arguments {}", kMaxArguments));
      }
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i + 2));
      args.insert(args.begin() + static_cast<std::ptrdiff_t>(i), inserted->begin(), inserted->end());
      // After the --args only its own arguments... and the rest of the command line.
      expanded = true;
      --i;
      continue;
    }
    const RunOption* option = FindOption(name);
    if (option == nullptr) {
      return Usage(bwrap ? fmt::format("Unknown option {}", name)
                         : fmt::format("unknown option {} (see mntns run --help)", name));
    }
    const std::size_t count = option->values.size();
    // Values are taken as they come, as bwrap does: `--setenv A --b` sets A to "--b".
    if (i + count >= args.size()) {
      if (bwrap) {
        static constexpr std::string_view kCounts[] = {"", "an argument", "two arguments", "three arguments"};
        return Usage(fmt::format("{} takes {}", name, kCounts[std::min<std::size_t>(count, 3)]));
      }
      return Usage(fmt::format("{} needs {} argument{}", name, count, count == 1 ? "" : "s"));
    }
    // A --json-spec between them neither takes nor drops them (its mounts carry their own).
    const bool modifier = option->name == "--size" || option->name == "--perms" || option->name == "--json-spec";
    if ((option->name == "--size" && state.size) || (option->name == "--perms" && state.perms)) {
      return Usage(fmt::format("{} given twice for the same action", option->name));
    }
    RunOccurrence occurrence{*option, {}, true};
    for (const RunValue& value : option->values) {
      const std::string& text = args[++i];
      if (bwrap && value.kind == RunValueKind::kPath && text.empty()) {
        return Usage(fmt::format("{} does not take an empty path argument", name));
      }
      auto argument = ReadArgument(option->name, value, text);
      if (!argument) return std::unexpected(argument.error());
      // mntns run reads --size 0 as the kernel's default; bwrap refuses it.
      if (bwrap && option->name == "--size" && argument->number == 0) {
        return Usage("--size takes a non-zero number of bytes");
      }
      occurrence.values.push_back(std::move(*argument));
    }
    // --perms and --size belong to the very next option (bwrap 0.8+): one
    // that does not take them is an error, not a later --tmpfs's gain.
    if (!modifier && state.perms && !CreatesFile(option->name)) {
      return Usage(fmt::format("--perms must be followed by an option that creates a file (not {})", option->name));
    }
    if (!modifier && state.size && option->name != "--tmpfs") {
      return Usage(fmt::format("--size must be followed by --tmpfs (not {})", option->name));
    }
    if (auto applied = option->apply(occurrence, state); !applied) return std::unexpected(applied.error());
  }
  if (state.size) return Usage(fmt::format("--size {} is not followed by a --tmpfs", *state.size));
  if (state.perms) return Usage(fmt::format("--perms {:o} is not followed by a --tmpfs or --dir", *state.perms));
  if (!state.overlay_layers.empty()) {
    return Usage("--overlay-src is not followed by an --overlay, --tmp-overlay or --ro-overlay");
  }
  if (i < args.size()) spec.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return line;
}

Result<void> ApplyJsonSpec(const std::string& text, const std::string& origin, SandboxSpec& spec) {
  const JsonSpecReader reader(origin);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return reader.Bad("", "empty, not a JSON document");
  // nlohmann keeps the last of two equal keys ({"unshare": ["net"], "unshare":
  // []} would drop isolation without a word) and would nest as deep as memory
  // lasts: this callback stops the parse at either.
  std::vector<std::set<std::string>> keys_seen;
  const auto check = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) throw JsonRefused{fmt::format("nested deeper than {} levels", kMaxJsonDepth)};
        if (event == Json::parse_event_t::object_start) keys_seen.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        keys_seen.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys_seen.back().insert(parsed.get<std::string>()).second) {
          throw JsonRefused{fmt::format("duplicate key {}", parsed.dump())};
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json doc;
  try {
    doc = Json::parse(text, check);
  } catch (const JsonRefused& refused) {
    return reader.Bad("", refused.why);
  } catch (const nlohmann::json::exception& e) {
    return reader.Bad("", ParserMessage(e));
  }
  return reader.Document(doc, spec);
}

std::string RunOptionsHelp() {
  std::string help;
  std::vector<std::string_view> groups;
  for (const RunOption& option : Table()) {
    if (std::find(groups.begin(), groups.end(), option.group) == groups.end()) groups.push_back(option.group);
  }
  constexpr std::size_t kColumn = 26;
  for (std::string_view group : groups) {
    help += fmt::format("{}{}:\n", help.empty() ? "" : "\n", group);
    for (const RunOption& option : Table()) {
      if (option.group != group) continue;
      std::string head = fmt::format("  {}", option.name);
      for (const RunValue& value : option.values) head += fmt::format(" {}", value.metavar);
      head += head.size() + 2 <= kColumn ? std::string(kColumn - head.size(), ' ')
                                         : "\n" + std::string(kColumn, ' ');
      help += Wrap(std::move(head), kColumn, option.description);
    }
  }
  // What each kind of value may be, for the metavars that name it.
  std::vector<std::string> ranges;
  const auto metavars = [](RunValueKind kind) {
    std::vector<std::string_view> names;
    for (const RunOption& option : Table()) {
      for (const RunValue& value : option.values) {
        if (value.kind == kind && std::find(names.begin(), names.end(), value.metavar) == names.end()) {
          names.push_back(value.metavar);
        }
      }
    }
    return fmt::format("{}", fmt::join(names, "/"));
  };
  help += Wrap("\n", 2,
               fmt::format("Values: {} are decimal from 0 to {}, {} decimal from 0 to {}, {} octal from 0 to {:#o}, {} "
                           "one of auto|native|template|classic, {} not empty, {} 1 to {} bytes. Anything else is a "
                           "usage error (exit 2) naming the option and the value.",
                           metavars(RunValueKind::kId), kMaxId, metavars(RunValueKind::kBytes), UINT64_MAX,
                           metavars(RunValueKind::kMode), kMaxMode, metavars(RunValueKind::kStrategy),
                           metavars(RunValueKind::kPath), metavars(RunValueKind::kHostname), HOST_NAME_MAX));
  return help;
}

std::string JsonSpecHelp() {
  std::string help =
      "JSON spec (--json-spec FILE; same meaning as the options, mounts in order):\n"
      "  {\"root\": \"/srv/rootfs\",                      (optional; default: an empty tmpfs)\n"
      "   \"mounts\": [{\"type\": \"ro-bind\", \"src\": \"/usr\", \"dest\": \"/usr\"},\n"
      "              {\"type\": \"symlink\", \"target\": \"usr/bin\", \"dest\": \"/bin\"},\n"
      "              {\"type\": \"tmpfs\", \"dest\": \"/tmp\", \"size\": 1048576, \"perms\": \"1777\"},\n"
      "              {\"type\": \"proc\", \"dest\": \"/proc\"}, {\"type\": \"dev\", \"dest\": \"/dev\"},\n"
      "              {\"type\": \"ro-overlay\", \"sources\": [\"/lower\", \"/upper\"], \"dest\": \"/o\"}],\n"
      "   \"env\": [{\"clear\": true}, {\"set\": \"PATH\", \"value\": \"/usr/bin\"}, {\"unset\": \"X\"}],\n"
      "   \"chdir\": \"/tmp\", \"unshare\": [\"user\", \"pid\", \"net\", \"uts\", \"ipc\"],\n"
      "   \"uid\": 1000, \"gid\": 1000, \"hostname\": \"box\", \"die_with_parent\": true,\n"
      "   \"strategy\": \"auto\", \"command\": [\"/bin/sh\", \"-c\", \"ls /\"]}\n";
  // Mount types with the same keys share one entry: "bind ro-bind ... (src, dest)".
  std::vector<std::string> types;
  std::vector<std::string_view> last_keys;
  for (const RunOption& option : Table()) {
    if (option.json_place != RunJsonPlace::kMount) continue;
    const std::vector<std::string_view> keys = MountKeys(option);
    if (!types.empty() && keys == last_keys) {
      types.back().insert(types.back().rfind(" ("), fmt::format(" {}", option.json_name));
    } else {
      types.push_back(fmt::format("{} ({})", option.json_name, fmt::join(keys, ", ")));
    }
    last_keys = keys;
  }
  std::vector<std::string> env;
  for (const RunOption& option : Table()) {
    if (option.json_place == RunJsonPlace::kEnv) env.push_back(EnvForm(option));
  }
  std::vector<std::string> keys;
  for (const RunOption& option : Table()) {
    if (option.json_place == RunJsonPlace::kKey) keys.push_back(fmt::format("{} ({})", option.json_name, option.name));
  }
  std::vector<std::string> flags;
  for (const RunOption& option : Table()) {
    if (option.json_place == RunJsonPlace::kUnshare) {
      flags.push_back(fmt::format("{} ({})", option.json_name, option.name));
    }
  }
  help += Wrap("  ", 2, fmt::format("mount types and their keys (\"size\" is --size before the --tmpfs): {}.",
                                    fmt::join(types, "; ")));
  help += Wrap("  ", 2, fmt::format("env entries: {}. unshare: {}.", fmt::join(env, ", "), fmt::join(flags, ", ")));
  help += Wrap("  ", 2, fmt::format("Other keys: {}; command: CMD [ARG...].", fmt::join(keys, ", ")));
  help +=
      "  Sources are lowest first. Every key is optional but a mount's (size and perms are\n"
      "  optional there); an unknown key, a key the mount type does not take, or a duplicate key\n"
      "  is an error. perms is an octal string (\"0700\"), never a number; size (bytes), uid and\n"
      "  gid (at most 4294967294) are integers. A command after `--` on the command line replaces\n"
      "  \"command\".";
  return help;
}

}  // namespace mntns::cli
