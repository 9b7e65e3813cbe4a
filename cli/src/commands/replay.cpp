#include "commands/replay.hpp"

#include <fstream>
#include <iostream>

#include "commands/publish.hpp"
#include "commands/tail.hpp"
#include "connection_flags.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "http_request.hpp"
#include "interrupts.hpp"
#include "recorded_events.hpp"
#include "rtev/duration.hpp"
#include "rtev/json.hpp"
#include "since_last.hpp"

namespace rtev::cli {

void setup_replay(CLI::App& app, replay_options& o) {
  auto* cmd = app.add_subcommand(
      "replay", "Publish a recorded JSONL stream again with its pacing, or print stored history");
  cmd->add_option("file", o.file, "JSONL recording (from `rtev tail -o`), or - for stdin");
  cmd->add_option("--speed", o.speed, "Pacing factor (2 = twice as fast) or max")
      ->capture_default_str();
  cmd->add_option(
      "--room", o.room,
      "Publish every event to this room instead (with --from-server: the room to read)");
  cmd->add_flag("--loop", o.loop, "Start over at the end, until interrupted");
  cmd->add_flag("--dry-run", o.dry_run, "Print what would be published, and when; publish nothing");
  cmd->add_flag("--keep-ids", o.keep_ids, "Keep recorded ids (the server then deduplicates)");
  cmd->add_flag("--http", o.http, "Publish through POST /api/events (--token is the API key)");
  cmd->add_flag("--from-server", o.from_server,
                "Print the server's stored history of --room instead");
  cmd->add_option("--since", o.since,
                  "With --from-server: from 1h, an RFC 3339 time, seq:N, beginning or last:N");
  cmd->add_option("--until", o.until, "With --from-server: up to this RFC 3339 time");
  add_common(*cmd, o.common);
  add_protocol(*cmd, o.common, true, true);
  add_output(*cmd, o.out);
  add_jq(*cmd, o.out);
}

static int print_history(replay_options& o) {
  common_options& common = o.common;
  if (o.room.empty()) throw usage_error("--from-server needs --room ROOM");
  event_printer printer(o.out, common);
  const std::optional<std::uint64_t> last = parse_since_last(o.since);
  std::vector<std::pair<std::string, std::string>> headers;  // --header ones are added to them
  if (!common.token.empty()) headers.emplace_back("Authorization", "Bearer " + common.token);
  http_client http(common);
  // One page of GET /api/history; a refusal ends the command with its exit code.
  const auto page = [&](const std::string& cursor, std::uint64_t limit) {
    std::string url = common.http_base() + "/api/history?limit=" + std::to_string(limit) +
                      "&room=" + url_encode(o.room) + "&since=" + url_encode(cursor);
    if (!o.until.empty()) url += "&until=" + url_encode(o.until);
    http_result r;
    try {
      r = http.fetch("GET", url, {}, headers);
    } catch (const usage_error&) {
      throw;
    } catch (const command_failure&) {
      throw;  // interrupted, or a refused certificate
    } catch (const std::exception& e) {
      throw command_failure(exit_connect, e.what());
    }
    nlohmann::json j = rtev::parse_json(r.body);
    if (r.status != 200 || !j.is_object()) {
      const std::string msg =
          j.is_object() && j.contains("error") ? j["error"].value("message", r.body) : r.body;
      throw command_failure(r.status == 401 || r.status == 403 ? exit_auth : exit_error,
                            "history: HTTP " + std::to_string(r.status) + ": " + msg);
    }
    return j;
  };
  std::string cursor = "beginning";
  if (last) {
    const std::uint64_t seq = seq_before_last([&](std::uint64_t since) {
      const nlohmann::json j = page(since == 0 ? "beginning" : std::to_string(since), *last);
      return j.contains("next") && !j["next"].is_null();
    });
    if (seq != 0) cursor = std::to_string(seq);
  } else if (!o.since.empty()) {
    const nlohmann::json since = parse_since_flag(o.since);
    cursor =
        since.is_string() ? since.get<std::string>() : std::to_string(since.get<std::uint64_t>());
  }
  for (;;) {
    nlohmann::json j = page(cursor, 1000);
    for (const auto& e : j["events"]) printer.print(event::from_json(e));
    if (!j.contains("next") || j["next"].is_null()) return exit_ok;
    cursor = j["next"].dump();
  }
}

int run_replay(replay_options& o) {
  common_options& common = o.common;
  common.resolve();
  if (o.from_server) return print_history(o);
  // A recording is published, not printed: there is nothing for a filter to show.
  if (o.out.jq || o.out.jq_raw)
    throw usage_error(std::string(o.out.jq ? "--jq" : "--jq-raw") +
                      " needs --from-server (replay prints events only then; a FILE is "
                      "published)");
  if (o.file.empty()) throw usage_error("replay: give a FILE (or - for stdin), or --from-server");
  double speed = 0;  // 0 = max
  if (o.speed != "max") {
    std::string text = o.speed;
    if (std::string why = decimal_number(0.001, 1e6)(text); !why.empty())
      throw usage_error("--speed: " + why + ", or max");
    speed = std::strtod(o.speed.c_str(), nullptr);
  }
  std::ifstream file;
  if (o.file != "-") {
    file.open(o.file);
    if (!file) throw usage_error("replay: cannot read '" + o.file + "'");
  }
  std::istream& in = o.file == "-" ? std::cin : file;
  std::vector<outgoing_event> events;
  std::vector<timestamp> times;
  // The lines publish --jsonl takes, read the same way (a missing timestamp is the time the
  // line is read, so such lines follow each other without a pause).
  recorded_event_reader reader(o.keep_ids, o.room);
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    std::optional<event> e;
    try {
      e = reader.read(line);
    } catch (const parse_error& err) {
      throw usage_error(o.file + " line " + std::to_string(n) + ": " + err.what());
    }
    if (!e) continue;
    times.push_back(e->time());
    events.push_back({*e, "line " + std::to_string(n) + " (" + e->type + ")"});
  }
  reader.note_skipped(common);
  auto wait_before = [&](std::size_t i) {
    if (i == 0 || speed == 0) return std::chrono::microseconds(0);
    const auto gap = times[i] - times[i - 1];
    if (gap.count() <= 0) return std::chrono::microseconds(0);
    return std::chrono::microseconds(
        static_cast<std::int64_t>(static_cast<double>(gap.count()) / speed));
  };
  if (o.dry_run) {
    double at = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      at += static_cast<double>(wait_before(i).count()) / 1e6;
      const event& e = events[i].ev;
      std::printf("+%.3fs %s %s %s\n", at, e.type.c_str(), e.room ? e.room->c_str() : "(broadcast)",
                  e.data.dump().c_str());
    }
    return exit_ok;
  }
  // Interrupting a replay (Ctrl-C, SIGTERM) ends it where it is, with 130/143 (publish_all).
  // A --loop has no end of its own: once it is publishing, a signal is how it ends (exit 0).
  bool publishing = false;
  do {
    try {
      const int code = publish_all(common, events, o.http, wait_before);
      if (code != exit_ok) return code;
    } catch (const interrupted& e) {
      if (o.loop && (publishing || !e.connecting)) return exit_ok;
      throw;
    }
    publishing = true;
  } while (o.loop);
  return exit_ok;
}

}  // namespace rtev::cli
