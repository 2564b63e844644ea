// mntns run's parsers (cli/run_spec.h): the command-line options and the JSON
// spec, strict about what they accept, and the --json-spec FILE reader.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "command.h"
#include "run_spec.h"
#include "support/namespace.h"

namespace mntns::cli {
namespace {

// The error of applying `json`, or "" when it was accepted.
std::string JsonError(const std::string& json) {
  SandboxSpec spec;
  auto applied = ApplyJsonSpec(json, "spec.json", spec);
  if (applied) return "";
  EXPECT_EQ(applied.error().code, EINVAL) << applied.error().Message();
  return applied.error().Message();
}

// The spec from `json`; the test fails if it was refused.
SandboxSpec JsonSpec(const std::string& json) {
  SandboxSpec spec;
  auto applied = ApplyJsonSpec(json, "spec.json", spec);
  EXPECT_TRUE(applied.has_value()) << applied.error().Message();
  return spec;
}

std::string ArgumentsError(const std::vector<std::string>& args) {
  auto spec = ParseRunArguments(args);
  return spec ? "" : spec.error().Message();
}

// `text` contains `part` (the message is shown when it does not).
::testing::AssertionResult Mentions(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not mention \"" << part << "\"";
}

std::size_t Count(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// A document with one mount of `type` whose `key` is `value` (JSON text).
std::string OneMount(const std::string& type, const std::string& key, const std::string& value) {
  return R"({"mounts": [{"type": ")" + type + R"(", "dest": "/d", ")" + key + R"(": )" + value + "}]}";
}

// ---- the JSON spec: what it accepts ---------------------------------------------

TEST(RunJsonSpec, EveryDocumentedKeyFillsItsField) {
  const SandboxSpec spec = JsonSpec(R"({
      "root": "/srv/rootfs",
      "mounts": [{"type": "ro-bind-try", "src": "/usr", "dest": "/usr"},
                 {"type": "tmpfs", "dest": "/tmp", "size": 1048576, "perms": "1777"},
                 {"type": "dir", "dest": "/work", "perms": "0700"},
                 {"type": "symlink", "target": "usr/bin", "dest": "/bin"},
                 {"type": "overlay", "sources": ["/l1", "/l2"], "upper": "/up", "work": "/wk", "dest": "/o"}],
      "env": [{"clear": true}, {"set": "PATH", "value": "/usr/bin"}, {"unset": "X"}],
      "chdir": "/work", "unshare": ["user", "pid", "net", "uts", "ipc"],
      "uid": 4294967294, "gid": 0, "hostname": "box", "die_with_parent": true,
      "strategy": "classic", "command": ["/bin/sh", "-c", "ls /"]})");
  EXPECT_EQ(spec.root, "/srv/rootfs");
  ASSERT_EQ(spec.mounts.size(), 5U);
  EXPECT_EQ(spec.mounts[0].kind, SandboxMount::Kind::kBind);
  EXPECT_TRUE(spec.mounts[0].read_only && spec.mounts[0].optional && !spec.mounts[0].allow_devices);
  EXPECT_EQ(spec.mounts[0].source, "/usr");
  EXPECT_EQ(spec.mounts[1].kind, SandboxMount::Kind::kTmpfs);
  EXPECT_EQ(spec.mounts[1].size, 1048576U);
  EXPECT_EQ(spec.mounts[1].perms, std::optional<mode_t>(01777));
  EXPECT_EQ(spec.mounts[2].perms, std::optional<mode_t>(0700));
  EXPECT_EQ(spec.mounts[3].source, "usr/bin");
  EXPECT_EQ(spec.mounts[3].dest, "/bin");
  EXPECT_EQ(spec.mounts[4].layers, (std::vector<std::string>{"/l1", "/l2"}));
  EXPECT_EQ(spec.mounts[4].source, "/up");
  EXPECT_EQ(spec.mounts[4].workdir, "/wk");
  EXPECT_EQ(spec.mounts[4].dest, "/o");
  ASSERT_EQ(spec.env.size(), 3U);
  EXPECT_EQ(spec.env[1].value, "/usr/bin");
  EXPECT_EQ(spec.chdir, "/work");
  EXPECT_TRUE(spec.unshare_user && spec.unshare_pid && spec.unshare_net && spec.unshare_uts && spec.unshare_ipc);
  EXPECT_EQ(spec.uid, std::optional<uid_t>(4294967294U));
  EXPECT_EQ(spec.gid, std::optional<gid_t>(0));
  EXPECT_EQ(spec.hostname, "box");
  EXPECT_TRUE(spec.die_with_parent);
  EXPECT_EQ(spec.strategy, NamespaceStrategy::kClassic);
  EXPECT_EQ(spec.argv, (std::vector<std::string>{"/bin/sh", "-c", "ls /"}));
}

TEST(RunJsonSpec, PermsIsAnOctalStringLikeThePermsOption) {
  for (const std::string perms : {"700", "0700", "1777", "0", "7777"}) {
    const SandboxSpec json = JsonSpec(OneMount("dir", "perms", "\"" + perms + "\""));
    auto options = ParseRunArguments({"--perms", perms, "--dir", "/d"});
    ASSERT_TRUE(options.has_value()) << options.error().Message();
    ASSERT_EQ(json.mounts.size(), 1U);
    EXPECT_EQ(json.mounts[0].perms, options->mounts[0].perms) << perms;
    EXPECT_EQ(json.mounts[0].perms, std::optional<mode_t>(std::stoul(perms, nullptr, 8))) << perms;
  }
}

// ---- the JSON spec: what it refuses, naming the key by its path -----------------

// "unshar" for "unshare" would otherwise run the command without the namespaces.
TEST(RunJsonSpec, AnUnknownKeyIsAnErrorNamingIt) {
  EXPECT_TRUE(Mentions(JsonError(R"({"unshar": ["net"]})"), "unshar: unknown key"));
  EXPECT_TRUE(Mentions(JsonError(R"({"die_with_parrent": true})"), "die_with_parrent: unknown key"));
}

TEST(RunJsonSpec, AMountKeyItsTypeDoesNotTakeIsAnError) {
  EXPECT_TRUE(Mentions(JsonError(OneMount("tmpfs", "src", "\"/x\"")), "mounts[0].src: not a key of a \"tmpfs\" mount"));
  EXPECT_TRUE(Mentions(JsonError(OneMount("bind", "perms", "\"700\"")), "mounts[0].perms: not a key of a \"bind\""));
  EXPECT_TRUE(Mentions(JsonError(OneMount("proc", "sizee", "1")), "mounts[0].sizee"));
}

TEST(RunJsonSpec, AnUnknownKeyInAnEnvEntryIsAnError) {
  EXPECT_TRUE(Mentions(JsonError(R"({"env": [{"set": "A", "value": "1", "vaule": "2"}]})"), "env[0].vaule"));
  EXPECT_TRUE(Mentions(JsonError(R"({"env": [{"clear": true}, {"unset": "A", "set": "B"}]})"), "env[1]"));
  EXPECT_TRUE(Mentions(JsonError(R"({"env": [{"clear": false}]})"), "env[0].clear: must be true"));
  EXPECT_TRUE(Mentions(JsonError(R"({"env": [{"sett": "A"}]})"), "env[0]: an env entry is"));
}

// nlohmann keeps the last of equal keys: the first "unshare" would be dropped.
TEST(RunJsonSpec, ADuplicateKeyIsAnError) {
  EXPECT_TRUE(Mentions(JsonError(R"({"unshare": ["net"], "unshare": []})"), "duplicate key \"unshare\""));
  EXPECT_TRUE(Mentions(JsonError(R"({"mounts": [{"type": "proc", "dest": "/p", "dest": "/q"}]})"),
                       "duplicate key \"dest\""));
}

TEST(RunJsonSpec, AValueOfTheWrongTypeIsAnErrorNamingItsPath) {
  EXPECT_TRUE(Mentions(JsonError(R"({"mounts": [{"type": "proc", "dest": 5}]})"), "mounts[0].dest: must be a string"));
  EXPECT_TRUE(Mentions(JsonError(R"({"unshare": "net"})"), "unshare: must be an array"));
  EXPECT_TRUE(Mentions(JsonError(R"({"unshare": ["net", 1]})"), "unshare[1]: must be a string"));
  EXPECT_TRUE(Mentions(JsonError(R"({"die_with_parent": "yes"})"), "die_with_parent: must be true or false"));
  EXPECT_TRUE(Mentions(JsonError(R"({"command": ["/bin/sh", null]})"), "command[1]: must be a string"));
  EXPECT_TRUE(Mentions(JsonError(R"({"mounts": [{"type": "ro-overlay", "dest": "/o", "sources": ["/a", []]}]})"),
                       "mounts[0].sources[1]: must be a string"));
  EXPECT_TRUE(Mentions(JsonError(R"({"mounts": {"type": "proc"}})"), "mounts: must be an array"));
  EXPECT_TRUE(Mentions(JsonError(R"(["root"])"), "the document must be an object"));
}

TEST(RunJsonSpec, AMissingMountKeyIsAnError) {
  EXPECT_TRUE(Mentions(JsonError(R"({"mounts": [{"type": "bind", "dest": "/d"}]})"), "mounts[0].src: missing"));
  EXPECT_TRUE(Mentions(JsonError(R"({"mounts": [{"dest": "/d"}]})"), "mounts[0].type: missing"));
  EXPECT_TRUE(Mentions(JsonError(R"({"mounts": [{"type": "bindd", "dest": "/d"}]})"),
                       "mounts[0].type: unknown mount type \"bindd\""));
}

// A number would be read in decimal: 700 became mode 01274, 1777 mode 03361 (setgid).
TEST(RunJsonSpec, PermsAsANumberIsRefusedAskingForAString) {
  const std::string error = JsonError(OneMount("tmpfs", "perms", "700"));
  EXPECT_TRUE(Mentions(error, "mounts[0].perms: write the mode as an octal string"));
  EXPECT_TRUE(Mentions(JsonError(OneMount("dir", "perms", "1777")), "mounts[0].perms"));
}

TEST(RunJsonSpec, PermsThatIsNotAnOctalModeIsRefused) {
  for (const char* perms : {"\"8\"", "\"10000\"", "\"-1\"", "\"\"", "\"0x1ff\"", "\"0o700\"", "\" 700\"", "true"}) {
    EXPECT_TRUE(Mentions(JsonError(OneMount("tmpfs", "perms", perms)), "mounts[0].perms")) << perms;
  }
}

// nlohmann's get<uid_t>() turned 1e30 into 0 (root), 1.5 into 1 and -1 into "no id".
TEST(RunJsonSpec, UidAndGidAreIntegersUpToTheLargestId) {
  for (const char* id : {"1e30", "1.5", "-1", "4294967295", "1e3", "\"1000\"", "1000.0"}) {
    EXPECT_TRUE(Mentions(JsonError(std::string(R"({"uid": )") + id + "}"), "uid: must be an integer")) << id;
    EXPECT_TRUE(Mentions(JsonError(std::string(R"({"gid": )") + id + "}"), "gid: must be an integer")) << id;
  }
}

// "size": -5 became an unlimited tmpfs.
TEST(RunJsonSpec, SizeIsANonNegativeInteger) {
  for (const char* size : {"-5", "1.5", "\"1M\"", "1e400", "18446744073709551616"}) {
    EXPECT_NE(JsonError(OneMount("tmpfs", "size", size)), "") << size;
  }
  EXPECT_TRUE(Mentions(JsonError(OneMount("tmpfs", "size", "-5")), "mounts[0].size"));
  EXPECT_EQ(JsonSpec(OneMount("tmpfs", "size", "18446744073709551615")).mounts.at(0).size, UINT64_MAX);
}

// "/a\u0000b" became "/a" on its way to the kernel.
TEST(RunJsonSpec, AStringWithANulIsRefused) {
  EXPECT_TRUE(Mentions(JsonError(R"({"mounts": [{"type": "proc", "dest": "/a\u0000b"}]})"),
                       "mounts[0].dest: contains a NUL"));
  EXPECT_TRUE(Mentions(JsonError(R"({"command": ["/bin/sh", "-c\u0000x"]})"), "command[1]: contains a NUL"));
  EXPECT_TRUE(Mentions(JsonError(R"({"env": [{"set": "A", "value": "1\u0000"}]})"), "env[0].value: contains a NUL"));
  EXPECT_TRUE(Mentions(JsonError(R"({"hostname": "a\u0000"})"), "hostname: contains a NUL"));
}

TEST(RunJsonSpec, AnUnknownStrategyOrNamespaceIsAnError) {
  EXPECT_TRUE(Mentions(JsonError(R"({"strategy": "fast"})"), "strategy: unknown strategy \"fast\""));
  EXPECT_TRUE(Mentions(JsonError(R"({"unshare": ["mnt"]})"), "unshare[0]: unknown namespace \"mnt\""));
}

TEST(RunJsonSpec, DeepNestingIsRefusedBeforeItIsBuilt) {
  const std::string deep(kJsonSpecMaxBytes, '[');
  EXPECT_TRUE(Mentions(JsonError(deep), "nested deeper than"));
}

TEST(RunJsonSpec, SyntaxErrorsSayWhereWithoutParserInternals) {
  const std::string error = JsonError(R"({"root": )");
  EXPECT_TRUE(Mentions(error, "not valid JSON at line 1, column 10"));
  EXPECT_EQ(error.find("json.exception"), std::string::npos) << error;
  EXPECT_TRUE(Mentions(JsonError(" \n"), "empty"));
}

TEST(RunJsonSpec, ErrorsNameTheFileAndTheErrnoOnce) {
  const std::string error = JsonError(R"({"uid": -1})");
  EXPECT_TRUE(Mentions(error, "--json-spec \"spec.json\": uid:"));
  EXPECT_EQ(Count(error, "EINVAL"), 1U) << error;
}

// ---- the options ------------------------------------------------------------------

// 4294967296 wrapped to uid 0; 4294967295 is (uid_t)-1, "no id".
TEST(RunArguments, UidAndGidAboveTheLargestIdAreRefused) {
  EXPECT_TRUE(Mentions(ArgumentsError({"--uid", "4294967296", "--", "x"}), "--uid 4294967296: out of range"));
  EXPECT_TRUE(Mentions(ArgumentsError({"--gid", "4294967295", "--", "x"}), "--gid 4294967295: out of range"));
  EXPECT_TRUE(Mentions(ArgumentsError({"--uid", "99999999999999999999", "--", "x"}), "--uid"));
  EXPECT_TRUE(Mentions(ArgumentsError({"--uid", "-1", "--", "x"}), "--uid"));
  auto spec = ParseRunArguments({"--uid", "4294967294", "--", "x"});
  ASSERT_TRUE(spec.has_value()) << spec.error().Message();
  EXPECT_EQ(spec->uid, std::optional<uid_t>(4294967294U));
}

TEST(RunArguments, SizeIsADecimalByteCount) {
  for (const char* size : {"-5", "1M", "1e3", "0x10", "18446744073709551616", ""}) {
    EXPECT_TRUE(Mentions(ArgumentsError({"--size", size, "--tmpfs", "/t", "--", "x"}), "--size")) << size;
  }
}

TEST(RunArguments, PermsIsAnOctalModeUpTo07777) {
  for (const char* perms : {"8", "10000", "-1", "0x1ff", ""}) {
    EXPECT_TRUE(Mentions(ArgumentsError({"--perms", perms, "--tmpfs", "/t", "--", "x"}), "--perms")) << perms;
  }
}

// ParseStrategy's own error already ended in the errno; the usage error added it again.
TEST(RunArguments, ABadStrategyNamesTheOptionAndTheErrnoOnce) {
  const std::string error = ArgumentsError({"--strategy", "bogus", "--", "x"});
  EXPECT_TRUE(Mentions(error, "--strategy \"bogus\""));
  EXPECT_EQ(Count(error, "EINVAL"), 1U) << error;
}

TEST(RunArguments, AnOverlayWithoutSourcesNamesItsOwnOption) {
  EXPECT_TRUE(Mentions(ArgumentsError({"--tmp-overlay", "/o", "--", "x"}), "--tmp-overlay /o needs --overlay-src"));
  EXPECT_TRUE(Mentions(ArgumentsError({"--ro-overlay", "/o", "--", "x"}), "--ro-overlay /o needs --overlay-src"));
}

// ---- the option table: one vocabulary for the command line, JSON and --help -------

// Everything ParseRunArguments and ApplyJsonSpec can set, as text to compare.
std::string Describe(const SandboxSpec& spec) {
  std::string text = fmt::format("root={} chdir={} hostname={} user={} pid={} net={} uts={} ipc={} uid={} gid={} "
                                 "die={} strategy={} argv={} cgroup={}\n",
                                 spec.root, spec.chdir, spec.hostname, spec.unshare_user, spec.unshare_pid,
                                 spec.unshare_net, spec.unshare_uts, spec.unshare_ipc,
                                 spec.uid ? std::to_string(*spec.uid) : "-", spec.gid ? std::to_string(*spec.gid) : "-",
                                 spec.die_with_parent, static_cast<int>(spec.strategy), fmt::join(spec.argv, " "),
                                 spec.unshare_cgroup);
  for (const SandboxMount& m : spec.mounts) {
    text += fmt::format("mount kind={} src={} dest={} ro={} dev={} try={} size={} perms={} layers={} work={} "
                        "upper={}\n",
                        static_cast<int>(m.kind), m.source, m.dest, m.read_only, m.allow_devices, m.optional, m.size,
                        m.perms ? fmt::format("{:o}", *m.perms) : "-", fmt::join(m.layers, ","), m.workdir,
                        static_cast<int>(m.overlay_upper));
  }
  for (const SandboxEnvChange& e : spec.env) {
    text += fmt::format("env kind={} name={} value={}\n", static_cast<int>(e.kind), e.name, e.value);
  }
  return text;
}

const RunOption& Option(std::string_view name) {
  for (const RunOption& option : RunOptions()) {
    if (option.name == name) return option;
  }
  ADD_FAILURE() << "no option " << name;
  return RunOptions().front();
}

// A fresh fd (a memfd) holding 8 bytes: a valid FD for every fd option, one
// seccomp instruction's worth for --seccomp. Options that read it close it.
int EightByteFd() {
  const int fd = ::memfd_create("run-spec-test", MFD_CLOEXEC);
  if (fd < 0 || ::write(fd, "\0\0\0\0\0\0\0\0", 8) != 8 || ::lseek(fd, 0, SEEK_SET) != 0) ADD_FAILURE() << "memfd";
  return fd;
}

// A valid value of each kind, distinct per position: the same text on the
// command line as in JSON.
std::string Sample(const RunValue& value, std::size_t position) {
  switch (value.kind) {
    case RunValueKind::kText: return fmt::format("V{}", position);
    case RunValueKind::kPath: return fmt::format("/p{}", position);
    case RunValueKind::kHostname: return "box";
    case RunValueKind::kId: return std::to_string(1000 + position);
    case RunValueKind::kBytes: return std::to_string(4096 * (position + 1));
    case RunValueKind::kMode: return "0710";
    case RunValueKind::kStrategy: return "classic";
    case RunValueKind::kFd: return std::to_string(EightByteFd());
    case RunValueKind::kCapability: return "CAP_CHOWN";
  }
  return "";
}

nlohmann::json JsonSample(const RunValue& value, std::size_t position) {
  const std::string text = Sample(value, position);
  if (value.kind == RunValueKind::kId || value.kind == RunValueKind::kBytes) return std::stoull(text);
  return text;
}

// One occurrence of `option` with sample values, and what must precede it on
// the command line for it to be complete (the layers an overlay needs) or
// follow it (the --tmpfs a --size waits for).
std::vector<std::string> CommandLine(const RunOption& option) {
  std::vector<std::string> args;
  for (std::string_view modifier : option.json_modifiers) {
    const RunOption& m = Option(modifier);
    args.push_back(std::string(m.name));
    args.push_back(Sample(m.values.at(0), 0));
    if (m.json_place == RunJsonPlace::kMountList) {
      args.push_back(std::string(m.name));
      args.push_back(Sample(m.values.at(0), 1));
    }
  }
  args.push_back(std::string(option.name));
  for (std::size_t i = 0; i < option.values.size(); ++i) args.push_back(Sample(option.values[i], i));
  if (option.json_place == RunJsonPlace::kMountKey) {
    args.push_back("--tmpfs");
    args.push_back("/t");
  }
  if (option.json_place == RunJsonPlace::kMountList) {
    args.push_back("--tmp-overlay");
    args.push_back("/t");
  }
  return args;
}

// The same occurrence written as a JSON document.
nlohmann::json JsonDocument(const RunOption& option) {
  nlohmann::json doc = nlohmann::json::object();
  nlohmann::json entry = nlohmann::json::object();
  for (std::size_t i = 0; i < option.values.size(); ++i) {
    entry[std::string(option.values[i].json_key)] = JsonSample(option.values[i], i);
  }
  switch (option.json_place) {
    case RunJsonPlace::kKey:
      doc[std::string(option.json_name)] =
          option.values.empty() ? nlohmann::json(true) : JsonSample(option.values.at(0), 0);
      break;
    case RunJsonPlace::kMount:
      entry["type"] = option.json_name;
      for (std::string_view modifier : option.json_modifiers) {
        const RunOption& m = Option(modifier);
        const nlohmann::json value = JsonSample(m.values.at(0), 0);
        entry[std::string(m.json_name)] =
            m.json_place == RunJsonPlace::kMountList ? nlohmann::json{value, JsonSample(m.values.at(0), 1)} : value;
      }
      doc["mounts"] = nlohmann::json::array({entry});
      break;
    case RunJsonPlace::kEnv:
      if (option.values.empty()) entry[std::string(option.json_name)] = true;
      doc["env"] = nlohmann::json::array({entry});
      break;
    case RunJsonPlace::kUnshare:
      doc["unshare"] = nlohmann::json::array({option.json_name});
      break;
    default:
      break;
  }
  return doc;
}

TEST(RunOptionTable, NamesAreUniqueOptionsAndJsonNamesUniqueInTheirPlace) {
  std::set<std::string_view> names;
  std::set<std::pair<RunJsonPlace, std::string_view>> json;
  for (const RunOption& option : RunOptions()) {
    EXPECT_TRUE(option.name.starts_with("--")) << option.name;
    EXPECT_TRUE(names.insert(option.name).second) << option.name << " twice";
    EXPECT_NE(option.apply, nullptr) << option.name;
    EXPECT_FALSE(option.description.empty()) << option.name;
    EXPECT_FALSE(option.group.empty()) << option.name;
    if (option.json_place == RunJsonPlace::kNone) {
      EXPECT_TRUE(option.json_name.empty()) << option.name;
      continue;
    }
    EXPECT_FALSE(option.json_name.empty()) << option.name;
    EXPECT_TRUE(json.insert({option.json_place, option.json_name}).second) << option.json_name << " twice";
  }
}

// A mount's JSON keys are its values' json_keys and its modifiers' names;
// a key of the document or an env entry is the option's json_name.
TEST(RunOptionTable, EveryJsonKeyIsSpelledAndEveryModifierIsAMountKey) {
  std::set<std::string_view> modifiers_used;
  for (const RunOption& option : RunOptions()) {
    for (const RunValue& value : option.values) {
      EXPECT_FALSE(value.metavar.empty()) << option.name;
      const bool keyed = option.json_place == RunJsonPlace::kMount || option.json_place == RunJsonPlace::kEnv;
      EXPECT_EQ(!value.json_key.empty(), keyed) << option.name << " " << value.metavar;
    }
    if (option.json_place == RunJsonPlace::kEnv && !option.values.empty()) {
      EXPECT_EQ(option.values.front().json_key, option.json_name) << option.name;
    }
    if (option.json_place == RunJsonPlace::kMountKey || option.json_place == RunJsonPlace::kMountList ||
        option.json_place == RunJsonPlace::kKey) {
      EXPECT_LE(option.values.size(), 1U) << option.name;
    }
    if (option.json_place != RunJsonPlace::kMount) {
      EXPECT_TRUE(option.json_modifiers.empty()) << option.name;
    }
    for (std::string_view name : option.json_modifiers) {
      const RunOption& modifier = Option(name);
      EXPECT_TRUE(modifier.json_place == RunJsonPlace::kMountKey || modifier.json_place == RunJsonPlace::kMountList)
          << option.name << " takes " << name;
      modifiers_used.insert(name);
    }
  }
  for (const RunOption& option : RunOptions()) {
    if (option.json_place == RunJsonPlace::kMountKey || option.json_place == RunJsonPlace::kMountList) {
      EXPECT_TRUE(modifiers_used.contains(option.name)) << option.name << " is a mount key of no mount";
    }
  }
}

TEST(RunOptionTable, EveryOptionIsAcceptedOnTheCommandLine) {
  for (const RunOption& option : RunOptions()) {
    if (option.name == "--json-spec") continue;  // reads a file: RunJsonSpecFile below
    std::vector<std::string> args = CommandLine(option);
    args.insert(args.end(), {"--", "/bin/true"});
    auto spec = ParseRunArguments(args);
    EXPECT_TRUE(spec.has_value()) << fmt::format("{}", fmt::join(args, " ")) << ": " << spec.error().Message();
  }
}

TEST(RunOptionTable, NamespaceFdsReachTheSpec) {
  // The namespace fds must be open when parsed (checked there); what they
  // are open on is the kernel's to judge at setns.
  const int userns = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int userns2 = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int pidns = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(userns, 0);
  ASSERT_GE(userns2, 0);
  ASSERT_GE(pidns, 0);
  auto spec = ParseRunArguments({"--userns", std::to_string(userns), "--userns2", std::to_string(userns2), "--pidns",
                                 std::to_string(pidns), "--unshare-user", "--userns-block-fd", "10", "--", "/bin/true"});
  ::close(userns);
  ::close(userns2);
  ::close(pidns);
  ASSERT_TRUE(spec.has_value()) << spec.error().Message();
  EXPECT_EQ(spec->userns_fd, userns);
  EXPECT_EQ(spec->userns2_fd, userns2);
  EXPECT_EQ(spec->pidns_fd, pidns);
  EXPECT_EQ(spec->userns_block_fd, 10);
  EXPECT_EQ(spec->block_fd, -1);  // no longer read as a plain --block-fd
}

TEST(RunOptionTable, AClosedNamespaceFdIsRefusedNamingTheOption) {
  for (const std::string option : {"--userns", "--userns2", "--pidns"}) {
    auto spec = ParseRunArguments({option, "1000", "--", "/bin/true"});
    ASSERT_FALSE(spec.has_value()) << option;
    EXPECT_EQ(spec.error().code, EBADF) << option;
    EXPECT_EQ(spec.error().Message(), option + " 1000: Bad file descriptor (EBADF)");
  }
}

// SELinux is not enabled on the test hosts: the labels are plumbed into the
// spec here; applying them (attr/exec, attr/fscreate, context=) is not tested.
TEST(RunOptionTable, SelinuxLabelsReachTheSpec) {
  auto spec = ParseRunArguments({"--exec-label", "system_u:system_r:svirt_t:s0", "--file-label",
                                 "system_u:object_r:svirt_sandbox_file_t:s0", "--", "/bin/true"});
  ASSERT_TRUE(spec.has_value()) << spec.error().Message();
  EXPECT_EQ(spec->exec_label, "system_u:system_r:svirt_t:s0");
  EXPECT_EQ(spec->file_label, "system_u:object_r:svirt_sandbox_file_t:s0");
}

TEST(ValidateSandboxSpec, JoiningAUserNamespaceExcludesANewOne) {
  SandboxSpec spec;
  spec.argv = {"/bin/true"};
  spec.userns_fd = 3;
  spec.unshare_user = true;
  auto valid = ValidateSandboxSpec(spec);
  ASSERT_FALSE(valid.has_value());
  EXPECT_EQ(valid.error().code, EINVAL);
  EXPECT_NE(valid.error().argument.find("--userns and --unshare-user"), std::string::npos) << valid.error().Message();
}

TEST(ValidateSandboxSpec, UsernsBlockFdNeedsANewUserNamespace) {
  SandboxSpec spec;
  spec.argv = {"/bin/true"};
  spec.userns_block_fd = 3;
  auto valid = ValidateSandboxSpec(spec);
  ASSERT_FALSE(valid.has_value());
  EXPECT_NE(valid.error().argument.find("--userns-block-fd needs --unshare-user"), std::string::npos);
}

// The JSON spelling of each option, from the table, sets what the option sets.
TEST(RunOptionTable, EveryJsonSpellingHasTheEffectOfItsOption) {
  std::size_t compared = 0;
  for (const RunOption& option : RunOptions()) {
    if (option.json_place == RunJsonPlace::kNone || option.json_place == RunJsonPlace::kMountKey ||
        option.json_place == RunJsonPlace::kMountList) {
      continue;  // no JSON, or part of a mount (compared with the mounts that take it)
    }
    auto from_options = ParseRunArguments(CommandLine(option));
    ASSERT_TRUE(from_options.has_value()) << option.name << ": " << from_options.error().Message();
    const std::string json = JsonDocument(option).dump();
    SandboxSpec from_json;
    auto applied = ApplyJsonSpec(json, "spec.json", from_json);
    ASSERT_TRUE(applied.has_value()) << json << ": " << applied.error().Message();
    EXPECT_EQ(Describe(from_json), Describe(*from_options)) << option.name << " as " << json;
    EXPECT_NE(Describe(from_json), Describe(SandboxSpec{})) << option.name << " as " << json << " changed nothing";
    ++compared;
  }
  EXPECT_GE(compared, 25U);
}

// A flag in JSON can be turned off, which the command line cannot say.
TEST(RunOptionTable, AJsonFlagSetToFalseIsOff) {
  auto spec = ParseRunArguments({"--die-with-parent"});
  ASSERT_TRUE(spec.has_value());
  ASSERT_TRUE(ApplyJsonSpec(R"({"die_with_parent": false})", "spec.json", *spec).has_value());
  EXPECT_FALSE(spec->die_with_parent);
}

// A --json-spec inserted between --size and its --tmpfs neither takes nor
// drops the pending --size: each JSON mount brings its own.
TEST(RunOptionTable, JsonMountsDoNotTouchTheCommandLinesPendingValues) {
  const std::string path = testing::TempDir() + "/one-tmpfs.json";
  {
    std::FILE* file = std::fopen(path.c_str(), "we");
    ASSERT_NE(file, nullptr);
    std::fputs(R"({"mounts": [{"type": "tmpfs", "dest": "/j"}]})", file);
    std::fclose(file);
  }
  auto spec = ParseRunArguments({"--size", "4096", "--json-spec", path, "--tmpfs", "/c", "--", "x"});
  ASSERT_TRUE(spec.has_value()) << spec.error().Message();
  ASSERT_EQ(spec->mounts.size(), 2U);
  EXPECT_EQ(spec->mounts[0].dest, "/j");
  EXPECT_EQ(spec->mounts[0].size, 0U);
  EXPECT_EQ(spec->mounts[1].size, 4096U);
}

TEST(RunHelp, ListsEveryOptionWithItsValuesAndDescription) {
  const std::string help = RunOptionsHelp();
  for (const RunOption& option : RunOptions()) {
    std::string head = "  " + std::string(option.name);
    for (const RunValue& value : option.values) head += " " + std::string(value.metavar);
    EXPECT_TRUE(Mentions(help, head + " ") || Mentions(help, head + "\n")) << head;
    const std::string first_word(option.description.substr(0, option.description.find(' ')));
    EXPECT_TRUE(Mentions(help, first_word)) << option.name;
  }
}

// The JSON part of --help lists every mount type, env entry and namespace name.
TEST(RunHelp, TheJsonSchemaNamesEveryJsonSpelling) {
  const std::string help = JsonSpecHelp();
  for (const RunOption& option : RunOptions()) {
    if (option.json_place == RunJsonPlace::kNone) continue;
    EXPECT_TRUE(Mentions(help, std::string(option.json_name))) << option.name;
  }
}

// `mntns run --help` as CLI11 renders it: every --word in it is an option of
// the table (or CLI11's --help), and CLI11 parses none of them itself: its
// option order would break bwrap's, so the table's parser is the only one.
TEST(RunHelp, MentionsNoOptionOutsideTheTableAndCli11ParsesNone) {
  CLI::App app{"mntns", "mntns"};
  Runner runner;
  AddRunCommand(app, runner);
  CLI::App* run = app.get_subcommand("run");
  const std::string help = run->help();
  std::set<std::string> names;
  for (const RunOption& option : RunOptions()) names.insert(std::string(option.name));
  const std::regex word(R"((^|[^\w-])(--[a-z][a-z0-9-]*[a-z0-9]))");
  std::size_t seen = 0;
  for (std::sregex_iterator it(help.begin(), help.end(), word), end; it != end; ++it) {
    const std::string found = (*it)[2];
    EXPECT_TRUE(names.contains(found) || found == "--help") << found << " in --help is no option";
    ++seen;
  }
  EXPECT_GE(seen, names.size());
  // CLI11 knows --help and the positional CMD (which takes nothing: remaining() does).
  std::size_t positionals = 0;
  for (const CLI::Option* option : run->get_options()) {
    if (!option->nonpositional()) {
      ++positionals;
      continue;
    }
    EXPECT_EQ(option->get_name(false, true), "-h,--help");
  }
  EXPECT_EQ(positionals, 1U);
}

// ---- every value is checked by its kind, on the command line and in JSON ------------

// The JSON document that gives `option` (a kKey or a mount key) the value `json`,
// and the path its errors name.
std::pair<std::string, std::string> JsonWithValue(const RunOption& option, const std::string& json) {
  if (option.json_place == RunJsonPlace::kKey) {
    return {fmt::format(R"({{"{}": {}}})", option.json_name, json), std::string(option.json_name)};
  }
  for (const RunOption& mount : RunOptions()) {
    for (std::string_view modifier : mount.json_modifiers) {
      if (modifier != option.name) continue;
      nlohmann::json entry = JsonDocument(mount)["mounts"][0];
      entry.erase(std::string(option.json_name));
      std::string text = entry.dump();
      text.insert(text.size() - 1, fmt::format(R"(,"{}":{})", option.json_name, json));
      return {fmt::format(R"({{"mounts": [{}]}})", text), fmt::format("mounts[0].{}", option.json_name)};
    }
  }
  ADD_FAILURE() << option.name << " has no JSON key";
  return {};
}

// What each numeric kind refuses, as command-line text and as JSON.
struct Refused {
  std::vector<std::string> text;
  std::vector<std::string> json;
  std::vector<std::string> accepted_text;
  std::vector<std::string> accepted_json;
};

Refused RefusedValues(RunValueKind kind) {
  switch (kind) {
    case RunValueKind::kId:
      // 4294967295 is (uid_t)-1, "no id"; 4294967296 wrapped to 0 (root).
      return {{"4294967295", "4294967296", "99999999999999999999", "-1", "+1", "1.5", "0x10", " 1", ""},
              {"4294967295", "4294967296", "18446744073709551616", "-1", "-0", "1.5", "1e3", "1000.0", "\"1000\"",
               "null", "true"},
              {"0", "4294967294"},
              {"0", "4294967294"}};
    case RunValueKind::kBytes:
      return {{"18446744073709551616", "99999999999999999999999", "-5", "1M", "1e3", "0x10", ""},
              {"18446744073709551616", "-5", "1.5", "1e30", "\"1M\"", "\"4096\"", "null"},
              {"0", "18446744073709551615"},
              {"0", "18446744073709551615"}};
    case RunValueKind::kMode:
      return {{"10000", "77777777777777777777777", "8", "-1", "0x1ff", "0o700", "+700", ""},
              {"700", "\"10000\"", "\"8\"", "\"-1\"", "\"\"", "true"},
              {"0", "0700", "07777"},
              {"\"0\"", "\"7777\"", "\"0700\""}};
    default:
      return {};
  }
}

// Every option whose value is an id, a size or a mode (found in the table,
// so a new one is checked too) refuses what its kind does not hold, naming
// the option and the value, and accepts both ends of its range.
TEST(RunValues, NumbersOutOfRangeAreRefusedOnTheCommandLineAndInJson) {
  std::size_t checked = 0;
  for (const RunOption& option : RunOptions()) {
    if (option.values.size() != 1) continue;
    const Refused refused = RefusedValues(option.values[0].kind);
    if (refused.text.empty()) continue;
    ++checked;
    std::vector<std::string> after;
    if (option.json_place == RunJsonPlace::kMountKey) after = {"--tmpfs", "/t"};
    const auto args = [&](const std::string& value) {
      std::vector<std::string> line = {std::string(option.name), value};
      line.insert(line.end(), after.begin(), after.end());
      line.insert(line.end(), {"--", "x"});
      return line;
    };
    // The first value is just past the range: the error says where it ends.
    EXPECT_TRUE(Mentions(ArgumentsError(args(refused.text.front())), refused.accepted_text.back())) << option.name;
    for (const std::string& value : refused.text) {
      const std::string error = ArgumentsError(args(value));
      EXPECT_TRUE(Mentions(error, std::string(option.name) + " ")) << option.name << " " << value;
      if (!value.empty()) {
        EXPECT_TRUE(Mentions(error, value)) << option.name << " " << value;
      }
    }
    for (const std::string& value : refused.accepted_text) {
      EXPECT_EQ(ArgumentsError(args(value)), "") << option.name << " " << value;
    }
    for (const std::string& value : refused.json) {
      const auto [json, path] = JsonWithValue(option, value);
      EXPECT_TRUE(Mentions(JsonError(json), "spec.json\": " + path + ": ")) << json;
    }
    for (const std::string& value : refused.accepted_json) {
      EXPECT_EQ(JsonError(JsonWithValue(option, value).first), "") << value;
    }
  }
  EXPECT_EQ(checked, 4U) << "--uid, --gid, --size, --perms";
}

// nlohmann reads -0 as a signed 0: the error said "must be an integer from 0 to 4294967294, not 0".
TEST(RunValues, ARefusedMinusZeroIsShownAsWritten) {
  EXPECT_TRUE(Mentions(JsonError(R"({"uid": -0})"), "uid: must be an integer from 0 to 4294967294, not -0"));
}

// "" is what an unset field holds: `--root ''` ran on an empty tmpfs,
// `--chdir ''` in the caller's directory, `--hostname ''` kept the host's.
TEST(RunValues, AnEmptyPathOrHostnameIsRefusedNamingTheOption) {
  for (const RunOption& option : RunOptions()) {
    for (std::size_t i = 0; i < option.values.size(); ++i) {
      if (option.values[i].kind != RunValueKind::kPath && option.values[i].kind != RunValueKind::kHostname) continue;
      std::vector<std::string> args = CommandLine(option);
      // The value sits after the option's name, after any modifiers before it.
      const auto at = std::find(args.begin(), args.end(), std::string(option.name)) - args.begin();
      args[static_cast<std::size_t>(at) + 1 + i] = "";
      args.insert(args.end(), {"--", "x"});
      EXPECT_TRUE(Mentions(ArgumentsError(args), std::string(option.name) + " \"\": the ")) << option.name << " " << i;
    }
  }
  for (const char* key : {"root", "chdir", "hostname"}) {
    EXPECT_TRUE(Mentions(JsonError(fmt::format(R"({{"{}": ""}})", key)), fmt::format("{}: the", key))) << key;
  }
  EXPECT_TRUE(
      Mentions(JsonError(R"({"mounts": [{"type": "proc", "dest": ""}]})"), "mounts[0].dest: the path is empty"));
  EXPECT_TRUE(Mentions(JsonError(R"({"mounts": [{"type": "ro-overlay", "sources": ["/a", ""], "dest": "/o"}]})"),
                       "mounts[0].sources[1]: the path is empty"));
}

// sethostname(2) refused a 65-byte name with EINVAL only after the sandbox was set up (exit 1).
TEST(RunValues, AHostnameLongerThanHostNameMaxIsRefused) {
  const std::string longest(64, 'h');
  const std::string longer(65, 'h');
  EXPECT_EQ(ArgumentsError({"--hostname", longest, "--", "x"}), "");
  EXPECT_TRUE(
      Mentions(ArgumentsError({"--hostname", longer, "--", "x"}), "--hostname \"" + longer + "\": longer than 64"));
  EXPECT_EQ(JsonError(R"({"hostname": ")" + longest + "\"}"), "");
  EXPECT_TRUE(Mentions(JsonError(R"({"hostname": ")" + longer + "\"}"), "hostname: longer than 64"));
}

