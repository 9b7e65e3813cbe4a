#include "history_store.hpp"

#include <rtev/error.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string_view>

#include <unistd.h>

#include "history_store_sql.hpp"

namespace rtev::server_lite {

using namespace store_sql;

namespace {

namespace fs = std::filesystem;

constexpr int schema_version = 1;
// A batch is one transaction. 1000 events keep a commit in the low milliseconds, so the
// first completion of a burst is not held back for long, while still amortising the commit.
constexpr std::size_t max_batch_events = 1000;
// Rows deleted per retention transaction: small enough that an append waits at most one
// chunk, large enough that pruning keeps up with a busy publisher.
constexpr std::int64_t prune_chunk_rows = 1000;
// After a failed retention step, wait this long before trying again (no busy loop when the
// disk is full).
constexpr std::int64_t prune_retry_us = 5'000'000;
// Longest idle wait of the writer: bounds the effect of a wall-clock jump on age retention.
constexpr std::chrono::seconds max_idle_wait{60};

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > int64_max - b) return int64_max;
  return a + b;
}

std::optional<std::int64_t> read_meta_int(sqlite3* db, const char* key) {
  sqlite3_stmt* raw = prepare(db, "SELECT value FROM meta WHERE key = ?1");
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  bind_text(raw, 1, key);
  return single_int(db, raw);
}

std::string random_epoch() {
  std::random_device rd;
  std::uint64_t value = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char text[17];
  std::snprintf(text, sizeof text, "%016" PRIx64, value);
  return text;
}

}  // namespace

void history_store::db_closer::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}
void history_store::stmt_finalizer::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

history_store::history_store(const std::string& path, retention_policy retention)
    : path_(path), retention_(retention) {
  try {
    open_database(path);
  } catch (const sqlite_failure& e) {
    throw rtev::config_error("cannot open history database '" + path + "': " + e.what());
  }
  writer_ = std::thread([this] { writer_loop(); });
}

