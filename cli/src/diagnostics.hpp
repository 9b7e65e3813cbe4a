#pragma once
// The CLI's own lines on stderr ("rtev: …"): note() unless -q, debug() only with -v.
#include <string>

#include "common_options.hpp"

namespace rtev::cli {

/// Diagnostics on stderr, prefixed "rtev: ", unless quiet.
void note(const common_options& opt, const std::string& line);
/// Only with -v.
void debug(const common_options& opt, const std::string& line);

}  // namespace rtev::cli
