#include "reply_json.hpp"

#include <cmath>

namespace rtev::server_lite {

std::string json_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json ack_data(const hub_reply& r) {
  return std::visit(
      overloaded{
          [](const subscribed_reply& s) -> json {
            return {{"op", "SUBSCRIBE"},        {"room", s.room},   {"replayed", s.replayed},
                    {"recovered", s.recovered}, {"epoch", s.epoch}, {"last_seq", s.last_seq}};
          },
          [](const unsubscribed_reply& u) -> json {
            return {{"op", "UNSUBSCRIBE"},
                    {"room", u.room},
                    {"subscribed", false},
                    {"was_subscribed", u.was_subscribed}};
          },
          [](const published_reply& p) -> json {
            const publish_result& first = p.results.front();
            json d = {{"op", "PUBLISH"}, {"id", first.id}, {"seq", first.seq}};
            if (first.duplicate) d["duplicate"] = true;
            if (p.results.size() > 1) {
              json events = json::array();
              for (const auto& x : p.results) events.push_back(publish_result_json(x));
              d["events"] = std::move(events);
            }
            return d;
          },
          [](const typing_reply& t) -> json {
            return {{"op", t.typing ? "TYPING_START" : "TYPING_STOP"}, {"room", t.room}};
          },
          [](const history_reply& h) -> json {
            return {{"op", "HISTORY"},
                    {"room", h.room},
                    {"count", h.events.size()},
                    {"next", h.next ? json(*h.next) : json(nullptr)}};
          },
          [](const presence_reply& p) -> json {
            json users = json::array();
            for (const auto& u : p.users)
              users.push_back({{"user_id", u.user_id}, {"connections", u.connections}});
            return {{"op", "PRESENCE"}, {"room", p.room}, {"users", std::move(users)}};
          },
          [](const auto&) -> json { return nullptr; },
      },
      r);
}

json rate_limit_json(const rate_limit_values& limit) {
  auto number = [](double v) {
    return v == std::floor(v) && v < 9e15 ? json(static_cast<std::uint64_t>(v)) : json(v);
  };
  return {{"per_second", number(limit.per_second)}, {"burst", number(limit.burst)}};
}

json connection_info_json(const connection_info& i) {
  json j = {{"user_id", i.user_id},
            {"connection_id", i.connection_id},
            {"roles", i.roles},
            {"timezone", i.timezone},
            {"server_time", i.server_time},
            {"epoch", i.epoch},
            {"last_seq", i.last_seq},
            {"anonymous", i.anonymous},
            {"presence", i.presence},
            {"rate_limit", rate_limit_json(i.rate_limit)}};
  // Only while not ok: the handshake says it, so a client never guesses (§4.7).
  if (i.degraded) j["server_status"] = server_status_json({{}, false, *i.degraded, i.server_time});
  return j;
}

json server_status_json(const server_status_reply& s) {
  return {{"status", s.ok ? "ok" : "degraded"},
          {"broker", s.ok ? "up" : "down"},
          {"reason", s.ok ? json() : json(s.reason)},
          {"timestamp", s.timestamp}};
}

json history_event_json(const std::string& envelope, const op_ref& ref) {
  json env = json::parse(envelope);
  if (!ref.empty()) env["ref"] = json::parse(ref);
  env["history"] = true;
  return env;
}

json publish_result_json(const publish_result& r) {
  json j = {{"id", r.id}};
  if (!r.stored()) {
    j["error"] = {{"code", r.error_code}, {"message", r.error_message}};
    return j;
  }
  j["seq"] = r.seq;
  if (!r.room.empty()) j["room"] = r.room;
  if (r.duplicate) j["duplicate"] = true;
  return j;
}

}  // namespace rtev::server_lite
