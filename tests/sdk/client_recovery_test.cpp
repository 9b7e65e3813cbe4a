// rtev::client recovery against the real server (rtev::server in-process): resubscribing with
// `since` after forced disconnects (no event lost or duplicated while a publisher keeps
// going), gap notices when history was pruned or the store replaced, and joined rooms that
// survive reconnects. A tcp_proxy between subscriber and server cuts or freezes the link.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rtev/client.hpp"
#include "rtev/server/server.hpp"
#include "tests/sdk/client_recorder.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"
#include "tests/support/tcp_proxy.hpp"

using namespace std::chrono_literals;
using rtev::client_state;
using rtev::test::default_timeout;
using rtev::test::millis;
using rtev::test::steady;
using json = nlohmann::json;
using rtev::test::recorder;

namespace {

std::size_t count_state(const std::vector<rtev::state_info>& v, client_state s) {
  return static_cast<std::size_t>(
      std::count_if(v.begin(), v.end(), [s](const rtev::state_info& i) { return i.state == s; }));
}

bool wait_state(const recorder<rtev::state_info>& log, client_state s, std::size_t n = 1,
                millis timeout = default_timeout) {
  return log.wait([&](const auto& v) { return count_state(v, s) >= n; }, timeout);
}

bool is_ready(const std::shared_future<void>& f) {
  return f.wait_for(default_timeout) == std::future_status::ready;
}

rtev::client_options options_for(const std::string& url) {
  rtev::client_options o;
  o.url = url;
  o.backoff.initial = 10ms;
  o.backoff.multiplier = 2;
  o.backoff.max = 100ms;
  o.backoff.jitter = 0;
  o.backoff.reset_after = 0ms;
  return o;
}

// Seqs of the events a subscriber got in one room, in delivery order.
std::vector<std::uint64_t> seqs_in(const std::vector<rtev::event>& events,
                                   const std::string& room) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events)
    if (e.room == std::optional<std::string>(room) && e.seq) out.push_back(*e.seq);
  return out;
}

json note(const std::string& room, int n) {
  return {{"room", room}, {"type", "note"}, {"data", {{"n", n}}}};
}

std::uint64_t seq_of(const json& reply) {
  return reply.at("seq").get<std::uint64_t>();
}

// The epoch of a server's store (GET /health).
std::string epoch_of(std::uint16_t port) {
  return rtev::test::http_get(port, "/health")
      .json()
      .at("services")
      .at("history")
      .at("epoch")
      .get<std::string>();
}

// Options for a client of rtev serve on `port` speaking `p`. Socket.IO goes WebSocket-only: one
// connection per attempt, which the proxy's cut ends (SSE has one stream per attempt).
rtev::client_options options_over(rtev::wire_protocol p, std::uint16_t port) {
  const std::string host = "127.0.0.1:" + std::to_string(port);
  std::string url = "http://" + host;
  if (p == rtev::wire_protocol::rtev) url = "ws://" + host + "/events/ws/connect";
  if (p == rtev::wire_protocol::sse) url += "/api/events";
  rtev::client_options o = options_for(url);
  o.protocol = p;
  o.socketio.websocket_only = true;
  return o;
}

// Moves a client behind `proxy` to the server on `port` while it hears nothing: the link is
// frozen, `meanwhile` runs, then new connections go to `port` and the old one is cut.
template <class F>
void move_to(rtev::test::tcp_proxy& proxy, std::uint16_t port, F&& meanwhile) {
  proxy.freeze();
  meanwhile();
  proxy.retarget(port);
  proxy.cut();
  proxy.thaw();
}

}  // namespace

