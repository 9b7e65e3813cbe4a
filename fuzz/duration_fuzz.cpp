// Durations and rates as typed on a command line: rtev::parse_duration and parse_rate. A parsed
// duration formats to text that parses back to the same value.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "rtev/duration.hpp"
#include "rtev/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = rtev::fuzz::as_text(data, size);
  try {
    const auto d = rtev::parse_duration(text);
    if (d.count() >= 0 && rtev::parse_duration(rtev::format_duration(d)) != d) __builtin_trap();
  } catch (const rtev::config_error&) {
  }
  try {
    const double r = rtev::parse_rate(text);
    if (!(r > 0)) __builtin_trap();  // documented: a rate is positive
  } catch (const rtev::config_error&) {
  }
  return 0;
}
