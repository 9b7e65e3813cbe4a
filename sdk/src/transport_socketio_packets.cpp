// The Socket.IO transport, Socket.IO side (the Engine.IO side is transport_socketio.cpp): the
// namespace CONNECT, events in and out, acknowledgements, and rtev requests translated:
//
//   SUBSCRIBE    → join_event {room, since?, epoch?, types?} with an ack (→ ACK op SUBSCRIBE, or
//                  ERROR op SUBSCRIBE with the ack's {error})
//   UNSUBSCRIBE  → leave_event {room}
//   PUBLISH      → rtev serve's door (its CONNECT answer has "protocol":"rtev.v1") or a named
//                  publish_event: that event with {room, type, data, id} and an ack ({id, seq}
//                  or {error}); any other server: the event type itself with `data`, asking for
//                  an ack, completed by the ack or — servers that never acknowledge — once
//                  written and publish_ack_wait has passed (ACK acknowledged: false)
//   TYPING_*     → `typing` {room, is_typing}
//   HISTORY, PING → ERROR unsupported
//
// The handshake: socketio.emits (e.g. `authenticate` {token}) go out right after the CONNECT
// answer, each asking for an ack. Servers that authenticate asynchronously refuse whatever
// arrives before they are done, so every application packet (joins, publishes, emits, raw
// packets) is held until each emit is acknowledged or the server emits socketio.emit_reply
// (`authenticated`), at most emit_reply_wait (then they go anyway, and the wait is reported).
//
// Incoming events go through read_foreign; a second argument carrying id/seq/room/timestamp/
// timezone (rtev serve's `meta`) makes them full rtev events, so seq dedupe and recovery work as
// over rtev's own protocol.

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "rtev/json.hpp"
#include "transport_socketio.hpp"

