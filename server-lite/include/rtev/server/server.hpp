#pragma once
/// \file
/// rtev::server: the reference event server (server-lite) as a library, so a C++ program —
/// or a test — can embed it. `rtev serve` is a thin command line around it.
///
///     rtev::server_config cfg;
///     cfg.port = 0;                       // pick a free port
///     rtev::server srv(cfg);              // opens the store, binds the port (throws on error)
///     srv.start();                        // serves on its own thread
///     std::cout << srv.url() << '\n';     // ws://127.0.0.1:PORT/events/ws/connect
///     srv.stop();                         // 1001 to every client, store flushed
///
/// Thread safety: start(), stop(), url(), port() and stats are safe from any thread; run()
/// blocks the calling thread until stop(). Everything else happens on the server's service
/// thread. Errors: a bad configuration throws rtev::config_error from the constructor, with
/// a one-line message naming the bad value.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "rtev/error.hpp"

namespace rtev {

/// Every knob of `rtev serve`; defaults match the CLI's.
struct server_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;  ///< 0 picks a free port
  std::string db_path;  ///< empty: ${XDG_DATA_HOME:-~/.local/share}/rtev/events.db; ":memory:"
                        ///< keeps nothing
  std::string timezone = "UTC";  ///< IANA zone stamped on every event
  std::optional<std::uint64_t> history_max_events;
  std::optional<std::chrono::seconds> history_max_age;
  /// Several nodes on one Redis (docs/scale-out.md): redis://[[USER]:PASSWORD@]HOST[:PORT][/DB].
  /// Empty: the embedded SQLite store (db_path).
  std::string broker;
  std::string broker_prefix = "rtev";  ///< key prefix, so deployments can share one Redis
  /// How long to keep trying to reach the broker at start; 0: fail at once (broker_unavailable).
  std::chrono::milliseconds broker_wait{0};
  /// How long a node that stopped answering still counts for the others (its users stay
  /// online); each node renews its entry three times in this period.
  std::chrono::milliseconds broker_ttl{10000};
  /// Store user_online/user_offline (with a seq, replayed and in HISTORY); false: they are
  /// live-only, like typing indicators.
  bool store_presence = false;

  std::string auth = "none";  ///< none | token | jwt
  std::string jwt_secret;     ///< required for jwt
  std::string api_key;        ///< empty: the HTTP publish/admin API is open
  std::chrono::milliseconds auth_timeout{10000};
  std::chrono::milliseconds ping_interval{30000};
  std::chrono::milliseconds ping_timeout{10000};
  std::chrono::milliseconds sse_heartbeat{30000};
  std::size_t max_message_bytes = 65536;
  double rate_limit = 100;  ///< messages per second per connection; finite, (0, 1e9]
  double rate_burst = 0;    ///< bucket size, 1 to 1e9; 0 = same as rate_limit (at least 1)
  std::size_t max_connections = 10000;
  /// The service thread's event loop: "epoll" (libev's epoll backend through lws's libev
  /// plugin: the cost of a loop turn follows the ready sockets), "poll" (lws's own poll()
  /// loop: each turn scans every socket), or "auto": epoll, or poll with a warning when the
  /// plugin is not installed. docs/performance.md §7 measured both.
  std::string event_loop = "auto";
  std::size_t send_queue_max = 1000;  ///< live events queued per connection
  std::string cors_origin;            ///< empty: no CORS headers; "*" or an origin
  /// Serve the browser console (docs/console.md) at `/` and `/console`; false: those paths
  /// answer 404 like any unknown path.
  bool console = true;
  std::string log_format = "text";  ///< text | json
  int verbosity = 0;                ///< -v count

  /// The default database path, following XDG_DATA_HOME.
  static std::string default_db_path();
  /// Throws config_error naming the first bad value.
  void validate() const;
};

/// The broker (server_config::broker) cannot be reached or refuses the server at start. The
/// message names its URL without the password.
struct broker_unavailable : error {
  using error::error;
};

/// Counters for /api/stats, /metrics and embedding programs.
struct server_stats {
  std::uint64_t connections = 0, users = 0, rooms = 0;
  std::uint64_t events_published = 0, events_delivered = 0, events_dropped = 0;
  std::uint64_t last_seq = 0;
  double uptime_s = 0;
};

class server {
 public:
  /// Validates the configuration, opens the store and binds the listening socket.
  /// Throws config_error ("port 8000 on 127.0.0.1 is already in use", …).
  explicit server(server_config config);
  /// Stops (as stop()) if still running.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Serve on a new thread. Returns immediately.
  void start();
  /// Serve on the calling thread until stop() (from another thread or a signal handler
  /// through request_stop()).
  void run();
  /// Stop accepting, close every client with 1001, flush the store, join the service thread
  /// if start() made one. Returns within about 2 s.
  void stop();
  /// Async-signal-safe: asks the service loop to shut down (run() then returns).
  void request_stop() noexcept;

  /// The port actually bound (useful with port 0).
  std::uint16_t port() const;
  /// `ws://HOST:PORT/events/ws/connect`
  std::string url() const;
  /// `http://HOST:PORT/console`, or "" when server_config::console is off.
  std::string console_url() const;
  server_stats stats() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace rtev
