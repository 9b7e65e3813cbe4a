// rtev::client: one lws client connection driven from one service thread.
//
// Threads: every piece of connection state below lives on the service thread. Public calls
// from other threads enqueue a command (cmd_mutex_) and wake the thread with
// lws_cancel_service(); the handler registry has its own mutex. Handlers run on the service
// thread only.

#include "rtev/client.hpp"

#include <libwebsockets.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <deque>
#include <iostream>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <type_traits>
#include <utility>

#include "client_context.hpp"
#include "requests.hpp"
#include "rtev/glob.hpp"
#include "rtev/time.hpp"
#include "transport.hpp"

namespace rtev {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;

std::string_view to_string(client_state s) {
  switch (s) {
    case client_state::idle:
      return "idle";
    case client_state::connecting:
      return "connecting";
    case client_state::connected:
      return "connected";
    case client_state::reconnecting:
      return "reconnecting";
    case client_state::closed:
      return "closed";
  }
  return "unknown";
}

// --- handler registry --------------------------------------------------------------------------

namespace detail {

struct registry {
  struct entry {
    std::uint64_t id = 0;
    std::string pattern;  // event handlers: type glob
    std::function<void(const event&)> on_event;
    std::function<void(const state_info&)> on_state;
    std::function<void(const gap_info&)> on_gap;
    std::function<void(const join_info&)> on_joined;
    std::function<void(const std::string&)> on_raw;
    std::atomic<bool> active{true};
    bool state_seen = false;  // on_state: called at least once (service thread only)
  };

  std::mutex mutex;  // guards next_id, entries, error_handler
  std::uint64_t next_id = 1;
  std::vector<std::shared_ptr<entry>> entries;
  std::function<void(const client_error&)> error_handler;
  // The client object is gone while its service thread still winds down (it was destroyed
  // from inside a handler): no user code is called from then on.
  std::atomic<bool> detached{false};

  // Called by the client's destructor on the service thread: every handler off, for good.
  void detach() {
    std::lock_guard<std::mutex> lock(mutex);
    detached = true;
    for (auto& e : entries) e->active = false;
    entries.clear();
    error_handler = nullptr;
  }

  std::uint64_t add(const std::shared_ptr<entry>& e) {
    std::lock_guard<std::mutex> lock(mutex);
    e->id = next_id++;
    entries.push_back(e);
    return e->id;
  }

  void remove(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto it = entries.begin(); it != entries.end(); ++it)
      if ((*it)->id == id) {
        (*it)->active = false;
        entries.erase(it);
        return;
      }
  }

  // A snapshot: handlers may (un)subscribe while it is being walked.
  std::vector<std::shared_ptr<entry>> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    if (detached) return {};
    return entries;
  }

  void report(const client_error& err) {
    std::function<void(const client_error&)> h;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (detached) return;
      h = error_handler;
    }
    if (h) {
      try {
        h(err);
        return;
      } catch (...) {
        // An error handler that throws has nowhere to report to but stderr.
      }
    }
    std::cerr << "rtev: " << err.message << '\n';
  }
};

}  // namespace detail

void subscription::unsubscribe() noexcept {
  if (auto r = reg_.lock()) r->remove(id_);
  reg_.reset();
  id_ = 0;
}

// --- the client --------------------------------------------------------------------------------

