#include "http_api.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <unordered_set>

#include "names.hpp"
#include "op_decode.hpp"
#include "publish_frame.hpp"
#include "reply_json.hpp"
#include "rtev/catalog.hpp"
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

std::string http_request::bearer() const {
  const std::string prefix = "Bearer ";
  if (authorization.size() > prefix.size() &&
      std::equal(prefix.begin(), prefix.end(), authorization.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
    return authorization.substr(prefix.size());
  return {};
}

std::string http_request::token() const {
  std::string t = bearer();
  return t.empty() ? param("token").value_or("") : t;
}

std::vector<std::pair<std::string, std::string>> cors_headers(const std::string& origin) {
  if (origin.empty()) return {};
  std::vector<std::pair<std::string, std::string>> h = {
      {"access-control-allow-origin", origin},
      {"access-control-allow-methods", "GET, POST, OPTIONS"},
      {"access-control-allow-headers", "Authorization, Content-Type, Last-Event-ID"},
      {"access-control-max-age", "600"}};
  if (origin != "*") h.emplace_back("vary", "Origin");
  return h;
}

http_response json_error(int status, const std::string& code, const std::string& message) {
  return {status, json_text(json{{"error", {{"code", code}, {"message", message}}}}),
          "application/json"};
}

http_api::http_api(const server_config& cfg, room_hub& hub, const authenticator& auth,
                   steady::time_point started)
    : cfg_(cfg), hub_(hub), auth_(auth), started_(started) {}

std::optional<http_response> http_api::history_refusal(const http_request& req,
                                                       const std::string& room) const {
  if (auth_.is_api_key(req.bearer())) return std::nullopt;
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

std::optional<http_response> http_api::key_refusal(const http_request& req) const {
  if (has_api_key(req)) return std::nullopt;
  if (!req.bearer().empty()) return json_error(403, "forbidden", "the API key is not valid");
  // Never from ?token=: a URL ends up in access logs and browser history.
  return json_error(401, "unauthorized",
                    req.param("token") ? "the API key is accepted only in the Authorization header "
                                         "(Authorization: Bearer <api-key>), not in ?token="
                                       : "an API key is required: Authorization: Bearer <api-key>");
}

std::optional<std::size_t> http_api::limit_param(const http_request& req, std::size_t fallback,
                                                 long max, http_response& bad) {
  const auto l = req.param("limit");
  if (!l) return fallback;
  char* end = nullptr;
  const long v = std::strtol(l->c_str(), &end, 10);
  if (l->empty() || *end || v < 1) {
    bad = json_error(400, "bad_request",
                     "limit: expected a positive integer (at most " + std::to_string(max) +
                         "), got '" + *l + "'");
    return std::nullopt;
  }
  return static_cast<std::size_t>(std::min(v, max));
}

bool http_api::has_api_key(const http_request& req) const {
  return !auth_.has_api_key() || auth_.is_api_key(req.bearer());
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

void http_api::handle(const http_request& req, const std::function<void(http_response)>& reply) {
  const std::string& p = req.path;
  // HEAD is answered as GET; the transport sends the headers only.
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (p == "/health" && get) return reply(health());
  if ((p == "/api/stats" || p == "/api/ws") && get) return stats_json(reply);
  if (p == "/metrics" && get) return reply(metrics());
  if (p == "/api/history" && get) return history(req, reply);
  if (p == "/api/events" && req.method == "POST") return publish(req, reply);
  if (p == "/api/catalog" && get) return reply(catalog_json());
  if (p == "/api/connections" && get) {
    if (auto refused = key_refusal(req)) return reply(*refused);
    return reply(connections_json(req));
  }
  // lws has already percent-decoded the path: the id is used as it is (decoding it again
  // would turn a literal "%41" into "A").
  const std::string users = "/api/users/";
  if (p.rfind(users, 0) == 0) {
    std::string rest = p.substr(users.size());
    const std::string disconnect = "/disconnect";
    if (req.method == "POST" && rest.size() > disconnect.size() &&
        rest.compare(rest.size() - disconnect.size(), disconnect.size(), disconnect) == 0) {
      if (auto refused = key_refusal(req)) return reply(*refused);
      return user_across_nodes(node_question::kind::kick,
                               rest.substr(0, rest.size() - disconnect.size()), reply);
    }
    if (get && !rest.empty() && rest.find('/') == std::string::npos) {
      if (auto refused = key_refusal(req)) return reply(*refused);
      return user_across_nodes(node_question::kind::user, rest, reply);
    }
  }
  static const char* known[] = {"/health",      "/api/stats",  "/api/ws",      "/metrics",
                                "/api/history", "/api/events", "/api/catalog", "/api/connections"};
  for (const char* k : known)
    if (p == k)
      return reply(json_error(405, "method_not_allowed",
                              "method " + req.method + " is not allowed on " + p));
  reply(json_error(404, "not_found", "no such endpoint: " + p));
}

http_response http_api::health() const {
  const store_stats st = hub_.engine().stats();
  const store_health sh = hub_.engine().health();
  // Degraded, not down: connections, subscriptions and history reads still work, so the HTTP
  // status stays 200 and monitors read "status" (`rtev health` exits 3 unless it is "ok").
  const bool broker = std::string(hub_.engine().name()) == "redis";
  json h = {{"status", sh.ok ? "ok" : "degraded"},
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
               {{"status", sh.ok ? "active" : "degraded"},
                {"last_error", sh.last_error.empty() ? json() : json(sh.last_error)},
                {"failing_since",
                 sh.ok ? json()
                       : json(rtev::time::format_rfc3339(
                             rtev::timestamp(std::chrono::microseconds(sh.failing_since_us)),
                             cfg_.timezone))},
                {"failed_writes", sh.failed_writes},
                {"events", st.events},
                {"first_seq", st.first_seq},
                {"last_seq", hub_.frontier()},
                {"pending", st.pending},
                {"epoch", hub_.epoch()}}}}}};
  // --broker: whether this node reaches Redis (its history, seq and the other nodes' events
  // are there); while it does not, publishes are refused with `unavailable`.
  if (broker)
    h["services"]["broker"] = {
        {"status", sh.ok ? "active" : "down"},
        {"engine", "redis"},
        {"last_error", sh.last_error.empty() ? json() : json(sh.last_error)}};
  return {200, h.dump(), "application/json"};
}

// Every node's figures (one node: this one's). Without --broker the answer is this node's, as
// it always was; with it, the top-level figures are the cluster's — connections and events
// summed, users and rooms counted once however many nodes have them — and `nodes` has each
// node's own, so a node that does not answer in time is seen (`nodes_missing`), not guessed.
void http_api::stats_json(const std::function<void(http_response)>& reply) const {
  hub_.ask_nodes({node_question::kind::stats, {}},
                 [this, reply](const std::vector<node_report>& reports, std::size_t missing) {
                   server_stats s = stats();
                   json by_type = json::object();
                   for (const auto& [t, n] : hub_.by_type()) by_type[t] = n;
                   const bool cluster = !hub_.engine().node_id().empty();
                   json nodes = json::array();
                   if (cluster) {
                     std::set<std::string> users, rooms;
                     s.connections = 0;
                     s.events_published = s.events_delivered = s.events_dropped = 0;
                     for (const node_report& r : reports) {
                       s.connections += r.connections;
                       s.events_published += r.published;
                       s.events_delivered += r.delivered;
                       s.events_dropped += r.dropped;
                       users.insert(r.user_ids.begin(), r.user_ids.end());
                       rooms.insert(r.rooms.begin(), r.rooms.end());
                       nodes.push_back({{"node", r.node},
                                        {"connections", r.connections},
                                        {"users", r.user_ids.size()},
                                        {"rooms", r.rooms.size()},
                                        {"events_published", r.published},
                                        {"events_delivered", r.delivered},
                                        {"events_dropped", r.dropped},
                                        {"uptime_s", r.uptime_s}});
                     }
                     s.users = users.size();
                     s.rooms = rooms.size();
                   }
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
                   if (cluster) {
                     j["node"] = hub_.engine().node_id();
                     j["nodes"] = std::move(nodes);
                     j["nodes_missing"] = missing;
                   }
                   reply({200, j.dump(), "application/json"});
                 });
}

// GET /api/users/{id} and POST …/disconnect: asked of every node; with --broker, `nodes` says
// where the user's connections are (or were closed).
void http_api::user_across_nodes(node_question::kind what, const std::string& user,
                                 const std::function<void(http_response)>& reply) {
  hub_.ask_nodes({what, user}, [this, what, user, reply](const std::vector<node_report>& reports,
                                                         std::size_t missing) {
    std::size_t total = 0;
    json nodes = json::array();
    for (const node_report& r : reports) {
      std::size_t n = 0;
      for (const presence_entry& u : r.users) n += u.connections;
      total += n;
      nodes.push_back({{"node", r.node}, {"connections", n}});
    }
    json j = what == node_question::kind::kick
                 ? json{{"user_id", user}, {"disconnected", total}}
                 : json{{"user_id", user}, {"connected", total > 0}, {"connections", total}};
    if (!hub_.engine().node_id().empty()) {
      j["nodes"] = std::move(nodes);
      j["nodes_missing"] = missing;
    }
    reply({200, json_text(j), "application/json"});
  });
}

http_response http_api::catalog_json() {
  json types = json::array();
  for (const event_info& t : catalog()) {
    json fields = json::array();
    for (const field_info& f : t.fields)
      fields.push_back({{"name", f.name}, {"type", f.type}, {"required", f.required}});
    types.push_back({{"name", t.name},
                     {"family", std::string(to_string(t.family))},
                     {"fields", std::move(fields)}});
  }
  return {200, json{{"types", std::move(types)}}.dump(), "application/json"};
}

// What an operator's console shows: who is connected here, by which door, following what,
// since when, and how far behind. This node only (with --broker, `node` says which).
http_response http_api::connections_json(const http_request& req) const {
  // Bounded whatever the server holds: at most `limit` connections (by id), each with at most
  // max_rooms_listed of the rooms it follows, and the same number of rooms; the totals say what
  // was left out. `user` lists one user's connections.
  static constexpr std::size_t max_rooms_listed = 100;
  http_response bad;
  const auto limit = limit_param(req, 1000, 10000, bad);
  if (!limit) return bad;
  const auto user = req.param("user");
  static const char* const doors[] = {"rtev", "sse", "socketio"};
  const auto now_sys = std::chrono::system_clock::now();
  const auto now = steady::now();
  // By id, so `limit` lists the oldest connections and two calls agree.
  std::vector<std::pair<conn_id, const connection*>> by_id;
  by_id.reserve(hub_.connections().size());
  for (const auto& [id, c] : hub_.connections()) by_id.emplace_back(id, c.get());
  std::sort(by_id.begin(), by_id.end());
  json list = json::array();
  std::size_t total = 0;
  for (const auto& [id, c] : by_id) {
    if (c->gone) continue;
    if (user && (!c->who || c->who->user_id != *user)) continue;
    if (++total > *limit) continue;
    json rooms = json::array();
    // Once each: the automatic user: room and the client's own SUBSCRIBE to it are one room.
    std::unordered_set<std::string_view> seen;
    for (const subscription& s : c->subs)
      for (const std::string& r : s.patterns)
        if (seen.insert(r).second && rooms.size() < max_rooms_listed) rooms.push_back(r);
    const auto since = std::chrono::time_point_cast<std::chrono::microseconds>(
        now_sys - std::chrono::duration_cast<std::chrono::system_clock::duration>(now - c->opened));
    list.push_back({{"id", std::to_string(id)},
                    {"user_id", c->who ? json(c->who->user_id) : json()},
                    {"anonymous", c->who && c->who->anonymous},
                    {"protocol", doors[static_cast<int>(c->kind)]},
                    {"remote", c->remote},
                    {"presence", c->presence},
                    {"rooms", std::move(rooms)},
                    {"rooms_total", seen.size()},
                    {"connected_at", rtev::time::format_rfc3339(since, cfg_.timezone)},
                    {"queued", c->live_queued}});
  }
  json rooms = json::array();
  std::size_t rooms_total = 0;
  for (const auto& [room, members] : hub_.room_members())
    if (++rooms_total <= *limit) rooms.push_back({{"room", room}, {"members", members.size()}});
  json j = {{"connections", std::move(list)},
            {"connections_total", total},
            {"rooms", std::move(rooms)},
            {"rooms_total", rooms_total}};
  if (!hub_.engine().node_id().empty()) j["node"] = hub_.engine().node_id();
  return {200, json_text(j), "application/json"};
}

http_response http_api::metrics() const {
  server_stats s = stats();
  std::ostringstream o;
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
  };
  metric("rtev_connections", "gauge", "Open WebSocket and SSE connections.", s.connections);
  metric("rtev_users", "gauge",
         "Distinct users connected, counting connections that count for presence.", s.users);
  metric("rtev_rooms", "gauge", "Rooms with at least one subscriber.", s.rooms);
  metric("rtev_events_published_total", "counter", "Events stored and fanned out.",
         s.events_published);
  metric("rtev_events_delivered_total", "counter", "Live event deliveries queued to connections.",
         s.events_delivered);
  metric("rtev_events_dropped_total", "counter",
         "Deliveries dropped because a consumer was too slow.", s.events_dropped);
  metric("rtev_last_seq", "gauge", "Highest sequence number delivered.", s.last_seq);
  metric("rtev_uptime_seconds", "gauge", "Seconds since the server started.", s.uptime_s);
  o << "# HELP rtev_events_published_by_type_total Events published, by type (the first "
    << room_hub::max_tracked_types << " distinct types by name, the rest as type=\""
    << room_hub::other_types << "\").\n"
    << "# TYPE rtev_events_published_by_type_total counter\n";
  for (const auto& [t, n] : hub_.by_type()) {
    // The exposition format's label escapes: backslash, double quote and line feed. Types are
    // validated on the way in; this keeps /metrics parseable whatever is stored.
    std::string label;
    for (char ch : t) {
      if (ch == '\\' || ch == '"') label += '\\';
      if (ch == '\n') {
        label += "\\n";
        continue;
      }
      label += ch;
    }
    o << "rtev_events_published_by_type_total{type=\"" << label << "\"} " << n << '\n';
  }
  return {200, o.str(), "text/plain; version=0.0.4"};
}

