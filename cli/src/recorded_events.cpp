#include "recorded_events.hpp"

#include <utility>

#include "diagnostics.hpp"
#include "rtev/json.hpp"
#include "rtev/time.hpp"

namespace rtev::cli {

bool is_server_presence(const event& e) {
  return e.room == std::optional<std::string>("presence") &&
         (e.type == "user_online" || e.type == "user_offline");
}

recorded_event_reader::recorded_event_reader(bool keep_ids, std::string room)
    : keep_ids_(keep_ids), room_(std::move(room)) {}

std::optional<event> recorded_event_reader::read(const std::string& line) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return std::nullopt;
  event e;
  nlohmann::json j = rtev::parse_json(line);
  if (j.is_object()) {
    if (!j.contains("timestamp")) j["timestamp"] = time::format_rfc3339(time::now());
    if (!j.contains("timezone")) j["timezone"] = "UTC";
    if (!j.contains("data")) j["data"] = nlohmann::json::object();
    e = event::from_json(j);
  } else {
    e = event::parse(line);  // the standard message for what is not an envelope
  }
  if (is_server_presence(e)) {
    ++skipped_presence_;
    return std::nullopt;
  }
  // Recorded ids and seqs are the old server's: let this one assign new ones, so a replay is
  // not swallowed by idempotency (unless keep_ids).
  if (!keep_ids_) e.id.reset();
  e.seq.reset();
  if (!room_.empty()) e.room = room_;
  return e;
}

void recorded_event_reader::note_skipped(const common_options& common) const {
  if (skipped_presence_ > 0)
    note(common, "skipped " + std::to_string(skipped_presence_) +
                     " presence event(s): user_online/user_offline are the server's to send");
}

}  // namespace rtev::cli
