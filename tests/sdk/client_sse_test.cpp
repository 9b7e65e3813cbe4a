// rtev::client over Server-Sent Events (sdk/src/transport_sse.cpp): against the real server
// (rtev::server in-process, GET/POST /api/events), and against a scripted raw SSE server in
// this file for what rtev serve never sends (CR framing, retry:, non-JSON data, 204, …).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "rtev/client.hpp"
#include "rtev/events.hpp"
#include "rtev/server/server.hpp"
#include "tests/sdk/client_recorder.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"
#include "tests/support/tcp_proxy.hpp"
#include "tests/support/tcp_stream.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using rtev::client_state;
using rtev::test::default_timeout;
using rtev::test::millis;
using rtev::test::recorder;

namespace {

bool wait_state(const recorder<rtev::state_info>& log, client_state s, std::size_t n = 1) {
  return log.wait([&](const auto& v) {
    return static_cast<std::size_t>(
               std::count_if(v.begin(), v.end(), [s](const auto& i) { return i.state == s; })) >= n;
  });
}

rtev::state_info first_state(const recorder<rtev::state_info>& log, client_state s) {
  for (const auto& i : log.values())
    if (i.state == s) return i;
  return {};
}

bool is_ready(const std::shared_future<void>& f) {
  return f.wait_for(default_timeout) == std::future_status::ready;
}

rtev::client_options sse_options(std::uint16_t port, const std::string& path = "/api/events") {
  rtev::client_options o;
  o.url = "http://127.0.0.1:" + std::to_string(port) + path;
  o.protocol = rtev::wire_protocol::sse;
  o.backoff.initial = 10ms;
  o.backoff.multiplier = 2;
  o.backoff.max = 100ms;
  o.backoff.jitter = 0;
  o.backoff.reset_after = 0ms;
  return o;
}

json note(const std::string& room, int n, const std::string& type = "note") {
  return {{"room", room}, {"type", type}, {"data", {{"n", n}}}};
}

std::uint64_t seq_of(const json& reply) {
  return reply.at("seq").get<std::uint64_t>();
}

std::vector<std::uint64_t> seqs(const std::vector<rtev::event>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events)
    if (e.seq) out.push_back(*e.seq);
  return out;
}

bool has_note(const std::vector<std::string>& notes, const std::string& prefix) {
  return std::any_of(notes.begin(), notes.end(),
                     [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

// A scripted HTTP server on 127.0.0.1: every accepted connection gets its request head read,
// recorded, and handed to the script (on its own thread) with the connection's number (0 for
// the first) — the script writes whatever it likes and returns; then the connection is closed.
// A script that must hold its connection open calls hold(), which returns when the server is
// destroyed.
class scripted_server {
 public:
  using script = std::function<void(std::size_t n, const std::string& request, int fd)>;

  explicit scripted_server(script s) : script_(std::move(s)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 16) != 0)
      throw std::runtime_error("scripted_server: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~scripted_server() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    for (auto& t : workers_) t.join();
    ::close(listen_fd_);
  }

  std::uint16_t port() const { return port_; }

  /// Blocks until the server is destroyed (for scripts that keep their stream open).
  void hold() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return stopping_; });
  }

  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  bool wait_requests(std::size_t n) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, default_timeout, [&] { return requests_.size() >= n; });
  }

  static void send_text(int fd, std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }

 private:
  void accept_loop() {
    for (std::size_t n = 0;; ++n) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
          ::close(fd);
          return;
        }
      }
      workers_.emplace_back([this, fd, n] {
        std::string head;
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
          pollfd p{fd, POLLIN, 0};
          if (::poll(&p, 1, static_cast<int>(default_timeout.count())) <= 0) break;
          const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
          if (got <= 0) break;
          head.append(buf, static_cast<std::size_t>(got));
        }
        {
          std::lock_guard<std::mutex> lock(mutex_);
          requests_.push_back(head);
        }
        cv_.notify_all();
        script_(n, head, fd);
        ::shutdown(fd, SHUT_RDWR);
        ::close(fd);
      });
    }
  }

  script script_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> workers_;  // touched by the acceptor thread, joined after it ends
  mutable std::mutex mutex_;          // guards requests_, stopping_
  mutable std::condition_variable cv_;
  std::vector<std::string> requests_;
  bool stopping_ = false;
};

const char* sse_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";

// One HTTP/1.1 chunk.
std::string http_chunk(const std::string& bytes) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  return size + bytes + "\r\n";
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