TEST_CASE("client_loses_and_duplicates_no_event_across_repeated_forced_disconnects",
          "[sdk][client][recovery]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  constexpr std::size_t cuts_wanted = 30;
  constexpr std::size_t per_round = 100;  // events published per cut, 3000+ in all

  // The subscriber, behind the proxy. Its handler records the feed's seqs in delivery order.
  std::mutex feed_mutex;  // guards feed
  std::condition_variable feed_cv;
  std::vector<std::uint64_t> feed;
  recorder<rtev::state_info> states;
  recorder<rtev::gap_info> gaps;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.rooms = {"feed"};
  rtev::client sub(opt);
  auto on_feed = sub.on("*", [&](const rtev::event& e) {
    if (e.room != std::optional<std::string>("feed")) return;
    {
      std::lock_guard<std::mutex> lock(feed_mutex);
      feed.push_back(*e.seq);
    }
    feed_cv.notify_all();
  });
  auto on_state = sub.on_state([&](const rtev::state_info& s) { states.add(s); });
  auto on_gap = sub.on_gap([&](const rtev::gap_info& g) { gaps.add(g); });
  sub.start();
  REQUIRE(is_ready(sub.connected()));
  sub.ping().get();  // the feed subscription is in place (its ACK came before the PONG)

  // The publisher: a second client straight to the server, and HTTP batches, alternating, in
  // rounds released by the cutter so that publishing overlaps every disconnect.
  rtev::client pub(options_for(srv.get().url()));
  pub.start();
  REQUIRE(is_ready(pub.connected()));
  std::mutex pub_mutex;  // guards budget, published, pub_error
  std::condition_variable pub_cv;
  std::size_t budget = per_round;
  bool finished = false;
  std::vector<std::uint64_t> published;
  std::string pub_error;
  std::thread publisher([&] {
    std::size_t sent = 0;
    int chunk = 0;
    try {
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(pub_mutex);
          pub_cv.wait(lock, [&] { return sent < budget || finished; });
          if (sent >= budget) return;
        }
        constexpr std::size_t chunk_size = 25;
        std::vector<std::uint64_t> got;
        if (chunk++ % 2 == 0) {
          std::vector<std::future<rtev::publish_ack>> acks;
          for (std::size_t i = 0; i < chunk_size; ++i)
            acks.push_back(pub.publish("feed", "tick", {{"n", sent + i}}));
          for (auto& a : acks) got.push_back(a.get().seq);
        } else {
          json batch = json::array();
          for (std::size_t i = 0; i < chunk_size; ++i)
            batch.push_back({{"room", "feed"}, {"type", "tick"}, {"data", {{"n", sent + i}}}});
          for (const auto& r : rtev::test::publish_http(srv.port(), batch))
            got.push_back(seq_of(r));
        }
        sent += chunk_size;
        std::lock_guard<std::mutex> lock(pub_mutex);
        published.insert(published.end(), got.begin(), got.end());
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(pub_mutex);
      pub_error = e.what();
    }
  });

  // The cutter: whenever the subscriber has received a few more events, cut its link, then
  // release the next round of publishing (which overlaps the reconnection) and wait for the
  // reconnection.
  std::size_t cuts = 0;
  std::size_t seen_at_cut = 0;
  bool stalled = false;
  for (; cuts < cuts_wanted; ++cuts) {
    {
      std::unique_lock<std::mutex> lock(feed_mutex);
      if (!feed_cv.wait_for(lock, default_timeout,
                            [&] { return feed.size() >= seen_at_cut + 20; })) {
        stalled = true;
        break;
      }
      seen_at_cut = feed.size();
    }
    proxy.cut();
    {
      std::lock_guard<std::mutex> lock(pub_mutex);
      budget += per_round;
    }
    pub_cv.notify_all();
    if (!wait_state(states, client_state::connected, cuts + 2)) {
      stalled = true;
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(pub_mutex);
    finished = true;
  }
  pub_cv.notify_all();
  publisher.join();
  REQUIRE(pub_error.empty());
  INFO("cuts: " << cuts << ", published: " << published.size());
  REQUIRE_FALSE(stalled);
  REQUIRE(cuts == cuts_wanted);

  // Everything published eventually arrives (or the wait times out and the comparison shows
  // what is missing).
  std::sort(published.begin(), published.end());
  REQUIRE(published.size() >= cuts_wanted * per_round);
  {
    std::unique_lock<std::mutex> lock(feed_mutex);
    feed_cv.wait_for(lock, 20s, [&] { return feed.size() >= published.size(); });
  }
  std::vector<std::uint64_t> got;
  {
    std::lock_guard<std::mutex> lock(feed_mutex);
    got = feed;
  }
  CHECK(std::is_sorted(got.begin(), got.end()));
  CHECK(std::adjacent_find(got.begin(), got.end()) == got.end());  // no duplicate
  std::vector<std::uint64_t> missing, extra;
  std::vector<std::uint64_t> got_sorted = got;
  std::sort(got_sorted.begin(), got_sorted.end());
  std::set_difference(published.begin(), published.end(), got_sorted.begin(), got_sorted.end(),
                      std::back_inserter(missing));
  std::set_difference(got_sorted.begin(), got_sorted.end(), published.begin(), published.end(),
                      std::back_inserter(extra));
  INFO("missing " << missing.size() << " (first " << (missing.empty() ? 0 : missing.front())
                  << "), extra " << extra.size());
  CHECK(missing.empty());
  CHECK(extra.empty());
  CHECK(got.size() == published.size());
  CHECK(gaps.size() == 0);
  CHECK(proxy.accepted() >= cuts_wanted + 1);
}

