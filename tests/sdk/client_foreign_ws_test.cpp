// rtev::client (protocol rtev) against a WebSocket server that does not speak rtev's protocol:
// tests/interop/foreign_ws_server.js, a FastAPI-style Node `ws` server that pushes
// {type, timestamp (naive), timezone, data}, answers unknown messages with {"type":"error"} and
// never sends `authenticated`. The client must tell it from rtev serve (by its first message, or
// its silence), count as connected, read it leniently, keep the URL's query on reconnects, and
// still treat rtev serve as rtev serve.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "rtev/client.hpp"
#include "rtev/time.hpp"
#include "tests/sdk/client_recorder.hpp"
#include "tests/sdk/node_server.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using nlohmann::json;
using rtev::client_state;
using rtev::test::default_timeout;
using rtev::test::millis;
using rtev::test::recorder;

namespace {

class ws_server : public rtev::test::node_server {
 public:
  explicit ws_server(std::vector<std::string> args = {})
      : node_server(RTEV_FOREIGN_WS_SERVER, std::move(args)) {}
  std::string endpoint(const std::string& token = "u1") const {
    return ws_url("/events/ws/connect?token=" + token);
  }
  // Sends `payload` (JSON) to every connection through the server's test control.
  void emit(const json& payload) {
    auto r = rtev::test::http_post_json(port(), "/emit", json{{"payload", payload}}.dump());
    REQUIRE(r.status == 200);
  }
  void emit_text(const std::string& text) {
    auto r = rtev::test::http_post_json(port(), "/emit", json{{"text", text}}.dump());
    REQUIRE(r.status == 200);
  }
  void drop() { REQUIRE(rtev::test::http_post_json(port(), "/drop", "{}").status == 200); }
};

rtev::client_options options(const std::string& url) {
  rtev::client_options o;
  o.url = url;
  o.backoff = rtev::backoff_policy::fixed(50ms);
  o.connect_timeout = 5s;
  return o;
}

struct watched {
  explicit watched(rtev::client& c) : client(c) {
    subs.push_back(c.on_state([this](const rtev::state_info& s) { states.add(s); }));
    subs.push_back(c.on("*", [this](const rtev::event& e) { events.add(e); }));
    subs.push_back(c.on_joined([this](const rtev::join_info& j) { joins.add(j); }));
    subs.push_back(c.on_raw([this](const std::string& t) { raw.add(t); }));
    c.on_error([this](const rtev::client_error& e) { errors.add(e); });
  }
  ~watched() { client.stop(); }
  watched(const watched&) = delete;
  watched& operator=(const watched&) = delete;

  std::optional<rtev::event> wait_event(const std::string& type) {
    std::optional<rtev::event> found;
    events.wait([&](const std::vector<rtev::event>& es) {
      for (const auto& e : es)
        if (e.type == type) found = e;
      return found.has_value();
    });
    return found;
  }
  std::optional<rtev::state_info> wait_state(client_state s, std::size_t nth = 1) {
    std::optional<rtev::state_info> found;
    states.wait([&](const std::vector<rtev::state_info>& ss) {
      std::size_t seen = 0;
      for (const auto& x : ss)
        if (x.state == s && ++seen == nth) {
          found = x;
          return true;
        }
      return false;
    });
    return found;
  }

  rtev::client& client;
  recorder<rtev::state_info> states;
  recorder<rtev::event> events;
  recorder<rtev::join_info> joins;
  recorder<std::string> raw;
  recorder<rtev::client_error> errors;
  std::vector<rtev::subscription> subs;
};

}  // namespace

