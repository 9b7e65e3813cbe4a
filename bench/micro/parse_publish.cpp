// Micro-benchmark for issue 12, "parse client frames without per-field copies": what one
// PUBLISH frame costs from its text to the stored envelope's text, with
//   A. today's path: rtev::parse_json to a DOM, the field reads and the copies the server makes
//      (handle_operation copies `data`, parse_publish copies `data.data`, the envelope copies
//      it again), then nlohmann dump();
//   B. the same DOM without the copies (moves), to show how much of A the copies are;
//   C. nlohmann SAX: type/ref/room/event type extracted, the byte range of `data.data` recorded
//      and spliced raw into an envelope built by string appends;
//   D. simdjson on demand (when built with simdjson): every value walked (full validation, depth
//      128), the same fields, `data.data` spliced raw;
//   E. simdjson DOM (when built with simdjson): full validation by the parser, `data.data`
//      re-serialised with simdjson::minify.
// First it checks that all variants agree on a set of good and bad frames (and exits non-zero
// if they do not), then it times them interleaved, several runs, and prints medians and ratios.
//
// Usage: rtev_parse_bench [--runs N] [--ms MILLISECONDS_PER_SAMPLE] [--check-only]

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rtev/json.hpp"

#ifdef RTEV_HAVE_SIMDJSON
#include <simdjson.h>
#endif