TEST_CASE("client_reports_a_gap_when_history_no_longer_reaches_back", "[sdk][client][recovery]") {
  rtev::server_config cfg = rtev::test::test_config();
  cfg.history_max_events = 20;
  rtev::test::local_server srv(cfg);
  rtev::test::tcp_proxy proxy(srv.port());

  recorder<rtev::event> events;
  recorder<rtev::gap_info> gaps;
  recorder<rtev::state_info> states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.rooms = {"g"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { events.add(e); });
  auto s2 = c.on_gap([&](const rtev::gap_info& g) { gaps.add(g); });
  auto s3 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  c.ping().get();

  std::uint64_t last_seen = 0;
  for (int i = 0; i < 3; ++i)
    last_seen = seq_of(rtev::test::publish_http(srv.port(), note("g", i)));
  REQUIRE(events.wait([&](const auto& v) {
    return !seqs_in(v, "g").empty() && seqs_in(v, "g").back() == last_seen;
  }));
  const std::size_t before = events.size();

  // The subscriber's link goes dead; meanwhile far more than the history keeps is published.
  proxy.freeze();
  json batch = json::array();
  for (int i = 0; i < 50; ++i) batch.push_back(note("g", 100 + i));
  const json replies = rtev::test::publish_http(srv.port(), batch);
  const std::uint64_t last_published = seq_of(replies.back());
  // The store prunes after each write batch, so once this later event is acknowledged the
  // earlier batch has been pruned down to the limit.
  rtev::test::publish_http(srv.port(), note("elsewhere", 0));
  const auto kept = rtev::test::fetch_history(srv.port(), "g");
  REQUIRE_FALSE(kept.empty());
  REQUIRE(kept.front().at("seq").get<std::uint64_t>() > last_seen + 1);  // pruned past us

  // The link breaks for real; the client reconnects and resubscribes with since = last_seen.
  proxy.cut();
  proxy.thaw();
  REQUIRE(gaps.wait_size(1));
  const rtev::gap_info gap = gaps.values().front();
  CHECK(gap.room == "g");
  CHECK(gap.after_seq == last_seen);
  CHECK(gap.server_last_seq >= last_published);
  CHECK_FALSE(gap.epoch_changed);

  // What history still had after that point is replayed (before the gap notice), once and in
  // order: a tail of what was kept when we looked (the reconnection's own presence events may
  // have pruned a little more since), up to the last event published.
  std::vector<std::uint64_t> expected;
  for (const auto& e : kept)
    if (e.at("seq").get<std::uint64_t>() > last_seen)
      expected.push_back(e.at("seq").get<std::uint64_t>());
  auto all = events.values();
  const auto replayed = seqs_in(
      std::vector<rtev::event>(all.begin() + static_cast<std::ptrdiff_t>(before), all.end()), "g");
  INFO("replayed " << replayed.size() << " of the " << expected.size() << " kept");
  REQUIRE_FALSE(replayed.empty());
  CHECK(replayed.back() == last_published);
  REQUIRE(replayed.size() <= expected.size());
  CHECK(std::equal(replayed.rbegin(), replayed.rend(), expected.rbegin()));

  // And the room is live again.
  const auto live = seq_of(rtev::test::publish_http(srv.port(), note("g", 999)));
  CHECK(events.wait(
      [&](const auto& v) { return !seqs_in(v, "g").empty() && seqs_in(v, "g").back() == live; }));
  CHECK(gaps.size() == 1);
}

