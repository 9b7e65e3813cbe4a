#pragma once
// `rtev connect [URL]`: an interactive session. Incoming messages are printed; typed lines are
// sent — raw JSON, or /sub ROOM, /unsub ROOM, /pub TYPE JSON, /typing ROOM on|off, /ping,
// /history ROOM, /quit. With stdin not a terminal: lines are read once connected, sent, and
// the command exits when stdin ends and every reply is in. With --protocol socketio the lines
// are Socket.IO's (/emit, /emit-ack, ["NAME", …], raw packets, /sub, /pub, /typing); over SSE
// the session is receive-only; to a WebSocket server that does not speak rtev's protocol every
// line is sent as it is.
#include <CLI/CLI.hpp>
#include "common_options.hpp"
#include "output.hpp"
namespace rtev::cli {
struct connect_options {
  common_options common;
  output_options out;
  std::string url_arg, reply_timeout = "10s";
};
void setup_connect(CLI::App& app, connect_options& opt);
int run_connect(connect_options& opt);
}  // namespace rtev::cli
