// The C API's sandbox (mntns.h): a SandboxSpec built by calls, and the
// SandboxProcess handle that StartSandbox returns.
#include <cerrno>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "capi/internal.h"
#include "mntns/sandbox.h"

struct mntns_sandbox_spec {
  mntns::SandboxSpec spec;
};

struct mntns_sandbox {
  mntns::SandboxProcess process;
};

namespace mntns::capi {
namespace {

// Setters fail only on NULL arguments and memory; what the values mean is
// checked by ValidateSandboxSpec, with a message.
template <typename Body>
int Set(mntns_sandbox_spec* spec, Body&& body) noexcept {
  if (spec == nullptr) return -EINVAL;
  try {
    return body(spec->spec);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  } catch (...) {
    return -EIO;
  }
}

std::optional<mode_t> ModeFromC(int mode) {
  if (mode < 0) return std::nullopt;
  return static_cast<mode_t>(mode);
}

SandboxMount Step(SandboxMount::Kind kind, const char* dest) {
  SandboxMount step;
  step.kind = kind;
  step.dest = dest;
  return step;
}

SandboxEnvChange EnvChange(SandboxEnvChange::Kind kind, const char* name, const char* value) {
  SandboxEnvChange change;
  change.kind = kind;
  if (name != nullptr) change.name = name;
  if (value != nullptr) change.value = value;
  return change;
}

constexpr unsigned kBindFlags = MNTNS_BIND_READ_ONLY | MNTNS_BIND_ALLOW_DEVICES | MNTNS_BIND_OPTIONAL;
constexpr unsigned kUnshareFlags = MNTNS_SANDBOX_UNSHARE_USER | MNTNS_SANDBOX_UNSHARE_PID |
                                   MNTNS_SANDBOX_UNSHARE_NET | MNTNS_SANDBOX_UNSHARE_UTS |
                                   MNTNS_SANDBOX_UNSHARE_IPC;

}  // namespace
}  // namespace mntns::capi

using mntns::SandboxEnvChange;
using mntns::SandboxMount;
using mntns::SandboxSpec;
using mntns::capi::Set;

extern "C" {

mntns_sandbox_spec* mntns_sandbox_spec_new(void) {
  try {
    return new mntns_sandbox_spec{};
  } catch (...) {
    return nullptr;
  }
}

void mntns_sandbox_spec_free(mntns_sandbox_spec* spec) { delete spec; }

int mntns_sandbox_spec_set_root(mntns_sandbox_spec* spec, const char* dir) {
  return Set(spec, [&](SandboxSpec& s) {
    s.root = dir != nullptr ? dir : "";
    return 0;
  });
}

int mntns_sandbox_spec_add_bind(mntns_sandbox_spec* spec, const char* source, const char* dest, unsigned int flags) {
  if (source == nullptr || dest == nullptr || (flags & ~mntns::capi::kBindFlags) != 0) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    SandboxMount step = mntns::capi::Step(SandboxMount::Kind::kBind, dest);
    step.source = source;
    step.read_only = (flags & MNTNS_BIND_READ_ONLY) != 0;
    step.allow_devices = (flags & MNTNS_BIND_ALLOW_DEVICES) != 0;
    step.optional = (flags & MNTNS_BIND_OPTIONAL) != 0;
    s.mounts.push_back(std::move(step));
    return 0;
  });
}

int mntns_sandbox_spec_add_tmpfs(mntns_sandbox_spec* spec, const char* dest, uint64_t size, int mode) {
  if (dest == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    SandboxMount step = mntns::capi::Step(SandboxMount::Kind::kTmpfs, dest);
    step.size = size;
    step.perms = mntns::capi::ModeFromC(mode);
    s.mounts.push_back(std::move(step));
    return 0;
  });
}

int mntns_sandbox_spec_add_proc(mntns_sandbox_spec* spec, const char* dest) {
  if (dest == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    s.mounts.push_back(mntns::capi::Step(SandboxMount::Kind::kProc, dest));
    return 0;
  });
}

int mntns_sandbox_spec_add_dev(mntns_sandbox_spec* spec, const char* dest) {
  if (dest == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    s.mounts.push_back(mntns::capi::Step(SandboxMount::Kind::kDev, dest));
    return 0;
  });
}

