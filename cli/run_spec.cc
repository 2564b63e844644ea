#include "run_spec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <optional>
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
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::string Member(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string Element(const std::string& path, std::size_t index) { return fmt::format("{}[{}]", path, index); }

// What a mount object of each "type" may (and, but for the optional ones,
// must) contain besides "type".
struct MountSchema {
  std::string_view type;
  std::vector<std::string_view> keys;
};

const std::vector<MountSchema>& MountSchemas() {
  static const std::vector<MountSchema> schemas = {
      {"bind", {"src", "dest"}},        {"ro-bind", {"src", "dest"}},     {"dev-bind", {"src", "dest"}},
      {"bind-try", {"src", "dest"}},    {"ro-bind-try", {"src", "dest"}}, {"dev-bind-try", {"src", "dest"}},
      {"tmpfs", {"dest", "size", "perms"}},
      {"proc", {"dest"}},
      {"dev", {"dest"}},
      {"dir", {"dest", "perms"}},
      {"symlink", {"target", "dest"}},
      {"remount-ro", {"dest"}},
      {"overlay", {"sources", "upper", "work", "dest"}},
      {"ro-overlay", {"sources", "dest"}},
      {"tmp-overlay", {"sources", "dest"}},
  };
  return schemas;
}

bool OptionalMountKey(std::string_view key) { return key == "size" || key == "perms"; }

// Reads one parsed document into a SandboxSpec: every value is checked for
// its type and range, every key must be known (a misspelt "unshar" would
// otherwise drop isolation without a word).
class JsonSpecReader {
 public:
  explicit JsonSpecReader(const std::string& origin) : origin_(origin) {}

  std::unexpected<Error> Bad(const std::string& path, std::string_view what) const {
    if (path.empty()) return Usage(fmt::format("--json-spec {}: {}", QuotePath(origin_), what));
    return Usage(fmt::format("--json-spec {}: {}: {}", QuotePath(origin_), path, what));
  }

  Result<void> Document(const Json& doc, SandboxSpec& spec) const {
    if (!doc.is_object()) return Bad("", fmt::format("the document must be an object, not {}", Shown(doc)));
    static constexpr std::string_view kKeys[] = {"root",     "mounts",  "env",      "chdir",
                                                 "unshare",  "uid",     "gid",      "hostname",
                                                 "die_with_parent", "strategy", "command"};
    for (const auto& [key, value] : doc.items()) {
      if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
        return Bad(key, "unknown key (known: root, mounts, env, chdir, unshare, uid, gid, hostname, "
                        "die_with_parent, strategy, command)");
      }
    }
    if (auto r = OptionalString(doc, "", "root", spec.root); !r) return r;
    if (const auto mounts = doc.find("mounts"); mounts != doc.end()) {
      if (!mounts->is_array()) return Bad("mounts", fmt::format("must be an array, not {}", Shown(*mounts)));
      for (std::size_t i = 0; i < mounts->size(); ++i) {
        auto mount = Mount((*mounts)[i], Element("mounts", i));
        if (!mount) return std::unexpected(mount.error());
        spec.mounts.push_back(std::move(*mount));
      }
    }
    if (const auto env = doc.find("env"); env != doc.end()) {
      if (!env->is_array()) return Bad("env", fmt::format("must be an array, not {}", Shown(*env)));
      for (std::size_t i = 0; i < env->size(); ++i) {
        auto change = EnvChange((*env)[i], Element("env", i));
        if (!change) return std::unexpected(change.error());
        spec.env.push_back(std::move(*change));
      }
    }
    if (auto r = OptionalString(doc, "", "chdir", spec.chdir); !r) return r;
    if (const auto unshare = doc.find("unshare"); unshare != doc.end()) {
      auto names = Strings(*unshare, "unshare");
      if (!names) return std::unexpected(names.error());
      for (std::size_t i = 0; i < names->size(); ++i) {
        const std::string& name = (*names)[i];
        if (name == "user") spec.unshare_user = true;
        else if (name == "pid") spec.unshare_pid = true;
        else if (name == "net") spec.unshare_net = true;
        else if (name == "uts") spec.unshare_uts = true;
        else if (name == "ipc") spec.unshare_ipc = true;
        else return Bad(Element("unshare", i), fmt::format("unknown namespace \"{}\" (user, pid, net, uts, ipc)", name));
      }
    }
    for (const char* key : {"uid", "gid"}) {
      const auto id = doc.find(key);
      if (id == doc.end()) continue;
      auto value = Unsigned(*id, key, kMaxId);
      if (!value) return std::unexpected(value.error());
      if (std::string_view(key) == "uid") spec.uid = static_cast<uid_t>(*value);
      else spec.gid = static_cast<gid_t>(*value);
    }
    if (auto r = OptionalString(doc, "", "hostname", spec.hostname); !r) return r;
    if (const auto die = doc.find("die_with_parent"); die != doc.end()) {
      if (!die->is_boolean()) return Bad("die_with_parent", fmt::format("must be true or false, not {}", Shown(*die)));
      spec.die_with_parent = die->get<bool>();
    }
    if (const auto strategy = doc.find("strategy"); strategy != doc.end()) {
      auto name = String(*strategy, "strategy");
      if (!name) return std::unexpected(name.error());
      auto parsed = ParseStrategy(*name);
      if (!parsed) return Bad("strategy", fmt::format("unknown strategy {}", parsed.error().argument));
      spec.strategy = *parsed;
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

  Result<void> OptionalString(const Json& object, const std::string& path, std::string_view key,
                              std::string& out) const {
    const auto found = object.find(key);
    if (found == object.end()) return kOk;
    auto text = String(*found, Member(path, key));
    if (!text) return std::unexpected(text.error());
    out = std::move(*text);
    return kOk;
  }

  Result<std::string> RequiredString(const Json& object, const std::string& path, std::string_view key) const {
    const auto found = object.find(key);
    if (found == object.end()) return Bad(Member(path, key), "missing");
    return String(*found, Member(path, key));
  }

  // A JSON integer (not 1.5, 1e30 or -1, which nlohmann would coerce) from 0 to `max`.
  Result<std::uint64_t> Unsigned(const Json& value, const std::string& path, std::uint64_t max) const {
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() > max) {
      const std::string range = max == UINT64_MAX ? "a non-negative integer" : fmt::format("an integer from 0 to {}", max);
      return Bad(path, fmt::format("must be {}, not {}", range, Shown(value)));
    }
    return value.get<std::uint64_t>();
  }

  Result<SandboxMount> Mount(const Json& object, const std::string& path) const {
    if (!object.is_object()) return Bad(path, fmt::format("must be an object, not {}", Shown(object)));
    auto type = RequiredString(object, path, "type");
    if (!type) return std::unexpected(type.error());
    const auto& schemas = MountSchemas();
    const auto schema = std::find_if(schemas.begin(), schemas.end(), [&](const auto& s) { return s.type == *type; });
    if (schema == schemas.end()) {
      return Bad(Member(path, "type"),
                 fmt::format("unknown mount type \"{}\" (bind ro-bind dev-bind bind-try ro-bind-try dev-bind-try "
                             "tmpfs proc dev dir symlink remount-ro overlay ro-overlay tmp-overlay)",
                             *type));
    }
    const std::string takes = fmt::format("{}", fmt::join(schema->keys, ", "));
    for (const auto& [key, value] : object.items()) {
      if (key != "type" && std::find(schema->keys.begin(), schema->keys.end(), key) == schema->keys.end()) {
        return Bad(Member(path, key), fmt::format("not a key of a \"{}\" mount (it takes {})", *type, takes));
      }
    }
    std::map<std::string_view, std::string> text;  // the schema's string keys, all required
    for (std::string_view key : schema->keys) {
      if (OptionalMountKey(key) || key == "sources") continue;
      auto value = RequiredString(object, path, key);
      if (!value) return std::unexpected(value.error());
      text[key] = std::move(*value);
    }
    if (type->find("bind") != std::string::npos) return Bind("--" + *type, text["src"], text["dest"]);
    auto perms = Perms(object, path);
    if (!perms) return std::unexpected(perms.error());
    if (*type == "tmpfs") {
      std::uint64_t size = 0;
      if (const auto found = object.find("size"); found != object.end()) {
        auto bytes = Unsigned(*found, Member(path, "size"), UINT64_MAX);
        if (!bytes) return std::unexpected(bytes.error());
        size = *bytes;
      }
      return WithPerms(Step(Kind::kTmpfs, text["dest"]), *perms, size);
    }
    if (*type == "dir") return WithPerms(Step(Kind::kDir, text["dest"]), *perms);
    if (*type == "proc") return Step(Kind::kProc, text["dest"]);
    if (*type == "dev") return Step(Kind::kDev, text["dest"]);
    if (*type == "remount-ro") return Step(Kind::kRemountRo, text["dest"]);
    if (*type == "symlink") return Step(Kind::kSymlink, text["dest"], text["target"]);
    const auto sources = object.find("sources");
    if (sources == object.end()) return Bad(Member(path, "sources"), "missing");
    auto layers = Strings(*sources, Member(path, "sources"));
    if (!layers) return std::unexpected(layers.error());
    SandboxMount mount = Step(Kind::kOverlay, text["dest"]);
    mount.layers = std::move(*layers);
    if (*type == "overlay") {
      mount.overlay_upper = SandboxMount::OverlayUpper::kDirectory;
      mount.source = text["upper"];
      mount.workdir = text["work"];
    } else {
      mount.overlay_upper =
          *type == "ro-overlay" ? SandboxMount::OverlayUpper::kNone : SandboxMount::OverlayUpper::kTmpfs;
    }
    return mount;
  }

  // "perms" is an octal string, as --perms: a JSON number would be read in
  // decimal (700 is mode 01274), so it is refused.
  Result<std::optional<mode_t>> Perms(const Json& object, const std::string& path) const {
    const auto found = object.find("perms");
    if (found == object.end()) return std::optional<mode_t>();
    const std::string where = Member(path, "perms");
    if (found->is_number()) {
      return Bad(where, fmt::format("write the mode as an octal string such as \"0700\", not the number {}",
                                    Shown(*found)));
    }
    auto text = String(*found, where);
    if (!text) return std::unexpected(text.error());
    auto mode = ParseMode(where, *text);
    if (!mode) return Bad(where, fmt::format("\"{}\" is not an octal mode from 0 to 07777", *text));
    return std::optional<mode_t>(*mode);
  }

  Result<SandboxEnvChange> EnvChange(const Json& object, const std::string& path) const {
    if (!object.is_object()) return Bad(path, fmt::format("must be an object, not {}", Shown(object)));
    const auto only = [&](std::initializer_list<std::string_view> keys, std::string_view entry) -> Result<void> {
      for (const auto& [key, value] : object.items()) {
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
          return Bad(Member(path, key), fmt::format("not a key of {} entry", entry));
        }
      }
      return kOk;
    };
    if (object.contains("set")) {
      if (auto r = only({"set", "value"}, "a \"set\" (with \"value\")"); !r) return std::unexpected(r.error());
      auto name = RequiredString(object, path, "set");
      if (!name) return std::unexpected(name.error());
      auto value = RequiredString(object, path, "value");
      if (!value) return std::unexpected(value.error());
      return SandboxEnvChange{SandboxEnvChange::Kind::kSet, std::move(*name), std::move(*value)};
    }
    if (object.contains("unset")) {
      if (auto r = only({"unset"}, "an \"unset\""); !r) return std::unexpected(r.error());
      auto name = RequiredString(object, path, "unset");
      if (!name) return std::unexpected(name.error());
      return SandboxEnvChange{SandboxEnvChange::Kind::kUnset, std::move(*name), {}};
    }
    if (object.contains("clear")) {
      if (auto r = only({"clear"}, "a \"clear\""); !r) return std::unexpected(r.error());
      if (object.at("clear") != true) {
        return Bad(Member(path, "clear"), fmt::format("must be true, not {}", Shown(object.at("clear"))));
      }
      return SandboxEnvChange{SandboxEnvChange::Kind::kClear, {}, {}};
    }
    return Bad(path, "an env entry is {\"set\": NAME, \"value\": VALUE}, {\"unset\": NAME} or {\"clear\": true}");
  }

  const std::string& origin_;
};

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
         "  sources are lowest first. Every key is optional except a mount's (but size, perms);\n"
         "  an unknown key, a key the mount type does not take, or a duplicate key is an error.\n"
         "  perms is an octal string (\"0700\"), never a number; size (bytes), uid and gid (at\n"
         "  most 4294967294) are integers. A command after `--` on the command line replaces\n"
         "  \"command\".";
}

}  // namespace mntns::cli
