// rtev::client's publishes (client::impl): the offline queue (publishes wait for a connection
// and are resent with the same id after a reconnect), flush pacing under the rate limit the
// server announced, completion of a publish, and publish() / typing(). Their ACK and ERROR
// answers are read in client_requests.cpp. See client_impl.hpp.

#include "client_impl.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace rtev {

using detail::announced_rate_limit;

// --- flush pacing -------------------------------------------------------------------------------

void client::impl::refill() {
  const auto now = steady::now();
  pace_tokens =
      std::min(pace->burst, pace_tokens + std::chrono::duration<double>(now - pace_at).count() *
                                              pace->per_second);
  pace_at = now;
}

// After `authenticated`: what waited offline (or was in flight when the link dropped) goes
// out in publish order — paced under the server's announced limit, less a margin (95 % of
// the rate, the burst less a tenth, as the SSE transport does) for what else shares the
// connection and for network jitter. The requests already sent on this connection (the
// joins) have spent their tokens. No limit announced: everything at once.
void client::impl::start_flush(const json& d) {
  pace.reset();
  if (auto limit = announced_rate_limit(d)) {
    pace = rate_limit_info{limit->per_second * 0.95, std::max(1.0, limit->burst * 0.9)};
    pace_at = steady::now();
    pace_tokens = pace->burst - static_cast<double>(frames_sent);
  }
  pacing = pace.has_value();
  pump();
}

// Sends unsent publishes in order: all of them when not pacing; else as tokens allow, then
// waits on flush_timer for the next one. Pacing ends when nothing is left unsent: later
// publishes go straight out again while the bucket has a token (see client::publish).
void client::impl::pump() {
  if (!authenticated) return;
  for (auto& p : publishes) {
    if (p.sent_on == generation) continue;
    if (pacing) {
      refill();
      if (pace_tokens < 1) {
        const double wait_s = (1 - pace_tokens) / pace->per_second;
        lws_sul_schedule(ctx, 0, &flush_timer.sul, on_flush,
                         static_cast<lws_usec_t>(wait_s * 1e6) + 1);
        return;
      }
    }
    send_publish(p);
  }
  pacing = false;
}

void client::impl::on_flush(lws_sorted_usec_list_t* sul) {
  lws_container_of(sul, timer, sul)->owner->pump();
}

// --- a publish sent, and ended ------------------------------------------------------------------

void client::impl::send_publish(pending_publish& p) {
  p.sent_on = generation;
  p.sent_at = steady::now();
  p.paced = pace.has_value();  // under an announced limit: a rate_limited refusal resends it
  p.ref = new_ref('p');
  json data = {{"type", p.type}, {"data", p.data}, {"id", p.id}};
  if (p.room.empty())
    data["broadcast"] = true;
  else
    data["room"] = p.room;
  send_frame(json{{"type", "PUBLISH"}, {"ref", p.ref}, {"data", data}});
  --unsent;
}

// A publish ends. A future's promise is set even after the client object is gone (destroyed
// from a handler); user callbacks then are not called.
void client::impl::complete(pending_publish& p, const publish_ack* ack, const client_error* err) {
  if (p.internal) return p.done(ack, err);
  std::optional<publish_ack> a;
  std::optional<client_error> e;
  if (ack) a = *ack;
  if (err) e = *err;
  to_app([this, done = std::move(p.done), a = std::move(a), e = std::move(e)] {
    call_guarded([&] { done(a ? &*a : nullptr, e ? &*e : nullptr); }, nullptr);
  });
}

// --- public API ---------------------------------------------------------------------------------

void client::publish(const event& e,
                     std::function<void(const publish_ack*, const client_error*)> done,
                     request_options request) {
  publish_with_id(e.id.value_or(""), e.room.value_or(""), e.type, e.data, std::move(done), false,
                  request);
}

void client::publish(const std::string& room, const std::string& type, json data,
                     std::function<void(const publish_ack*, const client_error*)> done,
                     request_options request) {
  publish_with_id("", room, type, std::move(data), std::move(done), false, request);
}

