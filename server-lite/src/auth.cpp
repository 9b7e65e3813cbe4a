#include "auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "rtev/error.hpp"
#include "rtev/json.hpp"

namespace rtev::server_lite {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_room_length = max_name_chars;
constexpr std::string_view user_prefix = "user:";
constexpr std::string_view role_prefix = "role:";
// user:{id} and role:{r} must themselves be valid rooms, so ids and roles get what is left.
constexpr std::size_t max_name_length = max_room_length - user_prefix.size();
static_assert(user_prefix.size() == role_prefix.size());
// Far above any sane JWT (even with a long rooms claim); keeps a hostile client from making us
// base64-decode and JSON-parse megabytes before the signature check.
constexpr std::size_t max_token_length = 16 * 1024;
constexpr std::size_t hmac_sha256_size = 32;

constexpr std::string_view jwt_header_b64 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

bool is_room_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':' || c == '.' || c == '@' || c == '-';
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Client-supplied text is echoed in error messages that go back out inside JSON: cap its length
// and escape everything but printable ASCII, so the message stays short and is always valid
// UTF-8 (nlohmann::json::dump throws on invalid UTF-8).
std::string quote_for_client(std::string_view s) {
  constexpr std::size_t max_shown = 64;
  std::string shown = rtev::printable(s.substr(0, max_shown));
  for (std::size_t at = shown.find('\''); at != std::string::npos; at = shown.find('\'', at))
    shown.replace(at, 1, "\\x27");  // the quote that closes it stays unambiguous
  return "'" + shown + (s.size() > max_shown ? "...'" : "'");
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n";
  const auto first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(space);
  return s.substr(first, last - first + 1);
}

bool is_room_name_part(std::string_view s) {
  return !s.empty() && s.size() <= max_name_length && std::all_of(s.begin(), s.end(), is_room_char);
}

// Empty string when `value` can follow "user:" / "role:" in a room name.
std::string check_name(std::string_view what, std::string_view value) {
  if (is_room_name_part(value)) return {};
  return std::string(what) + " " + quote_for_client(value) + " cannot name a room: up to " +
         std::to_string(max_name_length) + " of A-Z a-z 0-9 _ : . @ -";
}

// Claims shared by JSON tokens and JWT payloads. `source` prefixes messages ("token", "JWT").
std::string read_user_id(const json& v, std::string_view source, std::string_view claim,
                         std::string& out) {
  if (v.is_string()) {
    out = v.get<std::string>();
  } else if (v.is_number_integer()) {
    out = v.dump();  // decimal digits, '-' for negatives; no float noise for integers
  } else {
    return std::string(source) + " " + std::string(claim) + " must be a string or an integer";
  }
  if (out.empty()) return std::string(source) + " " + std::string(claim) + " is empty";
  return check_name("user id", out);
}

std::string read_roles(const json& obj, std::string_view source, std::vector<std::string>& out) {
  const auto add = [&out](std::string r) -> std::string {
    if (auto e = check_name("role", r); !e.empty()) return e;
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(std::move(r));
    return {};
  };
  if (const auto it = obj.find("role"); it != obj.end() && !it->is_null()) {
    if (!it->is_string()) return std::string(source) + " role must be a string";
    if (auto e = add(it->get<std::string>()); !e.empty()) return e;
  }
  if (const auto it = obj.find("roles"); it != obj.end() && !it->is_null()) {
    const bool ok = it->is_array() && std::all_of(it->begin(), it->end(),
                                                  [](const json& r) { return r.is_string(); });
    if (!ok) return std::string(source) + " roles must be an array of strings";
    for (const auto& r : *it) {
      if (auto e = add(r.get<std::string>()); !e.empty()) return e;
    }
  }
  return {};
}

auth_result fail(std::string message) {
  return auth_result{std::nullopt, std::move(message)};
}

// A plain user id or a JSON object {"user_id", "role"|"roles"} (none and token modes).
auth_result identity_from_token(std::string_view token) {
  identity who;
  if (token.front() != '{') {
    who.user_id = std::string(token);
    if (auto e = check_name("user id", who.user_id); !e.empty()) return fail(std::move(e));
    return auth_result{std::move(who), {}};
  }
  const json obj = rtev::parse_json(token);
  if (!obj.is_object()) return fail("token starts with '{' but is not a JSON object");
  const auto uid = obj.find("user_id");
  if (uid == obj.end() || uid->is_null()) return fail("token JSON has no user_id");
  if (auto e = read_user_id(*uid, "token", "user_id", who.user_id); !e.empty()) {
    return fail(std::move(e));
  }
  if (auto e = read_roles(obj, "token", who.roles); !e.empty()) return fail(std::move(e));
  return auth_result{std::move(who), {}};
}

// JWT NumericDate (may be fractional) to whole seconds, clamped so huge values cannot overflow.
std::int64_t to_seconds(double v) {
  // Half the range, as a double.
  constexpr std::int64_t half = std::numeric_limits<std::int64_t>::max() / 2;
  constexpr auto hi = static_cast<double>(half);
  return static_cast<std::int64_t>(std::clamp(v, -hi, hi));
}

auth_result identity_from_jwt(std::string_view token, const std::string& secret,
                              std::int64_t now_s) {
  std::array<std::string_view, 3> part;
  std::size_t parts = 0;
  for (std::size_t start = 0;;) {
    const auto dot = token.find('.', start);
    const auto piece = token.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (parts < part.size()) part[parts] = piece;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts != 3) {
    return fail("malformed JWT: expected 3 dot-separated parts, got " + std::to_string(parts));
  }
  const auto header_text = base64url_decode(part[0]);
  if (!header_text) return fail("malformed JWT: header is not base64url");
  const auto payload_text = base64url_decode(part[1]);
  if (!payload_text) return fail("malformed JWT: payload is not base64url");
  const auto signature = base64url_decode(part[2]);
  if (!signature) return fail("malformed JWT: signature is not base64url");

  const json header = rtev::parse_json(*header_text);
  if (!header.is_object()) return fail("malformed JWT: header is not a JSON object");
  const auto alg = header.find("alg");
  if (alg == header.end()) return fail("malformed JWT: header has no alg");
  if (!alg->is_string()) return fail("malformed JWT: header alg must be a string");
  // Only HS256: accepting 'none' or letting the token pick another algorithm is the classic
  // JWT downgrade (RFC 8725 section 2.1).
  if (alg->get<std::string>() != "HS256") {
    return fail("JWT alg " + quote_for_client(alg->get<std::string>()) +
                " is refused: only HS256 is accepted");
  }
  // RFC 7515 section 4.1.11: extensions listed in crit must be understood; we know none.
  if (header.contains("crit")) return fail("JWT header crit is not supported");

  const auto signed_len = part[0].size() + 1 + part[1].size();
  const auto expected = hmac_sha256(secret, token.substr(0, signed_len));
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return fail("JWT signature does not match");
  }

