// server-lite's transport glue: the libwebsockets context, its one protocol callback for
// WebSocket and HTTP (incl. SSE and /socket.io/), the service loop, and the public rtev::server
// class.
//
// Threads: everything in the callback runs on the lws service thread. Other threads reach it
// only through impl::post() (a mutex-guarded queue + lws_cancel_service), and stop flags.

#include "rtev/server/server.hpp"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "auth.hpp"
#include "history_store.hpp"
#include "http_api.hpp"
#include "http_request_head.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "room_hub.hpp"
#include "rtev/duration.hpp"
#include "rtev/error.hpp"
#include "rtev/time.hpp"
#include "socketio_door.hpp"

namespace rtev::server_lite {
const std::size_t frame_headroom = LWS_PRE;
}

namespace rtev {

using namespace server_lite;

namespace {

const char* const ws_paths[] = {"/events/ws/connect", "/ws"};

bool is_socketio_path(const std::string& path) {
  return path == "/socket.io/" || path == "/socket.io";
}

// Per-wsi state, owned through the lws per-session pointer.
struct session {
  conn_id conn = 0;  // hub connection (WebSocket or SSE); 0 for plain HTTP
  bool sse = false;
  bool sse_headers_sent = false;
  std::string rx;  // WebSocket message reassembly

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

// 127.0.0.0/8 and ::1 (ip as resolve_host prints it).
bool is_loopback(const std::string& ip) {
  return ip.rfind("127.", 0) == 0 || ip == "::1" || ip.rfind("::ffff:127.", 0) == 0;
}

std::string resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res)
    throw config_error("cannot resolve --host '" + host + "'");
  char buf[INET6_ADDRSTRLEN] = {};
  if (res->ai_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr, buf, sizeof buf);
  freeaddrinfo(res);
  return buf;
}

}  // namespace

struct server::impl {
  server_config cfg;
  logger log;
  std::string ip;
  std::unique_ptr<history_store> store;
  std::unique_ptr<authenticator> auth;
  std::unique_ptr<room_hub> hub;
  std::unique_ptr<http_api> api;
  std::unique_ptr<socketio_door> sio;
  std::unique_ptr<listener> accepter;
  std::vector<std::pair<std::string, std::string>> cors;  // the CORS headers of every answer
  lws_context* ctx = nullptr;
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

  explicit impl(server_config c)
      : cfg(std::move(c)), log(cfg.log_format == "json", cfg.verbosity) {}

  void post(std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(posted_mutex);
    if (!accepting_posts) return;
    // One wake-up for a burst (the store's writer posts each commit's completions): work
    // already waiting means a wake-up is already on its way, and drain_posted takes it all.
    const bool wake = posted.empty();
    posted.push_back(std::move(fn));
    if (wake) lws_cancel_service(ctx);
  }

  void drain_posted() {
    std::vector<std::function<void()>> work;
    {
      std::lock_guard<std::mutex> lock(posted_mutex);
      work.swap(posted);
    }
    for (auto& fn : work) fn();
  }

  void begin_stop() {
    if (stopping) return;
    stopping = true;
    stop_deadline = steady::now() + std::chrono::milliseconds(1500);
    log.write(log_level::info, "shutting down",
              {{"connections", std::to_string(hub->connection_count())}});
    sio->stop_accepting();
    hub->shutdown();
  }

  bool finished() const {
    return stopping && (hub->connection_count() == 0 || steady::now() >= stop_deadline);
  }

  static void on_tick(lws_sorted_usec_list_t* sul) {
    impl* self = lws_container_of(sul, timer, sul)->owner;
    if (self->stop_requested.load()) self->begin_stop();
    self->hub->tick(steady::now());
    self->sio->tick(steady::now());
    if (++self->ticks % 5 == 0) self->check_held_streams();
    if (self->ticks % 100 == 0) self->trim_heap();
    lws_sul_schedule(self->ctx, 0, &self->tick_timer.sul, on_tick, 100 * LWS_US_PER_MS);
  }

  // After many connections came or went, give the heap's free pages back to the system. A
  // burst of handshakes leaves freed header tables between the connections that stayed, and
  // glibc returns only the heap's top on its own: without this, 10k idle WebSockets kept about
  // a third more RSS than they use (docs/performance.md, "Memory per connection").
  void trim_heap() {
    const std::size_t now_count = hub->connection_count();
    const std::size_t moved =
        now_count > trimmed_at_count ? now_count - trimmed_at_count : trimmed_at_count - now_count;
    if (moved < 256) return;
    trimmed_at_count = now_count;
    malloc_trim(0);
  }

  // A held stream whose peer has closed (EOF, or an error, on a non-blocking peek) is closed
  // from its next WRITEABLE, which releases its hub connection — presence, counts, limits.
  void check_held_streams() {
    for (lws* wsi : held) {
      char b = 0;
      const ssize_t n = recv(lws_get_socket_fd(wsi), &b, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        auto** pss = static_cast<session**>(lws_wsi_user(wsi));
        if (pss && *pss) (*pss)->peer_gone = true;
        lws_callback_on_writable(wsi);
      }
    }
  }

