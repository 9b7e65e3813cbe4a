// The client's options and URLs checked, and the small vocabulary around them: the names of
// states, protocols and error kinds, the stable code of an error, the protocol a URL implies,
// the rate limit a server announces. No connection state here (client_impl.hpp has it).

#include "client_options.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "transport.hpp"

namespace rtev {

using json = nlohmann::json;

std::string_view to_string(client_state s) {
  switch (s) {
    case client_state::idle:
      return "idle";
    case client_state::connecting:
      return "connecting";
    case client_state::connected:
      return "connected";
    case client_state::reconnecting:
      return "reconnecting";
    case client_state::closed:
      return "closed";
  }
  return "unknown";
}

namespace detail {

bool http_status_is_final(int status) {
  if (status <= 0 || status == 101 || status == 401 || status == 403) return false;
  if (status == 408 || status == 425 || status == 429 || status >= 500) return false;
  return true;
}

std::string not_that_server(const std::string& what, int status, const std::string& path,
                            const std::string& expected) {
  const std::string head =
      std::string(what == "rtev" ? "not an " : "not a ") + what + " server at this URL: ";
  const std::string where = path.substr(0, path.find('?'));
  if (status == 404 || status == 410)
    return head + "HTTP " + std::to_string(status) + " (nothing at " + where +
           "; check the URL's path)";
  if (status >= 200 && status < 300)
    return head + "it answered HTTP " + std::to_string(status) + " for " + where +
           " (a web page or an HTTP API?) instead of " + expected;
  return head + "it answered HTTP " + std::to_string(status) + " for " + where + " instead of " +
         expected;
}

client_error make_error(client_error::kind k, std::string message, std::string code) {
  client_error e;
  e.what = k;
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

}  // namespace detail

namespace detail {

// The name of one of our codes, as client_error::code carries it ("auth_failed").
std::string code_name(std::error_code ec) {
  return std::string(to_string(static_cast<errc>(ec.value())));
}

namespace {

// One server URL for the chosen protocol, checked: rtev speaks WebSocket, SSE plain HTTP.
detail::parsed_url checked_url(const client_options& o, const std::string& text) {
  detail::parsed_url u = detail::parse_url(text);
  const bool ws = u.scheme == "ws" || u.scheme == "wss";
  if (o.protocol == wire_protocol::rtev && !ws)
    throw config_error("invalid url '" + text +
                       "' for the rtev protocol: expected ws:// or wss:// (an http(s):// URL "
                       "needs protocol sse or socketio)");
  if (o.protocol == wire_protocol::sse && ws)
    throw config_error("invalid url '" + text +
                       "' for the sse protocol: expected http:// or https://");
  return u;
}

}  // namespace

std::vector<server_url> checked_urls(const client_options& o) {
  std::vector<server_url> all;
  if (!o.url.empty() || o.urls.empty()) all.push_back({o.url, checked_url(o, o.url)});
  for (const auto& u : o.urls) all.push_back({u, checked_url(o, u)});
  if (o.protocol == wire_protocol::socketio &&
      (o.socketio.nsp.empty() || o.socketio.nsp.front() != '/'))
    throw config_error("invalid Socket.IO namespace '" + o.socketio.nsp +
                       "': expected one starting with '/'");
  if (o.protocol == wire_protocol::socketio) {
    const std::pair<const char*, const std::string*> names[] = {
        {"join_event", &o.socketio.join_event},
        {"leave_event", &o.socketio.leave_event},
        {"publish_event", o.socketio.publish_event ? &*o.socketio.publish_event : nullptr},
        {"emit_reply", &o.socketio.emit_reply}};
    for (const auto& [what, name] : names)
      if (name && is_reserved_socketio_event(*name))
        throw config_error("invalid socketio." + std::string(what) + " '" + *name +
                           "': a reserved Socket.IO event name");
    if (o.socketio.emit_reply_wait.count() < 0 || o.socketio.publish_ack_wait.count() < 0)
      throw config_error("socketio.emit_reply_wait and publish_ack_wait must not be negative");
  }
  if (o.foreign_wait.count() < 0) throw config_error("foreign_wait must not be negative");
  if (o.protocol == wire_protocol::socketio && !o.socketio.auth.is_null() &&
      !o.socketio.auth.is_object())
    throw config_error("invalid Socket.IO auth payload " + o.socketio.auth.dump() +
                       ": expected a JSON object");
  if (o.protocol == wire_protocol::sse && !o.sse.publish_url.empty()) {
    const detail::parsed_url pu = detail::parse_url(o.sse.publish_url);
    if (pu.scheme != "http" && pu.scheme != "https")
      throw config_error("invalid sse publish_url '" + o.sse.publish_url +
                         "': expected http:// or https://");
  }
  return all;
}

}  // namespace detail

std::string_view to_string(wire_protocol p) {
  switch (p) {
    case wire_protocol::rtev:
      return "rtev";
    case wire_protocol::sse:
      return "sse";
    case wire_protocol::socketio:
      return "socketio";
  }
  return "unknown";
}

std::string_view to_string(client_error::kind k) {
  switch (k) {
    case client_error::kind::handler:
      return "handler";
    case client_error::kind::decode:
      return "decode";
    case client_error::kind::server:
      return "server";
    case client_error::kind::connection:
      return "connection";
    case client_error::kind::queue_full:
      return "queue_full";
    case client_error::kind::protocol:
      return "protocol";
    case client_error::kind::would_deadlock:
      return "would_deadlock";
    case client_error::kind::timeout:
      return "timeout";
  }
  return "unknown";
}

std::error_code client_error::ec() const {
  if (!code.empty()) {
    const errc e = errc_for_server_code(code);
    if (e != errc::refused || what == kind::server) return e;
  }
  switch (what) {
    case kind::handler:
      return errc::handler_failed;
    case kind::decode:
      return errc::decode_failed;
    case kind::server:
      return errc::refused;
    case kind::connection:
      return errc::connection_lost;
    case kind::queue_full:
      return errc::queue_full;
    case kind::protocol:
      return errc::protocol_error;
    case kind::would_deadlock:
      return errc::would_deadlock;
    case kind::timeout:
      return errc::timeout;
  }
  return errc::protocol_error;
}

std::optional<wire_protocol> protocol_for_url(std::string_view url) {
  auto starts = [&](std::string_view p) {
    if (url.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != p[i]) return false;
    return true;
  };
  if (starts("ws://") || starts("wss://")) return wire_protocol::rtev;
  if (starts("http://") || starts("https://")) return wire_protocol::sse;
  return std::nullopt;
}

std::optional<rate_limit_info> detail::announced_rate_limit(const json& d) {
  auto it = d.find("rate_limit");
  if (it == d.end() || !it->is_object()) return std::nullopt;
  const json& r = *it;
  if (!r.contains("per_second") || !r["per_second"].is_number() || !r.contains("burst") ||
      !r["burst"].is_number() || r["per_second"].get<double>() <= 0)
    return std::nullopt;
  return rate_limit_info{r["per_second"].get<double>(), std::max(1.0, r["burst"].get<double>())};
}

}  // namespace rtev
