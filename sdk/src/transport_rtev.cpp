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
// lws 4.1 facts this code depends on (see ../shared/LWS-NOTES.md):
// - an asynchronous kill of a wsi that is still connecting crashed in lws's timer list: kill()
//   closes synchronously from the client's timer, and reports the end itself when lws does
//   not;
// - empty PINGs are never reported answered: ours carry 4 bytes.
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

namespace rtev::detail {
namespace {

using json = nlohmann::json;

class rtev_transport final : public transport {
 public:
  explicit rtev_transport(const transport_context& c) : c_(c), opt_(*c.opt) {}

  void open(const std::string& token) override {
    ++generation_;
    ended_ = ws_open_ = authenticated_ = want_close_ = ping_due_ = ping_outstanding_ = false;
    probe_outstanding_ = false;
    kill_requested_ = false;
    mode_ = mode::rtev;
    opened_at_ = steady::now();
    deferred_.clear();
    rx_.clear();
    outq_.clear();
    end_ = transport_end{};
    token_ = token;

    lws_client_connect_info i{};
    i.context = c_.ctx;
    i.address = c_.url.host.c_str();
    i.port = c_.url.port;
    // presence=false: a client that only publishes is not announced (docs/protocol.md §4.4).
    path_ = c_.url.path;
    if (!opt_.presence)
      path_ += (path_.find('?') == std::string::npos ? "?" : "&") + std::string("presence=false");
    i.path = path_.c_str();
    i.host = c_.url.host.c_str();
    i.origin = c_.url.host.c_str();
    i.protocol = opt_.subprotocol.empty() ? nullptr : opt_.subprotocol.c_str();
    i.local_protocol_name = c_.protocol_name;
    i.retry_and_idle_policy = &no_validity_;
    if (c_.url.tls) {
      i.ssl_connection = LCCSCF_USE_SSL;
      if (opt_.insecure)
        i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                            LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    i.pwsi = &wsi_;
    if (!lws_client_connect_via_info(&i)) {
      wsi_ = nullptr;
      // Failed synchronously (e.g. DNS): the same path as a connection error.
      end("cannot connect to " + c_.url.host + ":" + std::to_string(c_.url.port));
    }
  }

  void send(json&& request) override {
    if (mode_ == mode::foreign) return answer_for_foreign_server(request);
    send_raw(request.dump());
  }

  void send_raw(std::string text) override {
    if (!wsi_) return;
    outq_.push_back(std::move(text));
    lws_callback_on_writable(wsi_);
  }

  void emit(const std::string&, json, ack_callback ack) override {
    const client_error err =
        make_error(client_error::kind::protocol, "emit needs the socketio protocol (this is rtev)");
    if (ack)
      ack(nullptr, &err);
    else
      c_.sink->on_problem(err);
  }

  bool close() override {
    if (!wsi_ || !ws_open_) return false;
    want_close_ = true;
    lws_callback_on_writable(wsi_);
    return true;
  }

  void retarget(const parsed_url& url) override { c_.url = url; }

  void kill(const std::string& reason) override {
    if (!wsi_ || kill_requested_) return;
    kill_requested_ = true;
    end_.reason = reason;
    // From a timer (never inside this wsi's own callback): a synchronous close is safe, and
    // it reaches CLIENT_CONNECTION_ERROR / CLIENT_CLOSED before we return. lws does not always
    // report a connection it was told to kill while still connecting: then we do.
    const std::uint64_t gen = generation_;
    lws_set_timeout(wsi_, static_cast<pending_timeout>(1), LWS_TO_KILL_SYNC);
    if (generation_ == gen && !ended_) end(end_.reason);
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
    if (!ws_open_ || !wsi_) return;
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
      ping_due_ = ping_outstanding_ = true;
      ping_sent_ = now;
      lws_callback_on_writable(wsi_);
    }
  }

