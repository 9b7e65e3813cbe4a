#include "commands/tail.hpp"

#include <atomic>
#include <iostream>

#include "event_filters.hpp"
#include "exit_codes.hpp"
#include "rtev/duration.hpp"
#include "rtev/glob.hpp"
#include "rtev/time.hpp"
#include "stopper.hpp"

namespace rtev::cli {

namespace {

std::string reconnected_note(wire_protocol p) {
  switch (p) {
    case wire_protocol::rtev:
      break;
    case wire_protocol::sse:
      return "reconnected; resuming after the last event id (Last-Event-ID)";
    case wire_protocol::socketio:
      return "reconnected; rooms joined again (only rtev serve replays what was missed)";
  }
  return "reconnected; resuming without gaps";
}

}  // namespace

nlohmann::json parse_since_flag(const std::string& text) {
  if (text == "beginning") return "beginning";
  std::string digits = text.rfind("seq:", 0) == 0 ? text.substr(4) : text;
  if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos &&
      digits.size() < 20)
    return std::stoull(digits);
  if (text.find('T') != std::string::npos || text.find('-') != std::string::npos) {
    try {
      time::parse_rfc3339(text);
      return text;
    } catch (const std::exception& e) {
      throw usage_error(std::string("--since: ") + e.what());
    }
  }
  try {
    const auto back = parse_duration(text);
    return time::format_rfc3339(time::now() - back);
  } catch (const config_error&) {
    throw usage_error(
        "--since: expected a duration (5m), an RFC 3339 time, seq:N or beginning, got '" + text +
        "'");
  }
}

static void add_filters(CLI::App* cmd, tail_options& o, bool rooms_flag) {
  const char* g = "Filters";
  cmd->add_option("--type", o.types, "Only these event types (repeatable; globs like message_*)")
      ->group(g);
  if (rooms_flag)
    cmd->add_option("--room", o.rooms, "Only these rooms (repeatable; globs need admin)")->group(g);
  cmd->add_option("--where", o.where,
                  "Field test, e.g. data.platform=whatsapp or data.x!=1 (repeatable)")
      ->group(g);
  cmd->add_option("--since", o.since,
                  "Replay first from: 5m, 2024-01-15T10:00:00Z, seq:N or beginning")
      ->group(g);
  cmd->add_flag("--until-end", o.until_end, "Stop after the replayed history")->group(g);
  cmd->add_option("--count", o.count, "Exit 0 after N matching events")
      ->check(whole_number(1, 1'000'000'000'000))
      ->group(g);
  cmd->add_option("--timeout", o.timeout,
                  "Total deadline, e.g. 10s (exit 5 if --count was not reached)")
      ->group(g);
  add_common(*cmd, o.common);
  add_protocol(*cmd, o.common);
  add_output(*cmd, o.out);
}

void setup_tail(CLI::App& app, tail_options& o) {
  auto* cmd = app.add_subcommand("tail", "Follow events, with filters, a count and a deadline");
  cmd->add_option("url", o.url_arg, "Server URL (instead of --url)");
  add_filters(cmd, o, true);
}

void setup_subscribe(CLI::App& app, tail_options& o) {
  auto* cmd =
      app.add_subcommand("subscribe", "Join rooms and stream every event of them (JSONL in pipes)");
  cmd->add_option("rooms", o.rooms, "Rooms to join")->required();
  add_filters(cmd, o, false);
}

