#include "commands/bench_conn.hpp"

#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>

#include "exit_codes.hpp"

namespace rtev::cli {

namespace {
// The RFC 6455 sample key: the bench does not check Sec-WebSocket-Accept (a server that answers
// 101 speaks WebSocket), so the key need not be fresh.
constexpr const char* ws_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::size_t max_head = 16 * 1024;
}  // namespace

bench_address resolve_bench_address(const std::string& host, int port) {
  const std::string authority =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
    throw command_failure(exit_connect, "could not connect to " + authority + ": unknown host");
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(res, freeaddrinfo);
  bench_address a;
  std::memcpy(&a.addr, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  a.authority = authority;
  return a;
}

bench_conn::bench_conn(const bench_address& to, framing f, const std::string& target,
                       std::size_t index)
    : framing_(f), index_(index), mask_state_(static_cast<std::uint32_t>(index) * 2654435761U + 1) {
  request_ = "GET " + target + " HTTP/1.1\r\nHost: " + to.authority + "\r\n";
  if (f == framing::websocket)
    request_ += std::string("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ") +
                ws_key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  else
    request_ += "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
  fd_ = ::socket(to.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    phase_ = phase::closed;
    error_ = std::generic_category().message(errno);
    return;
  }
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&to.addr), to.len) != 0 &&
      errno != EINPROGRESS) {
    error_ = std::generic_category().message(errno);
    ::close(fd_);
    fd_ = -1;
    phase_ = phase::closed;
  }
}

bench_conn::~bench_conn() {
  if (fd_ >= 0) ::close(fd_);
}

void bench_conn::close(bench_events& ev, const std::string& why) {
  if (phase_ == phase::closed) return;
  if (error_.empty()) error_ = why;
  phase_ = phase::closed;
  ::close(fd_);
  fd_ = -1;
  ev.on_closed(*this);
}

void bench_conn::on_ready(bench_events& ev, bool readable, bool writable) {
  if (phase_ == phase::connecting && (writable || readable)) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return close(ev, std::generic_category().message(err));
    phase_ = phase::upgrading;
    out_ = request_ + out_.substr(out_pos_);
    out_pos_ = 0;
    writable = true;
  }
  if (writable) flush(ev);
  if (readable && phase_ != phase::closed) read_all(ev);
}

void bench_conn::flush(bench_events& ev) {
  if (phase_ == phase::connecting || phase_ == phase::closed) return;
  while (out_pos_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return close(ev, std::generic_category().message(errno));
    }
    out_pos_ += static_cast<std::size_t>(n);
  }
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  } else if (out_pos_ > read_chunk && out_pos_ * 2 > out_.size()) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
}

void bench_conn::read_all(bench_events& ev) {
  char buf[read_chunk];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      return close(ev, std::generic_category().message(errno));
    }
    if (n == 0) {
      if (phase_ == phase::upgrading) return close(ev, "the server closed the connection");
      return close(ev, close_code_ ? "closed by the server (" + std::to_string(close_code_) + ")"
                                   : "the server closed the connection");
    }
    if (phase_ == phase::open && framing_ == framing::sse) {
      ev.on_data(*this, std::string_view(buf, static_cast<std::size_t>(n)));
    } else {
      in_.append(buf, static_cast<std::size_t>(n));
      if (phase_ == phase::upgrading) parse_head(ev);
      if (phase_ == phase::open) parse_frames(ev);
    }
    if (phase_ == phase::closed) return;
  }
}

