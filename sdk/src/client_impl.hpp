#pragma once
// Internal: the state of one rtev::client (client::impl), shared by the files that implement
// it, one responsibility each:
//
//   client.cpp             the public API's lifecycle and handlers (construction, start, run,
//                          poll, stop, the destructor, on_*); impl's commands (post, drain, the
//                          afterlife), state reports and dispatch to user code
//   client_service.cpp     the service loop: begin and end, poll()'s rounds, the lws callback,
//                          the tick timer
//   client_connection.cpp  connection attempts and tokens, the transport's sink (`authenticated`,
//                          messages, the end of an attempt), backoff and reconnect, the close
//   client_rooms.cpp       joins and room subscription objects, (re)subscription, recovery
//                          points and seq dedupe of arriving events
//   client_publish.cpp     publishes: the offline queue, flush pacing, publish() and typing()
//   client_requests.cpp    answers to requests (ACK, ERROR), their time-outs and failures;
//                          history(), presence() and ping()
//
// Threads: every piece of connection state below lives on the service thread — start()'s, the
// caller of run(), or the caller of poll()/run_for() while it is inside them. Public calls
// from other threads enqueue a command (cmd_mutex) and wake the thread with
// lws_cancel_service(); the handler registry has its own mutex. User code (handlers,
// callbacks) is called through impl::to_app only: on the service thread, or handed to
// client_options::executor.

#include <libwebsockets.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "client_options.hpp"
#include "handler_registry.hpp"
#include "rtev/client.hpp"
#include "rtev/glob.hpp"
#include "transport.hpp"

namespace rtev {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;

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

  ~impl() override;  // client.cpp
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  explicit impl(client_options o);  // client.cpp

  // --- commands and reporting (client.cpp) --------------------------------------------------

  void post(std::function<void()> fn);
  void start_afterlife_locked();
  void finish();
  client_error closed_error(const std::string& what) const;
  request_clock clock_for(const request_options& r) const;
  void drain();

  void set_state(state_info info);
  void dispatch(const event& e);
  void dispatch_now(const event& e);
  void report_joined(join_info j);
  void report_gap(gap_info g);
  // The server's `server_status` (client_connection.cpp); `server_ok` is what was last told.
  void on_server_status(const json& d);
  void report_server_status(server_status_info s);
  bool server_ok = true;
  std::string server_reason;

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

  // A room subscription's handlers see only its room (and nothing once it is unsubscribed).
  static bool in_scope(const detail::registry::entry& h, const event& e) {
    return !h.scope || (h.scope->active && glob_match(h.scope->room, e.room.value_or("")));
  }
  static bool in_scope(const detail::registry::entry& h, const std::string& pattern) {
    return !h.scope || (h.scope->active && h.scope->room == pattern);
  }

  // --- the service loop (client_service.cpp) ------------------------------------------------

  static void on_tick(lws_sorted_usec_list_t* sul);
  void tick();
  static int callback(lws* w, lws_callback_reasons reason, void* user, void* in, size_t len);
  int on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len);
  void serve_never_started();
  void serve();
  bool poll_for(std::chrono::milliseconds budget);
  void stop_polled();
  bool begin_service();
  void end_service();

  // --- connection (client_connection.cpp) ---------------------------------------------------

  std::string current_token();
  void connect();
  void ask_token();
  void on_token(std::uint64_t gen, const std::string& token, const std::string& error);
  void token_failed(std::string why);
  void send_frame(json&& request);
  void on_authenticated(const json& d);

  // transport_sink
  void on_sent(std::size_t bytes) override {
    ++stats.messages_out;
    stats.bytes_out += bytes;
  }
  void on_raw(const std::string& text) override;
  void on_problem(const client_error& err) override { report(err); }
  void on_event(event&& e) override { deliver(std::move(e)); }
  void on_message(json&& j) override;
  void on_end(detail::transport_end end) override;

  void next_server();
  void schedule_retry(std::chrono::milliseconds wait, std::uint32_t attempt);
  static void on_retry(lws_sorted_usec_list_t* sul);
  void close_for_good(bool auth_failed, std::string reason, std::error_code why = {},
                      std::string certificate = {}, bool token_required = false);

  // --- rooms, subscriptions and recovery (client_rooms.cpp) ---------------------------------

  void set_room_state(const std::shared_ptr<detail::room_entry>& r, room_state state,
                      std::optional<client_error> err = std::nullopt);
  static void settle_joined(detail::room_entry& r, const join_info& j);
  static void settle_failed(detail::room_entry& r, const client_error& err);
  void end_room(const std::shared_ptr<detail::room_entry>& r, const client_error& err);
  void add_room(const std::shared_ptr<detail::room_entry>& r);
  void release_room(const std::shared_ptr<detail::room_entry>& r);
  void leave_room(const std::string& room);
  void rooms_joined(const join_info& j);
  void rooms_refused(const std::string& pattern, const client_error& err);
  void rooms_lost();
  void rooms_closed(const client_error& err);
  void subscribe(const std::string& pattern);
  void on_event_message(json&& j);
  void deliver(event&& e);

  // --- publishes and flush pacing (client_publish.cpp) --------------------------------------

  void refill();
  void start_flush(const json& d);
  void pump();
  static void on_flush(lws_sorted_usec_list_t* sul);
  void send_publish(pending_publish& p);
  void complete(pending_publish& p, const publish_ack* ack, const client_error* err);

  // --- answers and ends of requests (client_requests.cpp) -----------------------------------

  void on_ack(const json& msg);
  void on_error_reply(const json& msg);
  void fail_requests(const client_error& err);
  void expire_requests(steady::time_point now);
  void fail_everything(const std::string& why);

  std::string new_ref(char kind) { return std::string(1, kind) + std::to_string(next_ref++); }

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
};

}  // namespace rtev
