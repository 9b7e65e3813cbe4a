#pragma once
// Profiles: named url/token/tz/protocol sets in ${XDG_CONFIG_HOME:-~/.config}/rtev/config.json
//   {"current": "dev", "profiles": {"dev": {"url": …, "token": …, "tz": …, "protocol": …}}}

#include <map>
#include <optional>
#include <string>

namespace rtev::cli {

struct profile_entry {
  std::string url, token, tz;
  std::string protocol;  ///< rtev, sse, socketio; empty: inferred from the URL
};

std::string config_path();
std::optional<profile_entry> find_profile(const std::string& name);
/// The profile marked current, if any.
std::optional<profile_entry> current_profile();

struct profile_store {
  std::string current;
  std::map<std::string, profile_entry> profiles;
  static profile_store load();  // throws usage_error for an unreadable / malformed file
  void save() const;            // atomic replace; throws std::runtime_error
};

}  // namespace rtev::cli
