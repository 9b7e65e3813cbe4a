#include "rtev/event.hpp"

#include <catch2/catch.hpp>

using Catch::Matchers::Contains;
using nlohmann::json;
using rtev::event;

namespace {
const char* full_envelope = R"({
  "type": "message_sent",
  "id": "evt_01",
  "seq": 42,
  "room": "user:42",
  "timestamp": "2024-01-15T10:30:45.123456-05:00",
  "timezone": "America/New_York",
  "data": {"message_id": 1, "message_text": "Hello!", "platform": "whatsapp"}
})";
}  // namespace

TEST_CASE("envelope_parses_every_field", "[sdk][event]") {
  event e = event::parse(full_envelope);
  CHECK(e.type == "message_sent");
  CHECK(e.id == std::optional<std::string>("evt_01"));
  CHECK(e.seq == std::optional<std::uint64_t>(42));
  CHECK(e.room == std::optional<std::string>("user:42"));
  CHECK(e.timestamp == "2024-01-15T10:30:45.123456-05:00");
  CHECK(e.timezone == "America/New_York");
  CHECK(e.data["message_text"] == "Hello!");
  CHECK(e.extra.empty());
}

TEST_CASE("envelope_round_trips_to_an_equal_json_value", "[sdk][event]") {
  SECTION("a full server envelope") {
    json in = json::parse(full_envelope);
    CHECK(event::from_json(in).to_json() == in);
  }
  SECTION("unknown top-level fields are preserved") {
    json in = json::parse(full_envelope);
    in["userId"] = 1;
    in["trace"] = {{"span", "abc"}, {"sampled", true}};
    event e = event::from_json(in);
    CHECK(e.extra["userId"] == 1);
    CHECK(e.to_json() == in);
    CHECK(event::parse(e.dump()) == e);
  }
  SECTION("a minimal client envelope omits server fields") {
    json in = {{"type", "content-created"},
               {"timestamp", "2024-01-15T15:30:45.123456Z"},
               {"timezone", "UTC"},
               {"data", {{"id", 5}}}};
    event e = event::from_json(in);
    CHECK_FALSE(e.id);
    CHECK_FALSE(e.seq);
    CHECK_FALSE(e.room);
    json out = e.to_json();
    CHECK(out == in);
    CHECK(out.find("seq") == out.end());
  }
  SECTION("data may be any JSON value") {
    for (json d : {json(nullptr), json("text"), json(3.5), json::array({1, 2})}) {
      json in = {
          {"type", "x"}, {"timestamp", "2024-01-15T10:30:45Z"}, {"timezone", "UTC"}, {"data", d}};
      CHECK(event::from_json(in).to_json() == in);
    }
  }
  SECTION("the largest seq survives") {
    json in = json::parse(full_envelope);
    in["seq"] = UINT64_MAX;
    CHECK(*event::from_json(in).seq == UINT64_MAX);
    CHECK(event::from_json(in).to_json() == in);
  }
}

TEST_CASE("parse_errors_name_the_field_and_what_was_expected", "[sdk][event]") {
  json base = json::parse(full_envelope);
  auto fails_with = [](const json& j, const std::string& message) {
    CHECK_THROWS_WITH(event::from_json(j), message);
  };
  SECTION("timestamp of the wrong JSON type") {
    base["timestamp"] = 1705332645;
    fails_with(base, "event.timestamp: expected an RFC 3339 string, got number");
  }
  SECTION("timestamp text that is not RFC 3339") {
    base["timestamp"] = "15/01/2024 10:30";
    CHECK_THROWS_WITH(event::from_json(base),
                      Contains("event.timestamp: ") && Contains("15/01/2024 10:30"));
  }
  SECTION("missing required fields") {
    for (const char* f : {"type", "timestamp", "timezone", "data"}) {
      json j = base;
      j.erase(f);
      fails_with(j, std::string("event.") + f + ": required field is missing");
    }
  }
  SECTION("type of the wrong JSON type or empty") {
    base["type"] = 7;
    fails_with(base, "event.type: expected a string, got number");
    base["type"] = "";
    fails_with(base, "event.type: expected a non-empty string");
  }
  SECTION("unknown time zone") {
    base["timezone"] = "Europe/Pari";
    CHECK_THROWS_WITH(
        event::from_json(base),
        Contains("event.timezone: unknown time zone 'Europe/Pari'") && Contains("Europe/Paris"));
  }
  SECTION("server fields of the wrong type") {
    json j = base;
    j["seq"] = -1;
    fails_with(j, "event.seq: expected a non-negative integer, got number");
    j = base;
    j["seq"] = "42";
    fails_with(j, "event.seq: expected a non-negative integer, got string");
    j = base;
    j["room"] = json::array();
    fails_with(j, "event.room: expected a string, got array");
    j = base;
    j["id"] = 17;
    fails_with(j, "event.id: expected a string, got number");
  }
  SECTION("not an object, or not JSON at all") {
    fails_with(json::array(), "event: expected an object, got array");
    CHECK_THROWS_WITH(event::parse("{\"type\":"),
                      Catch::StartsWith("event: expected a JSON object, got malformed JSON ("));
    CHECK_THROWS_WITH(event::parse("{\"type\":\"x\",\"data\":" + std::string(200, '[') + "}"),
                      "event: expected a JSON object, got malformed JSON (nested deeper than 128 "
                      "levels)");
    CHECK_THROWS_AS(event::parse("[]"), rtev::parse_error);
  }
  SECTION("the error carries the path separately") {
    base["timestamp"] = true;
    try {
      event::from_json(base);
      FAIL("no exception");
    } catch (const rtev::parse_error& e) {
      CHECK(e.path() == "event.timestamp");
    }
  }
}

TEST_CASE("type_names_are_case_sensitive", "[sdk][event]") {
  json in = json::parse(full_envelope);
  in["type"] = "MESSAGE_SENT";
  event upper = event::from_json(in);
  in["type"] = "message_sent";
  event lower = event::from_json(in);
  CHECK(upper.type == "MESSAGE_SENT");
  CHECK(upper != lower);
}

TEST_CASE("event_time_honours_offsets_and_the_envelope_zone", "[sdk][event]") {
  json in = json::parse(full_envelope);
  const auto expected = event::from_json(in).time();
  SECTION("the same instant written in UTC") {
    in["timestamp"] = "2024-01-15T15:30:45.123456Z";
    CHECK(event::from_json(in).time() == expected);
  }
  SECTION("a naive timestamp is read in the envelope's timezone") {
    in["timestamp"] = "2024-01-15T10:30:45.123456";
    event e = event::from_json(in);
    CHECK(e.time() == expected);
    CHECK(e.timestamp == "2024-01-15T10:30:45.123456");  // kept as written
    in["timezone"] = "UTC";
    CHECK(event::from_json(in).time() == expected - std::chrono::hours(5));
  }
}

TEST_CASE("make_stamps_the_current_time_in_the_zone", "[sdk][event]") {
  const auto before = rtev::time::now();
  event e = event::make("user_online", {{"user_id", 7}}, "Asia/Kolkata");
  const auto after = rtev::time::now();
  CHECK(e.timezone == "Asia/Kolkata");
  CHECK_THAT(e.timestamp, Catch::Matchers::EndsWith("+05:30"));
  CHECK(e.time() >= before);
  CHECK(e.time() <= after);
  CHECK(event::parse(e.dump()) == e);
  CHECK_THROWS_AS(event::make("x", {}, "Mars/Olympus"), rtev::unknown_zone_error);
}
