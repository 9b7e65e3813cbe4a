// history_store's queries: any thread, under db_mutex_ (see history_store.hpp).
#include "history_store.hpp"

#include <sqlite3.h>

#include <algorithm>
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
  // The conditions every source shares (seq, time and type bounds) and their values.
  sql_filter common;
  if (q.after_seq) common.add("seq > ?").number(clamp_seq(*q.after_seq));
  if (q.max_seq) common.add("seq <= ?").number(clamp_seq(*q.max_seq));
  if (q.since_us) common.add("time_us >= ?").number(*q.since_us);
  if (q.until_us) common.add("time_us <= ?").number(*q.until_us);
  if (!q.types.empty()) {
    std::string any;
    for (std::size_t i = 0; i < q.types.size(); ++i)
      any += i == 0 ? "(type GLOB ?" : " OR type GLOB ?";
    common.add(any + ")");
    for (const auto& t : q.types) common.text(to_sqlite_glob(t));
  }

  // Where the events come from. Exact rooms (and the broadcasts, room IS NULL) are one index
  // range each, read in seq order and merged; with a glob, or every room, one scan in seq order.
  std::vector<sql_filter> sources;
  const bool any_glob = std::any_of(q.rooms.begin(), q.rooms.end(), [](const std::string& r) {
    return r.find('*') != std::string::npos;
  });
  if (!q.rooms.empty() && !any_glob) {
    std::vector<std::string> rooms = q.rooms;
    std::sort(rooms.begin(), rooms.end());
    rooms.erase(std::unique(rooms.begin(), rooms.end()), rooms.end());
    for (auto& r : rooms) sources.emplace_back().add("room = ?").text(std::move(r));
    if (q.include_broadcasts) sources.emplace_back().add("room IS NULL");
  } else if (q.rooms.empty()) {
    sources.emplace_back();
    if (!q.include_broadcasts) sources.back().add("room IS NOT NULL");
  } else {
    std::string any;
    sql_filter& f = sources.emplace_back();
    for (const auto& r : q.rooms) {
      const bool glob = r.find('*') != std::string::npos;
      any += any.empty() ? "(" : " OR ";
      any += glob ? "room GLOB ?" : "room = ?";
      f.text(glob ? to_sqlite_glob(r) : r);
    }
    if (q.include_broadcasts) any += " OR room IS NULL";
    f.add(any + ")");
  }

  // One row past the limit tells whether there is more (per source: the union's first
  // limit + 1 rows are among the sources' first limit + 1 each).
  const std::int64_t fetch = q.limit >= static_cast<std::size_t>(int64_max)
                                 ? int64_max
                                 : static_cast<std::int64_t>(q.limit) + 1;
  std::vector<stored_event> rows;
  std::lock_guard<std::mutex> lock(db_mutex_);
  for (auto& source : sources) {
    source.append(common);
    source.number(fetch);
    read_rows("SELECT seq, id, type, room, time_us, json FROM events" + source.where() +
                  " ORDER BY seq LIMIT ?",
              source, rows);
  }
  if (sources.size() > 1)
    std::sort(rows.begin(), rows.end(),
              [](const stored_event& a, const stored_event& b) { return a.seq < b.seq; });
  history_page page;
  page.more = rows.size() > q.limit;
  if (page.more) rows.resize(q.limit);
  page.events = std::move(rows);
  return page;
}

void history_store::read_rows(const std::string& sql, const sql_filter& f,
                              std::vector<stored_event>& out) const {
  sqlite3* db = reader_db_ ? reader_db_.get() : writer_db_.get();
  sqlite3_stmt* stmt = cached_query(sql);
  statement_use use(stmt);
  f.bind(stmt);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    stored_event e;
    e.seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0));
    e.id = column_text(stmt, 1);
    e.type = column_text(stmt, 2);
    e.room = column_text(stmt, 3);
    e.time_us = sqlite3_column_int64(stmt, 4);
    e.json = column_text(stmt, 5);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) throw std::runtime_error("history query failed: " + errmsg(db));
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
