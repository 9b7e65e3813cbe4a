#pragma once
// The CLI's small languages over an event envelope (its JSON form): `--type` globs with
// `!` excludes, `tail --where`
// filters (`data.platform=whatsapp`, `data.count>=10`, `type~^message_`) and `--format` templates
// (`{{type}} {{data.message_text}} {{time}}`). Kept apart from the commands so the fuzz
// targets in fuzz/ link exactly the code the `rtev` executable runs.
//
// Thread safety: pure functions and immutable values; safe from any thread.

#include <regex.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rtev::cli {

/// The `--type` values of a command: globs that include (`message_*`; several are OR'ed) and
/// `!glob`s that exclude (`!user_*`), applied after the includes. No include: every type.
struct type_filter {
  std::vector<std::string> include, exclude;

  bool matches(const std::string& type) const;
  bool empty() const { return include.empty() && exclude.empty(); }
};

/// Throws usage_error "--type: '!' needs a type or glob after it, e.g. '!user_*'" (and the
/// same for an empty value).
type_filter parse_type_filter(const std::vector<std::string>& values);

/// The warning for a `--type` value (`name` or `!name`, no glob) that is not a catalog type but
/// within a typo of one: "--type 'mesage_sent' is not a known event type; did you mean
/// 'message_sent'?". Empty for catalog names, globs and names far from every one (servers may
/// have types of their own).
std::string unknown_type_warning(const std::string& value);

/// One `--where` test on a dotted path into the envelope (docs/cli.md, "--where"):
/// `F=V`, `F!=V` (a string compares as is, another value as compact JSON; `!=` also holds when
/// F is missing), `F<V`, `F<=V`, `F>V`, `F>=V` (numbers as numbers when both are, else text,
/// which orders RFC 3339 times), `F~RE`, `F!~RE` (POSIX extended regular expression, searched
/// in the text), `F` (F exists) and `!F` (F is missing).
struct where_test {
  enum class op { eq, ne, lt, le, gt, ge, match, no_match, exists, missing };
  std::string path, value;
  op how = op::eq;
  std::shared_ptr<const regex_t> re;  // for match and no_match

  /// Whether `env` passes.
  bool holds(const nlohmann::json& env) const;
};

/// Throws usage_error naming the text and the accepted forms, or the regex's problem.
where_test parse_where(const std::string& text);

/// The value at a dotted path (`data.items.0.name`: object keys, array indexes), or nullptr.
const nlohmann::json* lookup_path(const nlohmann::json& j, const std::string& path);

/// Throws usage_error "--format: unclosed '{{' in template '<text>'".
void check_template(const std::string& format);

/// `format` with `\n`/`\t` escapes and every `{{field}}` replaced: `{{time}}` by `time_text`,
/// another field by its value in `env` (a string as is, anything else as compact JSON; a
/// missing field as nothing). An unclosed `{{` is kept as literal text.
std::string render_template(const std::string& format, const nlohmann::json& env,
                            const std::string& time_text);

}  // namespace rtev::cli
