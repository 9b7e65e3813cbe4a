#pragma once
// How far apart two names are, for "did you mean" suggestions (time zones, event types).
//
// Thread safety: a pure function; safe from any thread.

#include <cstddef>
#include <string_view>

namespace rtev::detail {

/// Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions: a
/// swap of two neighbouring characters is one edit), giving up early with `limit + 1` once
/// every alignment exceeds `limit`.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t limit);

}  // namespace rtev::detail
