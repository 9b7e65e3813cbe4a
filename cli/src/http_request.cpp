#include "http_request.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "exit_codes.hpp"
#include "interrupts.hpp"

namespace rtev::cli {

namespace {

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits for `events` on fd until `deadline`; a signal (interrupts.hpp) ends the wait with
// `interrupted`, so a request to a server that never answers cannot hold up Ctrl-C.
bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline,
             const std::string& authority) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p[2] = {{fd, events, 0}, {interrupt_fd(), POLLIN, 0}};
  const int n = ::poll(p, p[1].fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
  throw_if_interrupted(" while talking to " + authority);
  return n > 0 && p[0].revents != 0;
}

}  // namespace

std::string url_encode(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '*')
      out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

http_result http_fetch(const std::string& method, const std::string& url, const std::string& body,
                       const std::vector<std::string>& headers, std::chrono::milliseconds timeout) {
  if (url.rfind("https://", 0) == 0)
    throw usage_error(
        "https:// is not supported for HTTP requests by this command yet; use http:// (" + url +
        ")");
  if (url.rfind("http://", 0) != 0) throw usage_error("expected an http:// URL, got '" + url + "'");
  const std::string rest = url.substr(7);
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host = authority, port = "80";
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) port = authority.substr(close + 2);
  } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res)
    throw std::runtime_error("cannot connect to " + authority + ": unknown host");
  // Freed however the loop ends (wait_fd throws when a signal interrupts the connect).
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(res, freeaddrinfo);
  fd_guard sock;
  std::string last_error = "connection refused";
  for (addrinfo* a = res; a; a = a->ai_next) {
    sock.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, 0);
    if (sock.fd < 0) continue;
    if (::connect(sock.fd, a->ai_addr, a->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS && wait_fd(sock.fd, POLLOUT, deadline, authority)) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) break;
      last_error = std::generic_category().message(err);
    } else {
      last_error = errno == EINPROGRESS ? "timed out" : std::generic_category().message(errno);
    }
    ::close(sock.fd);
    sock.fd = -1;
  }
  if (sock.fd < 0) throw std::runtime_error("cannot connect to " + authority + ": " + last_error);

  std::string req =
      method + " " + path + " HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (!body.empty() || method == "POST")
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  std::size_t sent = 0;
  while (sent < req.size()) {
    if (!wait_fd(sock.fd, POLLOUT, deadline, authority))
      throw std::runtime_error("timed out sending to " + authority);
    const ssize_t n = ::send(sock.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("connection to " + authority + " lost while sending");
    sent += static_cast<std::size_t>(n);
  }
  std::string resp;
  char buf[8192];
  for (;;) {
    if (!wait_fd(sock.fd, POLLIN, deadline, authority))
      throw std::runtime_error("timed out waiting for " + authority);
    const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n < 0) throw std::runtime_error("connection to " + authority + " failed while reading");
    if (n == 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
  }
  const auto head_end = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos)
    throw std::runtime_error(authority + " did not answer with HTTP");
  http_result r;
  r.status = static_cast<int>(std::strtol(resp.c_str() + 9, nullptr, 10));
  std::string head = resp.substr(0, head_end);
  r.body = resp.substr(head_end + 4);
  // Chunked bodies (not sent by rtev serve, but by other servers).
  std::string lower = head;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("transfer-encoding: chunked") != std::string::npos) {
    std::string out;
    std::size_t pos = 0;
    while (pos < r.body.size()) {
      const auto eol = r.body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      const std::size_t size = std::stoul(r.body.substr(pos, eol - pos), nullptr, 16);
      if (size == 0) break;
      out += r.body.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    r.body = out;
  }
  return r;
}

}  // namespace rtev::cli
