// The polyfill's BPF programs, run here on synthetic seccomp_data by a small
// classic-BPF interpreter (the few instructions the filter uses): which calls
// of which architecture reach the supervisor, which the tracer, which run
// natively. The kernel runs the same program; tests/ns/polyfill_test.cc
// judges what the trapped calls then return. Then the pieces of those
// answers that need no kernel: statmount's layout, mnt_id_req's reading.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <vector>

#include <gtest/gtest.h>

#include "polyfill/internal.h"

namespace mntns {
namespace {

constexpr std::uint32_t kX32 = 0x40000000;  // __X32_SYSCALL_BIT

// Runs `program` on `data` as the kernel's seccomp does; what it returns
// (and in `executed`, how many instructions it ran).
std::uint32_t Interpret(const std::vector<sock_filter>& program, const seccomp_data& data, int* executed = nullptr) {
  std::uint32_t accumulator = 0;
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& op = program[pc];
    if (executed != nullptr) ++*executed;
    switch (op.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (op.k + 4 > sizeof data) return 0xdeadbeef;
        std::memcpy(&accumulator, reinterpret_cast<const char*>(&data) + op.k, 4);
        break;
      case BPF_JMP | BPF_JA: pc += op.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += accumulator == op.k ? op.jt : op.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += accumulator >= op.k ? op.jt : op.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (accumulator & op.k) != 0 ? op.jt : op.jf; break;
      case BPF_RET | BPF_K: return op.k;
      default: return 0xdeadbeef;  // an instruction this test does not know
    }
  }
  return 0xdeadbeef;  // fell off the end (the kernel's checker refuses that)
}

PolyfillCalls Everything() {
  PolyfillCalls calls;
  calls.open_tree_namespace = calls.fsmount_namespace = calls.statmount_by_fd = calls.empty_mount_namespace = true;
  return calls;
}

std::uint32_t Verdict(std::uint32_t arch, int nr, std::initializer_list<std::uint64_t> args,
                      const PolyfillCalls& calls = Everything()) {
  seccomp_data data{};
  data.arch = arch;
  data.nr = nr;
  int i = 0;
  for (std::uint64_t arg : args) data.args[i++] = arg;
  return Interpret(internal::PolyfillFilter(calls), data);
}

TEST(PolyfillFilter, NotifiesOpenTreeWithOpenTreeNamespace) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 428, {0, 0, 0x2}), SECCOMP_RET_USER_NOTIF);
}
TEST(PolyfillFilter, AllowsOpenTreeWithoutOpenTreeNamespace) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 428, {0, 0, 0x1 | 0x8000}), SECCOMP_RET_ALLOW);
}
TEST(PolyfillFilter, NotifiesFsmountAndStatmountWithTheirFlags) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 432, {3, 0x2, 0}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 457, {0, 0, 0, 0x1}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 457, {0, 0, 0, 0}), SECCOMP_RET_ALLOW);
}
TEST(PolyfillFilter, ReadsOnlyTheLowHalfOfTheFlags) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 428, {0, 0, 0x2ULL << 32}), SECCOMP_RET_ALLOW);
}
TEST(PolyfillFilter, TracesUnshareWithUnshareEmptyMntnsOnly) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 272, {0x00100000 | 0x00020000}), SECCOMP_RET_TRACE);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 272, {0x00020000}), SECCOMP_RET_ALLOW);
}
TEST(PolyfillFilter, TracesEveryClone3) { EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 435, {0, 88}), SECCOMP_RET_TRACE); }
TEST(PolyfillFilter, AllowsOtherCalls) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 110 /* getppid */, {}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 56 /* clone */, {0x00100000}), SECCOMP_RET_ALLOW);
}
TEST(PolyfillFilter, TrapsOnlyWhatTheKernelLacks) {
  PolyfillCalls only_fsmount;
  only_fsmount.fsmount_namespace = true;
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 428, {0, 0, 0x2}, only_fsmount), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 435, {0, 88}, only_fsmount), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 432, {3, 0x2, 0}, only_fsmount), SECCOMP_RET_USER_NOTIF);
}
// listmount's request (which namespace it lists) is in memory: every one
// goes to the supervisor where namespaces are emulated, and only there.
TEST(PolyfillFilter, NotifiesEveryListmountWhereNamespacesAreEmulated) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 458, {0, 0, 16, 0}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 458, {0, 0, 16, 1}), SECCOMP_RET_USER_NOTIF);
  PolyfillCalls only_fsmount;
  only_fsmount.fsmount_namespace = true;
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 458, {0, 0, 16, 0}, only_fsmount), SECCOMP_RET_USER_NOTIF);
  PolyfillCalls only_statmount;
  only_statmount.statmount_by_fd = true;
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 458, {0, 0, 16, 0}, only_statmount), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Verdict(AUDIT_ARCH_I386, 458, {0, 0, 16, 0}), SECCOMP_RET_ALLOW);
}
// ioctl's request number is an argument: NS_MNT_GET_INFO alone is trapped.
TEST(PolyfillFilter, NotifiesOnlyTheNamespaceInfoIoctl) {
  constexpr std::uint64_t kNsMntGetInfo = 0x8010b70a;  // _IOR(0xb7, 10, struct mnt_ns_info)
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 16, {3, kNsMntGetInfo, 0}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 16, {3, 0x5401 /* TCGETS */, 0}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 16, {3, kNsMntGetInfo | 0x1, 0}), SECCOMP_RET_ALLOW) << "equal, not a bit";
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 16, {3, 0x8008b705 /* NS_GET_MNTNS_ID */, 0}), SECCOMP_RET_ALLOW);
  PolyfillCalls only_statmount;
  only_statmount.statmount_by_fd = true;
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 16, {3, kNsMntGetInfo, 0}, only_statmount), SECCOMP_RET_ALLOW);
}
// What docs/polyfill.md promises a call that is let go: at most 13 instructions.
TEST(PolyfillFilter, NoCallRunsMoreThanThirteenInstructions) {
  const auto program = internal::PolyfillFilter(Everything());
  int longest = 0;
  for (int nr = 0; nr < 512; ++nr) {
    for (std::uint64_t flags : {0ULL, 0x2ULL, 0x1ULL, 0x00100000ULL, ~0ULL}) {
      seccomp_data data{};
      data.arch = AUDIT_ARCH_X86_64;
      data.nr = nr;
      for (auto& arg : data.args) arg = flags;
      int executed = 0;
      (void)Interpret(program, data, &executed);
      longest = std::max(longest, executed);
    }
  }
  EXPECT_EQ(longest, 13);
}
// i386's table is another: its 428 is open_tree too, but its 272 is
// fadvise64_64 and its 435 clone3; none of them is trapped (they run as
// without the polyfill).
TEST(PolyfillFilter, AllowsEveryI386Call) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_I386, 428, {0, 0, 0x2}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Verdict(AUDIT_ARCH_I386, 272, {0x00100000}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Verdict(AUDIT_ARCH_I386, 435, {0, 88}), SECCOMP_RET_ALLOW);
}
// x32: the x86_64 arch with __X32_SYSCALL_BIT in nr.
TEST(PolyfillFilter, AllowsEveryX32Call) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, kX32 | 428, {0, 0, 0x2}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, kX32 | 435, {0, 88}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, kX32 | 272, {0x00100000}), SECCOMP_RET_ALLOW);
}
TEST(PolyfillFilter, AllowsEverythingWhenNothingIsMissing) {
  EXPECT_EQ(Verdict(AUDIT_ARCH_X86_64, 428, {0, 0, 0x2}, PolyfillCalls{}), SECCOMP_RET_ALLOW);
}

