#pragma once
// event_engine: the seam between the hub and where events are sequenced, stored and shared.
//
// The hub hands the engine new events as typed values, without a seq. The engine gives each
// one its seq, stores it, and reports twice:
//   - to the publisher, once per event, through append()'s `done`: stored with its seq, a
//     duplicate of an id already stored (the first seq), or failed (nothing stored, no seq);
//   - to the hub's feed, every stored event exactly once and in seq order, as a shared_event
//     whose frames are built once for every connection.
// The embedded engine (embedded_engine.hpp: SQLite, one node) feeds what this node stored; an
// engine shared by several nodes feeds every node's events.
//
// History is read through the engine too (query), so replay, HISTORY, /api/history and SSE
// resume read wherever the events are kept.
//
// Threads: every member is called on the service thread, and every callback (`done`, the
// feed, a query's answer) runs on the service thread — an engine hands work done elsewhere
// back through the post function it was made with. stats() and health() may be called from
// any thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "frame.hpp"
#include "history_store.hpp"
#include "hub_ops.hpp"

namespace rtev::server_lite {

/// An event to store, as the hub made it: everything but the seq.
struct new_event {
  std::string id;
  bool own_id = false;  ///< the publisher chose the id (it enters the idempotency window)
  std::string type;
  std::string room;          ///< empty for a broadcast
  std::string data = "{}";   ///< the event's data as JSON text
  std::int64_t time_us = 0;  ///< the event's instant, microseconds since the Unix epoch
  std::string stamp;         ///< that instant in RFC 3339 in `zone`
  std::string zone;          ///< IANA name of the server's time zone
};

/// A question every node answers about itself (PRESENCE, /api/users/{id}, its disconnect,
/// /api/stats), so one node can answer for the whole cluster.
struct node_question {
  enum class kind { presence, user, kick, stats };
  kind what = kind::stats;
  std::string arg;  ///< the room (presence) or the user id (user, kick)
};

/// One node's answer to a node_question.
struct node_report {
  std::string node;  ///< the node's id (empty: a single node)
  /// presence: the users present in the room here; user: that user with its connections here
  /// (absent when none); kick: that user with how many connections were closed here.
  std::vector<presence_entry> users;
  // stats:
  std::size_t connections = 0;
  std::vector<std::string> user_ids;  ///< authenticated users connected here
  std::vector<std::string> rooms;     ///< exact rooms subscribed to here
  std::uint64_t published = 0;        ///< events published through this node
  std::uint64_t delivered = 0, dropped = 0;
  double uptime_s = 0;
};

/// What an engine may ask of the hub about its node: the users present here (to register them
/// again when the shared store lost them), and the node's part of a node_question.
struct node_view {
  std::function<std::vector<std::string>()> present_users;
  std::function<node_report(const node_question&)> report;
};

/// What became of one appended event.
struct append_outcome {
  bool ok = true;          ///< stored (or found already stored)
  std::string error;       ///< why not, when !ok
  std::uint64_t seq = 0;   ///< the event's seq; for a duplicate, the first one's
  bool duplicate = false;  ///< the id was already stored: nothing new stored or fed
  /// The error code the publisher gets when !ok: storage_error (the store failed to write),
  /// unavailable (the broker cannot be reached; nothing was acknowledged).
  std::string code = "storage_error";
};

class event_engine {
 public:
  using append_done = std::function<void(std::vector<append_outcome>)>;
  using feed_fn = std::function<void(event_ptr)>;
  using query_done = std::function<void(history_page, std::string error)>;
  using reset_fn = std::function<void(std::uint64_t last_seq)>;
  using presence_fn = std::function<void(const std::string& user_id, bool online)>;
  using ask_done = std::function<void(std::vector<node_report> reports, std::size_t missing)>;

  virtual ~event_engine() = default;

  /// Which engine: "sqlite" or "redis" (for /health and the log).
  virtual const char* name() const = 0;
  /// The id of the history clients resume from; a client holding another epoch is not resumed.
  virtual std::string epoch() const = 0;
  /// The highest seq stored when the engine started (seq continues after it).
  virtual std::uint64_t last_seq_at_start() const = 0;

  /// Where stored events go, in seq order (set once, before the first append).
  virtual void set_feed(feed_fn feed) = 0;
  /// Told when the history was replaced — a new epoch, because the shared store's data was
  /// lost (flushed, replaced) — with the seq the new history continues from. The embedded
  /// engine's history is never replaced while it runs.
  virtual void set_reset(const reset_fn& /*reset*/) {}
  /// Sequences and stores `events` in order; `done` gets one outcome per event, after the
  /// feed has been given the stored ones.
  virtual void append(std::vector<new_event> events, append_done done) = 0;
  /// Reads a page of history off the service thread; `done` gets it, or the store's message.
  virtual void query(history_query q, query_done done) = 0;

  /// Ids published with the publisher's own id since `since_us`, with their seq: what the
  /// hub's idempotency window starts from after a restart.
  virtual std::vector<std::pair<std::string, std::uint64_t>> ids_since(
      std::int64_t since_us) const = 0;
  virtual store_stats stats() const = 0;
  virtual store_health health() const = 0;

  /// Blocks until everything appended has been stored and its outcome posted (not yet run).
  virtual void flush() = 0;
  /// Blocks until every query asked for has been answered and its answer posted.
  virtual void flush_reads() = 0;

  // --- what the nodes share besides stored events. One node (the defaults): nothing to share,
  // presence here is presence everywhere, and this node answers every question alone.

  /// This node's id among the nodes sharing the engine (empty: a single node).
  virtual std::string node_id() const { return {}; }
  /// Where live-only events (no seq: typing, presence unless stored) from other nodes go.
  virtual void set_live_feed(const feed_fn& /*feed*/) {}
  /// A live-only event delivered here, for the other nodes' connections.
  virtual void share(const event_ptr& /*event*/) {}
  /// Told when a user came online or went offline for every node together.
  void set_presence_feed(presence_fn feed) { presence_feed_ = std::move(feed); }
  void set_node_view(node_view view) { view_ = std::move(view); }
  /// A user's first connection that counts for presence opened here (`here`), or its last one
  /// here closed. The presence feed hears whether that made the user online or offline
  /// everywhere (on one node, it always does, at once).
  virtual void presence(const std::string& user_id, bool here) {
    if (presence_feed_) presence_feed_(user_id, here);
  }
  /// Asks every node (this one included) `q`; `done` gets their reports and how many nodes
  /// did not answer in time.
  virtual void ask_nodes(const node_question& q, const ask_done& done) {
    std::vector<node_report> one;
    if (view_.report) one.push_back(view_.report(q));
    done(std::move(one), 0);
  }

 protected:
  presence_fn presence_feed_;
  node_view view_;
};

/// The envelope clients receive, {"data","id","room","seq","timestamp","timezone","type"}
/// (keys sorted, as nlohmann writes an object), written directly from the typed fields.
std::string envelope_json(const new_event& e, std::uint64_t seq);

/// What an engine feeds for a stored event: its envelope (envelope_json, built once for every
/// connection), seq, type and room.
std::shared_ptr<shared_event> stored_shared_event(const new_event& e, std::uint64_t seq);

}  // namespace rtev::server_lite
