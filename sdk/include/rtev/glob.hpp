#pragma once
/// \file
/// Glob matching for room and type patterns: `*` matches any run of characters (`:` included);
/// every other character matches itself, case-sensitively. Linear-time backtracking, no
/// recursion: safe on hostile patterns. Thread safety: pure function.

#include <string_view>

namespace rtev {

/// True when `text` matches `pattern` (`message_*`, `contact:*`, `*:7`, `*`).
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

/// True when `pattern` contains a `*`.
inline bool is_glob(std::string_view pattern) noexcept {
  return pattern.find('*') != std::string_view::npos;
}

}  // namespace rtev
