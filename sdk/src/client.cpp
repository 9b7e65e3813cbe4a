// rtev::client: one lws client connection driven from one service thread. This file: the public
// API's lifecycle and handlers (construction, start, run, poll, stop, the destructor, on_*,
// send_raw, emit), and client::impl's construction, commands (post, drain, the afterlife after
// the end), state reports and dispatch to user code. The state, its threading rules and which
// file holds the rest: client_impl.hpp.

#include "client_impl.hpp"

#include <new>
#include <string>
#include <thread>
#include <utility>

namespace rtev {

void subscription::unsubscribe() noexcept {
  if (auto r = reg_.lock()) r->remove(id_);
  reg_.reset();
  id_ = 0;
}

client::impl::impl(client_options o)
    : opt(std::move(o)),
      urls(detail::checked_urls(opt)),
      url(urls.front().parsed),
      backoff(opt.backoff) {
  if (opt.connect_timeout.count() <= 0) throw config_error("connect_timeout must be positive");
  if (opt.heartbeat_interval.count() <= 0 || opt.heartbeat_timeout.count() <= 0)
    throw config_error("heartbeat interval and timeout must be positive");
  if (opt.request_timeout.count() <= 0)
    throw config_error("request_timeout must be positive (got " +
                       std::to_string(opt.request_timeout.count()) + " ms)");
  if (opt.max_message_bytes == 0) throw config_error("max_message_bytes must be positive (got 0)");
  for (const auto& r : opt.rooms) rooms.insert(r);
  joined_rooms = rooms;
}

// The last reference may go on the afterlife thread itself, or on an app thread running a
// task the executor held: a joinable std::thread destroyed would std::terminate.
client::impl::~impl() {
  for (std::thread* t : {&thread, &afterlife})
    if (t->joinable()) {
      if (t->get_id() == std::this_thread::get_id())
        t->detach();
      else
        t->join();
    }
}

// --- commands -----------------------------------------------------------------------------------

void client::impl::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(cmd_mutex);
  cmds.push_back(std::move(fn));
  if (ctx_ready) lws_cancel_service(ctx);
  if (finished) start_afterlife_locked();
}

// The loop has ended: a thread of the client's runs what was posted (requests fail there at
// once; callbacks run off the caller's thread, as always). One at a time; the previous one
// no longer needs cmd_mutex once it cleared afterlife_busy, so joining it here is safe.
void client::impl::start_afterlife_locked() {
  if (afterlife_busy) return;
  afterlife_busy = true;
  if (afterlife.joinable()) afterlife.join();
  afterlife = std::thread([self = shared_from_this()] {
    self->service_thread_id = std::this_thread::get_id();
    self->running = true;
    for (;;) {
      self->drain();
      std::lock_guard<std::mutex> lock(self->cmd_mutex);
      if (self->cmds.empty()) {
        self->running = false;
        self->afterlife_busy = false;
        return;
      }
    }
  });
}

// Called last on the service thread: from now on posted commands go to the afterlife.
void client::impl::finish() {
  std::lock_guard<std::mutex> lock(cmd_mutex);
  finished = true;
  if (!cmds.empty()) start_afterlife_locked();
}

// Why a request made after the end fails.
client_error client::impl::closed_error(const std::string& what) const {
  return make_error(client_error::kind::connection,
                    "the client has closed for good (" + end_reason + "): " + what,
                    closed_code ? code_name(closed_code) : "stopped");
}

client::impl::request_clock client::impl::clock_for(const request_options& r) const {
  const auto t = r.timeout.value_or(opt.request_timeout);
  if (t.count() <= 0)
    throw config_error("request timeout must be positive (got " + std::to_string(t.count()) +
                       " ms)");
  return request_clock{steady::now() + t, t};
}

void client::impl::drain() {
  for (;;) {
    std::deque<std::function<void()>> work;
    {
      std::lock_guard<std::mutex> lock(cmd_mutex);
      work.swap(cmds);
    }
    if (work.empty()) return;
    for (auto& fn : work) fn();
  }
}

// --- reporting ----------------------------------------------------------------------------------

void client::impl::set_state(state_info info) {
  info.server_url = urls[url_at].text;
  current = info.state;
  last_state = info;
  // Handlers first: whoever waits on connected() / closed() finds what they did done (the
  // CLI's `connect` learns from its handler whether the server speaks rtev's protocol).
  // The handlers registered now get it (a later one gets the catch-up of client::on_state).
  std::vector<std::shared_ptr<detail::registry::entry>> told;
  for (auto& e : reg->snapshot())
    if (e->on_state) {
      e->state_seen = true;
      told.push_back(e);
    }
  to_app([this, info, told = std::move(told)] {
    for (auto& e : told)
      if (e->active) call_guarded([&] { e->on_state(info); }, nullptr);
  });
  if (info.state == client_state::connected && !connected_set) {
    connected_set = true;
    connected_promise.set_value();
  }
  if (info.state == client_state::closed && !closed_set) {
    closed_set = true;
    if (!connected_set) {
      connected_set = true;
      connected_promise.set_exception(std::make_exception_ptr(request_error(
          make_error(info.auth_failed ? client_error::kind::server : client_error::kind::connection,
                     "closed before connecting: " + info.reason,
                     info.error ? code_name(info.error) : "stopped"))));
    }
    closed_promise.set_value(info);
  }
}