  // Takes one request from the address's bucket; false (and in `retry_after` the seconds until
  // one is there again) when it is empty.
  bool http_rate_ok(const std::string& ip_addr, double& retry_after) {
    auto now = steady::now();
    auto& [tokens, at] = http_buckets.try_emplace(ip_addr, cfg.rate_burst, now).first->second;
    tokens = std::min(cfg.rate_burst,
                      tokens + std::chrono::duration<double>(now - at).count() * cfg.rate_limit);
    at = now;
    if (tokens < 1) {
      retry_after = (1 - tokens) / cfg.rate_limit;
      if (http_buckets.size() > 10000) http_buckets.clear();  // bounded; a reset only forgives
      return false;
    }
    tokens -= 1;
    if (http_buckets.size() > 10000) http_buckets.clear();
    return true;
  }

  // POST /api/events answers say the limit they are held to, as `authenticated` does for a
  // WebSocket (docs/protocol.md §6): a publisher paces itself under it instead of hitting 429.
  void add_rate_limit_headers(http_response& r) const {
    r.headers.emplace_back("X-RateLimit-Limit", number_text(cfg.rate_limit));
    r.headers.emplace_back("X-RateLimit-Burst", number_text(cfg.rate_burst));
  }

  static std::string number_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return buf;
  }

  // --- HTTP helpers ----------------------------------------------------------------------

  static int add_header_list(lws* wsi, const std::vector<std::pair<std::string, std::string>>& list,
                             unsigned char** p, unsigned char* end) {
    for (const auto& [name, value] : list) {
      const std::string n = name + ":";
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(n.c_str()),
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), p, end))
        return 1;
    }
    return 0;
  }

  int add_headers(lws* wsi, const http_response& r, unsigned char** p, unsigned char* end) {
    return add_header_list(wsi, r.headers, p, end);
  }

  int add_cors(lws* wsi, unsigned char** p, unsigned char* end) {
    return add_header_list(wsi, cors, p, end);
  }

  // Writes headers and body in one go. Only for small bodies (rejections in CONFIRM_UPGRADE).
  int write_whole_response(lws* wsi, const http_response& r) {
    std::string buf(LWS_PRE + 2048 + r.body.size(), '\0');
    auto* start = reinterpret_cast<unsigned char*>(&buf[LWS_PRE]);
    unsigned char* p = start;
    unsigned char* end = reinterpret_cast<unsigned char*>(&buf[0]) + buf.size() - r.body.size() - 1;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned>(r.status), r.content_type.c_str(),
                                    r.body.size(), &p, end) ||
        add_cors(wsi, &p, end) || add_headers(wsi, r, &p, end) ||
        lws_finalize_http_header(wsi, &p, end))
      return -1;
    std::memcpy(p, r.body.data(), r.body.size());
    p += r.body.size();
    return lws_write(wsi, start, static_cast<size_t>(p - start), LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 1;
  }

  void respond(lws* wsi, session& s, http_response r) {
    s.response = std::move(r);
    s.headers_sent = false;
    lws_callback_on_writable(wsi);
  }

  int http_writeable(lws* wsi, session& s) {
    if (!s.response) return 0;
    if (!s.headers_sent) {
      unsigned char buf[LWS_PRE + 2048];
      unsigned char *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof(buf) - 1];
      if (lws_add_http_common_headers(wsi, static_cast<unsigned>(s.response->status),
                                      s.response->content_type.c_str(), s.response->body.size(), &p,
                                      end) ||
          add_cors(wsi, &p, end) || add_headers(wsi, *s.response, &p, end) ||
          lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
      s.headers_sent = true;
      // HEAD: the GET response's headers (Content-Length included), never its body.
      if (s.response->body.empty() || s.req.method == "HEAD") {
        s.response.reset();
        return end_transaction(wsi, s);
      }
      lws_callback_on_writable(wsi);
      return 0;
    }
    frame body(s.response->body);
    s.response.reset();
    if (lws_write(wsi, body.data(), body.size(), LWS_WRITE_HTTP_FINAL) < 0) return -1;
    return end_transaction(wsi, s);
  }

  // A request refused before its body was read leaves that body (or chunk framing) unread on
  // the connection: close rather than parse it as the next request.
  int end_transaction(lws* wsi, session& s) {
    if (s.close_after) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }

  static std::string custom_header(lws* wsi, const char* name) {
    const int nlen = static_cast<int>(std::strlen(name));
    const int n = lws_hdr_custom_length(wsi, name, nlen);
    if (n <= 0) return {};
    std::string v(static_cast<std::size_t>(n) + 1, '\0');
    if (lws_hdr_custom_copy(wsi, &v[0], n + 1, name, nlen) < 0) return {};
    v.resize(static_cast<std::size_t>(n));
    return v;
  }

  // lws has already percent-decoded the query fragments ("k=v").
  static std::multimap<std::string, std::string> query_args(lws* wsi) { return request_query(wsi); }

  static std::string peer(lws* wsi) {
    char buf[128] = {};
    lws_get_peer_simple(wsi, buf, sizeof buf);
    return buf;
  }

  std::function<void()> waker(lws* wsi) {
    return [wsi] { lws_callback_on_writable(wsi); };
  }

  // Closes a wsi from the service loop's next turn whatever its socket's state: a peer that
  // stopped reading never makes it writeable, so a close that waits for WRITEABLE never comes.
  // The time-out kill skips lws's flush and close handshake and frees its buffered output.
  std::function<void()> killer(lws* wsi) {
    return [this, wsi] {
      log.write(log_level::info, "dropping a connection that does not read", {{"peer", peer(wsi)}});
      lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    };
  }

  // --- WebSocket -----------------------------------------------------------------------------

  int ws_writeable(lws* wsi, session& s) {
    connection* c = hub->find(s.conn);
    if (!c) return -1;
    // lws 4.1 may call WRITEABLE again right after the -1 that handed it the close (its state
    // is then WAITING_TO_SEND_CLOSE): a second -1 there makes it give up on the close frame and
    // drop the connection (close.c: "we tried the polite way"). lws sends the frame itself.
    if (c->close_handed) return 0;
    c->last_writeable = steady::now();
    if (c->ping_due) {
      c->ping_due = false;
      // A non-empty payload: lws 4.1 does not report an empty PONG (RECEIVE_PONG is skipped
      // for zero-length pongs), so an empty ping could never be seen answered.
      unsigned char buf[LWS_PRE + 4] = {};
      std::memcpy(&buf[LWS_PRE], "rtev", 4);
      if (lws_write(wsi, &buf[LWS_PRE], 4, LWS_WRITE_PING) < 0) return -1;
      if (!c->queue.empty() || c->closing) lws_callback_on_writable(wsi);
      return 0;
    }
    if (c->closing) {
      // The replies already queued or still due (ACKs) go out first, then the close frame.
      // lws then waits for the client's close (reading and discarding what it still sends),
      // so the close code arrives instead of a reset from unread input.
      if (hub->ready_to_close(*c)) {
        c->close_handed = true;
        const auto& [code, reason] = *c->closing;
        lws_close_reason(wsi, static_cast<lws_close_status>(code),
                         reinterpret_cast<unsigned char*>(const_cast<char*>(reason.data())),
                         reason.size());
        return -1;
      }
      if (c->queue.empty()) return 0;  // a reply still due wakes us
      frame_ptr f = std::move(c->queue.front().control);
      c->queue.pop_front();
      if (lws_write(wsi, f->data(), f->size(), LWS_WRITE_TEXT) < static_cast<int>(f->size()))
        return -1;
      lws_callback_on_writable(wsi);
      return 0;
    }
    std::optional<outgoing> o = hub->next_outgoing(*c);
    if (!o) return 0;
    frame_ptr f = o->control ? o->control : o->event->ws_frame();
    if (c->queue.empty() || f->size() >= max_coalesced_bytes) {
      // One frame: lws frames it in the headroom, no copy.
      if (lws_write(wsi, f->data(), f->size(), LWS_WRITE_TEXT) < static_cast<int>(f->size()))
        return -1;
    } else {
      // Several queued: complete frames back to back, one write (lws passes LWS_WRITE_HTTP
      // bytes on a WebSocket connection through as they are: docs/lws-notes.md).
      coalesced.assign(LWS_PRE, '\0');
      append_ws_text_frame(coalesced, f->payload());
      while (!c->queue.empty()) {
        const outgoing& next = c->queue.front();
        const std::size_t next_size =
            next.control ? next.control->payload().size() : next.event->json.size();
        if (coalesced.size() - LWS_PRE + next_size > max_coalesced_bytes) break;
        o = hub->next_outgoing(*c);
        if (!o) break;
        f = o->control ? o->control : o->event->ws_frame();
        append_ws_text_frame(coalesced, f->payload());
      }
      if (!write_coalesced(wsi)) return -1;
    }
    if (!c->queue.empty() || c->closing) lws_callback_on_writable(wsi);
    return 0;
  }

  // Writes `coalesced` after its LWS_PRE headroom as it is; lws keeps what the socket does not
  // take and sends it before the next writeable callback.
  bool write_coalesced(lws* wsi) {
    auto* bytes = reinterpret_cast<unsigned char*>(coalesced.data()) + LWS_PRE;
    const std::size_t n = coalesced.size() - LWS_PRE;
    return lws_write(wsi, bytes, n, LWS_WRITE_HTTP) >= static_cast<int>(n);
  }

  // --- /socket.io/ ----------------------------------------------------------------------------

  void sio_track(lws* wsi, session& s) {
    s.sio_wsi = wsi;
    sio_transports[s.sio_sid].insert(wsi);
  }

  void sio_untrack(session& s) {
    if (!s.sio_wsi) return;
    if (auto it = sio_transports.find(s.sio_sid); it != sio_transports.end()) {
      it->second.erase(s.sio_wsi);
      if (it->second.empty()) sio_transports.erase(it);
    }
    s.sio_wsi = nullptr;
  }

  void sio_kill(const std::string& sid) {
    auto it = sio_transports.find(sid);
    if (it == sio_transports.end()) return;
    for (lws* wsi : it->second) killer(wsi)();
  }

  http_request sio_request(lws* wsi) {
    http_request r;
    r.query = query_args(wsi);
    r.authorization = request_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    r.remote = peer(wsi);
    return r;
  }

  int sio_ws_writeable(lws* wsi, session& s) {
    if (s.sio_close_handed) return 0;  // as in ws_writeable: lws sends the close frame itself
    socketio_door::ws_step step = sio->ws_writeable(s.sio_sid, s.sio_link);
    if (step.close) {
      s.sio_close_handed = true;
      const auto& [code, reason] = *step.close;
      lws_close_reason(wsi, static_cast<lws_close_status>(code),
                       reinterpret_cast<unsigned char*>(const_cast<char*>(reason.data())),
                       reason.size());
      return -1;
    }
    if (step.frames.empty()) return 0;
    if (step.frames.size() == 1) {
      const frame_ptr& f = step.frames.front();
      if (lws_write(wsi, f->data(), f->size(), LWS_WRITE_TEXT) < static_cast<int>(f->size()))
        return -1;
    } else {
      coalesced.assign(LWS_PRE, '\0');
      for (const frame_ptr& f : step.frames) append_ws_text_frame(coalesced, f->payload());
      if (!write_coalesced(wsi)) return -1;
    }
    if (step.more) lws_callback_on_writable(wsi);
    return 0;
  }

  void sio_get(lws* wsi, session& s) {
    socketio_door::poll_start p = sio->poll_get(s.req, waker(wsi));
    if (p.response) {
      respond(wsi, s, std::move(*p.response));
      return;
    }
    // Held until the door has packets (or the session's ping): no lws time-out meanwhile.
    s.sio_sid = p.sid;
    s.sio_poll = p.poll_id;
    sio_track(wsi, s);
    held.insert(wsi);
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    lws_callback_on_writable(wsi);
  }

  // A bad ?presence= is refused before the connection opens (400), so a client that asked not
  // to be announced never is.
  static std::optional<http_response> presence_refusal(const http_request& req) {
    auto p = req.param("presence");
    if (!p) return std::nullopt;
    try {
      presence_option("query parameter 'presence'", json(*p));
      return std::nullopt;
    } catch (const parse_error& e) {
      return json_error(400, "bad_request", e.what());
    }
  }

  // --- SSE -----------------------------------------------------------------------------------

  int sse_start(lws* wsi, session& s) {
    const http_request& req = s.req;
    if (stopping) {
      respond(wsi, s, json_error(503, "shutting_down", "the server is shutting down"));
      return 0;
    }
    if (hub->connection_count() >= cfg.max_connections) {
      respond(wsi, s,
              json_error(503, "too_many_connections", "the server is at --max-connections"));
      return 0;
    }
    if (auto refused = presence_refusal(req)) {
      respond(wsi, s, std::move(*refused));
      return 0;
    }
    connection& c = hub->open(conn_kind::sse, req.remote, waker(wsi), killer(wsi));
    s.conn = c.id;
    s.sse = true;
    if (auto p = req.param("presence")) c.presence = presence_option("presence", json(*p));
    std::string err = hub->authenticate(c, req.token(), false);
    if (!err.empty()) {
      s.sse = false;
      hub->closed(c.id);
      s.conn = 0;
      respond(wsi, s, json_error(401, "unauthorized", err));
      return 0;
    }
    auto split = [](const std::string& v) {
      std::vector<std::string> out;
      std::stringstream ss(v);
      for (std::string item; std::getline(ss, item, ',');)
        if (!item.empty()) out.push_back(item);
      return out;
    };
    std::optional<std::string> since = req.param("since");
    std::string last_id = custom_header(wsi, "last-event-id:");
    if (!last_id.empty()) since = last_id;  // a reconnecting EventSource
    const auto named = req.param("named");
    std::optional<http_response> refused;
    try {
      err = hub->open_sse(c, split(req.param("rooms").value_or("")),
                          split(req.param("types").value_or("")), since,
                          named && *named != "0" && *named != "false");
      if (!err.empty()) refused = json_error(403, "forbidden", err);
    } catch (const parse_error& e) {
      refused = json_error(400, "bad_request", e.what());
    }
    if (refused) {
      s.sse = false;
      hub->closed(c.id);
      s.conn = 0;
      respond(wsi, s, std::move(*refused));
      return 0;
    }
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof(buf) - 1];
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream",
                                    LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
        lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("cache-control:"),
                                    reinterpret_cast<const unsigned char*>("no-cache"), 8, &p,
                                    end) ||
        add_cors(wsi, &p, end) || lws_finalize_write_http_header(wsi, start, &p, end))
      return 1;
    // What lws_http_mark_sse() does for HTTP/1 — free the header table, no time-out — without
    // its "not h2 substream" error log on every stream.
    lws_http_headers_detach(wsi);
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    s.sse_headers_sent = true;
    held.insert(wsi);
    // A first comment tells clients the stream is open before any event flows.
    c.heartbeat_due = true;
    lws_callback_on_writable(wsi);
    return 0;
  }

  int sse_writeable(lws* wsi, session& s) {
    connection* c = hub->find(s.conn);
    if (!c || c->closing) return -1;
    c->last_writeable = steady::now();
    if (c->heartbeat_due) {
      c->heartbeat_due = false;
      frame ping(": ping\n\n");
      if (lws_write(wsi, ping.data(), ping.size(), LWS_WRITE_HTTP) < 0) return -1;
      if (!c->queue.empty()) lws_callback_on_writable(wsi);
      return 0;
    }
    // Queued events up to max_coalesced_bytes (at least one), in one write.
    coalesced.assign(LWS_PRE, '\0');
    while (!c->queue.empty()) {
      const outgoing& next = c->queue.front();
      if (coalesced.size() > LWS_PRE && next.event &&
          coalesced.size() - LWS_PRE + next.event->json.size() > max_coalesced_bytes)
        break;
      std::optional<outgoing> o = hub->next_outgoing(*c);
      if (!o) break;
      if (o->event) coalesced.append(o->event->sse_frame(c->sse_named)->payload());
    }
    if (coalesced.size() > LWS_PRE && !write_coalesced(wsi)) return -1;
    if (!c->queue.empty()) lws_callback_on_writable(wsi);
    return 0;
  }

  // The whole request is in (or there is none): route it. Publishing answers later.
  int body_complete(lws* wsi, session& s) {
    if (s.response) return 0;  // already refused (413 from Content-Length)
    if (s.body_too_large) {
      respond(wsi, s,
              json_error(413, "too_large",
                         "the request body is over " + std::to_string(cfg.max_message_bytes * 16) +
                             " bytes"));
      return 0;
    }
    double retry_after = 0;
    if (s.req.path == "/api/events" && !http_rate_ok(s.req.remote, retry_after)) {
      http_response r = json_error(429, "rate_limited",
                                   "too many requests: the limit is " +
                                       std::to_string(static_cast<long>(cfg.rate_limit)) + "/s");
      add_rate_limit_headers(r);
      // Whole seconds (RFC 9110), rounded up: a client that honours only this still gets in.
      r.headers.emplace_back(
          "Retry-After", std::to_string(std::max(1L, static_cast<long>(std::ceil(retry_after)))));
      respond(wsi, s, std::move(r));
      return 0;
    }
    if (is_socketio_path(s.req.path)) {
      respond(wsi, s, sio->poll_post(s.req));
      return 0;
    }
    handle_api(wsi, s);
    return 0;
  }

  // The HTTP API answers some requests later (a publish once stored, history once read): the
  // reply finds its connection by number, and is dropped when the client has gone.
  void handle_api(lws* wsi, session& s) {
    // A publish's answer announces the rate limit (X-RateLimit-*), so clients can pace.
    const bool publishing = s.req.path == "/api/events" && s.req.method == "POST";
    const std::uint64_t id = next_pending_id++;
    s.pending_id = id;
    pending_http[id] = wsi;
    api->handle(s.req, [this, id, publishing](http_response r) {
      auto it = pending_http.find(id);
      if (it == pending_http.end()) return;  // the client went away
      if (publishing) add_rate_limit_headers(r);
      lws* w = it->second;
      pending_http.erase(it);
      auto** p = static_cast<session**>(lws_wsi_user(w));
      if (!p || !*p) return;
      (*p)->pending_id = 0;
      respond(w, **p, std::move(r));
    });
  }

  // --- the one protocol callback -----------------------------------------------------------

  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    lws_context* context = lws_get_context(wsi);
    impl* self = context ? static_cast<impl*>(lws_context_user(context)) : nullptr;
    if (!self) return lws_callback_http_dummy(wsi, reason, user, in, len);
    auto** pss = static_cast<session**>(user);
    try {
      return self->dispatch(wsi, reason, pss, in, len);
    } catch (const std::exception& e) {
      // A bug must not take the server down: drop this connection, keep serving others.
      self->log.write(log_level::error, "internal error", {{"what", e.what()}});
      if (pss && *pss && (*pss)->conn && !(*pss)->sse) {
        static const char msg[] = "internal error";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
                         reinterpret_cast<unsigned char*>(const_cast<char*>(msg)), sizeof msg - 1);
      } else if ((reason == LWS_CALLBACK_HTTP || reason == LWS_CALLBACK_HTTP_BODY_COMPLETION) &&
                 !(pss && *pss && ((*pss)->headers_sent || (*pss)->sse_headers_sent))) {
        // A plain HTTP request still gets an answer, not a reset.
        self->write_whole_response(wsi, json_error(500, "internal_error", "internal error"));
      }
      return -1;
    }
  }

  session& sess(session** pss) {
    if (!*pss) *pss = new session();
    return **pss;
  }

  void drop_session(session** pss) {
    if (!pss || !*pss) return;
    session* s = *pss;
    sio_untrack(*s);
    if (s->conn) hub->closed(s->conn);
    if (s->sio_link) sio->ws_closed(s->sio_sid, s->sio_link);
    if (s->sio_poll) sio->poll_gone(s->sio_sid, s->sio_poll);
    if (s->pending_id) pending_http.erase(s->pending_id);
    delete s;
    *pss = nullptr;
  }

  int dispatch(lws* wsi, lws_callback_reasons reason, session** pss, void* in, size_t len) {
    switch (reason) {
      case LWS_CALLBACK_PROTOCOL_INIT:
        lws_sul_schedule(ctx, 0, &tick_timer.sul, on_tick, 100 * LWS_US_PER_MS);
        return 0;

      case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        drain_posted();
        if (stop_requested.load()) begin_stop();
        return 0;

      case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
        const std::string path = request_header(wsi, WSI_TOKEN_GET_URI);
        http_request head;
        head.method = "GET";
        head.path = path;
        head.query = query_args(wsi);
        if (auto refused = head_refusal(wsi, head, cfg.max_message_bytes * 16))
          return write_whole_response(wsi, *refused);
        if (is_socketio_path(path)) {
          if (auto refused = sio->ws_check(sio_request(wsi)))
            return write_whole_response(wsi, *refused);
          return 0;
        }
        bool ok_path = false;
        for (const char* p : ws_paths) ok_path = ok_path || path == p;
        if (!ok_path)
          return write_whole_response(
              wsi, json_error(404, "not_found",
                              "no WebSocket endpoint at " + path +
                                  "; use /events/ws/connect, /ws or /socket.io/"));
        if (auto refused = presence_refusal(head)) return write_whole_response(wsi, *refused);
        if (stopping)
          return write_whole_response(
              wsi, json_error(503, "shutting_down", "the server is shutting down"));
        if (hub->connection_count() >= cfg.max_connections)
          return write_whole_response(wsi,
                                      json_error(503, "too_many_connections",
                                                 "the server is at --max-connections (" +
                                                     std::to_string(cfg.max_connections) + ")"));
        return 0;
      }

      case LWS_CALLBACK_ESTABLISHED: {
        session& s = sess(pss);
        if (is_socketio_path(request_header(wsi, WSI_TOKEN_GET_URI))) {
          s.sio_link = sio->ws_open(sio_request(wsi), waker(wsi), s.sio_sid);
          if (s.sio_link) sio_track(wsi, s);
          return s.sio_link ? 0 : -1;
        }
        connection& c = hub->open(conn_kind::websocket, peer(wsi), waker(wsi), killer(wsi));
        s.conn = c.id;
        std::string token;
        const auto q = query_args(wsi);
        if (q.count("token")) token = q.find("token")->second;
        // Checked when the upgrade was confirmed (presence_refusal).
        if (auto p = q.find("presence"); p != q.end())
          c.presence = presence_option("presence", json(p->second));
        if (token.empty()) {
          http_request r;
          r.authorization = request_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
          token = r.token();
        }
        log.write(log_level::debug, "websocket connected",
                  {{"conn", std::to_string(c.id)}, {"peer", c.remote}});
        // Without a token, token and jwt modes wait for an `authenticate` message.
        if (!token.empty() || auth->mode() == auth_mode::none) hub->authenticate(c, token, true);
        return 0;
      }

      case LWS_CALLBACK_RECEIVE: {
        session& s = sess(pss);
        connection* c = s.sio_link ? nullptr : hub->find(s.conn);
        if (!c && !s.sio_link) return -1;
        // Closing: what the client still sends is read and discarded (unread input would make
        // the kernel answer our close with a reset, losing the close code and the ACKs).
        if (c && c->closing) {
          s.rx.clear();
          return 0;
        }
        if (lws_is_first_fragment(wsi)) s.rx.clear();
        if (s.rx.size() + len > cfg.max_message_bytes) {
          s.rx.clear();
          if (c) {
            hub->close_connection(*c, close_code::too_big, "message too big");
            return 0;
          }
          static const char msg[] = "message too big";
          lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                           reinterpret_cast<unsigned char*>(const_cast<char*>(msg)),
                           sizeof msg - 1);
          return -1;
        }
        s.rx.append(static_cast<const char*>(in), len);
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
          std::string msg;
          msg.swap(s.rx);
          // Socket.IO binary attachments are not supported (their header packet got an error).
          if (s.sio_link)
            return lws_frame_is_binary(wsi) || sio->ws_message(s.sio_sid, s.sio_link, msg) ? 0 : -1;
          if (c) hub->handle_ws_message(*c, msg);  // gone if it was killed meanwhile
        }
        return 0;
      }

      case LWS_CALLBACK_RECEIVE_PONG:
        if (*pss)
          if (connection* c = hub->find((*pss)->conn)) c->ping_outstanding = false;
        return 0;

      case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!*pss) return 0;
        if ((*pss)->sio_link) return sio_ws_writeable(wsi, **pss);
        return ws_writeable(wsi, **pss);

      case LWS_CALLBACK_CLOSED:
        if (*pss)
          log.write(log_level::debug, "websocket closed", {{"conn", std::to_string((*pss)->conn)}});
        drop_session(pss);
        return 0;

      case LWS_CALLBACK_HTTP: {
        session& s = sess(pss);
        s.req = http_request{};
        s.body_too_large = false;
        s.response.reset();
        s.req.path = static_cast<const char*>(in);
        sio_untrack(s);
        s.sio_sid.clear();
        s.sio_poll = 0;
        s.close_after = false;
        s.req.method = request_method(wsi);
        s.req.query = query_args(wsi);
        s.req.authorization = request_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
        s.req.remote = peer(wsi);
        // Sizes, UTF-8 and the body's length, before anything reads them (414/431/400/411/413).
        if (auto refused = head_refusal(wsi, s.req, cfg.max_message_bytes * 16)) {
          s.close_after = true;
          respond(wsi, s, std::move(*refused));
          return 0;
        }
        if (s.req.method == "OPTIONS") {
          respond(wsi, s, {204, "", "text/plain"});
          return 0;
        }
        if (s.req.method == "POST" || s.req.method == "PUT" || s.req.method == "PATCH") {
          if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
            return 0;  // wait for the body
          // No body (RFC 9112 6.3: no Content-Length, no Transfer-Encoding). lws would wait for
          // one anyway, so the request is handled now and the connection closed after it.
          s.close_after = true;
          return body_complete(wsi, s);
        }
        if (s.req.path == "/api/events" && s.req.method == "GET") return sse_start(wsi, s);
        if (is_socketio_path(s.req.path) && s.req.method == "GET") {
          sio_get(wsi, s);
          return 0;
        }
        handle_api(wsi, s);
        return 0;
      }

      case LWS_CALLBACK_HTTP_BODY: {
        session& s = sess(pss);
        if (s.req.body.size() + len > cfg.max_message_bytes * 16)
          s.body_too_large = true;
        else
          s.req.body.append(static_cast<const char*>(in), len);
        return 0;
      }

      case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return body_complete(wsi, sess(pss));

      case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!*pss) return 0;
        session& s = **pss;
        if (s.peer_gone) return -1;
        if (s.sse && s.sse_headers_sent) return sse_writeable(wsi, s);
        if (s.sio_poll && !s.response) {
          std::optional<http_response> r = sio->poll_ready(s.sio_sid, s.sio_poll);
          if (!r) return 0;
          s.sio_poll = 0;
          sio_untrack(s);
          s.response = std::move(*r);
          s.headers_sent = false;
        }
        return http_writeable(wsi, s);
      }

      case LWS_CALLBACK_CLOSED_HTTP:
        held.erase(wsi);
        drop_session(pss);
        return 0;

      // A keep-alive HTTP transaction ends without CLOSED_HTTP: its per-session data goes with
      // the protocol binding. WSI_DESTROY catches whatever is left when a connection is freed.
      case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss && *pss && !(*pss)->conn && !(*pss)->pending_id && !(*pss)->sio_poll)
          drop_session(pss);
        return 0;
      case LWS_CALLBACK_WSI_DESTROY:
        held.erase(wsi);
        drop_session(pss);
        return 0;

      default:
        return lws_callback_http_dummy(wsi, reason, pss, in, len);
    }
  }
};

