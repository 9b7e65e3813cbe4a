#include "tests/support/tcp_stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace rtev::test {

namespace {

int remaining_ms(steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<millis>(deadline - steady::now()).count();
  if (left <= 0) return 0;
  return left > 1'000'000 ? 1'000'000 : static_cast<int>(left);
}

sockaddr_in loopback(const std::string& host, std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    throw std::runtime_error("not a numeric IPv4 address: '" + host + "'");
  return addr;
}

}  // namespace

tcp_stream::tcp_stream(const std::string& host, std::uint16_t port, millis timeout,
                       int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (receive_buffer > 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const sockaddr_in addr = loopback(host, port);
  const std::string where = host + ":" + std::to_string(port);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      const int err = errno;
      close();
      throw std::runtime_error("connect to " + where + ": " + std::strerror(err));
    }
    pollfd p{fd_, POLLOUT, 0};
    const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    int err = 0;
    socklen_t len = sizeof err;
    if (n == 1) ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (n != 1 || err != 0) {
      close();
      throw std::runtime_error("connect to " + where + ": " +
                               (n == 1 ? std::strerror(err) : "timed out"));
    }
  }
  // Reads wait with poll() and a deadline; writes block until everything is sent.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
}

tcp_stream::~tcp_stream() {
  close();
}

tcp_stream::tcp_stream(tcp_stream&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), eof_(other.eof_), buffer_(std::move(other.buffer_)) {}

tcp_stream& tcp_stream::operator=(tcp_stream&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    eof_ = other.eof_;
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

void tcp_stream::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool tcp_stream::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    if (fd_ < 0) return false;
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

read_status tcp_stream::fill(steady::time_point deadline) {
  if (eof_ || fd_ < 0) return read_status::eof;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return read_status::timeout;
    char chunk[65536];
    const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      // ECONNRESET after the peer's last bytes counts as the end of the stream too.
      eof_ = true;
      return read_status::eof;
    }
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return read_status::data;
  }
}

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/rtev-it-XXXXXX";
  if (!::mkdtemp(&templ[0]))
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  path_ = templ;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string url_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

held_port::held_port() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr = loopback("127.0.0.1", 0);
  socklen_t len = sizeof addr;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 1) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error(std::string("holding a port: ") + std::strerror(errno));
  port_ = ntohs(addr.sin_port);
}

held_port::~held_port() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace rtev::test
