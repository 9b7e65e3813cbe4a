// server-lite WebSocket operations around rooms: SUBSCRIBE/UNSUBSCRIBE, the join and publish
// permission rules, the event envelope, broadcasts, user_ids, idempotent publish, typing
// indicators and presence (docs/protocol.md). Runs the real server in-process on port 0.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

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

json note(const std::string& room, const std::string& text = "hi") {
  return {{"room", room}, {"type", "note"}, {"data", {{"text", text}}}};
}

// A marker published after everything a test wants to be sure did NOT arrive: it comes after
// those in seq order, so once it is received, anything earlier would have been received too.
// Published to the client's own user: room, which every client has joined.
void await_marker(std::uint16_t port, rtev_client& c, const std::string& user) {
  const json sent = publish_http(port, {{"user_id", user}, {"type", "marker"}, {"data", {}}});
  c.next_where([&](const json& m) { return type_of(m) == "marker" && m["seq"] == sent["seq"]; });
}

bool mailbox_has(rtev_client& c, const std::function<bool(const json&)>& pred) {
  for (const auto& m : c.mailbox())
    if (pred(m)) return true;
  return false;
}

std::set<std::string> presence_users(const json& ack_data) {
  std::set<std::string> users;
  for (const auto& u : ack_data.at("users"))
    users.insert(u.is_string() ? u.get<std::string>() : u.at("user_id").get<std::string>());
  return users;
}

}  // namespace

TEST_CASE("subscribe_and_unsubscribe_are_acknowledged_and_control_delivery",
          "[server][ws][rooms]") {
  local_server srv;
  auto c = rtev_client::connect_as(srv.port(), "alice");

  SECTION("SUBSCRIBE without since is acknowledged with replayed 0 and the store's facts") {
    const json reply = c.request("SUBSCRIBE", {{"room", "contact:123"}});
    REQUIRE(reply.at("type") == "ACK");
    const json& ack = reply.at("data");
    CHECK(ack.at("op") == "SUBSCRIBE");
    CHECK(ack.at("room") == "contact:123");
    CHECK(ack.at("replayed") == 0);
    CHECK(ack.contains("recovered"));
    CHECK(ack.at("epoch").is_string());
    CHECK(ack.at("last_seq").is_number());
  }
  SECTION("events of a subscribed room arrive, and stop after UNSUBSCRIBE") {
    c.subscribe("campaign:7");
    const json sent = publish_http(srv.port(), note("campaign:7", "one"));
    const json got = c.next_event_in("campaign:7");
    CHECK(got.at("seq") == sent.at("seq"));
    CHECK(got.at("data").at("text") == "one");

    const json unsub = c.request("UNSUBSCRIBE", {{"room", "campaign:7"}});
    REQUIRE(unsub.at("type") == "ACK");
    CHECK(unsub.at("data").at("op") == "UNSUBSCRIBE");
    CHECK(unsub.at("data").at("room") == "campaign:7");
    publish_http(srv.port(), note("campaign:7", "two"));
    await_marker(srv.port(), c, "alice");
    CHECK_FALSE(mailbox_has(c, [](const json& m) { return is_event_in(m, "campaign:7"); }));
  }
  SECTION("operation names are case-insensitive and ref is echoed") {
    c.send({{"type", "subscribe"}, {"ref", "lower"}, {"data", {{"room", "lead:9"}}}});
    const json ack = c.next_where([](const json& m) { return is_reply_to(m, "lower"); });
    CHECK(ack.at("type") == "ACK");
    c.send({{"type", "Ping"}, {"ref", "mixed"}, {"data", json::object()}});
    const json pong = c.next_where([](const json& m) { return is_reply_to(m, "mixed"); });
    CHECK(pong.at("type") == "PONG");
    c.send({{"type", "PING"}, {"ref", "bare"}});  // no data at all
    CHECK(c.next_where([](const json& m) { return is_reply_to(m, "bare"); }).at("type") == "PONG");
  }
  SECTION("room names allow 128 of [A-Za-z0-9_:.@-] and nothing else") {
    const std::string longest(128, 'r');
    CHECK(c.subscribe(longest).at("room") == longest);
    CHECK(c.subscribe("content_123").at("room") == "content_123");
    CHECK(c.subscribe("a.b@c-d:e_f").at("room") == "a.b@c-d:e_f");
    CHECK(c.error("SUBSCRIBE", {{"room", std::string(129, 'r')}}).at("code") == "bad_request");
    CHECK(c.error("SUBSCRIBE", {{"room", "two words"}}).at("code") == "bad_request");
    CHECK(c.error("SUBSCRIBE", {{"room", "caf\xc3\xa9"}}).at("code") == "bad_request");
    CHECK(c.error("SUBSCRIBE", {{"room", ""}}).at("code") == "bad_request");
  }
}

