#include "protocol_choice.hpp"

#include <algorithm>
#include <tuple>

#include "exit_codes.hpp"
#include "flag_values.hpp"
#include "rtev/json.hpp"
#include "url.hpp"

namespace rtev::cli {

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

// A URL flag's value read by the SDK's one URL parser; its complaint names the flag.
detail::parsed_url url_flag(const char* flag, const std::string& value) {
  try {
    return detail::parse_url(value);
  } catch (const config_error& e) {
    throw usage_error(std::string(flag) + ": " + e.what());
  }
}

// rtev serve's own doors: a URL naming one of them (RTEV_URL as `rtev serve` prints it) names
// the same server for the other protocols.
constexpr const char* rtev_ws_path = "/events/ws/connect";
constexpr const char* rtev_sse_path = "/api/events";

}  // namespace

void common_options::resolve_protocol(int url_level, const std::optional<profile_entry>& p,
                                      const std::string& env_protocol) {
  // The protocol goes with the URL: one given at a level (flag, environment, profile) is not
  // overridden by a protocol from a lower one, so `--url http://…` is not turned into
  // Socket.IO by a profile.
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

  detail::parsed_url u = url_flag("--url", url);
  // "?query" as given ("" without one).
  const std::string query = u.path.find('?') == std::string::npos ? "" : "?" + u.query();
  switch (protocol) {
    case wire_protocol::rtev:
      // http(s):// URLs name the same server (health and the HTTP API use them).
      if (u.scheme == "http" || u.scheme == "https") url = u.origin(false) + u.path;
      break;
    case wire_protocol::sse:
      if (url_level == 3)
        url = std::string("http://127.0.0.1:8000") + rtev_sse_path;
      else if (u.scheme == "ws" || u.scheme == "wss")
        url = u.origin(true) + (u.path_only() == rtev_ws_path ? rtev_sse_path : u.path_only()) +
              query;
      break;
    case wire_protocol::socketio: {
      if (url_level == 3) u = detail::parse_url("http://127.0.0.1:8000");
      if (!query.empty() && url_level != 3)
        throw usage_error("--url: a query string is not passed on with --protocol socketio: '" +
                          url + "'");
      // As io(url): the URL's path is the namespace (rtev serve's own door paths name the
      // server itself).
      std::string nsp = proto.nsp;
      if (!nsp.empty() && nsp.front() != '/') nsp = "/" + nsp;
      const std::string url_path = u.path_only();
      const bool path_is_nsp =
          url_path != "/" && url_path != rtev_ws_path && url_path != rtev_sse_path;
      if (path_is_nsp && !nsp.empty() && nsp != url_path)
        throw usage_error("--namespace " + nsp + " and the URL's path " + url_path +
                          " both name a namespace: give one");
      if (nsp.empty()) nsp = path_is_nsp ? url_path : "/";
      socketio.nsp = nsp;
      url = u.scheme + "://" + u.authority();
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
    const detail::parsed_url pu = url_flag("--publish-url", proto.publish_url);
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

}  // namespace rtev::cli
