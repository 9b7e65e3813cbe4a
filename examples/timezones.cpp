// Time zones: receives an event and shows its timestamp in several zones, relative to now.
// usage: example_timezones URL
#include <rtev/client.hpp>
#include <rtev/time.hpp>

#include <future>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " URL\n";
    return 2;
  }
  rtev::client_options opt;
  opt.url = argv[1];
  opt.rooms = {"clock"};
  rtev::client client(opt);
  std::promise<rtev::event> got;
  auto sub = client.on("system_notification", [&](const rtev::event& e) { got.set_value(e); });
  client.start();
  client.connected().get();
  client.history("clock").get();  // our SUBSCRIBE has been answered by now
  client.publish("clock", "system_notification", {{"message", "tick"}}).get();
  const rtev::event e = got.get_future().get();

  const rtev::timestamp t = e.time();
  std::cout << "wire:     " << e.timestamp << " (" << e.timezone << ")\n";
  for (const char* zone :
       {"UTC", "America/New_York", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney"})
    std::cout << zone << ": " << rtev::time::format_datetime(t, zone) << " ["
              << rtev::time::to_zone(t, zone).abbreviation << "]\n";
  std::cout << "relative: " << rtev::time::format_relative(t) << '\n';
  // A fixed instant, for comparison across DST: 2024-03-10 in New York.
  const auto dst = rtev::time::parse_rfc3339("2024-03-10T07:30:00Z");
  std::cout << "2024-03-10T07:30:00Z in New York: "
            << rtev::time::format_datetime(dst, "America/New_York") << '\n';
  try {
    rtev::time::validate_zone("Europe/Pari");
  } catch (const rtev::unknown_zone_error& err) {
    std::cout << err.what() << '\n';
  }
  return 0;
}
