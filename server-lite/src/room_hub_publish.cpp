// room_hub's publish pipeline: checking publish requests, assigning id/seq/
// timestamp, the idempotency window, storing, and fanning out once the store commits. Part of
// room_hub (service thread only; the store's completions come back through post_).

#include <algorithm>

#include <nlohmann/json.hpp>

#include "names.hpp"
#include "reply_json.hpp"
#include "room_hub.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/time.hpp"

namespace rtev::server_lite {

using json = nlohmann::json;

namespace {

// Appends `text` as a JSON string. Names (names.hpp), ids the server makes, RFC 3339 stamps and
// zone names are plain printable ASCII and go as they are; anything else is escaped by
// nlohmann's serializer.
void append_json_string(std::string& out, const std::string& text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u >= 0x20 && u < 0x7f && ch != '"' && ch != '\\';
  });
  if (!plain) {
    out += json_text(json(text));
    return;
  }
  out += '"';
  out += text;
  out += '"';
}

// A stored event's envelope, written directly (no JSON tree): the keys in the order nlohmann
// writes an object's (sorted), so the bytes on the wire are what they were when it was built
// as a tree; `data` is the request's JSON text as the door serialised it.
std::string envelope_json(const publish_request& r, const std::string& id, std::uint64_t seq,
                          const std::string& stamp, const std::string& zone) {
  std::string out;
  out.reserve(r.data.size() + r.type.size() + r.room.size() + id.size() + stamp.size() +
              zone.size() + 96);
  out += "{\"data\":";
  out += r.data;
  out += ",\"id\":";
  append_json_string(out, id);
  if (!r.broadcast) {
    out += ",\"room\":";
    append_json_string(out, r.room);
  }
  out += ",\"seq\":";
  out += std::to_string(seq);
  out += ",\"timestamp\":";
  append_json_string(out, stamp);
  out += ",\"timezone\":";
  append_json_string(out, zone);
  out += ",\"type\":";
  append_json_string(out, r.type);
  out += '}';
  return out;
}

}  // namespace

// An event appended to the store and not yet committed: fanned out and acknowledged when
// the writer reports it stored.
struct room_hub::pending_event {
  event_ptr event;
  std::string id;
  std::shared_ptr<ack_group> group;
  std::size_t index = 0;
};

struct room_hub::ack_group {
  publish_outcome outcome;
  std::size_t remaining = 0;
  publish_done done;

  void settle(std::size_t i, publish_result result) {
    if (!result.stored()) outcome.failed = true;
    outcome.results[i] = std::move(result);
    if (--remaining == 0 && done) {
      auto d = std::move(done);
      d(std::move(outcome));
    }
  }
};

room_hub::room_hub(hub_config cfg, history_store& store, const authenticator& auth, post_fn post)
    : cfg_(std::move(cfg)),
      store_(store),
      auth_(auth),
      post_(std::move(post)),
      next_seq_(store.last_seq_at_open() + 1),
      frontier_(store.last_seq_at_open()),
      reader_(std::make_unique<history_reader>(store)) {
  // Rebuild the idempotency window so a publish retried across a restart is stored once.
  const std::int64_t now_us = rtev::time::now().time_since_epoch().count();
  const auto window_us =
      std::chrono::duration_cast<std::chrono::microseconds>(cfg_.idempotency_window).count();
  const auto now = steady::now();
  for (auto& [id, seq] : store_.ids_since(now_us - window_us)) {
    recent_ids_[id] = recent_id{seq, now, true, {}};
    recent_order_.emplace_back(now, id);
  }
}

room_hub::~room_hub() = default;

std::string room_hub::publish_refusal(const identity* who, const publish_request& r) const {
  if (!who) return {};  // HTTP API, key already checked
  if (r.broadcast) {
    if (!may_target_users(*who, auth_.mode())) return "broadcasting needs role admin or service";
    return {};
  }
  if (r.room.rfind("user:", 0) == 0 && r.room != "user:" + who->user_id) {
    if (!may_target_users(*who, auth_.mode()))
      return "publishing to another user needs role admin or service";
    return {};
  }
  if (auto why = join_refusal(*who, auth_.mode(), r.room); !why.empty()) {
    if (may_target_users(*who, auth_.mode()) && auth_.mode() != auth_mode::none) return {};
    return why;
  }
  return {};
}

