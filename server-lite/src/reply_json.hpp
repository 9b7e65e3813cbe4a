#pragma once
// reply_json: the hub's typed replies (hub_ops.hpp) in the rtev vocabulary's JSON — the bodies
// the rtev WebSocket door wraps as {"type", "ref"?, "data"} and the Socket.IO door sends as
// acks and events (docs/protocol.md). Pure functions: any thread.

#include <string>

#include <nlohmann/json.hpp>

#include "hub_ops.hpp"

namespace rtev::server_lite {

using json = nlohmann::json;

/// `j` as JSON text, never throwing: text a client sent may be invalid UTF-8 (a bad room name
/// quoted in a message, the parser's "last read: …"); it is replaced (U+FFFD), since a throwing
/// dump() would end the service thread. Every JSON the server writes goes through this.
std::string json_text(const json& j);

/// The `data` of the ACK that answers `r`, with its "op"; null for a reply that is not an ACK
/// (ERROR, PONG, authenticated, auth_error). For a history_reply: the ACK after its events.
json ack_data(const hub_reply& r);
/// `authenticated`'s data.
json connection_info_json(const connection_info& info);
/// server_status's data: {"status": "ok"|"degraded", "broker": "up"|"down", "reason", "timestamp"}.
json server_status_json(const server_status_reply& s);
/// {"per_second", "burst"}: whole numbers as integers ({"per_second": 100}, not 100.0).
json rate_limit_json(const rate_limit_values& limit);
/// One event of a HISTORY reply: the stored envelope with the request's ref and
/// "history": true added, so a client can tell it from live events.
json history_event_json(const std::string& envelope, const op_ref& ref);
/// A result as the rtev WebSocket door and the HTTP API write it (docs/protocol.md):
/// {"id","seq","room"?,"duplicate"?} or {"id","error":{"code","message"}}.
json publish_result_json(const publish_result& r);

}  // namespace rtev::server_lite
