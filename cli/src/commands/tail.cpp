#include "commands/tail.hpp"

#include <atomic>
#include <iostream>
#include <set>
#include <system_error>

#include "connecting.hpp"
#include "connection_flags.hpp"
#include "diagnostics.hpp"
#include "event_filters.hpp"
#include "exit_codes.hpp"
#include "interrupts.hpp"
#include "protocol_choice.hpp"
#include "ready_file.hpp"
#include "rtev/duration.hpp"
#include "rtev/glob.hpp"
#include "rtev/time.hpp"
#include "since_last.hpp"
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
  const char* forms = "a duration (5m), an RFC 3339 time, @UNIX_SECONDS, seq:N, now or beginning";
  if (text == "beginning") return "beginning";
  // Nothing stored before now is replayed; a reconnect still resumes from the last event seen.
  if (text == "now") return time::format_rfc3339(time::now());
  const auto all_digits = [](const std::string& d) {
    return !d.empty() && d.find_first_not_of("0123456789") == std::string::npos;
  };
  if (text.rfind('@', 0) == 0) {
    const std::string secs = text.substr(1);
    if (!all_digits(secs) || secs.size() > 11)
      throw usage_error("--since " + text + ": expected @ and a Unix time in seconds");
    return time::format_rfc3339(timestamp(std::chrono::seconds(std::stoll(secs))));
  }
  const bool seq_prefix = text.rfind("seq:", 0) == 0;
  std::string digits = seq_prefix ? text.substr(4) : text;
  if (all_digits(digits) && digits.size() < 20) {
    // A bare number that looks like a Unix time (10+ digits) is not taken for a seq.
    if (!seq_prefix && digits.size() >= 10)
      throw usage_error("--since " + text + ": a bare number this large is ambiguous: use seq:" +
                        text + " for a seq, or @" + text + " for a Unix time in seconds");
    return std::stoull(digits);
  }
  if (seq_prefix) throw usage_error("--since " + text + ": expected seq: and a number");
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
    throw usage_error(std::string("--since: expected ") + forms + ", got '" + text + "'");
  }
}

static void add_filters(CLI::App* cmd, tail_options& o, bool rooms_flag) {
  const char* g = "Filters";
  cmd->add_option("--type", o.types,
                  "Only these event types (repeatable; globs like message_*; '!user_*' excludes)")
      ->group(g);
  if (rooms_flag)
    cmd->add_option("--room", o.rooms, "Only these rooms (repeatable; globs need admin)")->group(g);
  cmd->add_flag("--presence", o.presence,
                "Also show the presence room's user_online/user_offline (hidden otherwise, "
                "unless --room presence)")
      ->group(g);
  cmd->add_option("--where", o.where,
                  "Field test (repeatable, all must hold): F=V, F!=V, F<V, F<=V, F>V, F>=V, "
                  "F~REGEX, F!~REGEX, F (exists), !F (missing); e.g. data.count>=10")
      ->group(g);
  cmd->add_option("--since", o.since,
                  "Replay first from: 5m, 2024-01-15T10:00:00Z, @UNIX_SECONDS, seq:N, now, "
                  "beginning, or last:N (the last N events of each room)")
      ->group(g);
  cmd->add_flag("--until-end", o.until_end, "Stop after the replayed history")->group(g);
  cmd->add_option("--count", o.count,
                  "Exit 0 after N matching events (exit 5 when --timeout or --until-end comes "
                  "first)")
      ->check(whole_number(1, 1'000'000'000'000))
      ->group(g);
  cmd->add_option("--timeout", o.timeout,
                  "Total deadline, e.g. 10s (exit 5 if --count was not reached)")
      ->group(g);
  cmd->add_option("--ready-file", o.ready_file,
                  "Write this file once every room is joined (then publishing cannot be missed)")
      ->group(g);
  add_common(*cmd, o.common);
  add_protocol(*cmd, o.common);
  add_output(*cmd, o.out);
  add_jq(*cmd, o.out);
}

