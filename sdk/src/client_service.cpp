// rtev::client's service loop (client::impl): the loop's begin (the lws context and the
// transport) and end (the polite close, failing what is left), serve() for start() and run(),
// poll()'s bounded rounds, the lws callback every transport's connections share, and the 50 ms
// tick (request time-outs, the connect timeout, the transport's heartbeat). See client_impl.hpp.

#include "client_impl.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "client_context.hpp"

namespace rtev {

// --- timers -------------------------------------------------------------------------------------

void client::impl::on_tick(lws_sorted_usec_list_t* sul) {
  impl* self = lws_container_of(sul, timer, sul)->owner;
  self->tick();
  lws_sul_schedule(self->ctx, 0, &self->tick_timer.sul, on_tick, 50 * LWS_US_PER_MS);
}

void client::impl::tick() {
  const auto now = steady::now();
  expire_requests(now);
  if (awaiting_token) {
    if (now - attempt_started >= opt.connect_timeout)
      token_failed("the token provider gave no token within " +
                   std::to_string(opt.connect_timeout.count()) + " ms");
    return;
  }
  if (attempt_active && !authenticated && now - attempt_started >= opt.connect_timeout) {
    wire->kill("connect timed out after " + std::to_string(opt.connect_timeout.count()) + " ms");
    return;
  }
  if (attempt_active) wire->tick(now);
}

// --- lws callback -------------------------------------------------------------------------------

int client::impl::callback(lws* w, lws_callback_reasons reason, void* user, void* in, size_t len) {
  lws_context* c = lws_get_context(w);
  impl* self = c ? static_cast<impl*>(lws_context_user(c)) : nullptr;
  if (!self) return lws_callback_http_dummy(w, reason, user, in, len);
  if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION) {
    // For every transport's TLS connections. Kept as a sentence for the attempt's end, which
    // then closes the client instead of retrying; the first refusal of an attempt counts.
    if (self->certificate_problem.empty())
      if (auto r = detail::certificate_refused(user, len, self->url.host)) {
        self->certificate_problem = std::move(r->problem);
        self->certificate_reason = std::move(r->sentence);
      }
    return 0;
  }
  return self->on_callback(w, reason, in, len);
}

int client::impl::on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) {
  if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
    drain();
    return 0;
  }
  if (!wire) return lws_callback_http_dummy(w, reason, nullptr, in, len);
  return wire->on_callback(w, reason, in, len);
}

// --- the loop -----------------------------------------------------------------------------------

// stop() before start(): no connection, but what was asked for ends on a thread of the
// client's, as handlers always run (queued publishes fail, state handlers see `closed`).
void client::impl::serve_never_started() {
  service_thread_id = std::this_thread::get_id();
  running = true;
  ended = true;
  end_reason = "stopped before it started";
  drain();
  fail_everything("client stopped before it started");
  close_for_good(false, "stopped before it started");
  running = false;
  finish();
}

void client::impl::serve() {
  service_thread_id = std::this_thread::get_id();
  running = true;
  if (!begin_service()) return;
  while (!stop_flag) {
    if (lws_service(ctx, 0) < 0) break;
  }
  end_service();
}

