#pragma once
// Numeric and duration flag values, checked in one place: every whole-number, decimal, duration
// and rate flag of every command goes through these, so "-1", "nan", "inf", "1.5", "", a
// 400-digit number or a value past what the flag can use is refused the same way — exit 2 with
// one line naming the flag, the value and what is accepted:
//   rtev: --count: invalid value '-1': expected a whole number from 1 to 1000000000
//
// Thread safety: pure functions (the validators hold only their bounds).

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace rtev::cli {

/// Decimal digits only (no sign, fraction, exponent or spaces) within [min, max]. For
/// `->check(...)` on an integer option: CLI11 runs it on the text before converting.
CLI::Validator whole_number(std::uint64_t min, std::uint64_t max);

/// A URL argument (--url, `tail URL`, `connect URL`): refuses an empty value, which would
/// otherwise fall back to RTEV_URL or the default server — `--url "$UNSET_VARIABLE"` must not
/// quietly test another server. The scheme is checked later, with the protocol.
CLI::Validator url_value();

/// A finite decimal number (no nan/inf, no hex) within [min, max], for `->check(...)`.
CLI::Validator decimal_number(double min, double max);

/// Accepted range of a duration flag.
struct duration_range {
  std::chrono::milliseconds min{1};
  std::chrono::milliseconds max{std::chrono::hours(24 * 365)};
};

/// A duration flag ("10s", "500ms", "1h30m") within `range`; throws usage_error naming the flag,
/// the value and the accepted range.
std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text,
                                        duration_range range = {});

/// A wait flag: `0` (what it means for this flag: `zero`, e.g. "no wait") or a duration from
/// 1 ms (so 500us is refused, not quietly 0) to `max`; throws usage_error naming the flag, the
/// value and both forms.
std::chrono::milliseconds wait_flag(const std::string& flag, const std::string& text,
                                    std::chrono::milliseconds max, const std::string& zero);

/// A rate flag ("100/s", "5/m", "1000/h", or per second) of at most `max_per_second`; throws
/// usage_error naming the flag, the value and what is accepted.
double rate_flag(const std::string& flag, const std::string& text, double max_per_second = 1e9);

}  // namespace rtev::cli
