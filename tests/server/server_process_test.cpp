// `rtev serve` as a child process: the ready line and file, the default database path, JSON
// logs, shutdown on SIGTERM/SIGINT (1001, exit 0 within 2 s, store flushed), durability
// across kill -9, the heartbeat flags, and bad flag values (exit 2, one line).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <rtev/error.hpp>
#include <rtev/server/server.hpp>

#include <cmath>
#include <limits>

#include "tests/support/http_client.hpp"
#include "tests/support/rtev_client.hpp"
#include "tests/support/serve_process.hpp"

using namespace rtev::test;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::uint64_t max_stored_seq(std::uint16_t port) {
  std::uint64_t top = 0;
  for (const auto& e : fetch_history(port, "")) top = std::max<std::uint64_t>(top, e.at("seq"));
  return top;
}

// A tmpfs of `size` mounted on `dir` for the life of the object (needs root, as in CI).
class small_filesystem {
 public:
  small_filesystem(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    const std::string options = "size=" + size;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0)
      mounted_ = true;
    else
      why_not_ = std::strerror(errno);
  }
  ~small_filesystem() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  small_filesystem(const small_filesystem&) = delete;
  small_filesystem& operator=(const small_filesystem&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& why_not() const { return why_not_; }

  /// Writes `name` until the file system is full (ENOSPC).
  void fill(const std::string& name) const {
    const std::string path = dir_ + "/" + name;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    REQUIRE(fd >= 0);
    const std::string chunk(64 * 1024, 'x');
    ssize_t n;
    while ((n = ::write(fd, chunk.data(), chunk.size())) > 0) {
    }
    const int error = errno;
    ::close(fd);
    REQUIRE(n < 0);
    REQUIRE(error == ENOSPC);
  }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string why_not_;
};

// Publishes 16 KB events to `room` until one is refused with storage_error (at most 200);
// acknowledged ones go to `acked` (id -> seq). Returns the refusal.
json publish_until_refused(rtev_client& c, const std::string& tag,
                           std::map<std::string, std::uint64_t>& acked) {
  for (int i = 0; i < 200; ++i) {
    const std::string id = tag + "-" + std::to_string(i);
    const json reply = c.request("PUBLISH", {{"room", "disk"},
                                             {"type", "big"},
                                             {"id", id},
                                             {"data", {{"blob", std::string(16000, 'y')}}}});
    if (type_of(reply) == "ACK") {
      acked[id] = reply.at("data").at("seq");
      continue;
    }
    return reply;
  }
  FAIL("200 events of 16 KB were all stored on a full file system");
  return {};
}

// The last_seq a new connection is told in `authenticated` (the SDK's resume point).
json last_seq_announced(std::uint16_t port) {
  ws_options options;
  options.query = "token=late";
  rtev_client c(port, options);
  return c.authenticated().at("last_seq");
}

std::size_t count_lines_with(const std::string& log, const std::string& needle) {
  std::size_t n = 0;
  for (const auto& line : lines(log))
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

std::string field_of(const std::string& log, const std::string& message, const std::string& key) {
  for (const auto& line : lines(log)) {
    if (line.find(" " + message + " ") == std::string::npos &&
        line.find(" " + message) + message.size() + 1 != line.size())
      continue;
    const auto at = line.find(" " + key + "=");
    if (at == std::string::npos) continue;
    const auto start = at + key.size() + 2;
    return line.substr(start, line.find(' ', start) - start);
  }
  return {};
}

}  // namespace

