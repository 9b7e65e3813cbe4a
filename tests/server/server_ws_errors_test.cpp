// server-lite WebSocket errors and close codes (docs/protocol.md): every ERROR code with the
// connection staying open, 1009 for oversized frames, 1008 for rate-limit abuse, 4000 for slow
// consumers, 4001 for kicks, 1001 on shutdown, and --max-connections. The heartbeat is tested
// in server_process_test.cpp, through the --ping-* flags. Runs the real server in-process.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace rtev::test;

namespace {

// The connection is usable: a PING gets its PONG.
bool answers_ping(rtev_client& c) {
  return c.request("PING", json::object()).at("type") == "PONG";
}

json stats(std::uint16_t port) {
  return http_get(port, "/api/stats").json();
}

}  // namespace

TEST_CASE("malformed_messages_get_an_error_and_the_connection_stays_open", "[server][ws][errors]") {
  auto cfg = test_config();
  cfg.auth = "token";
  local_server srv(cfg);
  auto c = rtev_client::connect_as(srv.port(), "alice");

  SECTION("text that is not JSON is bad_json") {
    c.ws().send_text("{\"type\": \"PING\", oops");
    const json err = c.next_of_type("ERROR");
    CHECK(err.at("data").at("code") == "bad_json");
    CHECK(err.at("data").at("message").is_string());
    CHECK(answers_ping(c));
  }
  SECTION("a message that is not an operation object is bad_request") {
    c.send(json::array({1, 2, 3}));
    CHECK(c.next_of_type("ERROR").at("data").at("code") == "bad_request");
    c.send({{"ref", "no-type"}, {"data", json::object()}});
    const json err = c.next_where([](const json& m) { return is_reply_to(m, "no-type"); });
    CHECK(err.at("data").at("code") == "bad_request");
    CHECK(answers_ping(c));
  }
  SECTION("an operation without a required field is bad_request naming it, with the ref") {
    const json reply = c.request("SUBSCRIBE", json::object());
    REQUIRE(reply.at("type") == "ERROR");
    CHECK(reply.at("data").at("code") == "bad_request");
    CHECK(reply.at("data").at("message").get<std::string>().find("room") != std::string::npos);
    CHECK(c.error("PUBLISH", {{"room", "lobby"}, {"data", {}}}).at("code") == "bad_request");
    CHECK(c.error("HISTORY", {{"room", "lobby"}, {"limit", "many"}}).at("code") == "bad_request");
    CHECK(answers_ping(c));
  }
  SECTION("an unknown operation is unknown_op, with the ref") {
    const json reply = c.request("FLY", {{"to", "moon"}});
    REQUIRE(reply.at("type") == "ERROR");
    CHECK(reply.at("data").at("code") == "unknown_op");
    CHECK(answers_ping(c));
  }
  SECTION("a refused room is forbidden") {
    CHECK(c.error("SUBSCRIBE", {{"room", "user:bob"}}).at("code") == "forbidden");
    CHECK(c.error("PUBLISH", {{"room", "user:bob"}, {"type", "x"}, {"data", {}}}).at("code") ==
          "forbidden");
    CHECK(answers_ping(c));
  }
  SECTION("an operation before authentication is not_authenticated") {
    rtev_client anon(srv.port());
    CHECK(anon.error("HISTORY", {{"room", "lobby"}}).at("code") == "not_authenticated");
    CHECK(anon.error("PUBLISH", {{"room", "lobby"}, {"type", "x"}, {"data", {}}}).at("code") ==
          "not_authenticated");
    CHECK(anon.open());
    anon.send({{"type", "authenticate"}, {"data", {{"token", "late"}}}});
    CHECK(anon.authenticated().at("user_id") == "late");
  }
}

TEST_CASE("rate_limited_messages_get_an_error_and_the_connection_stays_open",
          "[server][ws][errors]") {
  auto cfg = test_config();
  cfg.rate_limit = 5;
  cfg.rate_burst = 3;
  local_server srv(cfg);
  auto c = rtev_client::connect_as(srv.port(), "alice");

  // Eight PINGs in one go: the burst allows three, the rest are refused.
  std::string burst;
  for (int i = 0; i < 8; ++i)
    burst += ws_client::encode_frame(
        ws_opcode::text, json{{"type", "PING"}, {"ref", "p" + std::to_string(i)}}.dump());
  REQUIRE(c.ws().send_raw(burst));
  int pongs = 0, limited = 0;
  std::set<std::string> refs;  // every reply names its request, refusals included
  for (int i = 0; i < 8; ++i) {
    const json m = c.next_where([](const json& x) {
      const std::string t = type_of(x);
      return t == "PONG" || t == "ERROR";
    });
    if (m["type"] == "PONG")
      ++pongs;
    else if (m.at("data").at("code") == "rate_limited")
      ++limited;
    if (m.contains("ref")) refs.insert(m["ref"].get<std::string>());
  }
  CHECK(refs.size() == 8);
  CHECK(pongs >= 3);
  CHECK(limited >= 1);
  CHECK(pongs + limited == 8);
  // Still open: a live event reaches it.
  const json sent =
      publish_http(srv.port(), {{"user_id", "alice"}, {"type", "still-here"}, {"data", {}}});
  CHECK(c.next_of_type("still-here").at("seq") == sent.at("seq"));
  CHECK(c.open());
}

