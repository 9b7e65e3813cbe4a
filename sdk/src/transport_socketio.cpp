// The Socket.IO transport, Engine.IO side: a Socket.IO v5 client over Engine.IO v4, on the
// client's lws context. Two ways in, as socket.io-client does them:
//
//   default         GET  <path>?EIO=4&transport=polling          → "0{sid, upgrades, ping…}"
//                   POST the namespace CONNECT, then one long-poll GET and at most one POST
//                   at a time; meanwhile a WebSocket probe (…&transport=websocket&sid=…):
//                   "2probe" → "3probe", wait for the GET/POST in flight, "5" (upgrade), and
//                   carry on over the WebSocket. A failed probe leaves the session on polling.
//   websocket_only  one WebSocket (…&transport=websocket); the open packet arrives on it.
//
// The Socket.IO side (namespace, events, acks, rtev requests) is transport_socketio_packets.cpp.
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

#include "transport_socketio.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>

#include "rtev/json.hpp"

namespace rtev::detail {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

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

}  // namespace

socketio_transport::socketio_transport(const transport_context& c) : c_(c), opt_(*c.opt) {
  retarget(c.url);
}

// What the URL decides: the Engine.IO path, the namespace, the Host and Origin headers.
void socketio_transport::retarget(const parsed_url& url) {
  c_.url = url;
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

void socketio_transport::open(const std::string& token) {
  close_zombies_now();
  conns_.clear();
  ++attempt_;
  ended_ = eio_open_ = authenticated_ = pausing_ = closing_ = kill_requested_ = false;
  attachments_to_skip_ = 0;
  upgraded_ = opt_.socketio.websocket_only;
  main_ws_ = get_ = post_ = probe_ = 0;
  pollq_.clear();
  reset_session();
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

bool socketio_transport::close() {
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

void socketio_transport::kill(const std::string& reason) {
  if (ended_ || kill_requested_) return;
  kill_requested_ = true;
  if (end_.reason.empty()) end_.reason = reason;
  const std::uint64_t a = attempt_;
  kill_all_now();
  if (a == attempt_ && !ended_) end(reason);
}

void socketio_transport::tick(steady::time_point now) {
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
          std::chrono::duration_cast<std::chrono::seconds>(ping_interval_ + ping_timeout_).count() +
          5;
      lws_set_timeout(g->wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, static_cast<int>(secs));
    }
  }
  sio_tick(now);
}

int socketio_transport::on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) {
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
          c_.sink->on_problem(make_error(client_error::kind::protocol,
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
        c_.sink->on_sent(n);
        if (o.written) o.written();
        if (ended_) return -1;
        // `cn` is still valid: nothing above erases connections of a live attempt.
      }
      if (!cn.outq.empty()) {
        lws_callback_on_writable(w);
      } else if (cn.want_close) {
        static const char bye[] = "client stopping";
        lws_close_reason(w, LWS_CLOSE_STATUS_NORMAL,
                         reinterpret_cast<unsigned char*>(const_cast<char*>(bye)), sizeof bye - 1);
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
      c_.sink->on_sent(n);
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
        end_.reason = "a polling response exceeded " + std::to_string(max_payload_ * 2) + " bytes";
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

bool socketio_transport::is_final(lws_callback_reasons r) {
  return r == LWS_CALLBACK_CLIENT_CONNECTION_ERROR || r == LWS_CALLBACK_CLIENT_CLOSED ||
         r == LWS_CALLBACK_CLOSED_CLIENT_HTTP;
}

// Callbacks where returning -1 makes lws close the connection.
bool socketio_transport::closes_on_error(lws_callback_reasons r) {
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

socketio_transport::conn* socketio_transport::find(std::uintptr_t id) {
  if (!id) return nullptr;
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

std::string socketio_transport::query(const char* transport_name) {
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
std::uintptr_t socketio_transport::start(role kind, std::string body) {
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

int socketio_transport::append_headers(lws* w, conn& cn, unsigned char** p, size_t len) {
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

void socketio_transport::on_get_done(int status, const std::string& body) {
  if (ended_) return;
  if (status != 200) return fail_http("long-polling GET", status, body);
  std::vector<wire::eio_packet> packets;
  try {
    packets = wire::eio_decode_payload(body);
  } catch (const std::exception& e) {
    if (!eio_open_) {
      // The handshake answered with something else (a web page): not a Socket.IO server, and
      // asking again will not make it one.
      end_.final = true;
      end_.http_status = status;
      end(not_that_server("Socket.IO", status, engine_path_, "an Engine.IO handshake"));
      return;
    }
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

void socketio_transport::on_post_done(int status, const std::string& body,
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

void socketio_transport::fail_http(const std::string& what, int status, const std::string& body) {
  end_.http_status = status;
  if (status == 401 || status == 403) end_.auth_rejected = true;
  // Engine.IO errors are {"code": n, "message": "…"}; a page of HTML (a proxy's, a web
  // server's) is left out of a one-line reason.
  std::string detail;
  json j = rtev::parse_json(body);
  const bool engine_io_error = j.is_object() && j.contains("message") && j["message"].is_string();
  if (engine_io_error)
    detail = j["message"].get<std::string>();
  else if (body.find('<') == std::string::npos)
    detail = shorten(body);
  // Refused before the Engine.IO session opened, with a status that does not change: not a
  // Socket.IO server at this URL (or one refusing this client for good).
  if (!eio_open_ && http_status_is_final(status)) {
    end_.final = true;
    if (!engine_io_error) {
      end(not_that_server("Socket.IO", status, engine_path_, "an Engine.IO handshake"));
      return;
    }
  }
  end(what + ": the server answered HTTP " + std::to_string(status) +
      (detail.empty() ? "" : " (" + detail + ")"));
}

void socketio_transport::on_eio_text(const std::string& text) {
  wire::eio_packet p;
  try {
    p = wire::eio_decode(text);
  } catch (const std::exception& e) {
    c_.sink->on_problem(make_error(client_error::kind::protocol, e.what()));
    return;
  }
  on_eio_packet(std::move(p));
}

void socketio_transport::on_eio_packet(wire::eio_packet&& p) {
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

void socketio_transport::on_open(const std::string& data) {
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

  send_connect();
  if (ended_) return;

  if (upgraded_) return;
  bool can_upgrade = false;
  if (j.contains("upgrades") && j["upgrades"].is_array())
    for (const auto& u : j["upgrades"])
      if (u == "websocket") can_upgrade = true;
  if (can_upgrade) probe_ = start(role::probe);
}

int socketio_transport::on_probe_text(std::uintptr_t id, const std::string& text) {
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
void socketio_transport::maybe_finish_upgrade() {
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

void socketio_transport::drop_probe(const std::string& why) {
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

void socketio_transport::send_eio(outgoing o) {
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
void socketio_transport::flush_poll() {
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

void socketio_transport::on_conn_lost(std::uintptr_t id, role kind, int status,
                                      const std::string& why, const std::string& body) {
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
      if (!eio_open_ && http_status_is_final(status)) {
        end_.final = true;
        end(not_that_server("Socket.IO", status, engine_path_));
        return;
      }
      end("the server answered HTTP " + std::to_string(status));
      return;
    }
    end(why);
  }
}

// A connection of an ended attempt: closed from its own next callback, or after a second.
void socketio_transport::retire(conn& cn) {
  if (cn.zombie) return;
  cn.zombie = true;
  cn.outq.clear();
  if (cn.wsi) {
    lws_set_timeout(cn.wsi, PENDING_TIMEOUT_USER_REASON_BASE, 1);
    lws_callback_on_writable(cn.wsi);
  }
}

// From a timer only: close every connection now.
void socketio_transport::kill_all_now() {
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

void socketio_transport::close_zombies_now() {
  if (!conns_.empty()) kill_all_now();
}

// The attempt is over: report it once.
void socketio_transport::end(const std::string& why) {
  if (ended_) return;
  ended_ = true;
  for (auto& [id, cn] : conns_) retire(cn);
  main_ws_ = get_ = post_ = probe_ = 0;
  pollq_.clear();
  transport_end e = std::move(end_);
  end_ = transport_end{};
  if (e.reason.empty()) e.reason = why;
  e.was_open = authenticated_;
  eio_open_ = authenticated_ = pausing_ = false;
  fail_pending(e.reason);
  c_.sink->on_end(std::move(e));
}

std::unique_ptr<transport> make_socketio_transport(const transport_context& c) {
  return std::make_unique<socketio_transport>(c);
}

}  // namespace rtev::detail
