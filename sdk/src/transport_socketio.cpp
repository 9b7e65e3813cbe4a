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
// The connections are the SDK's lws toolkit: the long-polling GETs and POSTs are http_exchanges
// (time-outs, bodies written in pieces, capped responses), the WebSocket and its probe are
// ws_links (capped reassembly, write queue, Host and Origin). Each routes its own lws callbacks
// (opaque user data), so a callback of a connection that was killed reaches nobody. Ending an
// attempt kills every one of them; their own end reports then find the attempt ended.

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

// A response body or close reason for a message: short and printable.
std::string shorten(std::string s) {
  for (auto& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  if (s.size() > 200) s = s.substr(0, 200) + "…";
  return s;
}

}  // namespace

socketio_transport::socketio_transport(const transport_context& c)
    : c_(c),
      opt_(*c.opt),
      main_ws_(std::make_unique<ws_link>(c.ctx, c.protocol_name)),
      probe_ws_(std::make_unique<ws_link>(c.ctx, c.protocol_name)),
      get_x_(c.ctx, c.protocol_name),
      post_x_(c.ctx, c.protocol_name) {
  retarget(c.url);
  get_x_.on_done = [this](http_result&& r) {
    if (ended_ || r.what == http_result::kind::cancelled) return;
    if (r.what == http_result::kind::failed) return on_poll_failed("long-polling GET", r);
    on_get_done(r.response.status, r.response.body);
  };
  post_x_.on_done = [this](http_result&& r) {
    auto written = std::move(post_written_);
    post_written_.clear();
    if (ended_ || r.what == http_result::kind::cancelled) return;
    if (r.what == http_result::kind::failed) return on_poll_failed("long-polling POST", r);
    if (r.response.status == 200) c_.sink->on_sent(post_bytes_);
    on_post_done(r.response.status, r.response.body, written);
  };
}

socketio_transport::~socketio_transport() = default;

// What the URL decides: the Engine.IO path, the namespace.
void socketio_transport::retarget(const parsed_url& url) {
  c_.url = url;
  const auto& so = opt_.socketio;
  // The URL's path: the Engine.IO path when it is that (http://host/socket.io/), otherwise
  // the namespace when options leave it at "/" (io("http://host/admin") does the same).
  const std::string path = c_.url.path_only();
  engine_path_ = so.path.empty() ? "/socket.io/" : so.path;
  if (engine_path_.front() != '/') engine_path_.insert(0, "/");
  if (engine_path_.back() != '/') engine_path_ += '/';
  nsp_ = so.nsp.empty() ? "/" : so.nsp;
  const bool is_engine_path = path == engine_path_ || path + "/" == engine_path_;
  if (nsp_ == "/" && path != "/" && !path.empty() && !is_engine_path) nsp_ = path;
  extra_query_ = c_.url.query();
}

void socketio_transport::open(const std::string& token) {
  ++attempt_;
  ended_ = eio_open_ = authenticated_ = pausing_ = closing_ = kill_requested_ = false;
  attachments_to_skip_ = 0;
  upgraded_ = opt_.socketio.websocket_only;
  pollq_.clear();
  post_written_.clear();
  reset_session();
  sid_.clear();
  end_ = transport_end{};
  token_ = token;
  ping_interval_ = 25000ms;
  ping_timeout_ = 20000ms;
  max_payload_ = 1000000;
  // A failure on the spot (DNS, sockets) ends the attempt from inside start().
  if (opt_.socketio.websocket_only)
    start_ws(*main_ws_, false);
  else
    get_x_.start(poll_request("GET", {}));
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
    main_ws_->send(wire::eio_encode(wire::eio_type::message, wire::sio_encode(bye)));
    return main_ws_->close("client stopping");
  }
  pausing_ = false;
  pollq_.push_back({wire::eio_encode(wire::eio_type::message, wire::sio_encode(bye)), {}});
  pollq_.push_back({wire::eio_encode(wire::eio_type::close), [this, a = attempt_] {
                      if (a == attempt_) end("client closed");
                    }});
  flush_poll();
  return post_x_.active();
}

void socketio_transport::kill(const std::string& reason) {
  if (ended_ || kill_requested_) return;
  kill_requested_ = true;
  if (end_.reason.empty()) end_.reason = reason;
  end(reason);
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
  get_x_.tick(now);
  if (ended_) return;
  post_x_.tick(now);
  if (ended_) return;
  sio_tick(now);
}