TEST_CASE("client_reads_a_foreign_websocket_server_from_its_first_message",
          "[sdk][client][foreign]") {
  ws_server server;
  auto o = options(server.endpoint());
  o.foreign_wait = 5s;  // the greeting decides, long before this
  o.rooms = {"*"};
  rtev::client c(o);
  watched w(c);
  const auto t0 = std::chrono::steady_clock::now();
  c.start();
  REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  auto up = w.wait_state(client_state::connected);
  REQUIRE(up);
  CHECK(up->foreign);
  CHECK_THAT(up->reason, Contains("first message is not `authenticated`"));

  SECTION("the greeting is an event, its naive timestamp read in its own zone") {
    auto hello = w.wait_event("connection_established");
    REQUIRE(hello);
    CHECK(hello->timestamp == "2024-01-15T10:30:45.123456");
    CHECK(hello->timezone == "Asia/Kolkata");
    CHECK(hello->data == json{{"user_id", "u1"}});
    CHECK_FALSE(hello->id);
    CHECK_FALSE(hello->seq);
    CHECK(hello->filled_in.empty());
    // 10:30:45 in Kolkata (+05:30) is 05:00:45 UTC.
    CHECK(rtev::time::format_rfc3339(hello->time(), "UTC") == "2024-01-15T05:00:45.123456+00:00");
  }
  SECTION("what a message lacks is filled in and said") {
    server.emit({{"type", "x"}, {"data", json::object()}});
    auto x = w.wait_event("x");
    REQUIRE(x);
    CHECK(x->timezone == "UTC");
    CHECK_NOTHROW(x->time());
    CHECK(std::find(x->filled_in.begin(), x->filled_in.end(), "timezone: UTC") !=
          x->filled_in.end());
    CHECK(std::find(x->filled_in.begin(), x->filled_in.end(), "timestamp: receive time") !=
          x->filled_in.end());
    server.emit_text("not json at all");
    auto text = w.wait_event("message");
    REQUIRE(text);
    CHECK(text->data == "not json at all");
    CHECK(w.errors.values().empty());
  }
  SECTION("joins are answered by the client itself; publish and history are unsupported") {
    REQUIRE(w.joins.wait_size(1));
    CHECK(w.joins.values()[0].room == "*");
    auto pub = c.publish("lobby", "chat", {{"text", "hi"}});
    auto hist = c.history("lobby");
    REQUIRE(pub.wait_for(default_timeout) == std::future_status::ready);
    REQUIRE(hist.wait_for(default_timeout) == std::future_status::ready);
    // Nothing of rtev's protocol reached the server: the first message it got is this one.
    c.send_raw(R"({"type":"ping"})");
    server.wait_line("{\"received\"");
    CHECK(server.lines().back() == R"({"received":"{\"type\":\"ping\"}","token":"u1"})");
    c.stop();  // the service thread holds the promises until it ends (see the Socket.IO tests)
    try {
      pub.get();
      FAIL("publish should have failed");
    } catch (const rtev::request_error& e) {
      CHECK(e.detail.code == "unsupported");
      CHECK(e.detail.op == "PUBLISH");
      CHECK_THAT(e.detail.message, Contains("publishing needs rtev's protocol"));
    }
    CHECK_THROWS_AS(hist.get(), rtev::request_error);
  }
  SECTION("raw messages go out as they are and the answers come back as events") {
    c.send_raw(R"({"type":"ping"})");
    CHECK(w.wait_event("pong"));
    c.send_raw(R"({"type":"subscribe_contact","data":{"contact_id":7}})");
    auto err = w.wait_event("error");
    REQUIRE(err);
    CHECK(err->data["message"] == "Unknown message type: subscribe_contact");
    server.wait_line(R"({"received":"{\"type\":\"ping\"}","token":"u1"})");
  }
}

TEST_CASE("client_takes_a_silent_websocket_server_as_foreign_after_the_wait",
          "[sdk][client][foreign]") {
  ws_server server({"--silent"});
  auto o = options(server.endpoint());
  SECTION("foreign_wait") {
    o.foreign_wait = 300ms;
    rtev::client c(o);
    watched w(c);
    const auto t0 = std::chrono::steady_clock::now();
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
    auto up = w.wait_state(client_state::connected);
    REQUIRE(up);
    CHECK(up->foreign);
    CHECK_THAT(up->reason, Contains("sent nothing within 300 ms"));
  }
  SECTION("a connect time-out shorter than the wait: connected before it runs out") {
    o.foreign_wait = 10s;
    o.connect_timeout = 1s;
    rtev::client c(o);
    watched w(c);
    const auto t0 = std::chrono::steady_clock::now();
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
    CHECK(w.states.values().size() == 2);  // connecting, connected: no time-out in between
  }
}

