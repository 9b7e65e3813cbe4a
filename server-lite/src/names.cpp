#include "names.hpp"

#include <cstdio>

#include "rtev/error.hpp"

namespace rtev::server_lite {

namespace {

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':' || c == '.' || c == '@' || c == '-';
}

bool is_pattern(name_kind k) {
  return k == name_kind::room_pattern || k == name_kind::type_pattern;
}

std::string code_point(unsigned char c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
  return buf;
}

}  // namespace

std::string name_problem(std::string_view text, name_kind kind) {
  const std::string allowed = "; allowed: 1 to " + std::to_string(max_name_chars) +
                              " of A-Z a-z 0-9 _ : . @ -" +
                              (is_pattern(kind) ? " (and * as a wildcard)" : "");
  if (text.empty()) return "is empty" + allowed;
  if (text.size() > max_name_chars)
    return "is " + std::to_string(text.size()) + " characters long" + allowed;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_name_char(ch) || (ch == '*' && is_pattern(kind))) continue;
    if (c < 0x20 || c == 0x7f)
      return "contains a control character (" + code_point(c) + ")" + allowed;
    if (c >= 0x80) return "contains a non-ASCII byte (0x" + code_point(c).substr(4) + ")" + allowed;
    if (ch == '*')
      return std::string("contains '*', a wildcard only subscriptions and filters may use") +
             allowed;
    if (ch == ' ') return "contains a space (U+0020)" + allowed;
    return std::string("contains '") + ch + "' (" + code_point(c) + ")" + allowed;
  }
  return {};
}

void require_name(const std::string& path, std::string_view text, name_kind kind) {
  if (auto why = name_problem(text, kind); !why.empty()) throw parse_error(path, why);
}

void require_names(const std::string& path, const std::vector<std::string>& list, name_kind kind) {
  for (std::size_t i = 0; i < list.size(); ++i)
    require_name(path + "[" + std::to_string(i) + "]", list[i], kind);
}

bool is_valid_room(std::string_view room) {
  return name_problem(room, name_kind::room).empty();
}

bool is_valid_room_pattern(std::string_view pattern) {
  return name_problem(pattern, name_kind::room_pattern).empty();
}

}  // namespace rtev::server_lite
