// The SSE transport: one `text/event-stream` GET per connection attempt, read with the WHATWG
// parser; publishes are HTTP POSTs. It speaks to the client in rtev terms (transport.hpp):
//
// - the stream answering 200 with text/event-stream is `authenticated` (anonymous: SSE has no
//   identity of its own); 401/403 are an auth rejection; 204 is the server saying "stop
//   reconnecting" (transport_end::final); any other answer ends the attempt with its status
//   and the server's message;
// - every dispatched event is read leniently (read_foreign) with the SSE event name as the
//   fallback type; its SSE `id` becomes the event id when the payload has none;
// - reconnecting sends Last-Event-ID (sse_options::last_event_id on the first connection,
//   then the last id seen), and the server's `retry:` is reported as transport_end::retry_after;
// - rooms and types travel in the URL (`?rooms=a,b&types=x`, added when the URL has none):
//   joining or leaving a room after connecting reopens the stream with the new list (with
//   Last-Event-ID, so nothing is missed where the server supports it). Servers that are not
//   rtev serve ignore parameters they do not know, and then every event arrives;
// - SSE has no pings: a stream silent (not even a `:` comment) for 2 × heartbeat_interval +
//   heartbeat_timeout is dead. Twice the interval because the server, not us, chooses how
//   often it sends keep-alives (rtev serve: every 30 s; the client's default interval is 15 s);
// - TYPING, HISTORY and PING cannot be carried: ERROR {code: "unsupported"}.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <set>

#include "http_exchange.hpp"
#include "rtev/json.hpp"
#include "transport.hpp"
#include "wire/sse_parser.hpp"

