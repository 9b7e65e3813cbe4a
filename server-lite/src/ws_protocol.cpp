// The rtev WebSocket protocol: decoding client operations into typed ones (op_decode.cpp holds
// the fields' decoders) and encoding the hub's typed replies. Service thread only; see
// docs/protocol.md.

#include "ws_protocol.hpp"

#include <cctype>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "op_decode.hpp"
#include "publish_frame.hpp"
#include "reply_json.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/json.hpp"

namespace rtev::server_lite {

namespace {

std::string upper(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

hub_operation decode_message(const json& msg, op_ref ref, const std::string& timezone) {
  if (!msg.is_object())
    return bad_op{{},
                  "bad_request",
                  "expected a JSON object {\"type\", \"data\"}, got " + json_type_name(msg),
                  false};
  auto type_it = msg.find("type");
  if (type_it == msg.end() || !type_it->is_string())
    return bad_op{std::move(ref), "bad_request",
                  type_it == msg.end() ? "type: required field is missing"
                                       : "type: expected a string, got " + json_type_name(*type_it),
                  false};
  static const json no_data = json::object();
  const json* data = &no_data;
  if (auto it = msg.find("data"); it != msg.end() && !it->is_null()) data = &*it;
  if (!data->is_object())
    return bad_op{std::move(ref), "bad_request",
                  "data: expected an object, got " + json_type_name(*data), false};
  const std::string& name = type_it->get_ref<const std::string&>();
  return decode_op(upper(name), name, *data, std::move(ref), timezone);
}

// {"data":…,"ref":…,"type":…}: the keys in the order nlohmann writes an object's (sorted), so
// the bytes are what they were when replies were JSON trees; the ref as the client sent it.
frame_ptr message(const char* type, const json& data, const op_ref& ref) {
  std::string out = "{\"data\":";
  out += json_text(data);
  if (!ref.empty()) {
    out += ",\"ref\":";
    out += ref;
  }
  out += ",\"type\":\"";
  out += type;
  out += "\"}";
  return std::make_shared<frame>(out);
}

void encode(const hub_reply& r, std::vector<frame_ptr>& out) {
  std::visit(
      overloaded{
          [&](const subscribed_reply& s) {
            // SUBSCRIBE's ACK has always given its ref back as a string ("7" for 7).
            const op_ref ref =
                s.ref.empty() || s.ref.front() == '"' ? s.ref : json_text(json(s.ref));
            out.push_back(message("ACK", ack_data(r), ref));
          },
          [&](const history_reply& h) {
            for (const auto& e : h.events)
              out.push_back(std::make_shared<frame>(json_text(history_event_json(e, h.ref))));
            out.push_back(message("ACK", ack_data(r), h.ref));
          },
          [&](const error_reply& e) {
            json data = {{"code", e.code}, {"message", e.message}};
            if (!e.op.empty()) data["op"] = e.op;
            if (!e.room.empty()) data["room"] = e.room;
            out.push_back(message("ERROR", data, e.ref));
          },
          [&](const not_authenticated_reply& n) {
            out.push_back(message(
                "ERROR",
                {{"code", "not_authenticated"},
                 {"message", "send {\"type\":\"authenticate\",\"data\":{\"token\":…}} first"}},
                n.ref));
          },
          [&](const pong_reply& p) {
            out.push_back(message("PONG", {{"server_time", p.server_time}}, p.ref));
          },
          [&](const server_status_reply& s) {
            out.push_back(message("server_status", server_status_json(s), s.ref));
          },
          [&](const authenticated_reply& a) {
            out.push_back(message("authenticated", connection_info_json(a.info), a.ref));
          },
          [&](const auth_error_reply& a) {
            json data = {{"message", a.message}};
            if (!a.code.empty()) data["code"] = a.code;
            out.push_back(message("auth_error", data, a.ref));
          },
          [&](const auto& ack) { out.push_back(message("ACK", ack_data(r), ack.ref)); },
      },
      r);
}

}  // namespace

decoded_message decode_rtev_message(std::string_view text, const std::string& timezone) {
  std::string why;
  json msg = rtev::parse_json(text, &why);
  decoded_message out;
  if (msg.is_object())
    if (auto it = msg.find("ref"); it != msg.end()) out.ref = ref_text(*it);
  if (msg.is_discarded())
    out.op = bad_op{{}, "bad_json", "the message is not valid JSON: " + why, false};
  else
    out.op = decode_message(msg, out.ref, timezone);
  return out;
}

void handle_rtev_message(room_hub& hub, connection& c, std::string_view text,
                         std::size_t readable) {
  if (c.closing) return;
  // Parsed before admission so that a rate_limited refusal carries the request's ref: every
  // reply to a request names it (the message is bounded by --max-message-bytes).
  // PUBLISH, the frame that matters for throughput, without a JSON tree (publish_frame.hpp);
  // every other frame, and every PUBLISH it would refuse, the usual way.
  if (auto publish = decode_publish_frame(text, readable)) {
    if (hub.admit(c, publish->ref)) hub.handle(c, std::move(*publish));
    return;
  }
  decoded_message m = decode_rtev_message(text, hub.timezone());
  if (hub.admit(c, m.ref)) hub.handle(c, std::move(m.op));
}

door_codec rtev_ws_codec() {
  door_codec codec;
  codec.encode = [](const connection&, const hub_reply& r, std::vector<frame_ptr>& out) {
    encode(r, out);
  };
  return codec;
}

}  // namespace rtev::server_lite
