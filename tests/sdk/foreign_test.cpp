// read_foreign (sdk/src/foreign.cpp): lenient reading of envelopes from other servers.
#include "rtev/event.hpp"

#include <algorithm>
#include <chrono>

#include <catch2/catch.hpp>

#include "rtev/time.hpp"

using nlohmann::json;
using rtev::event;
using rtev::read_foreign;

namespace {

// 2024-01-15T10:30:45.5Z
const auto received = std::chrono::system_clock::time_point(
    std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::milliseconds(1705314645500)));
const std::string received_text = "2024-01-15T10:30:45.500000+00:00";

bool noted(const event& e, const std::string& prefix) {
  return std::any_of(e.filled_in.begin(), e.filled_in.end(),
                     [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

std::string note(const event& e, const std::string& prefix) {
  for (const auto& n : e.filled_in)
    if (n.rfind(prefix, 0) == 0) return n;
  return {};
}

}  // namespace

TEST_CASE("foreign_envelope_from_the_issue_keeps_type_data_and_extra_fields", "[sdk][foreign]") {
  event e = read_foreign(
      R"({"userId":1,"type":"notification","data":{"title":"Hi","body":"there"}})", "", received);
  CHECK(e.type == "notification");
  CHECK(e.data == json{{"title", "Hi"}, {"body", "there"}});
  CHECK(e.extra == json{{"userId", 1}});
  CHECK(e.timestamp == received_text);
  CHECK(e.timezone == "UTC");
  CHECK(note(e, "timestamp:") == "timestamp: receive time");
  CHECK(note(e, "timezone:") == "timezone: UTC");
  CHECK_FALSE(noted(e, "type:"));
  CHECK_FALSE(noted(e, "data:"));
  CHECK_FALSE(e.id);
  CHECK_FALSE(e.seq);
  // The result is a valid rtev envelope.
  CHECK(event::from_json(e.to_json()).to_json() == e.to_json());
}

TEST_CASE("foreign_rtev_envelope_is_read_unchanged", "[sdk][foreign]") {
  json in = {{"type", "message_sent"},
             {"id", "evt_1"},
             {"seq", 42},
             {"room", "lobby"},
             {"timestamp", "2024-01-15T10:30:45.123456-05:00"},
             {"timezone", "America/New_York"},
             {"data", {{"message_text", "hi"}}}};
  event e = read_foreign(in.dump(), "ignored", received);
  CHECK(e.filled_in.empty());
  CHECK(e.to_json() == in);
  CHECK(e == event::from_json(in));
}

TEST_CASE("foreign_type_falls_back_to_the_event_name", "[sdk][foreign]") {
  SECTION("a payload without type takes the event name") {
    event e = read_foreign(R"({"data":{"x":1}})", "price_update", received);
    CHECK(e.type == "price_update");
    CHECK(e.data == json{{"x", 1}});
    CHECK(note(e, "type:") == "type: from the event name 'price_update'");
  }
  SECTION("without an event name the type is 'message'") {
    event e = read_foreign(R"({"data":1})", "", received);
    CHECK(e.type == "message");
    CHECK(note(e, "type:") == "type: none given, 'message' used");
  }
  SECTION("a type that is not a non-empty string is replaced and the value named") {
    event e = read_foreign(R"({"type":5,"data":{}})", "tick", received);
    CHECK(e.type == "tick");
    CHECK(note(e, "type:") == "type: number 5 is not a type name; from the event name 'tick'");
    event empty = read_foreign(R"({"type":"","data":{}})", "", received);
    CHECK(empty.type == "message");
    CHECK(noted(empty, "type: string \"\" is not a type name"));
  }
  SECTION("the JSON type wins over the event name") {
    event e = read_foreign(R"({"type":"a","data":{}})", "b", received);
    CHECK(e.type == "a");
    CHECK_FALSE(noted(e, "type:"));
  }
}

TEST_CASE("foreign_data_is_found_whatever_the_shape", "[sdk][foreign]") {
  SECTION("a typed object without data: its other fields are the data") {
    event e = read_foreign(R"({"type":"chat","message":"hi","user":"ann","id":"7"})", "", received);
    CHECK(e.type == "chat");
    CHECK(e.data == json{{"message", "hi"}, {"user", "ann"}});
    CHECK(e.id == std::optional<std::string>("7"));
    CHECK(e.extra.empty());
    CHECK(note(e, "data:") == "data: the fields besides the envelope's");
  }
  SECTION("a typed object with nothing else has empty data") {
    event e = read_foreign(R"({"type":"ping"})", "", received);
    CHECK(e.data == json::object());
    CHECK(note(e, "data:") == "data: none given, {} used");
  }
  SECTION("an object without type or data is the data, whole") {
    event e = read_foreign(R"({"price":3,"id":9,"timestamp":"x"})", "tick", received);
    CHECK(e.type == "tick");
    CHECK(e.data == json{{"price", 3}, {"id", 9}, {"timestamp", "x"}});
    CHECK_FALSE(e.id);  // the application's own id, not an envelope id
    CHECK(e.timestamp == received_text);
    CHECK(note(e, "data:") == "data: the whole payload");
  }
  SECTION("JSON that is not an object is the data") {
    CHECK(read_foreign("[1,2]", "", received).data == json{1, 2});
    CHECK(read_foreign("42", "", received).data == 42);
    CHECK(read_foreign("\"quoted\"", "", received).data == "quoted");
    CHECK(read_foreign("null", "", received).data.is_null());
  }
  SECTION("text that is not JSON is kept as a string") {
    event e = read_foreign("hello world", "", received);
    CHECK(e.type == "message");
    CHECK(e.data == "hello world");
    CHECK(note(e, "data:") == "data: not JSON, kept as a string");
    CHECK(read_foreign("", "", received).data == "");
    CHECK(read_foreign("{\"broken\":", "", received).data == "{\"broken\":");
  }
  SECTION("data may be any JSON value, null included") {
    event e = read_foreign(R"({"type":"t","data":null})", "", received);
    CHECK(e.data.is_null());
    CHECK_FALSE(noted(e, "data:"));
  }
}

TEST_CASE("foreign_timestamps_and_zones_are_kept_or_filled_in", "[sdk][foreign]") {
  SECTION("a valid timestamp and zone are kept") {
    event e = read_foreign(
        R"({"type":"t","data":{},"timestamp":"2024-01-15T16:00:00+05:30","timezone":"Asia/Kolkata"})",
        "", received);
    CHECK(e.timestamp == "2024-01-15T16:00:00+05:30");
    CHECK(e.timezone == "Asia/Kolkata");
    CHECK(e.filled_in.empty());
  }
  SECTION("a missing timestamp is the receive time written in the payload's zone") {
    event e = read_foreign(R"({"type":"t","data":{},"timezone":"Asia/Kolkata"})", "", received);
    CHECK(e.timestamp == "2024-01-15T16:00:45.500000+05:30");
    CHECK(e.time() == rtev::time::parse_rfc3339(received_text));
  }
  SECTION("a timestamp that is not RFC 3339 is replaced and quoted in the note") {
    event e = read_foreign(R"({"type":"t","data":{},"timestamp":"yesterday"})", "", received);
    CHECK(e.timestamp == received_text);
    CHECK(note(e, "timestamp:") == "timestamp: 'yesterday' is not RFC 3339; receive time");
  }
  SECTION("Unix time in milliseconds and in seconds is converted") {
    event ms = read_foreign(R"({"type":"t","data":{},"timestamp":1705314645123})", "", received);
    CHECK(ms.timestamp == "2024-01-15T10:30:45.123000+00:00");
    CHECK(note(ms, "timestamp:") == "timestamp: from Unix time in milliseconds 1705314645123");
    event s = read_foreign(R"({"type":"t","data":{},"timestamp":1705314645})", "", received);
    CHECK(s.timestamp == "2024-01-15T10:30:45.000000+00:00");
    CHECK(note(s, "timestamp:") == "timestamp: from Unix time in seconds 1705314645");
  }
  SECTION("a timestamp of another type is replaced") {
    event e = read_foreign(R"({"type":"t","data":{},"timestamp":true})", "", received);
    CHECK(e.timestamp == received_text);
    CHECK(note(e, "timestamp:") == "timestamp: boolean true is not a time; receive time");
  }
  SECTION("an unknown zone becomes UTC, named in the note") {
    event e = read_foreign(
        R"({"type":"t","data":{},"timestamp":"2024-01-15T10:30:45","timezone":"Europe/Pari"})", "",
        received);
    CHECK(e.timezone == "UTC");
    CHECK(e.timestamp == "2024-01-15T10:30:45");  // naive: now read in UTC
    CHECK(note(e, "timezone:") == "timezone: unknown zone 'Europe/Pari', UTC used");
  }
  SECTION("a naive timestamp is read in the payload's zone") {
    event e = read_foreign(
        R"({"type":"t","data":{},"timestamp":"2024-01-15T10:30:45","timezone":"America/New_York"})",
        "", received);
    CHECK(e.time() == rtev::time::parse_rfc3339("2024-01-15T15:30:45Z"));
  }
}

TEST_CASE("foreign_ids_seqs_and_rooms_are_kept_when_well_typed", "[sdk][foreign]") {
  SECTION("a numeric id becomes a string") {
    event e = read_foreign(R"({"type":"t","data":{},"id":17})", "", received);
    CHECK(e.id == std::optional<std::string>("17"));
    CHECK(note(e, "id:") == "id: number 17 as a string");
  }
  SECTION("ill-typed fields are kept as extra fields under their own name") {
    event e =
        read_foreign(R"({"type":"t","data":{},"id":{"a":1},"seq":-1,"room":["x"]})", "", received);
    CHECK_FALSE(e.id);
    CHECK_FALSE(e.seq);
    CHECK_FALSE(e.room);
    CHECK(e.extra == json{{"id", {{"a", 1}}}, {"seq", -1}, {"room", {"x"}}});
    CHECK(note(e, "seq:") ==
          "seq: number -1 is not a non-negative integer, kept as an extra field");
    CHECK(e.to_json()["seq"] == -1);
  }
  SECTION("seq and room are read") {
    event e = read_foreign(R"({"type":"t","data":{},"seq":5,"room":"r"})", "", received);
    CHECK(e.seq == std::optional<std::uint64_t>(5));
    CHECK(e.room == std::optional<std::string>("r"));
  }
}

TEST_CASE("foreign_json_value_overload_reads_socketio_arguments", "[sdk][foreign]") {
  event e = read_foreign(json{{"text", "hi"}}, "new_message", received);
  CHECK(e.type == "new_message");
  CHECK(e.data == json{{"text", "hi"}});
  event s = read_foreign(json("plain"), "new_message", received);
  CHECK(s.data == "plain");
  CHECK(note(s, "data:") == "data: the whole payload");  // a JSON string, not unreadable text
}

TEST_CASE("foreign_supplied_zone_next_to_an_offset_timestamp_says_so", "[sdk][foreign]") {
  const event e =
      read_foreign(std::string(R"({"type":"x","timestamp":"2026-01-01T10:00:00+01:00","data":{}})"),
                   "", received);
  CHECK(e.timestamp == "2026-01-01T10:00:00+01:00");
  CHECK(e.timezone == "UTC");
  CHECK(note(e, "timezone:") == "timezone: UTC (the timestamp keeps its own offset +01:00)");
  const event z = read_foreign(
      std::string(R"({"type":"x","timestamp":"2026-01-01T10:00:00Z","data":{}})"), "", received);
  CHECK(note(z, "timezone:") == "timezone: UTC");
}

// Found by fuzz/foreign_fuzz.cpp (fuzz/regressions/foreign/): the result of read_foreign went
// out as JSON (`rtev tail` writes JSONL) and dump() threw on invalid UTF-8.
TEST_CASE("foreign_invalid_utf8_text_and_event_name_become_replacement_characters",
          "[sdk][foreign]") {
  SECTION("a payload that is not JSON is kept as valid UTF-8") {
    const event e = read_foreign(std::string("caf\xc3 \xff!"), "update", received);
    CHECK(e.data == json("caf\xef\xbf\xbd \xef\xbf\xbd!"));
    CHECK_NOTHROW(e.dump());
  }
  SECTION("an event name used as the type is kept as valid UTF-8") {
    const event e = read_foreign(std::string("{\"data\":1}"), "caf\xc3", received);
    CHECK(e.type == "caf\xef\xbf\xbd");
    CHECK_NOTHROW(e.dump());
  }
}
