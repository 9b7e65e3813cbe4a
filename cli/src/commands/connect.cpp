#include "commands/connect.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "connecting.hpp"
#include "connection_flags.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "history_file.hpp"
#include "interrupts.hpp"
#include "line_editor.hpp"
#include "rtev/catalog.hpp"
#include "rtev/json.hpp"
#include "stopper.hpp"

namespace rtev::cli {

void setup_connect(CLI::App& app, connect_options& o) {
  auto* cmd =
      app.add_subcommand("connect", "Interactive session: print events, send typed lines (/help)");
  cmd->add_option("url", o.url_arg, "Server URL (instead of --url)")->check(url_value());
  cmd->add_option("--reply-timeout", o.reply_timeout,
                  "With piped input: wait this long for outstanding replies")
      ->capture_default_str();
  add_common(*cmd, o.common);
  add_protocol(*cmd, o.common, false, true);
  add_output(*cmd, o.out);
}

namespace {

// The pending entry of an `authenticate` line (refs are JSON text: this cannot be one).
const std::string authenticate_key = "authenticate";

const char* help_text =
    "  {json}                 send a raw rtev message, e.g. {\"type\":\"PING\"}\n"
    "  /sub ROOM              join a room            /unsub ROOM     leave it\n"
    "  /pub TYPE JSON [ROOM]  publish (no ROOM: broadcast)\n"
    "  /typing ROOM on|off    typing indicator       /ping           round trip\n"
    "  /history ROOM          stored events          /quit           leave\n";

const char* socketio_help_text =
    "  /emit NAME [JSON]      emit an event (a JSON array: several arguments)\n"
    "  /emit-ack NAME [JSON]  the same, asking for an acknowledgement (printed as 43…)\n"
    "  [\"NAME\", ARGS…]        emit, written as Socket.IO writes events\n"
    "  42[\"NAME\",…]           send a packet as is, as browser devtools show it (2[…] too)\n"
    "  /sub ROOM              join with the join event   /unsub ROOM  leave it\n"
    "  /pub TYPE JSON [ROOM]  the publish event, with an acknowledgement\n"
    "  /typing ROOM on|off    typing indicator           /quit        leave\n";

const char* foreign_ws_help_text =
    "  This server does not speak rtev's protocol: every line is sent as it is (its own JSON\n"
    "  messages, e.g. {\"type\":\"ping\"}); what it sends is printed, read leniently\n"
    "  /quit                  leave\n";

const char* sse_help_text =
    "  SSE is receive-only: events are printed, nothing can be sent (publish with `rtev publish`)\n"
    "  /quit                  leave\n";

// A Socket.IO packet as on_raw reports it ("0{…}", "3/chat,1[…]"): EVENTs are shown by the
// event printer; the rest (CONNECT, ACK, CONNECT_ERROR, DISCONNECT) as received.
bool show_socketio_raw(const std::string& text) {
  return !text.empty() && text[0] != '2';
}

// "/emit NAME [JSON]": the arguments as emit() takes them; nullopt (and a note) when unusable.
std::optional<std::pair<std::string, nlohmann::json>> parse_emit(std::istringstream& words,
                                                                 const common_options& common,
                                                                 const std::string& cmd) {
  std::string name, rest;
  words >> name;
  std::getline(words, rest);
  rest.erase(0, rest.find_first_not_of(' '));
  nlohmann::json args = rest.empty() ? nlohmann::json::array() : rtev::parse_json(rest);
  if (name.empty() || args.is_discarded()) {
    note(common, "usage: " + cmd + " NAME [JSON]" +
                     (args.is_discarded() ? " (not valid JSON: " + rest + ")" : ""));
    return std::nullopt;
  }
  return std::make_pair(name, args);
}

// Replies still awaited, by ref (the JSON text of the ref: a line's own ref may be any JSON;
// raw messages without one get "cli-N"). A ref given twice is awaited twice.
struct outstanding {
  std::mutex mutex;  // guards refs, failed
  std::condition_variable cv;
  std::map<std::string, int> refs;
  bool failed = false;  // a reply was an ERROR (or a refusal): piped input exits 1
  interrupt_hook wake{[this](int) {
    std::lock_guard<std::mutex> lock(mutex);
    cv.notify_all();
  }};
  void add(const std::string& r) {
    std::lock_guard<std::mutex> lock(mutex);
    ++refs[r];
  }
  /// A reply arrived; false when nothing waited for that ref.
  bool done(const std::string& r, bool failure = false) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = refs.find(r);
    if (it == refs.end()) return false;
    if (--it->second == 0) refs.erase(it);
    failed = failed || failure;
    cv.notify_all();
    return true;
  }
  /// Whether every reply came within `limit`; throws interrupted on a signal.
  bool wait_empty(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mutex);
    const bool all_in =
        cv.wait_for(lock, limit, [&] { return refs.empty() || interrupt_signal() != 0; });
    lock.unlock();
    throw_if_interrupted(" while waiting for replies");
    return all_in;
  }
  bool any_failed() {
    std::lock_guard<std::mutex> lock(mutex);
    return failed;
  }
};

