// The polyfill's seccomp filter: only the syscall numbers and flag bits that
// 6.x lacks reach the supervisor; every other call runs natively, so a program
// pays for the filter only the few BPF instructions below.
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <cstddef>

#include "polyfill/internal.h"
#include "sys/uapi.h"

namespace mntns::internal {
namespace {

constexpr std::uint32_t kOpenTreeNamespace = 1U << 1;   // OPEN_TREE_NAMESPACE, 7.0
constexpr std::uint32_t kFsmountNamespace = 0x2;        // FSMOUNT_NAMESPACE, 7.1
constexpr long kOpenTree = 428, kFsmount = 432, kStatmount = 457;

sock_filter Statement(std::uint16_t code, std::uint32_t k) { return BPF_STMT(code, k); }
sock_filter Jump(std::uint16_t code, std::uint32_t k, std::uint8_t if_true, std::uint8_t if_false) {
  return BPF_JUMP(code, k, if_true, if_false);
}
// The low 32 bits of argument `index` (x86_64 is little-endian; the kernel
// reads these flags as unsigned int, so the high half never counts).
constexpr std::uint32_t ArgumentLow(int index) {
  return static_cast<std::uint32_t>(offsetof(seccomp_data, args) + 8 * static_cast<std::size_t>(index));
}

}  // namespace

std::vector<sock_filter> PolyfillFilter(const PolyfillCalls& calls) {
  struct Trap {
    long number;
    int flags_argument;
    std::uint32_t flag;
  };
  std::vector<Trap> traps;
  if (calls.open_tree_namespace) traps.push_back({kOpenTree, 2, kOpenTreeNamespace});
  if (calls.fsmount_namespace) traps.push_back({kFsmount, 1, kFsmountNamespace});
  if (calls.statmount_by_fd) traps.push_back({kStatmount, 3, sys::kStatmountByFd});

  std::vector<sock_filter> program;
  program.push_back(Statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  // Not x86_64: allow (the last instruction); the jump is patched below.
  program.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  const std::size_t arch_jump = program.size();
  program.push_back(Statement(BPF_JMP | BPF_JA, 0));
  program.push_back(Statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  // Per trap: nr == number ? (load flags; flag set ? notify : allow) : next trap.
  // Each block: JEQ nr (false -> next block), LD arg, JSET flag (true -> notify,
  // false -> allow). Targets are patched once the layout is known.
  struct Patch {
    std::size_t jeq, jset;
  };
  std::vector<Patch> patches;
  for (const Trap& trap : traps) {
    Patch patch{};
    patch.jeq = program.size();
    program.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(trap.number), 0, 0));
    program.push_back(Statement(BPF_LD | BPF_W | BPF_ABS, ArgumentLow(trap.flags_argument)));
    patch.jset = program.size();
    program.push_back(Jump(BPF_JMP | BPF_JSET | BPF_K, trap.flag, 0, 0));
    patches.push_back(patch);
  }
  const std::size_t allow = program.size();
  program.push_back(Statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  const std::size_t notify = program.size();
  program.push_back(Statement(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));

  auto offset = [](std::size_t from, std::size_t to) { return static_cast<std::uint8_t>(to - from - 1); };
  program[arch_jump].k = static_cast<std::uint32_t>(allow - arch_jump - 1);
  for (std::size_t i = 0; i < patches.size(); ++i) {
    const std::size_t next = i + 1 < patches.size() ? patches[i + 1].jeq : allow;
    program[patches[i].jeq].jf = offset(patches[i].jeq, next);
    program[patches[i].jset].jt = offset(patches[i].jset, notify);
    program[patches[i].jset].jf = offset(patches[i].jset, allow);
  }
  return program;
}

}  // namespace mntns::internal
