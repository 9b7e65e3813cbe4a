#pragma once
// An in-process rtev::server for tests: 127.0.0.1, a free port, an in-memory store unless the
// test says otherwise, started on construction and stopped on destruction.

#include <cstdint>
#include <memory>

#include "rtev/server/server.hpp"

namespace rtev::test {

/// Defaults for tests: port 0, ":memory:", quiet logs, and a rate limit high enough that only
/// the tests about rate limiting ever meet it.
rtev::server_config test_config();

class local_server {
 public:
  explicit local_server(rtev::server_config config = test_config());
  ~local_server();
  local_server(const local_server&) = delete;
  local_server& operator=(const local_server&) = delete;

  std::uint16_t port() const { return server_->port(); }
  rtev::server& get() { return *server_; }
  /// Stops now (clients get 1001); the destructor then has nothing left to do.
  void stop() { server_->stop(); }

 private:
  std::unique_ptr<rtev::server> server_;
};

}  // namespace rtev::test
