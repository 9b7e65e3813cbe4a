#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "rtev/client.hpp"
#include "rtev/errc.hpp"

using rtev::errc;

TEST_CASE("errc_codes_have_stable_names_and_messages_in_the_rtev_category", "[sdk][errc]") {
  std::set<std::string> names;
  for (int v = 1; v <= static_cast<int>(errc::token_unavailable); ++v) {
    const std::error_code ec = static_cast<errc>(v);
    INFO("value " << v);
    CHECK(ec.category().name() == std::string("rtev"));
    CHECK(ec.value() == v);
    CHECK(ec);  // every code is an error; 0 is none
    const std::string name(rtev::to_string(static_cast<errc>(v)));
    CHECK(name != "unknown");
    CHECK(names.insert(name).second);                                 // no two codes share a name
    CHECK(rtev::errc_for_server_code(name) == static_cast<errc>(v));  // the name reads back
    CHECK_FALSE(ec.message().empty());
    CHECK(ec.message().find("unknown") == std::string::npos);
  }
  // The numbers are API: spot-check that none moved.
  CHECK(static_cast<int>(errc::refused) == 1);
  CHECK(static_cast<int>(errc::rate_limited) == 5);
  CHECK(static_cast<int>(errc::not_rtev_server) == 8);
  CHECK(static_cast<int>(errc::timeout) == 14);
  CHECK(static_cast<int>(errc::invalid_options) == 21);
  CHECK(std::error_code(99, rtev::rtev_category()).message() == "unknown rtev error 99");
  CHECK(rtev::to_string(static_cast<errc>(99)) == "unknown");
}

TEST_CASE("errc_for_server_code_maps_the_protocol_codes", "[sdk][errc]") {
  CHECK(rtev::errc_for_server_code("bad_json") == errc::bad_request);
  CHECK(rtev::errc_for_server_code("bad_request") == errc::bad_request);
  CHECK(rtev::errc_for_server_code("forbidden") == errc::forbidden);
  CHECK(rtev::errc_for_server_code("rate_limited") == errc::rate_limited);
  CHECK(rtev::errc_for_server_code("not_authenticated") == errc::not_authenticated);
  CHECK(rtev::errc_for_server_code("token_expired") == errc::token_expired);
  CHECK(rtev::errc_for_server_code("unauthorized") == errc::auth_failed);
  CHECK(rtev::errc_for_server_code("unsupported") == errc::unsupported);
  // Codes without an errc of their own are refusals.
  CHECK(rtev::errc_for_server_code("unknown_op") == errc::refused);
  CHECK(rtev::errc_for_server_code("storage_error") == errc::refused);
  CHECK(rtev::errc_for_server_code("") == errc::refused);
}

TEST_CASE("client_error_ec_comes_from_the_server_code_or_the_kind", "[sdk][errc]") {
  using kind = rtev::client_error::kind;
  auto ec_of = [](kind k, std::string code = {}) {
    rtev::client_error e;
    e.what = k;
    e.code = std::move(code);
    return e.ec();
  };
  CHECK(ec_of(kind::server, "rate_limited") == errc::rate_limited);
  CHECK(ec_of(kind::server, "forbidden") == errc::forbidden);
  CHECK(ec_of(kind::server, "no_such_thing") == errc::refused);
  CHECK(ec_of(kind::server) == errc::refused);
  CHECK(ec_of(kind::connection) == errc::connection_lost);
  CHECK(ec_of(kind::connection, "stopped") == errc::stopped);
  CHECK(ec_of(kind::connection, "auth_failed") == errc::auth_failed);
  CHECK(ec_of(kind::connection, "something else") == errc::connection_lost);
  CHECK(ec_of(kind::queue_full) == errc::queue_full);
  CHECK(ec_of(kind::would_deadlock) == errc::would_deadlock);
  CHECK(ec_of(kind::decode) == errc::decode_failed);
  CHECK(ec_of(kind::handler) == errc::handler_failed);
  CHECK(ec_of(kind::protocol) == errc::protocol_error);
  CHECK(ec_of(kind::timeout) == errc::timeout);
  CHECK(ec_of(kind::timeout, "timeout") == errc::timeout);
  // A std::error_code compares with the enum directly, and carries the message.
  const std::error_code ec = ec_of(kind::server, "rate_limited");
  CHECK(ec.message() == "over the server's rate limit");
}

TEST_CASE("every_public_enum_has_a_to_string", "[sdk][errc]") {
  CHECK(rtev::to_string(rtev::client_error::kind::would_deadlock) == "would_deadlock");
  CHECK(rtev::to_string(rtev::client_error::kind::connection) == "connection");
  CHECK(rtev::to_string(rtev::client_error::kind::timeout) == "timeout");
  CHECK(rtev::to_string(rtev::client_state::reconnecting) == "reconnecting");
  CHECK(rtev::to_string(rtev::wire_protocol::socketio) == "socketio");
  CHECK(rtev::to_string(errc::not_rtev_server) == "not_rtev_server");
}
