// rtev::client's requests (client::impl): the server's answers (ACK, ERROR) to every request —
// SUBSCRIBE, PUBLISH, HISTORY, PRESENCE (a PING's PONG: client_connection.cpp) — requests failed
// when a connection ends, the client closes or their time-out passes, and history(), presence()
// and ping(), whichever form (future or callback) they were made in. See client_impl.hpp.

#include "client_impl.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "requests.hpp"

namespace rtev {

// --- answers (ACK, ERROR) -----------------------------------------------------------------------

void client::impl::on_ack(const json& msg) {
  const std::string ref =
      msg.contains("ref") && msg["ref"].is_string() ? msg["ref"].get<std::string>() : "";
  const json& d = msg.contains("data") ? msg["data"] : json::object();
  const std::string op = d.value("op", "");
  if (op == "SUBSCRIBE") {
    auto it = subscribe_refs.find(ref);
    if (it == subscribe_refs.end()) return;
    const std::string pattern = it->second;
    const std::optional<std::uint64_t> since = subscribe_since[ref];
    subscribe_refs.erase(it);
    subscribe_since.erase(ref);
    const bool epoch_restart = epoch_restart_refs.erase(ref) > 0;
    initial_since_used.insert(pattern);
    const std::uint64_t last = d.value("last_seq", std::uint64_t{0});
    const std::uint64_t replayed = d.value("replayed", std::uint64_t{0});
    // Not a gap: a restart in a new store (its epoch notice was given), or a room that never
    // had an event (recovery point 0, nothing replayed) — the server's `recovered: false`
    // there only says that its retention has pruned something, in whatever room.
    if (!d.value("recovered", true) && since && !epoch_restart && (*since != 0 || replayed != 0)) {
      gap_info g;
      g.room = pattern;
      g.after_seq = *since;
      g.server_last_seq = last;
      g.epoch = epoch.value_or("");
      report_gap(std::move(g));
    }
    // Everything of this pattern up to the server's frontier has now been delivered.
    auto& seq = pattern_seq[pattern];
    seq = std::max(seq, last);
    const join_info j{pattern, replayed, d.value("recovered", true), last};
    report_joined(j);
    rooms_joined(j);
    return;
  }
  if (op == "PUBLISH") {
    for (auto it = publishes.begin(); it != publishes.end(); ++it)
      if (it->ref == ref) {
        publish_ack ack{d.value("id", it->id), d.value("seq", std::uint64_t{0}),
                        d.value("duplicate", false), d.value("acknowledged", true)};
        pending_publish p = std::move(*it);
        publishes.erase(it);
        stats.unacknowledged = publishes.size();
        stats.round_trip_us =
            std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - p.sent_at)
                .count();
        complete(p, &ack, nullptr);
        return;
      }
    return;
  }
  if (op == "PRESENCE") {
    auto it = presences.find(ref);
    if (it == presences.end()) return;
    std::vector<presence_entry> users;
    if (d.contains("users") && d["users"].is_array())
      for (const json& u : d["users"])
        if (u.is_object() && u.contains("user_id") && u["user_id"].is_string())
          users.push_back(
              {u["user_id"].get<std::string>(), u.value("connections", std::uint64_t{0})});
    pending_presence p = std::move(it->second);
    presences.erase(it);
    end_request(p, std::move(users));
    return;
  }
  if (op == "HISTORY") {
    expired_histories.erase(ref);
    auto it = histories.find(ref);
    if (it == histories.end()) return;
    pending_history h = std::move(it->second);
    histories.erase(it);
    if (d.contains("next") && d["next"].is_number_unsigned())
      h.result.next = d["next"].get<std::uint64_t>();
    end_request(h, std::move(h.result));
  }
}

void client::impl::on_error_reply(const json& msg) {
  const std::string ref =
      msg.contains("ref") && msg["ref"].is_string() ? msg["ref"].get<std::string>() : "";
  const json& d = msg.contains("data") ? msg["data"] : json::object();
  client_error err = make_error(client_error::kind::server, d.value("message", "server error"),
                                d.value("code", ""));
  err.op = d.value("op", "");
  expired_histories.erase(ref);
  for (auto it = publishes.begin(); it != publishes.end(); ++it)
    if (!ref.empty() && it->ref == ref) {
      // The paced flush met the limit anyway (something else spent the server's tokens):
      // nothing was stored, so the publish goes again, before every later unsent one, once
      // the bucket has refilled — not failed. Publishes already in flight behind it may be
      // stored first.
      if (err.code == "rate_limited" && it->paced && authenticated && pace) {
        it->sent_on = 0;
        it->ref.clear();
        ++unsent;
        pacing = true;
        pace_tokens = std::min(pace_tokens, 0.0);
        pump();
        return;
      }
      if (err.op.empty()) err.op = "PUBLISH";
      pending_publish p = std::move(*it);
      publishes.erase(it);
      stats.unacknowledged = publishes.size();
      complete(p, nullptr, &err);
      return;
    }
  if (auto it = histories.find(ref); it != histories.end()) {
    pending_history h = std::move(it->second);
    histories.erase(it);
    return end_request(h, err);
  }
  if (auto it = pings.find(ref); it != pings.end()) {
    pending_ping q = std::move(it->second);
    pings.erase(it);
    return end_request(q, err);
  }
  if (auto it = presences.find(ref); it != presences.end()) {
    pending_presence q = std::move(it->second);
    presences.erase(it);
    return end_request(q, err);
  }
  if (auto s = subscribe_refs.find(ref); s != subscribe_refs.end()) {
    err.op = "SUBSCRIBE";
    err.message = "cannot join '" + s->second + "': " + err.message;
    const std::string pattern = s->second;
    subscribe_refs.erase(s);
    report(err);
    return rooms_refused(pattern, err);
  }
  report(err);
}

