// server-lite Server-Sent Events on GET /api/events: framing (id/data, ?named=1), filters
// (?rooms=, ?types=), the WebSocket defaults without ?rooms=, authentication, heartbeat
// comments, and resuming with Last-Event-ID or ?since= without gaps (docs/server.md).
// Runs the real server in-process on port 0.
#include <catch2/catch.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace rtev::test;

namespace {

// The next event of the stream, as JSON; fails on a time-out or the end of the stream.
json next_envelope(sse_stream& s, sse_item* raw = nullptr) {
  const sse_item it = s.next_event();
  if (it.type != sse_item::kind::event)
    throw std::runtime_error(it.type == sse_item::kind::timeout
                                 ? "SSE: timed out waiting for an event"
                                 : "SSE: the stream ended");
  if (raw) *raw = it;
  const json j = json::parse(it.data, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("SSE data is not JSON: " + it.data);
  return j;
}

// The next event whose envelope satisfies `pred` (others are skipped).
template <typename Pred>
json next_envelope_where(sse_stream& s, Pred pred) {
  for (;;) {
    json j = next_envelope(s);
    if (pred(j)) return j;
  }
}

// Opens a stream and requires 200 and the event-stream content type.
void require_open(const sse_stream& s) {
  INFO(s.body());
  REQUIRE(s.status() == 200);
  CHECK(find_header(s.headers(), "content-type").value_or("").find("text/event-stream") == 0);
}

json post(std::uint16_t port, const std::string& room, const std::string& type, int n = 0) {
  return publish_http(port, {{"room", room}, {"type", type}, {"data", {{"n", n}}}});
}

}  // namespace

TEST_CASE("sse_streams_events_as_id_and_data_lines", "[server][sse]") {
  local_server srv;

  SECTION("each event is id: <seq> and data: <envelope>, with no event: line") {
    sse_stream s(srv.port(), "/api/events?rooms=lead:9");
    require_open(s);
    // The stream opens with a ping comment, before any event.
    const sse_item first = s.next();
    CHECK(first.type == sse_item::kind::comment);
    CHECK(first.comment == "ping");
    const json sent = post(srv.port(), "lead:9", "lead.updated", 7);
    sse_item raw;
    const json e = next_envelope(s, &raw);
    CHECK(raw.id ==
          std::optional<std::string>(std::to_string(sent.at("seq").get<std::uint64_t>())));
    CHECK_FALSE(raw.event);
    for (const char* field : {"type", "id", "seq", "room", "timestamp", "timezone", "data"})
      CHECK(e.contains(field));
    CHECK(e.at("seq") == sent.at("seq"));
    CHECK(e.at("type") == "lead.updated");
    CHECK(e.at("data").at("n") == 7);
  }
  SECTION("?named=1 adds event: <type>") {
    sse_stream s(srv.port(), "/api/events?rooms=lead:9&named=1");
    require_open(s);
    const json sent = post(srv.port(), "lead:9", "lead.updated");
    sse_item raw;
    next_envelope(s, &raw);
    CHECK(raw.event == std::optional<std::string>("lead.updated"));
    CHECK(raw.id == std::optional<std::string>(sent.at("seq").dump()));
  }
}

TEST_CASE("sse_filters_by_rooms_and_types", "[server][sse]") {
  local_server srv;
  sse_stream rooms(srv.port(), "/api/events?rooms=a,b");
  sse_stream types(srv.port(), "/api/events?rooms=a,b,c&types=keep");
  require_open(rooms);
  require_open(types);

  const json a = post(srv.port(), "a", "drop");
  post(srv.port(), "c", "drop");
  const json b = post(srv.port(), "b", "keep");
  const json c = post(srv.port(), "c", "keep");

  CHECK(next_envelope(rooms).at("seq") == a.at("seq"));
  CHECK(next_envelope(rooms).at("seq") == b.at("seq"));
  CHECK(next_envelope(types).at("seq") == b.at("seq"));
  CHECK(next_envelope(types).at("seq") == c.at("seq"));
  // A broadcast reaches the room-filtered stream; the type filter still applies to it.
  const json all = publish_http(srv.port(), {{"broadcast", true}, {"type", "keep"}, {"data", {}}});
  CHECK(next_envelope(rooms).at("seq") == all.at("seq"));
  CHECK(next_envelope(types).at("seq") == all.at("seq"));
}

TEST_CASE("sse_without_rooms_follows_the_websocket_defaults", "[server][sse]") {
  local_server srv;
  sse_stream s(srv.port(), "/api/events?token=alice");
  require_open(s);
  post(srv.port(), "lobby", "not-mine");
  const json mine = post(srv.port(), "user:alice", "mine");
  const json all = publish_http(srv.port(), {{"broadcast", true}, {"type", "all"}, {"data", {}}});
  post(srv.port(), "user:bob", "not-mine");
  const json last = post(srv.port(), "user:alice", "mine");

  std::vector<json> got;
  while (got.empty() || got.back().at("seq") != last.at("seq")) got.push_back(next_envelope(s));
  REQUIRE(got.size() == 3);
  CHECK(got[0].at("seq") == mine.at("seq"));
  CHECK(got[1].at("seq") == all.at("seq"));
}

TEST_CASE("sse_authenticates_like_websocket", "[server][sse][auth]") {
  auto cfg = test_config();
  cfg.auth = "token";
  local_server srv(cfg);

  SECTION("no token is 401") {
    sse_stream s(srv.port(), "/api/events?rooms=lobby");
    CHECK(s.status() == 401);
    CHECK(json::parse(s.body(), nullptr, false).contains("error"));
  }
  SECTION("a query token or a bearer header is accepted") {
    sse_stream q(srv.port(), "/api/events?token=alice");
    require_open(q);
    sse_stream h(srv.port(), "/api/events", {{"Authorization", "Bearer alice"}});
    require_open(h);
    const json sent = post(srv.port(), "user:alice", "dm");
    CHECK(next_envelope(q).at("seq") == sent.at("seq"));
    CHECK(next_envelope(h).at("seq") == sent.at("seq"));
  }
  SECTION("a room the user may not join is 403") {
    sse_stream s(srv.port(), "/api/events?token=alice&rooms=user:bob");
    CHECK(s.status() == 403);
  }
}

TEST_CASE("sse_sends_ping_comments_every_sse_heartbeat", "[server][sse]") {
  auto cfg = test_config();
  cfg.sse_heartbeat = std::chrono::milliseconds(300);
  local_server srv(cfg);
  sse_stream s(srv.port(), "/api/events?rooms=quiet");
  require_open(s);
  int pings = 0;
  const auto start = steady::now();
  while (pings < 3) {
    const sse_item it = s.next(std::chrono::seconds(5));
    REQUIRE(it.type == sse_item::kind::comment);
    CHECK(it.comment == "ping");
    ++pings;
  }
  // The first comes at once, the next two a heartbeat apart.
  CHECK(steady::now() - start >= millis(500));
}

TEST_CASE("sse_resumes_with_last_event_id_or_since_without_gaps", "[server][sse][replay]") {
  local_server srv;
  const std::uint16_t port = srv.port();

  SECTION("Last-Event-ID and ?since= replay what was missed, then continue live") {
    std::vector<json> sent;
    for (int i = 0; i < 6; ++i) sent.push_back(post(port, "feed", "tick", i));
    sse_stream by_header(port, "/api/events?rooms=feed",
                         {{"Last-Event-ID", sent[2].at("seq").dump()}});
    sse_stream by_query(port, "/api/events?rooms=feed&since=" + sent[2].at("seq").dump());
    require_open(by_header);
    require_open(by_query);
    const json live = post(port, "feed", "tick", 6);
    for (sse_stream* s : {&by_header, &by_query}) {
      CHECK(next_envelope(*s).at("seq") == sent[3].at("seq"));
      CHECK(next_envelope(*s).at("seq") == sent[4].at("seq"));
      CHECK(next_envelope(*s).at("seq") == sent[5].at("seq"));
      CHECK(next_envelope(*s).at("seq") == live.at("seq"));
    }
  }
  SECTION("a reconnecting stream misses nothing while events keep coming") {
    // A publisher runs throughout; the first stream reads a while and drops, the second
    // resumes from its last id. Together they must hold every event of the room, once.
    constexpr int total = 600;
    std::mutex m;  // guards last_seq, failure
    std::uint64_t last_seq = 0;
    std::string failure;
    // Opened before publishing starts: it sees the room from its first event.
    std::optional<sse_stream> first(std::in_place, port, "/api/events?rooms=feed");
    require_open(*first);
    std::thread publisher([&] {
      try {
        for (int n = 0; n < total; n += 10) {
          json batch = json::array();
          for (int i = 0; i < 10; ++i)
            batch.push_back(
                {{"room", i % 3 ? "feed" : "other"}, {"type", "tick"}, {"data", {{"n", n + i}}}});
          const json reply = publish_http(port, batch);
          std::lock_guard<std::mutex> lock(m);
          last_seq = reply.back().at("seq");
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(m);
        failure = e.what();
      }
    });
    struct joiner {
      std::thread& t;
      ~joiner() {
        if (t.joinable()) t.join();
      }
    } join_publisher{publisher};

    std::vector<std::uint64_t> received;
    std::string last_id;
    while (received.size() < 100) {
      sse_item raw;
      const json e = next_envelope(*first, &raw);
      received.push_back(e.at("seq"));
      last_id = raw.id.value_or("");
    }
    first.reset();  // dropped mid-stream
    sse_stream second(port, "/api/events?rooms=feed", {{"Last-Event-ID", last_id}});
    require_open(second);
    publisher.join();
    {
      std::lock_guard<std::mutex> lock(m);
      INFO(failure);
      REQUIRE(failure.empty());
    }
    const std::uint64_t feed_last = fetch_history(port, "feed").back().at("seq");
    while (received.back() < feed_last) received.push_back(next_envelope(second).at("seq"));

    std::vector<std::uint64_t> stored;
    for (const auto& e : fetch_history(port, "feed")) stored.push_back(e.at("seq"));
    CHECK(received == stored);
  }
}

TEST_CASE("sse_stream_closed_by_the_client_is_released_at_once", "[server][sse][presence]") {
  // lws 4.1 does not read an HTTP/1 connection mid-transaction; without the server's own check
  // a departed SSE client stayed connected (presence, counts) until a heartbeat write failed.
  auto cfg = test_config();
  cfg.auth = "token";
  cfg.sse_heartbeat = std::chrono::hours(1);  // no write will reveal the close
  local_server srv(cfg);
  auto admin = rtev_client::connect_as(srv.port(), R"({"user_id":"root","role":"admin"})");
  admin.subscribe("presence");
  auto presence_of = [](const std::string& type) {
    return [type](const json& m) {
      return type_of(m) == type && m.at("data").value("user_id", "") == "alice";
    };
  };
  {
    sse_stream s(srv.port(), "/api/events?token=alice");
    require_open(s);
    admin.next_where(presence_of("user_online"));
    s.close();
  }
  admin.next_where(presence_of("user_offline"));
  CHECK(http_get(srv.port(), "/api/users/alice").json().at("connected") == false);
}

TEST_CASE("sse_named_events_cannot_be_forged_through_a_type_or_the_query", "[server][sse][names]") {
  local_server srv;
  sse_stream s(srv.port(), "/api/events?rooms=lead:9&named=1");
  require_open(s);

  // The forgery that used to work: a type whose line feeds end the event: line and start a
  // whole event of the attacker's choosing (id 999999).
  const auto forged =
      http_post_json(srv.port(), "/api/events",
                     json{{"room", "lead:9"},
                          {"type", "x\nid: 999999\nevent: forged\ndata: {}\n\nevent: y"},
                          {"data", {}}}
                         .dump());
  CHECK(forged.status == 400);
  CHECK(forged.json().at("error").at("code") == "bad_request");
  CHECK(forged.json().at("error").at("message").get<std::string>().rfind(
            "type: contains a control character (U+000A)", 0) == 0);

  const json sent = post(srv.port(), "lead:9", "lead.updated");
  sse_item raw;
  next_envelope(s, &raw);
  CHECK(raw.event == std::optional<std::string>("lead.updated"));
  CHECK(raw.id == std::optional<std::string>(sent.at("seq").dump()));

  SECTION("rooms and types of the query follow the name rule, by position") {
    sse_stream bad_room(srv.port(), "/api/events?rooms=lead:9,a%09b");
    CHECK(bad_room.status() == 400);
    CHECK(bad_room.body().find("rooms[1]: contains a control character (U+0009)") !=
          std::string::npos);
    sse_stream bad_type(srv.port(), "/api/events?rooms=lead:9&types=ok,a%7F");
    CHECK(bad_type.status() == 400);
    CHECK(bad_type.body().find("types[1]: contains a control character (U+007F)") !=
          std::string::npos);
    sse_stream bad_since(srv.port(), "/api/events?rooms=lead:9&since=yesterday");
    CHECK(bad_since.status() == 400);
    // A valid name that is not allowed stays a 403.
    sse_stream other_user(srv.port(), "/api/events?rooms=user:bob");
    CHECK(other_user.status() == 403);
  }
  SECTION("globs in rooms and types still work") {
    sse_stream glob(srv.port(), "/api/events?rooms=lead:*&types=lead.*&named=1");
    require_open(glob);
    post(srv.port(), "lead:10", "other");
    const json kept = post(srv.port(), "lead:10", "lead.created");
    sse_item item;
    CHECK(next_envelope(glob, &item).at("seq") == kept.at("seq"));
    CHECK(item.event == std::optional<std::string>("lead.created"));
  }
}
