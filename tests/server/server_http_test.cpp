// server-lite HTTP endpoints: /health, /api/stats (/api/ws), /metrics, POST /api/events,
// /api/history, /api/users/{id}, CORS and 404s (docs/server.md). Runs the real server
// in-process on port 0.
#include <catch2/catch.hpp>

#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace rtev::test;

namespace {

const header_list bearer_key = {{"Authorization", "Bearer sekret"}};

bool is_json_error(const http_response& r) {
  const json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") && j["error"].contains("code") &&
         j["error"].contains("message") && j["error"]["message"].is_string();
}

std::string error_message(const http_response& r) {
  return r.json().at("error").at("message").get<std::string>();
}

// The value of a sample line "name value" in Prometheus text.
std::optional<double> metric(const std::string& text, const std::string& name) {
  std::size_t at = 0;
  while ((at = text.find(name + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + name.size() + 1));
    at += name.size();
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("health_reports_status_and_services", "[server][http]") {
  local_server srv;
  auto c = rtev_client::connect_as(srv.port(), "alice");
  const http_response r = http_get(srv.port(), "/health");
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type").value_or("").find("application/json") == 0);
  const json h = r.json();
  CHECK(h.at("status") == "ok");
  CHECK(is_rfc3339_micros(h.at("timestamp").get<std::string>()));
  const json& ws = h.at("services").at("websocket");
  CHECK(ws.at("status") == "active");
  CHECK(ws.at("connections") == 1);
  CHECK(ws.at("authenticatedUsers") == 1);
  CHECK(h.at("services").at("history").is_object());
}

TEST_CASE("stats_and_metrics_count_connections_users_rooms_and_events", "[server][http]") {
  local_server srv;
  auto a1 = rtev_client::connect_as(srv.port(), "alice");
  auto a2 = rtev_client::connect_as(srv.port(), "alice");
  auto b = rtev_client::connect_as(srv.port(), "bob");
  a1.subscribe("lobby");
  b.subscribe("lobby");
  for (int i = 0; i < 3; ++i)
    publish_http(srv.port(), {{"room", "lobby"}, {"type", "note"}, {"data", {}}});
  for (int i = 0; i < 3; ++i) b.next_event_in("lobby");
  a1.next_event_in("lobby");

  for (const std::string path : {"/api/stats", "/api/ws"}) {
    INFO(path);
    const http_response r = http_get(srv.port(), path);
    REQUIRE(r.status == 200);
    const json s = r.json();
    CHECK(s.at("connections") == 3);
    CHECK(s.at("users") == 2);
    CHECK(s.at("rooms").get<int>() >= 1);
    CHECK(s.at("events_published").get<int>() >= 3);
    CHECK(s.at("events_delivered").get<int>() >= 6);
    CHECK(s.at("events_dropped") == 0);
    CHECK(s.at("by_type").at("note") == 3);
    CHECK(s.at("uptime_s").is_number());
  }

  const http_response m = http_get(srv.port(), "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.header("content-type").value_or("").find("text/plain") == 0);
  INFO(m.body);
  CHECK(metric(m.body, "rtev_connections") == 3.0);
  CHECK(metric(m.body, "rtev_users") == 2.0);
  CHECK(metric(m.body, "rtev_rooms").value_or(0) >= 1);
  CHECK(metric(m.body, "rtev_events_published_total").value_or(0) >= 3);
  CHECK(metric(m.body, "rtev_events_delivered_total").value_or(0) >= 6);
  CHECK(metric(m.body, "rtev_events_dropped_total") == 0.0);
  CHECK(metric(m.body, "rtev_uptime_seconds").has_value());
  CHECK(m.body.find("# TYPE rtev_connections gauge") != std::string::npos);
  CHECK(m.body.find("type=\"note\"} 3") != std::string::npos);
}

TEST_CASE("post_events_publishes_one_or_many_and_answers_202", "[server][http][publish]") {
  local_server srv;
  auto alice = rtev_client::connect_as(srv.port(), "alice");
  auto bob = rtev_client::connect_as(srv.port(), "bob");
  alice.subscribe("lead:9");

  SECTION("one event answers {id, seq}") {
    const http_response r = http_post_json(
        srv.port(), "/api/events", R"({"type":"lead.created","room":"lead:9","data":{"n":1}})");
    REQUIRE(r.status == 202);
    const json j = r.json();
    CHECK(j.at("id").is_string());
    const json e = alice.next_event_in("lead:9");
    CHECK(e.at("seq") == j.at("seq"));
    CHECK(e.at("id") == j.at("id"));
    CHECK(e.at("data").at("n") == 1);
  }
  SECTION("an array answers a list, in order") {
    const json body =
        json::array({{{"type", "a"}, {"room", "lead:9"}, {"data", {}}},
                     {{"type", "b"}, {"user_id", "bob"}, {"data", {}}},
                     {{"type", "c"}, {"broadcast", true}, {"data", {}}},
                     {{"type", "d"}, {"room", "lead:9"}, {"id", "mine-1"}, {"data", {}}}});
    const http_response r = http_post_json(srv.port(), "/api/events", body.dump());
    REQUIRE(r.status == 202);
    const json list = r.json();
    REQUIRE(list.is_array());
    REQUIRE(list.size() == 4);
    CHECK(list[3].at("id") == "mine-1");
    CHECK(alice.next_event_in("lead:9").at("seq") == list[0].at("seq"));
    CHECK(bob.next_event_in("user:bob").at("seq") == list[1].at("seq"));
    const json all = bob.next_of_type("c");
    CHECK(all.at("seq") == list[2].at("seq"));
    CHECK_FALSE(all.contains("room"));
    CHECK(alice.next_event_in("lead:9").at("id") == "mine-1");
  }
  SECTION("user_ids fans out to one event per user") {
    const http_response r = http_post_json(srv.port(), "/api/events",
                                           R"({"type":"dm","user_ids":["alice","bob"],"data":{}})");
    REQUIRE(r.status == 202);
    const json ea = alice.next_event_in("user:alice");
    const json eb = bob.next_event_in("user:bob");
    CHECK(ea.at("seq") != eb.at("seq"));
  }
}

TEST_CASE("post_events_rejects_bad_input_with_json_errors", "[server][http][publish]") {
  local_server srv;
  SECTION("malformed JSON is 400") {
    const http_response r = http_post_json(srv.port(), "/api/events", "{\"type\": ");
    CHECK(r.status == 400);
    CHECK(is_json_error(r));
  }
  SECTION("a missing field is 400 naming it") {
    const http_response r =
        http_post_json(srv.port(), "/api/events", R"({"room":"lead:9","data":{}})");
    CHECK(r.status == 400);
    REQUIRE(is_json_error(r));
    CHECK(error_message(r).find("type") != std::string::npos);
  }
  SECTION("a missing field in an array item is 400 naming the item and field") {
    const http_response r =
        http_post_json(srv.port(), "/api/events",
                       R"([{"type":"ok","room":"a","data":{}},{"room":"b","data":{}}])");
    CHECK(r.status == 400);
    REQUIRE(is_json_error(r));
    CHECK(error_message(r).find("type") != std::string::npos);
    CHECK(error_message(r).find('1') != std::string::npos);
    // Nothing of a refused request is stored.
    CHECK(fetch_history(srv.port(), "a").empty());
  }
  SECTION("an event without a target is 400 naming the targets; nothing is stored") {
    const http_response r = http_post_json(srv.port(), "/api/events",
                                           R"([{"type":"ok","room":"a","data":{}},)"
                                           R"({"type":"everyone","data":{}}])");
    CHECK(r.status == 400);
    REQUIRE(is_json_error(r));
    CHECK_THAT(error_message(r), Catch::Matchers::StartsWith("[1]: missing target") &&
                                     Catch::Matchers::Contains("broadcast: true"));
    CHECK(fetch_history(srv.port(), "").empty());
  }
  SECTION("an invalid room is 400") {
    const http_response r =
        http_post_json(srv.port(), "/api/events", R"({"type":"x","room":"no spaces","data":{}})");
    CHECK(r.status == 400);
    CHECK(is_json_error(r));
  }
  // Found by fuzz/http_events_fuzz.cpp: the parser's message quotes the bytes it stopped at,
  // and serializing a message that is not UTF-8 threw on the service thread.
  SECTION("malformed JSON with invalid UTF-8 is 400 with a UTF-8 message; the server goes on") {
    const http_response r = http_post_json(srv.port(), "/api/events", "[]\xeb\xeb\xeb\xeb");
    CHECK(r.status == 400);
    REQUIRE(is_json_error(r));
    CHECK(error_message(r).find("\\xeb") != std::string::npos);  // quoted as printable ASCII
    CHECK(http_get(srv.port(), "/health").status == 200);
  }
}

// Found by fuzz/http_query_fuzz.cpp: an error quoting a query value that is not UTF-8 once
// decoded (`until=%B2…`) threw while being serialized, ending the server.
TEST_CASE("api_history_quotes_bad_query_values_as_valid_utf8", "[server][http][history]") {
  local_server srv;
  const http_response r = http_get(srv.port(), "/api/history?room=lobby&until=%B2099-01-01");
  CHECK(r.status == 400);
  REQUIRE(is_json_error(r));
  CHECK(error_message(r).find("until") != std::string::npos);
  CHECK(http_get(srv.port(), "/health").status == 200);
}

// Found by fuzz/http_query_fuzz.cpp: a user id that is not UTF-8 once decoded was echoed in
// the reply, whose serialization threw.
TEST_CASE("api_users_answers_for_a_user_id_that_is_not_utf8", "[server][http]") {
  local_server srv;
  const http_response r = http_get(srv.port(), "/api/users/a%ACb");
  CHECK(r.status == 400);
  REQUIRE(is_json_error(r));
  CHECK(error_message(r) == "user id: invalid UTF-8");
  CHECK(http_get(srv.port(), "/health").status == 200);
}

TEST_CASE("post_events_needs_the_api_key_when_one_is_set", "[server][http][auth]") {
  auto cfg = test_config();
  cfg.api_key = "sekret";
  local_server srv(cfg);
  const std::string body = R"({"type":"x","room":"lead:9","data":{}})";

  const http_response none = http_post_json(srv.port(), "/api/events", body);
  CHECK(none.status == 401);
  CHECK(is_json_error(none));
  const http_response wrong =
      http_post_json(srv.port(), "/api/events", body, {{"Authorization", "Bearer nope"}});
  CHECK(wrong.status == 403);
  CHECK(is_json_error(wrong));
  const http_response right = http_post_json(srv.port(), "/api/events", body, bearer_key);
  CHECK(right.status == 202);
  // Only the accepted one was stored.
  CHECK(fetch_history(srv.port(), "lead:9", "sekret").size() == 1);

  SECTION("the admin disconnect endpoint needs it too") {
    CHECK(http_request(srv.port(), "POST", "/api/users/alice/disconnect").status == 401);
    CHECK(http_request(srv.port(), "POST", "/api/users/alice/disconnect", bearer_key).status ==
          200);
  }
}

TEST_CASE("api_users_needs_the_api_key_when_one_is_set", "[server][http][auth]") {
  auto cfg = test_config();
  cfg.api_key = "sekret";
  local_server srv(cfg);
  auto alice = rtev_client::connect_as(srv.port(), "alice");
  const http_response none = http_get(srv.port(), "/api/users/alice");
  CHECK(none.status == 401);
  CHECK(is_json_error(none));
  CHECK(http_get(srv.port(), "/api/users/alice", {{"Authorization", "Bearer nope"}}).status == 403);
  const http_response right = http_get(srv.port(), "/api/users/alice", bearer_key);
  REQUIRE(right.status == 200);
  CHECK(right.json().at("connections") == 1);
}

TEST_CASE("the_api_key_is_never_taken_from_the_query", "[server][http][auth]") {
  auto cfg = test_config();
  cfg.api_key = "sekret";
  local_server srv(cfg);
  const std::string body = R"({"type":"x","room":"lead:9","data":{}})";
  const http_response publish = http_post_json(srv.port(), "/api/events?token=sekret", body);
  CHECK(publish.status == 401);
  REQUIRE(is_json_error(publish));
  CHECK(error_message(publish).find("Authorization") != std::string::npos);
  CHECK(error_message(publish).find("?token=") != std::string::npos);
  CHECK(http_get(srv.port(), "/api/users/alice?token=sekret").status == 401);
  CHECK(http_request(srv.port(), "POST", "/api/users/alice/disconnect?token=sekret").status == 401);
  // Nothing was published with the key from the URL.
  CHECK(fetch_history(srv.port(), "lead:9", "sekret").empty());
}

TEST_CASE("post_events_refuses_oversized_bodies_with_413", "[server][http][limits]") {
  auto cfg = test_config();
  cfg.max_message_bytes = 1024;
  local_server srv(cfg);
  const json big = {
      {"type", "x"}, {"room", "lead:9"}, {"data", {{"blob", std::string(64 * 1024, 'b')}}}};
  const http_response r = http_post_json(srv.port(), "/api/events", big.dump());
  CHECK(r.status == 413);
  CHECK(is_json_error(r));
  CHECK(fetch_history(srv.port(), "lead:9").empty());
  // A normal request still works.
  CHECK(http_post_json(srv.port(), "/api/events", R"({"type":"x","room":"lead:9","data":{}})")
            .status == 202);
}

TEST_CASE("post_events_rate_limits_with_429", "[server][http][limits]") {
  auto cfg = test_config();
  cfg.rate_limit = 2;
  cfg.rate_burst = 2;
  local_server srv(cfg);
  const std::string body = R"({"type":"x","room":"lead:9","data":{}})";
  int accepted = 0, limited = 0;
  for (int i = 0; i < 6; ++i) {
    const http_response r = http_post_json(srv.port(), "/api/events", body);
    if (r.status == 202) ++accepted;
    if (r.status == 429) {
      ++limited;
      CHECK(is_json_error(r));
    }
  }
  CHECK(accepted >= 2);
  CHECK(limited >= 1);
  CHECK(accepted + limited == 6);
}

TEST_CASE("api_history_returns_events_oldest_first_with_next", "[server][http][history]") {
  local_server srv;
  std::vector<json> sent;
  for (int i = 0; i < 5; ++i)
    sent.push_back(publish_http(
        srv.port(), {{"room", "lead:9"}, {"type", i % 2 ? "odd" : "even"}, {"data", {{"i", i}}}}));
  publish_http(srv.port(), {{"room", "lead:10"}, {"type", "even"}, {"data", {}}});

  const json page1 = http_get(srv.port(), "/api/history?room=lead:9&limit=2").json();
  REQUIRE(page1.at("events").size() == 2);
  CHECK(page1["events"][0].at("seq") == sent[0].at("seq"));
  CHECK(page1["events"][1].at("seq") == sent[1].at("seq"));
  CHECK(page1.at("next") == sent[1].at("seq"));
  const json page2 =
      http_get(srv.port(), "/api/history?room=lead:9&limit=2&since=" + page1["next"].dump()).json();
  REQUIRE(page2.at("events").size() == 2);
  CHECK(page2["events"][0].at("seq") == sent[2].at("seq"));
  const json page3 =
      http_get(srv.port(), "/api/history?room=lead:9&limit=2&since=" + page2["next"].dump()).json();
  REQUIRE(page3.at("events").size() == 1);
  CHECK(page3.at("next").is_null());

  const json odd = http_get(srv.port(), "/api/history?room=lead:9&types=odd").json();
  CHECK(odd.at("events").size() == 2);
  const json full = http_get(srv.port(), "/api/history?room=lead:9").json();
  REQUIRE(full.at("events").size() == 5);
  const std::string t2 = full["events"][2].at("timestamp");
  const json later =
      http_get(srv.port(), "/api/history?room=lead:9&since=" + url_encode(t2)).json();
  CHECK(later.at("events").size() == 3);
  const json earlier =
      http_get(srv.port(), "/api/history?room=lead:9&until=" + url_encode(t2)).json();
  CHECK(earlier.at("events").size() == 3);
  const http_response bad = http_get(srv.port(), "/api/history?room=lead:9&limit=zero");
  CHECK(bad.status == 400);
  CHECK(is_json_error(bad));
}

TEST_CASE("api_users_reports_a_users_connections", "[server][http]") {
  local_server srv;
  auto a1 = rtev_client::connect_as(srv.port(), "alice");
  auto a2 = rtev_client::connect_as(srv.port(), "alice");
  const json alice = http_get(srv.port(), "/api/users/alice").json();
  CHECK(alice.at("user_id") == "alice");
  CHECK(alice.at("connected") == true);
  CHECK(alice.at("connections") == 2);
  const json nobody = http_get(srv.port(), "/api/users/nobody").json();
  CHECK(nobody.at("user_id") == "nobody");
  CHECK(nobody.at("connected") == false);
  CHECK(nobody.at("connections") == 0);
}

TEST_CASE("cors_headers_follow_cors_origin", "[server][http][cors]") {
  SECTION("without --cors-origin there are no CORS headers") {
    local_server srv;
    CHECK_FALSE(http_get(srv.port(), "/health").header("access-control-allow-origin"));
  }
  SECTION("--cors-origin '*' allows any origin, on preflights too") {
    auto cfg = test_config();
    cfg.cors_origin = "*";
    local_server srv(cfg);
    const header_list origin = {{"Origin", "https://app.example"}};
    CHECK(http_get(srv.port(), "/health", origin).header("access-control-allow-origin") ==
          std::optional<std::string>("*"));
    const http_response pre =
        http_request(srv.port(), "OPTIONS", "/api/events",
                     {{"Origin", "https://app.example"},
                      {"Access-Control-Request-Method", "POST"},
                      {"Access-Control-Request-Headers", "authorization,content-type"}});
    CHECK(pre.status / 100 == 2);
    CHECK(pre.header("access-control-allow-origin") == std::optional<std::string>("*"));
    CHECK(pre.header("access-control-allow-methods").value_or("").find("POST") !=
          std::string::npos);
    CHECK(pre.header("access-control-allow-headers").value_or("").find("Authorization") !=
          std::string::npos);
    const http_response post =
        http_post_json(srv.port(), "/api/events", R"({"type":"x","room":"r","data":{}})", origin);
    CHECK(post.status == 202);
    CHECK(post.header("access-control-allow-origin") == std::optional<std::string>("*"));
  }
  SECTION("a specific origin is named") {
    auto cfg = test_config();
    cfg.cors_origin = "https://app.example";
    local_server srv(cfg);
    CHECK(http_get(srv.port(), "/api/stats", {{"Origin", "https://app.example"}})
              .header("access-control-allow-origin") ==
          std::optional<std::string>("https://app.example"));
  }
}

TEST_CASE("unknown_paths_get_404_json", "[server][http]") {
  local_server srv;
  for (const std::string path : {"/nope", "/api/nope", "/api/events/extra"}) {
    INFO(path);
    const http_response r = http_get(srv.port(), path);
    CHECK(r.status == 404);
    CHECK(r.header("content-type").value_or("").find("application/json") == 0);
    CHECK(is_json_error(r));
  }
}
