#pragma once
// Recorded envelopes, one JSON object a line, read to be published again: `rtev publish
// --jsonl` (stdin) and `rtev replay FILE` take the same lines the same way. `rtev tail -o`
// writes them; hand-written lines and other tools' need only `type` — the server stamps what it
// stores, so a missing timestamp (the time the line is read), timezone (UTC) or data ({}) is
// filled in.
//
// Thread safety: a recorded_event_reader is used by one thread.

#include <cstddef>
#include <optional>
#include <string>

#include "common_options.hpp"
#include "rtev/event.hpp"

namespace rtev::cli {

/// A presence event as rtev serve sends it (user_online/user_offline in room `presence`): the
/// server's own news, never republished from a recording (`tail --presence -o`) — it would
/// store fake presence.
bool is_server_presence(const event& e);

class recorded_event_reader {
 public:
  /// `keep_ids`: keep recorded ids (the server then deduplicates); otherwise they are dropped
  /// so the server assigns new ones. `room`: publish every event there (empty: its own room).
  recorded_event_reader(bool keep_ids, std::string room);

  /// The event on `line`, ready to publish again: missing timestamp, timezone and data filled
  /// in, the recorded seq (and id, unless keep_ids) dropped. Nothing for a blank line or a
  /// server presence event (counted). Throws parse_error naming what is wrong with the line.
  std::optional<event> read(const std::string& line);

  /// Says on stderr how many server presence events were skipped, if any.
  void note_skipped(const common_options& common) const;

 private:
  bool keep_ids_;
  std::string room_;
  std::size_t skipped_presence_ = 0;
};

}  // namespace rtev::cli
