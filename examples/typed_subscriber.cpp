// Typed subscriber: joins a room and prints every message_sent as its C++ struct.
// usage: example_typed_subscriber URL [ROOM] [COUNT]   (exits after COUNT events, default 3)
#include <rtev/client.hpp>
#include <rtev/events.hpp>

#include <condition_variable>
#include <future>
#include <iostream>
#include <mutex>
#include <utility>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " URL [ROOM] [COUNT]\n";
    return 2;
  }
  rtev::client_options opt;
  opt.url = argv[1];
  opt.rooms = {argc > 2 ? argv[2] : "lobby"};
  const int wanted = argc > 3 ? std::stoi(argv[3]) : 3;
  rtev::client client(opt);

  std::mutex m;
  std::condition_variable cv;
  int seen = 0;
  auto sub = client.on<rtev::events::message_sent>(
      [&](const rtev::events::message_sent& msg, const rtev::event& e) {
        std::cout << "message_sent #" << *e.seq << " from " << msg.sender_name.value_or("?") << ": "
                  << msg.message_text.value_or("") << std::endl;
        std::lock_guard<std::mutex> lock(m);
        ++seen;
        cv.notify_all();
      });
  client.on_error(
      [](const rtev::client_error& err) { std::cerr << "error: " << err.message << '\n'; });
  // Scripts wait for "ready": printed once the room is joined, so nothing published after it
  // is missed (connected() alone comes before the server has processed the join).
  std::promise<void> joined;
  auto joins = client.on_joined([&, once = true](const rtev::join_info&) mutable {
    if (std::exchange(once, false)) joined.set_value();
  });
  client.start();
  joined.get_future().get();
  std::cout << "ready" << std::endl;
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return seen >= wanted; });
  return 0;
}
