// server-lite WebSocket endpoint: handshake (paths, subprotocols) and authentication in the
// three modes (docs/protocol.md, "Auth"). Runs the real server in-process on port 0.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>

#include "auth.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace rtev::test;
using rtev::server_lite::base64url_encode;
using rtev::server_lite::hmac_sha256;
using rtev::server_lite::sign_jwt_hs256;

namespace {

const std::string secret = "integration-secret";

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

rtev::server_config with_auth(const std::string& mode) {
  auto cfg = test_config();
  cfg.auth = mode;
  if (mode == "jwt") cfg.jwt_secret = secret;
  return cfg;
}

ws_options with_query_token(const std::string& token) {
  ws_options o;
  o.query = "token=" + url_encode(token);
  return o;
}

// The server must answer a refused token with an auth_error message and then close 1008.
void require_auth_error_then_1008(rtev_client& c) {
  const json err = c.next_of_type("auth_error");
  CHECK(err.at("data").at("message").is_string());
  CHECK_FALSE(err["data"]["message"].get<std::string>().empty());
  const ws_message closed = c.wait_close();
  CHECK(closed.type == ws_message::kind::close);
  CHECK(closed.close_code == 1008);
}

// A JWT with an arbitrary header, signed with `key`: a refusal then comes from the alg check.
std::string jwt_with_header(const std::string& header, const std::string& payload,
                            const std::string& key) {
  const std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  return input + "." + base64url_encode(hmac_sha256(key, input));
}

}  // namespace

TEST_CASE("websocket_accepts_browser_style_clients_on_both_paths", "[server][ws][handshake]") {
  local_server srv;

  SECTION("a client that offers no subprotocol is accepted and gets none back") {
    rtev_client c(srv.port());
    CHECK(c.ws().status() == 101);
    CHECK_FALSE(c.ws().headers().count("sec-websocket-protocol"));
    c.authenticated();
    CHECK(c.request("PING", json::object()).at("type") == "PONG");
  }
  SECTION("a client that offers rtev.v1 gets rtev.v1 back") {
    ws_options o;
    o.protocols = {"rtev.v1"};
    rtev_client c(srv.port(), o);
    CHECK(c.ws().status() == 101);
    CHECK(find_header(c.ws().headers(), "Sec-WebSocket-Protocol") ==
          std::optional<std::string>("rtev.v1"));
    c.authenticated();
    CHECK(c.request("PING", json::object()).at("type") == "PONG");
  }
  SECTION("the /ws path speaks the same protocol") {
    ws_options o;
    o.path = "/ws";
    rtev_client c(srv.port(), o);
    const json who = c.authenticated();
    CHECK(who.contains("user_id"));
    CHECK(c.subscribe("lobby").at("op") == "SUBSCRIBE");
  }
  SECTION("an upgrade on an unknown path is refused with a JSON 404") {
    ws_options o;
    o.path = "/nowhere";
    ws_client c(srv.port(), o);
    CHECK(c.status() == 404);
    const json body = json::parse(c.body(), nullptr, false);
    REQUIRE(body.is_object());
    CHECK(body.at("error").contains("code"));
    CHECK(body.at("error").contains("message"));
  }
}

TEST_CASE("authenticated_message_carries_the_session_facts", "[server][ws][auth]") {
  auto cfg = test_config();
  cfg.timezone = "Europe/Paris";
  local_server srv(cfg);
  rtev_client c(srv.port(), with_query_token("alice"));
  const json who = c.authenticated();
  CHECK(who.at("user_id") == "alice");
  CHECK(who.contains("connection_id"));
  CHECK(who.at("timezone") == "Europe/Paris");
  REQUIRE(who.at("server_time").is_string());
  CHECK(is_rfc3339_micros(who["server_time"].get<std::string>()));
  REQUIRE(who.at("epoch").is_string());
  CHECK_FALSE(who["epoch"].get<std::string>().empty());
  REQUIRE(who.at("last_seq").is_number_unsigned());

  SECTION("last_seq is the newest seq, and a second connection gets its own connection_id") {
    const json ack = c.publish({{"room", "lobby"}, {"type", "note"}, {"data", json::object()}});
    rtev_client d(srv.port(), with_query_token("alice"));
    const json again = d.authenticated();
    CHECK(again.at("last_seq").get<std::uint64_t>() >= ack.at("seq").get<std::uint64_t>());
    CHECK(again.at("connection_id") != who.at("connection_id"));
    CHECK(again.at("epoch") == who.at("epoch"));
  }
}