namespace detail {

namespace {

// What a host may be: a DNS name or IPv4 address (letters, digits, '-', '.', and '_' which
// some internal names use), or inside brackets an IPv6 address (hex digits, ':', '.', and a
// zone after '%'). Anything else — a space, '@' from user info, a stray ':' — would be sent
// on as is: lws would look up a name no resolver has, or write a broken request line.
bool valid_host_char(char ch, bool ipv6) {
  const auto c = static_cast<unsigned char>(ch);
  if (ipv6) return std::isxdigit(c) || ch == ':' || ch == '.';
  return std::isalnum(c) || ch == '-' || ch == '.' || ch == '_';
}

}  // namespace

parsed_url parse_url(const std::string& url) {
  parsed_url u;
  // Nothing in a URL is whitespace or a control character (RFC 3986): "ws://exa mple.com/"
  // is a typo, not a host.
  for (const char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f)
      throw config_error(
          "invalid url '" + url + "': it contains " +
          (ch == ' ' ? std::string("a space") : "the control character " + std::to_string(c)) +
          " (percent-encode it, e.g. %20)");
  }
  const auto sep = url.find("://");
  u.scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  for (auto& ch : u.scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (u.scheme != "ws" && u.scheme != "wss" && u.scheme != "http" && u.scheme != "https")
    throw config_error("invalid url '" + url +
                       "': expected ws://, wss://, http:// or https://HOST[:PORT]/PATH");
  u.tls = u.scheme == "wss" || u.scheme == "https";
  const std::string rest = url.substr(sep + 3);
  const auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (u.path.front() == '?') u.path.insert(0, "/");
  if (authority.empty()) throw config_error("invalid url '" + url + "': no host");
  if (authority.find('@') != std::string::npos)
    throw config_error("invalid url '" + url +
                       "': user info (user:password@) is not supported; give credentials as a "
                       "token or a header");
  std::string port;
  if (authority.front() == '[') {  // [::1]:8000
    const auto close = authority.find(']');
    if (close == std::string::npos) throw config_error("invalid url '" + url + "': unclosed '['");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  const bool ipv6 = authority.front() == '[';
  if (u.host.empty()) throw config_error("invalid url '" + url + "': no host");
  // An IPv6 zone (after '%', percent-encoded as %25 in a URL) names an interface: any
  // unreserved characters.
  const auto zone = ipv6 ? u.host.find('%') : std::string::npos;
  for (std::size_t i = 0; i < u.host.size(); ++i) {
    const char ch = u.host[i];
    if (i >= zone) {
      if (std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("%-._~", ch)) continue;
    } else if (valid_host_char(ch, ipv6)) {
      continue;
    }
    throw config_error("invalid url '" + url + "': the host '" + u.host + "' contains '" +
                       std::string(1, ch) + "'" +
                       (ipv6 ? " (an IPv6 address in brackets has hex digits, ':' and '.')"
                             : " (a host name has letters, digits, '-' and '.')"));
  }
  if (port.empty()) {
    u.port = u.tls ? 443 : 80;
  } else {
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (*end || p <= 0 || p > 65535)
      throw config_error("invalid url '" + url + "': bad port '" + port + "'");
    u.port = static_cast<int>(p);
  }
  return u;
}

bool http_status_is_final(int status) {
  if (status <= 0 || status == 101 || status == 401 || status == 403) return false;
  if (status == 408 || status == 425 || status == 429 || status >= 500) return false;
  return true;
}

std::string not_that_server(const std::string& what, int status, const std::string& path,
                            const std::string& expected) {
  const std::string head =
      std::string(what == "rtev" ? "not an " : "not a ") + what + " server at this URL: ";
  const std::string where = path.substr(0, path.find('?'));
  if (status == 404 || status == 410)
    return head + "HTTP " + std::to_string(status) + " (nothing at " + where +
           "; check the URL's path)";
  if (status >= 200 && status < 300)
    return head + "it answered HTTP " + std::to_string(status) + " for " + where +
           " (a web page or an HTTP API?) instead of " + expected;
  return head + "it answered HTTP " + std::to_string(status) + " for " + where + " instead of " +
         expected;
}

client_error make_error(client_error::kind k, std::string message, std::string code) {
  client_error e;
  e.what = k;
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

}  // namespace detail

namespace {

using detail::make_error;

// The name of one of our codes, as client_error::code carries it ("auth_failed").
std::string code_name(std::error_code ec) {
  return std::string(to_string(static_cast<errc>(ec.value())));
}

// One server URL for the chosen protocol, checked: rtev speaks WebSocket, SSE plain HTTP.
detail::parsed_url checked_url(const client_options& o, const std::string& text) {
  detail::parsed_url u = detail::parse_url(text);
  const bool ws = u.scheme == "ws" || u.scheme == "wss";
  if (o.protocol == wire_protocol::rtev && !ws)
    throw config_error("invalid url '" + text +
                       "' for the rtev protocol: expected ws:// or wss:// (an http(s):// URL "
                       "needs protocol sse or socketio)");
  if (o.protocol == wire_protocol::sse && ws)
    throw config_error("invalid url '" + text +
                       "' for the sse protocol: expected http:// or https://");
  return u;
}

struct server_url {
  std::string text;
  detail::parsed_url parsed;
};

// The server URLs (`url`, then `urls`) and the options that go with the protocol, checked.
std::vector<server_url> checked_urls(const client_options& o) {
  std::vector<server_url> all;
  if (!o.url.empty() || o.urls.empty()) all.push_back({o.url, checked_url(o, o.url)});
  for (const auto& u : o.urls) all.push_back({u, checked_url(o, u)});
  if (o.protocol == wire_protocol::socketio &&
      (o.socketio.nsp.empty() || o.socketio.nsp.front() != '/'))
    throw config_error("invalid Socket.IO namespace '" + o.socketio.nsp +
                       "': expected one starting with '/'");
  if (o.protocol == wire_protocol::socketio) {
    const std::pair<const char*, const std::string*> names[] = {
        {"join_event", &o.socketio.join_event},
        {"leave_event", &o.socketio.leave_event},
        {"publish_event", o.socketio.publish_event ? &*o.socketio.publish_event : nullptr},
        {"emit_reply", &o.socketio.emit_reply}};
    for (const auto& [what, name] : names)
      if (name && is_reserved_socketio_event(*name))
        throw config_error("invalid socketio." + std::string(what) + " '" + *name +
                           "': a reserved Socket.IO event name");
    if (o.socketio.emit_reply_wait.count() < 0 || o.socketio.publish_ack_wait.count() < 0)
      throw config_error("socketio.emit_reply_wait and publish_ack_wait must not be negative");
  }
  if (o.foreign_wait.count() < 0) throw config_error("foreign_wait must not be negative");
  if (o.protocol == wire_protocol::socketio && !o.socketio.auth.is_null() &&
      !o.socketio.auth.is_object())
    throw config_error("invalid Socket.IO auth payload " + o.socketio.auth.dump() +
                       ": expected a JSON object");
  if (o.protocol == wire_protocol::sse && !o.sse.publish_url.empty()) {
    const detail::parsed_url pu = detail::parse_url(o.sse.publish_url);
    if (pu.scheme != "http" && pu.scheme != "https")
      throw config_error("invalid sse publish_url '" + o.sse.publish_url +
                         "': expected http:// or https://");
  }
  return all;
}

}  // namespace

std::string_view to_string(wire_protocol p) {
  switch (p) {
    case wire_protocol::rtev:
      return "rtev";
    case wire_protocol::sse:
      return "sse";
    case wire_protocol::socketio:
      return "socketio";
  }
  return "unknown";
}

std::string_view to_string(client_error::kind k) {
  switch (k) {
    case client_error::kind::handler:
      return "handler";
    case client_error::kind::decode:
      return "decode";
    case client_error::kind::server:
      return "server";
    case client_error::kind::connection:
      return "connection";
    case client_error::kind::queue_full:
      return "queue_full";
    case client_error::kind::protocol:
      return "protocol";
    case client_error::kind::would_deadlock:
      return "would_deadlock";
    case client_error::kind::timeout:
      return "timeout";
  }
  return "unknown";
}

std::error_code client_error::ec() const {
  if (!code.empty()) {
    const errc e = errc_for_server_code(code);
    if (e != errc::refused || what == kind::server) return e;
  }
  switch (what) {
    case kind::handler:
      return errc::handler_failed;
    case kind::decode:
      return errc::decode_failed;
    case kind::server:
      return errc::refused;
    case kind::connection:
      return errc::connection_lost;
    case kind::queue_full:
      return errc::queue_full;
    case kind::protocol:
      return errc::protocol_error;
    case kind::would_deadlock:
      return errc::would_deadlock;
    case kind::timeout:
      return errc::timeout;
  }
  return errc::protocol_error;
}

std::optional<wire_protocol> protocol_for_url(std::string_view url) {
  auto starts = [&](std::string_view p) {
    if (url.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != p[i]) return false;
    return true;
  };
  if (starts("ws://") || starts("wss://")) return wire_protocol::rtev;
  if (starts("http://") || starts("https://")) return wire_protocol::sse;
  return std::nullopt;
}

namespace {

// The limit a server announced in `authenticated` ({per_second, burst}); none when absent.
std::optional<rate_limit_info> announced_rate_limit(const json& d) {
  auto it = d.find("rate_limit");
  if (it == d.end() || !it->is_object()) return std::nullopt;
  const json& r = *it;
  if (!r.contains("per_second") || !r["per_second"].is_number() || !r.contains("burst") ||
      !r["burst"].is_number() || r["per_second"].get<double>() <= 0)
    return std::nullopt;
  return rate_limit_info{r["per_second"].get<double>(), std::max(1.0, r["burst"].get<double>())};
}

}  // namespace

struct client::impl final : detail::transport_sink, std::enable_shared_from_this<client::impl> {
  client_options opt;
  std::vector<server_url> urls;   // the servers, in order (url, then urls)
  std::size_t url_at = 0;         // the one attempts go to now
  std::size_t final_answers = 0;  // attempts in a row answered "not here" (404, a page, …)
  detail::parsed_url url;         // urls[url_at]
  std::shared_ptr<detail::registry> reg = std::make_shared<detail::registry>();

  // Cross-thread.
  std::mutex cmd_mutex;  // guards cmds, ctx_ready
  std::deque<std::function<void()>> cmds;
  lws_context* ctx = nullptr;  // written before the loop starts, read under cmd_mutex elsewhere
  bool ctx_ready = false;
  std::atomic<bool> stop_flag{false};
  std::atomic<bool> running{false};  // serve() is executing (start() or run())
  bool closed_set_by_stop = false;   // guarded by cmd_mutex: stop() closed a client never started
  std::atomic<client_state> current{client_state::idle};
  // The service loop is over for good (closed or stopped): commands posted from then on run on
  // a short-lived thread of the client's (`afterlife`, one at a time), where every request
  // fails at once — nothing would ever drain them otherwise.
  bool finished = false;               // guarded by cmd_mutex
  bool afterlife_busy = false;         // guarded by cmd_mutex
  std::thread afterlife;               // guarded by cmd_mutex
  std::atomic<std::size_t> unsent{0};  // publishes not yet written to a connection
  // client::metrics(): written on the service thread, read from any.
  struct counters {
    std::atomic<std::uint64_t> connects{0}, reconnect_attempts{0}, events{0}, gaps{0};
    std::atomic<std::uint64_t> messages_in{0}, messages_out{0}, bytes_in{0}, bytes_out{0};
    std::atomic<std::size_t> unacknowledged{0};
    std::atomic<std::int64_t> round_trip_us{-1};
  } stats;
  std::thread thread;  // guarded by cmd_mutex once started (stop() and the destructor race)
  // The thread serving the client (start()'s, run()'s caller, or stop()'s wind-down thread for
  // a client never started): handlers run there, and futures must not be waited for there.
  std::atomic<std::thread::id> service_thread_id{};
  std::promise<void> connected_promise;
  std::shared_future<void> connected_future = connected_promise.get_future().share();
  bool connected_set = false;
  std::promise<state_info> closed_promise;
  std::shared_future<state_info> closed_future = closed_promise.get_future().share();
  bool closed_set = false;

  // Service thread only.
  lws_protocols protocols[2]{};
  std::unique_ptr<detail::transport> wire;  // created with the context
  bool attempt_active = false;              // open() called, on_end not yet
  bool authenticated = false;
  backoff_schedule backoff;
  // lws timers, each with a pointer back here (lws_container_of needs a standard-layout type).
  struct timer {
    lws_sorted_usec_list_t sul{};
    impl* owner = nullptr;
  };
  timer retry_timer{{}, this}, tick_timer{{}, this}, flush_timer{{}, this};
  bool retry_pending = false;
  steady::time_point attempt_started{};
  std::uint64_t generation = 0;  // connection counter
  int last_close_code = 0, last_http_status = 0;
  std::string last_reason;
  state_info last_state;        // what the state handlers last heard (service thread)
  std::error_code last_error;   // the stable code of what ended the last attempt
  std::error_code closed_code;  // why the client closed for good (empty: stopped)
  bool auth_retry_used = false;
  bool awaiting_token = false;  // async_token_provider asked for this attempt's token
  // What certificate verification refused during the current attempt (see on_certificate).
  std::string certificate_problem, certificate_reason;

  std::set<std::string> rooms;                       // joined patterns
  std::map<std::string, std::uint64_t> pattern_seq;  // recovery point per joined pattern
  std::map<std::string, std::uint64_t>
      room_seq;  // dedupe: last seq delivered per room ("" = broadcasts)
  std::map<std::string, std::string> subscribe_refs;  // ref → pattern
  // ref → the recovery point it resumed from (none: a first subscription)
  std::map<std::string, std::optional<std::uint64_t>> subscribe_since;
  // Patterns restarted from 0 of a new store (epoch change), until their resubscription is
  // sent; then the refs of those resubscriptions: their `recovered: false` (the new store has
  // pruned) is the epoch gap already reported, not a second one.
  std::set<std::string> epoch_restarts;
  std::set<std::string> epoch_restart_refs;
  std::set<std::string> initial_since_used;
  std::optional<std::string> epoch;
  std::string user_id;
  std::vector<std::string> auto_rooms;

  // When a request gives up (request_options::timeout, else client_options::request_timeout),
  // counted from the call.
  struct request_clock {
    steady::time_point deadline{};
    std::chrono::milliseconds timeout{0};
  };
  struct pending_publish {
    std::string id, room, type;
    json data;
    std::function<void(const publish_ack*, const client_error*)> done;
    std::uint64_t sent_on = 0;  // generation it was last sent on; 0 = never
    std::string ref;
    bool internal = false;  // `done` is the SDK's own (a future's promise), not user code
    request_clock clock;
    bool paced = false;            // sent by the paced flush: a rate_limited refusal sends it again
    steady::time_point sent_at{};  // when it was last sent (round trip)
  };
  std::list<pending_publish> publishes;  // unacknowledged, in publish order
  // A history, presence or ping request in flight: one path whichever form it was made in —
  // a future's promise is an internal `done` (as pending_publish::internal).
  template <class T>
  struct pending_request {
    client::request_callback<T> done;
    bool internal = false;  // `done` is the SDK's own (detail::fulfil), not user code
    request_clock clock;
  };
  struct pending_history : pending_request<history_result> {
    history_result result;  // its events, as they arrive; `query` set at the call
  };
  std::map<std::string, pending_history> histories;
  // HISTORY requests that timed out: their events, still arriving, are dropped (not delivered
  // as live events) until the final ACK or ERROR.
  std::set<std::string> expired_histories;
  using pending_presence = pending_request<std::vector<presence_entry>>;
  std::map<std::string, pending_presence> presences;
  struct pending_ping : pending_request<std::chrono::microseconds> {
    steady::time_point sent{};
  };
  std::map<std::string, pending_ping> pings;

  // Flush pacing: a token bucket under the limit the server announced, spent by every request
  // sent on the connection. While publishes queued offline (and those made behind them) go
  // out, each waits for a token, so the server's own bucket never runs dry.
  std::optional<rate_limit_info> pace;  // the announced limit less a margin; none: not paced
  double pace_tokens = 0;
  steady::time_point pace_at{};
  bool pacing = false;            // publishes wait their turn in the bucket
  std::uint64_t frames_sent = 0;  // requests sent on this connection

  // The end, for requests made after it (service thread, then the afterlife thread).
  bool ended = false;
  std::string end_reason, closed_reason;
  std::uint64_t next_ref = 1;

  explicit impl(client_options o)
      : opt(std::move(o)), urls(checked_urls(opt)), url(urls.front().parsed), backoff(opt.backoff) {
    if (opt.connect_timeout.count() <= 0) throw config_error("connect_timeout must be positive");
    if (opt.heartbeat_interval.count() <= 0 || opt.heartbeat_timeout.count() <= 0)
      throw config_error("heartbeat interval and timeout must be positive");
    if (opt.request_timeout.count() <= 0)
      throw config_error("request_timeout must be positive (got " +
                         std::to_string(opt.request_timeout.count()) + " ms)");
    for (const auto& r : opt.rooms) rooms.insert(r);
  }

  // --- commands ---------------------------------------------------------------------------

  void post(std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(cmd_mutex);
    cmds.push_back(std::move(fn));
    if (ctx_ready) lws_cancel_service(ctx);
    if (finished) start_afterlife_locked();
  }

  // The loop has ended: a thread of the client's runs what was posted (requests fail there at
  // once; callbacks run off the caller's thread, as always). One at a time; the previous one
  // no longer needs cmd_mutex once it cleared afterlife_busy, so joining it here is safe.
  void start_afterlife_locked() {
    if (afterlife_busy) return;
    afterlife_busy = true;
    if (afterlife.joinable()) afterlife.join();
    afterlife = std::thread([self = shared_from_this()] {
      self->service_thread_id = std::this_thread::get_id();
      self->running = true;
      for (;;) {
        self->drain();
        std::lock_guard<std::mutex> lock(self->cmd_mutex);
        if (self->cmds.empty()) {
          self->running = false;
          self->afterlife_busy = false;
          return;
        }
      }
    });
  }

  // Called last on the service thread: from now on posted commands go to the afterlife.
  void finish() {
    std::lock_guard<std::mutex> lock(cmd_mutex);
    finished = true;
    if (!cmds.empty()) start_afterlife_locked();
  }

  // Why a request made after the end fails.
  client_error closed_error(const std::string& what) const {
    return make_error(client_error::kind::connection,
                      "the client has closed for good (" + end_reason + "): " + what,
                      closed_code ? code_name(closed_code) : "stopped");
  }

  request_clock clock_for(const request_options& r) const {
    const auto t = r.timeout.value_or(opt.request_timeout);
    if (t.count() <= 0)
      throw config_error("request timeout must be positive (got " + std::to_string(t.count()) +
                         " ms)");
    return request_clock{steady::now() + t, t};
  }

  void drain() {
    for (;;) {
      std::deque<std::function<void()>> work;
      {
        std::lock_guard<std::mutex> lock(cmd_mutex);
        work.swap(cmds);
      }
      if (work.empty()) return;
      for (auto& fn : work) fn();
    }
  }

  // --- reporting ----------------------------------------------------------------------------

  void set_state(state_info info) {
    info.server_url = urls[url_at].text;
    current = info.state;
    last_state = info;
    // Handlers first: whoever waits on connected() / closed() finds what they did done (the
    // CLI's `connect` learns from its handler whether the server speaks rtev's protocol).
    for (auto& e : reg->snapshot())
      if (e->on_state && e->active) {
        e->state_seen = true;
        call_guarded([&] { e->on_state(info); }, nullptr);
      }
    if (info.state == client_state::connected && !connected_set) {
      connected_set = true;
      connected_promise.set_value();
    }
    if (info.state == client_state::closed && !closed_set) {
      closed_set = true;
      if (!connected_set) {
        connected_set = true;
        connected_promise.set_exception(std::make_exception_ptr(request_error(make_error(
            info.auth_failed ? client_error::kind::server : client_error::kind::connection,
            "closed before connecting: " + info.reason,
            info.error ? code_name(info.error) : "stopped"))));
      }
      closed_promise.set_value(info);
    }
  }

  bool on_service_thread() const {
    return running && std::this_thread::get_id() == service_thread_id.load();
  }

  template <class F>
  void call_guarded(F&& f, const event* ev) {
    if (reg->detached) return;  // the client was destroyed from a handler: no more user code
    try {
      f();
    } catch (const parse_error& e) {
      client_error err = make_error(client_error::kind::decode, e.what());
      if (ev) err.ev = *ev;
      reg->report(err);
    } catch (const std::exception& e) {
      client_error err =
          make_error(client_error::kind::handler, std::string("a handler threw: ") + e.what());
      if (ev) err.ev = *ev;
      reg->report(err);
    } catch (...) {
      client_error err =
          make_error(client_error::kind::handler, "a handler threw a non-standard exception");
      if (ev) err.ev = *ev;
      reg->report(err);
    }
  }

  void dispatch(const event& e) {
    for (auto& h : reg->snapshot())
      if (h->on_event && h->active && glob_match(h->pattern, e.type))
        call_guarded([&] { h->on_event(e); }, &e);
  }

  void report_joined(const join_info& j) {
    for (auto& e : reg->snapshot())
      if (e->on_joined && e->active) call_guarded([&] { e->on_joined(j); }, nullptr);
  }

  void report_gap(gap_info g) {
    ++stats.gaps;
    for (auto& e : reg->snapshot())
      if (e->on_gap && e->active) call_guarded([&] { e->on_gap(g); }, nullptr);
  }

  // --- connection -------------------------------------------------------------------------

  std::string current_token() {
    if (opt.token_provider) {
      try {
        return opt.token_provider();
      } catch (const std::exception& e) {
        reg->report(make_error(client_error::kind::handler,
                               std::string("token provider threw: ") + e.what()));
      }
    }
    return opt.token;
  }

  void connect() {
    retry_pending = false;
    if (stop_flag) return;
    ++generation;
    authenticated = false;
    attempt_active = true;
    last_close_code = last_http_status = 0;
    certificate_problem.clear();
    certificate_reason.clear();
    attempt_started = steady::now();
    frames_sent = 0;
    pacing = false;
    if (opt.async_token_provider) return ask_token();
    wire->open(current_token());
  }

  // async_token_provider: the attempt goes on in on_token, on the service thread.
  void ask_token() {
    awaiting_token = true;
    const std::uint64_t gen = generation;
    auto done = [w = weak_from_this(), gen](std::string token, std::string error) {
      if (auto i = w.lock())
        i->post([i = i.get(), gen, token = std::move(token), error = std::move(error)] {
          i->on_token(gen, token, error);
        });
    };
    try {
      opt.async_token_provider(std::move(done));
    } catch (const std::exception& e) {
      on_token(gen, {}, std::string("it threw: ") + e.what());
    }
  }

  void on_token(std::uint64_t gen, const std::string& token, const std::string& error) {
    if (gen != generation || !awaiting_token || stop_flag) return;  // late, or a second call
    awaiting_token = false;
    if (!error.empty()) return token_failed("the token provider failed: " + error);
    attempt_started = steady::now();  // the connection gets its own connect_timeout
    wire->open(token);
  }

  void token_failed(std::string why) {
    awaiting_token = false;
    detail::transport_end end;
    end.reason = std::move(why);
    end.error = errc::token_unavailable;
    on_end(std::move(end));
  }

  void send_frame(json&& request) {
    ++frames_sent;
    if (pace) {
      refill();
      pace_tokens -= 1;
    }
    wire->send(std::move(request));
  }

  // --- flush pacing -------------------------------------------------------------------------

  void refill() {
    const auto now = steady::now();
    pace_tokens =
        std::min(pace->burst, pace_tokens + std::chrono::duration<double>(now - pace_at).count() *
                                                pace->per_second);
    pace_at = now;
  }

  // After `authenticated`: what waited offline (or was in flight when the link dropped) goes
  // out in publish order — paced under the server's announced limit, less a margin (95 % of
  // the rate, the burst less a tenth, as the SSE transport does) for what else shares the
  // connection and for network jitter. The requests already sent on this connection (the
  // joins) have spent their tokens. No limit announced: everything at once.
  void start_flush(const json& d) {
    pace.reset();
    if (auto limit = announced_rate_limit(d)) {
      pace = rate_limit_info{limit->per_second * 0.95, std::max(1.0, limit->burst * 0.9)};
      pace_at = steady::now();
      pace_tokens = pace->burst - static_cast<double>(frames_sent);
    }
    pacing = pace.has_value();
    pump();
  }

  // Sends unsent publishes in order: all of them when not pacing; else as tokens allow, then
  // waits on flush_timer for the next one. Pacing ends when nothing is left unsent: later
  // publishes go straight out again.
  void pump() {
    if (!authenticated) return;
    for (auto& p : publishes) {
      if (p.sent_on == generation) continue;
      if (pacing) {
        refill();
        if (pace_tokens < 1) {
          const double wait_s = (1 - pace_tokens) / pace->per_second;
          lws_sul_schedule(ctx, 0, &flush_timer.sul, on_flush,
                           static_cast<lws_usec_t>(wait_s * 1e6) + 1);
          return;
        }
      }
      send_publish(p);
    }
    pacing = false;
  }

  static void on_flush(lws_sorted_usec_list_t* sul) {
    lws_container_of(sul, timer, sul)->owner->pump();
  }

  std::string new_ref(char kind) { return std::string(1, kind) + std::to_string(next_ref++); }

  void subscribe(const std::string& pattern) {
    if (!authenticated) return;
    json data = {{"room", pattern}};
    if (!opt.types.empty()) data["types"] = opt.types;
    auto it = pattern_seq.find(pattern);
    if (opt.recover && it != pattern_seq.end()) {
      data["since"] = it->second;
      if (epoch) data["epoch"] = *epoch;
    } else if (!initial_since_used.count(pattern)) {
      // The first subscription of this room starts there — again on the next connection if
      // this one ends before the server answered and before any of its events arrived.
      const auto own = opt.room_since.find(pattern);
      const json& first = own != opt.room_since.end() ? own->second : opt.since;
      if (!first.is_null()) data["since"] = first;
    }
    const std::string ref = new_ref('s');
    subscribe_refs[ref] = pattern;
    if (epoch_restarts.erase(pattern)) epoch_restart_refs.insert(ref);
    subscribe_since[ref] =
        opt.recover && it != pattern_seq.end() ? std::optional(it->second) : std::nullopt;
    send_frame(json{{"type", "SUBSCRIBE"}, {"ref", ref}, {"data", data}});
  }

  void send_publish(pending_publish& p) {
    p.sent_on = generation;
    p.sent_at = steady::now();
    p.paced = pacing;
    p.ref = new_ref('p');
    json data = {{"type", p.type}, {"data", p.data}, {"id", p.id}};
    if (p.room.empty())
      data["broadcast"] = true;
    else
      data["room"] = p.room;
    send_frame(json{{"type", "PUBLISH"}, {"ref", p.ref}, {"data", data}});
    --unsent;
  }

  void on_authenticated(const json& d) {
    authenticated = true;
    auth_retry_used = false;
    user_id = d.value("user_id", "");
    const std::string new_epoch = d.value("epoch", "");
    if (epoch && !new_epoch.empty() && *epoch != new_epoch) {
      // A different store: no seq we hold means anything in it. Every room with a recovery
      // point resumes from the new store's beginning (since 0: its events are replayed, none
      // missed) and the dedupe state starts afresh (it numbers from 1 again). The application
      // is told once per room, before any event of the new store — unless the room's point
      // was 0 (the old store had no event when it was joined, and none came): nothing to tell.
      std::vector<gap_info> gaps;
      epoch_restarts.clear();
      for (auto& [pattern, seq] : pattern_seq) {
        if (seq != 0) {
          gap_info g;
          g.room = pattern;
          g.server_last_seq = d.value("last_seq", std::uint64_t{0});
          g.epoch_changed = true;
          g.epoch = new_epoch;
          g.previous_epoch = *epoch;
          g.previous_seq = seq;
          gaps.push_back(std::move(g));
        }
        seq = 0;
        epoch_restarts.insert(pattern);
      }
      room_seq.clear();
      epoch = new_epoch;  // handlers below see the state the resubscriptions will use
      for (auto& g : gaps) report_gap(std::move(g));
    }
    if (!new_epoch.empty()) epoch = new_epoch;
    backoff.connected();
    // The automatic user:/role: rooms are resubscribed explicitly so they recover too.
    // An anonymous identity is new on every connection: its user room has nothing to recover.
    auto_rooms.clear();
    if (opt.recover && !d.value("anonymous", false)) {
      auto_rooms.push_back("user:" + user_id);
      if (d.contains("roles") && d["roles"].is_array())
        for (const auto& r : d["roles"])
          if (r.is_string()) auto_rooms.push_back("role:" + r.get<std::string>());
    }
    for (const auto& r : auto_rooms)
      if (!rooms.count(r)) subscribe(r);
    for (const auto& r : rooms) subscribe(r);
    start_flush(d);
    state_info s;
    s.state = client_state::connected;
    ++stats.connects;
    s.user_id = user_id;
    if (auto it = d.find("rate_limit"); it != d.end() && it->is_object()) {
      const json& r = *it;
      if (r.contains("per_second") && r["per_second"].is_number() && r.contains("burst") &&
          r["burst"].is_number() && r["per_second"].get<double>() > 0)
        s.rate_limit =
            rate_limit_info{r["per_second"].get<double>(), std::max(1.0, r["burst"].get<double>())};
    }
    s.foreign = d.value("foreign", false);
    if (s.foreign) s.reason = d.value("foreign_reason", std::string());
    set_state(s);
  }

  void on_ack(const json& msg) {
    const std::string ref =
        msg.contains("ref") && msg["ref"].is_string() ? msg["ref"].get<std::string>() : "";
    const json& d = msg.contains("data") ? msg["data"] : json::object();
    const std::string op = d.value("op", "");
    if (op == "SUBSCRIBE") {
      auto it = subscribe_refs.find(ref);
      if (it == subscribe_refs.end()) return;
      const std::string pattern = it->second;
      const std::optional<std::uint64_t> since = subscribe_since[ref];
      subscribe_refs.erase(it);
      subscribe_since.erase(ref);
      const bool epoch_restart = epoch_restart_refs.erase(ref) > 0;
      initial_since_used.insert(pattern);
      const std::uint64_t last = d.value("last_seq", std::uint64_t{0});
      const std::uint64_t replayed = d.value("replayed", std::uint64_t{0});
      // Not a gap: a restart in a new store (its epoch notice was given), or a room that never
      // had an event (recovery point 0, nothing replayed) — the server's `recovered: false`
      // there only says that its retention has pruned something, in whatever room.
      if (!d.value("recovered", true) && since && !epoch_restart &&
          (*since != 0 || replayed != 0)) {
        gap_info g;
        g.room = pattern;
        g.after_seq = *since;
        g.server_last_seq = last;
        g.epoch = epoch.value_or("");
        report_gap(std::move(g));
      }
      // Everything of this pattern up to the server's frontier has now been delivered.
      auto& seq = pattern_seq[pattern];
      seq = std::max(seq, last);
      report_joined(join_info{pattern, replayed, d.value("recovered", true), last});
      return;
    }
    if (op == "PUBLISH") {
      for (auto it = publishes.begin(); it != publishes.end(); ++it)
        if (it->ref == ref) {
          publish_ack ack{d.value("id", it->id), d.value("seq", std::uint64_t{0}),
                          d.value("duplicate", false), d.value("acknowledged", true)};
          pending_publish p = std::move(*it);
          publishes.erase(it);
          stats.unacknowledged = publishes.size();
          stats.round_trip_us =
              std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - p.sent_at)
                  .count();
          complete(p, &ack, nullptr);
          return;
        }
      return;
    }
    if (op == "PRESENCE") {
      auto it = presences.find(ref);
      if (it == presences.end()) return;
      std::vector<presence_entry> users;
      if (d.contains("users") && d["users"].is_array())
        for (const json& u : d["users"])
          if (u.is_object() && u.contains("user_id") && u["user_id"].is_string())
            users.push_back(
                {u["user_id"].get<std::string>(), u.value("connections", std::uint64_t{0})});
      pending_presence p = std::move(it->second);
      presences.erase(it);
      end_request(p, std::move(users));
      return;
    }
    if (op == "HISTORY") {
      expired_histories.erase(ref);
      auto it = histories.find(ref);
      if (it == histories.end()) return;
      pending_history h = std::move(it->second);
      histories.erase(it);
      if (d.contains("next") && d["next"].is_number_unsigned())
        h.result.next = d["next"].get<std::uint64_t>();
      end_request(h, std::move(h.result));
    }
  }

  void on_error_reply(const json& msg) {
    const std::string ref =
        msg.contains("ref") && msg["ref"].is_string() ? msg["ref"].get<std::string>() : "";
    const json& d = msg.contains("data") ? msg["data"] : json::object();
    client_error err = make_error(client_error::kind::server, d.value("message", "server error"),
                                  d.value("code", ""));
    err.op = d.value("op", "");
    expired_histories.erase(ref);
    for (auto it = publishes.begin(); it != publishes.end(); ++it)
      if (!ref.empty() && it->ref == ref) {
        // The paced flush met the limit anyway (something else spent the server's tokens):
        // nothing was stored, so the publish goes again, before every later unsent one, once
        // the bucket has refilled — not failed. Publishes already in flight behind it may be
        // stored first.
        if (err.code == "rate_limited" && it->paced && authenticated && pace) {
          it->sent_on = 0;
          it->ref.clear();
          ++unsent;
          pacing = true;
          pace_tokens = std::min(pace_tokens, 0.0);
          pump();
          return;
        }
        if (err.op.empty()) err.op = "PUBLISH";
        pending_publish p = std::move(*it);
        publishes.erase(it);
        stats.unacknowledged = publishes.size();
        complete(p, nullptr, &err);
        return;
      }
    if (auto it = histories.find(ref); it != histories.end()) {
      pending_history h = std::move(it->second);
      histories.erase(it);
      return end_request(h, err);
    }
    if (auto it = pings.find(ref); it != pings.end()) {
      pending_ping q = std::move(it->second);
      pings.erase(it);
      return end_request(q, err);
    }
    if (auto it = presences.find(ref); it != presences.end()) {
      pending_presence q = std::move(it->second);
      presences.erase(it);
      return end_request(q, err);
    }
    if (auto s = subscribe_refs.find(ref); s != subscribe_refs.end()) {
      err.op = "SUBSCRIBE";
      err.message = "cannot join '" + s->second + "': " + err.message;
      subscribe_refs.erase(s);
    }
    reg->report(err);
  }

  void on_event_message(json&& j) {
    if (j.contains("history") && j.contains("ref") && j["ref"].is_string()) {
      if (expired_histories.count(j["ref"].get<std::string>())) return;
      auto it = histories.find(j["ref"].get<std::string>());
      if (it != histories.end()) {
        j.erase("history");
        j.erase("ref");
        try {
          it->second.result.events.push_back(event::from_json(j));
        } catch (const parse_error& e) {
          reg->report(
              make_error(client_error::kind::protocol, std::string("history event: ") + e.what()));
        }
        return;
      }
    }
    event e;
    try {
      e = event::from_json(j);
    } catch (const parse_error& err) {
      reg->report(
          make_error(client_error::kind::protocol, std::string("unreadable event: ") + err.what()));
      return;
    }
    deliver(std::move(e));
  }

  // Dedupe by seq (a replay overlapping what arrived live), advance recovery points, dispatch.
  void deliver(event&& e) {
    if (e.seq) {
      // Drop what was already delivered (a replay overlapping what arrived live before).
      auto& last = room_seq[e.room.value_or("")];
      if (*e.seq <= last) return;
      last = *e.seq;
      auto matches = [&](const std::string& pattern) {
        return e.room ? glob_match(pattern, *e.room) : pattern == "*";
      };
      for (auto& [pattern, seq] : pattern_seq)
        if (matches(pattern)) seq = std::max(seq, *e.seq);
      // A subscription not yet answered (its history still replaying, in seq order) has its
      // recovery point from its first event on: a connection lost now resumes after it
      // rather than starting over — or, worse, starting live and missing what came between.
      for (const auto& [ref, pattern] : subscribe_refs)
        if (!pattern_seq.count(pattern) && matches(pattern)) {
          pattern_seq[pattern] = *e.seq;
          initial_since_used.insert(pattern);
        }
    }
    ++stats.events;
    dispatch(e);
  }

  // --- transport_sink -----------------------------------------------------------------------

  void on_sent(std::size_t bytes) override {
    ++stats.messages_out;
    stats.bytes_out += bytes;
  }

  void on_raw(const std::string& text) override {
    ++stats.messages_in;
    stats.bytes_in += text.size();
    for (auto& e : reg->snapshot())
      if (e->on_raw && e->active) call_guarded([&] { e->on_raw(text); }, nullptr);
  }

  void on_problem(const client_error& err) override { reg->report(err); }

  void on_event(event&& e) override { deliver(std::move(e)); }

  void on_message(json&& j) override {
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return;
    const std::string type = j["type"].get<std::string>();
    if (type == "authenticated") return on_authenticated(j.value("data", json::object()));
    if (type == "auth_error") {
      const json d = j.value("data", json::object());
      last_reason = "authentication rejected: " +
                    (d.is_object() ? d.value("message", std::string()) : std::string());
      return;
    }
    if (type == "ACK") return on_ack(j);
    if (type == "ERROR") return on_error_reply(j);
    if (type == "PONG") {
      // Ours are strings; a PONG to a raw PING may carry any JSON ref (not ours, and no throw).
      const std::string ref =
          j.contains("ref") && j["ref"].is_string() ? j["ref"].get<std::string>() : "";
      if (auto it = pings.find(ref); it != pings.end()) {
        const auto rtt =
            std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - it->second.sent);
        stats.round_trip_us = rtt.count();
        pending_ping q = std::move(it->second);
        pings.erase(it);
        end_request(q, rtt);
      }
      return;
    }
    on_event_message(std::move(j));
  }