TEST_CASE("client_reports_a_gap_with_epoch_changed_when_the_server_store_is_replaced",
          "[sdk][client][recovery]") {
  rtev::server_config cfg = rtev::test::test_config();  // ":memory:": a new epoch every start
  auto srv = std::make_unique<rtev::server>(cfg);
  srv->start();
  cfg.port = srv->port();

  recorder<rtev::event> events;
  recorder<rtev::gap_info> gaps;
  recorder<rtev::state_info> states;
  rtev::client_options opt = options_for(srv->url());
  opt.rooms = {"e"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { events.add(e); });
  auto s2 = c.on_gap([&](const rtev::gap_info& g) { gaps.add(g); });
  auto s3 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  c.ping().get();
  std::uint64_t last_seen = 0;
  for (int i = 0; i < 5; ++i) last_seen = seq_of(rtev::test::publish_http(cfg.port, note("e", i)));
  REQUIRE(events.wait([&](const auto& v) { return seqs_in(v, "e").size() == 5; }));

  srv.reset();
  srv = std::make_unique<rtev::server>(cfg);
  srv->start();
  REQUIRE(wait_state(states, client_state::connected, 2));
  REQUIRE(gaps.wait([](const auto& v) {
    return std::any_of(v.begin(), v.end(), [](const rtev::gap_info& g) { return g.room == "e"; });
  }));
  for (const auto& g : gaps.values()) {
    if (g.room != "e") continue;
    CHECK(g.epoch_changed);
    CHECK(g.after_seq == 0);  // nothing of the new store; the old position is previous_seq
    CHECK(g.previous_seq == last_seen);
  }

  // The new store numbers from 1 again: its events are new, not duplicates to drop.
  c.ping().get();
  const std::uint64_t fresh = seq_of(rtev::test::publish_http(cfg.port, note("e", 100)));
  REQUIRE(fresh < last_seen);
  CHECK(events.wait([&](const auto& v) {
    return std::any_of(v.begin(), v.end(), [&](const rtev::event& e) {
      return e.room == std::optional<std::string>("e") && e.data == json{{"n", 100}};
    });
  }));
  const auto got = seqs_in(events.values(), "e");
  REQUIRE(got.size() == 6);
  CHECK(got.back() == fresh);
}

TEST_CASE("client_joined_rooms_survive_reconnects", "[sdk][client][recovery]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  recorder<rtev::event> events;
  recorder<rtev::state_info> states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.rooms = {"from-options"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { events.add(e); });
  auto s2 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  c.join("joined-later");
  c.join("left-later");
  c.leave("left-later");
  c.ping().get();

  auto has = [&](const std::string& room, std::uint64_t seq) {
    return events.wait([&](const auto& v) {
      const auto s = seqs_in(v, room);
      return std::find(s.begin(), s.end(), seq) != s.end();
    });
  };

  for (std::size_t round = 1; round <= 3; ++round) {
    proxy.cut();
    REQUIRE(wait_state(states, client_state::connected, round + 1));
    c.ping().get();  // the resubscriptions were sent before this PING
    const auto a = seq_of(rtev::test::publish_http(srv.port(), note("from-options", 0)));
    const auto b = seq_of(rtev::test::publish_http(srv.port(), note("joined-later", 0)));
    const auto x = seq_of(rtev::test::publish_http(srv.port(), note("left-later", 0)));
    const auto sentinel = seq_of(rtev::test::publish_http(srv.port(), note("joined-later", 1)));
    CHECK(has("from-options", a));
    CHECK(has("joined-later", b));
    REQUIRE(has("joined-later", sentinel));
    const auto left = seqs_in(events.values(), "left-later");
    CHECK(std::find(left.begin(), left.end(), x) == left.end());
  }
  CHECK(seqs_in(events.values(), "left-later").empty());
}

TEST_CASE("client_without_recover_resumes_live_only", "[sdk][client][recovery]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  recorder<rtev::event> events;
  recorder<rtev::state_info> states;
  recorder<rtev::gap_info> gaps;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.rooms = {"n"};
  opt.recover = false;
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { events.add(e); });
  auto s2 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  auto s3 = c.on_gap([&](const rtev::gap_info& g) { gaps.add(g); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  c.ping().get();
  const auto first = seq_of(rtev::test::publish_http(srv.port(), note("n", 0)));
  REQUIRE(events.wait_size(1));

  proxy.freeze();
  const auto missed = seq_of(rtev::test::publish_http(srv.port(), note("n", 1)));
  proxy.cut();
  proxy.thaw();
  REQUIRE(wait_state(states, client_state::connected, 2));
  c.ping().get();
  const auto live = seq_of(rtev::test::publish_http(srv.port(), note("n", 2)));
  REQUIRE(events.wait([&](const auto& v) { return seqs_in(v, "n").back() == live; }));
  CHECK(seqs_in(events.values(), "n") == std::vector<std::uint64_t>{first, live});
  CHECK(missed > first);
  CHECK(gaps.size() == 0);
}

// A connection lost after a SUBSCRIBE with `since` was sent but before the server answered
// it: the next connection asks for the same start again (it used to subscribe live only, and
// the events published in between were lost: reliability:subscriber_faults caught it).
TEST_CASE("client_resends_the_initial_since_when_the_first_subscribe_went_unanswered",
          "[sdk][client][recovery]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  recorder<rtev::event> events;
  recorder<rtev::state_info> states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.since = "beginning";
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { events.add(e); });
  auto s2 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  const auto before = seq_of(rtev::test::publish_http(srv.port(), note("late", 0)));
  c.start();
  REQUIRE(is_ready(c.connected()));
  c.ping().get();
  proxy.freeze(rtev::test::tcp_proxy::direction::to_target);
  c.join("late");  // held by the proxy: the server never sees it
  const auto between = seq_of(rtev::test::publish_http(srv.port(), note("late", 1)));
  proxy.cut();
  proxy.thaw();
  REQUIRE(wait_state(states, client_state::connected, 2));
  c.ping().get();
  const auto live = seq_of(rtev::test::publish_http(srv.port(), note("late", 2)));
  REQUIRE(events.wait([&](const auto& v) {
    const auto s = seqs_in(v, "late");
    return !s.empty() && s.back() == live;
  }));
  CHECK(seqs_in(events.values(), "late") == std::vector<std::uint64_t>{before, between, live});
}

