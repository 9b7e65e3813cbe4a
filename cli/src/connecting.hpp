#pragma once
// Connecting a client for a command: connect_or_exit() starts it and waits at most the
// connect time-out (or the command's deadline), ending with the documented exit code (3 could
// not connect, 4 authentication rejected, 130/143 interrupted) and a message that says why.
#include <chrono>
#include <optional>
#include <string>

#include "common_options.hpp"
#include "rtev/client.hpp"

namespace rtev::cli {

/// After a refused certificate's sentence: the way out (": use --ca-file FILE or --insecure";
/// for a certificate issued for another name, ": connect by that name, or use --insecure").
std::string certificate_advice(const std::string& problem);

/// Starts `c` and waits until it is connected, at most the connect time-out. Throws
/// command_failure with exit code 3 (could not connect) or 4 (authentication rejected).
/// `deadline` (a command's total --timeout) cuts the wait shorter.
void connect_or_exit(client& c, const common_options& opt,
                     std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

}  // namespace rtev::cli