int run_tail(tail_options& o) {
  common_options& common = o.common;
  if (!o.url_arg.empty()) {
    if (o.url_arg.find("://") == std::string::npos)
      throw usage_error("tail: unexpected argument '" + o.url_arg +
                        "' (the only argument is a URL: ws://, wss://, http:// or https://…)");
    if (!common.url.empty() && common.url != o.url_arg)
      throw usage_error("tail: two URLs, '" + common.url + "' (--url) and '" + o.url_arg + "'");
    common.url = o.url_arg;
  }
  common.resolve();
  event_printer printer(o.out, common);
  std::vector<where_test> wheres;
  for (const auto& w : o.where) wheres.push_back(parse_where(w));
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (o.timeout)
    deadline = std::chrono::steady_clock::now() + duration_flag("--timeout", *o.timeout);
  nlohmann::json since = o.since.empty() ? nlohmann::json(nullptr) : parse_since_flag(o.since);
  if (o.count && *o.count == 0) return exit_ok;

  const wire_protocol proto = common.protocol;
  // --until-end ends when every room has answered its join after the replay: SSE has no such
  // answer, and a Socket.IO connection without rooms has nothing to wait for.
  if (o.until_end) {
    require_protocol(common, "--until-end", {wire_protocol::rtev, wire_protocol::socketio});
    if (proto == wire_protocol::socketio && o.rooms.empty() && common.proto.joins.empty())
      throw usage_error("--until-end with --protocol socketio needs --room or --join");
  }

  stopper stop;
  stop_on_signals(stop);

  client_options copt = common.client_config();
  const bool all_rooms = o.rooms.empty();
  // The rooms this connection joins. rtev: every room it may see ("*") unless --room. Socket.IO:
  // --room and --join, with the join event. SSE: --room goes into the stream URL as ?rooms=
  // (rtev serve's way; the SDK adds it when the URL has none); without it the URL decides.
  if (proto == wire_protocol::rtev) {
    copt.rooms = all_rooms ? std::vector<std::string>{"*"} : o.rooms;
  } else {
    for (const auto& r : o.rooms)
      if (std::find(copt.rooms.begin(), copt.rooms.end(), r) == copt.rooms.end())
        copt.rooms.push_back(r);
  }
  copt.types = o.types;
  copt.since = since;
  client c(copt);

  std::atomic<std::uint64_t> matched{0};
  std::string self_user;  // service thread only
  // The server is a WebSocket server that does not speak rtev's protocol (set on connecting).
  std::atomic<bool> foreign{false};
  auto events = c.on("*", [&](const event& e) {
    // Our own connection's presence events are noise, not news.
    if (e.room == std::optional<std::string>("presence") && e.data.is_object() &&
        e.data.value("user_id", "") == self_user &&
        (e.type == "user_online" || e.type == "user_offline"))
      return;
    // Socket.IO's `authenticated` / `auth_error` (rtev serve sends the first on every connect;
    // other servers answer an `authenticate` emit with either) belong to the handshake: said
    // with -v (a rejection also ends the command with exit 4 and its message), printed only
    // when --type asks for them.
    if (proto == wire_protocol::socketio && (e.type == "authenticated" || e.type == "auth_error") &&
        o.types.empty()) {
      debug(common, e.type + ": " + e.data.dump());
      return;
    }
    if (!o.types.empty() && std::none_of(o.types.begin(), o.types.end(), [&](const std::string& t) {
          return glob_match(t, e.type);
        }))
      return;
    // --room shows only those rooms; without it, broadcasts show too. Events from SSE,
    // Socket.IO and foreign WebSocket servers rarely say which room they came through: those
    // without one are shown.
    if (!all_rooms && (e.room || (proto == wire_protocol::rtev && !foreign)) &&
        (!e.room || std::none_of(o.rooms.begin(), o.rooms.end(),
                                 [&](const std::string& r) { return glob_match(r, *e.room); })))
      return;
    if (!wheres.empty()) {
      const nlohmann::json env = e.to_json();
      for (const auto& w : wheres)
        if (!w.holds(env)) return;
    }
    // Exactly --count events are printed, even when more arrive before the exit.
    if (o.count) {
      const std::uint64_t n = ++matched;
      if (n > *o.count) return;
      printer.print(e);
      if (n == *o.count) stop.finish(exit_ok);
      return;
    }
    printer.print(e);
  });

  std::atomic<std::size_t> joined{0};
  std::atomic<bool> firehose_refused{false};
  auto check_end = [&] {
    if (o.until_end && joined + (firehose_refused ? 1 : 0) >= copt.rooms.size())
      stop.finish(exit_ok);
  };
  auto joins = c.on_joined([&](const join_info& j) {
    if (!foreign)
      debug(common, "joined " + j.room + " (replayed " + std::to_string(j.replayed) + ")");
    if (std::find(copt.rooms.begin(), copt.rooms.end(), j.room) != copt.rooms.end()) {
      ++joined;
      check_end();
    }
  });
  c.on_error([&](const client_error& err) {
    if (all_rooms && err.what == client_error::kind::server && err.code == "forbidden" &&
        err.message.find("'*'") != std::string::npos) {
      // Not allowed to follow every room: what the user may see is its own rooms and broadcasts.
      debug(common, "not allowed to follow every room; following your own rooms and broadcasts");
      firehose_refused = true;
      check_end();
      return;
    }
    if (err.what == client_error::kind::server) {
      note(common, "server: " + err.message);
      // A room that cannot be joined (whatever the server's reason) is an error: the command
      // would wait for events that never come.
      if (err.op == "SUBSCRIBE" || err.code == "forbidden" || err.code == "bad_request")
        stop.finish(exit_error);
      return;
    }
    note(common, err.message);
  });
  bool was_connected = false;
  std::atomic<bool> stopping{false};
  auto states = c.on_state([&](const state_info& s) {
    if (s.state == client_state::reconnecting) {
      const std::string line = (was_connected ? "connection lost (" : "cannot connect yet (") +
                               s.reason + "); reconnecting in " + std::to_string(s.delay.count()) +
                               " ms (attempt " + std::to_string(s.attempt) + ")";
      if (was_connected)
        note(common, line);
      else
        debug(common, line);
    } else if (s.state == client_state::connected) {
      // Said here, on the service thread, so it comes before the first event's lines.
      foreign = s.foreign;
      if (s.foreign && !was_connected && (o.until_end || !o.since.empty()))
        note(common, std::string(o.until_end ? "--until-end" : "--since") +
                         ": this server does not speak rtev's protocol and replays nothing" +
                         (o.until_end ? "; ending" : ""));
      if (was_connected)
        note(common, s.foreign ? "reconnected" : reconnected_note(proto));
      else if (s.foreign)
        debug(common, "connected to " + copt.url +
                          " (a WebSocket server that does not speak rtev's protocol: " + s.reason +
                          "); its messages are read leniently" +
                          (all_rooms ? "" : ", and --room only filters (nothing can be joined)"));
      else
        debug(common, "connected to " + copt.url + " (" + std::string(to_string(proto)) + ")");
      was_connected = true;
      self_user = s.user_id;
    } else if (s.state == client_state::closed && was_connected && !stopping) {
      note(common, s.reason);
      stop.finish(s.auth_failed ? exit_auth : exit_connect);
    }
  });
  auto gaps = c.on_gap([&](const gap_info& g) {
    note(common, "gap in " + g.room + " after seq " + std::to_string(g.after_seq) +
                     (g.epoch_changed ? ": the server's store changed"
                                      : ": history no longer reaches back") +
                     "; events may be missing");
  });

  connect_or_exit(c, common, deadline);
  auto code = stop.wait_until(deadline);
  stopping = true;
  c.stop();
  if (!code) {
    if (o.count) {
      note(common, "deadline reached after " + std::to_string(matched.load()) + " of " +
                       std::to_string(*o.count) + " events");
      return exit_deadline;
    }
    return exit_ok;
  }
  return *code;
}

}  // namespace rtev::cli