// --- failures and time-outs ---------------------------------------------------------------------

void client::impl::fail_requests(const client_error& err) {
  // Taken off the lists first: a callback may stop or destroy the client, which fails what
  // is still listed.
  auto h = std::exchange(histories, {});
  auto q = std::exchange(pings, {});
  auto w = std::exchange(presences, {});
  for (auto& [ref, p] : h) end_request(p, err);
  for (auto& [ref, p] : q) end_request(p, err);
  for (auto& [ref, p] : w) end_request(p, err);
}

// Requests whose time-out has passed fail with kind timeout; a later answer to their ref is
// ignored (its ref is no longer pending). Checked on every tick (50 ms).
void client::impl::expire_requests(steady::time_point now) {
  auto timed_out = [](const char* op, const request_clock& c, const std::string& more) {
    client_error e = make_error(client_error::kind::timeout,
                                std::string(op) + " timed out: no answer within " +
                                    std::to_string(c.timeout.count()) + " ms" + more,
                                "timeout");
    e.op = op;
    return e;
  };
  std::vector<pending_publish> expired;
  for (auto it = publishes.begin(); it != publishes.end();) {
    if (now < it->clock.deadline) {
      ++it;
      continue;
    }
    if (it->sent_on == 0) --unsent;
    expired.push_back(std::move(*it));
    it = publishes.erase(it);
  }
  stats.unacknowledged = publishes.size();
  // Off their lists, then failed (as the publishes below).
  auto take_expired = [now](auto& pending) {
    std::vector<typename std::decay_t<decltype(pending)>::mapped_type> out;
    for (auto it = pending.begin(); it != pending.end();) {
      if (now < it->second.clock.deadline) {
        ++it;
        continue;
      }
      out.push_back(std::move(it->second));
      it = pending.erase(it);
    }
    return out;
  };
  for (const auto& [ref, h] : histories)
    if (now >= h.clock.deadline) expired_histories.insert(ref);
  auto h = take_expired(histories);
  auto w = take_expired(presences);
  auto q = take_expired(pings);
  // Last: a callback may stop or destroy the client (what it fails is no longer listed).
  for (auto& p : h) {
    const client_error err = timed_out("HISTORY", p.clock, "");
    end_request(p, err);
  }
  for (auto& p : w) {
    const client_error err = timed_out("PRESENCE", p.clock, "");
    end_request(p, err);
  }
  for (auto& p : q) {
    const client_error err = timed_out("PING", p.clock, "");
    end_request(p, err);
  }
  for (auto& p : expired) {
    const client_error err = timed_out(
        "PUBLISH", p.clock,
        p.sent_on ? " (it was sent: the server may still have stored it)" : " (never sent)");
    complete(p, nullptr, &err);
  }
}

void client::impl::fail_everything(const std::string& why) {
  // Closed for good (auth failed, not an rtev server, …): that is what ends them.
  client_error err = make_error(client_error::kind::connection, why,
                                closed_code ? code_name(closed_code) : "stopped");
  fail_requests(err);
  auto pending = std::move(publishes);
  publishes.clear();
  stats.unacknowledged = 0;
  for (auto& p : pending)
    if (p.sent_on == 0) --unsent;
  for (auto& p : pending) complete(p, nullptr, &err);
  rooms_closed(err);
}

// --- public API ---------------------------------------------------------------------------------

