#pragma once
// tcp_proxy: an in-process TCP proxy for tests that need a bad network between a client and a
// server. It listens on 127.0.0.1 (port 0: a free port) and forwards every accepted
// connection to a target port, on its own thread (one poll() loop, non-blocking sockets).
//
// It can play a dead peer — freeze() stops forwarding but keeps every socket open, so neither
// side sees a close, only silence — and a broken link: cut() closes every current connection
// at once with a TCP reset. It counts accepted connections, so a test can wait for a client's
// (re)connection attempt.
//
// Every control call is synchronous: when freeze() returns no byte is forwarded any more (in
// the frozen direction); when cut() returns the connections that existed are gone.
//
// Thread safety: every member function is safe from any thread. Distinct objects: safe.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "tests/support/tcp_stream.hpp"

namespace rtev::test {

class tcp_proxy {
 public:
  /// Which way of each connection freeze() stops.
  enum class direction {
    both,       ///< a dead peer: nothing moves either way
    to_target,  ///< client → target bytes are held (the target hears nothing)
    to_client,  ///< target → client bytes are held (the client hears nothing)
  };

  /// Listens on 127.0.0.1 on a free port and starts the proxy thread. Connections are made to
  /// target_host:target_port when accepted; if that fails the client's connection is reset.
  /// Throws std::runtime_error when the listening socket cannot be set up.
  explicit tcp_proxy(std::uint16_t target_port, std::string target_host = "127.0.0.1");
  /// Stops the thread and resets every connection.
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  /// The port the proxy listens on.
  std::uint16_t port() const { return port_; }
  /// `ws://127.0.0.1:PORT/events/ws/connect` for the proxy's port.
  std::string ws_url() const;

  /// Stops forwarding in `which` direction(s), for current and new connections; sockets stay
  /// open and new connections are still accepted (and connected to the target). Bytes already
  /// read are held and forwarded after thaw(), unless cut() drops them.
  void freeze(direction which = direction::both);
  /// Forwards again in both directions.
  void thaw();
  /// Resets (RST) every current connection, both sides, dropping any held bytes. New
  /// connections are accepted as before.
  void cut();

  /// Connects the connections accepted from now on to 127.0.0.1:`port` (or the host given at
  /// construction) instead: what a load balancer does when a backend is replaced.
  void retarget(std::uint16_t port) { target_port_.store(port); }

  /// Connections accepted since construction.
  std::size_t accepted() const;
  /// Connections currently open (accepted and not yet closed or cut).
  std::size_t open_connections() const;
  /// Waits until accepted() >= n; false if that did not happen within `timeout`.
  bool wait_accepted(std::size_t n, millis timeout = default_timeout) const;

 private:
  struct control {
    bool freeze_to_target = false;
    bool freeze_to_client = false;
    std::uint64_t cuts = 0;  // cut() requests so far
  };

  void run();
  // Asks the proxy thread to adopt `change` and waits until it has.
  template <class F>
  void command(F&& change);
  void wake();

  std::string target_host_;
  std::atomic<std::uint16_t> target_port_{0};
  int listen_fd_ = -1;
  int wake_read_fd_ = -1, wake_write_fd_ = -1;
  std::uint16_t port_ = 0;

  mutable std::mutex mutex_;  // guards everything below
  mutable std::condition_variable changed_;
  control wanted_;               // what the controlling threads asked for
  std::uint64_t requested_ = 0;  // control changes asked for
  std::uint64_t applied_ = 0;    // control changes the proxy thread has adopted
  bool stopping_ = false;
  std::size_t accepted_ = 0;
  std::size_t open_ = 0;

  std::thread thread_;  // started last, after everything it reads is set up
};

}  // namespace rtev::test
