// Shared by the parse micro-benchmark's files (issue 12; parse_publish.cpp says what it
// measures): what every variant returns, the constants the hub would add, and the variants.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace parse_bench {

using json = nlohmann::json;

enum class status { ok, bad_json, bad_request };

inline const char* status_name(status s) {
  switch (s) {
    case status::ok:
      return "ok";
    case status::bad_json:
      return "bad_json";
    case status::bad_request:
      return "bad_request";
  }
  return "?";
}

// What every variant produces from a frame: what the server needs to go on (the operation,
// the ref for the reply, the event's type and room) and the envelope as stored and sent.
struct parsed_frame {
  status result = status::ok;
  std::string op;
  json ref;              // a string or a number, else null
  std::string ref_text;  // D: the ref as the server keeps it, JSON text; empty: `ref` says
  std::string event_type, room;
  std::string envelope;
};

// The ref as a value, whichever way the variant gave it.
inline json ref_value(const parsed_frame& p) {
  return p.ref_text.empty() ? p.ref : json::parse(p.ref_text);
}

inline parsed_frame refused(status why) {
  parsed_frame p;
  p.result = why;
  return p;
}

// What the hub adds to each event: the same constants for every variant.
inline constexpr std::string_view event_id = "evt_01JEKZ3W6Q8Y2M4N5P7R9T0V1X";
inline constexpr std::uint64_t event_seq = 1234567;
inline constexpr std::string_view stamp = "2026-12-06T19:21:32.123456+01:00";
inline constexpr std::string_view zone = "Europe/Paris";

inline std::string upper(std::string s) {
  for (auto& ch : s)
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  return s;
}

using variant_fn = std::function<parsed_frame(std::string_view)>;

// parse_nlohmann.cpp: A, B, C, and the envelope by string appends that C, D and E share.
parsed_frame dom_today(std::string_view text);
parsed_frame dom_moves(std::string_view text);
parsed_frame nlohmann_sax(std::string_view text);
void append_quoted(std::string& out, std::string_view s);
std::string splice_envelope(std::string_view type, std::string_view raw_data,
                            std::string_view room);

#ifdef RTEV_HAVE_SIMDJSON
// parse_simdjson.cpp: D, the server's own reader (server-lite's decode_publish_frame, else
// decode_rtev_message), and E, with its own parser state.
parsed_frame server_reader(std::string_view text);
variant_fn simdjson_dom();
#endif

}  // namespace parse_bench
