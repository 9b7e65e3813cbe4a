#pragma once
// Internal: the client's handler registry (client::on…, room_subscription::on…) and the state
// of one room subscription object. Shared by the client (client.cpp and client_rooms.cpp call
// the handlers) and room_subscription.cpp (which registers them).
//
// Threads: the registry is guarded by its mutex, safe from any thread; a room_entry's `state`
// and `active` are atomics read anywhere, the rest is the service thread's.

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rtev/client.hpp"

namespace rtev::detail {

struct registry;

// One client.subscribe(room) object.
struct room_entry {
  std::string room;
  nlohmann::json since;  // where its first subscription starts (room_options::since)
  std::atomic<room_state> state{room_state::subscribing};
  std::atomic<bool> active{true};  // false once unsubscribed: none of its handlers runs
  // unsubscribe() was called: tasks already queued on an executor call nothing (an end by the
  // server or the client's close still reports its final state).
  std::atomic<bool> released{false};
  // The first join (service thread sets it once; the future is read from anywhere).
  std::promise<join_info> first;
  std::shared_future<join_info> first_joined = first.get_future().share();
  bool first_set = false;
  // Hands the entry back to its client (on the client's service thread), which leaves the
  // room if nothing else holds it; empty once the client is gone.
  std::function<void(const std::shared_ptr<room_entry>&)> release;
  std::weak_ptr<registry> handlers;
};

struct registry {
  struct entry {
    std::uint64_t id = 0;
    std::string pattern;  // event handlers: type glob
    std::function<void(const event&)> on_event;
    std::function<void(const state_info&)> on_state;
    std::function<void(const gap_info&)> on_gap;
    std::function<void(const server_status_info&)> on_server_status;
    std::function<void(const join_info&)> on_joined;
    std::function<void(const std::string&)> on_raw;
    // A room subscription's own handlers (room_subscription::on…): only what concerns its room,
    // and nothing once it is unsubscribed. Null: a client-wide handler.
    std::shared_ptr<room_entry> scope;
    std::function<void(const room_state_info&)> on_room_state;
    std::function<void(const client_error&)> on_room_error;
    std::atomic<bool> active{true};
    // on_state: it has been (or is being) told a state; set on the service thread.
    std::atomic<bool> state_seen{false};
  };

  std::mutex mutex;  // guards next_id, entries, error_handler
  std::uint64_t next_id = 1;
  std::vector<std::shared_ptr<entry>> entries;
  std::function<void(const client_error&)> error_handler;
  // The client object is gone while its service thread still winds down (it was destroyed
  // from inside a handler): no user code is called from then on.
  std::atomic<bool> detached{false};

  // Called by the client's destructor on the service thread: every handler off, for good.
  void detach() {
    std::lock_guard<std::mutex> lock(mutex);
    detached = true;
    for (auto& e : entries) e->active = false;
    entries.clear();
    error_handler = nullptr;
  }

  std::uint64_t add(const std::shared_ptr<entry>& e) {
    std::lock_guard<std::mutex> lock(mutex);
    e->id = next_id++;
    entries.push_back(e);
    return e->id;
  }

  void remove(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto it = entries.begin(); it != entries.end(); ++it)
      if ((*it)->id == id) {
        (*it)->active = false;
        entries.erase(it);
        return;
      }
  }

  // A snapshot: handlers may (un)subscribe while it is being walked.
  std::vector<std::shared_ptr<entry>> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    if (detached) return {};
    return entries;
  }

  void report(const client_error& err) {
    std::function<void(const client_error&)> h;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (detached) return;
      h = error_handler;
    }
    if (h) {
      try {
        h(err);
        return;
      } catch (...) {
        // An error handler that throws has nowhere to report to but stderr.
      }
    }
    std::cerr << "rtev: " << err.message << '\n';
  }
};

}  // namespace rtev::detail