// Issue 13: after an epoch change the client resubscribed live only, so what the new store took
// while it was away was never delivered, and the gap notice named a seq of the old store.
TEST_CASE("client_replays_the_new_store_after_an_epoch_change_and_says_so_once",
          "[sdk][client][recovery]") {
  const auto proto =
      GENERATE(rtev::wire_protocol::rtev, rtev::wire_protocol::socketio, rtev::wire_protocol::sse);
  INFO("protocol " << rtev::to_string(proto));
  rtev::test::local_server old_store, new_store;  // ":memory:" each: two epochs
  const std::string old_epoch = epoch_of(old_store.port());
  const std::string new_epoch = epoch_of(new_store.port());
  REQUIRE(old_epoch != new_epoch);
  rtev::test::tcp_proxy proxy(old_store.port());

  recorder<rtev::event> events;
  // Each gap notice with how many events of room "e" had been delivered when it came.
  recorder<std::pair<rtev::gap_info, std::size_t>> gaps;
  recorder<rtev::state_info> states;
  recorder<rtev::join_info> joins;
  rtev::client_options opt = options_over(proto, proxy.port());
  opt.rooms = {"e"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { events.add(e); });
  auto s2 = c.on_gap([&](const rtev::gap_info& g) {
    gaps.add({g, seqs_in(events.values(), "e").size()});
  });
  auto s3 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  auto s4 = c.on_joined([&](const rtev::join_info& j) {
    if (j.room == "e") joins.add(j);
  });
  c.start();
  REQUIRE(is_ready(c.connected()));
  REQUIRE(joins.wait_size(1));
  std::vector<std::uint64_t> old_seqs;
  for (int i = 0; i < 4; ++i)
    old_seqs.push_back(seq_of(rtev::test::publish_http(old_store.port(), note("e", i))));
  REQUIRE(events.wait([&](const auto& v) { return seqs_in(v, "e") == old_seqs; }));

  // While the client hears nothing, the new store takes events of the room.
  std::vector<std::uint64_t> new_seqs;
  move_to(proxy, new_store.port(), [&] {
    for (int i = 0; i < 3; ++i)
      new_seqs.push_back(seq_of(rtev::test::publish_http(new_store.port(), note("e", 10 + i))));
  });
  REQUIRE(new_seqs.back() <= old_seqs.back());  // seqs seen before: new events, not duplicates
  REQUIRE(wait_state(states, client_state::connected, 2));
  REQUIRE(joins.wait_size(2));
  new_seqs.push_back(seq_of(rtev::test::publish_http(new_store.port(), note("e", 13))));  // live

  SECTION("the new store's events are replayed, then live, in order, once") {
    std::vector<std::uint64_t> expected = old_seqs;
    expected.insert(expected.end(), new_seqs.begin(), new_seqs.end());
    CHECK(events.wait([&](const auto& v) { return seqs_in(v, "e").size() >= expected.size(); }));
    CHECK(seqs_in(events.values(), "e") == expected);
    if (proto != rtev::wire_protocol::sse) {  // SSE: the stream itself is the subscription
      const rtev::join_info again = joins.values().at(1);
      CHECK(again.replayed == 3);
      CHECK(again.recovered);
    }
  }

  SECTION("one gap notice says the store changed, before any event of the new store") {
    REQUIRE(gaps.wait_size(1));
    const auto [g, delivered_before] = gaps.values().front();
    CHECK(g.room == "e");
    CHECK(g.epoch_changed);
    CHECK(g.after_seq == 0);  // no seq of the old store presented as one of the new store
    CHECK(g.previous_seq == old_seqs.back());
    CHECK(g.previous_epoch == old_epoch);
    CHECK(g.epoch == new_epoch);
    CHECK(g.server_last_seq == new_seqs.at(2));  // the new store's frontier when it connected
    CHECK(delivered_before == old_seqs.size());
    // The replay's own answer (the new store recovered from 0) adds no second notice.
    CHECK(events.wait([&](const auto& v) { return seqs_in(v, "e").size() == 8; }));
    CHECK(gaps.size() == 1);
  }
}

