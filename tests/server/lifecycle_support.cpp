#include "tests/server/lifecycle_support.hpp"

#include <dirent.h>

#include <fstream>
#include <string>
#include <thread>

#include "tests/support/http_client.hpp"

namespace rtev::test {

std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

std::size_t connections(std::uint16_t port) {
  return http_get(port, "/api/stats").json().at("connections").get<std::size_t>();
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

bool wait_for_connections(std::uint16_t port, std::size_t n) {
  return wait_until([&] { return connections(port) == n; });
}

}  // namespace rtev::test
