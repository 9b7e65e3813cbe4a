// Lenient reading of another server's payload: rtev::read_foreign (text and JSON-value forms),
// which never throws, then what the CLI does with the result (dump as JSONL, time()).
// The input is `fallback type` NUL `payload`.
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = rtev::fuzz::split(rtev::fuzz::as_text(data, size), '\0', 2);
  const std::string_view fallback = parts.size() == 2 ? parts[0] : std::string_view("message");
  const std::string_view payload = parts.back();
  const auto received = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));

  rtev::event e = rtev::read_foreign(payload, fallback, received);
  (void)e.dump();
  try {
    (void)e.time();
  } catch (const rtev::error&) {  // a foreign `timezone` that is not a zone: time() says so
  }

  const nlohmann::json j = rtev::parse_json(payload);
  if (!j.is_discarded()) {
    rtev::event v = rtev::read_foreign(j, fallback, received);
    (void)v.dump();
    try {
      (void)v.time();
    } catch (const rtev::error&) {
    }
  }
  return 0;
}
