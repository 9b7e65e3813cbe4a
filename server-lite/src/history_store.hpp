#pragma once
// history_store: the server's event history in SQLite (WAL).
//
// Durability: every append is committed in a WAL transaction with synchronous=NORMAL before
// its completion runs, so an acknowledged event survives the process being killed (kill -9,
// a crash). A power loss or OS crash may lose the last few commits: WAL frames reach the disk
// only at the next checkpoint's fsync.
//
// Connections: a file database has two connections — a writer, used only by the writer
// thread, and a reader, used by queries under db_mutex_ — so a query never waits for a commit
// (WAL readers see the last committed snapshot). ":memory:" has one connection; there the
// writer also takes db_mutex_ around each batch and retention chunk.
//
// Disk trouble: a failed write (disk full, I/O error) puts the store in a "failing" state until
// a write succeeds again — the next batch, or a one-row probe the writer makes every second while
// failing. The state and SQLite's last message are in health(); a health listener is told once
// when an episode starts and once when it ends. After a failure the writer checkpoints the WAL
// (TRUNCATE), which gives its space back; it also checkpoints every 30 s after commits, and the
// WAL is checkpointed past 1 MB (by the writer, after the batch's completions have run, so an ACK
// never waits for a checkpoint's fsync) and truncated to 1.5 MB after a reset, so a small disk is
// not filled by the WAL.
//
// Thread safety: distinct objects: safe. Shared objects: every public member function may be
// called from any thread. append() only enqueues (the hub calls it from the lws service
// thread). One writer thread owned by the store commits batches and runs retention; the
// completion callback runs ON THE WRITER THREAD — the caller hands results back to its own
// thread. A completion must not call flush() or prune_now() (they would wait for the writer
// thread that is running it).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace rtev::server_lite {

namespace store_sql {
class sql_filter;
}

/// One event as stored: the envelope fields plus the pre-serialised envelope JSON.
struct stored_event {
  std::uint64_t seq = 0;
  std::string id;
  std::string type;
  std::string room;          ///< empty for broadcasts
  std::int64_t time_us = 0;  ///< event instant, microseconds since the Unix epoch (UTC)
  std::string json;          ///< the complete envelope as sent to clients
};

struct history_query {
  /// Exact rooms, or globs where '*' matches any characters (':' too); empty = every room
  /// (broadcasts only with include_broadcasts). Exact rooms are read through the (room, seq)
  /// index, one range per room, merged in seq order; a glob scans in seq order and filters.
  std::vector<std::string> rooms;
  bool include_broadcasts = false;         ///< also events with no room
  std::optional<std::uint64_t> after_seq;  ///< seq > after_seq
  std::optional<std::int64_t> since_us;    ///< time_us >= since_us
  std::optional<std::int64_t> until_us;    ///< time_us <= until_us
  std::optional<std::uint64_t> max_seq;    ///< seq <= max_seq (the hub's delivery frontier)
  std::vector<std::string> types;  ///< type globs ('*' only; '?' '[' ']' are literal); empty = all
  std::size_t limit = 100;
};

struct history_page {
  std::vector<stored_event> events;  ///< oldest (lowest seq) first
  bool more = false;                 ///< further matching events exist past the last one
};

struct retention_policy {
  std::optional<std::uint64_t> max_events;      ///< keep at most this many events
  std::optional<std::chrono::seconds> max_age;  ///< drop events whose time_us is older than this
};

struct store_stats {
  std::uint64_t events = 0;           ///< events currently stored
  std::uint64_t first_seq = 0;        ///< oldest stored seq (0 when empty)
  std::uint64_t last_seq = 0;         ///< newest seq ever assigned and committed
  std::uint64_t pruned_through = 0;   ///< highest seq removed by retention (0: nothing removed)
  std::int64_t pruned_before_us = 0;  ///< events older than this may have been removed
  std::uint64_t pending = 0;          ///< appended, not yet committed
};

/// Whether writes are succeeding.
struct store_health {
  bool ok = true;                     ///< the last write attempt succeeded
  std::string last_error;             ///< SQLite's message of the latest failure ("" if none)
  std::int64_t failing_since_us = 0;  ///< start of the current failure episode (0 while ok)
  std::uint64_t failed_writes = 0;    ///< failed commits, retention steps and probes since open
};

class history_store {
 public:
  /// Opens (creating missing parent directories and the file) or creates an in-memory store
  /// for ":memory:" (nothing kept, a fresh epoch each time). Verifies the database is writable
  /// by creating the schema. Throws rtev::config_error
  /// "cannot open history database '<path>': <reason>" when it cannot.
  history_store(const std::string& path, retention_policy retention);
  /// Commits everything pending (running its completions), stops the writer thread, closes
  /// the database.
  ~history_store();
  history_store(const history_store&) = delete;
  history_store& operator=(const history_store&) = delete;

  /// A random id of this database (16 hex digits), created with it and kept across restarts.
  const std::string& epoch() const { return epoch_; }
  /// The highest seq committed when the store was opened (seq continues from here). Never
  /// goes down, even if retention removed every event.
  std::uint64_t last_seq_at_open() const { return last_seq_at_open_; }

  /// Result of one append, reported once the batch holding it is committed.
  struct append_result {
    bool ok = true;
    std::string error;                          ///< SQLite's message when !ok
    std::optional<std::uint64_t> duplicate_of;  ///< id already stored: the first seq
  };
  using completion = std::function<void(std::vector<append_result>)>;

