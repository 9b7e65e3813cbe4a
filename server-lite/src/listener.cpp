#include "listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "rtev/error.hpp"

namespace rtev::server_lite {

namespace {

constexpr const char* protocol_name = "rtev-listener";
// A head not complete by then is answered 408 (lws's own limit was 30 s too).
constexpr auto head_time = std::chrono::seconds(30);
// After a refusal, what the peer still sends is read and dropped until it closes or this
// passes: closing with unread input makes the kernel send RST, and the peer might lose the
// answer (the same reason the WebSocket side closes gracefully).
constexpr auto drain_time = std::chrono::seconds(3);
// How often deadlines are checked while connections are pending, and how long accepting
// pauses when the process is out of descriptors.
constexpr lws_usec_t sweep_every = LWS_USEC_PER_SEC / 4;

std::string bind_error(int err, std::uint16_t port, const std::string& host) {
  const std::string where = "port " + std::to_string(port) + " on " + host;
  if (err == EADDRINUSE) return where + " is already in use";
  if (err == EACCES) return where + ": permission denied";
  if (err == EADDRNOTAVAIL) return "--host " + host + " is not an address of this machine";
  return "cannot listen on " + where + ": " + std::strerror(err);
}

}  // namespace

listener::listener(const std::string& ip, std::uint16_t port, const std::string& host,
                   std::vector<std::pair<std::string, std::string>> refusal_headers)
    : refusal_headers_(std::move(refusal_headers)) {
  const bool v6 = ip.find(':') != std::string::npos;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) != 1)
      throw config_error("--host " + host + " is not an address of this machine");
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, ip.c_str(), &a->sin_addr) != 1)
      throw config_error("--host " + host + " is not an address of this machine");
    len = sizeof *a;
  }
  listen_fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw config_error(bind_error(errno, port, host));
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (v6) setsockopt(listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(listen_fd_, SOMAXCONN) != 0) {
    const int err = errno;
    ::close(listen_fd_);
    throw config_error(bind_error(err, port, host));
  }
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  if (epoll_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) {
    const int err = errno;
    ::close(listen_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    throw config_error("cannot listen on port " + std::to_string(port) + " on " + host + ": " +
                       std::strerror(err));
  }
  protocol_.name = protocol_name;
  protocol_.callback = &listener::callback;
  protocol_.user = this;
}

listener::~listener() {
  stop();
  if (!epoll_adopted_ && epoll_fd_ >= 0) ::close(epoll_fd_);
}

void listener::stop() {
  if (ctx_) {
    lws_sul_cancel(&sweep_.sul);
    lws_sul_cancel(&hand_over_.sul);
    ctx_ = nullptr;
  }
  for (auto& [fd, p] : pending_) ::close(fd);
  pending_.clear();
  for (auto& [fd, head] : to_hand_over_) ::close(fd);
  to_hand_over_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

bool listener::start(lws_context* ctx, lws_vhost* vhost) {
  vhost_ = vhost;
  ctx_ = ctx;
  lws_sock_file_fd_type fd{};
  fd.filefd = epoll_fd_;
  epoll_adopted_ = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, fd, protocol_name,
                                              nullptr) != nullptr;
  if (!epoll_adopted_) epoll_fd_ = -1;  // lws closed it
  return epoll_adopted_;
}

int listener::callback(lws* wsi, lws_callback_reasons reason, void*, void*, size_t) {
  auto* self = static_cast<listener*>(lws_get_protocol(wsi)->user);
  switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
      self->on_ready();
      return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      return 1;  // a WebSocket asking for this protocol by name is not let in
    case LWS_CALLBACK_RAW_CLOSE_FILE:
      // The context is going: nothing more is accepted, nothing pending is served.
      self->stop();
      return 0;
    default:
      return 0;
  }
}

void listener::on_ready() {
  epoll_event events[64];
  int n = 0;
  do {
    n = epoll_wait(epoll_fd_, events, 64, 0);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        accept_all();
        continue;
      }
      const auto it = pending_.find(fd);
      if (it == pending_.end()) continue;
      pending& p = it->second;
      if (p.at == pending::stage::reading)
        read_head(fd, p);
      else if (p.at == pending::stage::replying && (events[i].events & EPOLLOUT))
        send_reply(fd, p);
      else
        discard_input(fd);
    }
  } while (n == 64);
}

void listener::accept_all() {
  while (accepting_) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The listening socket stays readable: stop watching it until the next sweep rather
        // than spinning on accept().
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        accepting_ = false;
        schedule_sweep();
      }
      return;  // EAGAIN, or a connection reset before it was accepted
    }
    // Small frames go out at once. lws sets TCP_NODELAY only on sockets it accepts itself, not
    // on adopted ones: without it an event written while the peer's ACK of the previous one
    // is outstanding waits for the peer's delayed ACK (up to 40 ms on Linux).
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    pending& p = pending_[fd];
    p = pending{};
    p.deadline = clock::now() + head_time;
    schedule_sweep();
  }
}

