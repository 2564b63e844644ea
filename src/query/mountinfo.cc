#include "query/mountinfo.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "helper_thread.h"
#include "sys/files.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns {
namespace {

using sys::kSbDirsync;
using sys::kSbLazytime;
using sys::kSbRdonly;
using sys::kSbSynchronous;

std::unexpected<Error> Malformed(std::string_view line, std::string_view why) {
  return MakeError(EINVAL, "parse mountinfo", fmt::format("line \"{}\" ({})", line, why));
}

// mountinfo escapes space, tab, newline and backslash as \ooo (seq_escape with " \t\n\\").
Result<std::string> Unescape(std::string_view text, std::string_view line) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 3 >= text.size()) return Malformed(line, "truncated octal escape");
    int value = 0;
    for (std::size_t k = 1; k <= 3; ++k) {
      const char c = text[i + k];
      if (c < '0' || c > '7') return Malformed(line, "bad octal escape");
      value = value * 8 + (c - '0');
    }
    if (value > 0xff) return Malformed(line, "bad octal escape");
    out += static_cast<char>(value);
    i += 3;
  }
  return out;
}

template <typename Int>
bool ParseNumber(std::string_view text, Int& value) {
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

std::vector<std::string_view> SplitOn(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      break;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

Result<void> ApplyVfsOptions(std::string_view options, std::string_view line, Mount& mount) {
  std::uint64_t atime = MOUNT_ATTR_STRICTATIME;  // neither noatime nor relatime shown
  bool saw_ro_rw = false;
  for (std::string_view option : SplitOn(options, ',')) {
    if (option == "ro") {
      mount.attr |= MOUNT_ATTR_RDONLY;
      saw_ro_rw = true;
    } else if (option == "rw") {
      saw_ro_rw = true;
    } else if (option == "nosuid") {
      mount.attr |= MOUNT_ATTR_NOSUID;
    } else if (option == "nodev") {
      mount.attr |= MOUNT_ATTR_NODEV;
    } else if (option == "noexec") {
      mount.attr |= MOUNT_ATTR_NOEXEC;
    } else if (option == "noatime") {
      atime = MOUNT_ATTR_NOATIME;
    } else if (option == "relatime") {
      atime = MOUNT_ATTR_RELATIME;
    } else if (option == "nodiratime") {
      mount.attr |= MOUNT_ATTR_NODIRATIME;
    } else if (option == "nosymfollow") {
      mount.attr |= MOUNT_ATTR_NOSYMFOLLOW;
    } else if (option == "idmapped") {
      mount.attr |= MOUNT_ATTR_IDMAP;
    } else {
      return Malformed(line, fmt::format("unknown mount option \"{}\"", option));
    }
  }
  if (!saw_ro_rw) return Malformed(line, "mount options lack ro/rw");
  mount.attr |= atime;
  return kOk;
}

Result<void> ApplyOptionalFields(std::span<const std::string_view> tags, std::string_view line,
                                 Mount& mount) {
  for (std::string_view tag : tags) {
    const auto colon = tag.find(':');
    const std::string_view name = tag.substr(0, colon);
    std::uint64_t value = 0;
    const bool has_value = colon != std::string_view::npos &&
                           ParseNumber(tag.substr(colon + 1), value);
    if (name == "shared" && has_value) {
      mount.propagation |= MS_SHARED;
      mount.peer_group = value;
    } else if (name == "master" && has_value) {
      mount.propagation |= MS_SLAVE;
      mount.master = value;
      // The kernel leaves propagate_from out when it equals the master.
      if (mount.propagate_from == 0) mount.propagate_from = value;
    } else if (name == "propagate_from" && has_value) {
      mount.propagate_from = value;
    } else if (tag == "unbindable") {
      mount.propagation |= MS_UNBINDABLE;
    } else if (name == "shared" || name == "master" || name == "propagate_from") {
      return Malformed(line, fmt::format("bad propagation tag \"{}\"", tag));
    } else {
      // proc(5): "a parser should ignore all unrecognized optional fields".
      continue;
    }
  }
  if ((mount.propagation & (MS_SHARED | MS_SLAVE | MS_UNBINDABLE)) == 0) {
    mount.propagation = MS_PRIVATE;
  }
  return kOk;
}

void ApplySuperOptions(std::string_view options, Mount& mount) {
  // The kernel prints ro/rw, then sync/dirsync/mand/lazytime, then the
  // filesystem's own (and security) options; statmount keeps the former in
  // sb_flags and the latter in mnt_opts.
  std::string fs_options;
  for (std::string_view option : SplitOn(options, ',')) {
    if (option == "ro") {
      mount.sb_flags |= kSbRdonly;
    } else if (option == "rw") {
    } else if (option == "sync") {
      mount.sb_flags |= kSbSynchronous;
    } else if (option == "dirsync") {
      mount.sb_flags |= kSbDirsync;
    } else if (option == "lazytime") {
      mount.sb_flags |= kSbLazytime;
    } else if (option == "mand") {
    } else {
      if (!fs_options.empty()) fs_options += ',';
      fs_options += option;
    }
  }
  mount.fs_options = std::move(fs_options);
}

}  // namespace

Result<Mount> ParseMountinfoLine(std::string_view line) {
  // 36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
  const std::vector<std::string_view> fields = SplitOn(line, ' ');
  std::size_t separator = 0;
  for (std::size_t i = 6; i < fields.size(); ++i) {
    if (fields[i] == "-") {
      separator = i;
      break;
    }
  }
  if (separator == 0) return Malformed(line, "no \" - \" separator after the sixth field");
  if (fields.size() != separator + 4) return Malformed(line, "expected 3 fields after \" - \"");

  Mount mount;
  if (!ParseNumber(fields[0], mount.old_id)) return Malformed(line, "bad mount id");
  if (!ParseNumber(fields[1], mount.old_parent_id)) return Malformed(line, "bad parent id");
  const auto device = SplitOn(fields[2], ':');
  if (device.size() != 2 || !ParseNumber(device[0], mount.sb_dev_major) ||
      !ParseNumber(device[1], mount.sb_dev_minor)) {
    return Malformed(line, "bad major:minor");
  }
  auto root = Unescape(fields[3], line);
  if (!root) return std::unexpected(root.error());
  mount.root = std::move(*root);
  auto point = Unescape(fields[4], line);
  if (!point) return std::unexpected(point.error());
  mount.point = std::move(*point);
  if (auto applied = ApplyVfsOptions(fields[5], line, mount); !applied) {
    return std::unexpected(applied.error());
  }
  if (auto applied = ApplyOptionalFields(std::span(fields).subspan(6, separator - 6), line, mount);
      !applied) {
    return std::unexpected(applied.error());
  }

  auto type = Unescape(fields[separator + 1], line);
  if (!type) return std::unexpected(type.error());
  if (type->empty()) return Malformed(line, "empty filesystem type");
  // show_type() prints "type.subtype" for filesystems with a subtype (fuse).
  if (const auto dot = type->find('.'); dot != std::string::npos) {
    mount.fs_type = type->substr(0, dot);
    mount.fs_subtype = type->substr(dot + 1);
  } else {
    mount.fs_type = std::move(*type);
  }
  auto source = Unescape(fields[separator + 2], line);
  if (!source) return std::unexpected(source.error());
  mount.sb_source = std::move(*source);
  // Super options stay escaped, as statmount's mnt_opts is; the option array
  // is unescaped, as statmount's opt_array is.
  ApplySuperOptions(fields[separator + 3], mount);
  if (!mount.fs_options.empty()) {
    for (std::string_view option : SplitOn(mount.fs_options, ',')) {
      auto unescaped = Unescape(option, line);
      if (!unescaped) return std::unexpected(unescaped.error());
      mount.fs_option_array.push_back(std::move(*unescaped));
    }
  }

  mount.mask = field::kSbBasic | field::kMntBasic | field::kPropagateFrom | field::kMntRoot |
               field::kMntPoint | field::kFsType | field::kMntOpts | field::kSbSource |
               field::kOptArray;
  if (!mount.fs_subtype.empty()) mount.mask |= field::kFsSubtype;
  return mount;
}

Result<std::vector<Mount>> ParseMountinfo(std::string_view text) {
  std::vector<Mount> mounts;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.empty()) continue;
    auto mount = ParseMountinfoLine(line);
    if (!mount) {
      Error error = mount.error();
      error.Wrap(fmt::format("mountinfo line {}", line_number));
      return std::unexpected(std::move(error));
    }
    mounts.push_back(std::move(*mount));
  }
  return mounts;
}

