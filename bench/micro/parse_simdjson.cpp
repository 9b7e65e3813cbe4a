// The simdjson variants of the parse micro-benchmark (D, E); built only with simdjson.

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "parse_variants.hpp"
#include "rtev/json.hpp"

namespace parse_bench {

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
variant_fn simdjson_ondemand() {
  auto state = std::make_shared<ondemand_parser>();
  return [state](std::string_view t) { return (*state)(t); };
}

variant_fn simdjson_dom() {
  auto state = std::make_shared<dom_parser>();
  return [state](std::string_view t) { return (*state)(t); };
}

}  // namespace parse_bench
