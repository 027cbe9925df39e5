// Parsing every dfs program's flags (CLI11) with one order of precedence:
//   command-line flag > DFS_* environment variable > --config file > default.
// CLI11 2.1 reads the config file before the environment and lets the file
// win, so ParseFlags turns each variable set for an option that the command
// line does not give into that option, ahead of the user's arguments. Keys a
// config file has but no flag takes are errors, not silently ignored.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace dfs {

namespace internal {
inline bool GivenOnCommandLine(const CLI::Option& opt, const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") break;
    for (const std::string& name : opt.get_lnames()) {
      const std::string flag = "--" + name;
      if (arg == flag || arg.rfind(flag + "=", 0) == 0) return true;
    }
    for (const std::string& name : opt.get_snames()) {
      if (arg.rfind("-" + name, 0) == 0) return true;
    }
  }
  return false;
}
}  // namespace internal

// Throws CLI::ParseError like CLI::App::parse (callers use app.exit(e)).
inline void ParseFlags(CLI::App& app, int argc, const char* const* argv) {
  app.allow_config_extras(CLI::config_extras_mode::error);
  std::vector<std::string> given(argv + 1, argv + argc);
  std::vector<std::string> args;
  for (const CLI::Option* opt : app.get_options()) {
    const std::string& env = opt->get_envname();
    const char* value = env.empty() ? nullptr : std::getenv(env.c_str());
    if (value == nullptr || *value == '\0' || opt->get_lnames().empty()) continue;
    if (internal::GivenOnCommandLine(*opt, given)) continue;
    args.push_back("--" + opt->get_lnames().front() + "=" + value);
  }
  args.insert(args.end(), given.begin(), given.end());
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector last argument first
  app.parse(args);
}

}  // namespace dfs
