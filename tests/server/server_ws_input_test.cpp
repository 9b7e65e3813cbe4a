// What enters the hub over the rtev WebSocket, and is refused: JSON nested past the limit
// (bad_json), event types and room names outside the name rule (bad_request naming the field),
// with the connection and the server serving on (docs/protocol.md §4.2 "Names", §4.5).
// Runs the real server in-process.
#include <catch2/catch.hpp>

#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace rtev::test;

namespace {

bool answers_ping(rtev_client& c) {
  return c.request("PING", json::object()).at("type") == "PONG";
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// `depth` nested arrays: [[[…]]].
std::string nested(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

TEST_CASE("a_message_nested_100k_levels_deep_is_bad_json_and_everyone_carries_on",
          "[server][ws][errors][json]") {
  auto cfg = test_config();
  cfg.max_message_bytes = 1 << 20;  // let the 200 KB message reach the parser
  local_server srv(cfg);
  auto c = rtev_client::connect_as(srv.port(), "alice");
  auto bystander = rtev_client::connect_as(srv.port(), "bob");
  bystander.subscribe("lobby");

  const std::string deep =
      R"({"type":"PUBLISH","ref":"deep","data":{"room":"lobby","type":"t","data":)" +
      nested(100000) + "}}";
  REQUIRE(c.ws().send_text(deep));
  const json err = c.next_of_type("ERROR");
  CHECK(err.at("data").at("code") == "bad_json");
  CHECK(err.at("data").at("message").get<std::string>().find("nested deeper than 128 levels") !=
        std::string::npos);
  CHECK(answers_ping(c));

  // 128 levels in all is accepted.
  const json ack =
      c.ack("PUBLISH", {{"room", "lobby"}, {"type", "t"}, {"data", json::parse(nested(125))}});
  CHECK(ack.at("seq").is_number_unsigned());
  CHECK(bystander.next_event_in("lobby").at("type") == "t");
  CHECK(answers_ping(bystander));
}

TEST_CASE("event_types_and_room_names_outside_the_name_rule_are_bad_request",
          "[server][ws][errors][names]") {
  local_server srv;
  auto c = rtev_client::connect_as(srv.port(), R"({"user_id":"alice","role":"admin"})");
  const auto refused = [&](const std::string& op, const json& data) {
    const json e = c.error(op, data);
    CHECK(e.at("code") == "bad_request");
    return e.at("message").get<std::string>();
  };

  SECTION("a type with a line feed, carriage return or NUL is refused, naming the character") {
    std::string m =
        refused("PUBLISH", {{"room", "lobby"}, {"type", "x\nid: 999999"}, {"data", {}}});
    CHECK(starts_with(m,
                      "data.type: contains a control character (U+000A); allowed: 1 to 128 of "
                      "A-Z a-z 0-9 _ : . @ -"));
    m = refused("PUBLISH", {{"room", "lobby"}, {"type", "x\ry"}, {"data", {}}});
    CHECK(starts_with(m, "data.type: contains a control character (U+000D)"));
    m = refused("PUBLISH", {{"room", "lobby"}, {"type", std::string("x\0y", 3)}, {"data", {}}});
    CHECK(starts_with(m, "data.type: contains a control character (U+0000)"));
  }
  SECTION("a type that is empty, too long, spaced, quoted, non-ASCII or a glob is refused") {
    CHECK(starts_with(refused("PUBLISH", {{"type", ""}, {"data", {}}}), "data.type: is empty"));
    CHECK(starts_with(refused("PUBLISH", {{"type", std::string(129, 'a')}, {"data", {}}}),
                      "data.type: is 129 characters long"));
    CHECK(starts_with(refused("PUBLISH", {{"type", "a b"}, {"data", {}}}),
                      "data.type: contains a space (U+0020)"));
    CHECK(starts_with(refused("PUBLISH", {{"type", "a\"b"}, {"data", {}}}),
                      "data.type: contains '\"' (U+0022)"));
    CHECK(starts_with(refused("PUBLISH", {{"type", "caf\xc3\xa9"}, {"data", {}}}),
                      "data.type: contains a non-ASCII byte (0xC3)"));
    CHECK(starts_with(refused("PUBLISH", {{"type", "msg_*"}, {"data", {}}}),
                      "data.type: contains '*'"));
  }
  SECTION("a room with a control character is refused by every operation that takes one") {
    const std::string bad = "lobby\nx";
    for (const char* op :
         {"SUBSCRIBE", "UNSUBSCRIBE", "HISTORY", "PRESENCE", "TYPING_START", "TYPING_STOP"}) {
      INFO(op);
      CHECK(starts_with(refused(op, {{"room", bad}}),
                        "data.room: contains a control character (U+000A)"));
    }
    CHECK(starts_with(refused("PUBLISH", {{"room", bad}, {"type", "t"}, {"data", {}}}),
                      "data.room: contains a control character (U+000A)"));
    CHECK(starts_with(refused("PUBLISH", {{"user_id", "bob\r"}, {"type", "t"}, {"data", {}}}),
                      "data.user_id: contains a control character (U+000D)"));
    CHECK(starts_with(
        refused("PUBLISH", {{"user_ids", {"bob", "eve\n"}}, {"type", "t"}, {"data", {}}}),
        "data.user_ids[1]: contains a control character (U+000A)"));
    CHECK(starts_with(
        refused("PUBLISH", {{"room", std::string(129, 'r')}, {"type", "t"}, {"data", {}}}),
        "data.room: is 129 characters long"));
  }
  SECTION("type filters are checked too, by position") {
    CHECK(starts_with(refused("SUBSCRIBE", {{"room", "lobby"}, {"types", {"ok", "bad\n"}}}),
                      "data.types[1]: contains a control character (U+000A)"));
    CHECK(starts_with(refused("HISTORY", {{"room", "lobby"}, {"types", "a b"}}),
                      "data.types[0]: contains a space"));
  }
  SECTION("legitimate names still work: catalog types, user and role rooms, globs") {
    CHECK(c.subscribe("contact:*", {{"types", {"message_*", "user_online"}}}).at("room") ==
          "contact:*");
    CHECK(c.subscribe("role:admin").at("room") == "role:admin");
    CHECK(c.ack("PUBLISH", {{"room", "contact:7"}, {"type", "message_sent"}, {"data", {}}})
              .at("seq")
              .is_number_unsigned());
    CHECK(c.next_event_in("contact:7").at("type") == "message_sent");
    CHECK(c.ack("PUBLISH", {{"user_id", "alice"}, {"type", "a.b:c-d@e_1"}, {"data", {}}})
              .at("seq")
              .is_number_unsigned());
    CHECK(c.ack("HISTORY", {{"room", "contact:7"}, {"types", {"message_*"}}}).at("count") == 1);
  }
  CHECK(answers_ping(c));
}

TEST_CASE("http_publish_and_history_refuse_bad_types_and_rooms_with_400", "[server][http][names]") {
  local_server srv;
  const auto post = [&](const json& body) {
    return http_post_json(srv.port(), "/api/events", body.dump());
  };
  auto r = post({{"room", "lobby"}, {"type", "x\nevent: forged"}, {"data", {}}});
  CHECK(r.status == 400);
  CHECK(r.json().at("error").at("code") == "bad_request");
  CHECK(starts_with(r.json().at("error").at("message").get<std::string>(),
                    "type: contains a control character (U+000A)"));
  r = post(
      json::array({{{"room", "lobby"}, {"type", "ok"}}, {{"room", "lob by"}, {"type", "ok"}}}));
  CHECK(r.status == 400);
  CHECK(starts_with(r.json().at("error").at("message").get<std::string>(),
                    "[1].room: contains a space"));

  r = http_get(srv.port(), "/api/history?room=lobby&types=ok,bad%01line");
  CHECK(r.status == 400);
  CHECK(starts_with(r.json().at("error").at("message").get<std::string>(),
                    "types[1]: contains a control character (U+0001)"));
  r = http_get(srv.port(), "/api/history?room=lob%09by");
  CHECK(r.status == 400);
  CHECK(starts_with(r.json().at("error").at("message").get<std::string>(),
                    "room: contains a control character (U+0009)"));
  // Nothing was stored by the refused publishes.
  CHECK(http_get(srv.port(), "/api/history?room=lobby").json().at("events").empty());
}

TEST_CASE("metrics_and_stats_count_the_first_1000_types_by_name_and_the_rest_as_other",
          "[server][http][names][metrics]") {
  auto cfg = test_config();
  cfg.max_message_bytes = 1 << 20;
  local_server srv(cfg);
  json batch = json::array();
  for (int i = 0; i < 1005; ++i)
    batch.push_back({{"room", "lobby"}, {"type", "t" + std::to_string(i)}, {"data", {}}});
  batch.push_back({{"room", "lobby"}, {"type", "t0"}, {"data", {}}});  // a counted type again
  REQUIRE(http_post_json(srv.port(), "/api/events", batch.dump()).status == 202);

  const json by_type = http_get(srv.port(), "/api/stats").json().at("by_type");
  CHECK(by_type.size() == 1001);
  CHECK(by_type.at("t0") == 2);
  CHECK(by_type.at("t999") == 1);
  CHECK_FALSE(by_type.contains("t1000"));
  CHECK(by_type.at("_other") == 5);

  const std::string metrics = http_get(srv.port(), "/metrics").body;
  std::size_t lines = 0;
  for (std::size_t at = 0;
       (at = metrics.find("rtev_events_published_by_type_total{", at)) != std::string::npos; ++at)
    ++lines;
  CHECK(lines == 1001);
  CHECK(metrics.find("rtev_events_published_by_type_total{type=\"_other\"} 5\n") !=
        std::string::npos);
}
