#pragma once
/// \file
/// rtev::client — the SDK's connection to an rtev server: connects over WebSocket (`ws://`,
/// `wss://`), authenticates with a token (or a token provider asked again before every
/// reconnect), reconnects by itself with the backoff policy, resubscribes and resumes from the
/// last event it saw in every joined room (no event lost or duplicated across reconnects),
/// and delivers typed and by-name events to subscribers.
///
///     rtev::client_options opt;
///     opt.url = "ws://127.0.0.1:8000/events/ws/connect";
///     opt.token = "42";
///     opt.rooms = {"lobby"};
///     rtev::client c(opt);
///     auto sub = c.on<rtev::events::message_sent>(   // the catalog: #include <rtev/events.hpp>
///         [](const rtev::events::message_sent& m, const rtev::event& e) { … });
///     c.start();
///     c.publish("lobby", "message_sent", {{"message_text", "hi"}}).get();   // waits for the ACK
///
/// Thread safety: every public member function is safe to call from any thread, concurrently.
/// Handlers (events, state, gaps, errors, publish callbacks) run on the client's service
/// thread — the one start() creates, the caller of run(), or the caller of poll() / run_for()
/// while inside them — and never on a caller's thread; a handler must not block it. With
/// client_options::executor they are handed, in order, to the app's executor instead (a UI
/// thread's queue). Futures cannot be waited for there: publish() made there sends
/// its event but returns a future already failed with kind would_deadlock, and history,
/// presence and ping send nothing and fail the same way; use the callback form. A handler
/// may stop() or destroy the client.
/// Errors: the constructor throws rtev::config_error for a bad URL or options. Network and
/// protocol failures after start are reported as state changes and to the error handler, never
/// thrown into the service thread. An exception thrown by a handler is caught and reported to
/// the error handler; the client keeps running.

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rtev/backoff.hpp"
#include "rtev/errc.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/typed_event.hpp"  // not the product catalog: include rtev/events.hpp for that

