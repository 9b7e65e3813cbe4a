// Publisher: publishes COUNT typed message_sent events to a room, waiting for each ACK; shows
// the error-code API (client::create without exceptions, errc on a refusal) and metrics().
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
  std::error_code ec;
  std::string why;
  std::unique_ptr<rtev::client> made = rtev::client::create(opt, ec, &why);
  if (!made) {
    std::cerr << "cannot use these options (" << ec.message() << "): " << why << '\n';
    return 2;
  }
  rtev::client& client = *made;
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
      // A stable code to act on (rtev::errc: rate_limited, forbidden, timeout, …) and the
      // server's own words.
      const std::error_code code = e.detail.ec();
      if (code == rtev::errc::rate_limited) std::cerr << "over the server's rate limit; ";
      std::cerr << "rejected (" << code.message() << "): " << e.what() << '\n';
      return 1;
    }
  }
  const rtev::client_metrics m = client.metrics();
  std::cout << "round trip " << (m.round_trip ? m.round_trip->count() : 0) << " us, " << m.bytes_out
            << " bytes out" << std::endl;
  return 0;
}
