// rtev::client with wire_protocol::socketio against a real Node `socket.io` server
// (tests/sdk/socketio_test_server.js, packages pinned in tests/interop) spawned per test on
// 127.0.0.1 and waited for by its "LISTENING <port>" line: long-polling with the upgrade,
// WebSocket only, polling only, namespaces and the auth payload, emits with and without acks,
// events with any number of arguments, rooms and publish acks, auth_error, heartbeats and
// reconnecting after the server restarts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "rtev/client.hpp"
#include "tests/sdk/client_recorder.hpp"
#include "tests/sdk/node_server.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/tcp_proxy.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using nlohmann::json;
using rtev::client_state;
using rtev::test::default_timeout;
using rtev::test::millis;
using rtev::test::recorder;

namespace {

// The Socket.IO test server, ready once it prints LISTENING.
class sio_server : public rtev::test::node_server {
 public:
  explicit sio_server(std::vector<std::string> args)
      : node_server(RTEV_SIO_TEST_SERVER, std::move(args)) {}
};

rtev::client_options sio_options(const std::string& url) {
  rtev::client_options o;
  o.url = url;
  o.protocol = rtev::wire_protocol::socketio;
  o.backoff = rtev::backoff_policy::fixed(50ms);
  o.connect_timeout = 5s;
  return o;
}

// What a test watches on a client: states, events, errors, raw packets.
struct watched {
  explicit watched(rtev::client& c) : client(c) {
    subs.push_back(c.on_state([this](const rtev::state_info& s) { states.add(s); }));
    subs.push_back(c.on("*", [this](const rtev::event& e) { events.add(e); }));
    subs.push_back(c.on_joined([this](const rtev::join_info& j) { joins.add(j); }));
    c.on_error([this](const rtev::client_error& e) { errors.add(e); });
  }
  std::optional<rtev::event> wait_event(const std::string& type, millis t = default_timeout) {
    std::optional<rtev::event> found;
    events.wait(
        [&](const std::vector<rtev::event>& es) {
          for (const auto& e : es)
            if (e.type == type) {
              found = e;
              return true;
            }
          return false;
        },
        t);
    return found;
  }
  std::optional<rtev::state_info> wait_state(client_state s, std::size_t nth = 1,
                                             millis t = default_timeout) {
    std::optional<rtev::state_info> found;
    states.wait(
        [&](const std::vector<rtev::state_info>& ss) {
          std::size_t seen = 0;
          for (const auto& x : ss)
            if (x.state == s && ++seen == nth) {
              found = x;
              return true;
            }
          return false;
        },
        t);
    return found;
  }
  // The error handler is not a subscription: stop the client before the recorders go.
  ~watched() { client.stop(); }
  watched(const watched&) = delete;
  watched& operator=(const watched&) = delete;

  rtev::client& client;
  recorder<rtev::state_info> states;
  recorder<rtev::event> events;
  recorder<rtev::join_info> joins;
  recorder<rtev::client_error> errors;
  std::vector<rtev::subscription> subs;
};

// emit() with an ack, waited for: the ack's arguments (throws on an error). Values, not
// exceptions, cross the threads: TSan cannot see libstdc++'s exception_ptr reference counts.
json emit_ack(rtev::client& c, const std::string& name, json args = json::array()) {
  auto p = std::make_shared<std::promise<std::pair<json, std::string>>>();
  auto f = p->get_future();
  c.emit(name, std::move(args), [p](const json* a, const rtev::client_error* e) {
    p->set_value(a ? std::make_pair(*a, std::string()) : std::make_pair(json(), e->message));
  });
  if (f.wait_for(default_timeout) != std::future_status::ready)
    throw std::runtime_error("no ack for '" + name + "'");
  auto [ack, error] = f.get();
  if (!error.empty()) throw std::runtime_error(error);
  return ack;
}

// publish() with a callback, waited for: the ack or the error, as values (see emit_ack).
std::pair<std::optional<rtev::publish_ack>, std::optional<rtev::client_error>> publish_wait(
    rtev::client& c, const std::string& room, const std::string& type, json data) {
  using result = std::pair<std::optional<rtev::publish_ack>, std::optional<rtev::client_error>>;
  auto p = std::make_shared<std::promise<result>>();
  auto f = p->get_future();
  c.publish(room, type, std::move(data),
            [p](const rtev::publish_ack* a, const rtev::client_error* e) {
              result r;
              if (a) r.first = *a;
              if (e) r.second = *e;
              p->set_value(std::move(r));
            });
  if (f.wait_for(default_timeout) != std::future_status::ready)
    throw std::runtime_error("no answer to the publish");
  return f.get();
}

}  // namespace

