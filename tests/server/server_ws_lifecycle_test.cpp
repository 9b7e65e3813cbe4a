// server-lite connection lifecycle: a peer that stops reading is dropped on time whatever its
// socket's state (WebSocket, SSE, Socket.IO), and a client the server closes while it is still
// sending gets the replies already due and the real close code, not a reset. Runs
// `rtev serve` as a child process (its fds and RSS are read from /proc) or in-process.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "tests/server/lifecycle_support.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"
#include "tests/support/serve_process.hpp"

using namespace rtev::test;

namespace {

// Publishes one batch of `count` events of `size` bytes to `room` over HTTP.
json publish_blobs(std::uint16_t port, const std::string& room, int count, std::size_t size) {
  json batch = json::array();
  for (int i = 0; i < count; ++i)
    batch.push_back({{"room", room}, {"type", "blob"}, {"data", {{"p", std::string(size, 'p')}}}});
  return publish_http(port, batch);
}

// A subscriber to `room` over SSE that never reads: a raw socket with a small window.
tcp_stream stalled_sse(std::uint16_t port, const std::string& room) {
  tcp_stream s("127.0.0.1", port, default_timeout, 4096);
  s.write_all("GET /api/events?rooms=" + room + " HTTP/1.1\r\nHost: 127.0.0.1:" +
              std::to_string(port) + "\r\nAccept: text/event-stream\r\n\r\n");
  return s;
}

}  // namespace

TEST_CASE("peers_that_stop_reading_are_dropped_and_their_memory_freed",
          "[server][lifecycle][ws][sse]") {
  // One 32 KiB event per publish, so the server's writer (a frame per loop turn) keeps up and a
  // queue only fills once the kernel's buffers for a stalled peer are full and its socket
  // stays unwriteable — the state in which a close that waits for WRITEABLE never happens.
  serve_process srv({"--port", "0", "--db", ":memory:", "--rate-limit", "100000/s",
                     "--ping-interval", "500ms", "--ping-timeout", "1s", "--send-queue-max", "64",
                     "--max-message-bytes", "1048576"});
  const std::uint16_t port = srv.port();
  const std::size_t fds_before = open_fds(srv.pid());
  const long rss_before = rss_kib(srv.pid());

  auto normal = rtev_client::connect_as(port, "normal");
  normal.subscribe("feed");
  ws_options small_window;
  small_window.receive_buffer = 4096;
  auto stalled_ws = rtev_client::connect_as(port, "stalled", small_window);
  stalled_ws.subscribe("feed");
  tcp_stream sse = stalled_sse(port, "feed");
  REQUIRE(wait_for_connections(port, 3));

  // Publish 32 KiB events at all three; the normal subscriber reads every one, in order. The
  // stalled two never read: the server must drop them within a bounded time.
  std::uint64_t last_seq = 0;
  std::size_t batches = 0;
  const auto deadline = steady::now() + std::chrono::seconds(30);
  while (connections(port) > 1) {
    REQUIRE(steady::now() < deadline);
    const json reply = publish_blobs(port, "feed", 1, 32 * 1024);
    for (const auto& r : reply) {
      const json e = normal.next_event_in("feed");
      REQUIRE(e.at("seq") == r.at("seq"));
      CHECK(e.at("seq").get<std::uint64_t>() > last_seq);
      last_seq = e.at("seq");
    }
    ++batches;
  }
  WARN(batches << " events published before both stalled peers were dropped");
  CHECK(connections(port) == 1);

  // Their sockets are closed (fds back to the normal subscriber's one), the normal subscriber
  // still receives, and the server's memory did not keep what was queued for them.
  CHECK(wait_until([&] { return open_fds(srv.pid()) <= fds_before + 1; }));
  const json reply = publish_blobs(port, "feed", 4, 32 * 1024);
  for (const auto& r : reply) CHECK(normal.next_event_in("feed").at("seq") == r.at("seq"));
  const long rss_after = rss_kib(srv.pid());
  WARN("server RSS: " << rss_before << " KiB before, " << rss_after << " KiB after");
  // Generous: a sanitizer build keeps up to 256 MiB of freed memory in quarantine.
  CHECK(rss_after - rss_before < 1024 * 1024);
}