int mntns_sandbox_spec_add_dir(mntns_sandbox_spec* spec, const char* dest, int mode) {
  if (dest == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    SandboxMount step = mntns::capi::Step(SandboxMount::Kind::kDir, dest);
    step.perms = mntns::capi::ModeFromC(mode);
    s.mounts.push_back(std::move(step));
    return 0;
  });
}

int mntns_sandbox_spec_add_symlink(mntns_sandbox_spec* spec, const char* target, const char* dest) {
  if (target == nullptr || dest == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    SandboxMount step = mntns::capi::Step(SandboxMount::Kind::kSymlink, dest);
    step.source = target;
    s.mounts.push_back(std::move(step));
    return 0;
  });
}

int mntns_sandbox_spec_add_remount_ro(mntns_sandbox_spec* spec, const char* dest) {
  if (dest == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    s.mounts.push_back(mntns::capi::Step(SandboxMount::Kind::kRemountRo, dest));
    return 0;
  });
}

int mntns_sandbox_spec_add_overlay(mntns_sandbox_spec* spec, const char* dest, const char* const* lower,
                                   size_t count, int upper_kind, const char* upper, const char* workdir) {
  if (dest == nullptr || (lower == nullptr && count != 0)) return -EINVAL;
  for (size_t i = 0; i < count; ++i) {
    if (lower[i] == nullptr) return -EINVAL;
  }
  SandboxMount::OverlayUpper kind;
  switch (upper_kind) {
    case MNTNS_OVERLAY_READ_ONLY:
      kind = SandboxMount::OverlayUpper::kNone;
      break;
    case MNTNS_OVERLAY_TMPFS:
      kind = SandboxMount::OverlayUpper::kTmpfs;
      break;
    case MNTNS_OVERLAY_DIRECTORY:
      kind = SandboxMount::OverlayUpper::kDirectory;
      if (upper == nullptr || workdir == nullptr) return -EINVAL;
      break;
    default:
      return -EINVAL;
  }
  if (kind != SandboxMount::OverlayUpper::kDirectory && (upper != nullptr || workdir != nullptr)) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    SandboxMount step = mntns::capi::Step(SandboxMount::Kind::kOverlay, dest);
    step.overlay_upper = kind;
    step.layers.assign(lower, lower + count);
    if (kind == SandboxMount::OverlayUpper::kDirectory) {
      step.source = upper;
      step.workdir = workdir;
    }
    s.mounts.push_back(std::move(step));
    return 0;
  });
}

int mntns_sandbox_spec_setenv(mntns_sandbox_spec* spec, const char* name, const char* value) {
  if (name == nullptr || value == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    s.env.push_back(mntns::capi::EnvChange(SandboxEnvChange::Kind::kSet, name, value));
    return 0;
  });
}

int mntns_sandbox_spec_unsetenv(mntns_sandbox_spec* spec, const char* name) {
  if (name == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    s.env.push_back(mntns::capi::EnvChange(SandboxEnvChange::Kind::kUnset, name, nullptr));
    return 0;
  });
}

int mntns_sandbox_spec_clearenv(mntns_sandbox_spec* spec) {
  return Set(spec, [&](SandboxSpec& s) {
    s.env.push_back(mntns::capi::EnvChange(SandboxEnvChange::Kind::kClear, nullptr, nullptr));
    return 0;
  });
}

int mntns_sandbox_spec_set_chdir(mntns_sandbox_spec* spec, const char* dir) {
  return Set(spec, [&](SandboxSpec& s) {
    s.chdir = dir != nullptr ? dir : "";
    return 0;
  });
}

int mntns_sandbox_spec_set_unshare(mntns_sandbox_spec* spec, unsigned int flags) {
  if ((flags & ~mntns::capi::kUnshareFlags) != 0) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    s.unshare_user = (flags & MNTNS_SANDBOX_UNSHARE_USER) != 0;
    s.unshare_pid = (flags & MNTNS_SANDBOX_UNSHARE_PID) != 0;
    s.unshare_net = (flags & MNTNS_SANDBOX_UNSHARE_NET) != 0;
    s.unshare_uts = (flags & MNTNS_SANDBOX_UNSHARE_UTS) != 0;
    s.unshare_ipc = (flags & MNTNS_SANDBOX_UNSHARE_IPC) != 0;
    return 0;
  });
}