// Lines from stdin, read with poll() beside interrupt_fd(): a signal ends the wait for input
// (std::getline would hold Ctrl-C up until the next line).
class stdin_lines {
 public:
  /// The next line (without its '\n'); false at the end of input. Throws interrupted.
  bool next(std::string& line) {
    for (;;) {
      if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
        line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      if (eof_) {
        if (buf_.empty()) return false;
        line.swap(buf_);
        buf_.clear();
        return true;
      }
      pollfd p[2] = {{0, POLLIN, 0}, {interrupt_fd(), POLLIN, 0}};
      const int n = ::poll(p, p[1].fd >= 0 ? 2 : 1, -1);
      throw_if_interrupted();
      if (n < 0) {
        if (errno == EINTR) continue;
        eof_ = true;
        continue;
      }
      if (p[0].revents == 0) continue;
      char chunk[4096];
      const ssize_t got = ::read(0, chunk, sizeof chunk);
      if (got > 0)
        buf_.append(chunk, static_cast<std::size_t>(got));
      else if (got == 0 || (errno != EINTR && errno != EAGAIN))
        eof_ = true;
    }
  }

 private:
  std::string buf_;
  bool eof_ = false;
};

// What Tab completes in a terminal session: the /commands of the protocol spoken, then rooms
// (joined ones for /unsub and /typing, every room seen for /sub and /history), event types (the
// catalog's and those seen) for /pub, /emit and /emit-ack, and on|off for /typing ROOM.
class completions {
 public:
  /// The /commands typed lines may start with (set by the reader once the protocol is known).
  void set_commands(std::vector<std::string> commands) {
    std::lock_guard<std::mutex> lock(mutex_);
    commands_ = std::move(commands);
  }
  void joined(const std::string& room) {
    std::lock_guard<std::mutex> lock(mutex_);
    joined_.insert(room);
    rooms_.insert(room);
  }
  void left(const std::string& room) {
    std::lock_guard<std::mutex> lock(mutex_);
    joined_.erase(room);
  }
  void saw(const std::string& type, const std::optional<std::string>& room) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!type.empty()) types_.insert(type);
    if (room && !room->empty()) rooms_.insert(*room);
  }
  /// What an rtev message received says about rooms and types (ACKs of SUBSCRIBE and
  /// UNSUBSCRIBE, events).
  void saw_message(const nlohmann::json& j) {
    if (!j.is_object() || !j.value("type", nlohmann::json()).is_string()) return;
    const std::string type = j["type"].get<std::string>();
    const nlohmann::json& d = j.contains("data") ? j["data"] : j;
    if (type == "ACK" && d.is_object() && d.value("room", nlohmann::json()).is_string()) {
      const std::string op = d.value("op", "");
      if (op == "SUBSCRIBE") joined(d["room"].get<std::string>());
      if (op == "UNSUBSCRIBE") left(d["room"].get<std::string>());
    } else if (j.contains("timestamp") && type != "ACK" && type != "ERROR" && type != "PONG") {
      saw(type, j.value("room", nlohmann::json()).is_string()
                    ? std::optional<std::string>(j["room"].get<std::string>())
                    : std::nullopt);
    }
  }
  /// line_editor::completer: runs on the reader thread.
  std::vector<std::string> operator()(const std::string& before, const std::string& word) {
    std::istringstream in(before);
    std::vector<std::string> args;
    for (std::string w; in >> w;) args.push_back(w);
    std::lock_guard<std::mutex> lock(mutex_);
    if (args.empty())
      return word.empty() || word[0] == '/' ? commands_ : std::vector<std::string>{};
    const std::string& cmd = args[0];
    if (std::find(commands_.begin(), commands_.end(), cmd) == commands_.end()) return {};
    if (args.size() == 1) {
      if (cmd == "/unsub" || cmd == "/typing") return {joined_.begin(), joined_.end()};
      if (cmd == "/sub" || cmd == "/history") return {rooms_.begin(), rooms_.end()};
      if (cmd == "/pub" || cmd == "/emit" || cmd == "/emit-ack") {
        std::set<std::string> types = types_;
        for (const auto& e : catalog()) types.insert(e.name);
        return {types.begin(), types.end()};
      }
    }
    if (args.size() == 2 && cmd == "/typing") return {"on", "off"};
    return {};
  }

 private:
  std::mutex mutex_;  // guards everything below: the service thread adds, the reader reads
  std::vector<std::string> commands_;
  std::set<std::string> joined_, rooms_, types_;
};