void setup_tail(CLI::App& app, tail_options& o) {
  auto* cmd = app.add_subcommand("tail", "Follow events, with filters, a count and a deadline");
  cmd->add_option("url", o.url_arg, "Server URL (instead of --url)")->check(url_value());
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
  const type_filter types = parse_type_filter(o.types);
  // A typo of a catalog type would wait for events that never come: said once per value, and
  // the command goes on (servers may have types of their own).
  for (const auto& t : std::set<std::string>(o.types.begin(), o.types.end()))
    if (const std::string w = unknown_type_warning(t); !w.empty()) note(common, "warning: " + w);
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (o.timeout)
    deadline = std::chrono::steady_clock::now() + duration_flag("--timeout", *o.timeout);
  const std::optional<std::uint64_t> last = parse_since_last(o.since);
  nlohmann::json since =
      o.since.empty() || last ? nlohmann::json(nullptr) : parse_since_flag(o.since);
  // Found with HISTORY requests, which only rtev's WebSocket protocol has.
  if (last) require_protocol(common, "--since " + o.since, {wire_protocol::rtev});
  if (o.count && *o.count == 0) return exit_ok;

  const wire_protocol proto = common.protocol;
  // --until-end ends when every room has answered its join after the replay: SSE has no such
  // answer, and a Socket.IO connection without rooms has nothing to wait for.
  if (o.until_end) {
    require_protocol(common, "--until-end", {wire_protocol::rtev, wire_protocol::socketio});
    if (proto == wire_protocol::socketio && o.rooms.empty() && common.proto.joins.empty())
      throw usage_error("--until-end with --protocol socketio needs --room or --join");
  }

  if (!o.ready_file.empty()) prepare_ready_file("--ready-file", o.ready_file);

  stopper stop;
  std::atomic<std::uint64_t> matched{0};
  std::atomic<bool> following{false};  // connected once: a signal then ends a plain tail with 0
  auto progress = [&] {
    return std::to_string(matched.load()) + " of " + std::to_string(*o.count) + " events";
  };
  // A --count not met is never success: interrupted, it is 130/143 and says how far it got.
  interrupt_hook on_signal([&](int sig) {
    if (o.count)
      stop.finish(interrupt_exit_code(sig),
                  "interrupted by " + signal_name(sig) + " after " + progress());
    else if (following)
      stop.finish(exit_ok);
    else
      stop.finish(interrupt_exit_code(sig), "interrupted by " + signal_name(sig));
  });

  client_options copt = common.client_config();
  const bool all_rooms = o.rooms.empty();
  // The presence room's events are shown only when asked for: --presence, or naming the room.
  // (Events of those types in other rooms are ordinary events.)
  std::vector<std::string> rooms = o.rooms;
  const bool named_presence = std::find(rooms.begin(), rooms.end(), "presence") != rooms.end();
  const bool show_presence = o.presence || named_presence;
  if (o.presence && !named_presence) {
    if (!all_rooms) {
      rooms.push_back("presence");
    } else if (proto == wire_protocol::sse) {
      // A stream follows the rooms it names, or (none named) the user's own and broadcasts.
      throw usage_error(
          "--presence with --protocol sse needs --room (the stream follows the "
          "rooms it names; add --room presence and the others)");
    } else if (proto == wire_protocol::socketio) {
      copt.rooms.push_back("presence");
    }
  }
  // The rooms this connection joins. rtev: every room it may see ("*") unless --room. Socket.IO:
  // --room and --join, with the join event. SSE: --room goes into the stream URL as ?rooms=
  // (rtev serve's way; the SDK adds it when the URL has none); without it the URL decides.
  if (proto == wire_protocol::rtev) {
    copt.rooms = all_rooms ? std::vector<std::string>{"*"} : rooms;
  } else {
    for (const auto& r : rooms) copt.rooms.push_back(r);
  }
  // Joined once each (the client keeps a set): `--room a --room a` waits for one answer.
  const std::set<std::string> wanted_rooms(copt.rooms.begin(), copt.rooms.end());
  copt.rooms.assign(wanted_rooms.begin(), wanted_rooms.end());
  // The server filters by the included types; the excluded ones are dropped here.
  copt.types = types.include;
  copt.since = since;
  if (last) copt.room_since = since_last_points(common, copt, *last, deadline);
  client c(copt);

  std::string self_user;  // service thread only
  // The server is a WebSocket server that does not speak rtev's protocol (set on connecting).
  std::atomic<bool> foreign{false};
  auto events = c.on("*", [&](const event& e) {
    if (!show_presence && e.room == std::optional<std::string>("presence")) return;
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
        types.include.empty()) {
      debug(common, e.type + ": " + e.data.dump());
      return;
    }
    if (!types.matches(e.type)) return;
    // --room shows only those rooms; without it, broadcasts show too. Events from SSE,
    // Socket.IO and foreign WebSocket servers rarely say which room they came through: those
    // without one are shown.
    if (!all_rooms && (e.room || (proto == wire_protocol::rtev && !foreign)) &&
        (!e.room || std::none_of(rooms.begin(), rooms.end(),
                                 [&](const std::string& r) { return glob_match(r, *e.room); })))
      return;
    if (!wheres.empty()) {
      const nlohmann::json env = e.to_json();
      for (const auto& w : wheres)
        if (!w.holds(env)) return;
    }
    // Exactly --count events are printed, even when more arrive before the exit. An event
    // --jq shows nothing for is not counted. (Service thread only: matched is atomic for the
    // signal handler's progress line.)
    if (o.count && matched >= *o.count) return;
    if (!printer.print(e)) return;
    const std::uint64_t n = ++matched;
    if (o.count && n == *o.count) stop.finish(exit_ok);
  });

  // Service thread only: the rooms answered so far, and whether "ready" was said.
  std::set<std::string> joined;
  bool firehose_refused = false, ready_said = false;
  auto all_joined = [&] {
    return joined.size() + (firehose_refused ? 1 : 0) >= wanted_rooms.size();
  };
  // Ready: every room joined (rtev, Socket.IO), or the stream open (SSE; Socket.IO without
  // rooms). Said once, with -v and in --ready-file.
  auto say_ready = [&] {
    if (ready_said) return;
    ready_said = true;
    if (!o.ready_file.empty() && !write_file_atomically(o.ready_file, "ready\n")) {
      stop.finish(exit_error, "--ready-file: cannot write '" + o.ready_file +
                                  "': " + std::generic_category().message(errno));
      return;
    }
    debug(common, "ready");  // after the file: whoever reads this line finds it
  };
  auto check_joined = [&] {
    if (!all_joined()) return;
    say_ready();
    // The SUBSCRIBE answers come after the replayed history: the end of it is here.
    if (o.until_end) {
      if (o.count && matched < *o.count)
        stop.finish(exit_deadline, "end of history after " + progress());
      else
        stop.finish(exit_ok);
    }
  };
  auto joins = c.on_joined([&](const join_info& j) {
    if (!foreign)
      debug(common, "joined " + j.room + " (replayed " + std::to_string(j.replayed) + ")");
    if (wanted_rooms.count(j.room)) {
      joined.insert(j.room);
      check_joined();
    }
  });
  c.on_error([&](const client_error& err) {
    if (all_rooms && err.what == client_error::kind::server && err.code == "forbidden" &&
        err.message.find("'*'") != std::string::npos) {
      // Not allowed to follow every room: what the user may see is its own rooms and broadcasts.
      debug(common, "not allowed to follow every room; following your own rooms and broadcasts");
      firehose_refused = true;
      check_joined();
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
      following = true;
      self_user = s.user_id;
      // Nothing to join (SSE: the stream is the subscription): ready now.
      if (copt.rooms.empty() || proto == wire_protocol::sse) say_ready();
    } else if (s.state == client_state::closed && was_connected && !stopping) {
      note(common, s.reason);
      stop.finish(s.auth_failed ? exit_auth : exit_connect);
    }
  });
  auto gaps = c.on_gap([&](const gap_info& g) {
    // After a store change a seq of the old store means nothing in the new one: say which
    // store it was of; the new store's events follow from its beginning.
    note(common,
         g.epoch_changed
             ? "gap in " + g.room + ": the server's store changed (the last event seen was seq " +
                   std::to_string(g.previous_seq) +
                   " of the old one); replaying the new store's events; events may be missing"
             : "gap in " + g.room + " after seq " + std::to_string(g.after_seq) +
                   ": history no longer reaches back; events may be missing");
  });

  // The server's own state (a cluster node that lost its broker): said once per change.
  auto status = c.on_server_status([&](const server_status_info& s) {
    note(common, s.ok ? "the server at " + s.server_url + " is ok again"
                      : "the server at " + s.server_url + " is degraded: " + s.reason +
                            " (its publishes are refused and other nodes' events wait)");
  });

  connect_or_exit(c, common, deadline);
  auto result = stop.wait_until(deadline);
  stopping = true;
  c.stop();
  if (!result) {
    if (o.count) {
      note(common, "deadline reached after " + progress());
      return exit_deadline;
    }
    return exit_ok;
  }
  if (!result->message.empty()) note(common, result->message);
  return result->code;
}

}  // namespace rtev::cli
