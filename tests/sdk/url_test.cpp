// The one URL parser (sdk/src/url.hpp): client URLs, and the Redis URL of rtev serve --broker,
// whose password must never reach an error message.

#include "sdk/src/url.hpp"

#include <catch2/catch.hpp>

#include "rtev/error.hpp"

using rtev::config_error;
using rtev::detail::parse_redis_url;
using rtev::detail::parse_url;

namespace {

// The message parse_redis_url throws for `url`.
std::string redis_error(const std::string& url) {
  try {
    parse_redis_url(url);
  } catch (const config_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("client URLs: host, port, path; redis:// is not one of them", "[url]") {
  const auto u = parse_url("wss://[::1]:8443/events/ws/connect?presence=false");
  CHECK(u.host == "::1");
  CHECK(u.authority() == "[::1]:8443");
  CHECK(u.query() == "presence=false");
  CHECK_THROWS_AS(parse_url("redis://127.0.0.1:6379"), config_error);
  CHECK_THROWS_AS(parse_url("ws://user:pw@host/"), config_error);
}

TEST_CASE("redis URLs: host, port 6379 by default, database, user and password apart", "[url]") {
  auto r = parse_redis_url("redis://127.0.0.1");
  CHECK(r.where.host == "127.0.0.1");
  CHECK(r.where.port == 6379);
  CHECK(r.db == 0);
  CHECK(r.password.empty());
  CHECK(r.redacted == "redis://127.0.0.1");

  r = parse_redis_url("redis://:s3cret@cache.internal:6380/2");
  CHECK(r.where.host == "cache.internal");
  CHECK(r.where.port == 6380);
  CHECK(r.db == 2);
  CHECK(r.user.empty());
  CHECK(r.password == "s3cret");
  CHECK(r.redacted == "redis://:***@cache.internal:6380/2");

  r = parse_redis_url("REDIS://app:p%40ss@[::1]/0");
  CHECK(r.where.host == "::1");
  CHECK(r.user == "app");
  CHECK(r.password == "p%40ss");
  CHECK(r.redacted == "REDIS://app:***@[::1]/0");  // as given, less the password
}

TEST_CASE("a bad redis URL is refused naming the problem, never showing the password", "[url]") {
  const std::string port = redis_error("redis://:topsecret@127.0.0.1:notaport");
  CHECK(port.find("bad port 'notaport'") != std::string::npos);
  CHECK(port.find("topsecret") == std::string::npos);
  CHECK(port.find(":***@") != std::string::npos);

  const std::string db = redis_error("redis://:topsecret@127.0.0.1/zero");
  CHECK(db.find("the database 'zero' is not a number") != std::string::npos);
  CHECK(db.find("topsecret") == std::string::npos);

  const std::string scheme = redis_error("http://:topsecret@127.0.0.1");
  CHECK(scheme.find("expected redis://") != std::string::npos);
  CHECK(scheme.find("topsecret") == std::string::npos);

  CHECK(redis_error("redis://:topsecret@exa mple").find("topsecret") == std::string::npos);
  CHECK(redis_error("redis://127.0.0.1/1?x=y").find("query") != std::string::npos);
  CHECK(redis_error("redis://").find("no host") != std::string::npos);
}
