// rtev::room_subscription (client.subscribe(room)): its states (subscribing → subscribed →
// unsubscribed, and back to subscribing while the connection is down), the first-join future,
// handlers scoped to its room, its own `since`, refusal, rooms held by several objects and by
// join(), and an object that outlives its client. Real rtev::server in-process.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "rtev/client.hpp"
#include "tests/sdk/client_recorder.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"
#include "tests/support/tcp_proxy.hpp"

using namespace std::chrono_literals;
using rtev::room_state;
using rtev::test::default_timeout;
using rtev::test::is_ready;
using rtev::test::options_for;
using rtev::test::recorder;
using json = nlohmann::json;

namespace {

json note(const std::string& room, int n) {
  return {{"type", "note"}, {"room", room}, {"data", {{"n", n}}}};
}

bool has_state(const recorder<rtev::room_state_info>& r, room_state s, std::size_t times = 1) {
  return r.wait([&](const std::vector<rtev::room_state_info>& v) {
    return static_cast<std::size_t>(std::count_if(
               v.begin(), v.end(), [&](const auto& i) { return i.state == s; })) >= times;
  });
}

}  // namespace

TEST_CASE("room_subscription_has_its_own_state_first_join_and_scoped_handlers",
          "[sdk][client][rooms]") {
  rtev::test::local_server srv;
  // What the handlers touch: declared before the client, so the service thread has
  // ended before they go.
  recorder<std::string> everything;  // client-wide: "room n"
  recorder<rtev::room_state_info> a_states;
  recorder<int> a_events;
  recorder<rtev::join_info> a_joins;
  rtev::client c(options_for(srv.get().url()));
  auto all = c.on("note", [&](const rtev::event& e) {
    everything.add(e.room.value_or("") + " " + std::to_string(e.data.value("n", 0)));
  });
  c.start();
  c.connected().get();

  auto a = c.subscribe("a");
  auto s1 = a.on_state([&](const rtev::room_state_info& i) { a_states.add(i); });
  auto s2 = a.on("*", [&](const rtev::event& e) { a_events.add(e.data.value("n", 0)); });
  auto s3 = a.on_joined([&](const rtev::join_info& j) { a_joins.add(j); });
  CHECK(a.room() == "a");
  const rtev::join_info first = a.joined().get();
  CHECK(first.room == "a");
  CHECK(a.state() == room_state::subscribed);
  REQUIRE(has_state(a_states, room_state::subscribed));
  auto b = c.subscribe("b");
  b.joined().get();

  rtev::test::publish_http(srv.port(), note("b", 1));
  rtev::test::publish_http(srv.port(), note("a", 2));
  REQUIRE(everything.wait_size(2));
  REQUIRE(a_events.wait_size(1));
  CHECK(a_events.values() == std::vector<int>{2});  // not b's
  REQUIRE(a_joins.wait_size(1));
  CHECK(a_joins.values()[0].room == "a");

  // Unsubscribed: nothing of its handlers runs again, and the client left the room.
  a.unsubscribe();
  CHECK(a.state() == room_state::unsubscribed);
  CHECK(a.room() == "a");
  CHECK(a.joined().get().room == "a");  // the first join stays known
  // The UNSUBSCRIBE goes out on the service thread; a round trip after it says the server has
  // taken it (frames are handled in order).
  c.ping().get();
  rtev::test::publish_http(srv.port(), note("a", 3));
  rtev::test::publish_http(srv.port(), note("b", 4));
  REQUIRE(everything.wait([](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), "b 4") != v.end();
  }));
  const auto seen = everything.values();
  CHECK(std::find(seen.begin(), seen.end(), "a 3") == seen.end());
  CHECK(a_events.size() == 1);
  CHECK(rtev::to_string(room_state::subscribing) == "subscribing");
}

TEST_CASE("room_subscription_starts_from_its_own_since", "[sdk][client][rooms]") {
  rtev::test::local_server srv;
  // What the handlers touch: declared before the client, so the service thread has
  // ended before they go.
  recorder<int> got;
  for (int n = 1; n <= 3; ++n) rtev::test::publish_http(srv.port(), note("hist", n));
  rtev::client c(options_for(srv.get().url()));
  c.start();
  rtev::room_options o;
  o.since = "beginning";
  auto h = c.subscribe("hist", o);
  auto s = h.on("note", [&](const rtev::event& e) { got.add(e.data.value("n", 0)); });
  const rtev::join_info j = h.joined().get();
  CHECK(j.replayed == 3);
  REQUIRE(got.wait_size(3));
  CHECK(got.values() == std::vector<int>{1, 2, 3});
}

