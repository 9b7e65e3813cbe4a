#include "http_api.hpp"

#include <sstream>

#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/json.hpp"
#include "rtev/time.hpp"

namespace rtev::server_lite {

std::optional<std::string> http_request::param(const std::string& k) const {
  auto it = query.find(k);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::string http_request::token() const {
  const std::string bearer = "Bearer ";
  if (authorization.size() > bearer.size() &&
      std::equal(bearer.begin(), bearer.end(), authorization.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
    return authorization.substr(bearer.size());
  return param("token").value_or("");
}

namespace {

// JSON text of a reply that quotes request text (an error message quoting `until=\xb2…`, a user
// id from the path), which may be invalid UTF-8 once decoded: replaced by U+FFFD, as a
// throwing dump() would end the service thread.
std::string reply_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

http_response json_error(int status, const std::string& code, const std::string& message) {
  return {status, reply_text(json{{"error", {{"code", code}, {"message", message}}}}),
          "application/json"};
}

http_api::http_api(const server_config& cfg, room_hub& hub, const authenticator& auth,
                   steady::time_point started)
    : cfg_(cfg), hub_(hub), auth_(auth), started_(started) {}

std::optional<http_response> http_api::history_refusal(const http_request& req,
                                                       const std::string& room) const {
  if (!cfg_.api_key.empty() && has_api_key(req)) return std::nullopt;
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  auth_result r = auth_.authenticate(req.token(), "anon-http", now_s);
  if (!r.who) return json_error(401, "unauthorized", r.error);
  const std::string target = room.empty() ? "*" : room;
  if (auto why = join_refusal(*r.who, auth_.mode(), target); !why.empty())
    return json_error(403, "forbidden", why);
  return std::nullopt;
}

bool http_api::has_api_key(const http_request& req) const {
  if (cfg_.api_key.empty()) return true;
  const std::string t = req.token();
  // Constant-time comparison: the key is a secret.
  if (t.size() != cfg_.api_key.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < t.size(); ++i)
    diff |= static_cast<unsigned char>(t[i] ^ cfg_.api_key[i]);
  return diff == 0;
}

server_stats http_api::stats() const {
  server_stats s;
  s.connections = hub_.connection_count();
  s.users = hub_.user_count();
  s.rooms = hub_.room_count();
  s.events_published = hub_.events_published();
  s.events_delivered = hub_.events_delivered();
  s.events_dropped = hub_.events_dropped();
  s.last_seq = hub_.frontier();
  s.uptime_s = std::chrono::duration<double>(steady::now() - started_).count();
  return s;
}

void http_api::handle(const http_request& req, std::function<void(http_response)> reply) {
  const std::string& p = req.path;
  if (p == "/health" && req.method == "GET") return reply(health());
  if ((p == "/api/stats" || p == "/api/ws") && req.method == "GET") return reply(stats_json());
  if (p == "/metrics" && req.method == "GET") return reply(metrics());
  if (p == "/api/history" && req.method == "GET") return reply(history(req));
  if (p == "/api/events" && req.method == "POST") return publish(req, std::move(reply));
  const std::string users = "/api/users/";
  if (p.rfind(users, 0) == 0) {
    std::string rest = p.substr(users.size());
    const std::string disconnect = "/disconnect";
    if (req.method == "POST" && rest.size() > disconnect.size() &&
        rest.compare(rest.size() - disconnect.size(), disconnect.size(), disconnect) == 0) {
      if (!has_api_key(req))
        return reply(json_error(401, "unauthorized",
                                "a valid API key is required (Authorization: Bearer <api-key>)"));
      const std::string user = url_decode(rest.substr(0, rest.size() - disconnect.size()));
      const std::size_t n = hub_.kick_user(user);
      return reply(
          {200, reply_text(json{{"user_id", user}, {"disconnected", n}}), "application/json"});
    }
    if (req.method == "GET" && !rest.empty() && rest.find('/') == std::string::npos)
      return reply({200, reply_text(hub_.user_info(url_decode(rest))), "application/json"});
  }
  static const char* known[] = {"/health",  "/api/stats",   "/api/ws",
                                "/metrics", "/api/history", "/api/events"};
  for (const char* k : known)
    if (p == k)
      return reply(json_error(405, "method_not_allowed",
                              "method " + req.method + " is not allowed on " + p));
  reply(json_error(404, "not_found", "no such endpoint: " + p));
}

http_response http_api::health() const {
  const store_stats st = hub_.store().stats();
  json h = {{"status", "ok"},
            {"timestamp", rtev::time::format_rfc3339(rtev::time::now(), cfg_.timezone)},
            {"timezone", cfg_.timezone},
            {"services",
             {{"websocket",
               {{"status", "active"},
                {"connections", hub_.connection_count()},
                {"authenticatedUsers", hub_.authenticated_users()}}},
              {"socketio",
               {{"status", "active"}, {"connections", hub_.connection_count(conn_kind::socketio)}}},
              {"history",
               {{"status", "active"},
                {"events", st.events},
                {"first_seq", st.first_seq},
                {"last_seq", hub_.frontier()},
                {"pending", st.pending},
                {"epoch", hub_.epoch()}}}}}};
  return {200, h.dump(), "application/json"};
}

http_response http_api::stats_json() const {
  server_stats s = stats();
  json by_type = json::object();
  for (const auto& [t, n] : hub_.by_type()) by_type[t] = n;
  json j = {{"connections", s.connections},
            {"users", s.users},
            {"rooms", s.rooms},
            {"events_published", s.events_published},
            {"events_delivered", s.events_delivered},
            {"events_dropped", s.events_dropped},
            {"by_type", by_type},
            {"uptime_s", s.uptime_s},
            {"last_seq", s.last_seq},
            {"epoch", hub_.epoch()}};
  return {200, j.dump(), "application/json"};
}

http_response http_api::metrics() const {
  server_stats s = stats();
  std::ostringstream o;
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
  };
  metric("rtev_connections", "gauge", "Open WebSocket and SSE connections.", s.connections);
  metric("rtev_users", "gauge", "Distinct authenticated users connected.", s.users);
  metric("rtev_rooms", "gauge", "Rooms with at least one subscriber.", s.rooms);
  metric("rtev_events_published_total", "counter", "Events stored and fanned out.",
         s.events_published);
  metric("rtev_events_delivered_total", "counter", "Live event deliveries queued to connections.",
         s.events_delivered);
  metric("rtev_events_dropped_total", "counter",
         "Deliveries dropped because a consumer was too slow.", s.events_dropped);
  metric("rtev_last_seq", "gauge", "Highest sequence number delivered.", s.last_seq);
  metric("rtev_uptime_seconds", "gauge", "Seconds since the server started.", s.uptime_s);
  o << "# HELP rtev_events_published_by_type_total Events published, by type.\n"
    << "# TYPE rtev_events_published_by_type_total counter\n";
  for (const auto& [t, n] : hub_.by_type()) {
    std::string label;
    for (char ch : t) {
      if (ch == '\\' || ch == '"') label += '\\';
      label += ch;
    }
    o << "rtev_events_published_by_type_total{type=\"" << label << "\"} " << n << '\n';
  }
  return {200, o.str(), "text/plain; version=0.0.4"};
}

http_response http_api::history(const http_request& req) const {
  const std::string room = req.param("room").value_or("");
  // With the API key (or no key configured on a dev server in none mode) any room is
  // readable; otherwise the token's identity must be allowed to join it.
  if (!room.empty() && !is_valid_room_pattern(room))
    return json_error(400, "bad_request", "room: invalid room name '" + room + "'");
  if (auto refused = history_refusal(req, room)) return *refused;
  std::size_t limit = 100;
  if (auto l = req.param("limit")) {
    char* end = nullptr;
    const long v = std::strtol(l->c_str(), &end, 10);
    if (l->empty() || *end || v < 1)
      return json_error(400, "bad_request",
                        "limit: expected a positive integer (at most 1000), got '" + *l + "'");
    limit = static_cast<std::size_t>(std::min(v, 1000L));
  }
  std::vector<std::string> types;
  if (auto t = req.param("types")) {
    std::stringstream ss(*t);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) types.push_back(item);
  }
  try {
    json since = nullptr, until = nullptr;
    if (auto s = req.param("since")) since = *s;
    if (auto u = req.param("until")) until = *u;
    history_page page = hub_.history(room, since, until, limit, types);
    json events = json::array();
    for (const auto& e : page.events) events.push_back(json::parse(e.json));
    json next = nullptr;
    if (page.more && !page.events.empty()) next = page.events.back().seq;
    return {200, json{{"events", events}, {"next", next}, {"epoch", hub_.epoch()}}.dump(),
            "application/json"};
  } catch (const parse_error& e) {
    return json_error(400, "bad_request", e.what());
  }
}

void http_api::publish(const http_request& req, std::function<void(http_response)> reply) {
  if (!has_api_key(req))
    return reply(json_error(
        req.token().empty() ? 401 : 403, req.token().empty() ? "unauthorized" : "forbidden",
        req.token().empty() ? "an API key is required: Authorization: Bearer <api-key>"
                            : "the API key is not valid"));
  std::string why;
  json body = rtev::parse_json(req.body, &why);
  if (body.is_discarded())
    return reply(json_error(400, "bad_json", "the request body is not valid JSON: " + why));
  const bool many = body.is_array();
  if (many && body.empty()) return reply(json_error(400, "bad_request", "the event list is empty"));
  std::vector<publish_request> reqs;
  std::vector<std::size_t> per_item;  // how many events each body item became
  try {
    const json items = many ? body : json::array({body});
    for (std::size_t i = 0; i < items.size(); ++i) {
      try {
        auto r = hub_.parse_publish(items[i]);
        per_item.push_back(r.size());
        for (auto& x : r) reqs.push_back(std::move(x));
      } catch (const parse_error& e) {
        std::string path = e.path();
        std::string msg = e.what();
        if (!path.empty()) msg = msg.substr(path.size() + 2);
        const std::string where =
            many ? "[" + std::to_string(i) + "]" + (path.empty() ? "" : "." + path) : path;
        throw parse_error(where, msg);
      }
    }
  } catch (const parse_error& e) {
    return reply(json_error(400, "bad_request", e.what()));
  }
  hub_.publish(std::move(reqs), [reply, many, per_item](publish_outcome out) {
    // Group results back per body item: user_ids fans one item out to several events.
    json list = json::array();
    std::size_t k = 0;
    for (std::size_t n : per_item) {
      if (n == 1)
        list.push_back(out.results[k]);
      else {
        json group = json::array();
        for (std::size_t j = 0; j < n; ++j) group.push_back(out.results[k + j]);
        list.push_back({{"id", group[0]["id"]}, {"seq", group[0]["seq"]}, {"events", group}});
      }
      k += n;
    }
    if (out.failed) {
      reply(
          {500,
           json{{"error", {{"code", "storage_error"}, {"message", "some events were not stored"}}},
                {"results", list}}
               .dump(),
           "application/json"});
      return;
    }
    reply({202, (many ? list : list[0]).dump(), "application/json"});
  });
}

}  // namespace rtev::server_lite
