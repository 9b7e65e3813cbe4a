#pragma once
/// \file
/// The product catalog listable at run time (name, family, fields), for the CLI and tools:
/// the event types of rtev/events.hpp, and only those. An app's own RTEV_TYPED_EVENT types
/// are not added: the list is the same in every program (the CLI's `rtev events`, completions
/// and "did you mean" hints rely on it, and the CLI never links app code), and adding them
/// would take a static registration per type, whose order across translation units is
/// unspecified.
///
/// Thread safety: everything here is immutable after static initialisation; safe from any
/// thread.

#include <string>
#include <string_view>
#include <vector>

#include "rtev/typed_event.hpp"  // event_family

namespace rtev {

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

}  // namespace rtev
