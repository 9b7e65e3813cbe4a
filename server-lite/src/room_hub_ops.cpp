// room_hub's operations: what each typed request (hub_ops.hpp) does and how it is answered,
// whichever door decoded it. Part of room_hub (service thread only).

#include <algorithm>
#include <map>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "names.hpp"
#include "room_hub.hpp"

namespace rtev::server_lite {

using json = nlohmann::json;

bool room_hub::admit(connection& c, const op_ref& ref) {
  if (rate_ok(c, steady::now())) return true;
  send_error(
      c, ref, "rate_limited",
      "too many messages: the limit is " + std::to_string(static_cast<long>(cfg_.rate)) + "/s");
  return false;
}

void room_hub::handle(connection& c, hub_operation op) {
  if (c.closing) return;
  std::visit(
      [&](auto& o) {
        using T = std::decay_t<decltype(o)>;
        constexpr bool open_to_all = std::is_same_v<T, authenticate_op> ||
                                     std::is_same_v<T, ping_op> || std::is_same_v<T, bad_op>;
        if constexpr (!open_to_all) {
          if (!c.who) {
            send(c, not_authenticated_reply{o.ref});
            return;
          }
        }
        on(c, std::move(o));
      },
      op);
}

void room_hub::on(connection& c, const bad_op& op) {
  if (op.needs_auth && !c.who) {
    send(c, not_authenticated_reply{op.ref});
    return;
  }
  send_error(c, op.ref, op.code, op.message);
}

void room_hub::on(connection& c, const authenticate_op& op) {
  if (op.presence) c.presence = *op.presence;
  // The API key, in this message only (never ?token=, which ends up in logs), is the operator:
  // an admin who is nobody's news (docs/protocol.md §4.1).
  if (auth_.is_api_key(op.token)) {
    auth_result operator_id;
    operator_id.who = identity{};
    operator_id.who->user_id = operator_user_id;
    operator_id.who->roles = {"admin"};
    c.presence = false;
    adopt(c, std::move(operator_id), true, op.ref);
    return;
  }
  authenticate(c, op.token, true, op.ref);
}

void room_hub::on(connection& c, const ping_op& op) {
  send(c, pong_reply{op.ref, now_rfc3339()});
}

void room_hub::on(connection& c, const subscribe_op& op) {
  if (auto why = join_refusal(*c.who, auth_.mode(), op.room); !why.empty()) {
    send_error(c, op.ref, "forbidden", why);
    return;
  }
  subscription s;
  s.patterns.push_back(op.room);
  s.types = op.types;
  s.broadcasts = op.room == "*";  // the firehose includes broadcasts, in replay too
  s.ref = op.ref;
  // Replace an earlier subscription to the same room (new types, new since).
  c.subs.remove_if([&](const subscription& x) {
    return !x.automatic && x.patterns.size() == 1 && x.patterns.front() == op.room;
  });
  c.subs.push_back(std::move(s));
  subscription& sub = c.subs.back();
  reindex(c);
  sub.ack_after_replay = true;
  if (op.since) {
    start_replay(c, sub, *op.since, op.epoch);
  } else {
    // No since: nothing to replay; an epoch that differs still tells the client it changed.
    sub.recovered = !op.epoch || *op.epoch == engine_.epoch();
    finish_replay(c, sub);
  }
}

void room_hub::on(connection& c, const unsubscribe_op& op) {
  bool found = false;
  for (auto it = c.subs.begin(); it != c.subs.end();) {
    auto& pats = it->patterns;
    const auto before = pats.size();
    pats.erase(std::remove(pats.begin(), pats.end(), op.room), pats.end());
    found = found || pats.size() != before;
    if (pats.empty())
      it = c.subs.erase(it);
    else
      ++it;
  }
  reindex(c);
  send(c, unsubscribed_reply{op.ref, op.room, found});
}

void room_hub::on(connection& c, publish_op&& op) {
  for (const auto& r : op.events)
    if (auto why = publish_refusal(&*c.who, r); !why.empty()) {
      send_error(c, op.ref, "forbidden", why);
      return;
    }
  const conn_id id = c.id;
  ++c.replies_pending;  // a close waits for this ACK (the client may already count on it)
  publish(std::move(op.events), [this, id, ref = std::move(op.ref)](publish_outcome out) {
    connection* conn = find(id);
    if (!conn) return;  // the publisher left before the store answered
    --conn->replies_pending;
    if (conn->closing) conn->wake();  // the close may have been waiting for this reply
    const publish_result& first = out.results.front();
    if (out.failed) {
      send_error(*conn, ref, first.stored() ? "storage_error" : first.error_code,
                 first.stored() ? "not stored" : first.error_message);
      return;
    }
    send(*conn, published_reply{ref, std::move(out.results)});
  });
}

void room_hub::on(connection& c, const typing_op& op) {
  if (auto why = join_refusal(*c.who, auth_.mode(), op.room); !why.empty()) {
    send_error(c, op.ref, "forbidden", why);
    return;
  }
  // Not stored, no seq: a typing indicator only matters to whoever is there now.
  json env = {{"type", "typing_indicator"},
              {"room", op.room},
              {"timestamp", now_rfc3339()},
              {"timezone", cfg_.timezone},
              {"data", {{"user_id", c.who->user_id}, {"room", op.room}, {"is_typing", op.typing}}}};
  auto ev = std::make_shared<shared_event>();
  ev->json = env.dump();
  ev->type = "typing_indicator";
  ev->room = op.room;
  deliver(ev, &c);
  engine_.share(ev);
  if (!op.ref.empty()) send(c, typing_reply{op.ref, op.room, op.typing});
}

void room_hub::on(connection& c, const history_op& op) {
  if (auto why = join_refusal(*c.who, auth_.mode(), op.room); !why.empty()) {
    send_error(c, op.ref, "forbidden", why);
    return;
  }
  const conn_id id = c.id;
  ++c.replies_pending;  // a close waits for this answer
  history(op.room, op.since, op.until_us, op.limit, op.types,
          [this, id, ref = op.ref, room = op.room](history_page page, const std::string& error) {
            connection* conn = find(id);
            if (!conn) return;  // the client left before the store answered
            --conn->replies_pending;
            if (conn->closing) conn->wake();  // the close may have been waiting for this
            if (!error.empty()) {
              send_error(*conn, ref, "storage_error", "history unavailable: " + error);
              return;
            }
            history_reply r{ref, room, {}, std::nullopt};
            if (page.more && !page.events.empty()) r.next = page.events.back().seq;
            r.events.reserve(page.events.size());
            for (auto& e : page.events) r.events.push_back(std::move(e.json));
            send(*conn, r);
          });
}

void room_hub::on(connection& c, const presence_op& op) {
  if (auto why = join_refusal(*c.who, auth_.mode(), op.room); !why.empty()) {
    send_error(c, op.ref, "forbidden", why);
    return;
  }
  // Every node's part (one node: this one's, at once), users merged by id.
  ++c.replies_pending;
  engine_.ask_nodes({node_question::kind::presence, op.room},
                    [this, conn = c.id, ref = op.ref, room = op.room](
                        const std::vector<node_report>& reports, std::size_t /*missing*/) {
                      connection* asker = find(conn);
                      if (!asker) return;  // the client left before the nodes answered
                      --asker->replies_pending;
                      if (asker->closing) asker->wake();  // the close may have waited for this
                      std::map<std::string, std::size_t> users;
                      for (const node_report& r : reports)
                        for (const presence_entry& u : r.users) users[u.user_id] += u.connections;
                      presence_reply reply{ref, room, {}};
                      reply.users.reserve(users.size());
                      for (const auto& [u, n] : users) reply.users.push_back({u, n});
                      send(*asker, reply);
                    });
}

}  // namespace rtev::server_lite
