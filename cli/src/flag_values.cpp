#include "flag_values.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "exit_codes.hpp"
#include "rtev/duration.hpp"
#include "rtev/error.hpp"

namespace rtev::cli {

namespace {

std::string number_text(double v) {
  std::ostringstream out;
  out.precision(15);
  out << v;
  return out.str();
}

std::string invalid_value(const std::string& value) {
  return "invalid value '" + value + "': ";
}

}  // namespace

CLI::Validator whole_number(std::uint64_t min, std::uint64_t max) {
  const std::string accepted =
      "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [min, max, accepted](std::string& text) -> std::string {
        // strtoull would take "-1" (wrapping to 2^64-1), " 7" and "+7": digits only.
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
          return invalid_value(text) + accepted;
        // Past 20 digits it cannot fit; strtoull reports ERANGE for the rest.
        errno = 0;
        const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
        if (text.size() > 20 || errno == ERANGE || v < min || v > max)
          return invalid_value(text) + accepted;
        return {};
      },
      "");
}

CLI::Validator url_value() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (!text.empty()) return {};
        return "the URL is empty: give a ws://, wss://, http:// or https:// URL (an unset "
               "variable?), or leave the flag out to use RTEV_URL or the default";
      },
      "");
}

CLI::Validator decimal_number(double min, double max) {
  const std::string accepted =
      "expected a number from " + number_text(min) + " to " + number_text(max);
  return CLI::Validator(
      [min, max, accepted](std::string& text) -> std::string {
        // strtod also reads "nan", "inf", "0x1p3" and leading spaces: plain decimals only.
        if (text.empty() || text.find_first_not_of("0123456789.eE+-") != std::string::npos)
          return invalid_value(text) + accepted;
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(text.c_str(), &end);
        if (*end != '\0' || errno == ERANGE || !std::isfinite(v) || v < min || v > max)
          return invalid_value(text) + accepted;
        return {};
      },
      "");
}

std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text,
                                        duration_range range) {
  const std::string accepted = "expected a duration from " + format_duration(range.min) + " to " +
                               format_duration(range.max) + ", e.g. 500ms, 10s, 5m";
  std::chrono::microseconds parsed;
  try {
    parsed = parse_duration(text);
  } catch (const config_error&) {
    throw usage_error(flag + ": " + invalid_value(text) + accepted);
  }
  // Compared before rounding, so 0.5ms is not taken as 0 and 1e6d does not wrap.
  if (parsed < range.min || parsed > range.max)
    throw usage_error(flag + ": " + invalid_value(text) + accepted);
  return std::chrono::duration_cast<std::chrono::milliseconds>(parsed);
}

std::chrono::milliseconds wait_flag(const std::string& flag, const std::string& text,
                                    std::chrono::milliseconds max, const std::string& zero) {
  if (text == "0") return std::chrono::milliseconds(0);
  const std::string accepted = "expected 0 (" + zero + ") or a duration from 1ms to " +
                               format_duration(max) + ", e.g. 500ms, 5s";
  std::chrono::microseconds parsed;
  try {
    parsed = parse_duration(text);
  } catch (const config_error&) {
    throw usage_error(flag + ": " + invalid_value(text) + accepted);
  }
  if (parsed < std::chrono::milliseconds(1) || parsed > max)
    throw usage_error(flag + ": " + invalid_value(text) + accepted);
  return std::chrono::duration_cast<std::chrono::milliseconds>(parsed);
}

double rate_flag(const std::string& flag, const std::string& text, double max_per_second) {
  const std::string accepted = "expected a positive rate of at most " +
                               number_text(max_per_second) + "/s, e.g. 100/s, 5/m, 1000/h";
  double rate = 0;
  try {
    rate = parse_rate(text);
  } catch (const config_error&) {
    throw usage_error(flag + ": " + invalid_value(text) + accepted);
  }
  // A 400-digit count parses as inf: that would be "unlimited", not what was asked.
  if (!std::isfinite(rate) || !(rate > 0) || rate > max_per_second)
    throw usage_error(flag + ": " + invalid_value(text) + accepted);
  return rate;
}

}  // namespace rtev::cli
