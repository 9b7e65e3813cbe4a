// Uses the installed public headers only; compiled as C++17 by rtev::sdk's usage requirements.
#include <rtev/backoff.hpp>
#include <rtev/catalog.hpp>
#include <rtev/event.hpp>
#include <rtev/events.hpp>
#include <rtev/time.hpp>

#include <iostream>

int main() {
  auto e =
      rtev::event::parse(R"({"type":"message_sent","timestamp":"2024-01-15T10:30:45.123456-05:00",)"
                         R"("timezone":"America/New_York","data":{"message_text":"hi"}})");
  std::cout << e.type << ' ' << rtev::time::format_datetime(e.time(), "Asia/Tokyo") << ' '
            << (rtev::find_event_type("LEAD_CREATED") != nullptr) << ' '
            << rtev::backoff_policy{}.delay(3).count() << '\n';
  return 0;
}