namespace {

using json = nlohmann::json;

enum class status { ok, bad_json, bad_request };

const char* status_name(status s) {
  switch (s) {
    case status::ok:
      return "ok";
    case status::bad_json:
      return "bad_json";
    case status::bad_request:
      return "bad_request";
  }
  return "?";
}

// What every variant produces from a frame: what the server needs to go on (the operation,
// the ref for the reply, the event's type and room) and the envelope as stored and sent.
struct parsed_frame {
  status result = status::ok;
  std::string op;
  json ref;  // a string or a number, else null
  std::string event_type, room;
  std::string envelope;
};

parsed_frame refused(status why) {
  parsed_frame p;
  p.result = why;
  return p;
}

// What the hub adds to each event: the same constants for every variant.
constexpr std::string_view event_id = "evt_01JEKZ3W6Q8Y2M4N5P7R9T0V1X";
constexpr std::uint64_t event_seq = 1234567;
constexpr std::string_view stamp = "2026-12-06T19:21:32.123456+01:00";
constexpr std::string_view zone = "Europe/Paris";

std::string upper(std::string s) {
  for (auto& ch : s)
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  return s;
}

// ---- A and B: nlohmann DOM ----------------------------------------------------------------

// As ws_protocol.cpp's handle_ws_message/handle_operation and room_hub_publish.cpp's
// parse_publish/publish do today, field reads and copies included.
parsed_frame dom_today(std::string_view text) {
  parsed_frame out;
  std::string why;
  json msg = rtev::parse_json(text, &why);
  if (msg.is_discarded()) return refused(status::bad_json);
  if (!msg.is_object()) return refused(status::bad_request);
  if (auto it = msg.find("ref"); it != msg.end() && (it->is_string() || it->is_number()))
    out.ref = *it;
  auto type_it = msg.find("type");
  if (type_it == msg.end() || !type_it->is_string()) return refused(status::bad_request);
  out.op = upper(type_it->get<std::string>());
  json data = json::object();
  if (auto it = msg.find("data"); it != msg.end() && !it->is_null()) data = *it;  // copy 1
  if (!data.is_object()) return refused(status::bad_request);
  auto t = data.find("type");
  if (t == data.end() || !t->is_string()) return refused(status::bad_request);
  out.event_type = t->get<std::string>();
  json event_data = json::object();
  if (auto it = data.find("data"); it != data.end()) event_data = *it;  // copy 2
  auto r = data.find("room");
  if (r == data.end() || !r->is_string()) return refused(status::bad_request);
  out.room = r->get<std::string>();
  json env = {{"type", out.event_type}, {"id", event_id},   {"seq", event_seq},
              {"timestamp", stamp},     {"timezone", zone}, {"data", event_data}};  // copy 3
  env["room"] = out.room;
  out.envelope = env.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

// The same DOM, moving instead of copying.
parsed_frame dom_moves(std::string_view text) {
  parsed_frame out;
  std::string why;
  json msg = rtev::parse_json(text, &why);
  if (msg.is_discarded()) return refused(status::bad_json);
  if (!msg.is_object()) return refused(status::bad_request);
  if (auto it = msg.find("ref"); it != msg.end() && (it->is_string() || it->is_number()))
    out.ref = std::move(*it);
  auto type_it = msg.find("type");
  if (type_it == msg.end() || !type_it->is_string()) return refused(status::bad_request);
  out.op = upper(std::move(type_it->get_ref<std::string&>()));
  json data = json::object();
  if (auto it = msg.find("data"); it != msg.end() && !it->is_null()) data = std::move(*it);
  if (!data.is_object()) return refused(status::bad_request);
  auto t = data.find("type");
  if (t == data.end() || !t->is_string()) return refused(status::bad_request);
  out.event_type = std::move(t->get_ref<std::string&>());
  json event_data = json::object();
  if (auto it = data.find("data"); it != data.end()) event_data = std::move(*it);
  auto r = data.find("room");
  if (r == data.end() || !r->is_string()) return refused(status::bad_request);
  out.room = std::move(r->get_ref<std::string&>());
  json env = {{"type", out.event_type}, {"id", event_id},   {"seq", event_seq},
              {"timestamp", stamp},     {"timezone", zone}, {"data", std::move(event_data)}};
  env["room"] = out.room;
  out.envelope = env.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

// ---- the envelope by string appends, the event's data spliced as the client sent it --------

void append_quoted(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the current stretch of bytes that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b != '"' && b != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    out += '\\';
    switch (b) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '\n':
        out += 'n';
        break;
      case '\r':
        out += 'r';
        break;
      case '\t':
        out += 't';
        break;
      case '\b':
        out += 'b';
        break;
      case '\f':
        out += 'f';
        break;
      default:
        out += "u00";
        out += hex[b >> 4];
        out += hex[b & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

// The input is valid UTF-8 (every variant validates it), so only quotes, backslashes and
// control characters need escaping.
std::string splice_envelope(std::string_view type, std::string_view raw_data,
                            std::string_view room) {
  std::string out;
  out.reserve(raw_data.size() + type.size() + room.size() + 160);
  out += "{\"type\":";
  append_quoted(out, type);
  out += ",\"id\":";
  append_quoted(out, event_id);
  out += ",\"seq\":";
  out += std::to_string(event_seq);
  out += ",\"timestamp\":";
  append_quoted(out, stamp);
  out += ",\"timezone\":";
  append_quoted(out, zone);
  out += ",\"data\":";
  out += raw_data;
  out += ",\"room\":";
  append_quoted(out, room);
  out += '}';
  return out;
}

// ---- C: nlohmann SAX -----------------------------------------------------------------------

// nlohmann's SAX interface does not say where a value starts or ends. Its lexer reads the
// input one character at a time through the iterator, so an iterator that moves a shared
// cursor tells the handler how far the lexer has read: right after `{`, `}`, `[`, `]`, a
// string's closing quote or a literal when their callback runs, one character past a number
// (the lexer reads the next character to know the number ended).
struct tracked_iterator {
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  const char** cursor = nullptr;  // the begin iterator: the shared cursor
  const char* end = nullptr;      // the end iterator: a fixed position
  const char* position() const { return cursor ? *cursor : end; }
  reference operator*() const { return **cursor; }
  tracked_iterator& operator++() {
    ++*cursor;
    return *this;
  }
  friend bool operator==(const tracked_iterator& a, const tracked_iterator& b) {
    return a.position() == b.position();
  }
  friend bool operator!=(const tracked_iterator& a, const tracked_iterator& b) { return !(a == b); }
};

class publish_sax {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  explicit publish_sax(const char* begin) : cursor(begin) {}
  const char* cursor;  // advanced by tracked_iterator

  bool null() { return scalar(kind::null); }
  bool boolean(bool) { return scalar(kind::other); }
  bool binary(binary_t&) { return scalar(kind::other); }
  bool number_integer(number_integer_t v) { return number(json(v)); }
  bool number_unsigned(number_unsigned_t v) { return number(json(v)); }
  bool number_float(number_float_t v, const string_t&) { return number(json(v)); }
  bool string(string_t& v) {
    if (depth_ == 0) root_object_ = false;
    const slot s = value(kind::string);
    if (s == slot::top_type) type_ = std::move(v);
    if (s == slot::top_ref) ref_ = std::move(v);
    if (s == slot::data_type) event_type_ = std::move(v);
    if (s == slot::data_room) room_ = std::move(v);
    if (s == slot::event_data)
      raw_ = {value_start_, static_cast<std::size_t>(cursor - value_start_)};
    return true;
  }
  bool start_object(std::size_t) { return open(kind::object); }
  bool start_array(std::size_t) { return open(kind::other); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(string_t& k) {
    slot_ = slot::none;
    if (depth_ == 1) {
      if (k == "type")
        slot_ = slot::top_type;
      else if (k == "ref")
        slot_ = slot::top_ref;
      else if (k == "data")
        slot_ = slot::top_data;
    } else if (depth_ == 2 && data_open_) {
      if (k == "type")
        slot_ = slot::data_type;
      else if (k == "room")
        slot_ = slot::data_room;
      else if (k == "data") {
        slot_ = slot::event_data;
        // The value starts after the key's closing quote, blanks, the colon and blanks.
        const char* p = cursor;
        while (*p != ':') ++p;
        ++p;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') ++p;
        value_start_ = p;
      }
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

  // A field of the wrong kind is bad_request, but only once the whole frame has parsed: a
  // broken frame is bad_json whatever its fields.
  parsed_frame finish(bool parsed) {
    if (!parsed) return refused(status::bad_json);
    if (!root_object_ || !type_ok_ || !data_ok_ || !event_type_ok_ || !room_ok_)
      return refused(status::bad_request);
    parsed_frame out;
    out.op = upper(std::move(type_));
    out.ref = std::move(ref_);
    out.envelope = splice_envelope(event_type_, raw_.data() ? raw_ : std::string_view("{}"), room_);
    out.event_type = std::move(event_type_);
    out.room = std::move(room_);
    return out;
  }

 private:
  enum class slot { none, top_type, top_ref, top_data, data_type, data_room, event_data };
  enum class kind { string, number, object, null, other };

  // The field the value just started belongs to, with its kind noted: a repeated key's last
  // value wins, as in nlohmann's DOM.
  slot value(kind k) {
    const slot s = std::exchange(slot_, slot::none);
    switch (s) {
      case slot::top_type:
        type_ok_ = k == kind::string;
        break;
      case slot::top_ref:
        if (k != kind::string && k != kind::number) ref_ = nullptr;
        break;
      case slot::top_data:
        // A later "data" replaces an earlier one; null data is {} (and has no type).
        data_ok_ = k == kind::object;
        data_open_ = k == kind::object;
        event_type_ok_ = room_ok_ = false;
        raw_ = {};
        break;
      case slot::data_type:
        event_type_ok_ = k == kind::string;
        break;
      case slot::data_room:
        room_ok_ = k == kind::string;
        break;
      default:
        break;
    }
    return s;
  }
  bool scalar(kind k) {
    if (depth_ == 0) root_object_ = false;
    if (value(k) == slot::event_data)
      raw_ = {value_start_, static_cast<std::size_t>(cursor - value_start_)};
    return true;
  }
  bool number(json v) {
    if (depth_ == 0) root_object_ = false;
    const slot s = value(kind::number);
    if (s == slot::top_ref) ref_ = std::move(v);
    if (s == slot::event_data) {
      // The lexer has read one character past the number (or stopped at the end).
      const char* e = cursor;
      while (e > value_start_ && !std::strchr("0123456789+-.eE", e[-1])) --e;
      raw_ = {value_start_, static_cast<std::size_t>(e - value_start_)};
    }
    return true;
  }
  bool open(kind k) {
    if (++depth_ > rtev::max_json_depth) return false;  // refused like parse_json does
    if (depth_ == 1) {
      root_object_ = k == kind::object;
      return true;
    }
    if (value(k) == slot::event_data) capture_depth_ = depth_;
    return true;
  }
  bool close() {
    if (depth_ == capture_depth_) {
      raw_ = {value_start_, static_cast<std::size_t>(cursor - value_start_)};
      capture_depth_ = 0;
    }
    if (depth_ == 2) data_open_ = false;
    --depth_;
    return true;
  }

  std::size_t depth_ = 0, capture_depth_ = 0;
  slot slot_ = slot::none;
  bool root_object_ = true, data_open_ = false;
  bool type_ok_ = false, data_ok_ = false, event_type_ok_ = false, room_ok_ = false;
  std::string type_, event_type_, room_;
  json ref_;
  const char* value_start_ = nullptr;
  std::string_view raw_;
};

parsed_frame nlohmann_sax(std::string_view text) {
  publish_sax h(text.data());
  tracked_iterator first{&h.cursor, nullptr}, last{nullptr, text.data() + text.size()};
  const bool parsed = json::sax_parse(first, last, &h, json::input_format_t::json, true);
  return h.finish(parsed);
}

#ifdef RTEV_HAVE_SIMDJSON
// ---- D and E: simdjson ---------------------------------------------------------------------

namespace od = simdjson::ondemand;

// simdjson reads up to SIMDJSON_PADDING bytes past the end of the text: the server would keep
// that much spare capacity in its receive buffer; here the frame is copied into one (that copy
// is in the timings).
struct padded_buffer {
  std::string bytes;
  std::string_view hold(std::string_view text) {
    if (bytes.size() < text.size() + simdjson::SIMDJSON_PADDING)
      bytes.resize(text.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(bytes.data(), text.data(), text.size());
    return {bytes.data(), text.size()};
  }
};

// On demand parsing only checks what is read: a value that is skipped is only checked for
// balanced brackets. Every value is therefore read, to the last number and literal.
simdjson::error_code walk(od::value v, std::size_t depth) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::object: {
      if (depth + 1 > rtev::max_json_depth) return simdjson::DEPTH_ERROR;
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      for (auto f : o) {
        std::string_view k;
        if (auto e = f.unescaped_key().get(k)) return e;
        od::value fv;
        if (auto e = f.value().get(fv)) return e;
        if (auto e = walk(fv, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      if (depth + 1 > rtev::max_json_depth) return simdjson::DEPTH_ERROR;
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

json ref_value(od::value v, simdjson::error_code& err) {
  od::json_type t;
  if ((err = v.type().get(t))) return nullptr;
  if (t == od::json_type::string) {
    std::string_view s;
    if ((err = v.get_string().get(s))) return nullptr;
    return std::string(s);
  }
  if (t == od::json_type::number) {
    od::number n;
    if ((err = v.get_number().get(n))) return nullptr;
    if (n.is_int64()) return n.get_int64();
    if (n.is_uint64()) return n.get_uint64();
    return n.get_double();
  }
  err = walk(v, 1);
  return nullptr;
}

struct ondemand_parser {
  od::parser parser;
  padded_buffer buf;

  parsed_frame operator()(std::string_view frame) {
    const std::string_view text = buf.hold(frame);
    od::document doc;
    if (parser.iterate(text.data(), text.size(), buf.bytes.size()).get(doc))
      return refused(status::bad_json);
    od::json_type root_type;
    if (doc.type().get(root_type)) return refused(status::bad_json);
    if (root_type != od::json_type::object) {
      // Still read to the end: a broken frame is bad_json, a whole non-object bad_request.
      simdjson::error_code e = simdjson::SUCCESS;
      if (root_type == od::json_type::array) {
        od::value v;
        e = doc.get_value().get(v);
        if (!e) e = walk(v, 0);
      } else {
        // A scalar document: read it as its type.
        std::string_view s;
        od::number n;
        bool b;
        switch (root_type) {
          case od::json_type::string:
            e = doc.get_string().get(s);
            break;
          case od::json_type::number:
            e = doc.get_number().get(n);
            break;
          case od::json_type::boolean:
            e = doc.get_bool().get(b);
            break;
          default:
            e = doc.is_null().get(b);
            if (!e && !b) e = simdjson::N_ATOM_ERROR;
        }
      }
      if (e || !at_end(doc)) return refused(status::bad_json);
      return refused(status::bad_request);
    }
    // A repeated key's last value wins, as in nlohmann's DOM; a field of the wrong kind is
    // bad_request only once the whole frame has been read.
    parsed_frame out;
    bool type_ok = false, data_ok = false, event_type_ok = false, room_ok = false;
    std::string_view raw;
    od::object top;
    if (doc.get_object().get(top)) return refused(status::bad_json);
    for (auto f : top) {
      std::string_view k;
      od::value v;
      od::json_type t;
      if (f.unescaped_key().get(k) || f.value().get(v) || v.type().get(t))
        return refused(status::bad_json);
      simdjson::error_code e = simdjson::SUCCESS;
      if (k == "type") {
        type_ok = t == od::json_type::string;
        if (type_ok) {
          std::string_view s;
          e = v.get_string().get(s);
          out.op = upper(std::string(s));
        } else {
          e = walk(v, 1);
        }
      } else if (k == "ref") {
        out.ref = ref_value(v, e);
      } else if (k == "data") {
        data_ok = t == od::json_type::object;  // null data is {}, which has no type
        event_type_ok = room_ok = false;
        raw = {};
        if (!data_ok) {
          e = walk(v, 1);
        } else {
          od::object data;
          if (v.get_object().get(data)) return refused(status::bad_json);
          for (auto df : data) {
            std::string_view dk;
            od::value dv;
            od::json_type dt;
            if (df.unescaped_key().get(dk) || df.value().get(dv) || dv.type().get(dt))
              return refused(status::bad_json);
            if (dk == "type" || dk == "room") {
              bool& ok = dk == "type" ? event_type_ok : room_ok;
              ok = dt == od::json_type::string;
              if (ok) {
                std::string_view s;
                e = dv.get_string().get(s);
                (dk == "type" ? out.event_type : out.room) = std::string(s);
              } else {
                e = walk(dv, 2);
              }
            } else if (dk == "data") {
              // A container is walked to its end: the next token is the `,` or `}` that follows
              // it (on demand does not move past a scalar until the next read).
              const std::string_view token = dv.raw_json_token();
              const char* start = token.data();
              const char* end = start + token.size();  // a scalar: its token and blanks
              const bool container = dt == od::json_type::object || dt == od::json_type::array;
              e = walk(dv, 2);
              if (!e && container) e = doc.current_location().get(end);
              while (!e && end > start &&
                     (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
                --end;
              raw = {start, static_cast<std::size_t>(end - start)};
            } else {
              e = walk(dv, 2);
            }
            if (e) return refused(status::bad_json);
          }
        }
      } else {
        e = walk(v, 1);
      }
      if (e) return refused(status::bad_json);
    }
    if (!at_end(doc)) return refused(status::bad_json);
    if (!type_ok || !data_ok || !event_type_ok || !room_ok) return refused(status::bad_request);
    out.envelope = splice_envelope(out.event_type, raw.data() ? raw : "{}", out.room);
    return out;
  }
};

struct dom_parser {
  simdjson::dom::parser parser;
  padded_buffer buf;
  dom_parser() {
    // simdjson's max_depth counts nested arrays/objects as parse_json does.
    if (parser.allocate(64 * 1024, rtev::max_json_depth)) std::abort();
  }

  parsed_frame operator()(std::string_view frame) {
    const std::string_view text = buf.hold(frame);
    simdjson::dom::element root;
    if (parser.parse(text.data(), text.size(), false).get(root)) return refused(status::bad_json);
    simdjson::dom::object top;
    if (root.get_object().get(top)) return refused(status::bad_request);
    parsed_frame out;
    bool has_type = false, has_event_type = false, has_room = false;
    simdjson::dom::element data_el, event_data;
    bool has_data = false, has_event_data = false;
    for (auto [k, v] : top) {  // every field, so that a later duplicate wins, as in the DOM
      if (k == "type") {
        has_type = v.is_string();
        if (has_type) out.op = upper(std::string(v.get_string().value_unsafe()));
      } else if (k == "ref") {
        if (v.is_string())
          out.ref = std::string(v.get_string().value_unsafe());
        else if (v.is_int64())
          out.ref = v.get_int64().value_unsafe();
        else if (v.is_uint64())
          out.ref = v.get_uint64().value_unsafe();
        else if (v.is_double())
          out.ref = v.get_double().value_unsafe();
        else
          out.ref = nullptr;
      } else if (k == "data") {
        data_el = v;
        has_data = true;
      }
    }
    if (!has_type || !has_data) return refused(status::bad_request);
    simdjson::dom::object data;
    if (data_el.get_object().get(data)) return refused(status::bad_request);
    for (auto [k, v] : data) {
      if (k == "type" || k == "room") {
        bool& ok = k == "type" ? has_event_type : has_room;
        ok = v.is_string();
        if (ok)
          (k == "type" ? out.event_type : out.room) = std::string(v.get_string().value_unsafe());
      } else if (k == "data") {
        event_data = v;
        has_event_data = true;
      }
    }
    if (!has_event_type || !has_room) return refused(status::bad_request);
    out.envelope = splice_envelope(
        out.event_type, has_event_data ? simdjson::minify(event_data) : std::string("{}"),
        out.room);
    return out;
  }
};
#endif

// ---- the frames ----------------------------------------------------------------------------

std::string publish_frame(std::size_t data_bytes) {
  // {"bench_t":…,"pad":"…"} is 39 bytes without the pad.
  const std::size_t pad = data_bytes > 39 ? data_bytes - 39 : 1;
  return R"({"type":"PUBLISH","ref":"r1","data":{"type":"bench","room":"room-0","data":{"bench_t":1733500000000000,"pad":")" +
         std::string(pad, 'x') + R"("}}})";
}

std::string nested_frame() {
  std::string items;
  for (int i = 0; i < 6; ++i)
    items += std::string(i ? "," : "") + R"({"sku":"A-)" + std::to_string(i) + R"(","qty":)" +
             std::to_string(i + 1) + R"(,"price":)" + std::to_string(i) +
             R"(.99,"tags":["new","sale"]})";
  return R"({"type":"PUBLISH","ref":42,"data":{"type":"order.updated","room":"orders:eu","data":)"
         R"({"order":{"id":"o-1029","user":{"id":7,"name":"Zo\u00eb Ünal","roles":["buyer","beta"]},)"
         R"("items":[)" +
         items +
         R"(],"total":{"amount":1234.5,"currency":"EUR"},"flags":{"gift":true,"paid":false,)"
         R"("note":null},"text":"line one\nline \"two\" \u2713"}}}})";
}

std::string nest(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

struct check_case {
  const char* name;
  std::string text;
};

std::vector<check_case> check_cases() {
  std::vector<check_case> c = {
      {"publish 50 B", publish_frame(50)},
      {"publish nested", nested_frame()},
      {"blanks everywhere",
       " {\n \"type\" : \"publish\" ,\"ref\" : \"a\\\"b\", \"data\" : { \"room\" : \"r\" , "
       "\"data\" :\t[ 1 , {\"k\" : \"v\"} ] \n, \"type\" : \"t\" } } \n"},
      {"data.data a number", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":-12.5e3}})"},
      {"data.data a string",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":"s\u00e9\"x"}})"},
      {"data.data a literal", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":true}})"},
      {"data.data missing", R"({"type":"PUBLISH","data":{"type":"t","room":"r"}})"},
      {"data.data last", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":{"a":[]}}})"},
      {"room with escapes",
       R"({"type":"PUBLISH","data":{"type":"t","room":"a\tb\u0001","data":1}})"},
      {"duplicate top-level type",
       R"({"type":"X","type":"PUBLISH","data":{"type":"t","room":"r"}})"},
      {"duplicate data (last wins)",
       R"({"type":"P","data":{"type":"a","room":"r1","data":1},"data":{"type":"b","room":"r2"}})"},
      {"duplicate key inside data.data",
       R"({"type":"P","data":{"type":"t","room":"r","data":{"k":1,"k":2}}})"},
      {"depth 128", R"({"type":"P","data":{"type":"t","room":"r","data":)" + nest(126) + "}}"},
      {"unknown fields, deep",
       R"({"x":)" + nest(127) + R"(,"type":"P","data":{"type":"t","room":"r"}})"},
      // bad_json
      {"depth 129", R"({"type":"P","data":{"type":"t","room":"r","data":)" + nest(127) + "}}"},
      {"depth 129 in an unread field",
       R"({"x":)" + nest(128) + R"(,"type":"P","data":{"type":"t","room":"r"}})"},
      {"invalid UTF-8 in data.data",
       "{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xc3x\"}}"},
      {"invalid UTF-8 in an unread field",
       "{\"z\":\"\xff\",\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\"}}"},
      {"overlong UTF-8",
       "{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xc0\xaf\"}}"},
      {"UTF-16 surrogate in UTF-8",
       "{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xed\xa0\x80\"}}"},
      {"lone \\ud800 escape", R"({"type":"P","data":{"type":"t","room":"r","data":"\ud800"}})"},
      {"bad escape", R"({"type":"P","data":{"type":"t","room":"r","data":"\q"}})"},
      {"control char in string",
       "{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"a\x01\"}}"},
      {"trailing garbage", R"({"type":"P","data":{"type":"t","room":"r"}} x)"},
      {"second document", R"({"type":"P","data":{"type":"t","room":"r"}}{})"},
      {"trailing comma", R"({"type":"P","data":{"type":"t","room":"r","data":[1,2,]}})"},
      {"missing comma in data.data", R"({"type":"P","data":{"type":"t","room":"r","data":[1 2]}})"},
      {"bad number in data.data", R"({"type":"P","data":{"type":"t","room":"r","data":[01]}})"},
      {"bad literal in data.data",
       R"({"type":"P","data":{"type":"t","room":"r","data":{"a":tru}}})"},
      {"bad literal in an unread field", R"({"q":nul,"type":"P","data":{"type":"t","room":"r"}})"},
      {"missing colon", R"({"type" "P","data":{"type":"t","room":"r"}})"},
      {"single quotes", R"({'type':'P'})"},
      {"unterminated", R"({"type":"P","data":{"type":"t","room":"r")"},
      {"bad and mistyped", R"({"type":5,"data":{"type":"t","room":"r"},)"},
      {"empty", ""},
      // bad_request
      {"not an object", R"([{"type":"P"}])"},
      {"a string", R"("PUBLISH")"},
      {"type not a string", R"({"type":5,"data":{"type":"t","room":"r"}})"},
      {"data not an object", R"({"type":"P","data":[1]})"},
      {"data null", R"({"type":"P","data":null})"},
      {"no event type", R"({"type":"P","data":{"room":"r"}})"},
      {"event type a number", R"({"type":"P","data":{"type":1,"room":"r"}})"},
      {"no room", R"({"type":"P","data":{"type":"t"}})"},
  };
  return c;
}

// Noted, not asserted: where the parsers may differ on text no client should send.
std::vector<check_case> noted_cases() {
  return {
      {"UTF-8 BOM before the frame",
       "\xef\xbb\xbf{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\"}}"},
      {"number out of double range", R"({"type":"P","data":{"type":"t","room":"r","data":1e400}})"},
      {"integer past 2^64",
       R"({"type":"P","data":{"type":"t","room":"r","data":18446744073709551616}})"},
      {"NUL byte after the frame",
       std::string(R"({"type":"P","data":{"type":"t","room":"r"}})") + '\0'},
  };
}

using variant_fn = std::function<parsed_frame(std::string_view)>;
struct variant {
  const char* name;
  variant_fn parse;
};

std::string describe(const parsed_frame& p) {
  if (p.result != status::ok) return status_name(p.result);
  return "ok op=" + p.op + " ref=" + p.ref.dump() + " type=" + p.event_type + " room=" + p.room +
         " env=" + p.envelope;
}

// All variants must give the same verdict and, for a good frame, the same fields and an
// envelope that parses to the same JSON value as today's.
bool agree(const std::vector<variant>& vs, const check_case& c, bool verbose) {
  const parsed_frame base = vs[0].parse(c.text);
  bool same = true;
  for (std::size_t i = 1; i < vs.size(); ++i) {
    const parsed_frame p = vs[i].parse(c.text);
    bool ok = p.result == base.result;
    if (ok && p.result == status::ok) {
      ok = p.op == base.op && p.ref == base.ref && p.event_type == base.event_type &&
           p.room == base.room;
      const json a = json::parse(base.envelope, nullptr, false);
      const json b = json::parse(p.envelope, nullptr, false);
      ok = ok && !a.is_discarded() && a == b;
    }
    if (!ok || verbose) {
      std::printf("  %-34s %-22s %s\n", c.name, vs[i].name, describe(p).c_str());
      if (!ok) std::printf("  %-34s %-22s %s\n", "", vs[0].name, describe(base).c_str());
    }
    same = same && ok;
  }
  return same;
}

// ---- timing --------------------------------------------------------------------------------

volatile std::size_t sink;

double ns_per_frame(const variant& v, const std::string& frame, double ms) {
  using clock = std::chrono::steady_clock;
  // Calibrate a batch of about 1 ms, then run whole batches for `ms`.
  std::size_t batch = 1;
  for (;;) {
    const auto t0 = clock::now();
    for (std::size_t i = 0; i < batch; ++i) sink = sink + v.parse(frame).envelope.size();
    if (clock::now() - t0 > std::chrono::microseconds(1000) || batch > (1u << 24)) break;
    batch *= 2;
  }
  std::size_t n = 0;
  const auto t0 = clock::now();
  const auto stop = t0 + std::chrono::duration<double, std::milli>(ms);
  auto t = t0;
  while (t < stop) {
    for (std::size_t i = 0; i < batch; ++i) sink = sink + v.parse(frame).envelope.size();
    n += batch;
    t = clock::now();
  }
  return std::chrono::duration<double, std::nano>(t - t0).count() / static_cast<double>(n);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 9;
  double ms = 40;
  bool check_only = false, verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--ms" && i + 1 < argc)
      ms = std::max(1.0, std::atof(argv[++i]));
    else if (a == "--check-only")
      check_only = true;
    else if (a == "--verbose")
      verbose = true;
    else {
      std::fprintf(stderr, "usage: %s [--runs N] [--ms MS_PER_SAMPLE] [--check-only] [--verbose]\n",
                   argv[0]);
      return 2;
    }
  }

  std::vector<variant> vs = {{"A nlohmann DOM (today)", dom_today},
                             {"B nlohmann DOM, moves", dom_moves},
                             {"C nlohmann SAX+splice", nlohmann_sax}};
#ifdef RTEV_HAVE_SIMDJSON
  auto od_state = std::make_shared<ondemand_parser>();
  auto dom_state = std::make_shared<dom_parser>();
  vs.push_back(
      {"D simdjson ondemand+splice", [od_state](std::string_view t) { return (*od_state)(t); }});
  vs.push_back(
      {"E simdjson DOM+minify", [dom_state](std::string_view t) { return (*dom_state)(t); }});
  std::printf("simdjson %d.%d.%d, implementation: %s\n", simdjson::SIMDJSON_VERSION_MAJOR,
              simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION,
              simdjson::get_active_implementation()->name().c_str());
#else
  std::printf("built without simdjson: variants D and E are left out\n");
#endif

  // ---- correctness ----
  bool all_agree = true;
  std::size_t n_ok = 0, n_bad_json = 0, n_bad_request = 0;
  for (const auto& c : check_cases()) {
    all_agree = agree(vs, c, verbose) && all_agree;
    switch (vs[0].parse(c.text).result) {
      case status::ok:
        ++n_ok;
        break;
      case status::bad_json:
        ++n_bad_json;
        break;
      case status::bad_request:
        ++n_bad_request;
        break;
    }
  }
  std::printf("check: %zu frames (%zu ok, %zu bad_json, %zu bad_request): %s\n",
              check_cases().size(), n_ok, n_bad_json, n_bad_request,
              all_agree ? "all variants agree" : "VARIANTS DISAGREE");
  std::printf("noted (not asserted):\n");
  for (const auto& c : noted_cases()) {
    std::printf("  %s:", c.name);
    for (const auto& v : vs) std::printf(" %c=%s", v.name[0], status_name(v.parse(c.text).result));
    std::printf("\n");
  }
  if (!all_agree) return 1;
  if (check_only) return 0;

  // ---- timing: every run times each variant once per frame, in a rotating order ----
  struct frame_kind {
    const char* name;
    std::string text;
  };
  const std::vector<frame_kind> frames = {{"publish, data 50 B", publish_frame(50)},
                                          {"publish, data 200 B", publish_frame(200)},
                                          {"publish, data 2 KB", publish_frame(2048)},
                                          {"publish, nested data", nested_frame()}};
  std::printf(
      "\n%d runs of %.0f ms per variant and frame, interleaved; median ns/frame, "
      "frames/s, and the median of each run's ratio to A\n",
      runs, ms);
  for (const auto& f : frames) {
    std::vector<std::vector<double>> ns(vs.size());
    for (int r = 0; r < runs; ++r)
      for (std::size_t k = 0; k < vs.size(); ++k) {
        const std::size_t i = (k + static_cast<std::size_t>(r)) % vs.size();
        ns[i].push_back(ns_per_frame(vs[i], f.text, ms));
      }
    std::printf("\n%s (frame %zu bytes)\n", f.name, f.text.size());
    std::printf("  %-28s %10s %12s %10s %16s\n", "variant", "ns/frame", "frames/s", "A / this",
                "spread (min-max)");
    for (std::size_t i = 0; i < vs.size(); ++i) {
      std::vector<double> ratio;
      for (int r = 0; r < runs; ++r) ratio.push_back(ns[0][r] / ns[i][r]);
      const double m = median(ns[i]);
      std::printf("  %-28s %10.0f %12.0f %9.2fx %7.0f-%-7.0f\n", vs[i].name, m, 1e9 / m,
                  median(ratio), *std::min_element(ns[i].begin(), ns[i].end()),
                  *std::max_element(ns[i].begin(), ns[i].end()));
    }
  }
  return 0;
}
