// The sandbox handoff: a SandboxHandoff as bytes, from StartSandbox to its
// setup process. Both ends are the same program, so fixed-width fields in
// native byte order; every string is a 32-bit length and its bytes.
#include <cstdint>
#include <cstring>

#include "sandbox/internal.h"

namespace mntns::internal {
namespace {

class Writer {
 public:
  template <typename T>
  void Fixed(const T& value) {
    out_.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  void Flag(bool value) { Fixed<std::uint8_t>(value ? 1 : 0); }
  void Text(const std::string& text) {
    Fixed(static_cast<std::uint32_t>(text.size()));
    out_ += text;
  }
  void Texts(const std::vector<std::string>& texts) {
    Fixed(static_cast<std::uint32_t>(texts.size()));
    for (const std::string& text : texts) Text(text);
  }
  template <typename T>
  void Optional(const std::optional<T>& value) {
    Flag(value.has_value());
    Fixed(value.value_or(T{}));
  }
  [[nodiscard]] std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  template <typename T>
  T Fixed() {
    T value{};
    if (in_.size() < sizeof value) {
      ok_ = false;
      return value;
    }
    std::memcpy(&value, in_.data(), sizeof value);
    in_.remove_prefix(sizeof value);
    return value;
  }
  bool Flag() { return Fixed<std::uint8_t>() != 0; }
  std::string Text() {
    const auto size = Fixed<std::uint32_t>();
    if (!ok_ || in_.size() < size) {
      ok_ = false;
      return {};
    }
    std::string text(in_.substr(0, size));
    in_.remove_prefix(size);
    return text;
  }
  std::vector<std::string> Texts() {
    std::vector<std::string> texts;
    for (auto n = Fixed<std::uint32_t>(); ok_ && n > 0; --n) texts.push_back(Text());
    return texts;
  }
  template <typename T>
  std::optional<T> Optional() {
    const bool present = Flag();
    const T value = Fixed<T>();
    return present ? std::optional<T>(value) : std::nullopt;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  // Everything read, nothing left over.
  [[nodiscard]] bool Complete() const { return ok_ && in_.empty(); }

 private:
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace

std::string EncodeHandoff(const SandboxHandoff& handoff) {
  Writer w;
  const SandboxSpec& spec = handoff.spec;
  w.Text(spec.root);
  w.Fixed(static_cast<std::uint32_t>(spec.mounts.size()));
  for (const SandboxMount& mount : spec.mounts) {
    w.Fixed(mount.kind);
    w.Text(mount.source);
    w.Text(mount.dest);
    w.Flag(mount.read_only);
    w.Flag(mount.allow_devices);
    w.Flag(mount.optional);
    w.Fixed(mount.size);
    w.Optional(mount.perms);
    w.Texts(mount.layers);
    w.Text(mount.workdir);
    w.Fixed(mount.overlay_upper);
    w.Text(mount.data);
    w.Fixed(mount.fd);
  }
  w.Fixed(static_cast<std::uint32_t>(spec.env.size()));
  for (const SandboxEnvChange& change : spec.env) {
    w.Fixed(change.kind);
    w.Text(change.name);
    w.Text(change.value);
  }
  w.Text(spec.chdir);
  for (bool flag : {spec.unshare_user, spec.unshare_pid, spec.unshare_net, spec.unshare_uts, spec.unshare_ipc,
                    spec.die_with_parent}) {
    w.Flag(flag);
  }
  w.Optional(spec.uid);
  w.Optional(spec.gid);
  w.Text(spec.hostname);
  w.Fixed(spec.strategy);
  w.Texts(spec.argv);
  for (bool flag : {spec.unshare_cgroup, spec.new_session, spec.as_pid_1, spec.disable_userns,
                    spec.assert_userns_disabled, spec.keep_capabilities, spec.report_status}) {
    w.Flag(flag);
  }
  w.Text(spec.argv0);
  w.Texts(spec.seccomp_programs);
  w.Optional(spec.capabilities);
  w.Fixed(spec.block_fd);
  w.Texts(spec.lock_files);
  for (int fd : {spec.userns_fd, spec.userns2_fd, spec.pidns_fd, spec.userns_block_fd}) w.Fixed(fd);
  w.Text(spec.exec_label);
  w.Text(spec.file_label);

  w.Text(handoff.cwd);
  w.Texts(handoff.env);
  w.Text(handoff.name);
  w.Fixed(handoff.signal_mask);
  w.Fixed(handoff.ns_fd);
  w.Fixed(handoff.error_fd);
  w.Fixed(handoff.parent_pidfd);
  w.Fixed(handoff.rootless_user_ns_fd);
  w.Fixed(handoff.rootless_host_view_fd);
  w.Fixed(handoff.rootless_template_fd);
  return w.Take();
}

std::optional<SandboxHandoff> DecodeHandoff(std::string_view data) {
  Reader r(data);
  SandboxHandoff handoff;
  SandboxSpec& spec = handoff.spec;
  spec.root = r.Text();
  for (auto n = r.Fixed<std::uint32_t>(); n > 0 && r.ok(); --n) {
    SandboxMount& mount = spec.mounts.emplace_back();
    mount.kind = r.Fixed<SandboxMount::Kind>();
    mount.source = r.Text();
    mount.dest = r.Text();
    mount.read_only = r.Flag();
    mount.allow_devices = r.Flag();
    mount.optional = r.Flag();
    mount.size = r.Fixed<std::uint64_t>();
    mount.perms = r.Optional<mode_t>();
    mount.layers = r.Texts();
    mount.workdir = r.Text();
    mount.overlay_upper = r.Fixed<SandboxMount::OverlayUpper>();
    mount.data = r.Text();
    mount.fd = r.Fixed<int>();
  }
  for (auto n = r.Fixed<std::uint32_t>(); n > 0 && r.ok(); --n) {
    SandboxEnvChange& change = spec.env.emplace_back();
    change.kind = r.Fixed<SandboxEnvChange::Kind>();
    change.name = r.Text();
    change.value = r.Text();
  }
  spec.chdir = r.Text();
  for (bool* flag : {&spec.unshare_user, &spec.unshare_pid, &spec.unshare_net, &spec.unshare_uts,
                     &spec.unshare_ipc, &spec.die_with_parent}) {
    *flag = r.Flag();
  }
  spec.uid = r.Optional<uid_t>();
  spec.gid = r.Optional<gid_t>();
  spec.hostname = r.Text();
  spec.strategy = r.Fixed<NamespaceStrategy>();
  spec.argv = r.Texts();
  for (bool* flag : {&spec.unshare_cgroup, &spec.new_session, &spec.as_pid_1, &spec.disable_userns,
                     &spec.assert_userns_disabled, &spec.keep_capabilities, &spec.report_status}) {
    *flag = r.Flag();
  }
  spec.argv0 = r.Text();
  spec.seccomp_programs = r.Texts();
  spec.capabilities = r.Optional<std::uint64_t>();
  spec.block_fd = r.Fixed<int>();
  spec.lock_files = r.Texts();
  for (int* fd : {&spec.userns_fd, &spec.userns2_fd, &spec.pidns_fd, &spec.userns_block_fd}) *fd = r.Fixed<int>();
  spec.exec_label = r.Text();
  spec.file_label = r.Text();

  handoff.cwd = r.Text();
  handoff.env = r.Texts();
  handoff.name = r.Text();
  handoff.signal_mask = r.Fixed<sigset_t>();
  handoff.ns_fd = r.Fixed<int>();
  handoff.error_fd = r.Fixed<int>();
  handoff.parent_pidfd = r.Fixed<int>();
  handoff.rootless_user_ns_fd = r.Fixed<int>();
  handoff.rootless_host_view_fd = r.Fixed<int>();
  handoff.rootless_template_fd = r.Fixed<int>();
  if (!r.Complete()) return std::nullopt;
  return handoff;
}

}  // namespace mntns::internal