void http_api::history(const http_request& req,
                       const std::function<void(http_response)>& reply) const {
  const std::string room = req.param("room").value_or("");
  // With the API key (or no key configured on a dev server in none mode) any room is
  // readable; otherwise the token's identity must be allowed to join it.
  if (!room.empty())
    if (auto why = name_problem(room, name_kind::room_pattern); !why.empty())
      return reply(json_error(400, "bad_request", "room: " + why));
  if (auto refused = history_refusal(req, room)) return reply(*refused);
  http_response bad;
  const auto limit = limit_param(req, 100, 1000, bad);
  if (!limit) return reply(bad);
  std::vector<std::string> types;
  if (auto t = req.param("types")) {
    std::stringstream ss(*t);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) types.push_back(item);
  }
  try {
    require_names("types", types, name_kind::type_pattern);
    std::optional<since_point> since;
    std::optional<std::int64_t> until;
    if (auto s = req.param("since")) since = parse_since(json(*s), hub_.timezone());
    if (auto u = req.param("until")) until = parse_until(json(*u), hub_.timezone());
    hub_.history(
        room, since, until, *limit, types,
        [this, reply](history_page page, const std::string& error) {
          if (!error.empty())
            return reply(json_error(503, "storage_error", "history unavailable: " + error));
          // The stored envelopes are JSON already (written by dump()): spliced in as they are,
          // not parsed and serialised again on the service thread.
          std::string body = "{\"epoch\":" + json_text(hub_.epoch()) + ",\"events\":[";
          for (std::size_t i = 0; i < page.events.size(); ++i) {
            if (i) body += ',';
            body += page.events[i].json;
          }
          body += "],\"next\":";
          body += page.more && !page.events.empty() ? std::to_string(page.events.back().seq)
                                                    : std::string("null");
          body += '}';
          reply({200, std::move(body), "application/json"});
        });
  } catch (const parse_error& e) {
    reply(json_error(400, "bad_request", e.what()));
  }
}

