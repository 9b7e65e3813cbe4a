#pragma once
/// \file
/// rtev::event: the JSON envelope every rtev message carries.
///
///     {"type", "id", "seq", "room", "timestamp", "timezone", "data"}
///
/// `type`, `timestamp`, `timezone` and `data` are required on the wire; `id`, `seq` and
/// `room` are set by servers. Unknown top-level fields are kept in `extra` and written back,
/// so an envelope round-trips to an equal JSON value. Type names are case-sensitive.
///
/// Thread safety: distinct objects: safe. Shared objects: safe for concurrent reads only.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rtev/error.hpp"
#include "rtev/time.hpp"

namespace rtev {

struct event {
  std::string type;  ///< case-sensitive: "message_sent", "NOTIFICATION", "content-created"
  std::optional<std::string>
      id;  ///< unique id, set by the server (or by a publisher for idempotency)
  std::optional<std::uint64_t> seq;  ///< server-wide sequence number
  std::optional<std::string> room;   ///< room the event was published to; none for broadcasts
  std::string timestamp;             ///< RFC 3339 exactly as on the wire (validated on parse)
  std::string timezone = "UTC";      ///< IANA zone the timestamp is expressed in
  nlohmann::json data = nlohmann::json::object();   ///< the payload (any JSON value)
  nlohmann::json extra = nlohmann::json::object();  ///< unknown top-level fields, preserved
  /// What a lenient reader of a foreign payload supplied (not part of the JSON): e.g.
  /// "timestamp: receive time", "timezone: UTC", "type: SSE event name", "data: not JSON,
  /// kept as a string". Empty for rtev envelopes.
  std::vector<std::string> filled_in;

  /// A new event stamped with the current time in `zone` (validated: unknown_zone_error).
  static event make(std::string type, nlohmann::json data, std::string_view zone = "UTC");

  /// Parse an envelope from JSON text or a JSON value. Throws parse_error whose message names
  /// the field and what was expected: "event.timestamp: expected an RFC 3339 string, got number".
  static event parse(std::string_view json_text);
  static event from_json(const nlohmann::json& j);

  /// The envelope as JSON (fields that are unset are omitted; `extra` merged back).
  nlohmann::json to_json() const;
  /// to_json().dump(): compact JSON text.
  std::string dump() const;

  /// The instant of `timestamp`; a naive timestamp is read in `timezone`.
  /// Throws parse_error when `timestamp` is not RFC 3339.
  rtev::timestamp time() const;

  friend bool operator==(const event& a, const event& b) { return a.to_json() == b.to_json(); }
  friend bool operator!=(const event& a, const event& b) { return !(a == b); }
};

/// Lenient reading of an envelope from another server (SSE `data:`, a Socket.IO event):
/// `text` is the payload (JSON or not), `fallback_type` the SSE event name or Socket.IO event
/// name, `received` the receive time. Never throws: a missing or unusable `type` becomes
/// fallback_type (or "message"), a missing/invalid `timestamp` the receive time (UTC), a
/// missing `timezone` UTC; a JSON value that is not an envelope becomes `data` whole;
/// non-JSON text is kept as a string. Every such fill is listed in filled_in.
event read_foreign(std::string_view text, std::string_view fallback_type,
                   std::chrono::system_clock::time_point received);
/// The same for a JSON value already parsed (a Socket.IO argument).
event read_foreign(const nlohmann::json& value, std::string_view fallback_type,
                   std::chrono::system_clock::time_point received);
/// Text overloads: a std::string or a literal converts to both string_view and json, so without
/// these a call with one would be ambiguous. Both read the argument as text.
inline event read_foreign(const std::string& text, std::string_view fallback_type,
                          std::chrono::system_clock::time_point received) {
  return read_foreign(std::string_view(text), fallback_type, received);
}
inline event read_foreign(const char* text, std::string_view fallback_type,
                          std::chrono::system_clock::time_point received) {
  return read_foreign(std::string_view(text), fallback_type, received);
}

/// A new event id: UUID version 7 text (time-ordered, random below the millisecond, e.g.
/// "0193a1f2-7c3e-7d41-9a2b-5aad4772d2d0"). The 74 random bits come from OpenSSL's
/// RAND_bytes (drawn in blocks; a fork()ed child draws afresh), so ids made by different
/// threads, processes or machines do not collide. Thread-safe; throws rtev::error if OpenSSL's
/// generator fails.
std::string make_event_id();

/// Human-readable JSON type name as used in parse errors: "number", "string", "object", …
std::string json_type_name(const nlohmann::json& j);

}  // namespace rtev