// The emptied task's own filter: every native statmount stops at the
// tracer, whatever its flags; nothing else does.
std::uint32_t EmptyRootVerdict(std::uint32_t arch, int nr, std::initializer_list<std::uint64_t> args) {
  seccomp_data data{};
  data.arch = arch;
  data.nr = nr;
  int i = 0;
  for (std::uint64_t arg : args) data.args[i++] = arg;
  return Interpret(internal::EmptyRootStatmountFilter(), data);
}
TEST(EmptyRootStatmountFilter, TracesEveryNativeStatmount) {
  EXPECT_EQ(EmptyRootVerdict(AUDIT_ARCH_X86_64, 457, {0, 0, 0, 0}), SECCOMP_RET_TRACE);
  EXPECT_EQ(EmptyRootVerdict(AUDIT_ARCH_X86_64, 457, {0, 0, 0, 1}), SECCOMP_RET_TRACE);
}
TEST(EmptyRootStatmountFilter, AllowsEverythingElse) {
  EXPECT_EQ(EmptyRootVerdict(AUDIT_ARCH_X86_64, 458, {}), SECCOMP_RET_ALLOW);  // listmount
  EXPECT_EQ(EmptyRootVerdict(AUDIT_ARCH_X86_64, 110, {}), SECCOMP_RET_ALLOW);  // getppid
  EXPECT_EQ(EmptyRootVerdict(AUDIT_ARCH_X86_64, kX32 | 457, {}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(EmptyRootVerdict(AUDIT_ARCH_I386, 457, {}), SECCOMP_RET_ALLOW);
}

// struct statmount as the polyfill lays it out and cuts it, against what
// 6.18 and 7.2 both do (probed: a NUL opens the string area; a buffer too
// short for the strings is EOVERFLOW; without strings the header is cut).
TEST(EncodeStatmount, OpensTheStringAreaWithANul) {
  Mount mount;
  mount.mask = field::kFsType | field::kMntRoot;
  mount.fs_type = "nullfs";
  mount.root = "/";
  const auto bytes = internal::EncodeStatmount(mount);
  ASSERT_EQ(bytes.size(), 512U + 1 + 7 + 2);
  std::uint32_t size = 0, fs_type = 0, root = 0;
  std::memcpy(&size, bytes.data(), 4);
  std::memcpy(&fs_type, bytes.data() + 36, 4);
  std::memcpy(&root, bytes.data() + 104, 4);
  EXPECT_EQ(size, bytes.size());
  EXPECT_EQ(bytes[512], std::byte{0});
  EXPECT_EQ(fs_type, 1U);
  EXPECT_EQ(root, 8U);
  EXPECT_STREQ(reinterpret_cast<const char*>(bytes.data()) + 512 + fs_type, "nullfs");
}
TEST(EncodeStatmount, WithoutStringsIsTheHeaderAlone) {
  Mount mount;
  mount.mask = field::kMntBasic;
  EXPECT_EQ(internal::EncodeStatmount(mount).size(), 512U);
  EXPECT_EQ(internal::EncodeStatmount(mount, field::kMntBasic | field::kSbBasic).size(), 512U);
}
// 7.2 keeps the NUL when a string field was asked for but none is set
// (nullfs has no options: size 513 for a request of MNT_OPTS alone).
TEST(EncodeStatmount, AStringFieldAskedForOpensTheStringAreaEvenWhenUnset) {
  Mount mount;
  mount.mask = field::kMntBasic;
  EXPECT_EQ(internal::EncodeStatmount(mount, field::kMntOpts).size(), 513U);
  EXPECT_EQ(internal::EncodeStatmount(mount, field::kMntBasic | field::kFsSubtype).size(), 513U);
}
TEST(FitStatmount, StringsThatDoNotFitWholeAreEoverflow) {
  Mount mount;
  mount.mask = field::kFsType;
  mount.fs_type = "nullfs";
  auto bytes = internal::EncodeStatmount(mount);
  auto short_buffer = internal::FitStatmount(bytes, bytes.size() - 1);
  ASSERT_FALSE(short_buffer);
  EXPECT_EQ(short_buffer.error().code, EOVERFLOW);
  EXPECT_FALSE(internal::FitStatmount(bytes, 24));
  auto fitting = internal::FitStatmount(bytes, bytes.size());
  ASSERT_TRUE(fitting);
  EXPECT_EQ(*fitting, bytes);
}
TEST(FitStatmount, TheHeaderAloneIsCutWhereTheBufferEnds) {
  Mount mount;
  mount.mask = field::kMntBasic;
  mount.id = 7;
  auto cut = internal::FitStatmount(internal::EncodeStatmount(mount), 24);
  ASSERT_TRUE(cut);
  ASSERT_EQ(cut->size(), 24U);
  std::uint32_t size = 0;
  std::memcpy(&size, cut->data(), 4);
  EXPECT_EQ(size, 24U);
  auto nothing = internal::FitStatmount(internal::EncodeStatmount(mount), 0);
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->empty());
  auto two = internal::FitStatmount(internal::EncodeStatmount(mount), 2);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->size(), 2U);
  EXPECT_EQ((*two)[0], std::byte{2});
}

