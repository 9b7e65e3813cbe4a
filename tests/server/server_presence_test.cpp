// server-lite presence (docs/protocol.md §4.4): user_online/user_offline are live-only by
// default (no id, no seq, not stored, so never replayed, in HISTORY or a recording), stored as
// before with server_config::store_presence (`rtev serve --store-presence`); a connection that
// only publishes opts out with ?presence=false (or "presence": false when authenticating) and
// is then neither announced nor listed by PRESENCE. Runs the real server in-process on port 0.
#include <catch2/catch.hpp>

#include <optional>
#include <set>
#include <string>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace rtev::test;

namespace {

rtev::server_config token_mode() {
  auto cfg = test_config();
  cfg.auth = "token";
  return cfg;
}

const char* const admin_token = R"({"user_id":"root","role":"admin"})";

rtev_client::predicate presence(const std::string& type, const std::string& user) {
  return [type, user](const json& m) {
    return type_of(m) == type && m.value("room", "") == "presence" &&
           m.at("data").value("user_id", "") == user;
  };
}

bool mailbox_has(rtev_client& c, const rtev_client::predicate& pred) {
  for (const auto& m : c.mailbox())
    if (pred(m)) return true;
  return false;
}

// Admins may publish into presence: a stored marker there, once received, orders every
// "this did not arrive" check after it (presence events are queued at once, markers after
// the store commits them).
void marker(std::uint16_t port, rtev_client& admin) {
  const json sent = publish_http(port, {{"room", "presence"}, {"type", "marker"}, {"data", {}}});
  admin.next_where([&](const json& m) { return m.value("seq", json()) == sent["seq"]; });
}

// The server has let go of every connection of `user` (/api/users/{id} says so): whatever
// presence event its last close caused has been queued by then.
void wait_disconnected(std::uint16_t port, const std::string& user) {
  const auto until = steady::now() + default_timeout;
  while (http_get(port, "/api/users/" + user).json().at("connected") == true) {
    if (steady::now() > until) FAIL(user << " still connected");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a state, not a guess
  }
}

ws_options with_query(const std::string& query) {
  ws_options o;
  o.query = query;
  return o;
}

}  // namespace

TEST_CASE("presence_events_are_live_only_by_default", "[server][ws][presence]") {
  local_server srv(token_mode());
  auto admin = rtev_client::connect_as(srv.port(), admin_token);
  admin.subscribe("presence");

  std::optional<rtev_client> first = rtev_client::connect_as(srv.port(), "alice");
  const json online = admin.next_where(presence("user_online", "alice"));
  CHECK_FALSE(online.contains("seq"));
  CHECK_FALSE(online.contains("id"));
  CHECK(online.at("data").at("timestamp").is_string());
  CHECK(online.at("timezone") == "UTC");

  std::optional<rtev_client> second = rtev_client::connect_as(srv.port(), "alice");
  marker(srv.port(), admin);
  CHECK_FALSE(mailbox_has(admin, presence("user_online", "alice")));  // only the first announces

  first->close();
  first.reset();
  marker(srv.port(), admin);
  CHECK_FALSE(mailbox_has(admin, presence("user_offline", "alice")));

  second->close();
  second.reset();
  const json offline = admin.next_where(presence("user_offline", "alice"));
  CHECK_FALSE(offline.contains("seq"));

  SECTION("nothing of it was stored: history, replay and the seq order hold only the markers") {
    const auto stored = fetch_history(srv.port(), "presence", admin_token);
    REQUIRE(stored.size() == 2);
    for (const auto& e : stored) CHECK(e.at("type") == "marker");
    CHECK(stored[1].at("seq").get<std::uint64_t>() == stored[0].at("seq").get<std::uint64_t>() + 1);
    auto late = rtev_client::connect_as(srv.port(), admin_token);
    const auto [replayed, ack] =
        late.request_collect("SUBSCRIBE", {{"room", "presence"}, {"since", "beginning"}});
    CHECK(ack.at("data").at("replayed") == 2);
    for (const auto& e : replayed) CHECK(e.at("type") == "marker");
  }
}

