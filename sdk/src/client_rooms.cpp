// rtev::client's rooms (client::impl): join() / leave(), room subscription objects
// (client.subscribe) and their states, SUBSCRIBE with the recovery point (or the first `since`)
// of each joined pattern, and arriving events — seq dedupe and recovery points — on their way to
// dispatch. See client_impl.hpp.

#include "client_impl.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rtev {

// --- room subscription objects (client.subscribe) -----------------------------------------------

void client::impl::set_room_state(const std::shared_ptr<detail::room_entry>& r, room_state state,
                                  std::optional<client_error> err) {
  if (!r->active) return;  // unsubscribe()d: nothing is called any more
  // Never back from unsubscribed (unsubscribe() on another thread may have just set it).
  room_state now = r->state.load();
  do {
    if (now == state || now == room_state::unsubscribed) return;
  } while (!r->state.compare_exchange_weak(now, state));
  to_app([this, r, info = room_state_info{state, std::move(err)}] {
    if (r->released) return;  // unsubscribe()d before this task ran (an executor's queue)
    for (auto& e : reg->snapshot())
      if (e->on_room_state && e->active && e->scope == r)
        call_guarded([&] { e->on_room_state(info); }, nullptr);
  });
}

// The first-join future: joined, or failed (each settles it once).
void client::impl::settle_joined(detail::room_entry& r, const join_info& j) {
  if (r.first_set) return;
  r.first_set = true;
  r.first.set_value(j);
}

void client::impl::settle_failed(detail::room_entry& r, const client_error& err) {
  if (r.first_set) return;
  r.first_set = true;
  r.first.set_exception(std::make_exception_ptr(request_error(err)));
}

// It ends for good: refused (the server's error) or the client's end.
void client::impl::end_room(const std::shared_ptr<detail::room_entry>& r, const client_error& err) {
  if (r->active && err.what == client_error::kind::server)
    to_app([this, r, err] {
      if (r->released) return;
      for (auto& e : reg->snapshot())
        if (e->on_room_error && e->active && e->scope == r)
          call_guarded([&] { e->on_room_error(err); }, nullptr);
    });
  set_room_state(r, room_state::unsubscribed, err);  // (not when unsubscribe()d already)
  settle_failed(*r, err);
  r->active = false;
}

void client::impl::add_room(const std::shared_ptr<detail::room_entry>& r) {
  if (ended) return end_room(r, closed_error("'" + r->room + "' was not joined"));
  if (!r->active) return;  // unsubscribed before it got here
  room_objects[r->room].push_back(r);
  if (rooms.insert(r->room).second) return subscribe(r->room);
  // Held already: joined on this connection, or its SUBSCRIBE answer is still to come.
  if (auto j = joined_now.find(r->room); j != joined_now.end()) {
    set_room_state(r, room_state::subscribed);
    settle_joined(*r, j->second);
    return;
  }
  // Held by join() but refused on this connection, nothing asked since: the object asks again
  // (and learns the answer) instead of waiting for the next connection.
  const bool asked = std::any_of(subscribe_refs.begin(), subscribe_refs.end(),
                                 [&](const auto& ref) { return ref.second == r->room; });
  if (!asked) subscribe(r->room);
}

void client::impl::release_room(const std::shared_ptr<detail::room_entry>& r) {
  const client_error err =
      make_error(client_error::kind::connection, "unsubscribed from '" + r->room + "'");
  settle_failed(*r, err);
  auto it = room_objects.find(r->room);
  if (it == room_objects.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), r), list.end());
  if (!list.empty()) return;
  room_objects.erase(it);
  if (joined_rooms.count(r->room)) return;
  // The automatic user:/role: rooms stay joined (the server joined them, not the object).
  if (std::find(auto_rooms.begin(), auto_rooms.end(), r->room) != auto_rooms.end()) {
    rooms.erase(r->room);
    return;
  }
  leave_room(r->room);
}

void client::impl::leave_room(const std::string& room) {
  if (!rooms.erase(room)) return;
  pattern_seq.erase(room);
  joined_now.erase(room);
  // Joined again later, it starts afresh: its `since` applies, its replay is not deduped.
  initial_since_used.erase(room);
  room_seq.erase(room);
  if (authenticated) send_frame(json{{"type", "UNSUBSCRIBE"}, {"data", {{"room", room}}}});
}

void client::impl::rooms_joined(const join_info& j) {
  joined_now[j.room] = j;
  auto it = room_objects.find(j.room);
  if (it == room_objects.end()) return;
  // A copy: a state handler may destroy the client, which empties room_objects.
  const auto list = it->second;
  for (const auto& r : list) {
    if (reg->detached) return;
    set_room_state(r, room_state::subscribed);  // first: whoever waits for joined() sees it
    settle_joined(*r, j);
  }
}

void client::impl::rooms_refused(const std::string& pattern, const client_error& err) {
  auto it = room_objects.find(pattern);
  if (it == room_objects.end()) return;
  auto list = std::move(it->second);
  room_objects.erase(it);
  for (auto& r : list) end_room(r, err);
  if (!joined_rooms.count(pattern)) {
    rooms.erase(pattern);
    pattern_seq.erase(pattern);
  }
}