  // The attempt ended (or never started): fail what cannot survive, then retry or close.
  void on_end(detail::transport_end end) override {
    if (!attempt_active) return;
    attempt_active = false;
    const bool was_authenticated = authenticated;
    authenticated = false;
    last_close_code = end.close_code;
    last_http_status = end.http_status;
    // An auth_error's message (kept in last_reason) says more than the close that follows it.
    if (!end.reason.empty()) last_reason = end.reason;
    last_error = end.error                           ? end.error
                 : end.was_open || was_authenticated ? make_error_code(errc::connection_lost)
                                                     : make_error_code(errc::connection_failed);
    if (was_authenticated) backoff.disconnected();
    for (auto& p : publishes)
      if (p.sent_on) {
        p.sent_on = 0;  // resent (same id) after reconnecting
        ++unsent;
      }
    fail_requests(make_error(client_error::kind::connection, "connection lost: " + last_reason));
    expired_histories.clear();
    pacing = false;
    lws_sul_cancel(&flush_timer.sul);
    subscribe_refs.clear();
    subscribe_since.clear();
    epoch_restart_refs.clear();
    if (stop_flag) return;
    const bool not_here = end.final && !connected_set;
    final_answers = not_here ? final_answers + 1 : 0;

    // Another attempt would meet the same certificate: say what is wrong with it, once.
    if (!certificate_problem.empty()) {
      last_reason = certificate_reason;
      close_for_good(false, last_reason, errc::certificate_rejected, certificate_problem);
      return;
    }
    if (end.auth_rejected) {
      if ((opt.token_provider || opt.async_token_provider) && !auth_retry_used) {
        auth_retry_used = true;  // ask the provider once more, right away
        next_server();
        schedule_retry(std::chrono::milliseconds(0), 0);
        return;
      }
      close_for_good(true, last_reason.empty() ? "authentication rejected" : last_reason,
                     end.error ? end.error : errc::auth_failed, {}, end.token_required);
      return;
    }
    // A URL that never led to the server is a mistake to report at once; a client that has
    // been connected and now meets a 404 or a page is seeing a deploy or a proxy between
    // backends, and retries with the backoff like any lost connection.
    if (not_here && final_answers >= urls.size()) {  // every server said so, in a row
      close_for_good(false, last_reason, end.error ? end.error : errc::not_rtev_server);
      return;
    }
    if (!opt.reconnect) {
      close_for_good(false, last_reason, last_error);
      return;
    }
    auto wait = backoff.next();
    if (!wait) {
      close_for_good(
          false, "gave up after " + std::to_string(backoff.attempts()) + " retries: " + last_reason,
          errc::connection_failed);
      return;
    }
    // The server's reconnect time (SSE `retry:`) is the first delay; attempts that fail after
    // it back off from there, never below it.
    if (end.retry_after)
      wait = backoff.attempts() <= 1 ? *end.retry_after : std::max(*wait, *end.retry_after);
    next_server();
    schedule_retry(*wait, backoff.attempts());
  }

