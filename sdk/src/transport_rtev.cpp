// The rtev transport: rtev's JSON envelopes over one lws WebSocket client connection. Requests
// go out as they are; every text message is parsed and handed to the client.
//
// Foreign WebSocket servers. rtev serve sends `authenticated` (or `auth_error`) as its first
// message, at once. A server that sends anything else first, or nothing within foreign_wait of
// the upgrade, does not speak rtev's protocol (a FastAPI-style server pushing
// {type, timestamp, timezone, data}, say): the attempt is reported connected right away (a
// synthesized `authenticated` with "foreign": true) and from then on every message is read
// leniently with read_foreign, as SSE and Socket.IO payloads are. Requests such a server cannot
// take are answered here: SUBSCRIBE with an ACK (the URL decides what it sends), UNSUBSCRIBE
// with nothing, everything else with ERROR unsupported. Those answers are delivered from the
// next tick, never from inside send(): the client may be walking the list they change.
// send_raw() still goes out as is. An `auth_error` is an authentication failure either way.
//
// The WebSocket itself — the upgrade request, reassembly with its cap, the write queue, pings,
// closing and killing, how a connection ended — is ws_link's (ws_link.hpp).
//
// Without a token, the first message is a PING (ref "rtev-auth-probe"). rtev servers answer
// PING before authentication, and one that authenticates anonymous connections has queued
// `authenticated` before it reads anything; so a PONG that arrives first means the server waits
// for an `authenticate` message this client has no token for. The attempt then ends at once as
// an authentication failure ("the server requires a token") instead of running into the
// connect time-out or the server's --auth-timeout. The probe's PONG is not passed on.

#include <algorithm>
#include <cstring>
#include <deque>

#include "rtev/json.hpp"
#include "transport.hpp"
#include "ws_link.hpp"

namespace rtev::detail {
namespace {

using json = nlohmann::json;

class rtev_transport final : public transport {
 public:
  explicit rtev_transport(const transport_context& c)
      : c_(c), opt_(*c.opt), link_(c.ctx, c.protocol_name) {
    link_.on_open = [this] { on_open(); };
    link_.on_message = [this](std::string&& text, bool) {
      last_rx_ = steady::now();
      ping_outstanding_ = false;
      on_text(text);
    };
    link_.on_pong = [this] {
      last_rx_ = steady::now();
      ping_outstanding_ = false;
    };
    link_.on_sent = [this](std::size_t n) { c_.sink->on_sent(n); };
    link_.on_end = [this](ws_end&& e) { on_link_end(std::move(e)); };
  }

  void open(const std::string& token) override {
    ++generation_;
    ended_ = authenticated_ = ping_outstanding_ = probe_outstanding_ = false;
    mode_ = mode::rtev;
    opened_at_ = steady::now();
    deferred_.clear();
    end_ = transport_end{};
    token_ = token;

    ws_request req;
    req.url = c_.url;
    // presence=false: a client that only publishes is not announced (docs/protocol.md §4.4).
    if (!opt_.presence)
      req.url.path +=
          (req.url.path.find('?') == std::string::npos ? "?" : "&") + std::string("presence=false");
    if (!token_.empty()) req.headers.emplace_back("Authorization", "Bearer " + token_);
    for (const auto& h : opt_.headers) req.headers.push_back(h);
    req.subprotocol = opt_.subprotocol;
    req.insecure = opt_.insecure;
    req.max_message = opt_.max_message_bytes;
    link_.start(std::move(req));
  }

  void send(json&& request) override {
    if (mode_ == mode::foreign) return answer_for_foreign_server(request);
    send_raw(request.dump());
  }

  void send_raw(std::string text) override { link_.send(std::move(text)); }

  void emit(const std::string&, json, ack_callback ack) override {
    const client_error err =
        make_error(client_error::kind::protocol, "emit needs the socketio protocol (this is rtev)");
    if (ack)
      ack(nullptr, &err);
    else
      c_.sink->on_problem(err);
  }

  bool close() override { return link_.close("client stopping"); }

  void retarget(const parsed_url& url) override { c_.url = url; }

  void kill(const std::string& reason) override {
    if (end_.reason.empty()) end_.reason = reason;
    link_.kill(reason);
  }

