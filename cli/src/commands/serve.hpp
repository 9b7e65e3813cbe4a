#pragma once
// `rtev serve`: run the reference event server (server-lite) in the foreground.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "rtev/server/server.hpp"

namespace rtev::cli {

struct serve_options {
  server_config config;
  std::string ready_file;
  std::optional<std::string> history_max_age;  ///< set even when given empty (then refused)
  std::string auth_timeout = "10s", ping_interval = "30s", ping_timeout = "10s",
              sse_heartbeat = "30s", rate_limit = "100/s", broker_wait = "0", broker_ttl = "10s";
  std::string console = "on";  ///< --console on|off
};

void setup_serve(CLI::App& app, serve_options& opt);
int run_serve(serve_options& opt);

}  // namespace rtev::cli
