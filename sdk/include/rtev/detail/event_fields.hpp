#pragma once
/// \file
/// Machinery behind rtev/typed_event.hpp (not public API: include rtev/typed_event.hpp).
///
/// A typed event's fields are described once, in its RTEV_TYPED_EVENT declaration. Each field has
/// a *kind* (the catalog type name of field_info::type) which fixes its C++ member type and
/// how it is read from JSON, and a *presence* (required or optional). The struct's static
/// `rtev_visit_fields(visitor)` hands the visitor one `field<Kind, Presence, Owner, Member>`
/// descriptor per field, in declaration order; everything else here — reading, writing,
/// comparing, and the run-time catalog in catalog.cpp — is written once against that visitor.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

namespace rtev {

class id_value;

namespace detail {

/// Whether a field must be present in `data`.
enum class presence { required, optional };

/// Field kinds. `catalog_type` is field_info::type; `type` is the C++ value type; `read`
/// converts the JSON value of `data.<field>` or throws parse_error("data.<field>", "expected
/// …, got …"); `write` sets `data[field]`. Both are defined in sdk/src/typed_event.cpp: keeping
/// the JSON work out of the templates keeps each event's generated code to a few calls.
namespace kind {

struct string {
  using type = std::string;
  static constexpr std::string_view catalog_type = "string";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

/// RFC 3339 text kept as written (not validated: sources send naive and offset forms alike).
struct timestamp {
  using type = std::string;
  static constexpr std::string_view catalog_type = "timestamp";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

/// A JSON integer that fits std::int64_t (a float such as 2.0 is rejected).
struct integer {
  using type = std::int64_t;
  static constexpr std::string_view catalog_type = "integer";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

struct number {
  using type = double;
  static constexpr std::string_view catalog_type = "number";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

struct boolean {
  using type = bool;
  static constexpr std::string_view catalog_type = "boolean";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

/// An identifier sent as an integer or a string: rtev::id_value.
struct id {
  using type = rtev::id_value;
  static constexpr std::string_view catalog_type = "id";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

/// A JSON object kept as nlohmann::json (nested records rtev does not model field by field).
struct object {
  using type = nlohmann::json;
  static constexpr std::string_view catalog_type = "object";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

struct array {
  using type = nlohmann::json;
  static constexpr std::string_view catalog_type = "array";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

/// Any JSON value, null included.
struct any {
  using type = nlohmann::json;
  static constexpr std::string_view catalog_type = "any";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

/// An object of integers keyed by name ({"whatsapp": 3, "telegram": 0}); an "object" in the
/// catalog.
struct integer_map {
  using type = std::map<std::string, std::int64_t>;
  static constexpr std::string_view catalog_type = "object";
  static void read(const nlohmann::json& j, std::string_view field, type& out);
  static void write(nlohmann::json& data, std::string_view field, const type& value);
};

}  // namespace kind

/// The member type of a field: Kind::type, wrapped in std::optional when optional.
template <class Kind, presence P>
using member_t = std::conditional_t<P == presence::required, typename Kind::type,
                                    std::optional<typename Kind::type>>;

/// The initial value of a field member: nullopt when optional; `{}` and `[]` for required
/// object and array fields so a default-constructed event encodes to valid data; else `{}`.
template <class Kind, presence P>
member_t<Kind, P> initial_value() {
  if constexpr (P == presence::required && std::is_same_v<Kind, kind::object>) {
    return nlohmann::json::object();
  } else if constexpr (P == presence::required && std::is_same_v<Kind, kind::array>) {
    return nlohmann::json::array();
  } else {
    return member_t<Kind, P>{};
  }
}

/// One field of an event struct: its JSON key (= member name) and member pointer.
template <class Kind, presence P, class Owner, class Member>
struct field {
  static_assert(std::is_same_v<Member, member_t<Kind, P>>, "member type does not match kind");
  using kind = Kind;
  static constexpr bool required = P == presence::required;
  std::string_view name;
  Member Owner::*member;
};

template <class Kind, presence P, class Owner, class Member>
constexpr field<Kind, P, Owner, Member> make_field(std::string_view name, Member Owner::*member) {
  return {name, member};
}

/// A compile-time list of types, and a call of `f(type_tag<T>{})` for each T in it.
template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
};
template <class T>
struct type_tag {
  using type = T;
};
template <class... Ts, class F>
void for_each_type(type_list<Ts...>, F&& f) {
  (f(type_tag<Ts>{}), ...);
}
/// True when no type appears twice in the list.
template <class T, class... Ts>
constexpr int count_of = (0 + ... + (std::is_same_v<T, Ts> ? 1 : 0));
template <class... Ts>
constexpr bool all_distinct(type_list<Ts...>) {
  return ((count_of<Ts, Ts...> == 1) && ...);
}

/// Enables the to_json/from_json friends for nlohmann::json only (not ordered_json), so they
/// are templates — instantiated only where an event is actually converted.
template <class Json>
using if_json = std::enable_if_t<std::is_same_v<Json, nlohmann::json>, int>;

// Non-template helpers, defined in sdk/src/typed_event.cpp.
/// Throws parse_error("data", "expected an object, got <type>").
[[noreturn]] void throw_data_not_object(const nlohmann::json& data);
/// Copies the members of `data` whose key is not a field name into `extra`.
void copy_unknown_fields(const nlohmann::json& data, nlohmann::json& extra,
                         bool (*is_field)(std::string_view key));
/// The value of `data[field]` to read, or nullptr when there is none to read: absent (an
/// error when `required`: parse_error("data.<field>", "required field is missing")), or an
/// explicit null in an optional field, which is recorded in `extra` so it is written back.
const nlohmann::json* field_value(const nlohmann::json& data, std::string_view field, bool required,
                                  nlohmann::json& extra);
/// `extra` as the object an encoding starts from: null gives {}, an object itself; anything
/// else throws rtev::error (extra must hold data fields, i.e. be an object).
nlohmann::json extra_object(const nlohmann::json& extra);

/// True when `key` names one of T's fields.
template <class T>
bool is_field_name(std::string_view key) {
  bool found = false;
  T::rtev_visit_fields([&](auto f) { found = found || f.name == key; });
  return found;
}

/// Reads `data` into `fresh`, a default-constructed T: `data` must be an object; required
/// fields must be present; each field must have its kind. Unknown keys go to `extra`, and so
/// does an explicit null in an optional field (the field stays empty), so encoding gives back
/// `data` exactly.
template <class T>
void read_fields(const nlohmann::json& data, T& fresh) {
  if (!data.is_object()) throw_data_not_object(data);
  copy_unknown_fields(data, fresh.extra, &is_field_name<T>);
  T::rtev_visit_fields([&](auto f) {
    using kind_t = typename decltype(f)::kind;
    const nlohmann::json* value = field_value(data, f.name, f.required, fresh.extra);
    if (!value) return;
    if constexpr (decltype(f)::required) {
      kind_t::read(*value, f.name, fresh.*f.member);
    } else {
      kind_t::read(*value, f.name, (fresh.*f.member).emplace());
    }
  });
}

/// from_json for every typed event: read_fields into a new T, assigned to `out` only once
/// everything parsed (strong guarantee).
template <class T>
void read_event(const nlohmann::json& data, T& out) {
  T result;
  read_fields(data, result);
  out = std::move(result);
}

/// to_json for every typed event: `extra` first, then every set field (a field wins over
/// an `extra` entry with the same key).
template <class T>
void write_event(nlohmann::json& data, const T& e) {
  nlohmann::json result = extra_object(e.extra);
  T::rtev_visit_fields([&](auto f) {
    using kind_t = typename decltype(f)::kind;
    const auto& value = e.*f.member;
    if constexpr (decltype(f)::required) {
      kind_t::write(result, f.name, value);
    } else {
      if (value) kind_t::write(result, f.name, *value);
    }
  });
  data = std::move(result);
}

/// Member-wise equality of two events, `extra` included.
template <class T>
bool equal_events(const T& a, const T& b) {
  bool equal = a.extra == b.extra;
  T::rtev_visit_fields([&](auto f) { equal = equal && a.*f.member == b.*f.member; });
  return equal;
}

/// Accepts any field descriptor: lets is_typed_event probe for rtev_visit_fields.
struct ignore_fields {
  template <class F>
  void operator()(const F&) const {}
};

}  // namespace detail
}  // namespace rtev
