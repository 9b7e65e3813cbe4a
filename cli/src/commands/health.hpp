#pragma once
// `rtev health [--wait 10s]`: query /health; exit 0 when healthy, 3 otherwise.
#include <CLI/CLI.hpp>
#include <optional>
#include "common_options.hpp"
namespace rtev::cli {
struct health_options {
  common_options common;
  std::optional<std::string> wait;  ///< set even when given empty (then refused)
};
void setup_health(CLI::App& app, health_options& opt);
int run_health(health_options& opt);
}  // namespace rtev::cli
