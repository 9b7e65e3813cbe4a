// The Socket.IO transport: a Socket.IO v5 client over Engine.IO v4, on the client's lws
// context. Two ways in, as socket.io-client does them:
//
//   default         GET  <path>?EIO=4&transport=polling          → "0{sid, upgrades, ping…}"
//                   POST the namespace CONNECT, then one long-poll GET and at most one POST
//                   at a time; meanwhile a WebSocket probe (…&transport=websocket&sid=…):
//                   "2probe" → "3probe", wait for the GET/POST in flight, "5" (upgrade), and
//                   carry on over the WebSocket. A failed probe leaves the session on polling.
//   websocket_only  one WebSocket (…&transport=websocket); the open packet arrives on it.
//
// rtev requests are translated: SUBSCRIBE → join_event with an ack (→ ACK op SUBSCRIBE),
// UNSUBSCRIBE → leave_event, PUBLISH → publish_event with an ack (→ ACK op PUBLISH or ERROR),
// TYPING_* → `typing`; HISTORY and PING → ERROR unsupported. Incoming events go through
// read_foreign; a second argument carrying id/seq/room/timestamp/timezone (rtev serve's `meta`)
// makes them full rtev events, so seq dedupe and recovery work as over rtev's own protocol.
//
// Every wsi this transport creates carries a numeric id as its lws opaque user data: callbacks
// are routed by that id, so a callback for a connection of an ended attempt (or one lws reports
// late) finds no entry, or a "zombie" one that is closed on sight, and never touches the
// current attempt.
//
// lws 4.1 facts this code depends on (see ../shared/LWS-NOTES.md and transport_rtev.cpp):
// - kill() closes synchronously from the client's timer; a connection of an ended attempt is
//   closed from its own next callback, by a short lws timeout, or synchronously by the next
//   open()/kill() — never asynchronously from another connection's callback while connecting;
// - an HTTP client request waiting for its response is killed after the context's timeout_secs
//   (15 s by default), but a long-poll GET is held up to pingInterval (25 s by default): the
//   held GET's timeout is pushed back from tick().

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <random>

#include "rtev/json.hpp"
#include "transport.hpp"
#include "wire/socketio_codec.hpp"

