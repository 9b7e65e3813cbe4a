#pragma once
// The CLI's own HTTP requests (health, stats, publish --http, replay --from-server, bench's
// stats): one blocking request through the SDK's HTTP client (sdk/src/http_fetch.hpp), so
// http:// and https:// both work, with the command's --insecure, --ca-file and --header.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common_options.hpp"
#include "http_fetch.hpp"

namespace rtev::cli {

struct http_result {
  int status = 0;
  std::string body;  ///< chunked transfer coding already removed
};

/// The HTTP requests of one command, one after the other on one network context (see
/// detail::http_fetcher: TLS is set up once, not per request).
///
/// fetch(): `method` `url` with `body` (sent as application/json when not empty, or for a
/// POST). `headers`: the command's own (Authorization from --token, …), then the --header
/// ones; a --header of the same name (any case) replaces the command's. TLS: --insecure,
/// --ca-file. `timeout`: the whole request (default --connect-timeout). Throws:
/// - std::runtime_error "cannot connect to URL: connection refused" (unknown host, no
///   response within …, connection lost, …) when no usable answer came: the caller decides
///   (health --wait tries again);
/// - command_failure (exit 3) when the server's certificate is refused: it names the problem
///   and the way out (--ca-file FILE or --insecure), as the WebSocket path does; trying again
///   would meet the same certificate;
/// - interrupted (exit 130/143) as soon as SIGINT/SIGTERM arrives (interrupts.hpp);
/// - usage_error for a URL that is not http:// or https://.
///
/// Thread safety: one thread at a time.
class http_client {
 public:
  /// `opt`: resolved, and alive as long as this client.
  explicit http_client(const common_options& opt) : opt_(opt) {}

  http_result fetch(const std::string& method, const std::string& url, const std::string& body = {},
                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                    std::optional<std::chrono::milliseconds> timeout = std::nullopt);

 private:
  const common_options& opt_;
  detail::http_fetcher fetcher_;
};

/// Percent-encodes a query value.
std::string url_encode(const std::string& s);

}  // namespace rtev::cli
