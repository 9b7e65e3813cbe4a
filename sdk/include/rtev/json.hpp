#pragma once
/// \file
/// The one way rtev reads JSON text that comes from outside the process (a client's message,
/// an HTTP body, a server's event, a file or a command-line argument).
///
/// nlohmann::json parses any depth, but copying, comparing or printing a value recurses once
/// per level: a 150 KB body of nested arrays is enough to run a thread out of stack. Every
/// outside input therefore goes through parse_json(), which refuses text nested deeper than
/// max_json_depth before it is parsed.
///
/// Thread safety: the functions are pure; call them from any thread.

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace rtev {

/// The deepest nesting of arrays and objects accepted from outside (`[[1]]` is depth 2).
/// 128, as serde_json's default: far beyond any event payload, far below any stack limit.
constexpr std::size_t max_json_depth = 128;

/// Whether `text` nests arrays and objects at most `limit` levels deep (strings are skipped,
/// so brackets inside them do not count). Linear, no allocation; says nothing about validity.
bool json_depth_within(std::string_view text, std::size_t limit = max_json_depth) noexcept;

/// `text` with every byte outside printable ASCII, and the backslash, written as `\xNN`: for
/// quoting outside bytes in an error message, a log line, a reply or an SSE field (never
/// invalid UTF-8, never a line break, and unambiguous).
std::string printable(std::string_view text);

/// Parses JSON from outside. On failure returns a discarded value (`is_discarded()`) and, if
/// `why` is given, stores why: "nested deeper than 128 levels" or the parser's message
/// ("syntax error while parsing value - invalid literal; last read: 'x'", quoted bytes made
/// printable()). Invalid UTF-8 in a
/// string is a failure too. Never throws.
nlohmann::json parse_json(std::string_view text, std::string* why = nullptr);

}  // namespace rtev
