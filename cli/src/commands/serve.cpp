#include "commands/serve.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "exit_codes.hpp"
#include "rtev/duration.hpp"
#include "rtev/error.hpp"

namespace rtev::cli {

namespace {

server* running = nullptr;  // for the signal handler; set while run() is active

extern "C" void on_signal(int) {
  if (running) running->request_stop();
}

std::chrono::milliseconds ms(const std::string& flag, const std::string& text) {
  try {
    return std::chrono::duration_cast<std::chrono::milliseconds>(parse_duration(text));
  } catch (const config_error& e) {
    throw usage_error(flag + ": " + e.what());
  }
}

}  // namespace

void setup_serve(CLI::App& app, serve_options& opt) {
  auto* cmd = app.add_subcommand("serve", "Run the reference event server (server-lite)");
  server_config& c = opt.config;
  cmd->add_option("--host", c.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", c.port, "Port to listen on; 0 picks a free port")
      ->capture_default_str();
  cmd->add_option("--ready-file", opt.ready_file,
                  "Write the RTEV_URL=… line to this file once listening");
  cmd->add_option("--db", c.db_path,
                  "SQLite history file (default ${XDG_DATA_HOME:-~/.local/share}/rtev/events.db; "
                  ":memory: keeps nothing)");
  cmd->add_option("--timezone", c.timezone, "IANA zone stamped on every event")
      ->capture_default_str();
  cmd->add_option("--history-max-events", c.history_max_events, "Keep at most N events");
  cmd->add_option("--history-max-age", opt.history_max_age,
                  "Drop events older than DURATION (e.g. 7d)");
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
      ->capture_default_str();
  cmd->add_option("--rate-limit", opt.rate_limit, "Messages per connection, e.g. 100/s")
      ->capture_default_str();
  cmd->add_option("--rate-burst", c.rate_burst, "Burst allowance (default: one second's worth)");
  cmd->add_option("--max-connections", c.max_connections, "Refuse further upgrades with HTTP 503")
      ->capture_default_str();
  cmd->add_option("--send-queue-max", c.send_queue_max,
                  "Live events queued per connection before closing it with 4000")
      ->capture_default_str();
  cmd->add_option("--cors-origin", c.cors_origin,
                  "Access-Control-Allow-Origin for HTTP ('*' or an origin)");
  cmd->add_option("--log-format", c.log_format, "Log format: text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("-v,--verbose", c.verbosity, "More logging (repeatable)");
}

int run_serve(serve_options& opt) {
  server_config& c = opt.config;
  c.auth_timeout = ms("--auth-timeout", opt.auth_timeout);
  c.ping_interval = ms("--ping-interval", opt.ping_interval);
  c.ping_timeout = ms("--ping-timeout", opt.ping_timeout);
  c.sse_heartbeat = ms("--sse-heartbeat", opt.sse_heartbeat);
  if (!opt.history_max_age.empty())
    c.history_max_age = std::chrono::duration_cast<std::chrono::seconds>(
        ms("--history-max-age", opt.history_max_age));
  try {
    c.rate_limit = parse_rate(opt.rate_limit);
  } catch (const config_error& e) {
    throw usage_error(std::string("--rate-limit: ") + e.what());
  }

  std::unique_ptr<server> srv;
  try {
    srv = std::make_unique<server>(c);
  } catch (const rtev::error& e) {
    throw usage_error(e.what());
  }

  const std::string line = "RTEV_URL=" + srv->url();
  if (!opt.ready_file.empty()) {
    // Written whole, then renamed: a watcher never sees a half-written file.
    const std::string tmp = opt.ready_file + ".tmp";
    std::ofstream f(tmp, std::ios::trunc);
    f << line << '\n';
    f.close();
    if (!f || std::rename(tmp.c_str(), opt.ready_file.c_str()) != 0)
      throw usage_error("--ready-file: cannot write '" + opt.ready_file + "'");
  }
  std::cout << line << std::endl;

  running = srv.get();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  srv->run();
  running = nullptr;
  srv.reset();
  return exit_ok;
}

}  // namespace rtev::cli