// Issue 13: spurious gap notices for a room that never had an event — on an epoch change (its
// recovery point was 0), and on a reconnect to a server whose retention has pruned other rooms
// (it answered `recovered: false` to since 0).
TEST_CASE("client_reports_no_gap_for_a_room_that_never_had_events", "[sdk][client][recovery]") {
  const auto proto =
      GENERATE(rtev::wire_protocol::rtev, rtev::wire_protocol::socketio, rtev::wire_protocol::sse);
  INFO("protocol " << rtev::to_string(proto));
  rtev::server_config cfg = rtev::test::test_config();
  cfg.history_max_events = 5;
  rtev::test::local_server srv(cfg), other_store;
  rtev::test::tcp_proxy proxy(srv.port());

  recorder<rtev::event> events;
  recorder<rtev::gap_info> gaps;
  recorder<rtev::state_info> states;
  recorder<rtev::join_info> joins;
  rtev::client_options opt = options_over(proto, proxy.port());
  opt.rooms = {"quiet", "loud"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { events.add(e); });
  auto s2 = c.on_gap([&](const rtev::gap_info& g) { gaps.add(g); });
  auto s3 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  auto s4 = c.on_joined([&](const rtev::join_info& j) {
    if (j.room == "quiet" || j.room == "loud") joins.add(j);
  });
  c.start();
  REQUIRE(is_ready(c.connected()));
  REQUIRE(joins.wait_size(2));
  for (const auto& j : joins.values()) REQUIRE(j.last_seq == 0);  // the store had no event
  auto joined_quiet = [&](std::size_t n) {
    return joins.wait([&](const auto& v) {
      return std::count_if(v.begin(), v.end(), [](const rtev::join_info& j) {
               return j.room == "quiet";
             }) >= static_cast<std::ptrdiff_t>(n);
    });
  };

  SECTION("across a reconnect, while retention prunes rooms the client is not in") {
    json batch = json::array();
    for (int i = 0; i < 20; ++i) batch.push_back(note("busy", i));
    rtev::test::publish_http(srv.port(), batch);
    // Pruning follows each write batch: once this later event is acknowledged, it is done.
    rtev::test::publish_http(srv.port(), note("elsewhere", 0));
    const auto kept = rtev::test::fetch_history(srv.port(), "busy");
    REQUIRE_FALSE(kept.empty());
    REQUIRE(kept.front().at("seq").get<std::uint64_t>() > 1);  // pruned
    proxy.cut();
    REQUIRE(wait_state(states, client_state::connected, 2));
    REQUIRE(joined_quiet(2));
    // Still joined: a new event arrives.
    const auto live = seq_of(rtev::test::publish_http(srv.port(), note("quiet", 0)));
    REQUIRE(events.wait([&](const auto& v) { return seqs_in(v, "quiet") == std::vector{live}; }));
    CHECK(gaps.size() == 0);
  }

  SECTION("across an epoch change: only the room that had events is told") {
    const auto loud = seq_of(rtev::test::publish_http(srv.port(), note("loud", 0)));
    REQUIRE(events.wait([&](const auto& v) { return seqs_in(v, "loud") == std::vector{loud}; }));
    move_to(proxy, other_store.port(), [] {});
    REQUIRE(wait_state(states, client_state::connected, 2));
    REQUIRE(joined_quiet(2));
    REQUIRE(joins.wait_size(4));
    REQUIRE(gaps.wait_size(1));
    const auto live = seq_of(rtev::test::publish_http(other_store.port(), note("quiet", 0)));
    REQUIRE(events.wait([&](const auto& v) { return seqs_in(v, "quiet") == std::vector{live}; }));
    REQUIRE(gaps.size() == 1);
    CHECK(gaps.values().front().room == "loud");
    CHECK(gaps.values().front().epoch_changed);
  }
}
