#pragma once
/// \file
/// RTEV_EVENT: declares one catalog event from a single field list (not public API: include
/// rtev/events.hpp instead).
///
///     RTEV_EVENT(events, typing_indicator, "typing_indicator", messenger,
///                (required, id, user_id)
///                (required, boolean, is_typing)
///                (optional, id, conversation_id))
///
/// Use it at `namespace rtev` scope. Arguments: the namespace below rtev (`events`,
/// `events::inbox`, …), the struct name, the wire name, the rtev::event_family enumerator, and
/// the fields as a sequence of `(presence, kind, name)` where presence is `required` or
/// `optional`, kind is one of rtev::detail::kind (string, timestamp, integer, number, boolean,
/// id, object, array, any, integer_map) and name is both the member name and the JSON key.
///
/// It expands to
///   - `struct ns::name { <members>; nlohmann::json extra; … }` with one member per field —
///     `Kind::type` when required, `std::optional<Kind::type>` when optional — plus
///     `static void rtev_visit_fields(visitor)`, which hands the visitor one
///     rtev::detail::field descriptor per field; to_json/from_json hidden friends (found by
///     ADL, nlohmann::json only); and operator== / operator!=;
///   - the rtev::event_traits<ns::name> specialisation (wire name, family);
///   - a count of RTEV_EVENT uses, checked against rtev::events::all in rtev/events.hpp.
/// The run-time catalog (rtev::catalog()) is built from rtev_visit_fields, so the struct, its
/// JSON form and the catalog entry cannot disagree.
///
/// The struct is named by its full name `::rtev::ns::name` inside its own body because a
/// member may share the struct's name (inbox::error has a field `error`).

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
#define RTEV_DETAIL_VISIT_FIELD(p, k, n)                                                  \
  visit(::rtev::detail::make_field<::rtev::detail::kind::k, ::rtev::detail::presence::p>( \
      #n, &self::n));

#define RTEV_EVENT(ns_, name_, wire_name_, family_, fields_)                              \
  namespace ns_ {                                                                         \
  struct name_ {                                                                          \
    RTEV_DETAIL_DECLARE_FIELDS(fields_)                                                   \
    /* Data fields this struct does not model (and explicit nulls of optional fields), */ \
    /* written back by to_json so data round-trips. */                                    \
    nlohmann::json extra = nlohmann::json::object();                                      \
                                                                                          \
    template <class Visitor>                                                              \
    static void rtev_visit_fields(Visitor&& visit) {                                      \
      using self = ::rtev::ns_::name_;                                                    \
      RTEV_DETAIL_VISIT_FIELDS(fields_)                                                   \
    }                                                                                     \
    template <class Json, ::rtev::detail::if_json<Json> = 0>                              \
    friend void to_json(Json& j, const ::rtev::ns_::name_& e) {                           \
      ::rtev::detail::write_event(j, e);                                                  \
    }                                                                                     \
    template <class Json, ::rtev::detail::if_json<Json> = 0>                              \
    friend void from_json(const Json& j, ::rtev::ns_::name_& e) {                         \
      ::rtev::detail::read_event(j, e);                                                   \
    }                                                                                     \
    friend bool operator==(const ::rtev::ns_::name_& a, const ::rtev::ns_::name_& b) {    \
      return ::rtev::detail::equal_events(a, b);                                          \
    }                                                                                     \
    friend bool operator!=(const ::rtev::ns_::name_& a, const ::rtev::ns_::name_& b) {    \
      return !(a == b);                                                                   \
    }                                                                                     \
  };                                                                                      \
  }                                                                                       \
  template <>                                                                             \
  struct event_traits<ns_::name_> {                                                       \
    static constexpr std::string_view name = wire_name_;                                  \
    static constexpr event_family family = event_family::family_;                         \
  };                                                                                      \
  /* One __COUNTER__ step per event: see the check after rtev::events::all. */            \
  static_assert(__COUNTER__ >= 0, "")
