// server-lite's /socket.io/ front door at the packet level, with the raw test clients: the
// Engine.IO handshake and its errors, long-polling, the probe/upgrade to WebSocket, and
// Socket.IO packets the real client never sends (bad payloads, binary, other namespaces).
// docs/protocol.md §7. Runs the real server in-process on port 0.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "auth.hpp"  // sign_jwt_hs256 (server-lite/src)
#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/ws_client.hpp"

using namespace rtev::test;
using json = nlohmann::json;

namespace {

std::string sio_path(const std::string& query) {
  return "/socket.io/?EIO=4&" + query;
}

// The open packet's JSON from a handshake GET.
json handshake(std::uint16_t port) {
  const auto r = http_get(port, sio_path("transport=polling"));
  REQUIRE(r.status == 200);
  REQUIRE(r.body.size() > 1);
  REQUIRE(r.body[0] == '0');
  return json::parse(r.body.substr(1));
}

std::vector<std::string> split_payload(const std::string& body) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto sep = body.find('\x1e', start);
    out.push_back(body.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
    if (sep == std::string::npos) return out;
    start = sep + 1;
  }
}

// Polls until a packet starting with `prefix` arrives; returns it.
std::string poll_for(std::uint16_t port, const std::string& sid, const std::string& prefix) {
  for (int i = 0; i < 20; ++i) {
    const auto r = http_get(port, sio_path("transport=polling&sid=" + sid));
    REQUIRE(r.status == 200);
    for (const auto& p : split_payload(r.body))
      if (p.rfind(prefix, 0) == 0) return p;
  }
  FAIL("no packet starting with " << prefix);
  return {};
}

// The next text message starting with `prefix` (others skipped).
std::string recv_prefixed(ws_client& ws, const std::string& prefix) {
  for (;;) {
    const ws_message m = ws.recv();
    REQUIRE(m.type == ws_message::kind::text);
    if (m.data.rfind(prefix, 0) == 0) return m.data;
  }
}

}  // namespace

TEST_CASE("socketio_handshake_and_engine_io_errors", "[server][socketio]") {
  local_server srv;
  const std::uint16_t port = srv.port();

  SECTION("the handshake advertises the upgrade and the server's heartbeat") {
    const json open = handshake(port);
    CHECK(open["sid"].get<std::string>().size() >= 20);
    CHECK(open["upgrades"] == json::array({"websocket"}));
    CHECK(open["pingInterval"].get<long>() == test_config().ping_interval.count());
    CHECK(open["pingTimeout"].get<long>() == test_config().ping_timeout.count());
    CHECK(open["maxPayload"].get<std::size_t>() == test_config().max_message_bytes);
  }
  SECTION("an unknown sid is a 400 with the reference server's code and message") {
    const auto r = http_get(port, sio_path("transport=polling&sid=nope"));
    CHECK(r.status == 400);
    CHECK(r.json() == json{{"code", 1}, {"message", "Session ID unknown"}});
    const auto p = http_request(port, "POST", sio_path("transport=polling&sid=nope"), {}, "40");
    CHECK(p.status == 400);
    CHECK(p.json()["code"] == 1);
  }
  SECTION("another protocol version, an unknown transport, a POST handshake are refused") {
    CHECK(http_get(port, "/socket.io/?EIO=3&transport=polling").json()["code"] == 5);
    CHECK(http_get(port, sio_path("transport=carrier-pigeon")).json()["code"] == 0);
    const auto p = http_request(port, "POST", sio_path("transport=polling"), {}, "40");
    CHECK(p.status == 400);
    CHECK(p.json()["code"] == 2);
  }
}

