#pragma once
// Options shared by the client commands (tail, subscribe, publish, replay, connect, health):
// where to connect and as whom, TLS, reconnects, output — and, for the streaming commands, the
// wire protocol (rtev, SSE, Socket.IO) with its settings. Resolved from flags, then the
// environment (RTEV_URL, RTEV_PROTOCOL, RTEV_TOKEN, RTEV_PROFILE, RTEV_TZ, RTEV_DEBUG,
// NO_COLOR), then the profile, then defaults.
//
// The values live here; their neighbours, one file each:
//   connection_flags.hpp  the CLI11 flags that fill them (add_common, add_http_common, …)
//   protocol_choice.hpp   which protocol a URL and the flags mean, and the flags that need one
//   connecting.hpp        connect_or_exit: start a client and wait, with the exit codes
//   diagnostics.hpp       note() and debug() on stderr

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

/// "ws://a,ws://b" → its URLs (a comma followed by a scheme separates them). Throws
/// usage_error for an empty one.
std::vector<std::string> split_url_list(const std::string& text);

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
  /// --url A,B,…: the nodes after the first (`url`), resolved the same way; the client moves
  /// to the next on a failure and resumes from its last seq (client_options::urls).
  std::vector<std::string> more_urls;
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
  // protocol_choice.cpp. `env_protocol`: RTEV_PROTOCOL's value.
  void resolve_protocol(int url_level, const std::optional<profile_entry>& p,
                        const std::string& env_protocol);
};

}  // namespace rtev::cli
