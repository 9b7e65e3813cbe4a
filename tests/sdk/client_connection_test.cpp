// rtev::client connection life cycle against the real server (rtev::server in-process): states
// and backoff across a server restart on the same port, retry limits, token provider and auth
// rejection, stop() and the destructor at any moment, run(), heartbeat and connect time-out.
// A tcp_proxy between client and server freezes or cuts the link where a test needs it.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth.hpp"  // sign_jwt_hs256 (server-lite/src)
#include "rtev/client.hpp"
#include "rtev/server/server.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"
#include "tests/support/tcp_proxy.hpp"

using namespace std::chrono_literals;
using rtev::client_state;
using rtev::test::default_timeout;
using rtev::test::millis;
using rtev::test::steady;

namespace {

// Values reported on the client's service thread, in arrival order with their arrival time;
// the test thread waits for the ones it needs (a condition variable, with a deadline).
template <class T>
class recorder {
 public:
  struct entry {
    steady::time_point at;
    T value;
  };

  void add(T value) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      entries_.push_back({steady::now(), std::move(value)});
    }
    cv_.notify_all();
  }

  /// Waits until `pred(entries)` holds; false on time-out.
  template <class Pred>
  bool wait(Pred pred, millis timeout = default_timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(entries_); });
  }

  /// The first entry at index >= from whose value satisfies `pred`, waiting for it.
  template <class Pred>
  std::optional<entry> wait_for(Pred pred, millis timeout = default_timeout,
                                std::size_t from = 0) const {
    std::optional<entry> found;
    wait(
        [&](const std::vector<entry>& es) {
          for (std::size_t i = from; i < es.size(); ++i)
            if (pred(es[i].value)) {
              found = es[i];
              return true;
            }
          return false;
        },
        timeout);
    return found;
  }

  std::vector<entry> entries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_;
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
  }

 private:
  mutable std::mutex mutex_;  // guards entries_
  mutable std::condition_variable cv_;
  std::vector<entry> entries_;
};

using state_log = recorder<rtev::state_info>;

auto in_state(client_state s) {
  return [s](const rtev::state_info& i) { return i.state == s; };
}

std::size_t count_state(const std::vector<state_log::entry>& es, client_state s) {
  return static_cast<std::size_t>(std::count_if(
      es.begin(), es.end(), [s](const state_log::entry& e) { return e.value.state == s; }));
}

/// Waits until `s` has been reported at least `n` times.
bool wait_state(const state_log& log, client_state s, std::size_t n = 1,
                millis timeout = default_timeout) {
  return log.wait([&](const auto& es) { return count_state(es, s) >= n; }, timeout);
}

bool is_ready(const std::shared_future<void>& f, millis timeout = default_timeout) {
  return f.wait_for(timeout) == std::future_status::ready;
}

rtev::backoff_policy quick_backoff() {
  rtev::backoff_policy p;
  p.initial = 20ms;
  p.multiplier = 2;
  p.max = 200ms;
  p.jitter = 0;
  return p;
}

rtev::client_options options_for(const std::string& url) {
  rtev::client_options o;
  o.url = url;
  o.backoff = quick_backoff();
  return o;
}

