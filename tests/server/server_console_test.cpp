// The browser console's routes (docs/console.md): its files at /, /console and /console/*,
// --console off, and the two public endpoints it added, GET /api/catalog and
// GET /api/connections. Runs the real server in-process on port 0. (The page itself is tested
// in a browser: tests/console.)
#include <catch2/catch.hpp>

#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace rtev::test;

TEST_CASE("the_console_is_served_at_root_and_console_with_its_content_types",
          "[server][http][console]") {
  local_server srv;
  SECTION("the page at /, /console and /console/") {
    for (const std::string path : {"/", "/console", "/console/", "/console/index.html"}) {
      INFO(path);
      const http_response r = http_get(srv.port(), path);
      REQUIRE(r.status == 200);
      CHECK(r.header("content-type") == "text/html; charset=utf-8");
      CHECK(r.body.find("<title>rtev console</title>") != std::string::npos);
      CHECK(r.header("cache-control") == "no-cache");
      CHECK(r.header("content-security-policy").value_or("").find("default-src 'self'") == 0);
    }
  }
  SECTION("its assets with their own types") {
    CHECK(http_get(srv.port(), "/console/console.css").header("content-type") ==
          "text/css; charset=utf-8");
    for (const std::string name :
         {"console", "live", "publish", "history", "connections", "stats", "start"}) {
      INFO(name);
      const http_response js = http_get(srv.port(), "/console/" + name + ".js");
      CHECK(js.status == 200);
      CHECK(js.header("content-type") == "text/javascript; charset=utf-8");
    }
    CHECK(http_get(srv.port(), "/console/live.js").body.find("presence=false") !=
          std::string::npos);
  }
  SECTION("HEAD gives the headers and no body") {
    const http_response r = http_request(srv.port(), "HEAD", "/console");
    CHECK(r.status == 200);
    CHECK(r.body.empty());
  }
  SECTION("an unknown file is the API's 404") {
    const http_response r = http_get(srv.port(), "/console/nope.js");
    CHECK(r.status == 404);
    CHECK(r.header("content-type").value_or("").find("application/json") == 0);
  }
}

TEST_CASE("console_off_leaves_root_and_console_unknown", "[server][http][console]") {
  auto cfg = test_config();
  cfg.console = false;
  local_server srv(cfg);
  for (const std::string path : {"/", "/console", "/console/console.js"}) {
    INFO(path);
    CHECK(http_get(srv.port(), path).status == 404);
  }
}

TEST_CASE("api_catalog_lists_the_event_types_with_their_fields", "[server][http][console]") {
  local_server srv;
  const http_response r = http_get(srv.port(), "/api/catalog");
  REQUIRE(r.status == 200);
  const json types = r.json().at("types");
  REQUIRE(types.size() == 40);
  const json& first = types.at(0);
  CHECK(first.at("name") == "message_sent");
  CHECK(first.at("family") == "messenger");
  CHECK(first.at("fields").at(0) ==
        json{{"name", "message_id"}, {"type", "id"}, {"required", true}});
}

TEST_CASE("api_connections_lists_who_is_connected_and_the_rooms", "[server][http][console]") {
  auto cfg = test_config();
  cfg.api_key = "sekret";
  local_server srv(cfg);
  auto alice = rtev_client::connect_as(srv.port(), "alice");
  alice.subscribe("ops");

  CHECK(http_get(srv.port(), "/api/connections").status == 401);
  CHECK(http_get(srv.port(), "/api/connections", {{"Authorization", "Bearer nope"}}).status == 403);
  const http_response r =
      http_get(srv.port(), "/api/connections", {{"Authorization", "Bearer sekret"}});
  REQUIRE(r.status == 200);
  const json j = r.json();
  REQUIRE(j.at("connections").size() == 1);
  const json& c = j.at("connections").at(0);
  CHECK(c.at("user_id") == "alice");
  CHECK(c.at("protocol") == "rtev");
  CHECK(c.at("presence") == true);
  CHECK(c.at("rooms") == json{"user:alice", "ops"});
  CHECK(c.at("queued") == 0);
  CHECK(is_rfc3339_micros(c.at("connected_at").get<std::string>()));
  CHECK(j.at("rooms").size() == 2);
  for (const json& room : j.at("rooms")) CHECK(room.at("members") == 1);
}