history_store::~history_store() {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    stop_ = true;
  }
  work_cv_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void history_store::open_database(const std::string& path) {
  const bool in_memory = path == ":memory:";
  if (!in_memory) {
    fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) {
      throw sqlite_failure("cannot create directory '" + parent.string() + "': " + ec.message());
    }
  }

  // Each connection is used by one thread at a time (see the header), so SQLite's own
  // per-connection mutex is not needed.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  auto open = [&](db_handle& handle) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    handle.reset(raw);  // closed even when the open failed
    if (rc != SQLITE_OK) {
      std::string reason = raw ? errmsg(raw) : sqlite3_errstr(rc);
      // SQLite's last errno is often from its read-only retry (ENOENT), not the real cause:
      // say why the file could not be created when that is the problem.
      std::error_code exists_ec;
      fs::path parent = fs::path(path).parent_path();
      if (parent.empty()) parent = ".";
      if (!fs::exists(path, exists_ec) && access(parent.c_str(), W_OK | X_OK) != 0) {
        reason +=
            " (cannot create files in '" + parent.string() + "': " + std::strerror(errno) + ")";
      } else if (int sys = raw ? sqlite3_system_errno(raw) : 0; sys != 0) {
        reason += std::string(" (") + std::strerror(sys) + ")";
      }
      throw sqlite_failure(reason);
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 5000);
  };

  open(writer_db_);
  sqlite3* db = writer_db_.get();
  // SQLite silently falls back to read-only when the file is write-protected.
  if (sqlite3_db_readonly(db, "main") == 1) throw sqlite_failure("the file is read-only");

  {
    sqlite3_stmt* raw = prepare(db, "PRAGMA journal_mode=WAL");
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    int rc = sqlite3_step(raw);
    if (rc != SQLITE_ROW) throw sqlite_failure(errmsg(db));
    std::string mode = column_text(raw, 0);
    if (!in_memory && mode != "wal") {
      throw sqlite_failure("cannot enable WAL journal mode (the file system gave '" + mode + "')");
    }
  }
  // NORMAL in WAL mode: a commit is in the OS before COMMIT returns (survives kill -9); only
  // checkpoints fsync, so a power loss can lose the last commits.
  exec(db, "PRAGMA synchronous=NORMAL");
  // Checkpoint past 1 MB of WAL (256 pages of 4 KB; SQLite's default is 4 MB) and truncate the
  // WAL to 1 MB when it restarts: on a small disk a WAL that only grows to the default
  // threshold fills the disk before it is ever checkpointed.
  exec(db, "PRAGMA wal_autocheckpoint=256");
  // 16 MB of page cache for the writer (SQLite's default is 2 MB): the index pages an append
  // touches stay in memory instead of being read back from the file for every transaction.
  exec(db, "PRAGMA cache_size=-16384");
  exec(db, "PRAGMA journal_size_limit=1048576");

  // Creating the schema (or writing to it) inside an IMMEDIATE transaction proves the file is
  // writable now, not at the first append.
  exec(db, "BEGIN IMMEDIATE");
  try {
    exec(db,
         "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
         // seq is the rowid: seq ranges, MIN/MAX and ORDER BY seq are B-tree walks.
         // room is NULL for broadcasts, so that no room pattern ever matches them.
         "CREATE TABLE IF NOT EXISTS events("
         "  seq INTEGER PRIMARY KEY,"
         "  id TEXT NOT NULL,"
         "  type TEXT NOT NULL,"
         "  room TEXT,"
         "  time_us INTEGER NOT NULL,"
         "  json TEXT NOT NULL);"
         // Idempotency: one event per id.
         "CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events(id);"
         // Replay of a room (exact or a prefix glob) after a seq: the common query.
         "CREATE INDEX IF NOT EXISTS events_room_seq ON events(room, seq);"
         // since/until queries, age retention and ids_since.
         "CREATE INDEX IF NOT EXISTS events_time ON events(time_us);"
         // No index on type: type filters come with a seq-ordered scan that stops after
         // limit+1 matches; an index would cost every insert for rare queries.
    );
    auto version = read_meta_int(db, "schema_version");
    if (version && *version > schema_version) {
      throw sqlite_failure("schema version " + std::to_string(*version) +
                           " is newer than this rtev supports (" + std::to_string(schema_version) +
                           ")");
    }
    set_meta_stmt_.reset(prepare(db,
                                 "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    if (!version) {
      statement_use use(set_meta_stmt_.get());
      bind_text(set_meta_stmt_.get(), 1, "schema_version");
      sqlite3_bind_int(set_meta_stmt_.get(), 2, schema_version);
      if (sqlite3_step(set_meta_stmt_.get()) != SQLITE_DONE) throw sqlite_failure(errmsg(db));
    }
    {
      sqlite3_stmt* raw = prepare(db, "SELECT value FROM meta WHERE key = 'epoch'");
      std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
      int rc = sqlite3_step(raw);
      if (rc == SQLITE_ROW) {
        epoch_ = column_text(raw, 0);
      } else if (rc != SQLITE_DONE) {
        throw sqlite_failure(errmsg(db));
      }
    }
    if (epoch_.empty()) {
      epoch_ = random_epoch();
      statement_use use(set_meta_stmt_.get());
      bind_text(set_meta_stmt_.get(), 1, "epoch");
      bind_text(set_meta_stmt_.get(), 2, epoch_);
      if (sqlite3_step(set_meta_stmt_.get()) != SQLITE_DONE) throw sqlite_failure(errmsg(db));
    }
    stats_.pruned_through =
        static_cast<std::uint64_t>(read_meta_int(db, "pruned_through").value_or(0));
    stats_.pruned_before_us = read_meta_int(db, "pruned_before_us").value_or(0);
    stats_.last_seq = static_cast<std::uint64_t>(read_meta_int(db, "last_seq").value_or(0));
    exec(db, "COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }

  {
    // Once per open; afterwards the counters are kept in memory.
    sqlite3_stmt* raw = prepare(db, "SELECT COUNT(*), MIN(seq), MAX(seq) FROM events");
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    if (sqlite3_step(raw) != SQLITE_ROW) throw sqlite_failure(errmsg(db));
    stats_.events = static_cast<std::uint64_t>(sqlite3_column_int64(raw, 0));
    stats_.first_seq = static_cast<std::uint64_t>(sqlite3_column_int64(raw, 1));
    auto max_seq = static_cast<std::uint64_t>(sqlite3_column_int64(raw, 2));
    // meta.last_seq covers seqs of duplicates and of events retention removed since: seq
    // never goes back even when the table is empty.
    stats_.last_seq = std::max({stats_.last_seq, max_seq, stats_.pruned_through});
  }
  last_seq_at_open_ = stats_.last_seq;

  begin_stmt_.reset(prepare(db, "BEGIN IMMEDIATE"));
  commit_stmt_.reset(prepare(db, "COMMIT"));
  rollback_stmt_.reset(prepare(db, "ROLLBACK"));
  insert_stmt_.reset(prepare(db,
                             "INSERT INTO events(seq, id, type, room, time_us, json) "
                             "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO NOTHING"));
  find_id_writer_stmt_.reset(prepare(db, "SELECT seq FROM events WHERE id = ?1"));
  prune_oldest_stmt_.reset(prepare(db,
                                   "DELETE FROM events WHERE seq IN "
                                   "(SELECT seq FROM events ORDER BY seq LIMIT ?1) "
                                   "RETURNING seq, time_us"));
  prune_older_stmt_.reset(prepare(db,
                                  "DELETE FROM events WHERE seq IN "
                                  "(SELECT seq FROM events WHERE time_us < ?1 "
                                  "ORDER BY time_us LIMIT ?2) RETURNING seq, time_us"));
  min_seq_stmt_.reset(prepare(db, "SELECT MIN(seq) FROM events"));
  min_time_stmt_.reset(prepare(db, "SELECT MIN(time_us) FROM events"));
  recompute_age_deadline();

  sqlite3* reader = db;
  if (!in_memory) {
    open(reader_db_);
    reader = reader_db_.get();
    exec(reader, "PRAGMA query_only=1");
  }
  find_id_reader_stmt_.reset(prepare(reader, "SELECT seq FROM events WHERE id = ?1"));
  ids_since_stmt_.reset(
      prepare(reader, "SELECT id, seq FROM events WHERE time_us >= ?1 ORDER BY seq"));
}

void history_store::append(std::vector<stored_event> events, completion done) {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    pending_events_ += events.size();
    ++requests_enqueued_;
    pending_.push_back(request{std::move(events), std::move(done)});
  }
  work_cv_.notify_one();
}

void history_store::flush() {
  // Called from a completion, this would wait for itself.
  if (std::this_thread::get_id() == writer_.get_id()) return;
  std::unique_lock<std::mutex> lock(state_mutex_);
  const std::uint64_t ticket = requests_enqueued_;
  done_cv_.wait(lock, [&] { return requests_completed_ >= ticket; });
}

void history_store::prune_now() {
  if (std::this_thread::get_id() == writer_.get_id()) return;
  flush();
  std::unique_lock<std::mutex> lock(state_mutex_);
  const std::uint64_t ticket = ++prune_requested_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return prune_served_ >= ticket; });
}

