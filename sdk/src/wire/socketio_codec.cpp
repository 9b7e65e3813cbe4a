#include "wire/socketio_codec.hpp"

#include <limits>

#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/json.hpp"

namespace rtev::wire {
namespace {

using json = nlohmann::json;

[[noreturn]] void eio_fail(const std::string& message) {
  throw parse_error("", "engine.io packet: " + message);
}
[[noreturn]] void sio_fail(const std::string& message) {
  throw parse_error("", "socket.io packet: " + message);
}

// Printable for error messages: a control character or a quote would garble them.
std::string show_char(char c) {
  return rtev::printable(std::string_view(&c, 1));
}

const char* sio_type_name(sio_type t) {
  switch (t) {
    case sio_type::connect:
      return "CONNECT";
    case sio_type::disconnect:
      return "DISCONNECT";
    case sio_type::event:
      return "EVENT";
    case sio_type::ack:
      return "ACK";
    case sio_type::connect_error:
      return "CONNECT_ERROR";
    case sio_type::binary_event:
      return "BINARY_EVENT";
    case sio_type::binary_ack:
      return "BINARY_ACK";
  }
  return "?";
}

// The names socket.io's own parser refuses as event names (they are the socket's lifecycle
// events on both sides).
bool reserved_event(const std::string& name) {
  return name == "connect" || name == "connect_error" || name == "disconnect" ||
         name == "disconnecting" || name == "newListener" || name == "removeListener";
}

// Invalid UTF-8 in a string would make dump() throw; replace it instead of failing a send.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

eio_packet eio_decode(std::string_view text) {
  if (text.empty()) eio_fail("empty");
  char t = text[0];
  if (t == 'b') eio_fail("binary (base64) packets are not supported");
  if (t < '0' || t > '6') eio_fail("unknown type '" + show_char(t) + "'");
  return eio_packet{static_cast<eio_type>(t), std::string(text.substr(1))};
}

std::string eio_encode(const eio_packet& p) {
  return eio_encode(p.type, p.data);
}

std::string eio_encode(eio_type t, std::string_view data) {
  std::string out;
  out.reserve(1 + data.size());
  out += static_cast<char>(t);
  out += data;
  return out;
}

std::vector<eio_packet> eio_decode_payload(std::string_view body) {
  if (body.empty()) eio_fail("empty polling payload");
  std::vector<eio_packet> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = body.find('\x1e', start);
    std::string_view one =
        body.substr(start, end == std::string_view::npos ? body.npos : end - start);
    if (one.empty()) {
      eio_fail("empty packet in polling payload (at byte " + std::to_string(start) + ")");
    }
    out.push_back(eio_decode(one));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::string eio_encode_payload(const std::vector<eio_packet>& packets) {
  std::string out;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i > 0) out += '\x1e';
    out += static_cast<char>(packets[i].type);
    out += packets[i].data;
  }
  return out;
}

sio_packet sio_decode(std::string_view text) {
  if (text.empty()) sio_fail("empty");
  char t = text[0];
  if (t < '0' || t > '6') sio_fail("unknown type '" + show_char(t) + "'");
  sio_packet p;
  p.type = static_cast<sio_type>(t - '0');
  p.data = nullptr;
  if (p.type == sio_type::binary_event || p.type == sio_type::binary_ack) {
    // Name the event that is lost: "51-/nsp,7[\"name\",{\"_placeholder\":true,…}]".
    std::string what = sio_type_name(p.type);
    const auto open = text.find('[');
    if (p.type == sio_type::binary_event && open != std::string_view::npos) {
      const json j = rtev::parse_json(text.substr(open));
      if (j.is_array() && !j.empty() && j[0].is_string())
        what += " '" + j[0].get<std::string>() + "'";
    }
    sio_fail(what + " (binary attachments) is not supported: dropped");
  }
  std::size_t i = 1;

  // Namespace: "/name," — the reference parser also takes a trailing "/name" with no comma.
  if (i < text.size() && text[i] == '/') {
    std::size_t comma = text.find(',', i);
    if (comma == std::string_view::npos) {
      p.nsp = std::string(text.substr(i));
      i = text.size();
    } else {
      p.nsp = std::string(text.substr(i, comma - i));
      i = comma + 1;
    }
  }

  // Ack id: the digits before the JSON.
  if (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    std::uint64_t id = 0;
    std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      auto d = static_cast<std::uint64_t>(text[i] - '0');
      if (id > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
        sio_fail("ack id '" + std::string(text.substr(start, i - start + 1)) + "…' is too large");
      }
      id = id * 10 + d;
      ++i;
    }
    p.ack_id = id;
  }

