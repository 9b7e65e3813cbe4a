#pragma once
// room_hub: the server's one piece of shared state — connections, their identities and
// subscriptions, rooms, presence, the publish pipeline (id/seq/timestamp, store, fan-out) and
// history replay. Every front door (rtev WebSocket, SSE, Socket.IO, HTTP POST) goes through it,
// in typed values (hub_ops.hpp): a door decodes its wire format into operations, the hub
// answers with replies, and the connection's door_codec — supplied by its door — encodes them.
// The hub knows no protocol: no JSON of any client's, no branch on the kind of connection.
// Implemented in parts, each readable in one sitting:
//   room_hub.cpp          connections, authentication, presence, timers
//   room_hub_index.cpp    subscriptions: matching, automatic rooms, the exact-room index
//   room_hub_fanout.cpp   replies and live events into per-connection queues, the queue bound
//   room_hub_replay.cpp   replay from a position, SSE subscriptions, history queries
//   room_hub_publish.cpp  the publish pipeline: id/timestamp, idempotency, the engine's results
//   room_hub_ops.cpp      the typed operations: what each does and answers
//
// Threads: the hub is touched ONLY on the lws service thread. The engine (event_engine.hpp)
// gives the seq, stores, and answers on the service thread; so do history reads.
// The hub never includes libwebsockets: transports give each connection a `wake` callback
// and pull frames with next_outgoing().

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "auth.hpp"
#include "event_engine.hpp"
#include "fifo.hpp"
#include "frame.hpp"
#include "hub_ops.hpp"

namespace rtev::server_lite {

using steady = std::chrono::steady_clock;
using conn_id = std::uint64_t;

/// Which door a connection came in by: for counting only (stats); the hub never branches on it.
enum class conn_kind { websocket, sse, socketio };

/// Close codes the server uses (see docs/protocol.md).
namespace close_code {
constexpr int going_away = 1001;
constexpr int policy = 1008;
constexpr int too_big = 1009;
constexpr int server_error = 1011;
constexpr int slow_consumer = 4000;
constexpr int kicked = 4001;
constexpr int history_replaced = 4002;
}  // namespace close_code

struct hub_config {
  std::string timezone = "UTC";
  std::chrono::milliseconds auth_timeout{10000};
  std::chrono::milliseconds ping_interval{30000};
  std::chrono::milliseconds ping_timeout{10000};
  std::chrono::milliseconds sse_heartbeat{30000};
  double rate = 100, burst = 100;
  std::size_t send_queue_max = 1000;
  std::chrono::seconds idempotency_window{300};
  bool store_presence = false;  ///< user_online/user_offline stored with a seq (else live-only)
};

/// Whether `text` matches one of `globs` (rtev/glob.hpp); no globs: everything matches.
bool any_glob_matches(const std::vector<std::string>& globs, const std::string& text);

/// A subscription: one or more room patterns (a WebSocket SUBSCRIBE has one; an SSE stream
/// has its ?rooms=), optional type globs, and — while history is being replayed — a cursor.
struct subscription {
  std::vector<std::string> patterns;
  std::vector<std::string> types;
  bool broadcasts = false;  ///< replay also includes events without a room
  bool automatic = false;   ///< user:/role: rooms joined at authentication
  op_ref ref;               ///< the SUBSCRIBE's, for its ACK

  // Replay state. While `replaying`, live events matching this subscription are skipped:
  // the next page read from the store (bounded by the hub's delivery frontier) brings them.
  bool replaying = false;
  std::uint64_t cursor = 0;              ///< last seq replayed
  std::optional<std::int64_t> since_us;  ///< time-based start
  std::uint64_t replayed = 0;
  bool recovered = true;
  bool ack_after_replay = false;  ///< a SUBSCRIBE: answered when replay ends
  // Pages are read by the history reader off the service thread. Live events matching this
  // subscription that are committed meanwhile are held here and queued after the last page
  // (those the pages already brought are dropped by seq); past max_held the hold is dropped
  // and one more page round catches up from the store instead.
  std::uint64_t id = 0;       ///< the hub's number for it, which a page answer looks up
  bool page_pending = false;  ///< a page query is out
  std::vector<event_ptr> held;
  bool held_overflow = false;