TEST_CASE("room_subscription_refused_by_the_server_ends_with_its_error", "[sdk][client][rooms]") {
  rtev::test::local_server srv;
  // What the handlers touch: declared before the client, so the service thread has
  // ended before they go.
  recorder<rtev::client_error> client_errors;
  recorder<rtev::client_error> errors;
  recorder<rtev::room_state_info> states;
  rtev::client c(options_for(srv.get().url()));
  c.on_error([&](const rtev::client_error& e) { client_errors.add(e); });
  c.start();
  auto g = c.subscribe("not a valid room!");
  auto s1 = g.on_error([&](const rtev::client_error& e) { errors.add(e); });
  auto s2 = g.on_state([&](const rtev::room_state_info& i) { states.add(i); });
  try {
    g.joined().get();
    FAIL("a room with an invalid name was joined");
  } catch (const rtev::request_error& e) {
    CHECK(e.detail.what == rtev::client_error::kind::server);
    CHECK(e.detail.op == "SUBSCRIBE");
    CHECK(e.detail.code == "bad_request");
  }
  REQUIRE(errors.wait_size(1));
  CHECK(errors.values()[0].code == "bad_request");
  REQUIRE(has_state(states, room_state::unsubscribed));
  const auto last = states.values().back();
  REQUIRE(last.error);
  CHECK(last.error->code == "bad_request");
  CHECK(g.state() == room_state::unsubscribed);
  REQUIRE(client_errors.wait_size(1));  // the client-wide handler hears of it too
}

TEST_CASE("room_subscription_goes_subscribing_while_the_connection_is_down_and_recovers",
          "[sdk][client][rooms][recovery]") {
  rtev::test::local_server srv;
  // What the handlers touch: declared before the client, so the service thread has
  // ended before they go.
  recorder<rtev::room_state_info> states;
  recorder<rtev::join_info> joins;
  recorder<int> got;
  rtev::test::tcp_proxy proxy(srv.port());
  rtev::client c(options_for(proxy.ws_url()));
  c.start();
  auto r = c.subscribe("feed");
  auto s1 = r.on_state([&](const rtev::room_state_info& i) { states.add(i); });
  auto s2 = r.on_joined([&](const rtev::join_info& j) { joins.add(j); });
  auto s3 = r.on("*", [&](const rtev::event& e) { got.add(e.data.value("n", 0)); });
  r.joined().get();
  rtev::test::publish_http(srv.port(), note("feed", 1));
  REQUIRE(got.wait_size(1));
  proxy.freeze();
  rtev::test::publish_http(srv.port(), note("feed", 2));  // while it hears nothing
  proxy.cut();
  proxy.thaw();
  REQUIRE(has_state(states, room_state::subscribing));
  REQUIRE(has_state(states, room_state::subscribed, 2));
  REQUIRE(got.wait_size(2));
  CHECK(got.values() == std::vector<int>{1, 2});  // recovered, nothing twice
  REQUIRE(joins.wait_size(2));
  CHECK(joins.values()[1].recovered);
}

TEST_CASE("room_subscription_shares_its_room_with_join_and_other_objects", "[sdk][client][rooms]") {
  rtev::test::local_server srv;
  // What the handlers touch: declared before the client, so the service thread has
  // ended before they go.
  recorder<std::string> everything;
  rtev::client_options opt = options_for(srv.get().url());
  opt.rooms = {"held"};
  rtev::client c(opt);
  auto all = c.on("note", [&](const rtev::event& e) {
    everything.add(e.room.value_or("") + " " + std::to_string(e.data.value("n", 0)));
  });
  c.start();
  c.connected().get();
  auto first = c.subscribe("shared");
  first.joined().get();
  // A second object of a joined room is subscribed at once, from this connection's answer.
  auto second = c.subscribe("shared");
  CHECK(second.joined().get().room == "shared");
  first.unsubscribe();  // `second` still holds it
  auto third = c.subscribe("held");
  third.joined().get();
  third.unsubscribe();  // client_options::rooms still holds it
  rtev::test::publish_http(srv.port(), note("shared", 1));
  rtev::test::publish_http(srv.port(), note("held", 2));
  REQUIRE(everything.wait_size(2));
  CHECK(everything.values() == std::vector<std::string>{"shared 1", "held 2"});
  // A leave() of a room an object holds keeps it too.
  c.join("shared");
  c.leave("shared");
  rtev::test::publish_http(srv.port(), note("shared", 3));
  REQUIRE(everything.wait_size(3));
  CHECK(everything.values()[2] == "shared 3");
}