void listener::read_head(int fd, pending& p) {
  // Peeked onto the end of what was consumed before; only the new bytes are checked.
  const std::size_t had = p.head.size();
  const std::size_t room = max_request_head_bytes + 1 - std::min(had, max_request_head_bytes);
  p.head.resize(had + room);
  const ssize_t n = recv(fd, &p.head[had], room, MSG_PEEK);
  p.head.resize(had + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    forget(fd);  // closed (or reset) before a whole head came
    return;
  }
  head_check check = check_request_head(p.head, &p.checked);
  switch (check.what) {
    case head_check::verdict::incomplete: {
      // Not the end of the head: consume what was peeked (it is already in p.head), so the
      // next piece is peeked alone.
      char scratch[4096];
      for (ssize_t left = n; left > 0;) {
        const ssize_t got = recv(fd, scratch, std::min<ssize_t>(left, sizeof scratch), 0);
        if (got <= 0) {
          forget(fd);
          return;
        }
        left -= got;
      }
      return;
    }
    case head_check::verdict::refuse:
      refuse(fd, p, raw_http_response(*check.refusal, refusal_headers_));
      return;
    case head_check::verdict::pass:
      // What completes the head stays in the socket for lws (see listener.hpp). Out of our
      // epoll set now; adopted from a timer, because lws runs the HTTP parser right inside
      // the adoption when it is given a read buffer (lws adopt.c).
      p.head.resize(had);
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      to_hand_over_.emplace_back(fd, std::move(p.head));
      pending_.erase(fd);
      lws_sul_schedule(ctx_, 0, &hand_over_.sul, &listener::on_hand_over, 1);
      return;
  }
}

void listener::on_hand_over(lws_sorted_usec_list_t* sul) {
  listener& self = *lws_container_of(sul, timer, sul)->owner;
  auto ready = std::move(self.to_hand_over_);
  self.to_hand_over_.clear();
  for (auto& [fd, head] : ready) {
    // Both close `fd` themselves when lws cannot take it.
    if (head.empty())
      lws_adopt_socket_vhost(self.vhost_, fd);
    else
      lws_adopt_socket_vhost_readbuf(self.vhost_, fd, head.data(), head.size());
  }
}

void listener::refuse(int fd, pending& p, std::string reply) {
  p.at = pending::stage::replying;
  p.reply = std::move(reply);
  p.deadline = clock::now() + drain_time;
  send_reply(fd, p);
  const auto it = pending_.find(fd);
  if (it != pending_.end() && it->second.at == pending::stage::draining) discard_input(fd);
}

void listener::send_reply(int fd, pending& p) {
  while (!p.reply.empty()) {
    const ssize_t n = send(fd, p.reply.data(), p.reply.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        forget(fd);
        return;
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
      ev.data.fd = fd;
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
      return;
    }
    p.reply.erase(0, static_cast<std::size_t>(n));
  }
  p.at = pending::stage::draining;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  shutdown(fd, SHUT_WR);
}

void listener::discard_input(int fd) {
  char scratch[4096];
  for (;;) {
    const ssize_t n = recv(fd, scratch, sizeof scratch, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno != EAGAIN) forget(fd);  // the peer closed: done
    return;
  }
}

void listener::forget(int fd) {
  ::close(fd);  // also leaves the epoll set
  pending_.erase(fd);
}

void listener::schedule_sweep() {
  if (ctx_ && !lws_dll2_is_detached(&sweep_.sul.list)) return;
  if (ctx_) lws_sul_schedule(ctx_, 0, &sweep_.sul, &listener::on_sweep, sweep_every);
}

void listener::on_sweep(lws_sorted_usec_list_t* sul) {
  listener& self = *lws_container_of(sul, timer, sul)->owner;
  if (!self.accepting_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = self.listen_fd_;
    self.accepting_ = epoll_ctl(self.epoll_fd_, EPOLL_CTL_ADD, self.listen_fd_, &ev) == 0;
  }
  const auto now = clock::now();
  std::vector<int> late;
  for (auto& [fd, p] : self.pending_)
    if (p.deadline <= now) late.push_back(fd);
  for (int fd : late) {
    pending& p = self.pending_[fd];
    if (p.at == pending::stage::reading)
      self.refuse(fd, p,
                  raw_http_response(json_error(408, "request_timeout",
                                               "the request head was not complete within " +
                                                   std::to_string(head_time.count()) + " s"),
                                    self.refusal_headers_));
    else
      self.forget(fd);
  }
  if (!self.pending_.empty() || !self.accepting_) self.schedule_sweep();
}

}  // namespace rtev::server_lite
