// history_store: opening the database — the connections, the pragmas, the schema, and what a
// restart recovers from the file (epoch, seq, retention marks, counters). Runs once, in the
// constructor, before the writer thread starts.
#include "history_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include <unistd.h>

#include "history_store_sql.hpp"

namespace rtev::server_lite {

using namespace store_sql;

namespace {

namespace fs = std::filesystem;

constexpr int schema_version = 1;

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
  // Checkpoint past 1 MB of WAL (wal_checkpoint_frames: 256 pages of 4 KB; SQLite's default is
  // 4 MB): on a small disk a WAL that only grows to the default threshold fills the disk before
  // it is ever checkpointed. SQLite's own automatic checkpoint runs inside COMMIT, so every 256
  // pages one batch's completions (the ACKs) waited for the checkpoint and its two fdatasync
  // calls; the writer runs the same checkpoint itself, after the batch's completions
  // (history_store::wal_committed counts the WAL's frames).
  exec(db, "PRAGMA wal_autocheckpoint=0");
  if (!in_memory) sqlite3_wal_hook(db, &history_store::wal_committed, this);
  // 16 MB of page cache for the writer (SQLite's default is 2 MB): the index pages an append
  // touches stay in memory instead of being read back from the file for every transaction.
  exec(db, "PRAGMA cache_size=-16384");
  // After a restart the WAL is truncated to 1.5 MB: above what steady appends reach (1 MB and
  // one batch), so the file is reused in place instead of being cut and grown again (an
  // ftruncate and block allocation per checkpoint); a WAL that a large batch pushed further is
  // still given back.
  exec(db, "PRAGMA journal_size_limit=1572864");

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

}  // namespace rtev::server_lite