TEST_CASE("users_join_their_user_and_role_rooms_automatically", "[server][ws][rooms]") {
  local_server srv(token_mode());
  auto alice = rtev_client::connect_as(srv.port(), R"({"user_id":"alice","role":"support"})");
  auto bob = rtev_client::connect_as(srv.port(), "bob");

  const json to_alice = publish_http(srv.port(), note("user:alice"));
  const json to_support = publish_http(srv.port(), note("role:support"));
  CHECK(alice.next_event_in("user:alice").at("seq") == to_alice.at("seq"));
  CHECK(alice.next_event_in("role:support").at("seq") == to_support.at("seq"));

  await_marker(srv.port(), bob, "bob");
  CHECK_FALSE(
      mailbox_has(bob, [](const json& m) { return m.contains("seq") && type_of(m) == "note"; }));
}

TEST_CASE("joining_rooms_follows_the_permission_rules", "[server][ws][rooms]") {
  SECTION("in token mode") {
    local_server srv(token_mode());
    auto user = rtev_client::connect_as(srv.port(), "alice");
    auto admin = rtev_client::connect_as(srv.port(), R"({"user_id":"root","role":"admin"})");

    CHECK(user.subscribe("user:alice").at("room") == "user:alice");
    CHECK(user.error("SUBSCRIBE", {{"room", "user:bob"}}).at("code") == "forbidden");
    CHECK(user.error("SUBSCRIBE", {{"room", "role:admin"}}).at("code") == "forbidden");
    CHECK(user.error("SUBSCRIBE", {{"room", "contact:*"}}).at("code") == "forbidden");
    CHECK(user.error("SUBSCRIBE", {{"room", "*"}}).at("code") == "forbidden");
    CHECK(user.error("SUBSCRIBE", {{"room", "presence"}}).at("code") == "forbidden");
    CHECK(user.subscribe("contact:123").at("room") == "contact:123");
    // The connection survives every refusal.
    CHECK(user.request("PING", json::object()).at("type") == "PONG");

    CHECK(admin.subscribe("presence").at("room") == "presence");
    CHECK(admin.subscribe("contact:*").at("room") == "contact:*");
    const json c1 = publish_http(srv.port(), note("contact:1"));
    const json l1 = publish_http(srv.port(), note("lead:1"));
    const json c2 = publish_http(srv.port(), note("contact:2:sub"));
    CHECK(admin.next_event_in("contact:1").at("seq") == c1.at("seq"));
    CHECK(admin.next_event_in("contact:2:sub").at("seq") == c2.at("seq"));
    CHECK_FALSE(
        mailbox_has(admin, [&](const json& m) { return m.value("seq", json()) == l1["seq"]; }));
  }
  SECTION("the firehose glob * sees every room") {
    local_server srv(token_mode());
    auto admin = rtev_client::connect_as(srv.port(), R"({"user_id":"root","role":"admin"})");
    CHECK(admin.subscribe("*").at("room") == "*");
    const json a = publish_http(srv.port(), note("lead:9"));
    const json b = publish_http(srv.port(), note("user:someone"));
    CHECK(admin.next_event_in("lead:9").at("seq") == a.at("seq"));
    CHECK(admin.next_event_in("user:someone").at("seq") == b.at("seq"));
  }
  SECTION("in none mode globs and presence are open, other users' rooms are not") {
    local_server srv;
    auto c = rtev_client::connect_as(srv.port(), "alice");
    CHECK(c.subscribe("contact:*").at("room") == "contact:*");
    CHECK(c.subscribe("presence").at("room") == "presence");
    CHECK(c.error("SUBSCRIBE", {{"room", "user:bob"}}).at("code") == "forbidden");
    CHECK(c.error("SUBSCRIBE", {{"room", "role:admin"}}).at("code") == "forbidden");
  }
}

