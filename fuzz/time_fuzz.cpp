// RFC 3339 timestamps: rtev::time::parse_rfc3339 (naive text read in a zone chosen by the
// input's first byte, DST gaps and overlaps included) and is_naive. What parses formats back to
// text that parses to the same instant.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "rtev/error.hpp"
#include "rtev/time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const char* const zones[] = {"UTC",          "America/New_York",    "Europe/Paris",
                                      "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati"};
  if (size == 0) return 0;
  const char* zone = zones[data[0] % (sizeof zones / sizeof *zones)];
  const std::string_view text = rtev::fuzz::as_text(data + 1, size - 1);
  (void)rtev::time::is_naive(text);
  try {
    const rtev::timestamp t = rtev::time::parse_rfc3339(text, zone);
    const std::string back = rtev::time::format_rfc3339(t, zone);
    // Years outside 0000-9999 format with a sign and are not RFC 3339 (documented).
    if (back[0] != '-' && back[0] != '+' && rtev::time::parse_rfc3339(back, zone) != t)
      __builtin_trap();
    (void)rtev::time::format_datetime(t, zone);
  } catch (const rtev::parse_error&) {
  }
  return 0;
}
