// server-lite history over WebSocket: SUBSCRIBE with since (seq, time, "beginning"), epoch
// and retention (recovered), the history/live boundary under concurrent publishing, and
// HISTORY paging (docs/protocol.md). Runs the real server in-process on port 0.
#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rtev/time.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace rtev::test;

namespace {

std::uint64_t seq_of(const json& j) {
  return j.at("seq").get<std::uint64_t>();
}

// Publishes `n` events of type `type` to `room` through the HTTP API, one request per event,
// and returns the replies ({"id","seq"}), oldest first.
std::vector<json> publish_n(std::uint16_t port, const std::string& room, int n,
                            const std::string& type = "note") {
  std::vector<json> out;
  for (int i = 0; i < n; ++i)
    out.push_back(publish_http(port, {{"room", room}, {"type", type}, {"data", {{"i", i}}}}));
  return out;
}

// Publishes `n` events to `room` in array requests of up to 200.
void publish_bulk(std::uint16_t port, const std::string& room, int n) {
  for (int done = 0; done < n;) {
    json batch = json::array();
    for (int i = 0; i < 200 && done < n; ++i, ++done)
      batch.push_back({{"room", room}, {"type", "bulk"}, {"data", {{"i", done}}}});
    publish_http(port, batch);
  }
}

std::vector<std::uint64_t> seqs(const std::vector<json>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) out.push_back(seq_of(e));
  return out;
}

}  // namespace

TEST_CASE("subscribe_with_since_replays_stored_events_before_the_ack", "[server][ws][replay]") {
  local_server srv;
  const auto sent = publish_n(srv.port(), "contact:1", 5);
  publish_n(srv.port(), "contact:2", 2);  // another room: never replayed into contact:1
  auto c = rtev_client::connect_as(srv.port(), "alice");

  SECTION("since a seq replays the events with a larger seq, in order, then the ACK") {
    auto [before, reply] =
        c.request_collect("SUBSCRIBE", {{"room", "contact:1"}, {"since", seq_of(sent[1])}});
    REQUIRE(reply.at("type") == "ACK");
    CHECK(seqs(before) ==
          std::vector<std::uint64_t>{seq_of(sent[2]), seq_of(sent[3]), seq_of(sent[4])});
    for (const auto& e : before) CHECK(e.at("room") == "contact:1");
    const json& ack = reply.at("data");
    CHECK(ack.at("op") == "SUBSCRIBE");
    CHECK(ack.at("room") == "contact:1");
    CHECK(ack.at("replayed") == 3);
    CHECK(ack.at("recovered") == true);
    CHECK(ack.at("epoch").is_string());
    CHECK(ack.at("last_seq").get<std::uint64_t>() >= seq_of(sent[4]));
    // Then live events.
    const json live =
        publish_http(srv.port(), {{"room", "contact:1"}, {"type", "note"}, {"data", {}}});
    CHECK(seq_of(c.next_event_in("contact:1")) == seq_of(live));
  }
  SECTION("since \"beginning\" replays everything stored for the room") {
    auto [before, reply] =
        c.request_collect("SUBSCRIBE", {{"room", "contact:1"}, {"since", "beginning"}});
    CHECK(seqs(before) == seqs(sent));
    CHECK(reply.at("data").at("replayed") == 5);
    CHECK(reply.at("data").at("recovered") == true);
  }
  SECTION("since a time replays the events at or after it") {
    // The third event's own timestamp: it is included, the second is not.
    const auto stored = fetch_history(srv.port(), "contact:1");
    REQUIRE(stored.size() == 5);
    const std::string t3 = stored[2].at("timestamp").get<std::string>();
    auto [before, reply] = c.request_collect("SUBSCRIBE", {{"room", "contact:1"}, {"since", t3}});
    CHECK(seqs(before) ==
          std::vector<std::uint64_t>{seq_of(sent[2]), seq_of(sent[3]), seq_of(sent[4])});
    CHECK(reply.at("data").at("recovered") == true);
    // One microsecond later than the third event's timestamp: it is no longer "at or after".
    const auto t3_plus = rtev::time::format_rfc3339(
        rtev::time::parse_rfc3339(t3) + std::chrono::microseconds(1), "UTC");
    auto [later, reply2] =
        c.request_collect("SUBSCRIBE", {{"room", "contact:1"}, {"since", t3_plus}});
    INFO("since " << t3_plus << ", third event stamped " << t3);
    CHECK(seqs(later) == std::vector<std::uint64_t>{seq_of(sent[3]), seq_of(sent[4])});
  }
  SECTION("a glob subscription replays every matching room in seq order") {
    auto [before, reply] =
        c.request_collect("SUBSCRIBE", {{"room", "contact:*"}, {"since", "beginning"}});
    REQUIRE(reply.at("type") == "ACK");
    CHECK(reply.at("data").at("replayed") == 7);
    std::vector<std::uint64_t> got = seqs(before);
    CHECK(got.size() == 7);
    CHECK(std::is_sorted(got.begin(), got.end()));
    CHECK(std::adjacent_find(got.begin(), got.end()) == got.end());
  }
  SECTION("since the newest seq replays nothing and is recovered") {
    auto [before, reply] =
        c.request_collect("SUBSCRIBE", {{"room", "contact:1"}, {"since", seq_of(sent[4])}});
    CHECK(before.empty());
    CHECK(reply.at("data").at("replayed") == 0);
    CHECK(reply.at("data").at("recovered") == true);
  }
  SECTION("types filters the replay and the live events") {
    publish_http(srv.port(), {{"room", "contact:1"}, {"type", "call"}, {"data", {}}});
    auto [before, reply] = c.request_collect(
        "SUBSCRIBE", {{"room", "contact:1"}, {"since", "beginning"}, {"types", {"call"}}});
    REQUIRE(before.size() == 1);
    CHECK(before[0].at("type") == "call");
    publish_http(srv.port(), {{"room", "contact:1"}, {"type", "note"}, {"data", {}}});
    const json call =
        publish_http(srv.port(), {{"room", "contact:1"}, {"type", "call"}, {"data", {}}});
    CHECK(seq_of(c.next_event_in("contact:1")) == seq_of(call));
  }
  SECTION("an epoch that differs from the store's gives recovered false and no replay") {
    auto [before, reply] = c.request_collect(
        "SUBSCRIBE", {{"room", "contact:1"}, {"since", 0}, {"epoch", "not-this-store"}});
    REQUIRE(reply.at("type") == "ACK");
    CHECK(before.empty());
    CHECK(reply.at("data").at("replayed") == 0);
    CHECK(reply.at("data").at("recovered") == false);
    // The subscription is live nonetheless.
    const json live =
        publish_http(srv.port(), {{"room", "contact:1"}, {"type", "note"}, {"data", {}}});
    CHECK(seq_of(c.next_event_in("contact:1")) == seq_of(live));
  }
  SECTION("the store's own epoch is recovered") {
    const std::string epoch = c.subscribe("lobby").at("epoch");
    auto [before, reply] = c.request_collect(
        "SUBSCRIBE", {{"room", "contact:1"}, {"since", seq_of(sent[3])}, {"epoch", epoch}});
    CHECK(seqs(before) == std::vector<std::uint64_t>{seq_of(sent[4])});
    CHECK(reply.at("data").at("recovered") == true);
  }
  SECTION("a since that is neither seq, time nor beginning is a bad_request") {
    CHECK(c.error("SUBSCRIBE", {{"room", "contact:1"}, {"since", "yesterday-ish"}}).at("code") ==
          "bad_request");
    CHECK(c.open());
  }
}

