// rtev::client on the app's thread: client_options::executor (every handler and callback
// handed to an app queue, in order, and nothing called once the client is gone), and
// poll() / run_for() for apps with their own frame loop (the client driven from the caller's
// thread, handlers there, the end reported there, destroyed from inside a handler).
// Run under ASan and TSan by .ci/run.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
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
using rtev::test::options_for;
using rtev::test::recorder;
using json = nlohmann::json;

namespace {

// An app's task queue (a UI thread's, say): FIFO, run by whoever calls run_one / runs it.
class app_queue {
 public:
  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_all();
  }
  // Runs tasks on the calling thread until `done` holds (checked between tasks); false when
  // no task came for the default time-out.
  template <class Pred>
  bool run_until(Pred done) {
    while (!done()) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!cv_.wait_for(lock, default_timeout, [&] { return !tasks_.empty(); })) return false;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
    return true;
  }
  std::size_t run_all() {
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t();
    return tasks.size();
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return tasks_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
};

// Polls until `done` holds or the default time-out passes; false on time-out or when the
// client ended first.
template <class Pred>
bool poll_until(rtev::client& c, Pred done) {
  const auto until = std::chrono::steady_clock::now() + default_timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    if (!c.run_for(20ms)) return done();
  }
  return true;
}

}  // namespace

TEST_CASE("client_executor_runs_every_handler_and_callback_on_the_apps_queue_in_order",
          "[sdk][client][threads][executor]") {
  rtev::test::local_server srv;
  app_queue app;
  rtev::client_options opt = options_for(srv.get().url());
  opt.rooms = {"lobby"};
  opt.executor = [&app](std::function<void()> task) { app.post(std::move(task)); };
  // What the handlers saw, touched on the app thread (this one) only.
  std::vector<std::string> seen;
  std::vector<std::thread::id> threads;
  auto note = [&](std::string what) {
    seen.push_back(std::move(what));
    threads.push_back(std::this_thread::get_id());
  };
  std::optional<rtev::publish_ack> waited;  // a future waited for inside a handler
  rtev::client c(opt);
  auto states =
      c.on_state([&](const rtev::state_info& s) { note(std::string(to_string(s.state))); });
  auto joined = c.on_joined([&](const rtev::join_info& j) { note("joined " + j.room); });
  auto events = c.on("*", [&](const rtev::event& e) {
    note("event " + e.data.value("n", std::string()));
    // On the executor's thread a future may be waited for: the service thread is free.
    if (e.data.value("n", std::string()) == "1")
      waited = c.publish("lobby", "note", {{"n", "2"}}).get();
  });
  c.on_error([&](const rtev::client_error& e) { note("error " + std::string(to_string(e.what))); });
  c.start();
  REQUIRE(app.run_until(
      [&] { return std::find(seen.begin(), seen.end(), "joined lobby") != seen.end(); }));
  bool acked = false;
  c.publish("lobby", "note", {{"n", "1"}},
            [&](const rtev::publish_ack* a, const rtev::client_error*) {
              note("ack");
              acked = a != nullptr;
            });
  c.emit("x", json::array());  // rtev protocol: reported to the error handler
  REQUIRE(app.run_until([&] {
    return std::count(seen.begin(), seen.end(), "event 2") == 1 && acked &&
           std::count(seen.begin(), seen.end(), "error protocol") == 1;
  }));
  REQUIRE(waited);
  CHECK(waited->seq > 0);
  // Every call of user code ran here, on the app's thread, and in the client's order.
  for (const auto& t : threads) CHECK(t == std::this_thread::get_id());
  const auto at = [&](const std::string& what) {
    return std::find(seen.begin(), seen.end(), what) - seen.begin();
  };
  CHECK(at("connecting") < at("connected"));
  CHECK(at("connected") < at("joined lobby"));
  CHECK(at("joined lobby") < at("event 1"));
  CHECK(at("event 1") < at("event 2"));
  // The app thread must keep running the queue while the client stops (the destructor runs
  // nothing there and waits for nothing on it).
  c.stop();
  app.run_all();
  CHECK(seen.back() == "closed");
}

TEST_CASE("client_executor_tasks_queued_when_the_client_is_destroyed_call_nothing",
          "[sdk][client][lifetime][executor]") {
  rtev::test::local_server srv;
  app_queue app;  // never run while the client lives: everything stays queued
  auto calls = std::make_shared<std::atomic<int>>(0);
  {
    rtev::client_options opt = options_for(srv.get().url());
    opt.rooms = {"lobby"};
    opt.executor = [&app](std::function<void()> task) { app.post(std::move(task)); };
    rtev::client c(opt);
    auto states = c.on_state([calls](const rtev::state_info&) { ++*calls; });
    auto events = c.on("*", [calls](const rtev::event&) { ++*calls; });
    c.start();
    c.connected().get();  // futures complete on the service thread, whatever the executor does
    REQUIRE(c.publish("lobby", "note", {{"n", 1}}).get().seq > 0);
    c.publish("lobby", "note", {{"n", 2}},
              [calls](const rtev::publish_ack*, const rtev::client_error*) { ++*calls; });
    REQUIRE(c.publish("lobby", "note", {{"n", 3}}).get().seq > 0);
    CHECK(app.size() > 0);
  }
  // The client is gone: what is still queued keeps its state alive but calls no handler.
  CHECK(app.run_all() > 0);
  CHECK(*calls == 0);
}

