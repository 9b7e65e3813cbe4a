// rtev::room_subscription: the handle of a room joined with client::subscribe(). Its state
// lives in a detail::room_entry that the client's service thread updates (client_rooms.cpp); this
// file registers the handlers scoped to it and hands it back on unsubscribe.

#include <string>
#include <utility>

#include "handler_registry.hpp"
#include "rtev/client.hpp"

namespace rtev {

std::string_view to_string(room_state s) {
  switch (s) {
    case room_state::subscribing:
      return "subscribing";
    case room_state::subscribed:
      return "subscribed";
    case room_state::unsubscribed:
      return "unsubscribed";
  }
  return "unknown";
}

room_subscription::room_subscription(std::shared_ptr<detail::room_entry> entry)
    : entry_(std::move(entry)) {}

room_subscription& room_subscription::operator=(room_subscription&& o) noexcept {
  if (this != &o) {
    unsubscribe();
    entry_ = std::move(o.entry_);
  }
  return *this;
}

room_subscription::~room_subscription() {
  unsubscribe();
}

const std::string& room_subscription::room() const {
  static const std::string none;
  return entry_ ? entry_->room : none;
}

room_state room_subscription::state() const {
  return entry_ ? entry_->state.load() : room_state::unsubscribed;
}

std::shared_future<join_info> room_subscription::joined() const {
  if (entry_) return entry_->first_joined;
  std::promise<join_info> none;
  none.set_exception(std::make_exception_ptr(request_error(client_error{
      client_error::kind::connection, "", "SUBSCRIBE", "an empty room_subscription", {}})));
  return none.get_future().share();
}

namespace {

// A handler entry scoped to `entry`, registered with its client's registry; an inactive
// subscription (empty, or its client gone) when there is none.
subscription add_scoped(const std::shared_ptr<detail::room_entry>& entry,
                        const std::shared_ptr<detail::registry::entry>& e) {
  if (!entry || !entry->active) return {};
  auto reg = entry->handlers.lock();
  if (!reg) return {};
  e->scope = entry;
  return subscription(reg, reg->add(e));
}

}  // namespace

subscription room_subscription::on(std::string type_pattern, event_handler handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->pattern = std::move(type_pattern);
  e->on_event = std::move(handler);
  return add_scoped(entry_, e);
}

subscription room_subscription::on_state(std::function<void(const room_state_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_room_state = std::move(handler);
  return add_scoped(entry_, e);
}

subscription room_subscription::on_joined(std::function<void(const join_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_joined = std::move(handler);
  return add_scoped(entry_, e);
}

subscription room_subscription::on_gap(std::function<void(const gap_info&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_gap = std::move(handler);
  return add_scoped(entry_, e);
}

subscription room_subscription::on_error(std::function<void(const client_error&)> handler) {
  auto e = std::make_shared<detail::registry::entry>();
  e->on_room_error = std::move(handler);
  return add_scoped(entry_, e);
}

void room_subscription::unsubscribe() noexcept {
  if (!entry_) return;
  entry_->released = true;
  if (!entry_->active.exchange(false)) return;
  entry_->state = room_state::unsubscribed;
  try {
    if (entry_->release) entry_->release(entry_);
  } catch (...) {  // no memory to post the leave: the room stays joined, nothing is called
  }
}

}  // namespace rtev
