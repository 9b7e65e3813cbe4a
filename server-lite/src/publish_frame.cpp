#include "publish_frame.hpp"

#include <cstring>
#include <exception>
#include <string>

#include <simdjson.h>

#include "names.hpp"
#include "reply_json.hpp"
#include "rtev/json.hpp"

namespace rtev::server_lite {

namespace od = simdjson::ondemand;

static_assert(json_read_padding >= simdjson::SIMDJSON_PADDING,
              "json_read_padding must cover what simdjson reads past a text's end");

namespace {

// On demand only checks what is read: a skipped value is only checked for balanced brackets.
// Every value is therefore read, to the last number and literal, so that a frame is accepted
// only when it is valid JSON, nested at most rtev::max_json_depth deep (as parse_json checks).
// `depth`: how many arrays and objects enclose `v`.
simdjson::error_code walk(od::value v, std::size_t depth) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::object: {
      if (depth + 1 > max_json_depth) return simdjson::DEPTH_ERROR;
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      for (auto f : o) {
        std::string_view k;
        od::value fv;
        if (auto e = f.unescaped_key().get(k)) return e;
        if (auto e = f.value().get(fv)) return e;
        if (auto e = walk(fv, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      if (depth + 1 > max_json_depth) return simdjson::DEPTH_ERROR;
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      for (auto el : a) {
        od::value ev;
        if (auto e = el.get(ev)) return e;
        if (auto e = walk(ev, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::number: {
      od::number n;
      return v.get_number().get(n);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

// simdjson 3.0's document has no at_end(): past the last token, current_location() says
// OUT_OF_BOUNDS.
bool at_end(od::document& doc) {
  const char* p = nullptr;
  return doc.current_location().get(p) == simdjson::OUT_OF_BOUNDS;
}

bool is_blank(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// A scalar's raw token runs up to the next structural character, blanks included.
std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// The operation's name, compared as decode_message does (ASCII upper case).
bool is_publish(std::string_view name) {
  static constexpr std::string_view publish = "PUBLISH";
  if (name.size() != publish.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != publish[i]) return false;
  }
  return true;
}

// -?[1-9][0-9]{0,17} or 0: an integer nlohmann writes back with the same bytes.
bool plain_integer(std::string_view s) {
  if (s == "0") return true;  // not -0, which nlohmann writes as 0
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  if (s.empty() || s.size() > 18 || s.front() == '0') return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// An event field as parse_publish sees it: missing (or null), a string, a boolean, or
// anything else (which it refuses, or which is left to the DOM path).
struct field {
  enum class kind { absent, string, boolean, other } k = kind::absent;
  std::string_view text;  // a string, unescaped (in the parser's buffer, valid for the frame)
  bool flag = false;      // a boolean
};

// `depth`: how many arrays and objects enclose `v` (as for walk).
simdjson::error_code read_field(od::value v, od::json_type t, std::size_t depth, field& f) {
  f = field{};
  switch (t) {
    case od::json_type::string:
      f.k = field::kind::string;
      return v.get_string().get(f.text);
    case od::json_type::boolean:
      f.k = field::kind::boolean;
      return v.get_bool().get(f.flag);
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
    default:
      f.k = field::kind::other;
      return walk(v, depth);
  }
}

// An event object's fields; a repeated key's last value wins, as in nlohmann's DOM.
struct event_fields {
  field type, room, id, user_id, user_ids, broadcast;
  std::string_view data;  // the raw slice of the event's data; empty: none given
};

// A frame's fields, the same way.
struct frame_fields {
  bool type_is_publish = false;
  op_ref ref;
  bool ref_left_to_dom = false;  // a number nlohmann would write differently (1.0, -0, 1e2)
  bool has_event = false;
  event_fields event;
};

simdjson::error_code read_ref(od::value v, od::json_type t, frame_fields& out) {
  out.ref.clear();
  out.ref_left_to_dom = false;
  if (t == od::json_type::string) {
    const std::string_view raw = trim_right(v.raw_json_token());
    std::string_view s;
    if (auto e = v.get_string().get(s)) return e;
    // Without escapes the raw text is what json_text writes; with them, json_text decides
    // (it writes é for \u00e9), as ref_text does.
    if (raw.find('\\') == std::string_view::npos)
      out.ref.assign(raw);
    else
      out.ref = json_text(json(std::string(s)));
    return simdjson::SUCCESS;
  }
  if (t == od::json_type::number) {
    const std::string_view raw = trim_right(v.raw_json_token());
    od::number n;
    if (auto e = v.get_number().get(n)) return e;
    if (plain_integer(raw))
      out.ref.assign(raw);
    else
      out.ref_left_to_dom = true;
    return simdjson::SUCCESS;
  }
  return walk(v, 1);  // any other ref is read, and ignored (ref_text)
}

// An event object `v` enclosed by `depth` arrays and objects (itself included).
simdjson::error_code read_event(od::document& doc, od::value v, std::size_t depth,
                                event_fields& out) {
  out = event_fields{};
  od::object event;
  if (auto e = v.get_object().get(event)) return e;
  for (auto f : event) {
    std::string_view k;
    od::value fv;
    od::json_type t;
    if (auto e = f.unescaped_key().get(k)) return e;
    if (auto e = f.value().get(fv)) return e;
    if (auto e = fv.type().get(t)) return e;
    simdjson::error_code e = simdjson::SUCCESS;
    if (k == "data") {
      // A container is walked to its end; the next token is then the `,` or `}` after it (on
      // demand does not move past a scalar until the next read, and a scalar's raw token is
      // the token and the blanks after it).
      const std::string_view token = fv.raw_json_token();
      const char* start = token.data();
      const char* end = start + token.size();
      const bool container = t == od::json_type::object || t == od::json_type::array;
      e = walk(fv, depth);
      if (!e && container) e = doc.current_location().get(end);
      if (e) return e;
      out.data = trim_right({start, static_cast<std::size_t>(end - start)});
    } else if (k == "type") {
      e = read_field(fv, t, depth, out.type);
    } else if (k == "room") {
      e = read_field(fv, t, depth, out.room);
    } else if (k == "id") {
      e = read_field(fv, t, depth, out.id);
    } else if (k == "user_id") {
      e = read_field(fv, t, depth, out.user_id);
    } else if (k == "user_ids") {
      e = read_field(fv, t, depth, out.user_ids);
    } else if (k == "broadcast") {
      e = read_field(fv, t, depth, out.broadcast);
    } else {
      e = walk(fv, depth);
    }
    if (e) return e;
  }
  return simdjson::SUCCESS;
}

// The frame's fields, or false when the text is not an object simdjson accepts.
bool read_frame(od::document& doc, frame_fields& out) {
  od::json_type root;
  if (doc.type().get(root) || root != od::json_type::object) return false;
  od::object top;
  if (doc.get_object().get(top)) return false;
  for (auto f : top) {
    std::string_view k;
    od::value v;
    od::json_type t;
    if (f.unescaped_key().get(k) || f.value().get(v) || v.type().get(t)) return false;
    simdjson::error_code e = simdjson::SUCCESS;
    if (k == "type") {
      // Another operation goes to the DOM path at once, without reading the rest.
      std::string_view name;
      if (t != od::json_type::string || v.get_string().get(name) || !is_publish(name)) return false;
      out.type_is_publish = true;
    } else if (k == "ref") {
      e = read_ref(v, t, out);
    } else if (k == "data") {
      if (t != od::json_type::object) return false;  // the DOM path refuses it
      out.has_event = true;
      e = read_event(doc, v, 2, out.event);
    } else {
      e = walk(v, 1);
    }
    if (e) return false;
  }
  return at_end(doc);
}

// The event as parse_publish would make it for a room or a broadcast; nullopt when it would
// refuse it, or for user_id / user_ids (left to the DOM path).
std::optional<publish_request> event_request(const event_fields& f) {
  using kind = field::kind;
  if (f.type.k != kind::string) return std::nullopt;
  if (f.user_id.k != kind::absent || f.user_ids.k != kind::absent) return std::nullopt;
  publish_request r;
  r.type.assign(f.type.text);
  try {
    require_name("type", r.type, name_kind::type);
    if (f.id.k == kind::string) {
      if (f.id.text.empty() || f.id.text.size() > 128) return std::nullopt;
      r.id = std::string(f.id.text);
    } else if (f.id.k != kind::absent) {
      return std::nullopt;
    }
    int targets = 0;
    if (f.room.k == kind::string) {
      ++targets;
      require_name("room", f.room.text, name_kind::room);
      r.room.assign(f.room.text);
    } else if (f.room.k != kind::absent) {
      return std::nullopt;
    }
    if (f.broadcast.k == kind::boolean) {
      if (f.broadcast.flag) {
        ++targets;
        r.broadcast = true;
      }
    } else if (f.broadcast.k != kind::absent) {
      return std::nullopt;
    }
    if (targets != 1) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;  // a bad name: the DOM path says which, with its message
  }
  if (!f.data.empty()) r.data.assign(f.data);
  return r;
}

// Starts reading `text` with this thread's parser (it keeps its buffers from one text to the
// next); false when simdjson refuses it at once. The document is valid until the next call.
bool start(std::string_view text, std::size_t readable, od::document& doc) {
  thread_local od::parser parser;
  thread_local std::string padded;
  const char* bytes = text.data();
  if (readable < text.size() + simdjson::SIMDJSON_PADDING) {
    if (padded.size() < text.size() + simdjson::SIMDJSON_PADDING)
      padded.resize(text.size() + simdjson::SIMDJSON_PADDING);
    if (!text.empty()) std::memcpy(padded.data(), text.data(), text.size());
    bytes = padded.data();
    readable = padded.size();
  }
  return !parser.iterate(bytes, text.size(), readable).get(doc);
}

}  // namespace

std::optional<publish_op> decode_publish_frame(std::string_view text, std::size_t readable) {
  od::document doc;
  if (!start(text, readable, doc)) return std::nullopt;
  frame_fields f;
  if (!read_frame(doc, f) || !f.type_is_publish || !f.has_event || f.ref_left_to_dom)
    return std::nullopt;
  auto r = event_request(f.event);
  if (!r) return std::nullopt;
  publish_op op;
  op.ref = std::move(f.ref);
  op.events.push_back(std::move(*r));
  return op;
}

std::optional<publish_body> decode_publish_body(std::string_view text, std::size_t readable) {
  od::document doc;
  od::json_type root;
  if (!start(text, readable, doc) || doc.type().get(root)) return std::nullopt;
  publish_body body;
  event_fields f;
  // An item the DOM path would refuse, or leave for it, ends the reading at once: the DOM
  // path answers for the whole body.
  auto take = [&](od::value v, std::size_t depth) {
    if (read_event(doc, v, depth, f)) return false;
    auto r = event_request(f);
    if (r) body.events.push_back(std::move(*r));
    return r.has_value();
  };
  if (root == od::json_type::object) {
    od::value v;
    if (doc.get_value().get(v) || !take(v, 1)) return std::nullopt;
  } else if (root == od::json_type::array) {
    body.many = true;
    od::array items;
    if (doc.get_array().get(items)) return std::nullopt;
    for (auto item : items) {
      od::value v;
      od::json_type t;
      if (item.get(v) || v.type().get(t) || t != od::json_type::object || !take(v, 2))
        return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (!at_end(doc) || body.events.empty()) return std::nullopt;
  return body;
}

}  // namespace rtev::server_lite
