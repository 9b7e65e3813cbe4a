// history_store's queries: any thread, under db_mutex_ (see history_store.hpp).
#include "history_store.hpp"

#include <sqlite3.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "history_store_sql.hpp"

namespace rtev::server_lite {

using namespace store_sql;

namespace {

// '*' stays a wildcard; SQLite GLOB's other metacharacters ('?', '[') are made literal by
// wrapping them in a one-character class. ']' outside a class is already literal.
std::string to_sqlite_glob(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size());
  for (char c : pattern) {
    if (c == '?') {
      out += "[?]";
    } else if (c == '[') {
      out += "[[]";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

sqlite3_stmt* history_store::cached_query(const std::string& sql) const {
  auto it = query_cache_.find(sql);
  if (it != query_cache_.end()) return it->second.get();
  // The SQL depends only on which filters are set and how many type globs there are; the
  // cap only matters for clients sending ever longer type lists.
  if (query_cache_.size() >= 64) query_cache_.clear();
  sqlite3* db = reader_db_ ? reader_db_.get() : writer_db_.get();
  return query_cache_.emplace(sql, stmt_handle(prepare(db, sql))).first->second.get();
}

history_page history_store::query(const history_query& q) const {
  // Bound values, in placeholder order. Text is bound SQLITE_STATIC from `texts`, which
  // outlives the statement use below.
  std::vector<std::string> texts;
  texts.reserve(1 + q.types.size());
  struct binding {
    bool is_text;
    std::int64_t number;
    std::size_t text_index;
  };
  std::vector<binding> bindings;
  std::string where;
  auto add = [&](const std::string& condition) {
    where += where.empty() ? " WHERE " : " AND ";
    where += condition;
  };
  auto bind_number = [&](std::int64_t v) { bindings.push_back({false, v, 0}); };
  auto bind_string = [&](std::string s) {
    texts.push_back(std::move(s));
    bindings.push_back({true, 0, texts.size() - 1});
  };

  if (q.room.empty()) {
    if (!q.include_broadcasts) add("room IS NOT NULL");
  } else {
    const bool glob = q.room.find('*') != std::string::npos;
    std::string test = glob ? "room GLOB ?" : "room = ?";
    add(q.include_broadcasts ? "(" + test + " OR room IS NULL)" : test);
    bind_string(glob ? to_sqlite_glob(q.room) : q.room);
  }
  if (q.after_seq) {
    add("seq > ?");
    bind_number(clamp_seq(*q.after_seq));
  }
  if (q.max_seq) {
    add("seq <= ?");
    bind_number(clamp_seq(*q.max_seq));
  }
  if (q.since_us) {
    add("time_us >= ?");
    bind_number(*q.since_us);
  }
  if (q.until_us) {
    add("time_us <= ?");
    bind_number(*q.until_us);
  }
  if (!q.types.empty()) {
    std::string any;
    for (const auto& t : q.types) {
      any += any.empty() ? "(" : " OR ";
      any += "type GLOB ?";
      bind_string(to_sqlite_glob(t));
    }
    add(any + ")");
  }
  // One row past the limit tells whether there is more.
  const std::int64_t fetch = q.limit >= static_cast<std::size_t>(int64_max)
                                 ? int64_max
                                 : static_cast<std::int64_t>(q.limit) + 1;
  bind_number(fetch);
  const std::string sql =
      "SELECT seq, id, type, room, time_us, json FROM events" + where + " ORDER BY seq LIMIT ?";

  history_page page;
  std::lock_guard<std::mutex> lock(db_mutex_);
  sqlite3* db = reader_db_ ? reader_db_.get() : writer_db_.get();
  sqlite3_stmt* stmt = cached_query(sql);
  statement_use use(stmt);
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    const int index = static_cast<int>(i + 1);
    if (bindings[i].is_text) {
      bind_text(stmt, index, texts[bindings[i].text_index]);
    } else {
      sqlite3_bind_int64(stmt, index, bindings[i].number);
    }
  }
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (page.events.size() == q.limit) {
      page.more = true;
      break;
    }
    stored_event e;
    e.seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0));
    e.id = column_text(stmt, 1);
    e.type = column_text(stmt, 2);
    e.room = column_text(stmt, 3);
    e.time_us = sqlite3_column_int64(stmt, 4);
    e.json = column_text(stmt, 5);
    page.events.push_back(std::move(e));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    throw std::runtime_error("history query failed: " + errmsg(db));
  }
  return page;
}

std::optional<std::uint64_t> history_store::find_seq_by_id(const std::string& id) const {
  std::lock_guard<std::mutex> lock(db_mutex_);
  sqlite3* db = reader_db_ ? reader_db_.get() : writer_db_.get();
  sqlite3_stmt* stmt = find_id_reader_stmt_.get();
  bind_text(stmt, 1, id);
  try {
    auto seq = single_int(db, stmt);
    if (!seq) return std::nullopt;
    return static_cast<std::uint64_t>(*seq);
  } catch (const sqlite_failure& e) {
    throw std::runtime_error(std::string("history lookup failed: ") + e.what());
  }
}

std::vector<std::pair<std::string, std::uint64_t>> history_store::ids_since(
    std::int64_t since_us) const {
  std::vector<std::pair<std::string, std::uint64_t>> ids;
  std::lock_guard<std::mutex> lock(db_mutex_);
  sqlite3* db = reader_db_ ? reader_db_.get() : writer_db_.get();
  sqlite3_stmt* stmt = ids_since_stmt_.get();
  statement_use use(stmt);
  sqlite3_bind_int64(stmt, 1, since_us);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    ids.emplace_back(column_text(stmt, 0),
                     static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 1)));
  }
  if (rc != SQLITE_DONE) throw std::runtime_error("history lookup failed: " + errmsg(db));
  return ids;
}

}  // namespace rtev::server_lite
