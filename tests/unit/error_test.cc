#include <cerrno>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "mntns/error.h"
#include "mntns/fd.h"
#include "support/namespace.h"
#include "sys/syscalls.h"

namespace mntns {
namespace {

TEST(Error, MessageNamesOperationArgumentTextAndErrnoName) {
  const Error error = MakeError(ENOENT, "stat", QuotePath("/nope")).error();
  EXPECT_EQ(error.Message(), "stat \"/nope\": No such file or directory (ENOENT)");
}

// ENOSPC from attaching a mount means fs.mount-max; the bare errno reads as a full disk.
TEST(MountLimitNote, NamesFsMountMaxForENOSPCOnly) {
  std::ifstream file("/proc/sys/fs/mount-max");
  std::string limit;
  if (!(file >> limit)) GTEST_SKIP() << "no /proc/sys/fs/mount-max";
  EXPECT_EQ(sys::MountLimitNote(ENOSPC), " (a mount namespace holds at most fs.mount-max = " + limit + " mounts)");
  EXPECT_EQ(sys::MountLimitNote(EPERM), "");
}

TEST(Error, MessageWithoutArgument) {
  EXPECT_EQ(MakeError(EPERM, "unshare").error().Message(), "unshare: Operation not permitted (EPERM)");
}

TEST(Error, MessageAppendsTheKernelsFsContextLog) {
  Error error = MakeError(EINVAL, "fsconfig", "size=x").error();
  error.kernel_log = "e tmpfs: Bad value for 'size'";
  EXPECT_EQ(error.Message(),
            "fsconfig size=x: Invalid argument (EINVAL)\n  kernel: e tmpfs: Bad value for 'size'");
}

TEST(Error, UnknownErrnoStillHasAName) {
  EXPECT_EQ(ErrnoName(4095), "E4095");
  EXPECT_EQ(ErrnoName(EOVERFLOW), "EOVERFLOW");
}

TEST(QuotePath, EscapesQuotesAndBackslashes) { EXPECT_EQ(QuotePath("a\"b\\c"), "\"a\\\"b\\\\c\""); }

// Error text reaches terminals: a path may not move the cursor or end the line.
TEST(QuotePath, WritesControlCharactersAsHexEscapes) {
  EXPECT_EQ(QuotePath("a\nb\x1b[2Jc\x7f"), "\"a\\x0ab\\x1b[2Jc\\x7f\"");
  EXPECT_EQ(QuotePath("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(QuotePath("c1\xc2\x9b" "2J"), "\"c1\\xc2\\x9b" "2J\"");
}

// Unquoted parts too (a JSON key, a DEST in "(for --bind SRC DEST)", the
// filesystem's log): an OSC 52 sequence must not reach the terminal.
TEST(Error, MessageWritesControlCharactersOfEveryPartAsHexEscapes) {
  Error error{EINVAL, "--json-spec x: key \"\x1b]52;c;aGk=\x07\"", "(for --bind /a /b\nc)", "e fs: bad\x1b[2J", {}};
  error.Wrap("run \x1b[31m");
  const std::string message = error.Message();
  EXPECT_TRUE(message.starts_with("run \\x1b[31m: ")) << message;
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
  EXPECT_EQ(message.find('\x07'), std::string::npos) << message;
  EXPECT_NE(message.find("key \"\\x1b]52;c;aGk=\\x07\""), std::string::npos) << message;
  EXPECT_NE(message.find("/b\\x0ac"), std::string::npos) << message;
  EXPECT_NE(message.find("kernel: e fs: bad\\x1b[2J"), std::string::npos) << message;
}

// crun's crun_error_wrap: each level adds its words; the errno is printed once.
TEST(Error, WrapPrintsContextsOutermostFirstAndKeepsTheFailedCall) {
  Error error = MakeError(ENOENT, "open_tree", QuotePath("/nope")).error();
  error.Wrap("--bind \"/nope\" \"/b\"").Wrap("sandbox");
  EXPECT_EQ(error.Message(), "sandbox: --bind \"/nope\" \"/b\": open_tree \"/nope\": No such file or directory (ENOENT)");
  EXPECT_EQ(error.code, ENOENT);
  EXPECT_EQ(error.operation, "open_tree");
  EXPECT_EQ(error.argument, QuotePath("/nope"));
  EXPECT_EQ(error.context.size(), 2U);
}

TEST(Error, WrapKeepsTheKernelLogLastAndSkipsEmptyContexts) {
  Error error = MakeError(EINVAL, "fsconfig", "fd 3").error();
  error.kernel_log = "e tmpfs: Bad value for 'mode'";
  error.Wrap("").Wrap("--tmpfs \"/t\"");
  EXPECT_EQ(error.Message(),
            "--tmpfs \"/t\": fsconfig fd 3: Invalid argument (EINVAL)\n  kernel: e tmpfs: Bad value for 'mode'");
}

TEST(UniqueFd, ClosesOnDestructionAndMovesOwnership) {
  const int before = testing::OpenFdCount();
  {
    UniqueFd fd(::dup(0));
    ASSERT_TRUE(fd.Valid());
    EXPECT_EQ(testing::OpenFdCount(), before + 1);
    UniqueFd moved(std::move(fd));
    EXPECT_FALSE(fd.Valid());
    EXPECT_TRUE(moved.Valid());
    EXPECT_EQ(testing::OpenFdCount(), before + 1);
  }
  EXPECT_EQ(testing::OpenFdCount(), before);
}

TEST(UniqueFd, ReleaseGivesUpOwnership) {
  UniqueFd fd(::dup(0));
  const int raw = fd.Release();
  EXPECT_FALSE(fd.Valid());
  EXPECT_EQ(::close(raw), 0);
}

}  // namespace
}  // namespace mntns