// ---- ReadMntIdReq: copy_mnt_id_req's rules, on this process's own memory -----

int ReadErrno(const void* request) {
  auto read = internal::ReadMntIdReq(::getpid(), reinterpret_cast<std::uint64_t>(request));
  return read ? 0 : read.error().code;
}

TEST(ReadMntIdReq, ReadsTheStructOfTheSizeItNamesAndZeroesTheRest) {
  sys::MntIdReq full{};
  full.size = sys::kMntIdReqSizeVer1;
  full.mnt_id = 42;
  full.param = 0x12;
  full.mnt_ns_id = 7;
  auto read = internal::ReadMntIdReq(::getpid(), reinterpret_cast<std::uint64_t>(&full));
  ASSERT_TRUE(read) << read.error().Message();
  EXPECT_EQ(read->mnt_id, 42U);
  EXPECT_EQ(read->param, 0x12U);
  EXPECT_EQ(read->mnt_ns_id, 7U);
  full.size = sys::kMntIdReqSizeVer0;  // VER0 has no mnt_ns_id: not read
  read = internal::ReadMntIdReq(::getpid(), reinterpret_cast<std::uint64_t>(&full));
  ASSERT_TRUE(read) << read.error().Message();
  EXPECT_EQ(read->mnt_ns_id, 0U);
}

TEST(ReadMntIdReq, RefusesWhatTheKernelRefuses) {
  alignas(8) std::byte page[2 * 4096] = {};
  auto set_size = [&](std::uint32_t size) { std::memcpy(page, &size, sizeof size); };
  set_size(sys::kMntIdReqSizeVer0 - 1);
  EXPECT_EQ(ReadErrno(page), EINVAL);
  set_size(4096 + 1);
  EXPECT_EQ(ReadErrno(page), E2BIG);
  set_size(4096);
  EXPECT_EQ(ReadErrno(page), 0) << "a page with a zero tail";
  page[4095] = std::byte{1};
  EXPECT_EQ(ReadErrno(page), E2BIG) << "a nonzero byte past the struct";
  page[4095] = std::byte{0};
  page[sizeof(sys::MntIdReq) - 1] = std::byte{1};
  EXPECT_EQ(ReadErrno(page), 0) << "the struct's own last byte is not the tail";
  EXPECT_EQ(ReadErrno(nullptr), EFAULT);
}

}  // namespace
}  // namespace mntns