namespace {

// A publish body decoded by the DOM path: every shape, and every refusal with its message.
// Fills `many`, `reqs` and `per_item` (how many events each body item became); the refusal
// otherwise.
std::optional<http_response> decode_body_dom(const std::string& text, bool& many,
                                             std::vector<publish_request>& reqs,
                                             std::vector<std::size_t>& per_item) {
  std::string why;
  json body = rtev::parse_json(text, &why);
  if (body.is_discarded())
    return json_error(400, "bad_json", "the request body is not valid JSON: " + why);
  many = body.is_array();
  if (many && body.empty()) return json_error(400, "bad_request", "the event list is empty");
  try {
    const json items = many ? body : json::array({body});
    for (std::size_t i = 0; i < items.size(); ++i) {
      try {
        auto r = parse_publish(items[i]);
        per_item.push_back(r.size());
        for (auto& x : r) reqs.push_back(std::move(x));
      } catch (const parse_error& e) {
        const std::string& path = e.path();
        std::string msg = e.what();
        if (!path.empty()) msg = msg.substr(path.size() + 2);
        const std::string where =
            many ? "[" + std::to_string(i) + "]" + (path.empty() ? "" : "." + path) : path;
        throw parse_error(where, msg);
      }
    }
  } catch (const parse_error& e) {
    return json_error(400, "bad_request", e.what());
  }
  return std::nullopt;
}

}  // namespace

void http_api::publish(const http_request& req, const std::function<void(http_response)>& reply) {
  if (auto refused = key_refusal(req)) return reply(*refused);
  bool many = false;
  std::vector<publish_request> reqs;
  std::vector<std::size_t> per_item;  // how many events each body item became
  // Events for rooms and broadcasts without a JSON tree (publish_frame.hpp), the rest and every
  // refusal by the DOM path.
  if (auto body = decode_publish_body(req.body, req.body.capacity())) {
    many = body->many;
    reqs = std::move(body->events);
    per_item.assign(reqs.size(), 1);
  } else if (auto refused = decode_body_dom(req.body, many, reqs, per_item)) {
    return reply(*refused);
  }
  hub_.publish(std::move(reqs), [reply, many, per_item](publish_outcome out) {
    // Group results back per body item: user_ids fans one item out to several events.
    json list = json::array();
    std::size_t k = 0;
    for (std::size_t n : per_item) {
      if (n == 1)
        list.push_back(publish_result_json(out.results[k]));
      else {
        json group = json::array();
        for (std::size_t j = 0; j < n; ++j)
          group.push_back(publish_result_json(out.results[k + j]));
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