TEST_CASE("store_presence_keeps_presence_events_in_history_with_a_seq", "[server][ws][presence]") {
  auto cfg = token_mode();
  cfg.store_presence = true;
  local_server srv(cfg);
  auto admin = rtev_client::connect_as(srv.port(), admin_token);
  admin.subscribe("presence");
  std::optional<rtev_client> alice = rtev_client::connect_as(srv.port(), "alice");
  const json online = admin.next_where(presence("user_online", "alice"));
  REQUIRE(online.at("seq").is_number_unsigned());
  CHECK(online.at("id").is_string());
  alice->close();
  alice.reset();
  const json offline = admin.next_where(presence("user_offline", "alice"));
  CHECK(offline.at("seq").get<std::uint64_t>() > online.at("seq").get<std::uint64_t>());
  std::set<std::string> types;
  for (const auto& e : fetch_history(srv.port(), "presence", admin_token))
    if (e.at("data").value("user_id", "") == "alice") types.insert(e.at("type"));
  CHECK(types == std::set<std::string>{"user_online", "user_offline"});
}

TEST_CASE("a_connection_with_presence_off_is_not_announced_or_listed", "[server][ws][presence]") {
  local_server srv(token_mode());
  auto admin = rtev_client::connect_as(srv.port(), admin_token);
  admin.subscribe("presence");
  auto only_alice_events = [](const json& m) {
    return m.value("room", "") == "presence" && m.at("data").value("user_id", "") == "alice";
  };

  SECTION("?presence=false on the WebSocket URL: authenticated says so; it publishes as usual") {
    rtev_client quiet(srv.port(), with_query("presence=false&token=alice"));
    const json who = quiet.authenticated();
    CHECK(who.at("presence") == false);
    quiet.publish({{"room", "user:alice"}, {"type", "note"}, {"data", json::object()}});
    quiet.subscribe("lobby");
    CHECK(admin.ack("PRESENCE", {{"room", "lobby"}}).at("users").empty());
    CHECK(http_get(srv.port(), "/api/users/alice").json().at("connected") == true);
    quiet.close();
    wait_disconnected(srv.port(), "alice");
    marker(srv.port(), admin);
    CHECK_FALSE(mailbox_has(admin, only_alice_events));
  }
  SECTION("\"presence\": false in the authenticate message") {
    rtev_client quiet(srv.port());
    quiet.send_op("authenticate", {{"token", "alice"}, {"presence", false}});
    CHECK(quiet.authenticated().at("presence") == false);
    quiet.close();
    wait_disconnected(srv.port(), "alice");
    marker(srv.port(), admin);
    CHECK_FALSE(mailbox_has(admin, only_alice_events));
  }
  SECTION("a quiet connection does not keep its user online, nor announce it going") {
    std::optional<rtev_client> loud = rtev_client::connect_as(srv.port(), "alice");
    admin.next_where(presence("user_online", "alice"));
    rtev_client quiet(srv.port(), with_query("presence=0&token=alice"));
    quiet.authenticated();
    loud->subscribe("lobby");
    quiet.subscribe("lobby");
    CHECK(admin.ack("PRESENCE", {{"room", "lobby"}}).at("users") ==
          json::array({{{"user_id", "alice"}, {"connections", 1}}}));  // the quiet one not counted
    loud->close();
    loud.reset();
    admin.next_where(presence("user_offline", "alice"));  // the quiet one is still connected
  }
  SECTION("?presence=maybe is refused before the upgrade, naming the parameter") {
    ws_client ws(srv.port(), with_query("presence=maybe&token=alice"));
    CHECK(ws.status() == 400);
    CHECK_THAT(ws.body(), Catch::Matchers::Contains("presence") &&
                              Catch::Matchers::Contains("expected true or false"));
  }
  SECTION("an SSE stream with ?presence=false is not announced") {
    {
      sse_stream s(srv.port(), "/api/events?token=alice&presence=false");
      REQUIRE(s.status() == 200);
      s.close();
    }
    wait_disconnected(srv.port(), "alice");
    marker(srv.port(), admin);
    CHECK_FALSE(mailbox_has(admin, only_alice_events));
  }
}

TEST_CASE("authenticated_announces_the_connection_rate_limit", "[server][ws][auth][rate]") {
  SECTION("the defaults: 100 per second, a burst of one second's worth") {
    auto cfg = test_config();
    cfg.rate_limit = 100;
    local_server srv(cfg);
    rtev_client c(srv.port(), with_query("token=alice"));
    const json who = c.authenticated();
    CHECK(who.at("rate_limit") == json{{"per_second", 100}, {"burst", 100}});
    CHECK(who.at("presence") == true);
  }
  SECTION("what --rate-limit and --rate-burst set") {
    auto cfg = test_config();
    cfg.rate_limit = 2.5;
    cfg.rate_burst = 7;
    local_server srv(cfg);
    rtev_client c(srv.port(), with_query("token=alice"));
    CHECK(c.authenticated().at("rate_limit") == json{{"per_second", 2.5}, {"burst", 7}});
  }
}
