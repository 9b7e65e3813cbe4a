#include "rtev/duration.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace rtev {
namespace {

[[noreturn]] void bad_duration(std::string_view text) {
  throw config_error("invalid duration '" + std::string(text) +
                     "': expected a number and a unit (us, ms, s, m, h, d), e.g. 500ms, 10s, "
                     "5m, 1h30m");
}

// Parses a non-negative decimal number at text[i…]; advances i. Returns false if none.
bool read_number(std::string_view text, std::size_t& i, double& out) {
  const std::size_t start = i;
  bool dot = false;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) || (text[i] == '.' && !dot))) {
    dot = dot || text[i] == '.';
    ++i;
  }
  if (i == start || (i - start == 1 && dot)) return false;
  out = std::strtod(std::string(text.substr(start, i - start)).c_str(), nullptr);
  return true;
}

}  // namespace

std::chrono::microseconds parse_duration(std::string_view text) {
  if (text == "0") return std::chrono::microseconds(0);
  if (text.empty()) bad_duration(text);
  std::size_t i = 0;
  double total_us = 0;
  while (i < text.size()) {
    double n = 0;
    if (!read_number(text, i, n)) bad_duration(text);
    const std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit == "us")
      scale = 1;
    else if (unit == "ms")
      scale = 1e3;
    else if (unit == "s")
      scale = 1e6;
    else if (unit == "m")
      scale = 60e6;
    else if (unit == "h")
      scale = 3600e6;
    else if (unit == "d")
      scale = 86400e6;
    else
      bad_duration(text);
    total_us += n * scale;
  }
  // Up to 2^53 us (~285 years) a double holds every microsecond exactly; past it the sum of
  // the parts is rounded (909s3333333331099s came out a few us off, so it did not read back
  // the same as its format_duration) and nobody means it anyway.
  if (!(total_us <= 9007199254740992.0)) bad_duration(text);
  return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(total_us)));
}

std::string format_duration(std::chrono::microseconds d) {
  std::int64_t us = d.count();
  if (us == 0) return "0s";
  std::string out;
  if (us < 0) {
    out = "-";
    us = -us;
  }
  if (us % 1000 != 0) return out + std::to_string(us) + "us";
  if (us % 1000000 != 0) return out + std::to_string(us / 1000) + "ms";
  std::int64_t s = us / 1000000;
  const std::pair<std::int64_t, const char*> units[] = {
      {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (const auto& [size, name] : units) {
    if (s >= size) {
      out += std::to_string(s / size) + name;
      s %= size;
    }
  }
  return out;
}

double parse_rate(std::string_view text) {
  auto bad = [&]() -> double {
    throw config_error("invalid rate '" + std::string(text) +
                       "': expected a positive count per unit, e.g. 100/s, 5/m, 1000/h");
  };
  std::size_t i = 0;
  double n = 0;
  if (!read_number(text, i, n) || n <= 0) return bad();
  if (i == text.size()) return n;
  if (text[i] != '/') return bad();
  const std::string_view unit = text.substr(i + 1);
  if (unit == "s") return n;
  if (unit == "m") return n / 60.0;
  if (unit == "h") return n / 3600.0;
  return bad();
}

}  // namespace rtev