TEST_CASE("sustained_rate_limit_abuse_closes_with_1008", "[server][ws][errors]") {
  auto cfg = test_config();
  cfg.rate_limit = 2;
  cfg.rate_burst = 2;
  local_server srv(cfg);
  auto c = rtev_client::connect_as(srv.port(), "abuser");
  std::string flood;
  for (int i = 0; i < 80; ++i)
    flood += ws_client::encode_frame(ws_opcode::text, R"({"type":"PING"})");
  c.ws().send_raw(flood);
  const ws_message closed = c.wait_close();
  CHECK(closed.type == ws_message::kind::close);
  CHECK(closed.close_code == 1008);
  std::size_t limited = 0;
  for (const auto& m : c.mailbox())
    if (type_of(m) == "ERROR" && m.at("data").at("code") == "rate_limited") ++limited;
  CHECK(limited >= 1);
}

TEST_CASE("frames_over_max_message_bytes_close_with_1009", "[server][ws][errors]") {
  auto cfg = test_config();
  cfg.max_message_bytes = 1024;
  local_server srv(cfg);
  auto c = rtev_client::connect_as(srv.port(), "alice");
  auto padded_ping = [](std::size_t size) {
    json msg = {{"type", "PING"}, {"ref", "big"}, {"pad", ""}};
    msg["pad"] = std::string(size - msg.dump().size(), 'x');
    return msg.dump();
  };

  SECTION("a message of exactly the limit is accepted") {
    const std::string msg = padded_ping(1024);
    REQUIRE(msg.size() == 1024);
    c.ws().send_text(msg);
    CHECK(c.next_where([](const json& m) { return is_reply_to(m, "big"); }).at("type") == "PONG");
  }
  SECTION("a single frame over the limit closes with 1009") {
    c.ws().send_text(padded_ping(1025));
    const ws_message closed = c.wait_close();
    CHECK(closed.type == ws_message::kind::close);
    CHECK(closed.close_code == 1009);
  }
  SECTION("fragments that add up to more than the limit close with 1009") {
    const std::string msg = padded_ping(1500);
    c.ws().send_fragmented(ws_opcode::text,
                           {msg.substr(0, 500), msg.substr(500, 500), msg.substr(1000)});
    const ws_message closed = c.wait_close();
    CHECK(closed.type == ws_message::kind::close);
    CHECK(closed.close_code == 1009);
  }
  SECTION("a frame header announcing a huge payload closes with 1009") {
    const std::string part(1100, 'x');
    std::string raw = ws_client::encode_frame(ws_opcode::text, part, true, std::uint64_t{1} << 30);
    c.ws().send_raw(raw);
    const ws_message closed = c.wait_close();
    CHECK(closed.type == ws_message::kind::close);
    CHECK(closed.close_code == 1009);
  }
}