TEST_CASE("rtev_serve_prints_its_url_and_writes_the_ready_file", "[server][process]") {
  temp_dir dir;

  SECTION("the ready line goes to stdout and the ready file, and the server answers") {
    serve_process srv({"--port", "0", "--db", dir.file("events.db"), "--ready-file",
                       dir.file("ready.txt"), "--log-format", "json"});
    static const std::regex url(R"(RTEV_URL=ws://127\.0\.0\.1:[0-9]+/events/ws/connect)");
    CHECK(std::regex_match(srv.ready_line(), url));
    CHECK(srv.port() != 0);
    CHECK(read_file(dir.file("ready.txt")) == srv.ready_line() + "\n");
    CHECK(http_get(srv.port(), "/health").json().at("status") == "ok");
    auto c = rtev_client::connect_as(srv.port(), "alice");
    CHECK(c.request("PING", json::object()).at("type") == "PONG");
    // --log-format json: every log line is a JSON object.
    const auto log = lines(srv.stderr_text());
    CHECK_FALSE(log.empty());
    for (const auto& line : log) {
      INFO(line);
      CHECK(json::parse(line, nullptr, false).is_object());
    }
  }
  SECTION("without --db the store is created under XDG_DATA_HOME") {
    const std::string xdg = dir.file("xdg");
    serve_process srv({"--port", "0"}, {"XDG_DATA_HOME=" + xdg});
    publish_http(srv.port(), {{"room", "r"}, {"type", "x"}, {"data", {}}});
    CHECK(std::filesystem::exists(xdg + "/rtev/events.db"));
  }
}

TEST_CASE("rtev_serve_warns_when_auth_none_listens_beyond_loopback", "[server][process]") {
  const std::string warning = "--auth none on 0.0.0.0, which is not a loopback address";
  SECTION("--host 0.0.0.0 --auth none prints one warning line") {
    serve_process srv({"--host", "0.0.0.0", "--port", "0", "--db", ":memory:"});
    const std::string err = srv.stderr_text();
    INFO(err);
    CHECK(err.find(warning) != std::string::npos);
    CHECK(err.find("WARN") != std::string::npos);
  }
  SECTION("loopback, or auth token, prints none") {
    serve_process local({"--port", "0", "--db", ":memory:"});
    CHECK(local.stderr_text().find("not a loopback address") == std::string::npos);
    serve_process token({"--host", "0.0.0.0", "--port", "0", "--db", ":memory:", "--auth", "token",
                         "--api-key", "k"});
    CHECK(token.stderr_text().find("not a loopback address") == std::string::npos);
  }
}

TEST_CASE("rtev_serve_shuts_down_on_a_signal_closing_clients_with_1001", "[server][process]") {
  temp_dir dir;
  const std::vector<std::string> args = {"--port", "0", "--db", dir.file("events.db")};
  int sig = SIGTERM;
  SECTION("SIGTERM") {
    sig = SIGTERM;
  }
  SECTION("SIGINT") {
    sig = SIGINT;
  }

  std::uint16_t port;
  std::vector<json> acked;
  {
    serve_process srv(args);
    port = srv.port();
    auto a = rtev_client::connect_as(port, "alice");
    auto b = rtev_client::connect_as(port, "bob");
    sse_stream sse(port, "/api/events?rooms=lobby");
    REQUIRE(sse.status() == 200);
    for (int i = 0; i < 3; ++i)
      acked.push_back(a.publish({{"room", "lobby"}, {"type", "note"}, {"data", {{"i", i}}}}));

    const auto start = steady::now();
    srv.send_signal(sig);
    for (rtev_client* c : {&a, &b}) {
      const ws_message closed = c->wait_close();
      CHECK(closed.type == ws_message::kind::close);
      CHECK(closed.close_code == 1001);
    }
    const auto status = srv.wait_exit(std::chrono::seconds(5));
    const auto elapsed = steady::now() - start;
    INFO(srv.stderr_text());
    CHECK(status == std::optional<int>(0));
    CHECK(elapsed < std::chrono::seconds(2));
    // The SSE stream ends too.
    sse_item it;
    do it = sse.next(std::chrono::seconds(5));
    while (it.type == sse_item::kind::event || it.type == sse_item::kind::comment);
    CHECK(it.type == sse_item::kind::eof);
  }
  // The store was flushed: after a restart on the same port every acknowledged event is there.
  serve_process again({"--port", std::to_string(port), "--db", dir.file("events.db")});
  CHECK(again.port() == port);
  const auto stored = fetch_history(port, "lobby");
  REQUIRE(stored.size() == acked.size());
  for (std::size_t i = 0; i < acked.size(); ++i) CHECK(stored[i].at("seq") == acked[i].at("seq"));
}