millis elapsed_since(steady::time_point t0) {
  return std::chrono::duration_cast<millis>(steady::now() - t0);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A port nothing listens on: bound (so nobody else gets it) but not listening, so connecting
// is refused at once.
class refused_port {
 public:
  refused_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~refused_port() { ::close(fd_); }
  refused_port(const refused_port&) = delete;
  refused_port& operator=(const refused_port&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// An HTTP server on 127.0.0.1 that answers every request with the same response and counts the
// requests: a web server, or a proxy in trouble, where the client expected an rtev server.
class canned_http_server {
 public:
  explicit canned_http_server(std::string response) : response_(std::move(response)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    REQUIRE(::pipe2(wake_, O_CLOEXEC) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~canned_http_server() {
    const char x = 'x';
    (void)!::write(wake_[1], &x, 1);
    thread_.join();
    ::close(fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  canned_http_server(const canned_http_server&) = delete;
  canned_http_server& operator=(const canned_http_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& scheme, const std::string& path = "/") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::size_t requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    for (;;) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents) return;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      // The request head, then the canned answer; the connection closes after it.
      std::string head;
      char buf[2048];
      while (head.find("\r\n\r\n") == std::string::npos) {
        pollfd p{c, POLLIN, 0};
        if (::poll(&p, 1, 2000) <= 0) break;
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++requests_;
      }
      (void)!::send(c, response_.data(), response_.size(), MSG_NOSIGNAL);
      ::shutdown(c, SHUT_WR);
      ::close(c);
    }
  }

  std::string response_;
  int fd_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;  // guards requests_
  std::size_t requests_ = 0;
};

std::string http_response(int status, const std::string& phrase, const std::string& type,
                          const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + phrase + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

const std::string html_page =
    "<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1>"
    "</body></html>";

std::string ws_url(std::uint16_t port) {
  return "ws://127.0.0.1:" + std::to_string(port) + "/events/ws/connect";
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// --- reconnecting and backoff ------------------------------------------------------------------

TEST_CASE("client_reconnects_after_a_server_restart_with_backoff_delays",
          "[sdk][client][reconnect]") {
  rtev::test::temp_dir dir;
  rtev::server_config cfg = rtev::test::test_config();
  cfg.db_path = dir.file("events.db");
  auto srv = std::make_unique<rtev::server>(cfg);
  srv->start();
  cfg.port = srv->port();  // every restart binds the same port

  rtev::backoff_policy policy;
  policy.initial = 50ms;
  policy.multiplier = 2;
  policy.max = 400ms;
  policy.jitter = 0;
  bool count_starts_over = false;
  SECTION("a connection that stayed up for reset_after starts the attempt count over") {
    policy.reset_after = 0ms;
    count_starts_over = true;
  }
  SECTION("a connection shorter than reset_after continues the attempt count") {
    policy.reset_after = 1h;
  }

  state_log states;
  recorder<rtev::event> lobby;
  recorder<rtev::gap_info> gaps;
  rtev::client_options opt = options_for(srv->url());
  opt.rooms = {"lobby"};
  opt.backoff = policy;
  rtev::client c(opt);
  auto s1 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  auto s2 = c.on("*", [&](const rtev::event& e) {
    if (e.room == std::optional<std::string>("lobby")) lobby.add(e);
  });
  auto s3 = c.on_gap([&](const rtev::gap_info& g) { gaps.add(g); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  // Readiness of the lobby subscription: a PONG comes after the SUBSCRIBE's ACK.
  c.ping().get();
  const auto a = rtev::test::publish_http(
      cfg.port, {{"room", "lobby"}, {"type", "note"}, {"data", {{"n", 1}}}});
  REQUIRE(lobby.wait([](const auto& es) { return es.size() >= 1; }));

  // The server goes away (1001 to its clients); the client retries against a closed port.
  srv.reset();
  REQUIRE(states.wait_for(
      [](const rtev::state_info& s) {
        return s.state == client_state::reconnecting && s.attempt >= 5;
      },
      10s));
  srv = std::make_unique<rtev::server>(cfg);
  srv->start();
  const auto b = rtev::test::publish_http(
      cfg.port, {{"room", "lobby"}, {"type", "note"}, {"data", {{"n", 2}}}});
  REQUIRE(wait_state(states, client_state::connected, 2));
  REQUIRE(lobby.wait([](const auto& es) { return es.size() >= 2; }));

  const auto log = states.entries();
  std::vector<state_log::entry> retries;
  for (const auto& e : log)
    if (e.value.state == client_state::reconnecting) retries.push_back(e);
  REQUIRE(retries.size() >= 5);

  // The first retry reports the server's going-away close.
  CHECK(retries.front().value.close_code == 1001);
  // Attempts count up from 1 with the policy's delays (50, 100, 200, 400, 400 …), each with
  // the last error, and each retry waits the delay it reported.
  for (std::size_t k = 0; k < retries.size(); ++k) {
    INFO("retry " << k + 1 << ": " << retries[k].value.reason);
    CHECK(retries[k].value.attempt == k + 1);
    CHECK(retries[k].value.delay == policy.delay(static_cast<std::uint32_t>(k)));
    CHECK_FALSE(retries[k].value.reason.empty());
  }
  CHECK(retries[0].value.delay == 50ms);
  CHECK(retries[3].value.delay == 400ms);
  CHECK(retries[4].value.delay == 400ms);
  for (std::size_t k = 0; k + 1 < retries.size(); ++k) {
    const auto waited = std::chrono::duration_cast<millis>(retries[k + 1].at - retries[k].at);
    INFO("retry " << k + 1 << " reported " << retries[k].value.delay.count() << " ms, waited "
                  << waited.count() << " ms");
    CHECK(waited >= retries[k].value.delay - 2ms);
    CHECK(waited <= retries[k].value.delay + 1500ms);
  }
  // The room is resumed: each event once, in order, and no gap (same store, same epoch).
  std::vector<std::uint64_t> seqs;
  for (const auto& e : lobby.entries()) seqs.push_back(*e.value.seq);
  CHECK(seqs == std::vector<std::uint64_t>{a.at("seq").get<std::uint64_t>(),
                                           b.at("seq").get<std::uint64_t>()});
  CHECK(gaps.size() == 0);

  // The next outage continues the attempt count, or starts it over, as reset_after says.
  const std::size_t before = states.size();
  const auto first_outage = static_cast<std::uint32_t>(retries.size());
  srv.reset();
  const auto next = states.wait_for(in_state(client_state::reconnecting), default_timeout, before);
  REQUIRE(next);
  const std::uint32_t expected = count_starts_over ? 1 : first_outage + 1;
  CHECK(next->value.attempt == expected);
  CHECK(next->value.delay == policy.delay(expected - 1));
  srv = std::make_unique<rtev::server>(cfg);
  srv->start();
  CHECK(wait_state(states, client_state::connected, 3));
}

TEST_CASE("client_closes_with_the_last_error_when_retries_run_out", "[sdk][client][reconnect]") {
  refused_port nobody;
  state_log states;
  rtev::client_options opt = options_for(ws_url(nobody.port()));
  opt.backoff = rtev::backoff_policy::fixed(10ms, 3);
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(c.closed().wait_for(default_timeout) == std::future_status::ready);
  const rtev::state_info last = c.closed().get();

  CHECK(last.state == client_state::closed);
  CHECK_FALSE(last.auth_failed);
  CHECK(last.error == rtev::errc::connection_failed);
  CHECK_FALSE(last.reason.empty());
  INFO("closed: " << last.reason);
  // closed() may resolve just before the state handlers hear of it.
  REQUIRE(wait_state(states, client_state::closed));
  const auto log = states.entries();
  REQUIRE_FALSE(log.empty());
  CHECK(log.front().value.state == client_state::connecting);
  CHECK(count_state(log, client_state::reconnecting) == 3);
  for (const auto& e : log)  // what ended each attempt: no connection, not a refusal
    if (e.value.state == client_state::reconnecting)
      CHECK(e.value.error == rtev::errc::connection_failed);
  CHECK(count_state(log, client_state::connected) == 0);
  CHECK(log.back().value.state == client_state::closed);
  CHECK(c.state() == client_state::closed);
  // connected() never resolves normally: it fails with the reason.
  REQUIRE(is_ready(c.connected()));
  CHECK_THROWS_AS(c.connected().get(), rtev::request_error);
}

TEST_CASE("client_without_reconnect_closes_on_the_first_disconnect", "[sdk][client][reconnect]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  state_log states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.reconnect = false;
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  proxy.cut();
  REQUIRE(c.closed().wait_for(default_timeout) == std::future_status::ready);
  CHECK_FALSE(c.closed().get().reason.empty());
  CHECK_FALSE(c.closed().get().auth_failed);
  CHECK(c.closed().get().error == rtev::errc::connection_lost);
  REQUIRE(wait_state(states, client_state::closed));
  CHECK(count_state(states.entries(), client_state::reconnecting) == 0);
  CHECK(proxy.accepted() == 1);
}

TEST_CASE("client_reports_the_http_status_of_a_refused_upgrade", "[sdk][client][reconnect]") {
  // A proxy whose backend is down answers 503: that passes, so it is retried.
  canned_http_server web(http_response(503, "Service Unavailable", "text/html", html_page));
  state_log states;
  rtev::client_options opt = options_for(web.url("ws", "/events/ws/connect"));
  opt.backoff = rtev::backoff_policy::fixed(10ms, 1);
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  const auto retry = states.wait_for(in_state(client_state::reconnecting));
  REQUIRE(retry);
  INFO("reason: " << retry->value.reason);
  CHECK(retry->value.http_status == 503);
  CHECK(retry->value.attempt == 1);
  CHECK_FALSE(retry->value.reason.empty());
  REQUIRE(c.closed().wait_for(default_timeout) == std::future_status::ready);
  CHECK(c.closed().get().http_status == 503);
  CHECK_FALSE(c.closed().get().auth_failed);
  CHECK(web.requests() == 2);
}

TEST_CASE("client_closes_at_once_when_the_url_is_not_an_rtev_server", "[sdk][client][reconnect]") {
  // Nothing at the path, or a web server that does not upgrade: asking again gets the same
  // answer. The client closes after the first attempt, saying why (never quoting the page).
  state_log states;
  rtev::client_options opt;
  std::optional<rtev::test::local_server> srv;
  std::optional<canned_http_server> web;
  int status = 0;
  std::string says;

  SECTION("rtev serve, a path it has no WebSocket at: 404") {
    srv.emplace();
    opt = options_for("ws://127.0.0.1:" + std::to_string(srv->port()) + "/not-a-websocket-path");
    status = 404;
    says = "not an rtev server at this URL: HTTP 404 (nothing at /not-a-websocket-path";
  }
  SECTION("a web server answering 200 with a page") {
    web.emplace(http_response(200, "OK", "text/html", html_page));
    opt = options_for(web->url("ws", "/events/ws/connect?x=1"));
    status = 200;
    says =
        "it answered HTTP 200 for /events/ws/connect (a web page or an HTTP API?) instead of "
        "upgrading to WebSocket";
  }
  SECTION("a web server answering 404 with a page") {
    web.emplace(http_response(404, "Not Found", "text/html", html_page));
    opt = options_for(web->url("ws", "/events/ws/connect"));
    status = 404;
    says = "HTTP 404 (nothing at /events/ws/connect";
  }
  SECTION("Socket.IO over long-polling: a 404 page for the handshake") {
    web.emplace(http_response(404, "Not Found", "text/html", html_page));
    opt = options_for(web->url("http"));
    opt.protocol = rtev::wire_protocol::socketio;
    status = 404;
    says = "not a Socket.IO server at this URL: HTTP 404 (nothing at /socket.io/";
  }
  SECTION("Socket.IO over long-polling: a 200 page for the handshake") {
    web.emplace(http_response(200, "OK", "text/html", html_page));
    opt = options_for(web->url("http"));
    opt.protocol = rtev::wire_protocol::socketio;
    status = 200;
    says = "not a Socket.IO server at this URL: it answered HTTP 200 for /socket.io/";
  }
  SECTION("Socket.IO over WebSocket only: a 404 page") {
    web.emplace(http_response(404, "Not Found", "text/html", html_page));
    opt = options_for(web->url("ws"));
    opt.protocol = rtev::wire_protocol::socketio;
    opt.socketio.websocket_only = true;
    status = 404;
    says = "not a Socket.IO server at this URL: HTTP 404";
  }

  opt.backoff = quick_backoff();  // unlimited: only the answer can end it
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(c.closed().wait_for(default_timeout) == std::future_status::ready);
  const rtev::state_info end = c.closed().get();
  INFO("reason: " << end.reason);
  CHECK(end.http_status == status);
  CHECK(contains(end.reason, says));
  CHECK_FALSE(contains(end.reason, "<"));
  CHECK_FALSE(end.auth_failed);
  CHECK(end.error == rtev::errc::not_rtev_server);
  CHECK(count_state(states.entries(), client_state::reconnecting) == 0);
  if (web) CHECK(web->requests() == 1);
  CHECK_THROWS_AS(c.connected().get(), rtev::request_error);
}

TEST_CASE("client_that_was_connected_retries_through_a_404_from_a_replaced_backend",
          "[sdk][client][reconnect]") {
  // A load balancer answers 404 while a deploy replaces the server: for a client that has been
  // connected, that is a lost connection like any other, retried with the backoff — only a
  // URL that never led to the server is a mistake to report at once.
  rtev::test::local_server srv;
  canned_http_server web(http_response(404, "Not Found", "text/html", html_page));
  rtev::test::tcp_proxy proxy(srv.port());
  state_log states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.backoff = quick_backoff();
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  proxy.retarget(web.port());
  proxy.cut();
  // The 404s are retried (several attempts), and the client comes back once the server does.
  REQUIRE(states.wait_for([](const rtev::state_info& s) {
    return s.state == client_state::reconnecting && s.http_status == 404 && s.attempt >= 2;
  }));
  CHECK(c.state() != client_state::closed);
  proxy.retarget(srv.port());
  REQUIRE(wait_state(states, client_state::connected, 2));
  CHECK(c.publish("back", "note", {{"n", 1}}).get().seq > 0);
}

// --- tokens and authentication -------------------------------------------------------------------

TEST_CASE("client_over_socketio_is_connected_as_the_user_rtev_serve_authenticates_later",
          "[sdk][client][auth][socketio]") {
  // rtev serve (token mode) accepts a Socket.IO namespace without a token and waits for the
  // `authenticate` emit; its `authenticated` event says who the socket is. The client is
  // connected as that user — not as the nobody of the CONNECT answer.
  rtev::server_config cfg = rtev::test::test_config();
  cfg.auth = "token";
  rtev::test::local_server srv(cfg);
  rtev::client_options opt = options_for("http://127.0.0.1:" + std::to_string(srv.port()));
  opt.protocol = rtev::wire_protocol::socketio;
  opt.socketio.emits = {{"authenticate", {{"token", "alice"}}}};
  opt.rooms = {"lobby"};
  state_log states;
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  auto joined = std::make_shared<std::promise<void>>();
  auto j = c.on_joined([joined](const rtev::join_info& i) {
    if (i.room == "lobby") joined->set_value();
  });
  c.start();
  REQUIRE(is_ready(c.connected()));
  const auto up = states.wait_for(in_state(client_state::connected));
  REQUIRE(up);
  CHECK(up->value.user_id == "alice");
  REQUIRE(up->value.rate_limit);
  CHECK(up->value.rate_limit->per_second > 0);
  REQUIRE(joined->get_future().wait_for(default_timeout) == std::future_status::ready);
  CHECK(c.publish("lobby", "note", {{"n", 1}}).get().seq > 0);
}

TEST_CASE("client_without_a_token_on_a_token_server_ends_with_auth_failed_at_once",
          "[sdk][client][auth]") {
  // The server's auth time-out and the client's connect time-out are both 10 s: a client that
  // waited for `authenticated` would time out and retry forever ("connect timed out").
  rtev::server_config cfg = rtev::test::test_config();
  cfg.auth = "token";
  rtev::test::local_server srv(cfg);
  const std::string host = "127.0.0.1:" + std::to_string(srv.port());
  rtev::client_options opt = options_for("ws://" + host + "/events/ws/connect");
  bool says_token = true;
  SECTION("rtev protocol") {}
  SECTION("rtev protocol, strict (foreign_wait 0)") {
    opt.foreign_wait = 0ms;
  }
  SECTION("SSE") {
    opt.url = "http://" + host + "/api/events";
    opt.protocol = rtev::wire_protocol::sse;
    says_token = false;
  }
  SECTION("Socket.IO") {
    opt.url = "http://" + host;
    opt.protocol = rtev::wire_protocol::socketio;
  }
  state_log states;
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  const auto t0 = steady::now();
  c.start();
  REQUIRE(c.closed().wait_for(default_timeout) == std::future_status::ready);
  const auto end = c.closed().get();
  INFO("reason: " << end.reason);
  CHECK(elapsed_since(t0) < 5s);
  CHECK(end.auth_failed);
  CHECK(end.error == rtev::errc::auth_failed);
  if (says_token) {
    CHECK(end.token_required);
    CHECK(contains(end.reason, "requires a token"));
  }
  CHECK_FALSE(contains(end.reason, "timed out"));
  CHECK(count_state(states.entries(), client_state::reconnecting) == 0);
}

TEST_CASE("client_asks_the_token_provider_again_before_every_reconnect", "[sdk][client][auth]") {
  rtev::server_config cfg = rtev::test::test_config();
  cfg.auth = "token";
  rtev::test::local_server srv(cfg);
  rtev::test::tcp_proxy proxy(srv.port());

  std::atomic<int> calls{0};
  state_log states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.token = "ignored-when-a-provider-is-set";
  opt.token_provider = [&calls] { return "user-" + std::to_string(++calls); };
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  auto first = states.wait_for(in_state(client_state::connected));
  REQUIRE(first);
  CHECK(first->value.user_id == "user-1");
  CHECK(calls == 1);

  for (int n = 2; n <= 4; ++n) {
    proxy.cut();
    REQUIRE(wait_state(states, client_state::connected, static_cast<std::size_t>(n)));
    const auto log = states.entries();
    std::vector<std::string> users;
    for (const auto& e : log)
      if (e.value.state == client_state::connected) users.push_back(e.value.user_id);
    // The server says who we are: the refreshed token was the one used.
    CHECK(users.back() == "user-" + std::to_string(n));
    CHECK(calls == n);
  }
  CHECK(proxy.accepted() == 4);
}

TEST_CASE("client_with_an_expired_token_asks_the_provider_once_more_and_connects",
          "[sdk][client][auth]") {
  rtev::server_config cfg = rtev::test::test_config();
  cfg.auth = "jwt";
  cfg.jwt_secret = "test-secret-of-reasonable-length";
  rtev::test::local_server srv(cfg);

  const std::string expired = rtev::server_lite::sign_jwt_hs256(
      nlohmann::json{{"sub", "alice"}, {"exp", unix_now() - 60}}.dump(), cfg.jwt_secret);
  const std::string fresh = rtev::server_lite::sign_jwt_hs256(
      nlohmann::json{{"sub", "alice"}, {"exp", unix_now() + 3600}}.dump(), cfg.jwt_secret);
  std::atomic<int> calls{0};
  state_log states;
  rtev::client_options opt = options_for(srv.get().url());
  opt.token_provider = [&] { return ++calls == 1 ? expired : fresh; };
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  CHECK_NOTHROW(c.connected().get());
  CHECK(calls == 2);
  const auto connected = states.wait_for(in_state(client_state::connected));
  REQUIRE(connected);
  CHECK(connected->value.user_id == "alice");
  CHECK(count_state(states.entries(), client_state::closed) == 0);
}

TEST_CASE("client_with_a_bad_token_ends_closed_with_an_auth_error", "[sdk][client][auth]") {
  rtev::server_config cfg = rtev::test::test_config();
  cfg.auth = "token";
  rtev::test::local_server srv(cfg);
  rtev::test::tcp_proxy proxy(srv.port());

  state_log states;
  std::atomic<int> calls{0};
  rtev::client_options opt = options_for(proxy.ws_url());
  int expected_connections = 0;
  SECTION("a fixed token is not retried") {
    opt.token = "{not a json object";
    expected_connections = 1;
  }
  SECTION("a token provider is asked once more, then the client closes") {
    opt.token_provider = [&calls] {
      ++calls;
      return std::string("{still not a json object");
    };
    expected_connections = 2;
  }
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(c.closed().wait_for(default_timeout) == std::future_status::ready);
  const rtev::state_info last = c.closed().get();
  INFO("closed: " << last.reason);
  CHECK(last.state == client_state::closed);
  CHECK(last.auth_failed);
  CHECK(last.error == rtev::errc::auth_failed);
  CHECK(contains(last.reason, "authentication"));
  CHECK(proxy.accepted() == static_cast<std::size_t>(expected_connections));
  if (opt.token_provider) CHECK(calls == 2);
  REQUIRE(wait_state(states, client_state::closed));
  const auto log = states.entries();
  CHECK(count_state(log, client_state::connected) == 0);
  CHECK(log.back().value.state == client_state::closed);
  // It stays closed: no further attempt is made.
  CHECK_FALSE(states.wait(
      [](const auto& es) { return es.back().value.state != client_state::closed; }, 300ms));
  CHECK(proxy.accepted() == static_cast<std::size_t>(expected_connections));
  REQUIRE(is_ready(c.connected()));
  CHECK_THROWS_AS(c.connected().get(), rtev::request_error);
}

// --- a token that expires on a live connection ------------------------------------------------

namespace {

// Long enough for a three-second token to expire and the server to notice, on a loaded machine.
constexpr millis expiry_deadline{15000};

std::string alice_jwt(const std::string& secret, std::int64_t exp) {
  return rtev::server_lite::sign_jwt_hs256(nlohmann::json{{"sub", "alice"}, {"exp", exp}}.dump(),
                                           secret);
}

}  // namespace

TEST_CASE("client_whose_jwt_expires_reconnects_with_a_fresh_token_and_misses_nothing",
          "[sdk][client][auth][expiry]") {
  rtev::server_config cfg = rtev::test::test_config();
  cfg.auth = "jwt";
  cfg.jwt_secret = "test-secret-of-reasonable-length";
  rtev::test::local_server srv(cfg);

  std::atomic<int> calls{0};
  state_log states;
  recorder<std::uint64_t> seqs;
  rtev::client_options opt = options_for(srv.get().url());
  opt.rooms = {"lobby"};
  // The first token lives three seconds; every later one an hour.
  opt.token_provider = [&] {
    return alice_jwt(cfg.jwt_secret, unix_now() + (++calls == 1 ? 3 : 3600));
  };
  rtev::client c(opt);
  auto on_state = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  auto on_event = c.on("*", [&](const rtev::event& e) {
    if (e.seq) seqs.add(*e.seq);
  });
  c.start();
  REQUIRE(is_ready(c.connected()));
  const auto publish = [&](int n) {
    return rtev::test::publish_http(srv.port(),
                                    {{"room", "lobby"}, {"type", "t"}, {"data", {{"n", n}}}})
        .at("seq")
        .get<std::uint64_t>();
  };
  const auto got = [&](std::uint64_t seq) {
    return seqs.wait([seq](const auto& es) {
      return std::any_of(es.begin(), es.end(), [seq](const auto& e) { return e.value == seq; });
    });
  };
  // Readiness of the lobby subscription: a PONG comes after the SUBSCRIBE's ACK (connected()
  // resolves when the SUBSCRIBE is sent, not answered).
  c.ping().get();
  const std::uint64_t a = publish(1);
  REQUIRE(got(a));

  // The server ends the session when the token expires; the client comes back with a fresh
  // token from the provider. An event published around then is recovered, not lost.
  REQUIRE(
      states.wait([](const auto& es) { return count_state(es, client_state::reconnecting) >= 1; },
                  expiry_deadline));
  const std::uint64_t b = publish(2);
  REQUIRE(wait_state(states, client_state::connected, 2, expiry_deadline));
  const std::uint64_t d = publish(3);
  CHECK(got(b));
  CHECK(got(d));
  const auto log = states.entries();
  const auto lost = std::find_if(log.begin(), log.end(), [](const state_log::entry& e) {
    return e.value.state == client_state::reconnecting;
  });
  REQUIRE(lost != log.end());
  INFO("reconnecting: " << lost->value.reason);
  CHECK(contains(lost->value.reason, "token expired"));
  CHECK(lost->value.close_code == 1008);
  CHECK(count_state(log, client_state::closed) == 0);
  CHECK(calls >= 2);
  // Each event exactly once.
  const auto all = seqs.entries();
  for (std::uint64_t seq : {a, b, d})
    CHECK(std::count_if(all.begin(), all.end(), [seq](const auto& e) { return e.value == seq; }) ==
          1);
}

TEST_CASE("client_whose_jwt_expires_without_a_token_provider_closes_as_an_auth_failure",
          "[sdk][client][auth][expiry]") {
  rtev::server_config cfg = rtev::test::test_config();
  cfg.auth = "jwt";
  cfg.jwt_secret = "test-secret-of-reasonable-length";
  rtev::test::local_server srv(cfg);

  rtev::client_options opt = options_for(srv.get().url());
  opt.token = alice_jwt(cfg.jwt_secret, unix_now() + 3);
  rtev::client c(opt);
  c.start();
  REQUIRE(is_ready(c.connected()));
  REQUIRE(c.closed().wait_for(expiry_deadline) == std::future_status::ready);
  const rtev::state_info last = c.closed().get();
  INFO("closed: " << last.reason);
  CHECK(last.auth_failed);
  CHECK(last.error == rtev::errc::token_expired);
  CHECK(contains(last.reason, "token expired"));
  CHECK(last.close_code == 1008);
}

// --- stop() and the destructor ----------------------------------------------------------------

TEST_CASE("client_stop_returns_promptly_during_backoff_and_mid_connect", "[sdk][client][stop]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  state_log states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.backoff = rtev::backoff_policy::fixed(30s);
  opt.connect_timeout = 30s;
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });

  SECTION("during a 30 s backoff wait") {
    c.start();
    REQUIRE(is_ready(c.connected()));
    proxy.cut();
    const auto retry = states.wait_for(in_state(client_state::reconnecting));
    REQUIRE(retry);
    CHECK(retry->value.delay == 30s);
    const auto t0 = steady::now();
    c.stop();
    CHECK(elapsed_since(t0) < 1s);
  }
  SECTION("mid-connect, to a peer that accepted the connection but never answers") {
    proxy.freeze();
    c.start();
    REQUIRE(proxy.wait_accepted(1));
    const auto t0 = steady::now();
    c.stop();
    CHECK(elapsed_since(t0) < 1s);
    CHECK(count_state(states.entries(), client_state::connected) == 0);
  }
  SECTION("while connected") {
    c.start();
    REQUIRE(is_ready(c.connected()));
    const auto t0 = steady::now();
    c.stop();
    CHECK(elapsed_since(t0) < 1s);
  }
  SECTION("before start, and twice") {
    c.stop();
    c.stop();
  }
  CHECK(c.state() == client_state::closed);
  REQUIRE(c.closed().wait_for(1s) == std::future_status::ready);
  CHECK(c.closed().get().state == client_state::closed);
  CHECK_FALSE(c.closed().get().auth_failed);
  // stop() is idempotent and prompt the second time too.
  const auto t1 = steady::now();
  c.stop();
  CHECK(elapsed_since(t1) < 1s);
}

TEST_CASE("client_destructor_is_safe_at_any_time", "[sdk][client][stop]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.backoff = rtev::backoff_policy::fixed(30s);
  opt.connect_timeout = 30s;
  auto c = std::make_unique<rtev::client>(opt);
  steady::time_point t0;

  SECTION("right after construction") {
    t0 = steady::now();
    c.reset();
  }
  SECTION("right after start") {
    c->start();
    t0 = steady::now();
    c.reset();
  }
  SECTION("mid-connect") {
    proxy.freeze();
    c->start();
    REQUIRE(proxy.wait_accepted(1));
    t0 = steady::now();
    c.reset();
  }
  SECTION("during a backoff wait") {
    state_log states;
    auto sub = c->on_state([&](const rtev::state_info& s) { states.add(s); });
    c->start();
    REQUIRE(is_ready(c->connected()));
    proxy.cut();
    REQUIRE(wait_state(states, client_state::reconnecting));
    t0 = steady::now();
    c.reset();
  }
  SECTION("with requests pending on a dead link: they fail with a connection error") {
    c->start();
    REQUIRE(is_ready(c->connected()));
    proxy.freeze();
    auto pub = c->publish("room1", "note", {{"n", 1}});
    auto ping = c->ping();
    t0 = steady::now();
    c.reset();
    REQUIRE(pub.wait_for(1s) == std::future_status::ready);
    REQUIRE(ping.wait_for(1s) == std::future_status::ready);
    try {
      pub.get();
      FAIL("the publish succeeded on a frozen link");
    } catch (const rtev::request_error& e) {
      CHECK(e.detail.what == rtev::client_error::kind::connection);
    }
    CHECK_THROWS_AS(ping.get(), rtev::request_error);
  }
  SECTION("while events are flowing") {
    std::atomic<int> got{0};
    rtev::client_options o = opt;
    o.rooms = {"busy"};
    c = std::make_unique<rtev::client>(o);
    auto sub = c->on("*", [&](const rtev::event&) { ++got; });
    c->start();
    REQUIRE(is_ready(c->connected()));
    c->ping().get();
    nlohmann::json batch = nlohmann::json::array();
    for (int i = 0; i < 200; ++i)
      batch.push_back({{"room", "busy"}, {"type", "note"}, {"data", {{"i", i}}}});
    rtev::test::publish_http(srv.port(), batch);
    t0 = steady::now();
    c.reset();
  }
  CHECK(elapsed_since(t0) < 1s);
}

TEST_CASE("client_run_serves_on_the_calling_thread_until_stop", "[sdk][client][stop]") {
  rtev::test::local_server srv;
  rtev::client c(options_for(srv.get().url()));
  std::promise<std::thread::id> handler_thread;
  std::atomic<bool> set{false};
  auto sub = c.on_state([&](const rtev::state_info& s) {
    if (s.state == client_state::connected && !set.exchange(true))
      handler_thread.set_value(std::this_thread::get_id());
  });

  SECTION("stop() from another thread makes run() return") {
    std::thread runner([&] { c.run(); });
    const auto runner_id = runner.get_id();
    auto f = handler_thread.get_future();
    REQUIRE(f.wait_for(default_timeout) == std::future_status::ready);
    CHECK(f.get() == runner_id);
    const auto t0 = steady::now();
    c.stop();
    runner.join();
    CHECK(elapsed_since(t0) < 1s);
  }
  SECTION("stop() from a handler makes run() return") {
    auto stopper = c.on_state([&](const rtev::state_info& s) {
      if (s.state == client_state::connected) c.stop();
    });
    std::promise<void> returned;
    std::thread runner([&] {
      c.run();
      returned.set_value();
    });
    auto f = returned.get_future();
    const bool ok = f.wait_for(default_timeout) == std::future_status::ready;
    if (!ok) c.stop();
    runner.join();
    CHECK(ok);
  }
  CHECK(c.state() == client_state::closed);
}

TEST_CASE("client_instances_side_by_side_start_and_stop_cleanly", "[sdk][client][stop]") {
  // Two clients in one process, the second started while the first is connected (a test's
  // observer, a program with two servers). Under ASan this also checks that neither leaks.
  rtev::test::local_server srv;
  auto first = std::make_unique<rtev::client>(options_for(srv.get().url()));
  auto second = std::make_unique<rtev::client>(options_for(srv.get().url()));
  first->start();
  REQUIRE(is_ready(first->connected()));
  second->start();
  REQUIRE(is_ready(second->connected()));
  CHECK(first->ping().get() < 10s);
  CHECK(second->ping().get() < 10s);
  second.reset();
  CHECK(first->state() == client_state::connected);
  first.reset();
}

// --- dead links
// ------------------------------------------------------------------------------------

TEST_CASE("client_heartbeat_notices_a_peer_that_stops_answering", "[sdk][client][heartbeat]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  state_log states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.heartbeat_interval = 200ms;
  opt.heartbeat_timeout = 300ms;
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  REQUIRE(wait_state(states, client_state::connected));

  SECTION("an idle but healthy link stays up across several heartbeats") {
    const std::size_t before = states.size();
    CHECK_FALSE(states.wait([&](const auto& es) { return es.size() > before; }, 1200ms));
    CHECK(c.state() == client_state::connected);
    CHECK(proxy.accepted() == 1);
  }
  SECTION("a frozen link is dropped within interval + time-out, with a ping reason") {
    const std::size_t before = states.size();
    proxy.freeze();
    const auto t0 = steady::now();
    const auto retry = states.wait_for(in_state(client_state::reconnecting), 5s, before);
    REQUIRE(retry);
    const auto noticed = std::chrono::duration_cast<millis>(retry->at - t0);
    INFO("noticed after " << noticed.count() << " ms: " << retry->value.reason);
    // 200 + 300 ms, plus slack for the client's 50 ms timer and sanitizer builds.
    CHECK(noticed <= 1000ms);
    CHECK(contains(retry->value.reason, "ping"));
    // And it reconnects once the link works again.
    proxy.thaw();
    CHECK(wait_state(states, client_state::connected, 2));
  }
}

TEST_CASE("client_connect_timeout_gives_up_on_a_silent_server", "[sdk][client][heartbeat]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  proxy.freeze();
  state_log states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.connect_timeout = 300ms;
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  const auto t0 = steady::now();
  c.start();
  const auto retry = states.wait_for(in_state(client_state::reconnecting), 5s);
  REQUIRE(retry);
  const auto took = std::chrono::duration_cast<millis>(retry->at - t0);
  INFO("gave up after " << took.count() << " ms: " << retry->value.reason);
  CHECK(took >= 300ms);
  CHECK(took <= 1000ms);
  CHECK(contains(retry->value.reason, "timed out"));
  proxy.thaw();
  CHECK(is_ready(c.connected()));
}

// --- URLs ----------------------------------------------------------------------------------------

TEST_CASE("client_refuses_urls_whose_host_is_not_a_host", "[sdk][client][url]") {
  auto refusal = [](const std::string& url) -> std::string {
    rtev::client_options o;
    o.url = url;
    try {
      rtev::client c(o);
    } catch (const rtev::config_error& e) {
      return e.what();
    }
    return "accepted";
  };
  SECTION("a space in the host, or anywhere else") {
    CHECK(contains(refusal("ws://exa mple.com/"), "contains a space"));
    CHECK(contains(refusal("ws://example.com/a b"), "contains a space"));
    CHECK(contains(refusal("ws://example.com/\tx"), "control character"));
    CHECK(contains(refusal("ws://exa mple.com/"), "'ws://exa mple.com/'"));
  }
  SECTION("characters no host name has") {
    CHECK(contains(refusal("ws://exa!mple.com/"), "the host 'exa!mple.com' contains '!'"));
    CHECK(contains(refusal("ws://user:pw@example.com/"), "user info"));
    CHECK(contains(refusal("ws://[::1x]:8000/"), "IPv6"));
    CHECK(contains(refusal("ws://:8000/"), "no host"));
  }
  SECTION("ordinary hosts are still accepted") {
    CHECK(refusal("ws://example.com/events/ws/connect") == "accepted");
    CHECK(refusal("wss://my-host_1.example.com:8443/x?token=a%20b") == "accepted");
    CHECK(refusal("ws://127.0.0.1:8000/") == "accepted");
    CHECK(refusal("ws://[::1]:8000/") == "accepted");
    CHECK(refusal("ws://[fe80::1%25eth0]:8000/") == "accepted");
  }
}

TEST_CASE("client_create_reports_bad_options_as_an_error_code", "[sdk][client][url][errc]") {
  std::error_code ec = rtev::errc::timeout;  // cleared on success
  std::string why;
  rtev::client_options o;
  o.url = "ws://127.0.0.1:8000/";
  auto good = rtev::client::create(o, ec, &why);
  CHECK(good);
  CHECK_FALSE(ec);
  o.url = "ws://exa mple.com/";
  auto bad = rtev::client::create(o, ec, &why);
  CHECK_FALSE(bad);
  CHECK(ec == rtev::errc::invalid_options);
  CHECK(contains(why, "contains a space"));
  o.url = "ws://127.0.0.1:8000/";
  o.connect_timeout = 0ms;
  CHECK_FALSE(rtev::client::create(o, ec));  // `why` is optional
  CHECK(ec == rtev::errc::invalid_options);
}

TEST_CASE("client_on_state_registered_late_hears_the_current_state_first", "[sdk][client][state]") {
  rtev::test::local_server srv;
  // Before the client: its service thread, which calls the handlers, ends before they do.
  state_log early, late;
  std::atomic<bool> on_service_thread{true};
  const auto caller = std::this_thread::get_id();
  rtev::client c(options_for(srv.get().url()));
  auto sub_early = c.on_state([&](const rtev::state_info& s) { early.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));

  auto sub_late = c.on_state([&](const rtev::state_info& s) {
    if (std::this_thread::get_id() == caller) on_service_thread = false;
    late.add(s);
  });
  const auto first = late.wait_for(in_state(client_state::connected));
  REQUIRE(first);
  CHECK_FALSE(first->value.user_id.empty());  // the whole state_info, not only the state
  c.stop();
  REQUIRE(wait_state(late, client_state::closed));
  const auto log = late.entries();
  REQUIRE(log.size() == 2);  // the replay, then the change: nothing twice, nothing before
  CHECK(log.front().value.state == client_state::connected);
  CHECK(log.back().value.state == client_state::closed);
  CHECK(on_service_thread);
  // A handler registered before start() hears each change once, no replay of its own.
  REQUIRE(wait_state(early, client_state::closed));
  CHECK(count_state(early.entries(), client_state::connected) == 1);
  CHECK(count_state(early.entries(), client_state::idle) == 0);
}

TEST_CASE("client_metrics_count_connections_events_bytes_queues_and_round_trips",
          "[sdk][client][metrics]") {
  rtev::test::local_server srv;
  rtev::test::tcp_proxy proxy(srv.port());
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.rooms = {"metrics"};
  opt.backoff = quick_backoff();
  recorder<rtev::event> events;  // before the client: its service thread ends before they do
  state_log states;
  rtev::client c(opt);
  CHECK(c.metrics().connects == 0);
  CHECK_FALSE(c.metrics().round_trip);
  // Before start(): both publishes wait in the offline queue.
  auto p1 = c.publish("metrics", "counted", {{"n", 1}});
  auto p2 = c.publish("metrics", "counted", {{"n", 2}});
  CHECK(c.metrics().offline_queue == 2);

  auto sub = c.on("counted", [&](const rtev::event& e) { events.add(e); });
  auto sub_states = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(p1.wait_for(default_timeout) == std::future_status::ready);
  REQUIRE(p2.wait_for(default_timeout) == std::future_status::ready);
  p1.get();
  p2.get();
  REQUIRE(events.wait([](const auto& v) { return v.size() == 2; }));
  rtev::client_metrics m = c.metrics();
  CHECK(m.connects == 1);
  CHECK(m.reconnect_attempts == 0);
  CHECK(m.offline_queue == 0);
  CHECK(m.unacknowledged == 0);
  CHECK(m.events == 2);
  REQUIRE(m.round_trip);
  CHECK(m.round_trip->count() > 0);
  // authenticated, the join's ACK, two events, two ACKs at least; SUBSCRIBE and two PUBLISH.
  CHECK(m.messages_in >= 6);
  CHECK(m.messages_out >= 3);
  CHECK(m.bytes_in > m.messages_in * 20);
  CHECK(m.bytes_out > m.messages_out * 20);

  // A lost connection: one more attempt, one more connect; counters go on from there.
  proxy.cut();
  REQUIRE(states.wait([](const auto& v) { return count_state(v, client_state::connected) == 2; }));
  m = c.metrics();
  CHECK(m.reconnect_attempts >= 1);
  CHECK(m.events == 2);  // nothing delivered twice by the recovery
}

TEST_CASE("client_async_token_provider_fetches_without_blocking_and_retries_its_failures",
          "[sdk][client][auth][async_token]") {
  rtev::server_config cfg = rtev::test::test_config();
  cfg.auth = "token";
  rtev::test::local_server srv(cfg);
  rtev::test::tcp_proxy proxy(srv.port());

  // Each answer comes from a thread of the "network", after the call has returned.
  std::atomic<int> calls{0};
  std::vector<std::thread> fetches;
  std::mutex fetches_mutex;
  state_log states;
  rtev::client_options opt = options_for(proxy.ws_url());
  opt.backoff = quick_backoff();
  opt.connect_timeout = 300ms;
  opt.async_token_provider = [&](std::function<void(std::string, std::string)> done) {
    const int n = ++calls;
    if (n == 2) return;  // never answers: the attempt times out and is retried
    std::lock_guard<std::mutex> lock(fetches_mutex);
    fetches.emplace_back([n, done = std::move(done)] {
      if (n == 1) {
        done("", "token service unavailable (503)");
      } else {
        done("user-" + std::to_string(n), "");
        done("user-late", "");  // a second answer is ignored
      }
    });
  };
  rtev::client c(opt);
  auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  const auto connected = states.wait_for(in_state(client_state::connected));
  REQUIRE(connected);
  CHECK(connected->value.user_id == "user-3");
  CHECK(calls == 3);
  std::vector<rtev::state_info> retries;
  for (const auto& e : states.entries())
    if (e.value.state == client_state::reconnecting) retries.push_back(e.value);
  REQUIRE(retries.size() == 2);
  CHECK(retries[0].error == rtev::errc::token_unavailable);
  CHECK(contains(retries[0].reason, "token service unavailable (503)"));
  CHECK(retries[1].error == rtev::errc::token_unavailable);
  CHECK(contains(retries[1].reason, "gave no token within 300 ms"));
  CHECK(proxy.accepted() == 1);  // no connection was opened without a token

  // A lost connection asks again.
  proxy.cut();
  REQUIRE(wait_state(states, client_state::connected, 2));
  CHECK(calls == 4);
  c.stop();
  for (auto& t : fetches) t.join();
}

TEST_CASE("client_with_several_urls_moves_to_the_next_on_failure_and_resumes",
          "[sdk][client][urls]") {
  rtev::test::local_server srv;
  // Two "nodes" in front of one server: what a client of a cluster sees.
  rtev::test::tcp_proxy node_a(srv.port());
  rtev::test::tcp_proxy node_b(srv.port());
  refused_port nobody;
  canned_http_server page(http_response(404, "Not Found", "text/html", html_page));
  state_log states;
  recorder<std::int64_t> notes;
  rtev::client_options opt = options_for("");
  opt.rooms = {"lobby"};
  opt.backoff = quick_backoff();

  SECTION("a server that refuses, then a page that says 'not here': the third one is used") {
    opt.url = ws_url(nobody.port());
    opt.urls = {ws_url(page.port()), node_b.ws_url()};
    rtev::client c(opt);
    auto sub = c.on_state([&](const rtev::state_info& s) { states.add(s); });
    c.start();
    REQUIRE(is_ready(c.connected()));
    const auto connected = states.wait_for(in_state(client_state::connected));
    REQUIRE(connected);
    CHECK(connected->value.server_url == node_b.ws_url());
    std::vector<std::string> tried;
    for (const auto& e : states.entries())
      if (e.value.state == client_state::reconnecting) tried.push_back(e.value.server_url);
    // Each retry names the server it goes to next, in order.
    CHECK(tried == std::vector<std::string>{ws_url(page.port()), node_b.ws_url()});
  }

  SECTION("a lost connection resumes on the next node from the last seq") {
    opt.url = node_a.ws_url();
    opt.urls = {node_b.ws_url()};
    rtev::client c(opt);
    auto s1 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
    auto s2 =
        c.on("note", [&](const rtev::event& e) { notes.add(e.data.at("n").get<std::int64_t>()); });
    c.start();
    REQUIRE(is_ready(c.connected()));
    c.ping().get();  // the lobby's SUBSCRIBE is answered before the PONG
    auto publish = [&](int n) {
      rtev::test::publish_http(srv.port(),
                               {{"room", "lobby"}, {"type", "note"}, {"data", {{"n", n}}}});
    };
    publish(1);
    REQUIRE(notes.wait([](const auto& v) { return v.size() == 1; }));
    node_a.freeze();  // node A stops answering: what it would still send is lost with it
    publish(2);
    node_a.cut();
    publish(3);
    REQUIRE(wait_state(states, client_state::connected, 2));
    publish(4);
    REQUIRE(notes.wait([](const auto& v) { return v.size() == 4; }));
    std::vector<std::int64_t> got;
    for (const auto& e : notes.entries()) got.push_back(e.value);
    CHECK(got == std::vector<std::int64_t>{1, 2, 3, 4});  // none lost, none twice
    const auto log = states.entries();
    std::vector<std::string> connected_to;
    for (const auto& e : log)
      if (e.value.state == client_state::connected) connected_to.push_back(e.value.server_url);
    CHECK(connected_to == std::vector<std::string>{node_a.ws_url(), node_b.ws_url()});
    CHECK(node_b.accepted() == 1);
  }
}