  // Several servers (client_options::urls): the next attempt goes to the next one.
  void next_server() {
    if (urls.size() < 2) return;
    url_at = (url_at + 1) % urls.size();
    url = urls[url_at].parsed;
    wire->retarget(url);
  }

  void schedule_retry(std::chrono::milliseconds wait, std::uint32_t attempt) {
    ++stats.reconnect_attempts;
    state_info s;
    s.state = client_state::reconnecting;
    s.attempt = attempt;
    s.delay = wait;
    s.http_status = last_http_status;
    s.close_code = last_close_code;
    s.reason = last_reason;
    s.error = last_error;
    last_reason.clear();
    set_state(s);
    retry_pending = true;
    lws_sul_schedule(ctx, 0, &retry_timer.sul, on_retry,
                     static_cast<lws_usec_t>(wait.count()) * LWS_US_PER_MS);
  }

  static void on_retry(lws_sorted_usec_list_t* sul) {
    lws_container_of(sul, timer, sul)->owner->connect();
  }

  void close_for_good(bool auth_failed, std::string reason, std::error_code why = {},
                      std::string certificate = {}, bool token_required = false) {
    state_info s;
    s.state = client_state::closed;
    s.error = closed_code = why;
    s.auth_failed = auth_failed;
    s.token_required = token_required;
    s.reason = std::move(reason);
    s.certificate_problem = std::move(certificate);
    s.http_status = last_http_status;
    s.close_code = last_close_code;
    closed_reason = s.reason;
    set_state(s);
    stop_flag = true;
  }

