#pragma once
// tcp_stream: a blocking TCP connection to a test server with deadline-bounded reads, over
// raw POSIX sockets. The base of the test clients in tests/support (WebSocket, HTTP, SSE).
//
// Thread safety: distinct objects: safe. Shared objects: unsafe.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace rtev::test {

using steady = std::chrono::steady_clock;
using millis = std::chrono::milliseconds;

/// How long a helper waits for something that should happen promptly. Generous, because the
/// suite also runs under ASan on slow CI machines; a passing test never waits this long.
inline constexpr millis default_timeout{10000};

/// What a read that waits for more bytes ended with.
enum class read_status { data, timeout, eof };

class tcp_stream {
 public:
  /// Connects to host:port (numeric IPv4 address). `receive_buffer` > 0 sets SO_RCVBUF before
  /// connecting (a small window makes a client that does not read fill up quickly).
  /// Throws std::runtime_error when the connection cannot be made within `timeout`.
  tcp_stream(const std::string& host, std::uint16_t port, millis timeout = default_timeout,
             int receive_buffer = 0);
  ~tcp_stream();
  tcp_stream(tcp_stream&& other) noexcept;
  tcp_stream& operator=(tcp_stream&& other) noexcept;
  tcp_stream(const tcp_stream&) = delete;
  tcp_stream& operator=(const tcp_stream&) = delete;

  /// Writes everything (blocking). False when the peer has gone (EPIPE, ECONNRESET).
  bool write_all(std::string_view bytes);

  /// Appends whatever bytes arrive to buffer(), waiting at most until `deadline`.
  read_status fill(steady::time_point deadline);
  /// Bytes received and not yet consumed.
  std::string& buffer() { return buffer_; }
  bool eof() const { return eof_; }

  int fd() const { return fd_; }
  /// Closes the socket now (no protocol-level goodbye).
  void close();

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
};

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }
  /// path()/name
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
std::string url_encode(std::string_view text);

/// A TCP port on 127.0.0.1 held by a listening socket of this process (for "port in use").
class held_port {
 public:
  held_port();
  ~held_port();
  held_port(const held_port&) = delete;
  held_port& operator=(const held_port&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace rtev::test