namespace rtev {

enum class client_state {
  idle,          ///< constructed, not started
  connecting,    ///< first connection attempt in progress
  connected,     ///< authenticated; events flow
  reconnecting,  ///< waiting before (or making) another attempt
  closed,        ///< stopped, gave up, or authentication was rejected
};
/// "idle", "connecting", "connected", "reconnecting", "closed".
std::string_view to_string(client_state s);

/// The per-connection rate limit a server announces (rtev serve: `rate_limit` in
/// `authenticated`): a token bucket of `burst` messages refilled at `per_second`.
struct rate_limit_info {
  double per_second = 0;
  double burst = 0;
};

/// A state change with its details, as passed to on_state().
struct state_info {
  client_state state = client_state::idle;
  std::uint32_t attempt = 0;           ///< reconnecting: retry number, 1-based
  std::chrono::milliseconds delay{0};  ///< reconnecting: the wait chosen (backoff + jitter)
  int http_status = 0;                 ///< last error: HTTP status of a refused upgrade
  int close_code = 0;                  ///< last error: WebSocket close code
  std::string reason;        ///< last error, or why the client closed; connected + foreign: why
  bool auth_failed = false;  ///< closed because authentication was rejected
  /// auth_failed because the server requires a token and none was given (rtev protocol: the
  /// server answered the client's PING before `authenticated`; docs/protocol.md §4.1).
  bool token_required = false;
  /// Closed because the server's TLS certificate failed verification: what is wrong with it
  /// ("self-signed certificate", "expired", …; `reason` has the whole sentence). Not retried.
  std::string certificate_problem;
  std::string user_id;  ///< connected: who the server says we are
  /// The server this state is about (client_options::url or one of urls): connected: the one
  /// answering; reconnecting: the one the next attempt goes to; closed: the last one tried.
  std::string server_url;
  /// connected: the rate limit the server announced (none: it announces none; SSE never).
  std::optional<rate_limit_info> rate_limit;
  /// connected (protocol rtev): the WebSocket server does not speak rtev's protocol — it sent
  /// no `authenticated` in time, or something else first. Its messages are read leniently
  /// (read_foreign) and requests it cannot take fail with code `unsupported`.
  bool foreign = false;
  /// closed: why, as a stable code (auth_failed, token_expired, not_rtev_server,
  /// certificate_rejected, connection_failed, closed_by_server, …); empty after stop().
  /// reconnecting: what ended the last attempt (connection_lost, or as for closed).
  std::error_code error;
};

/// What the server says of its own state (rtev serve's `server_status`, docs/protocol.md §4.7):
/// not ok while a node of a cluster (`rtev serve --broker`) cannot reach its broker — publishes
/// are refused with `unavailable` and the other nodes' events wait — then ok again. A client
/// that (re)connects while it is not ok is told at once; after a reconnect the state starts ok
/// again (the server tells it if not). Runs on the service thread.
struct server_status_info {
  bool ok = true;
  std::string reason;      ///< why not ok (the server's words)
  std::string timestamp;   ///< when the server said so (RFC 3339)
  std::string server_url;  ///< the server that said so
};

/// Counters of a client's life so far (client::metrics(); a snapshot, safe from any thread).
struct client_metrics {
  std::uint64_t connects = 0;            ///< times it reached `connected` (the first included)
  std::uint64_t reconnect_attempts = 0;  ///< attempts made after a lost or failed one
  std::uint64_t events = 0;  ///< events delivered to the handlers (replays included, once each)
  std::uint64_t gaps = 0;    ///< gap notices (on_gap)
  std::uint64_t messages_in =
      0;  ///< messages received (rtev frames, SSE events, Socket.IO packets)
  std::uint64_t messages_out = 0;  ///< messages written (frames, packets, SSE publish bodies)
  std::uint64_t bytes_in = 0;      ///< their payload bytes (without WebSocket/HTTP framing)
  std::uint64_t bytes_out = 0;
  std::size_t offline_queue = 0;   ///< publishes waiting for a connection
  std::size_t unacknowledged = 0;  ///< publishes not acknowledged yet (the queued ones included)
  /// The last request round trip: a publish sent → its acknowledgement, or ping(). None before
  /// the first one.
  std::optional<std::chrono::microseconds> round_trip;
};

/// The server could not replay everything a room may have had while the client was away
/// (history pruned, or the server's store changed): the application may refetch.
///
/// History pruned (epoch_changed false): events of `room` after `after_seq`, up to
/// `server_last_seq`, may be missing; what the server still had was replayed before the notice.
///
/// Store changed (epoch_changed true): the server's `epoch` differs, and seqs of the old store
/// say nothing about the new one (it numbers from 1 again). Reported once per room the client
/// had a recovery point in, when it reconnects and before any event of the new store; then the
/// room is resubscribed from the new store's beginning (recover on), so the new store's events
/// are replayed in order, none missed. What the old store took after the connection was lost
/// is what may be missing. `after_seq` is 0 (the client has nothing of the new store), the old
/// position is in `previous_epoch` / `previous_seq`. A room whose recovery point was 0 — the
/// store had no event when it was joined and none was delivered since — gets no notice.
///
/// Runs on the service thread.
struct gap_info {
  std::string room;
  /// The last seq the client had for that room in the server's current store (epoch_changed:
  /// 0, the new store's events are replayed from its beginning).
  std::uint64_t after_seq = 0;
  /// The server's last seq when it answered (epoch_changed: the new store's, at connect time).
  std::uint64_t server_last_seq = 0;
  bool epoch_changed = false;  ///< the server's store is a different one
  std::string epoch;           ///< the server's epoch now (empty: it announces none)
  std::string previous_epoch;  ///< epoch_changed: the old store's epoch
  /// epoch_changed: the last seq the client had for that room in the old store (a seq of that
  /// store, not of the new one).
  std::uint64_t previous_seq = 0;
};

/// What the server acknowledged for a publish.
struct publish_ack {
  std::string id;
  std::uint64_t seq = 0;
  bool duplicate = false;  ///< the id had been published before; seq is the first one's
  /// false: the server never acknowledged (a Socket.IO server given the event type itself):
  /// the publish completed once written and socketio_options::publish_ack_wait had passed.
  bool acknowledged = true;
};

/// Why an operation failed, as given to callbacks and error handlers (and thrown, as
/// rtev::request_error, from futures).
struct client_error {
  enum class kind {
    handler,     ///< a handler threw
    decode,      ///< an event's data did not match its typed struct (message has the field path)
    server,      ///< the server answered ERROR (code: bad_request, forbidden, …)
    connection,  ///< the connection was lost or closed before an answer
    queue_full,  ///< the offline queue is full
    protocol,    ///< a message from the server could not be understood
    /// a future-returning call (publish, history, presence, ping) made on the client's service
    /// thread — inside a handler — where waiting for the future would deadlock: not sent
    would_deadlock,
    /// no answer within the request's time-out (code "timeout"); a later answer is ignored.
    /// A publish that timed out may still have been stored by the server.
    timeout,
  };
  kind what = kind::protocol;
  std::string code;  ///< server error code, when what == server
  std::string op;    ///< kind server: the request refused ("SUBSCRIBE", "PUBLISH", …) if known
  std::string message;
  std::optional<event> ev;  ///< the event involved, if any
  /// The stable code (rtev::errc): from `code` for kind server (rate_limited, forbidden, …;
  /// refused for codes without one of their own), else from the kind (connection_lost,
  /// stopped, queue_full, would_deadlock, decode_failed, handler_failed, protocol_error, …).
  std::error_code ec() const;
};
/// "handler", "decode", "server", "connection", "queue_full", "protocol", "would_deadlock",
/// "timeout".
std::string_view to_string(client_error::kind k);

/// The exception a future holds when its request failed.
struct request_error : error {
  explicit request_error(client_error e) : error(e.message), detail(std::move(e)) {}
  client_error detail;
};

/// A room (or glob) joined: the server's SUBSCRIBE answer, after any replay.
struct join_info {
  std::string room;
  std::uint64_t replayed = 0;  ///< stored events delivered before this notice
  bool recovered = true;       ///< false: see on_gap
  std::uint64_t last_seq = 0;  ///< the server's frontier when it answered
};

/// A HISTORY request: the stored events of a room, oldest first, one page at a time.
// bugprone-exception-escape is said of the implicit special members, whose member moves
// (std::string, nlohmann::json) are noexcept: nothing here can throw there.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct history_query {
  std::string room;  ///< a room, or a pattern (`*` globs need admin)
  /// Where the page starts: a seq number (the events after it), an RFC 3339 time (the events at
  /// or after it; a naive time is read in the server's zone) or "beginning"; null: the
  /// beginning. Anything else makes history() throw config_error.
  nlohmann::json since = nullptr;
  /// Where it ends: an RFC 3339 time (the events before it); null: now.
  nlohmann::json until = nullptr;
  /// At most this many events per page, 1 to 1000 (else history() throws config_error).
  std::size_t limit = 100;
};