TEST_CASE("slow_consumer_is_closed_with_4000_and_resumes_with_since", "[server][ws][errors]") {
  auto cfg = test_config();
  cfg.send_queue_max = 8;
  cfg.max_message_bytes = 1 << 20;  // HTTP bodies up to 16 MiB
  local_server srv(cfg);
  ws_options small_window;
  small_window.receive_buffer = 4096;
  auto slow = rtev_client::connect_as(srv.port(), "slow", small_window);
  slow.subscribe("feed");

  // Publish big events until the server reports a dropped delivery (the slow client never
  // reads meanwhile, so its socket and then its queue fill up).
  const std::string payload(32 * 1024, 'p');
  std::uint64_t last_seq = 0;
  const auto deadline = steady::now() + std::chrono::seconds(60);
  while (stats(srv.port()).at("events_dropped") == 0) {
    REQUIRE(steady::now() < deadline);
    json batch = json::array();
    for (int i = 0; i < 16; ++i)
      batch.push_back({{"room", "feed"}, {"type", "blob"}, {"data", {{"p", payload}}}});
    const json reply = publish_http(srv.port(), batch);
    last_seq = reply.back().at("seq");
  }

  const ws_message closed = slow.wait_close(std::chrono::seconds(30));
  CHECK(closed.type == ws_message::kind::close);
  CHECK(closed.close_code == 4000);
  CHECK(closed.data == "slow consumer");

  // It resumes with since = the last seq it got: nothing is missing.
  std::uint64_t seen = 0;
  for (const auto& m : slow.mailbox())
    if (is_event_in(m, "feed")) seen = m.at("seq").get<std::uint64_t>();
  auto again = rtev_client::connect_as(srv.port(), "slow");
  auto [replayed, ack] = again.request_collect("SUBSCRIBE", {{"room", "feed"}, {"since", seen}},
                                               std::chrono::seconds(30));
  REQUIRE(ack.at("type") == "ACK");
  CHECK(ack.at("data").at("recovered") == true);
  REQUIRE_FALSE(replayed.empty());
  CHECK(replayed.back().at("seq") == last_seq);
  std::uint64_t prev = seen;
  bool contiguous = true;
  const auto stored = fetch_history(srv.port(), "feed");
  std::vector<std::uint64_t> expected;
  for (const auto& e : stored)
    if (e.at("seq").get<std::uint64_t>() > seen) expected.push_back(e["seq"]);
  std::vector<std::uint64_t> got;
  for (const auto& e : replayed) {
    got.push_back(e.at("seq"));
    contiguous = contiguous && e["seq"].get<std::uint64_t>() > prev;
    prev = e["seq"];
  }
  CHECK(contiguous);
  CHECK(got == expected);
}

TEST_CASE("kicked_users_are_closed_with_4001", "[server][ws][errors]") {
  auto cfg = test_config();
  cfg.api_key = "admin-key";
  local_server srv(cfg);
  auto observer = rtev_client::connect_as(srv.port(), "observer");
  observer.subscribe("presence");
  auto a1 = rtev_client::connect_as(srv.port(), "alice");
  auto a2 = rtev_client::connect_as(srv.port(), "alice");
  auto bob = rtev_client::connect_as(srv.port(), "bob");

  SECTION("without the API key nobody is disconnected") {
    const http_response r = http_request(srv.port(), "POST", "/api/users/alice/disconnect");
    CHECK(r.status == 401);
    CHECK(r.json().at("error").contains("code"));
    CHECK(answers_ping(a1));
    CHECK(answers_ping(a2));
  }
  SECTION("with the API key every connection of the user closes with 4001") {
    const http_response r = http_request(srv.port(), "POST", "/api/users/alice/disconnect",
                                         {{"Authorization", "Bearer admin-key"}});
    CHECK(r.status == 200);
    for (rtev_client* c : {&a1, &a2}) {
      const ws_message closed = c->wait_close();
      CHECK(closed.type == ws_message::kind::close);
      CHECK(closed.close_code == 4001);
    }
    observer.next_where([](const json& m) {
      return type_of(m) == "user_offline" && m.at("data").at("user_id") == "alice";
    });
    const json info =
        http_get(srv.port(), "/api/users/alice", {{"Authorization", "Bearer admin-key"}}).json();
    CHECK(info.at("connected") == false);
    CHECK(answers_ping(bob));
  }
}

TEST_CASE("max_connections_refuses_further_upgrades_with_503", "[server][ws][limits]") {
  auto cfg = test_config();
  cfg.max_connections = 2;
  local_server srv(cfg);
  auto a = rtev_client::connect_as(srv.port(), "a");
  auto b = rtev_client::connect_as(srv.port(), "b");
  ws_client third(srv.port());
  CHECK(third.status() == 503);
  CHECK_FALSE(third.open());
  // Plain HTTP is not a connection: it is still served.
  CHECK(http_get(srv.port(), "/health").status == 200);
  CHECK(answers_ping(a));
  CHECK(answers_ping(b));
}

TEST_CASE("stopping_the_server_closes_every_client_with_1001", "[server][ws][shutdown]") {
  local_server srv;
  auto a = rtev_client::connect_as(srv.port(), "a");
  rtev_client b(srv.port());
  b.authenticated();
  const auto start = steady::now();
  // stop() waits for the clients' close replies: they read meanwhile, as real clients do.
  std::thread stopper([&] { srv.stop(); });
  for (rtev_client* c : {&a, &b}) {
    const ws_message closed = c->wait_close();
    CHECK(closed.type == ws_message::kind::close);
    CHECK(closed.close_code == 1001);
  }
  stopper.join();
  CHECK(steady::now() - start < std::chrono::seconds(2));
}