TEST_CASE("socketio_client_polls_then_upgrades_to_websocket", "[sdk][socketio]") {
  sio_server server({});
  auto o = sio_options(server.url());
  o.token = "tok";
  o.headers = {{"X-Test", "yes"}};
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);

  SECTION("the upgrade happens and the session carries on over the WebSocket") {
    auto up = w.wait_event("upgraded");
    REQUIRE(up);
    CHECK(up->data["transport"] == "websocket");
    json who = emit_ack(c, "whoami");
    REQUIRE(who.size() == 1);
    CHECK(who[0]["transport"] == "websocket");
    CHECK(who[0]["nsp"] == "/");
  }
  SECTION("the token goes in the auth payload and every request carries the headers") {
    json who = emit_ack(c, "whoami")[0];
    CHECK(who["auth"] == json{{"token", "tok"}});
    CHECK(who["authorization"] == "Bearer tok");
    CHECK(who["x_test"] == "yes");
    CHECK(who["query"]["EIO"] == "4");
  }
}

TEST_CASE("socketio_client_websocket_only", "[sdk][socketio]") {
  sio_server server({"--websocket-only"});
  auto o = sio_options("ws://127.0.0.1:" + std::to_string(server.port()));
  o.socketio.websocket_only = true;
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
  json who = emit_ack(c, "whoami")[0];
  CHECK(who["transport"] == "websocket");
  CHECK(who["auth"] == json::object());
  CHECK(who["authorization"].is_null());
}

TEST_CASE("socketio_client_stays_on_polling_when_the_server_cannot_upgrade", "[sdk][socketio]") {
  sio_server server({"--no-upgrade"});
  rtev::client c(sio_options(server.url()));
  watched w(c);
  c.start();
  REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
  json who = emit_ack(c, "whoami")[0];
  CHECK(who["transport"] == "polling");
  SECTION("acks and server events travel over long-polling") {
    CHECK(emit_ack(c, "echo", json::array({1, "two"})) == json::array({1, "two"}));
    c.emit("shout", json{{"n", 1}});
    auto e = w.wait_event("args");
    REQUIRE(e);
    CHECK(e->data == json{{"k", "first"}});
  }
}

TEST_CASE("socketio_client_namespaces_and_auth_payload", "[sdk][socketio]") {
  sio_server server({});
  SECTION("the auth payload opens a protected namespace") {
    auto o = sio_options(server.url());
    o.socketio.nsp = "/admin";
    o.socketio.auth = {{"token", "secret"}, {"extra", 1}};
    rtev::client c(o);
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    json who = emit_ack(c, "whoami")[0];
    CHECK(who["nsp"] == "/admin");
    CHECK(who["auth"] == json{{"token", "secret"}, {"extra", 1}});
  }
  SECTION("a path in the URL is the namespace") {
    auto o = sio_options(server.url("/admin"));
    o.token = "secret";
    rtev::client c(o);
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    CHECK(emit_ack(c, "whoami")[0]["nsp"] == "/admin");
  }
  SECTION("the Engine.IO path in the URL is not a namespace") {
    rtev::client c(sio_options(server.url("/socket.io/")));
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    CHECK(emit_ack(c, "whoami")[0]["nsp"] == "/");
  }
  SECTION("connect_error closes the client as an authentication failure") {
    auto o = sio_options(server.url());
    o.socketio.nsp = "/admin";
    o.socketio.auth = {{"token", "wrong"}};
    rtev::client c(o);
    c.start();
    auto closed = c.closed();
    REQUIRE(closed.wait_for(default_timeout) == std::future_status::ready);
    CHECK(closed.get().auth_failed);
    CHECK_THAT(closed.get().reason, Contains("not authorized"));
  }
  SECTION("an unknown namespace closes the client, without blaming credentials") {
    auto o = sio_options(server.url());
    o.socketio.nsp = "/nope";
    rtev::client c(o);
    c.start();
    auto closed = c.closed();
    REQUIRE(closed.wait_for(default_timeout) == std::future_status::ready);
    CHECK_FALSE(closed.get().auth_failed);
    CHECK_THAT(closed.get().reason, Contains("Invalid namespace"));
    CHECK_THAT(closed.get().reason, Contains("/nope"));
  }
}