const std::vector<std::string> rtev_commands = {"/sub",     "/unsub", "/pub",  "/typing", "/ping",
                                                "/history", "/quit",  "/exit", "/help"};
const std::vector<std::string> socketio_commands = {
    "/emit", "/emit-ack", "/sub", "/unsub", "/pub", "/typing", "/quit", "/exit", "/help"};
const std::vector<std::string> leave_commands = {"/quit", "/exit", "/help"};

const char* const prompt_connected = "rtev> ";
const char* const prompt_reconnecting = "rtev (reconnecting)> ";

// Where typed lines come from: the line editor when a person types at a terminal (stdin and
// stdout both terminals), else stdin as it is (a pipe, a file, or a terminal whose output is
// redirected), read without any prompt or history.
class typed_lines {
 public:
  typed_lines(completions& complete, const common_options& common) {
    if (!line_editor::wanted()) return;
    // Constructed before the client: the editor sets the locale while no other thread runs.
    editor_ = std::make_unique<line_editor>(
        prompt_connected, connect_history_path(),
        [&common](const std::string& problem) { note(common, problem); });
    editor_->set_completer(std::ref(complete));
  }
  bool next(std::string& line) { return editor_ ? editor_->next(line) : plain_.next(line); }
  /// The session takes no more lines: the terminal goes back to how it was.
  void close() {
    if (editor_) editor_->close();
  }
  /// Follows the connection in the prompt (any thread).
  void connected(bool up) {
    if (editor_) editor_->set_prompt(up ? prompt_connected : prompt_reconnecting);
  }
  bool editing() const { return editor_ != nullptr; }

 private:
  std::unique_ptr<line_editor> editor_;
  stdin_lines plain_;
};

// "/pub TYPE JSON [ROOM]": the JSON is everything up to an optional trailing room name.
bool read_pub_args(std::istream& words, std::string& type, nlohmann::json& data,
                   std::string& room) {
  std::string rest;
  words >> type;
  std::getline(words, rest);
  rest.erase(0, rest.find_first_not_of(' '));
  data = rtev::parse_json(rest);
  if (data.is_discarded()) {
    const auto sp = rest.find_last_of(' ');
    if (sp != std::string::npos) {
      data = rtev::parse_json(rest.substr(0, sp));
      room = rest.substr(sp + 1);
    }
  }
  return !type.empty() && !data.is_discarded();
}

