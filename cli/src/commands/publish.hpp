#pragma once
// `rtev publish TYPE [DATA]`: publish events and wait for every ACK (exit 1 naming any the
// server rejected). `--jsonl` publishes whole envelopes read line by line from stdin, so
// `rtev tail -o FILE` recordings round-trip; `--http` goes through POST /api/events. Over
// Socket.IO a publish is the event type itself (the `publish` event for rtev serve, or
// --publish-event), acknowledged or — for servers that never acknowledge — written; over SSE a
// POST.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "common_options.hpp"

namespace rtev::cli {

struct publish_options {
  common_options common;
  std::string type, data_arg, data_flag, room, user, ack_timeout = "10s";
  std::string format = "text";      ///< text: nothing on stdout; jsonl: one {"id","seq"} per ACK
  std::optional<std::string> rate;  ///< set even when given empty (then refused)
  bool broadcast = false, jsonl = false, http = false, keep_ids = false;
  std::uint64_t count = 1;
};

void setup_publish(CLI::App& app, publish_options& opt);
int run_publish(publish_options& opt);

/// One event to publish (shared with replay).
struct outgoing_event {
  event ev;           ///< type, data, room (none: broadcast), id (kept only with --keep-ids)
  std::string label;  ///< how errors name it: "event 3 (message_sent)"
};

/// Publishes `events` in order through the SDK client (rtev, Socket.IO or SSE, as resolved) or
/// POST /api/events (`http`), pacing with `wait_before` (per event, may be zero), waiting at
/// most `ack_wait` after the last one for the ACKs. `ack_lines`: print each acknowledgement on
/// stdout as it arrives, one JSON line {"id","seq"} (seq null when the server gave none).
/// Returns the exit code.
int publish_all(const common_options& common, std::vector<outgoing_event> events, bool http,
                const std::function<std::chrono::microseconds(std::size_t)>& wait_before,
                std::chrono::milliseconds ack_wait = std::chrono::seconds(10),
                bool ack_lines = false);
/// The same for `count` events built one at a time by `make(index)` (0-based), so that a large
/// count is not held in memory.
int publish_all(const common_options& common, std::uint64_t count,
                const std::function<outgoing_event(std::uint64_t)>& make, bool http,
                const std::function<std::chrono::microseconds(std::size_t)>& wait_before,
                std::chrono::milliseconds ack_wait, bool ack_lines = false);

}  // namespace rtev::cli
