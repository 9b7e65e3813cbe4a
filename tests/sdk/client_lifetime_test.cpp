// rtev::client and its own handlers (rtev::server in-process): the client destroyed from inside
// an event handler, a state handler or a publish callback, with start() and with run(); every
// callback on the service thread (a full offline queue, stop() before start()); and the
// future-returning calls made inside a handler, which fail at once instead of deadlocking.
// Run under ASan and TSan by .ci/run: a use-after-free or a race there fails these tests.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "rtev/client.hpp"
#include "tests/sdk/client_recorder.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace std::chrono_literals;
using rtev::client_state;
using rtev::test::default_timeout;
using rtev::test::is_ready;
using rtev::test::millis;
using rtev::test::options_for;
using rtev::test::recorder;
using json = nlohmann::json;

namespace {

// What a handler saw after it destroyed its client: set once, from the service thread.
struct after_destruction {
  std::promise<void> destroyed;
  std::atomic<int> calls_after{0};  // handler calls that came after the destruction
  std::atomic<bool> gone{false};
};

}  // namespace

TEST_CASE("client_destroyed_inside_its_own_handler_is_safe", "[sdk][client][stop][lifetime]") {
  rtev::test::local_server srv;
  rtev::client_options opt = options_for(srv.get().url());
  opt.rooms = {"lobby"};
  auto c = std::make_unique<rtev::client>(opt);
  after_destruction a;
  const auto destroyed = a.destroyed.get_future().share();
  // A state handler that must not run once the client is gone (not even for `closed`).
  auto watch = c->on_state([&](const rtev::state_info&) {
    if (a.gone) ++a.calls_after;
  });
  auto errors = std::make_shared<std::atomic<int>>(0);
  c->on_error([errors](const rtev::client_error&) { ++*errors; });
  std::shared_future<rtev::state_info> closed;
  auto destroy = [&] {
    closed = c->closed();
    c.reset();  // on the service thread, inside the handler
    a.gone = true;
    a.destroyed.set_value();
  };
  std::optional<rtev::subscription> sub;
  std::thread runner;

  SECTION("from an on_state handler (start())") {
    sub = c->on_state([&](const rtev::state_info& s) {
      if (s.state == client_state::connected && !a.gone) destroy();
    });
    c->start();
  }
  // Outlives the sections: handlers run on the service thread after a section's block ends.
  std::atomic<bool> once{false};
  SECTION("from an event handler (start())") {
    sub = c->on("*", [&](const rtev::event&) {
      if (a.gone) {
        ++a.calls_after;
        return;
      }
      if (!once.exchange(true)) destroy();
    });
    auto joined = std::make_shared<std::promise<void>>();
    auto j = c->on_joined([joined](const rtev::join_info&) {
      try {
        joined->set_value();
      } catch (const std::future_error&) {
      }
    });
    c->start();
    REQUIRE(is_ready(joined->get_future()));
    json batch = json::array();
    for (int i = 0; i < 20; ++i)
      batch.push_back({{"room", "lobby"}, {"type", "note"}, {"data", {{"i", i}}}});
    rtev::test::publish_http(srv.port(), batch);
  }
  SECTION("from a publish callback, with other publishes pending (start())") {
    c->start();
    REQUIRE(is_ready(c->connected()));
    std::vector<std::future<rtev::publish_ack>> others;
    c->publish("lobby", "note", {{"n", 0}},
               [&](const rtev::publish_ack*, const rtev::client_error*) { destroy(); });
    for (int i = 1; i < 20; ++i) others.push_back(c->publish("lobby", "note", {{"n", i}}));
    REQUIRE(is_ready(destroyed));
    // Every other publish ended: acknowledged, or failed because the client is gone.
    for (auto& f : others) REQUIRE(is_ready(f));
  }
  SECTION("from an on_state handler, served by run()") {
    sub = c->on_state([&](const rtev::state_info& s) {
      if (s.state == client_state::connected && !a.gone) destroy();
    });
    runner = std::thread([client = c.get()] { client->run(); });
  }
  SECTION("from a publish callback, served by run()") {
    std::vector<std::future<rtev::publish_ack>> others;
    c->publish("lobby", "note", {{"n", 0}},
               [&](const rtev::publish_ack*, const rtev::client_error*) { destroy(); });
    for (int i = 1; i < 5; ++i) others.push_back(c->publish("lobby", "note", {{"n", i}}));
    runner = std::thread([client = c.get()] { client->run(); });
    REQUIRE(is_ready(destroyed));
    for (auto& f : others) REQUIRE(is_ready(f));
  }

  REQUIRE(is_ready(destroyed));
  // The destroyed client's service thread winds down by itself (run() returns).
  if (runner.joinable()) runner.join();
  REQUIRE(is_ready(closed));
  CHECK(closed.get().state == client_state::closed);
  CHECK(c == nullptr);
  CHECK(a.calls_after == 0);
  CHECK(*errors == 0);
}

