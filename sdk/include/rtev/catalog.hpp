#pragma once
/// \file
/// The catalog of typed events: one C++ struct per known event type (in rtev/events.hpp),
/// each with JSON conversion and an rtev::event_traits specialisation giving its wire name;
/// and the same catalog listable at run time (name, family, fields) for the CLI.
///
/// Thread safety: everything here is immutable after static initialisation; safe from any
/// thread.

#include <string>
#include <string_view>
#include <vector>

namespace rtev {

/// Where a known event type comes from; its naming convention follows.
enum class event_family {
  messenger,  ///< snake_case: message_sent, user_online, typing_indicator, …
  inbox,      ///< snake_case: new_message, unread_count_update, …
  dashboard,  ///< UPPER_CASE: NOTIFICATION, CAMPAIGN_PROGRESS, LEAD_CREATED, …
  custom,     ///< anything else ("content-created"): only through the untyped rtev::event
};

/// "messenger", "inbox", "dashboard", "custom".
std::string_view to_string(event_family f);

/// One data field of a catalog event.
struct field_info {
  std::string name;  ///< JSON key inside `data`
  std::string type;  ///< "string", "integer", "number", "boolean", "object", "array", "id", "any",
                     ///< "timestamp"
  bool required = false;  ///< false when the source systems leave it optional
};

/// One catalog entry.
struct event_info {
  std::string name;  ///< wire name, case-sensitive
  event_family family = event_family::custom;
  std::vector<field_info> fields;
};

/// Every known event type, grouped by family in a stable order.
const std::vector<event_info>& catalog();
/// The catalog entry for `name` (case-sensitive), or nullptr for a custom type.
const event_info* find_event_type(std::string_view name);
/// The catalog type `name` is most likely a misspelling of: the nearest within two edits (a
/// changed, added or dropped character, or two neighbours swapped), one for names of up to five
/// characters; ties go to the catalog's order. Empty for a catalog name itself and for a name
/// far from every one (a custom type).
std::string nearest_event_type(std::string_view name);

/// Specialised for every struct in rtev::events: `name` (wire name) and `family`.
template <class T>
struct event_traits;

}  // namespace rtev
