#pragma once
// The state shared by server-lite's transport glue: rtev::server::impl, which owns the lws
// context, the hub, the store and the doors, and the per-wsi session. Its member functions are
// defined by job (docs/server.md, "Source layout"):
//   server.cpp         the public rtev::server, the lws context, its one protocol callback (a
//                      dispatcher over the reasons), the service loop and its tick
//   ws_session.cpp     rtev.v1 WebSocket connections: upgrade, establish, receive, writeable
//   sse_session.cpp    SSE streams, and the peek at held streams whose peer went away
//   http_session.cpp   plain HTTP transactions: routing, async replies, headers, rate buckets
//   socketio_glue.cpp  the /socket.io/ transports (WebSocket, held polls) handed to the door
//
// Thread safety: everything here runs on the lws service thread, except post() (any thread,
// through posted_mutex and lws_cancel_service) and stop_requested (an atomic flag).

#include <libwebsockets.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "auth.hpp"
#include "console_files.hpp"
#include "event_engine.hpp"
#include "history_store.hpp"
#include "http_api.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "op_decode.hpp"
#include "redis_engine.hpp"
#include "room_hub.hpp"
#include "rtev/server/server.hpp"
#include "socketio_door.hpp"

namespace rtev::server_lite {

inline bool is_socketio_path(const std::string& path) {
  return path == "/socket.io/" || path == "/socket.io";
}

// Per-wsi state, owned through the lws per-session pointer.
struct session {
  conn_id conn = 0;  // hub connection (WebSocket or SSE); 0 for plain HTTP
  bool sse = false;
  bool sse_headers_sent = false;
  bool sse_named = false;  // ?named=: `event: <type>` lines
  std::string rx;          // WebSocket message reassembly

  // /socket.io/: the Engine.IO session this WebSocket or held poll belongs to (the door owns
  // the hub connection, so `conn` stays 0).
  std::string sio_sid;
  std::uint64_t sio_link = 0;     // a WebSocket of that session
  std::uint64_t sio_poll = 0;     // a held long-polling GET
  bool peer_gone = false;         // a held stream whose client closed (see check_held_streams)
  lws* sio_wsi = nullptr;         // this wsi, while listed in impl::sio_transports
  bool sio_close_handed = false;  // the Socket.IO WebSocket's close was handed to lws

  // Plain HTTP transaction
  http_request req;
  bool body_too_large = false;
  std::uint64_t pending_id = 0;  // waiting for an async reply (publish)
  std::optional<http_response> response;
  bool headers_sent = false;
  bool close_after = false;  // refused before its body was read: close, do not read on
};

}  // namespace rtev::server_lite

namespace rtev {

struct server::impl {
  using session = server_lite::session;
  using http_request = server_lite::http_request;
  using http_response = server_lite::http_response;
  using header_list = std::vector<std::pair<std::string, std::string>>;
  using steady = server_lite::steady;

  server_config cfg;
  server_lite::logger log;
  std::string ip;
  std::unique_ptr<server_lite::history_store> store;
  std::unique_ptr<server_lite::event_engine> engine;  // on `store`, or on Redis (--broker)
  server_lite::redis_engine* redis = nullptr;         // engine, when it is Redis's
  std::unique_ptr<server_lite::authenticator> auth;
  std::unique_ptr<server_lite::room_hub> hub;
  std::unique_ptr<server_lite::http_api> api;
  std::unique_ptr<server_lite::socketio_door> sio;
  std::unique_ptr<server_lite::listener> accepter;
  header_list cors;  // the CORS headers of every answer
  lws_context* ctx = nullptr;
  /// --event-loop epoll: the libev loop lws runs on; destroyed after the context.
  struct ev_loop_deleter {
    void operator()(struct ev_loop* loop) const;
  };
  std::unique_ptr<struct ev_loop, ev_loop_deleter> ev;
  lws_vhost* vhost = nullptr;
  std::uint16_t bound_port = 0;
  steady::time_point started = steady::now();

  std::thread thread;
  std::atomic<bool> stop_requested{false};
  bool stopping = false;
  steady::time_point stop_deadline{};

  // Work handed to the service thread by other threads (the store's writer).
  std::mutex posted_mutex;  // guards posted, accepting_posts
  std::vector<std::function<void()>> posted;
  bool accepting_posts = true;

