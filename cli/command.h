// What every mntns subcommand shares: registration and error reporting.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "mntns/error.h"

namespace mntns::cli {

// Exit statuses: 0 success, 1 a failed operation, 2 a usage error.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A subcommand's body, chosen while parsing and run after parsing succeeded.
using Runner = std::function<int()>;

// Each Add*Command registers one subcommand on `app`; when the user picks it,
// its runner is stored into `runner`.
void AddBenchCommand(CLI::App& app, Runner& runner);
// `bench ls`, registered by AddBenchCommand on its `bench` subcommand.
void AddBenchLsCommand(CLI::App& bench, Runner& runner);
// `bench polyfill`, likewise.
void AddBenchPolyfillCommand(CLI::App& bench, Runner& runner);
// `bench watch` (cli/bench/watch.cc).
void AddBenchWatchCommand(CLI::App& bench, Runner& runner);
void AddFeaturesCommand(CLI::App& app, Runner& runner);
void AddLsCommand(CLI::App& app, Runner& runner);
// What follows the first "--" of `mntns new ...`: CMD (split off before
// parsing, since CLI11 would also take a stray second positional as CMD).
struct NewCommandLine {
  bool given = false;  // there was a "--"
  std::vector<std::string> command;
};
void AddNewCommand(CLI::App& app, Runner& runner, const NewCommandLine& command_line);
// `mntns polyfill [--] CMD`: CMD split off before parsing, as for `new`.
void AddPolyfillCommand(CLI::App& app, Runner& runner, const NewCommandLine& command_line);
void AddRunCommand(CLI::App& app, Runner& runner);
void AddStatCommand(CLI::App& app, Runner& runner);
void AddWatchCommand(CLI::App& app, Runner& runner);

// Prints `mntns: <message>` to stderr and returns kExitFailure.
int ReportError(const Error& error);

// An option whose value is an unsigned decimal integer from `min` to `max`,
// stored through `store`. Anything else (a sign, spaces, digits past `max`,
// hex, an empty value) is a usage error that names the option and the range,
// e.g. `--ns: "0" is not a number from 1 to 18446744073709551615`: CLI11's own
// checks clamp 2^64 to 2^64-1 and print their internals.
CLI::Option* AddNumberOption(CLI::App& command, const std::string& name, std::uint64_t min, std::uint64_t max,
                             std::function<void(std::uint64_t)> store, const std::string& description);

// An option whose value is one of `choices` (exactly, case-sensitive), stored
// into `into`; anything else is a usage error that lists the choices.
CLI::Option* AddChoiceOption(CLI::App& command, const std::string& name, std::string& into,
                             std::initializer_list<std::string_view> choices, const std::string& description);

// A path option that may not be empty: "" would otherwise mean "not given"
// (`ls --ns-file ''` listed the caller's own namespace).
CLI::Option* AddPathOption(CLI::App& command, const std::string& name, std::string& into,
                           const std::string& description);

// Parses an unsigned decimal integer from `min` to `max`; nullopt for
// anything else. Shared by the options above and environment variables.
[[nodiscard]] std::optional<std::uint64_t> ParseDecimal(std::string_view text, std::uint64_t min,
                                                        std::uint64_t max);

}  // namespace mntns::cli
