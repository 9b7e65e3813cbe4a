// rtev::client: one lws client connection driven from one service thread.
//
// Threads: every piece of connection state below lives on the service thread — start()'s, the
// caller of run(), or the caller of poll()/run_for() while it is inside them. Public calls
// from other threads enqueue a command (cmd_mutex) and wake the thread with
// lws_cancel_service(); the handler registry has its own mutex. User code (handlers,
// callbacks) is called through impl::to_app only: on the service thread, or handed to
// client_options::executor.

#include "rtev/client.hpp"

#include <libwebsockets.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <deque>
#include <iostream>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <type_traits>
#include <utility>

#include "client_context.hpp"
#include "client_options.hpp"
#include "handler_registry.hpp"
#include "requests.hpp"
#include "rtev/glob.hpp"
#include "rtev/time.hpp"
#include "transport.hpp"

namespace rtev {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;

void subscription::unsubscribe() noexcept {
  if (auto r = reg_.lock()) r->remove(id_);
  reg_.reset();
  id_ = 0;
}

using detail::announced_rate_limit;
using detail::code_name;
using detail::make_error;
using detail::server_url;

struct client::impl final : detail::transport_sink, std::enable_shared_from_this<client::impl> {
  client_options opt;
  std::vector<server_url> urls;   // the servers, in order (url, then urls)
  std::size_t url_at = 0;         // the one attempts go to now
  std::size_t final_answers = 0;  // attempts in a row answered "not here" (404, a page, …)
  detail::parsed_url url;         // urls[url_at]
  std::shared_ptr<detail::registry> reg = std::make_shared<detail::registry>();

  // Cross-thread.
  std::mutex cmd_mutex;  // guards cmds, ctx_ready
  std::deque<std::function<void()>> cmds;
  lws_context* ctx = nullptr;  // written before the loop starts, read under cmd_mutex elsewhere
  bool ctx_ready = false;
  std::atomic<bool> stop_flag{false};
  std::atomic<bool> running{false};  // serve() is executing (start() or run()), or poll()
  std::atomic<bool> polled{false};   // driven by poll() / run_for(): no service thread
  bool closed_set_by_stop = false;   // guarded by cmd_mutex: stop() closed a client never started
  std::atomic<client_state> current{client_state::idle};
  // The service loop is over for good (closed or stopped): commands posted from then on run on
  // a short-lived thread of the client's (`afterlife`, one at a time), where every request
  // fails at once — nothing would ever drain them otherwise.
  bool finished = false;               // guarded by cmd_mutex
  bool afterlife_busy = false;         // guarded by cmd_mutex
  std::thread afterlife;               // guarded by cmd_mutex
  std::atomic<std::size_t> unsent{0};  // publishes not yet written to a connection
  // client::metrics(): written on the service thread, read from any.
  struct counters {
    std::atomic<std::uint64_t> connects{0}, reconnect_attempts{0}, events{0}, gaps{0};
    std::atomic<std::uint64_t> messages_in{0}, messages_out{0}, bytes_in{0}, bytes_out{0};
    std::atomic<std::size_t> unacknowledged{0};
    std::atomic<std::int64_t> round_trip_us{-1};
  } stats;
  std::thread thread;  // guarded by cmd_mutex once started (stop() and the destructor race)
  // The thread serving the client (start()'s, run()'s caller, or stop()'s wind-down thread for
  // a client never started): handlers run there, and futures must not be waited for there.
  std::atomic<std::thread::id> service_thread_id{};
  std::promise<void> connected_promise;
  std::shared_future<void> connected_future = connected_promise.get_future().share();
  bool connected_set = false;
  std::promise<state_info> closed_promise;
  std::shared_future<state_info> closed_future = closed_promise.get_future().share();
  bool closed_set = false;