// --- server_config ---------------------------------------------------------------------------

std::string server_config::default_db_path() {
  std::string base;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    base = x;
  else if (const char* h = std::getenv("HOME"); h && *h)
    base = std::string(h) + "/.local/share";
  else
    base = ".";
  return base + "/rtev/events.db";
}

void server_config::validate() const {
  rtev::time::validate_zone(timezone);
  parse_auth_mode(auth);
  if (auth == "jwt" && jwt_secret.empty())
    throw config_error("--auth jwt needs a secret: --jwt-secret or RTEV_JWT_SECRET");
  if (log_format != "text" && log_format != "json")
    throw config_error("invalid --log-format '" + log_format + "': expected text or json");
  if (ping_interval.count() <= 0) throw config_error("--ping-interval must be positive");
  if (ping_timeout.count() <= 0) throw config_error("--ping-timeout must be positive");
  if (auth_timeout.count() <= 0) throw config_error("--auth-timeout must be positive");
  if (sse_heartbeat.count() <= 0) throw config_error("--sse-heartbeat must be positive");
  if (max_message_bytes < 64) throw config_error("--max-message-bytes must be at least 64");
  // nan and inf compare false here: nan would refuse every message, inf never limit.
  if (!(rate_limit > 0 && rate_limit <= 1e9))
    throw config_error("invalid --rate-limit " + std::to_string(rate_limit) +
                       ": expected a positive rate of at most 1000000000/s");
  // 0 = one second's worth; below 1 the bucket never holds a whole message.
  if (rate_burst != 0 && !(rate_burst >= 1 && rate_burst <= 1e9))
    throw config_error("invalid --rate-burst " + std::to_string(rate_burst) +
                       ": expected 0 (one second's worth) or a number from 1 to 1000000000");
  if (max_connections == 0) throw config_error("--max-connections must be at least 1");
  if (send_queue_max == 0) throw config_error("--send-queue-max must be at least 1");
  if (history_max_events && *history_max_events == 0)
    throw config_error("--history-max-events must be at least 1");
}