  void fail_requests(const client_error& err) {
    // Taken off the lists first: a callback may stop or destroy the client, which fails what
    // is still listed.
    auto h = std::exchange(histories, {});
    auto q = std::exchange(pings, {});
    auto w = std::exchange(presences, {});
    for (auto& [ref, p] : h) end_request(p, err);
    for (auto& [ref, p] : q) end_request(p, err);
    for (auto& [ref, p] : w) end_request(p, err);
  }

  // Requests whose time-out has passed fail with kind timeout; a later answer to their ref is
  // ignored (its ref is no longer pending). Checked on every tick (50 ms).
  void expire_requests(steady::time_point now) {
    auto timed_out = [](const char* op, const request_clock& c, const std::string& more) {
      client_error e = make_error(client_error::kind::timeout,
                                  std::string(op) + " timed out: no answer within " +
                                      std::to_string(c.timeout.count()) + " ms" + more,
                                  "timeout");
      e.op = op;
      return e;
    };
    std::vector<pending_publish> expired;
    for (auto it = publishes.begin(); it != publishes.end();) {
      if (now < it->clock.deadline) {
        ++it;
        continue;
      }
      if (it->sent_on == 0) --unsent;
      expired.push_back(std::move(*it));
      it = publishes.erase(it);
    }
    stats.unacknowledged = publishes.size();
    // Off their lists, then failed (as the publishes below).
    auto take_expired = [now](auto& pending) {
      std::vector<typename std::decay_t<decltype(pending)>::mapped_type> out;
      for (auto it = pending.begin(); it != pending.end();) {
        if (now < it->second.clock.deadline) {
          ++it;
          continue;
        }
        out.push_back(std::move(it->second));
        it = pending.erase(it);
      }
      return out;
    };
    for (const auto& [ref, h] : histories)
      if (now >= h.clock.deadline) expired_histories.insert(ref);
    auto h = take_expired(histories);
    auto w = take_expired(presences);
    auto q = take_expired(pings);
    // Last: a callback may stop or destroy the client (what it fails is no longer listed).
    for (auto& p : h) {
      const client_error err = timed_out("HISTORY", p.clock, "");
      end_request(p, err);
    }
    for (auto& p : w) {
      const client_error err = timed_out("PRESENCE", p.clock, "");
      end_request(p, err);
    }
    for (auto& p : q) {
      const client_error err = timed_out("PING", p.clock, "");
      end_request(p, err);
    }
    for (auto& p : expired) {
      const client_error err = timed_out(
          "PUBLISH", p.clock,
          p.sent_on ? " (it was sent: the server may still have stored it)" : " (never sent)");
      complete(p, nullptr, &err);
    }
  }