TEST_CASE("subscribe_reports_recovered_false_when_history_no_longer_reaches_back",
          "[server][ws][replay]") {
  auto cfg = test_config();
  cfg.history_max_events = 5;
  local_server srv(cfg);
  // Connected first: its user_online event counts against the limit like any other.
  auto c = rtev_client::connect_as(srv.port(), "alice");
  const auto sent = publish_n(srv.port(), "lead:9", 12);
  // Retention runs off the delivery path; wait (bounded) until it has removed the oldest.
  const auto deadline = steady::now() + default_timeout;
  std::vector<json> left;
  do {
    left = fetch_history(srv.port(), "lead:9");
  } while (left.size() > 5 && steady::now() < deadline);
  REQUIRE(left.size() <= 5);
  CHECK(left.back().at("seq") == sent.back().at("seq"));

  auto [before, reply] =
      c.request_collect("SUBSCRIBE", {{"room", "lead:9"}, {"since", seq_of(sent[0])}});
  CHECK(reply.at("data").at("recovered") == false);
  // What is still there is replayed, in order.
  CHECK(seqs(before) == seqs(left));
  // A point history still reaches is recovered.
  auto [after, reply2] =
      c.request_collect("SUBSCRIBE", {{"room", "lead:9"}, {"since", seq_of(sent[10])}});
  CHECK(reply2.at("data").at("recovered") == true);
  CHECK(seqs(after) == std::vector<std::uint64_t>{seq_of(sent[11])});
}