/// One page of history, with the query it answers.
// NOLINTNEXTLINE(bugprone-exception-escape): as history_query (std::vector, std::optional).
struct history_result {
  std::vector<event> events;          ///< oldest first
  std::optional<std::uint64_t> next;  ///< pass as `since` for the next page; none at the end
  history_query query;                ///< what was asked for
  /// The query for the page after this one — `query` with `since` = `next` — or none when this
  /// page is the last (the server had nothing after it when it answered).
  std::optional<history_query> next_page() const;
};

/// One user present in a room (PRESENCE): how many connections it has there.
struct presence_entry {
  std::string user_id;
  std::uint64_t connections = 0;
};

/// Per-call settings of a request (publish, history, presence, ping).
struct request_options {
  /// How long the request may take, counted from the call — for a publish also the time it
  /// waits in the offline queue; unset: client_options::request_timeout. It then fails with
  /// kind timeout (code "timeout"). Must be positive.
  std::optional<std::chrono::milliseconds> timeout;
};

/// What the client speaks on the wire (docs/protocol.md, "Foreign protocols").
enum class wire_protocol {
  rtev,      ///< rtev's own JSON envelopes over WebSocket (ws://, wss://)
  sse,       ///< Server-Sent Events: GET an event stream (http://, https://)
  socketio,  ///< Socket.IO v5 over Engine.IO v4: long-polling + upgrade, or WebSocket only
};
/// "rtev", "sse", "socketio".
std::string_view to_string(wire_protocol p);
/// The protocol a URL implies: ws(s):// → rtev, http(s):// → sse; none for other schemes.
std::optional<wire_protocol> protocol_for_url(std::string_view url);

/// Settings for wire_protocol::sse.
struct sse_options {
  /// Where publish() POSTs the envelope; empty: the stream URL itself (rtev serve takes
  /// `POST /api/events`, the same path as its stream).
  std::string publish_url;
  /// The id to resume after on the first connection (sent as Last-Event-ID).
  std::string last_event_id;
};