  int on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) override {
    switch (reason) {
      case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (w != wsi_) return 0;
        auto** p = static_cast<unsigned char**>(in);
        unsigned char* end = *p + len;
        auto add = [&](const std::string& name, const std::string& value) {
          std::string n = name;
          for (auto& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (n.empty() || n.back() != ':') n += ':';
          return lws_add_http_header_by_name(w, reinterpret_cast<const unsigned char*>(n.c_str()),
                                             reinterpret_cast<const unsigned char*>(value.data()),
                                             static_cast<int>(value.size()), p, end);
        };
        if (!token_.empty() && add("authorization", "Bearer " + token_)) return -1;
        for (const auto& [k, v] : opt_.headers)
          if (add(k, v)) return -1;
        return 0;
      }

      case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (w != wsi_) return 0;
        ws_open_ = true;
        last_rx_ = established_at_ = steady::now();
        if (token_.empty() && !url_carries_token()) {
          // Ask whether the server needs a token (docs/protocol.md §4.1). Not when the URL
          // carries one (`?token=`): the server has it, and a server other than rtev would
          // answer the PING with an error the user did not cause.
          probe_outstanding_ = true;
          outq_.push_front(json{{"type", "PING"}, {"ref", auth_probe_ref}}.dump());
        }
        if (opt_.foreign_wait.count() > 0) {
          // The wait ends in time for the connect time-out to find the client connected.
          mode_ = mode::waiting;
          detect_by_ = std::min(established_at_ + opt_.foreign_wait,
                                opened_at_ + opt_.connect_timeout * 3 / 4);
        }
        if (!outq_.empty()) lws_callback_on_writable(w);
        return 0;

      case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (w != wsi_) return 0;
        last_rx_ = steady::now();
        ping_outstanding_ = false;
        if (lws_is_first_fragment(w)) rx_.clear();
        rx_.append(static_cast<const char*>(in), len);
        if (lws_is_final_fragment(w) && lws_remaining_packet_payload(w) == 0) {
          std::string text;
          text.swap(rx_);
          on_text(text);
        }
        return 0;
      }

      case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        last_rx_ = steady::now();
        ping_outstanding_ = false;
        return 0;

      case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (w != wsi_) return 0;
        // What was handed to send_raw() before stop() goes out before the close frame.
        if (want_close_ && outq_.empty()) {
          static const char bye[] = "client stopping";
          lws_close_reason(w, LWS_CLOSE_STATUS_NORMAL,
                           reinterpret_cast<unsigned char*>(const_cast<char*>(bye)),
                           sizeof bye - 1);
          return -1;
        }
        if (ping_due_ && !want_close_) {
          ping_due_ = false;
          unsigned char buf[LWS_PRE + 4] = {};
          std::memcpy(&buf[LWS_PRE], "rtev", 4);
          if (lws_write(w, &buf[LWS_PRE], 4, LWS_WRITE_PING) < 0) return -1;
        } else if (!outq_.empty()) {
          std::string frame(LWS_PRE, '\0');
          frame += outq_.front();
          outq_.pop_front();
          const std::size_t n = frame.size() - LWS_PRE;
          if (lws_write(w, reinterpret_cast<unsigned char*>(&frame[LWS_PRE]), n, LWS_WRITE_TEXT) <
              static_cast<int>(n))
            return -1;
          c_.sink->on_sent(n);
        }
        if (!outq_.empty() || ping_due_ || want_close_) lws_callback_on_writable(w);
        return 0;
      }

      case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (w == wsi_ && len >= 2) {
          const auto* b = static_cast<const unsigned char*>(in);
          end_.close_code = (b[0] << 8) | b[1];
          std::string text(reinterpret_cast<const char*>(b) + 2, len - 2);
          if (end_.reason.empty())
            end_.reason = "closed by the server (" + std::to_string(end_.close_code) +
                          (text.empty() ? "" : " " + text) + ")";
        }
        return 0;

      case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        if (w != wsi_ && wsi_ != nullptr) return 0;
        const int status = static_cast<int>(lws_http_client_http_response(w));
        if (status > 0 && status != 101) end_.http_status = status;
        std::string why = in ? std::string(static_cast<const char*>(in),
                                           strnlen(static_cast<const char*>(in), len ? len : 256))
                             : "connection failed";
        if (end_.http_status) why = "the server answered HTTP " + std::to_string(end_.http_status);
        if (end_.http_status == 401 || end_.http_status == 403) end_.auth_rejected = true;
        // Nothing at this path, or a web server that does not upgrade: asking again gets the
        // same answer, so the client closes (reason and http_status say why) instead.
        if (http_status_is_final(end_.http_status)) {
          end_.final = true;
          why = not_that_server("rtev", end_.http_status, path_);
        }
        end(why);
        return 0;
      }

      case LWS_CALLBACK_CLIENT_CLOSED:
        if (w != wsi_ && wsi_ != nullptr) return 0;
        end("connection closed");
        return 0;

      default:
        return lws_callback_http_dummy(w, reason, nullptr, in, len);
    }
  }

 private:
  void on_text(const std::string& text) {
    json j = rtev::parse_json(text);
    if (mode_ == mode::foreign) return on_foreign_text(text, std::move(j));
    if (probe_outstanding_ && j.is_object() && j.value("type", json()) == "PONG" &&
        j.value("ref", json()) == auth_probe_ref) {
      probe_outstanding_ = false;
      if (authenticated_) return;
      end_.auth_rejected = end_.token_required = true;
      end_.reason = "authentication needed: the server requires a token and none was given";
      want_close_ = true;
      lws_callback_on_writable(wsi_);
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
    wsi_ = nullptr;
    outq_.clear();
    deferred_.clear();
    transport_end e = std::move(end_);
    end_ = transport_end{};
    if (e.reason.empty()) e.reason = why;
    // A close with 1008 before authentication is an auth rejection.
    if (e.close_code == 1008 && !authenticated_) e.auth_rejected = true;
    e.was_open = authenticated_;
    ws_open_ = authenticated_ = false;
    c_.sink->on_end(std::move(e));
  }

  transport_context c_;
  const client_options& opt_;
  lws_retry_bo_t no_validity_{};
  lws* wsi_ = nullptr;
  std::uint64_t generation_ = 0;
  std::string path_;  // the upgrade request's path and query (outlives the connect call)
  bool ended_ = true, ws_open_ = false, authenticated_ = false, want_close_ = false;
  bool ping_due_ = false, ping_outstanding_ = false, kill_requested_ = false;
  bool probe_outstanding_ = false;  // the auth probe's PONG has not arrived yet
  static constexpr const char* auth_probe_ref = "rtev-auth-probe";
  std::string token_, rx_;
  std::deque<std::string> outq_;
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