  bool matches_room(const std::string& room) const;
  bool matches(const shared_event& e) const;
};

/// One queued item: a shared event, or a message for this connection only (ACK, ERROR, …).
struct outgoing {
  event_ptr event;
  frame_ptr control;
  bool live = false;  ///< counts against send_queue_max (replayed history does not)
};

struct connection {
  conn_id id = 0;
  conn_kind kind = conn_kind::websocket;
  std::string remote;
  std::function<void()> wake;  ///< ask the transport for a writeable callback
  /// Drop the transport now, without a close handshake: for a peer that stopped reading, whose
  /// socket may never become writeable again. Its CLOSED then calls room_hub::closed().
  std::function<void()> kill;
  /// How replies become this door's frames, which events it takes, how liveness is checked.
  door_codec codec;

  std::optional<identity> who;
  /// Whether this connection counts for presence (user_online/user_offline, PRESENCE). A client
  /// that only publishes opts out (?presence=false, or "presence": false when authenticating).
  bool presence = true;
  std::optional<std::string> present_as;  ///< the user it is counted for in presence_
  std::list<subscription> subs;

  fifo<outgoing> queue;
  std::size_t live_queued = 0;  ///< queued live events (bounded by send_queue_max)

  std::optional<std::pair<int, std::string>> closing;  ///< close requested: code, reason
  bool gone = false;                                   ///< transport closed; awaiting removal
  steady::time_point closing_since{};
  bool killed = false;  ///< kill() called; CLOSED follows
  /// The transport has handed the close to lws (close frame queued): lws's own time-outs bound
  /// the handshake from here (5 s to send the frame, 5 s for the peer's answer).
  bool close_handed = false;
  /// The transport's last writeable callback (it took bytes). A closing connection whose
  /// transport stays unwriteable for the ping time-out is killed.
  steady::time_point last_writeable{};
  /// Replies still to come for work already accepted (publishes awaiting the store): a closing
  /// connection sends them before its close frame.
  std::size_t replies_pending = 0;

  steady::time_point opened{};
  steady::time_point last_ping{};
  bool ping_outstanding = false;
  bool ping_due = false;                ///< transport should send a PING (WebSocket/Engine.IO)
  steady::time_point last_heartbeat{};  ///< SSE `: ping`
  bool heartbeat_due = false;

  double tokens = 0;  ///< rate-limit bucket
  steady::time_point refilled{};
  fifo<steady::time_point> limited;  ///< recent rate_limited rejections

  std::uint64_t marker = 0;          ///< last fan-out round that reached this connection
  std::vector<std::string> indexed;  ///< exact rooms it is filed under in room_index_
};

class room_hub {
 public:
  using publish_done = std::function<void(publish_outcome)>;

  room_hub(hub_config cfg, event_engine& engine, const authenticator& auth);
  ~room_hub();

  // --- connections ---------------------------------------------------------------------
  /// A new connection of door `kind`, which supplies its codec (an empty codec: replies are
  /// dropped, every matching event is taken, pings are due).
  connection& open(conn_kind kind, std::string remote, std::function<void()> wake,
                   std::function<void()> kill = {}, door_codec codec = {});
  /// The transport closed: forget the connection (presence updated).
  void closed(conn_id id);
  connection* find(conn_id id);
  std::size_t connection_count() const { return conns_.size(); }
  std::size_t connection_count(conn_kind kind) const;

  /// Authenticate with a token (empty: none given). With `announce`, success queues
  /// `authenticated` and failure queues an auth_error and closes the connection with 1008 (an
  /// SSE stream, refused with 401 instead, does not announce). `ref`: the `authenticate`
  /// request's, echoed in either answer. Returns the error, empty on success.
  std::string authenticate(connection& c, const std::string& token, bool announce,
                           const op_ref& ref = {});

  /// Count one client message against the rate limit. False when over it: a rate_limited
  /// ERROR (with `ref`) is queued, and sustained abuse closes the connection.
  bool admit(connection& c, const op_ref& ref);
  /// One decoded client request, after admission. Nothing while the connection is closing.
  void handle(connection& c, hub_operation op);
  /// Queue a reply on `c`, encoded by its door (also while closing: replies to work accepted
  /// before, and the reason for the close).
  void send(connection& c, const hub_reply& r);
  /// What `authenticated` carries. Needs c.who.
  connection_info info_of(const connection& c) const;
  /// The connection's id as clients see it (connection_id, anon-<id>): unique in the cluster.
  std::string name_of(const connection& c) const;
  /// The per-connection rate limit, announced in `authenticated`.
  rate_limit_values rate_limit() const { return {cfg_.rate, cfg_.burst}; }
  /// The zone for times given without an offset (and for timestamps written).
  const std::string& timezone() const { return cfg_.timezone; }

