// history_store's retention: bounded DELETE chunks by count (max_events) or by age (max_age),
// run by the writer thread between batches. Everything here runs on the writer thread.
#include "history_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <memory>

#include "history_store_sql.hpp"

namespace rtev::server_lite {

using namespace store_sql;

namespace {

// Rows deleted per retention transaction: small enough that an append waits at most one
// chunk, large enough that pruning keeps up with a busy publisher.
constexpr std::int64_t prune_chunk_rows = 1000;

}  // namespace

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
