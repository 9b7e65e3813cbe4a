#include "auth.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "request_guard.hpp"
#include "rtev/error.hpp"

using namespace rtev::server_lite;

namespace {

constexpr std::int64_t now = 1'700'000'000;
const std::string secret = "s3cret-for-tests";

std::string hex(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

// A JWT with an arbitrary header, HS256-signed with `key`, so a refusal of its alg is proven
// to come from the alg check and not from the signature.
std::string make_jwt(const std::string& header, const std::string& payload,
                     const std::string& key) {
  const auto input = base64url_encode(header) + "." + base64url_encode(payload);
  return input + "." + base64url_encode(hmac_sha256(key, input));
}

auth_result jwt(const std::string& payload) {
  return authenticator(auth_mode::jwt, secret)
      .authenticate(sign_jwt_hs256(payload, secret), "anon-1", now);
}

std::string jwt_error(const std::string& token) {
  const auto r = authenticator(auth_mode::jwt, secret).authenticate(token, "anon-1", now);
  CHECK_FALSE(r.who);
  return r.error;
}

identity user(std::string id, std::vector<std::string> roles = {}) {
  identity who;
  who.user_id = std::move(id);
  who.roles = std::move(roles);
  return who;
}

}  // namespace

TEST_CASE("parse_auth_mode_accepts_the_three_modes_and_names_them_in_errors", "[server][auth]") {
  SECTION("each mode round-trips through its name") {
    for (const auto m : {auth_mode::none, auth_mode::token, auth_mode::jwt}) {
      CHECK(parse_auth_mode(to_string(m)) == m);
    }
    CHECK(to_string(auth_mode::jwt) == "jwt");
  }
  SECTION("an unknown mode throws a config_error naming it and the accepted ones") {
    try {
      parse_auth_mode("JWT");
      FAIL("expected rtev::config_error");
    } catch (const rtev::config_error& e) {
      CHECK(std::string(e.what()) == "unknown auth mode 'JWT': expected one of none, token, jwt");
    }
    CHECK_THROWS_AS(parse_auth_mode(""), rtev::config_error);
  }
}

TEST_CASE("authenticator_needs_a_secret_only_in_jwt_mode", "[server][auth]") {
  SECTION("jwt mode with an empty secret is a configuration error") {
    CHECK_THROWS_WITH(authenticator(auth_mode::jwt, ""),
                      "--auth jwt needs a non-empty --jwt-secret");
  }
  SECTION("the other modes do not need one") {
    CHECK(authenticator(auth_mode::none, "").mode() == auth_mode::none);
    CHECK(authenticator(auth_mode::token, "").mode() == auth_mode::token);
    CHECK(authenticator(auth_mode::jwt, "x").mode() == auth_mode::jwt);
  }
}

TEST_CASE("none_mode_accepts_everyone", "[server][auth]") {
  const authenticator auth(auth_mode::none, "");
  SECTION("a connection without a token gets the anonymous id") {
    const auto r = auth.authenticate("", "anon-17", now);
    REQUIRE(r.who);
    CHECK(r.error.empty());
    CHECK(r.who->user_id == "anon-17");
    CHECK(r.who->anonymous);
    CHECK(r.who->roles.empty());
    CHECK_FALSE(r.who->rooms);
    CHECK_FALSE(r.who->expires_at);
  }
  SECTION("a whitespace-only token counts as no token") {
    const auto r = auth.authenticate(" \t\r\n", "anon-3", now);
    REQUIRE(r.who);
    CHECK(r.who->user_id == "anon-3");
    CHECK(r.who->anonymous);
  }
  SECTION("a plain token is the user id") {
    const auto r = auth.authenticate("alice", "anon-1", now);
    REQUIRE(r.who);
    CHECK(r.who->user_id == "alice");
    CHECK_FALSE(r.who->anonymous);
    CHECK(r.who->roles.empty());
  }
  SECTION("a JSON token can claim a user id and a role") {
    const auto r = auth.authenticate(R"({"user_id":"7","role":"admin"})", "anon-1", now);
    REQUIRE(r.who);
    CHECK(r.who->user_id == "7");
    CHECK(r.who->roles == std::vector<std::string>{"admin"});
    CHECK(r.who->is_privileged());
  }
  SECTION("a token that cannot name a room is refused with the reason") {
    const auto r = auth.authenticate("bob smith", "anon-1", now);
    CHECK_FALSE(r.who);
    CHECK(r.error == "user id 'bob smith' cannot name a room: up to 123 of A-Z a-z 0-9 _ : . @ -");
  }
  SECTION("a token that starts like JSON but does not parse is refused") {
    const auto r = auth.authenticate(R"({"user_id":)", "anon-1", now);
    CHECK_FALSE(r.who);
    CHECK(r.error == "token starts with '{' but is not a JSON object");
  }
}

TEST_CASE("token_mode_requires_a_token_naming_a_user", "[server][auth]") {
  const authenticator auth(auth_mode::token, "");
  const auto ok = [&auth](std::string_view token) {
    const auto r = auth.authenticate(token, "anon-1", now);
    INFO(r.error);
    REQUIRE(r.who);
    CHECK(r.error.empty());
    CHECK_FALSE(r.who->anonymous);
    return *r.who;
  };
  const auto error = [&auth](std::string_view token) {
    const auto r = auth.authenticate(token, "anon-1", now);
    CHECK_FALSE(r.who);
    return r.error;
  };

  SECTION("a plain token is the user id") {
    CHECK(ok("user-42@example.com").user_id == "user-42@example.com");
  }
  SECTION("surrounding whitespace is trimmed") {
    CHECK(ok("  bob\r\n").user_id == "bob");
  }
  SECTION("a JSON token gives user id and role") {
    const auto who = ok(R"({"user_id":"alice","role":"agent"})");
    CHECK(who.user_id == "alice");
    CHECK(who.roles == std::vector<std::string>{"agent"});
    CHECK_FALSE(who.is_privileged());
  }
  SECTION("a numeric user_id becomes its decimal string") {
    CHECK(ok(R"({"user_id":42})").user_id == "42");
    CHECK(ok(R"({"user_id":-5})").user_id == "-5");
    CHECK(ok(R"({"user_id":18446744073709551615})").user_id == "18446744073709551615");
  }
  SECTION("role and roles combine without duplicates, role first") {
    const auto who = ok(R"({"user_id":1,"role":"admin","roles":["service","admin","agent"]})");
    CHECK(who.roles == std::vector<std::string>{"admin", "service", "agent"});
    CHECK(who.has_role("service"));
    CHECK_FALSE(who.has_role("root"));
  }
  SECTION("a URL-encoded JSON token works once decoded") {
    const auto who = ok(*url_decode("%7B%22user_id%22%3A1%2C%22role%22%3A%22admin%22%7D"));
    CHECK(who.user_id == "1");
    CHECK(who.has_role("admin"));
  }
  SECTION("a JSON rooms field is not a claim outside jwt mode") {
    CHECK_FALSE(ok(R"({"user_id":1,"rooms":["lead:1"]})").rooms);
  }
  SECTION("no token is refused") {
    CHECK(error("") == "token required");
    CHECK(error("   ") == "token required");
  }
  SECTION("a JSON token without user_id names the missing field") {
    CHECK(error(R"({"role":"admin"})") == "token JSON has no user_id");
    CHECK(error(R"({"user_id":null})") == "token JSON has no user_id");
  }
  SECTION("a user_id of the wrong type or empty is refused") {
    CHECK(error(R"({"user_id":1.5})") == "token user_id must be a string or an integer");
    CHECK(error(R"({"user_id":true})") == "token user_id must be a string or an integer");
    CHECK(error(R"({"user_id":{"id":1}})") == "token user_id must be a string or an integer");
    CHECK(error(R"({"user_id":""})") == "token user_id is empty");
  }
  SECTION("malformed roles are refused") {
    CHECK(error(R"({"user_id":1,"role":["admin"]})") == "token role must be a string");
    CHECK(error(R"({"user_id":1,"roles":"admin"})") == "token roles must be an array of strings");
    CHECK(error(R"({"user_id":1,"roles":["admin",1]})") ==
          "token roles must be an array of strings");
    CHECK(error(R"({"user_id":1,"role":"a b"})") ==
          "role 'a b' cannot name a room: up to 123 of A-Z a-z 0-9 _ : . @ -");
    CHECK(error(R"({"user_id":1,"role":""})") ==
          "role '' cannot name a room: up to 123 of A-Z a-z 0-9 _ : . @ -");
  }
  SECTION("JSON that is not an object is refused") {
    CHECK(error("{not json}") == "token starts with '{' but is not a JSON object");
  }
  SECTION("user ids fit in a user: room of 128 characters") {
    CHECK(ok(std::string(123, 'u')).user_id.size() == 123);
    CHECK(error(std::string(124, 'u')).find("cannot name a room") != std::string::npos);
    CHECK(error("a/b") == "user id 'a/b' cannot name a room: up to 123 of A-Z a-z 0-9 _ : . @ -");
  }
  SECTION("a huge token is refused before any parsing") {
    CHECK(error(std::string(16 * 1024 + 1, 'a')) == "token too long: 16385 bytes, at most 16384");
  }
}

TEST_CASE("jwt_mode_accepts_valid_hs256_tokens", "[server][auth]") {
  SECTION("sub is the user id") {
    const auto r = jwt(R"({"sub":"alice"})");
    REQUIRE(r.who);
    CHECK(r.error.empty());
    CHECK(r.who->user_id == "alice");
    CHECK(r.who->roles.empty());
    CHECK_FALSE(r.who->rooms);
    CHECK_FALSE(r.who->expires_at);
    CHECK_FALSE(r.who->anonymous);
  }
  SECTION("a numeric user_id is used when there is no sub") {
    const auto r = jwt(R"({"user_id":42})");
    REQUIRE(r.who);
    CHECK(r.who->user_id == "42");
  }
  SECTION("sub wins over user_id") {
    const auto r = jwt(R"({"sub":"a","user_id":"b"})");
    REQUIRE(r.who);
    CHECK(r.who->user_id == "a");
  }
  SECTION("role and roles give the roles") {
    auto r = jwt(R"({"sub":"1","role":"admin"})");
    REQUIRE(r.who);
    CHECK(r.who->roles == std::vector<std::string>{"admin"});
    r = jwt(R"({"sub":"1","roles":["service","agent"]})");
    REQUIRE(r.who);
    CHECK(r.who->roles == std::vector<std::string>{"service", "agent"});
    CHECK(r.who->is_privileged());
  }
  SECTION("the rooms claim is kept, globs included") {
    const auto r = jwt(R"({"sub":"1","rooms":["campaign:7","contact:*"]})");
    REQUIRE(r.who);
    REQUIRE(r.who->rooms);
    CHECK(*r.who->rooms == std::vector<std::string>{"campaign:7", "contact:*"});
  }
  SECTION("an empty rooms claim allows no shared room at all") {
    const auto r = jwt(R"({"sub":"1","rooms":[]})");
    REQUIRE(r.who);
    REQUIRE(r.who->rooms);
    CHECK(r.who->rooms->empty());
  }
  SECTION("exp is reported as expires_at") {
    const auto r = jwt(R"({"sub":"1","exp":1700000060})");
    REQUIRE(r.who);
    CHECK(r.who->expires_at == std::optional<std::int64_t>(1700000060));
  }
  SECTION("surrounding whitespace (as from a header) is trimmed") {
    const auto r =
        authenticator(auth_mode::jwt, secret)
            .authenticate(" " + sign_jwt_hs256(R"({"sub":"1"})", secret) + "\r\n", "anon-1", now);
    CHECK(r.who);
  }
}

TEST_CASE("jwt_mode_honours_exp_and_nbf", "[server][auth]") {
  SECTION("a token past its exp is refused") {
    CHECK(jwt(R"({"sub":"1","exp":1699999999})").error == "token expired");
  }
  SECTION("a token is expired at the exact second of exp") {
    CHECK(jwt(R"({"sub":"1","exp":1700000000})").error == "token expired");
    CHECK(jwt(R"({"sub":"1","exp":1700000000.5})").who);
  }
  SECTION("a token whose nbf is in the future is refused") {
    CHECK(jwt(R"({"sub":"1","nbf":1700000001})").error ==
          "token not valid yet: nbf is in the future");
  }
  SECTION("a token is valid from the second of nbf") {
    CHECK(jwt(R"({"sub":"1","nbf":1700000000})").who);
    CHECK(jwt(R"({"sub":"1","nbf":1600000000,"exp":1800000000})").who);
  }
  SECTION("non-numeric exp and nbf are refused") {
    CHECK(jwt(R"({"sub":"1","exp":"1800000000"})").error == "JWT exp must be a number");
    CHECK(jwt(R"({"sub":"1","nbf":true})").error == "JWT nbf must be a number");
  }
  SECTION("an absurd exp does not overflow") {
    const auto r = jwt(R"({"sub":"1","exp":1e300})");
    REQUIRE(r.who);
    CHECK(*r.who->expires_at > now);
  }
}

TEST_CASE("jwt_mode_refuses_bad_signatures", "[server][auth]") {
  const auto good = sign_jwt_hs256(R"({"sub":"1","role":"agent"})", secret);
  REQUIRE(authenticator(auth_mode::jwt, secret).authenticate(good, "anon-1", now).who);

  SECTION("a token signed with another secret is refused") {
    CHECK(jwt_error(sign_jwt_hs256(R"({"sub":"1"})", "other")) == "JWT signature does not match");
  }
  SECTION("a tampered payload is refused") {
    const auto dot1 = good.find('.');
    const auto dot2 = good.find('.', dot1 + 1);
    const auto forged = good.substr(0, dot1 + 1) +
                        base64url_encode(R"({"sub":"1","role":"admin"})") + good.substr(dot2);
    CHECK(jwt_error(forged) == "JWT signature does not match");
  }
  SECTION("a truncated signature is refused") {
    // 43 characters minus 3 is 30 whole bytes: valid base64url, wrong length.
    CHECK(jwt_error(good.substr(0, good.size() - 3)) == "JWT signature does not match");
  }
  SECTION("an empty signature is refused") {
    CHECK(jwt_error(good.substr(0, good.rfind('.') + 1)) == "JWT signature does not match");
  }
  SECTION("a signature with non-zero padding bits is not accepted as the same signature") {
    // 32 bytes = 43 characters whose last one carries 2 unused bits; 'A'..'D' differ only there
    // for the same leading bits, so a lax decoder would accept another spelling.
    auto forged = good;
    char& last = forged.back();
    const auto pos =
        std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            .find(last);
    REQUIRE(pos % 4 == 0);
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[pos + 1];
    CHECK(jwt_error(forged) == "malformed JWT: signature is not base64url");
  }
  SECTION("the secret never appears in an error message") {
    for (const auto& token :
         {sign_jwt_hs256(R"({"sub":"1"})", "other"), sign_jwt_hs256("not json", secret),
          make_jwt(R"({"alg":"HS512"})", R"({"sub":"1"})", secret), std::string("a.b")}) {
      CHECK(jwt_error(token).find(secret) == std::string::npos);
    }
  }
}

TEST_CASE("jwt_mode_refuses_every_algorithm_but_hs256", "[server][auth]") {
  const std::string payload = R"({"sub":"1","role":"admin"})";
  SECTION("alg none is refused even without a signature") {
    const auto token =
        base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + base64url_encode(payload) + ".";
    CHECK(jwt_error(token) == "JWT alg 'none' is refused: only HS256 is accepted");
  }
  SECTION("alg none is refused even with a valid HS256 signature") {
    CHECK(jwt_error(make_jwt(R"({"alg":"none"})", payload, secret)) ==
          "JWT alg 'none' is refused: only HS256 is accepted");
  }
  SECTION("HS512 and RS256 are refused by name") {
    CHECK(jwt_error(make_jwt(R"({"alg":"HS512","typ":"JWT"})", payload, secret)) ==
          "JWT alg 'HS512' is refused: only HS256 is accepted");
    CHECK(jwt_error(make_jwt(R"({"alg":"RS256","typ":"JWT"})", payload, secret)) ==
          "JWT alg 'RS256' is refused: only HS256 is accepted");
  }
  SECTION("alg names are case-sensitive") {
    CHECK(jwt_error(make_jwt(R"({"alg":"hs256"})", payload, secret)) ==
          "JWT alg 'hs256' is refused: only HS256 is accepted");
  }
  SECTION("a header without a string alg is malformed") {
    CHECK(jwt_error(make_jwt(R"({"typ":"JWT"})", payload, secret)) ==
          "malformed JWT: header has no alg");
    CHECK(jwt_error(make_jwt(R"({"alg":256})", payload, secret)) ==
          "malformed JWT: header alg must be a string");
  }
  SECTION("critical header extensions are refused") {
    CHECK(jwt_error(make_jwt(R"({"alg":"HS256","crit":["b64"],"b64":false})", payload, secret)) ==
          "JWT header crit is not supported");
  }
  SECTION("the same header with HS256 is accepted") {
    CHECK(authenticator(auth_mode::jwt, secret)
              .authenticate(make_jwt(R"({"alg":"HS256"})", payload, secret), "anon-1", now)
              .who);
  }
}

TEST_CASE("jwt_mode_reports_each_malformation_distinctly", "[server][auth]") {
  const auto header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  const auto payload = base64url_encode(R"({"sub":"1"})");
  std::set<std::string> messages;
  const auto refused = [&messages](const std::string& message) {
    messages.insert(message);
    return message;
  };

  CHECK(refused(jwt_error("")) == "token required");
  CHECK(refused(jwt_error(header + "." + payload)) ==
        "malformed JWT: expected 3 dot-separated parts, got 2");
  CHECK(jwt_error("a.b.c.d") == "malformed JWT: expected 3 dot-separated parts, got 4");
  CHECK(jwt_error("just-a-user-id") == "malformed JWT: expected 3 dot-separated parts, got 1");
  CHECK(refused(jwt_error("ey+J." + payload + ".AAAA")) ==
        "malformed JWT: header is not base64url");
  CHECK(refused(jwt_error(header + ".e=." + "AAAA")) == "malformed JWT: payload is not base64url");
  CHECK(refused(jwt_error(header + "." + payload + ".A")) ==
        "malformed JWT: signature is not base64url");
  CHECK(refused(jwt_error(make_jwt("HS256", R"({"sub":"1"})", secret))) ==
        "malformed JWT: header is not a JSON object");
  CHECK(refused(jwt(R"(sub=1)").error) == "malformed JWT: payload is not a JSON object");
  CHECK(jwt(R"(["sub","1"])").error == "malformed JWT: payload is not a JSON object");
  CHECK(jwt("").error == "malformed JWT: payload is not a JSON object");
  CHECK(refused(jwt(R"({"name":"x"})").error) ==
        "JWT has no user: expected a sub or user_id claim");
  CHECK(jwt(R"({"sub":null})").error == "JWT has no user: expected a sub or user_id claim");
  CHECK(refused(jwt(R"({"sub":""})").error) == "JWT sub is empty");
  CHECK(refused(jwt(R"({"sub":4.2})").error) == "JWT sub must be a string or an integer");
  CHECK(jwt(R"({"user_id":[1]})").error == "JWT user_id must be a string or an integer");
  CHECK(refused(jwt(R"({"sub":"1","role":7})").error) == "JWT role must be a string");
  CHECK(refused(jwt(R"({"sub":"1","roles":"admin"})").error) ==
        "JWT roles must be an array of strings");
  CHECK(refused(jwt(R"({"sub":"1","rooms":"lead:1"})").error) ==
        "JWT rooms must be an array of room names or globs");
  CHECK(jwt(R"({"sub":"1","rooms":[1]})").error ==
        "JWT rooms must be an array of room names or globs");
  CHECK(refused(jwt(R"({"sub":"1","rooms":["lead 1"]})").error) ==
        "JWT rooms entry 'lead 1' is not a room name or glob");
  CHECK(refused(jwt(R"({"sub":"a|b"})").error) ==
        "user id 'a|b' cannot name a room: up to 123 of A-Z a-z 0-9 _ : . @ -");
  CHECK(messages.size() == 15);
}

TEST_CASE("hs256_signing_matches_known_answer_vectors", "[server][auth]") {
  SECTION("HMAC-SHA256 matches RFC 4231 test case 2") {
    CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  SECTION("sign_jwt_hs256 reproduces the jwt.io example token") {
    // Checked independently with: printf '%s' "$header.$payload" |
    //   openssl dgst -sha256 -hmac your-256-bit-secret -binary | base64 | tr '+/' '-_' | tr -d =
    const std::string expected =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    CHECK(sign_jwt_hs256(R"({"sub":"1234567890","name":"John Doe","iat":1516239022})",
                         "your-256-bit-secret") == expected);
    const auto r =
        authenticator(auth_mode::jwt, "your-256-bit-secret").authenticate(expected, "anon-1", now);
    REQUIRE(r.who);
    CHECK(r.who->user_id == "1234567890");
  }
  SECTION("an externally signed token with role and exp is accepted") {
    // Same openssl pipeline, secret rtev-test-secret.
    const std::string token =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiI0MiIsInJvbGUiOiJhZG1pbiIsImV4cCI6MjAwMDAwMDAwMH0."
        "zGz3a15fmH5G0zxDmbdgK4yTdfZZBaKih1xmDY3kx-M";
    const auto r = authenticator(auth_mode::jwt, "rtev-test-secret").authenticate(token, "a", now);
    REQUIRE(r.who);
    CHECK(r.who->user_id == "42");
    CHECK(r.who->has_role("admin"));
    CHECK(r.who->expires_at == std::optional<std::int64_t>(2000000000));
  }
}

TEST_CASE("base64url_round_trips_and_rejects_non_canonical_input", "[server][auth]") {
  SECTION("RFC 4648 vectors, without padding") {
    CHECK(base64url_encode("") == "");
    CHECK(base64url_encode("f") == "Zg");
    CHECK(base64url_encode("fo") == "Zm8");
    CHECK(base64url_encode("foo") == "Zm9v");
    CHECK(base64url_encode("foob") == "Zm9vYg");
    CHECK(base64url_encode("fooba") == "Zm9vYmE");
    CHECK(base64url_encode("foobar") == "Zm9vYmFy");
    CHECK(base64url_decode("Zm9vYmE") == std::optional<std::string>("fooba"));
    CHECK(base64url_decode("") == std::optional<std::string>(""));
  }
  SECTION("the URL-safe alphabet replaces + and /") {
    CHECK(base64url_encode("\xfb\xff") == "-_8");
    CHECK(base64url_decode("-_8") == std::optional<std::string>("\xfb\xff"));
    CHECK_FALSE(base64url_decode("+/8"));
  }
  SECTION("every byte value round-trips") {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t n = 0; n <= all.size(); n += 37) {
      CHECK(base64url_decode(base64url_encode(all.substr(0, n))) ==
            std::optional<std::string>(all.substr(0, n)));
    }
  }
  SECTION("padding, whitespace, stray characters and impossible lengths are refused") {
    CHECK_FALSE(base64url_decode("Zg=="));
    CHECK_FALSE(base64url_decode("Zm9v\n"));
    CHECK_FALSE(base64url_decode("Zm.v"));
    CHECK_FALSE(base64url_decode("Zm9vY"));
  }
  SECTION("non-zero unused bits are refused") {
    CHECK_FALSE(base64url_decode("Zh"));
    CHECK_FALSE(base64url_decode("Zm9"));
  }
}

TEST_CASE("room_names_are_1_to_128_allowed_characters", "[server][auth]") {
  SECTION("the documented examples are valid") {
    for (const char* room : {"user:42", "role:admin", "contact:123", "campaign:7", "lead:9",
                             "content_123", "presence", "a.b@c-d", "Z"}) {
      CHECK(is_valid_room(room));
    }
  }
  SECTION("128 characters are fine, 129 are not") {
    CHECK(is_valid_room(std::string(128, 'r')));
    CHECK_FALSE(is_valid_room(std::string(129, 'r')));
    CHECK(is_valid_room_pattern(std::string(127, 'r') + "*"));
    CHECK_FALSE(is_valid_room_pattern(std::string(128, 'r') + "*"));
  }
  SECTION("empty names and other characters are refused") {
    CHECK_FALSE(is_valid_room(""));
    for (const char* room : {"a b", "a/b", "a*", "ä", "a\n", "a#b", "a,b", "a?"}) {
      CHECK_FALSE(is_valid_room(room));
    }
    CHECK_FALSE(is_valid_room(std::string("a\0b", 3)));
  }
  SECTION("patterns also allow '*'") {
    CHECK(is_valid_room_pattern("*"));
    CHECK(is_valid_room_pattern("contact:*"));
    CHECK(is_valid_room_pattern("user:42"));
    CHECK_FALSE(is_valid_room_pattern(""));
    CHECK_FALSE(is_valid_room_pattern("contact:?"));
    CHECK(is_glob("contact:*"));
    CHECK_FALSE(is_glob("contact:1"));
  }
}

TEST_CASE("glob_match_treats_star_as_any_run_of_characters", "[server][auth]") {
  SECTION("a lone star matches everything, the empty string included") {
    CHECK(glob_match("*", "user:42"));
    CHECK(glob_match("*", ""));
    CHECK(glob_match("**", "x"));
  }
  SECTION("a prefix glob needs the literal prefix") {
    CHECK(glob_match("contact:*", "contact:1"));
    CHECK(glob_match("contact:*", "contact:"));
    CHECK(glob_match("contact:*", "contact:1:2"));
    CHECK_FALSE(glob_match("contact:*", "contactx"));
    CHECK_FALSE(glob_match("contact:*", "contact"));
    CHECK_FALSE(glob_match("contact:*", "Contact:1"));
  }
  SECTION("a star may span colons") {
    CHECK(glob_match("*:7", "campaign:7"));
    CHECK(glob_match("*:7", "a:b:7"));
    CHECK_FALSE(glob_match("*:7", "campaign:70"));
    CHECK(glob_match("user:*", "user:a:b"));
  }
  SECTION("several stars") {
    CHECK(glob_match("a*b*c", "abc"));
    CHECK(glob_match("a*b*c", "axxbyyc"));
    CHECK(glob_match("a*b*c", "abcbc"));
    CHECK_FALSE(glob_match("a*b*c", "axxbyy"));
    CHECK_FALSE(glob_match("a*b*c", "acb"));
    CHECK(glob_match("*a*", "bab"));
    CHECK_FALSE(glob_match("*a*", "bbb"));
  }
  SECTION("without a star the match is exact") {
    CHECK(glob_match("lead:9", "lead:9"));
    CHECK_FALSE(glob_match("lead:9", "lead:90"));
    CHECK_FALSE(glob_match("lead:9", "lead:"));
    CHECK_FALSE(glob_match("", "a"));
    CHECK(glob_match("", ""));
  }
  SECTION("pathological patterns on long strings finish quickly") {
    // Naive recursive backtracking is exponential in the number of stars here.
    const std::string text(100'000, 'a');
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(glob_match("a*a*a*a*a*a*a*a*a*a*b", text));
    CHECK_FALSE(glob_match("*aaaaaaaaaaaaaaaaaaab", text));
    CHECK(glob_match("a*a*a*a*a*a*a*a*a*a*a", text));
    CHECK(glob_match("*a*a*a*a*a*a*a*a*a*a*a*", text + "b"));
    // O(n*m) is a few million steps; a generous bound that still catches a blow-up.
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  }
}

TEST_CASE("join_refusal_enforces_the_room_rules", "[server][auth]") {
  const auto agent = user("42", {"agent"});
  const auto admin = user("1", {"admin"});

  SECTION("invalid names are refused with the accepted characters") {
    CHECK(join_refusal(agent, auth_mode::token, "a b") ==
          "invalid room name 'a b': up to 128 of A-Z a-z 0-9 _ : . @ -");
    CHECK(join_refusal(agent, auth_mode::none, "") ==
          "invalid room name '': up to 128 of A-Z a-z 0-9 _ : . @ -");
    CHECK(join_refusal(admin, auth_mode::token, "a *") ==
          "invalid room pattern 'a *': up to 128 of A-Z a-z 0-9 _ : . @ - *");
  }
  SECTION("echoed names are capped and escaped to printable ASCII") {
    CHECK(join_refusal(agent, auth_mode::token, "\xff'\n") ==
          "invalid room name '\\xff\\x27\\x0a': up to 128 of A-Z a-z 0-9 _ : . @ -");
    const auto message = join_refusal(agent, auth_mode::token, std::string(1000, ' '));
    CHECK(message == "invalid room name '" + std::string(64, ' ') +
                         "...': up to 128 of A-Z a-z 0-9 _ : . @ -");
  }
  SECTION("ordinary rooms are open to everyone") {
    CHECK(join_refusal(agent, auth_mode::token, "contact:123") == "");
    CHECK(join_refusal(agent, auth_mode::jwt, "campaign:7") == "");
  }
  SECTION("a user's own room is allowed, another user's is not, even for admins") {
    CHECK(join_refusal(agent, auth_mode::token, "user:42") == "");
    CHECK(join_refusal(agent, auth_mode::token, "user:7") ==
          "room 'user:7' belongs to another user");
    CHECK(join_refusal(agent, auth_mode::token, "user:420") ==
          "room 'user:420' belongs to another user");
    CHECK(join_refusal(admin, auth_mode::jwt, "user:7") == "room 'user:7' belongs to another user");
  }
  SECTION("role rooms need that role") {
    CHECK(join_refusal(agent, auth_mode::token, "role:agent") == "");
    CHECK(join_refusal(agent, auth_mode::token, "role:admin") ==
          "joining 'role:admin' needs role admin");
    CHECK(join_refusal(admin, auth_mode::token, "role:agent") ==
          "joining 'role:agent' needs role agent");
  }
  SECTION("globs need role admin") {
    CHECK(join_refusal(agent, auth_mode::token, "contact:*") ==
          "glob subscriptions need role admin");
    CHECK(join_refusal(agent, auth_mode::jwt, "*") == "glob subscriptions need role admin");
    CHECK(join_refusal(user("s", {"service"}), auth_mode::jwt, "*") ==
          "glob subscriptions need role admin");
    CHECK(join_refusal(admin, auth_mode::token, "contact:*") == "");
    CHECK(join_refusal(admin, auth_mode::jwt, "*") == "");
  }
  SECTION("presence needs role admin") {
    CHECK(join_refusal(agent, auth_mode::token, "presence") ==
          "joining 'presence' needs role admin");
    CHECK(join_refusal(admin, auth_mode::token, "presence") == "");
    CHECK(join_refusal(agent, auth_mode::token, "presence:x") == "");
  }
  SECTION("none mode lifts the admin-only rules but not the identity rules") {
    const auto anon = [] {
      auto who = user("anon-5");
      who.anonymous = true;
      return who;
    }();
    CHECK(join_refusal(anon, auth_mode::none, "*") == "");
    CHECK(join_refusal(anon, auth_mode::none, "contact:*") == "");
    CHECK(join_refusal(anon, auth_mode::none, "presence") == "");
    CHECK(join_refusal(anon, auth_mode::none, "user:anon-5") == "");
    CHECK(join_refusal(anon, auth_mode::none, "user:7") == "room 'user:7' belongs to another user");
    CHECK(join_refusal(anon, auth_mode::none, "role:admin") ==
          "joining 'role:admin' needs role admin");
    CHECK(join_refusal(user("7", {"admin"}), auth_mode::none, "role:admin") == "");
  }
  SECTION("a rooms claim restricts everything but the user's own rooms") {
    auto limited = user("42", {"agent"});
    limited.rooms = std::vector<std::string>{"campaign:7", "contact:*"};
    CHECK(join_refusal(limited, auth_mode::jwt, "campaign:7") == "");
    CHECK(join_refusal(limited, auth_mode::jwt, "contact:99") == "");
    CHECK(join_refusal(limited, auth_mode::jwt, "campaign:8") ==
          "room 'campaign:8' is not in the token's rooms claim");
    CHECK(join_refusal(limited, auth_mode::jwt, "user:42") == "");
    CHECK(join_refusal(limited, auth_mode::jwt, "role:agent") == "");
    CHECK(join_refusal(limited, auth_mode::jwt, "user:7") ==
          "room 'user:7' belongs to another user");
  }
  SECTION("an empty rooms claim leaves only the user's own rooms") {
    auto limited = user("42", {"admin"});
    limited.rooms = std::vector<std::string>{};
    CHECK(join_refusal(limited, auth_mode::jwt, "user:42") == "");
    CHECK(join_refusal(limited, auth_mode::jwt, "role:admin") == "");
    CHECK(join_refusal(limited, auth_mode::jwt, "presence") ==
          "room 'presence' is not in the token's rooms claim");
    CHECK(join_refusal(limited, auth_mode::jwt, "*") ==
          "glob '*' reaches beyond the token's rooms claim");
  }
  SECTION("an admin's glob must stay inside the rooms claim") {
    auto limited = user("1", {"admin"});
    limited.rooms = std::vector<std::string>{"contact:*", "lead:9"};
    CHECK(join_refusal(limited, auth_mode::jwt, "contact:*") == "");
    CHECK(join_refusal(limited, auth_mode::jwt, "contact:12*") == "");
    CHECK(join_refusal(limited, auth_mode::jwt, "contact*") ==
          "glob 'contact*' reaches beyond the token's rooms claim");
    CHECK(join_refusal(limited, auth_mode::jwt, "lead:*") ==
          "glob 'lead:*' reaches beyond the token's rooms claim");
    CHECK(join_refusal(limited, auth_mode::jwt, "*") ==
          "glob '*' reaches beyond the token's rooms claim");
  }
}

TEST_CASE("may_target_users_needs_admin_or_service_or_none_mode", "[server][auth]") {
  SECTION("admin and service may target users in every mode") {
    for (const auto mode : {auth_mode::token, auth_mode::jwt, auth_mode::none}) {
      CHECK(may_target_users(user("1", {"admin"}), mode));
      CHECK(may_target_users(user("1", {"agent", "service"}), mode));
    }
  }
  SECTION("other users may not, unless the server runs with --auth none") {
    CHECK_FALSE(may_target_users(user("1", {"agent"}), auth_mode::token));
    CHECK_FALSE(may_target_users(user("1"), auth_mode::jwt));
    CHECK(may_target_users(user("anon-1"), auth_mode::none));
  }
  SECTION("is_privileged matches the same roles") {
    CHECK(user("1", {"service"}).is_privileged());
    CHECK_FALSE(user("1", {"Admin"}).is_privileged());
  }
}
