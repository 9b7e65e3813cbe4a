#include "rtev/error.hpp"

#include <string>
#include <utility>
#include <vector>

namespace rtev {
namespace {

std::string unknown_zone_message(const std::string& zone,
                                 const std::vector<std::string>& suggestions) {
  std::string msg = "unknown time zone '" + zone + "'";
  if (suggestions.empty()) return msg + "; expected an IANA name such as 'Europe/Paris'";
  msg += " \u2014 did you mean ";
  for (std::size_t i = 0; i < suggestions.size(); ++i) {
    if (i > 0) msg += i + 1 == suggestions.size() ? " or " : ", ";
    msg += "'" + suggestions[i] + "'";
  }
  return msg + "?";
}

}  // namespace

unknown_zone_error::unknown_zone_error(std::string zone, std::vector<std::string> suggestions)
    : error(unknown_zone_message(zone, suggestions)),
      zone_(std::move(zone)),
      suggestions_(std::move(suggestions)) {}

}  // namespace rtev