TEST_CASE("rtev_serve_keeps_every_acknowledged_event_across_kill_9", "[server][process]") {
  temp_dir dir;
  const std::string db = dir.file("events.db");
  std::map<std::string, std::uint64_t> acked;  // id -> seq
  std::uint64_t top_acked = 0;
  std::string epoch;
  std::uint16_t port;
  {
    serve_process srv({"--port", "0", "--db", db, "--rate-limit", "100000/s"});
    port = srv.port();
    auto pub = rtev_client::connect_as(port, "pub");
    epoch = pub.subscribe("orders").at("epoch");
    // 400 publishes in flight at once; the server is killed after 250 acknowledgements, with
    // the rest still being written.
    std::string burst;
    for (int i = 0; i < 400; ++i)
      burst += ws_client::encode_frame(ws_opcode::text, json{{"type", "PUBLISH"},
                                                             {"ref", "p" + std::to_string(i)},
                                                             {"data",
                                                              {{"room", "orders"},
                                                               {"type", "order"},
                                                               {"id", "order-" + std::to_string(i)},
                                                               {"data", {{"i", i}}}}}}
                                                            .dump());
    REQUIRE(pub.ws().send_raw(burst));
    while (acked.size() < 250) {
      const json reply = pub.next_where([](const json& m) {
        return type_of(m) == "ACK" && m.at("data").value("op", "") == "PUBLISH";
      });
      acked[reply["data"]["id"]] = reply["data"]["seq"];
      top_acked = std::max<std::uint64_t>(top_acked, reply["data"]["seq"]);
    }
    srv.send_signal(SIGKILL);
    CHECK(srv.wait_exit() == std::optional<int>(128 + SIGKILL));
  }

  serve_process again({"--port", std::to_string(port), "--db", db});
  REQUIRE(again.port() == port);
  std::map<std::string, std::uint64_t> stored;
  for (const auto& e : fetch_history(port, "orders")) stored[e.at("id")] = e.at("seq");
  for (const auto& [id, seq] : acked) {
    INFO(id);
    REQUIRE(stored.count(id));
    CHECK(stored[id] == seq);
  }
  // seq continues upward, the epoch is the store's, and a retried id is not stored twice.
  const std::uint64_t before = max_stored_seq(port);
  CHECK(before >= top_acked);
  auto c = rtev_client::connect_as(port, "after");
  const json fresh = c.publish({{"room", "orders"}, {"type", "order"}, {"data", {}}});
  CHECK(fresh.at("seq").get<std::uint64_t>() > before);
  const auto [first_id, first_seq] = *acked.begin();
  CHECK(c.publish({{"room", "orders"}, {"type", "order"}, {"id", first_id}, {"data", {}}})
            .at("seq") == first_seq);
  auto [replayed, ack] =
      c.request_collect("SUBSCRIBE", {{"room", "orders"}, {"since", top_acked}, {"epoch", epoch}});
  CHECK(ack.at("data").at("recovered") == true);
  CHECK(ack.at("data").at("epoch") == epoch);
}

TEST_CASE("rtev_serve_heartbeat_closes_a_client_that_ignores_pings",
          "[server][process][heartbeat]") {
  serve_process srv(
      {"--port", "0", "--db", ":memory:", "--ping-interval", "1s", "--ping-timeout", "1s"});
  ws_options deaf;
  deaf.answer_pings = false;
  const auto start = steady::now();
  auto quiet = rtev_client::connect_as(srv.port(), "deaf", deaf);
  auto lively = rtev_client::connect_as(srv.port(), "lively");

  // Both are read in turn: the lively one answers its pings only while it reads.
  ws_message closed;
  std::optional<ws_message> lively_closed;
  const auto deadline = start + std::chrono::seconds(10);
  while (steady::now() < deadline) {
    closed = quiet.ws().recv(millis(50));
    if (closed.type == ws_message::kind::close || closed.type == ws_message::kind::eof) break;
    if (lively_closed) continue;
    ws_message m = lively.ws().recv(millis(50));
    if (m.type == ws_message::kind::close || m.type == ws_message::kind::eof) lively_closed = m;
  }
  const auto elapsed = std::chrono::duration_cast<millis>(steady::now() - start);
  CHECK((closed.type == ws_message::kind::close || closed.type == ws_message::kind::eof));
  CHECK(quiet.ws().pings_received() >= 1);
  CHECK(elapsed >= millis(1500));  // ping-interval + ping-timeout, give or take a tick
  CHECK(elapsed < millis(6000));
  // The client that answers its pings stays, two heartbeat rounds past that point.
  const auto until = steady::now() + millis(2500);
  while (!lively_closed && steady::now() < until) {
    ws_message m = lively.ws().recv(millis(100));
    if (m.type == ws_message::kind::close || m.type == ws_message::kind::eof) lively_closed = m;
  }
  INFO("the client that answered " << lively.ws().pings_received() << " ping(s) got "
                                   << (lively_closed ? lively_closed->describe() : "nothing"));
  CHECK_FALSE(lively_closed);
  CHECK(lively.ws().pings_received() >= 1);
  if (!lively_closed) CHECK(lively.request("PING", json::object()).at("type") == "PONG");
}