  const char* name = sio_type_name(p.type);
  if (i < text.size()) {
    std::string_view body = text.substr(i);
    std::string why;
    p.data = rtev::parse_json(body, &why);
    if (p.data.is_discarded()) {
      // The reason says what is wrong ("nested deeper than 128 levels"); the start shows where.
      throw sio_bad_json("", "socket.io packet: " + std::string(name) + " payload is not JSON (" +
                                 why + "): '" + rtev::printable(body.substr(0, 40)) +
                                 (body.size() > 40 ? "…'" : "'"));
    }
  }

  switch (p.type) {
    case sio_type::connect:
      if (!p.data.is_null() && !p.data.is_object()) {
        sio_fail(std::string("CONNECT payload must be an object, got ") + json_type_name(p.data));
      }
      break;
    case sio_type::disconnect:
      if (!p.data.is_null()) sio_fail("DISCONNECT carries no payload");
      break;
    case sio_type::event:
      if (!p.data.is_array() || p.data.empty() || !p.data[0].is_string()) {
        sio_fail("EVENT data must be an array starting with the event name");
      }
      if (reserved_event(p.data[0].get<std::string>())) {
        sio_fail("'" + p.data[0].get<std::string>() + "' is a reserved event name");
      }
      break;
    case sio_type::ack:
      if (!p.ack_id) sio_fail("ACK without an ack id");
      if (!p.data.is_array()) sio_fail("ACK data must be an array of arguments");
      break;
    case sio_type::connect_error:
      // v5 sends {message, data?}; v4 servers (protocol 4) sent a bare string.
      if (p.data.is_string()) {
        p.data = json{{"message", p.data.get<std::string>()}};
      } else if (p.data.is_null()) {
        p.data = json{{"message", ""}};
      } else if (!p.data.is_object()) {
        sio_fail(std::string("CONNECT_ERROR payload must be an object, got ") +
                 json_type_name(p.data));
      }
      break;
    case sio_type::binary_event:
    case sio_type::binary_ack:
      break;  // refused above
  }
  if (p.ack_id && p.type != sio_type::event && p.type != sio_type::ack) {
    sio_fail(std::string(name) + " cannot carry an ack id");
  }
  return p;
}

std::string sio_encode(const sio_packet& p) {
  if (p.type == sio_type::binary_event || p.type == sio_type::binary_ack) {
    sio_fail(std::string("cannot encode ") + sio_type_name(p.type) +
             ": binary attachments are not supported");
  }
  if (p.nsp.empty() || p.nsp[0] != '/') {
    sio_fail("namespace '" + p.nsp + "' must start with '/'");
  }
  if (p.nsp.find(',') != std::string::npos) {
    sio_fail("namespace '" + p.nsp + "' cannot contain ','");
  }
  std::string out(1, static_cast<char>('0' + static_cast<int>(p.type)));
  if (p.nsp != "/") {
    out += p.nsp;
    out += ',';
  }
  if (p.ack_id) out += std::to_string(*p.ack_id);
  if (!p.data.is_null()) out += dump(p.data);
  return out;
}

std::string sio_event(std::string_view nsp, const std::string& name, const json& args,
                      std::optional<std::uint64_t> ack_id) {
  sio_packet p;
  p.type = sio_type::event;
  p.nsp = std::string(nsp);
  p.ack_id = ack_id;
  p.data = json::array({name});
  if (args.is_array()) {
    for (const auto& a : args) p.data.push_back(a);
  } else {
    p.data.push_back(args);
  }
  return sio_encode(p);
}

std::string sio_ack(std::string_view nsp, std::uint64_t ack_id, const json& args) {
  sio_packet p;
  p.type = sio_type::ack;
  p.nsp = std::string(nsp);
  p.ack_id = ack_id;
  p.data = args.is_array() ? args : json::array({args});
  return sio_encode(p);
}

}  // namespace rtev::wire
