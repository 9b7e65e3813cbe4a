#include "commands/stats.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

#include "connection_flags.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "http_request.hpp"
#include "interrupts.hpp"
#include "rtev/json.hpp"

namespace rtev::cli {

namespace {

std::string uptime_text(double seconds) {
  auto s = static_cast<long long>(seconds);
  const long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
  s %= 60;
  std::string out;
  if (d) out += std::to_string(d) + "d ";
  if (d || h) out += std::to_string(h) + "h ";
  if (d || h || m) out += std::to_string(m) + "m ";
  return out + std::to_string(s) + "s";
}

// A number with thousands separators ("1,234,567"), or the JSON text of anything else.
std::string count_text(const nlohmann::json& v) {
  if (!v.is_number_integer() && !v.is_number_unsigned()) return v.is_null() ? "-" : v.dump();
  const std::string digits = v.dump();
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

void print_table(const nlohmann::json& s) {
  const std::pair<const char*, const char*> rows[] = {{"uptime", "uptime_s"},
                                                      {"connections", "connections"},
                                                      {"users", "users"},
                                                      {"rooms", "rooms"},
                                                      {"published", "events_published"},
                                                      {"delivered", "events_delivered"},
                                                      {"dropped", "events_dropped"},
                                                      {"last seq", "last_seq"},
                                                      {"epoch", "epoch"}};
  for (const auto& [label, key] : rows) {
    if (!s.contains(key)) continue;
    const nlohmann::json& v = s[key];
    std::string text = std::string(key) == "uptime_s" && v.is_number()
                           ? uptime_text(v.get<double>())
                       : v.is_string() ? v.get<std::string>()
                                       : count_text(v);
    std::printf("%-12s %s\n", label, text.c_str());
  }
  // A cluster (--broker): the figures above are the cluster's; each node's follow.
  const auto nodes = s.find("nodes");
  if (nodes != s.end() && nodes->is_array() && !nodes->empty()) {
    std::printf("\n%-16s %11s %9s %9s %11s %11s %9s  %s\n", "node", "connections", "users", "rooms",
                "published", "delivered", "dropped", "uptime");
    for (const auto& n : *nodes) {
      if (!n.is_object()) continue;
      auto field = [&n](const char* key) { return count_text(n.value(key, nlohmann::json())); };
      const auto up = n.find("uptime_s");
      std::printf("%-16s %11s %9s %9s %11s %11s %9s  %s\n",
                  rtev::printable(n.value("node", std::string("?"))).c_str(),
                  field("connections").c_str(), field("users").c_str(), field("rooms").c_str(),
                  field("events_published").c_str(), field("events_delivered").c_str(),
                  field("events_dropped").c_str(),
                  up != n.end() && up->is_number() ? uptime_text(up->get<double>()).c_str() : "-");
    }
    const auto missing = s.find("nodes_missing");
    if (missing != s.end() && missing->is_number() && missing->get<double>() > 0)
      std::printf("(%s node(s) did not answer in time)\n", count_text(*missing).c_str());
  }
  const auto by_type = s.find("by_type");
  if (by_type == s.end() || !by_type->is_object() || by_type->empty()) return;
  std::vector<std::pair<std::string, nlohmann::json>> types;
  for (const auto& [name, n] : by_type->items()) types.emplace_back(name, n);
  // Most published first, then by name.
  std::sort(types.begin(), types.end(), [](const auto& a, const auto& b) {
    const auto na = a.second.is_number() ? a.second.template get<double>() : 0.0;
    const auto nb = b.second.is_number() ? b.second.template get<double>() : 0.0;
    return na != nb ? na > nb : a.first < b.first;
  });
  std::size_t width = 4;
  for (const auto& [name, n] : types) width = std::max(width, rtev::printable(name).size());
  std::printf("\n%-*s  %s\n", static_cast<int>(width), "type", "published");
  for (const auto& [name, n] : types)
    std::printf("%-*s  %9s\n", static_cast<int>(width), rtev::printable(name).c_str(),
                count_text(n).c_str());
}

}  // namespace

void setup_stats(CLI::App& app, stats_options& o) {
  auto* cmd = app.add_subcommand(
      "stats", "Show a server's counters (/api/stats): connections, users, rooms, events by type");
  cmd->add_option("url", o.url_arg, "Server URL (instead of --url)");
  cmd->add_option("--format", o.format, "table or json (default: table on a terminal)")
      ->check(CLI::IsMember({"table", "json"}));
  // One HTTP GET: only the flags that apply to it (no zone, reconnects or colour).
  http_flags flags;
  flags.api_key = true;
  add_http_common(*cmd, o.common, flags);
}

int run_stats(stats_options& o) {
  if (!o.url_arg.empty()) o.common.url = o.url_arg;
  o.common.resolve();
  std::vector<std::pair<std::string, std::string>> headers;  // --header ones are added to them
  if (!o.common.token.empty()) headers.emplace_back("Authorization", "Bearer " + o.common.token);
  const std::string url = o.common.http_base() + "/api/stats";
  http_result r;
  try {
    r = http_client(o.common).fetch("GET", url, {}, headers);
  } catch (const usage_error&) {
    throw;
  } catch (const interrupted&) {
    throw;
  } catch (const command_failure& e) {  // a refused certificate
    note(o.common, e.what());
    return e.code;
  } catch (const std::exception& e) {
    note(o.common, e.what());
    return exit_connect;
  }
  const nlohmann::json j = rtev::parse_json(r.body);
  if (r.status == 401 || r.status == 403) {
    note(o.common,
         url + ": HTTP " + std::to_string(r.status) +
             " (give the API key with --token): " + rtev::printable(r.body.substr(0, 200)));
    return exit_auth;
  }
  if (r.status != 200 || !j.is_object()) {
    note(o.common,
         url + ": HTTP " + std::to_string(r.status) + " " + rtev::printable(r.body.substr(0, 200)));
    return exit_error;
  }
  const std::string format = o.format.empty() ? (o.common.stdout_tty ? "table" : "json") : o.format;
  if (format == "json")
    std::cout << (o.common.stdout_tty ? j.dump(2) : j.dump()) << std::endl;
  else
    print_table(j);
  return exit_ok;
}

}  // namespace rtev::cli
