#pragma once
// Options shared by the client commands (tail, subscribe, publish, replay, connect, health):
// where to connect and as whom, TLS, reconnects, output — and, for the streaming commands, the
// wire protocol (rtev, SSE, Socket.IO) with its settings. Resolved from flags, then the
// environment (RTEV_URL, RTEV_PROTOCOL, RTEV_TOKEN, RTEV_PROFILE, RTEV_TZ, RTEV_DEBUG,
// NO_COLOR), then the profile, then defaults.

#include <CLI/CLI.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "exit_codes.hpp"
#include "flag_values.hpp"
#include "profiles.hpp"
#include "rtev/client.hpp"

namespace rtev::cli {

constexpr const char* default_url = "ws://127.0.0.1:8000/events/ws/connect";

/// --protocol and what goes with it (tail, subscribe, publish, replay, connect). Empty strings
/// are flags not given.
struct protocol_flags {
  std::string protocol, nsp, path, transport, auth_json, last_event_id, publish_url;
  std::optional<std::string> detect_wait, emit_wait;       ///< --detect-wait, --emit-wait (given)
  std::vector<std::pair<std::string, std::string>> emits;  ///< --emit NAME JSON, in order
  std::vector<std::string> joins, headers;
  /// --join-event, --leave-event, --publish-event, --emit-reply (given, maybe empty).
  std::optional<std::string> join_event, leave_event, publish_event, emit_reply;
};

struct common_options {
  std::string url, token, profile, tz, connect_timeout = "10s", ca_file, color = "auto";
  std::optional<std::uint32_t> retry;
  bool no_reconnect = false, insecure = false, quiet = false;
  int verbose = 0;
  protocol_flags proto;

  // Resolved by resolve():
  std::chrono::milliseconds connect_timeout_ms{10000};
  bool use_color = false;
  bool stdout_tty = false;
  wire_protocol protocol = wire_protocol::rtev;
  std::string protocol_source;  ///< how it was chosen, for messages: "--protocol", "the URL", …
  sse_options sse;
  socketio_options socketio;
  std::vector<std::pair<std::string, std::string>> headers;
  /// rtev: how long a silent WebSocket server has before it counts as foreign (--detect-wait).
  std::chrono::milliseconds foreign_wait = client_options{}.foreign_wait;

  /// Profile and environment defaults, zone and duration checks, the protocol and its
  /// settings (flags that do not apply to it are refused). Throws usage_error.
  void resolve();
  /// Client options for the resolved URL/token/TLS/retry settings.
  client_options client_config() const;
  /// http://host:port for the resolved URL (ws → http, wss → https; path dropped).
  std::string http_base() const;

 private:
  void resolve_protocol(int url_level, const std::optional<profile_entry>& p);
};

/// Adds the shared flags to a command (into an option group "Connection").
void add_common(CLI::App& cmd, common_options& opt);
/// The subset that applies to a plain HTTP request (health, stats): --url, --profile,
/// --connect-timeout, -q, -v; `api_key`: also --token, sent as the API key (stats). The help
/// texts of -q and --connect-timeout can be given (bench).
void add_http_common(CLI::App& cmd, common_options& opt, bool api_key = false,
                     const char* quiet_help = nullptr, const char* timeout_help = nullptr);
/// The subset that applies to one request over a WebSocket connection (presence): --url,
/// --token, --profile, --connect-timeout, --insecure, --ca-file, -q, -v — no --tz, --color
/// (nothing is shown in a zone or in colour) or reconnect flags (nothing is followed).
void add_request_common(CLI::App& cmd, common_options& opt);
/// Adds --protocol, --header and the Socket.IO / SSE flags (groups "Protocol", "Socket.IO");
/// `publishes`: also --publish-url (publish, replay); `publish_event`: also --publish-event
/// (publish, replay, connect).
void add_protocol(CLI::App& cmd, common_options& opt, bool publishes = false,
                  bool publish_event = false);

/// "rtev", "sse", "socketio" → the protocol; throws usage_error naming `flag`.
wire_protocol parse_protocol(const std::string& flag, const std::string& text);
/// "the protocol here is sse (from the URL)": for errors about flags that do not apply.
std::string protocol_phrase(const common_options& opt);
/// Throws usage_error "FLAG needs --protocol P…" unless the resolved protocol is one of `ok`.
void require_protocol(const common_options& opt, const std::string& flag,
                      std::initializer_list<wire_protocol> ok);

/// Diagnostics on stderr, prefixed "rtev: ", unless quiet.
void note(const common_options& opt, const std::string& line);
/// Only with -v.
void debug(const common_options& opt, const std::string& line);

/// Starts `c` and waits until it is connected, at most the connect time-out. Throws
/// command_failure with exit code 3 (could not connect) or 4 (authentication rejected).
/// `deadline` (a command's total --timeout) cuts the wait shorter.
void connect_or_exit(client& c, const common_options& opt,
                     std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

}  // namespace rtev::cli
