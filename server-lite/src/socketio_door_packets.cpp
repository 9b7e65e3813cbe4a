// The Socket.IO door's packet half: Engine.IO and Socket.IO packets from the client become the
// hub's typed operations; the hub's typed replies become Socket.IO acks and events. The
// transports that carry the packets are in socketio_door.cpp.

#include <algorithm>
#include <charconv>
#include <utility>

#include "op_decode.hpp"
#include "reply_json.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "socketio_session.hpp"

namespace rtev::server_lite {

using namespace sio_packets;

namespace {

// The ack id a Socket.IO request carried (its ref is the id's decimal text): every id the codec
// accepts, up to 2^64 - 1, gets its answer.
std::optional<std::uint64_t> ack_of(const op_ref& ref) {
  std::uint64_t id = 0;
  const char* end = ref.data() + ref.size();
  auto [ptr, ec] = std::from_chars(ref.data(), end, id);
  if (ref.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return id;
}

}  // namespace

// --- packets from the client -------------------------------------------------------------------

void socketio_door::on_packet(session& s, char type, std::string_view data, bool /*from_ws*/) {
  connection* c = hub_.find(s.conn);
  if (!c) {
    end(s);
    return;
  }
  switch (static_cast<wire::eio_type>(type)) {
    case wire::eio_type::pong:
      c->ping_outstanding = false;
      return;
    case wire::eio_type::ping:  // Engine.IO v3 clients pinged; answer politely
      push(s, wire::eio_encode(wire::eio_type::pong, data));
      return;
    case wire::eio_type::message:
      if (!c->closing) on_sio(s, *c, data);
      return;
    case wire::eio_type::close:
      end(s);
      return;
    default:  // open, upgrade (outside a probe), noop
      return;
  }
}

void socketio_door::on_sio(session& s, connection& c, std::string_view text) {
  wire::sio_packet p;
  try {
    p = wire::sio_decode(text);
  } catch (const wire::sio_bad_json& e) {
    if (s.sio_connected) fail(s, std::nullopt, "bad_json", e.what());
    return;
  } catch (const parse_error& e) {
    if (s.sio_connected) fail(s, std::nullopt, "bad_request", e.what());
    return;
  }
  if (p.nsp != "/") {
    // One namespace, the default one. Other packets for a namespace never joined are ignored,
    // as by the reference server.
    if (p.type == wire::sio_type::connect)
      push(
          s,
          message_packet(wire::sio_encode(
              {wire::sio_type::connect_error, p.nsp, {}, json{{"message", "Invalid namespace"}}})));
    return;
  }
  switch (p.type) {
    case wire::sio_type::connect:
      on_connect(s, c, p.data);
      return;
    case wire::sio_type::disconnect:
      if (s.sio_connected) {
        s.sio_connected = false;
        hub_.close_connection(c, close_code::going_away, "client disconnected");
      }
      return;
    case wire::sio_type::event:
      if (s.sio_connected) on_event(s, c, p.data, p.ack_id);
      return;
    default:  // ACK (we never ask for one), CONNECT_ERROR
      return;
  }
}

void socketio_door::on_connect(session& s, connection& c, const json& auth) {
  if (s.sio_connected) return;
  auto refuse = [&](const std::string& message) {
    push(s, message_packet(wire::sio_encode(
                {wire::sio_type::connect_error,
                 "/",
                 {},
                 json{{"message", message}, {"data", {{"code", "unauthorized"}}}}})));
  };
  // The token: auth.token (a string; an object or a number as the rtev `authenticate`
  // takes it), else what the handshake request carried (Authorization: Bearer, ?token=).
  std::string token;
  if (auth.is_object())
    if (auto it = auth.find("token"); it != auth.end() && !it->is_null()) {
      if (it->is_string())
        token = it->get<std::string>();
      else if (it->is_object() || it->is_number_integer())
        token = it->dump();
      else
        return refuse("auth.token: expected a string, got " + json_type_name(*it));
    }
  if (token.empty()) token = s.handshake_token;
  // Presence: auth.presence, else the handshake's ?presence= (a client that only publishes
  // says false and is not announced).
  try {
    if (auth.is_object())
      if (auto it = auth.find("presence"); it != auth.end() && !it->is_null())
        c.presence = presence_option("auth.presence", *it);
    if (s.handshake_presence && !(auth.is_object() && auth.contains("presence")))
      c.presence = presence_option("query parameter 'presence'", json(*s.handshake_presence));
  } catch (const parse_error& e) {
    return refuse(e.what());
  }
  // Without a token, token and jwt modes accept the socket and wait for `authenticate`
  // (within the auth time-out), as for rtev WebSockets.
  if (!token.empty() || auth_.mode() == auth_mode::none) {
    if (std::string err = hub_.authenticate(c, token, false); !err.empty()) return refuse(err);
  }
  s.sio_connected = true;
  // "protocol" says this namespace is rtev's (docs/protocol.md §7.2): clients then publish with
  // the `publish` event instead of emitting the event type itself.
  json ack = {{"sid", s.sio_id},
              {"protocol", "rtev.v1"},
              {"epoch", hub_.epoch()},
              {"last_seq", hub_.frontier()}};
  if (c.who) {
    ack["user_id"] = c.who->user_id;
    ack["anonymous"] = c.who->anonymous;
    ack["rate_limit"] = rate_limit_json(hub_.rate_limit());
  }
  const std::optional<server_status_reply> status = hub_.status_notice();
  if (status) ack["server_status"] = server_status_json(*status);
  push(s, message_packet(wire::sio_encode({wire::sio_type::connect, "/", {}, ack})));
  // Also as the event any Socket.IO client can listen to (the hub's was before the CONNECT).
  if (status) push(s, event_packet("server_status", server_status_json(*status)));
  // The `authenticated` event answers a token. A none-mode connect without one is anon-<n> at
  // once (the ack says so) but hears no `authenticated`: a client that connects and then emits
  // `authenticate` {token} (the usual Socket.IO pattern) hears only its own identity.
  if (c.who && !token.empty()) {
    json info = connection_info_json(hub_.info_of(c));
    info["userId"] = c.who->user_id;
    push(s, event_packet("authenticated", info));
  }
}

void socketio_door::on_event(session& s, connection& c, const json& args,
                             std::optional<std::uint64_t> ack) {
  const std::string name = args[0].get<std::string>();
  // The ack id is the operation's ref: the hub's reply names it, and encode() answers it.
  const op_ref ref = ack ? std::to_string(*ack) : op_ref();
  if (!hub_.admit(c, ref)) return;
  const json arg = args.size() > 1 ? args[1] : json();
  // The payload object; `shortcut` lets a bare string stand for that field (emit('join', 'r')).
  auto payload = [&](const char* shortcut) -> std::optional<json> {
    if (arg.is_null()) return json::object();
    if (arg.is_object()) return arg;
    if (shortcut && arg.is_string()) return json{{shortcut, arg}};
    fail(s, ack, "bad_request", name + ": expected an object payload, got " + json_type_name(arg));
    return std::nullopt;
  };
  // The payload has the shape of an rtev operation's `data`: the same decoders read it.
  auto operation = [&](const char* op, const json& data) {
    hub_.handle(c, decode_op(op, op, data, ref, hub_.timezone()));
  };

  if (name == "authenticate") {
    auto data = payload("token");
    if (!data) return;
    s.auth_ack = ack;
    operation("AUTHENTICATE", *data);
    return;
  }
  static const char* const known[] = {"subscribe", "join",   "unsubscribe", "leave",
                                      "publish",   "typing", "history",     "presence"};
  if (std::find(std::begin(known), std::end(known), name) == std::end(known)) {
    fail(s, ack, "unknown_event",
         "unknown event '" + name +
             "'; expected one of authenticate, subscribe, join, unsubscribe, leave, publish, "
             "typing, history, presence");
    return;
  }
  if (!c.who) {
    fail(s, ack, "not_authenticated",
         "emit 'authenticate' with {token} first, or connect with auth: {token}");
    return;
  }
  auto data = payload(name == "publish" ? nullptr : "room");
  if (!data) return;
  if (name == "subscribe" || name == "join") {
    operation("SUBSCRIBE", *data);
  } else if (name == "unsubscribe" || name == "leave") {
    operation("UNSUBSCRIBE", *data);
  } else if (name == "publish") {
    operation("PUBLISH", *data);
  } else if (name == "typing") {
    bool typing = true;
    if (auto it = data->find("is_typing"); it != data->end() && !it->is_null()) {
      if (!it->is_boolean())
        return fail(s, ack, "bad_request",
                    "is_typing: expected a boolean, got " + json_type_name(*it));
      typing = it->get<bool>();
    }
    operation(typing ? "TYPING_START" : "TYPING_STOP", *data);
  } else if (name == "history") {
    operation("HISTORY", *data);
  } else {
    operation("PRESENCE", *data);
  }
}

// The hub's replies become Socket.IO acks and events.
void socketio_door::encode(session& s, const connection& c, const hub_reply& r,
                           std::vector<frame_ptr>& out) {
  // A socket that never connected (or left) hears nothing; nor does one that is closing.
  if (!s.sio_connected || c.closing) return;
  const std::optional<std::uint64_t> ack = ack_of(ref_of(r));
  auto ack_reply = [&] {
    if (!ack) return;
    json data = ack_data(r);
    data.erase("op");
    out.push_back(make_frame(ack_packet(*ack, data)));
  };
  std::visit(
      overloaded{
          [&](const history_reply& h) {
            for (const auto& e : h.events)
              out.push_back(make_frame(sio_event_packet(json_text(history_event_json(e, h.ref)))));
            ack_reply();
          },
          [&](const error_reply& e) {
            out.push_back(make_frame(error_packet(ack, e.code, e.message)));
          },
          [&](const not_authenticated_reply&) {
            out.push_back(make_frame(error_packet(
                ack, "not_authenticated",
                "emit 'authenticate' with {token} first, or connect with auth: {token}")));
          },
          [&](const authenticated_reply& a) {
            json data = connection_info_json(a.info);
            data["userId"] = a.info.user_id;
            out.push_back(make_frame(event_packet("authenticated", data)));
            if (s.auth_ack)
              out.push_back(make_frame(ack_packet(*std::exchange(s.auth_ack, std::nullopt), data)));
          },
          [&](const auth_error_reply& a) {
            json data = {{"message", a.message}};
            if (!a.code.empty()) data["code"] = a.code;
            out.push_back(make_frame(event_packet("auth_error", data)));
            if (s.auth_ack)
              out.push_back(make_frame(
                  ack_packet(*std::exchange(s.auth_ack, std::nullopt),
                             {{"error", {{"code", "unauthorized"}, {"message", a.message}}}})));
          },
          // PONG: the rtev PING has no Socket.IO counterpart (Engine.IO pings instead).
          [&](const pong_reply&) {},
          [&](const server_status_reply& st) {
            out.push_back(make_frame(event_packet("server_status", server_status_json(st))));
          },
          [&](const auto&) { ack_reply(); },
      },
      r);
}

}  // namespace rtev::server_lite