TEST_CASE("client_reconnects_to_a_foreign_server_with_the_urls_query", "[sdk][client][foreign]") {
  ws_server server;
  auto o = options(server.endpoint("u1"));
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(w.wait_state(client_state::connected));
  server.wait_line(R"({"connection":"/events/ws/connect","token":"u1","query":"token=u1")");
  server.drop();
  REQUIRE(w.wait_state(client_state::reconnecting));
  auto again = w.wait_state(client_state::connected, 2);
  REQUIRE(again);
  CHECK(again->foreign);
  server.wait_line(R"({"connection":"/events/ws/connect","token":"u1","query":"token=u1")");
}

TEST_CASE("client_refused_by_a_foreign_server_closes_as_an_auth_failure",
          "[sdk][client][foreign]") {
  ws_server server;
  rtev::client c(options(server.endpoint("bad")));
  watched w(c);
  c.start();
  auto closed = c.closed();
  REQUIRE(closed.wait_for(default_timeout) == std::future_status::ready);
  CHECK(closed.get().auth_failed);
  CHECK(closed.get().http_status == 403);
}

TEST_CASE("client_still_knows_rtev_serve", "[sdk][client][foreign]") {
  SECTION("its `authenticated` comes first: not foreign, requests go to it") {
    rtev::test::local_server srv;
    auto o = options("ws://127.0.0.1:" + std::to_string(srv.port()) + "/events/ws/connect");
    o.rooms = {"lobby"};
    rtev::client c(o);
    watched w(c);
    c.start();
    auto up = w.wait_state(client_state::connected);
    REQUIRE(up);
    CHECK_FALSE(up->foreign);
    auto ack = c.publish("lobby", "chat", {{"k", 1}});
    REQUIRE(ack.wait_for(default_timeout) == std::future_status::ready);
    CHECK(ack.get().seq > 0);
  }
  SECTION("token mode without a token: silent, then auth_error — an authentication failure") {
    auto cfg = rtev::test::test_config();
    cfg.auth = "token";
    cfg.auth_timeout = 800ms;
    rtev::test::local_server srv(cfg);
    auto o = options("ws://127.0.0.1:" + std::to_string(srv.port()) + "/events/ws/connect");
    o.foreign_wait = 200ms;
    rtev::client c(o);
    watched w(c);
    c.start();
    auto closed = c.closed();
    REQUIRE(closed.wait_for(default_timeout) == std::future_status::ready);
    CHECK(closed.get().auth_failed);
    CHECK_THAT(closed.get().reason, Contains("authentication"));
  }
}

// One WebSocket toolkit (sdk/src/ws_link.hpp) for every transport: the upgrade request names
// the server as a browser would — Host with the port, Origin with its scheme.
TEST_CASE("client_upgrade_request_sends_host_with_port_and_origin_with_scheme",
          "[sdk][client][foreign]") {
  ws_server server;
  rtev::client c(options(server.endpoint("u1")));
  watched w(c);
  c.start();
  REQUIRE(w.wait_state(client_state::connected));
  const std::string authority = "127.0.0.1:" + std::to_string(server.port());
  server.wait_line(R"({"connection":"/events/ws/connect","token":"u1","query":"token=u1",)"
                   R"("protocol":"rtev.v1","host":")" +
                   authority + R"(","origin":"http://)" + authority + R"("})");
}

// A received message is put together up to max_message_bytes, never further: a larger one
// ends the connection with 1009 and a reason that says so, and the client reconnects.
TEST_CASE("client_ends_a_connection_whose_message_is_over_max_message_bytes",
          "[sdk][client][foreign]") {
  ws_server server;
  auto o = options(server.endpoint("u1"));
  o.max_message_bytes = 1000;
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(w.wait_state(client_state::connected));
  server.emit(json{{"type", "fits"}, {"data", {{"text", std::string(800, 'a')}}}});
  REQUIRE(w.wait_event("fits"));
  server.emit(json{{"type", "too_big"}, {"data", {{"text", std::string(5000, 'b')}}}});
  auto down = w.wait_state(client_state::reconnecting);
  REQUIRE(down);
  CHECK_THAT(down->reason, Contains("larger than 1000 bytes"));
  server.wait_line(R"({"closed":"u1","code":1009})");
  REQUIRE(w.wait_state(client_state::connected, 2));
  server.emit(json{{"type", "after"}, {"data", json::object()}});
  REQUIRE(w.wait_event("after"));
  for (const auto& e : w.events.values()) CHECK(e.type != "too_big");
}
