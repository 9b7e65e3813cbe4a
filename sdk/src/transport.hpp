#pragma once
// Internal: the wire under rtev::client. The client keeps everything protocol-neutral — states,
// backoff, subscriptions and dispatch, recovery points and seq dedupe, the publish queue — and
// talks to one transport in rtev protocol terms:
//
//   client → transport  send(): SUBSCRIBE, UNSUBSCRIBE, PUBLISH, TYPING, HISTORY, PING requests
//                        exactly as rtev's WebSocket protocol writes them (docs/protocol.md).
//   transport → client  sink.on_message(): rtev protocol messages — `authenticated` (the
//                        connection is usable), `auth_error`, ACK, ERROR, PONG, rtev events —
//                        and sink.on_event() for events read leniently from a foreign payload.
//
// The rtev transport passes JSON text through. The SSE and Socket.IO transports translate:
// they synthesize `authenticated` once their stream / namespace is up, answer requests their
// protocol cannot carry with ERROR {code: "unsupported"}, and map the rest (SUBSCRIBE → a join
// emit, PUBLISH → a publish emit with ack or an HTTP POST, …).
//
// Threads: everything here runs on the client's service thread, inside lws callbacks or the
// client's timers. One transport object lives as long as its client; open() starts each
// connection attempt, and every attempt ends with exactly one sink.on_end().

#include <libwebsockets.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "rtev/client.hpp"
#include "rtev/event.hpp"
#include "url.hpp"

namespace rtev::detail {

using steady = std::chrono::steady_clock;

client_error make_error(client_error::kind k, std::string message, std::string code = {});

/// An HTTP status answering a connection attempt that retrying cannot change: the URL points
/// at something that is not the server it should be — 404 (nothing there), a 2xx page or API
/// answer instead of an upgrade or an event stream, 405, 400 … Not final: 401/403
/// (authentication decides), and 408, 425, 429, 5xx (a busy server, a proxy whose backend
/// restarts): those are retried.
bool http_status_is_final(int status);

/// Why a connection attempt's HTTP answer means this is not the server `what` ("rtev",
/// "Socket.IO") — "not an rtev server at this URL: HTTP 404 (nothing at /events/ws/connect)",
/// "… it answered HTTP 200 (a web page?) instead of upgrading to WebSocket". Never quotes
/// the body: an HTML page says nothing useful in a one-line reason.
std::string not_that_server(const std::string& what, int status, const std::string& path,
                            const std::string& expected = "upgrading to WebSocket");

/// How a connection attempt ended.
struct transport_end {
  std::string reason;           ///< "connection refused", "closed by the server (1001 …)"
  int http_status = 0;          ///< a refused upgrade / request
  int close_code = 0;           ///< WebSocket close code
  bool auth_rejected = false;   ///< credentials refused: 401/403, auth_error, connect_error, …
  bool token_required = false;  ///< auth_rejected: the server wants a token and none was given
  bool was_open = false;        ///< the attempt got as far as `authenticated`
  /// The server asked not to reconnect (SSE: HTTP 204): the client closes for good.
  bool final = false;
  /// The server's reconnect delay (SSE `retry:`): the client waits at least this long.
  std::optional<std::chrono::milliseconds> retry_after;
  /// The stable code when the transport knows it (token_expired, closed_by_server,
  /// invalid_options); otherwise the client derives it from the fields above.
  std::error_code error;
};

/// The client, as seen by a transport.
class transport_sink {
 public:
  virtual ~transport_sink() = default;
  /// An rtev protocol message (see the file comment).
  virtual void on_message(nlohmann::json&& msg) = 0;
  /// An event read from a foreign payload (filled_in says what was supplied).
  virtual void on_event(event&& e) = 0;
  /// Every message as received (an rtev frame, an SSE event's data, a Socket.IO packet).
  virtual void on_raw(const std::string& text) = 0;
  /// A message (frame, packet, request body) of `bytes` payload bytes was written.
  virtual void on_sent(std::size_t bytes) = 0;
  /// A problem that does not end the connection (unreadable message, …).
  virtual void on_problem(const client_error& err) = 0;
  /// The attempt started by open() is over (failed, closed, killed). Exactly once per open().
  virtual void on_end(transport_end end) = 0;
};

struct transport_context {
  lws_context* ctx = nullptr;           ///< created by the client, one per client
  const char* protocol_name = nullptr;  ///< the lws protocol the client registered (callbacks)
  const client_options* opt = nullptr;
  parsed_url url;
  transport_sink* sink = nullptr;
};

using ack_callback = std::function<void(const nlohmann::json* ack_args, const client_error*)>;

class transport {
 public:
  virtual ~transport() = default;
  /// Start a connection attempt. `token` is sent as `Authorization: Bearer` (and, for
  /// Socket.IO, in the CONNECT auth payload unless options say otherwise).
  virtual void open(const std::string& token) = 0;
  /// The next open() goes to this server instead (client_options::urls). Between attempts.
  virtual void retarget(const parsed_url& url) = 0;
  /// An rtev protocol request; only called after `authenticated`.
  virtual void send(nlohmann::json&& request) = 0;
  /// Sent as is (the protocol's own text). Not connected: dropped.
  virtual void send_raw(std::string text) = 0;
  /// Socket.IO emit; other transports answer `ack` (or report) kind protocol.
  virtual void emit(const std::string& name, nlohmann::json args, ack_callback ack) = 0;
  /// Close politely (client stopping): returns true while a close is still in flight (the
  /// client services the loop a little longer), false when nothing is open.
  virtual bool close() = 0;
  /// Drop the attempt now (time-outs; called from a timer, never from this transport's own
  /// callbacks). on_end follows before this returns, or from lws soon after.
  virtual void kill(const std::string& reason) = 0;
  /// Every 50 ms while the client runs: heartbeats, protocol time-outs, polling.
  virtual void tick(steady::time_point now) = 0;
  /// An lws callback on the client's context (every wsi this transport created).
  virtual int on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) = 0;
};

std::unique_ptr<transport> make_rtev_transport(const transport_context& c);
std::unique_ptr<transport> make_sse_transport(const transport_context& c);
std::unique_ptr<transport> make_socketio_transport(const transport_context& c);

}  // namespace rtev::detail
