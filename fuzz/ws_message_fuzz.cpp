// rtev WebSocket operations: handle_rtev_message, as the server's RECEIVE callback
// calls it. The input is up to 8 messages, one per line, sent in order on three connections:
// an anonymous one (auth none), one not yet authenticated (auth jwt: it may send AUTHENTICATE),
// and one authenticated with a signed admin JWT. After each message the store commits and every
// queue is drained (replay included), as the service thread would.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "server_fixture.hpp"

using namespace rtev;
using namespace rtev::server_lite;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto messages = fuzz::split(fuzz::as_text(data, size), '\n', 8);

  fuzz::server_fixture open_hub(auth_mode::none);
  connection& anonymous = open_hub.open();
  open_hub.hub->authenticate(anonymous, "", true);

  fuzz::server_fixture jwt_hub(auth_mode::jwt);
  connection& pending = jwt_hub.open();
  connection& admin = jwt_hub.open();
  static const std::string admin_token = sign_jwt_hs256(
      R"({"sub":"fuzz-admin","roles":["admin"],"exp":4102444800})", fuzz::jwt_secret);
  jwt_hub.hub->authenticate(admin, admin_token, true);
  open_hub.settle();
  jwt_hub.settle();

  for (std::string_view m : messages) {
    for (auto [fx, id] : {std::pair{&open_hub, anonymous.id}, std::pair{&jwt_hub, pending.id},
                          std::pair{&jwt_hub, admin.id}}) {
      if (connection* c = fx->hub->find(id)) handle_rtev_message(*fx->hub, *c, m);
      fx->settle();
    }
  }
  return 0;
}
