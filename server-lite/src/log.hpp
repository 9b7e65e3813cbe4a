#pragma once
// A small structured logger for server-lite: one line per record on stderr, as text
// ("2024-01-15T10:30:45.123456Z INFO listening url=ws://…") or JSON. Safe from any thread
// (one write(2) per line).

#include <string>
#include <utility>
#include <vector>

namespace rtev::server_lite {

enum class log_level { error = 0, warn = 1, info = 2, debug = 3 };

class logger {
 public:
  logger(bool as_json, int verbosity) : json_(as_json), verbosity_(verbosity) {}
  using fields = std::vector<std::pair<std::string, std::string>>;
  bool enabled(log_level l) const { return static_cast<int>(l) <= 2 + verbosity_; }
  void write(log_level level, const std::string& msg, const fields& f = {}) const;

 private:
  bool json_;
  int verbosity_;
};

}  // namespace rtev::server_lite
