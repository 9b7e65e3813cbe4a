#pragma once
// `rtev bench`'s connections: a non-blocking TCP socket that sends one HTTP request (a WebSocket
// upgrade or an SSE GET), reads the response head, then carries WebSocket frames (client side:
// masked text frames out, unmasked frames in, pings answered) or a raw SSE body. Minimal on
// purpose — no TLS, no extensions, no redirects — so thousands of them can be driven by one
// thread's epoll loop (bench_run.cpp); the SDK's client runs a thread per connection.
//
// Thread safety: none; all connections belong to the bench thread.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace rtev::cli {

/// Where to connect: one resolved address.
struct bench_address {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string authority;  ///< host:port, for the Host header and messages
};

/// Resolves host and port (the first address getaddrinfo gives). Throws command_failure (exit 3).
bench_address resolve_bench_address(const std::string& host, int port);

class bench_conn;

/// What a connection reports; implemented by the bench run.
class bench_events {
 public:
  virtual ~bench_events() = default;
  /// The response head arrived: status 101 (WebSocket) or 200 (SSE) means open.
  virtual void on_open(bench_conn& c) = 0;
  /// A whole WebSocket text message, or the next chunk of an SSE body.
  virtual void on_data(bench_conn& c, std::string_view data) = 0;
  /// The connection failed or was closed; c.error() says why, c.http_status() and
  /// c.close_code() what the server said.
  virtual void on_closed(bench_conn& c) = 0;
};

class bench_conn {
 public:
  enum class framing { websocket, sse };
  enum class phase { connecting, upgrading, open, closed };

  /// Starts a non-blocking connect; `request_target` is the path and query.
  bench_conn(const bench_address& to, framing f, const std::string& request_target,
             std::size_t index);
  ~bench_conn();
  bench_conn(const bench_conn&) = delete;
  bench_conn& operator=(const bench_conn&) = delete;

  int fd() const { return fd_; }
  std::size_t index() const { return index_; }
  phase state() const { return phase_; }
  int http_status() const { return status_; }
  int close_code() const { return close_code_; }
  const std::string& error() const { return error_; }
  /// The response body's first bytes when the upgrade was refused (the server's reason).
  const std::string& refusal() const { return refusal_; }
  std::size_t pending_bytes() const { return out_.size() - out_pos_; }

  /// epoll said the socket is readable or writable (edge-triggered: drains both ways).
  void on_ready(bench_events& ev, bool readable, bool writable);
  /// Queues one masked WebSocket text frame and writes what the socket takes.
  void send_text(bench_events& ev, std::string_view payload);
  /// Closes the socket (no close handshake: the run is over).
  void close(bench_events& ev, const std::string& why);

 private:
  void flush(bench_events& ev);
  void read_all(bench_events& ev);
  void parse_head(bench_events& ev);
  void parse_frames(bench_events& ev);
  void send_frame(bench_events& ev, unsigned opcode, std::string_view payload);

  int fd_ = -1;
  framing framing_;
  phase phase_ = phase::connecting;
  std::size_t index_;
  std::string request_;
  std::string out_;
  std::size_t out_pos_ = 0;
  std::string in_;
  std::size_t in_pos_ = 0;
  std::string fragments_;  // a fragmented message's earlier frames
  std::uint32_t mask_state_;
  int status_ = 0, close_code_ = 0;
  std::string error_, refusal_;
};

}  // namespace rtev::cli