TEST_CASE("history_older_than_history_max_age_is_dropped", "[server][ws][replay]") {
  auto cfg = test_config();
  cfg.history_max_age = std::chrono::seconds(1);
  cfg.sse_heartbeat = std::chrono::milliseconds(250);
  local_server srv(cfg);
  auto c = rtev_client::connect_as(srv.port(), "alice");
  const auto sent = publish_n(srv.port(), "lead:9", 3);
  CHECK(fetch_history(srv.port(), "lead:9").size() == 3);

  // Paced by the server's own SSE heartbeat comments rather than a sleep: after each, look
  // again, until the events have aged out (bounded).
  sse_stream clock(srv.port(), "/api/events?rooms=ticks");
  REQUIRE(clock.status() == 200);
  const auto deadline = steady::now() + default_timeout;
  std::vector<json> left = fetch_history(srv.port(), "lead:9");
  while (!left.empty() && steady::now() < deadline) {
    REQUIRE(clock.next().type == sse_item::kind::comment);
    left = fetch_history(srv.port(), "lead:9");
  }
  CHECK(left.empty());
  auto [before, reply] =
      c.request_collect("SUBSCRIBE", {{"room", "lead:9"}, {"since", seq_of(sent[0])}});
  CHECK(before.empty());
  CHECK(reply.at("data").at("recovered") == false);
  // New events are kept (for their second).
  const json fresh = publish_http(srv.port(), {{"room", "lead:9"}, {"type", "note"}, {"data", {}}});
  CHECK(seq_of(c.next_event_in("lead:9")) == seq_of(fresh));
  CHECK(fetch_history(srv.port(), "lead:9").size() == 1);
}

TEST_CASE("replay_and_live_delivery_meet_without_gap_or_duplicate_under_concurrent_publishing",
          "[server][ws][replay]") {
  temp_dir dir;
  auto cfg = test_config();
  cfg.db_path = dir.file("events.db");
  cfg.send_queue_max = 100000;  // this test is about ordering, not slow consumers
  local_server srv(cfg);
  const std::uint16_t port = srv.port();
  const std::string room = "campaign:7";

  // Publisher: batches of 25 alternating between the room and a neighbour, so the room's seqs
  // are not contiguous. Phase 1 runs alone; phase 2 starts once the first subscriber has sent
  // its SUBSCRIBE, so replay and live publishing overlap.
  constexpr int phase1 = 1000, total = 3000, batch = 25;
  std::mutex m;  // guards acked, published, go, failure
  std::condition_variable cv;
  std::vector<std::uint64_t> acked;  // seqs of the room's events, in ack order
  int published = 0;
  bool go = false;
  std::string failure;
  std::thread publisher([&] {
    try {
      for (int n = 0; n < total; n += batch) {
        if (n == phase1) {
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [&] { return go; });
        }
        json body = json::array();
        for (int i = 0; i < batch; ++i)
          body.push_back({{"room", i % 2 ? room : std::string("campaign:8")},
                          {"type", "tick"},
                          {"data", {{"n", n + i}}}});
        const json reply = publish_http(port, body);
        std::lock_guard<std::mutex> lock(m);
        for (const auto& r : reply)
          if (r.value("room", "") == room) acked.push_back(seq_of(r));
        published += batch;
        cv.notify_all();
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(m);
      failure = e.what();
      published = total;
      cv.notify_all();
    }
  });
  // Whatever happens below, the publisher is released and joined.
  struct joiner {
    std::function<void()> release;
    std::thread& t;
    ~joiner() {
      release();
      if (t.joinable()) t.join();
    }
  } join_publisher{[&] {
                     std::lock_guard<std::mutex> lock(m);
                     go = true;
                     cv.notify_all();
                   },
                   publisher};
  auto wait_published = [&](int n) {
    std::unique_lock<std::mutex> lock(m);
    cv.wait_for(lock, std::chrono::seconds(60), [&] { return published >= n; });
    return published >= n;
  };

  REQUIRE(wait_published(phase1));
  std::uint64_t since1;
  {
    std::lock_guard<std::mutex> lock(m);
    REQUIRE(failure.empty());
    since1 = acked[acked.size() / 3];
  }

  struct watcher {
    rtev_client client;
    std::string ref;
    std::vector<json> before_ack;
    json ack;
    std::vector<std::uint64_t> received;  // every seq of the room, in arrival order

    // Handles one message if one arrives within `timeout`.
    void read_one(const std::string& watched, millis timeout) {
      const auto msg = client.try_next(timeout);
      if (!msg) return;
      if (is_reply_to(*msg, ref)) {
        ack = *msg;
      } else if (is_event_in(*msg, watched)) {
        if (ack.is_null()) before_ack.push_back(*msg);
        received.push_back(seq_of(*msg));
      }
    }
  };
  watcher w1{rtev_client::connect_as(port, "w1"), "sub1", {}, {}, {}};
  w1.client.send_op("SUBSCRIBE", {{"room", room}, {"since", since1}}, w1.ref);
  join_publisher.release();

  // A second watcher joins during phase 2, with a since from phase 2.
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(m);
      if (published >= 2000) break;
    }
    w1.read_one(room, millis(200));
  }
  std::uint64_t since2;
  {
    std::lock_guard<std::mutex> lock(m);
    since2 = acked[acked.size() * 2 / 3];
  }
  watcher w2{rtev_client::connect_as(port, "w2"), "sub2", {}, {}, {}};
  w2.client.send_op("SUBSCRIBE", {{"room", room}, {"since", since2}}, w2.ref);

  publisher.join();
  {
    std::lock_guard<std::mutex> lock(m);
    INFO(failure);
    REQUIRE(failure.empty());
  }
  const std::uint64_t last = acked.back();
  const auto deadline = steady::now() + std::chrono::seconds(60);
  for (watcher* w : {&w1, &w2})
    while ((w->ack.is_null() || w->received.empty() || w->received.back() < last) &&
           steady::now() < deadline)
      w->read_one(room, millis(500));

  // The truth: the room's stored seqs.
  std::vector<std::uint64_t> stored = seqs(fetch_history(port, room));
  REQUIRE(stored.size() == acked.size());
  for (watcher* w : {&w1, &w2}) {
    const std::uint64_t since = w == &w1 ? since1 : since2;
    std::vector<std::uint64_t> expected;
    for (auto s : stored)
      if (s > since) expected.push_back(s);
    INFO("watcher " << w->ref << " since " << since << ", received " << w->received.size()
                    << ", expected " << expected.size());
    REQUIRE(w->ack.is_object());
    CHECK(w->ack.at("type") == "ACK");
    CHECK(w->ack.at("data").at("recovered") == true);
    CHECK(w->ack.at("data").at("replayed") == w->before_ack.size());
    CHECK_FALSE(w->before_ack.empty());
    // Strictly increasing, no gap, no duplicate: exactly the stored seqs after `since`.
    CHECK(w->received == expected);
    // Everything before the ACK is history (<= last_seq), everything after is newer.
    const std::uint64_t boundary = w->ack.at("data").at("last_seq");
    for (const auto& e : w->before_ack) CHECK(seq_of(e) <= boundary);
    for (std::size_t i = w->before_ack.size(); i < w->received.size(); ++i)
      CHECK(w->received[i] > boundary);
  }
}

