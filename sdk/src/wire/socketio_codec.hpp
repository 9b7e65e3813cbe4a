#pragma once
// Internal, shared by the SDK's Socket.IO client and server-lite's /socket.io/ endpoint:
// Engine.IO v4 packets and payloads, Socket.IO v5 packets. Text only: binary packets (Engine.IO
// 'b' base64 messages, Socket.IO BINARY_EVENT/BINARY_ACK with attachments) are recognised and
// refused with a parse error that says so.
//
//   Engine.IO packet   "<type digit><data>"             0 open, 1 close, 2 ping, 3 pong,
//                                                       4 message, 5 upgrade, 6 noop
//   polling payload    packets joined by '\x1e'
//   Socket.IO packet   "<type>[<nsp>,][<ack id>][<json>]"  0 CONNECT, 1 DISCONNECT, 2 EVENT,
//                                                       3 ACK, 4 CONNECT_ERROR, 5/6 binary
//
// Pure functions, no I/O; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rtev/error.hpp"

namespace rtev::wire {

enum class eio_type : char {
  open = '0',
  close = '1',
  ping = '2',
  pong = '3',
  message = '4',
  upgrade = '5',
  noop = '6'
};

struct eio_packet {
  eio_type type = eio_type::message;
  std::string data;
};

/// Throws rtev::parse_error ("engine.io packet: unknown type 'x'", "… binary not supported").
eio_packet eio_decode(std::string_view text);
std::string eio_encode(const eio_packet& p);
std::string eio_encode(eio_type t, std::string_view data = {});
/// A long-polling body: packets separated by '\x1e'. Throws parse_error.
std::vector<eio_packet> eio_decode_payload(std::string_view body);
std::string eio_encode_payload(const std::vector<eio_packet>& packets);

enum class sio_type : int {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6
};

struct sio_packet {
  sio_type type = sio_type::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> ack_id;
  /// CONNECT: the auth/handshake object (null when absent); EVENT: [name, args…];
  /// ACK: [args…]; CONNECT_ERROR: {message, data?}; DISCONNECT: null.
  nlohmann::json data;
};

/// sio_decode's error when the packet's JSON does not parse: malformed, or nested deeper than
/// rtev::max_json_depth ("socket.io packet: EVENT payload is not JSON (nested deeper than 128
/// levels): '[[[[…'"). A server answers it as `bad_json`, other packet errors as `bad_request`.
struct sio_bad_json : rtev::parse_error {
  using parse_error::parse_error;
};

/// The Socket.IO packet inside an Engine.IO message. Throws parse_error naming the problem
/// ("socket.io packet: EVENT data must be an array starting with the event name"), or
/// sio_bad_json.
sio_packet sio_decode(std::string_view text);
std::string sio_encode(const sio_packet& p);

/// Helpers for the common packets. `args` is the argument list (a JSON array); any other value
/// is sent as the one argument.
std::string sio_event(std::string_view nsp, const std::string& name, const nlohmann::json& args,
                      std::optional<std::uint64_t> ack_id = std::nullopt);
std::string sio_ack(std::string_view nsp, std::uint64_t ack_id, const nlohmann::json& args);

}  // namespace rtev::wire
