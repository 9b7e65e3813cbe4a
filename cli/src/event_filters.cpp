#include "event_filters.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "exit_codes.hpp"
#include "rtev/catalog.hpp"
#include "rtev/glob.hpp"

namespace rtev::cli {

namespace {

// A value as --where compares it: a string as is, anything else as compact JSON.
std::string as_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// `text` as a number, when all of it is one.
std::optional<double> as_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

// <0, 0, >0: numbers as numbers when the field is one and the value parses as one, else text.
int compare(const nlohmann::json& field, const std::string& value) {
  if (field.is_number())
    if (const auto v = as_number(value)) {
      const double f = field.get<double>();
      return f < *v ? -1 : f > *v ? 1 : 0;
    }
  return as_text(field).compare(value);
}

// About how many nodes glibc's regcomp builds for `re`: it copies a bounded repeat `{n,m}` m
// times ({n,} n+1 times), so nested repeats multiply — `((a{255}){255}){255}` asks for 16
// million copies and gigabytes of memory; so does `a+++++++++++++++++++++++++++++` (each + copies
// what it repeats). Counts saturate just past `limit`.
std::size_t regex_size(const std::string& re, std::size_t limit) {
  std::vector<std::size_t> sums{0};  // per open group, the size of what it holds so far
  std::size_t last = 0;              // the size of the last atom: what a repeat applies to
  const auto add = [&](std::size_t n) {
    sums.back() = std::min(sums.back() + n, limit + 1);
    last = n;
  };
  const auto repeat = [&](std::size_t times) {
    const std::size_t grown = std::min(last * std::max<std::size_t>(times, 1), limit + 1);
    sums.back() = std::min(sums.back() - std::min(sums.back(), last) + grown, limit + 1);
    last = grown;
  };
  for (std::size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\') {
      ++i;
      add(1);
    } else if (c == '[') {  // a bracket expression: `]` first is literal, [:class:] nests
      std::size_t j = i + 1;
      if (j < re.size() && re[j] == '^') ++j;
      if (j < re.size() && re[j] == ']') ++j;
      while (j < re.size() && re[j] != ']') {
        if (re[j] == '[' && j + 1 < re.size() && std::strchr(":.=", re[j + 1]) != nullptr) {
          const std::size_t close = re.find(std::string{re[j + 1], ']'}, j + 2);
          j = close == std::string::npos ? re.size() : close + 2;
        } else {
          ++j;
        }
      }
      i = j;
      add(1);
    } else if (c == '(') {
      sums.push_back(0);
      last = 0;
    } else if (c == ')' && sums.size() > 1) {
      const std::size_t group = sums.back() + 1;
      sums.pop_back();
      add(group);
    } else if (c == '{' && last > 0) {  // {n}, {n,}, {,m} or {n,m}; anything else is regcomp's
      std::size_t j = i + 1;
      const auto number = [&](std::size_t& v) {
        const std::size_t start = j;
        for (v = 0; j < re.size() && re[j] >= '0' && re[j] <= '9'; ++j)
          v = std::min(v * 10 + static_cast<std::size_t>(re[j] - '0'), limit + 1);
        return j > start;
      };
      std::size_t n = 0;
      std::size_t m = 0;
      const bool has_n = number(n);
      const bool comma = j < re.size() && re[j] == ',';
      const bool has_m = comma && (++j, number(m));
      if (j >= re.size() || re[j] != '}' || (!has_n && !has_m)) {
        add(1);
        continue;
      }
      repeat(!comma ? n : has_m ? std::max(n, m) : n + 1);
      i = j;
    } else if (c == '+') {  // copied (x+ is xx*), and slower to build than its size says
      repeat(4);
    } else if (c == '*' || c == '?') {
      repeat(2);
    } else {
      add(1);
    }
  }
  return *std::max_element(sums.begin(), sums.end());
}

const char* const forms =
    "FIELD=VALUE, FIELD!=VALUE, FIELD<VALUE, FIELD<=VALUE, FIELD>VALUE, FIELD>=VALUE, "
    "FIELD~REGEX, FIELD!~REGEX, FIELD (exists) or !FIELD (missing)";

}  // namespace

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

