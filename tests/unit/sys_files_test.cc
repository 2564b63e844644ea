// The file wrappers of src/sys (sys/files.h) that replaced raw calls in the
// sandbox, keeper, query and watch code: what they return, and the Error
// (call, argument, errno) when the kernel refuses.
#include "sys/files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mntns/fd.h"
#include "sys/process.h"
#include "sys/syscalls.h"

namespace mntns {
namespace {

std::string TempFile(const char* text) {
  char path[] = "/tmp/mntns-sys-files-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return {};
  const std::string_view data(text);
  const bool written = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return written ? path : "";
}

TEST(SysWriteAll, AFullPipeIsAnErrorNamingWriteWhatAndTheErrno) {
  auto pipe = sys::Pipe(O_NONBLOCK, "test");
  ASSERT_TRUE(pipe.has_value()) << pipe.error().Message();
  const std::string data(1 << 20, 'x');  // more than a pipe's 64 KiB
  auto written = sys::WriteAll(pipe->second.Get(), data, "the test pipe");
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, EAGAIN);
  EXPECT_EQ(written.error().operation, "write");
  EXPECT_EQ(written.error().argument, "the test pipe");
}

TEST(SysRead, ReadsWhatWasWrittenThenZeroAtTheEnd) {
  auto pipe = sys::Pipe(0, "test");
  ASSERT_TRUE(pipe.has_value()) << pipe.error().Message();
  ASSERT_TRUE(sys::WriteAll(pipe->second.Get(), "abc", "the test pipe").has_value());
  pipe->second.Reset();
  char buffer[16];
  auto first = sys::Read(pipe->first.Get(), buffer, "the test pipe");
  ASSERT_TRUE(first.has_value()) << first.error().Message();
  EXPECT_EQ(std::string(buffer, *first), "abc");
  auto end = sys::Read(pipe->first.Get(), buffer, "the test pipe");
  ASSERT_TRUE(end.has_value()) << end.error().Message();
  EXPECT_EQ(*end, 0u);
}

TEST(SysReadLink, ARegularFileIsEinvalNamingReadlinkAndThePath) {
  const std::string path = TempFile("not a link");
  ASSERT_FALSE(path.empty());
  auto text = sys::ReadLink(AT_FDCWD, path.c_str());
  ::unlink(path.c_str());
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code, EINVAL);
  EXPECT_EQ(text.error().operation, "readlink");
  EXPECT_EQ(text.error().argument, "\"" + path + "\"");
}

TEST(SysDuplicateFd, TheCopyIsCloseOnExecAndNumberedAtLeastLowest) {
  auto copy = sys::DuplicateFd(STDIN_FILENO, 100);
  ASSERT_TRUE(copy.has_value()) << copy.error().Message();
  EXPECT_GE(copy->Get(), 100);
  EXPECT_EQ(::fcntl(copy->Get(), F_GETFD), FD_CLOEXEC);
}

TEST(SysSetCloseOnExec, TurnsTheFlagOffAndOn) {
  auto copy = sys::DuplicateFd(STDIN_FILENO, 3);
  ASSERT_TRUE(copy.has_value()) << copy.error().Message();
  ASSERT_TRUE(sys::SetCloseOnExec(copy->Get(), false).has_value());
  EXPECT_EQ(::fcntl(copy->Get(), F_GETFD), 0);
  ASSERT_TRUE(sys::SetCloseOnExec(copy->Get(), true).has_value());
  EXPECT_EQ(::fcntl(copy->Get(), F_GETFD), FD_CLOEXEC);
}