TEST_CASE("rtev_serve_rejects_bad_flag_values_with_exit_2_and_one_line", "[server][process]") {
  temp_dir dir;
  std::vector<std::string> args = {"serve", "--port", "0", "--db", ":memory:"};
  std::string named;  // what the message must mention

  SECTION("an unknown time zone") {
    args.insert(args.end(), {"--timezone", "Mars/Olympus_Mons"});
    named = "Mars/Olympus_Mons";
  }
  SECTION("a malformed duration") {
    args.insert(args.end(), {"--ping-interval", "10x"});
    named = "10x";
  }
  SECTION("a malformed rate") {
    args.insert(args.end(), {"--rate-limit", "fast"});
    named = "fast";
  }
  SECTION("a burst that is not a number") {
    args.insert(args.end(), {"--rate-burst", "nan"});
    named = "'nan'";
  }
  SECTION("a burst below one message") {
    args.insert(args.end(), {"--rate-burst", "0.5"});
    named = "'0.5'";
  }
  SECTION("a negative burst") {
    args.insert(args.end(), {"--rate-burst", "-1"});
    named = "'-1'";
  }
  SECTION("a rate too large to be a number") {
    args.insert(args.end(), {"--rate-limit", std::string(400, '9')});
    named = "--rate-limit";
  }
  SECTION("a negative queue length") {
    args.insert(args.end(), {"--send-queue-max", "-1"});
    named = "--send-queue-max";
  }
  SECTION("an unwritable database path") {
    std::ofstream(dir.file("plain-file")) << "not a directory";
    args[4] = dir.file("plain-file") + "/sub/events.db";
    named = "plain-file";
  }
  std::optional<held_port> busy;
  SECTION("a port in use") {
    busy.emplace();
    args[2] = std::to_string(busy->port());
    named = "in use";
  }

  const process_result r = run_rtev(args);
  INFO("stderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == std::optional<int>(2));
  CHECK(lines(r.err).size() == 1);
  CHECK(r.err.find(named) != std::string::npos);
  CHECK(r.out.find("RTEV_URL=") == std::string::npos);
}

TEST_CASE("rtev_serve_reports_a_full_disk_recovers_and_never_reuses_a_seq",
          "[server][process][storage]") {
  temp_dir dir;
  small_filesystem disk(dir.file("small"), "4m");
  if (!disk.mounted()) {
    WARN("SKIPPED: cannot mount a tmpfs to fill (" << disk.why_not()
                                                   << "); this test needs root, as in CI");
    return;
  }
  const std::string db = dir.file("small") + "/events.db";
  std::map<std::string, std::uint64_t> acked;  // id -> seq, everything acknowledged
  std::uint64_t top_acked = 0;
  std::uint16_t port;
  std::string log;
  {
    serve_process srv({"--port", "0", "--db", db, "--rate-limit", "100000/s"});
    port = srv.port();
    auto c = rtev_client::connect_as(port, "pub");
    for (int i = 0; i < 3; ++i) {
      const std::string id = "before-" + std::to_string(i);
      acked[id] =
          c.publish({{"room", "disk"}, {"type", "small"}, {"id", id}, {"data", {}}}).at("seq");
    }

    disk.fill("filler");
    const json refused = publish_until_refused(c, "full", acked);
    INFO(refused.dump());
    CHECK(type_of(refused) == "ERROR");
    CHECK(refused.at("data").at("code") == "storage_error");
    for (const auto& [id, seq] : acked) top_acked = std::max(top_acked, seq);

    // /health says so (HTTP 200: subscriptions and history still work), with SQLite's message.
    const auto health = http_get(port, "/health");
    CHECK(health.status == 200);
    const json h = health.json();
    INFO(h.dump());
    CHECK(h.at("status") == "degraded");
    const json& history = h.at("services").at("history");
    CHECK(history.at("status") == "degraded");
    CHECK(history.at("last_error").get<std::string>().find("full") != std::string::npos);
    // The announced frontier did not move past what was stored.
    CHECK(history.at("last_seq") == top_acked);
    CHECK(http_get(port, "/api/stats").json().at("last_seq") == top_acked);
    CHECK(last_seq_announced(port) == top_acked);

    // Space comes back: the next publish is stored, and the server says it recovered.
    std::filesystem::remove(dir.file("small") + "/filler");
    const json again =
        c.publish({{"room", "disk"}, {"type", "small"}, {"id", "after-space"}, {"data", {}}});
    acked["after-space"] = again.at("seq");
    CHECK(again.at("seq").get<std::uint64_t>() > top_acked);
    top_acked = again.at("seq");
    CHECK(http_get(port, "/health").json().at("status") == "ok");

    // A second episode, left failing at shutdown: the failed events' seqs must not be announced.
    disk.fill("filler");
    publish_until_refused(c, "full-again", acked);
    for (const auto& [id, seq] : acked) top_acked = std::max(top_acked, seq);
    srv.send_signal(SIGTERM);
    CHECK(srv.wait_exit(std::chrono::seconds(10)) == std::optional<int>(0));
    log = srv.stderr_text();
  }
  INFO(log);
  // Logged once per episode (not per event), with SQLite's message; recovery logged too.
  // Two episodes while publishing; the shutdown's presence events (written once the
  // checkpoint freed space) may start and end one more.
  const std::size_t failing = count_lines_with(log, "storage failing");
  CHECK(failing >= 2);
  CHECK(failing <= 3);
  CHECK(count_lines_with(log, "database or disk is full") == failing);
  // The first episode ended when space came back; the second may end at shutdown, when the
  // presence events of the closing connections fit in the space the WAL checkpoint gave back.
  const std::size_t recovered = count_lines_with(log, "storage recovered");
  CHECK(recovered >= 1);
  CHECK(recovered <= 2);

  std::filesystem::remove(dir.file("small") + "/filler");
  serve_process restarted({"--port", std::to_string(port), "--db", db});
  REQUIRE(restarted.port() == port);
  // Every acknowledged event is there with its seq, and nothing that was refused.
  std::map<std::string, std::uint64_t> stored;
  for (const auto& e : fetch_history(port, "disk")) stored[e.at("id")] = e.at("seq");
  CHECK(stored == acked);
  // The announced frontier (the "stopped" line, then /health and `authenticated` after the
  // restart) is the highest stored seq, never a failed write's; numbering goes on above it.
  const std::uint64_t top_stored = max_stored_seq(port);
  CHECK(top_stored >= top_acked);
  CHECK(field_of(log, "stopped", "last_seq") == std::to_string(top_stored));
  CHECK(http_get(port, "/health").json().at("services").at("history").at("last_seq") == top_stored);
  CHECK(last_seq_announced(port) == top_stored);
  auto c = rtev_client::connect_as(port, "after");
  const json fresh = c.publish({{"room", "disk"}, {"type", "small"}, {"data", {}}});
  CHECK(fresh.at("seq").get<std::uint64_t>() > top_stored);
}

TEST_CASE("server_config_refuses_non_finite_rates_and_bursts_below_one", "[server][config]") {
  // The CLI checks its flags first; an embedding program gets the same refusals from validate().
  rtev::server_config c;
  c.db_path = ":memory:";
  CHECK_NOTHROW(c.validate());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double burst : {nan, inf, -1.0, 0.5, 2e9}) {
    INFO("rate_burst " << burst);
    c.rate_burst = burst;
    CHECK_THROWS_WITH(c.validate(), Catch::Contains("--rate-burst"));
  }
  c.rate_burst = 0;
  for (double rate : {nan, inf, 0.0, -5.0}) {
    INFO("rate_limit " << rate);
    c.rate_limit = rate;
    CHECK_THROWS_WITH(c.validate(), Catch::Contains("--rate-limit"));
  }
}