TEST_CASE("client_poll_drives_the_client_from_the_callers_thread", "[sdk][client][threads][poll]") {
  rtev::test::local_server srv;
  rtev::client_options opt = options_for(srv.get().url());
  opt.rooms = {"lobby"};
  rtev::client c(opt);
  const auto me = std::this_thread::get_id();
  std::vector<client_state> states;
  std::vector<std::string> notes;
  bool elsewhere = false;  // a handler ran on another thread
  auto s = c.on_state([&](const rtev::state_info& i) {
    elsewhere |= std::this_thread::get_id() != me;
    states.push_back(i.state);
  });
  auto j = c.on_joined([&](const rtev::join_info&) { notes.push_back("joined"); });
  auto e = c.on("*", [&](const rtev::event& ev) {
    elsewhere |= std::this_thread::get_id() != me;
    notes.push_back("event " + std::to_string(ev.data.value("n", 0)));
  });
  // Nothing happens before the first poll: no thread of the client's runs it.
  CHECK(c.state() == client_state::idle);
  REQUIRE(c.poll());
  REQUIRE(poll_until(c, [&] { return !notes.empty() && notes.front() == "joined"; }));
  CHECK(c.state() == client_state::connected);
  // start() and run() do nothing to a polled client.
  c.start();
  std::optional<rtev::publish_ack> ack;
  c.publish("lobby", "note", {{"n", 1}},
            [&](const rtev::publish_ack* a, const rtev::client_error*) {
              elsewhere |= std::this_thread::get_id() != me;
              if (a) ack = *a;
            });
  // A future completes while polling (waited for between frames, not with get()).
  auto f = c.publish("lobby", "note", {{"n", 2}});
  REQUIRE(poll_until(c, [&] { return ack && is_ready(f, 0ms) && notes.size() >= 3; }));
  CHECK(f.get().seq == ack->seq + 1);
  CHECK(notes[1] == "event 1");
  CHECK(notes[2] == "event 2");
  // A request from another thread is picked up by the next poll.
  std::thread other([&] {
    c.publish("lobby", "note", {{"n", 3}},
              [](const rtev::publish_ack*, const rtev::client_error*) {});
  });
  other.join();
  REQUIRE(poll_until(c, [&] { return notes.size() >= 4; }));
  CHECK(notes[3] == "event 3");
  // run_for services for its whole budget (the client keeps going).
  const auto before = std::chrono::steady_clock::now();
  CHECK(c.run_for(60ms));
  CHECK(std::chrono::steady_clock::now() - before >= 60ms);
  // stop() from the polling thread reports the end right here.
  c.stop();
  REQUIRE(!states.empty());
  CHECK(states.back() == client_state::closed);
  CHECK(is_ready(c.closed(), 0ms));
  CHECK_FALSE(c.poll());
  CHECK_FALSE(elsewhere);
}

TEST_CASE("client_poll_refuses_a_client_on_its_own_service_thread", "[sdk][client][poll]") {
  rtev::test::local_server srv;
  rtev::client c(options_for(srv.get().url()));
  c.start();
  CHECK_THROWS_AS(c.poll(), rtev::error);
  CHECK_THROWS_AS(c.run_for(-1ms), rtev::config_error);
  rtev::client d(options_for(srv.get().url()));
  d.stop();
  CHECK_FALSE(d.poll());  // stopped before anything: nothing to drive
}

TEST_CASE("client_polled_client_stopped_from_another_thread_ends_at_the_poll",
          "[sdk][client][threads][poll]") {
  rtev::test::local_server srv;
  rtev::client c(options_for(srv.get().url()));
  std::atomic<bool> closed_seen{false};
  auto s = c.on_state([&](const rtev::state_info& i) {
    if (i.state == client_state::closed) closed_seen = true;
  });
  REQUIRE(poll_until(c, [&] { return c.state() == client_state::connected; }));
  std::promise<void> polling;
  std::thread stopper([&] {
    polling.get_future().wait();
    c.stop();  // waits for the poll under way, which ends the client
  });
  polling.set_value();
  bool going = true;
  const auto until = std::chrono::steady_clock::now() + default_timeout;
  while (going && std::chrono::steady_clock::now() < until) going = c.run_for(20ms);
  stopper.join();
  CHECK_FALSE(c.poll());
  CHECK(closed_seen);
}

TEST_CASE("client_polled_client_destroyed_inside_its_handler_is_safe",
          "[sdk][client][lifetime][poll]") {
  rtev::test::local_server srv;
  rtev::client_options opt = options_for(srv.get().url());
  opt.rooms = {"lobby"};
  auto c = std::make_unique<rtev::client>(opt);
  rtev::client* raw = c.get();
  int after = 0;
  bool gone = false;
  auto sub = c->on("*", [&](const rtev::event&) {
    if (gone) {
      ++after;
      return;
    }
    c.reset();  // inside poll(), on this very thread
    gone = true;
  });
  auto joined = c->on_joined([&](const rtev::join_info&) {
    if (!gone)
      c->publish("lobby", "note", {{"n", 1}},
                 [](const rtev::publish_ack*, const rtev::client_error*) {});
  });
  auto st = c->on_state([&](const rtev::state_info&) {
    if (gone) ++after;
  });
  const auto until = std::chrono::steady_clock::now() + default_timeout;
  bool going = true;
  while (!gone && going && std::chrono::steady_clock::now() < until) going = raw->run_for(20ms);
  REQUIRE(gone);
  CHECK(after == 0);
}
