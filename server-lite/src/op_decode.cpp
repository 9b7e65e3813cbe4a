#include "op_decode.hpp"

#include <algorithm>
#include <cctype>

#include "names.hpp"
#include "reply_json.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/json.hpp"
#include "rtev/time.hpp"

namespace rtev::server_lite {

namespace {

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

// A user id addressed by a publish: user:{id} must be a valid room.
void require_user_id(const std::string& path, const std::string& uid) {
  require_name(path, uid, name_kind::room);
  if (!is_valid_room("user:" + uid))
    throw parse_error(path, "is " + std::to_string(uid.size()) +
                                " characters long; user:{id} must be a room name of at most " +
                                std::to_string(max_name_chars));
}

// A parse_error of a nested object's field, renamed as `data.<field>` (the operation's data).
[[noreturn]] void rethrow_under_data(const parse_error& e) {
  const std::string m = e.what();
  throw parse_error(e.path().empty() ? "data" : "data." + e.path(),
                    e.path().empty() ? m : m.substr(e.path().size() + 2));
}

subscribe_op decode_subscribe(const json& data, op_ref ref, const std::string& timezone) {
  subscribe_op op;
  op.ref = std::move(ref);
  op.room = need_room(data, name_kind::room_pattern);
  op.types = type_globs(data);
  if (auto it = data.find("epoch"); it != data.end() && !it->is_null()) {
    if (!it->is_string())
      throw parse_error("data.epoch", "expected a string, got " + json_type_name(*it));
    op.epoch = it->get<std::string>();
  }
  if (auto it = data.find("since"); it != data.end() && !it->is_null()) {
    try {
      op.since = parse_since(*it, timezone);
    } catch (const parse_error& e) {
      rethrow_under_data(e);
    }
  }
  return op;
}

history_op decode_history(const json& data, op_ref ref, const std::string& timezone) {
  history_op op;
  op.ref = std::move(ref);
  op.room = need_room(data, name_kind::room_pattern);
  op.types = type_globs(data);
  if (auto it = data.find("limit"); it != data.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1)
      throw parse_error("data.limit", "expected a positive integer (at most 1000)");
    op.limit = static_cast<std::size_t>(std::min<std::int64_t>(it->get<std::int64_t>(), 1000));
  }
  // Named `since` and `until` (not data.…) in errors, as HISTORY has always said.
  if (auto it = data.find("since"); it != data.end() && !it->is_null())
    op.since = parse_since(*it, timezone);
  if (auto it = data.find("until"); it != data.end() && !it->is_null())
    op.until_us = parse_until(*it, timezone);
  return op;
}

}  // namespace

op_ref ref_text(const json& ref) {
  if (ref.is_string() || ref.is_number()) return json_text(ref);
  return {};
}

hub_operation decode_op(const std::string& op, const std::string& name, const json& data,
                        op_ref ref, const std::string& timezone) {
  const bool needs_auth = op != "AUTHENTICATE" && op != "PING";
  // `ref` is copied, not moved, inside the try: a decoding error still answers with it.
  try {
    if (op == "AUTHENTICATE") {
      authenticate_op a;
      a.ref = ref;
      auto tok = data.find("token");
      if (tok != data.end() && tok->is_string())
        a.token = tok->get<std::string>();
      else if (tok != data.end() && (tok->is_object() || tok->is_number_integer()))
        a.token = tok->dump();  // {"user_id", "role"}, or a numeric user id
      if (auto p = data.find("presence"); p != data.end() && !p->is_null())
        a.presence = presence_option("data.presence", *p);
      return a;
    }
    if (op == "PING") return ping_op{ref};
    if (op == "SUBSCRIBE") return decode_subscribe(data, ref, timezone);
    if (op == "UNSUBSCRIBE") return unsubscribe_op{ref, need_room(data, name_kind::room_pattern)};
    if (op == "PUBLISH") {
      publish_op p;
      try {
        p.events = parse_publish(data);
      } catch (const parse_error& e) {
        // parse_publish names fields of the event object; here that object is `data`.
        rethrow_under_data(e);
      }
      p.ref = ref;
      return p;
    }
    if (op == "TYPING_START" || op == "TYPING_STOP")
      return typing_op{ref, need_room(data, name_kind::room), op == "TYPING_START"};
    if (op == "HISTORY") return decode_history(data, ref, timezone);
    if (op == "PRESENCE") return presence_op{ref, need_room(data, name_kind::room)};
  } catch (const parse_error& e) {
    return bad_op{std::move(ref), "bad_request", e.what(), needs_auth};
  }
  return bad_op{std::move(ref), "unknown_op",
                "unknown operation '" + name +
                    "'; expected one of authenticate, PING, SUBSCRIBE, UNSUBSCRIBE, PUBLISH, "
                    "TYPING_START, TYPING_STOP, HISTORY, PRESENCE",
                false};
}