namespace internal {
namespace {

Result<std::string> ReadWholeFile(int fd, const std::string& what) {
  std::string text;
  char chunk[65536];
  for (;;) {
    auto n = sys::Read(fd, chunk, what);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) break;
    text.append(chunk, *n);
  }
  return text;
}

// Runs on its own thread: unshare(CLONE_FS) gives the thread a private root
// and cwd, which setns(CLONE_NEWNS) requires; the change dies with the thread.
Result<std::string> ReadMountinfoInside(int ns_fd, const std::string& what) {
  // thread-self, not self/task/gettid(): a tid of this pid namespace names
  // another task where /proc is another pid namespace's.
  auto task_dir = sys::Open(AT_FDCWD, "/proc/thread-self", O_PATH | O_DIRECTORY);
  if (!task_dir) return std::unexpected(task_dir.error());
  if (auto r = sys::Unshare(CLONE_FS); !r) return std::unexpected(r.error());
  if (auto r = sys::Setns(ns_fd, CLONE_NEWNS); !r) return std::unexpected(std::move(r.error().Wrap(what)));
  // The task directory was opened before entering: the namespace need not have /proc.
  auto mountinfo = sys::Open(task_dir->Get(), "mountinfo", O_RDONLY);
  if (!mountinfo) return std::unexpected(mountinfo.error());
  return ReadWholeFile(mountinfo->Get(), what);
}

}  // namespace

