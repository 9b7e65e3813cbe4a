// room_hub's publish pipeline: checking publish requests, giving each event its id and
// timestamp, the idempotency window, handing the events to the engine (which gives the seq
// and stores them), and fanning out what the engine feeds back. Part of room_hub (service
// thread only; the engine's results and feed come back on it).

#include <algorithm>

#include "names.hpp"
#include "room_hub.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/time.hpp"

namespace rtev::server_lite {

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

room_hub::room_hub(hub_config cfg, event_engine& engine, const authenticator& auth)
    : cfg_(std::move(cfg)), engine_(engine), auth_(auth), frontier_(engine.last_seq_at_start()) {
  engine_.set_feed([this](const event_ptr& e) { on_stored(e); });
  engine_.set_reset([this](std::uint64_t last_seq) { on_history_replaced(last_seq); });
  // Live-only events from other nodes are delivered like this node's own.
  engine_.set_live_feed([this](const event_ptr& e) { deliver(e); });
  engine_.set_presence_feed([this](const std::string& user_id, bool online) {
    publish_presence(online ? "user_online" : "user_offline", user_id);
  });
  engine_.set_node_view({[this] {
                           std::vector<std::string> users;
                           users.reserve(present_.size());
                           for (const auto& [u, n] : present_) users.push_back(u);
                           return users;
                         },
                         [this](const node_question& q) { return report(q); }});
  // Rebuild the idempotency window so a publish retried across a restart is stored once.
  const std::int64_t now_us = rtev::time::now().time_since_epoch().count();
  const auto window_us =
      std::chrono::duration_cast<std::chrono::microseconds>(cfg_.idempotency_window).count();
  const auto now = steady::now();
  for (auto& [id, seq] : engine_.ids_since(now_us - window_us)) {
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

  std::vector<new_event> batch;
  std::vector<std::size_t> index;  // batch position → request position
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
      // Only a publisher's own ids enter the in-memory idempotency window: an id this server
      // made is not known to anyone before its event is stored, and from then on the
      // engine's unique index finds a re-use of it.
      recent_ids_[*r.id] = recent_id{0, now, false, {}};
      recent_order_.emplace_back(now, *r.id);
    }
    new_event e;
    e.id = r.id ? *r.id : rtev::make_event_id();
    e.own_id = r.id.has_value();
    e.type = std::move(r.type);
    e.room = r.broadcast ? std::string() : std::move(r.room);
    e.data = std::move(r.data);
    e.time_us = instant.time_since_epoch().count();
    e.stamp = stamp;
    e.zone = cfg_.timezone;
    batch.push_back(std::move(e));
    index.push_back(i);
  }
  if (batch.empty()) return;
  std::vector<std::pair<std::string, std::string>> keys;  // id, room of each event
  keys.reserve(batch.size());
  for (const new_event& e : batch) keys.emplace_back(e.id, e.room);
  engine_.append(std::move(batch), [this, group, index = std::move(index), keys = std::move(keys)](
                                       const std::vector<append_outcome>& out) {
    on_appended(*group, index, keys, out);
  });
}

void room_hub::on_stored(const event_ptr& e) {
  frontier_ = std::max(frontier_, e->seq);
  ++published_;
  count_type(e->type);
  deliver(e);
}

// The shared history was lost and a new one began (a new epoch): nothing a client holds
// continues here. Every connection is closed with 4002, so clients reconnect and resume with
// their old epoch, which gets `recovered: false` — a gap they can see, not a silent hole.
void room_hub::on_history_replaced(std::uint64_t last_seq) {
  frontier_ = last_seq;
  for (auto it = recent_ids_.begin(); it != recent_ids_.end();)
    it = it->second.committed ? recent_ids_.erase(it) : std::next(it);
  for (auto& [id, c] : conns_)
    close_connection(*c, close_code::history_replaced,
                     "the event history was replaced (a new epoch): reconnect to resume");
}

void room_hub::on_appended(ack_group& group, const std::vector<std::size_t>& index,
                           const std::vector<std::pair<std::string, std::string>>& keys,
                           const std::vector<append_outcome>& out) {
  for (std::size_t i = 0; i < index.size(); ++i) {
    const append_outcome r =
        i < out.size() ? out[i] : append_outcome{false, "lost", 0, false, "storage_error"};
    publish_result result;
    result.id = keys[i].first;
    auto rid = recent_ids_.find(result.id);
    if (!r.ok) {
      // A failed write's seq is never shown to anyone: its reply is storage_error without one.
      result.error_code = r.code;
      result.error_message = r.error;
      if (rid != recent_ids_.end() && !rid->second.committed) {
        auto waiters = std::move(rid->second.waiters);
        recent_ids_.erase(rid);
        for (auto& [g, idx] : waiters) g->settle(idx, result);
      }
    } else {
      result.seq = r.seq;
      result.room = keys[i].second;
      result.duplicate = r.duplicate;
      if (!r.duplicate) ++accepted_;
      if (rid != recent_ids_.end()) {
        rid->second.seq = r.seq;
        rid->second.committed = true;
        auto waiters = std::move(rid->second.waiters);
        publish_result dup = result;
        dup.duplicate = true;
        for (auto& [g, idx] : waiters) g->settle(idx, dup);
      }
    }
    group.settle(index[i], std::move(result));
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