namespace rtev {

bool is_reserved_socketio_event(std::string_view name) {
  return name == "connect" || name == "connect_error" || name == "disconnect" ||
         name == "disconnecting" || name == "newListener" || name == "removeListener";
}

namespace detail {

using json = nlohmann::json;

namespace {

// The ms in a message.
std::string ms_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

// The first ack argument's `error`, when the ack says the request was refused.
const json* ack_error(const json& args) {
  if (!args.is_array() || args.empty() || !args[0].is_object()) return nullptr;
  auto it = args[0].find("error");
  return it == args[0].end() || it->is_null() ? nullptr : &*it;
}

}  // namespace

void socketio_transport::reset_session() {
  acks_.clear();
  next_ack_id_ = 0;
  rtev_door_ = false;
  identity_pending_ = false;
  gate_closed_ = false;
  handshake_unanswered_ = 0;
  held_.clear();
}

// The namespace CONNECT, with the auth payload.
void socketio_transport::send_connect() {
  wire::sio_packet connect;
  connect.type = wire::sio_type::connect;
  connect.nsp = nsp_;
  const json& auth = opt_.socketio.auth;
  if (!auth.is_null() && !auth.is_object()) {
    end_.final = true;
    end_.error = errc::invalid_options;
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
}

void socketio_transport::send(json&& request) {
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
    // Unset: rtev serve's door takes the envelope as `publish`; other servers get the type.
    const std::string name =
        so.publish_event ? *so.publish_event : (rtev_door_ ? std::string("publish") : "");
    if (name.empty()) return publish_direct(ref, data);
    pending p;
    p.what = pending::publish;
    p.ref = ref;
    p.publish_id = data.value("id", "");
    emit_packet(name, json::array({data}), std::move(p));
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

// PUBLISH to a server that is not rtev serve: `socket.emit(type, data)`, as its own clients do,
// asking for an ack (a server whose handler takes a callback answers; most never do).
void socketio_transport::publish_direct(const std::string& ref, const json& data) {
  const std::string type = data.value("type", "message");
  if (is_reserved_socketio_event(type))
    return reply_error(ref, "bad_request",
                       "'" + type +
                           "' is a reserved Socket.IO event name: not emitted (publish it under "
                           "another type)");
  pending p;
  p.what = pending::direct;
  p.ref = ref;
  p.publish_id = data.value("id", "");
  emit_packet(type, json::array({data.contains("data") ? data["data"] : json()}), std::move(p));
}

void socketio_transport::send_raw(std::string text) {
  if (!eio_open_ || ended_) return;
  try {
    wire::sio_decode(text);
  } catch (const std::exception& e) {
    c_.sink->on_problem(
        make_error(client_error::kind::protocol, std::string("not sent: ") + e.what()));
    return;
  }
  send_app({wire::eio_encode(wire::eio_type::message, text), {}});
}

void socketio_transport::emit(const std::string& name, json args, ack_callback ack) {
  auto fail = [&](const std::string& why, client_error::kind k) {
    const client_error err = make_error(k, why);
    if (ack)
      ack(nullptr, &err);
    else
      c_.sink->on_problem(err);
  };
  if (is_reserved_socketio_event(name))
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
  emit_packet(name, args, std::move(p));
}

void socketio_transport::on_sio_text(const std::string& text) {
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

void socketio_transport::on_connected(const json& d) {
  if (authenticated_) return;  // the namespace is ours already (a repeated CONNECT answer)
  authenticated_ = true;
  rtev_door_ = d.is_object() && d.contains("protocol") && d["protocol"] == "rtev.v1";
  const auto& so = opt_.socketio;
  // rtev serve names the user in its CONNECT answer once it has authenticated the socket. It
  // accepts a socket without a token in token and jwt modes and waits for `authenticate`
  // (docs/protocol.md §7): the identity comes later, in the `authenticated` event.
  identity_pending_ = rtev_door_ && d.is_object() && !d.contains("user_id");
  if (identity_pending_ && so.emits.empty()) {
    // Nothing will authenticate this socket: the server's auth time-out would end it, after
    // the client had been told it is connected. Say so now, as the rtev protocol does.
    end_.auth_rejected = end_.token_required = true;
    end("authentication needed: the server requires a token and none was given");
    return;
  }
  // Emits first: the client sends its SUBSCRIBEs from inside on_message(authenticated), and
  // they wait (held) until the emits are answered.
  std::size_t sent = 0;
  for (const auto& [name, args] : so.emits) {
    if (is_reserved_socketio_event(name)) {
      c_.sink->on_problem(
          make_error(client_error::kind::protocol,
                     "'" + name + "' is a reserved Socket.IO event name: not emitted"));
      continue;
    }
    pending p;
    p.what = pending::handshake;
    p.name = name;
    emit_packet_as(name, args, std::move(p), true);
    ++sent;
  }
  if (sent > 0 && so.emit_reply_wait.count() > 0) {
    gate_closed_ = true;
    handshake_unanswered_ = sent;
    gate_deadline_ = steady::now() + so.emit_reply_wait;
  }
  if (!identity_pending_) report_authenticated(d);
}

void socketio_transport::report_authenticated(const json& d) {
  json data = json::object();
  std::string user;
  if (d.is_object()) {
    for (const char* k : {"user_id", "userId"})
      if (d.contains(k) && (d[k].is_string() || d[k].is_number_integer())) {
        user = d[k].is_string() ? d[k].get<std::string>() : d[k].dump();
        break;
      }
    if (d.contains("epoch") && d["epoch"].is_string()) data["epoch"] = d["epoch"];
    // The store's frontier, for the gap notice of an epoch change (gap_info::server_last_seq).
    if (d.contains("last_seq") && d["last_seq"].is_number_unsigned())
      data["last_seq"] = d["last_seq"];
    if (d.contains("roles") && d["roles"].is_array()) data["roles"] = d["roles"];
    if (d.contains("rate_limit") && d["rate_limit"].is_object())
      data["rate_limit"] = d["rate_limit"];
    // rtev serve's state, in its CONNECT ack and `authenticated` while not ok (§4.7).
    if (d.contains("server_status") && d["server_status"].is_object())
      data["server_status"] = d["server_status"];
  }
  data["user_id"] = user;
  // An anonymous identity (rtev serve says so) is new on every connection: no user room to
  // recover.
  data["anonymous"] =
      user.empty() || (d.is_object() && d.contains("anonymous") && d["anonymous"] == true);
  c_.sink->on_message(json{{"type", "authenticated"}, {"data", std::move(data)}});
}

void socketio_transport::on_connect_error(const json& d) {
  const std::string message = d.is_object() ? d.value("message", std::string()) : "";
  // "Invalid namespace" is a wrong URL or option, not a credentials problem: retrying
  // cannot help either way.
  std::string lowered = message;
  for (auto& ch : lowered) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lowered.find("namespace") != std::string::npos) {
    end_.final = true;
  } else {
    end_.auth_rejected = true;
  }
  end("the server refused namespace '" + nsp_ +
      "': " + (message.empty() ? "connect_error" : message));
}

void socketio_transport::on_sio_event(wire::sio_packet&& p) {
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
      e.filled_in.push_back("extra.args: the " +
                            (n == 1 ? std::string("argument") : std::to_string(n) + " arguments") +
                            " after the first");
    } else if (args.empty()) {
      e.filled_in.push_back("data: the event had no arguments, null used");
    }
  }

  // rtev serve's answer to `authenticate`: who this socket is, so the client is connected now
  // (user and role rooms, epoch and rate limit from it), before the event itself is delivered.
  if (identity_pending_ && name == "authenticated" && !args.empty() && args[0].is_object()) {
    identity_pending_ = false;
    const std::uint64_t a = attempt_;
    report_authenticated(args[0]);
    if (a != attempt_ || ended_) return;
  }
  // rtev serve's own state: one argument, no envelope fields (an event has them as the third).
  if (name == "server_status" && args.size() == 1 && args[0].is_object()) {
    c_.sink->on_message(json{{"type", "server_status"}, {"data", args[0]}});
    return;
  }
  if (name == "auth_error") {
    const json& a0 = args.empty() ? json() : args[0];
    std::string msg = a0.is_object() ? a0.value("message", std::string())
                                     : (a0.is_string() ? a0.get<std::string>() : "");
    c_.sink->on_message(json{{"type", "auth_error"}, {"data", {{"message", msg}}}});
    c_.sink->on_event(std::move(e));
    if (ended_) return;
    end_.auth_rejected = true;
    if (a0.is_object() && a0.value("code", std::string()) == "token_expired")
      end_.error = errc::token_expired;
    end("authentication rejected: " + (msg.empty() ? std::string("auth_error") : msg));
    return;
  }
  c_.sink->on_event(std::move(e));
  // The server's answer to the handshake emits: what was held may go.
  if (gate_closed_ && !ended_ && !opt_.socketio.emit_reply.empty() &&
      name == opt_.socketio.emit_reply)
    open_gate();
}

void socketio_transport::on_sio_ack(std::uint64_t id, const json& args) {
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
        return reply_server_error(p.ref, first["error"], "SUBSCRIBE");
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
    case pending::handshake:
      return on_handshake_answer(p, &args);
    case pending::direct:
    case pending::publish: {
      if (first.is_object() && first.contains("error"))
        return reply_server_error(p.ref, first["error"], "PUBLISH");
      json d = {{"op", "PUBLISH"}, {"id", p.publish_id}, {"seq", 0}, {"duplicate", false}};
      if (first.is_object()) {
        if (first.contains("id") && first["id"].is_string()) d["id"] = first["id"];
        if (first.contains("seq") && first["seq"].is_number_unsigned()) d["seq"] = first["seq"];
        if (first.contains("duplicate") && first["duplicate"].is_boolean())
          d["duplicate"] = first["duplicate"];
      }
      d["acknowledged"] = true;
      return reply_ack(p.ref, std::move(d));
    }
    case pending::none:
      return;
  }
}

// An emit of socketio.emits was acknowledged: once all are, what was held may go. A refusal
// ({error} in the ack) is reported; the requests that follow will say what it costs.
void socketio_transport::on_handshake_answer(const pending& p, const json* args) {
  if (const json* err = args ? ack_error(*args) : nullptr) {
    std::string code, message;
    if (err->is_object()) {
      code = err->value("code", std::string());
      message = err->value("message", std::string());
    } else {
      message = err->is_string() ? err->get<std::string>() : err->dump();
    }
    c_.sink->on_problem(make_error(
        client_error::kind::server,
        "the server refused '" + p.name + "': " + (code.empty() ? "" : code + ": ") + message,
        code));
  }
  if (handshake_unanswered_ > 0) --handshake_unanswered_;
  if (gate_closed_ && handshake_unanswered_ == 0) open_gate();
}

void socketio_transport::open_gate() {
  gate_closed_ = false;
  auto held = std::move(held_);
  held_.clear();
  for (auto& o : held) {
    send_eio(std::move(o));
    if (ended_) return;
  }
}

// Every 50 ms (from tick): the handshake's wait, and publishes the server never acknowledges.
void socketio_transport::sio_tick(steady::time_point now) {
  const auto& so = opt_.socketio;
  if (gate_closed_ && now >= gate_deadline_) {
    std::string names;
    for (const auto& [id, p] : acks_)
      if (p.what == pending::handshake) names += (names.empty() ? "'" : ", '") + p.name + "'";
    c_.sink->on_problem(make_error(
        client_error::kind::protocol,
        "no answer to " + (names.empty() ? std::string("the emits") : names) + " within " +
            ms_text(so.emit_reply_wait) + " (no acknowledgement" +
            (so.emit_reply.empty() ? std::string() : ", no '" + so.emit_reply + "' event") +
            "): sending the rest anyway"));
    open_gate();
    if (ended_) return;
  }
  std::vector<pending> expired;
  for (auto it = acks_.begin(); it != acks_.end();) {
    if (it->second.what == pending::direct && it->second.give_up_at &&
        now >= *it->second.give_up_at) {
      expired.push_back(std::move(it->second));
      it = acks_.erase(it);
    } else {
      ++it;
    }
  }
  const std::uint64_t a = attempt_;
  for (const auto& p : expired) {
    // Written, never acknowledged: as good as a server that does not acknowledge can say.
    reply_ack(p.ref, {{"op", "PUBLISH"},
                      {"id", p.publish_id},
                      {"seq", 0},
                      {"duplicate", false},
                      {"acknowledged", false}});
    if (a != attempt_ || ended_) return;
  }
}

void socketio_transport::send_app(outgoing o) {
  if (gate_closed_) {
    held_.push_back(std::move(o));
    return;
  }
  send_eio(std::move(o));
}

void socketio_transport::emit_packet(const std::string& name, const json& args, pending p) {
  emit_packet_as(name, args, std::move(p), false);
}

void socketio_transport::emit_packet_as(const std::string& name, const json& args, pending p,
                                        bool handshake) {
  std::optional<std::uint64_t> ack;
  const bool direct = p.what == pending::direct;
  if (p.what != pending::none) {
    ack = next_ack_id_++;
    acks_.emplace(*ack, std::move(p));
  }
  outgoing o{wire::eio_encode(wire::eio_type::message, wire::sio_event(nsp_, name, args, ack)), {}};
  if (direct)
    // The wait for an ack that may never come starts once the server has the packet.
    o.written = [this, id = *ack, a = attempt_] {
      if (a != attempt_) return;
      auto it = acks_.find(id);
      if (it != acks_.end()) it->second.give_up_at = steady::now() + opt_.socketio.publish_ack_wait;
    };
  if (handshake)
    send_eio(std::move(o));
  else
    send_app(std::move(o));
}

// The attempt ended: emits with an ack callback hear it; held packets are dropped (the client
// resends its requests after reconnecting).
void socketio_transport::fail_pending(const std::string& why) {
  auto acks = std::move(acks_);
  acks_.clear();
  held_.clear();
  gate_closed_ = false;
  handshake_unanswered_ = 0;
  const client_error err =
      make_error(client_error::kind::connection, "connection lost before the ack: " + why);
  for (auto& [id, p] : acks)
    if (p.what == pending::user && p.callback) p.callback(nullptr, &err);
}

void socketio_transport::reply_ack(const std::string& ref, json data) {
  json m = {{"type", "ACK"}, {"data", std::move(data)}};
  if (!ref.empty()) m["ref"] = ref;
  c_.sink->on_message(std::move(m));
}

void socketio_transport::reply_error(const std::string& ref, const std::string& code,
                                     const std::string& message) {
  json m = {{"type", "ERROR"}, {"data", {{"code", code}, {"message", message}}}};
  if (!ref.empty()) m["ref"] = ref;
  c_.sink->on_message(std::move(m));
}

// An ack's {error: {code, message}} (or {error: "text"}).
void socketio_transport::reply_server_error(const std::string& ref, const json& err,
                                            const char* op) {
  std::string code = "error", message;
  if (err.is_object()) {
    code = err.value("code", code);
    message = err.value("message", std::string());
  } else if (err.is_string()) {
    message = err.get<std::string>();
  } else {
    message = err.dump();
  }
  json m = {{"type", "ERROR"},
            {"data",
             {{"code", code},
              {"op", op},
              {"message", message.empty() ? "refused by the server" : message}}}};
  if (!ref.empty()) m["ref"] = ref;
  c_.sink->on_message(std::move(m));
}

}  // namespace detail
}  // namespace rtev