  void tick(steady::time_point now) override {
    if (!deferred_.empty()) {
      auto replies = std::move(deferred_);
      deferred_.clear();
      const std::uint64_t gen = generation_;
      for (auto& m : replies) {
        c_.sink->on_message(std::move(m));
        if (gen != generation_ || ended_) return;
      }
    }
    if (!link_.is_open()) return;
    if (mode_ == mode::waiting && now >= detect_by_) {
      const auto waited =
          std::chrono::duration_cast<std::chrono::milliseconds>(detect_by_ - established_at_);
      become_foreign("it sent nothing within " + std::to_string(waited.count()) +
                     " ms of the upgrade (rtev servers send `authenticated` at once)");
      return;
    }
    if (ping_outstanding_ && now - ping_sent_ >= opt_.heartbeat_timeout) {
      kill("no answer to ping within " + std::to_string(opt_.heartbeat_timeout.count()) + " ms");
      return;
    }
    if (!ping_outstanding_ && now - last_rx_ >= opt_.heartbeat_interval) {
      ping_outstanding_ = true;
      ping_sent_ = now;
      link_.ping();
    }
  }

  int on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) override {
    if (link_.owns(w)) return link_.on_callback(w, reason, in, len);
    return lws_callback_http_dummy(w, reason, nullptr, in, len);
  }

 private:
  void on_open() {
    last_rx_ = established_at_ = steady::now();
    if (token_.empty() && !url_carries_token()) {
      // Ask whether the server needs a token (docs/protocol.md §4.1). Not when the URL
      // carries one (`?token=`): the server has it, and a server other than rtev would
      // answer the PING with an error the user did not cause.
      probe_outstanding_ = true;
      link_.send_first(json{{"type", "PING"}, {"ref", auth_probe_ref}}.dump());
    }
    if (opt_.foreign_wait.count() > 0) {
      // The wait ends in time for the connect time-out to find the client connected.
      mode_ = mode::waiting;
      detect_by_ =
          std::min(established_at_ + opt_.foreign_wait, opened_at_ + opt_.connect_timeout * 3 / 4);
    }
  }

  // The link ended: what it says, read as rtev (a refused upgrade, a close code).
  void on_link_end(ws_end&& e) {
    end_.close_code = e.close_code;
    if (e.http_status) {
      end_.http_status = e.http_status;
      if (e.http_status == 401 || e.http_status == 403) end_.auth_rejected = true;
      // Nothing at this path, or a web server that does not upgrade: asking again gets the
      // same answer, so the client closes (reason and http_status say why) instead.
      if (http_status_is_final(e.http_status)) {
        end_.final = true;
        end_.reason = not_that_server("rtev", e.http_status, c_.url.path);
      }
    }
    end(e.reason);
  }

  void on_text(const std::string& text) {
    json j = rtev::parse_json(text);
    if (mode_ == mode::foreign) return on_foreign_text(text, std::move(j));
    if (probe_outstanding_ && j.is_object() && j.value("type", json()) == "PONG" &&
        j.value("ref", json()) == auth_probe_ref) {
      probe_outstanding_ = false;
      if (authenticated_) return;
      end_.auth_rejected = end_.token_required = true;
      end_.reason = "authentication needed: the server requires a token and none was given";
      link_.close("authentication needed");
      return;
    }
    if (mode_ == mode::waiting) {
      const bool typed = j.is_object() && j.contains("type") && j["type"].is_string();
      const std::string type = typed ? j["type"].get<std::string>() : "";
      if (type != "authenticated" && type != "auth_error") {
        become_foreign("its first message is not `authenticated`");
        if (ended_) return;
        return on_foreign_text(text, std::move(j));
      }
      mode_ = mode::rtev;
    }
    c_.sink->on_raw(text);
    if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string()) {
      c_.sink->on_problem(make_error(client_error::kind::protocol,
                                     "the server sent something that is not an rtev message"));
      return;
    }
    const std::string type = j["type"].get<std::string>();
    if (type == "authenticated") authenticated_ = true;
    if (type == "auth_error") {
      end_.auth_rejected = true;
      const json d = j.value("data", json::object());
      end_.reason = "authentication rejected: " + d.value("message", "");
      if (d.value("code", "") == "token_expired") end_.error = errc::token_expired;
    }
    c_.sink->on_message(std::move(j));
  }

