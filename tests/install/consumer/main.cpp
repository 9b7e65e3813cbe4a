// Uses the installed public headers only; compiled as C++17 by rtev::sdk's usage requirements.
// Each check below prints one line; tests/install/run.sh compares the output line by line, so
// a new check is a new function here, a call in main() and its expected line in run.sh.
#include <rtev/backoff.hpp>
#include <rtev/catalog.hpp>
#include <rtev/client.hpp>
#include <rtev/event.hpp>
#include <rtev/events.hpp>
#include <rtev/time.hpp>

#include <iostream>
#include <string>

// The app's own typed event, declared as docs/sdk.md shows ("Your own typed events").
namespace consumer {
// clang-format off
RTEV_TYPED_EVENT(invoice_paid, "invoice_paid",
                 (required, number, amount)
                 (required, string, currency)
                 (optional, id,     customer_id));
// clang-format on
}  // namespace consumer

namespace {

// The envelope parser, the time zone database, the product catalog and the backoff policy.
void print_envelope_and_catalog() {
  auto e =
      rtev::event::parse(R"({"type":"message_sent","timestamp":"2024-01-15T10:30:45.123456-05:00",)"
                         R"("timezone":"America/New_York","data":{"message_text":"hi"}})");
  std::cout << e.type << ' ' << rtev::time::format_datetime(e.time(), "Asia/Tokyo") << ' '
            << (rtev::find_event_type("LEAD_CREATED") != nullptr) << ' '
            << rtev::backoff_policy{}.delay(3).count() << '\n';
}

// An app-declared typed event: encoded, decoded back, a decode error with its field path, and
// a typed subscription on a client (built, not started: no server here).
void print_custom_typed_event() {
  consumer::invoice_paid paid{49.5, "EUR"};
  paid.customer_id = 42;
  const nlohmann::json data = rtev::encode(paid);
  const bool round_trips = rtev::decode<consumer::invoice_paid>(data) == paid;
  std::string error;
  try {
    rtev::decode<consumer::invoice_paid>({{"amount", "49.50"}, {"currency", "EUR"}});
  } catch (const rtev::parse_error& e) {
    error = e.what();
  }
  rtev::client_options opt;
  opt.url = "ws://127.0.0.1:9/events/ws/connect";
  rtev::client client(opt);
  auto sub =
      client.on<consumer::invoice_paid>([](const consumer::invoice_paid&, const rtev::event&) {});
  std::cout << rtev::event_traits<consumer::invoice_paid>::name << ' ' << data.dump() << ' '
            << round_trips << ' ' << error << '\n';
}

}  // namespace

int main() {
  print_envelope_and_catalog();
  print_custom_typed_event();
  return 0;
}
