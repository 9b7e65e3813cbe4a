#include "rtev/json.hpp"

#include "wire/sse_parser.hpp"

namespace rtev {

bool json_depth_within(std::string_view text, std::size_t limit) noexcept {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (const char ch : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (ch == '\\')
        escaped = true;
      else if (ch == '"')
        in_string = false;
      continue;
    }
    switch (ch) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > limit) return false;
        break;
      case ']':
      case '}':
        if (depth) --depth;
        break;
      default:
        break;
    }
  }
  return true;
}

nlohmann::json parse_json(std::string_view text, std::string* why) {
  if (!json_depth_within(text)) {
    if (why) *why = "nested deeper than " + std::to_string(max_json_depth) + " levels";
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    if (why) {
      // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error …":
      // the bracketed id means nothing to a user.
      std::string m = e.what();
      if (const auto close = m.find("] "); m.rfind("[json.exception", 0) == 0 && close != m.npos)
        m.erase(0, close + 2);
      // The message quotes the last bytes read ("last read: '…'"), which need not be UTF-8;
      // it is shown to users and sent in JSON replies.
      *why = detail::sanitize_utf8(m);
    }
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
}

}  // namespace rtev
