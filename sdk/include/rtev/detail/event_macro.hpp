#pragma once
/// \file
/// RTEV_DETAIL_TYPED_EVENT: the one expansion behind RTEV_TYPED_EVENT (rtev/typed_event.hpp,
/// family `custom`) and the catalog's declarations in rtev/events.hpp (family messenger, inbox
/// or dashboard). Not public API: use RTEV_TYPED_EVENT.
///
///     RTEV_DETAIL_TYPED_EVENT(typing_indicator, "typing_indicator", messenger,
///                             (required, id, user_id)
///                             (required, boolean, is_typing)
///                             (optional, id, conversation_id))
///
/// Arguments: the struct name, the wire name, the rtev::event_family enumerator, and the fields
/// as a sequence of `(presence, kind, name)` where presence is `required` or `optional`, kind
/// is one of rtev::detail::kind (string, timestamp, integer, number, boolean, id, object,
/// array, any, integer_map) and name is both the member name and the JSON key.
///
/// It expands, in the current namespace, to `struct name { <members>; nlohmann::json extra; … }`
/// with one member per field — `Kind::type` when required, `std::optional<Kind::type>` when
/// optional — plus
///   - `rtev_event_type` (the struct itself), `rtev_event_name` and `rtev_event_family`, which
///     rtev::event_traits reads: a traits specialisation would have to be written at namespace
///     rtev scope, and the app's types live in the app's namespaces;
///   - `static void rtev_visit_fields(visitor)`, which hands the visitor one
///     rtev::detail::field descriptor per field (reading, writing, comparing and the run-time
///     catalog are written once against it, so they cannot disagree with the struct);
///   - to_json/from_json hidden friends (found by ADL, nlohmann::json only), == and !=;
///   - one __COUNTER__ step, which rtev/events.hpp uses to check rtev::events::all.
///
/// Inside its own body the struct is named `struct name`: a member may share the struct's name
/// (inbox::error has a field `error`), and an elaborated type name ignores data members, so it
/// still means the struct wherever the macro is used.

#include "rtev/detail/event_fields.hpp"

// Iterating a sequence `(p, k, n)(p, k, n)…`: each step expands one element and ends with the
// name of the other step macro, which the next `(…)` then invokes; the final dangling name is
// pasted with _END into an empty macro. No length limit, no Boost.Preprocessor.
// RTEV_DETAIL_END(x…) expands x first, then pastes _END onto its last token (x has commas).
#define RTEV_DETAIL_END(...) RTEV_DETAIL_END_I(__VA_ARGS__)
#define RTEV_DETAIL_END_I(...) __VA_ARGS__##_END

#define RTEV_DETAIL_DECLARE_FIELDS(fields) RTEV_DETAIL_END(RTEV_DETAIL_DECLARE_A fields)
#define RTEV_DETAIL_DECLARE_A(p, k, n) RTEV_DETAIL_DECLARE_FIELD(p, k, n) RTEV_DETAIL_DECLARE_B
#define RTEV_DETAIL_DECLARE_B(p, k, n) RTEV_DETAIL_DECLARE_FIELD(p, k, n) RTEV_DETAIL_DECLARE_A
#define RTEV_DETAIL_DECLARE_A_END
#define RTEV_DETAIL_DECLARE_B_END
// `n` is the member's name (a declarator): it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define RTEV_DETAIL_DECLARE_FIELD(p, k, n)                                           \
  ::rtev::detail::member_t<::rtev::detail::kind::k, ::rtev::detail::presence::p> n = \
      ::rtev::detail::initial_value<::rtev::detail::kind::k, ::rtev::detail::presence::p>();
// NOLINTEND(bugprone-macro-parentheses)

#define RTEV_DETAIL_VISIT_FIELDS(fields) RTEV_DETAIL_END(RTEV_DETAIL_VISIT_A fields)
#define RTEV_DETAIL_VISIT_A(p, k, n) RTEV_DETAIL_VISIT_FIELD(p, k, n) RTEV_DETAIL_VISIT_B
#define RTEV_DETAIL_VISIT_B(p, k, n) RTEV_DETAIL_VISIT_FIELD(p, k, n) RTEV_DETAIL_VISIT_A
#define RTEV_DETAIL_VISIT_A_END
#define RTEV_DETAIL_VISIT_B_END
#define RTEV_DETAIL_VISIT_FIELD(p, k, n)                                                       \
  rtev_visit(::rtev::detail::make_field<::rtev::detail::kind::k, ::rtev::detail::presence::p>( \
      #n, &rtev_event_type::n));

#define RTEV_DETAIL_TYPED_EVENT(name_, wire_name_, family_, fields_)                         \
  struct name_ {                                                                             \
    RTEV_DETAIL_DECLARE_FIELDS(fields_)                                                      \
    /* Data fields this struct does not model (and explicit nulls of optional fields), */    \
    /* written back by to_json so data round-trips. */                                       \
    ::nlohmann::json extra = ::nlohmann::json::object();                                     \
                                                                                             \
    /* Read by rtev::event_traits. */                                                        \
    using rtev_event_type = struct name_;                                                    \
    static constexpr ::std::string_view rtev_event_name = wire_name_;                        \
    static constexpr ::rtev::event_family rtev_event_family = ::rtev::event_family::family_; \
                                                                                             \
    /* Parameters are named rtev_* so no field name can shadow them. */                      \
    template <class Visitor>                                                                 \
    static void rtev_visit_fields(Visitor&& rtev_visit) {                                    \
      RTEV_DETAIL_VISIT_FIELDS(fields_)                                                      \
    }                                                                                        \
    template <class Json, ::rtev::detail::if_json<Json> = 0>                                 \
    friend void to_json(Json& rtev_j, const struct name_& rtev_e) {                          \
      ::rtev::detail::write_event(rtev_j, rtev_e);                                           \
    }                                                                                        \
    template <class Json, ::rtev::detail::if_json<Json> = 0>                                 \
    friend void from_json(const Json& rtev_j, struct name_& rtev_e) {                        \
      ::rtev::detail::read_event(rtev_j, rtev_e);                                            \
    }                                                                                        \
    friend bool operator==(const struct name_& rtev_a, const struct name_& rtev_b) {         \
      return ::rtev::detail::equal_events(rtev_a, rtev_b);                                   \
    }                                                                                        \
    friend bool operator!=(const struct name_& rtev_a, const struct name_& rtev_b) {         \
      return !(rtev_a == rtev_b);                                                            \
    }                                                                                        \
  };                                                                                         \
  /* One __COUNTER__ step per event: see the check after rtev::events::all. */               \
  static_assert(__COUNTER__ >= 0, "")