TEST_CASE("socketio_polling_then_probe_and_upgrade", "[server][socketio]") {
  local_server srv;
  const std::uint16_t port = srv.port();
  const std::string sid = handshake(port)["sid"];

  // CONNECT over polling: the ack carries the store epoch; none mode authenticates at once.
  auto post = http_request(port, "POST", sio_path("transport=polling&sid=" + sid), {}, "40");
  REQUIRE(post.status == 200);
  CHECK(post.body == "ok");
  const json ack = json::parse(poll_for(port, sid, "40").substr(2));
  CHECK(ack.contains("sid"));
  CHECK(ack["protocol"] == "rtev.v1");  // says who it is: clients publish with `publish`
  CHECK(ack["epoch"].get<std::string>().size() > 0);
  CHECK(ack["user_id"].get<std::string>().rfind("anon-", 0) == 0);

  ws_options o;
  o.path = "/socket.io/";
  o.query = "EIO=4&transport=websocket&sid=" + sid;
  ws_client ws(port, o);
  REQUIRE(ws.open());
  REQUIRE(ws.send_text("2probe"));
  CHECK(recv_prefixed(ws, "3") == "3probe");
  // The poll held meanwhile ends with a noop, so the client can pause polling.
  CHECK(http_get(port, sio_path("transport=polling&sid=" + sid)).body == "6");
  REQUIRE(ws.send_text("5"));
  // A round trip on the WebSocket: the upgrade has been processed once its answer arrives.
  REQUIRE(ws.send_text(R"(420["sync"])"));
  CHECK(json::parse(recv_prefixed(ws, "430").substr(3))[0]["error"]["code"] == "unknown_event");

  SECTION("after the upgrade everything goes over the WebSocket") {
    REQUIRE(ws.send_text(R"(421["join",{"room":"lobby"}])"));
    const json joined = json::parse(recv_prefixed(ws, "431").substr(3));
    CHECK(joined[0]["room"] == "lobby");
    CHECK(joined[0]["replayed"] == 0);
    const auto published =
        http_post_json(port, "/api/events", R"({"type":"note","room":"lobby","data":{"n":1}})");
    REQUIRE(published.status == 202);
    const json ev = json::parse(recv_prefixed(ws, "42[\"note\"").substr(2));
    CHECK(ev[1] == json{{"n", 1}});
    CHECK(ev[2]["room"] == "lobby");
    CHECK(ev[2]["seq"] == published.json()["seq"]);
    CHECK(ev[2]["id"] == published.json()["id"]);
    CHECK(ev[2]["timezone"] == "UTC");
  }
  SECTION("polling after the upgrade is a bad request") {
    const auto r = http_get(port, sio_path("transport=polling&sid=" + sid));
    CHECK(r.status == 400);
    CHECK(r.json()["code"] == 3);
  }
  SECTION("a second WebSocket for the same session is refused") {
    ws_client again(port, o);
    CHECK(again.status() == 400);
  }
}

TEST_CASE("socketio_probe_never_completed_is_dropped_and_polling_goes_on", "[server][socketio]") {
  auto cfg = test_config();
  cfg.ping_timeout = std::chrono::milliseconds(300);  // also the upgrade time-out
  local_server srv(cfg);
  const std::uint16_t port = srv.port();
  const std::string sid = handshake(port)["sid"];
  REQUIRE(http_request(port, "POST", sio_path("transport=polling&sid=" + sid), {}, "40").status ==
          200);
  poll_for(port, sid, "40");

  ws_options o;
  o.path = "/socket.io/";
  o.query = "EIO=4&transport=websocket&sid=" + sid;
  ws_client ws(port, o);
  REQUIRE(ws.open());
  REQUIRE(ws.send_text("2probe"));
  CHECK(recv_prefixed(ws, "3") == "3probe");
  // No "5": the server gives up on the upgrade and closes the probe...
  ws_message m = ws.recv(std::chrono::seconds(10));
  while (m.type == ws_message::kind::text) m = ws.recv(std::chrono::seconds(10));
  CHECK((m.type == ws_message::kind::close || m.type == ws_message::kind::eof));
  // ...and the session goes on over polling.
  REQUIRE(http_request(port, "POST", sio_path("transport=polling&sid=" + sid), {},
                       R"(421["join",{"room":"lobby"}])")
              .status == 200);
  CHECK(json::parse(poll_for(port, sid, "431").substr(3))[0]["room"] == "lobby");
}

