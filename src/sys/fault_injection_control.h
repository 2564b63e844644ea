// Test-only control of the fault-injection seam (fault_injection.h); exists
// only in builds with MNTNS_FAULT_INJECTION=1.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "sys/fault_injection.h"

#if !MNTNS_FAULT_INJECTION
#error "fault_injection_control.h is for the fault-injection test build only"
#endif

namespace mntns::sys::fault {

// The Error::operation of a failed wrapper of `call` starts with this name
// ("open", "ioctl", "prctl", ...).
[[nodiscard]] std::string_view CallName(Call call);

// Makes the `nth` call (1-based) of `call` made by this process from now on
// fail with `error`; the counts of every call kind restart at 0. With nth 0,
// nothing fails and the calls are only counted. Calls of other processes
// (children forked meanwhile) neither count nor fail.
void Arm(Call call, std::size_t nth, int error);

// Stops failing and counting; what Triggered() and Counts() say is kept.
void Disarm();

// Whether the armed failure happened since Arm.
[[nodiscard]] bool Triggered();

// The calls of each kind since Arm (while armed).
[[nodiscard]] std::array<std::size_t, static_cast<std::size_t>(Call::kCount)> Counts();

// The environment variable that arms a fresh exec of a program built with the
// seam (the sandbox setup process, the template keeper): "CALL_INDEX NTH
// ERRNO FD TARGET", FD being an inherited pipe's write end that gets one byte
// when the failure happens, TARGET which of those processes it arms.
// Read at the first wrapper call of the process. There, processes it forks
// inherit the arming and count on from the fork (so the N-th call may fail in
// more than one of them).
inline constexpr const char* kEnvironmentVariable = "MNTNS_FAULT_INJECTION";

enum class Target : int {
  kAnyProcess = 0,    // whichever process reads it (a keeper is given it as is)
  kKeeperOnly = 1,    // only a template keeper (the starter hands it over as kAnyProcess)
  kNotTheKeeper = 2,  // not handed to a keeper
};

struct Arming {
  Call call = Call::kOpen;
  std::size_t nth = 0;
  int error = 0;
  int marker_fd = -1;
  Target target = Target::kAnyProcess;
};

// The entry's value parsed; false when it is not one. Allocates nothing, so
// that a process may read it between clone3 and exec.
[[nodiscard]] bool ParseArming(const char* text, Arming& arming) noexcept;

// The value of the entry for `arming`.
[[nodiscard]] std::string FormatArming(const Arming& arming);

}  // namespace mntns::sys::fault
