#include "log.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "rtev/time.hpp"

namespace rtev::server_lite {

void logger::write(log_level level, const std::string& msg, const fields& f) const {
  if (!enabled(level)) return;
  static const char* names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
  const std::string ts = rtev::time::format_rfc3339(rtev::time::now(), "UTC");
  std::string line;
  if (json_) {
    nlohmann::json j = {{"ts", ts}, {"level", names[static_cast<int>(level)]}, {"msg", msg}};
    for (const auto& [k, v] : f) j[k] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = ts + " " + names[static_cast<int>(level)] + " " + msg;
    for (const auto& [k, v] : f) {
      const bool quote = v.find_first_of(" \"=") != std::string::npos || v.empty();
      line += " " + k + "=" + (quote ? nlohmann::json(v).dump() : v);
    }
  }
  line += '\n';
  // One write per line so lines from several threads never interleave.
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;
}

}  // namespace rtev::server_lite
