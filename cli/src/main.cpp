// rtev: registers the subcommands and maps errors to the documented exit codes
// (0 ok, 1 error, 2 usage, 3 could not connect, 4 authentication rejected, 5 deadline).
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "commands/bench.hpp"
#include "commands/completion.hpp"
#include "commands/connect.hpp"
#include "commands/events.hpp"
#include "commands/health.hpp"
#include "commands/presence.hpp"
#include "commands/profile.hpp"
#include "commands/publish.hpp"
#include "commands/replay.hpp"
#include "commands/serve.hpp"
#include "commands/stats.hpp"
#include "commands/tail.hpp"
#include "common_options.hpp"
#include "exit_codes.hpp"
#include "interrupts.hpp"
#include "rtev/error.hpp"
#include "terminal_line.hpp"

namespace {

// An error after the command started: on a line of its own on a terminal (not after a `^C` or a
// progress line left open).
void say_error(const char* what) {
  rtev::cli::terminal::finish_lines();
  std::cerr << "rtev: " << what << '\n';
}

int run(int argc, char** argv) {
  using namespace rtev::cli;
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe (| head) is an error on write, not a kill
  CLI::App app{"rtev: watch, test and serve real-time event streams", "rtev"};
  app.set_version_flag("--version", std::string("rtev ") + RTEV_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok, 1 error, 2 usage, 3 could not connect, 4 authentication rejected, 5 "
      "--count not reached (deadline or end of history), 130/143 interrupted (SIGINT/SIGTERM).");

  tail_options tail, subscribe;
  publish_options publish;
  replay_options replay;
  connect_options connect;
  serve_options serve;
  health_options health;
  stats_options stats;
  presence_options presence;
  events_options events;
  completion_options completion;
  profile_options profile;
  bench_options bench;
  setup_tail(app, tail);
  setup_subscribe(app, subscribe);
  setup_publish(app, publish);
  setup_replay(app, replay);
  setup_connect(app, connect);
  setup_serve(app, serve);
  setup_health(app, health);
  setup_stats(app, stats);
  setup_presence(app, presence);
  setup_events(app, events);
  setup_completion(app, completion);
  setup_profile(app, profile);
  setup_bench(app, bench);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "rtev: " << e.what() << " (see 'rtev --help')\n";
    return exit_usage;
  }

  // Before any thread starts: which terminal lines are left open (terminal_line.hpp).
  terminal::track_lines();
  try {
    // The commands that connect end promptly on SIGINT/SIGTERM in every phase (interrupts.hpp);
    // serve has its own handlers, the others finish at once anyway.
    for (const char* name : {"tail", "subscribe", "publish", "replay", "connect", "health", "stats",
                             "presence", "bench"})
      if (app.got_subcommand(name)) watch_signals();
    if (app.got_subcommand("tail")) return run_tail(tail);
    if (app.got_subcommand("subscribe")) return run_tail(subscribe);
    if (app.got_subcommand("publish")) return run_publish(publish);
    if (app.got_subcommand("replay")) return run_replay(replay);
    if (app.got_subcommand("connect")) return run_connect(connect);
    if (app.got_subcommand("serve")) return run_serve(serve);
    if (app.got_subcommand("health")) return run_health(health);
    if (app.got_subcommand("stats")) return run_stats(stats);
    if (app.got_subcommand("presence")) return run_presence(presence);
    if (app.got_subcommand("events")) return run_events(events);
    if (app.got_subcommand("completion")) return run_completion(app, completion);
    if (app.got_subcommand("profile")) return run_profile(app, profile);
    if (app.got_subcommand("bench")) return run_bench(bench);
  } catch (const usage_error& e) {
    say_error(e.what());
    return exit_usage;
  } catch (const command_failure& e) {
    say_error(e.what());
    return e.code;
  } catch (const std::exception& e) {
    say_error(e.what());
    return exit_error;
  }
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  // Setting up the commands can throw too (CLI11 checks option names as they are added).
  try {
    const int code = run(argc, argv);
    // The shell's prompt starts at column 0 (bash does not end a line itself for a command that
    // exits rather than dies of the signal).
    rtev::cli::terminal::finish_lines();
    return code;
  } catch (const std::exception& e) {
    std::cerr << "rtev: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "rtev: unexpected error\n";
  }
  return rtev::cli::exit_error;
}