  // Service thread only.
  lws_protocols protocols[2]{};
  std::unique_ptr<detail::transport> wire;  // created with the context
  bool attempt_active = false;              // open() called, on_end not yet
  bool authenticated = false;
  backoff_schedule backoff;
  // lws timers, each with a pointer back here (lws_container_of needs a standard-layout type).
  struct timer {
    lws_sorted_usec_list_t sul{};
    impl* owner = nullptr;
  };
  timer retry_timer{{}, this}, tick_timer{{}, this}, flush_timer{{}, this}, budget_timer{{}, this};
  // poll() / run_for(): one caller at a time; begun at the first, ended by a stop.
  std::mutex poll_mutex;
  bool poll_begun = false, poll_ended = false;  // guarded by poll_mutex
  bool retry_pending = false;
  steady::time_point attempt_started{};
  std::uint64_t generation = 0;  // connection counter
  int last_close_code = 0, last_http_status = 0;
  std::string last_reason;
  state_info last_state;        // what the state handlers last heard (service thread)
  std::error_code last_error;   // the stable code of what ended the last attempt
  std::error_code closed_code;  // why the client closed for good (empty: stopped)
  bool auth_retry_used = false;
  bool awaiting_token = false;  // async_token_provider asked for this attempt's token
  // What certificate verification refused during the current attempt (see on_certificate).
  std::string certificate_problem, certificate_reason;

  std::set<std::string> rooms;         // joined patterns
  std::set<std::string> joined_rooms;  // of those, held by join() / client_options::rooms
  // client.subscribe() objects per pattern (each also holds its pattern in `rooms`), and the
  // SUBSCRIBE answers of this connection, for objects that come after one.
  std::map<std::string, std::vector<std::shared_ptr<detail::room_entry>>> room_objects;
  std::map<std::string, join_info> joined_now;
  std::map<std::string, std::uint64_t> pattern_seq;  // recovery point per joined pattern
  std::map<std::string, std::uint64_t>
      room_seq;  // dedupe: last seq delivered per room ("" = broadcasts)
  std::map<std::string, std::string> subscribe_refs;  // ref → pattern
  // ref → the recovery point it resumed from (none: a first subscription)
  std::map<std::string, std::optional<std::uint64_t>> subscribe_since;
  // Patterns restarted from 0 of a new store (epoch change), until their resubscription is
  // sent; then the refs of those resubscriptions: their `recovered: false` (the new store has
  // pruned) is the epoch gap already reported, not a second one.
  std::set<std::string> epoch_restarts;
  std::set<std::string> epoch_restart_refs;
  std::set<std::string> initial_since_used;
  std::optional<std::string> epoch;
  std::string user_id;
  std::vector<std::string> auto_rooms;

  // When a request gives up (request_options::timeout, else client_options::request_timeout),
  // counted from the call.
  struct request_clock {
    steady::time_point deadline{};
    std::chrono::milliseconds timeout{0};
  };
  struct pending_publish {
    std::string id, room, type;
    json data;
    std::function<void(const publish_ack*, const client_error*)> done;
    std::uint64_t sent_on = 0;  // generation it was last sent on; 0 = never
    std::string ref;
    bool internal = false;  // `done` is the SDK's own (a future's promise), not user code
    request_clock clock;
    bool paced = false;            // sent by the paced flush: a rate_limited refusal sends it again
    steady::time_point sent_at{};  // when it was last sent (round trip)
  };
  std::list<pending_publish> publishes;  // unacknowledged, in publish order
  // A history, presence or ping request in flight: one path whichever form it was made in —
  // a future's promise is an internal `done` (as pending_publish::internal).
  template <class T>
  struct pending_request {
    client::request_callback<T> done;
    bool internal = false;  // `done` is the SDK's own (detail::fulfil), not user code
    request_clock clock;
  };
  struct pending_history : pending_request<history_result> {
    history_result result;  // its events, as they arrive; `query` set at the call
  };
  std::map<std::string, pending_history> histories;
  // HISTORY requests that timed out: their events, still arriving, are dropped (not delivered
  // as live events) until the final ACK or ERROR.
  std::set<std::string> expired_histories;
  using pending_presence = pending_request<std::vector<presence_entry>>;
  std::map<std::string, pending_presence> presences;
  struct pending_ping : pending_request<std::chrono::microseconds> {
    steady::time_point sent{};
  };
  std::map<std::string, pending_ping> pings;

