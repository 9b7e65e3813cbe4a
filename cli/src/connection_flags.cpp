#include "connection_flags.hpp"

#include "flag_values.hpp"

namespace rtev::cli {

namespace {

// The flags of add_common and add_http_common, each defined once.
void add_target(CLI::App& cmd, common_options& o, const char* g) {
  cmd.set_version_flag("--version", std::string("rtev ") + RTEV_VERSION);
  cmd.add_option("--url", o.url,
                 "Server URL, or several nodes of one cluster as URL,URL,… (env RTEV_URL; "
                 "default " +
                     std::string(default_url) + ")")
      ->check(url_value())
      ->group(g);
}

void add_diagnostics(CLI::App& cmd, common_options& o, const char* g, const char* quiet_help) {
  cmd.add_flag("-q,--quiet", o.quiet, quiet_help)->group(g);
  cmd.add_flag("-v,--verbose", o.verbose, "More diagnostics (env RTEV_DEBUG=1)")->group(g);
}

void add_profile_flag(CLI::App& cmd, common_options& o, const char* g) {
  cmd.add_option("--profile", o.profile, "Profile from config.json (env RTEV_PROFILE)")->group(g);
}

void add_connect_timeout(CLI::App& cmd, common_options& o, const char* g, const char* help) {
  cmd.add_option("--connect-timeout", o.connect_timeout, help)->capture_default_str()->group(g);
}

void add_token(CLI::App& cmd, common_options& o, const char* g, const char* help) {
  cmd.add_option("--token", o.token, help)->group(g);
}

void add_tls(CLI::App& cmd, common_options& o, const char* g) {
  cmd.add_flag("--insecure", o.insecure, "wss:// and https:// without certificate checks")
      ->group(g);
  cmd.add_option("--ca-file", o.ca_file, "CA bundle (PEM) for wss:// and https://")->group(g);
}

void add_header(CLI::App& cmd, common_options& o, const char* g) {
  cmd.add_option("--header", o.proto.headers,
                 "Extra request header 'Name: value' (repeatable; cookies, Authorization)")
      ->group(g);
}

}  // namespace

void add_common(CLI::App& cmd, common_options& o) {
  const char* g = "Connection";
  add_target(cmd, o, g);
  add_token(cmd, o, g, "Token (env RTEV_TOKEN)");
  add_profile_flag(cmd, o, g);
  cmd.add_option("--tz", o.tz, "Time zone for displayed times (env RTEV_TZ; default UTC)")
      ->group(g);
  add_connect_timeout(cmd, o, g, "Give up connecting after this (exit 3)");
  cmd.add_option("--retry", o.retry, "Reconnect at most N times after a disconnect")
      ->check(whole_number(0, 1'000'000))
      ->group(g);
  cmd.add_flag("--no-reconnect", o.no_reconnect, "Exit on the first disconnect")->group(g);
  add_tls(cmd, o, g);
  cmd.add_option("--color", o.color, "Colour: auto, always or never (NO_COLOR honoured by auto)")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str()
      ->group(g);
  add_diagnostics(cmd, o, g, "No diagnostics on stderr");
}

void add_http_common(CLI::App& cmd, common_options& o, const http_flags& f) {
  const char* g = "Connection";
  add_target(cmd, o, g);
  if (f.api_key) add_token(cmd, o, g, "API key, sent as Authorization: Bearer (env RTEV_TOKEN)");
  add_profile_flag(cmd, o, g);
  add_connect_timeout(cmd, o, g,
                      f.timeout_help ? f.timeout_help : "Give up on one request after this");
  if (f.tls_and_headers) {
    add_tls(cmd, o, g);
    add_header(cmd, o, g);
  }
  add_diagnostics(cmd, o, g,
                  f.quiet_help ? f.quiet_help
                  : f.api_key  ? "No diagnostics on stderr"
                               : "Print nothing: the exit code says it all");
}

void add_request_common(CLI::App& cmd, common_options& o) {
  const char* g = "Connection";
  add_target(cmd, o, g);
  add_token(cmd, o, g, "Token (env RTEV_TOKEN)");
  add_profile_flag(cmd, o, g);
  add_connect_timeout(cmd, o, g, "Give up connecting after this (exit 3)");
  add_tls(cmd, o, g);
  add_header(cmd, o, g);
  add_diagnostics(cmd, o, g, "No diagnostics on stderr");
}

void add_protocol(CLI::App& cmd, common_options& o, bool publishes, bool publish_event) {
  const char* g = "Protocol";
  protocol_flags& p = o.proto;
  cmd.add_option("--protocol", p.protocol,
                 "rtev, sse or socketio (env RTEV_PROTOCOL; default: ws(s):// is rtev, http(s):// "
                 "is sse)")
      ->group(g);
  add_header(cmd, o, g);
  cmd.add_option("--last-event-id", p.last_event_id,
                 "SSE: resume after this event id (sent as Last-Event-ID)")
      ->group(g);
  cmd.add_option("--detect-wait", p.detect_wait,
                 "rtev protocol: a WebSocket server that sends no 'authenticated' within this "
                 "long is read as a server that does not speak rtev's (default 2s; 0: wait for "
                 "'authenticated' until --connect-timeout)")
      ->type_name("DURATION")
      ->group(g);
  if (publishes)
    cmd.add_option("--publish-url", p.publish_url,
                   "SSE: POST events here (default: the stream URL, as rtev serve takes them)")
        ->group(g);
  const char* s = "Socket.IO (with --protocol socketio)";
  cmd.add_option("--namespace", p.nsp, "Namespace to connect to (default /, or the URL's path)")
      ->group(s);
  cmd.add_option("--path", p.path, "The server's Engine.IO path (default /socket.io/)")->group(s);
  cmd.add_option("--transport", p.transport,
                 "polling (long-polling, then the upgrade to WebSocket; the default) or websocket "
                 "(WebSocket only)")
      ->check(CLI::IsMember({"polling", "websocket"}))
      ->group(s);
  cmd.add_option("--auth-json", p.auth_json,
                 "The CONNECT auth payload, a JSON object (default {\"token\":TOKEN} with --token)")
      ->group(s);
  cmd.add_option("--emit", p.emits,
                 "Emit event NAME with JSON after connecting, e.g. --emit authenticate "
                 "'{\"token\":\"…\"}' (repeatable, in order; a JSON array is several arguments); "
                 "joins and publishes wait for its acknowledgement or --emit-reply")
      ->type_name("NAME JSON")
      ->allow_extra_args(false)
      ->group(s);
  cmd.add_option("--emit-reply", p.emit_reply,
                 "The server's event that answers the --emit (default authenticated): joins and "
                 "publishes wait for it or the emits' acknowledgements")
      ->type_name("NAME")
      ->group(s);
  cmd.add_option("--emit-wait", p.emit_wait,
                 "How long joins and publishes wait for the --emit's answer before they go anyway "
                 "(default 3s; 0: no wait)")
      ->type_name("DURATION")
      ->group(s);
  cmd.add_option("--join", p.joins, "Join this room with the join event (repeatable)")->group(s);
  cmd.add_option("--join-event", p.join_event,
                 "The event that joins a room, with {room} (default join; empty: none)")
      ->type_name("NAME")
      ->group(s);
  cmd.add_option("--leave-event", p.leave_event,
                 "The event that leaves a room, with {room} (default leave; empty: none)")
      ->type_name("NAME")
      ->group(s);
  if (publish_event)
    cmd.add_option("--publish-event", p.publish_event,
                   "Publish as this event with {room,type,data,id} and wait for its ack (default: "
                   "publish for rtev serve, the event type itself for other servers)")
        ->type_name("NAME")
        ->group(s);
}

}  // namespace rtev::cli