TEST_CASE("client_callbacks_never_run_on_the_callers_thread", "[sdk][client][threads]") {
  rtev::test::local_server srv;
  const auto caller = std::this_thread::get_id();

  SECTION("a full offline queue fails a publish callback on the service thread") {
    rtev::client_options opt = options_for(srv.get().url());
    opt.offline_queue_max = 1;
    rtev::client c(opt);
    std::mutex m;  // guards the thread ids below
    std::optional<std::thread::id> service, callback;
    auto states = c.on_state([&](const rtev::state_info&) {
      std::lock_guard<std::mutex> lock(m);
      if (!service) service = std::this_thread::get_id();
    });
    auto queued = c.publish("q", "note", {{"n", 0}});  // fills the queue (not started yet)
    // The future form fails at once, with nothing to run on any thread.
    auto over = c.publish("q", "note", {{"n", 1}});
    REQUIRE(is_ready(over, 0ms));
    try {
      over.get();
      FAIL("a publish beyond the offline queue succeeded");
    } catch (const rtev::request_error& e) {
      CHECK(e.detail.what == rtev::client_error::kind::queue_full);
    }
    recorder<rtev::client_error> failed;
    c.publish("q", "note", {{"n", 2}}, [&](const rtev::publish_ack*, const rtev::client_error* e) {
      {
        std::lock_guard<std::mutex> lock(m);
        callback = std::this_thread::get_id();
      }
      failed.add(e ? *e : rtev::client_error{});
    });
    c.start();
    REQUIRE(failed.wait_size(1));
    CHECK(failed.values()[0].what == rtev::client_error::kind::queue_full);
    REQUIRE(is_ready(queued));
    CHECK(queued.get().seq > 0);
    std::lock_guard<std::mutex> lock(m);
    REQUIRE(service);
    REQUIRE(callback);
    CHECK(*callback != caller);
    CHECK(*callback == *service);
  }
  SECTION("stop() before start() reports the end on a thread of the client's") {
    rtev::client c(options_for(srv.get().url()));
    recorder<std::pair<rtev::state_info, std::thread::id>> states;
    auto s = c.on_state([&](const rtev::state_info& i) {
      states.add({i, std::this_thread::get_id()});
    });
    recorder<std::thread::id> publish_threads;
    rtev::client_error publish_error;
    c.publish("q", "note", {{"n", 0}}, [&](const rtev::publish_ack*, const rtev::client_error* e) {
      if (e) publish_error = *e;
      publish_threads.add(std::this_thread::get_id());
    });
    c.stop();  // returns after the end was reported
    REQUIRE(states.size() == 1);
    const auto [info, thread] = states.values()[0];
    CHECK(info.state == client_state::closed);
    CHECK(info.reason == "stopped before it started");
    CHECK(thread != caller);
    REQUIRE(publish_threads.size() == 1);
    CHECK(publish_threads.values()[0] == thread);
    CHECK(publish_error.what == rtev::client_error::kind::connection);
    CHECK(c.state() == client_state::closed);
    REQUIRE(is_ready(c.closed(), 0ms));
    // Nothing more is reported by a second stop() or the destructor.
    c.stop();
    CHECK(states.size() == 1);
  }
}

TEST_CASE("client_future_calls_inside_a_handler_fail_at_once_instead_of_deadlocking",
          "[sdk][client][threads]") {
  rtev::test::local_server srv;
  rtev::client c(options_for(srv.get().url()));
  recorder<rtev::client_error> reported;
  c.on_error([&](const rtev::client_error& e) { reported.add(e); });
  // What each call's future held, as seen inside the handler: the error kind, or "blocked"
  // when it was not ready within 2 s (a get() there would have waited forever).
  recorder<std::string> outcomes;
  auto try_future = [&](auto f) {
    if (f.wait_for(2s) != std::future_status::ready) return outcomes.add("blocked");
    try {
      f.get();
      outcomes.add("succeeded");
    } catch (const rtev::request_error& e) {
      outcomes.add(e.detail.what == rtev::client_error::kind::would_deadlock
                       ? std::string("would_deadlock: ") + e.detail.message
                       : "other error: " + e.detail.message);
    }
  };
  std::atomic<bool> once{false};
  auto s = c.on_state([&](const rtev::state_info& i) {
    if (i.state != client_state::connected || once.exchange(true)) return;
    try_future(c.publish("q", "note", {{"n", 1}}));
    try_future(c.history("q"));
    try_future(c.presence("q"));
    try_future(c.ping());
  });
  c.start();
  REQUIRE(outcomes.wait_size(4, 15s));
  for (const auto& o : outcomes.values()) {
    INFO(o);
    CHECK(o.rfind("would_deadlock: ", 0) == 0);
  }
  CHECK(outcomes.values()[0].find("the event was sent") != std::string::npos);
  CHECK(outcomes.values()[0].find("use the callback form") != std::string::npos);
  // The queries are reported too (a future nobody looks at does not hide them); the publish is
  // not (it was sent: nothing went wrong unless someone waits for it).
  REQUIRE(reported.wait_size(3));
  for (const auto& e : reported.values()) CHECK(e.what == rtev::client_error::kind::would_deadlock);
  // The same calls from another thread work as before.
  CHECK(c.publish("q", "note", {{"n", 2}}).get().seq > 0);
  CHECK(c.ping().get() < 10s);
  CHECK(reported.size() == 3);
  // The handler's publish was sent first, on the same connection: stored before n=2.
  const auto stored = rtev::test::fetch_history(srv.port(), "q");
  REQUIRE(stored.size() == 2);
  CHECK(stored[0]["data"]["n"] == 1);
  CHECK(stored[1]["data"]["n"] == 2);
}