// --- server ----------------------------------------------------------------------------------

server::server(server_config config) : impl_(std::make_unique<impl>(std::move(config))) {
  impl& m = *impl_;
  server_config& cfg = m.cfg;
  cfg.validate();
  if (cfg.rate_burst == 0) cfg.rate_burst = std::max(1.0, cfg.rate_limit);
  if (cfg.db_path.empty()) cfg.db_path = server_config::default_db_path();
  m.ip = resolve_host(cfg.host);

  retention_policy retention;
  retention.max_events = cfg.history_max_events;
  retention.max_age = cfg.history_max_age;
  m.store = std::make_unique<history_store>(cfg.db_path, retention);
  // Once per episode, on the store's writer thread (the logger is safe from any thread).
  m.store->set_health_listener([&m](bool ok, const std::string& error) {
    if (ok)
      m.log.write(log_level::info, "storage recovered", {{"db", m.cfg.db_path}});
    else
      m.log.write(log_level::error, "storage failing", {{"db", m.cfg.db_path}, {"error", error}});
  });
  m.auth = std::make_unique<authenticator>(parse_auth_mode(cfg.auth), cfg.jwt_secret);

  hub_config hc;
  hc.timezone = cfg.timezone;
  hc.auth_timeout = cfg.auth_timeout;
  hc.ping_interval = cfg.ping_interval;
  hc.ping_timeout = cfg.ping_timeout;
  hc.sse_heartbeat = cfg.sse_heartbeat;
  hc.rate = cfg.rate_limit;
  hc.burst = cfg.rate_burst;
  hc.send_queue_max = cfg.send_queue_max;
  hc.store_presence = cfg.store_presence;
  m.hub = std::make_unique<room_hub>(hc, *m.store, *m.auth,
                                     [&m](std::function<void()> fn) { m.post(std::move(fn)); });
  m.api = std::make_unique<http_api>(cfg, *m.hub, *m.auth, m.started);
  socketio_config sc;
  sc.ping_interval = cfg.ping_interval;
  sc.ping_timeout = cfg.ping_timeout;
  sc.max_payload = cfg.max_message_bytes;
  sc.max_connections = cfg.max_connections;
  m.sio = std::make_unique<socketio_door>(sc, *m.hub, *m.auth);
  m.cors = cors_headers(cfg.cors_origin);
  m.sio->set_killer([&m](const std::string& sid) { m.sio_kill(sid); });

  // libwebsockets' own log lines only with -v: without it, a failure is reported once, by us
  // ("port 8000 on 127.0.0.1 is already in use"), not also as three lws lines.
  int lws_levels = cfg.verbosity >= 1 ? LLL_ERR | LLL_WARN : 0;
  if (cfg.verbosity >= 2) lws_levels |= LLL_NOTICE;
  lws_set_log_level(lws_levels, nullptr);

  m.protocols[0].name = "rtev.v1";
  m.protocols[0].callback = &impl::callback;
  // lws allocates room for a pointer per wsi; the session itself is ours.
  m.protocols[0].per_session_data_size = sizeof(session*);  // NOLINT(bugprone-sizeof-expression)
  // lws gives every WebSocket connection a receive buffer of this size (0 means
  // pt_serv_buf_size, 64 KB), and hands a message over in pieces of at most this; the
  // RECEIVE case puts the pieces together. 512 bytes hold a typical event in one piece and keep
  // an idle connection small (docs/performance.md, "Memory per connection").
  m.protocols[0].rx_buffer_size = 512;
  // Without this lws cuts every send to rx_buffer_size bytes (its 0 means "as rx"): 512-byte
  // write()s took 1 → 100 fan-out from about 440k to 110k deliveries/s (rtev bench).
  m.protocols[0].tx_packet_size = 2 * max_coalesced_bytes;
  // Our own heartbeat (hub::tick) does pings; lws's validity timer would also hang up idle
  // SSE streams, so it is turned off (0 = never).
  m.retry.secs_since_valid_ping = 0;
  m.retry.secs_since_valid_hangup = 0;

  // The listener binds and accepts; lws does not listen itself (see listener.hpp). A busy
  // port is reported here, before any lws context exists.
  m.accepter = std::make_unique<listener>(m.ip, cfg.port, cfg.host, m.cors);
  m.protocols[1] = m.accepter->protocol();

  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.protocols = m.protocols;
  info.user = &m;
  info.retry_and_idle_policy = &m.retry;
  info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
  info.timeout_secs = 30;
  // Headers and URL pieces are cut by lws at token_limits() and then answered 431/414 by
  // head_refusal(); the listener refuses a head larger than the table before lws sees it.
  info.max_http_header_data = header_table_bytes;
  info.token_limits = token_limits();
  info.pt_serv_buf_size = 64 * 1024;
  m.ctx = lws_create_context(&info);
  if (!m.ctx) throw config_error("cannot start the server (libwebsockets context)");
  m.vhost = lws_get_vhost_by_name(m.ctx, "default");
  if (!m.vhost || !m.accepter->start(m.ctx, m.vhost)) {
    lws_context_destroy(m.ctx);
    m.ctx = nullptr;
    throw config_error("cannot start the server (libwebsockets vhost)");
  }
  const int port = m.accepter->port();
  m.bound_port = static_cast<std::uint16_t>(port);
  m.log.write(log_level::info, "listening",
              {{"url", url()},
               {"db", cfg.db_path},
               {"auth", cfg.auth},
               {"timezone", cfg.timezone},
               {"epoch", m.store->epoch()},
               {"last_seq", std::to_string(m.store->last_seq_at_open())}});
  if (cfg.auth == "none" && !is_loopback(m.ip))
    m.log.write(log_level::warn,
                "--auth none on " + cfg.host +
                    ", which is not a loopback address: anyone who can reach it can connect as "
                    "anyone and read every room" +
                    (cfg.api_key.empty() ? ", and publish through the HTTP API" : "") +
                    "; use --auth token or jwt, or --host 127.0.0.1");
  if (cfg.auth != "none" && cfg.api_key.empty())
    m.log.write(log_level::warn,
                "no --api-key: the HTTP publish and admin API is open to anyone who can reach it");
}