TEST_CASE("auth_none_accepts_everyone_and_a_token_names_the_user", "[server][ws][auth]") {
  local_server srv(with_auth("none"));

  SECTION("without a token the user is anon-<connection_id>") {
    rtev_client c(srv.port());
    const json who = c.authenticated();
    const std::string conn = who.at("connection_id").is_string()
                                 ? who["connection_id"].get<std::string>()
                                 : who["connection_id"].dump();
    CHECK(who.at("user_id") == "anon-" + conn);
  }
  SECTION("a query token is the user id") {
    auto c = rtev_client::connect_as(srv.port(), "alice");
    CHECK(c.subscribe("user:alice").at("room") == "user:alice");
  }
  SECTION("an Authorization bearer token is the user id") {
    ws_options o;
    o.headers = {{"Authorization", "Bearer bob"}};
    rtev_client c(srv.port(), o);
    CHECK(c.authenticated().at("user_id") == "bob");
  }
  SECTION("the room rules apply to the claimed identity") {
    auto c = rtev_client::connect_as(srv.port(), "alice");
    CHECK(c.error("SUBSCRIBE", {{"room", "user:bob"}}).at("code") == "forbidden");
    CHECK(c.error("SUBSCRIBE", {{"room", "role:admin"}}).at("code") == "forbidden");
    auto admin = rtev_client::connect_as(srv.port(), R"({"user_id":"root","role":"admin"})");
    CHECK(admin.subscribe("role:admin").at("room") == "role:admin");
  }
}

TEST_CASE("auth_token_mode_takes_the_token_from_query_header_or_first_message",
          "[server][ws][auth]") {
  local_server srv(with_auth("token"));

  SECTION("a plain query token is the user id") {
    rtev_client c(srv.port(), with_query_token("alice"));
    CHECK(c.authenticated().at("user_id") == "alice");
  }
  SECTION("a URL-encoded JSON query token gives user and role") {
    rtev_client c(srv.port(), with_query_token(R"({"user_id":"u7","role":"admin"})"));
    CHECK(c.authenticated().at("user_id") == "u7");
    CHECK(c.subscribe("role:admin").at("room") == "role:admin");
  }
  SECTION("an Authorization bearer header is accepted") {
    ws_options o;
    o.headers = {{"Authorization", "Bearer carol"}};
    rtev_client c(srv.port(), o);
    CHECK(c.authenticated().at("user_id") == "carol");
  }
  SECTION("a first authenticate message is accepted") {
    rtev_client c(srv.port());
    c.send({{"type", "authenticate"}, {"data", {{"token", "dave"}}}});
    CHECK(c.authenticated().at("user_id") == "dave");
    CHECK(c.subscribe("lobby").at("room") == "lobby");
  }
  SECTION("operations before authenticating get not_authenticated and the connection stays open") {
    rtev_client c(srv.port());
    CHECK(c.error("SUBSCRIBE", {{"room", "lobby"}}).at("code") == "not_authenticated");
    CHECK(c.open());
    c.send({{"type", "authenticate"}, {"data", {{"token", "erin"}}}});
    CHECK(c.authenticated().at("user_id") == "erin");
    CHECK(c.subscribe("lobby").at("room") == "lobby");
  }
  SECTION("a malformed token gets auth_error then close 1008") {
    rtev_client c(srv.port(), with_query_token(R"({"user_id":)"));
    require_auth_error_then_1008(c);
  }
  SECTION("an empty authenticate message gets auth_error then close 1008") {
    rtev_client c(srv.port());
    c.send({{"type", "authenticate"}, {"data", {{"token", ""}}}});
    require_auth_error_then_1008(c);
  }
}

TEST_CASE("an_authenticate_request_with_a_ref_gets_it_back_in_the_answer", "[server][ws][auth]") {
  // Every reply to a request names it: authenticated and auth_error too.
  local_server srv(with_auth("token"));
  SECTION("authenticated") {
    rtev_client c(srv.port());
    c.send({{"type", "authenticate"}, {"ref", "a1"}, {"data", {{"token", "dave"}}}});
    const json m = c.next_of_type("authenticated");
    CHECK(m.at("ref") == "a1");
    CHECK(m.at("data").at("user_id") == "dave");
    c.send({{"type", "authenticate"}, {"ref", 7}, {"data", {{"token", "dave"}}}});
    CHECK(c.next_of_type("authenticated").at("ref") == 7);  // re-authentication too
  }
  SECTION("auth_error") {
    rtev_client c(srv.port());
    c.send({{"type", "authenticate"}, {"ref", "a2"}, {"data", {{"token", ""}}}});
    CHECK(c.next_of_type("auth_error").at("ref") == "a2");
  }
}

