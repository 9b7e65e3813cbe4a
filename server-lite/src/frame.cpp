#include "frame.hpp"

namespace rtev::server_lite {

frame::frame(std::string_view payload) {
  buf_.reserve(frame_headroom + payload.size());
  buf_.assign(frame_headroom, '\0');
  buf_.append(payload);
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
    if (named) text += "event: " + type + "\n";
    // The envelope is compact JSON: it never contains a raw newline, so one data line holds it.
    text += "data: " + json + "\n\n";
    slot = std::make_shared<frame>(text);
  }
  return slot;
}

}  // namespace rtev::server_lite
