#include "commands/presence.hpp"

#include <cstdio>
#include <future>
#include <iostream>

#include "connecting.hpp"
#include "connection_flags.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "protocol_choice.hpp"
#include "rtev/client.hpp"
#include "rtev/json.hpp"

namespace rtev::cli {

void setup_presence(CLI::App& app, presence_options& o) {
  auto* cmd = app.add_subcommand("presence", "Show who is in a room now (user ids, connections)");
  cmd->add_option("room", o.room, "The room")->required();
  cmd->add_option("url", o.url_arg, "Server URL (instead of --url)");
  cmd->add_option("--format", o.format, "table or json (default: table on a terminal)")
      ->check(CLI::IsMember({"table", "json"}));
  // One request: no zone or colour to show, nothing to reconnect for.
  add_request_common(*cmd, o.common);
}

int run_presence(presence_options& o) {
  if (!o.url_arg.empty()) o.common.url = o.url_arg;
  o.common.resolve();
  require_protocol(o.common, "presence", {wire_protocol::rtev});
  client c(o.common.client_config());
  c.on_error([&](const client_error& e) { debug(o.common, e.message); });
  connect_or_exit(c, o.common);
  std::vector<presence_entry> users;
  auto f = c.presence(o.room);
  if (f.wait_for(o.common.connect_timeout_ms) != std::future_status::ready) {
    note(o.common, "no answer to PRESENCE for '" + o.room + "' within " +
                       std::to_string(o.common.connect_timeout_ms.count()) + " ms");
    return exit_deadline;
  }
  try {
    users = f.get();
  } catch (const request_error& e) {
    note(o.common, "presence of '" + o.room + "': " + e.what());
    return exit_error;
  }
  c.stop();
  const std::string format = o.format.empty() ? (o.common.stdout_tty ? "table" : "json") : o.format;
  if (format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& u : users)
      list.push_back({{"user_id", u.user_id}, {"connections", u.connections}});
    std::cout << nlohmann::json{{"room", o.room}, {"users", list}}.dump() << std::endl;
    return exit_ok;
  }
  if (users.empty()) {
    std::printf("nobody in %s\n", rtev::printable(o.room).c_str());
    return exit_ok;
  }
  std::size_t width = 4;
  for (const auto& u : users) width = std::max(width, rtev::printable(u.user_id).size());
  std::printf("%-*s  %s\n", static_cast<int>(width), "user", "connections");
  for (const auto& u : users)
    std::printf("%-*s  %11llu\n", static_cast<int>(width), rtev::printable(u.user_id).c_str(),
                static_cast<unsigned long long>(u.connections));
  return exit_ok;
}

}  // namespace rtev::cli
