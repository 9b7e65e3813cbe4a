#pragma once
/// \file
/// Exceptions and error codes shared by the whole SDK.

#include <stdexcept>
#include <string>
#include <vector>

namespace rtev {

/// Base of every exception the SDK throws.
struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Input that does not match what rtev expects (JSON envelopes, timestamps, typed payloads).
/// `what()` starts with the field path: "event.timestamp: expected an RFC 3339 string, got number".
struct parse_error : error {
  parse_error(std::string path, const std::string& message)
      : error(path.empty() ? message : path + ": " + message), path_(std::move(path)) {}
  /// The dotted path of the offending field ("event.timestamp", "data.user_id"); may be empty.
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

/// A name that is not an IANA time zone known to the tz database.
/// `what()`: "unknown time zone 'Europe/Pari' — did you mean 'Europe/Paris'?"
struct unknown_zone_error : error {
  unknown_zone_error(std::string zone, std::vector<std::string> suggestions);
  const std::string& zone() const noexcept { return zone_; }
  /// The nearest valid zone names, best first (may be empty).
  const std::vector<std::string>& suggestions() const noexcept { return suggestions_; }

 private:
  std::string zone_;
  std::vector<std::string> suggestions_;
};

/// A configuration value outside its accepted range (a backoff policy with multiplier < 1, …).
struct config_error : error {
  using error::error;
};

}  // namespace rtev