TEST_CASE("socketio_bad_packets_get_errors_and_the_connection_stays", "[server][socketio]") {
  local_server srv;
  ws_options o;
  o.path = "/socket.io/";
  o.query = "EIO=4&transport=websocket";
  ws_client ws(srv.port(), o);
  REQUIRE(ws.open());
  const json open = json::parse(recv_prefixed(ws, "0").substr(1));
  CHECK(open["upgrades"] == json::array());

  SECTION("another namespace is refused as by the reference server") {
    REQUIRE(ws.send_text("40/admin,"));
    CHECK(recv_prefixed(ws, "44") == R"(44/admin,{"message":"Invalid namespace"})");
  }
  SECTION("after CONNECT, errors come back as `error` events or in the ack") {
    REQUIRE(ws.send_text("40"));
    recv_prefixed(ws, "40");
    REQUIRE(ws.send_text(R"(42["nope",{}])"));
    json e = json::parse(recv_prefixed(ws, R"(42["error")").substr(2));
    CHECK(e[1]["code"] == "unknown_event");
    REQUIRE(ws.send_text("42{not json"));
    e = json::parse(recv_prefixed(ws, R"(42["error")").substr(2));
    CHECK(e[1]["code"] == "bad_json");
    REQUIRE(ws.send_text(R"(451-["publish",{"_placeholder":true,"num":0}])"));
    e = json::parse(recv_prefixed(ws, R"(42["error")").substr(2));
    CHECK(e[1]["message"].get<std::string>().find("not supported") != std::string::npos);
    REQUIRE(ws.send_binary("\x01\x02"));  // its attachment: ignored
    REQUIRE(ws.send_text(R"(427["publish",{"room":"r"}])"));
    const json nack = json::parse(recv_prefixed(ws, "437").substr(3));
    CHECK(nack[0]["error"]["code"] == "bad_request");
    CHECK(nack[0]["error"]["message"] == "type: required field is missing");
    REQUIRE(ws.send_text(R"(428["publish",{"room":"r","type":"t","data":1}])"));
    const json pack = json::parse(recv_prefixed(ws, "438").substr(3));
    CHECK(pack[0]["seq"].is_number_unsigned());
    CHECK(pack[0]["id"].get<std::string>().size() > 0);
    // Every ack id the protocol allows is answered, up to 2^64 - 1 (20 digits).
    REQUIRE(ws.send_text(R"(4218446744073709551615["publish",{"room":"r","type":"t"}])"));
    const json big = json::parse(recv_prefixed(ws, "4318446744073709551615").substr(22));
    CHECK(big[0]["seq"].is_number_unsigned());
    REQUIRE(ws.send_text(R"(4210000000000000000000["publish",{"room":"r"}])"));
    const json big_nack = json::parse(recv_prefixed(ws, "4310000000000000000000").substr(22));
    CHECK(big_nack[0]["error"]["code"] == "bad_request");
    CHECK(ws.open());
  }
}

namespace {

// A Socket.IO session over WebSocket, CONNECTed to "/" with `auth`.
void sio_connect(ws_client& ws, const json& auth = nullptr) {
  REQUIRE(ws.open());
  recv_prefixed(ws, "0");
  REQUIRE(ws.send_text(auth.is_null() ? std::string("40") : "40" + auth.dump()));
  recv_prefixed(ws, "40");
}

ws_options sio_ws() {
  ws_options o;
  o.path = "/socket.io/";
  o.query = "EIO=4&transport=websocket";
  return o;
}

}  // namespace

