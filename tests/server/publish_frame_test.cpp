// server-lite/src/publish_frame.hpp: PUBLISH frames read with simdjson on demand must give what
// the DOM path (rtev::parse_json + decode_op) gives, or leave the frame to it. The frames are
// publish_agreement_frames.hpp's, which bench/micro/parse_publish.cpp checks its variants on.
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
#include "tests/server/publish_agreement_frames.hpp"
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
using rtev::test::agreement_frames;
using rtev::test::nest;
using rtev::test::noted_frames;
using json = nlohmann::json;

namespace {

// What the DOM path says: "ok" for a publish_op, a bad_op's code, "other" for another operation.
std::string verdict(const hub_operation& op) {
  if (const auto* b = std::get_if<bad_op>(&op)) return b->code;
  return std::holds_alternative<publish_op>(op) ? "ok" : "other";
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
  for (const auto& c : agreement_frames()) {
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
  for (const auto& c : noted_frames()) {
    INFO(c.name);
    const auto dom = decode_rtev_message(c.text, "UTC");
    const auto fast = decode_publish_frame(c.text);
    if (c.simdjson_refuses) {
      // simdjson 3.0 refuses it; the DOM path accepts it, and the server still does.
      CHECK_FALSE(fast.has_value());
      CHECK(verdict(dom.op) == "ok");
    } else if (fast) {
      // Whatever each says, simdjson never accepts what the DOM path refuses.
      check_same(*fast, dom);
    }
  }
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
