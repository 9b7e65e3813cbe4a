#include "tests/support/ws_client.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <random>
#include <stdexcept>

namespace rtev::test {

namespace {

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::uint32_t rotl(std::uint32_t x, int n) {
  return (x << n) | (x >> (32 - n));
}

}  // namespace

std::optional<std::string> find_header(const header_map& headers, std::string name) {
  auto it = headers.find(lower(std::move(name)));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]))
                                << 8 |
                            static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size())
      n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string sha1(std::string_view bytes) {
  std::array<std::uint32_t, 5> h = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string msg(bytes);
  const std::uint64_t bit_len = static_cast<std::uint64_t>(bytes.size()) * 8;
  msg += '\x80';
  while (msg.size() % 64 != 56) msg += '\0';
  for (int i = 7; i >= 0; --i) msg += static_cast<char>((bit_len >> (i * 8)) & 0xff);
  for (std::size_t chunk = 0; chunk < msg.size(); chunk += 64) {
    std::array<std::uint32_t, 80> w{};
    for (std::size_t i = 0; i < 16; ++i)
      for (std::size_t j = 0; j < 4; ++j)
        w[i] = (w[i] << 8) | static_cast<unsigned char>(msg[chunk + i * 4 + j]);
    for (std::size_t i = 16; i < 80; ++i)
      w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (std::size_t i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      const std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::string out;
  for (std::uint32_t v : h)
    for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (i * 8)) & 0xff);
  return out;
}

std::string ws_message::describe() const {
  switch (type) {
    case kind::text:
      return "text " + data.substr(0, 300);
    case kind::binary:
      return "binary (" + std::to_string(data.size()) + " bytes)";
    case kind::close:
      return "close " + std::to_string(close_code) + " '" + data + "'";
    case kind::timeout:
      return "timeout";
    case kind::eof:
      return "eof (connection dropped without a close frame)";
  }
  return "?";
}

ws_client::ws_client(std::uint16_t port, ws_options options)
    : stream_(options.host, port, options.timeout, options.receive_buffer),
      answer_pings_(options.answer_pings),
      mask_seed_(std::random_device{}()) {
  std::mt19937 rng(mask_seed_);
  std::string nonce(16, '\0');
  for (char& c : nonce) c = static_cast<char>(rng() & 0xff);
  const std::string key = base64_encode(nonce);

  std::string req = "GET " + options.path + (options.query.empty() ? "" : "?" + options.query) +
                    " HTTP/1.1\r\nHost: " + options.host + ":" + std::to_string(port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                    "\r\nSec-WebSocket-Version: 13\r\n";
  if (!options.protocols.empty()) {
    std::string list;
    for (const auto& p : options.protocols) list += (list.empty() ? "" : ", ") + p;
    req += "Sec-WebSocket-Protocol: " + list + "\r\n";
  }
  for (const auto& [name, value] : options.headers) req += name + ": " + value + "\r\n";
  req += "\r\n";
  if (!stream_.write_all(req)) throw std::runtime_error("websocket handshake: could not send");

  const auto deadline = steady::now() + options.timeout;
  std::string& buf = stream_.buffer();
  std::size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    const read_status r = stream_.fill(deadline);
    if (r == read_status::timeout) throw std::runtime_error("websocket handshake: no response");
    if (r == read_status::eof) throw std::runtime_error("websocket handshake: connection closed");
  }
  const std::string head = buf.substr(0, end);
  buf.erase(0, end + 4);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  const auto sp = status_line.find(' ');
  if (sp == std::string::npos)
    throw std::runtime_error("websocket handshake: bad status line '" + status_line + "'");
  status_ = std::atoi(status_line.c_str() + sp + 1);
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line =
        head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon != std::string::npos)
      headers_.emplace(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  if (status_ != 101) {
    // A refusal: read its body (Content-Length, else until the server closes).
    const auto len = find_header(headers_, "content-length");
    const std::size_t want = len ? static_cast<std::size_t>(std::stoul(*len)) : std::string::npos;
    while (buf.size() < want && stream_.fill(deadline) == read_status::data) {
    }
    body_ = buf.substr(0, want);
    buf.clear();
    return;
  }
  const auto accept = find_header(headers_, "sec-websocket-accept");
  if (!accept || *accept != base64_encode(sha1(key + std::string(websocket_guid))))
    throw std::runtime_error("websocket handshake: wrong or missing Sec-WebSocket-Accept");
}

