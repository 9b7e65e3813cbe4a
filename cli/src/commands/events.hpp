#pragma once
// `rtev events`: list the event catalog (name, family, fields).
#include <CLI/CLI.hpp>
namespace rtev::cli {
struct events_options {
  std::string format = "text";
  std::string family;
};
void setup_events(CLI::App& app, events_options& opt);
int run_events(events_options& opt);
}  // namespace rtev::cli
