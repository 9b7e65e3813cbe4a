// Resumable consumer: follows a room across disconnects without missing events, and says
// so when the server could not replay everything (a gap). URL may be a comma-separated list
// of the nodes of one cluster (`rtev serve --broker`): when the one it is on is lost, the
// client moves on to the next and resumes the room there.
// usage: example_resumable_consumer URL[,URL...] [ROOM] [COUNT]   (exits after COUNT events)
#include <rtev/client.hpp>

#include <condition_variable>
#include <exception>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " URL[,URL...] [ROOM] [COUNT]\n";
    return 2;
  }
  rtev::client_options opt;
  // url stays empty: urls alone lists every server, tried in turn from the first.
  std::istringstream servers(argv[1]);
  for (std::string url; std::getline(servers, url, ',');) opt.urls.push_back(url);
  opt.rooms = {argc > 2 ? argv[2] : "feed"};
  opt.backoff.initial = std::chrono::milliseconds(100);
  opt.backoff.max = std::chrono::milliseconds(1000);
  const int wanted = argc > 3 ? std::stoi(argv[3]) : 5;
  rtev::client client(opt);

  std::mutex m;
  std::condition_variable cv;
  int seen = 0;
  auto events = client.on("*", [&](const rtev::event& e) {
    if (e.room != opt.rooms.front()) return;
    std::cout << "event " << e.type << " seq " << *e.seq << std::endl;
    std::lock_guard<std::mutex> lock(m);
    ++seen;
    cv.notify_all();
  });
  auto gaps = client.on_gap([](const rtev::gap_info& g) {
    // After a store change (epoch_changed) seqs start over: previous_seq is of the old store.
    std::cout << "gap in " << g.room << " after seq "
              << (g.epoch_changed ? g.previous_seq : g.after_seq)
              << (g.epoch_changed ? " (the server's store changed)" : " (history pruned)")
              << std::endl;
  });
  auto states = client.on_state([](const rtev::state_info& s) {
    if (s.state == rtev::client_state::connected)
      std::cout << "connected to " << s.server_url << std::endl;
    if (s.state == rtev::client_state::reconnecting)
      std::cout << "reconnecting (attempt " << s.attempt << ", in " << s.delay.count()
                << " ms): " << s.reason << std::endl;
  });
  // Joined (after every reconnect too): from here on nothing published to the room is missed.
  auto joins = client.on_joined([](const rtev::join_info& j) {
    std::cout << "ready (joined " << j.room << ", replayed " << j.replayed << ")" << std::endl;
  });
  client.start();
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return seen >= wanted; });
  return 0;
} catch (const std::exception& e) {
  // A bad URL in the list (rtev::config_error names it) or a COUNT that is not a number.
  std::cerr << e.what() << '\n';
  return 2;
}
