// server-lite/src/publish_frame.hpp: PUBLISH frames read with simdjson on demand must give what
// the DOM path (rtev::parse_json + decode_op) gives, or leave the frame to it. The frames are
// bench/micro/parse_publish.cpp's agreement check (its "P" operations spelled PUBLISH here),
// plus the event fields the benchmark does not read (id, broadcast, user_id, user_ids).
#include "publish_frame.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "op_decode.hpp"
#include "rtev/error.hpp"
#include "rtev/json.hpp"
#include "ws_protocol.hpp"

using rtev::server_lite::bad_op;
using rtev::server_lite::decode_publish_body;
using rtev::server_lite::decode_publish_frame;
using rtev::server_lite::decode_rtev_message;
using rtev::server_lite::decoded_message;
using rtev::server_lite::hub_operation;
using rtev::server_lite::json_read_padding;
using rtev::server_lite::parse_publish;
using rtev::server_lite::publish_op;
using rtev::server_lite::publish_request;
using json = nlohmann::json;

namespace {

// What the DOM path says: "ok" for a publish_op, a bad_op's code, "other" for another operation.
std::string verdict(const hub_operation& op) {
  if (const auto* b = std::get_if<bad_op>(&op)) return b->code;
  return std::holds_alternative<publish_op>(op) ? "ok" : "other";
}

std::string nest(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string publish_frame(std::size_t data_bytes) {
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

struct frame_case {
  const char* name;
  std::string text;
  const char* dom;  // the DOM path's verdict: ok, bad_json, bad_request, other
  bool fast;        // taken by decode_publish_frame (else left to the DOM path)
};

std::vector<frame_case> frame_cases() {
  return {
      {"publish 50 B", publish_frame(50), "ok", true},
      {"publish nested", nested_frame(), "ok", true},
      {"blanks everywhere",
       " {\n \"type\" : \"publish\" ,\"ref\" : \"a\\\"b\", \"data\" : { \"room\" : \"r\" , "
       "\"data\" :\t[ 1 , {\"k\" : \"v\"} ] \n, \"type\" : \"t\" } } \n",
       "ok", true},
      {"data.data a number", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":-12.5e3}})",
       "ok", true},
      {"data.data a string",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":"s\u00e9\"x"}})", "ok", true},
      {"data.data a literal", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":true}})",
       "ok", true},
      {"data.data null", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":null}})", "ok",
       true},
      {"data.data missing", R"({"type":"PUBLISH","data":{"type":"t","room":"r"}})", "ok", true},
      {"data.data last", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":{"a":[]}}})",
       "ok", true},
      {"duplicate top-level type",
       R"({"type":"X","type":"PUBLISH","data":{"type":"t","room":"r"}})", "ok", false},
      {"duplicate data (last wins)",
       R"({"type":"PUBLISH","data":{"type":"a","room":"r1","data":1},"data":{"type":"b","room":"r2"}})",
       "ok", true},
      {"duplicate ref (last wins)",
       R"({"ref":"a","type":"PUBLISH","ref":7,"data":{"type":"t","room":"r"}})", "ok", true},
      {"depth 128", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":)" + nest(126) + "}}",
       "ok", true},
      {"unknown fields, deep",
       R"({"x":)" + nest(127) + R"(,"type":"PUBLISH","data":{"type":"t","room":"r"}})", "ok", true},
      {"ref escaped", R"({"type":"PUBLISH","ref":"\u00e9\/","data":{"type":"t","room":"r"}})", "ok",
       true},
      {"ref an object (ignored)",
       R"({"type":"PUBLISH","ref":{"a":1},"data":{"type":"t","room":"r"}})", "ok", true},
      {"ref a decimal number", R"({"type":"PUBLISH","ref":1.50,"data":{"type":"t","room":"r"}})",
       "ok", false},
      {"ref -0", R"({"type":"PUBLISH","ref":-0,"data":{"type":"t","room":"r"}})", "ok", false},
      {"id and broadcast",
       R"({"type":"PUBLISH","data":{"type":"t","broadcast":true,"id":"e-1","room":null}})", "ok",
       true},
      {"broadcast false and a room",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","broadcast":false}})", "ok", true},
      {"user_id (left to the DOM)", R"({"type":"PUBLISH","data":{"type":"t","user_id":42}})", "ok",
       false},
      {"user_ids (left to the DOM)",
       R"({"type":"PUBLISH","data":{"type":"t","user_ids":["a","b"]}})", "ok", false},
      {"another operation", R"({"type":"PING","ref":1})", "other", false},
      {"subscribe with data first", R"({"data":{"room":"r"},"type":"subscribe"})", "other", false},
      // bad_json
      {"depth 129", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":)" + nest(127) + "}}",
       "bad_json", false},
      {"depth 129 in an unread field",
       R"({"x":)" + nest(128) + R"(,"type":"PUBLISH","data":{"type":"t","room":"r"}})", "bad_json",
       false},
      {"invalid UTF-8 in data.data",
       "{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xc3x\"}}",
       "bad_json", false},
      {"invalid UTF-8 in an unread field",
       "{\"z\":\"\xff\",\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\"}}", "bad_json",
       false},
      {"overlong UTF-8",
       "{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xc0\xaf\"}}",
       "bad_json", false},
      {"UTF-16 surrogate in UTF-8",
       "{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xed\xa0\x80\"}}",
       "bad_json", false},
      {"lone \\ud800 escape",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":"\ud800"}})", "bad_json", false},
      {"bad escape", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":"\q"}})", "bad_json",
       false},
      {"control char in string",
       "{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"a\x01\"}}",
       "bad_json", false},
      {"trailing garbage", R"({"type":"PUBLISH","data":{"type":"t","room":"r"}} x)", "bad_json",
       false},
      {"second document", R"({"type":"PUBLISH","data":{"type":"t","room":"r"}}{})", "bad_json",
       false},
      {"trailing comma", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":[1,2,]}})",
       "bad_json", false},
      {"missing comma in data.data",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":[1 2]}})", "bad_json", false},
      {"bad number in data.data",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":[01]}})", "bad_json", false},
      {"bad literal in data.data",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":{"a":tru}}})", "bad_json", false},
      {"bad literal in an unread field",
       R"({"q":nul,"type":"PUBLISH","data":{"type":"t","room":"r"}})", "bad_json", false},
      {"missing colon", R"({"type" "PUBLISH","data":{"type":"t","room":"r"}})", "bad_json", false},
      {"single quotes", R"({'type':'PUBLISH'})", "bad_json", false},
      {"unterminated", R"({"type":"PUBLISH","data":{"type":"t","room":"r")", "bad_json", false},
      {"bad and mistyped", R"({"type":5,"data":{"type":"t","room":"r"},)", "bad_json", false},
      {"empty", "", "bad_json", false},
      // bad_request
      {"not an object", R"([{"type":"PUBLISH"}])", "bad_request", false},
      {"a string", R"("PUBLISH")", "bad_request", false},
      {"type not a string", R"({"type":5,"data":{"type":"t","room":"r"}})", "bad_request", false},
      {"data not an object", R"({"type":"PUBLISH","data":[1]})", "bad_request", false},
      {"data null", R"({"type":"PUBLISH","data":null})", "bad_request", false},
      {"no event type", R"({"type":"PUBLISH","data":{"room":"r"}})", "bad_request", false},
      {"event type a number", R"({"type":"PUBLISH","data":{"type":1,"room":"r"}})", "bad_request",
       false},
      {"no room", R"({"type":"PUBLISH","data":{"type":"t"}})", "bad_request", false},
      {"room with escapes (not a valid name)",
       R"({"type":"PUBLISH","data":{"type":"t","room":"a\tb\u0001","data":1}})", "bad_request",
       false},
      {"room and broadcast",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","broadcast":true}})", "bad_request",
       false},
      {"id too long",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","id":")" + std::string(129, 'i') +
           R"("}})",
       "bad_request", false},
      {"id empty", R"({"type":"PUBLISH","data":{"type":"t","room":"r","id":""}})", "bad_request",
       false},
      {"broadcast not a boolean", R"({"type":"PUBLISH","data":{"type":"t","broadcast":"yes"}})",
       "bad_request", false},
  };
}

