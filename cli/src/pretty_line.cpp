#include "pretty_line.hpp"

#include <cstdio>

namespace rtev::cli {

namespace {

// Grows `width` to the value's, up to `cap`.
std::size_t widen(std::size_t& width, std::size_t value, std::size_t cap) {
  if (value > width) width = value < cap ? value : cap;
  return width;
}

// `text` followed by spaces up to `width` (none when it is already as wide).
std::string padded(const std::string& text, std::size_t width) {
  const std::size_t w = display_width(text);
  return w >= width ? text : text + std::string(width - w, ' ');
}

}  // namespace

std::string format_clock_ms(timestamp t, std::string_view zone) {
  const time::zoned_time z = time::to_zone(t, zone);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02u:%02u:%02u.%03u", z.year, z.month, z.day,
                z.hour, z.minute, z.second, z.microsecond / 1000);
  return buf;
}

std::size_t display_width(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;  // not a continuation byte
  return n;
}

std::string pretty_columns::line(const pretty_fields& f) {
  const std::string reset = color_ ? "\033[0m" : "";
  const std::string dim = color_ ? "\033[2m" : "";
  const std::string bold = color_ ? "\033[1m" : "";
  const std::size_t time_w = widen(time_, display_width(f.time), max_time);
  const std::size_t type_w = widen(type_, display_width(f.type), max_type);
  const std::size_t room_w = widen(room_, display_width(f.room), max_room);
  const std::size_t pos_w = widen(position_, display_width(f.position), max_position);
  std::string out = dim + padded(f.time, time_w) + reset + "  ";
  out += (color_ ? f.type_color : "") + bold + f.type + reset;
  out += std::string(type_w > display_width(f.type) ? type_w - display_width(f.type) : 0, ' ');
  out += "  " + padded(f.room, room_w);
  // No column for positions until an event has one (rtev's events all do; a foreign server's
  // may have none).
  if (pos_w > 0) out += "  " + dim + padded(f.position, pos_w) + reset;
  out += "  " + f.data;
  return out;
}

}  // namespace rtev::cli
