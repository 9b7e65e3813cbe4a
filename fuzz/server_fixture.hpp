#pragma once
// A server hub without a network, for the fuzz targets: an in-memory history store and the
// embedded engine on it, an authenticator, room_hub and http_api, with the service thread's job
// (running what the store's writer thread posts back, draining connections' queues) done inline by
// settle().
//
// One fixture per input keeps inputs independent, so a regression file replays the same way on
// its own as it did in the fuzzing run.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth.hpp"
#include "embedded_engine.hpp"
#include "history_store.hpp"
#include "http_api.hpp"
#include "room_hub.hpp"
#include "ws_protocol.hpp"

namespace rtev::fuzz {

/// The fixed secret every JWT-mode fuzz target signs and verifies with.
inline const std::string jwt_secret = "fuzz-secret-0123456789";

struct server_fixture {
  explicit server_fixture(server_lite::auth_mode mode)
      : store(":memory:", {}),
        auth(mode, mode == server_lite::auth_mode::jwt ? jwt_secret : std::string()) {
    cfg.db_path = ":memory:";
    cfg.auth = std::string(server_lite::to_string(mode));
    cfg.jwt_secret = auth.mode() == server_lite::auth_mode::jwt ? jwt_secret : "";
    server_lite::hub_config hc;
    hc.rate = 1e6;  // the rate limit is not what is being fuzzed
    hc.burst = 1e6;
    engine =
        std::make_unique<server_lite::embedded_engine>(store, [this](std::function<void()> fn) {
          std::lock_guard<std::mutex> lock(posted_mutex);
          posted.push_back(std::move(fn));
        });
    hub = std::make_unique<server_lite::room_hub>(hc, *engine, auth);
    api =
        std::make_unique<server_lite::http_api>(cfg, *hub, auth, std::chrono::steady_clock::now());
  }

  ~server_fixture() {
    settle();
    api.reset();
    hub.reset();
    engine.reset();
  }

  /// Waits for the store's commits and history reads, runs their completions as the service thread
  /// would, then drains every connection's queue (which pumps history replay), until nothing is
  /// left.
  void settle() {
    for (int round = 0; round < 64; ++round) {
      store.flush();
      hub->flush_reads();
      std::vector<std::function<void()>> todo;
      {
        std::lock_guard<std::mutex> lock(posted_mutex);
        todo.swap(posted);
      }
      bool sent = false;
      for (auto& fn : todo) fn();
      for (server_lite::conn_id id : conns)
        if (server_lite::connection* c = hub->find(id))
          while (hub->next_outgoing(*c)) sent = true;
      if (todo.empty() && !sent) return;
    }
  }

  server_lite::connection& open(server_lite::conn_kind kind = server_lite::conn_kind::websocket) {
    server_lite::door_codec codec;
    if (kind == server_lite::conn_kind::websocket) codec = server_lite::rtev_ws_codec();
    if (kind == server_lite::conn_kind::sse) codec.pings = false;
    server_lite::connection& c = hub->open(
        kind, "127.0.0.1", [] {}, {}, std::move(codec));
    conns.push_back(c.id);
    return c;
  }

  // Declared first: the store's destructor may still post completions.
  std::mutex posted_mutex;  // guards posted (filled on the store's writer thread)
  std::vector<std::function<void()>> posted;

  server_config cfg;
  server_lite::history_store store;
  server_lite::authenticator auth;
  std::unique_ptr<server_lite::embedded_engine> engine;
  std::unique_ptr<server_lite::room_hub> hub;
  std::unique_ptr<server_lite::http_api> api;
  std::vector<server_lite::conn_id> conns;
};

}  // namespace rtev::fuzz
