// Rooms as objects: client.subscribe(room) with its own state, first join and scoped
// handlers; a second room's events do not reach the first room's handlers; unsubscribe()
// leaves the room.
// usage: example_room_objects URL
#include <rtev/client.hpp>

#include <future>
#include <iostream>
#include <mutex>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " URL\n";
    return 2;
  }
  rtev::client_options opt;
  opt.url = argv[1];
  opt.token = "rooms";
  rtev::client client(opt);
  std::mutex out;  // handlers run on the client's thread, main() prints too
  auto print = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(out);
    std::cout << line << std::endl;
  };
  std::promise<void> got_news;
  client.start();

  rtev::room_options from_start;
  from_start.since = "beginning";
  rtev::room_subscription news = client.subscribe("news", from_start);
  rtev::room_subscription sports = client.subscribe("sports");
  auto states = news.on_state([&](const rtev::room_state_info& i) {
    print("news is " + std::string(rtev::to_string(i.state)));
  });
  auto headlines = news.on("headline", [&](const rtev::event& e) {
    print("news: " + e.data.value("text", ""));
    got_news.set_value();
  });
  auto scores =
      sports.on("*", [&](const rtev::event& e) { print("sports: " + e.data.value("text", "")); });
  try {
    const rtev::join_info j = news.joined().get();
    print("joined " + j.room + " (replayed " + std::to_string(j.replayed) + ")");
    sports.joined().get();
  } catch (const rtev::request_error& e) {
    std::cerr << "could not join: " << e.what() << '\n';
    return 1;
  }
  client.publish("sports", "score", {{"text", "2-1"}}).get();
  client.publish("news", "headline", {{"text", "rtev ships rooms as objects"}}).get();
  got_news.get_future().get();
  news.unsubscribe();
  print("news is " + std::string(rtev::to_string(news.state())) + " after unsubscribe()");
  return 0;
}
