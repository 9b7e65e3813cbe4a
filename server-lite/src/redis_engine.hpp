#pragma once
// redis_engine: the event_engine of a cluster — several `rtev serve --broker redis://…` nodes
// share one sequence, one history and one event stream kept in Redis (docs/scale-out.md).
//
// Keys (PREFIX = --broker-prefix): PREFIX:seq (the counter), PREFIX:events (a Stream whose
// entry ids are "<seq>-0", so a seq is a stream position), PREFIX:epoch (the history's id),
// PREFIX:id:<client id> (the idempotency window). One Lua script does a batch's counter,
// stream appends (trimmed to --history-max-events) and idempotency keys together, so seqs are
// strictly increasing across the cluster in stream order. Every node reads the stream
// (XREAD, its own connection) and feeds every event — its own and the other nodes' — to its
// hub in seq order; a publisher's answer waits until its events have come back that way, so
// an acknowledged seq is one every node can replay.
//
// Besides stored events the nodes share (redis_engine_nodes.cpp): live-only events and
// questions to every node over a pub/sub channel (PREFIX:bus, and PREFIX:bus:<node> for the
// answers), and presence — PREFIX:nodes (node → expiry, kept alive by a heartbeat),
// PREFIX:node:<node> (the users present there), PREFIX:present (user → how many nodes have
// it), changed by one script so exactly one node sees a user's first arrival and last leave.
//
// Files: redis_engine.cpp (start, connections, the epoch, publishing), redis_engine_reads.cpp
// (the stream each node follows, history reads), redis_engine_nodes.cpp (the bus, presence,
// the heartbeat), redis_engine_parts.hpp (what they share).
//
// Threads: hiredis's async API on the server's libev loop, i.e. the service thread; nothing
// here runs anywhere else, except stats() and health(), which read atomics and a mutex.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "event_engine.hpp"
#include "log.hpp"

struct ev_loop;
struct redisAsyncContext;
struct redisReply;

namespace rtev::server_lite {

struct redis_settings {
  std::string url;                    ///< redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
  std::string prefix = "rtev";        ///< key prefix, so deployments can share one Redis
  std::chrono::milliseconds wait{0};  ///< keep trying this long at start before giving up
  std::chrono::seconds idempotency_window{300};
  /// How long a node that stopped answering may still count (its users stay online): it
  /// renews its entry every quarter of it, for three quarters, so whichever node beats next
  /// takes a dead one out within this time.
  std::chrono::milliseconds node_ttl{10000};
  retention_policy retention;
  /// Told once, with the reason, when the first attempt at start fails and `wait` allows more.
  std::function<void(const std::string& why)> waiting;
  /// Where the engine says what it did on its own: a new epoch adopted, events trimmed by age
  /// (debug), a presence update Redis refused. None: nothing is said.
  const logger* log = nullptr;
};

class redis_engine final : public event_engine {
 public:
  /// Connects once, synchronously: checks Redis answers (AUTH, SELECT), loads the script,
  /// makes or reads the epoch and the last seq. Throws broker_unavailable naming the
  /// (password-free) URL and Redis's or the socket's reason when it cannot within `wait`;
  /// rtev::config_error for a bad URL or prefix.
  explicit redis_engine(redis_settings settings);
  ~redis_engine() override;
  redis_engine(const redis_engine&) = delete;
  redis_engine& operator=(const redis_engine&) = delete;

  /// Starts the engine's two connections on the server's libev loop (before serving).
  void attach(struct ev_loop* loop);
  /// The URL as it may be shown (no password).
  const std::string& shown_url() const { return shown_; }
  /// Told when the broker becomes unreachable (ok=false, why) and reachable again.
  using health_listener = std::function<void(bool ok, const std::string& why)>;
  void set_health_listener(health_listener l) { health_listener_ = std::move(l); }

