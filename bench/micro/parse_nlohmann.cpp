// The nlohmann variants of the parse micro-benchmark (A, B, C) and the envelope by string
// appends that C, D and E share.

#include <cstring>
#include <iterator>
#include <string>
#include <string_view>

#include "parse_variants.hpp"
#include "rtev/json.hpp"

namespace parse_bench {

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

}  // namespace parse_bench
