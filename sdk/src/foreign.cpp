// read_foreign: lenient reading of envelopes from servers that are not rtev (SSE `data:`,
// Socket.IO event arguments). Nothing is dropped silently: every value supplied or changed is
// described in event::filled_in, and fields that cannot be used where they stand are kept in
// event::extra.
#include "rtev/event.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "rtev/json.hpp"
#include "rtev/time.hpp"
#include "wire/sse_parser.hpp"

namespace rtev {
namespace {

using json = nlohmann::json;

// The fields an rtev envelope gives a meaning to (besides `data`).
bool is_envelope_key(const std::string& k) {
  return k == "type" || k == "id" || k == "seq" || k == "room" || k == "timestamp" ||
         k == "timezone";
}

// A value quoted in a note, shortened so a huge payload does not flood `-v` output.
std::string shown(const json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string shown_text(std::string_view s) {
  std::string out = "'";
  out.append(s.substr(0, 60));
  if (s.size() > 60) out += "...";
  return out + "'";
}

// Numeric timestamps are common in foreign payloads (JavaScript's Date.now(), Unix time).
// Values above 1e11 cannot be seconds (that is the year 5138): they are read as milliseconds.
std::optional<timestamp> from_unix_number(const json& v, std::string& unit) {
  if (!v.is_number()) return std::nullopt;
  double x = v.get<double>();
  if (!std::isfinite(x) || x < 0) return std::nullopt;
  double us;
  if (x >= 1e11) {
    unit = "milliseconds";
    us = x * 1e3;
  } else {
    unit = "seconds";
    us = x * 1e6;
  }
  if (us >= 253402300800e6) return std::nullopt;  // past 9999-12-31: not a time
  return timestamp(std::chrono::microseconds(static_cast<std::int64_t>(us)));
}

void read_timestamp(const json* ts, event& e, timestamp received_us) {
  auto receive_time = [&](const std::string& why) {
    e.timestamp = time::format_rfc3339(received_us, e.timezone);
    e.filled_in.push_back("timestamp: " + why + "receive time");
  };
  if (!ts || ts->is_null()) return receive_time("");
  if (ts->is_string()) {
    const std::string& text = ts->get_ref<const std::string&>();
    try {
      time::parse_rfc3339(text, e.timezone);
      e.timestamp = text;
      return;
    } catch (const std::exception&) {
      return receive_time(shown_text(text) + " is not RFC 3339; ");
    }
  }
  std::string unit;
  if (auto t = from_unix_number(*ts, unit)) {
    e.timestamp = time::format_rfc3339(*t, e.timezone);
    e.filled_in.push_back("timestamp: from Unix time in " + unit + " " + ts->dump());
    return;
  }
  receive_time(json_type_name(*ts) + " " + shown(*ts) + " is not a time; ");
}

}  // namespace

event read_foreign(const json& value, std::string_view fallback_type,
                   std::chrono::system_clock::time_point received) {
  event e;
  e.data = json::object();
  const timestamp received_us = std::chrono::time_point_cast<std::chrono::microseconds>(received);

  const bool object = value.is_object();
  const json* type = nullptr;
  if (object)
    if (auto it = value.find("type"); it != value.end() && !it->is_null()) type = &*it;
  const bool has_data = object && value.contains("data");
  // An object with neither `type` nor `data` is a bare payload (`{"price": 3}`), not an
  // envelope: its `id` or `timestamp` belong to the application's data.
  const bool envelope = object && (type || has_data);

  auto find = [&](const char* key) -> const json* {
    if (!envelope) return nullptr;
    auto it = value.find(key);
    return it == value.end() ? nullptr : &*it;
  };

  // type
  std::string why_no_type;
  if (type && type->is_string() && !type->get_ref<const std::string&>().empty()) {
    e.type = type->get<std::string>();
  } else {
    if (type) why_no_type = json_type_name(*type) + " " + shown(*type) + " is not a type name; ";
    if (!fallback_type.empty()) {
      // An SSE event name or Socket.IO event name is bytes from the wire: kept valid UTF-8 so
      // the envelope can be written as JSON.
      e.type = detail::sanitize_utf8(fallback_type);
      e.filled_in.push_back("type: " + why_no_type + "from the event name " +
                            shown_text(fallback_type));
    } else {
      e.type = "message";
      e.filled_in.push_back("type: " + why_no_type + "none given, 'message' used");
    }
  }

  // timezone first: a naive timestamp is read in it, and the receive time is written in it.
  if (const json* tz = find("timezone"); tz && !tz->is_null()) {
    if (tz->is_string() && time::is_valid_zone(tz->get_ref<const std::string&>())) {
      e.timezone = tz->get<std::string>();
    } else {
      e.timezone = "UTC";
      e.filled_in.push_back("timezone: " +
                            (tz->is_string()
                                 ? "unknown zone " + shown_text(tz->get_ref<const std::string&>())
                                 : json_type_name(*tz) + " " + shown(*tz)) +
                            ", UTC used");
    }
  } else {
    e.timezone = "UTC";
    e.filled_in.push_back("timezone: UTC");
  }
  read_timestamp(find("timestamp"), e, received_us);
  // A supplied UTC next to a timestamp with its own offset: say so, the instant is unchanged.
  if (!e.filled_in.empty() && e.filled_in.back().rfind("timestamp:", 0) != 0) {
    const std::string& ts = e.timestamp;
    for (std::size_t i = 0; i < e.filled_in.size(); ++i)
      if (e.filled_in[i].rfind("timezone:", 0) == 0 && ts.size() >= 6 &&
          (ts[ts.size() - 6] == '+' || ts[ts.size() - 6] == '-') &&
          ts.compare(ts.size() - 6, 6, "+00:00") != 0 &&
          ts.compare(ts.size() - 6, 6, "-00:00") != 0)
        e.filled_in[i] += " (the timestamp keeps its own offset " + ts.substr(ts.size() - 6) + ")";
  }

  if (!envelope) {
    e.data = value;
    e.filled_in.push_back("data: the whole payload");
    return e;
  }

  // id, seq, room: kept when well-typed; otherwise left in extra under their own name (to_json
  // writes them back unchanged because the typed member stays unset).
  auto keep_in_extra = [&](const char* key, const json& v, const char* expected) {
    e.extra[key] = v;
    e.filled_in.push_back(std::string(key) + ": " + json_type_name(v) + " " + shown(v) +
                          " is not " + expected + ", kept as an extra field");
  };
  if (const json* id = find("id"); id && !id->is_null()) {
    if (id->is_string()) {
      e.id = id->get<std::string>();
    } else if (id->is_number_integer()) {
      e.id = id->dump();
      e.filled_in.push_back("id: number " + id->dump() + " as a string");
    } else {
      keep_in_extra("id", *id, "a string or an integer");
    }
  }
  if (const json* seq = find("seq"); seq && !seq->is_null()) {
    if (seq->is_number_unsigned())
      e.seq = seq->get<std::uint64_t>();
    else if (seq->is_number_integer() && seq->get<std::int64_t>() >= 0)
      e.seq = static_cast<std::uint64_t>(seq->get<std::int64_t>());
    else
      keep_in_extra("seq", *seq, "a non-negative integer");
  }
  if (const json* room = find("room"); room && !room->is_null()) {
    if (room->is_string())
      e.room = room->get<std::string>();
    else
      keep_in_extra("room", *room, "a string");
  }

  if (has_data) {
    e.data = value["data"];
    for (auto it = value.begin(); it != value.end(); ++it)
      if (!is_envelope_key(it.key()) && it.key() != "data") e.extra[it.key()] = it.value();
  } else {
    // {"type": "chat", "message": "hi"}: the payload is what is not envelope.
    for (auto it = value.begin(); it != value.end(); ++it)
      if (!is_envelope_key(it.key())) e.data[it.key()] = it.value();
    e.filled_in.push_back(e.data.empty() ? "data: none given, {} used"
                                         : "data: the fields besides the envelope's");
  }
  return e;
}

event read_foreign(std::string_view text, std::string_view fallback_type,
                   std::chrono::system_clock::time_point received) {
  json j = rtev::parse_json(text);
  if (j.is_discarded()) {
    // Invalid UTF-8 becomes U+FFFD: a JSON string must be valid UTF-8, or every dump() of the
    // event would throw.
    event e = read_foreign(json(detail::sanitize_utf8(text)), fallback_type, received);
    // The string is the payload as sent, not a JSON string: say so instead of "whole payload".
    for (auto& note : e.filled_in)
      if (note == "data: the whole payload") note = "data: not JSON, kept as a string";
    return e;
  }
  return read_foreign(j, fallback_type, received);
}

}  // namespace rtev
