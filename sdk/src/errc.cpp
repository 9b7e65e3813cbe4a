#include "rtev/errc.hpp"

#include <string>

namespace rtev {
namespace {

struct code_text {
  errc code;
  std::string_view name;
  const char* message;
};

constexpr code_text codes[] = {
    {errc::refused, "refused", "the server refused the request"},
    {errc::bad_request, "bad_request", "the server found the request malformed"},
    {errc::not_authenticated, "not_authenticated", "not authenticated yet"},
    {errc::forbidden, "forbidden", "not allowed for this identity"},
    {errc::rate_limited, "rate_limited", "over the server's rate limit"},
    {errc::auth_failed, "auth_failed", "authentication failed"},
    {errc::token_expired, "token_expired", "the token expired"},
    {errc::not_rtev_server, "not_rtev_server", "no server at this URL speaks the protocol"},
    {errc::certificate_rejected, "certificate_rejected",
     "the server's TLS certificate failed verification"},
    {errc::connection_failed, "connection_failed", "could not connect to the server"},
    {errc::connection_lost, "connection_lost", "the connection was lost before an answer"},
    {errc::closed_by_server, "closed_by_server", "the server asked not to reconnect"},
    {errc::stopped, "stopped", "the client was stopped"},
    {errc::timeout, "timeout", "no answer in time"},
    {errc::queue_full, "queue_full", "the offline queue is full"},
    {errc::would_deadlock, "would_deadlock",
     "waiting for this future on the client's service thread would deadlock"},
    {errc::unsupported, "unsupported", "the server does not support this request"},
    {errc::decode_failed, "decode_failed", "the event's data does not match its type"},
    {errc::handler_failed, "handler_failed", "a handler threw"},
    {errc::protocol_error, "protocol_error", "the server sent something that cannot be read"},
    {errc::invalid_options, "invalid_options", "invalid client options"},
    {errc::token_unavailable, "token_unavailable", "the token provider gave no token"},
};

const code_text* find(int value) {
  for (const auto& c : codes)
    if (static_cast<int>(c.code) == value) return &c;
  return nullptr;
}

class category : public std::error_category {
 public:
  const char* name() const noexcept override { return "rtev"; }
  std::string message(int value) const override {
    const code_text* c = find(value);
    return c ? c->message : "unknown rtev error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& rtev_category() noexcept {
  static const category instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), rtev_category()};
}

std::string_view to_string(errc e) {
  const code_text* c = find(static_cast<int>(e));
  return c ? c->name : "unknown";
}

errc errc_for_server_code(std::string_view code) {
  if (code == "bad_json") return errc::bad_request;
  if (code == "unauthorized") return errc::auth_failed;  // Socket.IO door's refusals
  for (const auto& c : codes)
    if (c.name == code) return c.code;
  return errc::refused;
}

}  // namespace rtev