void room_hub::publish(std::vector<publish_request> reqs, publish_done done) {
  auto group = std::make_shared<ack_group>();
  group->remaining = reqs.size();
  group->outcome.results.resize(reqs.size());
  group->done = std::move(done);
  if (reqs.empty()) {
    if (group->done) group->done(std::move(group->outcome));
    return;
  }

  std::vector<stored_event> batch;
  std::vector<std::uint64_t> seqs;
  const auto now = steady::now();
  // One instant per publish: the envelope's timestamp and the stored time are the same, so
  // time-based since/until compare against exactly what clients see.
  const rtev::timestamp instant = rtev::time::now();
  const std::string stamp = rtev::time::format_rfc3339(instant, cfg_.timezone);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    publish_request& r = reqs[i];
    if (r.id) {
      if (auto it = recent_ids_.find(*r.id); it != recent_ids_.end()) {
        if (it->second.committed) {
          publish_result dup;
          dup.id = *r.id;
          dup.seq = it->second.seq;
          dup.duplicate = true;
          group->settle(i, std::move(dup));
        } else
          it->second.waiters.emplace_back(group, i);
        continue;
      }
    }
    const std::string id = r.id ? *r.id : rtev::make_event_id();
    const std::uint64_t seq = next_seq_++;
    auto ev = std::make_shared<shared_event>();
    ev->json = envelope_json(r, id, seq, stamp, cfg_.timezone);
    ev->type = r.type;
    ev->room = r.broadcast ? std::string() : r.room;
    ev->seq = seq;

    stored_event se;
    se.seq = seq;
    se.id = id;
    se.type = r.type;
    se.room = ev->room;
    se.time_us = instant.time_since_epoch().count();
    se.json = ev->json;
    batch.push_back(std::move(se));
    seqs.push_back(seq);
    pending_.emplace(seq, pending_event{ev, id, group, i});
    // Only a publisher's own ids enter the in-memory idempotency window: an id this server
    // made is not known to anyone before its event is stored, and from then on the store's
    // unique index finds a re-use of it.
    if (r.id) {
      recent_ids_[id] = recent_id{seq, now, false, {}};
      recent_order_.emplace_back(now, id);
    }
  }
  if (batch.empty()) return;
  // The completion runs on the store's writer thread: hand it to the service thread.
  store_.append(std::move(batch), [this, seqs = std::move(seqs)](
                                      std::vector<history_store::append_result> results) mutable {
    post_([this, seqs = std::move(seqs), results = std::move(results)]() mutable {
      on_committed(std::move(seqs), std::move(results));
    });
  });
}

void room_hub::on_committed(std::vector<std::uint64_t> seqs,
                            std::vector<history_store::append_result> results) {
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    auto it = pending_.find(seqs[i]);
    if (it == pending_.end()) continue;
    pending_event p = std::move(it->second);
    pending_.erase(it);
    const auto& r =
        i < results.size() ? results[i] : history_store::append_result{false, "lost", {}};
    // Only a stored (or duplicate) event moves the announced frontier: a failed write's seq is
    // never shown to anyone (its reply is storage_error without a seq, it is not delivered) and
    // is not in meta.last_seq, so after a restart it may go to a new event. Were it announced,
    // a client would resume past that new event and miss it.
    if (r.ok) frontier_ = std::max(frontier_, seqs[i]);
    publish_result result;
    result.id = p.id;
    auto rid = recent_ids_.find(p.id);
    if (!r.ok) {
      result.error_code = "storage_error";
      result.error_message = r.error;
      if (rid != recent_ids_.end() && !rid->second.committed) {
        auto waiters = std::move(rid->second.waiters);
        recent_ids_.erase(rid);
        for (auto& [g, idx] : waiters) g->settle(idx, result);
      }
    } else {
      const std::uint64_t seq = r.duplicate_of ? *r.duplicate_of : seqs[i];
      result.seq = seq;
      result.room = p.event->room;
      if (r.duplicate_of) {
        result.duplicate = true;
      } else {
        ++published_;
        count_type(p.event->type);
        deliver(p.event);
      }
      if (rid != recent_ids_.end()) {
        rid->second.seq = seq;
        rid->second.committed = true;
        auto waiters = std::move(rid->second.waiters);
        publish_result dup = result;
        dup.duplicate = true;
        for (auto& [g, idx] : waiters) g->settle(idx, dup);
      }
    }
    if (p.group) p.group->settle(p.index, std::move(result));
  }
}

void room_hub::count_type(const std::string& type) {
  if (auto it = by_type_.find(type); it != by_type_.end()) {
    ++it->second;
    return;
  }
  if (named_types_ >= max_tracked_types || type == other_types) {
    ++by_type_[other_types];
    return;
  }
  by_type_.emplace(type, 1);
  ++named_types_;
}

}  // namespace rtev::server_lite