TEST_CASE("socketio_client_emits_with_and_without_acks", "[sdk][socketio]") {
  sio_server server({});
  auto o = sio_options(server.url());
  o.socketio.emits = {{"authenticate", {{"token", "good"}}}, {"hello", json::array({1, 2})}};
  o.rooms = {"lobby"};
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);

  SECTION("configured emits go first, in order, each asking for an ack, then the rooms") {
    auto auth = w.wait_event("authenticated");
    REQUIRE(auth);
    CHECK(auth->data["userId"] == "u1");
    server.wait_line("GOT / authenticate [{\"token\":\"good\"},\"<ack>\"]");
    server.wait_line("GOT / hello [1,2,\"<ack>\"]");
    server.wait_line("GOT / join [{\"room\":\"lobby\"}");
  }
  SECTION("an ack returns the server's arguments, any number of them") {
    CHECK(emit_ack(c, "echo", json::array({1, "two", {{"three", 3}}})) ==
          json::array({1, "two", {{"three", 3}}}));
    CHECK(emit_ack(c, "echo", json::array()) == json::array());
    CHECK(emit_ack(c, "echo", "one value") == json::array({"one value"}));
  }
  SECTION("without an ack the event is simply sent") {
    c.emit("note", json::array({"a", 2}));
    server.wait_line("GOT / note [\"a\",2]");
  }
  SECTION("reserved names are refused") {
    CHECK_THROWS_WITH(emit_ack(c, "disconnect"), Contains("reserved"));
  }
  SECTION("the server's own acks requests are answered") {
    c.emit("ask", json::array());
    auto e = w.wait_event("answered");
    REQUIRE(e);
    CHECK(e->data == json::array());  // our answer: an ack with no arguments
  }
  SECTION("raw packets are sent as they are") {
    c.send_raw("2[\"raw\",{\"x\":1}]");
    server.wait_line("GOT / raw [{\"x\":1}]");
  }
}

TEST_CASE("socketio_client_receives_events_with_any_number_of_arguments", "[sdk][socketio]") {
  sio_server server({});
  rtev::client c(sio_options(server.url()));
  watched w(c);
  c.start();
  REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
  for (int n = 0; n <= 4; ++n) c.emit("shout", json{{"n", n}});
  REQUIRE(w.events.wait([](const std::vector<rtev::event>& es) {
    return std::count_if(es.begin(), es.end(), [](auto& e) { return e.type == "args"; }) == 5;
  }));
  std::vector<rtev::event> got;
  for (auto& e : w.events.values())
    if (e.type == "args") got.push_back(e);
  // Packets arrive in order on one session.
  CHECK(got[0].data.is_null());
  CHECK(got[1].data == json{{"k", "first"}});
  CHECK_FALSE(got[1].extra.contains("args"));
  CHECK(got[2].data == json{{"k", "first"}});
  CHECK(got[2].extra["args"] == json::array({"second"}));
  CHECK(got[3].extra["args"] == json::array({"second", 3}));
  CHECK(got[4].extra["args"] == json::array({"second", 3, {{"fourth", true}}}));
  for (auto& e : got) {
    CHECK(e.timezone == "UTC");
    CHECK_FALSE(e.timestamp.empty());
    CHECK_FALSE(e.filled_in.empty());
  }
}

