// history_store's write health: failure episodes, the probe while failing, WAL checkpoints.
// Everything here but health() and set_health_listener() runs on the writer thread.
#include "history_store.hpp"

#include <sqlite3.h>

#include <iostream>
#include <string>

#include "history_store_sql.hpp"

namespace rtev::server_lite {

using namespace store_sql;

store_health history_store::health() const {
  std::lock_guard<std::mutex> lock(state_mutex_);
  return health_;
}

void history_store::set_health_listener(health_listener listener) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  health_listener_ = std::move(listener);
}

void history_store::note_failure(const std::string& error) {
  bool started = false;
  health_listener listener;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    ++health_.failed_writes;
    health_.last_error = error;
    if (health_.ok) {
      health_.ok = false;
      health_.failing_since_us = now_us();
      started = true;
    }
    listener = health_listener_;
  }
  next_probe_us_ = now_us() + probe_interval_us;
  if (!started) return;  // once per episode, not once per event
  try {
    if (listener)
      listener(false, error);
    else
      std::cerr << "rtev: history store: writes are failing: " << error << '\n';
  } catch (const std::exception& e) {
    std::cerr << "rtev: history store: the health listener threw: " << e.what() << '\n';
  }
}

void history_store::note_success() {
  health_listener listener;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (health_.ok) return;
    health_.ok = true;
    health_.failing_since_us = 0;
    listener = health_listener_;
  }
  try {
    if (listener)
      listener(true, {});
    else
      std::cerr << "rtev: history store: writes work again\n";
  } catch (const std::exception& e) {
    std::cerr << "rtev: history store: the health listener threw: " << e.what() << '\n';
  }
}

void history_store::probe() {
  sqlite3* db = writer_db_.get();
  std::string error;
  {
    std::unique_lock<std::mutex> memory_lock(db_mutex_, std::defer_lock);
    if (!reader_db_) memory_lock.lock();
    auto step_simple = [&](sqlite3_stmt* stmt) {
      statement_use use(stmt);
      return sqlite3_step(stmt) == SQLITE_DONE;
    };
    if (!step_simple(begin_stmt_.get())) error = errmsg(db);
    if (error.empty()) {
      sqlite3_stmt* meta = set_meta_stmt_.get();
      statement_use use(meta);
      bind_text(meta, 1, "probed_us");
      sqlite3_bind_int64(meta, 2, now_us());
      if (sqlite3_step(meta) != SQLITE_DONE) error = errmsg(db);
    }
    if (error.empty() && !step_simple(commit_stmt_.get())) error = errmsg(db);
    if (!error.empty() && !sqlite3_get_autocommit(db)) step_simple(rollback_stmt_.get());
  }
  if (error.empty()) {
    ++commits_since_checkpoint_;
    note_success();
  } else {
    note_failure(error);
  }
}

void history_store::checkpoint() {
  last_checkpoint_us_ = now_us();
  if (!reader_db_) return;  // ":memory:" has no WAL
  // Failing here is expected while the disk is full (the checkpoint may need to grow the
  // database file); the probe, not the checkpoint, decides the store's health.
  if (sqlite3_wal_checkpoint_v2(writer_db_.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                nullptr) == SQLITE_OK) {
    commits_since_checkpoint_ = 0;
    wal_frames_ = 0;  // the WAL is empty now
  }
}

int history_store::wal_committed(void* self, sqlite3*, const char*, int frames) {
  static_cast<history_store*>(self)->wal_frames_ = frames;
  return SQLITE_OK;
}

void history_store::passive_checkpoint() {
  // Reset first: a checkpoint that cannot finish (a reader holds an old snapshot) is tried
  // again after the next commit, as SQLite's automatic checkpoint would.
  wal_frames_ = 0;
  // A failure here (disk full) is left to the commits and the probe to report.
  sqlite3_wal_checkpoint_v2(writer_db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

}  // namespace rtev::server_lite
