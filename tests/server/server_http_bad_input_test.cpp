// server-lite's HTTP edge under bad input (server-lite/src/http_request_head.cpp and the
// LWS_CALLBACK_HTTP* paths of http_session.cpp): malformed request heads, bodies without a usable
// length, invalid UTF-8 and deep JSON. Each one gets a clear error at once, and the server
// keeps serving the next client. Runs the real server in-process on port 0.
#include <catch2/catch.hpp>

#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"

using namespace rtev::test;

namespace {

std::string error_code(const http_response& r) {
  return r.json().at("error").at("code").get<std::string>();
}

std::string error_message(const http_response& r) {
  return r.json().at("error").at("message").get<std::string>();
}

// A request as raw bytes: `Connection: close`, the given extra header lines, then `body`.
std::string raw(const std::string& request_line, const std::string& headers = {},
                const std::string& body = {}) {
  return request_line + "\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + "\r\n" + body;
}

// The server still answers a fresh client.
void still_serving(std::uint16_t port) {
  CHECK(http_get(port, "/health").status == 200);
}

std::string nested(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

TEST_CASE("deeply_nested_json_bodies_get_400_and_the_server_keeps_serving",
          "[server][http][bad_input]") {
  local_server srv;
  SECTION("POST /api/events with data nested 100k levels, as text/plain") {
    const std::string body = R"({"type":"x","room":"r","data":)" + nested(100000) + "}";
    const http_response r = http_raw(
        srv.port(),
        raw("POST /api/events HTTP/1.1",
            "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n",
            body));
    CHECK(r.status == 400);
    CHECK(error_code(r) == "bad_json");
    CHECK(error_message(r).find("nested deeper than 128 levels") != std::string::npos);
  }
  SECTION("a Socket.IO long-polling POST carrying a deeply nested event") {
    const http_response open = http_get(srv.port(), "/socket.io/?EIO=4&transport=polling");
    REQUIRE(open.status == 200);
    const auto at = open.body.find('{');
    REQUIRE(at != std::string::npos);
    const std::string sid = nlohmann::json::parse(open.body.substr(at)).at("sid");
    // Under --max-message-bytes (64 KB), so it reaches the JSON reader.
    const std::string target = "/socket.io/?EIO=4&transport=polling&sid=" + sid;
    const std::string body = std::string("40\x1e") + "42[\"publish\"," + nested(20000) + "]";
    const http_response r = http_request(srv.port(), "POST", target,
                                         {{"Content-Type", "text/plain;charset=UTF-8"}}, body);
    CHECK(r.status == 200);
    // The connect ack, then the refusal as a Socket.IO `error` event naming the nesting.
    std::string polled;
    for (int i = 0; i < 3 && polled.find("nested deeper") == std::string::npos; ++i)
      polled += http_get(srv.port(), target).body;
    CHECK(polled.find("42[\"error\",{\"code\":\"bad_json\"") != std::string::npos);
    CHECK(polled.find("nested deeper than 128 levels") != std::string::npos);
  }
  SECTION("/api/history with a deeply nested since") {
    const http_response r = http_get(srv.port(), "/api/history?since=" + nested(2000));
    CHECK(r.status == 400);
    CHECK(error_code(r) == "bad_request");
    CHECK(error_message(r).find("since") == 0);
  }
  still_serving(srv.port());
}

TEST_CASE("invalid_utf8_in_the_url_gets_400_naming_the_parameter", "[server][http][bad_input]") {
  local_server srv;
  struct probe {
    std::string target, message;
  };
  const probe probes[] = {
      {"/api/history?room=%FF", "query parameter 'room': invalid UTF-8"},
      {"/api/history?room=lead&since=%C3%28", "query parameter 'since': invalid UTF-8"},
      {"/api/history?types=a,%ED%A0%80", "query parameter 'types': invalid UTF-8"},
      {"/api/history?token=%FF", "query parameter 'token': invalid UTF-8"},
      {"/api/events?rooms=%FF", "query parameter 'rooms': invalid UTF-8"},
      {"/api/events?%FF=1", "a query parameter name is not valid UTF-8"},
      {"/api/users/%FF", "user id: invalid UTF-8"},
      {"/nope/%FF", "path: invalid UTF-8"},
  };
  for (const probe& p : probes) {
    INFO(p.target);
    const http_response r = http_get(srv.port(), p.target);
    CHECK(r.status == 400);
    CHECK(error_code(r) == "bad_request");
    CHECK(error_message(r) == p.message);
  }
  SECTION("a WebSocket upgrade with ?token=%FF") {
    const http_response r = http_get(srv.port(), "/ws?token=%FF",
                                     {{"Upgrade", "websocket"},
                                      {"Connection", "Upgrade"},
                                      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                      {"Sec-WebSocket-Version", "13"}});
    CHECK(r.status == 400);
    CHECK(error_message(r) == "query parameter 'token': invalid UTF-8");
  }
  SECTION("malformed percent-encoding is 400 naming the parameter (before lws sees it)") {
    const http_response r = http_get(srv.port(), "/api/history?room=%ZZ");
    CHECK(r.status == 400);
    CHECK(error_message(r) ==
          "query parameter 'room': malformed %-escape '%ZZ' (expected % and two hex digits)");
  }
  SECTION("a decoded NUL or line break is 400 naming the parameter, not a closed connection") {
    for (const char* esc : {"%00", "%0A", "%0D"}) {
      const http_response r = http_get(srv.port(), std::string("/api/history?room=a") + esc);
      CHECK(r.status == 400);
      CHECK(error_message(r) ==
            "query parameter 'room': control character " + std::string(esc) + " is not allowed");
    }
  }
  SECTION("valid UTF-8 that is not a room name is still named in the error") {
    const http_response r = http_get(srv.port(), "/api/history?room=caf%C3%A9%20x");
    CHECK(r.status == 400);
    CHECK(error_message(r).rfind("room: contains a non-ASCII byte (0xC3)", 0) == 0);
  }
  SECTION("a user id is decoded once, as lws hands it over") {
    const nlohmann::json u = http_get(srv.port(), "/api/users/a%2525b").json();
    CHECK(u.at("user_id") == "a%25b");
  }
  still_serving(srv.port());
}

TEST_CASE("request_bodies_need_one_valid_content_length", "[server][http][bad_input]") {
  local_server srv;
  const std::string post = "POST /api/events HTTP/1.1";
  const std::string json_type = "Content-Type: application/json\r\n";
  SECTION("Transfer-Encoding: chunked is refused at once with 411") {
    const http_response r = http_raw(
        srv.port(), raw(post, json_type + "Transfer-Encoding: chunked\r\n", "5\r\n{\"a\":\r\n"));
    CHECK(r.status == 411);
    CHECK(error_code(r) == "length_required");
    CHECK(error_message(r) == "chunked request bodies are not supported: send Content-Length");
  }
  SECTION("a POST without Content-Length has no body, and is answered at once") {
    const http_response r = http_raw(srv.port(), raw(post, json_type));
    CHECK(r.status == 400);
    CHECK(error_code(r) == "bad_json");
    const http_response kick =
        http_raw(srv.port(), raw("POST /api/users/alice/disconnect HTTP/1.1"));
    CHECK(kick.status == 200);
  }
  SECTION("Content-Length and Transfer-Encoding together are 400") {
    const http_response r = http_raw(
        srv.port(),
        raw(post, json_type + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", "{}"));
    CHECK(r.status == 400);
    CHECK(error_code(r) == "bad_request");
    CHECK(error_message(r).find("Transfer-Encoding") != std::string::npos);
  }
  for (const std::string value : {"-5", "abc", "2, 3", "0x10", ""}) {
    INFO("Content-Length: '" << value << "'");
    const http_response r =
        http_raw(srv.port(), raw(post, json_type + "Content-Length: " + value + "\r\n", "{}"));
    CHECK(r.status == 400);
    CHECK(error_code(r) == "bad_request");
    CHECK(error_message(r).find("Content-Length") == 0);
  }
  SECTION("two different Content-Length headers are 400") {
    const http_response r = http_raw(
        srv.port(), raw(post, json_type + "Content-Length: 2\r\nContent-Length: 3\r\n", "{}"));
    CHECK(r.status == 400);
    CHECK(error_message(r).find("Content-Length") == 0);
  }
  SECTION("an absurd Content-Length is 413 before any body is read") {
    const http_response r =
        http_raw(srv.port(), raw(post, json_type + "Content-Length: 99999999999999999999999\r\n"));
    CHECK(r.status == 413);
    CHECK(error_code(r) == "too_large");
  }
  still_serving(srv.port());
}

TEST_CASE("oversized_urls_get_414_and_oversized_headers_431", "[server][http][bad_input]") {
  local_server srv;
  SECTION("a 10 KB path") {
    const http_response r = http_get(srv.port(), "/" + std::string(10000, 'a'));
    CHECK(r.status == 414);
    CHECK(error_code(r) == "uri_too_long");
  }
  SECTION("a 100 KB query value") {
    const http_response r = http_get(srv.port(), "/api/history?room=" + std::string(100000, 'a'));
    CHECK(r.status == 414);
  }
  SECTION("a query of 40 parameters, 10 KB in all") {
    std::string q;
    for (int i = 0; i < 40; ++i) q += "&k=" + std::string(250, 'v');
    const http_response r = http_get(srv.port(), "/api/history?" + q.substr(1));
    CHECK(r.status == 414);
  }
  SECTION("a 10 KB Cookie header") {
    const http_response r = http_get(srv.port(), "/health", {{"Cookie", std::string(10000, 'c')}});
    CHECK(r.status == 431);
    CHECK(error_code(r) == "header_too_large");
    CHECK(error_message(r).find("cookie") != std::string::npos);
  }
  SECTION("a 10 KB Authorization header on a WebSocket upgrade") {
    const http_response r = http_get(srv.port(), "/ws",
                                     {{"Upgrade", "websocket"},
                                      {"Connection", "Upgrade"},
                                      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                      {"Sec-WebSocket-Version", "13"},
                                      {"Authorization", "Bearer " + std::string(10000, 't')}});
    CHECK(r.status == 431);
  }
  still_serving(srv.port());
}

TEST_CASE("head_requests_get_headers_and_no_body", "[server][http][bad_input]") {
  local_server srv;
  for (const std::string path : {"/health", "/api/stats", "/metrics", "/nope", "/api/events"}) {
    INFO(path);
    const auto deadline = steady::now() + default_timeout;
    tcp_stream s("127.0.0.1", srv.port());
    REQUIRE(s.write_all(raw("HEAD " + path + " HTTP/1.1")));
    const http_response r = read_response(s, deadline, true);
    CHECK(r.status == (path == "/nope" ? 404 : path == "/api/events" ? 405 : 200));
    // Connection: close — everything after the head must be nothing at all.
    while (s.fill(deadline) == read_status::data) {
    }
    CHECK(s.eof());
    CHECK(s.buffer().empty());
  }
  SECTION("the Content-Length is the GET body's") {
    const http_response get = http_get(srv.port(), "/metrics");
    const http_response head = http_request(srv.port(), "HEAD", "/metrics");
    CHECK(head.header("content-length").has_value());
    CHECK(head.header("content-type") == get.header("content-type"));
  }
}

TEST_CASE("odd_methods_and_requests_get_clear_answers", "[server][http][bad_input]") {
  local_server srv;
  SECTION("PATCH names the method") {
    const http_response r = http_raw(srv.port(), raw("PATCH /health HTTP/1.1"));
    CHECK(r.status == 405);
    CHECK(error_message(r) == "method PATCH is not allowed on /health");
  }
  SECTION("DELETE without a body is 405") {
    CHECK(http_raw(srv.port(), raw("DELETE /api/events HTTP/1.1")).status == 405);
  }
  SECTION("an unknown method is 501 naming it (before lws sees it)") {
    const http_response r = http_raw(srv.port(), raw("BREW /health HTTP/1.1"));
    CHECK(r.status == 501);
    CHECK(error_message(r).rfind("method 'BREW' is not supported", 0) == 0);
  }
  SECTION("a header line without a colon is 400 at once, not a 10 s wait") {
    const http_response r = http_raw(srv.port(), raw("GET /health HTTP/1.1", "NoColonHere\r\n"));
    CHECK(r.status == 400);
    CHECK(error_message(r) == "header line 3 has no ':': 'NoColonHere'");
  }
  SECTION("a header named like the beginning of one lws knows is 400 at once, not a 10 s wait") {
    const http_response r = http_get(srv.port(), "/health", {{"A", "v"}});
    CHECK(r.status == 400);
    CHECK(error_code(r) == "bad_request");
    CHECK(error_message(r) ==
          "header 'a' cannot be read by this server's HTTP parser (libwebsockets 4.1 stalls on a "
          "header name that is the beginning of a known one, here 'accept'); rename or drop it");
    CHECK(http_get(srv.port(), "/health", {{"Cook", "v"}}).status == 400);
    CHECK(http_get(srv.port(), "/health", {{"Put", "v"}}).status == 400);
    // Not the beginning of a known name: served as usual.
    CHECK(http_get(srv.port(), "/health", {{"X-Ab", "v"}}).status == 200);
    CHECK(http_get(srv.port(), "/health", {{"Cookiex", "v"}}).status == 200);
  }
  SECTION("a WebSocket upgrade with such a header gets the same 400") {
    const http_response r = http_get(srv.port(), "/ws",
                                     {{"Upgrade", "websocket"},
                                      {"Connection", "Upgrade"},
                                      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                      {"Sec-WebSocket-Version", "13"},
                                      {"X-A", "v"}});
    CHECK(r.status == 400);
    CHECK(error_message(r).rfind("header 'x-a' cannot be read", 0) == 0);
    CHECK(error_message(r).find("here 'x-auth-token'") != std::string::npos);
  }
  SECTION("a head sent in pieces, a POST body included, is served like one sent at once") {
    const http_response r = http_raw_pieces(
        srv.port(),
        {"POST /api/ev", "ents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
         "Content-Length: 40\r\n\r", "\n{\"type\":\"x\",\"room\":\"lobby\",\"data\":{}}   "});
    CHECK(r.status == 202);
  }
  SECTION("a GET with a body is answered, the body ignored") {
    const http_response r =
        http_raw(srv.port(), raw("GET /health HTTP/1.1", "Content-Length: 5\r\n", "hello"));
    CHECK(r.status == 200);
  }
  SECTION("OPTIONS is 204") {
    CHECK(http_raw(srv.port(), raw("OPTIONS /api/events HTTP/1.1")).status == 204);
  }
  SECTION("history parameters out of range name the parameter") {
    for (const std::string q :
         {"limit=-1", "limit=0", "limit=", "limit=1.5", "since=-1", "since=abc", "until=abc",
          "until=2024-13-45T00:00:00Z", "since=99999999999999999999999"}) {
      INFO(q);
      const http_response r = http_get(srv.port(), "/api/history?" + q);
      CHECK(r.status == 400);
      CHECK(error_code(r) == "bad_request");
      CHECK(error_message(r).find(q.substr(0, q.find('='))) == 0);
    }
  }
  SECTION("an empty or nested user id is 404") {
    CHECK(http_get(srv.port(), "/api/users/").status == 404);
    CHECK(http_get(srv.port(), "/api/users/a/b").status == 404);
  }
  still_serving(srv.port());
}