void client::publish_with_id(const std::string& id, const std::string& room,
                             const std::string& type, json data,
                             std::function<void(const publish_ack*, const client_error*)> done,
                             bool done_is_internal, const request_options& request) {
  impl& m = *impl_;
  const impl::request_clock clock = m.clock_for(request);
  if (m.current != client_state::connected && m.unsent >= m.opt.offline_queue_max) {
    client_error err = make_error(
        client_error::kind::queue_full,
        "the offline queue is full (" + std::to_string(m.opt.offline_queue_max) + " publishes)");
    // A future fails at once (no user code runs); a callback runs on the service thread, as
    // every callback does.
    if (done_is_internal) {
      done(nullptr, &err);
      return;
    }
    m.post([i = impl_.get(), done = std::move(done), err] {
      i->to_app([i, done, err] { i->call_guarded([&] { done(nullptr, &err); }, nullptr); });
    });
    return;
  }
  ++m.unsent;
  impl::pending_publish p;
  p.id = id.empty() ? make_event_id() : id;
  p.room = room;
  p.type = type;
  p.data = std::move(data);
  p.done = std::move(done);
  p.internal = done_is_internal;
  p.clock = clock;
  m.post([i = impl_.get(), p = std::move(p)]() mutable {
    if (i->ended) {
      --i->unsent;
      const client_error err = i->closed_error("the event was not sent");
      i->complete(p, nullptr, &err);
      return;
    }
    i->publishes.push_back(std::move(p));
    i->stats.unacknowledged = i->publishes.size();
    // Behind the flush while it runs, so publish order is kept; and under the server's
    // announced limit always: a burst of publishes (a replay at full speed, a loop without
    // waiting) waits its turn in the bucket instead of being refused as rate_limited.
    if (!i->authenticated) return;
    if (!i->pacing && i->pace) {
      i->refill();
      i->pacing = i->pace_tokens < 1;
    }
    if (i->pacing)
      i->pump();
    else
      i->send_publish(i->publishes.back());
  });
}

std::future<publish_ack> client::publish(const std::string& room, const std::string& type,
                                         json data, request_options request) {
  auto promise = std::make_shared<std::promise<publish_ack>>();
  auto f = promise->get_future();
  if (impl_->on_service_thread()) {
    // Inside a handler: the event is sent (a handler that publishes and drops the future, the
    // usual echo, keeps working), but its ACK could only be read by this thread, so the future
    // fails at once rather than let a get() here wait forever. Not reported to the error
    // handler: nothing went wrong unless someone waits, and then get() says it.
    // A refusal made at once (the offline queue is full) is what the future says then.
    auto refused = std::make_shared<std::optional<client_error>>();
    auto returned = std::make_shared<bool>(false);
    publish_with_id(
        "", room, type, std::move(data),
        [refused, returned](const publish_ack*, const client_error* err) {
          if (err && !*returned) *refused = *err;
        },
        true, request);
    *returned = true;
    promise->set_exception(std::make_exception_ptr(request_error(
        *refused ? **refused
                 : make_error(client_error::kind::would_deadlock,
                              "publish() returning a future was called on the client's service "
                              "thread (inside a handler): the event was sent, but waiting there "
                              "for its acknowledgement would deadlock; use the callback form to "
                              "get it"))));
    return f;
  }
  publish_with_id(
      "", room, type, std::move(data),
      [promise](const publish_ack* ack, const client_error* err) {
        if (ack)
          promise->set_value(*ack);
        else
          promise->set_exception(std::make_exception_ptr(request_error(*err)));
      },
      true, request);
  return f;
}

void client::typing(const std::string& room, bool is_typing) {
  impl_->post([i = impl_.get(), room, is_typing] {
    if (!i->authenticated) return;
    i->send_frame(
        json{{"type", is_typing ? "TYPING_START" : "TYPING_STOP"}, {"data", {{"room", room}}}});
  });
}

}  // namespace rtev
