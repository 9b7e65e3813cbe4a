#include "rtev/catalog.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rtev/events.hpp"

#include "edit_distance.hpp"

namespace rtev {

namespace {

std::vector<event_info> build_catalog() {
  std::vector<event_info> entries;
  entries.reserve(events::all::size);
  detail::for_each_type(events::all{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    event_info info;
    info.name = std::string(event_traits<T>::name);
    info.family = event_traits<T>::family;
    T::rtev_visit_fields([&](auto f) {
      using kind_t = typename decltype(f)::kind;
      info.fields.push_back(field_info{std::string(f.name), std::string(kind_t::catalog_type),
                                       decltype(f)::required});
    });
    entries.push_back(std::move(info));
  });
  return entries;
}

}  // namespace

// The product catalog only: rtev::events::all. The app's own RTEV_TYPED_EVENT types are not
// registered (see rtev/catalog.hpp).
const std::vector<event_info>& catalog() {
  // Built once, from the same RTEV_EVENT field lists as the structs (thread-safe static).
  static const std::vector<event_info> entries = build_catalog();
  return entries;
}

const event_info* find_event_type(std::string_view name) {
  // About 40 entries: a linear scan is as fast as a map and needs no second structure.
  for (const auto& info : catalog()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::string nearest_event_type(std::string_view name) {
  if (find_event_type(name) != nullptr) return {};
  // Short names are near too many others for two edits to mean a typo.
  const std::size_t limit = name.size() <= 5 ? 1 : 2;
  const event_info* best = nullptr;
  std::size_t best_distance = limit + 1;
  for (const auto& info : catalog()) {
    const std::size_t d = detail::edit_distance(name, info.name, limit);
    if (d < best_distance) {
      best = &info;
      best_distance = d;
    }
  }
  return best != nullptr ? best->name : std::string();
}

}  // namespace rtev