  void fail_everything(const std::string& why) {
    // Closed for good (auth failed, not an rtev server, …): that is what ends them.
    client_error err = make_error(client_error::kind::connection, why,
                                  closed_code ? code_name(closed_code) : "stopped");
    fail_requests(err);
    auto pending = std::move(publishes);
    publishes.clear();
    stats.unacknowledged = 0;
    for (auto& p : pending)
      if (p.sent_on == 0) --unsent;
    for (auto& p : pending) complete(p, nullptr, &err);
  }

  // A publish ends. A future's promise is set even after the client object is gone (destroyed
  // from a handler); user callbacks then are not called.
  void complete(pending_publish& p, const publish_ack* ack, const client_error* err) {
    if (p.internal)
      p.done(ack, err);
    else
      call_guarded([&] { p.done(ack, err); }, nullptr);
  }

  // A history, presence or ping request ends (taken off its list first). Its future's promise
  // is set at once, even after the client object is gone; a user callback gets what it needs
  // by value, through run_user.
  template <class T>
  void end_request(pending_request<T>& p, T result) {
    if (p.internal) return p.done(&result, nullptr);
    run_user([done = std::move(p.done), r = std::move(result)] { done(&r, nullptr); });
  }
  template <class T>
  void end_request(pending_request<T>& p, const client_error& err) {
    if (p.internal) return p.done(nullptr, &err);
    run_user([done = std::move(p.done), err] { done(nullptr, &err); });
  }

  // Every request callback (history, presence, ping) is called through here, as a task that
  // owns what it uses: guarded (an exception goes to the error handler), and nothing once the
  // client object is gone. The one place to hand them elsewhere (an app's executor).
  void run_user(std::function<void()> task) {
    call_guarded([&] { task(); }, nullptr);
  }

  // --- timers ------------------------------------------------------------------------------

  static void on_tick(lws_sorted_usec_list_t* sul) {
    impl* self = lws_container_of(sul, timer, sul)->owner;
    self->tick();
    lws_sul_schedule(self->ctx, 0, &self->tick_timer.sul, on_tick, 50 * LWS_US_PER_MS);
  }

  void tick() {
    const auto now = steady::now();
    expire_requests(now);
    if (awaiting_token) {
      if (now - attempt_started >= opt.connect_timeout)
        token_failed("the token provider gave no token within " +
                     std::to_string(opt.connect_timeout.count()) + " ms");
      return;
    }
    if (attempt_active && !authenticated && now - attempt_started >= opt.connect_timeout) {
      wire->kill("connect timed out after " + std::to_string(opt.connect_timeout.count()) + " ms");
      return;
    }
    if (attempt_active) wire->tick(now);
  }

  // --- lws callback -----------------------------------------------------------------------

  static int callback(lws* w, lws_callback_reasons reason, void* user, void* in, size_t len) {
    lws_context* c = lws_get_context(w);
    impl* self = c ? static_cast<impl*>(lws_context_user(c)) : nullptr;
    if (!self) return lws_callback_http_dummy(w, reason, user, in, len);
    if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION) {
      // For every transport's TLS connections. Kept as a sentence for the attempt's end, which
      // then closes the client instead of retrying; the first refusal of an attempt counts.
      if (self->certificate_problem.empty())
        if (auto r = detail::certificate_refused(user, len, self->url.host)) {
          self->certificate_problem = std::move(r->problem);
          self->certificate_reason = std::move(r->sentence);
        }
      return 0;
    }
    return self->on_callback(w, reason, in, len);
  }

  int on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) {
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
      drain();
      return 0;
    }
    if (!wire) return lws_callback_http_dummy(w, reason, nullptr, in, len);
    return wire->on_callback(w, reason, in, len);
  }

  // --- the loop ----------------------------------------------------------------------------

  // stop() before start(): no connection, but what was asked for ends on a thread of the
  // client's, as handlers always run (queued publishes fail, state handlers see `closed`).
  void serve_never_started() {
    service_thread_id = std::this_thread::get_id();
    running = true;
    ended = true;
    end_reason = "stopped before it started";
    drain();
    fail_everything("client stopped before it started");
    close_for_good(false, "stopped before it started");
    running = false;
    finish();
  }

  void serve() {
    service_thread_id = std::this_thread::get_id();
    running = true;
    protocols[0].name = "rtev-client";
    protocols[0].callback = &impl::callback;

    const bool tls =
        std::any_of(urls.begin(), urls.end(), [](const server_url& u) { return u.parsed.tls; });
    lws_context* c = detail::create_client_context(protocols, this, tls, opt.ca_file);
    if (!c) {
      close_for_good(false, "cannot create the network context", errc::connection_failed);
      ended = true;
      end_reason = closed_reason;
      drain();
      fail_everything("client closed");
      running = false;
      finish();
      return;
    }
    detail::transport_context tc{c, protocols[0].name, &opt, url, this};
    switch (opt.protocol) {
      case wire_protocol::rtev:
        wire = detail::make_rtev_transport(tc);
        break;
      case wire_protocol::sse:
        wire = detail::make_sse_transport(tc);
        break;
      case wire_protocol::socketio:
        wire = detail::make_socketio_transport(tc);
        break;
    }
    {
      std::lock_guard<std::mutex> lock(cmd_mutex);
      ctx = c;
      ctx_ready = true;
    }
    if (!stop_flag) {
      state_info s;
      s.state = client_state::connecting;
      set_state(s);
      drain();
      lws_sul_schedule(ctx, 0, &tick_timer.sul, on_tick, 50 * LWS_US_PER_MS);
      connect();
    }
    while (!stop_flag) {
      if (lws_service(ctx, 0) < 0) break;
    }
    // Close politely if a connection is up: one more short service round for the close.
    if (attempt_active && wire->close()) {
      const auto until = steady::now() + std::chrono::milliseconds(200);
      while (attempt_active && steady::now() < until) lws_service(ctx, 0);
    }
    {
      std::lock_guard<std::mutex> lock(cmd_mutex);
      ctx_ready = false;
    }
    lws_sul_cancel(&tick_timer.sul);
    lws_sul_cancel(&retry_timer.sul);
    lws_sul_cancel(&flush_timer.sul);
    lws_context_destroy(ctx);
    ctx = nullptr;
    wire.reset();
    attempt_active = false;
    authenticated = false;  // what the last commands ask for has no connection to go out on
    ended = true;
    end_reason = closed_set ? closed_reason : "stopped";
    drain();
    fail_everything("client stopped");
    if (!closed_set) close_for_good(false, "stopped");
    running = false;
    finish();
  }
};