TEST_CASE("a_stalled_socketio_websocket_is_dropped", "[server][lifecycle][socketio]") {
  serve_process srv({"--port", "0", "--db", ":memory:", "--rate-limit", "100000/s",
                     "--ping-interval", "500ms", "--ping-timeout", "1s", "--send-queue-max", "64",
                     "--max-message-bytes", "1048576"});
  const std::uint16_t port = srv.port();
  const std::size_t fds_before = open_fds(srv.pid());
  ws_options o;
  o.path = "/socket.io/";
  o.query = "EIO=4&transport=websocket";
  o.receive_buffer = 4096;
  ws_client sio(port, o);
  REQUIRE(sio.status() == 101);
  const ws_message open = sio.recv();
  REQUIRE(open.type == ws_message::kind::text);
  REQUIRE(open.data.rfind("0{", 0) == 0);
  sio.send_text("40");
  REQUIRE(sio.recv().data.rfind("40", 0) == 0);
  sio.send_text(R"(42["subscribe",{"room":"feed"}])");
  REQUIRE(wait_for_connections(port, 1));

  // From here on it never reads (nor answers Engine.IO pings). The door may let go of the
  // session early; what matters is that the server closes the socket (its fd).
  const auto deadline = steady::now() + std::chrono::seconds(30);
  std::size_t published = 0;
  while (connections(port) > 0 || open_fds(srv.pid()) > fds_before) {
    REQUIRE(steady::now() < deadline);
    publish_blobs(port, "feed", 1, 32 * 1024);
    ++published;
  }
  WARN(published << " events published before the stalled Socket.IO client was dropped");
}

TEST_CASE("rate_limit_abuse_gets_every_stored_ack_then_1008", "[server][lifecycle][ws]") {
  auto cfg = test_config();
  cfg.rate_limit = 5;
  cfg.rate_burst = 5;
  local_server srv(cfg);
  auto c = rtev_client::connect_as(srv.port(), "burster");

  // 1,500 publishes in one go, without reading; then read everything.
  std::string burst;
  for (int i = 0; i < 1500; ++i)
    burst += ws_client::encode_frame(
        ws_opcode::text, json{{"type", "PUBLISH"},
                              {"ref", "p" + std::to_string(i)},
                              {"data", {{"room", "burst"}, {"type", "n"}, {"data", {{"i", i}}}}}}
                             .dump());
  c.ws().send_raw(burst);
  const ws_message closed = c.wait_close(std::chrono::seconds(30));
  REQUIRE(closed.type == ws_message::kind::close);
  CHECK(closed.close_code == 1008);

  std::set<std::string> acked;
  for (const auto& m : c.mailbox())
    if (type_of(m) == "ACK" && m.at("data").at("op") == "PUBLISH")
      acked.insert(m.at("data").at("id").get<std::string>());
  std::set<std::string> stored;
  for (const auto& e : fetch_history(srv.port(), "burst")) stored.insert(e.at("id"));
  INFO("stored " << stored.size() << ", acknowledged " << acked.size());
  CHECK_FALSE(stored.empty());
  CHECK(acked == stored);
}

TEST_CASE("an_oversized_fragmented_message_gets_the_acks_due_then_1009",
          "[server][lifecycle][ws]") {
  auto cfg = test_config();
  cfg.max_message_bytes = 1024;
  local_server srv(cfg);
  auto c = rtev_client::connect_as(srv.port(), "alice");

  // Three publishes, then a message in 200 fragments of 500 bytes (100 KB against a 1 KiB
  // limit), then more: all sent before reading anything.
  std::string out;
  for (int i = 0; i < 3; ++i)
    out += ws_client::encode_frame(
        ws_opcode::text, json{{"type", "PUBLISH"},
                              {"ref", "p" + std::to_string(i)},
                              {"data", {{"room", "big"}, {"type", "n"}, {"data", {{"i", i}}}}}}
                             .dump());
  const std::string part(500, 'x');
  for (int i = 0; i < 200; ++i)
    out +=
        ws_client::encode_frame(i == 0 ? ws_opcode::text : ws_opcode::continuation, part, i == 199);
  for (int i = 0; i < 50; ++i)
    out += ws_client::encode_frame(ws_opcode::text, R"({"type":"PING"})");
  c.ws().send_raw(out);
  const ws_message closed = c.wait_close(std::chrono::seconds(30));
  REQUIRE(closed.type == ws_message::kind::close);
  CHECK(closed.close_code == 1009);
  std::size_t acks = 0;
  for (const auto& m : c.mailbox())
    if (type_of(m) == "ACK" && m.at("data").at("op") == "PUBLISH") ++acks;
  CHECK(acks == 3);
  CHECK(fetch_history(srv.port(), "big").size() == 3);
}
