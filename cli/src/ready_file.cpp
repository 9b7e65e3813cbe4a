#include "ready_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <system_error>

#include "exit_codes.hpp"

namespace rtev::cli {

namespace {

std::string temp_name(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

}  // namespace

void prepare_ready_file(const std::string& flag, const std::string& path) {
  if (path.empty()) throw usage_error(flag + ": the file name is empty");
  if (std::remove(path.c_str()) != 0 && errno != ENOENT)
    throw usage_error(flag + ": cannot remove the old '" + path +
                      "': " + std::generic_category().message(errno));
  const std::string probe = temp_name(path);
  {
    std::ofstream f(probe, std::ios::trunc);
    if (!f)
      throw usage_error(flag + ": cannot create a file next to '" + path +
                        "': " + std::generic_category().message(errno));
  }
  std::remove(probe.c_str());
}

bool write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = temp_name(path);
  std::ofstream f(tmp, std::ios::trunc);
  f << text;
  f.close();
  if (!f || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    std::remove(tmp.c_str());
    errno = saved;
    return false;
  }
  return true;
}

}  // namespace rtev::cli