  /// Enqueue events (seq and id already assigned by the caller) to be committed in the
  /// writer's next batch; `done` (may be empty) receives one result per event, in order, on
  /// the writer thread. An id that is already stored — or earlier in the same batch — is not
  /// stored again (duplicate_of is set, ok stays true). A failed commit (disk full, I/O error)
  /// gives ok=false for every event of the batch; the store keeps running. An exception thrown
  /// by `done` is caught and reported on stderr.
  void append(std::vector<stored_event> events, completion done);

  /// Blocks until everything appended so far is committed and its completions have run.
  void flush();

  /// Blocks until retention has been applied to everything committed so far (normally it runs
  /// by itself, in chunks between batches). For tests and administrative tools.
  void prune_now();

  /// Matching events, oldest first. Sees committed events only. The lookups below and this
  /// throw std::runtime_error when SQLite fails (an I/O error).
  history_page query(const history_query& q) const;
  /// Seq of the stored event with this id, if any.
  std::optional<std::uint64_t> find_seq_by_id(const std::string& id) const;
  /// Ids (with their seq) of events stored at or after `since_us`, in seq order — used to
  /// rebuild the idempotency window after a restart.
  std::vector<std::pair<std::string, std::uint64_t>> ids_since(std::int64_t since_us) const;
  /// Counters kept in memory: cheap enough for every /health request.
  store_stats stats() const;
  /// Write health, kept in memory (cheap).
  store_health health() const;

  /// Told once when writes start failing (ok=false with SQLite's message) and once when they
  /// work again (ok=true, empty message). Runs on the writer thread; must not call flush() or
  /// prune_now(). Without a listener the store writes both to stderr.
  using health_listener = std::function<void(bool ok, const std::string& error)>;
  void set_health_listener(health_listener listener);

 private:
  struct db_closer {
    void operator()(sqlite3* db) const;
  };
  struct stmt_finalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using db_handle = std::unique_ptr<sqlite3, db_closer>;
  using stmt_handle = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

  struct request {
    std::vector<stored_event> events;
    completion done;
  };

  void open_database(const std::string& path);
  void writer_loop();
  void commit_batch(std::vector<request>& batch);
  // One bounded retention transaction (at most prune_chunk_rows rows); false on failure.
  bool prune_chunk();
  // Whether retention has work now (events over max_events, or an event older than max_age).
  bool retention_due() const;
  void recompute_age_deadline();
  sqlite3_stmt* cached_query(const std::string& sql) const;
  /// Runs a cached SELECT of (seq, id, type, room, time_us, json) with f's values bound and
  /// appends its rows to `out`. Under db_mutex_; throws std::runtime_error when SQLite fails.
  void read_rows(const std::string& sql, const store_sql::sql_filter& f,
                 std::vector<stored_event>& out) const;
  // Writer thread: record a failed / a successful write (starting or ending an episode).
  void note_failure(const std::string& error);
  void note_success();
  // Writer thread: a one-row write that tells whether the disk takes writes again.
  void probe();
  // Writer thread: checkpoint the WAL and truncate it (gives its space back to the disk).
  void checkpoint();
  // Writer thread: a PASSIVE checkpoint once the WAL is past wal_checkpoint_frames.
  void passive_checkpoint();

 public:
  // sqlite3_wal_hook callback (writer connection, inside COMMIT): records the WAL's size.
  static int wal_committed(void* self, sqlite3* db, const char* name, int frames);

 private:
  const std::string path_;
  const retention_policy retention_;
  std::string epoch_;
  std::uint64_t last_seq_at_open_ = 0;

  // Declared before the statements so that statements are finalized first.
  db_handle writer_db_;  // writer thread only (and the constructor/destructor)
  db_handle reader_db_;  // guarded by db_mutex_; null for ":memory:" (queries use writer_db_)

  // Writer statements: writer thread only.
  stmt_handle begin_stmt_, commit_stmt_, rollback_stmt_, insert_stmt_, find_id_writer_stmt_,
      set_meta_stmt_, prune_oldest_stmt_, prune_older_stmt_, min_seq_stmt_, min_time_stmt_;

  // Guards reader_db_, the reader statements below and query_cache_; for ":memory:" it also
  // guards writer_db_ (the writer holds it around each batch and retention chunk).
  mutable std::mutex db_mutex_;
  stmt_handle find_id_reader_stmt_, ids_since_stmt_;
  mutable std::map<std::string, stmt_handle> query_cache_;

  // Guards everything from here to writer_ (the queue, the tickets and the stats counters).
  mutable std::mutex state_mutex_;
  std::condition_variable work_cv_;  // wakes the writer: work queued, stop, prune request
  std::condition_variable done_cv_;  // wakes flush()/prune_now() waiters
  std::deque<request> pending_;
  std::uint64_t pending_events_ = 0;
  std::uint64_t requests_enqueued_ = 0;
  std::uint64_t requests_completed_ = 0;
  std::uint64_t prune_requested_ = 0;
  std::uint64_t prune_served_ = 0;
  bool retention_dirty_ = true;  // something was committed (or opened) since the last pass
  bool stop_ = false;
  // Writer thread only, not guarded (it sits here where the bools leave room): frames in the
  // WAL after the last commit, as wal_committed reported them.
  int wal_frames_ = 0;
  store_stats stats_;
  store_health health_;
  health_listener health_listener_;

  // Writer thread only: the earliest instant some stored event becomes older than max_age.
  std::optional<std::int64_t> age_deadline_us_;
  // Writer thread only: commits since the last checkpoint, when it ran, and the next probe.
  std::uint64_t commits_since_checkpoint_ = 0;
  std::int64_t last_checkpoint_us_ = 0;
  std::int64_t next_probe_us_ = 0;

  std::thread writer_;  // last: started when everything above is ready
};

}  // namespace rtev::server_lite
