#include "rtev/typed_event.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "rtev/error.hpp"
#include "rtev/event.hpp"

namespace rtev {

namespace {

// The same type names as envelope errors ("event.timestamp: …, got number").
std::string got(const nlohmann::json& j) {
  return "got " + json_type_name(j);
}

std::string data_path(std::string_view field) {
  return "data." + std::string(field);
}

// A JSON number that is not an int64: a float ("got number 2.5") or an unsigned integer above
// INT64_MAX ("got number 18446744073709551615, out of range"). The value is shown because
// "expected an integer, got number" alone would puzzle the reader.
std::string got_number(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return "got number " + j.dump() + ", out of range";
  return "got number " + j.dump();
}

// The int64 in `j`, or nullopt with the reason in `why`.
std::optional<std::int64_t> as_int64(const nlohmann::json& j, std::string& why) {
  if (j.is_number_unsigned()) {
    const auto u = j.get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(u);
    }
    why = got_number(j);
    return std::nullopt;
  }
  if (j.is_number_integer()) return j.get<std::int64_t>();
  why = j.is_number() ? got_number(j) : got(j);
  return std::nullopt;
}

// Reads an id; on failure returns false with the "got …" text in `why`.
bool read_id(const nlohmann::json& j, id_value& out, std::string& why) {
  if (j.is_string()) {
    out = j.get<std::string>();
    return true;
  }
  if (j.is_number()) {
    if (auto i = as_int64(j, why)) {
      out = *i;
      return true;
    }
    return false;
  }
  why = got(j);
  return false;
}

constexpr std::string_view expected_id = "expected an id (integer or string), ";

}  // namespace

std::string_view to_string(event_family f) {
  switch (f) {
    case event_family::messenger:
      return "messenger";
    case event_family::inbox:
      return "inbox";
    case event_family::dashboard:
      return "dashboard";
    case event_family::custom:
      return "custom";
  }
  return "custom";  // not reached: every enumerator is handled above
}

// --- id_value ---------------------------------------------------------------------------------

std::int64_t id_value::as_integer() const {
  if (!is_string_) return integer_;
  throw error("rtev::id_value: the id \"" + string_ + "\" is a string, not an integer");
}

const std::string& id_value::as_string() const {
  if (is_string_) return string_;
  throw error("rtev::id_value: the id " + std::to_string(integer_) +
              " is an integer, not a string");
}

void id_value::throw_out_of_range(std::uint64_t i) {
  throw error("rtev::id_value: " + std::to_string(i) + " does not fit a 64-bit signed integer");
}

void to_json(nlohmann::json& j, const id_value& v) {
  if (v.is_integer()) {
    j = v.as_integer();
  } else {
    j = v.as_string();
  }
}

void from_json(const nlohmann::json& j, id_value& v) {
  std::string why;
  if (!read_id(j, v, why)) throw parse_error("", std::string(expected_id) + why);
}

std::string to_string(const id_value& v) {
  return v.is_integer() ? std::to_string(v.as_integer()) : v.as_string();
}

std::ostream& operator<<(std::ostream& os, const id_value& v) {
  return os << to_string(v);
}

// --- field kinds (rtev/detail/event_fields.hpp) -----------------------------------------------