void client::impl::dispatch(const event& e) {
  if (opt.executor) return to_app([this, e] { dispatch_now(e); });
  dispatch_now(e);
}

void client::impl::dispatch_now(const event& e) {
  for (auto& h : reg->snapshot())
    if (h->on_event && h->active && glob_match(h->pattern, e.type) && in_scope(*h, e))
      call_guarded([&] { h->on_event(e); }, &e);
}

void client::impl::report_joined(join_info j) {
  to_app([this, j = std::move(j)] {
    for (auto& e : reg->snapshot())
      if (e->on_joined && e->active && in_scope(*e, j.room))
        call_guarded([&] { e->on_joined(j); }, nullptr);
  });
}

void client::impl::report_server_status(server_status_info s) {
  server_ok = s.ok;
  server_reason = s.reason;
  s.server_url = urls[url_at].text;
  to_app([this, s = std::move(s)] {
    for (auto& e : reg->snapshot())
      if (e->on_server_status && e->active && !e->scope)
        call_guarded([&] { e->on_server_status(s); }, nullptr);
  });
}

void client::impl::report_gap(gap_info g) {
  ++stats.gaps;
  to_app([this, g = std::move(g)] {
    for (auto& e : reg->snapshot())
      if (e->on_gap && e->active && in_scope(*e, g.room))
        call_guarded([&] { e->on_gap(g); }, nullptr);
  });
}

// --- public API ---------------------------------------------------------------------------------

client::client(client_options options) : impl_(std::make_shared<impl>(std::move(options))) {}

std::unique_ptr<client> client::create(client_options options, std::error_code& ec,
                                       std::string* why) noexcept {
  ec.clear();
  try {
    return std::make_unique<client>(std::move(options));
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  } catch (const std::exception& e) {
    ec = errc::invalid_options;
    try {
      if (why) why->assign(e.what());
    } catch (...) {  // no memory for the message: the code says enough
    }
  }
  return nullptr;
}

client::~client() {
  impl& m = *impl_;
  if (!m.on_service_thread()) {
    // With an executor, a task that starts while stop() winds down must not reach a handler
    // of a client being destroyed: user code is off before the end (its callbacks would be
    // dropped anyway, see client_options::executor).
    if (m.opt.executor) m.reg->detach();
    stop();
    m.reg->detach();  // tasks still queued on the app's executor call nothing now
    return;
  }
  // Destroyed from inside a handler: the service loop is further down this very stack. It holds
  // its own reference to the state (start()'s thread, run()'s caller) and winds down once the
  // handler returns — without calling user code again: what is pending fails now, while the
  // things its callbacks use still exist, and every handler is switched off.
  m.stop_flag = true;
  {
    std::lock_guard<std::mutex> lock(m.cmd_mutex);
    if (m.ctx_ready) lws_cancel_service(m.ctx);
    // A std::thread destroyed joinable (its own thread cannot join it) would std::terminate.
    if (m.thread.joinable()) m.thread.detach();
    if (m.afterlife.joinable() && m.afterlife.get_id() == std::this_thread::get_id())
      m.afterlife.detach();
  }
  m.fail_everything("client destroyed");
  m.reg->detach();
}

void client::start() {
  std::lock_guard<std::mutex> lock(impl_->cmd_mutex);
  if (impl_->thread.joinable() || impl_->closed_set_by_stop || impl_->stop_flag || impl_->polled)
    return;
  impl_->thread = std::thread([i = impl_] { i->serve(); });
}

void client::run() {
  {
    std::lock_guard<std::mutex> lock(impl_->cmd_mutex);
    if (impl_->thread.joinable() || impl_->closed_set_by_stop || impl_->stop_flag ||
        impl_->running || impl_->polled)
      return;
    impl_->running = true;
  }
  // Our own reference: a handler may destroy this client (and its impl_) while serve() runs.
  // Nothing after serve() touches *this.
  const std::shared_ptr<impl> keep = impl_;
  keep->serve();
}

bool client::poll() {
  return run_for(std::chrono::milliseconds(0));
}

bool client::run_for(std::chrono::milliseconds budget) {
  if (budget.count() < 0)
    throw config_error("run_for: the budget must not be negative (got " +
                       std::to_string(budget.count()) + " ms)");
  // As run(): a handler may destroy this client while the round runs.
  const std::shared_ptr<impl> keep = impl_;
  return keep->poll_for(budget);
}