TEST_CASE("auth_jwt_checks_signature_expiry_algorithm_and_claims", "[server][ws][auth]") {
  local_server srv(with_auth("jwt"));
  const std::int64_t now = unix_now();

  SECTION("a valid token names the user from sub and the role from role") {
    const auto token = sign_jwt_hs256(
        json{{"sub", "alice"}, {"role", "admin"}, {"exp", now + 3600}}.dump(), secret);
    rtev_client c(srv.port(), with_query_token(token));
    CHECK(c.authenticated().at("user_id") == "alice");
    CHECK(c.subscribe("role:admin").at("room") == "role:admin");
  }
  SECTION("user_id and roles claims work as well, by bearer header") {
    const auto token =
        sign_jwt_hs256(json{{"user_id", "bob"}, {"roles", {"support", "billing"}}}.dump(), secret);
    ws_options o;
    o.headers = {{"Authorization", "Bearer " + token}};
    rtev_client c(srv.port(), o);
    CHECK(c.authenticated().at("user_id") == "bob");
    CHECK(c.subscribe("role:billing").at("room") == "role:billing");
    CHECK(c.error("SUBSCRIBE", {{"room", "role:admin"}}).at("code") == "forbidden");
  }
  SECTION("a token in the first message is accepted") {
    rtev_client c(srv.port());
    c.send({{"type", "authenticate"},
            {"data", {{"token", sign_jwt_hs256(json{{"sub", "carol"}}.dump(), secret)}}}});
    CHECK(c.authenticated().at("user_id") == "carol");
  }
  SECTION("an expired token gets auth_error then close 1008") {
    const auto token = sign_jwt_hs256(json{{"sub", "alice"}, {"exp", now - 60}}.dump(), secret);
    rtev_client c(srv.port(), with_query_token(token));
    require_auth_error_then_1008(c);
  }
  SECTION("an expired token in the first message gets auth_error then close 1008") {
    rtev_client c(srv.port());
    c.send({{"type", "authenticate"},
            {"data",
             {{"token", sign_jwt_hs256(json{{"sub", "a"}, {"exp", now - 60}}.dump(), secret)}}}});
    require_auth_error_then_1008(c);
  }
  SECTION("a token signed with another secret is refused") {
    rtev_client c(srv.port(), with_query_token(sign_jwt_hs256(R"({"sub":"alice"})", "wrong")));
    require_auth_error_then_1008(c);
  }
  SECTION("alg none is refused") {
    const std::string token = base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                              base64url_encode(R"({"sub":"mallory","role":"admin"})") + ".";
    rtev_client c(srv.port(), with_query_token(token));
    require_auth_error_then_1008(c);
  }
  SECTION("other algorithms are refused even with a valid HMAC") {
    const std::string token =
        jwt_with_header(R"({"alg":"HS512","typ":"JWT"})", R"({"sub":"mallory"})", secret);
    rtev_client c(srv.port(), with_query_token(token));
    require_auth_error_then_1008(c);
  }
  SECTION("a rooms claim restricts joins") {
    const auto token =
        sign_jwt_hs256(json{{"sub", "alice"}, {"rooms", {"contact:*", "lead:9"}}}.dump(), secret);
    rtev_client c(srv.port(), with_query_token(token));
    c.authenticated();
    CHECK(c.subscribe("contact:5").at("room") == "contact:5");
    CHECK(c.subscribe("lead:9").at("room") == "lead:9");
    CHECK(c.error("SUBSCRIBE", {{"room", "lead:10"}}).at("code") == "forbidden");
    CHECK(c.error("SUBSCRIBE", {{"room", "campaign:7"}}).at("code") == "forbidden");
  }
  SECTION("no token at all gets auth_error then close 1008 after an empty authenticate") {
    rtev_client c(srv.port());
    c.send({{"type", "AUTHENTICATE"}, {"data", json::object()}});
    require_auth_error_then_1008(c);
  }
}

TEST_CASE("auth_timeout_closes_a_silent_connection_with_1008", "[server][ws][auth]") {
  auto cfg = with_auth("token");
  cfg.auth_timeout = std::chrono::milliseconds(400);
  local_server srv(cfg);

  const auto start = steady::now();
  rtev_client silent(srv.port());
  rtev_client prompt(srv.port());
  prompt.send({{"type", "authenticate"}, {"data", {{"token", "alice"}}}});
  prompt.authenticated();

  const ws_message closed = silent.wait_close();
  const auto elapsed = std::chrono::duration_cast<millis>(steady::now() - start);
  CHECK(closed.type == ws_message::kind::close);
  CHECK(closed.close_code == 1008);
  CHECK(elapsed >= millis(300));
  // The authenticated connection is past its time-out too, and stays.
  CHECK(prompt.request("PING", json::object()).at("type") == "PONG");
}

// --- token expiry on live connections ----------------------------------------------------------

namespace {

// A JWT for `user` that expires three seconds from now (two at least: exp is whole seconds): long
// enough to connect, short enough to wait for (the server checks exp a few times a second).
std::string short_lived_jwt(const std::string& user, json extra = json::object()) {
  extra["sub"] = user;
  extra["exp"] = unix_now() + 3;
  return sign_jwt_hs256(extra.dump(), secret);
}

// Long enough for the token to expire and the server to notice, on a loaded machine.
constexpr millis expiry_deadline{15000};

}  // namespace