since_point parse_since(const json& v, const std::string& timezone) {
  since_point p;
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
    p.seq = v.get<std::uint64_t>();
    return p;
  }
  if (!v.is_string())
    throw parse_error("since", "expected a seq number, an RFC 3339 time or \"beginning\", got " +
                                   json_type_name(v));
  const std::string s = v.get<std::string>();
  if (s == "beginning") {
    p.seq = 0;
    return p;
  }
  std::string digits = s.rfind("seq:", 0) == 0 ? s.substr(4) : s;
  if (!digits.empty() && std::all_of(digits.begin(), digits.end(), ::isdigit) &&
      digits.size() < 20) {
    p.seq = std::stoull(digits);
    return p;
  }
  try {
    p.time_us = rtev::time::parse_rfc3339(s, timezone).time_since_epoch().count();
  } catch (const std::exception& e) {
    throw parse_error("since",
                      "expected a seq number, an RFC 3339 time or \"beginning\", got '" + s + "'");
  }
  return p;
}

std::int64_t parse_until(const json& v, const std::string& timezone) {
  if (!v.is_string())
    throw parse_error("until", "expected an RFC 3339 time, got " + json_type_name(v));
  try {
    return rtev::time::parse_rfc3339(v.get<std::string>(), timezone).time_since_epoch().count();
  } catch (const std::exception&) {
    throw parse_error("until", "expected an RFC 3339 time, got '" + v.get<std::string>() + "'");
  }
}

std::vector<publish_request> parse_publish(const json& body) {
  if (!body.is_object())
    throw parse_error("", "expected an event object, got " + json_type_name(body));
  auto str = [&](const char* key, bool required) -> std::optional<std::string> {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) {
      if (required) throw parse_error(key, "required field is missing");
      return std::nullopt;
    }
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer() && (std::string(key) == "user_id")) return it->dump();
    throw parse_error(key, "expected a string, got " + json_type_name(*it));
  };
  publish_request base;
  base.type = *str("type", true);
  require_name("type", base.type, name_kind::type);
  if (auto it = body.find("data"); it != body.end()) base.data = json_text(*it);
  base.id = str("id", false);
  if (base.id && (base.id->empty() || base.id->size() > 128))
    throw parse_error("id", "expected 1 to 128 characters");

  int targets = 0;
  std::vector<publish_request> out;
  if (auto room = str("room", false)) {
    ++targets;
    require_name("room", *room, name_kind::room);
    base.room = *room;
  }
  if (auto user = str("user_id", false)) {
    ++targets;
    require_user_id("user_id", *user);
    base.room = "user:" + *user;
  }
  if (auto it = body.find("broadcast"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean())
      throw parse_error("broadcast", "expected a boolean, got " + json_type_name(*it));
    if (it->get<bool>()) {
      ++targets;
      base.broadcast = true;
    }
  }
  if (auto it = body.find("user_ids"); it != body.end() && !it->is_null()) {
    ++targets;
    if (!it->is_array() || it->empty())
      throw parse_error("user_ids", "expected a non-empty array of user ids");
    if (targets > 1) throw parse_error("", "give one target: room, user_id, user_ids or broadcast");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& u = (*it)[i];
      std::string uid;
      if (u.is_string())
        uid = u.get<std::string>();
      else if (u.is_number_integer())
        uid = u.dump();
      else
        throw parse_error("user_ids[" + std::to_string(i) + "]",
                          "expected a string or integer, got " + json_type_name(u));
      require_user_id("user_ids[" + std::to_string(i) + "]", uid);
      publish_request r = base;
      r.room = "user:" + uid;
      // One event per user, each with its own id: "<id>/<user>" keeps retries idempotent.
      if (base.id) r.id = *base.id + "/" + uid;
      out.push_back(std::move(r));
    }
    return out;
  }
  if (targets > 1) throw parse_error("", "give one target: room, user_id, user_ids or broadcast");
  // Forgetting the room must not reach everyone: a broadcast is asked for by name.
  if (targets == 0)
    throw parse_error("", "missing target: give room, user_id, user_ids or broadcast: true");
  out.push_back(std::move(base));
  return out;
}

bool presence_option(const std::string& path, const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_string()) {
    const std::string& v = value.get_ref<const std::string&>();
    if (v == "true" || v == "1" || v == "on" || v == "yes") return true;
    if (v == "false" || v == "0" || v == "off" || v == "no") return false;
    throw parse_error(path, "expected true or false, got '" + v + "'");
  }
  throw parse_error(path, "expected a boolean, got " + json_type_name(value));
}

}  // namespace rtev::server_lite
