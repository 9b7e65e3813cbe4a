#include "frame.hpp"

#include <nlohmann/json.hpp>

#include "rtev/json.hpp"
#include "wire/socketio_codec.hpp"

namespace rtev::server_lite {

namespace {

// An SSE field value ends at CR or LF: one inside would let the value start a forged field or
// event. Types are validated when published; this holds for whatever a store replays. Control
// characters (and anything outside printable ASCII) are written as \xNN.
std::string sse_field(std::string_view value) {
  return rtev::printable(value);
}

}  // namespace

frame::frame(std::string_view payload) {
  buf_.reserve(frame_headroom + payload.size());
  buf_.assign(frame_headroom, '\0');
  buf_.append(payload);
}

void append_ws_text_frame(std::string& out, std::string_view payload) {
  const std::uint64_t n = payload.size();
  out += static_cast<char>(0x81);  // FIN + text
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n <= 0xffff) {
    out += static_cast<char>(126);
    out += static_cast<char>((n >> 8) & 0xff);
    out += static_cast<char>(n & 0xff);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xff);
  }
  out.append(payload);
}

frame_ptr shared_event::ws_frame() const {
  if (!ws_) ws_ = std::make_shared<frame>(json);
  return ws_;
}

frame_ptr shared_event::sse_frame(bool named) const {
  frame_ptr& slot = named ? sse_named_ : sse_;
  if (!slot) {
    std::string text;
    text.reserve(json.size() + type.size() + 40);
    if (seq) text += "id: " + std::to_string(seq) + "\n";
    if (named) text += "event: " + sse_field(type) + "\n";
    // The envelope is compact JSON: it never contains a raw newline, so one data line holds it.
    text += "data: " + json + "\n\n";
    slot = std::make_shared<frame>(text);
  }
  return slot;
}

frame_ptr shared_event::sio_frame() const {
  if (!sio_) sio_ = std::make_shared<frame>(sio_event_packet(json));
  return sio_;
}

std::string sio_event_packet(std::string_view envelope) {
  using nlohmann::json;
  json env = rtev::parse_json(envelope);
  if (!env.is_object()) env = json::object();
  json meta = json::object();
  for (const char* k : {"id", "seq", "room", "timestamp", "timezone", "history"})
    if (auto it = env.find(k); it != env.end()) meta[k] = *it;
  const std::string type = env.value("type", std::string("message"));
  return wire::eio_encode(
      wire::eio_type::message,
      wire::sio_event("/", type, json::array({env.value("data", json()), meta})));
}

}  // namespace rtev::server_lite