TEST_CASE("room_subscription_outliving_its_client_is_inert", "[sdk][client][rooms][lifetime]") {
  rtev::test::local_server srv;
  // What the handlers touch: declared before the client, so the service thread has
  // ended before they go.
  recorder<rtev::room_state_info> states;
  rtev::room_subscription r;
  rtev::subscription s;
  {
    rtev::client c(options_for(srv.get().url()));
    c.start();
    r = c.subscribe("x");
    s = r.on_state([&](const rtev::room_state_info& i) { states.add(i); });
    r.joined().get();
  }
  // The client's end unsubscribed it (kind connection), and told its state handler.
  CHECK(r.state() == room_state::unsubscribed);
  REQUIRE(!states.values().empty());
  CHECK(states.values().back().state == room_state::unsubscribed);
  CHECK(r.on("*", [](const rtev::event&) {}).active() == false);
  r.unsubscribe();  // nothing to hand back: no crash, no call
  rtev::room_subscription empty;
  CHECK(empty.state() == room_state::unsubscribed);
  CHECK_THROWS_AS(empty.joined().get(), rtev::request_error);
}

TEST_CASE("room_subscription_left_and_joined_again_starts_afresh", "[sdk][client][rooms]") {
  rtev::test::local_server srv;
  // What the handlers touch: declared before the client, so the service thread has
  // ended before they go.
  recorder<int> got;
  for (int n = 1; n <= 2; ++n) rtev::test::publish_http(srv.port(), note("again", n));
  rtev::client c(options_for(srv.get().url()));
  c.start();
  rtev::room_options o;
  o.since = "beginning";
  {
    auto first = c.subscribe("again", o);
    auto s = first.on("note", [&](const rtev::event& e) { got.add(e.data.value("n", 0)); });
    CHECK(first.joined().get().replayed == 2);
    REQUIRE(got.wait_size(2));
  }  // left
  // Its `since` applies again, and the replay is not taken for events already delivered.
  auto second = c.subscribe("again", o);
  auto s = second.on("note", [&](const rtev::event& e) { got.add(e.data.value("n", 0)); });
  CHECK(second.joined().get().replayed == 2);
  REQUIRE(got.wait_size(4));
  CHECK(got.values() == std::vector<int>{1, 2, 1, 2});
}

TEST_CASE("room_subscription_state_handler_may_destroy_the_client",
          "[sdk][client][rooms][lifetime]") {
  rtev::test::local_server srv;
  // What the handlers touch: declared before the client, so the service thread has
  // ended before they go.
  std::promise<void> destroyed;
  auto c = std::make_unique<rtev::client>(options_for(srv.get().url()));
  // Two objects of one room: the first one's handler destroys the client while the client
  // walks the room's objects (ASan: a use-after-free there fails this test).
  auto a = c->subscribe("boom");
  auto b = c->subscribe("boom");
  auto sa = a.on_state([&](const rtev::room_state_info& i) {
    if (i.state == room_state::subscribed && c) {
      c.reset();
      destroyed.set_value();
    }
  });
  c->start();
  auto f = destroyed.get_future();
  REQUIRE(is_ready(f));
  CHECK(a.state() == room_state::unsubscribed);
  CHECK(b.state() == room_state::unsubscribed);
}

// A room join() holds whose SUBSCRIBE was refused: an object made for it later asks again and
// gets its own answer, instead of waiting in `subscribing` for the next connection.
TEST_CASE("room_subscription_of_a_joined_room_that_was_refused_asks_again",
          "[sdk][client][rooms]") {
  rtev::test::local_server srv;
  recorder<rtev::client_error> client_errors;
  recorder<rtev::room_state_info> states;
  rtev::client c(options_for(srv.get().url()));
  c.on_error([&](const rtev::client_error& e) { client_errors.add(e); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  c.join("not a valid room!");
  REQUIRE(client_errors.wait_size(1));
  CHECK(client_errors.values()[0].code == "bad_request");
  auto g = c.subscribe("not a valid room!");
  auto s1 = g.on_state([&](const rtev::room_state_info& i) { states.add(i); });
  auto joined = g.joined();
  REQUIRE(joined.wait_for(default_timeout) == std::future_status::ready);
  CHECK_THROWS_AS(joined.get(), rtev::request_error);
  REQUIRE(has_state(states, room_state::unsubscribed));
  CHECK(g.state() == room_state::unsubscribed);
  REQUIRE(client_errors.wait_size(2));  // the second refusal, heard client-wide as well
}
