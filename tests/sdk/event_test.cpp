#include "rtev/event.hpp"

#include <catch2/catch.hpp>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

// --- event ids ---------------------------------------------------------------------------------

namespace {

// Ids made by a fork()ed child, read back through a pipe (one per line).
struct child_ids {
  pid_t pid = -1;
  int fd = -1;
};

child_ids fork_id_maker(int n) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    for (int i = 0; i < n; ++i) out += rtev::make_event_id() + "\n";
    std::size_t off = 0;
    while (off < out.size()) {
      const ssize_t w = ::write(fds[1], out.data() + off, out.size() - off);
      if (w <= 0) ::_exit(1);
      off += static_cast<std::size_t>(w);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

std::vector<std::string> collect(child_ids c) {
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t r = ::read(c.fd, buf, sizeof buf);
    if (r <= 0) break;
    text.append(buf, static_cast<std::size_t>(r));
  }
  ::close(c.fd);
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  CHECK(WIFEXITED(status));
  std::vector<std::string> ids;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    ids.push_back(text.substr(start, nl - start));
  return ids;
}

// The 74 random bits of a v7 id (everything but the time, version and variant).
std::string random_part(const std::string& id) {
  return id.substr(15, 3) + id.substr(20, 3) + id.substr(24);
}

}  // namespace

TEST_CASE("event_ids_are_uuid_v7_and_time_ordered", "[sdk][event][id]") {
  std::string prev;
  for (int i = 0; i < 2000; ++i) {
    const std::string id = rtev::make_event_id();
    REQUIRE(id.size() == 36);
    CHECK(id[14] == '7');                                          // version
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);  // variant 1
    // The first 48 bits are Unix milliseconds: never going back.
    CHECK(id.substr(0, 13) >= prev.substr(0, std::min<std::size_t>(prev.size(), 13)));
    prev = id;
  }
}

TEST_CASE("event_ids_differ_across_forked_processes_and_threads", "[sdk][event][id]") {
  // The parent makes ids first, so whatever it keeps per thread (a seeded engine, a block of
  // random bytes) exists before the fork and is inherited by every child: the children must
  // not replay it. With an engine seeded once per thread, they all made the same ids.
  std::set<std::string> seen;
  for (int i = 0; i < 10; ++i) seen.insert(rtev::make_event_id());
  constexpr int per_child = 500;
  std::vector<child_ids> children;
  for (int i = 0; i < 4; ++i) children.push_back(fork_id_maker(per_child));
  std::vector<std::string> all;
  for (auto& c : children) {
    auto ids = collect(c);
    CHECK(ids.size() == static_cast<std::size_t>(per_child));
    all.insert(all.end(), ids.begin(), ids.end());
  }
  // Threads of this process, each with its own state.
  std::vector<std::vector<std::string>> per_thread(4);
  {
    std::vector<std::thread> ts;
    for (auto& v : per_thread)
      ts.emplace_back([&v] {
        for (int i = 0; i < per_child; ++i) v.push_back(rtev::make_event_id());
      });
    for (auto& t : ts) t.join();
  }
  for (auto& v : per_thread) all.insert(all.end(), v.begin(), v.end());
  std::set<std::string> randoms;
  for (const auto& id : seen) randoms.insert(random_part(id));
  std::size_t same_id = 0, same_random = 0;
  for (const auto& id : all) {
    if (!seen.insert(id).second) ++same_id;
    // Not even the random bits repeat (ids made in the same millisecond would then collide).
    if (!randoms.insert(random_part(id)).second) ++same_random;
  }
  CHECK(same_id == 0);
  CHECK(same_random == 0);
  CHECK(all.size() == 8 * static_cast<std::size_t>(per_child));
}
