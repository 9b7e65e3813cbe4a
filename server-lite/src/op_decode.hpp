#pragma once
// op_decode: the rtev vocabulary's JSON, decoded into the hub's typed operations (hub_ops.hpp).
// The doors that speak it share these: the rtev WebSocket door (an operation's `data` object),
// the Socket.IO door (an emit's payload object, the same shape) and the HTTP API (a publish
// body, `since`/`until` query values). Errors are rtev::parse_error naming the field.
//
// Pure functions: any thread.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hub_ops.hpp"

namespace rtev::server_lite {

using json = nlohmann::json;

/// A request's ref as JSON text: a string or a number as the client sent it; empty otherwise.
op_ref ref_text(const json& ref);

/// Decodes operation `op` (upper case: AUTHENTICATE, PING, SUBSCRIBE, UNSUBSCRIBE, PUBLISH,
/// TYPING_START, TYPING_STOP, HISTORY, PRESENCE) from its `data` object. A bad field gives a
/// bad_op (bad_request, the field named as data.<field>); an unknown `op` a bad_op unknown_op
/// naming `name` (the operation as the client spelled it). `timezone`: for times in `since`
/// and `until` without an offset.
hub_operation decode_op(const std::string& op, const std::string& name, const json& data,
                        op_ref ref, const std::string& timezone);

/// A `since` value: seq number (or "seq:N"), RFC 3339 time, or "beginning". Throws
/// parse_error("since", …).
since_point parse_since(const json& v, const std::string& timezone);
/// An `until` value: an RFC 3339 time, in microseconds. Throws parse_error("until", …).
std::int64_t parse_until(const json& v, const std::string& timezone);

/// Parses `{"type","data","room"|"user_id"|"user_ids"|"broadcast","id"?}` into requests (one
/// per user for user_ids). Throws parse_error naming the field.
std::vector<publish_request> parse_publish(const json& body);

/// A client's presence option — `?presence=` on the connect URL, `"presence"` in an
/// `authenticate` message or a Socket.IO CONNECT `auth`: a JSON boolean, or the text true/false
/// (also 1/0, on/off, yes/no). Throws rtev::parse_error naming `path` otherwise.
bool presence_option(const std::string& path, const json& value);

}  // namespace rtev::server_lite