namespace rtev::detail {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Percent-encoding for a query value. Room names keep `:` and `*` readable (`user:42`,
// `chat:*`); `,` separates list items and is encoded inside a name.
std::string query_encode(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '*' ||
        c == '/' || c == '@') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string join_encoded(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ',';
    out += query_encode(i);
  }
  return out;
}

bool query_has(const std::string& path, const std::string& key) {
  const auto q = path.find('?');
  if (q == std::string::npos) return false;
  std::size_t i = q + 1;
  while (i <= path.size()) {
    std::size_t amp = path.find('&', i);
    if (amp == std::string::npos) amp = path.size();
    const std::string item = path.substr(i, amp - i);
    if (item.substr(0, item.find('=')) == key) return true;
    i = amp + 1;
  }
  return false;
}

// What a server said in an error body: rtev's {"error":{"message"}}, {"message"}, or the text.
std::string body_message(const std::string& body) {
  json j = rtev::parse_json(body);
  if (j.is_object()) {
    if (j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
        j["error"]["message"].is_string())
      return j["error"]["message"].get<std::string>();
    if (j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
    if (j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  }
  std::string text = body.substr(0, 200);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

std::string body_code(const std::string& body, int status) {
  json j = rtev::parse_json(body);
  if (j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].contains("code") && j["error"]["code"].is_string())
    return j["error"]["code"].get<std::string>();
  return "http_" + std::to_string(status);
}

std::string answered(const std::string& what, int status, const std::string& body) {
  std::string msg = body_message(body);
  return what + " answered HTTP " + std::to_string(status) + (msg.empty() ? "" : ": " + msg);
}

json reply_error(const json& ref, const std::string& code, const std::string& message) {
  return json{{"type", "ERROR"}, {"ref", ref}, {"data", {{"code", code}, {"message", message}}}};
}

constexpr std::size_t max_error_body = 64 * 1024;

class sse_transport final : public transport {
 public:
  explicit sse_transport(const transport_context& c)
      : c_(c), opt_(*c.opt), stream_(c.ctx, c.protocol_name), parser_(c.opt->max_message_bytes) {
    const std::string& p = c_.url.path;
    url_has_rooms_ = query_has(p, "rooms");
    url_has_types_ = query_has(p, "types");
    for (const auto& r : opt_.rooms) rooms_.insert(r);
    parser_.set_last_event_id(opt_.sse.last_event_id);
    parser_.on_message = [this](sse_message&& m) { on_sse_message(std::move(m)); };
    parser_.on_retry = [this](milliseconds ms) { retry_ = ms; };
    stream_.on_head = [this](const http_response& h) { return on_head(h); };
    stream_.on_body = [this](std::string_view chunk) { return on_body(chunk); };
    stream_.on_done = [this](http_result&& r) { on_stream_done(std::move(r)); };
  }

  ~sse_transport() override {
    stream_.on_done = nullptr;
    waiting_posts_.clear();
    posts_.clear();
  }

  void open(const std::string& token) override {
    ++generation_;
    token_ = token;
    ended_ = false;
    open_ = false;
    reopening_ = false;
    reopen_due_ = false;
    end_ = transport_end{};
    replies_.clear();
    pending_joins_.clear();
    start_stream();
  }

  void send(json&& request) override {
    const std::string type = request.value("type", "");
    const json ref = request.contains("ref") ? request["ref"] : json();
    const json data =
        request.contains("data") && request["data"].is_object() ? request["data"] : json::object();
    if (type == "SUBSCRIBE") return subscribe(ref, data.value("room", ""));
    if (type == "UNSUBSCRIBE") return unsubscribe(ref, data.value("room", ""));
    if (type == "PUBLISH") return publish(ref, data);
    replies_.push_back(reply_error(ref, "unsupported",
                                   "Server-Sent Events cannot carry " +
                                       (type.empty() ? "this" : type) +
                                       " (a one-way stream; use the rtev or socketio protocol)"));
  }

  void send_raw(std::string) override {
    c_.sink->on_problem(make_error(client_error::kind::protocol,
                                   "nothing can be sent on a Server-Sent Events stream"));
  }

  void emit(const std::string&, json, ack_callback ack) override {
    const client_error err =
        make_error(client_error::kind::protocol, "emit needs the socketio protocol (this is sse)");
    if (ack)
      ack(nullptr, &err);
    else
      c_.sink->on_problem(err);
  }

  bool close() override {
    if (!ended_) end("client stopping");
    return false;
  }

  void retarget(const parsed_url& url) override { c_.url = url; }

  void kill(const std::string& reason) override {
    if (!ended_) end(reason);
  }

  void tick(steady::time_point now) override {
    flush_replies();
    if (ended_) return;
    if (reopen_due_) {
      reopen_due_ = false;
      reopen();
      if (ended_) return;
    }
    stream_.tick(now);
    for (auto& p : posts_) p->tick(now);
    reap_posts();
    if (open_ && !reopening_) {
      const auto deadline = 2 * opt_.heartbeat_interval + opt_.heartbeat_timeout;
      if (now - last_rx_ >= deadline)
        end("no data from the server within " + std::to_string(deadline.count()) +
            " ms (not even a keep-alive comment)");
    }
  }

  int on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) override {
    int rc = 0;
    bool ours = false;
    if (stream_.owns(w)) {
      ours = true;
      rc = stream_.on_callback(w, reason, in, len);
    } else {
      for (auto& p : posts_)
        if (p->owns(w)) {
          ours = true;
          rc = p->on_callback(w, reason, in, len);
          break;
        }
    }
    // Finished exchanges are dropped in tick(), never here: a callback may run inside that
    // very exchange's start() (a connection failing at once).
    if (!ours) return lws_callback_http_dummy(w, reason, nullptr, in, len);
    return rc;
  }

 private:
  // --- the stream ------------------------------------------------------------------------

  std::string stream_path() const {
    std::string path = c_.url.path;
    std::vector<std::string> params;
    if (!url_has_rooms_ && !rooms_.empty())
      params.push_back("rooms=" +
                       join_encoded(std::vector<std::string>(rooms_.begin(), rooms_.end())));
    if (!url_has_types_ && !opt_.types.empty())
      params.push_back("types=" + join_encoded(opt_.types));
    // `since` as long as there is no id to resume from: a stream lost before its first event
    // must ask again from `since`, or what was published while reconnecting is never seen.
    if (parser_.last_event_id().empty() && !opt_.since.is_null() && !query_has(path, "since")) {
      if (opt_.since.is_number_unsigned() || opt_.since.is_number_integer())
        params.push_back("since=" + opt_.since.dump());
      else if (opt_.since.is_string())
        params.push_back("since=" + query_encode(opt_.since.get<std::string>()));
    }
    if (!opt_.presence && !query_has(path, "presence")) params.push_back("presence=false");
    // Which store the Last-Event-ID is a seq of: rtev serve resumes another store from its
    // beginning instead of after that seq (docs/protocol.md §6).
    if (!epoch_.empty() && !parser_.last_event_id().empty() && !query_has(path, "epoch"))
      params.push_back("epoch=" + query_encode(epoch_));
    for (const auto& p : params) {
      path += path.find('?') == std::string::npos ? '?' : '&';
      path += p;
    }
    return path;
  }

  void start_stream() {
    http_request req;
    req.url = c_.url;
    req.url.path = stream_path();
    req.stream = true;
    req.timeout = opt_.connect_timeout;  // until the response head (a reopen has no other)
    req.insecure = opt_.insecure;
    req.capture = {"content-type", "rtev-epoch", "rtev-last-seq"};
    req.headers.emplace_back("Accept", "text/event-stream");
    // lws 4.1 writes "Pragma: no-cache" and "Cache-Control: no-cache" on every client request.
    if (!token_.empty()) req.headers.emplace_back("Authorization", "Bearer " + token_);
    for (const auto& h : opt_.headers) req.headers.push_back(h);
    if (!parser_.last_event_id().empty())
      req.headers.emplace_back("Last-Event-ID", parser_.last_event_id());
    parser_.restart();
    error_body_.clear();
    streaming_ = false;
    stream_status_ = 0;
    stream_.start(std::move(req));
  }

  bool on_head(const http_response& h) {
    stream_status_ = h.status;
    const std::string* ct = h.header("content-type");
    const std::string type = ct ? lower(ct->substr(0, ct->find(';'))) : "";
    auto trim = [](std::string s) {
      while (!s.empty() && s.back() == ' ') s.pop_back();
      return s;
    };
    if (h.status == 200 && trim(type) == "text/event-stream") {
      streaming_ = true;
      last_rx_ = steady::now();
      const bool first = !open_;
      open_ = true;
      reopening_ = false;
      // rtev serve names its store: the client's epoch handling (a new store: gap notices,
      // the dedupe state reset) works as for the other protocols.
      json data = {{"user_id", ""}, {"anonymous", true}};
      if (const std::string* e = h.header("rtev-epoch"); e && !e->empty()) {
        epoch_ = *e;
        data["epoch"] = *e;
        if (const std::string* l = h.header("rtev-last-seq"))
          data["last_seq"] = std::strtoull(l->c_str(), nullptr, 10);
      }
      // The server's state (docs/protocol.md §4.7): "degraded" is followed in the stream by
      // its server_status event, with the reason.
      if (const std::string* st = h.header("rtev-status"); st && *st == "degraded")
        data["server_status_pending"] = true;
      if (first) c_.sink->on_message(json{{"type", "authenticated"}, {"data", std::move(data)}});
      settle_joins(nullptr);
      return !ended_;
    }
    if (h.status == 200) {
      // Per the standard an EventSource fails for good here: this is not an event stream.
      end_.final = true;
      end_.http_status = 200;
      end_.reason = "the server answered 200 with content type '" +
                    (ct ? *ct : std::string("none")) + "', not text/event-stream";
    }
    return true;  // collect the body (the server's explanation) until it ends
  }

  bool on_body(std::string_view chunk) {
    if (!streaming_) {
      if (error_body_.size() < max_error_body)
        error_body_.append(chunk.substr(0, max_error_body - error_body_.size()));
      return true;
    }
    last_rx_ = steady::now();
    const std::uint64_t gen = generation_;
    if (!parser_.feed(chunk)) {
      if (generation_ == gen && !ended_) end("unreadable event stream: " + parser_.error());
      return false;
    }
    return generation_ == gen && !ended_;
  }

  void on_sse_message(sse_message&& m) {
    if (ended_) return;
    c_.sink->on_raw(m.data);
    if (ended_) return;
    // rtev serve's own state: a named event without an id (events have their seq as id).
    if (m.type == "server_status" && !m.has_id) {
      json data = json::parse(m.data, nullptr, false);
      if (data.is_object())
        return c_.sink->on_message(json{{"type", "server_status"}, {"data", std::move(data)}});
    }
    event e = read_foreign(m.data, m.type == "message" ? std::string_view() : m.type,
                           std::chrono::system_clock::now());
    if (!e.id && m.has_id && !m.last_event_id.empty()) {
      e.id = m.last_event_id;
      e.filled_in.push_back("id: from the SSE id");
    }
    c_.sink->on_event(std::move(e));
  }

  void on_stream_done(http_result&& r) {
    if (ended_) return;
    if (r.what == http_result::kind::cancelled) return;  // ours: reopen() or end()
    const int status = r.response.status ? r.response.status : stream_status_;
    if (streaming_) {
      end(r.what == http_result::kind::complete ? "the server ended the event stream"
                                                : "event stream lost: " + r.error);
      return;
    }
    if (status == 0) return end(r.error);
    end_.http_status = status;
    if (end_.final && status == 200) return end(end_.reason);
    if (status == 204) {
      end_.final = true;
      end_.error = errc::closed_by_server;
      return end("the server answered 204 No Content: it asks clients not to reconnect");
    }
    // A reopen for a newly joined room the server refuses: that join fails, the stream goes on
    // without it.
    if (!pending_joins_.empty() && (status == 400 || status == 403 || status == 404)) {
      const std::string why = answered("the event stream", status, error_body_);
      const std::string code = body_code(error_body_, status);
      settle_joins(&code, why);
      end_ = transport_end{};
      reopen();
      return;
    }
    if (status == 401 || status == 403) end_.auth_rejected = true;
    end(answered("the event stream", status, error_body_));
  }

  // Rooms changed while connected: a new stream with the new list, resuming after the last id.
  void reopen() {
    reopening_ = true;
    stream_.cancel("rooms changed");
    if (ended_) return;
    start_stream();
  }

  // --- requests --------------------------------------------------------------------------

  void subscribe(const json& ref, const std::string& room) {
    if (room.empty()) {
      replies_.push_back(reply_error(ref, "bad_request", "SUBSCRIBE needs a room"));
      return;
    }
    if (url_has_rooms_ && rooms_.insert(room).second) {
      // The URL fixes the rooms: this one may or may not be among them; say what happens.
      c_.sink->on_problem(make_error(
          client_error::kind::protocol,
          "the stream URL sets rooms= itself: joining '" + room + "' does not change it"));
    }
    if (rooms_.count(room)) {
      replies_.push_back(ack_subscribe(ref, room));
      return;
    }
    rooms_.insert(room);
    pending_joins_.emplace_back(ref, room);
    reopen_due_ = true;
  }

  void unsubscribe(const json& ref, const std::string& room) {
    const bool was = rooms_.erase(room) > 0;
    replies_.push_back(json{
        {"type", "ACK"},
        {"ref", ref},
        {"data",
         {{"op", "UNSUBSCRIBE"}, {"room", room}, {"subscribed", false}, {"was_subscribed", was}}}});
    if (was && !url_has_rooms_) reopen_due_ = true;
  }

  static json ack_subscribe(const json& ref, const std::string& room) {
    // Nothing to report about replay: an SSE server resumes by Last-Event-ID, not per room.
    return json{{"type", "ACK"},
                {"ref", ref},
                {"data",
                 {{"op", "SUBSCRIBE"},
                  {"room", room},
                  {"last_seq", 0},
                  {"replayed", 0},
                  {"recovered", true}}}};
  }

  // The reopened stream is up (code == nullptr) or refused the new rooms.
  void settle_joins(const std::string* code, const std::string& why = {}) {
    auto joins = std::move(pending_joins_);
    pending_joins_.clear();
    for (auto& [ref, room] : joins) {
      if (code) {
        rooms_.erase(room);
        replies_.push_back(reply_error(ref, *code, why));
      } else {
        replies_.push_back(ack_subscribe(ref, room));
      }
    }
  }

  void publish(const json& ref, const json& data) {
    http_request req;
    req.method = "POST";
    try {
      if (opt_.sse.publish_url.empty()) {
        req.url = c_.url;
        req.url.path = req.url.path.substr(0, req.url.path.find('?'));
      } else {
        req.url = parse_url(opt_.sse.publish_url);
      }
    } catch (const std::exception& e) {
      replies_.push_back(reply_error(ref, "bad_request", e.what()));
      return;
    }
    req.headers.emplace_back("Content-Type", "application/json");
    req.headers.emplace_back("Accept", "application/json");
    if (!token_.empty()) req.headers.emplace_back("Authorization", "Bearer " + token_);
    for (const auto& h : opt_.headers) req.headers.push_back(h);
    req.body = data.dump();
    req.insecure = opt_.insecure;
    req.timeout = opt_.connect_timeout + opt_.heartbeat_timeout;
    req.max_body = 1024 * 1024;
    // The server's rate limit (rtev serve: X-RateLimit-Limit/-Burst on every answer) and, with a
    // 429, when to try again.
    req.capture = {"content-type", "x-ratelimit-limit", "x-ratelimit-burst", "retry-after"};
    const std::string id = data.value("id", "");
    queue_post(ref, id, std::move(req), steady::now(), false);
  }

  // One POST of a publish: `first_try` is when the publish was first sent (a 429 is retried
  // until the request's own time-out has passed since then); `retry`: ahead of the others, so
  // the events stay in order.
  void queue_post(const json& ref, const std::string& id, http_request req,
                  steady::time_point first_try, bool retry) {
    const std::string target = "POST " + req.url.text();
    auto x = std::make_unique<http_exchange>(c_.ctx, c_.protocol_name);
    x->on_done = [this, ref, target, id, again = req, first_try](http_result&& r) mutable {
      const int status = r.response.status;
      if (r.what == http_result::kind::complete) learn_rate_limit(r.response);
      if (r.what == http_result::kind::complete && status == 429 &&
          steady::now() - first_try < again.timeout) {
        // Over the server's limit: nothing was stored. The same event goes again once the
        // server's bucket has a message for it — by the announced rate when known (a second
        // is coarse for 100/s), else by Retry-After — before any later event.
        milliseconds wait = post_rate_ > 0
                                ? milliseconds(static_cast<long>(std::ceil(1000 / post_rate_)))
                                : retry_after(r.response).value_or(milliseconds(1000));
        post_tokens_ = 0;
        post_not_before_ = steady::now() + wait;
        queue_post(ref, id, std::move(again), first_try, true);
        start_next_post();
        return;
      }
      if (r.what != http_result::kind::complete) {
        replies_.push_back(reply_error(ref, "unavailable", target + " failed: " + r.error));
      } else if (status < 200 || status > 299) {
        replies_.push_back(reply_error(ref, body_code(r.response.body, status),
                                       answered(target, status, r.response.body)));
      } else {
        // rtev serve answers {"id","seq","room"?,"duplicate"?}; other servers whatever they
        // like (or nothing): the publish's own id then stands.
        json a = rtev::parse_json(r.response.body);
        if (a.is_array() && a.size() == 1) a = a[0];
        json ack = {{"op", "PUBLISH"}, {"id", id}, {"seq", 0}, {"duplicate", false}};
        if (a.is_object()) {
          if (a.contains("id") && a["id"].is_string()) ack["id"] = a["id"];
          if (a.contains("seq") && a["seq"].is_number_unsigned()) ack["seq"] = a["seq"];
          if (a.contains("duplicate") && a["duplicate"].is_boolean())
            ack["duplicate"] = a["duplicate"];
        }
        replies_.push_back(json{{"type", "ACK"}, {"ref", ref}, {"data", ack}});
      }
      // Delivered from the next tick: the client may be inside a call into this transport.
      start_next_post();
    };
    // One POST at a time, in publish order: parallel requests could be stored out of order.
    if (retry)
      waiting_posts_.emplace_front(std::move(x), std::move(req));
    else
      waiting_posts_.emplace_back(std::move(x), std::move(req));
    start_next_post();
  }

  // Retry-After in seconds (RFC 9110; an HTTP date is not read), at most a minute.
  static std::optional<milliseconds> retry_after(const http_response& r) {
    const std::string* v = r.header("retry-after");
    if (!v || v->empty() || v->size() > 6 ||
        !std::all_of(v->begin(), v->end(), [](unsigned char ch) { return std::isdigit(ch) != 0; }))
      return std::nullopt;
    return milliseconds(std::min(60000L, std::stol(*v) * 1000));
  }

  // The limit an answer announces: publishes are paced under it from then on (a token bucket
  // mirroring the server's, with a margin, as the CLI does for rtev's WebSocket).
  void learn_rate_limit(const http_response& r) {
    const std::string* limit = r.header("x-ratelimit-limit");
    if (!limit) return;
    const double rate = std::strtod(limit->c_str(), nullptr);
    if (!(rate > 0 && rate <= 1e9)) return;
    const std::string* burst_text = r.header("x-ratelimit-burst");
    double burst = burst_text ? std::strtod(burst_text->c_str(), nullptr) : rate;
    if (!(burst >= 1 && burst <= 1e9)) burst = std::max(1.0, rate);
    if (rate == announced_rate_ && burst == announced_burst_) return;
    announced_rate_ = rate;
    announced_burst_ = burst;
    // First heard of (or changed): the server's bucket has lost what was sent so far; assume
    // it is down to what is left after one answer's worth.
    post_rate_ = rate * 0.95;
    post_burst_ = burst;
    post_tokens_ = std::max(0.0, burst * 0.9 - 1);
    post_at_ = steady::now();
  }

  // May the next POST go now? Takes a token when it may.
  bool post_allowed(steady::time_point now) {
    if (now < post_not_before_) return false;
    if (post_rate_ <= 0) return true;
    post_tokens_ =
        std::min(post_burst_ * 0.9,
                 post_tokens_ + std::chrono::duration<double>(now - post_at_).count() * post_rate_);
    post_at_ = now;
    if (post_tokens_ < 1) return false;
    post_tokens_ -= 1;
    return true;
  }

  // Started from the answer to the one before, or from tick() (every 50 ms) while pacing.
  void start_next_post() {
    if (waiting_posts_.empty() ||
        std::any_of(posts_.begin(), posts_.end(),
                    [](const std::unique_ptr<http_exchange>& p) { return p->active(); }) ||
        !post_allowed(steady::now()))
      return;
    posts_.push_back(std::move(waiting_posts_.front().first));
    http_request req = std::move(waiting_posts_.front().second);
    waiting_posts_.pop_front();
    c_.sink->on_sent(req.body.size());
    posts_.back()->start(std::move(req));
  }

  void reap_posts() {
    posts_.remove_if([](const std::unique_ptr<http_exchange>& p) { return !p->active(); });
    start_next_post();
  }

  // Replies are handed over from tick(), never from inside send(): the client may be iterating
  // its own state while it calls send().
  void flush_replies() {
    while (!replies_.empty() && !ended_) {
      json r = std::move(replies_.front());
      replies_.pop_front();
      c_.sink->on_message(std::move(r));
    }
  }

  // The attempt is over: report it once.
  void end(const std::string& why) {
    if (ended_) return;
    ended_ = true;
    ++generation_;
    stream_.cancel("ended");
    // Publishes in flight are abandoned: the client sends them again (same id) after
    // reconnecting, and the server recognises the duplicates.
    for (auto& p : posts_) p->on_done = nullptr;
    for (auto& p : posts_) p->cancel("ended");
    posts_.clear();
    waiting_posts_.clear();
    replies_.clear();
    pending_joins_.clear();
    transport_end e = std::move(end_);
    end_ = transport_end{};
    if (e.reason.empty()) e.reason = why;
    e.was_open = open_;
    e.retry_after = retry_;
    open_ = streaming_ = reopening_ = reopen_due_ = false;
    c_.sink->on_end(std::move(e));
  }

  transport_context c_;
  const client_options& opt_;
  http_exchange stream_;
  std::list<std::unique_ptr<http_exchange>> posts_;  // the one in flight (and finished ones)
  std::deque<std::pair<std::unique_ptr<http_exchange>, http_request>> waiting_posts_;
  sse_parser parser_;
  // The epoch (rtev serve's `rtev-epoch` header) of the stream the last event id came from;
  // empty: the server names none.
  std::string epoch_;
  std::string token_;
  std::set<std::string> rooms_;  // in the stream URL (options' rooms, then joins and leaves)
  std::vector<std::pair<json, std::string>> pending_joins_;  // (ref, room) awaiting a reopen
  std::deque<json> replies_;
  std::string error_body_;
  std::optional<milliseconds> retry_;  // the server's `retry:`, for the rest of the client's life
  // Publish pacing: the announced rate (with a margin) and burst, the bucket's tokens as of
  // post_at_; no POST before post_not_before_ (after a 429).
  double announced_rate_ = 0, announced_burst_ = 0;
  double post_rate_ = 0, post_burst_ = 0, post_tokens_ = 0;
  steady::time_point post_at_{}, post_not_before_{};
  transport_end end_;
  steady::time_point last_rx_{};
  std::uint64_t generation_ = 0;
  int stream_status_ = 0;
  bool url_has_rooms_ = false, url_has_types_ = false;
  bool ended_ = true, open_ = false, streaming_ = false;
  bool reopening_ = false, reopen_due_ = false;
};

}  // namespace

std::unique_ptr<transport> make_sse_transport(const transport_context& c) {
  return std::make_unique<sse_transport>(c);
}

}  // namespace rtev::detail
