#pragma once
// The rtev CLI's documented exit codes (man rtev, docs/cli.md).

#include <stdexcept>
#include <string>

namespace rtev::cli {

enum exit_code : int {
  exit_ok = 0,
  exit_error = 1,     ///< an error, or the server rejected something
  exit_usage = 2,     ///< bad flags or input, caught before connecting
  exit_connect = 3,   ///< could not connect (time-out, retries exhausted, certificate refused)
  exit_auth = 4,      ///< authentication rejected, or a token the server requires is missing
  exit_deadline = 5,  ///< --count not reached: deadline (--timeout) or end of history (--until-end)
  // 130 / 143 (128 + SIGINT / SIGTERM): interrupted; see interrupts.hpp.
};

/// Thrown by commands for a usage problem found after parsing ("invalid duration '10x'").
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// An error that carries its exit code.
struct command_failure : std::runtime_error {
  command_failure(int exit_code, const std::string& what)
      : std::runtime_error(what), code(exit_code) {}
  int code;
};

}  // namespace rtev::cli
