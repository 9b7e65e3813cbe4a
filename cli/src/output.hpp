#pragma once
// How events are printed: pretty (terminals), json, jsonl (pipes), raw (data only), or a
// template such as '{{type}} {{data.message_text}} {{time}}'; times as iso, local or
// relative, in the --tz zone; -o FILE also records JSONL envelopes. With -v, what a lenient
// read of a foreign payload filled in (event::filled_in) is said on stderr for every event.
// --jq FILTER (tail, subscribe, replay) prints the outputs of a jq program run on each envelope
// instead, and may show nothing for an event: print() says whether it showed the event.

#include <CLI/CLI.hpp>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "common_options.hpp"
#include "pretty_line.hpp"
#include "rtev/event.hpp"

namespace rtev::cli {

class jq_filter;

struct output_options {
  std::string format;       ///< empty: pretty on a terminal, jsonl otherwise
  std::string time = "";    ///< iso | local | relative; empty: local for pretty, iso otherwise
  std::string record_file;  ///< -o
  std::optional<std::string> jq;  ///< --jq FILTER (set even when given empty, then refused)
  bool jq_raw = false;            ///< --jq-raw: string outputs as their text
};

void add_output(CLI::App& cmd, output_options& opt);
/// --jq and --jq-raw (tail, subscribe, replay).
void add_jq(CLI::App& cmd, output_options& opt);

/// "timestamp (receive time), timezone (UTC)" for an event read from a foreign payload; empty
/// for rtev envelopes.
std::string describe_filled_in(const event& e);

/// Not thread-safe: print from one thread (or under a lock).
class event_printer {
 public:
  /// Validates the format, compiles --jq and opens -o; throws usage_error.
  event_printer(const output_options& out, const common_options& common);
  ~event_printer();
  event_printer(const event_printer&) = delete;
  event_printer& operator=(const event_printer&) = delete;
  /// Prints `e` (and records it with -o). False when it was not shown: --jq yielded nothing
  /// for it, or failed on it (said on stderr); such an event does not count towards --count.
  bool print(const event& e);

 private:
  std::string when(const event& e) const;
  std::string render_template(const event& e) const;
  std::string pretty(const event& e);

  const common_options& common_;
  std::string format_, time_, tz_;
  bool color_;
  std::unique_ptr<std::ofstream> record_;
  std::unique_ptr<jq_filter> jq_;
  pretty_columns columns_;
};

}  // namespace rtev::cli
