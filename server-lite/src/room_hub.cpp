// room_hub's connections: opening, closing and killing them, authentication, presence
// (user_online/user_offline, PRESENCE), and the timers (auth and ping time-outs, heartbeats,
// stalled closes, the idempotency window). Service thread only (room_hub.hpp).

#include "room_hub.hpp"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "names.hpp"
#include "reply_json.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/time.hpp"

namespace rtev::server_lite {

using json = nlohmann::json;

// --- connections ---------------------------------------------------------------------------

connection& room_hub::open(conn_kind kind, std::string remote, std::function<void()> wake,
                           std::function<void()> kill, door_codec codec) {
  auto c = std::make_unique<connection>();
  c->id = next_conn_id_++;
  c->kind = kind;
  c->remote = std::move(remote);
  c->wake = std::move(wake);
  c->kill = std::move(kill);
  c->codec = std::move(codec);
  c->opened = c->refilled = c->last_ping = c->last_heartbeat = c->last_writeable = steady::now();
  c->tokens = cfg_.burst;
  connection& ref = *c;
  conns_.emplace(ref.id, std::move(c));
  return ref;
}

connection* room_hub::find(conn_id id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void room_hub::closed(conn_id id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  connection& c = *it->second;
  unindex_connection(c);
  std::optional<std::string> user;
  if (c.who) user = c.who->user_id;
  std::optional<std::string> present = std::move(c.present_as);
  conns_.erase(it);
  if (user) user_disconnected(*user);
  if (present) presence_leave(*present);
}

void room_hub::release_all() {
  std::vector<conn_id> ids;
  ids.reserve(conns_.size());
  for (const auto& [id, c] : conns_) ids.push_back(id);
  for (const conn_id id : ids) closed(id);
}

void room_hub::close_connection(connection& c, int code, std::string reason) {
  if (c.closing) return;
  c.closing.emplace(code, std::move(reason));
  c.closing_since = steady::now();
  // Events are not sent after a close: free them now (a stalled peer may hold megabytes).
  fifo<outgoing> keep;
  for (auto& o : c.queue)
    if (o.control) keep.push_back(std::move(o));
  c.queue.swap(keep);
  c.live_queued = 0;
  c.wake();
}

std::string room_hub::authenticate(connection& c, const std::string& token, bool announce,
                                   const op_ref& ref) {
  return adopt(c,
               auth_.authenticate(token, "anon-" + name_of(c),
                                  std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count()),
               announce, ref);
}

std::string room_hub::adopt(connection& c, auth_result result, bool announce, const op_ref& ref) {
  if (!result.who) {
    if (announce) {
      // Every reply to a request names it: an `authenticate` with a ref gets it back.
      send(c, auth_error_reply{ref, {}, result.error});
      close_connection(c, close_code::policy, "authentication failed");
    }
    return result.error;
  }
  const bool was = c.who.has_value();
  std::optional<std::string> old_user;
  if (was) old_user = c.who->user_id;
  // Re-authentication replaces the identity and its automatic rooms.
  if (was) c.subs.remove_if([](const subscription& s) { return s.automatic; });
  c.who = std::move(result.who);
  if (was) drop_refused_rooms(c);
  if (was) reindex(c);
  join_automatic(c);
  if (!was || *old_user != c.who->user_id) {
    user_connected(*c.who);
    if (old_user) user_disconnected(*old_user);
  }
  update_presence(c);
  if (announce) send(c, authenticated_reply{ref, info_of(c)});
  // A door that does not announce (SSE; Socket.IO, whose door says it in its handshake) hears
  // the status as its own message; `authenticated` carries it otherwise.
  if (!announce && !was)
    if (auto st = status_notice()) send(c, *st);
  return {};
}

std::optional<server_status_reply> room_hub::status_notice() const {
  if (!degraded_) return std::nullopt;
  return server_status_reply{{}, false, *degraded_, now_rfc3339()};
}

void room_hub::service_status(bool ok, const std::string& reason) {
  if (ok == !degraded_) return;
  if (ok)
    degraded_.reset();
  else
    degraded_ = reason;
  const server_status_reply r{{}, ok, reason, now_rfc3339()};
  for (auto& [id, c] : conns_)
    if (c->who && !c->closing) send(*c, r);
}

void room_hub::drop_refused_rooms(connection& c) {
  // The new identity may allow fewer rooms (a token with a narrower rooms claim, another user,
  // a role less): subscriptions it would refuse end, and the client hears which, one ERROR
  // forbidden per room, so it never believes it still follows a room it no longer gets.
  for (auto it = c.subs.begin(); it != c.subs.end();) {
    auto& pats = it->patterns;
    for (auto p = pats.begin(); p != pats.end();) {
      std::string why = join_refusal(*c.who, auth_.mode(), *p);
      if (why.empty()) {
        ++p;
        continue;
      }
      send(c, error_reply{{},
                          "forbidden",
                          "unsubscribed from '" + *p + "' after re-authentication: " + why,
                          "SUBSCRIBE",
                          *p});
      p = pats.erase(p);
    }
    it = pats.empty() ? c.subs.erase(it) : std::next(it);
  }
}

// With --broker, connection numbers repeat from node to node: the node's id makes them (and the
// anonymous users named after them) unique in the cluster.
std::string room_hub::name_of(const connection& c) const {
  const std::string node = engine_.node_id();
  return node.empty() ? std::to_string(c.id) : node + "-" + std::to_string(c.id);
}

connection_info room_hub::info_of(const connection& c) const {
  connection_info i;
  i.user_id = c.who->user_id;
  i.connection_id = name_of(c);
  i.roles = c.who->roles;
  i.timezone = cfg_.timezone;
  i.server_time = now_rfc3339();
  i.epoch = engine_.epoch();
  i.last_seq = frontier_;
  i.anonymous = c.who->anonymous;
  i.presence = c.presence;
  i.rate_limit = rate_limit();
  i.degraded = degraded_;
  return i;
}

std::size_t room_hub::connection_count(conn_kind kind) const {
  return static_cast<std::size_t>(std::count_if(
      conns_.begin(), conns_.end(), [kind](const auto& kv) { return kv.second->kind == kind; }));
}

// --- presence ------------------------------------------------------------------------------

void room_hub::user_connected(const identity& who) {
  ++users_[who.user_id];
}

void room_hub::user_disconnected(const std::string& user_id) {
  auto it = users_.find(user_id);
  if (it != users_.end() && --it->second == 0) users_.erase(it);
}

// Presence follows the connections that count for it: a connection with presence off (a
// client that only publishes) neither announces its user nor keeps it online.
void room_hub::update_presence(connection& c) {
  std::optional<std::string> want;
  if (c.who && c.presence) want = c.who->user_id;
  if (want == c.present_as) return;
  std::optional<std::string> old = std::exchange(c.present_as, want);
  if (want && present_[*want]++ == 0) engine_.presence(*want, true);
  if (old) presence_leave(*old);
}

void room_hub::presence_leave(const std::string& user_id) {
  auto it = present_.find(user_id);
  if (it == present_.end()) return;
  if (--it->second == 0) {
    present_.erase(it);
    engine_.presence(user_id, false);
  }
}

void room_hub::publish_presence(const char* type, const std::string& user_id) {
  const std::string stamp = now_rfc3339();
  if (cfg_.store_presence) {
    publish_request r;
    r.type = type;
    r.room = "presence";
    r.data = json{{"user_id", user_id}, {"timestamp", stamp}}.dump();
    publish({std::move(r)}, nullptr);
    return;
  }
  // Live-only (the default): like a typing indicator, not stored, no id and no seq — so it
  // takes no place in history, replay or recordings, and leaves no hole in the seq order.
  json env = {{"type", type},
              {"room", "presence"},
              {"timestamp", stamp},
              {"timezone", cfg_.timezone},
              {"data", {{"user_id", user_id}, {"timestamp", stamp}}}};
  auto ev = std::make_shared<shared_event>();
  ev->json = json_text(env);
  ev->type = type;
  ev->room = "presence";
  deliver(ev);
  engine_.share(ev);
}

std::vector<presence_entry> room_hub::presence_of(const std::string& room) const {
  std::map<std::string, std::size_t> users;
  for (const auto& [id, c] : conns_) {
    if (!c->who || c->closing || !c->presence) continue;
    for (const auto& s : c->subs)
      if (s.matches_room(room)) {
        ++users[c->who->user_id];
        break;
      }
  }
  std::vector<presence_entry> list;
  list.reserve(users.size());
  for (const auto& [u, n] : users) list.push_back({u, n});
  return list;
}

node_report room_hub::report(const node_question& q) {
  node_report r;
  r.node = engine_.node_id();
  switch (q.what) {
    case node_question::kind::presence:
      r.users = presence_of(q.arg);
      break;
    case node_question::kind::user:
      if (const std::size_t n = user_connections(q.arg)) r.users.push_back({q.arg, n});
      break;
    case node_question::kind::kick:
      if (const std::size_t n = kick_user(q.arg)) r.users.push_back({q.arg, n});
      break;
    case node_question::kind::stats:
      r.connections = conns_.size();
      if (!r.node.empty()) {  // a cluster counts users and rooms once across its nodes
        r.user_ids.reserve(present_.size());
        for (const auto& [u, n] : present_) r.user_ids.push_back(u);
        r.rooms.reserve(room_index_.size());
        for (const auto& [room, members] : room_index_) r.rooms.push_back(room);
      }
      r.published = accepted_;
      r.delivered = delivered_;
      r.dropped = dropped_;
      r.uptime_s = std::chrono::duration<double>(steady::now() - started_).count();
      break;
  }
  return r;
}

std::size_t room_hub::user_connections(const std::string& user_id) const {
  auto it = users_.find(user_id);
  return it == users_.end() ? 0 : it->second;
}

std::size_t room_hub::kick_user(const std::string& user_id) {
  std::size_t n = 0;
  for (auto& [id, c] : conns_)
    if (c->who && c->who->user_id == user_id && !c->closing) {
      close_connection(*c, close_code::kicked, "disconnected by an administrator");
      ++n;
    }
  return n;
}

std::size_t room_hub::authenticated_users() const {
  return users_.size();
}

// --- time and history ----------------------------------------------------------------------

std::string room_hub::now_rfc3339() const {
  return rtev::time::format_rfc3339(rtev::time::now(), cfg_.timezone);
}

// --- timers --------------------------------------------------------------------------------

bool room_hub::rate_ok(connection& c, steady::time_point now) {
  const double elapsed = std::chrono::duration<double>(now - c.refilled).count();
  c.refilled = now;
  c.tokens = std::min(cfg_.burst, c.tokens + elapsed * cfg_.rate);
  if (c.tokens >= 1.0) {
    c.tokens -= 1.0;
    return true;
  }
  // Sustained abuse — more rejections in the last 10 s than 10 s worth of the allowed rate
  // (at least 20) — closes the connection.
  c.limited.push_back(now);
  while (!c.limited.empty() && now - c.limited.front() > std::chrono::seconds(10))
    c.limited.pop_front();
  if (static_cast<double>(c.limited.size()) > std::max(20.0, cfg_.rate * 10))
    close_connection(c, close_code::policy, "rate limit exceeded");
  return false;
}

void room_hub::tick(steady::time_point now) {
  // A closing connection whose transport has taken no bytes for the ping time-out is stalled:
  // its close frame would never go out. Killed after the loop (kill() must not run into
  // closed() while conns_ is being walked).
  std::vector<connection*> stalled;
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  for (auto& [id, cp] : conns_) {
    connection& c = *cp;
    if (c.closing) {
      if (c.kill && !c.killed && !c.close_handed &&
          now - std::max(c.closing_since, c.last_writeable) >= cfg_.ping_timeout)
        stalled.push_back(&c);
      continue;
    }
    // A JWT's exp holds for the whole connection, not just its start (RFC 7519 4.1.4): past
    // it, the client must come back with a fresh token.
    if (c.who && c.who->expires_at && now_s >= *c.who->expires_at) {
      send(c, auth_error_reply{{}, "token_expired", "token expired: reconnect with a fresh token"});
      close_connection(c, close_code::policy, "token_expired");
      continue;
    }
    if (!c.who && now - c.opened >= cfg_.auth_timeout) {
      send(c, auth_error_reply{{}, {}, "authentication timed out"});
      close_connection(c, close_code::policy, "authentication timed out");
      continue;
    }
    if (c.codec.pings) {
      if (c.ping_outstanding && now - c.last_ping >= cfg_.ping_timeout) {
        close_connection(c, close_code::policy, "ping timeout");
        // Not even the ping could be written since: the peer does not read, drop it now.
        if (c.kill && c.last_writeable < c.last_ping) stalled.push_back(&c);
        continue;
      }
      if (!c.ping_outstanding && now - c.last_ping >= cfg_.ping_interval) {
        c.ping_due = true;
        c.ping_outstanding = true;
        c.last_ping = now;
        c.wake();
      }
    } else if (now - c.last_heartbeat >= cfg_.sse_heartbeat) {
      c.heartbeat_due = true;
      c.last_heartbeat = now;
      c.wake();
    }
  }
  for (connection* c : stalled) {
    c->killed = true;
    c->kill();
  }
  while (!recent_order_.empty() && now - recent_order_.front().first > cfg_.idempotency_window) {
    auto it = recent_ids_.find(recent_order_.front().second);
    if (it != recent_ids_.end() && it->second.committed &&
        it->second.at == recent_order_.front().first)
      recent_ids_.erase(it);
    recent_order_.pop_front();
  }
}

void room_hub::shutdown() {
  for (auto& [id, c] : conns_) close_connection(*c, close_code::going_away, "server shutting down");
}
}  // namespace rtev::server_lite
