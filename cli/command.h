// What every mntns subcommand shares: registration and error reporting.
#pragma once

#include <functional>

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
void AddFeaturesCommand(CLI::App& app, Runner& runner);
void AddLsCommand(CLI::App& app, Runner& runner);
void AddNewCommand(CLI::App& app, Runner& runner);
void AddRunCommand(CLI::App& app, Runner& runner);
void AddStatCommand(CLI::App& app, Runner& runner);

// Prints `mntns: <message>` to stderr and returns kExitFailure.
int ReportError(const Error& error);

}  // namespace mntns::cli