store_stats history_store::stats() const {
  std::lock_guard<std::mutex> lock(state_mutex_);
  store_stats s = stats_;
  s.pending = pending_events_;
  return s;
}

// --- writer thread ---------------------------------------------------------------------------

void history_store::writer_loop() {
  std::int64_t retry_after_us = 0;  // retention paused until then after a failure
  auto retention_ready = [&] { return retention_due() && now_us() >= retry_after_us; };

  for (;;) {
    std::vector<request> batch;
    std::uint64_t prune_ticket = 0;
    {
      std::unique_lock<std::mutex> lock(state_mutex_);
      auto has_work = [&] {
        return stop_ || !pending_.empty() || prune_requested_ != prune_served_ ||
               (retention_.max_events && stats_.events > *retention_.max_events &&
                now_us() >= retry_after_us);
      };
      // Age retention, the retry after a failure, the probe while failing and the periodic
      // checkpoint have deadlines; the rest is signalled.
      std::optional<std::int64_t> wake_us;
      if (age_deadline_us_) {
        wake_us = std::max(*age_deadline_us_, retry_after_us);
      } else if (retry_after_us > now_us()) {
        wake_us = retry_after_us;
      }
      auto sooner = [&](std::int64_t at) {
        if (!wake_us || at < *wake_us) wake_us = at;
      };
      if (!health_.ok) sooner(next_probe_us_);
      if (commits_since_checkpoint_ > 0) sooner(last_checkpoint_us_ + checkpoint_interval_us);
      if (wake_us) {
        auto wait = std::chrono::microseconds(std::max<std::int64_t>(*wake_us - now_us(), 0));
        work_cv_.wait_for(lock, std::min<std::chrono::microseconds>(wait, max_idle_wait),
                          [&] { return has_work() || now_us() >= *wake_us; });
      } else {
        work_cv_.wait(lock, has_work);
      }
      if (pending_.empty() && stop_) break;

      std::size_t events = 0;
      while (!pending_.empty() &&
             (batch.empty() || events + pending_.front().events.size() <= max_batch_events)) {
        events += pending_.front().events.size();
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      prune_ticket = prune_requested_;
    }

    if (!batch.empty()) commit_batch(batch);

    // One retention chunk per round: pruning progresses under constant load, and an append
    // never waits for more than one chunk.
    bool more = false;
    if (retention_ready()) {
      if (!prune_chunk()) {
        retry_after_us = now_us() + prune_retry_us;
      } else {
        more = retention_ready();
      }
    }
    if (!more) {
      std::lock_guard<std::mutex> lock(state_mutex_);
      if (prune_served_ != prune_ticket) {
        prune_served_ = prune_ticket;
        done_cv_.notify_all();
      }
    }

    const std::int64_t now = now_us();
    bool failing;
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      failing = !health_.ok;
    }
    if (failing && now >= next_probe_us_) {
      checkpoint();
      probe();
    } else if (commits_since_checkpoint_ > 0 &&
               now >= last_checkpoint_us_ + checkpoint_interval_us) {
      checkpoint();
    }
  }
}

