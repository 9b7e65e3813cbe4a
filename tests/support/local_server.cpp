#include "tests/support/local_server.hpp"

namespace rtev::test {

rtev::server_config test_config() {
  rtev::server_config c;
  c.host = "127.0.0.1";
  c.port = 0;
  c.db_path = ":memory:";
  c.rate_limit = 100000;
  c.log_format = "text";
  return c;
}

local_server::local_server(rtev::server_config config)
    : server_(std::make_unique<rtev::server>(std::move(config))) {
  server_->start();
}

local_server::~local_server() {
  server_->stop();
}

}  // namespace rtev::test
