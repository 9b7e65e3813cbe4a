// `--format` templates ('{{type}} {{data.message_text}} {{time}}'): checked as the CLI checks
// them, then rendered over an envelope (cli/src/event_filters.cpp). The input is `template`
// NUL `envelope JSON`; without a NUL the template renders a typical envelope. Rendering also
// runs on templates the check refuses, as a library caller could.
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
                        {"timestamp", "2024-01-15T10:30:45.123456+00:00"},
                        {"data", {{"message_text", "hi"}, {"items", {{{"name", "x"}}, 2}}}}};
  if (parts.size() == 2) {
    env = rtev::parse_json(parts[1]);
    if (env.is_discarded()) return 0;
  }
  const std::string format(parts[0]);
  try {
    rtev::cli::check_template(format);
  } catch (const rtev::cli::usage_error&) {
  }
  (void)rtev::cli::render_template(format, env, "2024-01-15T10:30:45Z");
  return 0;
}
