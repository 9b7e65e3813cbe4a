#include "sdk/src/wire/socketio_codec.hpp"

#include <catch2/catch.hpp>

#include "rtev/error.hpp"

using Catch::Matchers::Contains;
using nlohmann::json;
using namespace rtev::wire;

TEST_CASE("engine_io_packets_round_trip", "[sdk][socketio]") {
  SECTION("every packet type decodes to its type and data") {
    const std::pair<const char*, eio_type> cases[] = {{"0{\"sid\":\"a\"}", eio_type::open},
                                                      {"1", eio_type::close},
                                                      {"2", eio_type::ping},
                                                      {"3probe", eio_type::pong},
                                                      {"4hello", eio_type::message},
                                                      {"5", eio_type::upgrade},
                                                      {"6", eio_type::noop}};
    for (const auto& [text, type] : cases) {
      eio_packet p = eio_decode(text);
      CHECK(p.type == type);
      CHECK(p.data == std::string(text).substr(1));
      CHECK(eio_encode(p) == text);
    }
  }
  SECTION("ping carries the probe payload") {
    CHECK(eio_encode(eio_type::ping, "probe") == "2probe");
    CHECK(eio_decode("2probe").data == "probe");
  }
  SECTION("a message's data is kept byte for byte, separators included") {
    eio_packet p = eio_decode("42[\"x\",\"a\\u001eb é\"]");
    CHECK(p.data == "2[\"x\",\"a\\u001eb é\"]");
  }
}

TEST_CASE("engine_io_refuses_malformed_and_binary_packets", "[sdk][socketio]") {
  CHECK_THROWS_AS(eio_decode(""), rtev::parse_error);
  CHECK_THROWS_WITH(eio_decode(""), Contains("engine.io packet: empty"));
  CHECK_THROWS_WITH(eio_decode("7"), Contains("unknown type '7'"));
  CHECK_THROWS_WITH(eio_decode("x4"), Contains("unknown type 'x'"));
  CHECK_THROWS_WITH(eio_decode("\x01"), Contains("unknown type '\\x01'"));
  CHECK_THROWS_WITH(eio_decode("bAQID"), Contains("binary (base64) packets are not supported"));
}

TEST_CASE("polling_payload_splits_on_record_separator", "[sdk][socketio]") {
  SECTION("several packets") {
    auto packets = eio_decode_payload(
        "4hello\x1e"
        "2\x1e"
        "6");
    REQUIRE(packets.size() == 3);
    CHECK(packets[0].type == eio_type::message);
    CHECK(packets[0].data == "hello");
    CHECK(packets[1].type == eio_type::ping);
    CHECK(packets[2].type == eio_type::noop);
    CHECK(eio_encode_payload(packets) ==
          "4hello\x1e"
          "2\x1e"
          "6");
  }
  SECTION("one packet needs no separator") {
    auto packets = eio_decode_payload("0{\"sid\":\"x\"}");
    REQUIRE(packets.size() == 1);
    CHECK(packets[0].type == eio_type::open);
    CHECK(eio_encode_payload(packets) == "0{\"sid\":\"x\"}");
  }
  SECTION("empty payloads and empty packets are refused") {
    CHECK_THROWS_WITH(eio_decode_payload(""), Contains("empty polling payload"));
    CHECK_THROWS_WITH(eio_decode_payload("4a\x1e"), Contains("empty packet in polling payload"));
    CHECK_THROWS_WITH(eio_decode_payload("4a\x1e\x1e"
                                         "2"),
                      Contains("at byte 3"));
  }
  SECTION("a binary packet anywhere in the payload is refused") {
    CHECK_THROWS_WITH(eio_decode_payload("4a\x1e"
                                         "bAQID"),
                      Contains("binary"));
  }
  SECTION("encoding nothing gives an empty body") {
    CHECK(eio_encode_payload({}).empty());
  }
}

