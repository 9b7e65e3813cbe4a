#pragma once
// `rtev replay FILE|-`: publish a recorded JSONL stream again, keeping the original gaps
// between events (--speed, --loop, --room, --dry-run). `--from-server` prints stored history.
#include <CLI/CLI.hpp>
#include "common_options.hpp"
#include "output.hpp"
namespace rtev::cli {
struct replay_options {
  common_options common;
  output_options out;
  std::string file, speed = "1", room, since, until;
  bool loop = false, dry_run = false, from_server = false, keep_ids = false, http = false;
};
void setup_replay(CLI::App& app, replay_options& opt);
int run_replay(replay_options& opt);
}  // namespace rtev::cli