TEST_CASE("socketio_client_rooms_publish_and_unsupported_requests", "[sdk][socketio]") {
  sio_server server({});
  auto o = sio_options(server.url());
  o.rooms = {"lobby"};
  o.socketio.publish_event = "publish";  // this server takes rtev-style envelopes
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
  REQUIRE(w.joins.wait_size(1));
  CHECK(w.joins.values()[0].room == "lobby");

  SECTION("publish waits for the server's ack and the event comes back with its meta") {
    auto ack = c.publish("lobby", "chat", {{"text", "hi"}});
    REQUIRE(ack.wait_for(default_timeout) == std::future_status::ready);
    const auto a = ack.get();
    CHECK(a.seq > 0);
    auto e = w.wait_event("chat");
    REQUIRE(e);
    CHECK(e->data == json{{"text", "hi"}});
    CHECK(e->room == std::optional<std::string>("lobby"));
    CHECK(e->seq == std::optional<std::uint64_t>(a.seq));
    CHECK(e->id == std::optional<std::string>(a.id));
  }
  SECTION("an error in the ack fails the publish") {
    auto [ack, err] = publish_wait(c, "forbidden", "chat", {{"text", "hi"}});
    CHECK_FALSE(ack);
    REQUIRE(err);
    CHECK(err->code == "forbidden");
    CHECK_THAT(err->message, Contains("no publishing there"));
  }
  SECTION("typing and leaving are emitted") {
    c.typing("lobby", true);
    server.wait_line("GOT / typing [{\"is_typing\":true,\"room\":\"lobby\"}]");
    c.leave("lobby");
    server.wait_line("GOT / leave [{\"room\":\"lobby\"}]");
  }
  SECTION("history and ping are not available") {
    auto h = c.history("lobby");
    auto p = c.ping();
    REQUIRE(h.wait_for(default_timeout) == std::future_status::ready);
    REQUIRE(p.wait_for(default_timeout) == std::future_status::ready);
    // The service thread holds the promises until it ends: stop it before the exceptions are
    // looked at (their reference counts are invisible to TSan).
    c.stop();
    try {
      h.get();
      FAIL("history should have failed");
    } catch (const rtev::request_error& e) {
      CHECK(e.detail.code == "unsupported");
    }
    CHECK_THROWS_AS(p.get(), rtev::request_error);
  }
}

TEST_CASE("socketio_client_publishes_the_event_type_itself_to_other_servers", "[sdk][socketio]") {
  sio_server server({});
  auto o = sio_options(server.url());
  o.socketio.publish_ack_wait = 300ms;
  SECTION("by default: the server is not rtev serve") {
    rtev::client c(o);
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    SECTION("a server that acknowledges it completes the publish with its ack") {
      auto [ack, err] = publish_wait(c, "lobby", "acked_message", {{"text", "hi"}});
      REQUIRE(ack);
      CHECK(ack->acknowledged);
      CHECK(ack->id == "srv-1");
      server.wait_line("GOT / acked_message [{\"text\":\"hi\"},\"<ack>\"]");
    }
    SECTION("a server that never acknowledges: done publish_ack_wait after it was written") {
      const auto t0 = std::chrono::steady_clock::now();
      auto [ack, err] = publish_wait(c, "lobby", "chat_message", {{"text", "hi"}});
      const auto took = std::chrono::steady_clock::now() - t0;
      REQUIRE(ack);
      CHECK_FALSE(ack->acknowledged);
      CHECK(ack->seq == 0);
      CHECK(took >= 300ms);
      server.wait_line("GOT / chat_message [{\"text\":\"hi\"},\"<ack>\"]");
    }
    SECTION("an ack with an error fails the publish") {
      auto [ack, err] = publish_wait(c, "lobby", "refused_message", {{"text", "hi"}});
      CHECK_FALSE(ack);
      REQUIRE(err);
      CHECK(err->code == "forbidden");
      CHECK(err->op == "PUBLISH");
      CHECK_THAT(err->message, Contains("not here"));
    }
    SECTION("a reserved name is not emitted") {
      auto [ack, err] = publish_wait(c, "lobby", "disconnect", json::object());
      REQUIRE(err);
      CHECK_THAT(err->message, Contains("reserved"));
    }
  }
  SECTION("publish_event empty does the same") {
    o.socketio.publish_event = "";
    rtev::client c(o);
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    auto [ack, err] = publish_wait(c, "lobby", "acked_message", {{"n", 1}});
    REQUIRE(ack);
    CHECK(ack->acknowledged);
    server.wait_line("GOT / acked_message [{\"n\":1},\"<ack>\"]");
  }
  SECTION("a named publish_event carries the envelope instead") {
    o.socketio.publish_event = "publish";
    rtev::client c(o);
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    auto [ack, err] = publish_wait(c, "lobby", "chat_message", {{"text", "hi"}});
    REQUIRE(ack);
    CHECK(ack->seq > 0);
    server.wait_line("GOT / publish [{\"data\":{\"text\":\"hi\"}");
  }
  SECTION("reserved event names are configuration errors") {
    o.socketio.join_event = "connect";
    CHECK_THROWS_AS(rtev::client(o), rtev::config_error);
  }
}