Result<std::vector<Mount>> ListMountsFromMountinfo(const NamespaceRef& ns) {
  std::string mountinfo_path;
  std::string ns_path;
  switch (ns.kind) {
    case NamespaceRef::Kind::kCaller:
      mountinfo_path = "/proc/thread-self/mountinfo";
      ns_path = "/proc/thread-self/ns/mnt";
      break;
    case NamespaceRef::Kind::kPid:
      mountinfo_path = fmt::format("/proc/{}/mountinfo", ns.pid);
      ns_path = fmt::format("/proc/{}/ns/mnt", ns.pid);
      break;
    case NamespaceRef::Kind::kFile:
      ns_path = ns.path;
      break;
    case NamespaceRef::Kind::kId:
      return MakeError(ENOTSUP, "mountinfo backend", ns.Describe() +
                                    " (mountinfo reaches a namespace only through a file or a pid)");
  }

  // O_NONBLOCK|O_NOCTTY: a FIFO given as --ns-file must not hang the open.
  auto ns_fd = sys::Open(AT_FDCWD, ns_path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!ns_fd && ns.kind == NamespaceRef::Kind::kFile) return std::unexpected(ns_fd.error());
  if (ns.kind == NamespaceRef::Kind::kFile) {
    auto type = sys::NamespaceType(ns_fd->Get());
    if (!type || *type != CLONE_NEWNS) {
      return MakeError(EINVAL, "open namespace", QuotePath(ns.path) + " is not a mount namespace file");
    }
  }

  Result<std::string> text;
  if (!mountinfo_path.empty()) {
    auto file = sys::Open(AT_FDCWD, mountinfo_path.c_str(), O_RDONLY);
    if (!file) return std::unexpected(file.error());
    text = ReadWholeFile(file->Get(), QuotePath(mountinfo_path));
  } else {
    const int fd = ns_fd->Get();
    // A thread of its own: entering the namespace changes the thread's.
    auto reader = internal::StartHelperThread([&text, fd, &ns] { text = ReadMountinfoInside(fd, ns.Describe()); });
    if (!reader) return std::unexpected(reader.error());
    reader->join();
  }
  if (!text) return std::unexpected(text.error());

  auto mounts = ParseMountinfo(*text);
  if (!mounts) return mounts;
  if (ns_fd) {
    if (auto id = sys::MountNamespaceId(ns_fd->Get()); id) {
      for (Mount& mount : *mounts) {
        mount.ns_id = *id;
        mount.mask |= field::kMntNsId;
      }
    }
  }
  return mounts;
}

}  // namespace internal
}  // namespace mntns
