#pragma once
// Internal: one HTTP/1.1 request/response on the client's lws_context — the SSE transport's
// event-stream GET and publish POSTs, Engine.IO long-polling GETs and POSTs.
//
//     http_exchange x(ctx, protocol_name);
//     x.on_done = [](http_result&& r) { … };          // exactly once per start()
//     http_request req;
//     req.method = "POST";
//     req.url = parse_url("http://127.0.0.1:8000/api/events");
//     req.headers = {{"Content-Type", "application/json"}};
//     req.body = R"({"type":"t","data":{}})";
//     x.start(std::move(req));
//     …                                                // in the transport's on_callback:
//     if (x.owns(w)) return x.on_callback(w, reason, in, len);
//
// - Modes: buffered (the body is collected into http_result::response.body, capped at
//   max_body) or streaming (`stream = true`: on_head once the status and headers are in, then
//   on_body for every chunk as it arrives; chunked transfer coding is removed by lws).
// - The body of a request is sent with Content-Length (empty GET: none). Redirects (301, 302,
//   303, 307, 308) are followed by lws unless follow_redirects is false; https:// speaks
//   HTTP/1.1 only (ALPN "http/1.1"). No connection is reused: each exchange has its own
//   connection, closed when the response is complete.
// - on_done is called exactly once per start(): complete (any HTTP status — 4xx/5xx are the
//   caller's to judge), failed (connection error, connection lost before the response was
//   complete, body over max_body, time-out) or cancelled. It may run inside start() (a
//   connection that fails at once) and inside cancel(). After it the exchange is idle and may
//   be started again.
// - Routing: the wsi carries this exchange as its opaque user data; owns(w) compares pointers
//   only, so it is safe for any wsi on the context. How a wsi given up is closed (from its
//   own callback, from elsewhere, while connecting) is owned_wsi.hpp's, shared with ws_link.
//
// Threads: everything on the client's service thread (lws callbacks, timers, tick()).

#include <libwebsockets.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "owned_wsi.hpp"
#include "transport.hpp"

namespace rtev::detail {

struct http_request {
  std::string method = "GET";
  parsed_url url;  ///< http:// or https:// (ws:// and wss:// are taken as http:// and https://)
  /// Request headers, written as given ("Authorization", "Cookie", "Content-Type", …). lws
  /// itself writes Host, and for a body Content-Length.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;     ///< sent with Content-Length when not empty (or method not GET)
  bool stream = false;  ///< deliver the body through on_body instead of collecting it
  std::size_t max_body = 16 * 1024 * 1024;  ///< buffered mode: a larger body fails
  /// Response headers to report, lowercase ("content-type", "set-cookie", "retry-after").
  std::vector<std::string> capture = {"content-type"};
  /// Buffered mode: the whole exchange; streaming: until the response head. 0: none (the
  /// owner's own timers apply). Enforced by tick().
  std::chrono::milliseconds timeout{0};
  bool insecure = false;  ///< https:// without certificate checks
  bool follow_redirects = true;
};

struct http_response {
  int status = 0;                                            ///< 0: no response head arrived
  std::vector<std::pair<std::string, std::string>> headers;  ///< the captured ones, lowercase
  std::string body;                                          ///< buffered mode
  /// The first captured header called `name` (lowercase); nullptr when absent.
  const std::string* header(std::string_view name) const;
};

struct http_result {
  enum class kind {
    complete,   ///< the whole response arrived (any status)
    failed,     ///< no usable response: see error (response.status is set if the head came)
    cancelled,  ///< cancel() or a callback returned false
  };
  kind what = kind::failed;
  http_response response;
  std::string error;  ///< failed / cancelled: why, for a human ("connection refused", …)
};

class http_exchange {
 public:
  /// Streaming: the status and captured headers, before any body. Return false to cancel.
  std::function<bool(const http_response& head)> on_head;
  /// Streaming: the next piece of the body (never empty). Return false to cancel.
  std::function<bool(std::string_view chunk)> on_body;
  /// The outcome, exactly once per start().
  std::function<void(http_result&&)> on_done;

  /// `protocol_name`: the lws protocol the context's callbacks arrive on (the client's).
  http_exchange(lws_context* ctx, const char* protocol_name)
      : ctx_(ctx), protocol_name_(protocol_name) {}
  /// Drops a request in flight without calling on_done.
  ~http_exchange();
  http_exchange(const http_exchange&) = delete;
  http_exchange& operator=(const http_exchange&) = delete;

  /// Start the request; the exchange must be idle (not active()).
  void start(http_request req);
  /// Abandon the request in flight: on_done(cancelled, reason) before this returns. Safe from
  /// timers and from this exchange's own on_head/on_body (the connection is closed when that
  /// callback returns). No-op when idle.
  void cancel(const std::string& reason);
  /// Enforces http_request::timeout (and keeps lws's own shorter one from cutting it first).
  void tick(std::chrono::steady_clock::time_point now);

  bool active() const { return active_; }
  /// True for the wsi of this exchange's request (compares pointers only).
  bool owns(lws* w) const;
  /// Every lws callback for a wsi this exchange owns.
  int on_callback(lws* w, lws_callback_reasons reason, void* in, std::size_t len);

 private:
  void finish(http_result::kind k, std::string error);
  void capture_head(lws* w);

  lws_context* ctx_;
  const char* protocol_name_;
  http_request req_;
  http_response resp_;
  owned_wsi wsi_;
  bool active_ = false;
  bool head_seen_ = false;
  std::string host_;      // the Host header (and how errors name the server)
  std::size_t sent_ = 0;  // body bytes written so far
  std::chrono::steady_clock::time_point started_{}, pushed_at_{};
  std::uint64_t generation_ = 0;
};

}  // namespace rtev::detail
