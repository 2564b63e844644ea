#include "run_spec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "mntns/fd.h"

namespace mntns::cli {
namespace {

using Kind = SandboxMount::Kind;
using Json = nlohmann::json;

// setresuid/setresgid and the id maps read (uid_t)-1 as "no id".
constexpr std::uint64_t kMaxId = 4294967294;

std::unexpected<Error> Usage(std::string what) { return MakeError(EINVAL, "mntns run", std::move(what)); }

Result<std::uint64_t> ParseNumber(const std::string& option, const std::string& text, int base) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec == std::errc::result_out_of_range) return Usage(fmt::format("{} {}: too large", option, text));
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Usage(fmt::format("{} \"{}\": not a{} number", option, text, base == 8 ? "n octal" : " decimal"));
  }
  return value;
}

// The one rule for a mode, from --perms or a JSON "perms": octal digits only
// ("700", "0700", "1777"), at most 07777.
Result<mode_t> ParseMode(const std::string& where, const std::string& text) {
  auto mode = ParseNumber(where, text, 8);
  if (!mode) return std::unexpected(mode.error());
  if (*mode > 07777) return Usage(fmt::format("{} {}: not a mode (at most 07777)", where, text));
  return static_cast<mode_t>(*mode);
}

Result<std::uint32_t> ParseId(const std::string& option, const std::string& text) {
  auto id = ParseNumber(option, text, 10);
  if (!id) return std::unexpected(id.error());
  if (*id > kMaxId) return Usage(fmt::format("{} {}: out of range (0 to {})", option, text, kMaxId));
  return static_cast<std::uint32_t>(*id);
}

// The parsing state bwrap keeps between options.
struct Pending {
  std::optional<std::uint64_t> size;
  std::optional<mode_t> perms;
  std::vector<std::string> overlay_layers;
};

// A step with its kind and paths; the other fields keep their defaults.
SandboxMount Step(Kind kind, std::string dest, std::string source = {}) {
  SandboxMount mount;
  mount.kind = kind;
  mount.dest = std::move(dest);
  mount.source = std::move(source);
  return mount;
}

SandboxMount WithPerms(SandboxMount mount, std::optional<mode_t> perms, std::uint64_t size = 0) {
  mount.perms = perms;
  mount.size = size;
  return mount;
}

SandboxMount Bind(const std::string& option, std::string source, std::string dest) {
  SandboxMount mount = Step(Kind::kBind, std::move(dest), std::move(source));
  mount.read_only = option.starts_with("--ro-");
  mount.allow_devices = option.starts_with("--dev-");
  mount.optional = option.ends_with("-try");
  return mount;
}

Result<void> AddOverlay(SandboxSpec& spec, Pending& pending, const std::string& option, SandboxMount mount) {
  if (pending.overlay_layers.empty()) return Usage(fmt::format("{} {} needs --overlay-src first", option, mount.dest));
  mount.kind = Kind::kOverlay;
  mount.layers = std::move(pending.overlay_layers);
  pending.overlay_layers.clear();
  spec.mounts.push_back(std::move(mount));
  return kOk;
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
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    return MakeError(err, "--json-spec", where);
  }
  if (S_ISDIR(st.st_mode)) return MakeError(EISDIR, "--json-spec", where);
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
    return MakeError(EINVAL, "--json-spec", fmt::format("{} ({}; it takes a regular file or a pipe)", where,
                                                        FileKind(st.st_mode)));
  }
  // Without O_NONBLOCK, opening a FIFO waits until some process opens it for writing.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
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

}  // namespace

