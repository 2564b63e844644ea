// `mntns ls` against util-linux findmnt (Debian 12: 2.38): the same filters
// and formats, run under both on the same namespace, must print the same rows.
// Every test runs both mntns backends (listmount+statmount and mountinfo).
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mntns/query.h"
#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::CliResult;
using testing::RunCli;

// The namespace every test compares in (inside its own private namespace):
//   BASE       tmpfs "t1" (size=1m), with a 300 KB file so that USED is not 0
//   BASE/b     bind of BASE/a (SOURCE t1[/a]), covered by
//   BASE/b     tmpfs "t2" (size=2m, noexec, shared)
//   BASE/c     tmpfs "t3", read-only
//   BASE/s p   tmpfs "sp ace": a space in the target and the source
struct Fixture {
  std::string base;
};

void MountFixture(Fixture& fixture) {
  fixture.base = testing::TempDir();
  const std::string& base = fixture.base;
  ASSERT_EQ(::mount("t1", base.c_str(), "tmpfs", 0, "size=1m"), 0);
  {
    const int fd = ::open((base + "/file").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    const std::string block(300000, 'x');
    ASSERT_EQ(::write(fd, block.data(), block.size()), static_cast<ssize_t>(block.size()));
    ::close(fd);
  }
  for (const char* dir : {"/a", "/b", "/c", "/s p"}) ASSERT_TRUE(testing::MakeDirs(base + dir));
  ASSERT_TRUE(testing::BindMount(base + "/a", base + "/b"));
  ASSERT_EQ(::mount("t2", (base + "/b").c_str(), "tmpfs", MS_NOEXEC, "size=2m"), 0);
  ASSERT_TRUE(testing::SetPropagation(base + "/b", MS_SHARED));
  ASSERT_TRUE(testing::MakeDirs(base + "/b/x"));
  ASSERT_EQ(::mount("t3", (base + "/c").c_str(), "tmpfs", MS_RDONLY, nullptr), 0);
  ASSERT_EQ(::mount("sp ace", (base + "/s p").c_str(), "tmpfs", 0, nullptr), 0);
}

// findmnt in the C locale: the VM has no locale files, so trees are compared
// with --ascii.
CliResult Findmnt(std::vector<std::string> args) {
  args.insert(args.begin(), "findmnt");
  return testing::RunProgram(args, {.environment = {"LC_ALL=C"}});
}

// Runs `findmnt ARGS` and `mntns ls --backend B ARGS` for both backends and
// expects the same output and exit status.
void ExpectSameAsFindmnt(const std::vector<std::string>& args) {
  const CliResult expected = Findmnt(args);
  ASSERT_TRUE(expected.exit_status == 0 || expected.exit_status == 1) << expected.err;
  for (const char* backend : {"listmount", "mountinfo"}) {
    std::vector<std::string> ours{"ls", "--backend", backend};
    ours.insert(ours.end(), args.begin(), args.end());
    const CliResult result = RunCli(ours);
    std::string command = "mntns ls --backend " + std::string(backend);
    for (const std::string& arg : args) command += " '" + arg + "'";
    EXPECT_EQ(result.exit_status, expected.exit_status) << command << "\n" << result.err;
    EXPECT_EQ(result.out, expected.out) << command << "\nstderr: " << result.err;
  }
}

// The columns that mean the same in both (ID and PARENT are unique ids in
// mntns: findmnt's are OLD_ID and OLD_PARENT, compared apart).
const std::string kColumns = "TARGET,SOURCE,FSTYPE,OPTIONS,VFS-OPTIONS,FS-OPTIONS,FSROOT,PROPAGATION,MAJ:MIN";

void InFixture(const std::function<void(const Fixture&)>& body) {
  testing::InPrivateMountNamespace([&] {
    Fixture fixture;
    MountFixture(fixture);
    if (::testing::Test::HasFatalFailure()) return;
    body(fixture);
  });
}

TEST(LsVsFindmnt, ListOfEveryColumnWithAMeaningInCommonIsTheSame) {
  InFixture([](const Fixture&) { ExpectSameAsFindmnt({"-l", "-o", kColumns}); });
}

TEST(LsVsFindmnt, OldIdsAreFindmntsIds) {
  testing::InPrivateMountNamespace([] {
    const CliResult expected = Findmnt({"-r", "-n", "-o", "ID,PARENT,TARGET"});
    ASSERT_EQ(expected.exit_status, 0) << expected.err;
    for (const char* backend : {"listmount", "mountinfo"}) {
      const CliResult result = RunCli({"ls", "--backend", backend, "-r", "-n", "-o", "OLD_ID,OLD_PARENT,TARGET"});
      EXPECT_EQ(result.out, expected.out) << backend;
    }
  });
}

TEST(LsVsFindmnt, TypesWithNoPrefixesSelectTheSameMounts) {
  InFixture([](const Fixture&) {
    for (const char* types : {"tmpfs", "notmpfs,proc", "nosysfs,proc", "tmpfs,noproc", "TMPFS", "nosuchfs"}) {
      ExpectSameAsFindmnt({"-l", "-t", types, "-o", "TARGET,SOURCE,FSTYPE"});
    }
  });
}

TEST(LsVsFindmnt, OptionsFilterMatchesLikeLibmount) {
  InFixture([](const Fixture&) {
    for (const char* options : {"ro", "noexec", "+noexec", "size=2048k", "size=2", "ro,norelatime", "rw,nosuid"}) {
      ExpectSameAsFindmnt({"-l", "-O", options, "-o", "TARGET,OPTIONS"});
    }
  });
}

TEST(LsVsFindmnt, SourceFilterMatchesTheSourceWithoutItsRoot) {
  InFixture([](const Fixture&) { ExpectSameAsFindmnt({"-l", "-S", "t1", "-o", "TARGET,SOURCE"}); });
}

TEST(LsVsFindmnt, SourceFilterTakesMajorMinor) {
  InFixture([](const Fixture& fixture) {
    struct stat info {};
    ASSERT_EQ(::stat((fixture.base + "/c").c_str(), &info), 0);
    const std::string device = std::to_string(major(info.st_dev)) + ":" + std::to_string(minor(info.st_dev));
    ExpectSameAsFindmnt({"-l", "-S", device, "-o", "TARGET,SOURCE,MAJ:MIN"});
  });
}

TEST(LsVsFindmnt, MountpointListsEveryMountStackedThere) {
  InFixture([](const Fixture& fixture) { ExpectSameAsFindmnt({"-l", "-M", fixture.base + "/b", "-o", kColumns}); });
}

TEST(LsVsFindmnt, TargetFindsTheMountPointAPathLiesUnder) {
  InFixture([](const Fixture& fixture) {
    ExpectSameAsFindmnt({"-l", "-T", fixture.base + "/b/x", "-o", "TARGET,SOURCE"});
    ExpectSameAsFindmnt({"-l", "-T", fixture.base + "/a", "-o", "TARGET,SOURCE"});
  });
}

TEST(LsVsFindmnt, SubmountsOfAMountPointAsATree) {
  InFixture([](const Fixture& fixture) {
    ExpectSameAsFindmnt({"--tree", "--ascii", "-R", "-M", fixture.base, "-o", "TARGET,SOURCE,FSTYPE"});
  });
}

TEST(LsVsFindmnt, TreeHangsAMountBelowItsNearestShownAncestor) {
  InFixture([](const Fixture&) { ExpectSameAsFindmnt({"--tree", "--ascii", "-t", "nosysfs,proc", "-o", "TARGET,FSTYPE"}); });
}

TEST(LsVsFindmnt, OptionalFieldsAreMountinfosEmptyForAPrivateMount) {
  InFixture([](const Fixture& fixture) {
    // A slave of the shared t2 beside it: "master:N" (t2 is "shared:N", the others private).
    const std::string slave = fixture.base + "/slave";
    ASSERT_TRUE(testing::MakeDirs(slave));
    ASSERT_TRUE(testing::BindMount(fixture.base + "/b", slave));
    ASSERT_TRUE(testing::SetPropagation(slave, MS_SLAVE));
    ExpectSameAsFindmnt({"-l", "-R", "-M", fixture.base, "-o", "TARGET,PROPAGATION,OPT-FIELDS"});
  });
}

TEST(LsVsFindmnt, TaskListsTheNamespaceOfThatProcess) {
  InFixture([](const Fixture&) { ExpectSameAsFindmnt({"-l", "-N", std::to_string(::getpid()), "-o", kColumns}); });
}

TEST(LsVsFindmnt, DfAllKeepsFilesystemsOfSizeZero) {
  InFixture([](const Fixture& fixture) {
    ASSERT_EQ(::mount("r", (fixture.base + "/a").c_str(), "ramfs", 0, nullptr), 0);
    ExpectSameAsFindmnt({"-D", "-A", "-R", "-M", fixture.base});
  });
}

// findmnt orders siblings by mount id (libmount's next-child walk), not by
// the table's order: they differ once a freed id goes to a later mount.
// Runs `body` with `base` holding m19 and, mounted after it, "later" with a
// lower (reused) id.
void WithAFreedIdReused(const std::function<void(const std::string& base)>& body) {
  testing::InPrivateMountNamespace([&] {
    const std::string root = testing::TempDir();
    // Old mount ids are one system-wide pool: a test running beside this one
    // may take the freed ids first (its namespace copies take dozens). Tried
    // again, each time in a fresh directory, until one is reused here.
    for (int attempt = 0; attempt < 50; ++attempt) {
      const std::string base = root + "/" + std::to_string(attempt);
      ASSERT_TRUE(testing::MountTmpfs(base));
      for (int i = 0; i < 20; ++i) ASSERT_TRUE(testing::MountTmpfs(base + "/m" + std::to_string(i)));
      for (int i = 0; i < 19; ++i) ASSERT_EQ(::umount2((base + "/m" + std::to_string(i)).c_str(), 0), 0) << i;
      // The lowest free id now lies below m19's: the next mount takes it.
      ASSERT_TRUE(testing::MountTmpfs(base + "/later"));
      auto later = StatmountByPath(base + "/later", {.mask = field::kMntBasic});
      auto earlier = StatmountByPath(base + "/m19", {.mask = field::kMntBasic});
      ASSERT_TRUE(later && earlier);
      if (later->old_id < earlier->old_id) return body(base);
      ASSERT_EQ(::umount2(base.c_str(), MNT_DETACH), 0);
    }
    FAIL() << "no freed id was reused in 50 tries: the test cannot tell the orders apart";
  });
}

TEST(LsVsFindmnt, TreeOrdersSiblingsByMountIdLikeFindmnt) {
  WithAFreedIdReused(
      [](const std::string& base) { ExpectSameAsFindmnt({"--tree", "--ascii", "-R", "-M", base, "-o", "TARGET,FSTYPE"}); });
}

// -R walks the tree in lists too (and with -D): the same order as the tree's.
TEST(LsVsFindmnt, SubmountsListOrdersSiblingsByMountIdLikeFindmnt) {
  WithAFreedIdReused([](const std::string& base) {
    ExpectSameAsFindmnt({"-l", "-R", "-M", base, "-o", "TARGET,FSTYPE"});
    ExpectSameAsFindmnt({"-D", "-R", "-M", base});
    ExpectSameAsFindmnt({"-r", "-n", "-R", "-M", base, "-o", "TARGET"});
  });
}

// Several matches: each in the table's order, then its subtree, nothing twice
// (a match inside another's subtree is listed with that one).
TEST(LsVsFindmnt, SubmountsOfSeveralMatchesListEachSubtreeOnce) {
  WithAFreedIdReused([](const std::string& base) {
    ASSERT_TRUE(testing::MountTmpfs(base + "/m19/inner"));
    ASSERT_TRUE(testing::MountTmpfs(base + "/later/inner"));
    ExpectSameAsFindmnt({"-l", "-R", "-t", "tmpfs", "-o", "TARGET,FSTYPE"});
    ExpectSameAsFindmnt({"-l", "-R", "-S", "test-inner", "-o", "TARGET,SOURCE"});
  });
}

TEST(LsVsFindmnt, ShadowedListsTheCoveredMounts) {
  // findmnt 2.38 applies --shadowed only beside another filter.
  InFixture([](const Fixture&) { ExpectSameAsFindmnt({"-l", "--shadowed", "-t", "tmpfs", "-o", "TARGET,SOURCE"}); });
}

TEST(LsVsFindmnt, RealAndPseudoSplitByLibmountsList) {
  InFixture([](const Fixture&) {
    ExpectSameAsFindmnt({"-l", "--real", "-o", "TARGET,FSTYPE"});
    ExpectSameAsFindmnt({"-l", "--pseudo", "-o", "TARGET,FSTYPE"});
  });
}

TEST(LsVsFindmnt, DfShowsHumanSizesOfTheFixture) {
  InFixture([](const Fixture& fixture) { ExpectSameAsFindmnt({"-D", "-R", "-M", fixture.base}); });
}

TEST(LsVsFindmnt, SizeColumnsWithoutHeadingsKeepTheirWidths) {
  InFixture([](const Fixture& fixture) {
    ExpectSameAsFindmnt({"-l", "-n", "-R", "-M", fixture.base, "-o", "TARGET,SIZE,USED,AVAIL,USE%,MAJ:MIN"});
  });
}

TEST(LsVsFindmnt, RawEscapesSpacesInCells) {
  InFixture([](const Fixture&) { ExpectSameAsFindmnt({"-r", "-o", kColumns}); });
}

TEST(LsVsFindmnt, PairsQuoteEveryValue) {
  InFixture([](const Fixture& fixture) {
    ExpectSameAsFindmnt({"-P", "-R", "-M", fixture.base, "-o", kColumns + ",SIZE,USE%"});
  });
}

// Runs `argv` (findmnt, or mntns when `mntns`) with stdout on a fresh
// pseudo-terminal of `columns` columns (0: a terminal whose size was never
// set) and `environment`, and returns what reached the terminal.
CliResult RunOnTerminal(std::vector<std::string> argv, bool mntns, unsigned short columns,
                        std::vector<std::string> environment) {
  int master = -1;
  int slave = -1;
  winsize size{.ws_row = 50, .ws_col = columns, .ws_xpixel = 0, .ws_ypixel = 0};
  CliResult result;
  if (::openpty(&master, &slave, nullptr, nullptr, &size) != 0) {
    ADD_FAILURE() << "openpty: " << std::strerror(errno);
    return result;
  }
  ::fcntl(master, F_SETFD, FD_CLOEXEC);
  ::fcntl(slave, F_SETFD, FD_CLOEXEC);
  environment.push_back("LC_ALL=C");
  const testing::RunOptions options{.stdout_kind = testing::RunOptions::Stdout::kFile,
                                    .stdout_file = ::ttyname(slave),
                                    .environment = environment};
  result = mntns ? RunCli(argv, options) : testing::RunProgram(argv, options);
  ::close(slave);
  char buffer[65536];
  // Until EIO: every slave fd is closed, so it comes once the output is read
  // (the terminal hands it over asynchronously: no short timeout).
  for (pollfd ready{master, POLLIN, 0}; ::poll(&ready, 1, 10000) > 0;) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;
    // The terminal turns "\n" into "\r\n".
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] != '\r') result.out += buffer[i];
    }
  }
  ::close(master);
  return result;
}