void client::impl::rooms_lost() {
  joined_now.clear();
  std::vector<std::shared_ptr<detail::room_entry>> all;  // (a handler may destroy the client)
  for (const auto& [pattern, list] : room_objects) all.insert(all.end(), list.begin(), list.end());
  for (const auto& r : all) {
    if (reg->detached) return;
    set_room_state(r, room_state::subscribing);
  }
}

void client::impl::rooms_closed(const client_error& err) {
  auto all = std::move(room_objects);
  room_objects.clear();
  for (auto& [pattern, list] : all)
    for (auto& r : list) end_room(r, err);
}

// --- subscriptions and recovery -----------------------------------------------------------------

void client::impl::subscribe(const std::string& pattern) {
  if (!authenticated) return;
  json data = {{"room", pattern}};
  if (!opt.types.empty()) data["types"] = opt.types;
  auto it = pattern_seq.find(pattern);
  if (opt.recover && it != pattern_seq.end()) {
    data["since"] = it->second;
    if (epoch) data["epoch"] = *epoch;
  } else if (!initial_since_used.count(pattern)) {
    // The first subscription of this room starts there — again on the next connection if
    // this one ends before the server answered and before any of its events arrived.
    const auto own = opt.room_since.find(pattern);
    const json* first = own != opt.room_since.end() ? &own->second : &opt.since;
    if (auto o = room_objects.find(pattern); o != room_objects.end())
      for (const auto& r : o->second)
        if (!r->since.is_null()) {
          first = &r->since;
          break;
        }
    if (!first->is_null()) data["since"] = *first;
  }
  const std::string ref = new_ref('s');
  subscribe_refs[ref] = pattern;
  if (epoch_restarts.erase(pattern)) epoch_restart_refs.insert(ref);
  subscribe_since[ref] =
      opt.recover && it != pattern_seq.end() ? std::optional(it->second) : std::nullopt;
  send_frame(json{{"type", "SUBSCRIBE"}, {"ref", ref}, {"data", data}});
}

void client::impl::on_event_message(json&& j) {
  if (j.contains("history") && j.contains("ref") && j["ref"].is_string()) {
    if (expired_histories.count(j["ref"].get<std::string>())) return;
    auto it = histories.find(j["ref"].get<std::string>());
    if (it != histories.end()) {
      j.erase("history");
      j.erase("ref");
      try {
        it->second.result.events.push_back(event::from_json(j));
      } catch (const parse_error& e) {
        report(make_error(client_error::kind::protocol, std::string("history event: ") + e.what()));
      }
      return;
    }
  }
  event e;
  try {
    e = event::from_json(j);
  } catch (const parse_error& err) {
    report(
        make_error(client_error::kind::protocol, std::string("unreadable event: ") + err.what()));
    return;
  }
  deliver(std::move(e));
}

// Dedupe by seq (a replay overlapping what arrived live), advance recovery points, dispatch.
void client::impl::deliver(event&& e) {
  if (e.seq) {
    // Drop what was already delivered (a replay overlapping what arrived live before).
    auto& last = room_seq[e.room.value_or("")];
    if (*e.seq <= last) return;
    last = *e.seq;
    auto matches = [&](const std::string& pattern) {
      return e.room ? glob_match(pattern, *e.room) : pattern == "*";
    };
    for (auto& [pattern, seq] : pattern_seq)
      if (matches(pattern)) seq = std::max(seq, *e.seq);
    // A subscription not yet answered (its history still replaying, in seq order) has its
    // recovery point from its first event on: a connection lost now resumes after it
    // rather than starting over — or, worse, starting live and missing what came between.
    for (const auto& [ref, pattern] : subscribe_refs)
      if (!pattern_seq.count(pattern) && matches(pattern)) {
        pattern_seq[pattern] = *e.seq;
        initial_since_used.insert(pattern);
      }
  }
  ++stats.events;
  dispatch(e);
}

// --- public API ---------------------------------------------------------------------------------

void client::join(const std::string& room) {
  impl_->post([i = impl_.get(), room] {
    i->joined_rooms.insert(room);
    if (i->rooms.insert(room).second) i->subscribe(room);
  });
}

void client::leave(const std::string& room) {
  impl_->post([i = impl_.get(), room] {
    i->joined_rooms.erase(room);
    if (!i->room_objects.count(room)) i->leave_room(room);  // else the objects still hold it
  });
}

room_subscription client::subscribe(std::string room, room_options options) {
  if (room.empty()) throw config_error("subscribe: the room must not be empty");
  auto r = std::make_shared<detail::room_entry>();
  r->room = std::move(room);
  r->since = std::move(options.since);
  r->handlers = impl_->reg;
  r->release = [w = std::weak_ptr<impl>(impl_)](const std::shared_ptr<detail::room_entry>& e) {
    if (auto i = w.lock()) i->post([i = i.get(), e] { i->release_room(e); });
  };
  impl_->post([i = impl_.get(), r] { i->add_room(r); });
  return room_subscription(std::move(r));
}

}  // namespace rtev