// --- public API ---------------------------------------------------------------------------------

client::client(client_options options) : impl_(std::make_shared<impl>(std::move(options))) {}

std::unique_ptr<client> client::create(client_options options, std::error_code& ec,
                                       std::string* why) noexcept {
  ec.clear();
  try {
    return std::make_unique<client>(std::move(options));
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  } catch (const std::exception& e) {
    ec = errc::invalid_options;
    try {
      if (why) why->assign(e.what());
    } catch (...) {  // no memory for the message: the code says enough
    }
  }
  return nullptr;
}

client::~client() {
  impl& m = *impl_;
  if (!m.on_service_thread()) {
    stop();
    return;
  }
  // Destroyed from inside a handler: the service loop is further down this very stack. It holds
  // its own reference to the state (start()'s thread, run()'s caller) and winds down once the
  // handler returns — without calling user code again: what is pending fails now, while the
  // things its callbacks use still exist, and every handler is switched off.
  m.stop_flag = true;
  {
    std::lock_guard<std::mutex> lock(m.cmd_mutex);
    if (m.ctx_ready) lws_cancel_service(m.ctx);
    // A std::thread destroyed joinable (its own thread cannot join it) would std::terminate.
    if (m.thread.joinable()) m.thread.detach();
    if (m.afterlife.joinable() && m.afterlife.get_id() == std::this_thread::get_id())
      m.afterlife.detach();
  }
  m.fail_everything("client destroyed");
  m.reg->detach();
}

void client::start() {
  std::lock_guard<std::mutex> lock(impl_->cmd_mutex);
  if (impl_->thread.joinable() || impl_->closed_set_by_stop || impl_->stop_flag) return;
  impl_->thread = std::thread([i = impl_] { i->serve(); });
}

void client::run() {
  {
    std::lock_guard<std::mutex> lock(impl_->cmd_mutex);
    if (impl_->thread.joinable() || impl_->closed_set_by_stop || impl_->stop_flag || impl_->running)
      return;
    impl_->running = true;
  }
  // Our own reference: a handler may destroy this client (and its impl_) while serve() runs.
  // Nothing after serve() touches *this.
  const std::shared_ptr<impl> keep = impl_;
  keep->serve();
}

void client::stop() {
  impl& m = *impl_;
  m.stop_flag = true;
  std::thread ending;  // the service thread, joined here unless this is it
  {
    std::lock_guard<std::mutex> lock(m.cmd_mutex);
    if (m.ctx_ready) lws_cancel_service(m.ctx);
    // Never started: a short-lived service thread reports the end, so state handlers and
    // publish callbacks run where they always do — never on the caller's thread.
    if (!m.running && !m.thread.joinable() && !m.closed_set && !m.closed_set_by_stop) {
      m.closed_set_by_stop = true;
      m.thread = std::thread([i = impl_] { i->serve_never_started(); });
    }
    if (m.thread.joinable() && std::this_thread::get_id() != m.thread.get_id())
      ending = std::move(m.thread);
  }
  if (ending.joinable()) ending.join();
  std::thread after;  // the afterlife (requests made after the end), unless this is it
  {
    std::lock_guard<std::mutex> lock(m.cmd_mutex);
    if (m.afterlife.joinable() && std::this_thread::get_id() != m.afterlife.get_id())
      after = std::move(m.afterlife);
  }
  if (after.joinable()) after.join();
}

client_state client::state() const {
  return impl_->current;
}

client_metrics client::metrics() const {
  const impl::counters& s = impl_->stats;
  client_metrics m;
  m.connects = s.connects;
  m.reconnect_attempts = s.reconnect_attempts;
  m.events = s.events;
  m.gaps = s.gaps;
  m.messages_in = s.messages_in;
  m.messages_out = s.messages_out;
  m.bytes_in = s.bytes_in;
  m.bytes_out = s.bytes_out;
  m.offline_queue = impl_->unsent;
  m.unacknowledged = s.unacknowledged;
  if (const std::int64_t rtt = s.round_trip_us; rtt >= 0)
    m.round_trip = std::chrono::microseconds(rtt);
  return m;
}
std::shared_future<void> client::connected() const {
  return impl_->connected_future;
}
std::shared_future<state_info> client::closed() const {
  return impl_->closed_future;
}

subscription client::on(std::string type_pattern, event_handler handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->pattern = std::move(type_pattern);
  e->on_event = std::move(handler);
  const auto id = impl_->reg->add(e);
  return subscription(impl_->reg, id);
}

subscription client::on_decoded(std::string type, std::function<void(const event&)> handler) {
  // Decode errors surface as parse_error from the handler wrapper: call_guarded reports them
  // with kind decode and the field path; the other subscribers are unaffected.
  return on(std::move(type), std::move(handler));
}