// findmnt and both mntns backends on the same terminal print the same rows.
void ExpectSameOnTerminal(const std::vector<std::string>& args, unsigned short columns,
                          const std::vector<std::string>& environment) {
  std::vector<std::string> findmnt{"findmnt"};
  findmnt.insert(findmnt.end(), args.begin(), args.end());
  const CliResult expected = RunOnTerminal(findmnt, false, columns, environment);
  ASSERT_EQ(expected.exit_status, 0) << expected.err;
  for (const char* backend : {"listmount", "mountinfo"}) {
    std::vector<std::string> ours{"ls", "--backend", backend};
    ours.insert(ours.end(), args.begin(), args.end());
    const CliResult result = RunOnTerminal(ours, true, columns, environment);
    std::string command = "mntns ls --backend " + std::string(backend);
    for (const std::string& arg : args) command += " '" + arg + "'";
    EXPECT_EQ(result.exit_status, 0) << command << "\n" << result.err;
    EXPECT_EQ(result.out, expected.out) << command << " on " << columns << " columns";
  }
}

// Options long enough that no width up to 100 holds the row whole.
void MountWithLongOptions(const Fixture& fixture) {
  const std::string path = fixture.base + "/long";
  ASSERT_TRUE(testing::MakeDirs(path));
  ASSERT_EQ(::mount("t4", path.c_str(), "tmpfs", 0,
                    "size=1m,mode=0755,uid=12345678,gid=87654321,nr_inodes=1234567"),
            0);
}

