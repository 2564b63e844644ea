// mntns run: run a command in a minimal mount namespace (bubblewrap-class).
#include <memory>

#include <fmt/format.h>

#include "bwrap.h"
#include "command.h"
#include "mntns/sandbox.h"
#include "run_spec.h"
#include "template_sharing.h"

namespace mntns::cli {
namespace {

int RunSandboxCommand(const std::vector<std::string>& args) {
  auto line = ParseRunCommandLine(args);
  if (!line) {
    fmt::print(stderr, "mntns: {}\n", line.error().Message());
    return kExitUsage;
  }
  return RunParsedCommandLine(*line, RunDialect::kMntns);
}

// CLI11 prints "Usage: mntns run [OPTIONS]" (it knows only --help); this one
// says where CMD starts.
class RunHelpFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* /*app*/, std::string name) const override {
    return fmt::format(
        "Usage: {} [OPTION...] [--] CMD [ARG...]\n"
        "  OPTIONs apply in the order given; CMD starts after `--` or at the first argument that\n"
        "  is not an OPTION (nor an OPTION's value).\n",
        name);
  }
};

}  // namespace

void AddRunCommand(CLI::App& app, Runner& runner) {
  CLI::App* command = app.add_subcommand(
      "run",
      "Run CMD in a minimal mount namespace built with the new mount API only, like bubblewrap\n"
      "(same option names and order rules), on the fast namespace path: open_tree/fsmount\n"
      "(OPEN_TREE_NAMESPACE/FSMOUNT_NAMESPACE) on 7.x, the template emulation on 6.x.");
  command->formatter(std::make_shared<RunHelpFormatter>());
  // The arguments are parsed in order by ParseRunArguments (CLI11 would sort
  // options by name). CLI11 puts each unknown option into remaining() and,
  // from the first positional on (prefix_command), everything after it too.
  // A "--" it hands back to `mntns` itself (dropping it) unless a positional
  // is still wanted: this one wants one and takes none (its check rejects
  // every value), so "--" and all that follows stay in remaining(), in order.
  command->prefix_command();
  command->allow_extras();
  command->validate_positionals();
  command->add_option("CMD")
      ->group("")
      ->expected(1)
      ->check(CLI::Validator([](std::string&) { return std::string("taken by remaining()"); }, ""));
  command->footer(fmt::format(
      "{}"
      "\n{}\n"
      "\n"
      "Every DEST is resolved inside the new root (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS):\n"
      "symlinks in the root cannot send a mount outside it. Nothing is mounted in your namespace.\n"
      "{}\n"
      "Invoked as `bwrap` or `mntns-bwrap` (links to mntns; installing mntns puts both in\n"
      "libexec/mntns/bwrap/), mntns takes this command line as bwrap 0.13 does, in bwrap's words.\n"
      "\n"
      "Exit status: CMD's (128+N if killed by signal N; SIGINT, SIGTERM, SIGHUP and SIGQUIT are\n"
      "forwarded to it); 1 if the sandbox could not be set up, 2 a usage error, 126/127 CMD could\n"
      "not be executed.\n"
      "\n"
      "Examples:\n"
      "  mntns run --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \\\n"
      "      --symlink usr/lib64 /lib64 --proc /proc --dev /dev --tmpfs /tmp -- /bin/sh\n"
      "  mntns run --ro-bind /usr /usr --symlink usr/lib64 /lib64 --symlink usr/lib /lib \\\n"
      "      --proc /proc -- /usr/bin/cat /proc/self/mountinfo      the sandbox's own mount table\n"
      "  mntns run --unshare-user --uid 1000 --unshare-pid --ro-bind /usr /usr ... -- id\n"
      "  mntns run --root /srv/rootfs --bind /srv/data /data --chdir /data -- ./job\n"
      "  mntns run --json-spec box.json -- /usr/bin/env",
      RunOptionsHelp(), JsonSpecHelp(), kTemplateSharingHelp));
  command->callback([command, &runner] {
    std::vector<std::string> args = command->remaining();
    runner = [args] { return RunSandboxCommand(args); };
  });
}

}  // namespace mntns::cli
