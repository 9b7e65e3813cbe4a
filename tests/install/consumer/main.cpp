// Uses the installed public headers only; compiled as C++17 by rtev::sdk's usage requirements.
// Each check below prints one line; tests/install/run.sh compares the output line by line, so
// a new check is a new function here, a call in main() and its expected line in run.sh.
#include <rtev/backoff.hpp>
#include <rtev/catalog.hpp>
#include <rtev/client.hpp>
#include <rtev/event.hpp>
#include <rtev/events.hpp>
#include <rtev/time.hpp>

#include <deque>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

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

// The executor hook: the client's state handler runs on this (the app's) thread, from the
// app's own queue, not on the SDK's service thread.
void print_executor() {
  std::deque<std::function<void()>> app_queue;  // filled from the service thread, run here
  std::mutex m;
  rtev::client_options opt;
  opt.url = "ws://127.0.0.1:9/events/ws/connect";
  opt.executor = [&](std::function<void()> task) {
    std::lock_guard<std::mutex> lock(m);
    app_queue.push_back(std::move(task));
  };
  rtev::client client(opt);
  std::string last;
  bool on_main = true;
  const auto main_thread = std::this_thread::get_id();
  auto states = client.on_state([&](const rtev::state_info& s) {
    last = std::string(rtev::to_string(s.state));
    on_main = on_main && std::this_thread::get_id() == main_thread;
  });
  client.start();
  client.stop();  // the end is queued for the app by the time stop() returns
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(m);
    tasks.swap(app_queue);
  }
  for (auto& t : tasks) t();
  std::cout << "executor " << last << ' ' << on_main << '\n';
}

}  // namespace

int main() {
  print_envelope_and_catalog();
  print_custom_typed_event();
  print_executor();
  return 0;
}