Result<SandboxSpec> ParseRunArguments(const std::vector<std::string>& args) {
  SandboxSpec spec;
  Pending pending;
  std::size_t i = 0;
  const auto need = [&](const std::string& option, std::size_t count) -> Result<void> {
    if (i + count >= args.size()) {
      return Usage(fmt::format("{} needs {} argument{}", option, count, count == 1 ? "" : "s"));
    }
    return kOk;
  };
  for (; i < args.size(); ++i) {
    const std::string& option = args[i];
    if (option == "--") {
      ++i;
      break;
    }
    if (!option.starts_with("--")) break;
    static const std::vector<std::pair<std::string, std::size_t>> kArity = {
        {"--root", 1},          {"--bind", 2},         {"--ro-bind", 2},     {"--dev-bind", 2},
        {"--bind-try", 2},      {"--ro-bind-try", 2},  {"--dev-bind-try", 2}, {"--tmpfs", 1},
        {"--size", 1},          {"--perms", 1},        {"--proc", 1},        {"--dev", 1},
        {"--dir", 1},           {"--symlink", 2},      {"--remount-ro", 1},  {"--overlay-src", 1},
        {"--overlay", 3},       {"--tmp-overlay", 1},  {"--ro-overlay", 1},  {"--chdir", 1},
        {"--setenv", 2},        {"--unsetenv", 1},     {"--clearenv", 0},    {"--unshare-user", 0},
        {"--unshare-pid", 0},   {"--unshare-net", 0},  {"--unshare-uts", 0}, {"--unshare-ipc", 0},
        {"--unshare-all", 0},   {"--uid", 1},          {"--gid", 1},         {"--hostname", 1},
        {"--die-with-parent", 0}, {"--strategy", 1},   {"--json-spec", 1}};
    const auto arity = std::find_if(kArity.begin(), kArity.end(), [&](const auto& a) { return a.first == option; });
    if (arity == kArity.end()) return Usage(fmt::format("unknown option {} (see mntns run --help)", option));
    if (auto r = need(option, arity->second); !r) return std::unexpected(r.error());
    const std::string a1 = arity->second >= 1 ? args[i + 1] : std::string();
    const std::string a2 = arity->second >= 2 ? args[i + 2] : std::string();
    const std::string a3 = arity->second >= 3 ? args[i + 3] : std::string();
    i += arity->second;

    if (option == "--root") {
      spec.root = a1;
    } else if (option.find("bind") != std::string::npos) {
      spec.mounts.push_back(Bind(option, a1, a2));
    } else if (option == "--size") {
      auto size = ParseNumber(option, a1, 10);
      if (!size) return std::unexpected(size.error());
      pending.size = *size;
    } else if (option == "--perms") {
      auto perms = ParseMode(option, a1);
      if (!perms) return std::unexpected(perms.error());
      pending.perms = *perms;
    } else if (option == "--tmpfs") {
      spec.mounts.push_back(WithPerms(Step(Kind::kTmpfs, a1), pending.perms, pending.size.value_or(0)));
      pending.size.reset();
      pending.perms.reset();
    } else if (option == "--dir") {
      spec.mounts.push_back(WithPerms(Step(Kind::kDir, a1), pending.perms));
      pending.perms.reset();
    } else if (option == "--proc") {
      spec.mounts.push_back(Step(Kind::kProc, a1));
    } else if (option == "--dev") {
      spec.mounts.push_back(Step(Kind::kDev, a1));
    } else if (option == "--symlink") {
      spec.mounts.push_back(Step(Kind::kSymlink, a2, a1));
    } else if (option == "--remount-ro") {
      spec.mounts.push_back(Step(Kind::kRemountRo, a1));
    } else if (option == "--overlay-src") {
      pending.overlay_layers.push_back(a1);
    } else if (option == "--overlay") {
      SandboxMount mount = Step(Kind::kOverlay, a3, a1);
      mount.workdir = a2;
      mount.overlay_upper = SandboxMount::OverlayUpper::kDirectory;
      if (auto r = AddOverlay(spec, pending, option, std::move(mount)); !r) return std::unexpected(r.error());
    } else if (option == "--tmp-overlay" || option == "--ro-overlay") {
      SandboxMount mount = Step(Kind::kOverlay, a1);
      mount.overlay_upper =
          option == "--ro-overlay" ? SandboxMount::OverlayUpper::kNone : SandboxMount::OverlayUpper::kTmpfs;
      if (auto r = AddOverlay(spec, pending, option, std::move(mount)); !r) return std::unexpected(r.error());
    } else if (option == "--chdir") {
      spec.chdir = a1;
    } else if (option == "--setenv") {
      spec.env.push_back({SandboxEnvChange::Kind::kSet, a1, a2});
    } else if (option == "--unsetenv") {
      spec.env.push_back({SandboxEnvChange::Kind::kUnset, a1, {}});
    } else if (option == "--clearenv") {
      spec.env.push_back({SandboxEnvChange::Kind::kClear, {}, {}});
    } else if (option == "--unshare-user") {
      spec.unshare_user = true;
    } else if (option == "--unshare-pid") {
      spec.unshare_pid = true;
    } else if (option == "--unshare-net") {
      spec.unshare_net = true;
    } else if (option == "--unshare-uts") {
      spec.unshare_uts = true;
    } else if (option == "--unshare-ipc") {
      spec.unshare_ipc = true;
    } else if (option == "--unshare-all") {
      spec.unshare_user = spec.unshare_pid = spec.unshare_net = spec.unshare_uts = spec.unshare_ipc = true;
    } else if (option == "--uid" || option == "--gid") {
      auto id = ParseId(option, a1);
      if (!id) return std::unexpected(id.error());
      if (option == "--uid") spec.uid = static_cast<uid_t>(*id);
      else spec.gid = static_cast<gid_t>(*id);
    } else if (option == "--hostname") {
      spec.hostname = a1;
    } else if (option == "--die-with-parent") {
      spec.die_with_parent = true;
    } else if (option == "--strategy") {
      auto strategy = ParseStrategy(a1);
      if (!strategy) return Usage(fmt::format("--strategy {}", strategy.error().argument));
      spec.strategy = *strategy;
    } else if (option == "--json-spec") {
      auto text = ReadJsonFile(a1);
      if (!text) return std::unexpected(text.error());
      if (auto r = ApplyJsonSpec(*text, a1, spec); !r) return std::unexpected(r.error());
    }
  }
  if (pending.size) return Usage(fmt::format("--size {} is not followed by a --tmpfs", *pending.size));
  if (pending.perms) return Usage(fmt::format("--perms {:o} is not followed by a --tmpfs or --dir", *pending.perms));
  if (!pending.overlay_layers.empty()) {
    return Usage("--overlay-src is not followed by an --overlay, --tmp-overlay or --ro-overlay");
  }
  if (i < args.size()) spec.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return spec;
}