  /// The next thing to send on `c`, or nothing. Pumps history replay as the queue drains.
  std::optional<outgoing> next_outgoing(connection& c);

  /// Request a close with `code`: queued events are dropped at once, no new work is taken, the
  /// control messages already queued (and replies still due) go out, then the close. A
  /// transport that takes no bytes for the ping time-out meanwhile is killed (tick()).
  void close_connection(connection& c, int code, std::string reason);
  /// Whether a closing connection has nothing left to send but its close.
  bool ready_to_close(const connection& c) const {
    return c.closing && c.queue.empty() && c.replies_pending == 0;
  }

  // --- SSE -----------------------------------------------------------------------------
  /// Set up an SSE stream's subscription. `rooms` empty: what a WebSocket client sees by
  /// default (its user:/role: rooms and broadcasts). Throws rtev::parse_error ("rooms[0]: …")
  /// for a bad room; returns why if a room is refused (403). The stream's type filter is its
  /// codec's `accepts`.
  std::string open_sse(connection& c, const std::vector<std::string>& rooms,
                       const std::optional<since_point>& since);

  // --- publishing --------------------------------------------------------------------------
  /// Give each event its id and timestamp and hand them to the engine, which gives the seq and
  /// stores them; what it stores comes back through its feed and is fanned out. `done` runs on
  /// the service thread when every event is stored (or rejected).
  void publish(std::vector<publish_request> reqs, publish_done done);
  /// Check a publish target on behalf of `who` (nullptr: the HTTP API with its key).
  std::string publish_refusal(const identity* who, const publish_request& r) const;

  // --- queries -------------------------------------------------------------------------
  /// A page of stored events of `room` (a pattern; empty: every room and broadcasts), read
  /// off the service thread. `done` runs on the service thread with the page, or with SQLite's
  /// message when the read failed.
  using history_done = std::function<void(history_page, const std::string& error)>;
  void history(const std::string& room, const std::optional<since_point>& since,
               std::optional<std::int64_t> until_us, std::size_t limit,
               const std::vector<std::string>& types, history_done done);
  /// The users present in `room` (subscribed, presence on), by user id, on this node.
  std::vector<presence_entry> presence_of(const std::string& room) const;
  /// How many authenticated connections `user_id` has on this node.
  std::size_t user_connections(const std::string& user_id) const;
  /// Close every connection of a user on this node with 4001. Returns how many.
  std::size_t kick_user(const std::string& user_id);
  /// Asks every node sharing the engine (this one alone without --broker) and answers on the
  /// service thread with their reports and how many nodes did not answer in time.
  void ask_nodes(const node_question& q, const event_engine::ask_done& done) {
    engine_.ask_nodes(q, done);
  }
  /// This node's answer to `q`.
  node_report report(const node_question& q);

  /// Waits until every history read asked for so far has been answered and its result posted
  /// (not yet run: that is the service thread's next turn). For embedders' and tests' settling.
  void flush_reads() { engine_.flush_reads(); }

  // --- timers & lifecycle ----------------------------------------------------------------
  /// Auth time-outs, heartbeats, ping time-outs, killing closing connections whose peer does
  /// not read, idempotency window expiry. Called a few times a second.
  void tick(steady::time_point now);
  /// The server's own state (with --broker: whether this node reaches Redis). Every
  /// connection is told when it changes, and a new one is told while it is not ok.
  void service_status(bool ok, const std::string& reason);
  /// The server_status a connection opened now is told: none while the server is ok.
  std::optional<server_status_reply> status_notice() const;
  /// Shutdown: close everything with 1001.
  void shutdown();
  /// The service loop has ended: forget the connections still open (their transports are
  /// about to be torn down), so their presence events are published while the hub can still
  /// see them committed. A transport's later closed() is then a no-op.
  void release_all();

  // --- stats ---------------------------------------------------------------------------
  /// Stored events fed to this node: with --broker, every node's.
  std::uint64_t events_published() const { return published_; }
  /// Events stored that were published through this node.
  std::uint64_t events_accepted() const { return accepted_; }
  std::uint64_t events_delivered() const { return delivered_; }
  std::uint64_t events_dropped() const { return dropped_; }
  /// Events published per type: the first max_tracked_types distinct types by name, every
  /// later one under other_types (so /metrics and /api/stats stay small whatever clients send).
  const std::map<std::string, std::uint64_t>& by_type() const { return by_type_; }
  static constexpr std::size_t max_tracked_types = 1000;
  static constexpr const char* other_types = "_other";
  /// Users with a connection that counts for presence: a connection with presence off (a
  /// publishing script, the browser console) is nobody's news in counts either.
  std::size_t user_count() const { return present_.size(); }
  std::size_t authenticated_users() const;
  std::size_t room_count() const;
  /// This node's connections and the exact rooms they are filed under (GET /api/connections).
  const std::unordered_map<conn_id, std::unique_ptr<connection>>& connections() const {
    return conns_;
  }
  const std::unordered_map<std::string, std::unordered_set<connection*>>& room_members() const {
    return room_index_;
  }
  std::uint64_t frontier() const { return frontier_; }
  std::string epoch() const { return engine_.epoch(); }
  const event_engine& engine() const { return engine_; }

