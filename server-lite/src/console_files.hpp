#pragma once
// The browser console's static files (console/), compiled into the binary at build time by
// cmake/rtev_embed_files.cmake, and how request paths map to them (docs/console.md).
//
// Threads: immutable data; any thread.

#include <cstddef>
#include <string_view>

namespace rtev::server_lite {

struct console_file {
  const char* path;          ///< "/console/index.html"
  const char* content_type;  ///< "text/html; charset=utf-8"
  const unsigned char* data;
  std::size_t size;
};

/// Every embedded file (defined in the generated console_assets.cpp).
extern const console_file console_files[];
extern const std::size_t console_file_count;

/// The file `path` names: `/`, `/console` and `/console/` are the page, `/console/<name>` a
/// file by its name. nullptr for anything else (the HTTP API's routes, unknown names).
const console_file* find_console_file(std::string_view path);

}  // namespace rtev::server_lite