// ---- --json-spec FILE ---------------------------------------------------------------

TEST(RunJsonSpecFile, ADirectoryIsAClearError) {
  auto spec = ParseRunArguments({"--json-spec", testing::TempDir(), "--", "x"});
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().code, EISDIR);
  EXPECT_TRUE(Mentions(spec.error().Message(), "Is a directory"));
}

// /dev/zero was read until memory ran out.
TEST(RunJsonSpecFile, ADeviceIsRefusedUnread) {
  struct stat st {};
  if (::stat("/dev/zero", &st) != 0 || !S_ISCHR(st.st_mode)) GTEST_SKIP() << "no /dev/zero character device";
  auto spec = ParseRunArguments({"--json-spec", "/dev/zero", "--", "x"});
  ASSERT_FALSE(spec.has_value());
  EXPECT_TRUE(Mentions(spec.error().Message(), "a character device"));
}

TEST(RunJsonSpecFile, AFileOverTheLimitIsRefusedUnread) {
  const std::string path = testing::TempDir() + "/big.json";
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    // Sparse: a gigabyte that costs nothing unless it is read.
    EXPECT_EQ(::ftruncate(fd, off_t{1} << 30), 0);
    ::close(fd);
  }
  auto spec = ParseRunArguments({"--json-spec", path, "--", "x"});
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().code, EFBIG) << spec.error().Message();
}

