// Library threads. Every thread libmntns starts goes through StartHelperThread.
#pragma once

#include <cstddef>
#include <functional>
#include <thread>

#include "mntns/error.h"

namespace mntns::internal {

// Starts `body` on a new thread with every signal blocked (signals meant for
// the process must reach the caller's threads, never a helper). Never throws:
// EAGAIN where the thread cannot start (RLIMIT_NPROC, threads-max).
[[nodiscard]] Result<std::thread> StartHelperThread(std::function<void()> body);

// The CPUs this thread may run on (sched_getaffinity: taskset, cpusets),
// at least 1 and at most 16: how many threads a parallel read or the
// factory starts. hardware_concurrency() counts the machine's CPUs instead.
[[nodiscard]] std::size_t UsableCpuCount();

}  // namespace mntns::internal