int socketio_transport::on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) {
  if (main_ws_->owns(w)) return main_ws_->on_callback(w, reason, in, len);
  if (probe_ws_->owns(w)) return probe_ws_->on_callback(w, reason, in, len);
  if (get_x_.owns(w)) return get_x_.on_callback(w, reason, in, len);
  if (post_x_.owns(w)) return post_x_.on_callback(w, reason, in, len);
  return lws_callback_http_dummy(w, reason, nullptr, in, len);
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

http_request socketio_transport::poll_request(const char* method, std::string body) {
  http_request r;
  r.method = method;
  r.url = c_.url;
  r.url.path = query("polling");
  if (!token_.empty()) r.headers.emplace_back("Authorization", "Bearer " + token_);
  for (const auto& h : opt_.headers) r.headers.push_back(h);
  if (r.method == "POST") r.headers.emplace_back("Content-Type", "text/plain;charset=UTF-8");
  r.body = std::move(body);
  r.insecure = opt_.insecure;
  // A polling body is at most maxPayload (plus framing); anything far beyond is not one.
  r.max_body = std::min(max_payload_ * 2 + 65536, opt_.max_message_bytes + 65536);
  r.capture = {"content-type"};
  // The server holds a long-poll GET up to pingInterval; a POST it answers at once. Either
  // past the heartbeat's window means the session is gone. The handshake GET is the client's
  // connect time-out's.
  if (eio_open_) r.timeout = ping_interval_ + ping_timeout_;
  return r;
}

void socketio_transport::start_ws(ws_link& link, bool probe) {
  ws_request r;
  r.url = c_.url;
  r.url.scheme = r.url.tls ? "wss" : "ws";
  r.url.path = query("websocket");
  if (!token_.empty()) r.headers.emplace_back("Authorization", "Bearer " + token_);
  for (const auto& h : opt_.headers) r.headers.push_back(h);
  r.insecure = opt_.insecure;
  r.max_message = opt_.max_message_bytes;
  bind_ws(link, probe);
  link.start(std::move(r));
  if (probe) link.send(wire::eio_encode(wire::eio_type::ping, "probe"));
}

// The callbacks of the session's WebSocket, or of the upgrade probe.
void socketio_transport::bind_ws(ws_link& link, bool probe) {
  link.on_open = nullptr;
  link.on_sent = [this](std::size_t n) { c_.sink->on_sent(n); };
  link.on_pong = nullptr;
  if (probe) {
    link.on_message = [this](std::string&& text, bool binary) {
      if (ended_) return;
      if (binary) return drop_probe("a binary answer to the probe");
      on_probe_text(text);
    };
    link.on_end = [this](ws_end&& e) {
      if (ended_) return;
      drop_probe(e.http_status ? "HTTP " + std::to_string(e.http_status) : e.reason);
    };
    return;
  }
  link.on_message = [this](std::string&& text, bool binary) {
    if (ended_) return;
    if (binary) {
      // The attachments of a binary packet already reported (by name) are not news.
      if (attachments_to_skip_ > 0)
        --attachments_to_skip_;
      else
        c_.sink->on_problem(make_error(client_error::kind::protocol,
                                       "binary Socket.IO messages are not supported (ignored)"));
      return;
    }
    on_eio_text(text);
  };
  link.on_end = [this](ws_end&& e) {
    if (ended_) return;
    end_.close_code = e.close_code;
    const int status = e.http_status;
    if (status > 0) {
      end_.http_status = status;
      if (status == 401 || status == 403) end_.auth_rejected = true;
      if (!eio_open_ && http_status_is_final(status)) {
        end_.final = true;
        return end(not_that_server("Socket.IO", status, engine_path_));
      }
    }
    end(e.closed_by_us && closing_ ? "client closed" : e.reason);
  };
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
  get_x_.start(poll_request("GET", {}));
}

// A long-polling request without a usable answer: an HTTP status the session cannot go on
// with, or no answer at all (connection lost, time-out, a body over the cap).
void socketio_transport::on_poll_failed(const std::string& what, const http_result& r) {
  const int status = r.response.status;
  if (status > 0 && status != 200) return fail_http(what, status, r.response.body);
  end(what + ": " + r.error);
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
  if (can_upgrade) start_ws(*probe_ws_, true);
}

void socketio_transport::on_probe_text(const std::string& text) {
  if (text == "3probe") {
    pausing_ = true;
    maybe_finish_upgrade();
    return;
  }
  // Anything else on a probe: not an Engine.IO v4 server we can upgrade with.
  drop_probe("unexpected answer to the probe: " + shorten(text));
}

// The probe was answered: switch once no GET or POST is in flight (the server ends a held
// GET with a noop when the probe arrives).
void socketio_transport::maybe_finish_upgrade() {
  if (!pausing_ || get_x_.active() || post_x_.active() || ended_) return;
  pausing_ = false;
  if (!probe_ws_->is_open()) return;
  upgraded_ = true;
  // The probe is the session's WebSocket from now on.
  std::swap(main_ws_, probe_ws_);
  bind_ws(*main_ws_, false);
  main_ws_->send(wire::eio_encode(wire::eio_type::upgrade));
  for (auto& o : pollq_) main_ws_->send(std::move(o.text), std::move(o.written));
  pollq_.clear();
}

void socketio_transport::drop_probe(const std::string& why) {
  probe_ws_->on_end = nullptr;  // its end is this
  probe_ws_->kill(why);
  const bool was_pausing = pausing_;
  pausing_ = false;
  if (!closing_)
    c_.sink->on_problem(
        make_error(client_error::kind::connection,
                   "WebSocket upgrade failed (" + why + "); staying on HTTP long-polling"));
  if (was_pausing && !ended_ && !upgraded_) {
    if (!get_x_.active()) get_x_.start(poll_request("GET", {}));
    if (ended_) return;
    flush_poll();
  }
}

void socketio_transport::send_eio(outgoing o) {
  if (ended_) return;
  if (upgraded_) return main_ws_->send(std::move(o.text), std::move(o.written));
  pollq_.push_back(std::move(o));
  flush_poll();
}

// One POST at a time, at most maxPayload bytes (one packet always goes, whatever its size).
void socketio_transport::flush_poll() {
  if (ended_ || upgraded_ || pausing_ || post_x_.active() || pollq_.empty() || !eio_open_) return;
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
  post_written_ = std::move(written);
  std::string body = wire::eio_encode_payload(batch);
  post_bytes_ = body.size();
  post_x_.start(poll_request("POST", std::move(body)));
}

// The attempt is over: every connection goes, and it is reported once.
void socketio_transport::end(const std::string& why) {
  if (ended_) return;
  ended_ = true;
  // Their own end reports find the attempt ended.
  main_ws_->kill(why);
  probe_ws_->kill(why);
  get_x_.cancel(why);
  post_x_.cancel(why);
  pollq_.clear();
  post_written_.clear();
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
