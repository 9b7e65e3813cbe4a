#pragma once
// redis_engine's parts shared by its two files (redis_engine.cpp: starting, connections,
// the epoch, publishing; redis_engine_reads.cpp: reading the stream, history): reading
// hiredis replies and the engine's private structs. Internal to those two files.

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "redis_engine.hpp"
#include "rtev/backoff.hpp"

namespace rtev::server_lite {

using reply_fn = std::function<void(redisReply*)>;

/// The text of a string, status or error reply ("" for anything else or none).
std::string reply_text(const redisReply* r);
bool is_error(const redisReply* r);
/// The seq of a stream entry id "<seq>-0".
std::uint64_t seq_of_id(const std::string& id);
/// A stream entry ([id, [field, value, …]]) as the event it stores; false if it is not one.
bool read_entry(const redisReply* entry, std::uint64_t& seq, new_event& e);

struct ev_timer_holder {
  ev_timer timer{};
  redis_engine* owner = nullptr;
};

// One async connection: the commands' (publishes, history, upkeep) or the reader's (XREAD).
struct redis_engine::connection {
  redis_engine* owner = nullptr;
  const char* role = "";
  redisAsyncContext* ac = nullptr;
  bool up = false;
  std::chrono::steady_clock::time_point retry_at{};
  // Reconnects: 200 ms doubling to 5 s, half of it jittered so nodes do not come back in step;
  // the count starts over once a connection has lasted 10 s.
  backoff_schedule retry{[] {
    backoff_policy p;
    p.initial = std::chrono::milliseconds(200);
    p.max = std::chrono::seconds(5);
    return p;
  }()};

  // Replies still to come, by the number hiredis carries for each command (its privdata).
  std::unordered_map<std::uintptr_t, reply_fn> waiting;
  std::uintptr_t next = 1;

  // Sends a command; `fn` gets the reply (nullptr when the connection went away first: hiredis
  // answers every command it queued, once).
  bool send(const std::vector<std::string>& args, reply_fn fn) {
    if (!ac) return false;
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    const std::uintptr_t id = next++;
    // hiredis carries a pointer for the callback; the command's number travels in it.
    void* tag = reinterpret_cast<void*>(id);  // NOLINT(performance-no-int-to-ptr)
    if (redisAsyncCommandArgv(ac, &connection::on_reply, tag, static_cast<int>(args.size()),
                              argv.data(), lens.data()) != REDIS_OK)
      return false;
    waiting.emplace(id, std::move(fn));
    return true;
  }

  static void on_reply(redisAsyncContext* a, void* reply, void* tag) {
    auto* self = static_cast<connection*>(a->data);
    if (!self) return;  // the engine is going away
    const auto it = self->waiting.find(reinterpret_cast<std::uintptr_t>(tag));
    if (it == self->waiting.end()) return;
    reply_fn fn = std::move(it->second);
    self->waiting.erase(it);
    fn(static_cast<redisReply*>(reply));
  }
};

struct redis_engine::waiting_append {
  std::uint64_t max_seq = 0;
  std::vector<append_outcome> out;
  append_done done;
};

struct redis_engine::publish_call {
  std::vector<std::string> args;  // EVALSHA (or EVAL) and its keys and values
  std::size_t n = 0;              // events
  append_done done;
};

struct redis_engine::query_state {
  history_query q;
  query_done done;
  history_page page;
  std::string from;  // the next XRANGE's start
};

}  // namespace rtev::server_lite