// A read lock (--lock-file's) is refused while another process holds a
// write lock, without waiting: EAGAIN or EACCES (POSIX allows both).
TEST(SysLockWholeFile, ARecordLockHeldByAnotherProcessIsRefusedAtOnce) {
  const std::string path = TempFile("lock");
  ASSERT_FALSE(path.empty());
  auto ready = sys::Pipe(0, "test");
  ASSERT_TRUE(ready.has_value()) << ready.error().Message();
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    const int fd = ::open(path.c_str(), O_RDWR);
    struct flock range {};
    range.l_type = F_WRLCK;
    range.l_whence = SEEK_SET;
    if (fd < 0 || ::fcntl(fd, F_SETLK, &range) != 0) ::_exit(1);
    static_cast<void>(::write(ready->second.Get(), "x", 1));
    ::pause();
    ::_exit(0);
  }
  ready->second.Reset();
  char byte;
  const bool holding = ::read(ready->first.Get(), &byte, 1) == 1;
  auto file = sys::Open(AT_FDCWD, path.c_str(), O_RDONLY);
  auto locked = file ? sys::LockWholeFile(file->Get(), F_RDLCK) : Result<void>(std::unexpected(file.error()));
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  ::unlink(path.c_str());
  ASSERT_TRUE(holding) << "the other process took no lock";
  ASSERT_FALSE(locked.has_value());
  EXPECT_TRUE(locked.error().code == EAGAIN || locked.error().code == EACCES) << locked.error().Message();
  EXPECT_EQ(locked.error().operation, "fcntl(F_SETLK)");
}

// ---- /proc status files (sys/process.h) -------------------------------------

TEST(ProcStatus, AFieldIsTheTextAfterItsColonAndBlanksToTheEndOfItsLine) {
  const std::string status = "Name:\tcat\nUid:\t0\t1000\t1000\t1000\nGroups:\t\nCapEff:\t000001ffffffffff\n";
  EXPECT_EQ(sys::ProcStatusField(status, "Name"), "cat");
  EXPECT_EQ(sys::ProcStatusField(status, "Uid"), "0\t1000\t1000\t1000");
  EXPECT_EQ(sys::ProcStatusField(status, "Groups"), "");
  EXPECT_EQ(sys::ProcStatusField(status, "Cap"), std::nullopt) << "a prefix of a key is no key";
  EXPECT_EQ(sys::ProcStatusField(status, "Gid"), std::nullopt);
  EXPECT_EQ(sys::ProcStatusField("Threads:\t3", "Threads"), "3") << "the last line needs no newline";
}

TEST(ProcStatus, NumbersAreTheBlankSeparatedOnesAFieldStartsWith) {
  using Numbers = std::vector<unsigned long long>;
  EXPECT_EQ(sys::ProcStatusNumbers("0\t1000\t1000 1001"), (Numbers{0, 1000, 1000, 1001}));
  EXPECT_EQ(sys::ProcStatusNumbers("000001ffffffffff", 16), (Numbers{0x1ffffffffffULL}));
  EXPECT_EQ(sys::ProcStatusNumbers(""), Numbers{});
  EXPECT_EQ(sys::ProcStatusNumbers("S (sleeping)"), Numbers{});
  EXPECT_EQ(sys::ProcStatusNumbers("4 5x 6"), (Numbers{4, 5})) << "up to the first that is not one";
  EXPECT_EQ(sys::ProcStatusNumbers("99999999999999999999999"), Numbers{}) << "out of range";
}

TEST(ProcStatus, ReadsTheWholeFileOfTheCallingProcess) {
  auto status = sys::ReadProcStatus(AT_FDCWD, "/proc/self/status");
  ASSERT_TRUE(status) << status.error().Message();
  const auto pid = sys::ProcStatusField(*status, "Pid");
  ASSERT_TRUE(pid);
  EXPECT_EQ(sys::ProcStatusNumbers(*pid), std::vector<unsigned long long>{static_cast<unsigned long long>(::getpid())});
  auto missing = sys::ReadProcStatus(AT_FDCWD, "/proc/self/no-such-status");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ENOENT);
  EXPECT_NE(missing.error().Message().find("no-such-status"), std::string::npos) << missing.error().Message();
}

}  // namespace
}  // namespace mntns
