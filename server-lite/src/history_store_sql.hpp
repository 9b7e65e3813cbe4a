#pragma once
// Private to history_store*.cpp: the small SQLite helpers its parts share (the writer, the
// health probe, the queries). Not a general SQLite wrapper.

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtev::server_lite::store_sql {

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
// While writes fail, a one-row probe this often tells when the disk takes writes again.
constexpr std::int64_t probe_interval_us = 1'000'000;
// After commits, the WAL is checkpointed (and truncated) at least this often.
constexpr std::int64_t checkpoint_interval_us = 30'000'000;

// The writer checkpoints (PASSIVE) once the WAL holds this many frames: 1 MB of 4 KB pages.
// With journal_size_limit the WAL stays near 1 MB plus one batch (the small-disk bound of
// issue 10; history_store_keeps_the_wal_small_under_steady_appends checks it).
constexpr int wal_checkpoint_frames = 256;

// An SQLite failure inside the store; the constructor turns it into rtev::config_error.
struct sqlite_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > int64_max - b) return int64_max;
  return a + b;
}

inline std::int64_t clamp_seq(std::uint64_t seq) {
  return seq > static_cast<std::uint64_t>(int64_max) ? int64_max : static_cast<std::int64_t>(seq);
}

inline std::string errmsg(sqlite3* db) {
  return sqlite3_errmsg(db);
}

inline void exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : errmsg(db);
    sqlite3_free(error);
    throw sqlite_failure(message);
  }
}

inline sqlite3_stmt* prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size() + 1),
                         SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    throw sqlite_failure(errmsg(db));
  }
  return stmt;
}

// Resets a cached statement and drops its bindings when the use ends, so that text bound
// with SQLITE_STATIC never outlives the string it points into.
class statement_use {
 public:
  explicit statement_use(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~statement_use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  statement_use(const statement_use&) = delete;
  statement_use& operator=(const statement_use&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

inline void bind_text(sqlite3_stmt* stmt, int index, std::string_view text) {
  // SQLITE_STATIC spelled without its C cast (-Wold-style-cast).
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()),
                    static_cast<sqlite3_destructor_type>(nullptr));
}

inline std::string column_text(sqlite3_stmt* stmt, int column) {
  auto* text = sqlite3_column_text(stmt, column);
  if (!text) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)));
}

// A WHERE clause and the values of its placeholders, in order: conditions are ANDed.
//
//     sql_filter f;
//     f.add("room = ?").text("chat:1");
//     f.add("seq > ?").number(41);
//     sqlite3_stmt* s = prepare(db, "SELECT … FROM events" + f.where());
//     statement_use use(s);
//     f.bind(s);            // text is bound SQLITE_STATIC: f must outlive the use
class sql_filter {
 public:
  sql_filter& add(const std::string& condition) {
    where_ += where_.empty() ? " WHERE " : " AND ";
    where_ += condition;
    return *this;
  }
  sql_filter& number(std::int64_t v) {
    values_.push_back({false, v, {}});
    return *this;
  }
  sql_filter& text(std::string v) {
    values_.push_back({true, 0, std::move(v)});
    return *this;
  }
  /// Another filter's conditions and values, after this one's.
  void append(const sql_filter& other) {
    if (!other.where_.empty()) add(other.where_.substr(7));  // without its " WHERE "
    values_.insert(values_.end(), other.values_.begin(), other.values_.end());
  }
  const std::string& where() const { return where_; }
  void bind(sqlite3_stmt* stmt) const {
    for (std::size_t i = 0; i < values_.size(); ++i) {
      const int index = static_cast<int>(i + 1);
      if (values_[i].is_text) {
        bind_text(stmt, index, values_[i].text);
      } else {
        sqlite3_bind_int64(stmt, index, values_[i].number);
      }
    }
  }

 private:
  struct value {
    bool is_text;
    std::int64_t number;
    std::string text;
  };
  std::string where_;
  std::vector<value> values_;
};

// Runs a statement that returns at most one integer; nullopt for no row or NULL.
inline std::optional<std::int64_t> single_int(sqlite3* db, sqlite3_stmt* stmt) {
  statement_use use(stmt);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(stmt, 0);
  }
  if (rc != SQLITE_DONE) throw sqlite_failure(errmsg(db));
  return std::nullopt;
}

}  // namespace rtev::server_lite::store_sql