TEST_CASE("publishing_follows_the_permission_rules", "[server][ws][publish]") {
  local_server srv(token_mode());
  auto alice = rtev_client::connect_as(srv.port(), "alice");
  auto bob = rtev_client::connect_as(srv.port(), "bob");

  SECTION("a user publishes to rooms it may join, its own user room included") {
    const json ack = alice.publish(note("contact:123"));
    CHECK(ack.at("seq").is_number());
    CHECK(ack.at("id").is_string());
    CHECK(alice.publish(note("user:alice")).at("seq").is_number());
  }
  SECTION("a user may not publish to other users, role rooms it lacks, or broadcast") {
    CHECK(alice.error("PUBLISH", note("user:bob")).at("code") == "forbidden");
    CHECK(alice.error("PUBLISH", {{"user_id", "bob"}, {"type", "dm"}, {"data", {}}}).at("code") ==
          "forbidden");
    CHECK(alice.error("PUBLISH", {{"user_ids", {"bob", "carol"}}, {"type", "dm"}, {"data", {}}})
              .at("code") == "forbidden");
    CHECK(alice.error("PUBLISH", {{"broadcast", true}, {"type", "all"}, {"data", {}}}).at("code") ==
          "forbidden");
    CHECK(alice.error("PUBLISH", note("role:admin")).at("code") == "forbidden");
    CHECK(alice.error("PUBLISH", note("presence")).at("code") == "forbidden");
    // None of them reached bob.
    await_marker(srv.port(), bob, "bob");
    CHECK_FALSE(
        mailbox_has(bob, [](const json& m) { return type_of(m) == "dm" || type_of(m) == "all"; }));
  }
  SECTION("roles service and admin may target users and broadcast") {
    for (const std::string role : {"service", "admin"}) {
      auto svc = rtev_client::connect_as(srv.port(),
                                         json{{"user_id", "svc-" + role}, {"role", role}}.dump());
      const json dm = svc.publish({{"user_id", "bob"}, {"type", "dm"}, {"data", {{"by", role}}}});
      CHECK(bob.next_event_in("user:bob").at("seq") == dm.at("seq"));
      const json all =
          svc.publish({{"broadcast", true}, {"type", "all"}, {"data", {{"by", role}}}});
      const json got = alice.next_of_type("all");
      CHECK(got.at("seq") == all.at("seq"));
      CHECK_FALSE(got.contains("room"));
    }
  }
  SECTION("in none mode anyone may target users and broadcast") {
    local_server open_srv;
    auto x = rtev_client::connect_as(open_srv.port(), "x");
    auto y = rtev_client::connect_as(open_srv.port(), "y");
    const json dm = x.publish({{"user_id", "y"}, {"type", "dm"}, {"data", {}}});
    CHECK(y.next_event_in("user:y").at("seq") == dm.at("seq"));
    const json all = x.publish({{"broadcast", true}, {"type", "all"}, {"data", {}}});
    CHECK(y.next_of_type("all").at("seq") == all.at("seq"));
  }
}

TEST_CASE("published_events_carry_the_envelope_and_a_strictly_increasing_seq",
          "[server][ws][publish]") {
  auto cfg = test_config();
  cfg.timezone = "Asia/Kolkata";  // +05:30 all year: the offset is predictable
  local_server srv(cfg);
  auto pub = rtev_client::connect_as(srv.port(), "pub");
  auto sub = rtev_client::connect_as(srv.port(), "sub");
  sub.subscribe("lead:9");

  std::vector<json> acks;
  for (int i = 0; i < 5; ++i)
    acks.push_back(
        pub.publish({{"room", "lead:9"}, {"type", "lead.updated"}, {"data", {{"n", i}}}}));
  const json with_id = pub.publish(
      {{"room", "lead:9"}, {"type", "lead.updated"}, {"id", "client-id-1"}, {"data", {{"n", 5}}}});
  CHECK(with_id.at("id") == "client-id-1");
  acks.push_back(with_id);

  std::set<std::string> ids;
  std::uint64_t last = 0;
  for (std::size_t i = 0; i < acks.size(); ++i) {
    const json e = sub.next_event_in("lead:9");
    INFO(e.dump());
    for (const char* field : {"type", "id", "seq", "room", "timestamp", "timezone", "data"})
      CHECK(e.contains(field));
    CHECK(e.at("type") == "lead.updated");
    CHECK(e.at("data").at("n") == i);
    CHECK(e.at("seq") == acks[i].at("seq"));
    CHECK(e.at("id") == acks[i].at("id"));
    CHECK(e.at("seq").get<std::uint64_t>() > last);
    last = e["seq"].get<std::uint64_t>();
    ids.insert(e.at("id").get<std::string>());
    CHECK(e.at("timezone") == "Asia/Kolkata");
    const std::string ts = e.at("timestamp").get<std::string>();
    CHECK(is_rfc3339_micros(ts));
    CHECK(ts.substr(ts.size() - 6) == "+05:30");
  }
  CHECK(ids.size() == acks.size());
  CHECK(ids.count("client-id-1") == 1);
  // The client id is also the stored id.
  const auto stored = fetch_history(srv.port(), "lead:9");
  REQUIRE(stored.size() == acks.size());
  CHECK(stored.back().at("id") == "client-id-1");
}

