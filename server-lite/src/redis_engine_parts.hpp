#pragma once
// redis_engine's parts shared by its files (redis_engine.cpp: starting, connections, the
// epoch, publishing; redis_engine_reads.cpp: reading the stream, history;
// redis_engine_nodes.cpp: the bus, presence, the heartbeat): reading hiredis replies and the
// engine's private structs. Internal to those files.

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
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
/// A command on a blocking connection (start, goodbye); the caller frees the reply.
redisReply* sync_command(redisContext* c, const std::vector<std::string>& args);
/// The presence script (redis_engine_nodes.cpp), loaded at start with the publish script.
extern const char* const presence_script;

struct ev_timer_holder {
  ev_timer timer{};
  redis_engine* owner = nullptr;
};

// One async connection: the commands' (publishes, history, upkeep, presence), the reader's
// (XREAD) or the bus's (SUBSCRIBE).
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
  struct callback {
    reply_fn fn;
    bool lasting = false;
  };
  std::unordered_map<std::uintptr_t, callback> waiting;
  std::uintptr_t next = 1;

  // Sends a command; `fn` gets the reply (nullptr when the connection went away first: hiredis
  // answers every command it queued, once). A SUBSCRIBE is `lasting`: `fn` gets every message
  // on its channels, then nullptr when the connection goes.
  bool send(const std::vector<std::string>& args, reply_fn fn, bool lasting = false) {
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
    waiting.emplace(id, callback{std::move(fn), lasting});
    return true;
  }

  static void on_reply(redisAsyncContext* a, void* reply, void* tag) {
    auto* self = static_cast<connection*>(a->data);
    if (!self) return;  // the engine is going away
    const auto it = self->waiting.find(reinterpret_cast<std::uintptr_t>(tag));
    if (it == self->waiting.end()) return;
    if (it->second.lasting && reply) {
      const reply_fn fn = it->second.fn;  // a copy: `fn` may send, and the map may grow
      fn(static_cast<redisReply*>(reply));
      return;
    }
    reply_fn fn = std::move(it->second.fn);
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

// A node_question out to the other nodes: answered when every node that received it has, or
// when its time is up.
struct redis_engine::question {
  node_question::kind what = node_question::kind::stats;
  std::string arg;
  std::vector<node_report> reports;     // this node's first
  std::optional<std::size_t> expected;  // other nodes that received it (PUBLISH's answer)
  std::size_t answered = 0;
  std::chrono::steady_clock::time_point deadline;
  ask_done done;
  std::vector<ask_done> also;  // the same question asked again meanwhile
};

struct redis_engine::query_state {
  history_query q;
  query_done done;
  history_page page;
  std::string from;  // the next XRANGE's start
};

}  // namespace rtev::server_lite
