#include "event_filters.hpp"

#include <algorithm>

#include "exit_codes.hpp"
#include "rtev/glob.hpp"

namespace rtev::cli {

bool type_filter::matches(const std::string& type) const {
  auto any = [&](const std::vector<std::string>& globs) {
    return std::any_of(globs.begin(), globs.end(),
                       [&](const std::string& g) { return glob_match(g, type); });
  };
  return (include.empty() || any(include)) && !any(exclude);
}

type_filter parse_type_filter(const std::vector<std::string>& values) {
  type_filter f;
  for (const auto& v : values) {
    const bool negate = !v.empty() && v.front() == '!';
    const std::string pattern = negate ? v.substr(1) : v;
    if (pattern.empty())
      throw usage_error(negate ? "--type: '!' needs a type or glob after it, e.g. '!user_*'"
                               : "--type: the value is empty");
    (negate ? f.exclude : f.include).push_back(pattern);
  }
  return f;
}

bool where_test::holds(const nlohmann::json& env) const {
  const nlohmann::json* cur = &env;
  std::size_t start = 0;
  for (;;) {
    const auto dot = path.find('.', start);
    const std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(key)) return negate;
    cur = &(*cur)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  const bool eq = cur->is_string() ? cur->get<std::string>() == value : cur->dump() == value;
  return eq != negate;
}

where_test parse_where(const std::string& text) {
  const auto ne = text.find("!=");
  const auto eq = text.find('=');
  where_test w;
  if (ne != std::string::npos && ne < eq) {
    w.path = text.substr(0, ne);
    w.value = text.substr(ne + 2);
    w.negate = true;
  } else if (eq != std::string::npos) {
    w.path = text.substr(0, eq);
    w.value = text.substr(eq + 1);
  }
  if (w.path.empty() || w.path.front() == '.' || w.path.back() == '.')
    throw usage_error(
        "--where: expected FIELD=VALUE or FIELD!=VALUE (e.g. data.platform=whatsapp), got '" +
        text + "'");
  return w;
}

const nlohmann::json* lookup_path(const nlohmann::json& j, const std::string& path) {
  const nlohmann::json* cur = &j;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto dot = path.find('.', start);
    const std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur->is_object()) {
      auto it = cur->find(key);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array() && !key.empty() &&
               key.find_first_not_of("0123456789") == std::string::npos) {
      // More digits than any array has elements: std::stoul would throw out_of_range.
      if (key.size() > 18) return nullptr;
      const std::size_t i = std::stoul(key);
      if (i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

void check_template(const std::string& format) {
  // Unbalanced braces are a typo, not a format.
  std::size_t pos = 0;
  while ((pos = format.find("{{", pos)) != std::string::npos) {
    const auto end = format.find("}}", pos);
    if (end == std::string::npos)
      throw usage_error("--format: unclosed '{{' in template '" + format + "'");
    pos = end + 2;
  }
}

std::string render_template(const std::string& format, const nlohmann::json& env,
                            const std::string& time_text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < format.size()) {
    const auto open = format.find("{{", pos);
    std::string literal =
        format.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
    for (std::size_t i = 0; i < literal.size(); ++i) {
      if (literal[i] == '\\' && i + 1 < literal.size() &&
          (literal[i + 1] == 'n' || literal[i + 1] == 't')) {
        out += literal[i + 1] == 'n' ? '\n' : '\t';
        ++i;
      } else {
        out += literal[i];
      }
    }
    if (open == std::string::npos) break;
    const auto close = format.find("}}", open);
    if (close == std::string::npos) {  // check_template refuses this; render it as text
      out += format.substr(open);
      break;
    }
    std::string field = format.substr(open + 2, close - open - 2);
    field.erase(0, field.find_first_not_of(' '));
    field.erase(field.find_last_not_of(' ') + 1);
    if (field == "time") {
      out += time_text;
    } else if (const nlohmann::json* v = lookup_path(env, field)) {
      out += v->is_string() ? v->get<std::string>() : v->dump();
    }
    pos = close + 2;
  }
  return out;
}

}  // namespace rtev::cli