namespace detail {

void throw_data_not_object(const nlohmann::json& data) {
  throw parse_error("data", "expected an object, " + got(data));
}

void copy_unknown_fields(const nlohmann::json& data, nlohmann::json& extra,
                         bool (*is_field)(std::string_view key)) {
  for (auto it = data.begin(); it != data.end(); ++it) {
    if (!is_field(it.key())) extra.emplace(it.key(), it.value());
  }
}

const nlohmann::json* field_value(const nlohmann::json& data, std::string_view field, bool required,
                                  nlohmann::json& extra) {
  const auto it = data.find(field);
  if (it == data.end()) {
    if (required) throw parse_error(data_path(field), "required field is missing");
    return nullptr;
  }
  // An optional field sent as null reads as absent; the null is kept in extra so that
  // encoding writes it back and data round-trips exactly.
  if (!required && it->is_null()) {
    extra.emplace(std::string(field), nullptr);
    return nullptr;
  }
  return &*it;
}

nlohmann::json extra_object(const nlohmann::json& extra) {
  if (extra.is_object()) return extra;
  if (extra.is_null()) return nlohmann::json::object();
  throw error("rtev event extra: expected an object of data fields, " + got(extra));
}

namespace kind {

void string::read(const nlohmann::json& j, std::string_view field, type& out) {
  if (!j.is_string()) throw parse_error(data_path(field), "expected a string, " + got(j));
  out = j.get<std::string>();
}

void timestamp::read(const nlohmann::json& j, std::string_view field, type& out) {
  if (!j.is_string()) {
    throw parse_error(data_path(field), "expected an RFC 3339 string, " + got(j));
  }
  out = j.get<std::string>();
}

void integer::read(const nlohmann::json& j, std::string_view field, type& out) {
  std::string why;
  const auto i = as_int64(j, why);
  if (!i) throw parse_error(data_path(field), "expected an integer, " + why);
  out = *i;
}

void number::read(const nlohmann::json& j, std::string_view field, type& out) {
  if (!j.is_number()) throw parse_error(data_path(field), "expected a number, " + got(j));
  out = j.get<double>();
}

void boolean::read(const nlohmann::json& j, std::string_view field, type& out) {
  if (!j.is_boolean()) throw parse_error(data_path(field), "expected a boolean, " + got(j));
  out = j.get<bool>();
}

void id::read(const nlohmann::json& j, std::string_view field, type& out) {
  std::string why;
  if (!read_id(j, out, why)) throw parse_error(data_path(field), std::string(expected_id) + why);
}

void object::read(const nlohmann::json& j, std::string_view field, type& out) {
  if (!j.is_object()) throw parse_error(data_path(field), "expected an object, " + got(j));
  out = j;
}

void array::read(const nlohmann::json& j, std::string_view field, type& out) {
  if (!j.is_array()) throw parse_error(data_path(field), "expected an array, " + got(j));
  out = j;
}

void any::read(const nlohmann::json& j, std::string_view /*field*/, type& out) {
  out = j;
}

void integer_map::read(const nlohmann::json& j, std::string_view field, type& out) {
  if (!j.is_object()) {
    throw parse_error(data_path(field), "expected an object of integers, " + got(j));
  }
  type result;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string why;
    const auto i = as_int64(it.value(), why);
    if (!i) throw parse_error(data_path(field) + "." + it.key(), "expected an integer, " + why);
    result.emplace(it.key(), *i);
  }
  out = std::move(result);
}

// Writing is the same for every kind: nlohmann's conversion of the C++ value (id_value's
// to_json keeps integer ids integers; the integer map becomes an object).
#define RTEV_DETAIL_DEFINE_WRITE(kind_name)                                                \
  void kind_name::write(nlohmann::json& data, std::string_view field, const type& value) { \
    data[std::string(field)] = value;                                                      \
  }
RTEV_DETAIL_DEFINE_WRITE(string)
RTEV_DETAIL_DEFINE_WRITE(timestamp)
RTEV_DETAIL_DEFINE_WRITE(integer)
RTEV_DETAIL_DEFINE_WRITE(number)
RTEV_DETAIL_DEFINE_WRITE(boolean)
RTEV_DETAIL_DEFINE_WRITE(id)
RTEV_DETAIL_DEFINE_WRITE(object)
RTEV_DETAIL_DEFINE_WRITE(array)
RTEV_DETAIL_DEFINE_WRITE(any)
RTEV_DETAIL_DEFINE_WRITE(integer_map)
#undef RTEV_DETAIL_DEFINE_WRITE

}  // namespace kind
}  // namespace detail
}  // namespace rtev
