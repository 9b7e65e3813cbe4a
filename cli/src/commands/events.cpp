#include "commands/events.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "rtev/catalog.hpp"

namespace rtev::cli {

void setup_events(CLI::App& app, events_options& o) {
  auto* cmd = app.add_subcommand("events", "List the event catalog (name, family, fields)");
  cmd->add_option("--format", o.format, "text, json or names")
      ->check(CLI::IsMember({"text", "json", "names"}))
      ->capture_default_str();
  cmd->add_option("--family", o.family, "Only this family: messenger, inbox or dashboard")
      ->check(CLI::IsMember({"messenger", "inbox", "dashboard"}));
}

int run_events(events_options& o) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : catalog()) {
    if (!o.family.empty() && to_string(e.family) != o.family) continue;
    if (o.format == "names") {
      std::cout << e.name << '\n';
      continue;
    }
    if (o.format == "json") {
      nlohmann::json fields = nlohmann::json::array();
      for (const auto& f : e.fields)
        fields.push_back({{"name", f.name}, {"type", f.type}, {"required", f.required}});
      list.push_back(
          {{"name", e.name}, {"family", std::string(to_string(e.family))}, {"fields", fields}});
      continue;
    }
    std::string fields;
    for (const auto& f : e.fields)
      fields += (fields.empty() ? "" : ", ") + f.name + (f.required ? "" : "?") + ":" + f.type;
    std::cout << e.name << std::string(e.name.size() < 24 ? 24 - e.name.size() : 1, ' ')
              << to_string(e.family)
              << std::string(to_string(e.family).size() < 11 ? 11 - to_string(e.family).size() : 1,
                             ' ')
              << fields << '\n';
  }
  if (o.format == "json") std::cout << list.dump(2) << '\n';
  return exit_ok;
}

}  // namespace rtev::cli
