// `rtev tail --where`: the filter text is parsed (cli/src/event_filters.cpp) and applied to an
// envelope. The input is `filter` NUL `envelope JSON`; without a NUL the filter is tried on a
// typical envelope.
#include <cstddef>
#include <cstdint>

#include "event_filters.hpp"
#include "exit_codes.hpp"
#include "fuzz_input.hpp"
#include "rtev/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = rtev::fuzz::split(rtev::fuzz::as_text(data, size), '\0', 2);
  nlohmann::json env = {{"type", "chat.message"},
                        {"room", "room:1"},
                        {"data", {{"platform", "whatsapp"}, {"count", 3}, {"tags", {"a", "b"}}}}};
  if (parts.size() == 2) {
    env = rtev::parse_json(parts[1]);
    if (env.is_discarded()) return 0;
  }
  try {
    const rtev::cli::where_test w = rtev::cli::parse_where(std::string(parts[0]));
    (void)w.holds(env);
  } catch (const rtev::cli::usage_error&) {
  }
  return 0;
}
