// room_hub's history: replaying a subscription from a position (pages read off the service
// thread, live events held meanwhile, the two joined without a gap), an SSE stream's
// subscription, and history queries. Service thread only (room_hub.hpp).

#include <algorithm>

#include "names.hpp"
#include "room_hub.hpp"

namespace rtev::server_lite {

// --- replay --------------------------------------------------------------------------------

void room_hub::start_replay(connection& c, subscription& s, const since_point& since,
                            const std::optional<std::string>& epoch) {
  const store_stats st = engine_.stats();
  s.recovered = true;
  if (epoch && *epoch != engine_.epoch()) {
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
  // the door's filter: an SSE stream's types) so what is queued is exactly what live delivery
  // would send.
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
  engine_.query(std::move(q), [this, conn = c.id, sub = s.id, max_seq = frontier_](
                                  history_page got, const std::string& error) {
    on_replay_page(conn, sub, max_seq, std::move(got), error);
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
                             s.recovered, engine_.epoch(), frontier_});
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
  engine_.query(std::move(q),
                [done = std::move(done)](history_page page, const std::string& error) {
                  done(std::move(page), error);
                });
}
}  // namespace rtev::server_lite