TEST_CASE("socketio_a_packet_nested_100k_levels_deep_is_bad_json_and_the_socket_stays",
          "[server][socketio][json]") {
  auto cfg = rtev::test::test_config();
  cfg.max_message_bytes = 1 << 20;  // let the 200 KB packet reach the parser
  local_server srv(cfg);
  ws_client ws(srv.port(), sio_ws());
  sio_connect(ws);

  const std::string deep = R"(42["publish",{"room":"r","type":"t","data":)" +
                           std::string(100000, '[') + std::string(100000, ']') + "}]";
  REQUIRE(ws.send_text(deep));
  const json e = json::parse(recv_prefixed(ws, R"(42["error")").substr(2));
  CHECK(e[1]["code"] == "bad_json");
  CHECK(e[1]["message"].get<std::string>().find("nested deeper than 128 levels") !=
        std::string::npos);
  // The socket and the server carry on.
  REQUIRE(ws.send_text(R"(421["publish",{"room":"r","type":"t","data":1}])"));
  const json ack = json::parse(recv_prefixed(ws, "431").substr(3));
  CHECK(ack[0]["seq"].is_number_unsigned());
  CHECK(http_get(srv.port(), "/health").status == 200);
}

TEST_CASE("socketio_types_and_rooms_outside_the_name_rule_are_refused",
          "[server][socketio][names]") {
  local_server srv;
  ws_client ws(srv.port(), sio_ws());
  sio_connect(ws);
  REQUIRE(ws.send_text(R"(421["publish",{"room":"r","type":"x\nid: 9","data":1}])"));
  json nack = json::parse(recv_prefixed(ws, "431").substr(3));
  CHECK(nack[0]["error"]["code"] == "bad_request");
  CHECK(nack[0]["error"]["message"].get<std::string>().rfind(
            "type: contains a control character (U+000A)", 0) == 0);
  REQUIRE(ws.send_text(R"(422["join","lob\u0000by"])"));
  nack = json::parse(recv_prefixed(ws, "432").substr(3));
  CHECK(nack[0]["error"]["code"] == "bad_request");
  CHECK(nack[0]["error"]["message"].get<std::string>().rfind(
            "room: contains a control character (U+0000)", 0) == 0);
  REQUIRE(ws.send_text(R"(423["join",{"room":"lobby","types":["a\rb"]}])"));
  nack = json::parse(recv_prefixed(ws, "433").substr(3));
  CHECK(nack[0]["error"]["message"].get<std::string>().rfind(
            "types[0]: contains a control character (U+000D)", 0) == 0);
  REQUIRE(ws.send_text(R"(424["join","lobby"])"));
  CHECK(json::parse(recv_prefixed(ws, "434").substr(3))[0]["room"] == "lobby");
}

TEST_CASE("socketio_a_socket_whose_jwt_expires_gets_auth_error_and_a_disconnect",
          "[server][socketio][auth][expiry]") {
  auto cfg = rtev::test::test_config();
  cfg.auth = "jwt";
  cfg.jwt_secret = "socketio-secret";
  local_server srv(cfg);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string token = rtev::server_lite::sign_jwt_hs256(
      json{{"sub", "alice"}, {"exp", now + 3}}.dump(), cfg.jwt_secret);
  ws_client ws(srv.port(), sio_ws());
  sio_connect(ws, {{"token", token}});
  recv_prefixed(ws, R"(42["authenticated")");

  // Within the time-out past the expiry (the server checks exp a few times a second).
  const json err = json::parse(recv_prefixed(ws, R"(42["auth_error")").substr(2));
  CHECK(err[1]["code"] == "token_expired");
  CHECK(recv_prefixed(ws, "41") == "41");  // the Socket.IO DISCONNECT: do not come back as is
  const ws_message closed = ws.recv();
  CHECK(closed.type == ws_message::kind::close);
  CHECK(closed.close_code == 1008);
  CHECK(closed.data == "token_expired");
}

