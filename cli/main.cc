// mntns: create, inspect and reason about Linux mount namespaces.
#include "command.h"

namespace mntns::cli {
namespace {

int Main(int argc, char** argv) {
  CLI::App app{
      "mntns: create, inspect and reason about Linux mount namespaces.\n"
      "Uses listmount/statmount, open_tree(OPEN_TREE_NAMESPACE) and STATMOUNT_BY_FD where the\n"
      "kernel has them (7.x) and emulates them faithfully on older kernels (6.x).",
      "mntns"};
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 success, 1 a failed operation, 2 a usage error.\n"
      "Run `mntns COMMAND --help` for the options of one command.");

  Runner runner;
  AddFeaturesCommand(app, runner);
  AddLsCommand(app, runner);
  AddNewCommand(app, runner);
  AddRunCommand(app, runner);
  AddStatCommand(app, runner);
  AddBenchCommand(app, runner);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return runner ? runner() : kExitUsage;
}

}  // namespace
}  // namespace mntns::cli

int main(int argc, char** argv) { return mntns::cli::Main(argc, argv); }