namespace rtev::detail {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
namespace wire = rtev::wire;

enum class role { ws, probe, poll_get, poll_post };

struct outgoing {
  std::string text;               // one Engine.IO packet
  std::function<void()> written;  // called once the server has it (may be empty)
};

// One lws connection of this transport.
struct conn {
  role kind = role::ws;
  lws* wsi = nullptr;
  bool zombie = false;   // belongs to an ended attempt or a dropped probe: close on sight
  bool ws_open = false;  // ws/probe: the upgrade is done
  bool want_close = false;
  int status = 0;                              // HTTP status of the response
  std::string rx;                              // ws: message being reassembled; http: response body
  std::deque<outgoing> outq;                   // ws: frames to write
  std::string body;                            // poll_post: the payload
  std::vector<std::function<void()>> written;  // poll_post: callbacks once the POST is taken
};

bool reserved_event(const std::string& name) {
  return name == "connect" || name == "connect_error" || name == "disconnect" ||
         name == "disconnecting" || name == "newListener" || name == "removeListener";
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// A response body or close reason for a message: short and printable.
std::string shorten(std::string s) {
  for (auto& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  if (s.size() > 200) s = s.substr(0, 200) + "…";
  return s;
}

class socketio_transport final : public transport {
 public:
  explicit socketio_transport(const transport_context& c) : c_(c), opt_(*c.opt) {
    const auto& so = opt_.socketio;
    // The URL's path: the Engine.IO path when it is that (http://host/socket.io/), otherwise
    // the namespace when options leave it at "/" (io("http://host/admin") does the same).
    std::string path = c_.url.path, query;
    if (auto q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path.erase(q);
    }
    engine_path_ = so.path.empty() ? "/socket.io/" : so.path;
    if (engine_path_.front() != '/') engine_path_.insert(0, "/");
    if (engine_path_.back() != '/') engine_path_ += '/';
    nsp_ = so.nsp.empty() ? "/" : so.nsp;
    const bool is_engine_path = path == engine_path_ || path + "/" == engine_path_;
    if (nsp_ == "/" && path != "/" && !path.empty() && !is_engine_path) nsp_ = path;
    extra_query_ = query;

    const bool ipv6 = c_.url.host.find(':') != std::string::npos;
    host_header_ = ipv6 ? "[" + c_.url.host + "]" : c_.url.host;
    const int default_port = c_.url.tls ? 443 : 80;
    if (c_.url.port != default_port) host_header_ += ":" + std::to_string(c_.url.port);
    origin_ = std::string(c_.url.tls ? "https://" : "http://") + host_header_;
  }

  // --- transport --------------------------------------------------------------------------

  void open(const std::string& token) override {
    close_zombies_now();
    conns_.clear();
    ++attempt_;
    ended_ = eio_open_ = authenticated_ = pausing_ = closing_ = kill_requested_ = false;
    attachments_to_skip_ = 0;
    upgraded_ = opt_.socketio.websocket_only;
    main_ws_ = get_ = post_ = probe_ = 0;
    pollq_.clear();
    acks_.clear();
    next_ack_id_ = 0;
    sid_.clear();
    end_ = transport_end{};
    token_ = token;
    ping_interval_ = 25000ms;
    ping_timeout_ = 20000ms;
    max_payload_ = 1000000;
    if (opt_.socketio.websocket_only)
      main_ws_ = start(role::ws);
    else
      get_ = start(role::poll_get);
    if (!ended_ && !main_ws_ && !get_)
      end("cannot connect to " + c_.url.host + ":" + std::to_string(c_.url.port));
  }

  void send(json&& request) override {
    if (!authenticated_ || ended_) return;
    const std::string type = request.value("type", "");
    const std::string ref = request.contains("ref") && request["ref"].is_string()
                                ? request["ref"].get<std::string>()
                                : std::string();
    const json data = request.contains("data") ? request["data"] : json::object();
    const auto& so = opt_.socketio;

    if (type == "SUBSCRIBE") {
      const std::string room = data.value("room", "");
      if (so.join_event.empty()) {
        // Nothing to ask: the namespace itself is the subscription.
        reply_ack(ref, {{"op", "SUBSCRIBE"}, {"room", room}});
        return;
      }
      json arg = {{"room", room}};
      for (const char* k : {"since", "epoch", "types"})
        if (data.contains(k)) arg[k] = data[k];
      pending p;
      p.what = pending::join;
      p.ref = ref;
      p.room = room;
      emit_packet(so.join_event, json::array({arg}), std::move(p));
      return;
    }
    if (type == "UNSUBSCRIBE") {
      if (!so.leave_event.empty())
        emit_packet(so.leave_event, json::array({{{"room", data.value("room", "")}}}), {});
      return;
    }
    if (type == "PUBLISH") {
      const std::string id = data.value("id", "");
      if (so.publish_event.empty()) {
        // The event type itself, data as the only argument: done once the server has it.
        outgoing o;
        o.text = wire::eio_encode(
            wire::eio_type::message,
            wire::sio_event(nsp_, data.value("type", "message"),
                            json::array({data.contains("data") ? data["data"] : json()})));
        o.written = [this, ref, id, a = attempt_] {
          if (a == attempt_ && !ended_)
            reply_ack(ref, {{"op", "PUBLISH"}, {"id", id}, {"seq", 0}, {"duplicate", false}});
        };
        send_eio(std::move(o));
        return;
      }
      pending p;
      p.what = pending::publish;
      p.ref = ref;
      p.publish_id = id;
      emit_packet(so.publish_event, json::array({data}), std::move(p));
      return;
    }
    if (type == "TYPING_START" || type == "TYPING_STOP" || type == "TYPING") {
      const bool is_typing =
          type == "TYPING" ? data.value("is_typing", true) : type == "TYPING_START";
      emit_packet("typing",
                  json::array({{{"room", data.value("room", "")}, {"is_typing", is_typing}}}), {});
      return;
    }
    reply_error(
        ref, "unsupported",
        (type.empty() ? std::string("this request") : type) + " is not available over Socket.IO");
  }

  void send_raw(std::string text) override {
    if (!eio_open_ || ended_) return;
    try {
      wire::sio_decode(text);
    } catch (const std::exception& e) {
      c_.sink->on_problem(
          make_error(client_error::kind::protocol, std::string("not sent: ") + e.what()));
      return;
    }
    send_eio({wire::eio_encode(wire::eio_type::message, text), {}});
  }

  void emit(const std::string& name, json args, ack_callback ack) override {
    auto fail = [&](const std::string& why, client_error::kind k) {
      const client_error err = make_error(k, why);
      if (ack)
        ack(nullptr, &err);
      else
        c_.sink->on_problem(err);
    };
    if (reserved_event(name))
      return fail("'" + name + "' is a reserved Socket.IO event name: not emitted",
                  client_error::kind::protocol);
    if (!authenticated_ || ended_)
      return fail("not connected: '" + name + "' not emitted", client_error::kind::connection);
    pending p;
    if (ack) {
      p.what = pending::user;
      p.name = name;
      p.callback = std::move(ack);
    }
    emit_packet(name, std::move(args), std::move(p));
  }

  bool close() override {
    if (ended_) return false;
    if (!eio_open_) return false;
    closing_ = true;
    // Leave the namespace, then close the Engine.IO session (as socket.io-client's disconnect()).
    wire::sio_packet bye;
    bye.type = wire::sio_type::disconnect;
    bye.nsp = nsp_;
    bye.data = nullptr;
    if (upgraded_) {
      conn* ws = find(main_ws_);
      if (!ws || !ws->wsi) return false;
      ws->outq.push_back({wire::eio_encode(wire::eio_type::message, wire::sio_encode(bye)), {}});
      ws->want_close = true;
      lws_callback_on_writable(ws->wsi);
      return true;
    }
    pausing_ = false;
    pollq_.push_back({wire::eio_encode(wire::eio_type::message, wire::sio_encode(bye)), {}});
    pollq_.push_back({wire::eio_encode(wire::eio_type::close), [this, a = attempt_] {
                        if (a == attempt_) end("client closed");
                      }});
    flush_poll();
    return post_ != 0;
  }

  void kill(const std::string& reason) override {
    if (ended_ || kill_requested_) return;
    kill_requested_ = true;
    if (end_.reason.empty()) end_.reason = reason;
    const std::uint64_t a = attempt_;
    kill_all_now();
    if (a == attempt_ && !ended_) end(reason);
  }

  void tick(steady::time_point now) override {
    if (ended_) return;
    if (eio_open_) {
      const auto limit = ping_interval_ + ping_timeout_;
      if (now - last_ping_ >= limit) {
        kill("no ping from the server within " + std::to_string(limit.count()) + " ms");
        return;
      }
    }
    // A long-poll is held by the server for up to pingInterval: keep lws's response time-out
    // (15 s) from cutting it.
    if (now - last_timeout_push_ >= 1s) {
      last_timeout_push_ = now;
      if (conn* g = find(get_); g && g->wsi && eio_open_) {
        const auto secs =
            std::chrono::duration_cast<std::chrono::seconds>(ping_interval_ + ping_timeout_)
                .count() +
            5;
        lws_set_timeout(g->wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, static_cast<int>(secs));
      }
    }
  }

  int on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) override {
    if (!w) return lws_callback_http_dummy(w, reason, nullptr, in, len);
    const auto id = reinterpret_cast<std::uintptr_t>(lws_get_opaque_user_data(w));
    auto it = id ? conns_.find(id) : conns_.end();
    if (it == conns_.end()) return lws_callback_http_dummy(w, reason, nullptr, in, len);
    conn& cn = it->second;
    if (!cn.wsi) cn.wsi = w;  // reported before lws_client_connect_via_info returned

    if (is_final(reason)) {
      const bool zombie = cn.zombie;
      const role kind = cn.kind;
      const int status = reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR
                             ? static_cast<int>(lws_http_client_http_response(w))
                             : cn.status;
      std::string why;
      if (reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR) {
        why = in ? std::string(static_cast<const char*>(in),
                               strnlen(static_cast<const char*>(in), len ? len : 256))
                 : "connection failed";
      } else {
        why = "connection closed";
      }
      std::string body = std::move(cn.rx);
      conns_.erase(it);
      if (!zombie) on_conn_lost(id, kind, status, why, body);
      return 0;
    }
    if (cn.zombie) return closes_on_error(reason) ? -1 : 0;

    switch (reason) {
      case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return append_headers(w, cn, static_cast<unsigned char**>(in), len);

      // --- WebSocket ---
      case LWS_CALLBACK_CLIENT_ESTABLISHED:
        cn.ws_open = true;
        if (cn.kind == role::probe) {
          cn.outq.push_back({wire::eio_encode(wire::eio_type::ping, "probe"), {}});
        }
        if (!cn.outq.empty()) lws_callback_on_writable(w);
        return 0;

      case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (lws_is_first_fragment(w)) cn.rx.clear();
        if (!lws_frame_is_binary(w)) cn.rx.append(static_cast<const char*>(in), len);
        if (!lws_is_final_fragment(w) || lws_remaining_packet_payload(w) != 0) return 0;
        if (lws_frame_is_binary(w)) {
          // The attachments of a binary packet already reported (by name) are not news.
          if (attachments_to_skip_ > 0)
            --attachments_to_skip_;
          else
            c_.sink->on_problem(
                make_error(client_error::kind::protocol,
                           "binary Socket.IO messages are not supported (ignored)"));
          return 0;
        }
        std::string text;
        text.swap(cn.rx);
        if (cn.kind == role::probe) return on_probe_text(id, text);
        on_eio_text(text);
        return ended_ ? -1 : 0;
      }

      case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!cn.outq.empty()) {
          outgoing o = std::move(cn.outq.front());
          cn.outq.pop_front();
          std::string frame(LWS_PRE, '\0');
          frame += o.text;
          const std::size_t n = frame.size() - LWS_PRE;
          if (lws_write(w, reinterpret_cast<unsigned char*>(&frame[LWS_PRE]), n, LWS_WRITE_TEXT) <
              static_cast<int>(n))
            return -1;
          if (o.written) o.written();
          if (ended_) return -1;
          // `cn` is still valid: nothing above erases connections of a live attempt.
        }
        if (!cn.outq.empty()) {
          lws_callback_on_writable(w);
        } else if (cn.want_close) {
          static const char bye[] = "client stopping";
          lws_close_reason(w, LWS_CLOSE_STATUS_NORMAL,
                           reinterpret_cast<unsigned char*>(const_cast<char*>(bye)),
                           sizeof bye - 1);
          if (end_.reason.empty()) end_.reason = "client closed";
          return -1;
        }
        return 0;
      }

      case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2 && (cn.kind == role::ws || id == main_ws_)) {
          const auto* b = static_cast<const unsigned char*>(in);
          end_.close_code = (b[0] << 8) | b[1];
          std::string text(reinterpret_cast<const char*>(b) + 2, len - 2);
          if (end_.reason.empty())
            end_.reason = "closed by the server (" + std::to_string(end_.close_code) +
                          (text.empty() ? "" : " " + shorten(text)) + ")";
        }
        return 0;

