#pragma once
// The listening socket, and the first look at every connection before lws parses it.
//
// lws 4.1 answers some malformed request heads itself, before any callback, in ways a client
// cannot act on (request_guard.hpp lists them). So the listener accepts connections itself,
// watches them on its own epoll set (one fd, adopted into lws as a raw file so the service
// loop wakes for it), and reads each first request head with MSG_PEEK: a head that
// check_request_head() refuses is answered with a JSON error and closed gracefully; a good
// one is handed to the HTTP vhost with its bytes still in the socket, so lws parses it as if
// it had accepted the connection itself. Later requests on a kept-alive connection are parsed
// by lws directly (docs/server.md "Limits of the HTTP parser").
//
// Bytes of a head that arrives in pieces are consumed as they come (peeking the whole head
// again on every piece would be quadratic) and handed over as lws's read buffer. The piece
// that completes the head always stays in the socket: lws 4.1 mis-parses a request body when
// the head's end is in that buffer (lws_http_action re-reads its buflist as body).
//
// Thread safety: constructed and destroyed with the server; everything else runs on the
// service thread (lws callbacks and timers).

#include <libwebsockets.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "request_guard.hpp"

namespace rtev::server_lite {

class listener {
 public:
  /// Binds `ip`:`port` (0: any free port) and listens. Throws rtev::config_error naming the
  /// problem ("port 8000 on 127.0.0.1 is already in use"); `host` is the name the user gave.
  listener(const std::string& ip, std::uint16_t port, const std::string& host,
           std::vector<std::pair<std::string, std::string>> refusal_headers);
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  /// The port actually bound.
  std::uint16_t port() const { return port_; }

  /// The protocol the HTTP vhost must list (after its own first one) for start().
  const lws_protocols& protocol() const { return protocol_; }

  /// Starts accepting: the epoll fd is adopted on `vhost` (which lists protocol()), and
  /// checked connections are handed to it. Returns false if lws refused the adoption.
  bool start(lws_context* ctx, lws_vhost* vhost);

 private:
  using clock = std::chrono::steady_clock;
  struct pending {
    enum class stage { reading, replying, draining } at = stage::reading;
    std::string head;  // consumed bytes of an unfinished head, handed to lws as its read buffer
    head_progress checked;
    std::string reply;  // the refusal still to send
    clock::time_point deadline;
  };
  struct timer {  // lws_container_of needs a standard-layout type
    lws_sorted_usec_list_t sul{};
    listener* owner = nullptr;
  };

  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);
  static void on_sweep(lws_sorted_usec_list_t* sul);
  static void on_hand_over(lws_sorted_usec_list_t* sul);
  void on_ready();
  void accept_all();
  void read_head(int fd, pending& p);
  void refuse(int fd, pending& p, std::string reply);
  void send_reply(int fd, pending& p);
  void discard_input(int fd);
  void forget(int fd);
  void schedule_sweep();
  void stop();

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  bool epoll_adopted_ = false;  // then lws closes epoll_fd_
  bool accepting_ = true;       // false while out of descriptors (EMFILE)
  std::uint16_t port_ = 0;
  lws_context* ctx_ = nullptr;
  lws_vhost* vhost_ = nullptr;
  std::vector<std::pair<std::string, std::string>> refusal_headers_;
  std::unordered_map<int, pending> pending_;
  std::vector<std::pair<int, std::string>> to_hand_over_;
  timer sweep_{{}, this};
  timer hand_over_{{}, this};
  lws_protocols protocol_{};
};

}  // namespace rtev::server_lite
