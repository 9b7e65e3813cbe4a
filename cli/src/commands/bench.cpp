#include "commands/bench.hpp"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "commands/bench_run.hpp"
#include "connection_flags.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "http_request.hpp"
#include "protocol_choice.hpp"
#include "rtev/json.hpp"
#include "transport.hpp"

namespace rtev::cli {

namespace {

constexpr double bottleneck_share = 0.9;  // bench CPU / wall time from which it says so

// GET /api/stats, or nothing (another server, or no stats): the report just leaves them out.
std::optional<nlohmann::json> server_stats(const common_options& c) {
  try {
    const http_result r =
        http_client(c).fetch("GET", c.http_base() + "/api/stats", {}, {}, std::chrono::seconds(2));
    nlohmann::json j = rtev::parse_json(r.body);
    if (r.status == 200 && j.is_object()) return j;
  } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): stats are optional
  }
  return std::nullopt;
}

std::int64_t stat(const std::optional<nlohmann::json>& s, const char* name) {
  if (!s || !s->contains(name) || !(*s)[name].is_number()) return -1;
  return (*s)[name].get<std::int64_t>();
}

std::string count_of(std::uint64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// The server's figures, in words: counters over the whole run (warm-up and drain included).
std::string server_line(const nlohmann::json& s) {
  std::string line;
  for (const char* k : {"events_published", "events_delivered", "events_dropped"})
    if (s.contains(k))
      line += (line.empty() ? "" : ", ") + std::string(k).substr(7) + " " + s[k].dump();
  if (!line.empty()) line += " (whole run, warm-up included); ";
  if (s.contains("connections")) line += "connections " + s["connections"].dump();
  if (s.contains("rss_bytes_per_connection"))
    line += ", " + s["rss_bytes_per_connection"].dump() + " bytes of RSS per connection";
  return line;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

double to_ms(std::uint64_t nanos) {
  return static_cast<double>(nanos) / 1e6;
}

std::string ms(std::uint64_t nanos) {
  const double m = static_cast<double>(nanos) / 1e6;
  return fixed(m, m < 10 ? 3 : 1) + " ms";
}

}  // namespace

void setup_bench(CLI::App& app, bench_options& o) {
  auto* cmd = app.add_subcommand(
      "bench", "Load-test a server: events published/s and delivered/s, publish→receive latency");
  const char* g = "Load";
  auto* subs = cmd->add_option("--subscribers", o.subscribers,
                               "Subscribers; subscriber i joins room i % --rooms")
                   ->check(whole_number(0, 1'000'000))
                   ->capture_default_str()
                   ->group(g);
  auto* pubs = cmd->add_option("--publishers", o.publishers,
                               "Publishers (rtev WebSocket), spread over the rooms")
                   ->check(whole_number(1, 100'000))
                   ->capture_default_str()
                   ->group(g);
  auto* rooms = cmd->add_option("--rooms", o.rooms, "Rooms")
                    ->check(whole_number(1, 1'000'000))
                    ->capture_default_str()
                    ->group(g);
  auto* size = cmd->add_option("--size", o.size, "Approximate event data size in bytes")
                   ->check(whole_number(1, 1'000'000))
                   ->capture_default_str()
                   ->group(g);
  cmd->add_option("--duration", o.duration, "Measure this long")->capture_default_str()->group(g);
  cmd->add_option("--warmup", o.warmup, "Publish this long first, not counted (0s: none)")
      ->capture_default_str()
      ->group(g);
  auto* rate = cmd->add_option("--rate", o.rate,
                               "Events/s over all publishers, open loop (latency from the "
                               "scheduled send time), or max: as fast as ACKs allow")
                   ->capture_default_str()
                   ->group(g);
  auto* window =
      cmd->add_option("--window", o.window, "With --rate max: unACKed publishes per publisher")
          ->check(whole_number(1, 100'000))
          ->capture_default_str()
          ->group(g);
  auto* conns = cmd->add_option("--connections", o.connections,
                                "With --idle: open N idle connections and hold them --duration")
                    ->check(whole_number(1, 1'000'000))
                    ->group(g);
  auto* idle = cmd->add_flag("--idle", o.idle,
                             "Only idle connections (no publishing): the server's cost per "
                             "connection")
                   ->group(g);
  idle->needs(conns);
  conns->needs(idle);
  for (auto* opt : {subs, pubs, rooms, size, rate, window}) idle->excludes(opt);
  cmd->add_flag("--json", o.json, "One JSON object on stdout instead of the table")->group(g);
  // Plain ws:// and http:// only: no TLS flags, and no --header (the publishers' hand-written
  // upgrade sends none).
  add_http_common(*cmd, o.common,
                  {false, false, "No progress lines on stderr (the report is still printed)",
                   "Give up (exit 3) unless every connection is set up within this"});
  cmd->add_option("--token", o.common.token, "Token (env RTEV_TOKEN)")->group("Connection");
  cmd->add_option("--server-kind", o.server_kind,
                  "rtev (rtev serve, or a server of rtev's protocols); nats: nats-server's "
                  "WebSocket listener (rooms are subjects); ws-broadcast: a plain WebSocket "
                  "broadcast server (bench/peers/ws_broadcast.js) — for side-by-side runs")
      ->check(CLI::IsMember({"rtev", "nats", "ws-broadcast"}))
      ->capture_default_str()
      ->group("Connection");
  cmd->add_option("--protocol", o.common.proto.protocol,
                  "Subscribers' protocol: rtev, sse or socketio (env RTEV_PROTOCOL; default: "
                  "ws:// is rtev, http:// is sse); publishers always speak rtev WebSocket")
      ->group("Connection");
}

int run_bench(bench_options& o) {
  common_options& c = o.common;
  c.resolve();
  const detail::parsed_url u = detail::parse_url(c.url);
  bench_plan plan;
  // A list is several nodes of one cluster: connections are spread over them (bench_run.hpp);
  // paths and the query come from the first URL.
  std::vector<std::string> nodes{c.url};
  nodes.insert(nodes.end(), c.more_urls.begin(), c.more_urls.end());
  for (const std::string& url : nodes) {
    const detail::parsed_url n = detail::parse_url(url);
    if (n.tls)
      throw usage_error("--url: rtev bench speaks plain ws:// and http:// only (no TLS): '" + url +
                        "'");
    plan.nodes.push_back(resolve_bench_address(n.host, n.port));
  }
  plan.server = o.server_kind == "nats"           ? bench_server::nats
                : o.server_kind == "ws-broadcast" ? bench_server::ws_broadcast
                                                  : bench_server::rtev;
  if (plan.server != bench_server::rtev) {
    if (c.protocol != wire_protocol::rtev)
      throw usage_error("--server-kind " + o.server_kind + " takes a ws:// URL (" +
                        protocol_phrase(c) + ")");
    if (plan.server == bench_server::ws_broadcast && o.rooms > 1)
      throw usage_error("--rooms " + std::to_string(o.rooms) +
                        ": a ws-broadcast server has one room (everyone)");
    if (plan.server == bench_server::ws_broadcast && !c.token.empty())
      throw usage_error("--token: a ws-broadcast server takes no token");
  }
  plan.protocol = c.protocol;
  plan.token = c.token;
  plan.connect_timeout = c.connect_timeout_ms;
  plan.progress = !c.quiet;
  if (c.protocol == wire_protocol::rtev && (u.path != "/" || plan.server != bench_server::rtev))
    plan.ws_path = u.path.empty() ? "/" : u.path;
  if (c.protocol == wire_protocol::sse && u.path != "/") plan.sse_path = u.path;
  if (c.protocol == wire_protocol::socketio) {
    plan.sio_path = c.socketio.path;
    plan.nsp = c.socketio.nsp;
  }
  plan.duration = duration_flag("--duration", o.duration);
  plan.warmup = o.idle ? std::chrono::milliseconds(0)
                       : duration_flag("--warmup", o.warmup, {std::chrono::milliseconds(0)});
  if (o.idle) {
    plan.idle = *o.connections;
  } else {
    plan.subscribers = o.subscribers;
    plan.publishers = o.publishers;
    plan.rooms = o.rooms;
    plan.size = o.size;
    plan.window = o.window;
    try {
      plan.rate = o.rate == "max" ? 0 : rate_flag("--rate", o.rate, 1e8);
    } catch (const usage_error& e) {
      throw usage_error(std::string(e.what()) + ", or max");
    }
  }

  debug(c,
        "bench: " + std::string(to_string(c.protocol)) + " subscribers at " + c.url +
            ", publishers at ws://" + plan.nodes.front().authority + plan.ws_path +
            (nodes.size() > 1 ? " (and " + std::to_string(nodes.size() - 1) + " more nodes)" : ""));
  // Only rtev serve has /api/stats.
  const auto before =
      plan.server == bench_server::rtev ? server_stats(c) : std::optional<nlohmann::json>();
  debug(c, before ? "server stats: " + before->dump() : "no /api/stats from this server");
  std::optional<nlohmann::json> after;
  if (plan.server == bench_server::rtev) plan.before_closing = [&] { after = server_stats(c); };
  const bench_result r = run_bench_plan(plan);
  const double cpu_share = r.measured_seconds > 0 ? r.cpu_seconds / r.measured_seconds : 0;
  const bool bench_bound = !o.idle && cpu_share >= bottleneck_share;
  const latency_histogram& h = *r.latency;

  const std::string where =
      c.url + (nodes.size() > 1 ? " and " + std::to_string(nodes.size() - 1) + " more nodes" : "");
  nlohmann::json j;
  j["protocol"] =
      plan.server == bench_server::rtev ? std::string(to_string(c.protocol)) : o.server_kind;
  j["url"] = c.url;
  if (nodes.size() > 1) j["nodes"] = nodes;
  nlohmann::json server;
  if (after) {
    for (const char* k : {"events_published", "events_delivered", "events_dropped"})
      if (stat(before, k) >= 0 && stat(after, k) >= 0) server[k] = stat(after, k) - stat(before, k);
    if (stat(after, "connections") >= 0) server["connections"] = stat(after, "connections");
    if (stat(before, "connections") >= 0)
      server["connections_before"] = stat(before, "connections");
    // rtev serve does not report its memory; a server that does (rss_bytes) gets the growth
    // per connection.
    if (o.idle && stat(before, "rss_bytes") >= 0 && stat(after, "rss_bytes") >= 0)
      server["rss_bytes_per_connection"] =
          static_cast<double>(stat(after, "rss_bytes") - stat(before, "rss_bytes")) /
          static_cast<double>(r.connections);
  }

  if (o.idle) {
    j["mode"] = "idle";
    j["connections"] = r.connections;
    j["setup_s"] = r.setup_seconds;
    j["held_s"] = r.measured_seconds;
  } else {
    j["mode"] = "pubsub";
    j["subscribers"] = plan.subscribers;
    j["publishers"] = plan.publishers;
    j["rooms"] = plan.rooms;
    j["size"] = plan.size;
    j["rate"] = plan.rate > 0 ? nlohmann::json(plan.rate) : nlohmann::json("max");
    if (plan.rate <= 0) j["window"] = plan.window;
    j["duration_s"] = r.measured_seconds;
    j["warmup_s"] = static_cast<double>(plan.warmup.count()) / 1e9;
    j["published"] = r.published;
    j["published_per_s"] = static_cast<double>(r.published) / r.measured_seconds;
    j["delivered"] = r.delivered;
    j["delivered_per_s"] = static_cast<double>(r.delivered) / r.measured_seconds;
    j["expected_deliveries"] = r.expected;
    if (h.count() > 0)
      j["latency_ms"] = {{"p50", to_ms(h.percentile(50))}, {"p90", to_ms(h.percentile(90))},
                         {"p99", to_ms(h.percentile(99))}, {"p99_9", to_ms(h.percentile(99.9))},
                         {"max", to_ms(h.max())},          {"min", to_ms(h.min())},
                         {"mean", h.mean() / 1e6}};
    j["bench_cpu_percent"] = cpu_share * 100;
    j["bench_bound"] = bench_bound;
  }
  j["errors"] = r.errors;
  j["error_kinds"] = r.error_kinds;
  if (!server.empty()) j["server"] = server;

  if (o.json) {
    std::cout << j.dump() << std::endl;
  } else if (o.idle) {
    std::cout << "rtev bench --idle  " << j["protocol"].get<std::string>() << "  " << where << "\n"
              << "connections  " << r.connections << " open (set up in "
              << fixed(r.setup_seconds, 2) << " s), held " << fixed(r.measured_seconds, 1)
              << " s\n";
    if (!server.empty()) std::cout << "server       " << server_line(server) << "\n";
    std::cout << "errors       " << r.errors << std::endl;
  } else {
    const double secs = r.measured_seconds;
    std::cout << "rtev bench  " << j["protocol"].get<std::string>() << "  " << where << "\n"
              << "  " << count_of(plan.subscribers, "subscriber") << ", "
              << count_of(plan.publishers, "publisher") << ", " << count_of(plan.rooms, "room")
              << ", ~" << plan.size << "-byte events, rate "
              << (plan.rate > 0 ? fixed(plan.rate, 0) + "/s"
                                : "max (window " + std::to_string(plan.window) + ")")
              << ", " << fixed(secs, 1) << " s after " << fixed(j["warmup_s"].get<double>(), 1)
              << " s warm-up\n"
              << "published    " << r.published << "  ("
              << fixed(static_cast<double>(r.published) / secs, 0) << "/s)\n"
              << "delivered    " << r.delivered << "  ("
              << fixed(static_cast<double>(r.delivered) / secs, 0) << "/s, expected " << r.expected
              << ")\n";
    if (h.count() > 0)
      std::cout << "latency      p50 " << ms(h.percentile(50)) << "  p90 " << ms(h.percentile(90))
                << "  p99 " << ms(h.percentile(99)) << "  p99.9 " << ms(h.percentile(99.9))
                << "  max " << ms(h.max()) << "\n";
    std::cout << "errors       " << r.errors;
    for (const auto& [kind, n] : r.error_kinds) std::cout << "  " << kind << ": " << n;
    std::cout << "\nbench CPU    " << fixed(cpu_share * 100, 0) << "% of one core"
              << (bench_bound ? " — rtev bench itself was probably the bottleneck, not the server"
                              : "")
              << "\n";
    if (!server.empty()) std::cout << "server       " << server_line(server) << "\n";
    std::cout << std::flush;
  }

  if (r.error_kinds.count("publish refused: rate_limited") && !c.quiet)
    std::cerr << "rtev: bench: the server limits each connection's messages per second; for a "
                 "benchmark raise it (rtev serve --rate-limit 1000000/s) or give a lower --rate"
              << std::endl;
  if (r.errors > 0) return exit_error;
  if (!o.idle && plan.subscribers > 0 && r.delivered == 0) {
    if (!c.quiet) std::cerr << "rtev: bench: no event was delivered to any subscriber" << std::endl;
    return exit_error;
  }
  return exit_ok;
}

}  // namespace rtev::cli
