// redis_engine's reading side: the stream each node follows (XREAD, feeding the hub in seq
// order) and history reads (XRANGE in chunks, filtered here). See redis_engine.hpp.

#include <algorithm>
#include <cstdlib>

#include "redis_engine_parts.hpp"
#include "rtev/glob.hpp"

namespace rtev::server_lite {

namespace {

constexpr std::size_t query_chunk = 512;  // stream entries per XRANGE of a history read

bool query_matches(const history_query& q, const new_event& e) {
  if (e.room.empty()) {
    if (!q.include_broadcasts) return false;
  } else if (!q.rooms.empty() &&
             std::none_of(q.rooms.begin(), q.rooms.end(),
                          [&](const std::string& p) { return glob_match(p, e.room); })) {
    return false;
  }
  if (q.since_us && e.time_us < *q.since_us) return false;
  if (q.until_us && e.time_us > *q.until_us) return false;
  return q.types.empty() || std::any_of(q.types.begin(), q.types.end(), [&](const std::string& t) {
           return glob_match(t, e.type);
         });
}

// Sync commands for the start: argv as strings.
}  // namespace

std::string reply_text(const redisReply* r) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS &&
             r->type != REDIS_REPLY_ERROR))
    return {};
  return std::string(r->str, r->len);
}

bool is_error(const redisReply* r) {
  return r && r->type == REDIS_REPLY_ERROR;
}

std::uint64_t seq_of_id(const std::string& id) {
  return std::strtoull(id.c_str(), nullptr, 10);  // "<seq>-0"
}

// A stream entry ([id, [field, value, …]]) as the event it stores.
bool read_entry(const redisReply* entry, std::uint64_t& seq, new_event& e) {
  if (!entry || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) return false;
  seq = seq_of_id(reply_text(entry->element[0]));
  const redisReply* f = entry->element[1];
  if (seq == 0 || !f || f->type != REDIS_REPLY_ARRAY) return false;
  for (std::size_t i = 0; i + 1 < f->elements; i += 2) {
    const std::string k = reply_text(f->element[i]);
    std::string v = reply_text(f->element[i + 1]);
    if (k == "i")
      e.id = std::move(v);
    else if (k == "t")
      e.type = std::move(v);
    else if (k == "r")
      e.room = std::move(v);
    else if (k == "d")
      e.data = std::move(v);
    else if (k == "u")
      e.time_us = std::strtoll(v.c_str(), nullptr, 10);
    else if (k == "s")
      e.stamp = std::move(v);
    else if (k == "z")
      e.zone = std::move(v);
  }
  return !e.type.empty();
}

// --- reading the stream ------------------------------------------------------------------------

void redis_engine::read_next() {
  if (stopping_ || !reader_->up) return;
  reader_->send({"XREAD", "COUNT", "1000", "BLOCK", "1000", "STREAMS", k_events_,
                 std::to_string(fed_) + "-0"},
                [this, generation = generation_](redisReply* r) {
                  if (generation == generation_) {
                    on_read(r);
                  } else if (r && !stopping_) {
                    read_next();  // asked before the history was replaced: ask again
                  }
                });
}

void redis_engine::on_read(redisReply* r) {
  if (stopping_ || !r) return;  // gone: the reconnect reads again from fed_
  if (is_error(r)) {
    note(false, "the broker refused XREAD: " + reply_text(r));
    // Start over on a new connection, after the backoff.
    if (reader_->ac) redisAsyncDisconnect(reader_->ac);
    return;
  }
  if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
    const redisReply* entries = r->element[0]->element[1];
    for (std::size_t i = 0; i < entries->elements; ++i) {
      std::uint64_t seq = 0;
      new_event e;
      if (!read_entry(entries->element[i], seq, e) || seq <= fed_) continue;
      event_ptr ev = stored_shared_event(e, seq);
      fed_ = seq;
      last_seq_ = std::max<std::uint64_t>(last_seq_, seq);
      if (feed_) feed_(ev);
    }
    release_appends();
  }
  read_next();
}

// --- history -----------------------------------------------------------------------------------

void redis_engine::query(history_query q, query_done done) {
  auto st = std::make_shared<query_state>();
  st->from = q.after_seq ? std::to_string(*q.after_seq + 1) + "-0" : "-";
  st->q = std::move(q);
  st->done = std::move(done);
  query_page(st);
}

void redis_engine::query_page(const std::shared_ptr<query_state>& st) {
  const std::string to = st->q.max_seq ? std::to_string(*st->q.max_seq) + "-0" : "+";
  if (!commands_open()) {
    st->done({}, "the broker is unreachable");
    return;
  }
  reply_fn next = [this, st](redisReply* r) { on_query_page(st, r); };
  if (!cmd_->send({"XRANGE", k_events_, st->from, to, "COUNT", std::to_string(query_chunk)},
                  std::move(next)))
    st->done({}, "the broker is unreachable");
}

void redis_engine::on_query_page(const std::shared_ptr<query_state>& st, redisReply* r) {
  if (stopping_) return;
  if (!r || is_error(r) || r->type != REDIS_REPLY_ARRAY) {
    st->done({}, "the broker could not be read: " + (r ? reply_text(r) : std::string("gone")));
    return;
  }
  for (std::size_t i = 0; i < r->elements; ++i) {
    std::uint64_t seq = 0;
    new_event e;
    if (!read_entry(r->element[i], seq, e)) continue;
    st->from = std::to_string(seq + 1) + "-0";
    if (!query_matches(st->q, e)) continue;
    if (st->page.events.size() == st->q.limit) {
      st->page.more = true;
      st->done(std::move(st->page), {});
      return;
    }
    stored_event se;
    se.seq = seq;
    se.json = envelope_json(e, seq);
    se.id = std::move(e.id);
    se.type = std::move(e.type);
    se.room = std::move(e.room);
    se.time_us = e.time_us;
    st->page.events.push_back(std::move(se));
  }
  if (r->elements < query_chunk) {
    st->done(std::move(st->page), {});
    return;
  }
  query_page(st);
}

}  // namespace rtev::server_lite
