#pragma once
// socketio_session: what the two halves of the Socket.IO door share — an Engine.IO session's
// state and the packet builders. socketio_door.cpp carries sessions over their transports
// (long-polling, WebSocket, the upgrade, ping time-outs); socketio_door_packets.cpp reads the
// client's Engine.IO/Socket.IO packets into the hub's typed operations and writes the hub's
// typed replies as Socket.IO acks and events. Private to the door.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "socketio_door.hpp"
#include "wire/socketio_codec.hpp"

namespace rtev::server_lite {

struct socketio_door::session {
  std::string sid;
  conn_id conn = 0;
  std::string handshake_token;  // Authorization: Bearer or ?token= of the first request
  std::optional<std::string> handshake_presence;  // ?presence= of the first request

  bool upgraded = false;      // the WebSocket carries the session (or it began on one)
  std::uint64_t poll_id = 0;  // the held GET, if any
  waker poll_wake;
  std::uint64_t ws_link = 0;  // the WebSocket (probing or upgraded), if any
  waker ws_wake;
  bool probing = false;  // "2probe" seen, "5" not yet: polls get noops
  bool probe_reply_due = false;
  steady::time_point probe_started{};

  bool sio_connected = false;  // CONNECT to "/" accepted
  std::string sio_id;
  std::optional<std::uint64_t> auth_ack;  // an `authenticate` waiting for its ack
  bool sent_disconnect = false;
  std::optional<steady::time_point> orphaned;  // closing with no transport to say so, since
};

namespace sio_packets {

inline frame_ptr make_frame(std::string_view packet) {
  return std::make_shared<frame>(packet);
}

inline std::string message_packet(const std::string& sio) {
  return wire::eio_encode(wire::eio_type::message, sio);
}

inline std::string event_packet(const std::string& name, const json& payload) {
  return message_packet(wire::sio_event("/", name, json::array({payload})));
}

inline std::string ack_packet(std::uint64_t id, const json& payload) {
  return message_packet(wire::sio_ack("/", id, json::array({payload})));
}

}  // namespace sio_packets

}  // namespace rtev::server_lite