// --- against rtev serve ----------------------------------------------------------------------

TEST_CASE("sse_client_receives_typed_and_named_events_of_its_rooms", "[sdk][client][sse]") {
  rtev::test::local_server srv;
  recorder<rtev::event> all;
  recorder<rtev::events::message_sent> typed;
  recorder<std::string> raw;
  auto opt = sse_options(srv.port());
  opt.rooms = {"a"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  auto s2 = c.on<rtev::events::message_sent>(
      [&](const rtev::events::message_sent& m, const rtev::event&) { typed.add(m); });
  auto s3 = c.on_raw([&](const std::string& t) { raw.add(t); });
  c.start();
  REQUIRE(is_ready(c.connected()));

  rtev::test::publish_http(srv.port(), note("b", 0));  // another room: not for us
  const json hello = {{"message_id", 1}, {"conversation_id", 7}, {"message_text", "Hello!"}};
  const auto first = seq_of(rtev::test::publish_http(
      srv.port(), {{"room", "a"}, {"type", "message_sent"}, {"data", hello}}));
  const auto second = seq_of(rtev::test::publish_http(srv.port(), note("a", 1)));
  REQUIRE(all.wait_size(2));
  const auto got = all.values();
  REQUIRE(got.size() == 2);
  CHECK(got[0].type == "message_sent");
  CHECK(got[0].seq == std::optional<std::uint64_t>(first));
  CHECK(got[0].room == std::optional<std::string>("a"));
  CHECK(got[0].filled_in.empty());  // an rtev envelope: nothing supplied
  CHECK(got[1].type == "note");
  CHECK(got[1].seq == std::optional<std::uint64_t>(second));
  CHECK(got[1].data == json{{"n", 1}});
  REQUIRE(typed.wait_size(1));
  CHECK(typed.values()[0].message_text == std::optional<std::string>("Hello!"));
  REQUIRE(raw.wait_size(2));
  CHECK(json::parse(raw.values()[1])["seq"] == second);
}

TEST_CASE("sse_client_filters_by_type_through_the_url", "[sdk][client][sse]") {
  rtev::test::local_server srv;
  recorder<rtev::event> all;
  auto opt = sse_options(srv.port());
  opt.rooms = {"a"};
  opt.types = {"keep*"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  rtev::test::publish_http(srv.port(), note("a", 0, "drop"));
  const auto kept = seq_of(rtev::test::publish_http(srv.port(), note("a", 1, "keep_this")));
  REQUIRE(all.wait_size(1));
  CHECK(all.values()[0].seq == std::optional<std::uint64_t>(kept));
  CHECK(all.values()[0].type == "keep_this");
}

TEST_CASE("sse_client_publishes_with_a_post_and_gets_the_ack", "[sdk][client][sse]") {
  rtev::test::local_server srv;
  recorder<rtev::event> all;
  auto opt = sse_options(srv.port());
  opt.rooms = {"a"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  c.start();
  REQUIRE(is_ready(c.connected()));

  SECTION("the ack carries the server's id and seq, and the event comes back on the stream") {
    const rtev::publish_ack ack = c.publish("a", "note", {{"n", 5}}).get();
    CHECK(ack.seq > 0);
    CHECK_FALSE(ack.id.empty());
    REQUIRE(all.wait_size(1));
    CHECK(all.values()[0].id == std::optional<std::string>(ack.id));
    CHECK(all.values()[0].seq == std::optional<std::uint64_t>(ack.seq));
  }
  SECTION("a refused publish fails with the server's code and message") {
    // A shared_future keeps the exception owned by this thread's shared state (TSan cannot see
    // libstdc++'s exception_ptr reference counting when the last owner is the service thread).
    auto f = c.publish("a", "", {{"n", 5}}).share();  // an empty type: rtev serve answers 400
    REQUIRE(f.wait_for(default_timeout) == std::future_status::ready);
    try {
      f.get();
      FAIL("the publish should have failed");
    } catch (const rtev::request_error& e) {
      CHECK(e.detail.what == rtev::client_error::kind::server);
      CHECK(e.detail.code == "bad_request");
      CHECK_THAT(e.detail.message, Catch::Matchers::Contains("HTTP 400"));
    }
  }
  SECTION("requests SSE cannot carry fail as unsupported") {
    auto f = c.ping().share();
    REQUIRE(f.wait_for(default_timeout) == std::future_status::ready);
    try {
      f.get();
      FAIL("ping should have failed");
    } catch (const rtev::request_error& e) {
      CHECK(e.detail.code == "unsupported");
    }
  }
}

TEST_CASE("sse_client_joins_and_leaves_rooms_by_reopening_the_stream", "[sdk][client][sse]") {
  rtev::test::local_server srv;
  recorder<rtev::event> all;
  recorder<rtev::join_info> joins;
  auto opt = sse_options(srv.port());
  opt.rooms = {"a"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  auto s2 = c.on_joined([&](const rtev::join_info& j) { joins.add(j); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  REQUIRE(joins.wait_size(1));

  c.join("later");
  REQUIRE(joins.wait([](const auto& v) {
    return std::any_of(v.begin(), v.end(), [](const auto& j) { return j.room == "later"; });
  }));
  const auto in_later = seq_of(rtev::test::publish_http(srv.port(), note("later", 1)));
  const auto in_a = seq_of(rtev::test::publish_http(srv.port(), note("a", 2)));
  REQUIRE(all.wait_size(2));
  CHECK(seqs(all.values()) == std::vector<std::uint64_t>{in_later, in_a});
  CHECK(c.state() == client_state::connected);  // reopened without a reconnect
}

TEST_CASE("sse_client_resumes_with_last_event_id_after_the_server_restarts",
          "[sdk][client][sse][recovery]") {
  rtev::test::temp_dir dir;
  rtev::server_config cfg = rtev::test::test_config();
  cfg.db_path = dir.file("events.db");
  auto srv = std::make_unique<rtev::server>(cfg);
  srv->start();
  cfg.port = srv->port();
  // The client goes through a proxy so the test can hold its reconnection until events were
  // published in its absence: those arrive only if Last-Event-ID works.
  rtev::test::tcp_proxy proxy(cfg.port);

  recorder<rtev::event> all;
  recorder<rtev::state_info> states;
  auto opt = sse_options(proxy.port());
  opt.rooms = {"r"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  auto s2 = c.on_state([&](const rtev::state_info& s) { states.add(s); });
  c.start();
  REQUIRE(is_ready(c.connected()));
  std::vector<std::uint64_t> published;
  for (int i = 0; i < 3; ++i)
    published.push_back(seq_of(rtev::test::publish_http(cfg.port, note("r", i))));
  REQUIRE(all.wait_size(3));

  proxy.freeze(rtev::test::tcp_proxy::direction::to_target);
  srv.reset();
  REQUIRE(wait_state(states, client_state::reconnecting));
  srv = std::make_unique<rtev::server>(cfg);
  srv->start();
  for (int i = 3; i < 6; ++i)
    published.push_back(seq_of(rtev::test::publish_http(cfg.port, note("r", i))));
  proxy.thaw();
  REQUIRE(wait_state(states, client_state::connected, 2));
  published.push_back(seq_of(rtev::test::publish_http(cfg.port, note("r", 6))));
  REQUIRE(all.wait_size(7));
  CHECK(seqs(all.values()) == published);  // none missing, none twice, in order
  c.stop();
}

// --- against a scripted SSE server -----------------------------------------------------------

TEST_CASE("sse_client_parses_any_framing_and_reads_foreign_payloads", "[sdk][client][sse]") {
  scripted_server server([&](std::size_t, const std::string&, int fd) {
    scripted_server::send_text(fd, sse_head);
    // The issue's foreign format, CRLF line ends.
    scripted_server::send_text(
        fd, "data: {\"userId\":1,\"type\":\"notification\",\"data\":{\"title\":\"hi\"}}\r\n\r\n");
    // A named event, CR line ends, data over two lines, split across writes.
    scripted_server::send_text(fd, "event: tick\rdata: {\"price\":\r");
    scripted_server::send_text(fd, "data: 3}\r\r");
    // Not JSON, with an id.
    scripted_server::send_text(fd, "id: 77\ndata: plain text\n\n");
    server.hold();
  });
  recorder<rtev::event> all;
  rtev::client c(sse_options(server.port(), "/stream"));
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  c.start();
  REQUIRE(all.wait_size(3));
  const auto got = all.values();
  CHECK(got[0].type == "notification");
  CHECK(got[0].data == json{{"title", "hi"}});
  CHECK(got[0].extra == json{{"userId", 1}});
  CHECK(has_note(got[0].filled_in, "timestamp: receive time"));
  CHECK(has_note(got[0].filled_in, "timezone: UTC"));
  CHECK(got[1].type == "tick");
  CHECK(got[1].data == json{{"price", 3}});
  CHECK(has_note(got[1].filled_in, "type: from the event name 'tick'"));
  CHECK(got[2].type == "message");
  CHECK(got[2].data == "plain text");
  CHECK(got[2].id == std::optional<std::string>("77"));
  CHECK(has_note(got[2].filled_in, "data: not JSON, kept as a string"));
  CHECK(has_note(got[2].filled_in, "id: from the SSE id"));
  c.stop();
}

TEST_CASE("sse_client_reads_a_chunked_stream_split_mid_line", "[sdk][client][sse]") {
  scripted_server server([&](std::size_t, const std::string&, int fd) {
    scripted_server::send_text(fd,
                               "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; "
                               "charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n");
    // Chunks cut through a field name, a CRLF pair and a UTF-8 sequence.
    for (const std::string piece : {"\xEF\xBB\xBF"
                                    "da",
                                    "ta: caf\xC3", "\xA9\r", "\n\r\n"})
      scripted_server::send_text(fd, http_chunk(piece));
    server.hold();
  });
  recorder<rtev::event> all;
  rtev::client c(sse_options(server.port()));
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  c.start();
  REQUIRE(all.wait_size(1));
  CHECK(all.values()[0].data == "caf\xC3\xA9");
  c.stop();
}

TEST_CASE("sse_client_follows_a_redirect_to_the_stream", "[sdk][client][sse]") {
  scripted_server server([&](std::size_t n, const std::string&, int fd) {
    if (n == 0)
      return scripted_server::send_text(
          fd, "HTTP/1.1 307 Temporary Redirect\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n");
    scripted_server::send_text(fd, sse_head);
    scripted_server::send_text(fd, "data: here\n\n");
    server.hold();
  });
  recorder<rtev::event> all;
  recorder<rtev::state_info> states;
  rtev::client c(sse_options(server.port()));
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  auto s2 = c.on_state([&](const rtev::state_info& i) { states.add(i); });
  c.start();
  REQUIRE(all.wait_size(1));
  CHECK(all.values()[0].data == "here");
  CHECK(server.requests().at(1).rfind("GET /moved ", 0) == 0);
  CHECK(first_state(states, client_state::reconnecting).state == client_state::idle);  // none
  c.stop();
}

TEST_CASE("sse_client_sends_its_headers_and_resumes_from_the_last_id", "[sdk][client][sse]") {
  scripted_server server([&](std::size_t n, const std::string&, int fd) {
    scripted_server::send_text(fd, sse_head);
    if (n == 0) scripted_server::send_text(fd, "id: 41\ndata: a\n\nid: 42\ndata: b\n\n");
    if (n == 1) server.hold();
  });
  recorder<rtev::event> all;
  auto opt = sse_options(server.port(), "/events?x=1");
  opt.token = "secret";
  opt.headers = {{"Cookie", "session=abc"}};
  opt.sse.last_event_id = "40";
  opt.rooms = {"r1", "a b"};
  opt.types = {"t"};
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  c.start();
  REQUIRE(server.wait_requests(2));  // the first stream ends after two events: a reconnect
  const auto req = server.requests();
  const std::string first = lower(req[0]), second = lower(req[1]);
  CHECK(req[0].rfind("GET /events?x=1&rooms=a%20b,r1&types=t HTTP/1.1\r\n", 0) == 0);
  CHECK_THAT(first, Catch::Matchers::Contains("accept: text/event-stream\r\n"));
  CHECK_THAT(first, Catch::Matchers::Contains("authorization: bearer secret\r\n"));
  CHECK_THAT(first, Catch::Matchers::Contains("cookie: session=abc\r\n"));
  CHECK_THAT(first, Catch::Matchers::Contains("last-event-id: 40\r\n"));
  // lws writes Cache-Control: no-cache itself; once is enough.
  CHECK(first.find("cache-control: no-cache") != std::string::npos);
  CHECK(first.find("cache-control:") == first.rfind("cache-control:"));
  CHECK_THAT(second, Catch::Matchers::Contains("last-event-id: 42\r\n"));
  REQUIRE(all.wait_size(2));
  c.stop();
}

TEST_CASE("sse_client_waits_as_long_as_the_server_retry_says", "[sdk][client][sse]") {
  scripted_server server([&](std::size_t n, const std::string&, int fd) {
    scripted_server::send_text(fd, sse_head);
    if (n == 0) scripted_server::send_text(fd, "retry: 1234\n\n");
    if (n == 1) server.hold();
  });
  recorder<rtev::state_info> states;
  rtev::client c(sse_options(server.port()));
  auto s = c.on_state([&](const rtev::state_info& i) { states.add(i); });
  c.start();
  REQUIRE(wait_state(states, client_state::reconnecting));
  CHECK(first_state(states, client_state::reconnecting).delay == 1234ms);
  c.stop();
}

TEST_CASE("sse_client_counts_comments_as_signs_of_life", "[sdk][client][sse]") {
  std::promise<void> done, enough_comments;
  std::shared_future<void> event_seen = done.get_future().share();
  std::shared_future<void> comments_until = enough_comments.get_future().share();
  scripted_server server([&](std::size_t n, const std::string&, int fd) {
    scripted_server::send_text(fd, sse_head);
    if (n != 0) return server.hold();
    // Keep-alive comments only, every 50 ms, until the client has been kept alive for several
    // times its silence limit (it answers a comment with nothing: its own state changes are
    // what the test watches); then an event.
    while (comments_until.wait_for(50ms) != std::future_status::ready)
      scripted_server::send_text(fd, ": keep-alive\n\n");
    scripted_server::send_text(fd, "data: {\"type\":\"done\",\"data\":{}}\n\n");
    event_seen.wait();
    // Now silence: the client must give up on this stream.
    server.hold();
  });
  recorder<rtev::event> all;
  recorder<rtev::state_info> states;
  auto opt = sse_options(server.port());
  opt.heartbeat_interval = 200ms;
  opt.heartbeat_timeout = 100ms;  // silence limit: 2 × 200 + 100 = 500 ms
  rtev::client c(opt);
  auto s1 = c.on("*", [&](const rtev::event& e) { all.add(e); });
  auto s2 = c.on_state([&](const rtev::state_info& i) { states.add(i); });
  c.start();
  // Four silence limits of comments only: the client must not give up on the stream.
  CHECK_FALSE(states.wait(
      [](const auto& v) {
        return std::any_of(v.begin(), v.end(),
                           [](const auto& i) { return i.state == client_state::reconnecting; });
      },
      2000ms));
  enough_comments.set_value();
  REQUIRE(all.wait_size(1));
  CHECK(all.values()[0].type == "done");
  CHECK(server.requests().size() == 1);  // two seconds of comments, one connection
  done.set_value();
  REQUIRE(wait_state(states, client_state::reconnecting));
  CHECK_THAT(first_state(states, client_state::reconnecting).reason,
             Catch::Matchers::Contains("no data from the server within 500 ms"));
  c.stop();
}

TEST_CASE("sse_client_closes_when_the_server_refuses", "[sdk][client][sse]") {
  SECTION("401 is an authentication failure") {
    scripted_server server([&](std::size_t, const std::string&, int fd) {
      const std::string body = R"({"error":{"code":"unauthorized","message":"bad token"}})";
      scripted_server::send_text(fd,
                                 "HTTP/1.1 401 Unauthorized\r\nContent-Type: "
                                 "application/json\r\nContent-Length: " +
                                     std::to_string(body.size()) + "\r\n\r\n" + body);
    });
    auto opt = sse_options(server.port());
    opt.token = "wrong";
    rtev::client c(opt);
    c.start();
    REQUIRE(c.closed().wait_for(default_timeout) == std::future_status::ready);
    const auto s = c.closed().get();
    CHECK(s.auth_failed);
    CHECK(s.http_status == 401);
    CHECK_THAT(s.reason, Catch::Matchers::Contains("bad token"));
    CHECK(server.requests().size() == 1);
  }
  SECTION("204 asks the client not to reconnect") {
    scripted_server server([&](std::size_t, const std::string&, int fd) {
      scripted_server::send_text(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    });
    rtev::client c(sse_options(server.port()));
    c.start();
    REQUIRE(c.closed().wait_for(default_timeout) == std::future_status::ready);
    const auto s = c.closed().get();
    CHECK_FALSE(s.auth_failed);
    CHECK(s.http_status == 204);
    CHECK_THAT(s.reason, Catch::Matchers::Contains("204"));
    CHECK(server.requests().size() == 1);
  }
  SECTION("a 200 that is not an event stream is not retried") {
    scripted_server server([&](std::size_t, const std::string&, int fd) {
      scripted_server::send_text(
          fd, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello");
    });
    rtev::client c(sse_options(server.port()));
    c.start();
    REQUIRE(c.closed().wait_for(default_timeout) == std::future_status::ready);
    CHECK_THAT(c.closed().get().reason, Catch::Matchers::Contains("not text/event-stream"));
  }
}