std::string unknown_type_warning(const std::string& value) {
  const bool negate = !value.empty() && value.front() == '!';
  const std::string name = negate ? value.substr(1) : value;
  if (name.empty() || name.find('*') != std::string::npos) return {};
  const std::string near = nearest_event_type(name);
  if (near.empty()) return {};
  const std::string bang = negate ? "!" : "";
  return "--type '" + value + "' is not a known event type; did you mean '" + bang + near + "'?";
}

bool where_test::holds(const nlohmann::json& env) const {
  const nlohmann::json* field = lookup_path(env, path);
  switch (how) {
    case op::exists:
      return field != nullptr;
    case op::missing:
      return field == nullptr;
    case op::ne:
      return field == nullptr || as_text(*field) != value;
    case op::no_match:
      return field == nullptr || regexec(re.get(), as_text(*field).c_str(), 0, nullptr, 0) != 0;
    default:
      break;
  }
  if (field == nullptr) return false;
  switch (how) {
    case op::eq:
      return as_text(*field) == value;
    case op::lt:
      return compare(*field, value) < 0;
    case op::le:
      return compare(*field, value) <= 0;
    case op::gt:
      return compare(*field, value) > 0;
    case op::ge:
      return compare(*field, value) >= 0;
    case op::match:
      return regexec(re.get(), as_text(*field).c_str(), 0, nullptr, 0) == 0;
    default:
      return false;
  }
}

where_test parse_where(const std::string& text) {
  where_test w;
  const auto bad = [&](const std::string& why) {
    return usage_error("--where: " + why + " (expected " + forms + "), got '" + text + "'");
  };
  const std::size_t at = text.find_first_of("=!<>~", text.empty() || text[0] != '!' ? 0 : 1);
  if (at == std::string::npos) {
    const bool negated = !text.empty() && text[0] == '!';
    w.how = negated ? where_test::op::missing : where_test::op::exists;
    w.path = text.substr(negated ? 1 : 0);
  } else {
    static const std::pair<const char*, where_test::op> ops[] = {
        {"!=", where_test::op::ne}, {"!~", where_test::op::no_match}, {"<=", where_test::op::le},
        {">=", where_test::op::ge}, {"=", where_test::op::eq},        {"<", where_test::op::lt},
        {">", where_test::op::gt},  {"~", where_test::op::match}};
    const auto it = std::find_if(std::begin(ops), std::end(ops), [&](const auto& o) {
      return text.compare(at, std::strlen(o.first), o.first) == 0;
    });
    if (it == std::end(ops)) throw bad("no operator");
    w.how = it->second;
    w.path = text.substr(0, at);
    w.value = text.substr(at + std::strlen(it->first));
  }
  if (w.path.empty() || w.path.front() == '.' || w.path.back() == '.' ||
      w.path.find("..") != std::string::npos)
    throw bad("no FIELD, or an empty part in its dotted path");
  if (w.how == where_test::op::match || w.how == where_test::op::no_match) {
    constexpr std::size_t max_regex_size = 100000;
    if (regex_size(w.value, max_regex_size) > max_regex_size)
      throw usage_error("--where: regular expression '" + w.value + "' in '" + text +
                        "' is too large once its repeats are expanded (over " +
                        std::to_string(max_regex_size) + " parts): nest fewer {n,m} or + repeats");
    auto* re = new regex_t;
    if (const int err = regcomp(re, w.value.c_str(), REG_EXTENDED | REG_NOSUB); err != 0) {
      char msg[256];
      regerror(err, re, msg, sizeof msg);
      delete re;
      throw usage_error("--where: bad regular expression '" + w.value + "' in '" + text +
                        "': " + msg);
    }
    w.re.reset(re, [](const regex_t* r) {
      regfree(const_cast<regex_t*>(r));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
      delete r;
    });
  }
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
