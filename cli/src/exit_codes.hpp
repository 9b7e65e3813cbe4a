#pragma once

#include <stdexcept>
// The rtev CLI's documented exit codes (man rtev, docs/cli.md).

namespace rtev::cli {

enum exit_code : int {
  exit_ok = 0,
  exit_error = 1,     ///< an error, or the server rejected something
  exit_usage = 2,     ///< bad flags or input, caught before connecting
  exit_connect = 3,   ///< could not connect (time-out or retries exhausted)
  exit_auth = 4,      ///< authentication rejected
  exit_deadline = 5,  ///< deadline reached before the expected events arrived
};

/// Thrown by commands for a usage problem found after parsing ("invalid duration '10x'").
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace rtev::cli
