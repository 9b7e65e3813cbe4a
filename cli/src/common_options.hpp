#pragma once
// Options shared by the client commands (tail, subscribe, publish, replay, connect, health):
// where to connect and as whom, TLS, reconnects, output. Resolved from flags, then the
// environment (RTEV_URL, RTEV_TOKEN, RTEV_PROFILE, RTEV_TZ, RTEV_DEBUG, NO_COLOR), then the
// profile, then defaults.

#include <CLI/CLI.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "rtev/client.hpp"

namespace rtev::cli {

constexpr const char* default_url = "ws://127.0.0.1:8000/events/ws/connect";

struct common_options {
  std::string url, token, profile, tz, connect_timeout = "10s", ca_file, color = "auto";
  std::optional<std::uint32_t> retry;
  bool no_reconnect = false, insecure = false, quiet = false;
  int verbose = 0;

  // Resolved by resolve():
  std::chrono::milliseconds connect_timeout_ms{10000};
  bool use_color = false;
  bool stdout_tty = false;

  /// Profile and environment defaults, zone and duration checks. Throws usage_error.
  void resolve();
  /// Client options for the resolved URL/token/TLS/retry settings.
  client_options client_config() const;
  /// http://host:port for the resolved URL (ws → http, wss → https; path dropped).
  std::string http_base() const;
};

/// Adds the shared flags to a command (into an option group "Connection").
void add_common(CLI::App& cmd, common_options& opt);

/// Diagnostics on stderr, prefixed "rtev: ", unless quiet.
void note(const common_options& opt, const std::string& line);
/// Only with -v.
void debug(const common_options& opt, const std::string& line);

/// Starts `c` and waits until it is connected, at most the connect time-out. Throws
/// command_failure with exit code 3 (could not connect) or 4 (authentication rejected).
/// `deadline` (a command's total --timeout) cuts the wait shorter.
void connect_or_exit(client& c, const common_options& opt,
                     std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

/// An error that carries its exit code.
struct command_failure : std::runtime_error {
  command_failure(int exit_code, const std::string& what)
      : std::runtime_error(what), code(exit_code) {}
  int code;
};

/// A duration flag: "10s", "500ms"; throws usage_error naming the flag.
std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text);

}  // namespace rtev::cli
