#include "console_files.hpp"

namespace rtev::server_lite {

const console_file* find_console_file(std::string_view path) {
  if (path == "/" || path == "/console" || path == "/console/") path = "/console/index.html";
  for (std::size_t i = 0; i < console_file_count; ++i)
    if (path == console_files[i].path) return &console_files[i];
  return nullptr;
}

}  // namespace rtev::server_lite
