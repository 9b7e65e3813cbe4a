#pragma once
// The first look at a new connection's bytes, before libwebsockets parses them.
//
// lws 4.1 answers some request heads itself, before any callback and in ways a client cannot
// act on: a malformed `%` escape or an unknown method gets an HTML 403, a decoded NUL closes
// the connection, a decoded CR/LF silently cuts the query, a header line without a colon or a
// header named like the beginning of one lws knows (`A:` of accept, `Cook:`) waits 10 s and
// closes, and a header named `Put…`, `Patch…` or `Delete…` closes at once.
// check_request_head() reads the head as raw bytes and refuses those with a JSON error naming
// the problem (400, 414, 431, 501, 505), as it does a header line longer than max_header_bytes
// and a TLS handshake on this plain port; a head it passes goes to lws unchanged, where
// http_request_head's checks (sizes, UTF-8, body length) still apply.
//
// Pure functions (lws is asked only for its table of header names, read once): any thread.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http_api.hpp"

namespace rtev::server_lite {

/// The largest request head (request line and headers) read before refusing it.
constexpr std::size_t max_request_head_bytes = 32 * 1024;

/// The most query parameters and header lines together in one head. lws 4.1 keeps one slot per
/// parameter and per header it knows by name (about 93 in all) and closes a head that needs more
/// without an answer; counting every header line keeps well under that.
constexpr std::size_t max_head_fields = 80;

/// What the bytes received so far on a new connection amount to.
struct head_check {
  enum class verdict {
    incomplete,  ///< no blank line yet, and nothing wrong so far: read more
    pass,        ///< a complete head lws can parse as is
    refuse,      ///< answer `refusal` and close
  };
  verdict what = verdict::incomplete;
  std::optional<http_response> refusal;
};

/// How far check_request_head got through a head that is still incomplete.
struct head_progress {
  std::size_t checked = 0;  ///< bytes of complete lines already found good
  std::size_t lines = 0;    ///< how many lines those were (the request line is line 0)
  std::size_t fields = 0;   ///< query parameters and header lines counted in them
};

/// Checks the request line and every complete header line in `bytes` (a connection's first
/// bytes; the head ends at the first empty line, bare LF accepted as a line end). With
/// `progress`, lines already checked on an earlier call over the same leading bytes are not
/// read again (a head sent a byte at a time would otherwise cost its length squared).
head_check check_request_head(std::string_view bytes, head_progress* progress = nullptr);

/// Percent-decodes one URL piece as lws 4.1 does (`+` is a space), or nothing when lws could
/// not carry it: a malformed escape, a raw control byte, or an escaped NUL, CR or LF (`why`, when
/// given, says which). Other escaped control bytes decode, for the checks that know the
/// parameter.
std::optional<std::string> url_decode(std::string_view piece, std::string* why = nullptr);

/// `r` as bytes on the wire: an HTTP/1.1 response with `Connection: close`, `headers` added.
std::string raw_http_response(const http_response& r,
                              const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace rtev::server_lite
