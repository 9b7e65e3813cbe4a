// HTTP publish: the body of POST /api/events through http_api::handle, with no API key
// configured (the server's default), on a hub where an anonymous WebSocket client subscribed
// to everything receives what is published.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "server_fixture.hpp"

using namespace rtev;
using namespace rtev::server_lite;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::server_fixture fx(auth_mode::none);
  connection& watcher = fx.open();
  fx.hub->authenticate(watcher, R"({"user_id":"watcher","role":"admin"})", true);
  handle_rtev_message(*fx.hub, watcher, R"({"type":"SUBSCRIBE","data":{"room":"*"}})");
  fx.settle();

  http_request req;
  req.method = "POST";
  req.path = "/api/events";
  req.body = std::string(fuzz::as_text(data, size));
  req.remote = "127.0.0.1";
  bool replied = false;
  fx.api->handle(req, [&](http_response r) {
    replied = true;
    if (r.status < 200 || r.status >= 600) __builtin_trap();
  });
  fx.settle();
  if (!replied) __builtin_trap();  // every request gets an answer once the store committed
  return 0;
}
