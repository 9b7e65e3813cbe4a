#pragma once
// ws_client: a small blocking WebSocket client (RFC 6455) for tests, over raw POSIX sockets —
// deliberately not libwebsockets, so the server is checked against an independent
// implementation. It can also misbehave on purpose: ignore pings, send oversized or raw frames.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe (one thread per client).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/tcp_stream.hpp"

namespace rtev::test {

/// Header names are stored lower-case.
using header_map = std::multimap<std::string, std::string>;
using header_list = std::vector<std::pair<std::string, std::string>>;

/// The value of header `name` (any case), if present.
std::optional<std::string> find_header(const header_map& headers, std::string name);

struct ws_options {
  std::string host = "127.0.0.1";
  std::string path = "/events/ws/connect";
  std::string query;                   ///< without '?', already percent-encoded
  std::vector<std::string> protocols;  ///< Sec-WebSocket-Protocol offers; empty: none (a browser)
  header_list headers;                 ///< extra request headers (Authorization, Origin, …)
  bool answer_pings = true;            ///< false: pings are counted but never answered
  int receive_buffer = 0;              ///< SO_RCVBUF in bytes; 0: the system default
  millis timeout = default_timeout;    ///< for connecting and the handshake
};

/// One received message, a close, or why there was none.
struct ws_message {
  enum class kind { text, binary, close, timeout, eof };
  kind type = kind::timeout;
  std::string data;    ///< the payload, or the close reason
  int close_code = 0;  ///< for a close: its status code (1005 when the frame carried none)

  bool is_data() const { return type == kind::text || type == kind::binary; }
  /// "text …", "close 1008 'reason'", "timeout", "eof" — for failure messages.
  std::string describe() const;
};

namespace ws_opcode {
constexpr std::uint8_t continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9,
                       pong = 0xA;
}

class ws_client {
 public:
  /// Connects and sends the upgrade request. When the server refuses it, status() is its
  /// HTTP status (503, 404, …) and body() its body; open() is false. Throws std::runtime_error
  /// when the TCP connection or the handshake fails outright (time-out, bad Accept key).
  ws_client(std::uint16_t port, ws_options options = {});

  /// HTTP status of the upgrade response: 101 when the WebSocket is open.
  int status() const { return status_; }
  const header_map& headers() const { return headers_; }
  const std::string& body() const { return body_; }
  /// The handshake succeeded and no close frame has been received yet.
  bool open() const { return status_ == 101 && !closed_; }

  // --- sending (client frames are masked as RFC 6455 requires) -----------------------------
  bool send_text(std::string_view text) { return send_frame(ws_opcode::text, text); }
  bool send_binary(std::string_view bytes) { return send_frame(ws_opcode::binary, bytes); }
  bool send_ping(std::string_view payload = {}) { return send_frame(ws_opcode::ping, payload); }
  bool send_pong(std::string_view payload = {}) { return send_frame(ws_opcode::pong, payload); }
  bool send_close(int code = 1000, std::string_view reason = {});
  /// One frame; `fin` false starts or continues a fragmented message.
  bool send_frame(std::uint8_t opcode, std::string_view payload, bool fin = true);
  /// A message split into fragments of the given sizes' contents.
  bool send_fragmented(std::uint8_t opcode, const std::vector<std::string>& parts);
  /// Raw bytes on the socket (frames built with encode_frame, or garbage).
  bool send_raw(std::string_view bytes) { return stream_.write_all(bytes); }

  /// A masked client frame. `declared_length` overrides the length in the header (to claim a
  /// huge frame and send only part of it).
  static std::string encode_frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                                  std::optional<std::uint64_t> declared_length = std::nullopt);

  // --- receiving -------------------------------------------------------------------------------
  /// The next whole message (fragments reassembled) or close, waiting at most `timeout`.
  /// Pings are answered (unless answer_pings is off) and counted, pongs counted; neither is
  /// returned. A received close is answered with a close echoing its code.
  ws_message recv(millis timeout = default_timeout);

  std::size_t pings_received() const { return pings_; }
  std::size_t pongs_received() const { return pongs_; }
  void answer_pings(bool on) { answer_pings_ = on; }

  /// Drops the TCP connection without a close handshake.
  void disconnect() { stream_.close(); }
  tcp_stream& stream() { return stream_; }

 private:
  // One frame from the buffer, if complete.
  struct frame_in {
    bool fin = false;
    std::uint8_t opcode = 0;
    std::string payload;
  };
  std::optional<frame_in> take_frame();

  tcp_stream stream_;
  int status_ = 0;
  header_map headers_;
  std::string body_;
  bool answer_pings_ = true;
  bool closed_ = false;  // a close frame was received
  bool close_sent_ = false;
  std::size_t pings_ = 0, pongs_ = 0;
  std::uint8_t partial_opcode_ = 0;
  std::string partial_;  // fragments of the message being reassembled
  std::uint32_t mask_seed_;
};

/// Base64 (standard alphabet, padded) and SHA-1, for the handshake; exposed for tests.
std::string base64_encode(std::string_view bytes);
std::string sha1(std::string_view bytes);

}  // namespace rtev::test
