#pragma once
/// \file
/// rtev::errc — stable error codes for everything the SDK reports, as a std::error_code
/// category ("rtev"). A client_error gives its code with ec(), a closed client's state_info
/// has one in `error`, and client::create(options, ec) reports bad options without throwing.
///
///     c.publish("lobby", "message_sent", data, [](const rtev::publish_ack*, const
///     rtev::client_error* e) {
///       if (e && e->ec() == rtev::errc::rate_limited) …   // slow down
///     });
///
/// The numbers are part of the API: new codes are added at the end, none is renumbered.

#include <string_view>
#include <system_error>

namespace rtev {

enum class errc {
  // 0 is "no error", as for every std::error_code.
  refused = 1,            ///< the server refused the request with a code that has no errc of its
                          ///< own (unknown_op, storage_error, a foreign server's error, …)
  bad_request = 2,        ///< the server found the request malformed (bad_request, bad_json)
  not_authenticated = 3,  ///< a request before authentication
  forbidden = 4,          ///< the identity may not join / publish / read that room
  rate_limited = 5,       ///< over the server's rate limit
  auth_failed = 6,        ///< credentials rejected (or none given to a server that needs one)
  token_expired = 7,      ///< the token expired and no fresh one came from the token provider
  not_rtev_server = 8,    ///< nothing at this URL speaks the protocol: 404, a web page, no upgrade
  certificate_rejected = 9,  ///< the server's TLS certificate failed verification
  connection_failed = 10,    ///< could not connect (refused, unreachable, timed out), and the
                             ///< backoff gave up
  connection_lost = 11,      ///< a connection that was up ended (before the request's answer)
  closed_by_server = 12,     ///< the server asked not to reconnect (SSE: HTTP 204)
  stopped = 13,              ///< the client was stopped or destroyed before an answer
  timeout = 14,              ///< no answer within the request's time-out
  queue_full = 15,           ///< the offline queue is full
  would_deadlock = 16,       ///< a future asked for on the service thread (use the callback form)
  unsupported = 17,          ///< a foreign server cannot take this request
  decode_failed = 18,        ///< an event's data did not match its typed struct
  handler_failed = 19,       ///< a handler threw
  protocol_error = 20,       ///< a message from the server could not be understood
  invalid_options = 21,      ///< client options that cannot work (bad URL, backoff, …)
  token_unavailable = 22,    ///< the async token provider gave an error, or no token in time
};

/// The "rtev" category: message() is a sentence, name() is "rtev".
const std::error_category& rtev_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
/// The code's name as in these docs and in server replies: "rate_limited", "not_rtev_server", …
std::string_view to_string(errc e);
/// The errc for a server's error code string ("forbidden", "bad_json", …); refused for codes
/// without one of their own.
errc errc_for_server_code(std::string_view code);

}  // namespace rtev

namespace std {
template <>
struct is_error_code_enum<rtev::errc> : true_type {};
}  // namespace std
