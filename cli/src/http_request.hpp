#pragma once
// A small blocking HTTP/1.1 client for the CLI's HTTP uses (health, publish --http, replay
// --from-server). Plain http:// only; https:// is refused with a clear message.

#include <chrono>
#include <string>
#include <vector>

namespace rtev::cli {

struct http_result {
  int status = 0;
  std::string body;
};

/// Throws std::runtime_error("cannot connect to …") when the server is unreachable, and
/// usage_error for an https:// or malformed URL.
http_result http_fetch(const std::string& method, const std::string& url, const std::string& body,
                       const std::vector<std::string>& headers, std::chrono::milliseconds timeout);

/// Percent-encodes a query value.
std::string url_encode(const std::string& s);

}  // namespace rtev::cli
