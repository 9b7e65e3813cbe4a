// room_hub's subscription index: what a subscription matches, the automatic user:/role:
// rooms, and the exact-room index (plus the connections with globs) that fan-out looks events
// up in. Service thread only (room_hub.hpp).

#include <algorithm>

#include "names.hpp"
#include "room_hub.hpp"

namespace rtev::server_lite {

bool any_glob_matches(const std::vector<std::string>& globs, const std::string& text) {
  if (globs.empty()) return true;
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return glob_match(g, text); });
}

bool subscription::matches_room(const std::string& room) const {
  if (room.empty()) return broadcasts;
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return glob_match(p, room); });
}

bool subscription::matches(const shared_event& e) const {
  return matches_room(e.room) && any_glob_matches(types, e.type);
}

// --- the index -------------------------------------------------------------------------------

void room_hub::join_automatic(connection& c) {
  subscription user_sub;
  user_sub.automatic = true;
  user_sub.patterns.push_back("user:" + c.who->user_id);
  for (const auto& r : c.who->roles) user_sub.patterns.push_back("role:" + r);
  // Automatic rooms are only those that are valid names (a user id with a space has none).
  user_sub.patterns.erase(std::remove_if(user_sub.patterns.begin(), user_sub.patterns.end(),
                                         [](const std::string& p) { return !is_valid_room(p); }),
                          user_sub.patterns.end());
  if (user_sub.patterns.empty()) return;
  c.subs.push_front(user_sub);
  index_subscription(c, c.subs.front());
}

void room_hub::index_subscription(connection& c, const subscription& s) {
  for (const auto& p : s.patterns) {
    if (is_glob(p)) {
      glob_conns_.insert(&c);
    } else if (room_index_[p].insert(&c).second) {
      c.indexed.push_back(p);
    }
  }
}

void room_hub::unindex_connection(connection& c) {
  // By what was indexed, not by the current subscriptions: callers may have changed those
  // already (UNSUBSCRIBE, a replaced SUBSCRIBE), and a stale entry would dangle.
  for (const auto& p : c.indexed) {
    auto it = room_index_.find(p);
    if (it == room_index_.end()) continue;
    it->second.erase(&c);
    if (it->second.empty()) room_index_.erase(it);
  }
  c.indexed.clear();
  glob_conns_.erase(&c);
}

void room_hub::reindex(connection& c) {
  unindex_connection(c);
  for (const auto& s : c.subs) index_subscription(c, s);
}

std::size_t room_hub::room_count() const {
  return room_index_.size();
}
}  // namespace rtev::server_lite
