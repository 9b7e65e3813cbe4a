#include "rtev/json.hpp"

namespace rtev {

std::string printable(std::string_view text) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto b = static_cast<unsigned char>(ch);
    if (b >= 0x20 && b < 0x7f && b != '\\') {
      out += ch;
    } else {
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 0xf];
    }
  }
  return out;
}

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
      // The message quotes what was last read: outside bytes, maybe not UTF-8, maybe control
      // characters. Whoever shows or sends it back gets printable ASCII.
      *why = printable(m);
    }
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
}

}  // namespace rtev
