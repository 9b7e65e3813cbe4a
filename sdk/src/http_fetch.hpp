#pragma once
// Internal: blocking HTTP/1.1 requests — http_exchange on an lws_context of their own, with the
// client's TLS set-up (client_context.hpp). For programs that want an answer, not
// a connection: the CLI's health, stats, publish --http and replay --from-server.
//
//     fetch_request req;
//     req.url = "https://127.0.0.1:8443/health";
//     req.ca_file = "ca.pem";
//     req.cancelled = [] { return interrupted(); };   // polled every 20 ms
//     fetch_result r = http_fetch(req);
//     if (r.what == fetch_result::outcome::complete) use(r.response.status, r.response.body);
//     else report(r.error);        // "connection refused", "the server's TLS certificate …"
//
// Kept inside the SDK (a private header the CLI links, as bench and server-lite use others):
// rtev's public API is the event client, and a general HTTP client — redirect policy, proxies,
// cookies, connection reuse — is a commitment libcurl keeps better.
//
// Threads: blocks the calling thread (its own lws_context, serviced there); any thread may
// call it, several threads at once with distinct fetchers. `cancelled` runs on the calling
// thread.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <libwebsockets.h>

#include "http_exchange.hpp"

namespace rtev::detail {

struct fetch_request {
  std::string method = "GET";
  std::string url;  ///< http:// or https:// (a malformed one throws config_error)
  /// Sent as given, after lws's Host; Content-Length is added for a body (or a non-GET).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// The whole exchange: DNS, connect, TLS, request and response. At least 1 ms.
  std::chrono::milliseconds timeout{10000};
  bool insecure = false;                    ///< https:// without certificate checks
  std::string ca_file;                      ///< PEM CA bundle for https:// (empty: the system's)
  std::size_t max_body = 16 * 1024 * 1024;  ///< a larger response body fails
  /// Response headers to report, lowercase.
  std::vector<std::string> capture = {"content-type"};
  /// Polled before connecting and every 20 ms while waiting: true abandons the request
  /// (outcome cancelled). Not polled during a DNS lookup, which lws does synchronously.
  std::function<bool()> cancelled;
};

struct fetch_result {
  enum class outcome {
    complete,      ///< a response arrived, whatever its status
    refused,       ///< nothing listens there (connection refused)
    unknown_host,  ///< the name does not resolve
    timed_out,     ///< no complete response within the time-out
    certificate,   ///< the server's certificate was refused: see certificate_problem
    failed,        ///< anything else: connection reset, TLS, not HTTP, body too large, …
    cancelled,     ///< `cancelled` said so
  };
  outcome what = outcome::failed;
  http_response response;  ///< complete: status, captured headers, body
  /// Not complete: why, as a sentence without the server's name ("connection refused", "no
  /// response within 2000 ms", "the server's TLS certificate is not trusted (self-signed
  /// certificate)").
  std::string error;
  /// certificate: what is wrong with it ("self-signed certificate", "expired", "issued for
  /// another name", …; see certificate_refusal).
  std::string certificate_problem;
};

/// Requests one after the other on one lws_context, made at the first request and kept for
/// the next ones while they need the same TLS set-up (ca_file; https:// after http://) and
/// time-out: setting up TLS reads the system's CA store, tens of milliseconds that a loop of
/// requests (publish --http, history pages) would otherwise pay each time. Each request still
/// has its own connection.
///
/// Thread safety: distinct objects: safe. Shared objects: unsafe (one fetch at a time).
class http_fetcher {
 public:
  http_fetcher();
  ~http_fetcher();
  http_fetcher(const http_fetcher&) = delete;
  http_fetcher& operator=(const http_fetcher&) = delete;

  /// Performs `req` and returns when it is complete, failed, timed out or cancelled. Network
  /// failures are outcomes, never exceptions; throws config_error for a URL that is not
  /// http:// or https://.
  fetch_result fetch(const fetch_request& req);

 private:
  struct run;
  static int on_lws(lws* w, lws_callback_reasons reason, void* user, void* in, std::size_t len);
  static void on_tick(lws_sorted_usec_list_t* sul);
  void drop_context();

  lws_protocols protocols_[2]{};  // outlives ctx_
  lws_context* ctx_ = nullptr;
  bool ctx_tls_ = false;  // what ctx_ was made for
  std::string ctx_ca_file_;
  unsigned ctx_timeout_secs_ = 0;
  run* current_ = nullptr;  // the request in fetch(), for the callbacks
};

/// One request on a context of its own (see http_fetcher::fetch).
fetch_result http_fetch(const fetch_request& req);

}  // namespace rtev::detail
