// The Socket.IO door's transport half: Engine.IO sessions over HTTP long-polling and WebSocket
// (the upgrade probe, WebSocket-only sessions), ping time-outs, and what each transport writes
// next. The packets the sessions carry are read and written in socketio_door_packets.cpp.

#include "socketio_door.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "socketio_session.hpp"

namespace rtev::server_lite {

using namespace sio_packets;

namespace {

// Session and socket ids are bearer secrets for the polling endpoints: 120 random bits.
std::string random_id() {
  unsigned char bytes[15];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

// Engine.IO's HTTP errors, with the reference server's codes and messages (clients and proxies
// written for it match on them).
http_response eio_error(int code, const char* message, int status = 400) {
  return {status, json{{"code", code}, {"message", message}}.dump(), "application/json"};
}

http_response text(std::string body, const char* type = "text/plain; charset=UTF-8") {
  return {200, std::move(body), type};
}

// The query of every /socket.io/ request: EIO=4 and a transport we speak.
std::optional<http_response> query_error(const http_request& req, const char* transport) {
  if (req.param("EIO").value_or("") != "4") return eio_error(5, "Unsupported protocol version");
  const std::string t = req.param("transport").value_or("");
  if (t != "polling" && t != "websocket") return eio_error(0, "Transport unknown");
  if (t != transport) return eio_error(3, "Bad request");
  return std::nullopt;
}

// The hub's messages name fields as the rtev WebSocket protocol nests them ("data.room"); a
// Socket.IO client sent that object as the event's argument.
std::string client_path(std::string message) {
  if (message.rfind("data.", 0) == 0) message.erase(0, 5);
  return message;
}

// Closes that mean "do not come back on your own" (refused auth, kicked, rate limit) reach the
// client as a Socket.IO DISCONNECT, which socket.io-client does not retry. Everything else
// (shutdown, slow consumer, ping time-out) only closes the transport: the client reconnects.
bool final_close(const std::pair<int, std::string>& closing) {
  return closing.first == close_code::kicked ||
         (closing.first == close_code::policy && closing.second != "ping timeout");
}

}  // namespace

socketio_door::socketio_door(socketio_config cfg, room_hub& hub, const authenticator& auth)
    : cfg_(cfg), hub_(hub), auth_(auth) {}

socketio_door::~socketio_door() = default;

socketio_door::session* socketio_door::find(const std::string& sid) {
  auto it = sessions_.find(sid);
  return it == sessions_.end() ? nullptr : it->second.get();
}

socketio_door::session& socketio_door::create(const http_request& req) {
  auto s = std::make_unique<session>();
  s->sid = random_id();
  s->sio_id = random_id();
  s->handshake_token = req.token();
  s->handshake_presence = req.param("presence");
  const std::string sid = s->sid;
  door_codec codec;
  codec.encode = [this, sid](const connection& c, const hub_reply& r, std::vector<frame_ptr>& out) {
    if (session* found = find(sid)) encode(*found, c, r, out);
  };
  connection& c = hub_.open(
      conn_kind::socketio, req.remote, [this, sid] { wake(sid); },
      [this, sid] {
        if (kill_) kill_(sid);
      },
      std::move(codec));
  s->conn = c.id;
  session& ref = *s;
  sessions_.emplace(sid, std::move(s));
  return ref;
}

void socketio_door::end(session& s) {
  const conn_id id = s.conn;
  const std::string sid = s.sid;  // erase() must not read the key it is destroying
  waker poll = std::move(s.poll_wake);
  waker ws = std::move(s.ws_wake);
  sessions_.erase(sid);
  hub_.closed(id);
  // A held GET is answered with a close packet; a WebSocket closes on its next writeable.
  if (poll) poll();
  if (ws) ws();
}

void socketio_door::wake(const std::string& sid) {
  session* s = find(sid);
  if (!s) return;
  if (s->upgraded) {
    if (s->ws_wake) s->ws_wake();
    return;
  }
  if (s->poll_wake) s->poll_wake();
  if (s->probe_reply_due && s->ws_wake) s->ws_wake();
}

std::string socketio_door::open_packet(const std::string& sid, bool upgrades) const {
  json open = {{"sid", sid},
               {"upgrades", upgrades ? json::array({"websocket"}) : json::array()},
               {"pingInterval", cfg_.ping_interval.count()},
               {"pingTimeout", cfg_.ping_timeout.count()},
               {"maxPayload", cfg_.max_payload}};
  return wire::eio_encode(wire::eio_type::open, open.dump());
}

void socketio_door::push(session& s, const std::string& packet) {
  connection* c = hub_.find(s.conn);
  if (!c || c->closing) return;
  c->queue.push_back(outgoing{nullptr, make_frame(packet)});
  c->wake();
}

std::string socketio_door::error_packet(std::optional<std::uint64_t> ack, const std::string& code,
                                        const std::string& message) {
  json err = {{"code", code}, {"message", client_path(message)}};
  return ack ? ack_packet(*ack, {{"error", err}}) : event_packet("error", err);
}

void socketio_door::fail(session& s, std::optional<std::uint64_t> ack, const std::string& code,
                         const std::string& message) {
  push(s, error_packet(ack, code, message));
}

// --- HTTP long-polling -----------------------------------------------------------------------

socketio_door::poll_start socketio_door::poll_get(const http_request& req, waker wake) {
  poll_start out;
  if (auto e = query_error(req, "polling")) {
    out.response = std::move(e);
    return out;
  }
  const auto sid = req.param("sid");
  if (!sid) {
    if (!accepting_) {
      out.response = json_error(503, "shutting_down", "the server is shutting down");
    } else if (hub_.connection_count() >= cfg_.max_connections) {
      out.response = json_error(
          503, "too_many_connections",
          "the server is at --max-connections (" + std::to_string(cfg_.max_connections) + ")");
    } else {
      session& s = create(req);
      out.response = text(open_packet(s.sid, true));
    }
    return out;
  }
  session* s = find(*sid);
  if (!s) {
    out.response = eio_error(1, "Session ID unknown");
    return out;
  }
  // Polling after the upgrade, or a second GET while one is held: the reference server calls
  // both a bad request.
  if (s->upgraded || s->poll_id) {
    out.response = eio_error(3, "Bad request");
    return out;
  }
  s->poll_id = next_link_++;
  s->poll_wake = std::move(wake);
  s->orphaned.reset();
  out.sid = s->sid;
  out.poll_id = s->poll_id;
  return out;
}

std::optional<http_response> socketio_door::poll_ready(const std::string& sid,
                                                       std::uint64_t poll_id) {
  session* s = find(sid);
  if (!s) return text(wire::eio_encode(wire::eio_type::close));  // the session ended
  if (s->poll_id != poll_id) return text(wire::eio_encode(wire::eio_type::noop));
  connection* c = hub_.find(s->conn);
  if (!c) {
    end(*s);
    return text(wire::eio_encode(wire::eio_type::close));
  }
  c->last_writeable = steady::now();
  auto release = [&] {
    s->poll_id = 0;
    s->poll_wake = nullptr;
  };
  // Upgrading: the client waits for this poll to finish before it sends "5"; packets stay
  // queued for the WebSocket.
  if (s->probing || s->upgraded) {
    release();
    return text(wire::eio_encode(wire::eio_type::noop));
  }
  if (!c->ping_due && c->queue.empty() && !c->closing) return std::nullopt;
  release();
  // Cap one response (history replay refills the queue as it drains); the rest goes with the
  // next poll.
  const std::size_t cap = std::max<std::size_t>(cfg_.max_payload, 64 * 1024);
  std::string body;
  bool end_after = false;
  while (body.size() < cap && !end_after) {
    auto f = next_packet(*s, *c, end_after);
    if (!f) break;
    if (!body.empty()) body += '\x1e';
    body += (*f)->payload();
  }
  if (end_after) end(*s);
  if (body.empty()) body = wire::eio_encode(wire::eio_type::noop);
  return text(std::move(body));
}

void socketio_door::poll_gone(const std::string& sid, std::uint64_t poll_id) {
  session* s = find(sid);
  if (!s || s->poll_id != poll_id) return;
  s->poll_id = 0;
  s->poll_wake = nullptr;
  if (connection* c = hub_.find(s->conn); !c || c->closing) end(*s);
}

http_response socketio_door::poll_post(const http_request& req) {
  if (auto e = query_error(req, "polling")) return *e;
  const auto sid_param = req.param("sid");
  if (!sid_param) return eio_error(2, "Bad handshake method");
  session* s = find(*sid_param);
  if (!s) return eio_error(1, "Session ID unknown");
  if (s->upgraded) return eio_error(3, "Bad request");
  const std::string sid = s->sid;
  if (req.body.size() > cfg_.max_payload) {
    if (connection* c = hub_.find(s->conn))
      hub_.close_connection(*c, close_code::too_big, "payload too large");
    return {413, json{{"code", 3}, {"message", "Payload too large"}}.dump(), "application/json"};
  }
  // Split by hand rather than with eio_decode_payload: a base64 binary packet ('b…') is the
  // attachment of a BINARY_EVENT already refused with an `error` event, and is skipped.
  std::vector<std::string_view> parts;
  std::string_view body = req.body;
  for (std::size_t start = 0;;) {
    const std::size_t sep = body.find('\x1e', start);
    parts.push_back(body.substr(start, sep == body.npos ? body.npos : sep - start));
    if (sep == body.npos) break;
    start = sep + 1;
  }
  for (std::string_view part : parts) {
    if (!part.empty() && part[0] == 'b') continue;
    wire::eio_packet p;
    try {
      p = wire::eio_decode(part);
    } catch (const parse_error&) {
      if (connection* c = hub_.find(s->conn))
        hub_.close_connection(*c, close_code::policy, "engine.io parse error");
      return eio_error(3, "Bad request");
    }
    on_packet(*s, static_cast<char>(p.type), p.data, false);
    s = find(sid);
    if (!s) break;  // the client closed the session
  }
  return text("ok", "text/html");
}

// --- WebSocket ---------------------------------------------------------------------------------

std::optional<http_response> socketio_door::ws_check(const http_request& req) const {
  if (auto e = query_error(req, "websocket")) return e;
  const auto sid = req.param("sid");
  if (!sid) {
    if (!accepting_) return json_error(503, "shutting_down", "the server is shutting down");
    if (hub_.connection_count() >= cfg_.max_connections)
      return json_error(
          503, "too_many_connections",
          "the server is at --max-connections (" + std::to_string(cfg_.max_connections) + ")");
    return std::nullopt;
  }
  auto it = sessions_.find(*sid);
  if (it == sessions_.end()) return eio_error(1, "Session ID unknown");
  if (it->second->upgraded || it->second->ws_link) return eio_error(3, "Bad request");
  return std::nullopt;
}

std::uint64_t socketio_door::ws_open(const http_request& req, waker wake, std::string& sid_out) {
  if (ws_check(req)) return 0;
  session* s = nullptr;
  const auto sid = req.param("sid");
  if (sid) {
    s = find(*sid);
  } else {
    s = &create(req);
    s->upgraded = true;
  }
  s->ws_link = next_link_++;
  s->ws_wake = std::move(wake);
  sid_out = s->sid;
  if (!sid) push(*s, open_packet(s->sid, false));
  return s->ws_link;
}

bool socketio_door::ws_message(const std::string& sid, std::uint64_t link, std::string_view msg) {
  session* s = find(sid);
  if (!s || s->ws_link != link) return false;
  if (msg.size() > cfg_.max_payload) return false;
  wire::eio_packet p;
  try {
    p = wire::eio_decode(msg);
  } catch (const parse_error&) {
    return !msg.empty() && msg[0] == 'b';  // see poll_post: attachments are skipped
  }
  if (!s->upgraded) {
    // The probe: "2probe" → "3probe", then "5" makes this socket the transport.
    if (p.type == wire::eio_type::ping && p.data == "probe") {
      s->probing = true;
      s->probe_reply_due = true;
      s->probe_started = steady::now();
      if (s->ws_wake) s->ws_wake();
      if (s->poll_wake) s->poll_wake();  // the held poll ends with a noop
      return true;
    }
    if (p.type == wire::eio_type::upgrade && s->probing) {
      s->probing = false;
      s->upgraded = true;
      if (s->poll_wake) s->poll_wake();
      if (s->ws_wake) s->ws_wake();  // what queued meanwhile goes out here
      return true;
    }
    return p.type == wire::eio_type::noop;  // anything else: a broken upgrade, drop the probe
  }
  on_packet(*s, static_cast<char>(p.type), p.data, true);
  return find(sid) != nullptr;
}

socketio_door::ws_step socketio_door::ws_writeable(const std::string& sid, std::uint64_t link) {
  ws_step step;
  session* s = find(sid);
  if (!s || s->ws_link != link) {
    step.close.emplace(1000, "");
    return step;
  }
  if (!s->upgraded) {
    if (s->probe_reply_due) {
      s->probe_reply_due = false;
      step.frames.push_back(make_frame(wire::eio_encode(wire::eio_type::pong, "probe")));
    }
    return step;
  }
  connection* c = hub_.find(s->conn);
  if (!c) {
    end(*s);
    step.close.emplace(1011, "");
    return step;
  }
  c->last_writeable = steady::now();
  bool end_after = false;
  auto f = next_packet(*s, *c, end_after);
  if (end_after) {
    // Over WebSocket the Engine.IO close is the WebSocket close itself.
    step.close = c->closing ? *c->closing : std::make_pair(1000, std::string());
    end(*s);
    return step;
  }
  if (!f) return step;
  step.frames.push_back(*f);
  // More queued events join this write, up to the bound; a close or a ping waits its turn.
  std::size_t bytes = (*f)->size();
  while (!c->closing && !c->ping_due && !c->queue.empty()) {
    const outgoing& next = c->queue.front();
    const frame_ptr nf = next.control ? next.control : next.event->sio_frame();
    if (bytes + nf->size() > max_coalesced_bytes) break;
    hub_.next_outgoing(*c);
    bytes += nf->size();
    step.frames.push_back(nf);
  }
  step.more = !c->queue.empty() || c->closing || c->ping_due;
  return step;
}

void socketio_door::ws_closed(const std::string& sid, std::uint64_t link) {
  session* s = find(sid);
  if (!s || s->ws_link != link) return;
  if (s->upgraded) {
    end(*s);  // the transport is gone; a client reconnects with a new session
    return;
  }
  // A failed probe: polling carries on.
  s->ws_link = 0;
  s->ws_wake = nullptr;
  s->probing = s->probe_reply_due = false;
  if (s->poll_wake) s->poll_wake();
}

void socketio_door::tick(steady::time_point now) {
  // A session the hub closed can only be told so over a transport. Without one (a polling
  // client that stopped polling), it is dropped after a ping time-out; at shutdown at once.
  std::vector<std::string> done;
  for (auto& [sid, s] : sessions_) {
    // An upgrade probed but never completed ("5" not sent within the ping time-out, 10 s by
    // default like the reference server's upgradeTimeout): drop the probe, polling carries on.
    if (s->probing && !s->upgraded && now - s->probe_started >= cfg_.ping_timeout) {
      waker ws = std::move(s->ws_wake);
      s->ws_link = 0;  // the probe's next WRITEABLE sees a stale link and closes it
      s->ws_wake = nullptr;
      s->probing = s->probe_reply_due = false;
      if (ws) ws();
      if (s->poll_wake) s->poll_wake();
    }
    connection* c = hub_.find(s->conn);
    const bool transport = s->poll_id || (s->upgraded && s->ws_link);
    if (c && (!c->closing || transport)) {
      s->orphaned.reset();
      continue;
    }
    if (!s->orphaned) s->orphaned = now;
    if (!c || !accepting_ || now - *s->orphaned >= cfg_.ping_timeout) done.push_back(sid);
  }
  for (const auto& sid : done)
    if (session* s = find(sid)) end(*s);
}

std::optional<frame_ptr> socketio_door::next_packet(session& s, connection& c, bool& end_after) {
  if (c.closing) {
    // As for rtev WebSockets: queued control messages (an auth_error) still go, events do not.
    while (!c.queue.empty() && !c.queue.front().control) c.queue.pop_front();
    if (!c.queue.empty()) {
      frame_ptr f = std::move(c.queue.front().control);
      c.queue.pop_front();
      return f;
    }
    if (s.sio_connected && !s.sent_disconnect && final_close(*c.closing)) {
      s.sent_disconnect = true;
      return make_frame(
          message_packet(wire::sio_encode({wire::sio_type::disconnect, "/", {}, {}})));
    }
    end_after = true;
    return make_frame(wire::eio_encode(wire::eio_type::close));
  }
  if (c.ping_due) {
    c.ping_due = false;
    return make_frame(wire::eio_encode(wire::eio_type::ping));
  }
  std::optional<outgoing> o = hub_.next_outgoing(c);
  if (!o) return std::nullopt;
  return o->control ? o->control : o->event->sio_frame();
}

}  // namespace rtev::server_lite
