// Typing indicator: alice types in a room, bob sees typing_indicator events (not stored).
// usage: example_typing_indicator URL
#include <rtev/client.hpp>
#include <rtev/events.hpp>

#include <future>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " URL\n";
    return 2;
  }
  auto make = [&](const char* user) {
    rtev::client_options opt;
    opt.url = argv[1];
    opt.token = user;
    opt.rooms = {"conversation:1"};
    return opt;
  };
  rtev::client alice(make("alice")), bob(make("bob"));
  std::promise<void> started, stopped;
  auto sub = bob.on<rtev::events::typing_indicator>(
      [&](const rtev::events::typing_indicator& t, const rtev::event&) {
        std::cout << rtev::to_string(t.user_id) << (t.is_typing ? " is typing" : " stopped typing")
                  << std::endl;
        (t.is_typing ? started : stopped).set_value();
      });
  alice.start();
  bob.start();
  alice.connected().get();
  bob.connected().get();
  // The SUBSCRIBE ACK round trip tells us bob's room is joined before alice types.
  bob.history("conversation:1").get();
  alice.history("conversation:1").get();
  alice.typing("conversation:1", true);
  started.get_future().get();
  alice.typing("conversation:1", false);
  stopped.get_future().get();
  return 0;
}
