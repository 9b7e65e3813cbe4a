// rtev::client's typed requests against the real server (rtev::server in-process): history
// paged with history_query and history_result::next_page(), and the callback forms of
// history, presence and ping — inside handlers (where the future forms fail with
// would_deadlock), on a time-out, on a refusal, and after the client has closed for good.
// A tcp_proxy between client and server freezes the link where a test needs a silent server.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
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
#include "tests/support/tcp_proxy.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using rtev::client_error;
using rtev::history_query;
using rtev::history_result;
using rtev::presence_entry;
using rtev::test::is_ready;
using rtev::test::options_for;
using rtev::test::recorder;

namespace {

// How one callback-form request ended, and on which thread.
template <class T>
struct outcome {
  std::optional<T> value;
  std::optional<client_error> error;
  std::thread::id thread;
};

// A request callback that records its outcome in `log`.
template <class T>
rtev::client::request_callback<T> into(recorder<outcome<T>>& log) {
  return [&log](const T* value, const client_error* error) {
    outcome<T> o;
    if (value) o.value = *value;
    if (error) o.error = *error;
    o.thread = std::this_thread::get_id();
    log.add(std::move(o));
  };
}

std::vector<std::uint64_t> seqs_of(const history_result& r) {
  std::vector<std::uint64_t> out;
  for (const auto& e : r.events) out.push_back(e.seq.value_or(0));
  return out;
}

// Failed futures' exceptions, kept until the end of the process (see client_requests_test.cpp:
// a workaround for ThreadSanitizer and libstdc++'s uninstrumented exception_ptr counts).
void keep_alive(std::exception_ptr e) {
  static std::mutex m;  // guards kept
  static std::vector<std::exception_ptr> kept;
  std::lock_guard<std::mutex> lock(m);
  kept.push_back(std::move(e));
}

// The kind a ready future failed with ("would_deadlock", …), "not ready", or "succeeded".
template <class F>
std::string failure_kind(F&& f) {
  if (f.wait_for(0s) != std::future_status::ready) return "not ready";
  try {
    f.get();
    return "succeeded";
  } catch (const rtev::request_error& e) {
    keep_alive(std::current_exception());
    return std::string(rtev::to_string(e.detail.what));
  }
}

}  // namespace

TEST_CASE("client_history_pages_through_250_events_with_next_page", "[sdk][client][history]") {
  rtev::test::local_server srv;
  rtev::client c(options_for(srv.get().url()));  // not in the room: nothing arrives live
  c.start();
  REQUIRE(is_ready(c.connected()));
  std::vector<std::future<rtev::publish_ack>> acks;
  for (int i = 0; i < 250; ++i) acks.push_back(c.publish("pages", "note", {{"n", i}}));
  std::vector<std::uint64_t> published;
  for (auto& a : acks) published.push_back(a.get().seq);
  // Acknowledged means stored; the seqs are the store's order.
  REQUIRE(std::is_sorted(published.begin(), published.end()));

  history_query first;
  first.room = "pages";
  first.limit = 100;

  SECTION("future form: 100, 100 and 50 events in seq order, then no next page") {
    std::vector<std::size_t> sizes;
    std::vector<std::uint64_t> all;
    std::optional<history_query> q = first;
    while (q && sizes.size() < 10) {
      const history_result r = c.history(*q).get();
      CHECK(r.query.room == "pages");
      CHECK(r.query.limit == 100);
      CHECK(r.query.since == q->since);
      sizes.push_back(r.events.size());
      const auto s = seqs_of(r);
      all.insert(all.end(), s.begin(), s.end());
      q = r.next_page();
      if (q) {
        REQUIRE(r.next);
        CHECK(q->since == json(*r.next));
        CHECK(*r.next == s.back());
        CHECK(q->limit == 100);
        CHECK(q->until.is_null());
      } else {
        CHECK_FALSE(r.next);
      }
    }
    CHECK(sizes == std::vector<std::size_t>{100, 100, 50});
    CHECK(all == published);
    CHECK(c.history(first).get().events.front().data == json{{"n", 0}});
  }
  SECTION("callback form: each page asks for the next from its callback") {
    recorder<std::size_t> sizes;
    std::vector<std::uint64_t> all;  // service thread only, until `done` is set
    std::promise<std::optional<client_error>> done;
    // Each request holds a copy; the copies refer to this one, which outlives them all.
    rtev::client::request_callback<history_result> page;
    page = [&](const history_result* r, const client_error* e) {
      if (e) return done.set_value(*e);
      sizes.add(r->events.size());
      const auto s = seqs_of(*r);
      all.insert(all.end(), s.begin(), s.end());
      if (auto next = r->next_page())
        c.history(*next, page);
      else
        done.set_value(std::nullopt);
    };
    c.history(first, page);
    auto f = done.get_future();
    REQUIRE(is_ready(f));
    CHECK_FALSE(f.get().has_value());
    CHECK(sizes.values() == std::vector<std::size_t>{100, 100, 50});
    CHECK(all == published);
  }
  SECTION("the old signature is the same request") {
    const history_result r = c.history("pages", published[99], nullptr, 100).get();
    CHECK(seqs_of(r) ==
          std::vector<std::uint64_t>(published.begin() + 100, published.begin() + 200));
    CHECK(r.query.since == json(published[99]));
    REQUIRE(r.next_page());
    CHECK(seqs_of(c.history(*r.next_page()).get()) ==
          std::vector<std::uint64_t>(published.begin() + 200, published.end()));
  }
  SECTION("a bad query throws config_error at the call, naming what is wrong") {
    history_query q = first;
    q.limit = 0;
    CHECK_THROWS_WITH(c.history(q), Catch::Contains("invalid history limit 0"));
    q.limit = 1001;
    CHECK_THROWS_AS(c.history(q, [](const history_result*, const client_error*) {}),
                    rtev::config_error);
    CHECK_THROWS_AS(c.history("pages", nullptr, nullptr, 5000), rtev::config_error);
    q = first;
    q.since = -1;
    CHECK_THROWS_WITH(c.history(q), Catch::Contains("invalid history since -1"));
    q = first;
    q.until = 5;
    CHECK_THROWS_AS(c.history(q), rtev::config_error);
  }
}