TEST_CASE("socketio_client_holds_requests_until_the_emits_are_answered", "[sdk][socketio]") {
  sio_server server({});
  auto o = sio_options(server.url("/strict"));
  o.rooms = {"lobby"};
  SECTION("the server's `authenticated` event, after an asynchronous authentication") {
    o.socketio.emits = {{"authenticate", {{"token", "good"}}}};
  }
  SECTION("the emit's acknowledgement") {
    o.socketio.emits = {{"authenticate", {{"token", "good"}, {"answer", "ack"}}}};
  }
  SECTION("a reply event named by emit_reply") {
    o.socketio.emits = {{"authenticate", {{"token", "good"}, {"answer", "custom"}}}};
    o.socketio.emit_reply = "auth_ok";
  }
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(w.joins.wait_size(1));
  CHECK(w.joins.values()[0].room == "lobby");
  CHECK(w.errors.values().empty());
  // The join went out after the server was done authenticating, not with the emit.
  server.wait_line("AUTHED /strict");
  CHECK(std::none_of(server.lines().begin(), server.lines().end(),
                     [](const std::string& l) { return l.rfind("GOT /strict join", 0) == 0; }));
  server.wait_line("GOT /strict join");
}

TEST_CASE("socketio_client_sends_the_rest_when_the_emits_go_unanswered", "[sdk][socketio]") {
  sio_server server({});
  auto o = sio_options(server.url("/strict"));
  o.rooms = {"lobby"};
  o.socketio.emits = {{"authenticate", {{"token", "good"}, {"answer", "none"}}}};
  o.socketio.emit_reply_wait = 400ms;
  rtev::client c(o);
  watched w(c);
  const auto t0 = std::chrono::steady_clock::now();
  c.start();
  REQUIRE(w.joins.wait_size(1));
  CHECK(std::chrono::steady_clock::now() - t0 >= 400ms);
  REQUIRE(w.errors.wait_size(1));
  CHECK_THAT(w.errors.values()[0].message, Contains("no answer to 'authenticate' within 400 ms"));
}

TEST_CASE("socketio_client_reports_a_refused_join", "[sdk][socketio]") {
  sio_server server({});
  auto o = sio_options(server.url("/strict"));
  o.rooms = {"lobby"};  // no authenticate emit: the server refuses the join
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(w.errors.wait_size(1));
  const auto err = w.errors.values()[0];
  CHECK(err.what == rtev::client_error::kind::server);
  CHECK(err.op == "SUBSCRIBE");
  CHECK(err.code == "not_authenticated");
  CHECK_THAT(err.message, Contains("cannot join 'lobby': authenticate first"));
}

TEST_CASE("socketio_client_auth_error_event_is_an_authentication_failure", "[sdk][socketio]") {
  sio_server server({});
  auto o = sio_options(server.url());
  o.socketio.emits = {{"authenticate", {{"token", "bad"}}}};
  rtev::client c(o);
  watched w(c);
  c.start();
  auto closed = c.closed();
  REQUIRE(closed.wait_for(default_timeout) == std::future_status::ready);
  CHECK(closed.get().auth_failed);
  CHECK_THAT(closed.get().reason, Contains("bad token"));
  auto e = w.wait_event("auth_error", 1s);
  REQUIRE(e);
  CHECK(e->data["message"] == "bad token");
}