void client::stop() {
  impl& m = *impl_;
  m.stop_flag = true;
  std::thread ending;  // the service thread, joined here unless this is it
  bool polled = false;
  {
    std::lock_guard<std::mutex> lock(m.cmd_mutex);
    if (m.ctx_ready) lws_cancel_service(m.ctx);
    polled = m.polled;
    // Never started: a short-lived service thread reports the end, so state handlers and
    // publish callbacks run where they always do — never on the caller's thread.
    if (!polled && !m.running && !m.thread.joinable() && !m.closed_set && !m.closed_set_by_stop) {
      m.closed_set_by_stop = true;
      m.thread = std::thread([i = impl_] { i->serve_never_started(); });
    }
    if (m.thread.joinable() && std::this_thread::get_id() != m.thread.get_id())
      ending = std::move(m.thread);
  }
  if (ending.joinable()) ending.join();
  // Driven by poll(): the end is reported here, on the app's thread (unless a poll() on this
  // very thread is under way — it ends the client itself when the handler returns).
  if (polled) m.stop_polled();
  std::thread after;  // the afterlife (requests made after the end), unless this is it
  {
    std::lock_guard<std::mutex> lock(m.cmd_mutex);
    if (m.afterlife.joinable() && std::this_thread::get_id() != m.afterlife.get_id())
      after = std::move(m.afterlife);
  }
  if (after.joinable()) after.join();
}

client_state client::state() const {
  return impl_->current;
}

client_metrics client::metrics() const {
  const impl::counters& s = impl_->stats;
  client_metrics m;
  m.connects = s.connects;
  m.reconnect_attempts = s.reconnect_attempts;
  m.events = s.events;
  m.gaps = s.gaps;
  m.messages_in = s.messages_in;
  m.messages_out = s.messages_out;
  m.bytes_in = s.bytes_in;
  m.bytes_out = s.bytes_out;
  m.offline_queue = impl_->unsent;
  m.unacknowledged = s.unacknowledged;
  if (const std::int64_t rtt = s.round_trip_us; rtt >= 0)
    m.round_trip = std::chrono::microseconds(rtt);
  return m;
}
std::shared_future<void> client::connected() const {
  return impl_->connected_future;
}
std::shared_future<state_info> client::closed() const {
  return impl_->closed_future;
}

subscription client::on(std::string type_pattern, event_handler handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->pattern = std::move(type_pattern);
  e->on_event = std::move(handler);
  const auto id = impl_->reg->add(e);
  return subscription(impl_->reg, id);
}

subscription client::on_decoded(std::string type, std::function<void(const event&)> handler) {
  // Decode errors surface as parse_error from the handler wrapper: call_guarded reports them
  // with kind decode and the field path; the other subscribers are unaffected.
  return on(std::move(type), std::move(handler));
}

subscription client::on_state(std::function<void(const state_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_state = std::move(handler);
  subscription sub(impl_->reg, impl_->reg->add(e));
  // Registered late: the current state first, on the service thread (not if a change reached
  // the handler meanwhile — it has the current state then).
  impl_->post([i = impl_.get(), e] {
    if (e->state_seen || !e->active || i->current == client_state::idle || i->reg->detached) return;
    e->state_seen = true;
    i->to_app([i, e, info = i->last_state] {
      if (e->active) i->call_guarded([&] { e->on_state(info); }, nullptr);
    });
  });
  return sub;
}

subscription client::on_gap(std::function<void(const gap_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_gap = std::move(handler);
  return subscription(impl_->reg, impl_->reg->add(e));
}

subscription client::on_server_status(std::function<void(const server_status_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_server_status = std::move(handler);
  return subscription(impl_->reg, impl_->reg->add(e));
}

subscription client::on_joined(std::function<void(const join_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_joined = std::move(handler);
  return subscription(impl_->reg, impl_->reg->add(e));
}

subscription client::on_raw(std::function<void(const std::string&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_raw = std::move(handler);
  return subscription(impl_->reg, impl_->reg->add(e));
}

void client::send_raw(std::string text) {
  impl_->post([i = impl_.get(), text = std::move(text)]() mutable {
    if (i->authenticated) i->wire->send_raw(std::move(text));
  });
}

void client::emit(const std::string& name, json args,
                  std::function<void(const json* ack_args, const client_error*)> ack) {
  impl_->post([i = impl_.get(), name, args = std::move(args), ack = std::move(ack)]() mutable {
    detail::ack_callback guarded;
    if (ack)
      guarded = [i, ack = std::move(ack)](const json* a, const client_error* e) {
        std::optional<json> got;
        std::optional<client_error> err;
        if (a) got = *a;
        if (e) err = *e;
        i->to_app([i, ack, got = std::move(got), err = std::move(err)] {
          i->call_guarded([&] { ack(got ? &*got : nullptr, err ? &*err : nullptr); }, nullptr);
        });
      };
    if (!i->authenticated) {
      const client_error err =
          make_error(client_error::kind::connection, "not connected: '" + name + "' not emitted");
      if (guarded)
        guarded(nullptr, &err);
      else
        i->report(err);
      return;
    }
    i->wire->emit(name, std::move(args), std::move(guarded));
  });
}

void client::on_error(std::function<void(const client_error&)> handler) {
  std::lock_guard<std::mutex> lock(impl_->reg->mutex);
  impl_->reg->error_handler = std::move(handler);
}

}  // namespace rtev
