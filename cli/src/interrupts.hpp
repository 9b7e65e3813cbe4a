#pragma once
// SIGINT and SIGTERM for the commands that connect (tail, subscribe, publish, replay, connect,
// health, stats, presence, bench). Both are blocked in every thread and taken by one watcher thread
// (sigwait), which records the signal, wakes whatever waits (condition variables, poll() on
// interrupt_fd()) and runs the hooks the command registered. So a signal ends a command promptly in
// every phase — connecting, backing off between attempts, waiting for replies, reading stdin —
// through the command's own code path: exit 130 (SIGINT) or 143 (SIGTERM), except where a command
// documents otherwise (`tail` without --count ends with 0 once it is following). A second signal,
// or a command still running 3 s after the first (e.g. stuck in a DNS lookup), ends the process at
// once with 128 + the signal.
//
// Thread safety: every function may be called from any thread; hooks run on the watcher thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "exit_codes.hpp"

namespace rtev::cli {

/// Starts watching. Call once, from main, before any other thread starts (threads inherit the
/// blocked signal mask; a signal that arrives earlier waits for the watcher, it is not lost).
void watch_signals();

/// The first SIGINT or SIGTERM received, or 0.
int interrupt_signal();

/// 128 + sig: 130 for SIGINT, 143 for SIGTERM.
constexpr int interrupt_exit_code(int sig) {
  return 128 + sig;
}

/// "SIGINT", "SIGTERM".
std::string signal_name(int sig);

/// A descriptor that becomes (and stays) readable once a signal has arrived, for poll(); -1
/// before watch_signals().
int interrupt_fd();

/// The command was interrupted: exit code 128 + signal, message "interrupted by SIGINT…".
struct interrupted : command_failure {
  /// `connecting`: before the command's connection was up (see connect_or_exit).
  interrupted(int sig, const std::string& context, bool connecting = false);
  bool connecting;
};

/// Throws interrupted (with `context`, e.g. " while connecting to ws://…") if a signal arrived.
void throw_if_interrupted(const std::string& context = {});

/// Sleeps `d`, or throws interrupted as soon as a signal arrives.
void pause_or_interrupt(std::chrono::microseconds d, const std::string& context = {});

/// While alive, `fn(sig)` runs on the watcher thread when a signal arrives (at once, on the
/// constructing thread, if one already has). `fn` must be quick and must not create or destroy
/// hooks. Destroying the hook waits for a call in progress.
class interrupt_hook {
 public:
  explicit interrupt_hook(std::function<void(int)> fn);
  ~interrupt_hook();
  interrupt_hook(const interrupt_hook&) = delete;
  interrupt_hook& operator=(const interrupt_hook&) = delete;

 private:
  std::uint64_t id_;
};

}  // namespace rtev::cli
