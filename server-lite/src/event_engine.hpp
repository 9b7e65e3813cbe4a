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
#include <string>
#include <utility>
#include <vector>

#include "frame.hpp"
#include "history_store.hpp"

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
};

/// The envelope clients receive, {"data","id","room","seq","timestamp","timezone","type"}
/// (keys sorted, as nlohmann writes an object), written directly from the typed fields.
std::string envelope_json(const new_event& e, std::uint64_t seq);

}  // namespace rtev::server_lite
