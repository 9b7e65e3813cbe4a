// Tokens: authenticator::authenticate in jwt mode (HS256 with a fixed secret), token mode and
// none mode. The input is the token as a client sends it. A second pass signs the input as a
// JWT payload with the right secret, so the claims checks (exp, nbf, sub/user_id, roles, rooms)
// are reached, not only the signature check. Every error message must be valid UTF-8 (it goes
// into JSON replies) and never contain the secret. The secret holds a control byte: errors may
// quote what the client sent (a payload can spell the secret with JSON escapes), but quoting
// escapes control bytes, so the raw secret in an error can only be a leak.
#include <cstddef>
#include <cstdint>

#include "auth.hpp"
#include "fuzz_input.hpp"
#include "rtev/json.hpp"

using namespace rtev::server_lite;

namespace {

const std::string secret = "fuzz-secret\x01-0123456789";

void check(const authenticator& auth, std::string_view token) {
  const auth_result r = auth.authenticate(token, "anon-1", 1700000000);
  if (r.who) {
    for (std::string_view room : {"room:1", "user:x", "role:admin", "presence", "a:*"})
      (void)join_refusal(*r.who, auth.mode(), room);
    (void)may_target_users(*r.who, auth.mode());
    return;
  }
  if (r.error.empty()) __builtin_trap();
  if (r.error.find(secret) != std::string::npos) __builtin_trap();
  // dump() throws on invalid UTF-8.
  (void)nlohmann::json(r.error).dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = rtev::fuzz::as_text(data, size);
  static const authenticator jwt(auth_mode::jwt, secret);
  static const authenticator token(auth_mode::token, "");
  static const authenticator none(auth_mode::none, "");
  check(jwt, text);
  check(token, text);
  check(none, text);
  check(jwt, sign_jwt_hs256(std::string(text), secret));
  if (auto bytes = base64url_decode(text))
    if (base64url_encode(*bytes) != text) __builtin_trap();
  return 0;
}