// A session with a WebSocket server that does not speak rtev's protocol: lines go out as they
// are. Replies carry no ref to wait for, so once stdin ends the session lasts until the server
// has been quiet for a second (at most `reply_wait`).
int foreign_ws_session(client& c, const common_options& common, typed_lines& input,
                       bool interactive, std::chrono::milliseconds reply_wait,
                       const std::atomic<std::int64_t>& last_rx_ns) {
  using clock = std::chrono::steady_clock;
  auto now_ns = [] { return clock::now().time_since_epoch().count(); };
  std::atomic<std::int64_t> last_tx_ns{now_ns()};
  int code = exit_ok;
  std::string line;
  while (input.next(line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream words(line);
    std::string cmd;
    words >> cmd;
    if (cmd == "/quit" || cmd == "/exit") break;
    if (cmd == "/help") {
      std::cerr << foreign_ws_help_text;
      continue;
    }
    if (line.front() == '/') {
      note(common,
           cmd + " is rtev's, and this server does not speak rtev's protocol: not sent (/help)");
      if (!interactive) code = exit_error;
      continue;
    }
    c.send_raw(line);
    last_tx_ns = now_ns();
  }
  input.close();
  const auto quiet = std::chrono::seconds(1);
  const auto until = clock::now() + reply_wait;
  for (;;) {
    const auto last =
        clock::time_point(clock::duration(std::max(last_rx_ns.load(), last_tx_ns.load())));
    const auto now = clock::now();
    if (now >= last + quiet || now >= until) break;
    std::this_thread::sleep_for(std::min(last + quiet, until) - now);
  }
  return code;
}

// "connection lost" only after a connection was made; before, the attempt simply failed.
subscription report_reconnects(client& c, const common_options& common, typed_lines& input) {
  auto was_connected = std::make_shared<std::atomic<bool>>(false);
  return c.on_state([&common, &input, was_connected](const state_info& s) {
    if (s.state == client_state::connected || s.state == client_state::reconnecting)
      input.connected(s.state == client_state::connected);
    if (s.state == client_state::connected) *was_connected = true;
    if (s.state == client_state::reconnecting)
      note(common, (*was_connected ? "connection lost (" : "cannot connect yet (") + s.reason +
                       "); reconnecting");
  });
}

}  // namespace