namespace {

// A future-returning request made on the service thread (inside a handler): its answer could
// only arrive through the thread that would be blocked waiting for it. Failed at once, not
// sent, and reported, so a future nobody looks at does not hide it either.
template <class T>
bool refuse_on_service_thread(client::impl& m, const char* call, std::promise<T>& promise) {
  if (!m.on_service_thread()) return false;
  // (publish() sends its event first: see there, in client_publish.cpp.)
  client_error err = make_error(
      client_error::kind::would_deadlock,
      std::string(call) +
          " returning a future was called on the client's service thread (inside a handler): "
          "waiting for it there would deadlock, so nothing was sent; use the callback form");
  promise.set_exception(std::make_exception_ptr(request_error(err)));
  m.report(err);
  return true;
}

// Why a request cannot be sent now: the client has closed for good, or is not connected.
std::optional<client_error> unsendable(const client::impl& m) {
  if (m.ended) return m.closed_error("nothing was sent");
  if (m.authenticated) return std::nullopt;
  return make_error(client_error::kind::connection, "not connected");
}

// History, presence and ping, whichever form they were made in: one pending request (a
// future's is an internal completion, detail::fulfil) posted to the service thread, which
// sends it or ends it at once. The query and the time-out are checked by the caller.

void send_history(client::impl& m, const history_query& query, client::impl::request_clock clock,
                  client::request_callback<history_result> done, bool internal) {
  client::impl::pending_history h;
  h.done = std::move(done);
  h.internal = internal;
  h.clock = clock;
  h.result.query = query;
  m.post([i = &m, h = std::move(h)]() mutable {
    if (auto err = unsendable(*i)) return i->end_request(h, *err);
    const std::string ref = i->new_ref('h');
    const json data = detail::history_frame_data(h.result.query);
    i->histories.emplace(ref, std::move(h));
    i->send_frame(json{{"type", "HISTORY"}, {"ref", ref}, {"data", data}});
  });
}

void send_presence(client::impl& m, const std::string& room, client::impl::request_clock clock,
                   client::request_callback<std::vector<presence_entry>> done, bool internal) {
  client::impl::pending_presence w;
  w.done = std::move(done);
  w.internal = internal;
  w.clock = clock;
  m.post([i = &m, room, w = std::move(w)]() mutable {
    if (auto err = unsendable(*i)) return i->end_request(w, *err);
    const std::string ref = i->new_ref('w');
    i->presences.emplace(ref, std::move(w));
    i->send_frame(json{{"type", "PRESENCE"}, {"ref", ref}, {"data", {{"room", room}}}});
  });
}

void send_ping(client::impl& m, client::impl::request_clock clock,
               client::request_callback<std::chrono::microseconds> done, bool internal) {
  client::impl::pending_ping q;
  q.done = std::move(done);
  q.internal = internal;
  q.clock = clock;
  m.post([i = &m, q = std::move(q)]() mutable {
    if (auto err = unsendable(*i)) return i->end_request(q, *err);
    const std::string ref = i->new_ref('q');
    q.sent = steady::now();
    i->pings.emplace(ref, std::move(q));
    i->send_frame(json{{"type", "PING"}, {"ref", ref}});
  });
}

}  // namespace

std::future<history_result> client::history(const history_query& query, request_options request) {
  detail::check_history_query(query);
  const auto clock = impl_->clock_for(request);
  auto promise = std::make_shared<std::promise<history_result>>();
  auto f = promise->get_future();
  if (refuse_on_service_thread(*impl_, "history()", *promise)) return f;
  send_history(*impl_, query, clock, detail::fulfil(std::move(promise)), true);
  return f;
}

void client::history(const history_query& query, request_callback<history_result> done,
                     request_options request) {
  detail::check_history_query(query);
  send_history(*impl_, query, impl_->clock_for(request), std::move(done), false);
}

std::future<history_result> client::history(const std::string& room, const json& since,
                                            const json& until, std::size_t limit,
                                            request_options request) {
  return history(history_query{room, since, until, limit}, request);
}

std::future<std::vector<presence_entry>> client::presence(const std::string& room,
                                                          request_options request) {
  const auto clock = impl_->clock_for(request);
  auto promise = std::make_shared<std::promise<std::vector<presence_entry>>>();
  auto f = promise->get_future();
  if (refuse_on_service_thread(*impl_, "presence()", *promise)) return f;
  send_presence(*impl_, room, clock, detail::fulfil(std::move(promise)), true);
  return f;
}

void client::presence(const std::string& room, request_callback<std::vector<presence_entry>> done,
                      request_options request) {
  send_presence(*impl_, room, impl_->clock_for(request), std::move(done), false);
}

std::future<std::chrono::microseconds> client::ping(request_options request) {
  const auto clock = impl_->clock_for(request);
  auto promise = std::make_shared<std::promise<std::chrono::microseconds>>();
  auto f = promise->get_future();
  if (refuse_on_service_thread(*impl_, "ping()", *promise)) return f;
  send_ping(*impl_, clock, detail::fulfil(std::move(promise)), true);
  return f;
}

void client::ping(request_callback<std::chrono::microseconds> done, request_options request) {
  send_ping(*impl_, impl_->clock_for(request), std::move(done), false);
}

}  // namespace rtev