 private:
  struct ack_group;

  void send_error(connection& c, const op_ref& ref, const std::string& code,
                  const std::string& message);
  void deliver(const event_ptr& e, const connection* except = nullptr);
  void enqueue_live(connection& c, const event_ptr& e);
  void index_subscription(connection& c, const subscription& s);
  void unindex_connection(connection& c);
  void reindex(connection& c);
  void join_automatic(connection& c);
  void drop_refused_rooms(connection& c);
  void pump_replay(connection& c, subscription& s);
  void hold(subscription& s, const event_ptr& e);
  static constexpr std::size_t max_held = 10000;
  void on_replay_page(conn_id conn, std::uint64_t sub, std::uint64_t max_seq, history_page page,
                      const std::string& error);
  void finish_replay(connection& c, subscription& s);
  void start_replay(connection& c, subscription& s, const since_point& since,
                    const std::optional<std::string>& epoch);
  bool rate_ok(connection& c, steady::time_point now);
  void user_connected(const identity& who);
  void user_disconnected(const std::string& user_id);
  void update_presence(connection& c);
  /// The identity `result` (or its error) becomes the connection's: authenticate()'s second half.
  std::string adopt(connection& c, auth_result result, bool announce, const op_ref& ref);
  void presence_leave(const std::string& user_id);
  void publish_presence(const char* type, const std::string& user_id);
  void on_stored(const event_ptr& e);
  void on_history_replaced(std::uint64_t last_seq);
  void on_appended(ack_group& group, const std::vector<std::size_t>& index,
                   const std::vector<std::pair<std::string, std::string>>& keys,
                   const std::vector<append_outcome>& out);
  std::string now_rfc3339() const;
  void count_type(const std::string& type);

  // The operations (room_hub_ops.cpp); c is authenticated (c.who) for all but the first two.
  void on(connection& c, const authenticate_op& op);
  void on(connection& c, const ping_op& op);
  void on(connection& c, const subscribe_op& op);
  void on(connection& c, const unsubscribe_op& op);
  void on(connection& c, publish_op&& op);
  void on(connection& c, const typing_op& op);
  void on(connection& c, const history_op& op);
  void on(connection& c, const presence_op& op);
  void on(connection& c, const bad_op& op);

  hub_config cfg_;
  event_engine& engine_;
  const authenticator& auth_;

  conn_id next_conn_id_ = 1;
  std::unordered_map<conn_id, std::unique_ptr<connection>> conns_;
  // Exact room → connections with a (non-glob) subscription to it; connections with any glob
  // subscription are checked for every event.
  std::unordered_map<std::string, std::unordered_set<connection*>> room_index_;
  std::unordered_set<connection*> glob_conns_;
  std::unordered_map<std::string, std::size_t> users_;  // user id → authenticated connections
  // user id → connections that count for presence (users_ less those with presence off)
  std::unordered_map<std::string, std::size_t> present_;

  // The announced frontier: the highest seq the engine has fed. Failed writes never move it.
  std::uint64_t frontier_;
  std::uint64_t marker_ = 0;
  struct recent_id {
    std::uint64_t seq;
    steady::time_point at;
    bool committed;
    std::vector<std::pair<std::shared_ptr<ack_group>, std::size_t>> waiters;
  };
  std::unordered_map<std::string, recent_id> recent_ids_;
  std::deque<std::pair<steady::time_point, std::string>> recent_order_;

  std::uint64_t published_ = 0, accepted_ = 0, delivered_ = 0, dropped_ = 0;
  steady::time_point started_ = steady::now();
  std::map<std::string, std::uint64_t> by_type_;
  std::size_t named_types_ = 0;  // keys of by_type_ other than other_types
  std::uint64_t next_sub_id_ = 1;
  std::optional<std::string> degraded_;  // why the server is not ok (service_status)
};

}  // namespace rtev::server_lite