Result<void> ApplyJsonSpec(const std::string& text, const std::string& origin, SandboxSpec& spec) {
  const auto bad = [&](const std::string& what) { return Usage(fmt::format("--json-spec {}: {}", origin, what)); };
  // A FIFO without a writer reads as nothing: say so, not "unexpected end of input".
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return bad("empty, not a JSON document");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return bad(e.what());
  }
  if (!doc.is_object()) return bad("the document must be an object");
  try {
    if (doc.contains("root")) spec.root = doc.at("root").get<std::string>();
    for (const auto& m : doc.value("mounts", nlohmann::json::array())) {
      const std::string type = m.at("type").get<std::string>();
      const auto str = [&](const char* key) { return m.at(key).get<std::string>(); };
      const auto perms = [&]() -> std::optional<mode_t> {
        if (!m.contains("perms")) return std::nullopt;
        const auto& p = m.at("perms");
        if (p.is_string()) return static_cast<mode_t>(std::stoul(p.get<std::string>(), nullptr, 8));
        return static_cast<mode_t>(p.get<unsigned>());
      };
      if (type.find("bind") != std::string::npos && type.find("bind") == type.rfind("bind")) {
        const std::string option = "--" + type;
        if (option != "--bind" && option != "--ro-bind" && option != "--dev-bind" && option != "--bind-try" &&
            option != "--ro-bind-try" && option != "--dev-bind-try") {
          return bad(fmt::format("unknown mount type \"{}\"", type));
        }
        spec.mounts.push_back(Bind(option, str("src"), str("dest")));
      } else if (type == "tmpfs") {
        spec.mounts.push_back(WithPerms(Step(Kind::kTmpfs, str("dest")), perms(), m.value("size", std::uint64_t{0})));
      } else if (type == "proc") {
        spec.mounts.push_back(Step(Kind::kProc, str("dest")));
      } else if (type == "dev") {
        spec.mounts.push_back(Step(Kind::kDev, str("dest")));
      } else if (type == "dir") {
        spec.mounts.push_back(WithPerms(Step(Kind::kDir, str("dest")), perms()));
      } else if (type == "symlink") {
        spec.mounts.push_back(Step(Kind::kSymlink, str("dest"), str("target")));
      } else if (type == "remount-ro") {
        spec.mounts.push_back(Step(Kind::kRemountRo, str("dest")));
      } else if (type == "overlay" || type == "ro-overlay" || type == "tmp-overlay") {
        SandboxMount mount = Step(Kind::kOverlay, str("dest"));
        mount.layers = m.at("sources").get<std::vector<std::string>>();
        if (type == "overlay") {
          mount.overlay_upper = SandboxMount::OverlayUpper::kDirectory;
          mount.source = str("upper");
          mount.workdir = str("work");
        } else {
          mount.overlay_upper =
              type == "ro-overlay" ? SandboxMount::OverlayUpper::kNone : SandboxMount::OverlayUpper::kTmpfs;
        }
        spec.mounts.push_back(std::move(mount));
      } else {
        return bad(fmt::format("unknown mount type \"{}\"", type));
      }
    }
    for (const auto& e : doc.value("env", nlohmann::json::array())) {
      if (e.contains("set")) {
        spec.env.push_back({SandboxEnvChange::Kind::kSet, e.at("set").get<std::string>(), e.at("value").get<std::string>()});
      } else if (e.contains("unset")) {
        spec.env.push_back({SandboxEnvChange::Kind::kUnset, e.at("unset").get<std::string>(), {}});
      } else if (e.value("clear", false)) {
        spec.env.push_back({SandboxEnvChange::Kind::kClear, {}, {}});
      } else {
        return bad("an env entry needs \"set\"+\"value\", \"unset\" or \"clear\": true");
      }
    }
    if (doc.contains("chdir")) spec.chdir = doc.at("chdir").get<std::string>();
    for (const auto& ns : doc.value("unshare", nlohmann::json::array())) {
      const std::string name = ns.get<std::string>();
      if (name == "user") spec.unshare_user = true;
      else if (name == "pid") spec.unshare_pid = true;
      else if (name == "net") spec.unshare_net = true;
      else if (name == "uts") spec.unshare_uts = true;
      else if (name == "ipc") spec.unshare_ipc = true;
      else return bad(fmt::format("unknown namespace \"{}\" in \"unshare\"", name));
    }
    if (doc.contains("uid")) spec.uid = doc.at("uid").get<uid_t>();
    if (doc.contains("gid")) spec.gid = doc.at("gid").get<gid_t>();
    if (doc.contains("hostname")) spec.hostname = doc.at("hostname").get<std::string>();
    if (doc.contains("die_with_parent")) spec.die_with_parent = doc.at("die_with_parent").get<bool>();
    if (doc.contains("strategy")) {
      auto strategy = ParseStrategy(doc.at("strategy").get<std::string>());
      if (!strategy) return bad(strategy.error().Message());
      spec.strategy = *strategy;
    }
    if (doc.contains("command")) spec.argv = doc.at("command").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  } catch (const std::exception& e) {
    return bad(e.what());
  }
  return kOk;
}

