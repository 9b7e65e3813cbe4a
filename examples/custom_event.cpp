// Your own typed event: declares billing::invoice_paid in one line, subscribes to it with
// on<invoice_paid>, publishes it typed, then publishes a malformed one by name to show the
// decode error (with its field path) reaching the error handler.
// usage: example_custom_event URL [ROOM]
#include <rtev/client.hpp>  // the typed-event machinery; the product catalog is not needed

#include <condition_variable>
#include <cstdio>
#include <future>
#include <iostream>
#include <mutex>
#include <string>
#include <utility>

namespace billing {
// clang-format off
RTEV_TYPED_EVENT(invoice_paid, "invoice_paid",
                 (required, number, amount)
                 (required, string, currency)
                 (optional, id,     customer_id));
// clang-format on
}  // namespace billing

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " URL [ROOM]\n";
    return 2;
  }
  rtev::client_options opt;
  opt.url = argv[1];
  const std::string room = argc > 2 ? argv[2] : "billing";
  opt.rooms = {room};
  rtev::client client(opt);

  std::mutex m;  // guards seen
  std::condition_variable cv;
  int seen = 0;  // invoices and errors reported so far
  auto report = [&](const std::string& line) {
    std::cout << line << std::endl;
    std::lock_guard<std::mutex> lock(m);
    ++seen;
    cv.notify_all();
  };
  auto sub = client.on<billing::invoice_paid>(
      [&](const billing::invoice_paid& paid, const rtev::event& e) {
        char amount[32];
        std::snprintf(amount, sizeof amount, "%.2f", paid.amount);
        report("invoice_paid #" + std::to_string(e.seq.value_or(0)) + ": " + amount + " " +
               paid.currency + " from customer " +
               (paid.customer_id ? rtev::to_string(*paid.customer_id) : "?"));
      });
  client.on_error([&](const rtev::client_error& err) { report("error: " + err.message); });

  std::promise<void> joined;  // the room is joined: our own publishes come back to us
  auto joins = client.on_joined([&, once = true](const rtev::join_info&) mutable {
    if (std::exchange(once, false)) joined.set_value();
  });
  client.start();
  joined.get_future().get();

  billing::invoice_paid paid{49.5, "EUR"};
  paid.customer_id = 42;
  const rtev::publish_ack ack = client.publish(room, paid).get();  // typed: "invoice_paid"
  std::cout << "published invoice_paid seq " << ack.seq << std::endl;
  // The same type by name, with the amount as a string: the typed handler cannot take it.
  client.publish(room, "invoice_paid", {{"amount", "49.50"}, {"currency", "EUR"}}).get();

  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return seen >= 2; });
  return 0;
}