TEST_CASE("history_pages_oldest_first_with_limit_and_next", "[server][ws][history]") {
  local_server srv;
  const auto sent = publish_n(srv.port(), "lead:1", 7);
  auto c = rtev_client::connect_as(srv.port(), "alice");

  SECTION("limit and next walk the room page by page, oldest first") {
    std::vector<std::uint64_t> all;
    json since = nullptr;
    std::vector<std::size_t> page_sizes;
    for (int page = 0; page < 5; ++page) {
      json data = {{"room", "lead:1"}, {"limit", 3}};
      if (!since.is_null()) data["since"] = since;
      auto [events, reply] = c.request_collect("HISTORY", data);
      REQUIRE(reply.at("type") == "ACK");
      const json& ack = reply.at("data");
      CHECK(ack.at("op") == "HISTORY");
      CHECK(ack.at("count") == events.size());
      page_sizes.push_back(events.size());
      for (const auto& e : events) {
        CHECK(e.at("room") == "lead:1");
        all.push_back(seq_of(e));
      }
      if (ack.at("next").is_null()) break;
      CHECK(ack.at("next") == events.back().at("seq"));
      since = ack["next"];
    }
    CHECK(page_sizes == std::vector<std::size_t>{3, 3, 1});
    CHECK(all == seqs(sent));
  }
  SECTION("history events are the stored envelopes") {
    auto [events, reply] = c.request_collect("HISTORY", {{"room", "lead:1"}, {"limit", 1}});
    REQUIRE(events.size() == 1);
    for (const char* field : {"type", "id", "seq", "room", "timestamp", "timezone", "data"})
      CHECK(events[0].contains(field));
    CHECK(events[0].at("id") == sent[0].at("id"));
  }
  SECTION("types and until filter") {
    publish_n(srv.port(), "lead:1", 2, "call");
    auto [calls, r1] = c.request_collect("HISTORY", {{"room", "lead:1"}, {"types", {"call"}}});
    CHECK(calls.size() == 2);
    CHECK(r1.at("data").at("next").is_null());
    const auto stored = fetch_history(srv.port(), "lead:1");
    const json until = stored[2].at("timestamp");
    auto [early, r2] = c.request_collect("HISTORY", {{"room", "lead:1"}, {"until", until}});
    // Events up to (and including) the third one's timestamp.
    CHECK(seqs(early) ==
          std::vector<std::uint64_t>{seq_of(sent[0]), seq_of(sent[1]), seq_of(sent[2])});
  }
  SECTION("an empty room answers count 0 and next null") {
    auto [events, reply] = c.request_collect("HISTORY", {{"room", "lead:404"}});
    CHECK(events.empty());
    CHECK(reply.at("data").at("count") == 0);
    CHECK(reply.at("data").at("next").is_null());
  }
  SECTION("a room the user may not join is forbidden") {
    CHECK(c.error("HISTORY", {{"room", "user:bob"}}).at("code") == "forbidden");
  }
}

