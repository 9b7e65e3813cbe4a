#pragma once
// `rtev serve` as a child process for tests: spawned with posix_spawn, ready when its
// `RTEV_URL=…` line appears on stdout (waited for with poll and a deadline, never a sleep),
// stopped with a signal of the test's choosing, restartable on the same port.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/tcp_stream.hpp"

namespace rtev::test {

/// Path of the rtev binary under test (the RTEV_BINARY compile definition).
std::string rtev_binary();

/// How a finished process ended.
struct process_result {
  std::optional<int> exit_code;  ///< set when it exited normally
  int signal = 0;                ///< the signal that killed it, if any
  bool timed_out = false;        ///< killed by the helper because it ran too long
  std::string out, err;          ///< everything it wrote to stdout and stderr
};

/// Runs `rtev args…` to completion (stdin is /dev/null). `env` adds or replaces variables
/// ("NAME=value").
process_result run_rtev(const std::vector<std::string>& args, millis timeout = default_timeout,
                        const std::vector<std::string>& env = {});

class serve_process {
 public:
  /// Starts `rtev serve args…` and waits until it prints its RTEV_URL line. Throws
  /// std::runtime_error (with the child's stderr) if it exits or is not ready within `timeout`.
  explicit serve_process(std::vector<std::string> args, std::vector<std::string> env = {},
                         millis timeout = default_timeout);
  /// Kills the child (SIGKILL) if it is still running.
  ~serve_process();
  serve_process(const serve_process&) = delete;
  serve_process& operator=(const serve_process&) = delete;

  /// The line the server printed: "RTEV_URL=ws://HOST:PORT/events/ws/connect".
  const std::string& ready_line() const { return ready_line_; }
  /// The port from ready_line().
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  void send_signal(int sig);
  /// Waits for the child to end: its exit code, or 128 + signal; nullopt on time-out.
  std::optional<int> wait_exit(millis timeout = default_timeout);
  /// Kills it with SIGKILL and reaps it.
  void kill_now();
  bool running() const { return pid_ > 0 && !status_; }

  /// stdout read so far, and the whole stderr (read from its file).
  const std::string& stdout_text() const { return out_; }
  std::string stderr_text() const;

 private:
  temp_dir dir_;  // holds the stderr file
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string out_;
  std::string ready_line_;
  std::uint16_t port_ = 0;
  std::optional<int> status_;  // set once reaped
};

}  // namespace rtev::test
