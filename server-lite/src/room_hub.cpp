#include "room_hub.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <nlohmann/json.hpp>

#include "names.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/time.hpp"

namespace rtev::server_lite {

using json = nlohmann::json;

namespace {

bool any_glob_matches(const std::vector<std::string>& globs, const std::string& text) {
  if (globs.empty()) return true;
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return glob_match(g, text); });
}

}  // namespace

bool subscription::matches_room(const std::string& room) const {
  if (room.empty()) return broadcasts;
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return glob_match(p, room); });
}

bool subscription::matches(const shared_event& e) const {
  return matches_room(e.room) && any_glob_matches(types, e.type);
}

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
  auto result = auth_.authenticate(token, "anon-" + std::to_string(c.id),
                                   std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
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
  return {};
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

connection_info room_hub::info_of(const connection& c) const {
  connection_info i;
  i.user_id = c.who->user_id;
  i.connection_id = std::to_string(c.id);
  i.roles = c.who->roles;
  i.timezone = cfg_.timezone;
  i.server_time = now_rfc3339();
  i.epoch = store_.epoch();
  i.last_seq = frontier_;
  i.anonymous = c.who->anonymous;
  i.presence = c.presence;
  i.rate_limit = rate_limit();
  return i;
}

std::size_t room_hub::connection_count(conn_kind kind) const {
  return static_cast<std::size_t>(std::count_if(
      conns_.begin(), conns_.end(), [kind](const auto& kv) { return kv.second->kind == kind; }));
}

void room_hub::join_automatic(connection& c) {
  subscription user_sub;
  user_sub.automatic = true;
  user_sub.patterns.push_back("user:" + c.who->user_id);
  for (const auto& r : c.who->roles) user_sub.patterns.push_back("role:" + r);
  // Automatic rooms are only those that are valid names (a user id with a space has none).
  user_sub.patterns.erase(std::remove_if(user_sub.patterns.begin(), user_sub.patterns.end(),
                                         [](const std::string& p) { return !is_valid_room(p); }),
                          user_sub.patterns.end());
  if (user_sub.patterns.empty()) return;
  c.subs.push_front(user_sub);
  index_subscription(c, c.subs.front());
}

void room_hub::index_subscription(connection& c, const subscription& s) {
  for (const auto& p : s.patterns) {
    if (is_glob(p)) {
      glob_conns_.insert(&c);
    } else if (room_index_[p].insert(&c).second) {
      c.indexed.push_back(p);
    }
  }
}

void room_hub::unindex_connection(connection& c) {
  // By what was indexed, not by the current subscriptions: callers may have changed those
  // already (UNSUBSCRIBE, a replaced SUBSCRIBE), and a stale entry would dangle.
  for (const auto& p : c.indexed) {
    auto it = room_index_.find(p);
    if (it == room_index_.end()) continue;
    it->second.erase(&c);
    if (it->second.empty()) room_index_.erase(it);
  }
  c.indexed.clear();
  glob_conns_.erase(&c);
}

void room_hub::reindex(connection& c) {
  unindex_connection(c);
  for (const auto& s : c.subs) index_subscription(c, s);
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
  if (want && present_[*want]++ == 0) publish_presence("user_online", *want);
  if (old) presence_leave(*old);
}

void room_hub::presence_leave(const std::string& user_id) {
  auto it = present_.find(user_id);
  if (it == present_.end()) return;
  if (--it->second == 0) {
    present_.erase(it);
    publish_presence("user_offline", user_id);
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
  ev->json = env.dump(-1, ' ', false, json::error_handler_t::replace);
  ev->type = type;
  ev->room = "presence";
  deliver(ev);
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

std::size_t room_hub::room_count() const {
  return room_index_.size();
}

// --- outgoing ------------------------------------------------------------------------------

// Also while closing: handle() takes no new work then, so what arrives here are the replies
// to work accepted before (a publish's ACK) and the reason for the close.
void room_hub::send(connection& c, const hub_reply& r) {
  if (!c.codec.encode) return;
  std::vector<frame_ptr> frames;
  c.codec.encode(c, r, frames);
  if (frames.empty()) return;
  for (auto& f : frames) c.queue.push_back(outgoing{nullptr, std::move(f)});
  c.wake();
}

void room_hub::send_error(connection& c, const op_ref& ref, const std::string& code,
                          const std::string& message) {
  send(c, error_reply{ref, code, message, {}, {}});
}

void room_hub::enqueue_live(connection& c, const event_ptr& e) {
  if (c.closing) return;
  if (c.live_queued >= cfg_.send_queue_max) {
    ++dropped_;
    close_connection(c, close_code::slow_consumer, "slow consumer");
    return;
  }
  c.queue.push_back(outgoing{e, nullptr, true});
  ++c.live_queued;
  ++delivered_;
  c.wake();
}

void room_hub::deliver(const event_ptr& e, const connection* except) {
  const std::uint64_t round = ++marker_;
  auto consider = [&](connection* c) {
    if (c == except || c->marker == round || !c->who || c->closing) return;
    if (c->codec.accepts && !c->codec.accepts(*e)) return;
    c->marker = round;
    bool live = false;
    for (auto& s : c->subs) {
      if (!s.matches(*e)) continue;
      // A replaying subscription brings this event after its history, in seq order: delivering
      // it live now as well (through another subscription) would put it ahead of older events.
      if (s.replaying) return hold(s, e);
      live = true;
    }
    if (live) enqueue_live(*c, e);
  };
  if (e->room.empty()) {
    // A broadcast reaches every authenticated connection.
    for (auto& [id, c] : conns_) {
      if (c.get() == except || !c->who || c->closing) continue;
      if (c->codec.accepts && !c->codec.accepts(*e)) continue;
      const auto replaying =
          std::find_if(c->subs.begin(), c->subs.end(),
                       [&](const subscription& s) { return s.replaying && s.matches(*e); });
      if (replaying != c->subs.end())
        hold(*replaying, e);
      else
        enqueue_live(*c, e);
    }
    return;
  }
  if (auto it = room_index_.find(e->room); it != room_index_.end())
    for (connection* c : it->second) consider(c);
  for (connection* c : glob_conns_) consider(c);
}

std::optional<outgoing> room_hub::next_outgoing(connection& c) {
  if (c.queue.empty()) return std::nullopt;
  outgoing o = std::move(c.queue.front());
  c.queue.pop_front();
  if (o.live) --c.live_queued;
  // Refill replay pages once the queue has drained below half.
  if (c.queue.size() < std::max<std::size_t>(1, cfg_.send_queue_max / 2) && !c.closing)
    for (auto& s : c.subs)
      if (s.replaying) pump_replay(c, s);
  return o;
}

// --- replay --------------------------------------------------------------------------------

void room_hub::start_replay(connection& c, subscription& s, const since_point& since,
                            const std::optional<std::string>& epoch) {
  const store_stats st = store_.stats();
  s.recovered = true;
  if (epoch && *epoch != store_.epoch()) {
    // The client's history came from another store: nothing here continues it.
    s.recovered = false;
    finish_replay(c, s);
    return;
  }
  if (since.seq) {
    if (*since.seq > frontier_) {
      s.recovered = false;  // the client saw events this store never had
      finish_replay(c, s);
      return;
    }
    if (st.pruned_through > *since.seq) s.recovered = false;
    s.cursor = *since.seq;
  } else if (since.time_us) {
    if (st.pruned_before_us > *since.time_us) s.recovered = false;
    s.since_us = since.time_us;
  }
  s.replaying = true;
  pump_replay(c, s);
}

void room_hub::hold(subscription& s, const event_ptr& e) {
  if (s.held_overflow) return;
  if (s.held.size() >= max_held) {
    s.held.clear();
    s.held_overflow = true;
    return;
  }
  s.held.push_back(e);
}

void room_hub::pump_replay(connection& c, subscription& s) {
  if (s.page_pending || c.closing) return;
  constexpr std::size_t page = 256;
  // The store reads exact rooms through its (room, seq) index; the hub filters again (globs,
  // an SSE stream's types) so what is queued is exactly what live delivery would send.
  history_query q;
  q.rooms = s.patterns;
  q.include_broadcasts = s.broadcasts || s.patterns.empty();
  q.after_seq = s.cursor;
  q.since_us = s.since_us;
  q.max_seq = frontier_;
  q.types = s.types;
  q.limit = page;
  if (s.id == 0) s.id = next_sub_id_++;
  s.page_pending = true;
  reader_->submit(std::move(q), [this, conn = c.id, sub = s.id, max_seq = frontier_](
                                    history_page&& got, std::string&& error) {
    post_([this, conn, sub, max_seq, got = std::move(got), error = std::move(error)]() mutable {
      on_replay_page(conn, sub, max_seq, std::move(got), error);
    });
  });
}

void room_hub::on_replay_page(conn_id conn, std::uint64_t sub, std::uint64_t max_seq,
                              history_page got, const std::string& error) {
  connection* c = find(conn);
  if (!c || c->closing) return;
  const auto it = std::find_if(c->subs.begin(), c->subs.end(),
                               [&](const subscription& x) { return x.id == sub; });
  if (it == c->subs.end() || !it->replaying) return;  // unsubscribed or replaced meanwhile
  subscription& s = *it;
  s.page_pending = false;
  if (!error.empty()) {
    // Without its history the stream would have a hole: the client reconnects and resumes.
    close_connection(*c, close_code::server_error, "history unavailable: " + error);
    return;
  }
  bool queued = false;
  auto queue = [&](event_ptr ev) {
    s.cursor = ev->seq;
    if (!s.matches(*ev)) return;
    if (c->codec.accepts && !c->codec.accepts(*ev)) return;
    c->queue.push_back(outgoing{std::move(ev), nullptr});
    ++s.replayed;
    queued = true;
  };
  for (auto& e : got.events) {
    auto ev = std::make_shared<shared_event>();
    ev->json = std::move(e.json);
    ev->type = std::move(e.type);
    ev->room = std::move(e.room);
    ev->seq = e.seq;
    queue(std::move(ev));
  }
  if (got.more) {
    if (queued) c->wake();
    // The next page is asked for as the queue drains (next_outgoing); at once if this page
    // queued little (its events were filtered out).
    if (c->queue.size() < std::max<std::size_t>(1, cfg_.send_queue_max / 2)) pump_replay(*c, s);
    return;
  }
  if (s.held_overflow) {
    // More was committed during the read than the hold keeps: read on from the store (live-only
    // events among them — typing, presence — are lost, as for a slow consumer).
    s.held_overflow = false;
    s.held.clear();
    s.cursor = std::max(s.cursor, max_seq);
    if (queued) c->wake();
    pump_replay(*c, s);
    return;
  }
  // Everything up to max_seq came from the store; what was committed since was held.
  s.cursor = std::max(s.cursor, max_seq);
  std::vector<event_ptr> held = std::move(s.held);
  s.held.clear();
  for (auto& ev : held) {
    if (ev->seq == 0) {
      // Live-only (typing, presence): never in the store, so always from the hold.
      const std::uint64_t cursor = s.cursor;
      queue(std::move(ev));
      s.cursor = cursor;
    } else if (ev->seq > s.cursor) {
      queue(std::move(ev));
    }
  }
  if (queued) c->wake();
  finish_replay(*c, s);
}

void room_hub::finish_replay(connection& c, subscription& s) {
  s.replaying = false;
  // Everything up to the frontier has now been queued (or was before the subscription):
  // from here on, live delivery continues seamlessly.
  if (s.ack_after_replay) {
    s.ack_after_replay = false;
    send(c, subscribed_reply{s.ref, s.patterns.empty() ? "" : s.patterns.front(), s.replayed,
                             s.recovered, store_.epoch(), frontier_});
  }
}

// --- SSE -----------------------------------------------------------------------------------

std::string room_hub::open_sse(connection& c, const std::vector<std::string>& rooms,
                               const std::optional<since_point>& start) {
  require_names("rooms", rooms, name_kind::room_pattern);
  for (const auto& r : rooms)
    if (auto why = join_refusal(*c.who, auth_.mode(), r); !why.empty()) return why;
  subscription s;
  if (rooms.empty()) {
    // What a WebSocket client sees by default: its own rooms, and broadcasts.
    for (auto& sub : c.subs)
      if (sub.automatic) s.patterns = sub.patterns;
    s.automatic = true;
  } else {
    s.patterns = rooms;
  }
  c.subs.clear();
  s.broadcasts = true;
  c.subs.push_back(std::move(s));
  reindex(c);
  if (start) start_replay(c, c.subs.back(), *start, std::nullopt);
  return {};
}

// --- time and history ----------------------------------------------------------------------

std::string room_hub::now_rfc3339() const {
  return rtev::time::format_rfc3339(rtev::time::now(), cfg_.timezone);
}

void room_hub::history(const std::string& room, const std::optional<since_point>& since,
                       std::optional<std::int64_t> until_us, std::size_t limit,
                       const std::vector<std::string>& types, history_done done) {
  history_query q;
  if (!room.empty()) q.rooms.push_back(room);
  q.include_broadcasts = room.empty();
  if (since) {
    q.after_seq = since->seq;
    q.since_us = since->time_us;
  }
  q.until_us = until_us;
  q.max_seq = frontier_;
  q.types = types;
  q.limit = std::clamp<std::size_t>(limit, 1, 1000);
  reader_->submit(std::move(q),
                  [this, done = std::move(done)](history_page&& page, std::string&& error) mutable {
                    post_([done = std::move(done), page = std::move(page),
                           error = std::move(error)]() mutable { done(std::move(page), error); });
                  });
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
