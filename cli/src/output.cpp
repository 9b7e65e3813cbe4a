#include "output.hpp"

#include <iostream>

#include "diagnostics.hpp"
#include "event_filters.hpp"
#include "exit_codes.hpp"
#include "jq_filter.hpp"
#include "rtev/catalog.hpp"
#include "rtev/time.hpp"

namespace rtev::cli {

namespace {

const char* family_color(std::string_view type) {
  const event_info* info = find_event_type(type);
  switch (info ? info->family : event_family::custom) {
    case event_family::messenger:
      return "\033[36m";  // cyan
    case event_family::inbox:
      return "\033[32m";  // green
    case event_family::dashboard:
      return "\033[33m";  // yellow
    case event_family::custom:
      return "\033[35m";  // magenta
  }
  return "";
}

}  // namespace

void add_output(CLI::App& cmd, output_options& o) {
  const char* g = "Output";
  cmd.add_option("--format", o.format,
                 "pretty, json, jsonl, raw (data only) or a template like '{{type}} {{data.text}}' "
                 "(default: pretty on a terminal, jsonl otherwise)")
      ->group(g);
  cmd.add_option("--time", o.time, "Times as iso, local or relative (in --tz)")
      ->check(CLI::IsMember({"iso", "local", "relative"}))
      ->group(g);
  cmd.add_option("-o,--output", o.record_file, "Also record every event as JSONL to FILE")
      ->group(g);
}

void add_jq(CLI::App& cmd, output_options& o) {
  const char* g = "Output";
  cmd.add_option("--jq", o.jq,
                 "Run this jq program on each event's envelope and print its outputs, one "
                 "compact JSON line each (none: the event is not shown), e.g. "
                 "'select(.data.n > 1) | .data'")
      ->type_name("FILTER")
      ->group(g);
  cmd.add_flag("--jq-raw", o.jq_raw,
               "With --jq: print string outputs as their text, without quotes (jq -r)")
      ->group(g);
}

std::string describe_filled_in(const event& e) {
  std::string out;
  for (const auto& note : e.filled_in) {
    // "timestamp: receive time" → "timestamp (receive time)"
    const auto colon = note.find(": ");
    out += out.empty() ? "" : ", ";
    out += colon == std::string::npos ? note
                                      : note.substr(0, colon) + " (" + note.substr(colon + 2) + ")";
  }
  return out;
}

event_printer::event_printer(const output_options& out, const common_options& common)
    : common_(common),
      format_(out.format),
      time_(out.time),
      tz_(common.tz),
      color_(common.use_color),
      columns_(common.use_color) {
  if (out.jq_raw && !out.jq) throw usage_error("--jq-raw needs --jq FILTER");
  if (out.jq) {
    // The filter's outputs are the output: one compact JSON line each, as `jq -c` prints.
    if (!format_.empty() && format_ != "jsonl")
      throw usage_error(
          "--jq prints the filter's outputs as JSON lines: it does not combine with "
          "--format '" +
          format_ + "' (leave --format out)");
    if (out.jq->empty()) throw usage_error("--jq: empty filter (give a jq program, e.g. '.data')");
    jq_ = std::make_unique<jq_filter>(*out.jq, out.jq_raw);
  }
  if (format_.empty()) format_ = common.stdout_tty ? "pretty" : "jsonl";
  const bool templ = format_.find("{{") != std::string::npos;
  if (!templ && format_ != "pretty" && format_ != "json" && format_ != "jsonl" && format_ != "raw")
    throw usage_error("--format: unknown format '" + format_ +
                      "': expected pretty, json, jsonl, raw or a template with {{field}}");
  if (templ) check_template(format_);
  if (time_.empty()) time_ = format_ == "pretty" ? "local" : "iso";
  if (!out.record_file.empty()) {
    record_ = std::make_unique<std::ofstream>(out.record_file, std::ios::app);
    if (!*record_) throw usage_error("-o: cannot write '" + out.record_file + "'");
  }
}

event_printer::~event_printer() = default;

std::string event_printer::when(const event& e) const {
  try {
    const timestamp t = e.time();
    if (time_ == "relative") return time::format_relative(t, tz_);
    // pretty lines up its columns: a fixed-width clock, to the millisecond.
    if (time_ == "local")
      return format_ == "pretty" ? format_clock_ms(t, tz_) : time::format_datetime(t, tz_);
    return time::format_rfc3339(t, tz_);
  } catch (const std::exception&) {
    return e.timestamp;
  }
}

std::string event_printer::render_template(const event& e) const {
  return cli::render_template(format_, e.to_json(), when(e));
}

std::string event_printer::pretty(const event& e) {
  pretty_fields f;
  f.time = when(e);
  f.type = e.type;
  f.type_color = family_color(e.type);
  // A foreign server's event without a room is not known to be a broadcast.
  f.room = e.room                ? *e.room
           : e.filled_in.empty() ? std::string("(broadcast)")
                                 : std::string("(no room)");
  // An event without a seq (a foreign server's) is told apart by its id, when it has one.
  f.position = e.seq ? "#" + std::to_string(*e.seq) : e.id.value_or("");
  f.data = e.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return columns_.line(f);
}

bool event_printer::print(const event& e) {
  std::vector<std::string> outputs;
  if (jq_) {
    try {
      // Text that is not UTF-8 (a foreign server's) reaches jq as U+FFFD, not as an error.
      outputs =
          jq_->run(e.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } catch (const jq_runtime_error& err) {
      // One event the filter cannot handle (a field of another type, say) is not the end of a
      // tail: it is said, and skipped.
      note(common_, "--jq: skipped " + e.type +
                        (e.seq ? " (seq " + std::to_string(*e.seq) + ")" : "") +
                        ": jq: error: " + err.what());
      return false;
    }
    if (outputs.empty()) return false;
  }
  // Before the event, so a reader of both streams sees the note first.
  if (!e.filled_in.empty())
    debug(common_, "filled in for " + e.type + ": " + describe_filled_in(e));
  std::string line;
  if (jq_) {
    for (std::size_t i = 0; i < outputs.size(); ++i) line += (i ? "\n" : "") + outputs[i];
  } else if (format_ == "pretty")
    line = pretty(e);
  else if (format_ == "json")
    line = e.to_json().dump(2);
  else if (format_ == "jsonl")
    line = e.dump();
  else if (format_ == "raw")
    line = e.data.is_string() ? e.data.get<std::string>() : e.data.dump();
  else
    line = render_template(e);
  std::cout << line << '\n' << std::flush;
  if (record_) *record_ << e.dump() << '\n' << std::flush;
  return true;
}

}  // namespace rtev::cli