std::string ws_client::encode_frame(std::uint8_t opcode, std::string_view payload, bool fin,
                                    std::optional<std::uint64_t> declared_length) {
  static thread_local std::mt19937 rng(std::random_device{}());
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0x00) | (opcode & 0x0f));
  const std::uint64_t len = declared_length.value_or(payload.size());
  if (len < 126) {
    out += static_cast<char>(0x80 | len);
  } else if (len <= 0xffff) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>((len >> 8) & 0xff);
    out += static_cast<char>(len & 0xff);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((len >> (i * 8)) & 0xff);
  }
  std::array<char, 4> mask{};
  for (char& m : mask) m = static_cast<char>(rng() & 0xff);
  out.append(mask.data(), mask.size());
  const std::size_t at = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i) out[at + i] ^= mask[i % 4];
  return out;
}

bool ws_client::send_frame(std::uint8_t opcode, std::string_view payload, bool fin) {
  return stream_.write_all(encode_frame(opcode, payload, fin));
}

bool ws_client::send_fragmented(std::uint8_t opcode, const std::vector<std::string>& parts) {
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (!send_frame(i == 0 ? opcode : ws_opcode::continuation, parts[i], i + 1 == parts.size()))
      return false;
  return true;
}

bool ws_client::send_close(int code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>((code >> 8) & 0xff);
  payload += static_cast<char>(code & 0xff);
  payload.append(reason);
  close_sent_ = true;
  return send_frame(ws_opcode::close, payload);
}

std::optional<ws_client::frame_in> ws_client::take_frame() {
  const std::string& buf = stream_.buffer();
  if (buf.size() < 2) return std::nullopt;
  const auto b0 = static_cast<unsigned char>(buf[0]);
  const auto b1 = static_cast<unsigned char>(buf[1]);
  if (b1 & 0x80) throw std::runtime_error("protocol violation: the server masked a frame");
  std::size_t pos = 2;
  std::uint64_t len = b1 & 0x7f;
  if (len == 126) {
    if (buf.size() < 4) return std::nullopt;
    len = static_cast<std::uint64_t>(static_cast<unsigned char>(buf[2])) << 8 |
          static_cast<unsigned char>(buf[3]);
    pos = 4;
  } else if (len == 127) {
    if (buf.size() < 10) return std::nullopt;
    len = 0;
    for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | static_cast<unsigned char>(buf[i]);
    pos = 10;
  }
  if (buf.size() < pos + len) return std::nullopt;
  frame_in f;
  f.fin = (b0 & 0x80) != 0;
  f.opcode = b0 & 0x0f;
  f.payload = buf.substr(pos, static_cast<std::size_t>(len));
  stream_.buffer().erase(0, pos + static_cast<std::size_t>(len));
  return f;
}

ws_message ws_client::recv(millis timeout) {
  const auto deadline = steady::now() + timeout;
  ws_message m;
  if (closed_) {
    m.type = ws_message::kind::eof;
    return m;
  }
  for (;;) {
    while (auto f = take_frame()) {
      switch (f->opcode) {
        case ws_opcode::ping:
          ++pings_;
          if (answer_pings_) send_frame(ws_opcode::pong, f->payload);
          continue;
        case ws_opcode::pong:
          ++pongs_;
          continue;
        case ws_opcode::close: {
          closed_ = true;
          m.type = ws_message::kind::close;
          m.close_code = 1005;
          if (f->payload.size() >= 2) {
            m.close_code = static_cast<unsigned char>(f->payload[0]) << 8 |
                           static_cast<unsigned char>(f->payload[1]);
            m.data = f->payload.substr(2);
          }
          if (!close_sent_) {
            std::string echo = f->payload.substr(0, 2);
            close_sent_ = true;
            send_frame(ws_opcode::close, echo);
          }
          return m;
        }
        case ws_opcode::continuation:
          partial_ += f->payload;
          break;
        case ws_opcode::text:
        case ws_opcode::binary:
          partial_opcode_ = f->opcode;
          partial_ = std::move(f->payload);
          break;
        default:
          throw std::runtime_error("protocol violation: unknown opcode " +
                                   std::to_string(f->opcode));
      }
      if (f->fin) {
        m.type =
            partial_opcode_ == ws_opcode::text ? ws_message::kind::text : ws_message::kind::binary;
        m.data = std::move(partial_);
        partial_.clear();
        return m;
      }
    }
    const read_status r = stream_.fill(deadline);
    if (r == read_status::timeout) {
      m.type = ws_message::kind::timeout;
      return m;
    }
    if (r == read_status::eof) {
      m.type = ws_message::kind::eof;
      return m;
    }
  }
}

}  // namespace rtev::test
