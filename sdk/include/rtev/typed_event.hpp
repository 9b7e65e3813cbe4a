#pragma once
/// \file
/// Typed events: a C++ struct for an event type's `data`, declared in one line, with JSON
/// conversion, field-path decode errors and a wire name, so `client.on<T>(…)`,
/// `client.publish(room, t)`, rtev::decode<T> and rtev::encode work with it.
///
///     namespace billing {
///     RTEV_TYPED_EVENT(invoice_paid, "invoice_paid",
///                      (required, number, amount)
///                      (required, string, currency)
///                      (optional, id,     customer_id));
///     }
///     c.on<billing::invoice_paid>([](const billing::invoice_paid& p, const rtev::event& e) {…});
///     c.publish("billing", billing::invoice_paid{49.5, "EUR"});
///
/// This header is the public machinery: RTEV_TYPED_EVENT, rtev::event_traits,
/// rtev::is_typed_event_v, rtev::decode / rtev::encode, rtev::id_value and the field kinds.
/// rtev/client.hpp includes it. The product catalog (messenger, inbox and dashboard events,
/// rtev::events::…) is declared with the same macro in rtev/events.hpp, which an app includes
/// only if it wants those types.
///
/// Thread safety: the structs are plain values (distinct objects: safe; shared objects: safe
/// for concurrent reads only); all functions here are safe to call from any thread.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "rtev/detail/event_fields.hpp"
#include "rtev/detail/event_macro.hpp"
#include "rtev/error.hpp"

/// Declares a typed event in the current namespace (global or any other; not inside a class
/// or a function):
///
///     RTEV_TYPED_EVENT(name, "wire_name",
///                      (presence, kind, field)
///                      (presence, kind, field)…);
///
///   - `name`: the struct's name; `"wire_name"`: the event's `type` on the wire (a string
///     literal, case-sensitive).
///   - one `(presence, kind, field)` per data field: presence is `required` or `optional`;
///     `field` is both the member name and the JSON key; kind is one of
///       string, timestamp (RFC 3339 text, kept as sent) → std::string
///       integer (fits int64; 2.0 is refused) → std::int64_t
///       number → double
///       boolean → bool
///       id (an integer or a string id) → rtev::id_value
///       object, array, any (any JSON value, null included) → nlohmann::json
///       integer_map (an object of integers) → std::map<std::string, std::int64_t>
///     A required field is a plain member; an optional one is std::optional of it.
///
/// The struct gets the members in declaration order (so `name{49.5, "EUR"}` initialises the
/// first two), `nlohmann::json extra` (data fields it does not model, written back by
/// encode), to_json / from_json found by ADL (`nlohmann::json j = e;`, `j.get<name>()`),
/// `==` / `!=`, and rtev::event_traits<name> (wire name, event_family::custom). Member names
/// `extra` and `rtev_…` are taken.
#define RTEV_TYPED_EVENT(name_, wire_name_, fields_) \
  RTEV_DETAIL_TYPED_EVENT(name_, wire_name_, custom, fields_)

namespace rtev {

/// Where a typed event comes from; its naming convention follows.
enum class event_family {
  messenger,  ///< rtev/events.hpp, snake_case: message_sent, user_online, typing_indicator, …
  inbox,      ///< rtev/events.hpp, snake_case: new_message, unread_count_update, …
  dashboard,  ///< rtev/events.hpp, UPPER_CASE: NOTIFICATION, CAMPAIGN_PROGRESS, LEAD_CREATED, …
  custom,     ///< the app's own: declared with RTEV_TYPED_EVENT, or untyped ("content-created")
};

/// "messenger", "inbox", "dashboard", "custom".
std::string_view to_string(event_family f);

/// The wire name and family of a typed event T (declared with RTEV_TYPED_EVENT, or one of
/// rtev/events.hpp): `event_traits<T>::name`, `event_traits<T>::family`. Empty for any other
/// type, including const T.
///
/// The macro stores both in the struct itself, so an app can declare its types in its own
/// namespace (a specialisation of this template could only be written at namespace rtev scope).
template <class T, class = void>
struct event_traits {};
template <class T>
struct event_traits<T, std::enable_if_t<std::is_same_v<typename T::rtev_event_type, T>>> {
  static constexpr std::string_view name = T::rtev_event_name;
  static constexpr event_family family = T::rtev_event_family;
};

/// An identifier as the sources send it: an integer (`1`) or a string (`"user123"`).
/// It keeps which one it got, so its JSON form round-trips exactly; `1` and `"1"` are
/// different ids (compare to_string() values to match across sources). Ordered (integers
/// before strings) and hashable, for use as a map key. A default id_value is the integer 0.
///
/// Thread safety: a plain value (distinct objects: safe; shared objects: concurrent reads).
class id_value {
 public:
  id_value() = default;
  // Implicit on purpose, so `e.message_id = 42;` and `e.sender_id = "user123";` just work.
  /// From any integer type; an unsigned value above INT64_MAX throws rtev::error.
  template <class Int,
            std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  id_value(Int i) : integer_(checked_integer(i)) {}
  id_value(std::string s) : is_string_(true), string_(std::move(s)) {}
  id_value(const char* s) : is_string_(true), string_(s) {}
  id_value(bool) = delete;  ///< `true` is not an id

