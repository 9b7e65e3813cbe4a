#pragma once
// The `pretty` output format's lines: time, type, room, #seq (or the id of an event without one)
// and the compact payload, in columns that line up from one event to the next.
//
// Each column is as wide as its widest value so far, up to a cap: a long value widens its column
// for the lines after it, and one past the cap (a 60-character type) pushes only its own line.
// Widths count UTF-8 code points, not bytes. Colours (ANSI escapes) are added around the padded
// text, so they never count towards a width.
//
// Thread safety: distinct objects are safe; one object is not (its widths change per line).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "rtev/time.hpp"

namespace rtev::cli {

/// `2024-01-15 10:30:45.123`: the wall clock in `zone`, to the millisecond (truncated), always
/// 23 characters for years 0000-9999. Throws unknown_zone_error.
std::string format_clock_ms(timestamp t, std::string_view zone);

/// Code points in UTF-8 `text` (the width of a column's value).
std::size_t display_width(std::string_view text);

/// One line's fields, as text (the time already formatted).
struct pretty_fields {
  std::string time, type, room;
  std::string position;         ///< "#42", an id, or empty
  std::string data;             ///< compact JSON
  const char* type_color = "";  ///< an ANSI colour for the type ("" for none)
};

class pretty_columns {
 public:
  /// Largest widths a column grows to.
  static constexpr std::size_t max_time = 32, max_type = 24, max_room = 20, max_position = 14;

  explicit pretty_columns(bool color) : color_(color) {}
  /// The line for `f` (without a newline); widens the columns for the lines after it.
  std::string line(const pretty_fields& f);

 private:
  bool color_;
  std::size_t time_ = 0, type_ = 0, room_ = 0, position_ = 0;
};

}  // namespace rtev::cli
