#include "sys/tracing.h"

#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

namespace mntns::sys {
namespace {

Result<long> Request(int request, const char* name, pid_t tid, void* address, void* data) {
  errno = 0;
  const long result = ::ptrace(static_cast<__ptrace_request>(request), tid, address, data);
  // PEEKDATA returns the word itself, so only errno tells a failure.
  if (result == -1 && errno != 0) {
    const int err = errno;
    return MakeError(err, name, fmt::format("tid {}", tid));
  }
  return result;
}

void* Signal(int signal) { return reinterpret_cast<void*>(static_cast<long>(signal)); }

}  // namespace

Result<void> PtraceSeize(pid_t tid, unsigned options) {
  auto r = Request(PTRACE_SEIZE, "ptrace(PTRACE_SEIZE)", tid, nullptr, reinterpret_cast<void*>(static_cast<unsigned long>(options)));
  if (!r) return std::unexpected(r.error());
  return kOk;
}

Result<void> PtraceContinue(pid_t tid, int signal) {
  auto r = Request(PTRACE_CONT, "ptrace(PTRACE_CONT)", tid, nullptr, Signal(signal));
  if (!r) return std::unexpected(r.error());
  return kOk;
}

Result<void> PtraceSyscall(pid_t tid, int signal) {
  auto r = Request(PTRACE_SYSCALL, "ptrace(PTRACE_SYSCALL)", tid, nullptr, Signal(signal));
  if (!r) return std::unexpected(r.error());
  return kOk;
}

Result<void> PtraceListen(pid_t tid) {
  auto r = Request(PTRACE_LISTEN, "ptrace(PTRACE_LISTEN)", tid, nullptr, nullptr);
  if (!r) return std::unexpected(r.error());
  return kOk;
}

Result<unsigned long> PtraceEventMessage(pid_t tid) {
  unsigned long message = 0;
  auto r = Request(PTRACE_GETEVENTMSG, "ptrace(PTRACE_GETEVENTMSG)", tid, nullptr, &message);
  if (!r) return std::unexpected(r.error());
  return message;
}

Result<user_regs_struct> PtraceGetRegisters(pid_t tid) {
  user_regs_struct registers{};
  auto r = Request(PTRACE_GETREGS, "ptrace(PTRACE_GETREGS)", tid, nullptr, &registers);
  if (!r) return std::unexpected(r.error());
  return registers;
}

Result<void> PtraceSetRegisters(pid_t tid, const user_regs_struct& registers) {
  auto r = Request(PTRACE_SETREGS, "ptrace(PTRACE_SETREGS)", tid, nullptr, const_cast<user_regs_struct*>(&registers));
  if (!r) return std::unexpected(r.error());
  return kOk;
}

Result<std::uint64_t> PtracePeek(pid_t tid, std::uint64_t address) {
  auto r = Request(PTRACE_PEEKDATA, "ptrace(PTRACE_PEEKDATA)", tid, reinterpret_cast<void*>(address), nullptr);
  if (!r) return std::unexpected(r.error());
  return static_cast<std::uint64_t>(*r);
}

Result<void> PtracePoke(pid_t tid, std::uint64_t address, std::uint64_t word) {
  auto r = Request(PTRACE_POKEDATA, "ptrace(PTRACE_POKEDATA)", tid, reinterpret_cast<void*>(address),
                   reinterpret_cast<void*>(word));
  if (!r) return std::unexpected(r.error());
  return kOk;
}

Result<void> SignalThread(pid_t tid, int signal) {
  if (::syscall(SYS_tkill, tid, signal) != 0) {
    const int err = errno;
    return MakeError(err, "tkill", fmt::format("tid {}, signal {}", tid, signal));
  }
  return kOk;
}

}  // namespace mntns::sys
