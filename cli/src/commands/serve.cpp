#include "commands/serve.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "exit_codes.hpp"
#include "flag_values.hpp"
#include "rtev/duration.hpp"
#include "rtev/error.hpp"
#include "terminal_line.hpp"

namespace rtev::cli {

namespace {

server* running = nullptr;  // for the signal handler; set while run() is active

extern "C" void on_signal(int, siginfo_t* info, void*) {
  // Ctrl-C typed: the terminal echoed `^C`; the log lines that follow start on the next line.
  terminal::end_echoed_line(info && info->si_code == SI_KERNEL);
  if (running) running->request_stop();
}

// Limits of the numeric flags: past them a value is a typo, not a configuration.
constexpr std::uint64_t max_history_events = 9'223'372'036'854'775'807ULL;  // SQLite's int64
constexpr std::uint64_t max_message_bytes = 1ULL << 30;
constexpr std::uint64_t max_connections = 1'000'000;
constexpr std::uint64_t max_send_queue = 10'000'000;
constexpr double max_rate = 1e9;  // messages per second, --rate-limit and --rate-burst
const duration_range broker_ttl_range{std::chrono::seconds(2), std::chrono::hours(1)};
const duration_range max_age_range{std::chrono::seconds(1), std::chrono::hours(24 * 36500)};

}  // namespace

void setup_serve(CLI::App& app, serve_options& opt) {
  auto* cmd = app.add_subcommand("serve", "Run the reference event server (server-lite)");
  server_config& c = opt.config;
  cmd->add_option("--host", c.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", c.port, "Port to listen on; 0 picks a free port")
      ->capture_default_str()
      ->check(whole_number(0, 65535));
  cmd->add_option("--ready-file", opt.ready_file,
                  "Write the RTEV_URL=… line to this file once listening");
  cmd->add_option("--db", c.db_path,
                  "SQLite history file (default ${XDG_DATA_HOME:-~/.local/share}/rtev/events.db; "
                  ":memory: keeps nothing)");
  cmd->add_option("--broker", c.broker,
                  "Run as one node of a cluster on Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] "
                  "(history, seq and events shared there instead of --db; docs/scale-out.md)")
      ->envname("RTEV_BROKER");
  cmd->add_option("--broker-prefix", c.broker_prefix,
                  "Prefix of the broker's keys, so deployments can share one Redis")
      ->capture_default_str();
  cmd->add_option("--broker-wait", opt.broker_wait,
                  "Keep trying to reach the broker this long at start (0: exit 3 at once)")
      ->capture_default_str();
  cmd->add_option("--broker-ttl", opt.broker_ttl,
                  "How long a node that stops answering still counts (its users stay online); "
                  "2s to 1h")
      ->capture_default_str();
  cmd->add_option("--timezone", c.timezone, "IANA zone stamped on every event")
      ->capture_default_str();
  cmd->add_option("--history-max-events", c.history_max_events, "Keep at most N events")
      ->check(whole_number(1, max_history_events));
  cmd->add_option("--history-max-age", opt.history_max_age,
                  "Drop events older than DURATION (e.g. 7d)");
  cmd->add_flag("--store-presence", c.store_presence,
                "Store user_online/user_offline in history (default: live only)");
  cmd->add_option("--auth", c.auth, "Authentication: none, token or jwt")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "token", "jwt"}));
  cmd->add_option("--jwt-secret", c.jwt_secret, "HS256 secret for --auth jwt")
      ->envname("RTEV_JWT_SECRET");
  cmd->add_option("--api-key", c.api_key, "Key for the HTTP publish/admin API")
      ->envname("RTEV_API_KEY");
  cmd->add_option("--auth-timeout", opt.auth_timeout, "Time allowed to authenticate")
      ->capture_default_str();
  cmd->add_option("--ping-interval", opt.ping_interval, "WebSocket ping interval")
      ->capture_default_str();
  cmd->add_option("--ping-timeout", opt.ping_timeout, "Close when no pong arrives within this")
      ->capture_default_str();
  cmd->add_option("--sse-heartbeat", opt.sse_heartbeat, "Interval of SSE ': ping' comments")
      ->capture_default_str();
  cmd->add_option("--max-message-bytes", c.max_message_bytes,
                  "Largest client frame; larger closes with 1009")
      ->capture_default_str()
      ->check(whole_number(64, max_message_bytes));
  cmd->add_option("--rate-limit", opt.rate_limit, "Messages per connection, e.g. 100/s")
      ->capture_default_str();
  cmd->add_option("--rate-burst", c.rate_burst, "Burst allowance (default: one second's worth)")
      ->check(decimal_number(1, max_rate));
  cmd->add_option("--max-connections", c.max_connections, "Refuse further upgrades with HTTP 503")
      ->capture_default_str()
      ->check(whole_number(1, max_connections));
  cmd->add_option("--event-loop", c.event_loop,
                  "Event loop: epoll (cost follows the busy sockets), poll (scans all), or auto "
                  "(epoll, else poll)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "epoll", "poll"}));
  cmd->add_option("--send-queue-max", c.send_queue_max,
                  "Live events queued per connection before closing it with 4000")
      ->capture_default_str()
      ->check(whole_number(1, max_send_queue));
  cmd->add_option("--cors-origin", c.cors_origin,
                  "Access-Control-Allow-Origin for HTTP ('*' or an origin)");
  cmd->add_option("--console", opt.console,
                  "Serve the browser console at / and /console (docs/console.md): on or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("--log-format", c.log_format, "Log format: text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("-v,--verbose", c.verbosity, "More logging (repeatable)");
}

int run_serve(serve_options& opt) {
  server_config& c = opt.config;
  c.auth_timeout = duration_flag("--auth-timeout", opt.auth_timeout);
  c.ping_interval = duration_flag("--ping-interval", opt.ping_interval);
  c.ping_timeout = duration_flag("--ping-timeout", opt.ping_timeout);
  c.sse_heartbeat = duration_flag("--sse-heartbeat", opt.sse_heartbeat);
  if (opt.history_max_age)
    c.history_max_age = std::chrono::duration_cast<std::chrono::seconds>(
        duration_flag("--history-max-age", *opt.history_max_age, max_age_range));
  c.rate_limit = rate_flag("--rate-limit", opt.rate_limit, max_rate);
  c.broker_wait =
      wait_flag("--broker-wait", opt.broker_wait, std::chrono::hours(24), "fail at once");
  c.broker_ttl = duration_flag("--broker-ttl", opt.broker_ttl, broker_ttl_range);
  c.console = opt.console == "on";

  std::unique_ptr<server> srv;
  try {
    srv = std::make_unique<server>(c);
  } catch (const broker_unavailable& e) {
    throw command_failure(exit_connect, e.what());
  } catch (const rtev::error& e) {
    throw usage_error(e.what());
  }

  // Before the readiness line: a Ctrl-C or SIGTERM sent as soon as it appears (a script, a
  // test) must stop the server cleanly, not kill it with the default action.
  running = srv.get();
  struct sigaction sa {};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  const std::string line = "RTEV_URL=" + srv->url();
  if (!opt.ready_file.empty()) {
    // Written whole, then renamed: a watcher never sees a half-written file.
    const std::string tmp = opt.ready_file + ".tmp";
    std::ofstream f(tmp, std::ios::trunc);
    f << line << '\n';
    f.close();
    if (!f || std::rename(tmp.c_str(), opt.ready_file.c_str()) != 0) {
      running = nullptr;  // the server goes with this exception
      throw usage_error("--ready-file: cannot write '" + opt.ready_file + "'");
    }
  }
  std::cout << line << std::endl;
  // After the readiness line, which scripts wait for: where a person opens the console.
  if (!srv->console_url().empty()) std::cout << "RTEV_CONSOLE=" << srv->console_url() << std::endl;

  srv->run();
  running = nullptr;
  srv.reset();
  return exit_ok;
}

}  // namespace rtev::cli