int mntns_sandbox_spec_set_uid(mntns_sandbox_spec* spec, uid_t uid) {
  return Set(spec, [&](SandboxSpec& s) {
    s.uid = uid;
    return 0;
  });
}

int mntns_sandbox_spec_set_gid(mntns_sandbox_spec* spec, gid_t gid) {
  return Set(spec, [&](SandboxSpec& s) {
    s.gid = gid;
    return 0;
  });
}

int mntns_sandbox_spec_set_hostname(mntns_sandbox_spec* spec, const char* hostname) {
  if (hostname == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    s.hostname = hostname;
    return 0;
  });
}

int mntns_sandbox_spec_set_die_with_parent(mntns_sandbox_spec* spec, int enabled) {
  if (enabled != 0 && enabled != 1) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    s.die_with_parent = enabled == 1;
    return 0;
  });
}

int mntns_sandbox_spec_set_strategy(mntns_sandbox_spec* spec, int strategy) {
  auto parsed = mntns::capi::StrategyFromC(strategy);
  if (!parsed) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    s.strategy = *parsed;
    return 0;
  });
}

int mntns_sandbox_spec_set_argv(mntns_sandbox_spec* spec, const char* const* argv) {
  if (argv == nullptr) return -EINVAL;
  return Set(spec, [&](SandboxSpec& s) {
    std::vector<std::string> copy;
    for (const char* const* arg = argv; *arg != nullptr; ++arg) copy.emplace_back(*arg);
    s.argv = std::move(copy);
    return 0;
  });
}

int mntns_sandbox_spec_validate(const mntns_sandbox_spec* spec, mntns_error** error) {
  return mntns::capi::Guard("mntns_sandbox_spec_validate", error, [&]() -> int {
    if (spec == nullptr) return mntns::capi::Fail(EINVAL, "mntns_sandbox_spec_validate", "spec is NULL", error);
    auto valid = mntns::ValidateSandboxSpec(spec->spec);
    return valid ? 0 : mntns::capi::Fail(std::move(valid.error()), error);
  });
}

int mntns_sandbox_start(const mntns_sandbox_spec* spec, mntns_sandbox** sandbox, mntns_error** error) {
  return mntns::capi::Guard("mntns_sandbox_start", error, [&]() -> int {
    if (spec == nullptr || sandbox == nullptr) {
      return mntns::capi::Fail(EINVAL, "mntns_sandbox_start", spec == nullptr ? "spec is NULL" : "sandbox is NULL",
                               error);
    }
    // Allocated before the start: once the process runs, nothing may fail
    // before the caller holds the handle that reaps it.
    auto handle = std::make_unique<mntns_sandbox>();
    auto started = mntns::StartSandbox(spec->spec);
    if (!started) return mntns::capi::Fail(std::move(started.error()), error);
    handle->process = std::move(*started);
    *sandbox = handle.release();
    return 0;
  });
}

pid_t mntns_sandbox_pid(const mntns_sandbox* sandbox) { return sandbox != nullptr ? sandbox->process.pid : -1; }

int mntns_sandbox_pidfd(const mntns_sandbox* sandbox) {
  return sandbox != nullptr && sandbox->process.pid >= 0 ? sandbox->process.pidfd.Get() : -1;
}

int mntns_sandbox_strategy(const mntns_sandbox* sandbox) {
  return sandbox != nullptr ? mntns::capi::StrategyToC(sandbox->process.strategy) : -EINVAL;
}

int mntns_sandbox_wait(mntns_sandbox* sandbox, const int* forward_signals, size_t count, mntns_error** error) {
  return mntns::capi::Guard("mntns_sandbox_wait", error, [&]() -> int {
    if (sandbox == nullptr || (forward_signals == nullptr && count != 0)) {
      return mntns::capi::Fail(EINVAL, "mntns_sandbox_wait",
                               sandbox == nullptr ? "sandbox is NULL" : "forward_signals is NULL", error);
    }
    if (sandbox->process.pid < 0) {
      return mntns::capi::Fail(ECHILD, "mntns_sandbox_wait", "the sandbox was reaped already", error);
    }
    const std::span<const int> signals(forward_signals, count);
    auto status = mntns::WaitSandbox(sandbox->process, signals);
    return status ? *status : mntns::capi::Fail(std::move(status.error()), error);
  });
}

void mntns_sandbox_free(mntns_sandbox* sandbox) { delete sandbox; }

}  // extern "C"