TEST_CASE("socketio_client_reconnects", "[sdk][socketio]") {
  SECTION("after the server restarts on the same port, rooms are joined again") {
    auto server = std::make_unique<sio_server>(std::vector<std::string>{});
    const std::uint16_t port = server->port();
    auto o = sio_options(server->url());
    o.rooms = {"lobby"};
    rtev::client c(o);
    watched w(c);
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    REQUIRE(w.joins.wait_size(1));
    server.reset();
    REQUIRE(w.wait_state(client_state::reconnecting));
    server = std::make_unique<sio_server>(std::vector<std::string>{"--port", std::to_string(port)});
    REQUIRE(w.wait_state(client_state::connected, 2));
    REQUIRE(w.joins.wait_size(2));
    CHECK(emit_ack(c, "echo", json::array({"back"})) == json::array({"back"}));
  }
  SECTION("after the server disconnects the socket") {
    sio_server server({"--websocket-only"});
    auto o = sio_options(server.url());
    o.socketio.websocket_only = true;
    rtev::client c(o);
    watched w(c);
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    c.emit("kick", json::array());
    auto r = w.wait_state(client_state::reconnecting);
    REQUIRE(r);
    CHECK_THAT(r->reason, Contains("disconnected by the server"));
    REQUIRE(w.wait_state(client_state::connected, 2));
  }
  SECTION("when the server stops pinging") {
    sio_server server({"--silent-pings", "--ping-interval", "200", "--ping-timeout", "200"});
    rtev::client c(sio_options(server.url()));
    watched w(c);
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    auto r = w.wait_state(client_state::reconnecting);
    REQUIRE(r);
    CHECK_THAT(r->reason, Contains("no ping from the server within 400 ms"));
  }
  SECTION("an ack pending when the connection drops fails with kind connection") {
    sio_server server({"--websocket-only"});
    auto o = sio_options(server.url());
    o.socketio.websocket_only = true;
    rtev::client c(o);
    c.start();
    REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
    auto p = std::make_shared<std::promise<rtev::client_error>>();
    c.emit("never_acked", json::array(), [p](const json*, const rtev::client_error* e) {
      p->set_value(e ? *e : rtev::client_error{});
    });
    server.wait_line("GOT / never_acked");
    server.stop();
    auto f = p->get_future();
    REQUIRE(f.wait_for(default_timeout) == std::future_status::ready);
    CHECK(f.get().what == rtev::client_error::kind::connection);
  }
}

// --- against rtev serve's own /socket.io/ door (in-process) ------------------------------------

TEST_CASE("socketio_client_against_rtev_serve", "[sdk][socketio][server]") {
  auto cfg = rtev::test::test_config();
  cfg.auth = "token";
  rtev::test::local_server srv(cfg);
  const bool websocket_only = GENERATE(false, true);
  auto o = sio_options("http://127.0.0.1:" + std::to_string(srv.port()));
  o.socketio.websocket_only = websocket_only;
  o.rooms = {"lobby"};

  SECTION("the token in the auth payload authenticates; rooms, publish and events work") {
    o.token = "alice";
    rtev::client c(o);
    watched w(c);
    c.start();
    auto up = w.wait_state(client_state::connected);
    REQUIRE(up);
    CHECK(up->user_id == "alice");
    // The user's own room (joined for recovery), then the configured one.
    REQUIRE(w.joins.wait([](const std::vector<rtev::join_info>& js) {
      return std::any_of(js.begin(), js.end(), [](auto& j) { return j.room == "lobby"; }) &&
             std::any_of(js.begin(), js.end(), [](auto& j) { return j.room == "user:alice"; });
    }));
    auto ack = c.publish("lobby", "chat", {{"text", "hi"}});
    REQUIRE(ack.wait_for(default_timeout) == std::future_status::ready);
    const auto a = ack.get();
    CHECK(a.seq > 0);
    auto e = w.wait_event("chat");
    REQUIRE(e);
    CHECK(e->data == json{{"text", "hi"}});
    CHECK(e->room == std::optional<std::string>("lobby"));
    CHECK(e->seq == std::optional<std::uint64_t>(a.seq));
    CHECK(e->id == std::optional<std::string>(a.id));
  }
  SECTION("the authenticate event, emitted before the rooms are joined, authenticates") {
    o.socketio.emits = {{"authenticate", {{"token", "bob"}}}};
    rtev::client c(o);
    watched w(c);
    c.start();
    auto auth = w.wait_event("authenticated");
    REQUIRE(auth);
    CHECK(auth->data["userId"] == "bob");
    REQUIRE(w.joins.wait([](const std::vector<rtev::join_info>& js) {
      return std::any_of(js.begin(), js.end(), [](auto& j) { return j.room == "lobby"; });
    }));
    auto ack = c.publish("lobby", "chat", {{"text", "from bob"}});
    REQUIRE(ack.wait_for(default_timeout) == std::future_status::ready);
    CHECK(ack.get().seq > 0);
  }
}

