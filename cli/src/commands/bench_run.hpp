#pragma once
// `rtev bench`'s measurement: one thread, one epoll loop over non-blocking connections
// (bench_conn), publishers sending pre-built PUBLISH frames over rtev WebSocket and subscribers
// on rtev WebSocket, SSE or Socket.IO finding the send time in each event with a string scan —
// or, for the side-by-side peers, NATS over WebSocket (bench_nats.hpp) or a plain WebSocket
// broadcast server (bench_server below).
//
//   setup     connect everything (at most 256 handshakes at a time), subscribe, wait for ACKs
//   warm-up   publish; nothing counted
//   measure   publish for --duration; events sent in it are counted when ACKed and delivered
//   drain     no more sends; wait (at most 5 s) for their ACKs and deliveries
//
// Several nodes of one cluster (--url A,B,…): subscriber i connects to node i % N, publisher j
// to node j % N (so one publisher is on the first node and its events cross to the others),
// idle connection k to node k % N; all of them in the one run and the one report.
//
// Thread safety: runs on the calling thread; nothing shared.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands/bench_conn.hpp"
#include "commands/bench_histogram.hpp"
#include "rtev/client.hpp"

namespace rtev::cli {

/// What kind of server is measured. rtev: rtev serve (or any server of rtev's protocols; the
/// publishers speak rtev WebSocket). The other two are the side-by-side peers
/// (bench/side-by-side): nats — nats-server's WebSocket listener, rooms are subjects, a
/// publish is PUB + PING and its PONG the acknowledgement; ws_broadcast — a plain WebSocket
/// broadcast server (bench/peers/ws_broadcast.js): `?role=sub` connections receive what
/// `?role=pub` connections send, each publish answered by one frame to its sender.
enum class bench_server { rtev, nats, ws_broadcast };

struct bench_plan {
  std::vector<bench_address> nodes;  ///< one per node; connections spread as above
  bench_server server = bench_server::rtev;
  wire_protocol protocol = wire_protocol::rtev;
  std::string ws_path = "/events/ws/connect";  ///< rtev WebSocket door (publishers, rtev subs)
  std::string sse_path = "/api/events";        ///< with its query, if the URL had one
  std::string sio_path = "/socket.io/";
  std::string nsp = "/";
  std::string token;
  std::uint64_t subscribers = 0, publishers = 0, rooms = 1, size = 200, window = 20;
  std::uint64_t idle = 0;  ///< --connections N --idle: only these, held for the duration
  double rate = 0;         ///< events/s over all publishers; 0 = as fast as ACKs allow
  std::chrono::nanoseconds warmup{0}, duration{0};
  std::chrono::milliseconds connect_timeout{10000};
  bool progress = true;  ///< one line a second on stderr
  /// Called after the drain, with every connection still open (the server's stats then count
  /// them).
  std::function<void()> before_closing;
};

struct bench_result {
  std::uint64_t published = 0;  ///< ACKed publishes sent in the measured window
  std::uint64_t delivered = 0;  ///< deliveries of those
  std::uint64_t expected = 0;   ///< published × subscribers of its room
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> error_kinds;
  std::unique_ptr<latency_histogram> latency = std::make_unique<latency_histogram>();
  std::uint64_t connections = 0;  ///< open at the end of setup
  double setup_seconds = 0;       ///< time to open (and subscribe) every connection
  double measured_seconds = 0;    ///< wall time of the measured window
  double cpu_seconds = 0;         ///< this process's user + system CPU in that window
  bool drained = true;            ///< every ACK and delivery arrived before the drain limit
};

/// Runs the plan. Throws command_failure (3 could not connect, 4 authentication rejected, 1 a
/// server that refused the setup) and interrupted on SIGINT/SIGTERM.
bench_result run_bench_plan(const bench_plan& plan);

}  // namespace rtev::cli
