#pragma once
// The rtev WebSocket door's protocol: client operations {"type": OP, "ref"?, "data": {…}},
// decoded into the hub's typed operations, and its codec, which writes the hub's replies as
// {"type": "ACK" | "ERROR" | "PONG" | "authenticated" | "auth_error", "ref"?, "data": {…}}
// text frames. See docs/protocol.md. No libwebsockets here (ws_session.cpp is the lws side).
//
// Threads: service thread only, like the hub.

#include <cstddef>
#include <string>
#include <string_view>

#include "room_hub.hpp"

namespace rtev::server_lite {

/// A complete text message from an rtev WebSocket client: parsed, counted against the rate
/// limit (a refusal carries the request's ref), decoded and handed to the hub. A PUBLISH is
/// read with simdjson (publish_frame.hpp); `readable`: the bytes that may be read from
/// text.data(), its buffer's capacity — with json_read_padding spare bytes, no copy is made.
void handle_rtev_message(room_hub& hub, connection& c, std::string_view text,
                         std::size_t readable = 0);

/// A client operation and the ref its replies carry.
struct decoded_message {
  op_ref ref;
  hub_operation op;
};

/// `text` decoded by the DOM path: rtev::parse_json, then decode_op (op_decode.cpp) — every
/// operation, and every refusal (bad_json, bad_request, unknown_op) with its message.
/// `timezone`: for `since` and `until` times without an offset.
decoded_message decode_rtev_message(std::string_view text, const std::string& timezone);

/// The rtev WebSocket door's codec: every reply as rtev.v1 JSON text frames; pings due.
door_codec rtev_ws_codec();

}  // namespace rtev::server_lite
