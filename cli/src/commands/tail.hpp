#pragma once
// `rtev tail`: follow events with filters, a count and a deadline — a complete CI assertion:
//   rtev tail --type message_sent --count 1 --timeout 10s
// `rtev subscribe ROOM...`: join rooms and stream every event of them (JSONL in pipes).
// Both speak rtev, SSE or Socket.IO (--protocol); what a foreign payload lacked is said with -v.
// --ready-file FILE (and "ready" with -v) says when the subscription is live, so a script can
// start the tail, wait for the file, then publish without losing the race.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common_options.hpp"
#include "output.hpp"

namespace rtev::cli {

struct tail_options {
  common_options common;
  output_options out;
  std::vector<std::string> types, rooms, where;
  std::string since;
  std::string ready_file;              ///< --ready-file: written once every room is joined
  std::optional<std::string> timeout;  ///< set even when given empty (then refused)
  std::string url_arg;                 // tail URL: the positional form of --url
  bool until_end = false;
  bool presence = false;  ///< also show (and join) the presence room
  std::optional<std::uint64_t> count;
};

void setup_tail(CLI::App& app, tail_options& opt);
void setup_subscribe(CLI::App& app, tail_options& opt);
int run_tail(tail_options& opt);

/// `--since` value → what SUBSCRIBE takes: "beginning", a seq, or an RFC 3339 time (a
/// duration such as 5m counts back from now). Throws usage_error.
nlohmann::json parse_since_flag(const std::string& text);

}  // namespace rtev::cli