TEST_CASE("broadcast_reaches_every_connection_and_has_no_room", "[server][ws][publish]") {
  local_server srv;
  auto a = rtev_client::connect_as(srv.port(), "a");
  auto b = rtev_client::connect_as(srv.port(), "b");
  rtev_client anon(srv.port());
  anon.authenticated();
  b.subscribe("lobby");

  const json ack =
      a.publish({{"broadcast", true}, {"type", "maintenance"}, {"data", {{"in", "5m"}}}});
  for (rtev_client* c : {&a, &b, &anon}) {
    const json e = c->next_of_type("maintenance");
    CHECK(e.at("seq") == ack.at("seq"));
    CHECK_FALSE(e.contains("room"));
    CHECK(e.at("data").at("in") == "5m");
    CHECK(e.at("timezone") == "UTC");  // the default zone
  }
}

TEST_CASE("publish_without_a_target_is_refused_naming_the_targets", "[server][ws][publish]") {
  // Forgetting the room must not reach everyone: a broadcast is asked for by name.
  local_server srv;  // none mode: anyone may broadcast, so only the missing target can refuse
  auto a = rtev_client::connect_as(srv.port(), "a");
  auto b = rtev_client::connect_as(srv.port(), "b");
  SECTION("no target at all") {
    a.send_op("PUBLISH", {{"type", "oops"}, {"data", {{"n", 1}}}}, "p1");
    const json reply = a.next_where([](const json& m) { return is_reply_to(m, "p1"); });
    REQUIRE(type_of(reply) == "ERROR");
    CHECK(reply.at("data").at("code") == "bad_request");
    const std::string msg = reply.at("data").at("message");
    for (const char* name : {"target", "room", "user_id", "user_ids", "broadcast: true"})
      CHECK_THAT(msg, Catch::Matchers::Contains(name));
  }
  SECTION("broadcast: false is no target either") {
    CHECK(a.error("PUBLISH", {{"type", "oops"}, {"broadcast", false}, {"data", {}}}).at("code") ==
          "bad_request");
  }
  // Nothing was delivered or stored: a broadcast published next is the first thing b sees.
  const json ack = a.publish({{"broadcast", true}, {"type", "after"}, {"data", {}}});
  CHECK(b.next_where([](const json& m) { return m.contains("seq"); }).at("seq") == ack.at("seq"));
  CHECK(fetch_history(srv.port(), "").size() == 1);
}

TEST_CASE("user_ids_publish_makes_one_event_per_user_with_its_own_seq", "[server][ws][publish]") {
  local_server srv(token_mode());
  auto svc = rtev_client::connect_as(srv.port(), R"({"user_id":"svc","role":"service"})");
  auto u1 = rtev_client::connect_as(srv.port(), "u1");
  auto u2 = rtev_client::connect_as(srv.port(), "u2");

  const json reply = svc.request("PUBLISH", {{"user_ids", {"u1", "u2", "u3"}},
                                             {"type", "reminder"},
                                             {"id", "batch-1"},
                                             {"data", {{"text", "standup"}}}});
  REQUIRE(reply.at("type") == "ACK");
  const json e1 = u1.next_event_in("user:u1");
  const json e2 = u2.next_event_in("user:u2");
  CHECK(e1.at("type") == "reminder");
  CHECK(e2.at("type") == "reminder");
  CHECK(e1.at("seq") != e2.at("seq"));
  CHECK(e1.at("id") != e2.at("id"));
  CHECK(e1.at("id") == "batch-1/u1");
  CHECK(e2.at("id") == "batch-1/u2");
  // The offline user's event is stored in user:u3 with a third seq.
  const auto u3 = fetch_history(srv.port(), "user:u3", "u3");  // bearer: u3 may read its room
  REQUIRE(u3.size() == 1);
  CHECK(u3[0].at("id") == "batch-1/u3");
  const std::set<json> seqs = {e1["seq"], e2["seq"], u3[0]["seq"]};
  CHECK(seqs.size() == 3);
  // Each user got exactly their own.
  await_marker(srv.port(), u1, "u1");
  CHECK_FALSE(mailbox_has(u1, [](const json& m) { return type_of(m) == "reminder"; }));
}

