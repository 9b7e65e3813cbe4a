// The rtev WebSocket protocol: client operations {"type": OP, "ref"?, "data": {…}} and their
// replies {"type": "ACK" | "ERROR" | "PONG", "ref"?, "data": {…}}. Part of room_hub (service
// thread only); see docs/protocol.md.

#include <algorithm>
#include <cctype>

#include "names.hpp"
#include "room_hub.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/json.hpp"

namespace rtev::server_lite {

namespace {

std::string upper(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

// The operation's `data.room`, required and a valid name of `kind`, or a bad_request naming it.
std::string need_room(const json& data, name_kind kind) {
  auto it = data.find("room");
  if (it == data.end() || it->is_null())
    throw parse_error("data.room", "required field is missing");
  if (!it->is_string())
    throw parse_error("data.room", "expected a string, got " + json_type_name(*it));
  std::string room = it->get<std::string>();
  require_name("data.room", room, kind);
  return room;
}

std::vector<std::string> string_list(const json& data, const char* key) {
  std::vector<std::string> out;
  auto it = data.find(key);
  if (it == data.end() || it->is_null()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
    return out;
  }
  if (!it->is_array())
    throw parse_error(std::string("data.") + key,
                      "expected an array of strings, got " + json_type_name(*it));
  for (const auto& v : *it) {
    if (!v.is_string())
      throw parse_error(std::string("data.") + key,
                        "expected an array of strings, found " + json_type_name(v));
    out.push_back(v.get<std::string>());
  }
  return out;
}

// `data.types`: event-type globs, each checked against the name rule.
std::vector<std::string> type_globs(const json& data) {
  std::vector<std::string> types = string_list(data, "types");
  require_names("data.types", types, name_kind::type_pattern);
  return types;
}

json ack(const json& ref, json data) {
  json msg = {{"type", "ACK"}, {"data", std::move(data)}};
  if (!ref.is_null()) msg["ref"] = ref;
  return msg;
}

}  // namespace

bool room_hub::admit(connection& c, const json& ref) {
  if (rate_ok(c, steady::now())) return true;
  send_error(
      c, ref, "rate_limited",
      "too many messages: the limit is " + std::to_string(static_cast<long>(cfg_.rate)) + "/s");
  return false;
}

void room_hub::handle_ws_message(connection& c, std::string_view text) {
  if (c.closing) return;
  // Parsed before admission so that a rate_limited refusal carries the request's ref: every
  // reply to a request names it (the message is bounded by --max-message-bytes).
  std::string why;
  json msg = rtev::parse_json(text, &why);
  json ref = nullptr;
  if (msg.is_object())
    if (auto it = msg.find("ref"); it != msg.end() && (it->is_string() || it->is_number()))
      ref = *it;
  if (!admit(c, ref)) return;
  if (msg.is_discarded()) {
    send_error(c, nullptr, "bad_json", "the message is not valid JSON: " + why);
    return;
  }
  handle_operation(c, msg);
}

void room_hub::handle_operation(connection& c, const json& msg) {
  if (c.closing) return;
  if (!msg.is_object()) {
    send_error(c, nullptr, "bad_request",
               "expected a JSON object {\"type\", \"data\"}, got " + json_type_name(msg));
    return;
  }
  json ref = nullptr;
  if (auto it = msg.find("ref"); it != msg.end() && (it->is_string() || it->is_number())) ref = *it;
  auto type_it = msg.find("type");
  if (type_it == msg.end() || !type_it->is_string()) {
    send_error(c, ref, "bad_request",
               type_it == msg.end() ? "type: required field is missing"
                                    : "type: expected a string, got " + json_type_name(*type_it));
    return;
  }
  const std::string op = upper(type_it->get<std::string>());
  json data = json::object();
  if (auto it = msg.find("data"); it != msg.end() && !it->is_null()) data = *it;
  if (!data.is_object()) {
    send_error(c, ref, "bad_request", "data: expected an object, got " + json_type_name(data));
    return;
  }

  try {
    if (op == "AUTHENTICATE") {
      auto tok = data.find("token");
      std::string token;
      if (tok != data.end() && tok->is_string())
        token = tok->get<std::string>();
      else if (tok != data.end() && (tok->is_object() || tok->is_number_integer()))
        token = tok->dump();  // {"user_id", "role"}, or a numeric user id
      if (auto p = data.find("presence"); p != data.end() && !p->is_null())
        c.presence = presence_option("data.presence", *p);
      authenticate(c, token, true, ref);
      return;
    }
    if (op == "PING") {
      json pong = {{"type", "PONG"}, {"data", {{"server_time", now_rfc3339()}}}};
      if (!ref.is_null()) pong["ref"] = ref;
      send_control(c, pong);
      return;
    }
    static const char* known[] = {"SUBSCRIBE",   "UNSUBSCRIBE", "PUBLISH", "TYPING_START",
                                  "TYPING_STOP", "HISTORY",     "PRESENCE"};
    if (std::find(std::begin(known), std::end(known), op) == std::end(known)) {
      send_error(c, ref, "unknown_op",
                 "unknown operation '" + type_it->get<std::string>() +
                     "'; expected one of authenticate, PING, SUBSCRIBE, UNSUBSCRIBE, PUBLISH, "
                     "TYPING_START, TYPING_STOP, HISTORY, PRESENCE");
      return;
    }
    if (!c.who) {
      send_error(c, ref, "not_authenticated",
                 "send {\"type\":\"authenticate\",\"data\":{\"token\":…}} first");
      return;
    }
    if (op == "SUBSCRIBE")
      op_subscribe(c, ref, data);
    else if (op == "UNSUBSCRIBE")
      op_unsubscribe(c, ref, data);
    else if (op == "PUBLISH")
      op_publish(c, ref, data);
    else if (op == "TYPING_START")
      op_typing(c, ref, data, true);
    else if (op == "TYPING_STOP")
      op_typing(c, ref, data, false);
    else if (op == "HISTORY")
      op_history(c, ref, data);
    else if (op == "PRESENCE")
      op_presence(c, ref, data);
  } catch (const parse_error& e) {
    send_error(c, ref, "bad_request", e.what());
  }
}

void room_hub::op_subscribe(connection& c, const json& ref, const json& data) {
  const std::string room = need_room(data, name_kind::room_pattern);
  std::vector<std::string> types = type_globs(data);
  if (auto why = join_refusal(*c.who, auth_.mode(), room); !why.empty()) {
    send_error(c, ref, "forbidden", why);
    return;
  }
  subscription s;
  s.patterns.push_back(room);
  s.types = std::move(types);
  s.broadcasts = room == "*";  // the firehose includes broadcasts, in replay too
  if (!ref.is_null()) s.ref = ref.is_string() ? ref.get<std::string>() : ref.dump();
  std::optional<std::string> epoch;
  if (auto it = data.find("epoch"); it != data.end() && !it->is_null()) {
    if (!it->is_string())
      throw parse_error("data.epoch", "expected a string, got " + json_type_name(*it));
    epoch = it->get<std::string>();
  }
  std::optional<since_point> since;
  if (auto it = data.find("since"); it != data.end() && !it->is_null()) {
    try {
      since = parse_since(*it);
    } catch (const parse_error& e) {
      const std::string m = e.what();
      const auto colon = m.find(": ");
      throw parse_error("data.since", colon == std::string::npos ? m : m.substr(colon + 2));
    }
  }
  // Replace an earlier subscription to the same room (new types, new since).
  c.subs.remove_if([&](const subscription& x) {
    return !x.automatic && x.patterns.size() == 1 && x.patterns.front() == room;
  });
  c.subs.push_back(std::move(s));
  subscription& sub = c.subs.back();
  reindex(c);
  sub.ack_after_replay = true;
  if (since) {
    start_replay(c, sub, *since, epoch);
  } else {
    // No since: nothing to replay; an epoch that differs still tells the client it changed.
    sub.recovered = !epoch || *epoch == store_.epoch();
    finish_replay(c, sub);
  }
}

void room_hub::op_unsubscribe(connection& c, const json& ref, const json& data) {
  const std::string room = need_room(data, name_kind::room_pattern);
  bool found = false;
  for (auto it = c.subs.begin(); it != c.subs.end();) {
    auto& pats = it->patterns;
    const auto before = pats.size();
    pats.erase(std::remove(pats.begin(), pats.end(), room), pats.end());
    found = found || pats.size() != before;
    if (pats.empty())
      it = c.subs.erase(it);
    else
      ++it;
  }
  reindex(c);
  send_control(c, ack(ref, {{"op", "UNSUBSCRIBE"},
                            {"room", room},
                            {"subscribed", false},
                            {"was_subscribed", found}}));
}

void room_hub::op_publish(connection& c, const json& ref, const json& data) {
  std::vector<publish_request> reqs;
  try {
    reqs = parse_publish(data);
  } catch (const parse_error& e) {
    // parse_publish names fields of the event object; here that object is `data`.
    const std::string m = e.what();
    throw parse_error(e.path().empty() ? "data" : "data." + e.path(),
                      e.path().empty() ? m : m.substr(e.path().size() + 2));
  }
  for (const auto& r : reqs)
    if (auto why = publish_refusal(&*c.who, r); !why.empty()) {
      send_error(c, ref, "forbidden", why);
      return;
    }
  const conn_id id = c.id;
  ++c.replies_pending;  // a close waits for this ACK (the client may already count on it)
  publish(std::move(reqs), [this, id, ref](publish_outcome out) {
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
    json d = {{"op", "PUBLISH"}, {"id", first.id}, {"seq", first.seq}};
    if (first.duplicate) d["duplicate"] = true;
    if (out.results.size() > 1) {
      json events = json::array();
      for (const auto& r : out.results) events.push_back(publish_result_json(r));
      d["events"] = std::move(events);
    }
    send_control(*conn, ack(ref, d));
  });
}

void room_hub::op_typing(connection& c, const json& ref, const json& data, bool typing) {
  const std::string room = need_room(data, name_kind::room);
  if (auto why = join_refusal(*c.who, auth_.mode(), room); !why.empty()) {
    send_error(c, ref, "forbidden", why);
    return;
  }
  // Not stored, no seq: a typing indicator only matters to whoever is there now.
  json env = {{"type", "typing_indicator"},
              {"room", room},
              {"timestamp", now_rfc3339()},
              {"timezone", cfg_.timezone},
              {"data", {{"user_id", c.who->user_id}, {"room", room}, {"is_typing", typing}}}};
  auto ev = std::make_shared<shared_event>();
  ev->json = env.dump();
  ev->type = "typing_indicator";
  ev->room = room;
  deliver(ev, &c);
  if (!ref.is_null())
    send_control(c, ack(ref, {{"op", typing ? "TYPING_START" : "TYPING_STOP"}, {"room", room}}));
}

void room_hub::op_history(connection& c, const json& ref, const json& data) {
  const std::string room = need_room(data, name_kind::room_pattern);
  std::vector<std::string> types = type_globs(data);
  if (auto why = join_refusal(*c.who, auth_.mode(), room); !why.empty()) {
    send_error(c, ref, "forbidden", why);
    return;
  }
  std::size_t limit = 100;
  if (auto it = data.find("limit"); it != data.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1)
      throw parse_error("data.limit", "expected a positive integer (at most 1000)");
    limit = static_cast<std::size_t>(std::min<std::int64_t>(it->get<std::int64_t>(), 1000));
  }
  const conn_id id = c.id;
  ++c.replies_pending;  // a close waits for this answer
  history(room, data.value("since", json()), data.value("until", json()), limit, types,
          [this, id, ref, room](history_page page, const std::string& error) {
            connection* conn = find(id);
            if (!conn) return;  // the client left before the store answered
            --conn->replies_pending;
            if (conn->closing) conn->wake();  // the close may have been waiting for this
            if (!error.empty()) {
              send_error(*conn, ref, "storage_error", "history unavailable: " + error);
              return;
            }
            // History events are the stored envelopes with the request's ref added, so a
            // client can tell them from live events.
            for (auto& e : page.events) {
              json env = json::parse(e.json);
              if (!ref.is_null()) env["ref"] = ref;
              env["history"] = true;
              send_control(*conn, env);
            }
            json next = nullptr;
            if (page.more && !page.events.empty()) next = page.events.back().seq;
            send_control(*conn, ack(ref, {{"op", "HISTORY"},
                                          {"room", room},
                                          {"count", page.events.size()},
                                          {"next", next}}));
          });
}

void room_hub::op_presence(connection& c, const json& ref, const json& data) {
  const std::string room = need_room(data, name_kind::room);
  if (auto why = join_refusal(*c.who, auth_.mode(), room); !why.empty()) {
    send_error(c, ref, "forbidden", why);
    return;
  }
  send_control(c, ack(ref, {{"op", "PRESENCE"}, {"room", room}, {"users", presence_of(room)}}));
}

}  // namespace rtev::server_lite
