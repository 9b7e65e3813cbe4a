#include "commands/profile.hpp"

#include <iostream>

#include "common_options.hpp"
#include "exit_codes.hpp"
#include "profiles.hpp"
#include "protocol_choice.hpp"
#include "rtev/client.hpp"
#include "rtev/time.hpp"

namespace rtev::cli {

void setup_profile(CLI::App& app, profile_options& o) {
  auto* cmd =
      app.add_subcommand("profile", "Manage connection profiles (url, token, tz, protocol)");
  cmd->require_subcommand(1);
  auto* add = cmd->add_subcommand("add", "Add or replace a profile");
  add->add_option("name", o.name, "Profile name")->required();
  add->add_option("--url", o.url, "Server URL")->required();
  add->add_option("--token", o.token, "Token");
  add->add_option("--tz", o.tz, "Time zone for displayed times");
  add->add_option("--protocol", o.protocol, "rtev, sse or socketio (default: from the URL)")
      ->check(CLI::IsMember({"rtev", "sse", "socketio"}));
  auto* use = cmd->add_subcommand("use", "Make a profile the default");
  use->add_option("name", o.name, "Profile name")->required();
  cmd->add_subcommand("ls", "List profiles (* marks the default)");
  auto* rm = cmd->add_subcommand("rm", "Remove a profile");
  rm->add_option("name", o.name, "Profile name")->required();
}

int run_profile(CLI::App& app, profile_options& o) {
  CLI::App* cmd = app.get_subcommand("profile");
  profile_store s = profile_store::load();
  if (cmd->got_subcommand("add")) {
    try {
      client_options probe;
      probe.url = o.url;
      // The protocol given, or the one the URL implies (validated as the commands will use it).
      if (!o.protocol.empty())
        probe.protocol = parse_protocol("--protocol", o.protocol);
      else if (auto p = protocol_for_url(o.url))
        probe.protocol = *p;
      client check(probe);
    } catch (const config_error& e) {
      throw usage_error(std::string("--url: ") + e.what());
    }
    if (!o.tz.empty()) {
      try {
        time::validate_zone(o.tz);
      } catch (const unknown_zone_error& e) {
        throw usage_error(std::string("--tz: ") + e.what());
      }
    }
    s.profiles[o.name] = {o.url, o.token, o.tz, o.protocol};
    if (s.current.empty()) s.current = o.name;
    s.save();
    std::cerr << "rtev: profile '" << o.name << "' saved in " << config_path() << '\n';
  } else if (cmd->got_subcommand("use")) {
    if (!s.profiles.count(o.name))
      throw usage_error("no profile '" + o.name + "' (see 'rtev profile ls')");
    s.current = o.name;
    s.save();
  } else if (cmd->got_subcommand("rm")) {
    if (!s.profiles.erase(o.name)) throw usage_error("no profile '" + o.name + "'");
    if (s.current == o.name) s.current.clear();
    s.save();
  } else {
    for (const auto& [name, p] : s.profiles)
      std::cout << (name == s.current ? "* " : "  ") << name << "  " << p.url
                << (p.protocol.empty() ? "" : "  protocol=" + p.protocol)
                << (p.tz.empty() ? "" : "  tz=" + p.tz) << (p.token.empty() ? "" : "  (token)")
                << '\n';
  }
  return exit_ok;
}

}  // namespace rtev::cli