// connect over SSE (receive-only) or Socket.IO: events go through the event printer, other
// Socket.IO packets (CONNECT, ACK, CONNECT_ERROR, …) are printed as received.
static int run_foreign_connect(connect_options& o, event_printer& printer, bool interactive,
                               std::chrono::milliseconds reply_wait) {
  common_options& common = o.common;
  const bool sio = common.protocol == wire_protocol::socketio;
  client_options copt = common.client_config();
  // Before the client, which may still answer a request (with an error) as it is destroyed.
  outstanding pending;
  std::atomic<std::uint64_t> next_ref{1};
  // Guards stdout and the printer between the reader and the service thread.
  std::mutex print_mutex;
  completions complete;
  complete.set_commands(sio ? socketio_commands : leave_commands);
  typed_lines input(complete, common);
  client c(copt);

  auto events = c.on("*", [&](const event& e) {
    complete.saw(e.type, e.room);
    std::lock_guard<std::mutex> lock(print_mutex);
    printer.print(e);
  });
  auto raw = c.on_raw([&](const std::string& text) {
    if (!sio || !show_socketio_raw(text)) return;
    std::lock_guard<std::mutex> lock(print_mutex);
    // With the Engine.IO message prefix, as devtools show packets and as input takes them.
    std::cout << '4' << text << std::endl;
  });
  auto joins = c.on_joined([&](const join_info& j) {
    complete.joined(j.room);
    debug(common, "joined " + j.room);
  });
  c.on_error([&](const client_error& e) { note(common, e.message); });
  auto states = report_reconnects(c, common, input);
  connect_or_exit(c, common);
  if (interactive)
    note(common, "connected to " + copt.url + " (" + std::string(to_string(common.protocol)) +
                     (sio ? " " + common.socketio.nsp : "") + ")" +
                     (sio ? " — type /help" : " — receive-only; /quit to leave"));

  // A request that waits for its answer: the reader only ends once every one is in.
  auto track = [&] {
    std::string ref = "cli-" + std::to_string(next_ref++);
    pending.add(ref);
    return ref;
  };
  int code = exit_ok;
  bool said_receive_only = false;
  std::string line;
  while (input.next(line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream words(line);
    std::string cmd;
    words >> cmd;
    if (cmd == "/quit" || cmd == "/exit") break;
    if (cmd == "/help") {
      std::cerr << (sio ? socketio_help_text : sse_help_text);
      continue;
    }
    if (!sio) {
      // Not sent: an SSE stream has no way back to the server.
      if (!said_receive_only || !interactive)
        note(common, "SSE is receive-only: not sent: " + line);
      said_receive_only = true;
      if (!interactive) code = exit_error;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(line.front()))) {
      // "42[…]" (Engine.IO message 4 + Socket.IO EVENT 2) or the bare Socket.IO packet "2[…]".
      const bool eio_prefixed =
          line.size() > 1 && line[0] == '4' && std::isdigit(static_cast<unsigned char>(line[1]));
      c.send_raw(eio_prefixed ? line.substr(1) : line);
    } else if (line.front() == '[') {
      nlohmann::json j = rtev::parse_json(line);
      if (!j.is_array() || j.empty() || !j[0].is_string()) {
        note(common, "expected [\"NAME\", ARGS…]: " + line);
        if (!interactive) code = exit_error;
        continue;
      }
      const std::string name = j[0].get<std::string>();
      j.erase(j.begin());
      c.emit(name, j);
    } else if (line.front() == '{') {
      note(common,
           "with --protocol socketio send /emit NAME JSON or a packet such as "
           "42[\"join\",{\"room\":\"lobby\"}] (/help)");
      if (!interactive) code = exit_error;
    } else if (cmd == "/emit" || cmd == "/emit-ack") {
      auto e = parse_emit(words, common, cmd);
      if (!e) {
        if (!interactive) code = exit_error;
        continue;
      }
      if (cmd == "/emit") {
        c.emit(e->first, e->second);
        continue;
      }
      const std::string ref = track();
      c.emit(e->first, e->second, [&, ref](const nlohmann::json*, const client_error* err) {
        if (err) note(common, "no acknowledgement: " + err->message);
        pending.done(ref, err != nullptr);
      });
    } else if (cmd == "/sub" || cmd == "/unsub") {
      std::string room;
      words >> room;
      if (room.empty()) {
        note(common, cmd + " needs a ROOM");
        continue;
      }
      if (cmd == "/sub") {
        c.join(room);
      } else {
        c.leave(room);
        complete.left(room);
      }
    } else if (cmd == "/pub") {
      std::string type, room;
      nlohmann::json data;
      if (!read_pub_args(words, type, data, room)) {
        note(common, "usage: /pub TYPE JSON [ROOM]");
        continue;
      }
      const std::string ref = track();
      c.publish(room, type, data, [&, ref](const publish_ack* ack, const client_error* err) {
        if (ack)
          debug(common, "published as seq " + std::to_string(ack->seq));
        else
          note(common,
               "publish rejected: " + (err->code.empty() ? "" : err->code + ": ") + err->message);
        pending.done(ref, err != nullptr);
      });
    } else if (cmd == "/typing") {
      std::string room, state;
      words >> room >> state;
      if (room.empty() || (state != "on" && state != "off")) {
        note(common, "usage: /typing ROOM on|off");
        continue;
      }
      c.typing(room, state == "on");
    } else if (cmd == "/ping" || cmd == "/history") {
      note(common, cmd + " is not available with --protocol socketio (/help)");
    } else {
      note(common, "unknown command '" + cmd + "' (/help lists them)");
    }
  }
  input.close();
  if (!pending.wait_empty(reply_wait)) {
    note(common, "gave up waiting for acknowledgements after " + o.reply_timeout);
    code = exit_error;
  }
  if (!interactive && pending.any_failed()) code = exit_error;
  c.stop();
  return code;
}