TEST_CASE("socket_io_packets_decode", "[sdk][socketio]") {
  SECTION("CONNECT to the main namespace without payload") {
    sio_packet p = sio_decode("0");
    CHECK(p.type == sio_type::connect);
    CHECK(p.nsp == "/");
    CHECK(p.data.is_null());
    CHECK_FALSE(p.ack_id);
  }
  SECTION("CONNECT with an auth payload in a namespace") {
    sio_packet p = sio_decode("0/admin,{\"token\":\"abc\"}");
    CHECK(p.type == sio_type::connect);
    CHECK(p.nsp == "/admin");
    CHECK(p.data == json{{"token", "abc"}});
  }
  SECTION("CONNECT answered by the server with a sid") {
    CHECK(sio_decode("0{\"sid\":\"s1\"}").data["sid"] == "s1");
  }
  SECTION("DISCONNECT, with and without namespace") {
    CHECK(sio_decode("1").type == sio_type::disconnect);
    sio_packet p = sio_decode("1/admin,");
    CHECK(p.type == sio_type::disconnect);
    CHECK(p.nsp == "/admin");
    CHECK(sio_decode("1/admin").nsp == "/admin");
  }
  SECTION("EVENT with any number of arguments") {
    CHECK(sio_decode("2[\"ping\"]").data == json::array({"ping"}));
    sio_packet p = sio_decode("2[\"msg\",{\"a\":1},2,\"three\"]");
    CHECK(p.type == sio_type::event);
    CHECK(p.data.size() == 4);
    CHECK(p.data[3] == "three");
  }
  SECTION("EVENT with an ack id, in a namespace") {
    sio_packet p = sio_decode("2/chat,12[\"publish\",{}]");
    CHECK(p.nsp == "/chat");
    CHECK(p.ack_id == std::optional<std::uint64_t>(12));
    CHECK(p.data[0] == "publish");
    CHECK(sio_decode("20[\"x\"]").ack_id == std::optional<std::uint64_t>(0));
  }
  SECTION("ACK") {
    sio_packet p = sio_decode("3/chat,7[{\"id\":\"e1\",\"seq\":3}]");
    CHECK(p.type == sio_type::ack);
    CHECK(p.ack_id == std::optional<std::uint64_t>(7));
    CHECK(p.data == json::array({json{{"id", "e1"}, {"seq", 3}}}));
    CHECK(sio_decode("35[]").data == json::array());
  }
  SECTION("CONNECT_ERROR, as an object or (protocol v4) a string") {
    sio_packet p = sio_decode("4{\"message\":\"Not authorized\",\"data\":{\"code\":1}}");
    CHECK(p.type == sio_type::connect_error);
    CHECK(p.data["message"] == "Not authorized");
    CHECK(p.data["data"]["code"] == 1);
    CHECK(sio_decode("4/admin,\"Invalid namespace\"").data ==
          json{{"message", "Invalid namespace"}});
  }
  SECTION("a large ack id") {
    CHECK(sio_decode("318446744073709551615[]").ack_id ==
          std::optional<std::uint64_t>(18446744073709551615ULL));
  }
}

TEST_CASE("socket_io_packets_encode", "[sdk][socketio]") {
  SECTION("the main namespace is implicit, others end with a comma") {
    sio_packet p;
    p.type = sio_type::connect;
    p.data = nullptr;
    CHECK(sio_encode(p) == "0");
    p.nsp = "/admin";
    CHECK(sio_encode(p) == "0/admin,");
    p.data = json{{"token", "t"}};
    CHECK(sio_encode(p) == "0/admin,{\"token\":\"t\"}");
  }
  SECTION("event helpers take an argument array or one value") {
    CHECK(sio_event("/", "join", json::array({json{{"room", "a"}}})) ==
          "2[\"join\",{\"room\":\"a\"}]");
    CHECK(sio_event("/", "hello", json::array()) == "2[\"hello\"]");
    CHECK(sio_event("/", "hello", "one") == "2[\"hello\",\"one\"]");
    CHECK(sio_event("/chat", "publish", json::array({1, 2}), 4) == "2/chat,4[\"publish\",1,2]");
    CHECK(sio_ack("/", 9, json::array({"ok"})) == "39[\"ok\"]");
    CHECK(sio_ack("/x", 0, json{{"id", 1}}) == "3/x,0[{\"id\":1}]");
  }
  SECTION("encode then decode gives the packet back") {
    sio_packet p;
    p.type = sio_type::event;
    p.nsp = "/n";
    p.ack_id = 42;
    p.data = json::array({"e", nullptr, json{{"k", "v"}}, 1.5});
    sio_packet q = sio_decode(sio_encode(p));
    CHECK(q.type == p.type);
    CHECK(q.nsp == p.nsp);
    CHECK(q.ack_id == p.ack_id);
    CHECK(q.data == p.data);
  }
  SECTION("invalid UTF-8 is replaced instead of failing the send") {
    std::string bad = "a\xff";
    CHECK(sio_event("/", "x", json::array({bad})) == "2[\"x\",\"a\xEF\xBF\xBD\"]");
  }
  SECTION("bad namespaces and binary types are refused") {
    sio_packet p;
    p.nsp = "admin";
    p.data = json::array({"x"});
    CHECK_THROWS_WITH(sio_encode(p), Contains("namespace 'admin' must start with '/'"));
    p.nsp = "/a,b";
    CHECK_THROWS_WITH(sio_encode(p), Contains("cannot contain ','"));
    p.nsp = "/";
    p.type = sio_type::binary_event;
    CHECK_THROWS_WITH(sio_encode(p), Contains("binary attachments are not supported"));
  }
}