TEST_CASE("idempotent_publish_stores_a_repeated_id_once", "[server][ws][publish]") {
  local_server srv;
  auto pub = rtev_client::connect_as(srv.port(), "pub");
  auto sub = rtev_client::connect_as(srv.port(), "sub");
  sub.subscribe("orders");
  const json ev = {
      {"room", "orders"}, {"type", "order.created"}, {"id", "order-42"}, {"data", {{"total", 10}}}};

  const json first = pub.publish(ev);
  const json again = pub.publish(ev);
  CHECK(first.at("id") == "order-42");
  CHECK(again.at("seq") == first.at("seq"));
  // Through the HTTP API too: same id, same seq.
  const json http_again = publish_http(srv.port(), ev);
  CHECK(http_again.at("seq") == first.at("seq"));

  CHECK(sub.next_event_in("orders").at("seq") == first.at("seq"));
  await_marker(srv.port(), sub, "sub");
  CHECK_FALSE(mailbox_has(sub, [](const json& m) { return is_event_in(m, "orders"); }));
  const auto stored = fetch_history(srv.port(), "orders");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].at("id") == "order-42");
}

TEST_CASE("typing_indicators_reach_other_members_only_and_are_not_stored", "[server][ws][typing]") {
  local_server srv;
  auto alice = rtev_client::connect_as(srv.port(), "alice");
  auto bob = rtev_client::connect_as(srv.port(), "bob");
  auto carol = rtev_client::connect_as(srv.port(), "carol");
  alice.subscribe("chat:1");
  bob.subscribe("chat:1");

  alice.send_op("TYPING_START", {{"room", "chat:1"}});
  const json start = bob.next_of_type("typing_indicator");
  CHECK(start.at("room") == "chat:1");
  CHECK(start.at("data").at("user_id") == "alice");
  CHECK(start.at("data").at("room") == "chat:1");
  CHECK(start.at("data").at("is_typing") == true);
  CHECK_FALSE(start.contains("seq"));

  alice.send_op("typing_stop", {{"room", "chat:1"}});
  const json stop = bob.next_of_type("typing_indicator");
  CHECK(stop.at("data").at("is_typing") == false);
  CHECK_FALSE(stop.contains("seq"));

  // The sender and non-members got none: a stored event published afterwards arrives first.
  const json after = publish_http(srv.port(), note("chat:1"));
  CHECK(alice.next_event_in("chat:1").at("seq") == after.at("seq"));
  CHECK_FALSE(mailbox_has(alice, [](const json& m) { return type_of(m) == "typing_indicator"; }));
  await_marker(srv.port(), carol, "carol");
  CHECK_FALSE(mailbox_has(carol, [](const json& m) { return type_of(m) == "typing_indicator"; }));

  const auto stored = fetch_history(srv.port(), "chat:1");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].at("type") == "note");
  CHECK(alice.error("TYPING_START", {{"room", "user:bob"}}).at("code") == "forbidden");
}

TEST_CASE("presence_lists_the_users_of_a_room_and_needs_the_right_to_join_it",
          "[server][ws][presence]") {
  local_server srv(token_mode());
  auto alice = rtev_client::connect_as(srv.port(), "alice");
  auto alice2 = rtev_client::connect_as(srv.port(), "alice");
  auto bob = rtev_client::connect_as(srv.port(), "bob");
  auto carol = rtev_client::connect_as(srv.port(), "carol");
  alice.subscribe("campaign:7");
  alice2.subscribe("campaign:7");
  bob.subscribe("campaign:7");
  carol.subscribe("campaign:8");

  const json ack = carol.ack("PRESENCE", {{"room", "campaign:7"}});
  CHECK(presence_users(ack) == std::set<std::string>{"alice", "bob"});
  CHECK(presence_users(carol.ack("PRESENCE", {{"room", "campaign:9"}})).empty());
  CHECK(alice.error("PRESENCE", {{"room", "user:bob"}}).at("code") == "forbidden");
  CHECK(alice.error("PRESENCE", {{"room", "role:admin"}}).at("code") == "forbidden");
}

// Presence events themselves (live-only by default, --store-presence, opting out): see
// server_presence_test.cpp.