int run_connect(connect_options& o) {
  common_options& common = o.common;
  if (!o.url_arg.empty()) common.url = o.url_arg;
  common.resolve();
  const auto reply_wait = duration_flag("--reply-timeout", o.reply_timeout);
  event_printer printer(o.out, common);
  const bool interactive = ::isatty(0) != 0;

  const wire_protocol proto = common.protocol;
  if (proto != wire_protocol::rtev) return run_foreign_connect(o, printer, interactive, reply_wait);

  client_options copt = common.client_config();
  // Before the client, which may still answer a request (with an error) as it is destroyed.
  outstanding pending;
  std::atomic<std::uint64_t> next_ref{1};
  std::mutex print_mutex;  // guards stdout between the reader and the service thread
  // A WebSocket server that does not speak rtev's protocol (known once connected): its
  // messages are events read leniently, printed through the event printer.
  std::atomic<bool> foreign{false};
  std::atomic<std::int64_t> last_rx_ns{0};
  std::string foreign_reason;  // guarded by print_mutex
  completions complete;
  complete.set_commands(rtev_commands);
  typed_lines input(complete, common);
  client c(copt);
  // Runs before connected() resolves (the SDK calls state handlers first).
  auto connected = c.on_state([&](const state_info& s) {
    if (s.state != client_state::connected || !s.foreign) return;
    std::lock_guard<std::mutex> lock(print_mutex);
    foreign_reason = s.reason;
    foreign = true;
  });
  auto events = c.on("*", [&](const event& e) {
    if (!foreign) return;  // rtev messages are printed as received, below
    std::lock_guard<std::mutex> lock(print_mutex);
    printer.print(e);
  });

  auto raw = c.on_raw([&](const std::string& text) {
    last_rx_ns = std::chrono::steady_clock::now().time_since_epoch().count();
    if (foreign) return;
    nlohmann::json j = rtev::parse_json(text);
    if (input.editing()) complete.saw_message(j);
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
    const std::string type = j.is_object() ? j.value("type", "") : "";
    if (j.is_object() && j.contains("ref") && !j["ref"].is_null() &&
        (type == "ACK" || type == "ERROR" || type == "PONG"))
      pending.done(j["ref"].dump(), type == "ERROR");
    // `authenticate` is answered without a ref: by `authenticated` or `auth_error`.
    if (type == "authenticated" || type == "auth_error")
      pending.done(authenticate_key, type == "auth_error");
  });
  c.on_error([&](const client_error& e) {
    if (e.what != client_error::kind::server)
      note(common, e.message);  // server errors are printed raw
  });
  auto states = report_reconnects(c, common, input);
  connect_or_exit(c, common);
  if (foreign) {
    std::string what;
    {
      std::lock_guard<std::mutex> lock(print_mutex);
      what = "connected to " + common.url +
             " — a WebSocket server that does not speak rtev's protocol (" + foreign_reason +
             "): lines are sent as they are";
    }
    if (interactive)
      note(common, what + "; /help");
    else
      debug(common, what);
    complete.set_commands(leave_commands);
    const int code = foreign_ws_session(c, common, input, interactive, reply_wait, last_rx_ns);
    c.stop();
    return code;
  }
  if (interactive) note(common, "connected to " + common.url + " — type /help");

  // Every request waits for its answer before the command may end (and a piped session's exit
  // code says whether any was an ERROR): lines without a ref get one, lines with their own are
  // awaited by it, `authenticate` by the `authenticated` / `auth_error` that answers it.
  auto send_op = [&](nlohmann::json msg) {
    if (msg.value("type", nlohmann::json()).is_string()) {
      std::string type = msg["type"].get<std::string>();
      for (auto& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (type == "authenticate") {
        pending.add(authenticate_key);
        c.send_raw(msg.dump());
        return;
      }
    }
    if (!msg.contains("ref") || msg["ref"].is_null())
      msg["ref"] = "cli-" + std::to_string(next_ref++);
    if (msg["ref"].is_string() || msg["ref"].is_number())
      pending.add(msg["ref"].dump());
    else  // the server echoes only these: its reply could not be told apart
      note(common,
           "not waiting for the reply: a ref is a string or a number, got " + msg["ref"].dump());
    c.send_raw(msg.dump());
  };

  int code = exit_ok;
  std::string line;
  while (input.next(line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream words(line);
    std::string cmd;
    words >> cmd;
    if (line.front() == '{' || line.front() == '[') {
      nlohmann::json j = rtev::parse_json(line);
      if (j.is_discarded()) {
        note(common, "not valid JSON: " + line);
        if (!interactive) code = exit_error;
        continue;
      }
      if (j.is_object())
        send_op(j);
      else
        c.send_raw(j.dump());  // not an rtev message: the server's ERROR (no ref) is printed
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
      std::string type, room;
      nlohmann::json data;
      if (!read_pub_args(words, type, data, room)) {
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
  input.close();
  if (!pending.wait_empty(reply_wait)) {
    note(common, "gave up waiting for replies after " + o.reply_timeout);
    code = exit_error;
  }
  if (!interactive && pending.any_failed()) code = exit_error;
  c.stop();
  return code;
}

}  // namespace rtev::cli
