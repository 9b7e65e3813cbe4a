#pragma once
// `rtev completion bash|zsh|fish`: print a completion script generated from the command
// definitions themselves (so it cannot drift); completions/ holds the same scripts.
#include <CLI/CLI.hpp>
namespace rtev::cli {
struct completion_options {
  std::string shell, list;
};
void setup_completion(CLI::App& app, completion_options& opt);
int run_completion(CLI::App& app, completion_options& opt);
}  // namespace rtev::cli