TEST_CASE("socketio_authenticate_event_in_none_mode_names_the_token_user",
          "[server][socketio][auth]") {
  // The usual Socket.IO pattern: connect, emit `authenticate` {token}, listen for
  // `authenticated`. In none mode the connect alone is anon-<n> (the ack says so) but is not
  // announced with an `authenticated` event: the only one the client hears names its token.
  local_server srv;
  ws_client ws(srv.port(), sio_ws());
  REQUIRE(ws.open());
  recv_prefixed(ws, "0");
  REQUIRE(ws.send_text("40"));
  const json ack = json::parse(recv_prefixed(ws, "40").substr(2));
  CHECK(ack.at("anonymous") == true);
  CHECK(ack.at("user_id").get<std::string>().rfind("anon-", 0) == 0);
  REQUIRE(ws.send_text(R"(421["authenticate",{"token":"alice"}])"));
  std::vector<json> announced;
  for (;;) {
    const ws_message m = ws.recv();
    REQUIRE(m.type == ws_message::kind::text);
    if (m.data.rfind(R"(42["authenticated")", 0) == 0)
      announced.push_back(json::parse(m.data.substr(2))[1]);
    if (m.data.rfind("431", 0) == 0) {
      CHECK(json::parse(m.data.substr(3))[0].at("user_id") == "alice");
      break;
    }
  }
  REQUIRE(announced.size() == 1);
  CHECK(announced[0].at("user_id") == "alice");
  CHECK(announced[0].at("userId") == "alice");
  CHECK(announced[0].at("anonymous") == false);
  CHECK(http_get(srv.port(), "/api/users/alice").json().at("connected") == true);
}

TEST_CASE("socketio_connect_ack_announces_the_rate_limit_and_honours_presence_off",
          "[server][socketio][presence]") {
  auto cfg = rtev::test::test_config();
  cfg.rate_limit = 100;
  cfg.rate_burst = 200;
  local_server srv(cfg);
  ws_client watcher(srv.port(), sio_ws());
  sio_connect(watcher, {{"token", "root"}});
  REQUIRE(watcher.send_text(R"(421["join",{"room":"presence"}])"));
  recv_prefixed(watcher, "431");

  ws_client quiet(srv.port(), sio_ws());
  REQUIRE(quiet.open());
  recv_prefixed(quiet, "0");
  REQUIRE(quiet.send_text(R"(40{"token":"alice","presence":false})"));
  const json ack = json::parse(recv_prefixed(quiet, "40").substr(2));
  CHECK(ack.at("rate_limit") == json{{"per_second", 100}, {"burst", 200}});
  const json auth = json::parse(recv_prefixed(quiet, R"(42["authenticated")").substr(2))[1];
  CHECK(auth.at("rate_limit") == json{{"per_second", 100}, {"burst", 200}});
  CHECK(auth.at("presence") == false);

  // A publish without a target is refused (naming it); one with a room is stored.
  REQUIRE(quiet.send_text(R"(421["publish",{"type":"t","data":{}}])"));
  const json refused = json::parse(recv_prefixed(quiet, "431").substr(3))[0];
  CHECK(refused.at("error").at("code") == "bad_request");
  CHECK_THAT(refused.at("error").at("message").get<std::string>(),
             Catch::Matchers::Contains("missing target"));

  // Bob, announced as usual, is the first presence event the watcher gets: alice never was.
  ws_client loud(srv.port(), sio_ws());
  sio_connect(loud, {{"token", "bob"}});
  const json online = json::parse(recv_prefixed(watcher, R"(42["user_online")").substr(2));
  CHECK(online[1].at("user_id") == "bob");
  CHECK_FALSE(online[2].contains("seq"));  // live-only: the meta has no seq

  ws_client bad(srv.port(), sio_ws());
  REQUIRE(bad.open());
  recv_prefixed(bad, "0");
  REQUIRE(bad.send_text(R"(40{"token":"carol","presence":"sometimes"})"));
  const json err = json::parse(recv_prefixed(bad, "44").substr(2));
  CHECK_THAT(err.at("message").get<std::string>(),
             Catch::Matchers::Contains("auth.presence") &&
                 Catch::Matchers::Contains("expected true or false"));
}