TEST_CASE("socket_io_refuses_malformed_packets", "[sdk][socketio]") {
  CHECK_THROWS_AS(sio_decode(""), rtev::parse_error);
  CHECK_THROWS_WITH(sio_decode(""), Contains("socket.io packet: empty"));
  CHECK_THROWS_WITH(sio_decode("9"), Contains("unknown type '9'"));
  CHECK_THROWS_WITH(sio_decode("51-[\"x\",{\"_placeholder\":true,\"num\":0}]"),
                    Contains("BINARY_EVENT 'x' (binary attachments) is not supported: dropped"));
  CHECK_THROWS_WITH(sio_decode("61-0[{\"_placeholder\":true,\"num\":0}]"), Contains("BINARY_ACK"));
  CHECK_THROWS_WITH(sio_decode("2[\"x\""), Contains("EVENT payload is not JSON"));
  // JSON that does not parse is its own error type (a server answers bad_json), and says why.
  CHECK_THROWS_AS(sio_decode("2[\"x\""), rtev::wire::sio_bad_json);
  const std::string deep = "2[\"x\"," + std::string(100000, '[') + std::string(100000, ']') + "]";
  CHECK_THROWS_AS(sio_decode(deep), rtev::wire::sio_bad_json);
  CHECK_THROWS_WITH(
      sio_decode(deep),
      Contains("EVENT payload is not JSON (nested deeper than 128 levels): '[\"x\",[[["));
  CHECK_THROWS_WITH(sio_decode("2{\"a\":1}"),
                    Contains("EVENT data must be an array starting with the event name"));
  CHECK_THROWS_WITH(sio_decode("2[]"), Contains("EVENT data must be an array"));
  CHECK_THROWS_WITH(sio_decode("2[1,2]"), Contains("EVENT data must be an array"));
  CHECK_THROWS_WITH(sio_decode("2"), Contains("EVENT data must be an array"));
  CHECK_THROWS_WITH(sio_decode("2[\"disconnect\"]"), Contains("'disconnect' is a reserved"));
  CHECK_THROWS_WITH(sio_decode("0[1]"), Contains("CONNECT payload must be an object, got array"));
  CHECK_THROWS_WITH(sio_decode("1{}"), Contains("DISCONNECT carries no payload"));
  CHECK_THROWS_WITH(sio_decode("3[\"x\"]"), Contains("ACK without an ack id"));
  CHECK_THROWS_WITH(sio_decode("31{}"), Contains("ACK data must be an array"));
  CHECK_THROWS_WITH(sio_decode("41"), Contains("CONNECT_ERROR cannot carry an ack id"));
  CHECK_THROWS_WITH(sio_decode("4[1]"), Contains("CONNECT_ERROR payload must be an object"));
  CHECK_THROWS_WITH(sio_decode("3184467440737095516150[]"), Contains("ack id"));
  CHECK_THROWS_WITH(sio_decode("3184467440737095516150[]"), Contains("too large"));
}