const std::vector<std::string> kTerminalArgs{"-l", "-t", "tmpfs", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"};

TEST(LsVsFindmntOnATerminal, RowsAreCutToTheTerminalsWidth) {
  InFixture([](const Fixture& fixture) {
    MountWithLongOptions(fixture);
    for (unsigned short columns : {40, 60, 100, 300}) ExpectSameOnTerminal(kTerminalArgs, columns, {"COLUMNS="});
  });
}

TEST(LsVsFindmntOnATerminal, TheTerminalsWidthWinsOverColumns) {
  InFixture([](const Fixture& fixture) {
    MountWithLongOptions(fixture);
    ExpectSameOnTerminal(kTerminalArgs, 50, {"COLUMNS=200"});
  });
}

TEST(LsVsFindmntOnATerminal, ATerminalWithoutASizeTakesColumns) {
  InFixture([](const Fixture& fixture) {
    MountWithLongOptions(fixture);
    ExpectSameOnTerminal(kTerminalArgs, 0, {"COLUMNS=45"});
  });
}

TEST(LsVsFindmntOnATerminal, ATerminalWithoutASizeOrColumnsIsEightyWide) {
  InFixture([](const Fixture& fixture) {
    MountWithLongOptions(fixture);
    for (const char* variable : {"COLUMNS=", "COLUMNS=12x", "COLUMNS=-5"}) {
      ExpectSameOnTerminal(kTerminalArgs, 0, {variable});
    }
  });
}

TEST(LsVsFindmntOnATerminal, NotruncateKeepsWholeCells) {
  InFixture([](const Fixture& fixture) {
    MountWithLongOptions(fixture);
    std::vector<std::string> args = kTerminalArgs;
    args.insert(args.begin(), "-u");
    ExpectSameOnTerminal(args, 40, {"COLUMNS="});
  });
}

TEST(LsVsFindmntOnATerminal, DfFitsTheTerminal) {
  InFixture([](const Fixture& fixture) {
    MountWithLongOptions(fixture);
    for (unsigned short columns : {50, 80}) ExpectSameOnTerminal({"-D", "-R", "-M", fixture.base}, columns, {"COLUMNS="});
  });
}

TEST(LsVsFindmntOnATerminal, TreeFitsTheTerminal) {
  InFixture([](const Fixture& fixture) {
    MountWithLongOptions(fixture);
    for (unsigned short columns : {60, 200}) {
      ExpectSameOnTerminal({"--tree", "--ascii", "-R", "-M", fixture.base, "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"},
                           columns, {"COLUMNS="});
    }
  });
}

TEST(LsVsFindmnt, NoMatchExitsOneAndPrintsNothing) {
  InFixture([](const Fixture&) { ExpectSameAsFindmnt({"-l", "-t", "nosuchfs", "-M", "/nowhere"}); });
}

}  // namespace
}  // namespace mntns
