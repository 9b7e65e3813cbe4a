// history_store: the public side (append, flush, stats) and the writer thread — the loop that
// takes everything queued as one transaction (group commit), commits it, runs the completions,
// and then does the housekeeping (retention chunk, checkpoint, probe) between batches.
// Opening the database is in history_store_open.cpp, retention in history_store_retention.cpp,
// health and checkpoints in history_store_health.cpp, queries in history_store_query.cpp.
#include "history_store.hpp"

#include <rtev/error.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <iostream>
#include <limits>
#include <stdexcept>

#include "history_store_sql.hpp"

namespace rtev::server_lite {

using namespace store_sql;

namespace {

// A batch is one transaction. 1000 events keep a commit in the low milliseconds, so the
// first completion of a burst is not held back for long, while still amortising the commit.
constexpr std::size_t max_batch_events = 1000;
// After a failed retention step, wait this long before trying again (no busy loop when the
// disk is full).
constexpr std::int64_t prune_retry_us = 5'000'000;
// Longest idle wait of the writer: bounds the effect of a wall-clock jump on age retention.
constexpr std::chrono::seconds max_idle_wait{60};

}  // namespace

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

    // The checkpoint SQLite would have run inside the COMMIT, now that the batch's
    // completions have run: what arrives meanwhile goes into the next transaction.
    if (wal_frames_ >= wal_checkpoint_frames) passive_checkpoint();

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
  std::uint64_t max_inserted_seq = 0;
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
            max_inserted_seq = std::max(max_inserted_seq, e.seq);
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
    // meta.last_seq keeps a seq that no stored row shows (a duplicate's, a refused event's) from
    // being reused after a restart. When the batch's highest seq is a stored row, MAX(seq) says
    // it at open (or pruned_through, once retention removes it), and the meta page is not
    // rewritten: one WAL frame less per commit.
    if (batch_error.empty() && max_seq > stats_.last_seq && max_inserted_seq != max_seq) {
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

}  // namespace rtev::server_lite