/// Event names Socket.IO keeps for itself (`connect`, `connect_error`, `disconnect`,
/// `disconnecting`, `newListener`, `removeListener`): never emitted.
bool is_reserved_socketio_event(std::string_view name);

/// Settings for wire_protocol::socketio.
struct socketio_options {
  std::string nsp = "/";             ///< the namespace to connect to
  std::string path = "/socket.io/";  ///< the server's Engine.IO path
  bool websocket_only = false;       ///< false: long-polling first, then the upgrade
  /// The CONNECT packet's `auth` payload; null: {"token": token} when a token is set.
  nlohmann::json auth = nullptr;
  /// Emitted after every (re)connect, in order, each asking for an acknowledgement — e.g.
  /// {"authenticate", {{"token", "…"}}}. Each value is one argument (an array: several).
  /// Joins, publishes and emits wait until every one is acknowledged or the server emits
  /// `emit_reply`, at most `emit_reply_wait` (then they go anyway and the wait is reported to
  /// the error handler, kind protocol): servers that authenticate asynchronously refuse what
  /// arrives before they are done.
  std::vector<std::pair<std::string, nlohmann::json>> emits;
  /// The server's event that answers the emits; empty: only their acknowledgements count.
  std::string emit_reply = "authenticated";
  std::chrono::milliseconds emit_reply_wait{3000};  ///< zero: nothing waits for the emits
  /// Rooms are joined with `join_event` and left with `leave_event`, one argument
  /// {"room": name} (plus "since"/"epoch"/"types" when recovering; rtev serve resumes). An
  /// ack with {"error"} refuses the join (reported with code and op "SUBSCRIBE"). Empty
  /// join_event: nothing is emitted, the namespace itself is the subscription.
  std::string join_event = "join";
  std::string leave_event = "leave";
  /// How publish() emits:
  /// - unset (the default): to rtev serve's door (its CONNECT answer says
  ///   "protocol":"rtev.v1") as `publish`, to any other server as the event type itself;
  /// - a name: that event with {"room", "type", "data", "id"}, waiting for the ack
  ///   ({"id", "seq"} or {"error"});
  /// - empty: the event type itself with `data` as the only argument, asking for an ack:
  ///   completes with the ack (an {"error"} in it fails the publish) or, for servers that do
  ///   not acknowledge, `publish_ack_wait` after the packet was written
  ///   (publish_ack::acknowledged false).
  std::optional<std::string> publish_event;
  std::chrono::milliseconds publish_ack_wait{2000};
};