TEST_CASE("the_api_key_in_an_authenticate_message_is_the_operator", "[server][ws][auth][console]") {
  auto cfg = test_config();
  cfg.auth = "token";
  cfg.api_key = "sekret";
  local_server srv(cfg);

  SECTION("an admin named api-key who is nobody's news, and may follow every room") {
    auto watcher = rtev_client::connect_as(srv.port(), R"({"user_id":"ops","role":"admin"})");
    watcher.subscribe("presence");
    rtev_client console(srv.port());
    console.send({{"type", "authenticate"}, {"data", {{"token", "sekret"}}}});
    const json a = console.authenticated();
    CHECK(a.at("user_id") == "api-key");
    CHECK(a.at("roles") == json{"admin"});
    CHECK(a.at("presence") == false);
    CHECK(console.ack("SUBSCRIBE", {{"room", "*"}}).at("room") == "*");
    // Its arrival was not announced: the next presence event is a later user's.
    auto bob = rtev_client::connect_as(srv.port(), "bob");
    // Presence events are live-only (no seq): matched by type.
    const json online = watcher.next_of_type("user_online");
    CHECK(online.at("data").at("user_id") == "bob");
  }
  SECTION("with whitespace around it, as any token is read, it is still the key") {
    rtev_client c(srv.port());
    c.send({{"type", "authenticate"}, {"data", {{"token", " sekret\t"}}}});
    CHECK(c.authenticated().at("user_id") == "api-key");
  }
  SECTION("?token= never carries it: refused, saying where it goes (never a user id)") {
    ws_options o;
    o.query = "token=sekret%20";
    rtev_client c(srv.port(), o);
    const json err = c.next_of_type("auth_error");
    CHECK(err.at("data").at("message").get<std::string>().find("not a user's token") !=
          std::string::npos);
    CHECK(c.wait_close().close_code == 1008);
  }
  SECTION("nor an SSE token") {
    const http_response r = http_get(srv.port(), "/api/events?token=sekret");
    CHECK(r.status == 401);
    CHECK(r.body.find("not a user's token") != std::string::npos);
  }
  SECTION("no token may claim the operator's user id") {
    rtev_client c(srv.port());
    c.send({{"type", "authenticate"},
            {"data", {{"token", R"({"user_id":"api-key","role":"admin"})"}}}});
    const json err = c.next_of_type("auth_error");
    CHECK(err.at("data").at("message").get<std::string>().find("reserved for the operator") !=
          std::string::npos);
  }
  SECTION("a wrong key is an ordinary token") {
    rtev_client c(srv.port());
    c.send({{"type", "authenticate"}, {"data", {{"token", "sekreT"}}}});
    CHECK(c.authenticated().at("user_id") == "sekreT");
  }
}

TEST_CASE("api_connections_is_bounded_and_filters_by_user", "[server][http][console]") {
  local_server srv;
  auto alice = rtev_client::connect_as(srv.port(), "alice");
  auto bob = rtev_client::connect_as(srv.port(), "bob");
  for (int i = 0; i < 150; ++i) bob.subscribe("r" + std::to_string(i));
  SECTION("limit: the first connections by id, and the totals") {
    const json j = http_get(srv.port(), "/api/connections?limit=1").json();
    REQUIRE(j.at("connections").size() == 1);
    CHECK(j.at("connections").at(0).at("user_id") == "alice");
    CHECK(j.at("connections_total") == 2);
    CHECK(j.at("rooms").size() == 1);
    CHECK(j.at("rooms_total") == 152);
  }
  SECTION("user: one user's connections; at most 100 of its rooms, with their number") {
    const json j = http_get(srv.port(), "/api/connections?user=bob").json();
    REQUIRE(j.at("connections").size() == 1);
    const json& c = j.at("connections").at(0);
    CHECK(c.at("rooms").size() == 100);
    CHECK(c.at("rooms_total") == 151);
    CHECK(j.at("connections_total") == 1);
  }
  SECTION("a bad limit is a 400 naming it") {
    const http_response r = http_get(srv.port(), "/api/connections?limit=0");
    CHECK(r.status == 400);
    CHECK(r.body.find("limit: expected a positive integer (at most 10000)") != std::string::npos);
  }
}

TEST_CASE("stats_users_leave_out_connections_with_presence_off", "[server][http][console]") {
  local_server srv;
  auto alice = rtev_client::connect_as(srv.port(), "alice");
  ws_options quiet;
  quiet.query = "token=console&presence=false";
  rtev_client console(srv.port(), quiet);
  CHECK(console.authenticated().at("presence") == false);
  const json s = http_get(srv.port(), "/api/stats").json();
  CHECK(s.at("connections") == 2);
  CHECK(s.at("users") == 1);
}
