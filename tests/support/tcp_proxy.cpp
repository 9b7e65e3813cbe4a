#include "tests/support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <stdexcept>
#include <utility>
#include <vector>

namespace rtev::test {

namespace {

// Bytes read from one side per read(): a direction holds at most this much at a time, so a
// side that stops reading makes the other side's sends back up (as over a real link).
constexpr std::size_t chunk_bytes = 64 * 1024;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("tcp_proxy: " + what + ": " + std::strerror(errno));
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Close with a reset rather than a FIN: to the peer this is a broken link, not a goodbye.
void reset_close(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

sockaddr_in address(const std::string& host, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
    throw std::runtime_error("tcp_proxy: not a numeric IPv4 address: '" + host + "'");
  return a;
}

// One direction of a proxied connection: bytes read from `from`, not yet written to `to`.
struct pipe_state {
  std::string held;
  bool eof = false;      // `from` will send nothing more
  bool shut_to = false;  // the EOF has been passed on (shutdown(to, SHUT_WR))
};

struct connection_pair {
  int client = -1, target = -1;
  pipe_state up;    // client → target
  pipe_state down;  // target → client
};

}  // namespace

tcp_proxy::tcp_proxy(std::uint16_t target_port, std::string target_host)
    : target_host_(std::move(target_host)), target_port_(target_port) {
  address(target_host_, target_port_.load());  // validates the host before anything is opened
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) fail("socket");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in any = address("127.0.0.1", 0);
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    const int err = errno;
    ::close(listen_fd_);
    errno = err;
    fail("bind/listen on 127.0.0.1");
  }
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.sin_port);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(listen_fd_);
    fail("pipe2");
  }
  wake_read_fd_ = fds[0];
  wake_write_fd_ = fds[1];
  thread_ = std::thread([this] { run(); });
}

tcp_proxy::~tcp_proxy() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_read_fd_);
  ::close(wake_write_fd_);
}

std::string tcp_proxy::ws_url() const {
  return "ws://127.0.0.1:" + std::to_string(port_) + "/events/ws/connect";
}

void tcp_proxy::wake() {
  const char byte = 1;
  // A full pipe already holds a wake-up: EAGAIN is fine.
  [[maybe_unused]] const auto n = ::write(wake_write_fd_, &byte, 1);
}

template <class F>
void tcp_proxy::command(F&& change) {
  std::unique_lock<std::mutex> lock(mutex_);
  change(wanted_);
  const std::uint64_t ticket = ++requested_;
  lock.unlock();
  wake();
  lock.lock();
  changed_.wait(lock, [&] { return applied_ >= ticket || stopping_; });
}

void tcp_proxy::freeze(direction which) {
  command([which](control& c) {
    c.freeze_to_target = which != direction::to_client;
    c.freeze_to_client = which != direction::to_target;
  });
}

void tcp_proxy::thaw() {
  command([](control& c) { c.freeze_to_target = c.freeze_to_client = false; });
}

void tcp_proxy::cut() {
  command([](control& c) { ++c.cuts; });
}

std::size_t tcp_proxy::accepted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return accepted_;
}

std::size_t tcp_proxy::open_connections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return open_;
}

bool tcp_proxy::wait_accepted(std::size_t n, millis timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return accepted_ >= n; });
}