struct client_options {
  /// ws(s)://host:port/path for rtev; http(s)://… for SSE; http(s):// or ws(s):// (the
  /// server's origin; `socketio.path` is used) for Socket.IO.
  std::string url;
  /// More servers of the same service (a cluster of rtev serve nodes), after `url` (or
  /// instead, when `url` is empty). Every attempt that fails or ends moves on to the next one,
  /// round robin, with the backoff between attempts as usual; rooms are resumed from the last
  /// seq on whichever answers. A "not here" answer (404, a page; see `closed`) from one of
  /// them only closes the client when all of them have given one in a row.
  std::vector<std::string> urls;
  wire_protocol protocol = wire_protocol::rtev;
  sse_options sse;
  socketio_options socketio;
  std::string token;  ///< sent as `Authorization: Bearer`; empty: none
  /// Called (on the service thread) before every connection attempt; overrides `token`.
  std::function<std::string()> token_provider;
  /// The same without blocking the service thread — for a token fetched over the network.
  /// Called (on the service thread) before every connection attempt, instead of
  /// token_provider: start the fetch and call `done` once, from any thread, with the token and
  /// an empty error — or with an error message when there is none to be had (the attempt then
  /// fails with errc::token_unavailable and is retried with the backoff; so is one that gets
  /// no answer within connect_timeout). A late or second call of `done` is ignored.
  std::function<void(std::function<void(std::string token, std::string error)> done)>
      async_token_provider;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra handshake headers
  std::vector<std::string> rooms;  ///< joined on every connection (globs need admin)
  std::vector<std::string> types;  ///< only these event types (globs) in those rooms; empty: all
  std::chrono::milliseconds connect_timeout{10000};
  std::string ca_file;     ///< PEM CA bundle for wss://
  bool insecure = false;   ///< wss:// without certificate checks (self-signed, local)
  backoff_policy backoff;  ///< reconnect delays; max_attempts ends in `closed`
  std::chrono::milliseconds heartbeat_interval{15000};  ///< ping after this long without traffic
  std::chrono::milliseconds heartbeat_timeout{10000};   ///< no answer within this: reconnect
  bool recover = true;  ///< resubscribe with `since` after reconnecting
  /// Where the first subscription of each room starts: a seq number, an RFC 3339 time or
  /// "beginning" (replayed first, then live). null: live only.
  nlohmann::json since = nullptr;
  /// Where the first subscription of these rooms starts, instead of `since` (same values).
  std::map<std::string, nlohmann::json> room_since;
  bool reconnect = true;                 ///< false: the first disconnect closes the client
  std::size_t offline_queue_max = 1000;  ///< publishes held while disconnected
  /// The largest message the client takes from the server (a WebSocket message after
  /// reassembly, an SSE event, a Socket.IO packet): a larger one ends the connection with a
  /// clear reason (WebSocket: close code 1009) and the client reconnects. Never buffered whole.
  std::size_t max_message_bytes = 16 * 1024 * 1024;
  /// How long a request (publish, history, presence, ping) may take, counted from the call,
  /// unless the call says otherwise (request_options): then it fails with kind timeout. 30 s
  /// is more than a reconnect with the default backoff takes after a short outage, so a
  /// publish made offline survives it; a longer outage fails it rather than hold it unseen.
  std::chrono::milliseconds request_timeout{30000};
  /// Announce this connection in presence. false — for a client that only publishes — asks
  /// the server not to count it (no user_online/user_offline, not listed by PRESENCE): rtev
  /// and SSE add `presence=false` to the connect URL's query, Socket.IO puts `"presence":
  /// false` in the CONNECT auth payload (docs/protocol.md §4.4).
  bool presence = true;
  std::string subprotocol = "rtev.v1";  ///< offered in the handshake; empty: none
  /// Protocol rtev: a WebSocket server that sends no `authenticated` within this long after
  /// the upgrade (cut to end within connect_timeout), or whose first message is anything else,
  /// does not speak rtev's protocol: the client is connected at once and reads its messages
  /// leniently (state_info::foreign; docs/protocol.md §9). Zero: wait for `authenticated`.
  std::chrono::milliseconds foreign_wait{2000};
  /// Where handlers and callbacks run: unset, on the service thread; set, every call of user
  /// code (event, state, gap, join, raw and error handlers; publish, emit and request
  /// callbacks) is handed to it as a task, in the order the client makes them, from the
  /// service thread — e.g. posted to a UI thread's queue. It must run the tasks in that order
  /// (a FIFO queue) and should not block. Not routed through it: the token providers (they
  /// run on the service thread) and futures (they are completed on the service thread, so
  /// connected() may resolve before the state handlers have run on the executor). Tasks still
  /// queued when the client object is destroyed call nothing. Handlers running on the
  /// executor's thread may wait for futures there (would_deadlock is only for the service
  /// thread) and may destroy the client.
  std::function<void(std::function<void()> task)> executor;
};

namespace detail {
struct registry;
struct room_entry;
}  // namespace detail