TEST_CASE("socketio_client_recovers_missed_events_from_rtev_serve", "[sdk][socketio][server]") {
  auto cfg = rtev::test::test_config();
  cfg.auth = "token";
  rtev::test::local_server srv(cfg);
  rtev::test::tcp_proxy proxy(srv.port());
  auto o = sio_options("http://127.0.0.1:" + std::to_string(proxy.port()));
  o.socketio.websocket_only = GENERATE(false, true);
  o.token = "alice";
  o.rooms = {"lobby"};
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(w.joins.wait([](const std::vector<rtev::join_info>& js) {
    return std::any_of(js.begin(), js.end(), [](auto& j) { return j.room == "lobby"; });
  }));

  rtev::client_options po;
  po.url = srv.get().url();
  po.token = "publisher";
  rtev::client pub(po);
  pub.start();
  REQUIRE(pub.connected().wait_for(default_timeout) == std::future_status::ready);
  auto publish = [&](int n) {
    auto f = pub.publish("lobby", "tick", {{"n", n}});
    REQUIRE(f.wait_for(default_timeout) == std::future_status::ready);
    f.get();
  };
  // From the recorder's values (its wait() predicate runs under its lock: no values() there).
  auto ticks_in = [](const std::vector<rtev::event>& es) {
    std::vector<int> ns;
    for (auto& e : es)
      if (e.type == "tick") ns.push_back(e.data["n"].get<int>());
    return ns;
  };
  auto ticks = [&] { return ticks_in(w.events.values()); };

  publish(1);
  REQUIRE(w.events.wait([&](auto& es) { return ticks_in(es).size() == 1; }));
  // Cut the link and hold reconnects while two events are published, then let them through.
  proxy.freeze();
  proxy.cut();
  REQUIRE(w.wait_state(client_state::reconnecting));
  publish(2);
  publish(3);
  proxy.thaw();
  REQUIRE(w.wait_state(client_state::connected, 2));
  REQUIRE(w.events.wait([&](auto& es) { return ticks_in(es).size() >= 3; }));
  // A sentinel published after the reconnect: everything before it has arrived.
  publish(4);
  REQUIRE(w.events.wait([&](auto& es) { return ticks_in(es).size() >= 4; }));
  CHECK(ticks() == std::vector<int>{1, 2, 3, 4});
}

// The lws toolkit's caps hold over Socket.IO too: a WebSocket message over max_message_bytes
// closes the connection with 1009, a long-polling response far over it is refused; either way
// the attempt ends with a reason that says so, the request waiting on it fails, and the client
// reconnects.
TEST_CASE("socketio_client_refuses_a_message_over_max_message_bytes", "[sdk][socketio]") {
  const bool websocket = GENERATE(true, false);
  CAPTURE(websocket);
  sio_server server({websocket ? "--websocket-only" : "--no-upgrade"});
  auto o = sio_options(server.url());
  o.socketio.websocket_only = websocket;
  o.max_message_bytes = 2000;
  rtev::client c(o);
  watched w(c);
  c.start();
  REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
  CHECK(emit_ack(c, "echo", json::array({std::string(1000, 'a')}))[0].get<std::string>().size() ==
        1000);
  const std::string big(websocket ? 5000 : 200000, 'b');
  CHECK_THROWS_WITH(emit_ack(c, "echo", json::array({big})), Contains("larger than"));
  auto down = w.wait_state(client_state::reconnecting);
  REQUIRE(down);
  CHECK_THAT(down->reason, Contains("larger than"));
  REQUIRE(w.wait_state(client_state::connected, 2));
  CHECK(emit_ack(c, "whoami")[0]["transport"] == (websocket ? "websocket" : "polling"));
}
