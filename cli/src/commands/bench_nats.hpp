#pragma once
// `rtev bench --server-kind nats`: the NATS client protocol as nats-server speaks it over its
// WebSocket listener (https://docs.nats.io/reference/reference-protocols/nats-protocol). The
// server may split or merge protocol lines across WebSocket messages, so the parser takes the
// messages as one byte stream.
//
//     nats_parser p;
//     p.on_msg = [](std::string_view payload) { … };   // MSG (and HMSG) payloads
//     p.on_op = [](nats_op op, std::string_view arg) { … };  // INFO, PING, PONG, +OK, -ERR
//     if (!p.feed(data)) … p.error() …
//
// Thread safety: none (one per connection, on the bench thread).

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace rtev::cli {

enum class nats_op { info, ping, pong, ok, err };

class nats_parser {
 public:
  std::function<void(std::string_view payload)> on_msg;
  std::function<void(nats_op op, std::string_view arg)> on_op;

  /// The next bytes from the server. False on a protocol violation (error() says which).
  bool feed(std::string_view data);
  const std::string& error() const { return error_; }

 private:
  bool parse_line(std::string_view line);

  std::string buf_, error_;
  std::size_t pos_ = 0;
  std::size_t payload_ = 0;  // bytes of a MSG payload (+ CRLF) still to come; 0: a line
  bool in_payload_ = false;
};

/// Frames a NATS publish: `PUB subject len\r\npayload\r\n` followed by `PING\r\n`, whose PONG
/// (answered in order, after the server processed the PUB) is the acknowledgement.
void append_nats_publish(std::string& out, std::string_view subject, std::string_view payload);

}  // namespace rtev::cli