  const json claims = rtev::parse_json(*payload_text);
  if (!claims.is_object()) return fail("malformed JWT: payload is not a JSON object");

  identity who;
  if (const auto exp = claims.find("exp"); exp != claims.end() && !exp->is_null()) {
    if (!exp->is_number()) return fail("JWT exp must be a number");
    // RFC 7519 4.1.4: not accepted "on or after" exp. No leeway: the caller owns the clock.
    if (static_cast<double>(now_s) >= exp->get<double>()) return fail("token expired");
    who.expires_at = to_seconds(exp->get<double>());
  }
  if (const auto nbf = claims.find("nbf"); nbf != claims.end() && !nbf->is_null()) {
    if (!nbf->is_number()) return fail("JWT nbf must be a number");
    if (static_cast<double>(now_s) < nbf->get<double>()) {
      return fail("token not valid yet: nbf is in the future");
    }
  }

  auto user = claims.find("sub");
  const char* claim = "sub";
  if (user == claims.end() || user->is_null()) {
    user = claims.find("user_id");
    claim = "user_id";
  }
  if (user == claims.end() || user->is_null()) {
    return fail("JWT has no user: expected a sub or user_id claim");
  }
  if (auto e = read_user_id(*user, "JWT", claim, who.user_id); !e.empty()) {
    return fail(std::move(e));
  }
  if (auto e = read_roles(claims, "JWT", who.roles); !e.empty()) return fail(std::move(e));

  if (const auto rooms = claims.find("rooms"); rooms != claims.end() && !rooms->is_null()) {
    if (!rooms->is_array()) return fail("JWT rooms must be an array of room names or globs");
    std::vector<std::string> allowed;
    for (const auto& r : *rooms) {
      if (!r.is_string()) return fail("JWT rooms must be an array of room names or globs");
      auto name = r.get<std::string>();
      if (!is_valid_room_pattern(name)) {
        return fail("JWT rooms entry " + quote_for_client(name) + " is not a room name or glob");
      }
      allowed.push_back(std::move(name));
    }
    who.rooms = std::move(allowed);
  }
  return auth_result{std::move(who), {}};
}

}  // namespace

auth_mode parse_auth_mode(std::string_view text) {
  if (text == "none") return auth_mode::none;
  if (text == "token") return auth_mode::token;
  if (text == "jwt") return auth_mode::jwt;
  throw rtev::config_error("unknown auth mode " + quote_for_client(text) +
                           ": expected one of none, token, jwt");
}

std::string_view to_string(auth_mode m) {
  switch (m) {
    case auth_mode::none:
      return "none";
    case auth_mode::token:
      return "token";
    case auth_mode::jwt:
      return "jwt";
  }
  return "unknown";
}

