#pragma once
// `--since last:N`: the last N stored events of each joined room, then live. The protocol's
// `since` is a seq, a time or "beginning" (docs/protocol.md §4.3) and HISTORY pages forward
// only, so the CLI finds, per room, the seq after which exactly N events are stored — a binary
// search over `since` with HISTORY requests of N events (is there a next page?) — and
// subscribes from there: no new protocol, and no gap between the replay and live events.
//
// Thread safety: call from one thread; the client's futures are waited on.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common_options.hpp"
#include "rtev/client.hpp"

namespace rtev::cli {

/// The largest N: one HISTORY page.
constexpr std::uint64_t max_since_last = 1000;

/// N for `last:N`; nothing for another `--since` form. Throws usage_error when N is not a
/// whole number from 1 to max_since_last.
std::optional<std::uint64_t> parse_since_last(const std::string& text);

/// Whether more than N events of a room are stored after seq `since` (0: from the beginning):
/// one HISTORY request of N events, asking whether there is a next page.
using more_than_fn = std::function<bool(std::uint64_t since)>;

/// The seq after which exactly the last N stored events of a room are (0: it holds N or
/// fewer), found with `more_than`.
std::uint64_t seq_before_last(const more_than_fn& more_than);

/// For each of `opt.rooms`, the `since` of its last `n` events ("beginning" or a seq), asked
/// over a connection of its own (no presence) before the command's client subscribes. Throws
/// command_failure: 3/4 when connecting fails, 1 when the server refuses a room's history.
std::map<std::string, nlohmann::json> since_last_points(
    const common_options& common, const client_options& opt, std::uint64_t n,
    std::optional<std::chrono::steady_clock::time_point> deadline);

}  // namespace rtev::cli
