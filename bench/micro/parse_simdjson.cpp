// The simdjson variants of the parse micro-benchmark: D, the server's own reader
// (server-lite/src/publish_frame.cpp, then the DOM path), and E, simdjson's DOM.

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <simdjson.h>

#include "hub_ops.hpp"
#include "parse_variants.hpp"
#include "publish_frame.hpp"
#include "rtev/json.hpp"
#include "ws_protocol.hpp"

namespace parse_bench {

// ---- D: the server's reader ----------------------------------------------------------------

namespace {

// A publish_op as the bench's fields, its data spliced into the envelope as C and E do.
parsed_frame from_publish(rtev::server_lite::publish_op op) {
  if (op.events.size() != 1) return refused(status::bad_request);  // user_ids: not in the bench
  parsed_frame out;
  auto& e = op.events.front();
  out.op = "PUBLISH";
  out.ref_text = std::move(op.ref);
  out.event_type = std::move(e.type);
  out.room = std::move(e.room);
  out.envelope = splice_envelope(out.event_type, e.data, out.room);
  return out;
}

}  // namespace

// D is the server's reader as handle_rtev_message runs it (ws_protocol.cpp): the PUBLISH fast
// path, and for whatever it leaves to the DOM path — refusals included — the DOM path. It copies
// the frame into its own padded buffer (the server reads its receive buffer in place when it
// has json_read_padding spare bytes); that copy is in the timings, as E's.
parsed_frame server_reader(std::string_view text) {
  namespace sl = rtev::server_lite;
  if (auto publish = sl::decode_publish_frame(text)) return from_publish(std::move(*publish));
  sl::decoded_message m = sl::decode_rtev_message(text, "UTC");
  if (auto* p = std::get_if<sl::publish_op>(&m.op)) return from_publish(std::move(*p));
  if (auto* bad = std::get_if<sl::bad_op>(&m.op))
    return refused(bad->code == "bad_json" ? status::bad_json : status::bad_request);
  return refused(status::bad_request);  // another operation: the bench's frames are PUBLISH
}

// ---- E: simdjson DOM -----------------------------------------------------------------------

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

variant_fn simdjson_dom() {
  auto state = std::make_shared<dom_parser>();
  return [state](std::string_view t) { return (*state)(t); };
}

}  // namespace parse_bench
