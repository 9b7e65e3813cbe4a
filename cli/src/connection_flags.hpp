#pragma once
// The CLI11 flags of common_options, each defined once and grouped per kind of command: the
// streaming commands (add_common + add_protocol), one HTTP request (add_http_common), one
// request over a WebSocket (add_request_common). Help texts say where a default comes from.
#include <CLI/CLI.hpp>

#include "common_options.hpp"

namespace rtev::cli {

/// Adds the shared flags to a command (into an option group "Connection").
void add_common(CLI::App& cmd, common_options& opt);
/// What add_http_common adds besides --url, --profile, --connect-timeout, -q and -v.
struct http_flags {
  bool api_key = false;  ///< --token, sent as the API key (stats)
  /// --insecure, --ca-file, --header: the request goes through the SDK (http_request.hpp);
  /// not for bench, which speaks plain ws:// and http:// only.
  bool tls_and_headers = true;
  const char* quiet_help = nullptr;    ///< -q's help text, if not the default
  const char* timeout_help = nullptr;  ///< --connect-timeout's help text, if not the default
};
/// The subset that applies to plain HTTP requests (health, stats, bench): see http_flags.
void add_http_common(CLI::App& cmd, common_options& opt, const http_flags& flags = {});
/// The subset that applies to one request over a WebSocket connection (presence): --url,
/// --token, --profile, --connect-timeout, --insecure, --ca-file, --header, -q, -v — no --tz,
/// --color (nothing is shown in a zone or in colour) or reconnect flags (nothing is followed).
void add_request_common(CLI::App& cmd, common_options& opt);
/// Adds --protocol, --header and the Socket.IO / SSE flags (groups "Protocol", "Socket.IO");
/// `publishes`: also --publish-url (publish, replay); `publish_event`: also --publish-event
/// (publish, replay, connect).
void add_protocol(CLI::App& cmd, common_options& opt, bool publishes = false,
                  bool publish_event = false);

}  // namespace rtev::cli
