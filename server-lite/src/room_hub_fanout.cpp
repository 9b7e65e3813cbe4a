// room_hub's fan-out and per-connection queues: replies encoded by the connection's door,
// live events matched through the subscription index, the send-queue bound, and the queue the
// transports drain (which pumps replay as it empties). Service thread only (room_hub.hpp).

#include <algorithm>

#include "room_hub.hpp"

namespace rtev::server_lite {

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
}  // namespace rtev::server_lite