/// A handler registration. Unsubscribes when reset, destroyed or unsubscribe()d — safe from
/// inside the handler itself and from any thread. Movable, not copyable.
class subscription {
 public:
  subscription() = default;
  subscription(std::weak_ptr<detail::registry> reg, std::uint64_t id)
      : reg_(std::move(reg)), id_(id) {}
  subscription(subscription&& o) noexcept : reg_(std::move(o.reg_)), id_(std::exchange(o.id_, 0)) {}
  subscription& operator=(subscription&& o) noexcept {
    if (this != &o) {
      unsubscribe();
      reg_ = std::move(o.reg_);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription() { unsubscribe(); }

  /// After this returns the handler is not called again (unless it is running right now on
  /// the service thread, called from another thread).
  void unsubscribe() noexcept;
  void reset() noexcept { unsubscribe(); }
  bool active() const noexcept { return id_ != 0 && !reg_.expired(); }

 private:
  std::weak_ptr<detail::registry> reg_;
  std::uint64_t id_ = 0;
};

/// Where a room subscription object stands (client::subscribe).
enum class room_state {
  subscribing,   ///< asked for, or the connection is down and it will be asked for again
  subscribed,    ///< the server answered SUBSCRIBE (any replay delivered); events flow
  unsubscribed,  ///< unsubscribe()d, refused by the server, or the client closed — final
};
/// "subscribing", "subscribed", "unsubscribed".
std::string_view to_string(room_state s);

/// A room subscription's state change. `error`: why it ended (unsubscribed only; none when
/// unsubscribe() ended it): the server's refusal (kind server, op "SUBSCRIBE": forbidden, …)
/// or the client's end (kind connection).
struct room_state_info {
  room_state state = room_state::subscribing;
  std::optional<client_error> error;
};

/// Settings of one client::subscribe().
struct room_options {
  /// Where the first subscription starts when this object is the first to join the room: a
  /// seq, an RFC 3339 time or "beginning" (replayed first, then live); null: live only, unless
  /// client_options::room_since / since say otherwise. Later subscriptions (after a reconnect)
  /// resume from the last seq delivered, as every joined room does.
  nlohmann::json since = nullptr;
};

/// A room joined as an object (client::subscribe): its own state, first-join future, and
/// handlers scoped to it — events of its room, its SUBSCRIBE answers (on every (re)join:
/// replay done, `recovered` says whether the recovery was complete), its gap notices and its
/// refusal. The client-wide handlers still see everything. Handlers run where the client's do
/// (service thread or executor). Destroying the object, or unsubscribe(), leaves the room
/// unless join() / client_options::rooms or another object holds it. Movable, not copyable;
/// safe from any thread. An object that outlives its client is unsubscribed and inert.
class room_subscription {
 public:
  using event_handler = std::function<void(const event&)>;
  room_subscription() = default;
  explicit room_subscription(std::shared_ptr<detail::room_entry> entry);
  room_subscription(room_subscription&&) noexcept = default;
  room_subscription& operator=(room_subscription&& o) noexcept;
  room_subscription(const room_subscription&) = delete;
  room_subscription& operator=(const room_subscription&) = delete;
  ~room_subscription();

  const std::string& room() const;
  room_state state() const;
  /// The first SUBSCRIBE answer for this object (at once when the room was already joined on
  /// this connection); throws request_error when it is refused (kind server), unsubscribed
  /// first, or the client closes first (kind connection).
  std::shared_future<join_info> joined() const;

  /// Events of this room, by type name or glob; typed events as client::on<T>.
  subscription on(std::string type_pattern, event_handler handler);
  template <class T, class F>
  subscription on(F&& handler);
  subscription on_state(std::function<void(const room_state_info&)> handler);
  subscription on_joined(std::function<void(const join_info&)> handler);
  subscription on_gap(std::function<void(const gap_info&)> handler);
  /// This subscription's errors: its refusal by the server (also reported to the client's
  /// error handler, as before).
  subscription on_error(std::function<void(const client_error&)> handler);

  /// Leave (unless the room is held otherwise). After it returns none of this object's
  /// handlers is called again and state() is unsubscribed. Idempotent.
  void unsubscribe() noexcept;

 private:
  std::shared_ptr<detail::room_entry> entry_;
};

class client {
 public:
  using event_handler = std::function<void(const event&)>;

  /// Validates the options (URL scheme, backoff policy); throws config_error.
  explicit client(client_options options);
  /// As the constructor, without throwing: null, with `ec` = errc::invalid_options and `why`
  /// (if given) the constructor's message, when the options cannot work.
  static std::unique_ptr<client> create(client_options options, std::error_code& ec,
                                        std::string* why = nullptr) noexcept;
  /// Stops the client (as stop()); safe at any time, even mid-connect, and from inside any of
  /// its handlers: then pending requests fail (callbacks are called) before it returns, no
  /// handler is called after it, and the service thread winds down by itself.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Run on a new service thread. Returns immediately.
  void start();
  /// Run on the calling thread until stop() (from a handler or another thread) or until the
  /// client closes for good.
  void run();
  /// For an app with its own frame loop: do what is ready now — network I/O, timers
  /// (reconnects, heartbeats, request time-outs), commands from other threads — on the calling
  /// thread, running the handlers there, and return without waiting. Call it every frame;
  /// timers are only as punctual as the calls. The first call starts the client (as start()
  /// would). Returns false once the client has ended (stopped or closed for good; the end's
  /// handlers have then run), true otherwise. One caller at a time (a concurrent call waits
  /// its turn); from inside a handler it does nothing. A future cannot complete between calls:
  /// wait for one with wait_for(0) between frames, not get(). Throws rtev::error when the
  /// client runs on start()'s thread or in run(). Before the first poll, and after stop(), the
  /// client is as idle as an unstarted one; stop() from the polling thread (or the
  /// destructor) reports the end right there, from another thread it waits for a poll under
  /// way to end.
  bool poll();
  /// As poll(), but services for up to `budget`, waiting for network events and timers in
  /// between (returns at the deadline, or at once when the client ends). Throws config_error
  /// for a negative budget.
  bool run_for(std::chrono::milliseconds budget);
  /// Stop: cuts a backoff wait or a connection attempt short, closes the connection (1000),
  /// fails pending requests, joins the service thread. Returns promptly; idempotent. Before
  /// start(): the end (queued publishes failing, state handlers seeing `closed`) is reported
  /// on a short-lived service thread, which stop() joins.
  void stop();

  client_state state() const;
  /// Counters and queue depths (see client_metrics); cheap, from any thread, at any time.
  client_metrics metrics() const;
  /// Resolves when the client first reaches `connected` (after the state handlers have seen
  /// it), or throws request_error if it closes first. For scripts and tests that must wait for
  /// readiness.
  std::shared_future<void> connected() const;
  /// Resolves when the client reaches `closed`, with the final state.
  std::shared_future<state_info> closed() const;

  /// Events by type name or glob ("content-created", "message_*", "*").
  subscription on(std::string type_pattern, event_handler handler);
  /// Typed events — the catalog's (rtev/events.hpp) or the app's own (RTEV_TYPED_EVENT, in
  /// rtev/typed_event.hpp): handler(const T&, const event&). A payload that does not
  /// decode goes to the error handler (kind decode, with the field path); others still get it.
  template <class T, class F>
  subscription on(F&& handler);

  subscription on_state(std::function<void(const state_info&)> handler);
  subscription on_gap(std::function<void(const gap_info&)> handler);
  /// The server's own state changed (server_status_info): e.g. a cluster node lost its broker.
  subscription on_server_status(std::function<void(const server_status_info&)> handler);
  /// Every SUBSCRIBE answer (also after reconnects): replay done, live from here.
  subscription on_joined(std::function<void(const join_info&)> handler);
  /// Every message from the server, as received (for REPLs and debugging).
  subscription on_raw(std::function<void(const std::string&)> handler);
  /// Send a message as is: rtev protocol JSON, or a Socket.IO packet (`2["join",{…}]`; the
  /// Engine.IO message prefix `4` is added).
  /// Dropped while not connected; reported as an error over SSE (nothing to send on).
  void send_raw(std::string text);
  /// Socket.IO: emit `name` with `args` (a JSON array: one element per argument; any other
  /// value: that one argument). With `ack`, asks for an acknowledgement and calls it with the
  /// ack's arguments (a JSON array), or with an error when the connection ends first. Other
  /// protocols report kind protocol ("emit needs --protocol socketio").
  void emit(const std::string& name, nlohmann::json args,
            std::function<void(const nlohmann::json* ack_args, const client_error*)> ack = {});
  /// Replaces the error handler (default: write one line to stderr).
  void on_error(std::function<void(const client_error&)> handler);

  /// Join a room (resubscribed, with recovery, after every reconnect) / leave it.
  void join(const std::string& room);
  void leave(const std::string& room);
  /// Join a room (or a glob, with admin rights) as an object with its own state and handlers
  /// (see room_subscription). Recovered after reconnects like join(). Several objects (and
  /// join()) may hold the same room: it is subscribed once and left when the last lets go.
  /// Throws config_error for an empty room.
  room_subscription subscribe(std::string room, room_options options = {});

  /// Publish to a room (or "" for a broadcast). Carries a client-generated id, so a publish
  /// retried across a reconnect is stored once. While disconnected it waits in the offline
  /// queue; a full queue fails at once (kind queue_full). Every publish ends: acknowledged,
  /// refused by the server (kind server, with its code), failed (kind connection: the client
  /// closed for good — at once when it already had), or timed out (kind timeout, after
  /// `request.timeout` or client_options::request_timeout from the call).
  std::future<publish_ack> publish(const std::string& room, const std::string& type,
                                   nlohmann::json data, request_options request = {});
  void publish(const std::string& room, const std::string& type, nlohmann::json data,
               std::function<void(const publish_ack*, const client_error*)> done,
               request_options request = {});
  template <class T>
  std::future<publish_ack> publish(const std::string& room, const T& typed,
                                   request_options request = {});
  /// Publish an envelope: its room (none: broadcast), type, data, and its id if set (else a
  /// new one). Timestamp, timezone and seq are the server's to assign.
  void publish(const event& e, std::function<void(const publish_ack*, const client_error*)> done,
               request_options request = {});

  /// Typing indicator for a room (not stored). Dropped while disconnected.
  void typing(const std::string& room, bool is_typing);
  /// Completion of a request's callback form: exactly one of the two is non-null. Runs on the
  /// service thread (after the client has closed for good: on a short-lived thread of the
  /// client's), never on the caller's.
  template <class T>
  using request_callback = std::function<void(const T* result, const client_error* error)>;

  /// Stored events of a room, one page (history_query: room, since, until, limit ≤ 1000);
  /// result.next_page() asks for the next one. Throws config_error for a bad query or
  /// time-out. Every request ends once (docs/sdk.md, "Every request ends"): the page, a
  /// refusal (kind server, with the server's code), a time-out (kind timeout), the connection
  /// lost or not connected (kind connection), or the client closed for good (kind connection,
  /// at once). The future form fails with would_deadlock on the service thread (inside a
  /// handler), sending nothing; the callback form works there.
  std::future<history_result> history(const history_query& query, request_options request = {});
  void history(const history_query& query, request_callback<history_result> done,
               request_options request = {});
  /// The same as history(history_query{room, since, until, limit}, request).
  std::future<history_result> history(const std::string& room,
                                      const nlohmann::json& since = nullptr,
                                      const nlohmann::json& until = nullptr,
                                      std::size_t limit = 100, request_options request = {});
  /// Who is in a room now (PRESENCE; rtev servers only). Fails with kind server when the
  /// server refuses (a room the token may not join); otherwise ends as history() does.
  std::future<std::vector<presence_entry>> presence(const std::string& room,
                                                    request_options request = {});
  void presence(const std::string& room, request_callback<std::vector<presence_entry>> done,
                request_options request = {});
  /// Round trip of an application-level PING; ends as history() does.
  std::future<std::chrono::microseconds> ping(request_options request = {});
  void ping(request_callback<std::chrono::microseconds> done, request_options request = {});

  struct impl;

 private:
  void publish_with_id(const std::string& id, const std::string& room, const std::string& type,
                       nlohmann::json data,
                       std::function<void(const publish_ack*, const client_error*)> done,
                       bool done_is_internal, const request_options& request);
  subscription on_decoded(std::string type, std::function<void(const event&)> handler);
  std::shared_ptr<impl> impl_;
};

// --- templates -------------------------------------------------------------------------------

template <class T, class F>
subscription client::on(F&& handler) {
  static_assert(is_typed_event_v<T>,
                "client.on<T>: T must be a typed event: declare it with RTEV_TYPED_EVENT "
                "(rtev/typed_event.hpp) or use one of rtev/events.hpp");
  return on_decoded(std::string(event_traits<T>::name),
                    [h = std::forward<F>(handler)](const event& e) { h(decode<T>(e.data), e); });
}

template <class T, class F>
subscription room_subscription::on(F&& handler) {
  static_assert(is_typed_event_v<T>,
                "room_subscription.on<T>: T must be a typed event: declare it with "
                "RTEV_TYPED_EVENT (rtev/typed_event.hpp) or use one of rtev/events.hpp");
  return on(std::string(event_traits<T>::name),
            [h = std::forward<F>(handler)](const event& e) { h(decode<T>(e.data), e); });
}

template <class T>
std::future<publish_ack> client::publish(const std::string& room, const T& typed,
                                         request_options request) {
  static_assert(is_typed_event_v<T>,
                "client.publish(room, e): e must be a typed event: declare its type with "
                "RTEV_TYPED_EVENT (rtev/typed_event.hpp) or use one of rtev/events.hpp");
  return publish(room, std::string(event_traits<T>::name), encode(typed), request);
}

}  // namespace rtev
