// Library threads: one way to start them, and how many.
#include "helper_thread.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <system_error>

namespace mntns::internal {

Result<std::thread> StartHelperThread(std::function<void()> body) {
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  // A new thread inherits the creator's mask: block everything around the spawn.
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  Result<std::thread> thread = MakeError(EAGAIN, "start helper thread");
  try {
    thread = std::thread(std::move(body));
  } catch (const std::system_error& error) {
    thread = MakeError(error.code().value(), "start helper thread");
  } catch (const std::bad_alloc&) {
    // std::thread allocates the state that carries `body` to the new thread.
    thread = MakeError(ENOMEM, "start helper thread");
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return thread;
}

std::size_t UsableCpuCount() {
  constexpr std::size_t kMaximumThreads = 16;
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 1;
  return std::clamp<std::size_t>(static_cast<std::size_t>(CPU_COUNT(&allowed)), 1, kMaximumThreads);
}

}  // namespace mntns::internal
