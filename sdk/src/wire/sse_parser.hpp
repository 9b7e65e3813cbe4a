#pragma once
// Internal: an incremental parser for the `text/event-stream` format, following the WHATWG
// HTML standard's "Interpreting an event stream" (§9.2.6) to the letter:
//
//   - bytes may arrive in any chunking: a line, a CRLF pair, a UTF-8 sequence or the BOM may be
//     split across feed() calls;
//   - lines end with CRLF, LF or CR; one U+FEFF at the very start of the stream is skipped;
//   - `:` starts a comment (reported: servers send them as heartbeats); `field: value` with one
//     leading space after the colon stripped; a line without a colon is a field with an empty
//     value; unknown fields are ignored;
//   - `data` lines are joined with "\n"; `event` sets the type (default "message"); `id` sets
//     the last event id (ignored when it contains NUL) and persists across events and
//     reconnections; `retry` with ASCII digits only sets the reconnection time;
//   - an empty line dispatches; nothing is dispatched while the data buffer is empty (but the
//     last event id is still updated); a partial event at the end of the stream is discarded.
//   - text is UTF-8; invalid sequences become U+FFFD, as a browser's decoder does.
//
// Threads: none of its own; one parser per stream, used by one thread.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace rtev::detail {

/// One dispatched event.
struct sse_message {
  std::string type = "message";  ///< the `event:` field, or "message"
  std::string data;              ///< `data:` lines joined with "\n"
  std::string last_event_id;     ///< the stream's last event id when this was dispatched
  bool has_id = false;           ///< this event itself carried an `id:` field
};

class sse_parser {
 public:
  /// A dispatched event.
  std::function<void(sse_message&&)> on_message;
  /// A comment line's text after the colon (`: ping` gives " ping").
  std::function<void(std::string_view)> on_comment;
  /// A valid `retry:` field (milliseconds; huge values are capped at 24 hours).
  std::function<void(std::chrono::milliseconds)> on_retry;

  /// `max_event_bytes` caps one event's buffered data (and one line): a stream that exceeds it
  /// is refused (feed returns false) rather than growing without bound.
  explicit sse_parser(std::size_t max_event_bytes = 16 * 1024 * 1024);

  /// Parse the next bytes. Returns false (and stops parsing for good) when the stream exceeds
  /// max_event_bytes; error() then says so.
  bool feed(std::string_view bytes);
  /// The stream ended: a partial event is discarded. The next feed() starts a new stream (BOM
  /// check included) but keeps the last event id, as EventSource does across reconnections.
  void restart();

  /// The id to send as Last-Event-ID when reconnecting.
  const std::string& last_event_id() const { return last_id_; }
  /// Seed the last event id (resuming from an id saved elsewhere).
  void set_last_event_id(std::string id) { last_id_ = id_buffer_ = std::move(id); }
  const std::string& error() const { return error_; }

 private:
  void line(std::string_view l);
  void dispatch();

  std::size_t max_;
  std::string partial_;  // an incomplete line carried over from the previous chunk
  std::string data_;
  std::string type_;
  std::string id_buffer_;
  std::string last_id_;
  bool id_in_event_ = false;
  bool start_ = true;      // nothing but a possible BOM prefix seen yet
  bool after_cr_ = false;  // the last chunk ended with CR: a leading LF belongs to it
  std::string error_;
};

/// `text` with every invalid UTF-8 sequence replaced by U+FFFD (the WHATWG decoder's rule:
/// one replacement per maximal invalid subpart).
std::string sanitize_utf8(std::string_view text);

}  // namespace rtev::detail