  // Flush pacing: a token bucket under the limit the server announced, spent by every request
  // sent on the connection. While publishes queued offline (and those made behind them) go
  // out, each waits for a token, so the server's own bucket never runs dry.
  std::optional<rate_limit_info> pace;  // the announced limit less a margin; none: not paced
  double pace_tokens = 0;
  steady::time_point pace_at{};
  bool pacing = false;            // publishes wait their turn in the bucket
  std::uint64_t frames_sent = 0;  // requests sent on this connection

  // The end, for requests made after it (service thread, then the afterlife thread).
  bool ended = false;
  std::string end_reason, closed_reason;
  std::uint64_t next_ref = 1;

  // The last reference may go on the afterlife thread itself, or on an app thread running a
  // task the executor held: a joinable std::thread destroyed would std::terminate.
  ~impl() override {
    for (std::thread* t : {&thread, &afterlife})
      if (t->joinable()) {
        if (t->get_id() == std::this_thread::get_id())
          t->detach();
        else
          t->join();
      }
  }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  explicit impl(client_options o)
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
    if (opt.max_message_bytes == 0)
      throw config_error("max_message_bytes must be positive (got 0)");
    for (const auto& r : opt.rooms) rooms.insert(r);
    joined_rooms = rooms;
  }

  // --- commands ---------------------------------------------------------------------------

  void post(std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(cmd_mutex);
    cmds.push_back(std::move(fn));
    if (ctx_ready) lws_cancel_service(ctx);
    if (finished) start_afterlife_locked();
  }

  // The loop has ended: a thread of the client's runs what was posted (requests fail there at
  // once; callbacks run off the caller's thread, as always). One at a time; the previous one
  // no longer needs cmd_mutex once it cleared afterlife_busy, so joining it here is safe.
  void start_afterlife_locked() {
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
  void finish() {
    std::lock_guard<std::mutex> lock(cmd_mutex);
    finished = true;
    if (!cmds.empty()) start_afterlife_locked();
  }

  // Why a request made after the end fails.
  client_error closed_error(const std::string& what) const {
    return make_error(client_error::kind::connection,
                      "the client has closed for good (" + end_reason + "): " + what,
                      closed_code ? code_name(closed_code) : "stopped");
  }

  request_clock clock_for(const request_options& r) const {
    const auto t = r.timeout.value_or(opt.request_timeout);
    if (t.count() <= 0)
      throw config_error("request timeout must be positive (got " + std::to_string(t.count()) +
                         " ms)");
    return request_clock{steady::now() + t, t};
  }

  void drain() {
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

  // --- reporting ----------------------------------------------------------------------------

  void set_state(state_info info) {
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
        connected_promise.set_exception(std::make_exception_ptr(request_error(make_error(
            info.auth_failed ? client_error::kind::server : client_error::kind::connection,
            "closed before connecting: " + info.reason,
            info.error ? code_name(info.error) : "stopped"))));
      }
      closed_promise.set_value(info);
    }
  }

  bool on_service_thread() const {
    return running && std::this_thread::get_id() == service_thread_id.load();
  }

  // Every call of user code goes through here, in order: run now on the service thread, or,
  // with client_options::executor, handed to the app's executor as a task owning what it
  // uses (`task` must not refer to the caller's locals). A queued task keeps the state alive
  // and calls nothing once the client object is gone (registry detached).
  template <class F>
  void to_app(F&& task) {
    if (!opt.executor) {
      task();
      return;
    }
    std::function<void()> fn = [self = shared_from_this(), t = std::forward<F>(task)]() mutable {
      if (!self->reg->detached) t();
    };
    try {
      opt.executor(std::move(fn));
    } catch (const std::exception& e) {
      std::cerr << "rtev: the executor refused a task: " << e.what() << '\n';
    }
  }

  // An error for the error handler (client::on_error), where user code runs.
  void report(client_error err) {
    to_app([r = reg, err = std::move(err)] { r->report(err); });
  }

