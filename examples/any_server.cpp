// One client, three wires: follows a room over rtev WebSocket, Server-Sent Events or Socket.IO
// and prints each event with what the lenient reader had to fill in (foreign servers rarely send
// rtev's full envelope). Over Socket.IO it also publishes once and waits for the ack.
// usage: example_any_server rtev|sse|socketio URL ROOM [COUNT]   (exits after COUNT events)
//   example_any_server sse http://127.0.0.1:8000/api/events lobby
//   example_any_server socketio http://127.0.0.1:8000 lobby
#include <rtev/client.hpp>

#include <condition_variable>
#include <future>
#include <iostream>
#include <mutex>
#include <string>
#include <utility>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " rtev|sse|socketio URL ROOM [COUNT]\n";
    return 2;
  }
  const std::string proto = argv[1];
  rtev::client_options opt;
  if (proto == "sse")
    opt.protocol = rtev::wire_protocol::sse;
  else if (proto == "socketio")
    opt.protocol = rtev::wire_protocol::socketio;
  else if (proto != "rtev") {
    std::cerr << "unknown protocol '" << proto << "': expected rtev, sse or socketio\n";
    return 2;
  }
  opt.url = argv[2];
  opt.rooms = {argv[3]};  // rtev: SUBSCRIBE; SSE: ?rooms=; Socket.IO: emit("join", {room})
  const int wanted = argc > 4 ? std::stoi(argv[4]) : 3;
  rtev::client client(opt);  // throws rtev::config_error for a URL that does not fit

  std::mutex m;
  std::condition_variable cv;
  int seen = 0;
  auto sub = client.on("*", [&](const rtev::event& e) {
    if (e.type == "authenticated" || e.type.rfind("user_", 0) == 0) return;  // handshake, presence
    std::cout << "event " << e.type << ' ' << e.data.dump();
    for (const auto& note : e.filled_in) std::cout << " [" << note << ']';
    std::cout << std::endl;
    std::lock_guard<std::mutex> lock(m);
    ++seen;
    cv.notify_all();
  });
  client.on_error(
      [](const rtev::client_error& err) { std::cerr << "error: " << err.message << '\n'; });
  // "ready" once the room is joined (rtev serve answers every join; a foreign Socket.IO server
  // may never acknowledge one — then connected() is all there is to wait for).
  std::promise<void> joined;
  auto joins = client.on_joined([&, once = true](const rtev::join_info&) mutable {
    if (std::exchange(once, false)) joined.set_value();
  });
  client.start();
  try {
    client.connected().get();
  } catch (const rtev::request_error& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
  joined.get_future().get();
  std::cout << "ready" << std::endl;  // scripts wait for this line

  if (opt.protocol == rtev::wire_protocol::socketio) {
    // publish() is an emit("publish", {room, type, data, id}) acknowledged with {id, seq}.
    const rtev::publish_ack ack = client.publish(argv[3], "hello", {{"from", "any_server"}}).get();
    std::cout << "published over socket.io: seq " << ack.seq << std::endl;
  }
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return seen >= wanted; });
  return 0;
}