TEST_CASE("client_callback_requests_work_inside_handlers", "[sdk][client][threads]") {
  rtev::test::local_server srv;
  recorder<outcome<history_result>> histories;
  recorder<outcome<std::vector<presence_entry>>> presences;
  recorder<outcome<std::chrono::microseconds>> pings;
  recorder<std::string> future_kinds;  // what the future forms held, inside the handler
  recorder<std::thread::id> handler_thread;
  rtev::client_options opt = options_for(srv.get().url());
  opt.token = "carol";
  opt.rooms = {"trigger"};
  recorder<client_error> reported;
  rtev::client c(opt);
  c.on_error([&](const client_error& e) { reported.add(e); });
  const std::uint64_t before =
      rtev::test::publish_http(srv.port(),
                               {{"room", "trigger"}, {"type", "note"}, {"data", {{"n", 1}}}})
          .at("seq")
          .get<std::uint64_t>();
  history_query q;
  q.room = "trigger";
  auto s = c.on("go", [&](const rtev::event&) {
    handler_thread.add(std::this_thread::get_id());
    future_kinds.add(failure_kind(c.history(q)));
    future_kinds.add(failure_kind(c.presence("trigger")));
    future_kinds.add(failure_kind(c.ping()));
    c.history(q, into(histories));
    c.presence("trigger", into(presences));
    c.ping(into(pings));
  });
  std::promise<void> joined;
  std::atomic<bool> once{false};
  auto j = c.on_joined([&](const rtev::join_info& i) {
    if (i.room == "trigger" && !once.exchange(true)) joined.set_value();
  });
  c.start();
  REQUIRE(is_ready(joined.get_future()));
  rtev::test::publish_http(srv.port(), {{"room", "trigger"}, {"type", "go"}, {"data", {{"n", 2}}}});

  REQUIRE(histories.wait_size(1));
  REQUIRE(presences.wait_size(1));
  REQUIRE(pings.wait_size(1));
  REQUIRE(handler_thread.size() == 1);
  const std::thread::id service = handler_thread.values().front();
  CHECK(future_kinds.values() ==
        std::vector<std::string>{"would_deadlock", "would_deadlock", "would_deadlock"});
  CHECK(reported.size() == 3);  // the refused futures, and nothing about the callbacks

  const auto h = histories.values().front();
  REQUIRE(h.value);
  CHECK_FALSE(h.error);
  CHECK(h.thread == service);
  REQUIRE_FALSE(h.value->events.empty());
  CHECK(h.value->events.front().seq == std::optional(before));
  CHECK(h.value->query.room == "trigger");

  const auto w = presences.values().front();
  REQUIRE(w.value);
  CHECK(w.thread == service);
  REQUIRE(w.value->size() == 1);
  CHECK(w.value->front().user_id == "carol");
  CHECK(w.value->front().connections == 1);

  const auto p = pings.values().front();
  REQUIRE(p.value);
  CHECK(p.thread == service);
  CHECK(p.value->count() >= 0);
  CHECK(*p.value < 10s);
  // Each ended once.
  c.ping().get();
  CHECK(histories.size() == 1);
  CHECK(presences.size() == 1);
  CHECK(pings.size() == 1);
}

