#pragma once
// Internal: one WebSocket client connection on the client's lws_context — the rtev
// transport's connection, the Socket.IO transport's WebSocket and its upgrade probe. What
// every WebSocket of the SDK needs, written once (http_exchange is its HTTP counterpart):
//
//     ws_link link(ctx, protocol_name);
//     link.on_open = [] { … };                         // the upgrade is done
//     link.on_message = [](std::string&& m, bool binary) { … };
//     link.on_end = [](ws_end&& e) { … };              // exactly once per start()
//     ws_request req;
//     req.url = parse_url("ws://127.0.0.1:8000/events/ws/connect");
//     req.headers = {{"Authorization", "Bearer …"}};
//     link.start(std::move(req));
//     link.send(R"({"type":"PING"})");                 // queued until open, then in order
//     …                                                // in the transport's on_callback:
//     if (link.owns(w)) return link.on_callback(w, reason, in, len);
//
// - The upgrade request: Host as the URL's authority (the port when it is not the default),
//   Origin with its scheme (http(s)://authority), the caller's headers, a subprotocol, TLS
//   (certificate checks off with `insecure`). lws's own ping policy is off: the transports
//   keep their protocols' heartbeats.
// - Received messages are put together from their fragments up to max_message bytes. A
//   larger one is never buffered whole: nothing more is read, the connection is closed with
//   1009 and the link ends ("the server sent a message larger than …").
// - Sending: text messages are written in order, one per WRITEABLE callback, each with an
//   optional `written` callback run once lws has it; ping() sends a 4-byte ping (lws 4.1
//   never reports an empty one answered); close() sends the queue, then a close frame (1000).
// - on_end is called exactly once per start(), with how the link ended: the server's close
//   code and reason, the HTTP status of a refused upgrade, lws's connection error, a message
//   over the cap, or the reason given to kill(). It may run inside start() (a connection that
//   fails at once) and inside kill(). After it the link is idle and may be started again.
// - Lifetime and routing as http_exchange: the wsi carries the link as its opaque user data,
//   owns(w) compares pointers only; how a killed wsi is closed is owned_wsi.hpp's. Never
//   destroy a link inside its own callbacks; kill() it.
//
// Threads: everything on the client's service thread (lws callbacks, timers, tick()).

#include <libwebsockets.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "owned_wsi.hpp"
#include "url.hpp"

namespace rtev::detail {

struct ws_request {
  parsed_url url;  ///< ws:// or wss:// (http(s):// are taken as ws(s)://); path with query
  /// Upgrade request headers, written as given ("Authorization", "Cookie", …). The link itself
  /// writes Host and Origin.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string subprotocol;  ///< Sec-WebSocket-Protocol ("": none)
  bool insecure = false;    ///< wss:// without certificate checks
  /// The largest message taken from the server (bytes, after reassembly).
  std::size_t max_message = 16 * 1024 * 1024;
};

struct ws_end {
  std::string reason;         ///< for a human ("closed by the server (1001 going away)", …)
  int http_status = 0;        ///< a refused upgrade's status (never 101)
  int close_code = 0;         ///< the server's close frame, when it sent one
  bool was_open = false;      ///< the upgrade had completed
  bool closed_by_us = false;  ///< close(), kill() or a message over the cap ended it
};

class ws_link {
 public:
  /// The upgrade is done; queued messages go out now.
  std::function<void()> on_open;
  /// A whole message (text, or binary when `binary`).
  std::function<void(std::string&& message, bool binary)> on_message;
  /// A pong arrived.
  std::function<void()> on_pong;
  /// A message of `bytes` payload bytes was handed to lws.
  std::function<void(std::size_t bytes)> on_sent;
  /// The outcome, exactly once per start().
  std::function<void(ws_end&&)> on_end;

  ws_link(lws_context* ctx, const char* protocol_name) : ctx_(ctx), protocol_name_(protocol_name) {}
  /// Drops a connection in flight without calling on_end.
  ~ws_link();
  ws_link(const ws_link&) = delete;
  ws_link& operator=(const ws_link&) = delete;

  /// Connect; a link in use is killed first (its on_end runs, reason "replaced").
  void start(ws_request req);
  /// Queue a text message (sent once open, in order). Idle: dropped.
  void send(std::string text, std::function<void()> written = {});
  /// Queue a text message ahead of everything queued.
  void send_first(std::string text);
  /// Send a ping (4 bytes) ahead of queued messages.
  void ping();
  /// Close politely once the queue is written (close code 1000, `reason` in the frame).
  /// Returns false when there is nothing open to close.
  bool close(std::string reason);
  /// End now: on_end(reason, closed_by_us) before this returns. No-op when idle.
  void kill(const std::string& reason);

  bool active() const { return active_; }
  bool is_open() const { return open_; }
  std::size_t queued() const { return outq_.size(); }
  const ws_request& request() const { return req_; }
  /// True for the wsi of this link (compares pointers only).
  bool owns(lws* w) const;
  /// Every lws callback for a wsi this link owns.
  int on_callback(lws* w, lws_callback_reasons reason, void* in, std::size_t len);

 private:
  struct outgoing {
    std::string text;
    std::function<void()> written;
  };
  void finish(std::string reason);
  int on_writeable(lws* w);
  int append_headers(lws* w, unsigned char** p, std::size_t len);

  lws_context* ctx_;
  const char* protocol_name_;
  lws_retry_bo_t no_validity_{};
  ws_request req_;
  std::string host_, origin_;  // outlive the connect call (lws reads them later)
  owned_wsi wsi_;
  bool active_ = false, open_ = false, want_close_ = false, ping_due_ = false;
  bool close_sent_ = false;
  bool discarding_ = false;  // a message over the cap: the rest is dropped, the close follows
  lws_close_status close_code_ = LWS_CLOSE_STATUS_NORMAL;
  std::string close_reason_;
  std::string rx_;
  bool rx_binary_ = false;
  std::deque<outgoing> outq_;
  ws_end end_;

  std::uint64_t generation_ = 0;
};

}  // namespace rtev::detail