bool identity::has_role(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool identity::is_privileged() const {
  return has_role("admin") || has_role("service");
}

authenticator::authenticator(auth_mode mode, std::string jwt_secret, std::string api_key)
    : mode_(mode), secret_(std::move(jwt_secret)), api_key_(std::move(api_key)) {
  if (mode_ == auth_mode::jwt && secret_.empty()) {
    throw rtev::config_error("--auth jwt needs a non-empty --jwt-secret");
  }
}

auth_result authenticator::authenticate(std::string_view token, std::string_view anonymous_id,
                                        std::int64_t now_s) const {
  token = trim(token);
  if (token.empty()) {
    if (mode_ != auth_mode::none) return fail("token required");
    identity who;
    who.user_id = std::string(anonymous_id);
    who.anonymous = true;
    return auth_result{std::move(who), {}};
  }
  if (token.size() > max_token_length) {
    return fail("token too long: " + std::to_string(token.size()) + " bytes, at most " +
                std::to_string(max_token_length));
  }
  // The key as a user's token (?token=, an SSE or Socket.IO token) would make it a user id that
  // presence and /api/connections show to others: refused, saying where it belongs.
  if (is_api_key(token)) {
    return fail(
        "the API key is not a user's token: send it in an authenticate message over the "
        "WebSocket, or as Authorization: Bearer to the HTTP API (never in a URL)");
  }
  auth_result r = mode_ == auth_mode::jwt ? identity_from_jwt(token, secret_, now_s)
                                          : identity_from_token(token);
  if (r.who && r.who->user_id == operator_user_id) {
    return fail("user id '" + std::string(operator_user_id) +
                "' is reserved for the operator (the API key); choose another");
  }
  return r;
}

bool authenticator::is_api_key(std::string_view given) const {
  if (api_key_.empty()) return false;
  given = trim(given);
  const auto digest = [](std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int n = 0;
    EVP_Digest(text.data(), text.size(), out.data(), &n, EVP_sha256(), nullptr);
    return out;
  };
  const auto a = digest(given), b = digest(api_key_);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string join_refusal(const identity& who, auth_mode mode, std::string_view room) {
  const bool admin = mode == auth_mode::none || who.has_role("admin");
  const auto in_rooms_claim = [&who](std::string_view name) {
    // Matching the claim entry against `name` as literal text also covers globs soundly: a
    // '*' in `name` can only be consumed by a '*' in the entry, which then absorbs whatever
    // that star expands to, so every room the glob reaches is inside the entry.
    return std::any_of(who.rooms->begin(), who.rooms->end(),
                       [name](const std::string& entry) { return glob_match(entry, name); });
  };

  if (is_glob(room)) {
    if (!is_valid_room_pattern(room)) {
      return "invalid room pattern " + quote_for_client(room) +
             ": up to 128 of A-Z a-z 0-9 _ : . @ - *";
    }
    if (!admin) return "glob subscriptions need role admin";
    if (who.rooms && !in_rooms_claim(room)) {
      return "glob " + quote_for_client(room) + " reaches beyond the token's rooms claim";
    }
    return {};
  }
  if (!is_valid_room(room)) {
    return "invalid room name " + quote_for_client(room) + ": up to 128 of A-Z a-z 0-9 _ : . @ -";
  }
  if (starts_with(room, user_prefix)) {
    // Nobody, admins included, joins another user's private room by name; admins who need
    // to watch every user subscribe with a glob (user:*), which is explicit about it.
    if (room.substr(user_prefix.size()) != who.user_id) {
      return "room " + quote_for_client(room) + " belongs to another user";
    }
    return {};
  }
  if (starts_with(room, role_prefix)) {
    const auto role = room.substr(role_prefix.size());
    if (!who.has_role(role))
      return "joining " + quote_for_client(room) + " needs role " + std::string(role);
    return {};
  }
  if (room == "presence" && !admin) return "joining 'presence' needs role admin";
  if (who.rooms && !in_rooms_claim(room)) {
    return "room " + quote_for_client(room) + " is not in the token's rooms claim";
  }
  return {};
}

bool may_target_users(const identity& who, auth_mode mode) {
  return mode == auth_mode::none || who.is_privileged();
}

std::string base64url_encode(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]))
                                << 8 |
                            static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  const auto rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]))
                                << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  // A single leftover character carries only 6 bits: never a whole byte.
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Canonical form only: leftover bits must be zero, so each byte string has one encoding
  // (no malleable signatures).
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  if (key.size() > static_cast<std::size_t>(INT_MAX)) {
    throw rtev::config_error("HMAC key too long");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  // Never hand OpenSSL a null pointer (an empty string_view may have one): HMAC_Init_ex reads
  // a null key as "keep the previous key", and null data is not documented as allowed.
  static const unsigned char empty = 0;
  const auto bytes = [](std::string_view s) {
    return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
  };
  if (HMAC(EVP_sha256(), bytes(key), static_cast<int>(key.size()), bytes(data), data.size(),
           mac.data(), &mac_len) == nullptr ||
      mac_len != hmac_sha256_size) {
    throw rtev::error("HMAC-SHA256 failed in OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(mac.data()), mac_len);
}

std::string sign_jwt_hs256(const std::string& payload_json, const std::string& secret) {
  std::string signing_input(jwt_header_b64);
  signing_input += '.';
  signing_input += base64url_encode(payload_json);
  const auto mac = hmac_sha256(secret, signing_input);
  return signing_input + '.' + base64url_encode(mac);
}

}  // namespace rtev::server_lite