TEST_CASE("client_presence_callback_lists_the_users_or_the_refusal", "[sdk][client][presence]") {
  rtev::test::local_server srv;
  recorder<outcome<std::vector<presence_entry>>> got;
  recorder<rtev::join_info> joins;
  std::vector<std::unique_ptr<rtev::client>> clients;
  for (const char* who : {"alice", "bob"}) {
    rtev::client_options opt = options_for(srv.get().url());
    opt.token = who;
    opt.rooms = {"p"};
    clients.push_back(std::make_unique<rtev::client>(opt));
  }
  std::vector<rtev::subscription> subs;
  for (auto& c : clients) {
    subs.push_back(c->on_joined([&](const rtev::join_info& j) { joins.add(j); }));
    c->start();
  }
  REQUIRE(joins.wait([](const auto& v) {
    return std::count_if(v.begin(), v.end(), [](const auto& j) { return j.room == "p"; }) >= 2;
  }));
  rtev::client& bob = *clients[1];

  SECTION("the users in the room") {
    bob.presence("p", into(got));
    REQUIRE(got.wait_size(1));
    const auto o = got.values().front();
    REQUIRE(o.value);
    CHECK_FALSE(o.error);
    CHECK(o.thread != std::this_thread::get_id());
    std::vector<std::string> users;
    for (const auto& e : *o.value) {
      users.push_back(e.user_id);
      CHECK(e.connections == 1);
    }
    std::sort(users.begin(), users.end());
    CHECK(users == std::vector<std::string>{"alice", "bob"});
  }
  SECTION("a room the server refuses: kind server with its code") {
    bob.presence("not a valid room!", into(got));
    REQUIRE(got.wait_size(1));
    const auto o = got.values().front();
    CHECK_FALSE(o.value);
    REQUIRE(o.error);
    CHECK(o.error->what == client_error::kind::server);
    CHECK(o.error->code == "bad_request");
  }
  for (auto& c : clients) c->stop();
  CHECK(got.size() == 1);
}

TEST_CASE("client_callback_requests_time_out_when_the_server_never_answers",
          "[sdk][client][timeout]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  recorder<outcome<history_result>> histories;
  recorder<outcome<std::vector<presence_entry>>> presences;
  recorder<outcome<std::chrono::microseconds>> pings;
  recorder<rtev::event> live;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.rooms = {"r"};
  rtev::client c(opt);
  auto s = c.on("*", [&](const rtev::event& e) { live.add(e); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  REQUIRE(c.ping().get().count() >= 0);
  rtev::test::publish_http(srv.port(), {{"room", "r"}, {"type", "note"}, {"data", {{"n", 1}}}});
  REQUIRE(live.wait_size(1));

  // The server hears nothing from here on: no answer can come.
  proxy.freeze(rtev::test::tcp_proxy::direction::to_target);
  const auto t0 = rtev::test::steady::now();
  history_query q;
  q.room = "r";
  c.history(q, into(histories), rtev::request_options{200ms});
  c.presence("r", into(presences), rtev::request_options{200ms});
  c.ping(into(pings), rtev::request_options{200ms});
  REQUIRE(histories.wait_size(1));
  REQUIRE(presences.wait_size(1));
  REQUIRE(pings.wait_size(1));
  CHECK(rtev::test::steady::now() - t0 >= 200ms);
  const std::pair<std::optional<client_error>, std::string> errors[] = {
      {histories.values().front().error, "HISTORY"},
      {presences.values().front().error, "PRESENCE"},
      {pings.values().front().error, "PING"}};
  for (const auto& [err, op] : errors) {
    INFO(op);
    REQUIRE(err);
    CHECK(err->what == client_error::kind::timeout);
    CHECK(err->code == "timeout");
    CHECK(err->op == op);
  }
  // The link comes back: the server answers all three late; the answers are ignored (no
  // second call, the history page is not delivered as live events).
  proxy.thaw();
  REQUIRE(c.history(q).get().events.size() == 1);
  REQUIRE(c.ping().get().count() >= 0);
  CHECK(c.state() == rtev::client_state::connected);
  CHECK(histories.size() == 1);
  CHECK(presences.size() == 1);
  CHECK(pings.size() == 1);
  CHECK(live.size() == 1);
}

TEST_CASE("client_callback_requests_after_closing_for_good_end_at_once", "[sdk][client][closed]") {
  rtev::test::local_server srv;
  recorder<outcome<history_result>> histories;
  recorder<outcome<std::vector<presence_entry>>> presences;
  recorder<outcome<std::chrono::microseconds>> pings;
  rtev::client c(options_for(srv.get().url()));
  c.start();
  REQUIRE(is_ready(c.connected()));
  c.stop();
  REQUIRE(is_ready(c.closed()));

  history_query q;
  q.room = "r";
  c.history(q, into(histories));
  c.presence("r", into(presences));
  c.ping(into(pings));
  REQUIRE(histories.wait_size(1, 2s));
  REQUIRE(presences.wait_size(1, 2s));
  REQUIRE(pings.wait_size(1, 2s));
  const std::pair<std::optional<client_error>, std::thread::id> ends[] = {
      {histories.values().front().error, histories.values().front().thread},
      {presences.values().front().error, presences.values().front().thread},
      {pings.values().front().error, pings.values().front().thread}};
  for (const auto& [err, thread] : ends) {
    REQUIRE(err);
    CHECK(err->what == client_error::kind::connection);
    CHECK(err->code == "stopped");
    CHECK(err->message.find("closed for good (stopped)") != std::string::npos);
    CHECK(thread != std::this_thread::get_id());  // never on the caller's thread
  }
  // The future forms fail the same way.
  auto f = c.history(q);
  REQUIRE(is_ready(f, 2s));
  CHECK(failure_kind(std::move(f)) == "connection");
}
