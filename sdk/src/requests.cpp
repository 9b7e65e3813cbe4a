#include "requests.hpp"

#include <string>

#include "rtev/error.hpp"

namespace rtev {

std::optional<history_query> history_result::next_page() const {
  if (!next) return std::nullopt;
  history_query q = query;
  q.since = *next;
  return q;
}

namespace detail {

namespace {

std::string shown(const nlohmann::json& v) {
  return v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump();
}

}  // namespace

void check_history_query(const history_query& q) {
  const nlohmann::json& s = q.since;
  const bool since_ok = s.is_null() || s.is_string() || s.is_number_unsigned() ||
                        (s.is_number_integer() && s.get<std::int64_t>() >= 0);
  if (!since_ok)
    throw config_error("invalid history since " + shown(s) +
                       ": expected a seq number (0 or more), an RFC 3339 time, \"beginning\" "
                       "or null");
  if (!q.until.is_null() && !q.until.is_string())
    throw config_error("invalid history until " + shown(q.until) +
                       ": expected an RFC 3339 time or null");
  if (q.limit < 1 || q.limit > 1000)
    throw config_error("invalid history limit " + std::to_string(q.limit) +
                       ": expected 1 to 1000 events per page");
}

nlohmann::json history_frame_data(const history_query& q) {
  nlohmann::json data = {{"room", q.room}, {"limit", q.limit}};
  if (!q.since.is_null()) data["since"] = q.since;
  if (!q.until.is_null()) data["until"] = q.until;
  return data;
}

}  // namespace detail
}  // namespace rtev
