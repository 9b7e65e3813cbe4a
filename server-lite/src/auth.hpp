#pragma once
// Authentication (none | token | jwt) and the room rules that follow from an identity.
// Pure functions and an immutable authenticator: safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "names.hpp"
#include "rtev/glob.hpp"

namespace rtev::server_lite {

using rtev::glob_match;  // room globs: `*` matches any run of characters, `:` included
using rtev::is_glob;

enum class auth_mode { none, token, jwt };

/// "none" | "token" | "jwt"; throws rtev::config_error naming the accepted values.
auth_mode parse_auth_mode(std::string_view text);
std::string_view to_string(auth_mode m);

/// Who a connection is, once authenticated.
struct identity {
  std::string user_id;
  std::vector<std::string> roles;                 ///< may be empty
  std::optional<std::vector<std::string>> rooms;  ///< JWT `rooms` claim: only these (globs allowed)
  std::optional<std::int64_t> expires_at;         ///< JWT `exp`, seconds since the epoch
  bool anonymous = false;                         ///< none mode without a token

  bool has_role(std::string_view role) const;
  /// role admin or service: may publish to other users and broadcast.
  bool is_privileged() const;
};

struct auth_result {
  std::optional<identity> who;  ///< set on success
  std::string error;            ///< on failure: a message for the client ("token expired", …)
};

/// The user id of the operator: a connection that authenticated with the API key. Reserved: no
/// token may claim it, so nobody looks like the operator in presence or /api/connections.
inline constexpr std::string_view operator_user_id = "api-key";

class authenticator {
 public:
  /// Throws rtev::config_error when mode is jwt and the secret is empty. `api_key` (may be
  /// empty: none set) is the operator's secret (--api-key).
  authenticator(auth_mode mode, std::string jwt_secret, std::string api_key = {});

  auth_mode mode() const { return mode_; }

  /// Whether `given` (surrounding whitespace trimmed, as tokens are) is the API key. False when
  /// no key is set. Compares SHA-256 digests in constant time, so neither the key's bytes nor
  /// its length show in the timing. The one place the key is checked (HTTP Bearer, the
  /// WebSocket `authenticate` message).
  bool is_api_key(std::string_view given) const;
  bool has_api_key() const { return !api_key_.empty(); }

  /// Check `token` (already URL-decoded; empty = none given) at time `now_s` (seconds since
  /// the epoch). In none mode every token is accepted: a JSON object {"user_id","role"|"roles"}
  /// or a plain user id; no token gives `anonymous_id`. In token mode a token is required, same
  /// forms. In jwt mode an HS256 JWT signed with the secret: exp/nbf honoured, user from
  /// `sub` or `user_id`, roles from `role`/`roles`, `rooms` restricts joins.
  ///
  /// Details: surrounding whitespace is trimmed; a token that starts with '{' is JSON. User ids
  /// and roles must be 1..123 of [A-Za-z0-9_:.@-] so that user:{id} and role:{r} are rooms; a
  /// token that breaks this, or is malformed JSON, is refused even in none mode (the client
  /// meant something and gets told what). `role` and `roles` combine. Tokens over 16 KiB are
  /// refused. Errors never contain the secret; client text in them is capped and escaped to
  /// printable ASCII, so a message is always valid UTF-8. The API key is never a user's token
  /// (refused, saying where it goes), and no token may claim the user id `api-key`.
  auth_result authenticate(std::string_view token, std::string_view anonymous_id,
                           std::int64_t now_s) const;

 private:
  auth_mode mode_;
  std::string secret_;
  std::string api_key_;
};

/// Why a join was refused; empty when allowed.
/// Rules: user:{id} only for that user; role:{r} only with role r; `presence` needs admin
/// (anyone in none mode); globs need admin (or none mode); a JWT `rooms` claim restricts
/// everything else to matching rooms. In none mode the rules apply to the claimed identity.
/// user:{id} is refused to admins too (they can subscribe to the glob user:*). Under a rooms
/// claim a glob is allowed only if every room it can reach matches a claim entry.
/// Messages: "invalid room name 'a b': up to 128 of A-Z a-z 0-9 _ : . @ -",
/// "room 'user:7' belongs to another user", "joining 'role:admin' needs role admin",
/// "glob subscriptions need role admin", "room 'lead:9' is not in the token's rooms claim".
std::string join_refusal(const identity& who, auth_mode mode, std::string_view room);

/// Whether `who` may publish to other users' rooms or broadcast (admin/service role, or none mode).
bool may_target_users(const identity& who, auth_mode mode);

/// HS256 JWT signing, for tests and tools: header {"alg":"HS256","typ":"JWT"}. The payload
/// text is encoded verbatim (not re-serialized), so tests can sign deliberately bad payloads.
std::string sign_jwt_hs256(const std::string& payload_json, const std::string& secret);

/// Base64url without padding (RFC 4648 section 5, as JWS uses it).
std::string base64url_encode(std::string_view bytes);
/// Strict base64url: no padding, no whitespace, unused trailing bits zero; nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);
/// Raw 32-byte HMAC-SHA256 of `data` under `key` (OpenSSL).
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace rtev::server_lite
