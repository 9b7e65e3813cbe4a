#pragma once
// `rtev profile add|use|ls|rm`: named url/token/tz/protocol sets in config.json.
#include <CLI/CLI.hpp>
namespace rtev::cli {
struct profile_options {
  std::string name, url, token, tz, protocol;
};
void setup_profile(CLI::App& app, profile_options& opt);
int run_profile(CLI::App& app, profile_options& opt);
}  // namespace rtev::cli