// decode_publish_frame's answer against the DOM path's.
void check_same(const publish_op& fast, const decoded_message& dom) {
  REQUIRE(verdict(dom.op) == "ok");
  const auto& d = std::get<publish_op>(dom.op);
  CHECK(fast.ref == dom.ref);
  CHECK(fast.ref == d.ref);
  REQUIRE(fast.events.size() == d.events.size());
  for (std::size_t i = 0; i < d.events.size(); ++i) {
    const auto& a = fast.events[i];
    const auto& b = d.events[i];
    CHECK(a.type == b.type);
    CHECK(a.room == b.room);
    CHECK(a.broadcast == b.broadcast);
    CHECK(a.id == b.id);
    // The same value; the bytes are the client's (see the test below).
    CHECK(json::parse(a.data) == json::parse(b.data));
  }
}

}  // namespace

TEST_CASE("publish_frames_read_by_simdjson_give_what_the_dom_path_gives",
          "[server][publish_frame]") {
  for (const auto& c : frame_cases()) {
    INFO(c.name << ": " << c.text);
    const decoded_message dom = decode_rtev_message(c.text, "UTC");
    CHECK(verdict(dom.op) == c.dom);
    const auto fast = decode_publish_frame(c.text);
    CHECK(fast.has_value() == c.fast);
    if (fast) check_same(*fast, dom);
  }
}

TEST_CASE("text_simdjson_refuses_but_nlohmann_accepts_is_left_to_the_dom_path",
          "[server][publish_frame]") {
  // simdjson 3.0 refuses these; the DOM path accepts them, and the server still does.
  const std::vector<std::string> frames = {
      "\xef\xbb\xbf{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\"}}",
      R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":18446744073709551616}})",
      std::string(R"({"type":"PUBLISH","data":{"type":"t","room":"r"}})") + '\0'};
  for (const auto& text : frames) {
    INFO(text);
    CHECK_FALSE(decode_publish_frame(text).has_value());
    CHECK(verdict(decode_rtev_message(text, "UTC").op) == "ok");
  }
  // A number past a double's range: whatever each says, simdjson never accepts what the DOM
  // path refuses.
  const std::string huge = R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":1e400}})";
  const auto dom = decode_rtev_message(huge, "UTC");
  if (auto fast = decode_publish_frame(huge)) check_same(*fast, dom);
}