TEST_CASE("history_limit_defaults_to_100_and_is_capped_at_1000", "[server][ws][history]") {
  local_server srv;
  publish_bulk(srv.port(), "bulk", 1010);
  auto c = rtev_client::connect_as(srv.port(), "alice");

  auto [dflt, r1] = c.request_collect("HISTORY", {{"room", "bulk"}});
  CHECK(dflt.size() == 100);
  CHECK(r1.at("data").at("count") == 100);
  CHECK(r1.at("data").at("next") == dflt.back().at("seq"));

  auto [capped, r2] =
      c.request_collect("HISTORY", {{"room", "bulk"}, {"limit", 5000}}, millis(30000));
  CHECK(capped.size() == 1000);
  CHECK(r2.at("data").at("next") == capped.back().at("seq"));

  const json page = http_get(srv.port(), "/api/history?room=bulk&limit=5000").json();
  CHECK(page.at("events").size() == 1000);
  CHECK(page.at("next") == capped.back().at("seq"));
  const json rest =
      http_get(srv.port(), "/api/history?room=bulk&limit=5000&since=" + page["next"].dump()).json();
  CHECK(rest.at("events").size() == 10);
  CHECK(rest.at("next").is_null());
}

// Queued frames go out several to a write (docs/lws-notes.md): every one must still arrive as
// its own whole frame, in order — around the 126 and 65536-byte length encodings, and with a
// frame above the coalescing bound (written alone) among small ones.
TEST_CASE("a replay of frames of every length encoding arrives frame by frame in order",
          "[server][ws][replay]") {
  rtev::server_config cfg = test_config();
  cfg.max_message_bytes = 1 << 20;
  local_server srv(cfg);
  std::vector<std::size_t> sizes;
  for (std::size_t n : {0, 1, 60, 100, 200, 1000, 30000, 70000, 200000, 5, 65400, 3})
    for (int i = 0; i < 3; ++i) sizes.push_back(n + static_cast<std::size_t>(i));
  std::vector<std::uint64_t> sent;
  for (std::size_t n : sizes)
    sent.push_back(seq_of(publish_http(
        srv.port(), {{"room", "sizes"}, {"type", "sized"}, {"data", {{"s", std::string(n, 'x')}}}})));
  auto c = rtev_client::connect_as(srv.port(), "alice");
  auto [before, reply] =
      c.request_collect("SUBSCRIBE", {{"room", "sizes"}, {"since", "beginning"}});
  REQUIRE(reply.at("type") == "ACK");
  CHECK(seqs(before) == sent);
  for (std::size_t i = 0; i < before.size() && i < sizes.size(); ++i)
    CHECK(before[i].at("data").at("s").get<std::string>().size() == sizes[i]);
  // And live: a burst published while the subscriber reads.
  std::vector<std::uint64_t> live;
  json batch = json::array();
  for (std::size_t n : sizes)
    batch.push_back({{"room", "sizes"}, {"type", "sized"}, {"data", {{"s", std::string(n, 'y')}}}});
  const json replies = publish_http(srv.port(), batch);
  for (const auto& r : replies) live.push_back(seq_of(r));
  std::vector<std::uint64_t> got;
  for (std::size_t i = 0; i < sizes.size(); ++i) got.push_back(seq_of(c.next_event_in("sizes")));
  CHECK(got == live);
}
