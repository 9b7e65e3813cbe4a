#include "commands/connect.hpp"

#include <unistd.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

#include "exit_codes.hpp"
#include "stopper.hpp"

namespace rtev::cli {

void setup_connect(CLI::App& app, connect_options& o) {
  auto* cmd =
      app.add_subcommand("connect", "Interactive session: print events, send typed lines (/help)");
  cmd->add_option("url", o.url_arg, "Server URL (instead of --url)");
  cmd->add_option("--reply-timeout", o.reply_timeout,
                  "With piped input: wait this long for outstanding replies")
      ->capture_default_str();
  add_common(*cmd, o.common);
  add_output(*cmd, o.out);
}

namespace {

const char* help_text =
    "  {json}                 send a raw rtev message, e.g. {\"type\":\"PING\"}\n"
    "  /sub ROOM              join a room            /unsub ROOM     leave it\n"
    "  /pub TYPE JSON [ROOM]  publish (no ROOM: broadcast)\n"
    "  /typing ROOM on|off    typing indicator       /ping           round trip\n"
    "  /history ROOM          stored events          /quit           leave\n";

// Replies still awaited, by ref (raw messages get a ref added when they have none).
struct outstanding {
  std::mutex mutex;  // guards refs
  std::condition_variable cv;
  std::set<std::string> refs;
  void add(const std::string& r) {
    std::lock_guard<std::mutex> lock(mutex);
    refs.insert(r);
  }
  void done(const std::string& r) {
    std::lock_guard<std::mutex> lock(mutex);
    refs.erase(r);
    cv.notify_all();
  }
  bool wait_empty(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, limit, [&] { return refs.empty(); });
  }
};

}  // namespace

int run_connect(connect_options& o) {
  common_options& common = o.common;
  if (!o.url_arg.empty()) common.url = o.url_arg;
  common.resolve();
  const auto reply_wait = duration_flag("--reply-timeout", o.reply_timeout);
  event_printer printer(o.out, common);
  const bool interactive = ::isatty(0) != 0;

  client_options copt = common.client_config();
  client c(copt);
  outstanding pending;
  std::atomic<std::uint64_t> next_ref{1};
  std::mutex print_mutex;  // guards stdout between the reader and the service thread

  auto raw = c.on_raw([&](const std::string& text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    std::lock_guard<std::mutex> lock(print_mutex);
    if (j.is_object() && j.contains("type") && j.contains("timestamp") && j.contains("data") &&
        !j.contains("history")) {
      try {
        printer.print(event::from_json(j));
      } catch (const parse_error&) {
        std::cout << text << std::endl;
      }
    } else {
      std::cout << text << std::endl;
    }
    if (j.is_object() && j.contains("ref") && j["ref"].is_string()) {
      const std::string type = j.value("type", "");
      if (type == "ACK" || type == "ERROR" || type == "PONG")
        pending.done(j["ref"].get<std::string>());
    }
  });
  c.on_error([&](const client_error& e) {
    if (e.what != client_error::kind::server)
      note(common, e.message);  // server errors are printed raw
  });
  auto states = c.on_state([&](const state_info& s) {
    if (s.state == client_state::reconnecting)
      note(common, "connection lost (" + s.reason + "); reconnecting");
  });
  connect_or_exit(c, common);
  if (interactive) note(common, "connected to " + common.url + " — type /help");

  auto send_op = [&](nlohmann::json msg) {
    const std::string ref = "cli-" + std::to_string(next_ref++);
    msg["ref"] = ref;
    pending.add(ref);
    c.send_raw(msg.dump());
  };

  int code = exit_ok;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream words(line);
    std::string cmd;
    words >> cmd;
    if (line.front() == '{' || line.front() == '[') {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) {
        note(common, "not valid JSON: " + line);
        if (!interactive) code = exit_error;
        continue;
      }
      if (j.is_object() && !j.contains("ref"))
        send_op(j);
      else
        c.send_raw(j.dump());
    } else if (cmd == "/quit" || cmd == "/exit") {
      break;
    } else if (cmd == "/help") {
      std::cerr << help_text;
    } else if (cmd == "/sub" || cmd == "/unsub" || cmd == "/history") {
      std::string room;
      words >> room;
      if (room.empty()) {
        note(common, cmd + " needs a ROOM");
        continue;
      }
      send_op({{"type", cmd == "/sub"     ? "SUBSCRIBE"
                        : cmd == "/unsub" ? "UNSUBSCRIBE"
                                          : "HISTORY"},
               {"data", {{"room", room}}}});
    } else if (cmd == "/pub") {
      std::string type, rest;
      words >> type;
      std::getline(words, rest);
      rest.erase(0, rest.find_first_not_of(' '));
      // The JSON is everything up to an optional trailing room name.
      nlohmann::json data = nlohmann::json::parse(rest, nullptr, false);
      std::string room;
      if (data.is_discarded()) {
        const auto sp = rest.find_last_of(' ');
        if (sp != std::string::npos) {
          data = nlohmann::json::parse(rest.substr(0, sp), nullptr, false);
          room = rest.substr(sp + 1);
        }
      }
      if (type.empty() || data.is_discarded()) {
        note(common, "usage: /pub TYPE JSON [ROOM]");
        continue;
      }
      nlohmann::json d = {{"type", type}, {"data", data}};
      if (room.empty())
        d["broadcast"] = true;
      else
        d["room"] = room;
      send_op({{"type", "PUBLISH"}, {"data", d}});
    } else if (cmd == "/typing") {
      std::string room, state;
      words >> room >> state;
      if (room.empty() || (state != "on" && state != "off")) {
        note(common, "usage: /typing ROOM on|off");
        continue;
      }
      send_op(
          {{"type", state == "on" ? "TYPING_START" : "TYPING_STOP"}, {"data", {{"room", room}}}});
    } else if (cmd == "/ping") {
      send_op({{"type", "PING"}});
    } else {
      note(common, "unknown command '" + cmd + "' (/help lists them)");
    }
  }
  if (!pending.wait_empty(reply_wait)) {
    note(common, "gave up waiting for replies after " + o.reply_timeout);
    code = exit_error;
  }
  c.stop();
  return code;
}

}  // namespace rtev::cli