  bool url_carries_token() const {
    const std::string& p = c_.url.path;
    const auto q = p.find('?');
    if (q == std::string::npos) return false;
    const std::string query = "&" + p.substr(q + 1);
    return query.find("&token=") != std::string::npos;
  }

  // Not rtev: connected from here on, every message read leniently.
  void become_foreign(const std::string& why) {
    mode_ = mode::foreign;
    authenticated_ = true;
    c_.sink->on_message(
        json{{"type", "authenticated"},
             {"data",
              {{"user_id", ""}, {"anonymous", true}, {"foreign", true}, {"foreign_reason", why}}}});
  }

  void on_foreign_text(const std::string& text, json j) {
    c_.sink->on_raw(text);
    if (j.is_object() && j.contains("type") && j["type"] == "auth_error") {
      // rtev's refusal, from a server that was silent for foreign_wait first (token mode
      // without a token): an authentication failure, not news.
      end_.auth_rejected = true;
      const json d = j.value("data", json::object());
      end_.reason = "authentication rejected: " +
                    (d.is_object() ? d.value("message", std::string()) : std::string());
      c_.sink->on_message(std::move(j));
      return;
    }
    const auto now = std::chrono::system_clock::now();
    c_.sink->on_event(j.is_discarded() ? read_foreign(text, "", now) : read_foreign(j, "", now));
  }

  // A request to a server that does not speak rtev's protocol: answered here (next tick).
  void answer_for_foreign_server(const json& request) {
    const std::string type = request.value("type", "");
    if (type == "UNSUBSCRIBE") return;
    json reply;
    if (type == "SUBSCRIBE") {
      // Nothing to join: the URL decides what such a server sends.
      const json data = request.value("data", json::object());
      reply = {{"type", "ACK"},
               {"data",
                {{"op", "SUBSCRIBE"},
                 {"room", data.is_object() ? data.value("room", "") : ""},
                 {"replayed", 0},
                 {"last_seq", 0}}}};
    } else {
      const std::string what = type == "PUBLISH"              ? "publishing"
                               : type == "HISTORY"            ? "history"
                               : type == "PING"               ? "ping"
                               : type.rfind("TYPING", 0) == 0 ? "typing indicators"
                                                              : type;
      reply = {{"type", "ERROR"},
               {"data",
                {{"code", "unsupported"},
                 {"op", type},
                 {"message", what + " needs rtev's protocol, which this WebSocket server does not "
                                    "speak"}}}};
    }
    if (request.contains("ref")) reply["ref"] = request["ref"];
    deferred_.push_back(std::move(reply));
  }

  // The attempt is over: report it once.
  void end(const std::string& why) {
    if (ended_) return;
    ended_ = true;
    deferred_.clear();
    transport_end e = std::move(end_);
    end_ = transport_end{};
    if (e.reason.empty()) e.reason = why;
    // A close with 1008 before authentication is an auth rejection.
    if (e.close_code == 1008 && !authenticated_) e.auth_rejected = true;
    e.was_open = authenticated_;
    authenticated_ = false;
    c_.sink->on_end(std::move(e));
  }

  transport_context c_;
  const client_options& opt_;
  ws_link link_;
  std::uint64_t generation_ = 0;
  bool ended_ = true, authenticated_ = false, ping_outstanding_ = false;
  bool probe_outstanding_ = false;  // the auth probe's PONG has not arrived yet
  static constexpr const char* auth_probe_ref = "rtev-auth-probe";
  std::string token_;
  steady::time_point last_rx_{}, ping_sent_{};
  transport_end end_;
  // Does the server speak rtev's protocol? waiting: the WebSocket is open, its first message
  // (or foreign_wait) decides.
  enum class mode { waiting, rtev, foreign } mode_ = mode::rtev;
  steady::time_point opened_at_{}, established_at_{}, detect_by_{};
  std::deque<json> deferred_;  // answers to requests a foreign server cannot take
};

}  // namespace

std::unique_ptr<transport> make_rtev_transport(const transport_context& c) {
  return std::make_unique<rtev_transport>(c);
}

}  // namespace rtev::detail