  // The hub's timer, with a pointer back here (lws_container_of needs a standard-layout type).
  struct timer {
    lws_sorted_usec_list_t sul{};
    impl* owner = nullptr;
  } tick_timer{{}, this};
  std::uint64_t next_pending_id = 1;
  // Service thread: the bytes of one coalesced write (several queued frames), reused.
  std::string coalesced;
  // SSE streams and held long-polls. lws 4.1 does not read from an HTTP/1 connection in the
  // middle of a transaction, so a client that closes one is only noticed at the next write
  // (warmcat/libwebsockets#2455): the tick peeks at these sockets instead.
  std::unordered_set<lws*> held;
  unsigned ticks = 0;
  std::size_t trimmed_at_count = 0;                      // connections at the last trim_heap()
  std::unordered_map<std::uint64_t, lws*> pending_http;  // async HTTP replies awaited
  // Engine.IO session id → its WebSocket and held poll, for the door's kill (a session whose
  // peer stopped reading).
  std::unordered_map<std::string, std::unordered_set<lws*>> sio_transports;
  std::unordered_map<std::string, std::pair<double, steady::time_point>>
      http_buckets;  // per-IP rate

  lws_protocols protocols[3]{};  // rtev.v1, the listener's, the terminator
  lws_retry_bo_t retry{};

  explicit impl(server_config c);

  // --- the service loop and the one protocol callback (server.cpp) ---------------------------

  /// Runs `fn` on the service thread. Any thread.
  void post(std::function<void()> fn);
  void drain_posted();
  void begin_stop();
  bool finished() const;
  static void on_tick(lws_sorted_usec_list_t* sul);
  void trim_heap();
  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);
  int dispatch(lws* wsi, lws_callback_reasons reason, session** pss, void* in, size_t len);
  session& sess(session** pss);
  void drop_session(session** pss);
  static std::multimap<std::string, std::string> query_args(lws* wsi);
  static std::string peer(lws* wsi);
  /// The hub's wake for a transport: asks for its WRITEABLE callback.
  std::function<void()> waker(lws* wsi);
  std::function<void()> killer(lws* wsi);

  // --- rtev.v1 WebSocket (ws_session.cpp) -----------------------------------------------------

  int ws_confirm_upgrade(lws* wsi);
  int ws_established(lws* wsi, session& s);
  int ws_receive(lws* wsi, session& s, const void* in, size_t len);
  int ws_writeable(lws* wsi, session& s);
  bool write_coalesced(lws* wsi);         // also SSE's and Socket.IO's writers
  void after_write(lws* wsi, bool more);  // every door's writer

  // --- SSE (sse_session.cpp) ------------------------------------------------------------------

  int sse_start(lws* wsi, session& s);
  int sse_writeable(lws* wsi, session& s);
  void check_held_streams();

  // --- plain HTTP (http_session.cpp) ----------------------------------------------------------

  int http_start(lws* wsi, session& s, const char* path);
  void http_body(session& s, const void* in, size_t len);
  int body_complete(lws* wsi, session& s);
  void handle_api(lws* wsi, session& s);
  static http_response console_response(const server_lite::console_file& f);
  void respond(lws* wsi, session& s, http_response r);
  int http_writeable(lws* wsi, session& s);
  int end_transaction(lws* wsi, session& s);
  int write_whole_response(lws* wsi, const http_response& r);
  static int add_header_list(lws* wsi, const header_list& list, unsigned char** p,
                             unsigned char* end);
  int add_headers(lws* wsi, const http_response& r, unsigned char** p, unsigned char* end);
  int add_cors(lws* wsi, unsigned char** p, unsigned char* end);
  bool http_rate_ok(const std::string& ip_addr, double& retry_after);
  void add_rate_limit_headers(http_response& r) const;
  static std::string number_text(double v);
  static std::string custom_header(lws* wsi, const char* name);
  static std::optional<http_response> presence_refusal(const http_request& req);

  // --- /socket.io/ transports (socketio_glue.cpp) ---------------------------------------------

  int sio_established(lws* wsi, session& s);
  void sio_get(lws* wsi, session& s);
  bool sio_poll_take(session& s);
  int sio_ws_writeable(lws* wsi, session& s);
  void sio_track(lws* wsi, session& s);
  void sio_untrack(session& s);
  void sio_kill(const std::string& sid);
  http_request sio_request(lws* wsi);
};

}  // namespace rtev