TEST_CASE("a_live_websocket_is_closed_with_1008_token_expired_when_its_jwt_expires",
          "[server][ws][auth][expiry]") {
  local_server srv(with_auth("jwt"));
  rtev_client c(srv.port(), with_query_token(short_lived_jwt("alice")));
  c.authenticated();
  CHECK(c.subscribe("lobby").at("room") == "lobby");
  // Another user's long-lived connection is untouched.
  rtev_client other(srv.port(),
                    with_query_token(sign_jwt_hs256(
                        json{{"sub", "bob"}, {"exp", unix_now() + 3600}}.dump(), secret)));
  other.authenticated();

  const json err = c.next_of_type("auth_error", expiry_deadline);
  CHECK(err.at("data").at("code") == "token_expired");
  CHECK(err.at("data").at("message").get<std::string>().find("token expired") == 0);
  const ws_message closed = c.wait_close(expiry_deadline);
  CHECK(closed.type == ws_message::kind::close);
  CHECK(closed.close_code == 1008);
  CHECK(closed.data == "token_expired");
  CHECK(other.request("PING", json::object()).at("type") == "PONG");
}

TEST_CASE("a_refreshed_token_on_a_live_websocket_moves_the_expiry", "[server][ws][auth][expiry]") {
  local_server srv(with_auth("jwt"));
  rtev_client c(srv.port(), with_query_token(short_lived_jwt("alice")));
  c.authenticated();
  c.send({{"type", "authenticate"},
          {"data",
           {{"token",
             sign_jwt_hs256(json{{"sub", "alice"}, {"exp", unix_now() + 3600}}.dump(), secret)}}}});
  c.authenticated();
  // Past the first token's exp (pinging for 4.5 s, past the old exp of at most 3 s) the connection
  // is still open: the server holds the new token's exp.
  const auto until = steady::now() + millis(4500);
  while (steady::now() < until) {
    const json pong = c.request("PING", json::object());
    REQUIRE(pong.at("type") == "PONG");
    CHECK_FALSE(
        c.receives([](const json& m) { return m.value("type", "") == "auth_error"; }, millis(250)));
  }
  CHECK(c.open());
}

TEST_CASE("an_sse_stream_ends_when_its_jwt_expires", "[server][sse][auth][expiry]") {
  local_server srv(with_auth("jwt"));
  sse_stream s(srv.port(), "/api/events?token=" + url_encode(short_lived_jwt("alice")));
  REQUIRE(s.status() == 200);
  sse_item it;
  const auto deadline = steady::now() + expiry_deadline;
  do {
    it = s.next(expiry_deadline);
  } while (it.type == sse_item::kind::comment && steady::now() < deadline);
  CHECK(it.type == sse_item::kind::eof);
}

TEST_CASE("reauthentication_with_fewer_rooms_drops_the_subscriptions_it_no_longer_allows",
          "[server][ws][auth]") {
  local_server srv(with_auth("jwt"));
  const auto token = [](const json& rooms) {
    return sign_jwt_hs256(json{{"sub", "alice"}, {"rooms", rooms}}.dump(), secret);
  };
  rtev_client c(srv.port(), with_query_token(token({"lead:*", "campaign:7"})));
  c.authenticated();
  c.subscribe("lead:9");
  c.subscribe("campaign:7");

  c.send({{"type", "authenticate"}, {"data", {{"token", token({"lead:*"})}}}});
  const json dropped = c.next_of_type("ERROR");
  CHECK(dropped.at("data").at("code") == "forbidden");
  CHECK(dropped.at("data").at("room") == "campaign:7");
  CHECK(dropped.at("data").at("message").get<std::string>().find("campaign:7") !=
        std::string::npos);
  c.authenticated();
  // Only that one: lead:9 is still allowed, and still followed.
  CHECK(std::none_of(c.mailbox().begin(), c.mailbox().end(),
                     [](const json& m) { return m.value("type", "") == "ERROR"; }));
  CHECK(c.ack("PRESENCE", {{"room", "lead:9"}}).at("users").size() == 1);

  // An event to the dropped room does not arrive; the next one, to the kept room, does.
  publish_http(srv.port(), {{"room", "campaign:7"}, {"type", "t"}, {"data", {{"n", 1}}}});
  publish_http(srv.port(), {{"room", "lead:9"}, {"type", "t"}, {"data", {{"n", 2}}}});
  const json next = c.next_where([](const json& m) { return m.contains("seq"); });
  CHECK(next.at("room") == "lead:9");
  CHECK(c.error("SUBSCRIBE", {{"room", "campaign:7"}}).at("code") == "forbidden");
}
