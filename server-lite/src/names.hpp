#pragma once
// The names that enter the hub from outside — event types and room names, and the globs that
// match them — and the one rule for each (docs/protocol.md §4.2, "Names"):
//
//   room        1..128 of A-Z a-z 0-9 _ : . @ -
//   event type  1..128 of A-Z a-z 0-9 _ : . @ -
//   patterns    the same, plus `*` (SUBSCRIBE rooms and types, SSE ?rooms= and ?types=,
//               HISTORY and /api/history types, JWT rooms claims)
//
// Nothing else — no spaces, quotes, backslashes, control characters or non-ASCII bytes — so a
// name can go into an SSE `event:` line, a Prometheus label or a log line as it is.
// Pure functions: safe from any thread.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rtev::server_lite {

enum class name_kind { room, room_pattern, type, type_pattern };

/// The longest room name or event type.
constexpr std::size_t max_name_chars = 128;

/// Why `text` is not a valid name of `kind`, empty if it is. Messages say what is wrong and
/// what is allowed: "contains a control character (U+000A); allowed: 1 to 128 of A-Z a-z 0-9
/// _ : . @ -".
std::string name_problem(std::string_view text, name_kind kind);

/// Throws rtev::parse_error(path, name_problem(…)) when `text` is not a valid name of `kind`.
void require_name(const std::string& path, std::string_view text, name_kind kind);
/// The same for every entry of a list; the path of an entry is "<path>[i]".
void require_names(const std::string& path, const std::vector<std::string>& list, name_kind kind);

/// Room names: 1..128 of [A-Za-z0-9_:.@-]. A pattern may also contain '*'.
bool is_valid_room(std::string_view room);
bool is_valid_room_pattern(std::string_view pattern);

}  // namespace rtev::server_lite
