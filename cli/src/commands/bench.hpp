#pragma once
// `rtev bench`: load-test a server the way `nats bench` does — N subscribers (rtev WebSocket,
// SSE or Socket.IO) over K rooms, M publishers over rtev WebSocket, open loop at --rate or as
// fast as ACKs allow — and report events published/s and delivered/s, publish→receive latency
// percentiles, errors, the server's own /api/stats and whether the bench itself was the
// bottleneck. `--connections N --idle` opens N idle connections instead.
// The measuring is in bench_run.hpp; this file pair parses flags and prints the report.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "common_options.hpp"

namespace rtev::cli {

struct bench_options {
  common_options common;
  std::uint64_t subscribers = 10, publishers = 1, rooms = 1, size = 200, window = 20;
  std::optional<std::uint64_t> connections;
  std::string duration = "5s", warmup = "1s", rate = "max", server_kind = "rtev";
  bool idle = false, json = false;
};

void setup_bench(CLI::App& app, bench_options& opt);
int run_bench(bench_options& opt);

}  // namespace rtev::cli