TEST(RunJsonSpecFile, APipeIsReadToItsEnd) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const std::string json = R"({"unshare": ["net"], "command": ["/bin/true"]})";
  ASSERT_EQ(::write(fds[1], json.data(), json.size()), static_cast<ssize_t>(json.size()));
  ::close(fds[1]);
  auto spec = ParseRunArguments({"--json-spec", "/proc/self/fd/" + std::to_string(fds[0])});
  ::close(fds[0]);
  ASSERT_TRUE(spec.has_value()) << spec.error().Message();
  EXPECT_TRUE(spec->unshare_net);
  EXPECT_EQ(spec->argv, std::vector<std::string>{"/bin/true"});
}

TEST(RunJsonSpecFile, APipeThatGoesOnPastTheLimitIsCutOff) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  // The writer sees EPIPE (not SIGPIPE) once the reader has given up.
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  std::thread writer([fd = fds[1]] {
    const std::string spaces(65536, ' ');
    while (::write(fd, spaces.data(), spaces.size()) > 0) {
    }
    ::close(fd);
  });
  auto spec = ParseRunArguments({"--json-spec", "/proc/self/fd/" + std::to_string(fds[0])});
  ::close(fds[0]);
  writer.join();
  ::sigaction(SIGPIPE, &old, nullptr);
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().code, EFBIG) << spec.error().Message();
}