void history_store::commit_batch(std::vector<request>& batch) {
  sqlite3* db = writer_db_.get();
  std::vector<std::vector<append_result>> results(batch.size());
  std::size_t event_count = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    results[i].resize(batch[i].events.size());
    event_count += batch[i].events.size();
  }

  std::uint64_t inserted = 0;
  std::uint64_t min_inserted_seq = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_seq = 0;
  std::int64_t min_inserted_time = int64_max;
  std::string batch_error;  // set when the whole transaction failed

  if (event_count > 0) {
    // ":memory:" has one connection: keep queries off it while the batch runs.
    std::unique_lock<std::mutex> memory_lock(db_mutex_, std::defer_lock);
    if (!reader_db_) memory_lock.lock();

    auto step_simple = [&](sqlite3_stmt* stmt) {
      statement_use use(stmt);
      return sqlite3_step(stmt) == SQLITE_DONE;
    };

    if (!step_simple(begin_stmt_.get())) batch_error = errmsg(db);
    for (std::size_t i = 0; batch_error.empty() && i < batch.size(); ++i) {
      for (std::size_t j = 0; batch_error.empty() && j < batch[i].events.size(); ++j) {
        const stored_event& e = batch[i].events[j];
        append_result& r = results[i][j];
        max_seq = std::max(max_seq, e.seq);
        sqlite3_stmt* ins = insert_stmt_.get();
        int rc;
        {
          statement_use use(ins);
          sqlite3_bind_int64(ins, 1, static_cast<std::int64_t>(e.seq));
          bind_text(ins, 2, e.id);
          bind_text(ins, 3, e.type);
          if (e.room.empty()) {
            sqlite3_bind_null(ins, 4);
          } else {
            bind_text(ins, 4, e.room);
          }
          sqlite3_bind_int64(ins, 5, e.time_us);
          bind_text(ins, 6, e.json);
          rc = sqlite3_step(ins);
          if (rc != SQLITE_DONE) r.error = errmsg(db);
        }
        if (rc == SQLITE_DONE) {
          if (sqlite3_changes(db) == 0) {
            // The id is already stored (maybe earlier in this very transaction).
            sqlite3_stmt* find = find_id_writer_stmt_.get();
            statement_use use(find);
            bind_text(find, 1, e.id);
            if (sqlite3_step(find) == SQLITE_ROW) {
              r.duplicate_of = static_cast<std::uint64_t>(sqlite3_column_int64(find, 0));
            }
          } else {
            ++inserted;
            min_inserted_seq = std::min(min_inserted_seq, e.seq);
            min_inserted_time = std::min(min_inserted_time, e.time_us);
          }
        } else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
          // Only this statement is undone (a reused seq, …); the batch goes on.
          r.ok = false;
        } else {
          // Disk full, I/O error, …: SQLite may already have rolled the transaction back.
          batch_error = r.error;
        }
      }
    }
    if (batch_error.empty() && max_seq > stats_.last_seq) {
      // stats_.last_seq is written by this thread only, so reading it unlocked is safe.
      sqlite3_stmt* meta = set_meta_stmt_.get();
      statement_use use(meta);
      bind_text(meta, 1, "last_seq");
      sqlite3_bind_int64(meta, 2, static_cast<std::int64_t>(max_seq));
      if (sqlite3_step(meta) != SQLITE_DONE) batch_error = errmsg(db);
    }
    if (batch_error.empty() && !step_simple(commit_stmt_.get())) batch_error = errmsg(db);
    if (!batch_error.empty()) {
      if (!sqlite3_get_autocommit(db)) step_simple(rollback_stmt_.get());
      for (auto& request_results : results) {
        for (auto& r : request_results) r = append_result{false, batch_error, std::nullopt};
      }
    }
  }

  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    pending_events_ -= event_count;
    if (batch_error.empty() && event_count > 0) {
      stats_.first_seq =
          stats_.events == 0 ? min_inserted_seq : std::min(stats_.first_seq, min_inserted_seq);
      if (inserted == 0 && stats_.events == 0) stats_.first_seq = 0;
      stats_.events += inserted;
      stats_.last_seq = std::max(stats_.last_seq, max_seq);
    }
  }
  if (event_count > 0) {
    // Before the completions run: an ACK is never sent while /health still says "degraded".
    if (batch_error.empty()) {
      ++commits_since_checkpoint_;
      note_success();
    } else {
      note_failure(batch_error);
      checkpoint();  // gives the WAL's space back when it can
    }
  }
  if (batch_error.empty() && inserted > 0 && retention_.max_age) {
    std::int64_t deadline = saturating_add(
        min_inserted_time,
        saturating_add(
            std::chrono::duration_cast<std::chrono::microseconds>(*retention_.max_age).count(), 1));
    if (!age_deadline_us_ || deadline < *age_deadline_us_) age_deadline_us_ = deadline;
  }

  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].done) continue;
    try {
      batch[i].done(std::move(results[i]));
    } catch (const std::exception& e) {
      std::cerr << "rtev: history store: an append completion threw: " << e.what() << '\n';
    } catch (...) {
      std::cerr << "rtev: history store: an append completion threw\n";
    }
  }

  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    requests_completed_ += batch.size();
  }
  done_cv_.notify_all();
}

