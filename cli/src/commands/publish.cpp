#include "commands/publish.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>

#include <unistd.h>

#include "connecting.hpp"
#include "connection_flags.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "http_request.hpp"
#include "interrupts.hpp"
#include "protocol_choice.hpp"
#include "publish_pacing.hpp"
#include "recorded_events.hpp"
#include "rtev/duration.hpp"
#include "rtev/json.hpp"
#include "rtev/time.hpp"

namespace rtev::cli {

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

// {{seq}} → 1..N, {{now}} → RFC 3339 now (in --tz), {{uuid}} → a new UUID.
std::string expand(const std::string& text, std::uint64_t seq, const std::string& tz) {
  std::string out = replace_all(text, "{{seq}}", std::to_string(seq));
  out = replace_all(out, "{{now}}", time::format_rfc3339(time::now(), tz));
  while (out.find("{{uuid}}") != std::string::npos)
    out = out.replace(out.find("{{uuid}}"), 8, make_event_id());
  return out;
}

std::string read_all(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// --format jsonl: one line per acknowledgement, flushed at once (a script reads them as they
// come).
void print_ack_line(nlohmann::json id, nlohmann::json seq) {
  std::cout << nlohmann::json{{"id", std::move(id)}, {"seq", std::move(seq)}}.dump() << std::endl;
}

// A seq of 0 is none: a Socket.IO server that does not acknowledge, or acknowledges without one.
void print_ack_line(const publish_ack& ack) {
  print_ack_line(ack.id, ack.seq == 0 ? nlohmann::json() : nlohmann::json(ack.seq));
}

}  // namespace

void setup_publish(CLI::App& app, publish_options& o) {
  auto* cmd = app.add_subcommand("publish", "Publish events and wait for every ACK");
  cmd->add_option("type", o.type, "Event type (not with --jsonl)");
  cmd->add_option("data", o.data_arg,
                  "Data as JSON, or - for stdin (templates: {{seq}} {{now}} {{uuid}})");
  cmd->add_option("--data", o.data_flag, "Data as JSON, @FILE, or - for stdin");
  auto* room = cmd->add_option("--room", o.room, "Publish to this room");
  auto* user = cmd->add_option("--user", o.user, "Publish to this user's room user:ID");
  auto* bc = cmd->add_flag("--broadcast", o.broadcast,
                           "Publish to everyone (a target is required: --room, --user or this)");
  room->excludes(user)->excludes(bc);
  user->excludes(bc);
  cmd->add_option("--count", o.count, "Publish N times ({{seq}} counts 1..N)")
      ->capture_default_str()
      ->check(whole_number(1, 1'000'000'000'000));
  cmd->add_option("--rate", o.rate, "At most this many per second, e.g. 10/s");
  cmd->add_flag("--jsonl", o.jsonl, "Read whole envelopes, one per line, from stdin");
  cmd->add_flag("--keep-ids", o.keep_ids,
                "With --jsonl: keep recorded ids (the server then deduplicates)");
  cmd->add_flag("--http", o.http, "Publish through POST /api/events (--token is the API key)");
  cmd->add_option("--format", o.format,
                  "text (nothing on stdout) or jsonl (each acknowledgement as {\"id\",\"seq\"})")
      ->check(CLI::IsMember({"text", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--ack-timeout", o.ack_timeout,
                  "Give up when no ACK comes for this long after the last event (exit 1 naming "
                  "those missing)")
      ->capture_default_str();
  add_common(*cmd, o.common);
  add_protocol(*cmd, o.common, true, true);
}

int publish_all(const common_options& common, std::vector<outgoing_event> events, bool http,
                const std::function<std::chrono::microseconds(std::size_t)>& wait_before,
                std::chrono::milliseconds ack_wait, bool ack_lines) {
  return publish_all(
      common, events.size(), [&events](std::size_t i) { return std::move(events[i]); }, http,
      wait_before, ack_wait, ack_lines);
}

int publish_all(const common_options& common, std::uint64_t count,
                const std::function<outgoing_event(std::uint64_t)>& make, bool http,
                const std::function<std::chrono::microseconds(std::size_t)>& wait_before,
                std::chrono::milliseconds ack_wait, bool ack_lines) {
  if (count == 0) return exit_ok;
  // For the message when a signal stops the loop (interrupts.hpp).
  const auto sent_so_far = [count](std::uint64_t i) {
    return " after sending " + std::to_string(i) + " of " + std::to_string(count) + " events";
  };
  if (http) require_protocol(common, "--http", {wire_protocol::rtev, wire_protocol::sse});
  std::mutex m;  // guards failures, pending, gave_up, limit
  std::vector<std::string> failures;
  bool auth_rejected = false;
  using namespace std::chrono_literals;
  publish_progress progress(::isatty(2) != 0 && !common.quiet && common.verbose == 0, count);

  if (http) {
    std::vector<std::pair<std::string, std::string>> headers;  // --header ones are added
    if (!common.token.empty()) headers.emplace_back("Authorization", "Bearer " + common.token);
    http_client client(common);
    for (std::uint64_t i = 0; i < count; ++i) {
      if (auto w = wait_before(i); w.count() > 0) pause_or_interrupt(w, sent_so_far(i));
      throw_if_interrupted(sent_so_far(i));
      const outgoing_event next = make(i);
      const event& e = next.ev;
      nlohmann::json body = {{"type", e.type}, {"data", e.data}};
      if (e.room)
        body["room"] = *e.room;
      else
        body["broadcast"] = true;
      if (e.id) body["id"] = *e.id;
      http_result r;
      // 429 (over the server's per-address rate): nothing was stored, so the same request is
      // sent again after a growing pause, for at most the ACK wait.
      const auto give_up = std::chrono::steady_clock::now() + ack_wait;
      for (auto pause = std::chrono::milliseconds(20);; pause = std::min(pause * 2, 1000ms)) {
        try {
          r = client.fetch("POST", common.http_base() + "/api/events", body.dump(), headers);
        } catch (const usage_error&) {
          throw;
        } catch (const command_failure&) {
          throw;  // interrupted, or a refused certificate
        } catch (const std::exception& ex) {
          throw command_failure(exit_connect, ex.what());
        }
        if (r.status != 429 || std::chrono::steady_clock::now() + pause > give_up) break;
        pause_or_interrupt(pause, sent_so_far(i));
      }
      progress.update(i + 1);
      if (r.status == 202) {
        nlohmann::json ack = rtev::parse_json(r.body);
        debug(common, next.label + " stored as seq " +
                          (ack.is_object() ? ack.value("seq", nlohmann::json()).dump() : "?"));
        if (ack_lines && ack.is_object())
          print_ack_line(ack.value("id", nlohmann::json()), ack.value("seq", nlohmann::json()));
        continue;
      }
      nlohmann::json err = rtev::parse_json(r.body);
      std::string msg =
          err.is_object() && err.contains("error") ? err["error"].value("message", r.body) : r.body;
      if (r.status == 401 || r.status == 403) auth_rejected = true;
      failures.push_back(next.label + " rejected (HTTP " + std::to_string(r.status) + "): " + msg);
    }
    progress.finish(count);
  } else {
    // rtev: PUBLISH with an ACK; Socket.IO: the `publish` event with an acknowledgement; SSE:
    // a POST of the envelope to the stream URL (the SDK's SSE publish).
    client_options copt = common.client_config();
    copt.presence = false;  // a publisher is nobody's news: no user_online/user_offline
    copt.recover = false;   // and it follows no room, so there is nothing to resubscribe
    // A Socket.IO server that never acknowledges the event type itself: done well within the
    // --ack-timeout.
    copt.socketio.publish_ack_wait = std::min(copt.socketio.publish_ack_wait, ack_wait / 2);
    // The server's rate limit, as each connection announces it: publishing keeps under it.
    std::optional<rate_limit_info> limit;
    std::uint64_t connections = 0, budget_for = 0;  // connections seen; the one budget follows
    std::condition_variable cv;
    // Before the client: a signal unwinding the loop destroys the client first, and the answers
    // it still delivers (the unanswered events' errors) find these alive.
    std::map<std::uint64_t, std::string> pending;  // events without an answer yet → label
    std::uint64_t answered = 0;
    bool gave_up = false;
    client c(copt);
    c.on_error([&](const client_error& e) {
      // A room that cannot be joined (--join) fails the command like a refused event.
      if (e.what == client_error::kind::server && e.op == "SUBSCRIBE") {
        std::lock_guard<std::mutex> lock(m);
        failures.push_back(e.message);
        return;
      }
      note(common, e.message);
    });
    auto states = c.on_state([&](const state_info& s) {
      if (s.state != client_state::connected) return;
      {
        std::lock_guard<std::mutex> lock(m);
        limit = s.rate_limit;
        ++connections;
      }
      cv.notify_all();
    });
    connect_or_exit(c, common);
    {
      // connected() resolves just before the state handlers run: wait for ours, so the first
      // events are already paced (it follows within microseconds; the bound is a safeguard).
      std::unique_lock<std::mutex> lock(m);
      cv.wait_for(lock, 2s, [&] { return connections > 0; });
    }
    send_budget budget;
    // Built one at a time: `--count 1000000` holds only the unanswered events in memory.
    for (std::uint64_t i = 0; i < count; ++i) {
      {
        std::lock_guard<std::mutex> lock(m);
        if (connections != budget_for) {
          budget_for = connections;
          if (limit) {
            budget.reset(*limit, std::chrono::steady_clock::now());
            debug(common, "pacing under the server's limit of " +
                              std::to_string(static_cast<long>(limit->per_second)) + "/s (burst " +
                              std::to_string(static_cast<long>(limit->burst)) + ")");
          }
        }
        progress.update(answered);
      }
      auto w = std::max(wait_before(i), budget.wait(std::chrono::steady_clock::now()));
      if (w.count() > 0)
        pause_or_interrupt(std::chrono::duration_cast<std::chrono::microseconds>(w),
                           sent_so_far(i));
      throw_if_interrupted(sent_so_far(i));
      budget.take(std::chrono::steady_clock::now());
      outgoing_event next = make(i);
      const std::string label = next.label;
      {
        std::lock_guard<std::mutex> lock(m);
        pending.emplace(i, label);
      }
      c.publish(next.ev, [&, i, label](const publish_ack* ack, const client_error* err) {
        std::lock_guard<std::mutex> lock(m);
        if (gave_up) return;  // already reported as unanswered
        if (ack && !ack->acknowledged)
          debug(common, label + " sent; the server did not acknowledge it within " +
                            std::to_string(copt.socketio.publish_ack_wait.count()) + " ms");
        else if (ack && ack->seq == 0 && common.protocol == wire_protocol::socketio)
          debug(common, label + " acknowledged");
        else if (ack)
          debug(common, label + " stored as seq " + std::to_string(ack->seq) +
                            (ack->duplicate ? " (duplicate)" : ""));
        else
          failures.push_back(label + " rejected: " + (err->code.empty() ? "" : err->code + ": ") +
                             err->message);
        if (ack && ack_lines) print_ack_line(*ack);
        pending.erase(i);
        ++answered;
        cv.notify_all();
      });
    }
    interrupt_hook wake([&](int) {
      std::lock_guard<std::mutex> guard(m);
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(m);
    // A stall, not a duration: the time runs from the last event sent or the last answer. Over
    // SSE or --http the SDK paces the POSTs under the server's per-address limit after the
    // loop above has handed them all over (500 events at 100/s take 5 s by themselves).
    auto until = std::chrono::steady_clock::now() + ack_wait;
    std::uint64_t seen = answered;
    while (!pending.empty() && interrupt_signal() == 0 &&
           std::chrono::steady_clock::now() < until) {
      cv.wait_until(lock, std::min(until, std::chrono::steady_clock::now() + 250ms),
                    [&] { return pending.empty() || interrupt_signal() != 0; });
      if (answered != seen) {
        seen = answered;
        until = std::chrono::steady_clock::now() + ack_wait;
      }
      progress.update(answered);
    }
    if (const int sig = interrupt_signal(); sig != 0 && !pending.empty()) {
      gave_up = true;
      for (const auto& f : failures) note(common, f);
      throw interrupted(sig, "; " + std::to_string(pending.size()) + " of " +
                                 std::to_string(count) + " events not acknowledged yet");
    }
    if (!pending.empty()) {
      gave_up = true;
      for (const auto& [i, label] : pending)
        failures.push_back(label + ": no acknowledgement within " +
                           std::to_string(ack_wait.count()) + " ms");
    }
    progress.finish(answered);
    lock.unlock();
    c.stop();
  }
  for (const auto& f : failures) note(common, f);
  if (auth_rejected) return exit_auth;
  return failures.empty() ? exit_ok : exit_error;
}

int run_publish(publish_options& o) {
  common_options& common = o.common;
  common.resolve();
  std::chrono::microseconds gap{0};
  if (o.rate) {
    gap = std::chrono::microseconds(static_cast<std::int64_t>(1e6 / rate_flag("--rate", *o.rate)));
  }
  const auto ack_wait = duration_flag("--ack-timeout", o.ack_timeout);
  const auto pace = [gap](std::size_t i) { return i == 0 ? std::chrono::microseconds(0) : gap; };
  std::vector<outgoing_event> events;
  if (o.jsonl) {
    if (!o.type.empty())
      throw usage_error("--jsonl reads whole envelopes from stdin: give no TYPE");
    recorded_event_reader reader(o.keep_ids, o.room);
    std::string line;
    for (std::size_t n = 1; std::getline(std::cin, line); ++n) {
      std::optional<event> e;
      try {
        e = reader.read(line);
      } catch (const parse_error& err) {
        throw usage_error("stdin line " + std::to_string(n) + ": " + err.what());
      }
      if (e) events.push_back({*e, "line " + std::to_string(n) + " (" + e->type + ")"});
    }
    reader.note_skipped(common);
  } else {
    if (o.type.empty()) throw usage_error("publish: give an event TYPE (or --jsonl)");
    if (!o.data_arg.empty() && !o.data_flag.empty())
      throw usage_error("give the data once: as an argument or with --data");
    std::string text = !o.data_flag.empty() ? o.data_flag : o.data_arg;
    if (text == "-")
      text = read_all(std::cin);
    else if (!text.empty() && text.front() == '@') {
      std::ifstream f(text.substr(1));
      if (!f) throw usage_error("--data: cannot read '" + text.substr(1) + "'");
      text = read_all(f);
    }
    if (text.empty()) text = "{}";
    // Events are built as they are sent (--count may be large); the first is built here so
    // that bad DATA is a usage error before anything is sent.
    auto make = [&](std::uint64_t index) {
      const std::uint64_t n = index + 1;  // {{seq}} counts from 1
      event e;
      e.type = o.type;
      const std::string expanded = expand(text, n, common.tz);
      std::string why;
      e.data = rtev::parse_json(expanded, &why);
      if (e.data.is_discarded())
        throw usage_error("DATA is not valid JSON (" + why +
                          "): " + rtev::printable(expanded.substr(0, 80)) +
                          (expanded.size() > 80 ? "…" : ""));
      if (!o.room.empty())
        e.room = o.room;
      else if (!o.user.empty())
        e.room = "user:" + o.user;
      return outgoing_event{e, "event " + std::to_string(n) + " (" + o.type + ")"};
    };
    std::optional<outgoing_event> first = make(0);
    // As the server: forgetting the room must not reach everyone (checked after DATA, whose
    // mistakes are the more specific ones). Socket.IO is exempt: a server other than rtev's
    // door takes `emit(type, data)`, which has no target (the door itself refuses a publish
    // without one, naming it).
    if (o.room.empty() && o.user.empty() && !o.broadcast &&
        common.protocol != wire_protocol::socketio)
      throw usage_error("publish: give a target: --room ROOM, --user ID or --broadcast (everyone)");
    return publish_all(
        common, o.count,
        [&](std::uint64_t index) {
          if (index == 0 && first) {
            outgoing_event e = std::move(*first);
            first.reset();
            return e;
          }
          return make(index);
        },
        o.http, pace, ack_wait, o.format == "jsonl");
  }
  return publish_all(common, std::move(events), o.http, pace, ack_wait, o.format == "jsonl");
}

}  // namespace rtev::cli
