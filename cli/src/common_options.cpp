#include "common_options.hpp"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <tuple>

#include "exit_codes.hpp"
#include "interrupts.hpp"
#include "profiles.hpp"
#include "rtev/duration.hpp"
#include "rtev/json.hpp"
#include "rtev/time.hpp"

namespace rtev::cli {

namespace {
// The variable's value; nothing when it is not set (set but empty is "").
std::optional<std::string> env_value(const char* name) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in rtev sets the environment
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

std::string env(const char* name) {
  return env_value(name).value_or("");
}
}  // namespace

namespace {

// The flags of add_common and add_http_common, each defined once.
void add_target(CLI::App& cmd, common_options& o, const char* g) {
  cmd.set_version_flag("--version", std::string("rtev ") + RTEV_VERSION);
  cmd.add_option("--url", o.url,
                 "Server URL (env RTEV_URL; default " + std::string(default_url) + ")")
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

void add_http_common(CLI::App& cmd, common_options& o, bool api_key, const char* quiet_help,
                     const char* timeout_help) {
  const char* g = "Connection";
  add_target(cmd, o, g);
  if (api_key) add_token(cmd, o, g, "API key, sent as Authorization: Bearer (env RTEV_TOKEN)");
  add_profile_flag(cmd, o, g);
  add_connect_timeout(cmd, o, g, timeout_help ? timeout_help : "Give up on one request after this");
  add_diagnostics(cmd, o, g,
                  quiet_help ? quiet_help
                  : api_key  ? "No diagnostics on stderr"
                             : "Print nothing: the exit code says it all");
}

void add_request_common(CLI::App& cmd, common_options& o) {
  const char* g = "Connection";
  add_target(cmd, o, g);
  add_token(cmd, o, g, "Token (env RTEV_TOKEN)");
  add_profile_flag(cmd, o, g);
  add_connect_timeout(cmd, o, g, "Give up connecting after this (exit 3)");
  add_tls(cmd, o, g);
  add_diagnostics(cmd, o, g, "No diagnostics on stderr");
}

void add_protocol(CLI::App& cmd, common_options& o, bool publishes, bool publish_event) {
  const char* g = "Protocol";
  protocol_flags& p = o.proto;
  cmd.add_option("--protocol", p.protocol,
                 "rtev, sse or socketio (env RTEV_PROTOCOL; default: ws(s):// is rtev, http(s):// "
                 "is sse)")
      ->group(g);
  cmd.add_option("--header", p.headers,
                 "Extra request header 'Name: value' (repeatable; cookies, Authorization)")
      ->group(g);
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

wire_protocol parse_protocol(const std::string& flag, const std::string& text) {
  if (text == "rtev") return wire_protocol::rtev;
  if (text == "sse") return wire_protocol::sse;
  if (text == "socketio") return wire_protocol::socketio;
  throw usage_error(flag + ": unknown protocol '" + text + "': expected rtev, sse or socketio");
}

std::string protocol_phrase(const common_options& o) {
  return "the protocol here is " + std::string(to_string(o.protocol)) + " (from " +
         o.protocol_source + ")";
}

void require_protocol(const common_options& o, const std::string& flag,
                      std::initializer_list<wire_protocol> ok) {
  if (std::find(ok.begin(), ok.end(), o.protocol) != ok.end()) return;
  std::string names;
  for (auto p : ok) names += (names.empty() ? "" : " or ") + std::string(to_string(p));
  throw usage_error(flag + " needs --protocol " + names + "; " + protocol_phrase(o));
}

namespace {

struct url_parts {
  std::string scheme, authority, path, query;  // path without the query; query with its '?'
};

url_parts split_url(const std::string& url) {
  url_parts u;
  const auto colon = url.find("://");
  if (colon == std::string::npos) return u;
  u.scheme = url.substr(0, colon);
  const auto rest = colon + 3;
  const auto end = url.find_first_of("/?", rest);
  u.authority = url.substr(rest, end == std::string::npos ? std::string::npos : end - rest);
  if (end == std::string::npos) return u;
  const auto q = url.find('?', end);
  u.path = url.substr(end, q == std::string::npos ? std::string::npos : q - end);
  if (q != std::string::npos) u.query = url.substr(q);
  return u;
}

// rtev serve's own doors: a URL naming one of them (RTEV_URL as `rtev serve` prints it) names
// the same server for the other protocols.
constexpr const char* rtev_ws_path = "/events/ws/connect";
constexpr const char* rtev_sse_path = "/api/events";

std::string with_scheme(const url_parts& u, bool http) {
  const bool tls = u.scheme == "wss" || u.scheme == "https";
  return std::string(http ? (tls ? "https" : "http") : (tls ? "wss" : "ws")) + "://" + u.authority;
}

}  // namespace

void common_options::resolve_protocol(int url_level, const std::optional<profile_entry>& p) {
  // The protocol goes with the URL: one given at a level (flag, environment, profile) is not
  // overridden by a protocol from a lower one, so `--url http://…` is not turned into
  // Socket.IO by a profile.
  const std::string env_protocol = env("RTEV_PROTOCOL");
  if (!proto.protocol.empty()) {
    protocol = parse_protocol("--protocol", proto.protocol);
    protocol_source = "--protocol";
  } else if (!env_protocol.empty() && url_level >= 1) {
    protocol = parse_protocol("RTEV_PROTOCOL", env_protocol);
    protocol_source = "RTEV_PROTOCOL";
  } else if (p && !p->protocol.empty() && url_level >= 2) {
    protocol = parse_protocol("profile '" + profile + "'", p->protocol);
    protocol_source = "the profile";
  } else if (url_level == 3) {
    protocol = wire_protocol::rtev;
    protocol_source = "the default";
  } else if (auto inferred = protocol_for_url(url)) {
    protocol = *inferred;
    protocol_source = "the URL";
  } else {
    throw usage_error("--url: '" + url +
                      "' is not a ws://, wss://, http:// or https:// URL (or give --protocol)");
  }

  url_parts u = split_url(url);
  if (u.scheme.empty())
    throw usage_error("--url: '" + url + "' is not a ws://, wss://, http:// or https:// URL");
  switch (protocol) {
    case wire_protocol::rtev:
      // http(s):// URLs name the same server (health and the HTTP API use them).
      if (u.scheme == "http" || u.scheme == "https") url = with_scheme(u, false) + u.path + u.query;
      break;
    case wire_protocol::sse:
      if (url_level == 3)
        url = std::string("http://127.0.0.1:8000") + rtev_sse_path;
      else if (u.scheme == "ws" || u.scheme == "wss")
        url = with_scheme(u, true) + (u.path == rtev_ws_path ? rtev_sse_path : u.path) + u.query;
      break;
    case wire_protocol::socketio: {
      if (url_level == 3) u = split_url("http://127.0.0.1:8000");
      if (!u.query.empty())
        throw usage_error("--url: a query string is not passed on with --protocol socketio: '" +
                          url + "'");
      // As io(url): the URL's path is the namespace (rtev serve's own door paths name the
      // server itself).
      std::string nsp = proto.nsp;
      if (!nsp.empty() && nsp.front() != '/') nsp = "/" + nsp;
      const bool path_is_nsp =
          !u.path.empty() && u.path != "/" && u.path != rtev_ws_path && u.path != rtev_sse_path;
      if (path_is_nsp && !nsp.empty() && nsp != u.path)
        throw usage_error("--namespace " + nsp + " and the URL's path " + u.path +
                          " both name a namespace: give one");
      if (nsp.empty()) nsp = path_is_nsp ? u.path : "/";
      socketio.nsp = nsp;
      url = u.scheme + "://" + u.authority;
      if (!proto.path.empty()) {
        std::string path = proto.path;
        if (path.front() != '/') path = "/" + path;
        if (path.back() != '/') path += '/';
        socketio.path = path;
      }
      socketio.websocket_only = proto.transport == "websocket";
      if (!proto.auth_json.empty()) {
        socketio.auth = rtev::parse_json(proto.auth_json);
        if (socketio.auth.is_discarded() || !socketio.auth.is_object())
          throw usage_error("--auth-json: expected a JSON object, got '" + proto.auth_json + "'");
      }
      for (const auto& [name, text] : proto.emits) {
        if (name.empty()) throw usage_error("--emit: the event NAME is empty");
        std::string why;
        nlohmann::json args = rtev::parse_json(text, &why);
        if (args.is_discarded()) {
          std::string msg = "--emit " + name;
          msg += ": not valid JSON (" + why + "): ";
          msg += rtev::printable(text.substr(0, 80));
          if (text.size() > 80) msg += "…";
          throw usage_error(msg);
        }
        socketio.emits.emplace_back(name, std::move(args));
      }
      const std::tuple<const char*, const std::optional<std::string>&, std::string*> names[] = {
          {"--join-event", proto.join_event, &socketio.join_event},
          {"--leave-event", proto.leave_event, &socketio.leave_event},
          {"--emit-reply", proto.emit_reply, &socketio.emit_reply},
          {"--publish-event", proto.publish_event, nullptr}};
      for (const auto& [flag, given, into] : names) {
        if (!given) continue;
        if (is_reserved_socketio_event(*given))
          throw usage_error(std::string(flag) + ": '" + *given +
                            "' is a reserved Socket.IO event name (connect, connect_error, "
                            "disconnect, disconnecting, newListener, removeListener)");
        if (into) *into = *given;
      }
      if (proto.publish_event) socketio.publish_event = *proto.publish_event;
      if (proto.emit_reply && proto.emits.empty())
        throw usage_error("--emit-reply " + *proto.emit_reply +
                          ": names the answer to an --emit, and none is given");
      if (proto.emit_wait) {
        if (proto.emits.empty())
          throw usage_error("--emit-wait " + *proto.emit_wait +
                            ": is how long to wait for an --emit's answer, and none is given");
        socketio.emit_reply_wait =
            wait_flag("--emit-wait", *proto.emit_wait, std::chrono::hours(1), "no wait");
      }
      break;
    }
  }

  const std::pair<const char*, bool> socketio_only[] = {
      {"--namespace", !proto.nsp.empty()},
      {"--path", !proto.path.empty()},
      {"--transport", !proto.transport.empty()},
      {"--auth-json", !proto.auth_json.empty()},
      {"--emit", !proto.emits.empty()},
      {"--join", !proto.joins.empty()},
      {"--join-event", proto.join_event.has_value()},
      {"--leave-event", proto.leave_event.has_value()},
      {"--publish-event", proto.publish_event.has_value()},
      {"--emit-reply", proto.emit_reply.has_value()},
      {"--emit-wait", proto.emit_wait.has_value()},
  };
  for (const auto& [flag, given] : socketio_only)
    if (given) require_protocol(*this, flag, {wire_protocol::socketio});
  if (proto.detect_wait) {
    require_protocol(*this, "--detect-wait", {wire_protocol::rtev});
    foreign_wait = wait_flag("--detect-wait", *proto.detect_wait, std::chrono::hours(1),
                             "wait for 'authenticated' until --connect-timeout");
  }
  if (!proto.last_event_id.empty()) {
    require_protocol(*this, "--last-event-id", {wire_protocol::sse});
    sse.last_event_id = proto.last_event_id;
  }
  if (!proto.publish_url.empty()) {
    require_protocol(*this, "--publish-url", {wire_protocol::sse});
    const url_parts pu = split_url(proto.publish_url);
    if (pu.scheme != "http" && pu.scheme != "https")
      throw usage_error("--publish-url: expected an http:// or https:// URL, got '" +
                        proto.publish_url + "'");
    sse.publish_url = proto.publish_url;
  }
  for (const auto& h : proto.headers) {
    const auto colon = h.find(':');
    if (colon == 0 || colon == std::string::npos || h.find_first_of(" \t", 0) < colon)
      throw usage_error("--header: expected 'Name: value', got '" + h + "'");
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    headers.emplace_back(h.substr(0, colon), value);
  }
}

void common_options::resolve() {
  if (profile.empty()) profile = env("RTEV_PROFILE");
  std::optional<profile_entry> p;
  if (!profile.empty()) {
    p = find_profile(profile);
    if (!p) throw usage_error("--profile: no profile '" + profile + "' (see 'rtev profile ls')");
  } else {
    p = current_profile();
  }
  int url_level = 0;  // where the URL came from: 0 flag, 1 environment, 2 profile, 3 default
  if (url.empty()) {
    // Set but empty is a mistake (`export RTEV_URL=$(…)` that found nothing), not "unset":
    // falling back to the default server would test whatever runs there.
    if (const auto v = env_value("RTEV_URL"); v && v->empty())
      throw usage_error(
          "RTEV_URL is set but empty: give it a ws://, wss://, http:// or https:// URL, or unset "
          "it to use the profile or the default");
    url = env("RTEV_URL");
    url_level = 1;
  }
  if (url.empty() && p) {
    url = p->url;
    url_level = 2;
  }
  if (url.empty()) {
    url = default_url;
    url_level = 3;
  }
  if (token.empty()) token = env("RTEV_TOKEN");
  if (token.empty() && p) token = p->token;
  if (tz.empty()) tz = env("RTEV_TZ");
  if (tz.empty() && p) tz = p->tz;
  if (tz.empty()) tz = "UTC";
  try {
    time::validate_zone(tz);
  } catch (const unknown_zone_error& e) {
    throw usage_error(std::string("--tz: ") + e.what());
  }
  connect_timeout_ms = duration_flag("--connect-timeout", connect_timeout);
  if (env("RTEV_DEBUG") == "1" && verbose == 0) verbose = 1;
  stdout_tty = ::isatty(1) != 0;
  if (color == "always")
    use_color = true;
  else if (color == "never")
    use_color = false;
  else
    use_color = stdout_tty && env("NO_COLOR").empty();
  resolve_protocol(url_level, p);
  try {
    client_options probe;
    probe.url = url;
    probe.protocol = protocol;
    probe.socketio.nsp = socketio.nsp;
    probe.socketio.path = socketio.path;
    client check(probe);  // validates the URL without connecting
  } catch (const config_error& e) {
    throw usage_error(std::string("--url: ") + e.what());
  }
}

client_options common_options::client_config() const {
  client_options c;
  c.url = url;
  c.token = token;
  c.connect_timeout = connect_timeout_ms;
  c.insecure = insecure;
  c.ca_file = ca_file;
  c.reconnect = !no_reconnect;
  if (retry) c.backoff.max_attempts = *retry;
  c.protocol = protocol;
  c.sse = sse;
  c.socketio = socketio;
  c.headers = headers;
  c.rooms = proto.joins;
  c.foreign_wait = foreign_wait;
  return c;
}

std::string common_options::http_base() const {
  std::string u = url;
  if (u.rfind("ws://", 0) == 0)
    u = "http://" + u.substr(5);
  else if (u.rfind("wss://", 0) == 0)
    u = "https://" + u.substr(6);
  const auto scheme_end = u.find("://");
  if (scheme_end != std::string::npos) {
    const auto slash = u.find('/', scheme_end + 3);
    if (slash != std::string::npos) u = u.substr(0, slash);
  }
  return u;
}

void note(const common_options& opt, const std::string& line) {
  if (!opt.quiet) std::cerr << "rtev: " << line << std::endl;
}

void debug(const common_options& opt, const std::string& line) {
  if (opt.verbose > 0 && !opt.quiet) std::cerr << "rtev: " << line << std::endl;
}

void connect_or_exit(client& c, const common_options& opt,
                     std::optional<std::chrono::steady_clock::time_point> deadline) {
  auto fut = c.connected();
  // Woken by the first connected/closed state or by a signal; keeps why attempts failed, for
  // the message when time runs out (not only with -v).
  struct progress {
    std::mutex mutex;  // guards the members
    std::condition_variable cv;
    bool settled = false;
    int signal = 0;
    std::string reason;
  };
  auto p = std::make_shared<progress>();
  auto states = c.on_state([p](const state_info& s) {
    std::lock_guard<std::mutex> lock(p->mutex);
    if (s.state == client_state::reconnecting && !s.reason.empty()) p->reason = s.reason;
    if (s.state == client_state::connected || s.state == client_state::closed) p->settled = true;
    p->cv.notify_all();
  });
  interrupt_hook on_signal([p](int sig) {
    std::lock_guard<std::mutex> lock(p->mutex);
    p->signal = sig;
    p->cv.notify_all();
  });
  debug(opt, "connecting to " + opt.url + " (" + std::string(to_string(opt.protocol)) + ")");
  c.start();
  auto until = std::chrono::steady_clock::now() + opt.connect_timeout_ms;
  if (deadline && *deadline < until) until = *deadline;
  std::unique_lock<std::mutex> lock(p->mutex);
  p->cv.wait_until(lock, until, [&] { return p->settled || p->signal != 0; });
  const int sig = p->signal;
  const bool settled = p->settled;
  const std::string last_reason = p->reason;
  lock.unlock();
  if (sig != 0 && !settled) {
    c.stop();
    throw interrupted(sig, " while connecting to " + opt.url, true);
  }
  if (!settled) {
    c.stop();
    const bool by_deadline =
        deadline && *deadline < std::chrono::steady_clock::now() + opt.connect_timeout_ms;
    const std::string why = last_reason.empty() ? "" : " (last attempt: " + last_reason + ")";
    throw command_failure(exit_connect, "could not connect to " + opt.url +
                                            (by_deadline ? " before the --timeout deadline"
                                                         : " within " + opt.connect_timeout) +
                                            why);
  }
  try {
    fut.get();
  } catch (const request_error&) {
    const state_info s = c.closed().get();
    if (s.auth_failed) {
      // No token at all: say how to give one (a wrong one gets the server's own words).
      throw command_failure(
          exit_auth, s.reason + (s.token_required ? " (give one with --token or RTEV_TOKEN)" : ""));
    }
    if (!s.certificate_problem.empty()) {
      const bool wrong_name = s.certificate_problem.find("name") != std::string::npos;
      throw command_failure(exit_connect,
                            "could not connect to " + opt.url + ": " + s.reason +
                                (wrong_name ? ": connect by that name, or use --insecure"
                                            : ": use --ca-file FILE or --insecure"));
    }
    throw command_failure(exit_connect, "could not connect to " + opt.url + ": " + s.reason);
  }
}

}  // namespace rtev::cli