TEST_CASE("a_published_events_data_is_the_clients_bytes_as_sent", "[server][publish_frame]") {
  const std::string text =
      "{\"type\":\"PUBLISH\",\"ref\":\"a1\",\"data\":{\"room\":\"r\",\"data\":{\"b\": 1, "
      "\"a\":[1.0, -12.5e3, \"\\u00e9\"]} ,\"type\":\"t\"}}";
  SECTION("the slice keeps key order, blanks, number spelling and escapes") {
    const auto op = decode_publish_frame(text);
    REQUIRE(op);
    CHECK(op->ref == "\"a1\"");
    REQUIRE(op->events.size() == 1);
    CHECK(op->events[0].data == "{\"b\": 1, \"a\":[1.0, -12.5e3, \"\\u00e9\"]}");
    CHECK(op->events[0].type == "t");
    CHECK(op->events[0].room == "r");
  }
  SECTION("a receive buffer with spare capacity is read in place") {
    std::string buffer;
    buffer.reserve(text.size() + json_read_padding);
    buffer = text;
    const auto op = decode_publish_frame(buffer, buffer.capacity());
    REQUIRE(op);
    CHECK(op->events.at(0).data == "{\"b\": 1, \"a\":[1.0, -12.5e3, \"\\u00e9\"]}");
  }
  SECTION("a missing data is an empty object, as before") {
    const auto op = decode_publish_frame(R"({"type":"publish","data":{"type":"t","room":"r"}})");
    REQUIRE(op);
    CHECK(op->events.at(0).data == "{}");
  }
}

namespace {

// parse_publish's events for each item of a body, as the DOM path makes them; empty when it
// refuses the body (not JSON, an empty list, a bad item).
std::vector<publish_request> dom_body(const std::string& text) {
  const json body = rtev::parse_json(text);
  if (body.is_discarded() || (body.is_array() && body.empty())) return {};
  std::vector<publish_request> out;
  try {
    for (const auto& item : body.is_array() ? body : json::array({body}))
      for (auto& r : parse_publish(item)) out.push_back(std::move(r));
  } catch (const rtev::parse_error&) {
    return {};
  }
  return out;
}

}  // namespace

TEST_CASE("http_publish_bodies_read_by_simdjson_give_what_parse_publish_gives",
          "[server][publish_frame]") {
  struct body_case {
    const char* name;
    std::string text;
    bool dom_ok, fast, many;
  };
  const std::vector<body_case> cases = {
      {"one event", R"({"type":"t","room":"r","data":{"b":1,"a":2},"id":"x"})", true, true, false},
      {"a list", R"([{"type":"t","room":"r","data":[1]}, {"type":"u","broadcast":true}])", true,
       true, true},
      {"a list, depth 128 in an item", R"([{"type":"t","room":"r","data":)" + nest(126) + "}]",
       true, true, true},
      {"one event, depth 128", R"({"type":"t","room":"r","data":)" + nest(127) + "}", true, true,
       false},
      {"one event, depth 129", R"({"type":"t","room":"r","data":)" + nest(128) + "}", false, false,
       false},
      {"a list with user_ids (left to the DOM)",
       R"([{"type":"t","room":"r"},{"type":"t","user_ids":["a","b"]}])", true, false, true},
      {"an empty list", "[]", false, false, true},
      {"a list with a bad item", R"([{"type":"t","room":"r"},{"type":"t"}])", false, false, true},
      {"a list with a non-object", R"([{"type":"t","room":"r"},1])", false, false, true},
      {"not JSON", R"({"type":"t","room":"r")", false, false, false},
      {"a string", R"("x")", false, false, false},
  };
  for (const auto& c : cases) {
    INFO(c.name << ": " << c.text);
    const auto dom = dom_body(c.text);
    CHECK(!dom.empty() == c.dom_ok);
    const auto fast = decode_publish_body(c.text);
    CHECK(fast.has_value() == c.fast);
    if (!fast) continue;
    CHECK(fast->many == c.many);
    REQUIRE(fast->events.size() == dom.size());
    for (std::size_t i = 0; i < dom.size(); ++i) {
      CHECK(fast->events[i].type == dom[i].type);
      CHECK(fast->events[i].room == dom[i].room);
      CHECK(fast->events[i].broadcast == dom[i].broadcast);
      CHECK(fast->events[i].id == dom[i].id);
      CHECK(json::parse(fast->events[i].data) == json::parse(dom[i].data));
    }
  }
  SECTION("an event's data is the body's bytes as sent") {
    const auto body = decode_publish_body(R"({"type":"t","room":"r","data":{"b": 1.0,"a":2}})");
    REQUIRE(body);
    CHECK(body->events.at(0).data == R"({"b": 1.0,"a":2})");
  }
}
