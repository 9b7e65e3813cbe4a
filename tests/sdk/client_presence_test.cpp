// rtev::client and presence against the real server (rtev::server in-process): live-only
// presence events (no seq) are delivered and do not disturb seq dedupe or recovery across a
// reconnect; client_options::presence = false keeps a client out of presence over every wire
// (rtev, SSE, Socket.IO); the connected state reports the server's announced rate limit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "rtev/client.hpp"
#include "rtev/server/server.hpp"
#include "tests/sdk/client_recorder.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"
#include "tests/support/tcp_proxy.hpp"

using namespace std::chrono_literals;
using rtev::client_state;
using rtev::test::default_timeout;
using rtev::test::recorder;
using json = nlohmann::json;

namespace {

rtev::client_options options_for(const std::string& url) {
  rtev::client_options o;
  o.url = url;
  o.backoff.initial = 10ms;
  o.backoff.max = 100ms;
  o.backoff.jitter = 0;
  o.backoff.reset_after = 0ms;
  return o;
}

bool is_ready(const std::shared_future<void>& f) {
  return f.wait_for(default_timeout) == std::future_status::ready;
}

std::uint64_t publish_note(std::uint16_t port, const std::string& room, int n) {
  return rtev::test::publish_http(port, {{"room", room}, {"type", "note"}, {"data", {{"n", n}}}})
      .at("seq")
      .get<std::uint64_t>();
}

bool is_presence(const rtev::event& e, const std::string& type, const std::string& user) {
  return e.type == type && e.room == std::optional<std::string>("presence") &&
         e.data.value("user_id", "") == user;
}

}  // namespace

TEST_CASE("client_delivers_presence_without_seq_and_still_dedupes_across_a_reconnect",
          "[sdk][client][presence]") {
  rtev::test::local_server srv;  // none mode: anyone may follow the presence room
  rtev::test::tcp_proxy proxy(srv.port());
  recorder<rtev::event> events;
  recorder<rtev::state_info> states;
  recorder<rtev::gap_info> gaps;
  auto opt = options_for(proxy.ws_url());
  opt.token = "watcher";
  opt.rooms = {"presence", "r"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { events.add(e); });
  auto s2 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  auto s3 = c.on_gap([&](const rtev::gap_info& g) { gaps.add(g); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  c.ping().get();  // both SUBSCRIBEs answered before this PONG

  std::optional<rtev::test::rtev_client> alice =
      rtev::test::rtev_client::connect_as(srv.port(), "alice");
  REQUIRE(events.wait([](const auto& v) {
    return std::any_of(v.begin(), v.end(),
                       [](const rtev::event& e) { return is_presence(e, "user_online", "alice"); });
  }));
  const std::uint64_t a = publish_note(srv.port(), "r", 1);
  REQUIRE(events.wait([&](const auto& v) { return v.back().seq == std::optional(a); }));

  proxy.cut();  // the client reconnects and resubscribes both rooms with since
  REQUIRE(states.wait([](const auto& v) {
    return std::count_if(v.begin(), v.end(), [](const rtev::state_info& s) {
             return s.state == client_state::connected;
           }) >= 2;
  }));
  c.ping().get();
  alice->close();
  alice.reset();
  const std::uint64_t b = publish_note(srv.port(), "r", 2);
  REQUIRE(events.wait([&](const auto& v) {
    const bool offline = std::any_of(v.begin(), v.end(), [](const rtev::event& e) {
      return is_presence(e, "user_offline", "alice");
    });
    return offline && std::any_of(v.begin(), v.end(),
                                  [&](const rtev::event& e) { return e.seq == std::optional(b); });
  }));

  std::vector<std::uint64_t> seqs;
  for (const auto& e : events.values()) {
    if (e.room == std::optional<std::string>("presence"))
      CHECK_FALSE(e.seq.has_value());  // live-only
    else if (e.seq)
      seqs.push_back(*e.seq);
  }
  CHECK(seqs == std::vector<std::uint64_t>{a, b});  // each once, in order
  CHECK(gaps.size() == 0);                          // no seq holes from presence: nothing to report
  c.stop();
}

TEST_CASE("client_with_presence_off_is_not_announced_on_any_wire", "[sdk][client][presence]") {
  rtev::test::local_server srv;
  auto watcher = rtev::test::rtev_client::connect_as(srv.port(), "watcher");
  watcher.subscribe("presence");
  const std::string host = "127.0.0.1:" + std::to_string(srv.port());

  struct wire {
    const char* name;
    rtev::wire_protocol protocol;
    std::string url;
  };
  for (const wire& w :
       {wire{"rtev", rtev::wire_protocol::rtev, "ws://" + host + "/events/ws/connect"},
        wire{"sse", rtev::wire_protocol::sse, "http://" + host + "/api/events"},
        wire{"socketio", rtev::wire_protocol::socketio, "http://" + host}}) {
    INFO("wire " << w.name);
    const std::string user = std::string("quiet-") + w.name;
    recorder<rtev::state_info> states;
    {
      auto opt = options_for(w.url);
      opt.protocol = w.protocol;
      opt.token = user;
      opt.presence = false;
      rtev::client c(opt);
      auto s = c.on_state([&](const rtev::state_info& i) { states.add(i); });
      c.start();
      REQUIRE(is_ready(c.connected()));
      // Published by this client, so it was connected (and would have been announced).
      if (w.protocol != rtev::wire_protocol::sse)
        c.publish("user:" + user, "note", json::object()).get();
      c.stop();
    }
    // A marker stored after the client left: presence events are queued at once, so anything
    // about this user would have come before it.
    const json marker = rtev::test::publish_http(
        srv.port(), {{"room", "presence"}, {"type", "marker"}, {"data", {}}});
    watcher.next_where([&](const json& m) { return m.value("seq", json()) == marker["seq"]; });
    for (const auto& m : watcher.mailbox())
      CHECK(m.value("data", json::object()).value("user_id", "") != user);
    if (w.protocol != rtev::wire_protocol::sse) {
      const auto v = states.values();
      const auto it = std::find_if(v.begin(), v.end(), [](const rtev::state_info& s) {
        return s.state == client_state::connected;
      });
      REQUIRE(it != v.end());
      REQUIRE(it->rate_limit.has_value());
      CHECK(it->rate_limit->per_second == rtev::test::test_config().rate_limit);
      CHECK(it->rate_limit->burst == rtev::test::test_config().rate_limit);  // one second's worth
    }
  }
}