// Opening a FIFO for reading waits for a writer, forever if none comes.
TEST(RunJsonSpecFile, AFifoWithoutAWriterIsEmptyAtOnce) {
  const std::string path = testing::TempDir() + "/lonely.fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const std::string error = ArgumentsError({"--json-spec", path, "--", "x"});
  EXPECT_TRUE(Mentions(error, "empty"));
}

TEST(RunJsonSpecFile, AFifoIsReadAfterItsWriterHasGone) {
  const std::string path = testing::TempDir() + "/spec.fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  // A reader that keeps the written data in the FIFO after its writer closed.
  const int keep = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(keep, 0);
  const int writer = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  const std::string json = R"({"hostname": "fifo"})";
  EXPECT_EQ(::write(writer, json.data(), json.size()), static_cast<ssize_t>(json.size()));
  ::close(writer);
  auto spec = ParseRunArguments({"--json-spec", path, "--", "x"});
  ::close(keep);
  ASSERT_TRUE(spec.has_value()) << spec.error().Message();
  EXPECT_EQ(spec->hostname, "fifo");
}

TEST(RunJsonSpecFile, AMissingFileNamesThePathAndErrno) {
  auto spec = ParseRunArguments({"--json-spec", "/nonexistent-mntns/spec.json", "--", "x"});
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().Message(), "--json-spec \"/nonexistent-mntns/spec.json\": No such file or directory (ENOENT)");
}

}  // namespace
}  // namespace mntns::cli