server::~server() {
  stop();
  impl& m = *impl_;
  if (m.ctx) {
    {
      std::lock_guard<std::mutex> lock(m.posted_mutex);
      m.accepting_posts = false;
    }
    lws_context_destroy(m.ctx);
    m.ctx = nullptr;
  }
  // Store last: its destructor commits what is pending (presence events from the close).
  m.api.reset();
  m.sio.reset();
  m.hub.reset();
  m.store.reset();
}

void server::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] { run(); });
}

void server::run() {
  impl& m = *impl_;
  while (!m.finished()) {
    if (lws_service(m.ctx, 0) < 0) break;
  }
  // Connections that outlived the shutdown deadline (a peer that never answered the close) go
  // now, so their presence events are committed and counted before the frontier is logged.
  m.hub->release_all();
  m.store->flush();
  m.drain_posted();
  m.log.write(log_level::info, "stopped", {{"last_seq", std::to_string(m.hub->frontier())}});
}

void server::request_stop() noexcept {
  impl_->stop_requested.store(true);
  if (impl_->ctx) lws_cancel_service(impl_->ctx);
}

void server::stop() {
  request_stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t server::port() const {
  return impl_->bound_port;
}

std::string server::url() const {
  const std::string& h = impl_->cfg.host;
  const bool v6 = h.find(':') != std::string::npos;
  return "ws://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->bound_port) +
         "/events/ws/connect";
}

server_stats server::stats() const {
  // The hub lives on the service thread; a snapshot is taken there when running.
  impl& m = *impl_;
  if (!m.thread.joinable()) return m.api->stats();
  std::promise<server_stats> p;
  auto f = p.get_future();
  m.post([&] { p.set_value(m.api->stats()); });
  return f.get();
}

}  // namespace rtev