bool history_store::retention_due() const {
  if (retention_.max_events) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (stats_.events > *retention_.max_events) return true;
  }
  return age_deadline_us_ && now_us() >= *age_deadline_us_;
}

void history_store::recompute_age_deadline() {
  age_deadline_us_.reset();
  if (!retention_.max_age) return;
  auto oldest = single_int(writer_db_.get(), min_time_stmt_.get());
  if (!oldest) return;
  auto max_age_us =
      std::chrono::duration_cast<std::chrono::microseconds>(*retention_.max_age).count();
  // Due once the oldest event is strictly older than max_age (the DELETE uses '<').
  age_deadline_us_ = saturating_add(*oldest, saturating_add(max_age_us, 1));
}

bool history_store::prune_chunk() {
  sqlite3* db = writer_db_.get();
  std::unique_lock<std::mutex> memory_lock(db_mutex_, std::defer_lock);
  if (!reader_db_) memory_lock.lock();

  std::uint64_t excess = 0;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (retention_.max_events && stats_.events > *retention_.max_events) {
      excess = stats_.events - *retention_.max_events;
    }
  }
  const bool by_count = excess > 0;

  std::uint64_t deleted = 0;
  std::uint64_t pruned_through = stats_.pruned_through;  // written by this thread only
  std::int64_t pruned_before_us = stats_.pruned_before_us;
  std::optional<std::int64_t> first_seq;
  std::optional<std::int64_t> recounted;
  try {
    {
      statement_use use(begin_stmt_.get());
      if (sqlite3_step(begin_stmt_.get()) != SQLITE_DONE) throw sqlite_failure(errmsg(db));
    }
    sqlite3_stmt* del = by_count ? prune_oldest_stmt_.get() : prune_older_stmt_.get();
    {
      statement_use use(del);
      if (by_count) {
        sqlite3_bind_int64(
            del, 1, static_cast<std::int64_t>(std::min<std::uint64_t>(excess, prune_chunk_rows)));
      } else {
        auto max_age_us =
            std::chrono::duration_cast<std::chrono::microseconds>(*retention_.max_age).count();
        sqlite3_bind_int64(del, 1, now_us() - max_age_us);
        sqlite3_bind_int64(del, 2, prune_chunk_rows);
      }
      int rc;
      while ((rc = sqlite3_step(del)) == SQLITE_ROW) {
        ++deleted;
        pruned_through =
            std::max(pruned_through, static_cast<std::uint64_t>(sqlite3_column_int64(del, 0)));
        pruned_before_us =
            std::max(pruned_before_us, saturating_add(sqlite3_column_int64(del, 1), 1));
      }
      if (rc != SQLITE_DONE) throw sqlite_failure(errmsg(db));
    }
    auto set_meta = [&](const char* key, std::int64_t value) {
      sqlite3_stmt* meta = set_meta_stmt_.get();
      statement_use use(meta);
      bind_text(meta, 1, key);
      sqlite3_bind_int64(meta, 2, value);
      if (sqlite3_step(meta) != SQLITE_DONE) throw sqlite_failure(errmsg(db));
    };
    if (deleted > 0) {
      // Kept in meta so that recovery answers ("your after_seq is gone") survive restarts.
      set_meta("pruned_through", static_cast<std::int64_t>(pruned_through));
      set_meta("pruned_before_us", pruned_before_us);
    }
    {
      statement_use use(commit_stmt_.get());
      if (sqlite3_step(commit_stmt_.get()) != SQLITE_DONE) throw sqlite_failure(errmsg(db));
    }
    first_seq = single_int(db, min_seq_stmt_.get());
    if (by_count && deleted < std::min<std::uint64_t>(excess, prune_chunk_rows)) {
      // The in-memory count disagrees with the table; resynchronise rather than retry forever.
      sqlite3_stmt* raw = prepare(db, "SELECT COUNT(*) FROM events");
      std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> count(raw, sqlite3_finalize);
      recounted = single_int(db, raw);
    }
    // A partial age chunk means nothing older is left: find when the next event expires.
    // After a count chunk the old deadline is early at worst (one empty check).
    if (!by_count && deleted < static_cast<std::uint64_t>(prune_chunk_rows)) {
      recompute_age_deadline();
    }
  } catch (const sqlite_failure& e) {
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    note_failure(std::string("retention: ") + e.what());
    return false;
  }

  std::lock_guard<std::mutex> lock(state_mutex_);
  stats_.events = recounted ? static_cast<std::uint64_t>(*recounted)
                            : stats_.events - std::min(stats_.events, deleted);
  stats_.first_seq = static_cast<std::uint64_t>(first_seq.value_or(0));
  stats_.pruned_through = pruned_through;
  stats_.pruned_before_us = pruned_before_us;
  return true;
}

}  // namespace rtev::server_lite
