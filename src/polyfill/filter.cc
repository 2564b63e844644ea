// The polyfill's seccomp filter: only the syscall numbers and flag bits that
// 6.x lacks reach the supervisor; every other call runs natively, so a program
// pays for the filter only the few BPF instructions below. clone3 is the
// exception: its flags are in memory, out of BPF's reach, so every clone3
// stops at the tracer (which lets those without CLONE_EMPTY_MNTNS go on),
// and so does every listmount where namespaces are emulated: its request is
// in memory too, and the supervisor must see whether it names one of the
// emulation's namespaces (it lets the others go on). ioctl(NS_MNT_GET_INFO)
// goes there too (the request number is an argument; other ioctls are let go).
// A task the tracer emptied a namespace for adds a second, smaller program
// (EmptyRootStatmountFilter) that stops its statmount calls.
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
constexpr std::uint32_t kUnshareEmptyMountNamespace = 0x00100000;  // UNSHARE_EMPTY_MNTNS, 7.1
constexpr std::uint32_t kX32SyscallBit = 0x40000000;             // __X32_SYSCALL_BIT
constexpr long kOpenTree = 428, kFsmount = 432, kStatmount = 457, kListmount = 458, kUnshare = 272, kClone3 = 435,
               kIoctl = 16;

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
    int flags_argument;  // -1: every call of `number` (clone3's flags are in memory)
    std::uint32_t flag;  // a bit that must be set, or (equals) the whole value
    std::uint32_t action;
    bool equals = false;
  };
  std::vector<Trap> traps;
  if (calls.open_tree_namespace) traps.push_back({kOpenTree, 2, kOpenTreeNamespace, SECCOMP_RET_USER_NOTIF});
  if (calls.fsmount_namespace) traps.push_back({kFsmount, 1, kFsmountNamespace, SECCOMP_RET_USER_NOTIF});
  if (calls.statmount_by_fd) traps.push_back({kStatmount, 3, sys::kStatmountByFd, SECCOMP_RET_USER_NOTIF});
  if (calls.open_tree_namespace || calls.fsmount_namespace) {
    traps.push_back({kListmount, -1, 0, SECCOMP_RET_USER_NOTIF});
    // ioctl's request is a plain argument: only NS_MNT_GET_INFO is trapped.
    traps.push_back({kIoctl, 1, static_cast<std::uint32_t>(sys::kNsMntGetInfo), SECCOMP_RET_USER_NOTIF, true});
  }
  if (calls.empty_mount_namespace) {
    traps.push_back({kUnshare, 0, kUnshareEmptyMountNamespace, SECCOMP_RET_TRACE});
    traps.push_back({kClone3, -1, 0, SECCOMP_RET_TRACE});
  }

  std::vector<sock_filter> program;
  program.push_back(Statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  // Only native x86_64 calls are trapped: an i386 (compat) caller's numbers
  // and argument widths are another table, and an x32 caller has the x86_64
  // arch with __X32_SYSCALL_BIT in nr. Both run natively, as on a kernel
  // without the polyfill (docs/polyfill.md). The jumps to "allow" are
  // patched below, once its place is known.
  program.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  std::vector<std::size_t> to_allow;
  to_allow.push_back(program.size());
  program.push_back(Statement(BPF_JMP | BPF_JA, 0));
  program.push_back(Statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  to_allow.push_back(program.size());
  program.push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, kX32SyscallBit, 0, 0));
  // Per trap: nr == number ? (load flags; flag set ? action : allow) : next trap.
  struct Patch {
    std::size_t jeq, jset;  // jset: 0 where the trap has no flag test
    std::uint32_t action;
  };
  std::vector<Patch> patches;
  for (const Trap& trap : traps) {
    Patch patch{};
    patch.action = trap.action;
    patch.jeq = program.size();
    program.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(trap.number), 0, 0));
    if (trap.flags_argument >= 0) {
      program.push_back(Statement(BPF_LD | BPF_W | BPF_ABS, ArgumentLow(trap.flags_argument)));
      patch.jset = program.size();
      program.push_back(Jump(BPF_JMP | (trap.equals ? BPF_JEQ : BPF_JSET) | BPF_K, trap.flag, 0, 0));
    }
    patches.push_back(patch);
  }
  const std::size_t allow = program.size();
  program.push_back(Statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  const std::size_t notify = program.size();
  program.push_back(Statement(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  const std::size_t trace = program.size();
  program.push_back(Statement(BPF_RET | BPF_K, SECCOMP_RET_TRACE));

  auto offset = [](std::size_t from, std::size_t to) { return static_cast<std::uint8_t>(to - from - 1); };
  program[to_allow[0]].k = static_cast<std::uint32_t>(allow - to_allow[0] - 1);
  program[to_allow[1]].jt = offset(to_allow[1], allow);
  for (std::size_t i = 0; i < patches.size(); ++i) {
    const std::size_t next = i + 1 < patches.size() ? patches[i + 1].jeq : allow;
    const std::size_t action = patches[i].action == SECCOMP_RET_TRACE ? trace : notify;
    program[patches[i].jeq].jf = offset(patches[i].jeq, next);
    if (patches[i].jset == 0) {
      // No flag test: the jump falls through into the next block's JEQ, so
      // the match must jump to the action itself.
      program[patches[i].jeq].jt = offset(patches[i].jeq, action);
      continue;
    }
    program[patches[i].jset].jt = offset(patches[i].jset, action);
    program[patches[i].jset].jf = offset(patches[i].jset, allow);
  }
  return program;
}

}  // namespace mntns::internal

namespace mntns::internal {

std::vector<sock_filter> EmptyRootStatmountFilter() {
  return {
      Statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
      Statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(kStatmount), 0, 1),
      Statement(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
      Statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
}

}  // namespace mntns::internal