  template <class F>
  void call_guarded(F&& f, const event* ev) {
    if (reg->detached) return;  // the client was destroyed from a handler: no more user code
    try {
      f();
    } catch (const parse_error& e) {
      client_error err = make_error(client_error::kind::decode, e.what());
      if (ev) err.ev = *ev;
      reg->report(err);
    } catch (const std::exception& e) {
      client_error err =
          make_error(client_error::kind::handler, std::string("a handler threw: ") + e.what());
      if (ev) err.ev = *ev;
      reg->report(err);
    } catch (...) {
      client_error err =
          make_error(client_error::kind::handler, "a handler threw a non-standard exception");
      if (ev) err.ev = *ev;
      reg->report(err);
    }
  }

  void dispatch(const event& e) {
    if (opt.executor) return to_app([this, e] { dispatch_now(e); });
    dispatch_now(e);
  }

  void dispatch_now(const event& e) {
    for (auto& h : reg->snapshot())
      if (h->on_event && h->active && glob_match(h->pattern, e.type) && in_scope(*h, e))
        call_guarded([&] { h->on_event(e); }, &e);
  }

  // A room subscription's handlers see only its room (and nothing once it is unsubscribed).
  static bool in_scope(const detail::registry::entry& h, const event& e) {
    return !h.scope || (h.scope->active && glob_match(h.scope->room, e.room.value_or("")));
  }
  static bool in_scope(const detail::registry::entry& h, const std::string& pattern) {
    return !h.scope || (h.scope->active && h.scope->room == pattern);
  }

  void report_joined(join_info j) {
    to_app([this, j = std::move(j)] {
      for (auto& e : reg->snapshot())
        if (e->on_joined && e->active && in_scope(*e, j.room))
          call_guarded([&] { e->on_joined(j); }, nullptr);
    });
  }

  void report_gap(gap_info g) {
    ++stats.gaps;
    to_app([this, g = std::move(g)] {
      for (auto& e : reg->snapshot())
        if (e->on_gap && e->active && in_scope(*e, g.room))
          call_guarded([&] { e->on_gap(g); }, nullptr);
    });
  }

  // --- room subscription objects (client.subscribe) ------------------------------------------

