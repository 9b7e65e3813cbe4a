// A frame loop that drives the client itself: no thread of the SDK's, poll() once per frame,
// every handler on this thread (a game loop, an embedded device's main loop).
// usage: example_frame_loop URL ROOM COUNT — publishes COUNT events and prints each as it comes
// back, then how many frames that took.
#include <rtev/client.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " URL ROOM COUNT\n";
    return 2;
  }
  const std::string room = argv[2];
  const int count = std::stoi(argv[3]);
  rtev::client_options opt;
  opt.url = argv[1];
  opt.token = "frame-loop";
  opt.rooms = {room};
  rtev::client client(opt);

  // Plain variables: every handler runs inside poll(), on this thread — no locks needed.
  int received = 0;
  bool joined = false;
  auto on_joined = client.on_joined([&](const rtev::join_info&) { joined = true; });
  auto on_event = client.on("tick", [&](const rtev::event& e) {
    ++received;
    std::cout << "tick " << e.data.value("n", 0) << " seq " << e.seq.value_or(0) << std::endl;
  });
  auto on_state = client.on_state([](const rtev::state_info& s) {
    if (s.state == rtev::client_state::closed) std::cerr << "closed: " << s.reason << '\n';
  });

  long frames = 0;
  int published = 0;
  const auto frame = std::chrono::milliseconds(16);  // ~60 frames a second
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (received < count && std::chrono::steady_clock::now() < give_up) {
    const auto frame_start = std::chrono::steady_clock::now();
    // The app's own work for this frame: one publish per frame once the room is joined.
    if (joined && published < count) {
      client.publish(room, "tick", {{"n", ++published}},
                     [](const rtev::publish_ack*, const rtev::client_error* err) {
                       if (err) std::cerr << "publish failed: " << err->message << '\n';
                     });
    }
    if (!client.poll()) return 1;  // the network's turn: never waits
    ++frames;
    std::this_thread::sleep_until(frame_start + frame);  // the rest of the frame (rendering…)
  }
  std::cout << "received " << received << " in " << frames << " frames" << std::endl;
  client.stop();  // the end is reported here, on this thread
  return received == count ? 0 : 1;
}
