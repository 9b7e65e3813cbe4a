// Publisher: publishes COUNT typed message_sent events to a room, waiting for each ACK.
// usage: example_publisher URL [ROOM] [COUNT]
#include <rtev/client.hpp>
#include <rtev/events.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " URL [ROOM] [COUNT]\n";
    return 2;
  }
  rtev::client_options opt;
  opt.url = argv[1];
  opt.token = "publisher";
  const std::string room = argc > 2 ? argv[2] : "lobby";
  const int count = argc > 3 ? std::stoi(argv[3]) : 3;
  rtev::client client(opt);
  client.start();
  client.connected().get();
  for (int i = 1; i <= count; ++i) {
    rtev::events::message_sent m;
    m.message_id = i;
    m.conversation_id = 1;
    m.sender_name = "publisher";
    m.message_text = "hello #" + std::to_string(i);
    try {
      rtev::publish_ack ack = client.publish(room, m).get();
      std::cout << "published " << ack.id << " seq " << ack.seq << std::endl;
    } catch (const rtev::request_error& e) {
      std::cerr << "rejected: " << e.what() << '\n';
      return 1;
    }
  }
  return 0;
}
