#pragma once
// The rtev WebSocket door's protocol: client operations {"type": OP, "ref"?, "data": {…}},
// decoded into the hub's typed operations, and its codec, which writes the hub's replies as
// {"type": "ACK" | "ERROR" | "PONG" | "authenticated" | "auth_error", "ref"?, "data": {…}}
// text frames. See docs/protocol.md. No libwebsockets here (ws_session.cpp is the lws side).
//
// Threads: service thread only, like the hub.

#include <string_view>

#include "room_hub.hpp"

namespace rtev::server_lite {

/// A complete text message from an rtev WebSocket client: parsed, counted against the rate
/// limit (a refusal carries the request's ref), decoded and handed to the hub.
void handle_rtev_message(room_hub& hub, connection& c, std::string_view text);

/// The rtev WebSocket door's codec: every reply as rtev.v1 JSON text frames; pings due.
door_codec rtev_ws_codec();

}  // namespace rtev::server_lite