const char* JsonSpecHelp() {
  return "JSON spec (--json-spec FILE; same meaning as the options, mounts in order):\n"
         "  {\"root\": \"/srv/rootfs\",                      (optional; default: an empty tmpfs)\n"
         "   \"mounts\": [{\"type\": \"ro-bind\", \"src\": \"/usr\", \"dest\": \"/usr\"},\n"
         "              {\"type\": \"symlink\", \"target\": \"usr/bin\", \"dest\": \"/bin\"},\n"
         "              {\"type\": \"tmpfs\", \"dest\": \"/tmp\", \"size\": 1048576, \"perms\": \"1777\"},\n"
         "              {\"type\": \"proc\", \"dest\": \"/proc\"}, {\"type\": \"dev\", \"dest\": \"/dev\"},\n"
         "              {\"type\": \"ro-overlay\", \"sources\": [\"/lower\", \"/upper\"], \"dest\": \"/o\"}],\n"
         "   \"env\": [{\"clear\": true}, {\"set\": \"PATH\", \"value\": \"/usr/bin\"}, {\"unset\": \"X\"}],\n"
         "   \"chdir\": \"/tmp\", \"unshare\": [\"user\", \"pid\", \"net\", \"uts\", \"ipc\"],\n"
         "   \"uid\": 1000, \"gid\": 1000, \"hostname\": \"box\", \"die_with_parent\": true,\n"
         "   \"strategy\": \"auto\", \"command\": [\"/bin/sh\", \"-c\", \"ls /\"]}\n"
         "  mount types: bind ro-bind dev-bind bind-try ro-bind-try dev-bind-try (src, dest),\n"
         "  tmpfs (dest, size, perms), proc, dev, dir (dest, perms), symlink (target, dest),\n"
         "  remount-ro (dest), overlay (sources, upper, work, dest), ro-overlay and tmp-overlay\n"
         "  (sources, dest);\n"
         "  sources are lowest first. A command after `--` on the command line replaces \"command\".";
}

}  // namespace mntns::cli