  bool is_integer() const noexcept { return !is_string_; }
  bool is_string() const noexcept { return is_string_; }
  /// The integer; throws rtev::error when the id is a string.
  std::int64_t as_integer() const;
  /// The string; throws rtev::error when the id is an integer (use rtev::to_string to convert).
  const std::string& as_string() const;

  friend bool operator==(const id_value& a, const id_value& b) {
    return a.is_string_ == b.is_string_ &&
           (a.is_string_ ? a.string_ == b.string_ : a.integer_ == b.integer_);
  }
  friend bool operator!=(const id_value& a, const id_value& b) { return !(a == b); }
  friend bool operator<(const id_value& a, const id_value& b) {
    if (a.is_string_ != b.is_string_) return b.is_string_;
    return a.is_string_ ? a.string_ < b.string_ : a.integer_ < b.integer_;
  }
  friend bool operator>(const id_value& a, const id_value& b) { return b < a; }
  friend bool operator<=(const id_value& a, const id_value& b) { return !(b < a); }
  friend bool operator>=(const id_value& a, const id_value& b) { return !(a < b); }

  /// JSON integer or string; from_json throws parse_error (empty path) for anything else:
  /// "expected an id (integer or string), got boolean".
  friend void to_json(nlohmann::json& j, const id_value& v);
  friend void from_json(const nlohmann::json& j, id_value& v);

  /// Writes to_string(v) (for logs and test output).
  friend std::ostream& operator<<(std::ostream& os, const id_value& v);

  /// A hash of the value, for std::hash<rtev::id_value>.
  std::size_t hash() const noexcept {
    return is_string_ ? std::hash<std::string>{}(string_) : ~std::hash<std::int64_t>{}(integer_);
  }

 private:
  template <class Int>
  static std::int64_t checked_integer(Int i) {
    if constexpr (std::is_unsigned_v<Int> && sizeof(Int) >= sizeof(std::int64_t)) {
      if (i > static_cast<Int>(std::numeric_limits<std::int64_t>::max())) {
        throw_out_of_range(static_cast<std::uint64_t>(i));
      }
    }
    return static_cast<std::int64_t>(i);
  }
  [[noreturn]] static void throw_out_of_range(std::uint64_t i);

  // Two plain members rather than std::variant: GCC 12 reports false -Wmaybe-uninitialized
  // warnings for variant<int64_t, string> comparisons in optimised sanitizer builds.
  bool is_string_ = false;
  std::int64_t integer_ = 0;  ///< the id when !is_string_
  std::string string_;        ///< the id when is_string_
};

/// The id as text: `1` → "1", `"user123"` → "user123".
std::string to_string(const id_value& v);

/// True for the structs declared with RTEV_TYPED_EVENT (the app's own and those of
/// rtev/events.hpp; unqualified types only): event_traits<T> gives `name` and `family`, and T
/// has its field list and `extra`. Use in static_assert.
template <class T, class = void>
struct is_typed_event : std::false_type {};
template <class T>
struct is_typed_event<
    T, std::void_t<decltype(event_traits<T>::name), decltype(event_traits<T>::family),
                   decltype(T::rtev_visit_fields(detail::ignore_fields{})),
                   decltype(std::declval<T&>().extra)>> : std::true_type {};
template <class T>
inline constexpr bool is_typed_event_v = is_typed_event<T>::value;

/// The typed form of an event's `data`. Throws parse_error naming the field:
///   "data: expected an object, got array"
///   "data.user_id: required field is missing"
///   "data.amount: expected a number, got string"
/// Unknown fields land in `extra`.
template <class T>
T decode(const nlohmann::json& data) {
  static_assert(is_typed_event_v<T>,
                "rtev::decode<T>: T must be a typed event: declare it with RTEV_TYPED_EVENT "
                "(rtev/typed_event.hpp) or use one of rtev/events.hpp");
  T out;
  detail::read_fields(data, out);
  return out;
}

/// The `data` object for a typed event: `extra` overlaid with every set field (a field wins
/// over an `extra` entry with the same key).
/// Throws rtev::error when `extra` is neither an object nor null.
template <class T>
nlohmann::json encode(const T& e) {
  static_assert(is_typed_event_v<T>,
                "rtev::encode(e): e must be a typed event: declare its type with "
                "RTEV_TYPED_EVENT (rtev/typed_event.hpp) or use one of rtev/events.hpp");
  nlohmann::json data;
  detail::write_event(data, e);
  return data;
}

}  // namespace rtev

namespace std {
template <>
struct hash<rtev::id_value> {
  std::size_t operator()(const rtev::id_value& v) const noexcept { return v.hash(); }
};
}  // namespace std
