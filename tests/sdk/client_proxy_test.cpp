// tests/support/tcp_proxy: the bad network the client tests rely on. It forwards both ways,
// freezes without closing anything, thaws, cuts with a reset, and counts connections.
#include "tests/support/tcp_proxy.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/ws_client.hpp"

using namespace rtev::test;
using namespace std::chrono_literals;

TEST_CASE("tcp_proxy_forwards_freezes_thaws_and_cuts", "[sdk][client][proxy]") {
  local_server srv;
  tcp_proxy proxy(srv.port());
  REQUIRE(proxy.port() != 0);
  REQUIRE(proxy.port() != srv.port());

  SECTION("it forwards a whole HTTP exchange and counts the connection") {
    const auto r = http_get(proxy.port(), "/health");
    CHECK(r.status == 200);
    CHECK(r.json().at("status") == "ok");
    CHECK(proxy.accepted() == 1);
  }

  SECTION("a frozen proxy keeps the connection open but passes nothing until thawed") {
    proxy.freeze();
    tcp_stream s("127.0.0.1", proxy.port());
    REQUIRE(proxy.wait_accepted(1));
    REQUIRE(s.write_all("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    // Silence, not a close: a dead peer.
    CHECK(s.fill(steady::now() + 300ms) == read_status::timeout);
    CHECK(s.buffer().empty());
    CHECK(proxy.open_connections() == 1);
    proxy.thaw();
    const auto deadline = steady::now() + default_timeout;
    while (s.buffer().find("\"status\"") == std::string::npos &&
           s.fill(deadline) == read_status::data) {
    }
    CHECK(s.buffer().rfind("HTTP/1.1 200", 0) == 0);
  }

  SECTION("freezing one direction holds only that direction") {
    proxy.freeze(tcp_proxy::direction::to_client);
    tcp_stream s("127.0.0.1", proxy.port());
    REQUIRE(s.write_all("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    // The request reaches the server (its answer is held): the server counts the connection.
    CHECK(s.fill(steady::now() + 300ms) == read_status::timeout);
    proxy.thaw();
    const auto deadline = steady::now() + default_timeout;
    while (s.buffer().find("\"status\"") == std::string::npos &&
           s.fill(deadline) == read_status::data) {
    }
    CHECK(s.buffer().rfind("HTTP/1.1 200", 0) == 0);
  }

  SECTION("cut resets every current connection and later ones still work") {
    ws_client ws(proxy.port(), ws_options{});
    REQUIRE(ws.open());
    REQUIRE(proxy.wait_accepted(1));
    proxy.cut();
    CHECK(proxy.open_connections() == 0);
    // Whatever was already on its way (the `authenticated` message), then the end.
    auto m = ws.recv(3000ms);
    while (m.is_data()) m = ws.recv(3000ms);
    CHECK(m.type == ws_message::kind::eof);
    const auto r = http_get(proxy.port(), "/health");
    CHECK(r.status == 200);
    CHECK(proxy.accepted() == 2);
  }

  SECTION("a cut while frozen drops the held bytes") {
    proxy.freeze();
    tcp_stream s("127.0.0.1", proxy.port());
    REQUIRE(proxy.wait_accepted(1));
    REQUIRE(s.write_all("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    proxy.cut();
    proxy.thaw();
    const auto deadline = steady::now() + default_timeout;
    while (s.fill(deadline) == read_status::data) {
    }
    CHECK(s.eof());
    CHECK(s.buffer().empty());
  }
}