void bench_conn::parse_head(bench_events& ev) {
  const auto end = in_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (in_.size() > max_head) close(ev, "the response head is too long");
    return;
  }
  if (in_.rfind("HTTP/1.", 0) != 0) return close(ev, "the server did not answer with HTTP");
  status_ = static_cast<int>(std::strtol(in_.c_str() + 9, nullptr, 10));
  std::string head = in_.substr(0, end);
  for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const int want = framing_ == framing::websocket ? 101 : 200;
  if (status_ != want) {
    refusal_ = in_.substr(end + 4, 300);
    return close(ev, "HTTP " + std::to_string(status_));
  }
  if (framing_ == framing::sse && head.find("transfer-encoding: chunked") != std::string::npos)
    return close(ev, "a chunked SSE response (not supported by rtev bench)");
  in_.erase(0, end + 4);
  in_pos_ = 0;
  phase_ = phase::open;
  ev.on_open(*this);
  if (phase_ == phase::closed) return;
  if (framing_ == framing::sse && !in_.empty()) {
    const std::string rest = std::move(in_);
    in_.clear();
    ev.on_data(*this, rest);
  }
}

void bench_conn::parse_frames(bench_events& ev) {
  for (;;) {
    const std::size_t avail = in_.size() - in_pos_;
    if (avail < 2) break;
    const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + in_pos_);
    const bool fin = (p[0] & 0x80) != 0;
    const unsigned opcode = p[0] & 0x0f;
    const bool masked = (p[1] & 0x80) != 0;
    std::uint64_t len = p[1] & 0x7f;
    std::size_t hdr = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (std::uint64_t{p[2]} << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      hdr = 10;
    }
    if (masked) return close(ev, "the server sent a masked frame");
    if (len > (1ULL << 30)) return close(ev, "a frame over 1 GiB");
    if (avail < hdr + len) break;
    const std::string_view payload(in_.data() + in_pos_ + hdr, static_cast<std::size_t>(len));
    in_pos_ += hdr + static_cast<std::size_t>(len);
    switch (opcode) {
      case 0x0:  // continuation
      case 0x1:
      case 0x2:
        if (!fin || !fragments_.empty()) {
          fragments_.append(payload);
          if (fin) {
            const std::string whole = std::move(fragments_);
            fragments_.clear();
            ev.on_data(*this, whole);
          }
        } else {
          ev.on_data(*this, payload);
        }
        break;
      case 0x8:
        close_code_ = payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
                                                static_cast<unsigned char>(payload[1])
                                          : 1005;
        {
          std::string why = "closed by the server (" + std::to_string(close_code_);
          if (payload.size() > 2) why += " " + std::string(payload.substr(2));
          return close(ev, why + ")");
        }
      case 0x9:
        send_frame(ev, 0xA, payload);
        break;
      default:  // pong, reserved
        break;
    }
    if (phase_ == phase::closed) return;
  }
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > read_chunk) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
}

void bench_conn::send_text(bench_events& ev, std::string_view payload) {
  send_frame(ev, 0x1, payload);
}

void bench_conn::send_frame(bench_events& ev, unsigned opcode, std::string_view payload) {
  if (phase_ == phase::closed) return;
  char hdr[14];
  std::size_t h = 0;
  hdr[h++] = static_cast<char>(0x80 | opcode);
  const std::size_t n = payload.size();
  if (n < 126) {
    hdr[h++] = static_cast<char>(0x80 | n);
  } else if (n <= 0xffff) {
    hdr[h++] = static_cast<char>(0x80 | 126);
    hdr[h++] = static_cast<char>(n >> 8);
    hdr[h++] = static_cast<char>(n & 0xff);
  } else {
    hdr[h++] = static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) hdr[h++] = static_cast<char>((std::uint64_t{n} >> (8 * i)) & 0xff);
  }
  // Masking keys from xorshift32: the bench is no browser, the key only has to vary.
  mask_state_ ^= mask_state_ << 13;
  mask_state_ ^= mask_state_ >> 17;
  mask_state_ ^= mask_state_ << 5;
  unsigned char key[4];
  std::memcpy(key, &mask_state_, 4);
  std::memcpy(hdr + h, key, 4);
  h += 4;
  const std::size_t at = out_.size();
  out_.append(hdr, h);
  out_.append(payload);
  auto* body = reinterpret_cast<unsigned char*>(out_.data() + at + h);
  for (std::size_t i = 0; i < n; ++i) body[i] ^= key[i & 3];
  flush(ev);
}

}  // namespace rtev::cli
