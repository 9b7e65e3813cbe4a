// History pager: publishes COUNT events to a room, reads them back a page of PAGE at a time
// with history_result::next_page(), then asks who is in the room with the callback form of
// presence() (the form that also works inside handlers).
// usage: example_history_pager URL [ROOM] [COUNT] [PAGE]
#include <rtev/client.hpp>

#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " URL [ROOM] [COUNT] [PAGE]\n";
    return 2;
  }
  rtev::client_options opt;
  opt.url = argv[1];
  opt.token = "pager";
  const std::string room = argc > 2 ? argv[2] : "pager";
  opt.rooms = {room};  // joined, so presence() lists us
  const int count = argc > 3 ? std::stoi(argv[3]) : 7;
  // What the callback below touches is declared before the client, so it outlives the
  // client's service thread.
  std::promise<int> done;
  rtev::client client(opt);
  client.start();
  try {
    client.connected().get();
    for (int i = 1; i <= count; ++i) client.publish(room, "note", {{"n", i}}).get();

    rtev::history_query query;
    query.room = room;
    query.since = "beginning";
    query.limit = argc > 4 ? std::stoul(argv[4]) : 3;
    std::optional<rtev::history_query> next = query;
    for (int page = 1; next; ++page) {
      const rtev::history_result r = client.history(*next).get();
      std::cout << "page " << page << ": " << r.events.size()
                << (r.events.size() == 1 ? " event" : " events");
      if (!r.events.empty())
        std::cout << ", seq " << *r.events.front().seq << " to " << *r.events.back().seq;
      std::cout << std::endl;
      next = r.next_page();  // none after the last page
    }
  } catch (const rtev::request_error& e) {
    std::cerr << "request failed (" << e.detail.ec().message() << "): " << e.what() << '\n';
    return 1;
  }

  // The callback runs on the client's service thread; the promise hands the answer over here.
  client.presence(
      room, [&](const std::vector<rtev::presence_entry>* users, const rtev::client_error* err) {
        if (err) {
          std::cerr << "presence failed: " << err->message << '\n';
          return done.set_value(1);
        }
        for (const auto& u : *users)
          std::cout << "present: " << u.user_id << " (" << u.connections << " connection"
                    << (u.connections == 1 ? "" : "s") << ")" << std::endl;
        done.set_value(0);
      });
  return done.get_future().get();
}