void tcp_proxy::run() {
  std::list<connection_pair> links;
  std::uint64_t cuts_done = 0;

  auto close_link = [&](std::list<connection_pair>::iterator it, bool reset) {
    if (reset) {
      reset_close(it->client);
      reset_close(it->target);
    } else {
      ::close(it->client);
      ::close(it->target);
    }
    return links.erase(it);
  };

  for (;;) {
    // Adopt what the controlling threads asked for, then tell them it is in force: from here
    // on this thread forwards by the new rules.
    control now;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) break;
      now = wanted_;
      if (now.cuts != cuts_done) {
        cuts_done = now.cuts;
        for (auto it = links.begin(); it != links.end();) it = close_link(it, true);
      }
      open_ = links.size();
      applied_ = requested_;
    }
    changed_.notify_all();

    // What to wait for: a direction reads only when it holds nothing (so a slow side backs the
    // other up) and writes what it holds; a frozen direction does neither.
    std::vector<pollfd> fds;
    fds.push_back({wake_read_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& l : links) {
      short c = 0, t = 0;
      if (!now.freeze_to_target) {
        if (l.up.held.empty() && !l.up.eof) c |= POLLIN;
        if (!l.up.held.empty()) t |= POLLOUT;
      }
      if (!now.freeze_to_client) {
        if (l.down.held.empty() && !l.down.eof) t |= POLLIN;
        if (!l.down.held.empty()) c |= POLLOUT;
      }
      // A fully frozen link is not polled at all: a dead peer does not notice a hang-up either
      // (and a POLLHUP that nobody consumes would make poll() spin).
      const bool dead = now.freeze_to_target && now.freeze_to_client;
      fds.push_back({dead ? -1 : l.client, c, 0});
      fds.push_back({dead ? -1 : l.target, t, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }

    if (fds[0].revents) {
      char buf[64];
      while (::read(wake_read_fd_, buf, sizeof buf) > 0) {
      }
    }

    // Existing links first (fds[2 + 2i] belongs to the i-th link), then new connections.
    std::size_t i = 2;
    for (auto it = links.begin(); it != links.end(); i += 2) {
      const short crev = fds[i].revents, trev = fds[i + 1].revents;
      bool broken = false;
      // Reads into `p` from `from` when poll said so; false when the link is broken.
      auto pump_in = [&](int from, short rev, short asked, pipe_state& p) {
        if (!(asked & POLLIN) || !(rev & (POLLIN | POLLHUP | POLLERR))) {
          // Not reading this side: an error or hang-up here breaks the link.
          return !(rev & (POLLERR | POLLHUP)) || (asked & POLLIN);
        }
        char buf[chunk_bytes];
        const ssize_t n = ::read(from, buf, sizeof buf);
        if (n > 0) {
          p.held.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0) {
          p.eof = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          return false;
        }
        return true;
      };
      auto pump_out = [&](int to, short rev, pipe_state& p) {
        if (!(rev & POLLOUT) || p.held.empty()) return true;
        const ssize_t n = ::send(to, p.held.data(), p.held.size(), MSG_NOSIGNAL);
        if (n > 0) {
          p.held.erase(0, static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          return false;
        }
        return true;
      };
      broken = !pump_in(it->client, crev, fds[i].events, it->up) ||
               !pump_in(it->target, trev, fds[i + 1].events, it->down) ||
               !pump_out(it->target, trev, it->up) || !pump_out(it->client, crev, it->down);
      if (broken) {
        it = close_link(it, true);
        continue;
      }
      // Pass a side's EOF on once everything it sent has been delivered.
      if (!now.freeze_to_target && it->up.eof && it->up.held.empty() && !it->up.shut_to) {
        ::shutdown(it->target, SHUT_WR);
        it->up.shut_to = true;
      }
      if (!now.freeze_to_client && it->down.eof && it->down.held.empty() && !it->down.shut_to) {
        ::shutdown(it->client, SHUT_WR);
        it->down.shut_to = true;
      }
      if (it->up.shut_to && it->down.shut_to)
        it = close_link(it, false);
      else
        ++it;
    }

    if (fds[1].revents & POLLIN) {
      for (;;) {
        const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) break;
        int one = 1;
        ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        // A loopback connect completes (or is refused) at once: done blocking, for simplicity.
        const int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const sockaddr_in to = address(target_host_, target_port_.load());
        const bool ok =
            t >= 0 && ::connect(t, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          ++accepted_;
        }
        changed_.notify_all();
        if (!ok) {
          if (t >= 0) ::close(t);
          reset_close(c);
          continue;
        }
        ::setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        set_nonblocking(t);
        connection_pair l;
        l.client = c;
        l.target = t;
        links.push_back(std::move(l));
      }
    }
  }

  for (auto it = links.begin(); it != links.end();) it = close_link(it, true);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = 0;
    applied_ = requested_;
  }
  changed_.notify_all();
}

}  // namespace rtev::test