      // --- HTTP long-polling ---
      case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        cn.status = static_cast<int>(lws_http_client_http_response(w));
        return 0;

      case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
        if (cn.kind != role::poll_post || cn.body.empty()) return 0;
        std::string buf(LWS_PRE, '\0');
        buf += cn.body;
        cn.body.clear();
        const std::size_t n = buf.size() - LWS_PRE;
        lws_client_http_body_pending(w, 0);
        if (lws_write(w, reinterpret_cast<unsigned char*>(&buf[LWS_PRE]), n, LWS_WRITE_HTTP_FINAL) <
            static_cast<int>(n))
          return -1;
        return 0;
      }

      case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[LWS_PRE + 4096];
        char* p = buf + LWS_PRE;
        int n = static_cast<int>(sizeof buf - LWS_PRE);
        return lws_http_client_read(w, &p, &n) < 0 ? -1 : 0;
      }

      case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        // A polling body is at most maxPayload (plus framing); anything far beyond is not one.
        if (cn.rx.size() + len > max_payload_ * 2 + 65536) {
          end_.reason =
              "a polling response exceeded " + std::to_string(max_payload_ * 2) + " bytes";
          end(end_.reason);
          return -1;
        }
        cn.rx.append(static_cast<const char*>(in), len);
        return 0;

      case LWS_CALLBACK_COMPLETED_CLIENT_HTTP: {
        const role kind = cn.kind;
        const int status = cn.status;
        std::string body = std::move(cn.rx);
        auto written = std::move(cn.written);
        // Done with this connection: lws closes it when we return nonzero, and its CLOSED
        // callback finds no entry.
        conns_.erase(it);
        if (kind == role::poll_get) {
          get_ = 0;
          on_get_done(status, body);
        } else {
          post_ = 0;
          on_post_done(status, body, written);
        }
        return -1;
      }

      default:
        return lws_callback_http_dummy(w, reason, nullptr, in, len);
    }
  }

 private:
  struct pending {
    enum kind_t { none, user, join, publish } what = none;
    std::string ref, room, publish_id, name;
    ack_callback callback;
  };

  static bool is_final(lws_callback_reasons r) {
    return r == LWS_CALLBACK_CLIENT_CONNECTION_ERROR || r == LWS_CALLBACK_CLIENT_CLOSED ||
           r == LWS_CALLBACK_CLOSED_CLIENT_HTTP;
  }
  // Callbacks where returning -1 makes lws close the connection.
  static bool closes_on_error(lws_callback_reasons r) {
    switch (r) {
      case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
      case LWS_CALLBACK_CLIENT_ESTABLISHED:
      case LWS_CALLBACK_CLIENT_RECEIVE:
      case LWS_CALLBACK_CLIENT_WRITEABLE:
      case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
      case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
      case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
      case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
      case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
        return true;
      default:
        return false;
    }
  }

  conn* find(std::uintptr_t id) {
    if (!id) return nullptr;
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : &it->second;
  }

  std::string query(const char* transport_name) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string q = engine_path_ + "?EIO=4&transport=" + transport_name;
    if (!sid_.empty()) q += "&sid=" + sid_;
    if (std::string(transport_name) == "polling") {
      // A cache buster, as socket.io-client sends (proxies must not answer a poll from cache).
      static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
      std::string t;
      for (std::uint64_t v = rng(); t.size() < 8; v /= 36) t += digits[v % 36];
      q += "&t=" + t;
    }
    if (!extra_query_.empty()) q += "&" + extra_query_;
    return q;
  }

  // Starts one connection; 0 when lws refused it on the spot.
  std::uintptr_t start(role kind, std::string body = {}) {
    const std::uintptr_t id = ++next_conn_id_;
    conn& cn = conns_[id];
    cn.kind = kind;
    cn.body = std::move(body);
    const bool ws = kind == role::ws || kind == role::probe;
    const std::string path = query(ws ? "websocket" : "polling");

    lws_client_connect_info i{};
    i.context = c_.ctx;
    i.address = c_.url.host.c_str();
    i.port = c_.url.port;
    i.path = path.c_str();
    i.host = host_header_.c_str();
    i.origin = origin_.c_str();
    i.local_protocol_name = c_.protocol_name;
    // lws carries an opaque pointer per connection; we store the attempt's id in it.
    i.opaque_user_data = reinterpret_cast<void*>(id);  // NOLINT(performance-no-int-to-ptr)
    if (ws) {
      i.protocol = nullptr;
      i.retry_and_idle_policy = &no_validity_;  // Engine.IO has its own heartbeat
    } else {
      i.method = kind == role::poll_post ? "POST" : "GET";
      i.alpn = "http/1.1";
    }
    if (c_.url.tls) {
      i.ssl_connection = LCCSCF_USE_SSL;
      if (opt_.insecure)
        i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                            LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    // lws writes *pwsi only inside this call (and clears it when the wsi died there): a member,
    // not the map entry, which a synchronous failure callback may already have erased.
    connecting_ = nullptr;
    i.pwsi = &connecting_;
    const std::uint64_t a = attempt_;
    lws* w = lws_client_connect_via_info(&i);
    (void)w;
    conn* now = find(id);
    if (!connecting_) {
      // Failed on the spot (DNS, sockets); a failure callback may already have ended us.
      if (now) conns_.erase(id);
      return 0;
    }
    if (now) now->wsi = connecting_;
    return a == attempt_ && now ? id : 0;
  }

  int append_headers(lws* w, conn& cn, unsigned char** p, size_t len) {
    unsigned char* end = *p + len;
    auto add = [&](const std::string& name, const std::string& value) {
      std::string n = lower(name);
      if (n.empty() || n.back() != ':') n += ':';
      return lws_add_http_header_by_name(w, reinterpret_cast<const unsigned char*>(n.c_str()),
                                         reinterpret_cast<const unsigned char*>(value.data()),
                                         static_cast<int>(value.size()), p, end);
    };
    if (!token_.empty() && add("authorization", "Bearer " + token_)) return -1;
    for (const auto& [k, v] : opt_.headers)
      if (add(k, v)) return -1;
    if (cn.kind == role::poll_post) {
      if (add("content-type", "text/plain;charset=UTF-8")) return -1;
      if (lws_add_http_header_content_length(w, cn.body.size(), p, end)) return -1;
      lws_client_http_body_pending(w, 1);
      lws_callback_on_writable(w);
    }
    return 0;
  }

  // --- Engine.IO ---------------------------------------------------------------------------

  void on_get_done(int status, const std::string& body) {
    if (ended_) return;
    if (status != 200) return fail_http("long-polling GET", status, body);
    std::vector<wire::eio_packet> packets;
    try {
      packets = wire::eio_decode_payload(body);
    } catch (const std::exception& e) {
      end(std::string("unreadable polling response: ") + e.what());
      return;
    }
    const std::uint64_t a = attempt_;
    for (auto& p : packets) {
      on_eio_packet(std::move(p));
      if (a != attempt_ || ended_) return;
    }
    if (upgraded_ || closing_) return;
    if (pausing_) return maybe_finish_upgrade();
    get_ = start(role::poll_get);
    if (!get_ && !ended_) end("cannot start the next long-poll");
  }

  void on_post_done(int status, const std::string& body,
                    std::vector<std::function<void()>>& written) {
    if (ended_) return;
    if (status != 200) return fail_http("long-polling POST", status, body);
    const std::uint64_t a = attempt_;
    for (auto& fn : written) {
      if (fn) fn();
      if (a != attempt_ || ended_) return;
    }
    if (pausing_)
      maybe_finish_upgrade();
    else
      flush_poll();
  }

  void fail_http(const std::string& what, int status, const std::string& body) {
    end_.http_status = status;
    if (status == 401 || status == 403) end_.auth_rejected = true;
    // Engine.IO errors are {"code": n, "message": "…"}.
    std::string detail = shorten(body);
    json j = rtev::parse_json(body);
    if (j.is_object() && j.contains("message") && j["message"].is_string())
      detail = j["message"].get<std::string>();
    end(what + ": the server answered HTTP " + std::to_string(status) +
        (detail.empty() ? "" : " (" + detail + ")"));
  }

  void on_eio_text(const std::string& text) {
    wire::eio_packet p;
    try {
      p = wire::eio_decode(text);
    } catch (const std::exception& e) {
      c_.sink->on_problem(make_error(client_error::kind::protocol, e.what()));
      return;
    }
    on_eio_packet(std::move(p));
  }

  void on_eio_packet(wire::eio_packet&& p) {
    switch (p.type) {
      case wire::eio_type::open:
        return on_open(p.data);
      case wire::eio_type::ping:
        last_ping_ = steady::now();
        send_eio({wire::eio_encode(wire::eio_type::pong, p.data), {}});
        return;
      case wire::eio_type::close:
        end("closed by the server (Engine.IO close)");
        return;
      case wire::eio_type::message:
        return on_sio_text(p.data);
      case wire::eio_type::pong:
      case wire::eio_type::upgrade:
      case wire::eio_type::noop:
        return;
    }
  }

  void on_open(const std::string& data) {
    if (eio_open_) return;
    json j = rtev::parse_json(data);
    if (!j.is_object() || !j.contains("sid") || !j["sid"].is_string()) {
      end("the server's Engine.IO open packet has no session id: " + shorten(data));
      return;
    }
    sid_ = j["sid"].get<std::string>();
    auto ms = [&](const char* k, std::chrono::milliseconds fallback) {
      return j.contains(k) && j[k].is_number_unsigned() && j[k].get<std::uint64_t>() > 0
                 ? std::chrono::milliseconds(j[k].get<std::uint64_t>())
                 : fallback;
    };
    ping_interval_ = ms("pingInterval", 25000ms);
    ping_timeout_ = ms("pingTimeout", 20000ms);
    if (j.contains("maxPayload") && j["maxPayload"].is_number_unsigned() &&
        j["maxPayload"].get<std::uint64_t>() > 0)
      max_payload_ = j["maxPayload"].get<std::size_t>();
    eio_open_ = true;
    last_ping_ = steady::now();

    // The namespace CONNECT, with the auth payload.
    wire::sio_packet connect;
    connect.type = wire::sio_type::connect;
    connect.nsp = nsp_;
    const json& auth = opt_.socketio.auth;
    if (!auth.is_null() && !auth.is_object()) {
      end_.final = true;
      end("the Socket.IO auth payload must be a JSON object, got " + json_type_name(auth));
      return;
    }
    if (auth.is_object())
      connect.data = auth;
    else if (!token_.empty())
      connect.data = json{{"token", token_}};
    else
      connect.data = nullptr;
    // A client that only publishes asks not to be announced (rtev serve reads auth.presence).
    if (!opt_.presence && (connect.data.is_null() || !connect.data.contains("presence"))) {
      if (connect.data.is_null()) connect.data = json::object();
      connect.data["presence"] = false;
    }
    send_eio({wire::eio_encode(wire::eio_type::message, wire::sio_encode(connect)), {}});

    if (upgraded_) return;
    bool can_upgrade = false;
    if (j.contains("upgrades") && j["upgrades"].is_array())
      for (const auto& u : j["upgrades"])
        if (u == "websocket") can_upgrade = true;
    if (can_upgrade) probe_ = start(role::probe);
  }

  int on_probe_text(std::uintptr_t id, const std::string& text) {
    if (id != probe_ || ended_) return -1;
    if (text == "3probe") {
      pausing_ = true;
      maybe_finish_upgrade();
      return 0;
    }
    // Anything else on a probe: not an Engine.IO v4 server we can upgrade with.
    drop_probe("unexpected answer to the probe: " + shorten(text));
    return -1;
  }

  // The probe was answered: switch once no GET or POST is in flight (the server ends a held
  // GET with a noop when the probe arrives).
  void maybe_finish_upgrade() {
    if (!pausing_ || get_ || post_ || ended_) return;
    conn* ws = find(probe_);
    if (!ws || !ws->wsi) {
      pausing_ = false;
      return;
    }
    pausing_ = false;
    upgraded_ = true;
    main_ws_ = probe_;
    probe_ = 0;
    ws->kind = role::ws;
    ws->outq.push_back({wire::eio_encode(wire::eio_type::upgrade), {}});
    for (auto& o : pollq_) ws->outq.push_back(std::move(o));
    pollq_.clear();
    lws_callback_on_writable(ws->wsi);
  }

  void drop_probe(const std::string& why) {
    if (conn* ws = find(probe_)) retire(*ws);
    probe_ = 0;
    const bool was_pausing = pausing_;
    pausing_ = false;
    if (!closing_)
      c_.sink->on_problem(
          make_error(client_error::kind::connection,
                     "WebSocket upgrade failed (" + why + "); staying on HTTP long-polling"));
    if (was_pausing && !ended_ && !upgraded_) {
      if (!get_) get_ = start(role::poll_get);
      if (!get_ && !ended_) return end("cannot restart long-polling");
      flush_poll();
    }
  }

  void send_eio(outgoing o) {
    if (ended_) return;
    if (upgraded_) {
      conn* ws = find(main_ws_);
      if (!ws || !ws->wsi) return;
      ws->outq.push_back(std::move(o));
      if (ws->ws_open) lws_callback_on_writable(ws->wsi);
      return;
    }
    pollq_.push_back(std::move(o));
    flush_poll();
  }

  // One POST at a time, at most maxPayload bytes (one packet always goes, whatever its size).
  void flush_poll() {
    if (ended_ || upgraded_ || pausing_ || post_ || pollq_.empty() || !eio_open_) return;
    std::vector<wire::eio_packet> batch;
    std::vector<std::function<void()>> written;
    std::size_t size = 0;
    while (!pollq_.empty()) {
      const std::string& t = pollq_.front().text;
      if (!batch.empty() && size + 1 + t.size() > max_payload_) break;
      size += t.size() + 1;
      batch.push_back(wire::eio_packet{static_cast<wire::eio_type>(t[0]), t.substr(1)});
      written.push_back(std::move(pollq_.front().written));
      pollq_.pop_front();
    }
    post_ = start(role::poll_post, wire::eio_encode_payload(batch));
    if (conn* p = find(post_)) {
      p->written = std::move(written);
    } else if (!ended_) {
      end("cannot start a long-polling POST");
    }
  }

  // --- Socket.IO ---------------------------------------------------------------------------

  void on_sio_text(const std::string& text) {
    c_.sink->on_raw(text);
    wire::sio_packet p;
    try {
      p = wire::sio_decode(text);
    } catch (const std::exception& e) {
      if (!text.empty() && (text[0] == '5' || text[0] == '6'))
        attachments_to_skip_ = std::strtoul(text.c_str() + 1, nullptr, 10);
      c_.sink->on_problem(make_error(client_error::kind::protocol, e.what()));
      return;
    }
    if (p.nsp != nsp_) return;  // another namespace multiplexed on this session: not ours
    switch (p.type) {
      case wire::sio_type::connect:
        return on_connected(p.data);
      case wire::sio_type::connect_error:
        return on_connect_error(p.data);
      case wire::sio_type::disconnect:
        end("disconnected by the server (namespace " + nsp_ + ")");
        return;
      case wire::sio_type::event:
        return on_sio_event(std::move(p));
      case wire::sio_type::ack:
        return on_sio_ack(*p.ack_id, p.data);
      case wire::sio_type::binary_event:
      case wire::sio_type::binary_ack:
        return;  // refused by the decoder
    }
  }

  void on_connected(const json& d) {
    if (authenticated_) return;
    authenticated_ = true;
    // Emits first: the client sends its SUBSCRIBEs from inside on_message(authenticated).
    for (const auto& [name, args] : opt_.socketio.emits) {
      if (reserved_event(name)) {
        c_.sink->on_problem(
            make_error(client_error::kind::protocol,
                       "'" + name + "' is a reserved Socket.IO event name: not emitted"));
        continue;
      }
      emit_packet(name, args, {});
    }
    json data = json::object();
    std::string user;
    if (d.is_object()) {
      for (const char* k : {"user_id", "userId"})
        if (d.contains(k) && (d[k].is_string() || d[k].is_number_integer())) {
          user = d[k].is_string() ? d[k].get<std::string>() : d[k].dump();
          break;
        }
      if (d.contains("epoch") && d["epoch"].is_string()) data["epoch"] = d["epoch"];
      if (d.contains("roles") && d["roles"].is_array()) data["roles"] = d["roles"];
      if (d.contains("rate_limit") && d["rate_limit"].is_object())
        data["rate_limit"] = d["rate_limit"];
    }
    data["user_id"] = user;
    // An anonymous identity (rtev serve says so) is new on every connection: no user room to
    // recover.
    data["anonymous"] =
        user.empty() || (d.is_object() && d.contains("anonymous") && d["anonymous"] == true);
    c_.sink->on_message(json{{"type", "authenticated"}, {"data", std::move(data)}});
  }

  void on_connect_error(const json& d) {
    const std::string message = d.is_object() ? d.value("message", std::string()) : "";
    // "Invalid namespace" is a wrong URL or option, not a credentials problem: retrying
    // cannot help either way.
    if (lower(message).find("namespace") != std::string::npos) {
      end_.final = true;
    } else {
      end_.auth_rejected = true;
    }
    end("the server refused namespace '" + nsp_ +
        "': " + (message.empty() ? "connect_error" : message));
  }

  void on_sio_event(wire::sio_packet&& p) {
    std::string name = p.data[0].get<std::string>();
    json args = json::array();
    for (std::size_t i = 1; i < p.data.size(); ++i) args.push_back(std::move(p.data[i]));
    // The server asked for an acknowledgement: answer with no arguments so it is not left
    // waiting (the SDK has no way to let handlers answer).
    if (p.ack_id)
      send_eio(
          {wire::eio_encode(wire::eio_type::message, wire::sio_ack(nsp_, *p.ack_id, json::array())),
           {}});

    const auto now = std::chrono::system_clock::now();
    event e;
    static const char* meta_keys[] = {"id", "seq", "room", "timestamp", "timezone"};
    bool has_meta = false;
    if (args.size() == 2 && args[1].is_object())
      for (const char* k : meta_keys)
        if (args[1].contains(k)) has_meta = true;
    if (has_meta) {
      // rtev serve's (data, meta): the event name is the type, data is the data.
      json env = {{"type", name}, {"data", args[0]}};
      for (const char* k : meta_keys)
        if (args[1].contains(k)) env[k] = args[1][k];
      e = read_foreign(env, name, now);
      for (auto it = args[1].begin(); it != args[1].end(); ++it)
        if (!env.contains(it.key())) e.extra[it.key()] = it.value();
    } else {
      e = read_foreign(args.empty() ? json() : args[0], name, now);
      if (args.size() > 1) {
        e.extra["args"] = json(args.begin() + 1, args.end());
        const std::size_t n = args.size() - 1;
        e.filled_in.push_back(
            "extra.args: the " +
            (n == 1 ? std::string("argument") : std::to_string(n) + " arguments") +
            " after the first");
      } else if (args.empty()) {
        e.filled_in.push_back("data: the event had no arguments, null used");
      }
    }

    if (name == "auth_error") {
      const json& a0 = args.empty() ? json() : args[0];
      std::string msg = a0.is_object() ? a0.value("message", std::string())
                                       : (a0.is_string() ? a0.get<std::string>() : "");
      c_.sink->on_message(json{{"type", "auth_error"}, {"data", {{"message", msg}}}});
      c_.sink->on_event(std::move(e));
      if (ended_) return;
      end_.auth_rejected = true;
      end("authentication rejected: " + (msg.empty() ? std::string("auth_error") : msg));
      return;
    }
    c_.sink->on_event(std::move(e));
  }

  void on_sio_ack(std::uint64_t id, const json& args) {
    auto it = acks_.find(id);
    if (it == acks_.end()) return;  // not ours (send_raw) or already failed
    pending p = std::move(it->second);
    acks_.erase(it);
    const json first = args.empty() ? json() : args[0];
    switch (p.what) {
      case pending::user:
        if (p.callback) p.callback(&args, nullptr);
        return;
      case pending::join: {
        if (first.is_object() && first.contains("error"))
          return reply_server_error(p.ref, first["error"]);
        json d = {{"op", "SUBSCRIBE"}, {"room", p.room}};
        if (first.is_object()) {
          if (first.contains("room") && first["room"].is_string()) d["room"] = first["room"];
          for (const char* k : {"last_seq", "replayed"})
            if (first.contains(k) && first[k].is_number_unsigned()) d[k] = first[k];
          if (first.contains("recovered") && first["recovered"].is_boolean())
            d["recovered"] = first["recovered"];
        }
        return reply_ack(p.ref, std::move(d));
      }
      case pending::publish: {
        if (first.is_object() && first.contains("error"))
          return reply_server_error(p.ref, first["error"]);
        json d = {{"op", "PUBLISH"}, {"id", p.publish_id}, {"seq", 0}, {"duplicate", false}};
        if (first.is_object()) {
          if (first.contains("id") && first["id"].is_string()) d["id"] = first["id"];
          if (first.contains("seq") && first["seq"].is_number_unsigned()) d["seq"] = first["seq"];
          if (first.contains("duplicate") && first["duplicate"].is_boolean())
            d["duplicate"] = first["duplicate"];
        }
        return reply_ack(p.ref, std::move(d));
      }
      case pending::none:
        return;
    }
  }

  void emit_packet(const std::string& name, const json& args, pending p) {
    std::optional<std::uint64_t> ack;
    if (p.what != pending::none) {
      ack = next_ack_id_++;
      acks_.emplace(*ack, std::move(p));
    }
    send_eio(
        {wire::eio_encode(wire::eio_type::message, wire::sio_event(nsp_, name, args, ack)), {}});
  }

  void reply_ack(const std::string& ref, json data) {
    json m = {{"type", "ACK"}, {"data", std::move(data)}};
    if (!ref.empty()) m["ref"] = ref;
    c_.sink->on_message(std::move(m));
  }

  void reply_error(const std::string& ref, const std::string& code, const std::string& message) {
    json m = {{"type", "ERROR"}, {"data", {{"code", code}, {"message", message}}}};
    if (!ref.empty()) m["ref"] = ref;
    c_.sink->on_message(std::move(m));
  }

  // An ack's {error: {code, message}} (or {error: "text"}).
  void reply_server_error(const std::string& ref, const json& err) {
    std::string code = "error", message;
    if (err.is_object()) {
      code = err.value("code", code);
      message = err.value("message", std::string());
    } else if (err.is_string()) {
      message = err.get<std::string>();
    } else {
      message = err.dump();
    }
    reply_error(ref, code, message.empty() ? "refused by the server" : message);
  }

  // --- ending ------------------------------------------------------------------------------

  void on_conn_lost(std::uintptr_t id, role kind, int status, const std::string& why,
                    const std::string& body) {
    if (ended_) return;
    if (id == probe_) {
      probe_ = 0;
      drop_probe(status > 0 && status != 101 ? "HTTP " + std::to_string(status) : why);
      return;
    }
    if (id == get_ || id == post_) {
      if (id == get_) get_ = 0;
      if (id == post_) post_ = 0;
      if (status > 0 && status != 200)
        return fail_http(kind == role::poll_get ? "long-polling GET" : "long-polling POST", status,
                         body);
      end(why == "connection closed" ? "the long-polling request was cut" : why);
      return;
    }
    if (id == main_ws_) {
      main_ws_ = 0;
      if (status > 0 && status != 101) {
        end_.http_status = status;
        if (status == 401 || status == 403) end_.auth_rejected = true;
        end("the server answered HTTP " + std::to_string(status));
        return;
      }
      end(why);
    }
  }

  // A connection of an ended attempt: closed from its own next callback, or after a second.
  void retire(conn& cn) {
    if (cn.zombie) return;
    cn.zombie = true;
    cn.outq.clear();
    if (cn.wsi) {
      lws_set_timeout(cn.wsi, PENDING_TIMEOUT_USER_REASON_BASE, 1);
      lws_callback_on_writable(cn.wsi);
    }
  }

  // From a timer only: close every connection now.
  void kill_all_now() {
    std::vector<std::pair<std::uintptr_t, lws*>> live;
    for (auto& [id, cn] : conns_)
      if (cn.wsi) live.emplace_back(id, cn.wsi);
    for (auto& [id, w] : live) {
      conn* cn = find(id);
      if (!cn || cn->wsi != w) continue;  // already gone while killing another
      lws_set_timeout(w, static_cast<pending_timeout>(1), LWS_TO_KILL_SYNC);
    }
    // lws does not always report a connection killed while still connecting.
    for (auto& [id, w] : live) conns_.erase(id);
  }

  void close_zombies_now() {
    if (!conns_.empty()) kill_all_now();
  }

  // The attempt is over: report it once.
  void end(const std::string& why) {
    if (ended_) return;
    ended_ = true;
    for (auto& [id, cn] : conns_) retire(cn);
    main_ws_ = get_ = post_ = probe_ = 0;
    pollq_.clear();
    auto acks = std::move(acks_);
    acks_.clear();
    transport_end e = std::move(end_);
    end_ = transport_end{};
    if (e.reason.empty()) e.reason = why;
    e.was_open = authenticated_;
    eio_open_ = authenticated_ = pausing_ = false;
    const client_error err =
        make_error(client_error::kind::connection, "connection lost before the ack: " + e.reason);
    for (auto& [id, p] : acks)
      if (p.what == pending::user && p.callback) p.callback(nullptr, &err);
    c_.sink->on_end(std::move(e));
  }

  transport_context c_;
  const client_options& opt_;
  lws_retry_bo_t no_validity_{};
  std::string engine_path_, nsp_, extra_query_, host_header_, origin_;

  std::map<std::uintptr_t, conn> conns_;
  std::uintptr_t next_conn_id_ = 0;
  lws* connecting_ = nullptr;  // lws_client_connect_via_info's pwsi

  std::uint64_t attempt_ = 0;
  bool ended_ = true, eio_open_ = false, authenticated_ = false, kill_requested_ = false;
  unsigned long attachments_to_skip_ = 0;  // binary frames of a refused binary packet
  bool upgraded_ = false, pausing_ = false, closing_ = false;
  std::uintptr_t main_ws_ = 0, get_ = 0, post_ = 0, probe_ = 0;
  std::deque<outgoing> pollq_;  // Engine.IO packets waiting for the next POST
  std::map<std::uint64_t, pending> acks_;
  std::uint64_t next_ack_id_ = 0;

  std::string token_, sid_;
  std::chrono::milliseconds ping_interval_{25000}, ping_timeout_{20000};
  std::size_t max_payload_ = 1000000;
  steady::time_point last_ping_{}, last_timeout_push_{};
  transport_end end_;
};

}  // namespace

std::unique_ptr<transport> make_socketio_transport(const transport_context& c) {
  return std::make_unique<socketio_transport>(c);
}

}  // namespace rtev::detail