  const char* name() const override { return "redis"; }
  std::string epoch() const override;
  std::uint64_t last_seq_at_start() const override { return last_seq_at_start_; }
  void set_feed(feed_fn feed) override { feed_ = std::move(feed); }
  void set_reset(const reset_fn& reset) override { reset_ = reset; }
  void append(std::vector<new_event> events, append_done done) override;
  void query(history_query q, query_done done) override;
  std::vector<std::pair<std::string, std::uint64_t>> ids_since(std::int64_t) const override {
    return {};  // the script keeps the window in Redis, for every node
  }
  store_stats stats() const override;
  store_health health() const override;
  void flush() override {}
  void flush_reads() override {}

  std::string node_id() const override { return node_; }
  void set_live_feed(const feed_fn& feed) override { live_feed_ = feed; }
  void share(const event_ptr& event) override;
  void presence(const std::string& user_id, bool here) override;
  void ask_nodes(const node_question& q, const ask_done& done) override;

 private:
  struct connection;
  struct waiting_append;
  struct query_state;
  struct publish_call;
  struct question;

  void connected(connection& c);
  void lost(connection& c, const std::string& why);
  void read_next();
  void on_read(redisReply* reply);
  void send_publish(const std::shared_ptr<publish_call>& call, bool retried);
  void on_published(const std::shared_ptr<publish_call>& call, redisReply* r, bool retried);
  void fail_call(publish_call& call, const std::string& why);
  void release_appends();
  void fail_appends(const std::string& why);
  void query_page(const std::shared_ptr<query_state>& st);
  void on_query_page(const std::shared_ptr<query_state>& st, redisReply* r);
  void check_epoch();
  void adopt_epoch(const std::string& epoch);
  void note(bool ok, const std::string& why);
  void all_up();
  bool commands_open() const;
  // redis_engine_nodes.cpp
  void subscribe_bus();
  void on_bus(const std::string& channel, const std::string& message);
  void run_presence(const char* mode, std::vector<std::string> users);
  void on_presence(redisReply* r);
  void sync_presence();
  void nodes_upkeep(std::chrono::steady_clock::time_point now);
  void beat();
  void finish_question(std::uint64_t id);
  void say_goodbye();
  static void on_timer(struct ev_loop* loop, void* w, int revents);

  redis_settings settings_;
  std::string host_, user_, password_, shown_;
  int port_ = 6379, db_ = 0;
  std::string k_seq_, k_events_, k_epoch_, k_id_;
  std::string script_, sha_;
  std::string node_;  // this node's id: random, new at every start
  std::string k_nodes_, k_present_, k_node_, k_bus_;
  std::string presence_sha_;

  struct ev_loop* loop_ = nullptr;
  std::unique_ptr<connection> cmd_, reader_, bus_;
  std::unique_ptr<struct ev_timer_holder> timer_, beat_timer_;

  feed_fn feed_;
  reset_fn reset_;
  std::uint64_t last_seq_at_start_ = 0;
  std::uint64_t fed_ = 0;         // highest seq fed (the reader's position)
  std::uint64_t generation_ = 0;  // histories seen: a read asked in an older one is stale
  std::deque<std::unique_ptr<waiting_append>> waiting_;
  bool stopping_ = false;

  feed_fn live_feed_;
  bool registered_ = false;  // this node's presence entries are (being) written
  bool cmd_ever_up_ = false;
  std::size_t known_nodes_ = 1;
  std::uint64_t next_question_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<question>> questions_;
  static constexpr std::size_t max_questions = 64;  // out at once; more: this node answers alone

  mutable std::mutex mutex_;  // guards epoch_, health_
  std::string epoch_;
  store_health health_;
  std::atomic<std::uint64_t> events_{0}, first_seq_{0}, last_seq_{0};
  // Every seq up to this one has left the history (trimmed, or never kept): a resume from
  // before it cannot be whole. Measured by the upkeep (and at start), never guessed.
  std::atomic<std::uint64_t> pruned_through_{0};
  health_listener health_listener_;
};

}  // namespace rtev::server_lite
