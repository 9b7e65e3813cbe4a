// rtev envelopes from outside: event::parse (text) and event::from_json (a parsed value), then
// what a client does with one: to_json, dump, time() in the event's zone.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "rtev/error.hpp"
#include "rtev/event.hpp"
#include "rtev/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = rtev::fuzz::as_text(data, size);
  try {
    rtev::event e = rtev::event::parse(text);
    const std::string dumped = e.dump();
    // What was accepted once reads back the same.
    if (rtev::event::parse(dumped) != e) __builtin_trap();
    try {
      (void)e.time();
    } catch (const rtev::error&) {  // a timestamp or zone that does not resolve
    }
  } catch (const rtev::parse_error&) {
  }
  const nlohmann::json j = rtev::parse_json(text);
  if (!j.is_discarded()) {
    try {
      (void)rtev::event::from_json(j).to_json();
    } catch (const rtev::parse_error&) {
    }
  }
  return 0;
}
