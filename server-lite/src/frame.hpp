#pragma once
// Outgoing bytes, built once and shared by every connection that sends them.
// Service-thread only (the lazy SSE caches are not synchronised).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rtev::server_lite {

/// Headroom the transport needs before every payload (LWS_PRE); defined by the lws glue.
extern const std::size_t frame_headroom;

/// Payload bytes preceded by frame_headroom bytes of scratch space for lws's framing.
class frame {
 public:
  explicit frame(std::string_view payload);
  /// Pointer to the payload; the headroom precedes it (lws_write writes into it).
  unsigned char* data() { return reinterpret_cast<unsigned char*>(buf_.data()) + frame_headroom; }
  std::size_t size() const { return buf_.size() - frame_headroom; }
  std::string_view payload() const { return std::string_view(buf_).substr(frame_headroom); }

 private:
  std::string buf_;
};
using frame_ptr = std::shared_ptr<frame>;

/// Appends `payload` as one complete server-to-client WebSocket text frame (FIN, unmasked, no
/// extension bits) — for writing several frames in one system call (docs/lws-notes.md).
void append_ws_text_frame(std::string& out, std::string_view payload);

/// Writes larger than this are not built from several queued frames: one busy connection gets
/// at most this much per writeable callback, and the others their turn.
constexpr std::size_t max_coalesced_bytes = 64 * 1024;

/// One event as delivered: its envelope JSON, and per-protocol frames built on first use.
struct shared_event {
  std::string json;  ///< the envelope
  std::string type;
  std::string room;       ///< empty for broadcasts
  std::uint64_t seq = 0;  ///< 0 for unstored events (typing indicators)

  frame_ptr ws_frame() const;             ///< the envelope as a WebSocket text frame
  frame_ptr sse_frame(bool named) const;  ///< "id: seq\n[event: type\n]data: json\n\n"
  /// Engine.IO message with a Socket.IO EVENT: 42["<type>", data, {id, seq, room, timestamp,
  /// timezone}] (meta holds the envelope fields present; `history` too for HISTORY replies).
  frame_ptr sio_frame() const;

 private:
  mutable frame_ptr ws_, sse_, sse_named_, sio_;
};
using event_ptr = std::shared_ptr<const shared_event>;

/// The Engine.IO/Socket.IO packet text for an rtev envelope (what sio_frame() holds).
std::string sio_event_packet(std::string_view envelope);

}  // namespace rtev::server_lite
