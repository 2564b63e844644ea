#include "command.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include <fmt/format.h>

namespace mntns::cli {

int ReportError(const Error& error) {
  fmt::print(stderr, "mntns: {}\n", error.Message());
  return kExitFailure;
}


std::optional<std::uint64_t> ParseDecimal(std::string_view text, std::uint64_t min, std::uint64_t max) {
  std::uint64_t value = 0;
  // from_chars takes no sign, spaces or base prefix, and reports overflow.
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

CLI::Option* AddNumberOption(CLI::App& command, const std::string& name, std::uint64_t min, std::uint64_t max,
                             std::function<void(std::uint64_t)> store, const std::string& description) {
  const std::string option = name.substr(name.rfind(',') + 1);
  auto* added = command.add_option_function<std::string>(
      name,
      [option, min, max, store = std::move(store)](const std::string& text) {
        const auto value = ParseDecimal(text, min, max);
        if (!value) {
          throw CLI::ValidationError(option, fmt::format("{} is not a number from {} to {}", QuotePath(text), min, max));
        }
        store(*value);
      },
      description);
  return added->type_name(fmt::format("{}..{}", min, max));
}

CLI::Option* AddChoiceOption(CLI::App& command, const std::string& name, std::string& into,
                             std::initializer_list<std::string_view> choices, const std::string& description) {
  std::string list;
  for (std::string_view choice : choices) list += (list.empty() ? "" : "|") + std::string(choice);
  const std::vector<std::string_view> allowed(choices);
  const std::string option = name.substr(name.rfind(',') + 1);
  auto* added = command.add_option_function<std::string>(
      name,
      [&into, option, list, allowed](const std::string& text) {
        if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
          throw CLI::ValidationError(option, fmt::format("{} is not one of {}", QuotePath(text), list));
        }
        into = text;
      },
      description);
  return added->type_name(list);
}

CLI::Option* AddPathOption(CLI::App& command, const std::string& name, std::string& into,
                           const std::string& description) {
  const std::string option = name.substr(name.rfind(',') + 1);
  auto* added = command.add_option_function<std::string>(
      name,
      [&into, option](const std::string& text) {
        if (text.empty()) throw CLI::ValidationError(option, "the path is empty");
        into = text;
      },
      description);
  return added->type_name("PATH");
}

}  // namespace mntns::cli