// poll() / run_for(): the caller's thread is the service thread while inside. The first call
// begins (as start() would); a stop (stop(), the destructor, or closed for good and stopped)
// ends it there. Returns whether the client goes on (false once it has ended).
bool client::impl::poll_for(std::chrono::milliseconds budget) {
  {
    std::lock_guard<std::mutex> guard(cmd_mutex);
    if (closed_set_by_stop) return false;  // stop()ped before anything (its end may be running)
    if (thread.joinable() || (running && !polled))
      throw error(
          "poll()/run_for(): the client already runs on a service thread (start() or run())");
    if (closed_set_by_stop) return false;
    polled = true;
  }
  std::unique_lock<std::mutex> lock(poll_mutex, std::try_to_lock);
  // Called from inside one of its own handlers (lws is not re-entrant), or concurrently from
  // another thread (which then waits its turn).
  if (!lock.owns_lock()) {
    if (on_service_thread()) return !stop_flag;
    lock.lock();
  }
  if (poll_ended) return false;
  service_thread_id = std::this_thread::get_id();
  running = true;
  if (!poll_begun) {
    poll_begun = true;
    if (!begin_service()) {
      poll_ended = true;
      return false;
    }
  }
  const auto deadline = steady::now() + budget;
  if (budget.count() > 0)
    lws_sul_schedule(
        ctx, 0, &budget_timer.sul, [](lws_sorted_usec_list_t*) {},
        std::chrono::duration_cast<std::chrono::microseconds>(budget).count());
  do {
    // -1: service what is ready without waiting; 0: wait for the next event or timer (the
    // budget's own timer ends the wait at the deadline).
    if (lws_service(ctx, budget.count() > 0 ? 0 : -1) < 0) stop_flag = true;
  } while (!stop_flag && steady::now() < deadline);
  lws_sul_cancel(&budget_timer.sul);
  if (stop_flag) {
    end_service();
    poll_ended = true;
    return false;
  }
  running = false;
  return true;
}

// stop() of a polled client, outside poll(): the end is reported here, on the caller's thread
// (the app's, where poll() runs its handlers). Inside poll() the flag alone ends it.
void client::impl::stop_polled() {
  std::unique_lock<std::mutex> lock(poll_mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    if (on_service_thread()) return;
    lock.lock();
  }
  if (poll_ended) return;
  poll_ended = true;
  service_thread_id = std::this_thread::get_id();
  running = true;
  end_service();
}

bool client::impl::begin_service() {
  protocols[0].name = "rtev-client";
  protocols[0].callback = &impl::callback;

  const bool tls =
      std::any_of(urls.begin(), urls.end(), [](const server_url& u) { return u.parsed.tls; });
  lws_context* c = detail::create_client_context(protocols, this, tls, opt.ca_file);
  if (!c) {
    close_for_good(false, "cannot create the network context", errc::connection_failed);
    ended = true;
    end_reason = closed_reason;
    drain();
    fail_everything("client closed");
    running = false;
    finish();
    return false;
  }
  detail::transport_context tc{c, protocols[0].name, &opt, url, this};
  switch (opt.protocol) {
    case wire_protocol::rtev:
      wire = detail::make_rtev_transport(tc);
      break;
    case wire_protocol::sse:
      wire = detail::make_sse_transport(tc);
      break;
    case wire_protocol::socketio:
      wire = detail::make_socketio_transport(tc);
      break;
  }
  {
    std::lock_guard<std::mutex> lock(cmd_mutex);
    ctx = c;
    ctx_ready = true;
  }
  if (!stop_flag) {
    state_info s;
    s.state = client_state::connecting;
    set_state(s);
    drain();
    lws_sul_schedule(ctx, 0, &tick_timer.sul, on_tick, 50 * LWS_US_PER_MS);
    connect();
  }
  return true;
}

void client::impl::end_service() {
  // Close politely if a connection is up: one more short service round for the close.
  if (attempt_active && wire->close()) {
    const auto until = steady::now() + std::chrono::milliseconds(200);
    while (attempt_active && steady::now() < until) lws_service(ctx, 0);
  }
  {
    std::lock_guard<std::mutex> lock(cmd_mutex);
    ctx_ready = false;
  }
  lws_sul_cancel(&tick_timer.sul);
  lws_sul_cancel(&retry_timer.sul);
  lws_sul_cancel(&flush_timer.sul);
  // The transport first: its connections (ws_link, http_exchange) close their wsis while the
  // context still has them; lws_context_destroy frees wsis without telling every owner.
  wire.reset();
  lws_context_destroy(ctx);
  ctx = nullptr;
  attempt_active = false;
  authenticated = false;  // what the last commands ask for has no connection to go out on
  ended = true;
  end_reason = closed_set ? closed_reason : "stopped";
  drain();
  fail_everything("client stopped");
  if (!closed_set) close_for_good(false, "stopped");
  running = false;
  finish();
}

}  // namespace rtev