  void set_room_state(const std::shared_ptr<detail::room_entry>& r, room_state state,
                      std::optional<client_error> err = std::nullopt) {
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
  static void settle_joined(detail::room_entry& r, const join_info& j) {
    if (r.first_set) return;
    r.first_set = true;
    r.first.set_value(j);
  }
  static void settle_failed(detail::room_entry& r, const client_error& err) {
    if (r.first_set) return;
    r.first_set = true;
    r.first.set_exception(std::make_exception_ptr(request_error(err)));
  }

  // It ends for good: refused (the server's error) or the client's end.
  void end_room(const std::shared_ptr<detail::room_entry>& r, const client_error& err) {
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

  void add_room(const std::shared_ptr<detail::room_entry>& r) {
    if (ended) return end_room(r, closed_error("'" + r->room + "' was not joined"));
    if (!r->active) return;  // unsubscribed before it got here
    room_objects[r->room].push_back(r);
    if (rooms.insert(r->room).second) return subscribe(r->room);
    // Held already: joined on this connection, or its SUBSCRIBE answer is still to come.
    if (auto j = joined_now.find(r->room); j != joined_now.end()) {
      set_room_state(r, room_state::subscribed);
      settle_joined(*r, j->second);
    }
  }

  void release_room(const std::shared_ptr<detail::room_entry>& r) {
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

  void leave_room(const std::string& room) {
    if (!rooms.erase(room)) return;
    pattern_seq.erase(room);
    joined_now.erase(room);
    // Joined again later, it starts afresh: its `since` applies, its replay is not deduped.
    initial_since_used.erase(room);
    room_seq.erase(room);
    if (authenticated) send_frame(json{{"type", "UNSUBSCRIBE"}, {"data", {{"room", room}}}});
  }

  void rooms_joined(const join_info& j) {
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

  void rooms_refused(const std::string& pattern, const client_error& err) {
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

  void rooms_lost() {
    joined_now.clear();
    std::vector<std::shared_ptr<detail::room_entry>> all;  // (a handler may destroy the client)
    for (const auto& [pattern, list] : room_objects)
      all.insert(all.end(), list.begin(), list.end());
    for (const auto& r : all) {
      if (reg->detached) return;
      set_room_state(r, room_state::subscribing);
    }
  }

  void rooms_closed(const client_error& err) {
    auto all = std::move(room_objects);
    room_objects.clear();
    for (auto& [pattern, list] : all)
      for (auto& r : list) end_room(r, err);
  }

  // --- connection -------------------------------------------------------------------------

  std::string current_token() {
    if (opt.token_provider) {
      try {
        return opt.token_provider();
      } catch (const std::exception& e) {
        report(make_error(client_error::kind::handler,
                          std::string("token provider threw: ") + e.what()));
      }
    }
    return opt.token;
  }

  void connect() {
    retry_pending = false;
    if (stop_flag) return;
    ++generation;
    authenticated = false;
    attempt_active = true;
    last_close_code = last_http_status = 0;
    certificate_problem.clear();
    certificate_reason.clear();
    attempt_started = steady::now();
    frames_sent = 0;
    pacing = false;
    if (opt.async_token_provider) return ask_token();
    wire->open(current_token());
  }

  // async_token_provider: the attempt goes on in on_token, on the service thread.
  void ask_token() {
    awaiting_token = true;
    const std::uint64_t gen = generation;
    auto done = [w = weak_from_this(), gen](std::string token, std::string error) {
      if (auto i = w.lock())
        i->post([i = i.get(), gen, token = std::move(token), error = std::move(error)] {
          i->on_token(gen, token, error);
        });
    };
    try {
      opt.async_token_provider(std::move(done));
    } catch (const std::exception& e) {
      on_token(gen, {}, std::string("it threw: ") + e.what());
    }
  }

  void on_token(std::uint64_t gen, const std::string& token, const std::string& error) {
    if (gen != generation || !awaiting_token || stop_flag) return;  // late, or a second call
    awaiting_token = false;
    if (!error.empty()) return token_failed("the token provider failed: " + error);
    attempt_started = steady::now();  // the connection gets its own connect_timeout
    wire->open(token);
  }

  void token_failed(std::string why) {
    awaiting_token = false;
    detail::transport_end end;
    end.reason = std::move(why);
    end.error = errc::token_unavailable;
    on_end(std::move(end));
  }

  void send_frame(json&& request) {
    ++frames_sent;
    if (pace) {
      refill();
      pace_tokens -= 1;
    }
    wire->send(std::move(request));
  }

  // --- flush pacing -------------------------------------------------------------------------

  void refill() {
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
  void start_flush(const json& d) {
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
  void pump() {
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

  static void on_flush(lws_sorted_usec_list_t* sul) {
    lws_container_of(sul, timer, sul)->owner->pump();
  }

  std::string new_ref(char kind) { return std::string(1, kind) + std::to_string(next_ref++); }

  void subscribe(const std::string& pattern) {
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

  void send_publish(pending_publish& p) {
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

  void on_authenticated(const json& d) {
    authenticated = true;
    auth_retry_used = false;
    user_id = d.value("user_id", "");
    const std::string new_epoch = d.value("epoch", "");
    if (epoch && !new_epoch.empty() && *epoch != new_epoch) {
      // A different store: no seq we hold means anything in it. Every room with a recovery
      // point resumes from the new store's beginning (since 0: its events are replayed, none
      // missed) and the dedupe state starts afresh (it numbers from 1 again). The application
      // is told once per room, before any event of the new store — unless the room's point
      // was 0 (the old store had no event when it was joined, and none came): nothing to tell.
      std::vector<gap_info> gaps;
      epoch_restarts.clear();
      for (auto& [pattern, seq] : pattern_seq) {
        if (seq != 0) {
          gap_info g;
          g.room = pattern;
          g.server_last_seq = d.value("last_seq", std::uint64_t{0});
          g.epoch_changed = true;
          g.epoch = new_epoch;
          g.previous_epoch = *epoch;
          g.previous_seq = seq;
          gaps.push_back(std::move(g));
        }
        seq = 0;
        epoch_restarts.insert(pattern);
      }
      room_seq.clear();
      epoch = new_epoch;  // handlers below see the state the resubscriptions will use
      for (auto& g : gaps) report_gap(std::move(g));
    }
    if (!new_epoch.empty()) epoch = new_epoch;
    backoff.connected();
    // The automatic user:/role: rooms are resubscribed explicitly so they recover too.
    // An anonymous identity is new on every connection: its user room has nothing to recover.
    auto_rooms.clear();
    if (opt.recover && !d.value("anonymous", false)) {
      auto_rooms.push_back("user:" + user_id);
      if (d.contains("roles") && d["roles"].is_array())
        for (const auto& r : d["roles"])
          if (r.is_string()) auto_rooms.push_back("role:" + r.get<std::string>());
    }
    for (const auto& r : auto_rooms)
      if (!rooms.count(r)) subscribe(r);
    for (const auto& r : rooms) subscribe(r);
    start_flush(d);
    state_info s;
    s.state = client_state::connected;
    ++stats.connects;
    s.user_id = user_id;
    if (auto it = d.find("rate_limit"); it != d.end() && it->is_object()) {
      const json& r = *it;
      if (r.contains("per_second") && r["per_second"].is_number() && r.contains("burst") &&
          r["burst"].is_number() && r["per_second"].get<double>() > 0)
        s.rate_limit =
            rate_limit_info{r["per_second"].get<double>(), std::max(1.0, r["burst"].get<double>())};
    }
    s.foreign = d.value("foreign", false);
    if (s.foreign) s.reason = d.value("foreign_reason", std::string());
    set_state(s);
  }

  void on_ack(const json& msg) {
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
      if (!d.value("recovered", true) && since && !epoch_restart &&
          (*since != 0 || replayed != 0)) {
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

  void on_error_reply(const json& msg) {
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

  void on_event_message(json&& j) {
    if (j.contains("history") && j.contains("ref") && j["ref"].is_string()) {
      if (expired_histories.count(j["ref"].get<std::string>())) return;
      auto it = histories.find(j["ref"].get<std::string>());
      if (it != histories.end()) {
        j.erase("history");
        j.erase("ref");
        try {
          it->second.result.events.push_back(event::from_json(j));
        } catch (const parse_error& e) {
          report(
              make_error(client_error::kind::protocol, std::string("history event: ") + e.what()));
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
  void deliver(event&& e) {
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

  // --- transport_sink -----------------------------------------------------------------------

  void on_sent(std::size_t bytes) override {
    ++stats.messages_out;
    stats.bytes_out += bytes;
  }

  void on_raw(const std::string& text) override {
    ++stats.messages_in;
    stats.bytes_in += text.size();
    to_app([this, text] {
      for (auto& e : reg->snapshot())
        if (e->on_raw && e->active) call_guarded([&] { e->on_raw(text); }, nullptr);
    });
  }

  void on_problem(const client_error& err) override { report(err); }

  void on_event(event&& e) override { deliver(std::move(e)); }

  void on_message(json&& j) override {
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return;
    const std::string type = j["type"].get<std::string>();
    if (type == "authenticated") return on_authenticated(j.value("data", json::object()));
    if (type == "auth_error") {
      const json d = j.value("data", json::object());
      last_reason = "authentication rejected: " +
                    (d.is_object() ? d.value("message", std::string()) : std::string());
      return;
    }
    if (type == "ACK") return on_ack(j);
    if (type == "ERROR") return on_error_reply(j);
    if (type == "PONG") {
      // Ours are strings; a PONG to a raw PING may carry any JSON ref (not ours, and no throw).
      const std::string ref =
          j.contains("ref") && j["ref"].is_string() ? j["ref"].get<std::string>() : "";
      if (auto it = pings.find(ref); it != pings.end()) {
        const auto rtt =
            std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - it->second.sent);
        stats.round_trip_us = rtt.count();
        pending_ping q = std::move(it->second);
        pings.erase(it);
        end_request(q, rtt);
      }
      return;
    }
    on_event_message(std::move(j));
  }

  // The attempt ended (or never started): fail what cannot survive, then retry or close.
  void on_end(detail::transport_end end) override {
    if (!attempt_active) return;
    attempt_active = false;
    const bool was_authenticated = authenticated;
    authenticated = false;
    last_close_code = end.close_code;
    last_http_status = end.http_status;
    // An auth_error's message (kept in last_reason) says more than the close that follows it.
    if (!end.reason.empty()) last_reason = end.reason;
    last_error = end.error                           ? end.error
                 : end.was_open || was_authenticated ? make_error_code(errc::connection_lost)
                                                     : make_error_code(errc::connection_failed);
    if (was_authenticated) backoff.disconnected();
    for (auto& p : publishes)
      if (p.sent_on) {
        p.sent_on = 0;  // resent (same id) after reconnecting
        ++unsent;
      }
    fail_requests(make_error(client_error::kind::connection, "connection lost: " + last_reason));
    expired_histories.clear();
    pacing = false;
    lws_sul_cancel(&flush_timer.sul);
    subscribe_refs.clear();
    subscribe_since.clear();
    epoch_restart_refs.clear();
    rooms_lost();
    if (stop_flag) return;
    const bool not_here = end.final && !connected_set;
    final_answers = not_here ? final_answers + 1 : 0;

    // Another attempt would meet the same certificate: say what is wrong with it, once.
    if (!certificate_problem.empty()) {
      last_reason = certificate_reason;
      close_for_good(false, last_reason, errc::certificate_rejected, certificate_problem);
      return;
    }
    if (end.auth_rejected) {
      if ((opt.token_provider || opt.async_token_provider) && !auth_retry_used) {
        auth_retry_used = true;  // ask the provider once more, right away
        next_server();
        schedule_retry(std::chrono::milliseconds(0), 0);
        return;
      }
      close_for_good(true, last_reason.empty() ? "authentication rejected" : last_reason,
                     end.error ? end.error : errc::auth_failed, {}, end.token_required);
      return;
    }
    // A URL that never led to the server is a mistake to report at once; a client that has
    // been connected and now meets a 404 or a page is seeing a deploy or a proxy between
    // backends, and retries with the backoff like any lost connection.
    if (not_here && final_answers >= urls.size()) {  // every server said so, in a row
      close_for_good(false, last_reason, end.error ? end.error : errc::not_rtev_server);
      return;
    }
    if (!opt.reconnect) {
      close_for_good(false, last_reason, last_error);
      return;
    }
    auto wait = backoff.next();
    if (!wait) {
      close_for_good(
          false, "gave up after " + std::to_string(backoff.attempts()) + " retries: " + last_reason,
          errc::connection_failed);
      return;
    }
    // The server's reconnect time (SSE `retry:`) is the first delay; attempts that fail after
    // it back off from there, never below it.
    if (end.retry_after)
      wait = backoff.attempts() <= 1 ? *end.retry_after : std::max(*wait, *end.retry_after);
    next_server();
    schedule_retry(*wait, backoff.attempts());
  }

  // Several servers (client_options::urls): the next attempt goes to the next one.
  void next_server() {
    if (urls.size() < 2) return;
    url_at = (url_at + 1) % urls.size();
    url = urls[url_at].parsed;
    wire->retarget(url);
  }

  void schedule_retry(std::chrono::milliseconds wait, std::uint32_t attempt) {
    ++stats.reconnect_attempts;
    state_info s;
    s.state = client_state::reconnecting;
    s.attempt = attempt;
    s.delay = wait;
    s.http_status = last_http_status;
    s.close_code = last_close_code;
    s.reason = last_reason;
    s.error = last_error;
    last_reason.clear();
    set_state(s);
    retry_pending = true;
    lws_sul_schedule(ctx, 0, &retry_timer.sul, on_retry,
                     static_cast<lws_usec_t>(wait.count()) * LWS_US_PER_MS);
  }

  static void on_retry(lws_sorted_usec_list_t* sul) {
    lws_container_of(sul, timer, sul)->owner->connect();
  }

  void close_for_good(bool auth_failed, std::string reason, std::error_code why = {},
                      std::string certificate = {}, bool token_required = false) {
    state_info s;
    s.state = client_state::closed;
    s.error = closed_code = why;
    s.auth_failed = auth_failed;
    s.token_required = token_required;
    s.reason = std::move(reason);
    s.certificate_problem = std::move(certificate);
    s.http_status = last_http_status;
    s.close_code = last_close_code;
    closed_reason = s.reason;
    set_state(s);
    stop_flag = true;
  }

  void fail_requests(const client_error& err) {
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
  void expire_requests(steady::time_point now) {
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

  void fail_everything(const std::string& why) {
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

  // A publish ends. A future's promise is set even after the client object is gone (destroyed
  // from a handler); user callbacks then are not called.
  void complete(pending_publish& p, const publish_ack* ack, const client_error* err) {
    if (p.internal) return p.done(ack, err);
    std::optional<publish_ack> a;
    std::optional<client_error> e;
    if (ack) a = *ack;
    if (err) e = *err;
    to_app([this, done = std::move(p.done), a = std::move(a), e = std::move(e)] {
      call_guarded([&] { done(a ? &*a : nullptr, e ? &*e : nullptr); }, nullptr);
    });
  }

  // A history, presence or ping request ends (taken off its list first). Its future's promise
  // is set at once, even after the client object is gone; a user callback gets what it needs
  // by value, through to_app (the service thread, or the app's executor).
  template <class T>
  void end_request(pending_request<T>& p, T result) {
    if (p.internal) return p.done(&result, nullptr);
    to_app([this, done = std::move(p.done), r = std::move(result)] {
      call_guarded([&] { done(&r, nullptr); }, nullptr);
    });
  }
  template <class T>
  void end_request(pending_request<T>& p, const client_error& err) {
    if (p.internal) return p.done(nullptr, &err);
    to_app([this, done = std::move(p.done), err] {
      call_guarded([&] { done(nullptr, &err); }, nullptr);
    });
  }

  // --- timers ------------------------------------------------------------------------------

  static void on_tick(lws_sorted_usec_list_t* sul) {
    impl* self = lws_container_of(sul, timer, sul)->owner;
    self->tick();
    lws_sul_schedule(self->ctx, 0, &self->tick_timer.sul, on_tick, 50 * LWS_US_PER_MS);
  }

  void tick() {
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

  // --- lws callback -----------------------------------------------------------------------

  static int callback(lws* w, lws_callback_reasons reason, void* user, void* in, size_t len) {
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

  int on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) {
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
      drain();
      return 0;
    }
    if (!wire) return lws_callback_http_dummy(w, reason, nullptr, in, len);
    return wire->on_callback(w, reason, in, len);
  }

  // --- the loop ----------------------------------------------------------------------------

  // stop() before start(): no connection, but what was asked for ends on a thread of the
  // client's, as handlers always run (queued publishes fail, state handlers see `closed`).
  void serve_never_started() {
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

  void serve() {
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
  bool poll_for(std::chrono::milliseconds budget) {
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
  void stop_polled() {
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

  bool begin_service() {
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

  void end_service() {
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
    lws_context_destroy(ctx);
    ctx = nullptr;
    wire.reset();
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
};

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

namespace {

// A future-returning request made on the service thread (inside a handler): its answer could
// only arrive through the thread that would be blocked waiting for it. Failed at once, not
// sent, and reported, so a future nobody looks at does not hide it either.
template <class T>
bool refuse_on_service_thread(client::impl& m, const char* call, std::promise<T>& promise) {
  if (!m.on_service_thread()) return false;
  // (publish() sends its event first: see there.)
  client_error err = make_error(
      client_error::kind::would_deadlock,
      std::string(call) +
          " returning a future was called on the client's service thread (inside a handler): "
          "waiting for it there would deadlock, so nothing was sent; use the callback form");
  promise.set_exception(std::make_exception_ptr(request_error(err)));
  m.report(err);
  return true;
}

}  // namespace

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

namespace {

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