subscription client::on_state(std::function<void(const state_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_state = std::move(handler);
  subscription sub(impl_->reg, impl_->reg->add(e));
  // Registered late: the current state first, on the service thread (not if a change reached
  // the handler meanwhile — it has the current state then).
  impl_->post([i = impl_.get(), e] {
    if (e->state_seen || !e->active || i->current == client_state::idle || i->reg->detached) return;
    e->state_seen = true;
    i->call_guarded([&] { e->on_state(i->last_state); }, nullptr);
  });
  return sub;
}

subscription client::on_gap(std::function<void(const gap_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_gap = std::move(handler);
  return subscription(impl_->reg, impl_->reg->add(e));
}

subscription client::on_joined(std::function<void(const join_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_joined = std::move(handler);
  return subscription(impl_->reg, impl_->reg->add(e));
}

subscription client::on_raw(std::function<void(const std::string&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_raw = std::move(handler);
  return subscription(impl_->reg, impl_->reg->add(e));
}

void client::send_raw(std::string text) {
  impl_->post([i = impl_.get(), text = std::move(text)]() mutable {
    if (i->authenticated) i->wire->send_raw(std::move(text));
  });
}

void client::emit(const std::string& name, json args,
                  std::function<void(const json* ack_args, const client_error*)> ack) {
  impl_->post([i = impl_.get(), name, args = std::move(args), ack = std::move(ack)]() mutable {
    detail::ack_callback guarded;
    if (ack)
      guarded = [i, ack = std::move(ack)](const json* a, const client_error* e) {
        i->call_guarded([&] { ack(a, e); }, nullptr);
      };
    if (!i->authenticated) {
      const client_error err =
          make_error(client_error::kind::connection, "not connected: '" + name + "' not emitted");
      if (guarded)
        guarded(nullptr, &err);
      else
        i->reg->report(err);
      return;
    }
    i->wire->emit(name, std::move(args), std::move(guarded));
  });
}

void client::on_error(std::function<void(const client_error&)> handler) {
  std::lock_guard<std::mutex> lock(impl_->reg->mutex);
  impl_->reg->error_handler = std::move(handler);
}

void client::join(const std::string& room) {
  impl_->post([i = impl_.get(), room] {
    if (i->rooms.insert(room).second) i->subscribe(room);
  });
}

void client::leave(const std::string& room) {
  impl_->post([i = impl_.get(), room] {
    if (!i->rooms.erase(room)) return;
    i->pattern_seq.erase(room);
    if (i->authenticated) i->send_frame(json{{"type", "UNSUBSCRIBE"}, {"data", {{"room", room}}}});
  });
}

void client::publish(const event& e,
                     std::function<void(const publish_ack*, const client_error*)> done,
                     request_options request) {
  publish_with_id(e.id.value_or(""), e.room.value_or(""), e.type, e.data, std::move(done), false,
                  request);
}

void client::publish(const std::string& room, const std::string& type, json data,
                     std::function<void(const publish_ack*, const client_error*)> done,
                     request_options request) {
  publish_with_id("", room, type, std::move(data), std::move(done), false, request);
}

void client::publish_with_id(const std::string& id, const std::string& room,
                             const std::string& type, json data,
                             std::function<void(const publish_ack*, const client_error*)> done,
                             bool done_is_internal, const request_options& request) {
  impl& m = *impl_;
  const impl::request_clock clock = m.clock_for(request);
  if (m.current != client_state::connected && m.unsent >= m.opt.offline_queue_max) {
    client_error err = make_error(
        client_error::kind::queue_full,
        "the offline queue is full (" + std::to_string(m.opt.offline_queue_max) + " publishes)");
    // A future fails at once (no user code runs); a callback runs on the service thread, as
    // every callback does.
    if (done_is_internal) {
      done(nullptr, &err);
      return;
    }
    m.post([i = impl_.get(), done = std::move(done), err] {
      i->call_guarded([&] { done(nullptr, &err); }, nullptr);
    });
    return;
  }
  ++m.unsent;
  impl::pending_publish p;
  p.id = id.empty() ? make_event_id() : id;
  p.room = room;
  p.type = type;
  p.data = std::move(data);
  p.done = std::move(done);
  p.internal = done_is_internal;
  p.clock = clock;
  m.post([i = impl_.get(), p = std::move(p)]() mutable {
    if (i->ended) {
      --i->unsent;
      const client_error err = i->closed_error("the event was not sent");
      i->complete(p, nullptr, &err);
      return;
    }
    i->publishes.push_back(std::move(p));
    i->stats.unacknowledged = i->publishes.size();
    // Behind the flush while it runs, so publish order is kept.
    if (!i->authenticated) return;
    if (i->pacing)
      i->pump();
    else
      i->send_publish(i->publishes.back());
  });
}

namespace {

// A future-returning request made on the service thread (inside a handler): its answer could
// only arrive through the thread that would be blocked waiting for it. Failed at once, not
// sent, and reported, so a future nobody looks at does not hide it either.
template <class T>
bool refuse_on_service_thread(client::impl& m, const char* call, std::promise<T>& promise) {
  if (!m.on_service_thread()) return false;
  // (publish() sends its event first: see there.)
  client_error err = make_error(
      client_error::kind::would_deadlock,
      std::string(call) +
          " returning a future was called on the client's service thread (inside a handler): "
          "waiting for it there would deadlock, so nothing was sent; use the callback form");
  promise.set_exception(std::make_exception_ptr(request_error(err)));
  m.reg->report(err);
  return true;
}

}  // namespace

std::future<publish_ack> client::publish(const std::string& room, const std::string& type,
                                         json data, request_options request) {
  auto promise = std::make_shared<std::promise<publish_ack>>();
  auto f = promise->get_future();
  if (impl_->on_service_thread()) {
    // Inside a handler: the event is sent (a handler that publishes and drops the future, the
    // usual echo, keeps working), but its ACK could only be read by this thread, so the future
    // fails at once rather than let a get() here wait forever. Not reported to the error
    // handler: nothing went wrong unless someone waits, and then get() says it.
    // A refusal made at once (the offline queue is full) is what the future says then.
    auto refused = std::make_shared<std::optional<client_error>>();
    auto returned = std::make_shared<bool>(false);
    publish_with_id(
        "", room, type, std::move(data),
        [refused, returned](const publish_ack*, const client_error* err) {
          if (err && !*returned) *refused = *err;
        },
        true, request);
    *returned = true;
    promise->set_exception(std::make_exception_ptr(request_error(
        *refused ? **refused
                 : make_error(client_error::kind::would_deadlock,
                              "publish() returning a future was called on the client's service "
                              "thread (inside a handler): the event was sent, but waiting there "
                              "for its acknowledgement would deadlock; use the callback form to "
                              "get it"))));
    return f;
  }
  publish_with_id(
      "", room, type, std::move(data),
      [promise](const publish_ack* ack, const client_error* err) {
        if (ack)
          promise->set_value(*ack);
        else
          promise->set_exception(std::make_exception_ptr(request_error(*err)));
      },
      true, request);
  return f;
}

void client::typing(const std::string& room, bool is_typing) {
  impl_->post([i = impl_.get(), room, is_typing] {
    if (!i->authenticated) return;
    i->send_frame(
        json{{"type", is_typing ? "TYPING_START" : "TYPING_STOP"}, {"data", {{"room", room}}}});
  });
}

namespace {

// Why a request cannot be sent now: the client has closed for good, or is not connected.
std::optional<client_error> unsendable(const client::impl& m) {
  if (m.ended) return m.closed_error("nothing was sent");
  if (m.authenticated) return std::nullopt;
  return make_error(client_error::kind::connection, "not connected");
}

// History, presence and ping, whichever form they were made in: one pending request (a
// future's is an internal completion, detail::fulfil) posted to the service thread, which
// sends it or ends it at once. The query and the time-out are checked by the caller.

void send_history(client::impl& m, const history_query& query, client::impl::request_clock clock,
                  client::request_callback<history_result> done, bool internal) {
  client::impl::pending_history h;
  h.done = std::move(done);
  h.internal = internal;
  h.clock = clock;
  h.result.query = query;
  m.post([i = &m, h = std::move(h)]() mutable {
    if (auto err = unsendable(*i)) return i->end_request(h, *err);
    const std::string ref = i->new_ref('h');
    const json data = detail::history_frame_data(h.result.query);
    i->histories.emplace(ref, std::move(h));
    i->send_frame(json{{"type", "HISTORY"}, {"ref", ref}, {"data", data}});
  });
}

void send_presence(client::impl& m, const std::string& room, client::impl::request_clock clock,
                   client::request_callback<std::vector<presence_entry>> done, bool internal) {
  client::impl::pending_presence w;
  w.done = std::move(done);
  w.internal = internal;
  w.clock = clock;
  m.post([i = &m, room, w = std::move(w)]() mutable {
    if (auto err = unsendable(*i)) return i->end_request(w, *err);
    const std::string ref = i->new_ref('w');
    i->presences.emplace(ref, std::move(w));
    i->send_frame(json{{"type", "PRESENCE"}, {"ref", ref}, {"data", {{"room", room}}}});
  });
}

void send_ping(client::impl& m, client::impl::request_clock clock,
               client::request_callback<std::chrono::microseconds> done, bool internal) {
  client::impl::pending_ping q;
  q.done = std::move(done);
  q.internal = internal;
  q.clock = clock;
  m.post([i = &m, q = std::move(q)]() mutable {
    if (auto err = unsendable(*i)) return i->end_request(q, *err);
    const std::string ref = i->new_ref('q');
    q.sent = steady::now();
    i->pings.emplace(ref, std::move(q));
    i->send_frame(json{{"type", "PING"}, {"ref", ref}});
  });
}

}  // namespace

std::future<history_result> client::history(const history_query& query, request_options request) {
  detail::check_history_query(query);
  const auto clock = impl_->clock_for(request);
  auto promise = std::make_shared<std::promise<history_result>>();
  auto f = promise->get_future();
  if (refuse_on_service_thread(*impl_, "history()", *promise)) return f;
  send_history(*impl_, query, clock, detail::fulfil(std::move(promise)), true);
  return f;
}

void client::history(const history_query& query, request_callback<history_result> done,
                     request_options request) {
  detail::check_history_query(query);
  send_history(*impl_, query, impl_->clock_for(request), std::move(done), false);
}

std::future<history_result> client::history(const std::string& room, const json& since,
                                            const json& until, std::size_t limit,
                                            request_options request) {
  return history(history_query{room, since, until, limit}, request);
}

std::future<std::vector<presence_entry>> client::presence(const std::string& room,
                                                          request_options request) {
  const auto clock = impl_->clock_for(request);
  auto promise = std::make_shared<std::promise<std::vector<presence_entry>>>();
  auto f = promise->get_future();
  if (refuse_on_service_thread(*impl_, "presence()", *promise)) return f;
  send_presence(*impl_, room, clock, detail::fulfil(std::move(promise)), true);
  return f;
}

void client::presence(const std::string& room, request_callback<std::vector<presence_entry>> done,
                      request_options request) {
  send_presence(*impl_, room, impl_->clock_for(request), std::move(done), false);
}

std::future<std::chrono::microseconds> client::ping(request_options request) {
  const auto clock = impl_->clock_for(request);
  auto promise = std::make_shared<std::promise<std::chrono::microseconds>>();
  auto f = promise->get_future();
  if (refuse_on_service_thread(*impl_, "ping()", *promise)) return f;
  send_ping(*impl_, clock, detail::fulfil(std::move(promise)), true);
  return f;
}

void client::ping(request_callback<std::chrono::microseconds> done, request_options request) {
  send_ping(*impl_, impl_->clock_for(request), std::move(done), false);
}

}  // namespace rtev
