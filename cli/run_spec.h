// mntns run: bubblewrap-style options and the JSON spec, both into a SandboxSpec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mntns/error.h"
#include "mntns/sandbox.h"

namespace mntns::cli {

// What one value of an option is. The kind fixes how the value is read from
// the command line and from a JSON spec, and the range it must be in; a value
// out of it is a usage error naming the option (or the JSON key) and the value.
enum class RunValueKind {
  kText,      // any string; JSON: a string (--setenv VAR VALUE, --unsetenv VAR)
  kPath,      // a path, not empty (empty would read as "not given"); JSON: a string
  kHostname,  // 1 to 64 bytes (HOST_NAME_MAX: sethostname refuses more); JSON: a string
  kId,        // a uid/gid, decimal 0 to 4294967294 ((uid_t)-1 means "no id"); JSON: an integer
  kBytes,     // decimal 0 to 2^64-1; JSON: an integer
  kMode,      // octal 0 to 07777; JSON: a string of octal digits (a number would be decimal)
  kStrategy,  // auto|native|template|classic; JSON: a string
  kFd,        // an open fd, decimal 0 to 2147483647 (command line only)
  kCapability,  // ALL or a capability name, CAP_ optional, any case (command line only)
};

struct RunValue {
  std::string_view metavar;   // in --help: "SRC"
  std::string_view json_key;  // in a JSON mount or env entry: "src"; "" where the value is the key's own
  RunValueKind kind;
};

// Where an option lives in a JSON spec.
enum class RunJsonPlace {
  kNone,       // the command line only (--unshare-all, --json-spec)
  kKey,        // a key of the document: "root": "/srv"; a flag: "die_with_parent": true
  kMount,      // an element of "mounts": {"type": json_name, <values' json_key>: ..., <json_modifiers>}
  kMountKey,   // an optional key of a kMount whose json_modifiers name it ("size": 1048576)
  kMountList,  // a required, non-empty array key of such a kMount: one element per occurrence ("sources")
  kEnv,        // an element of "env": {json_name: <first value>, ...}; a flag: {json_name: true}
  kUnshare,    // a string in the "unshare" array: "net"
};

// One value, read and range-checked according to its kind.
struct RunArgument {
  std::string text;              // as given (a JSON integer as its decimal text)
  std::uint64_t number = 0;      // kId, kBytes, kMode
  NamespaceStrategy strategy{};  // kStrategy
};

struct RunOption;

// How a command line is spoken: `mntns run`'s, or bwrap's own (the entry
// point under the name bwrap): the same options and meaning, bwrap's wording
// for usage errors ("Unknown option --x", "--bind takes two arguments").
enum class RunDialect { kMntns, kBwrap };

// A command line: the sandbox, and what the CLI itself does around it.
struct RunCommandLine {
  SandboxSpec spec;
  int info_fd = -1;         // --info-fd: one JSON object once CMD runs
  int json_status_fd = -1;  // --json-status-fd: that, then {"exit-code": N} at the end
  std::vector<int> sync_fds;  // --sync-fd: kept open (by mntns) while the sandbox runs
  bool level_prefix = false;  // --level-prefix: "<3>" before diagnostics
  bool not_a_security_boundary = false;
  bool unshare_user_try = false;   // --unshare-user-try (a failed unshare is not an error)
  bool seccomp_exclusive = false;  // --seccomp was given (it excludes --add-seccomp-fd)
};

// The spec being built and the state bwrap keeps between options: --size and
// --perms wait for the next --tmpfs (--perms also for --dir), --overlay-src
// collects layers for the next overlay.
struct RunState {
  explicit RunState(SandboxSpec& into, RunCommandLine* line = nullptr) : spec(into), command_line(line) {}
  SandboxSpec& spec;
  RunCommandLine* command_line;  // nullptr in a JSON spec (which has none of its options)
  std::optional<std::uint64_t> size;
  std::optional<mode_t> perms;
  std::vector<std::string> overlay_layers;
};

// One occurrence of an option: its values in the order of RunOption::values,
// and for a flag whether it is on (a JSON "die_with_parent": false is off;
// on the command line a flag is always on).
struct RunOccurrence {
  const RunOption& option;
  std::vector<RunArgument> values;
  bool on = true;
};

// One `mntns run` option. The table of them (RunOptions()) is the one place
// the vocabulary is written: the command line parser, the JSON spec reader
// and --help all read it, so an option cannot exist in one and not the others.
struct RunOption {
  std::string_view name;           // "--ro-bind"
  std::vector<RunValue> values;    // its arity and what each value is
  RunJsonPlace json_place;
  std::string_view json_name;      // "ro-bind", "uid", "net", "set"; "" with kNone
  std::vector<std::string_view> json_modifiers;  // kMount: the kMountKey/kMountList options it takes
  // Applies one occurrence (its values already checked) to the state; fails
  // only for what the values alone cannot tell: an overlay with no layers
  // before it, a --json-spec FILE that cannot be read or is refused.
  Result<void> (*apply)(const RunOccurrence& occurrence, RunState& state);
  std::string_view group;          // the --help section it is listed in
  std::string_view description;    // --help text, one paragraph
};

// Every option, in the order --help lists them.
[[nodiscard]] std::span<const RunOption> RunOptions();

// Parses `args` (everything after `mntns run`) in order, like bwrap: each
// option adds its step at its position; --size/--perms apply to the next
// --tmpfs (--perms also to the next --dir); --overlay-src collects layers for
// the next overlay step; --json-spec FILE inserts that file's setup at its
// position. The command starts after `--` or at the first non-option.
// Errors are usage errors naming the option: EINVAL, or the errno of reading
// a --json-spec FILE (ENOENT, EISDIR, EFBIG, ...).
// `--args FD` inserts the NUL-separated arguments read from FD at its place
// (not inside them). The same as ParseRunCommandLine(args).spec.
[[nodiscard]] Result<SandboxSpec> ParseRunArguments(const std::vector<std::string>& args);
[[nodiscard]] Result<RunCommandLine> ParseRunCommandLine(const std::vector<std::string>& args,
                                                         RunDialect dialect = RunDialect::kMntns);

// Everything an fd gives until EOF, at most `max` bytes (EFBIG past it);
// the fd is closed (bwrap closes the fds it reads). `what` names it in errors.
[[nodiscard]] Result<std::string> ReadWholeFd(int fd, std::size_t max, std::string_view what);

// The most a --json-spec FILE may hold; a larger one is refused (EFBIG)
// without reading it all.
inline constexpr std::size_t kJsonSpecMaxBytes = std::size_t{16} << 20;

// Adds a JSON document (the schema is in docs/run.md and `mntns run --help`) to `spec`.
// Strict: an unknown or duplicate key, a value of the wrong type or out of
// range, or a NUL in a string is an error (EINVAL) naming the key by its path
// (`mounts[2].perms`); `origin` names the document in the error text.
// The --size/--perms/--overlay-src state of a command line around it is
// neither used nor changed: each JSON mount carries its own.
[[nodiscard]] Result<void> ApplyJsonSpec(const std::string& text, const std::string& origin, SandboxSpec& spec);

// For --help: the options by group, and the JSON schema.
[[nodiscard]] std::string RunOptionsHelp();
[[nodiscard]] std::string JsonSpecHelp();

}  // namespace mntns::cli
