// server-lite's lws glue: the libwebsockets context, its one protocol callback (a dispatcher
// over the callback reasons; the cases' work is in ws_session.cpp, sse_session.cpp,
// http_session.cpp and socketio_glue.cpp), the service loop with its tick, and the public
// rtev::server class. The state they share is server::impl (server_impl.hpp).
//
// Threads: everything in the callback runs on the lws service thread. Other threads reach it
// only through impl::post() (a mutex-guarded queue + lws_cancel_service), and stop flags.

#include "rtev/server/server.hpp"

#include <arpa/inet.h>
#include <ev.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

#include "embedded_engine.hpp"
#include "http_request_head.hpp"
#include "redis_engine.hpp"
#include "rtev/duration.hpp"
#include "rtev/error.hpp"
#include "rtev/time.hpp"
#include "server_impl.hpp"
#include "url.hpp"

namespace rtev::server_lite {
const std::size_t frame_headroom = LWS_PRE;
}

namespace rtev {

using namespace server_lite;

namespace {

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

void server::impl::ev_loop_deleter::operator()(struct ev_loop* loop) const {
  ev_loop_destroy(loop);
}

server::impl::impl(server_config c)
    : cfg(std::move(c)), log(cfg.log_format == "json", cfg.verbosity) {}

// --- the service loop --------------------------------------------------------------------------

void server::impl::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(posted_mutex);
  if (!accepting_posts) return;
  // One wake-up for a burst (the store's writer posts each commit's completions): work
  // already waiting means a wake-up is already on its way, and drain_posted takes it all.
  const bool wake = posted.empty();
  posted.push_back(std::move(fn));
  if (wake) lws_cancel_service(ctx);
}

void server::impl::drain_posted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(posted_mutex);
    work.swap(posted);
  }
  for (auto& fn : work) fn();
}

void server::impl::begin_stop() {
  if (stopping) return;
  stopping = true;
  stop_deadline = steady::now() + std::chrono::milliseconds(1500);
  log.write(log_level::info, "shutting down",
            {{"connections", std::to_string(hub->connection_count())}});
  sio->stop_accepting();
  hub->shutdown();
}

bool server::impl::finished() const {
  return stopping && (hub->connection_count() == 0 || steady::now() >= stop_deadline);
}

void server::impl::on_tick(lws_sorted_usec_list_t* sul) {
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
void server::impl::trim_heap() {
  const std::size_t now_count = hub->connection_count();
  const std::size_t moved =
      now_count > trimmed_at_count ? now_count - trimmed_at_count : trimmed_at_count - now_count;
  if (moved < 256) return;
  trimmed_at_count = now_count;
  malloc_trim(0);
}

// lws has already percent-decoded the query fragments ("k=v").
std::multimap<std::string, std::string> server::impl::query_args(lws* wsi) {
  return request_query(wsi);
}

std::string server::impl::peer(lws* wsi) {
  char buf[128] = {};
  lws_get_peer_simple(wsi, buf, sizeof buf);
  return buf;
}

std::function<void()> server::impl::waker(lws* wsi) {
  return [wsi] { lws_callback_on_writable(wsi); };
}

// Closes a wsi from the service loop's next turn whatever its socket's state: a peer that
// stopped reading never makes it writeable, so a close that waits for WRITEABLE never comes.
// The time-out kill skips lws's flush and close handshake and frees its buffered output.
std::function<void()> server::impl::killer(lws* wsi) {
  return [this, wsi] {
    log.write(log_level::info, "dropping a connection that does not read", {{"peer", peer(wsi)}});
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  };
}

// --- the one protocol callback -------------------------------------------------------------

int server::impl::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                           size_t len) {
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

session& server::impl::sess(session** pss) {
  if (!*pss) *pss = new session();
  return **pss;
}

void server::impl::drop_session(session** pss) {
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

int server::impl::dispatch(lws* wsi, lws_callback_reasons reason, session** pss, void* in,
                           size_t len) {
  switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
      lws_sul_schedule(ctx, 0, &tick_timer.sul, on_tick, 100 * LWS_US_PER_MS);
      return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      drain_posted();
      if (stop_requested.load()) begin_stop();
      return 0;

      // --- WebSocket: rtev.v1 (ws_session.cpp) or Socket.IO (socketio_glue.cpp)

    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      return ws_confirm_upgrade(wsi);

    case LWS_CALLBACK_ESTABLISHED: {
      session& s = sess(pss);
      if (is_socketio_path(request_header(wsi, WSI_TOKEN_GET_URI))) return sio_established(wsi, s);
      return ws_established(wsi, s);
    }

    case LWS_CALLBACK_RECEIVE:
      return ws_receive(wsi, sess(pss), in, len);

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

      // --- HTTP: plain (http_session.cpp), SSE (sse_session.cpp), Socket.IO polls

    case LWS_CALLBACK_HTTP:
      return http_start(wsi, sess(pss), static_cast<const char*>(in));

    case LWS_CALLBACK_HTTP_BODY:
      http_body(sess(pss), in, len);
      return 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      return body_complete(wsi, sess(pss));

    case LWS_CALLBACK_HTTP_WRITEABLE: {
      if (!*pss) return 0;
      session& s = **pss;
      if (s.peer_gone) return -1;
      if (s.sse && s.sse_headers_sent) return sse_writeable(wsi, s);
      if (s.sio_poll && !s.response && !sio_poll_take(s)) return 0;
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
  if (event_loop != "auto" && event_loop != "epoll" && event_loop != "poll")
    throw config_error("invalid --event-loop '" + event_loop + "': expected auto, epoll or poll");
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
  if (!cfg.broker.empty() && !cfg.db_path.empty())
    throw config_error("--db and --broker: the history is kept in one or the other, give one");
  if (cfg.db_path.empty() && cfg.broker.empty()) cfg.db_path = server_config::default_db_path();
  m.ip = resolve_host(cfg.host);

  retention_policy retention;
  retention.max_events = cfg.history_max_events;
  retention.max_age = cfg.history_max_age;
  if (!cfg.broker.empty()) {
    if (cfg.event_loop == "poll")
      throw config_error("--broker needs --event-loop epoll (the Redis connections run on it)");
    redis_settings rs;
    rs.url = cfg.broker;
    rs.prefix = cfg.broker_prefix;
    rs.wait = cfg.broker_wait;
    rs.node_ttl = cfg.broker_ttl;
    rs.log = &m.log;
    rs.retention = retention;
    rs.waiting = [&m](const std::string& why) {
      m.log.write(log_level::warn, "waiting for the broker (--broker-wait)",
                  {{"broker", detail::parse_redis_url(m.cfg.broker).redacted}, {"error", why}});
    };
    auto redis = std::make_unique<redis_engine>(rs);
    m.redis = redis.get();
    // Once per episode, on the service thread.
    redis->set_health_listener([&m](bool ok, const std::string& why) {
      if (ok)
        m.log.write(log_level::info, "broker reachable", {{"broker", m.redis->shown_url()}});
      else
        m.log.write(log_level::error, "broker failing",
                    {{"broker", m.redis->shown_url()}, {"error", why}});
      // Connected clients are told too (server_status): they can see why publishes fail.
      if (m.hub) m.hub->service_status(ok, why);
    });
    m.engine = std::move(redis);
  } else {
    m.store = std::make_unique<history_store>(cfg.db_path, retention);
    // Once per episode, on the store's writer thread (the logger is safe from any thread).
    m.store->set_health_listener([&m](bool ok, const std::string& error) {
      if (ok)
        m.log.write(log_level::info, "storage recovered", {{"db", m.cfg.db_path}});
      else
        m.log.write(log_level::error, "storage failing", {{"db", m.cfg.db_path}, {"error", error}});
    });
    m.engine = std::make_unique<embedded_engine>(
        *m.store, [&m](std::function<void()> fn) { m.post(std::move(fn)); });
  }
  m.auth = std::make_unique<authenticator>(parse_auth_mode(cfg.auth), cfg.jwt_secret, cfg.api_key);

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
  m.hub = std::make_unique<room_hub>(hc, *m.engine, *m.auth);
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
  // epoll: lws runs on a libev loop of ours (a "foreign loop", so lws installs no signal
  // handler and run() turns it once per pass, as lws_service does its poll loop). auto: that,
  // or lws's poll loop when lws's libev plugin is not installed.
  void* foreign_loops[1] = {nullptr};
  if (cfg.event_loop != "poll") {
    // libev's flags are two unrelated enums that its API ORs together by design.
    const unsigned flags = static_cast<unsigned>(EVBACKEND_EPOLL) | EVFLAG_NOENV;
    m.ev.reset(ev_loop_new(flags));
    if (!m.ev) throw config_error("cannot start the server: no epoll event loop (libev)");
    foreign_loops[0] = m.ev.get();
    info.foreign_loops = foreign_loops;
    info.options |= LWS_SERVER_OPTION_LIBEV;
  }
  info.timeout_secs = 30;
  // Headers and URL pieces are cut by lws at token_limits() and then answered 431/414 by
  // head_refusal(); the listener refuses a head larger than the table before lws sees it.
  info.max_http_header_data = header_table_bytes;
  info.token_limits = token_limits();
  info.pt_serv_buf_size = 64 * 1024;
  m.ctx = lws_create_context(&info);
  if (!m.ctx && m.ev && cfg.event_loop == "auto") {
    m.log.write(log_level::warn,
                "libwebsockets' libev plugin did not load (Debian package "
                "libwebsockets-evlib-ev): serving on the poll() loop, which slows down with "
                "thousands of connections");
    m.ev.reset();
    info.foreign_loops = nullptr;
    info.options &= ~static_cast<std::uint64_t>(LWS_SERVER_OPTION_LIBEV);
    m.ctx = lws_create_context(&info);
  }
  if (!m.ctx && m.ev)
    throw config_error(
        "cannot start the server with --event-loop epoll: libwebsockets' libev plugin did not "
        "load (Debian package libwebsockets-evlib-ev); install it or use --event-loop poll");
  if (!m.ctx) throw config_error("cannot start the server (libwebsockets context)");
  if (m.redis) {
    if (!m.ev)
      throw config_error(
          "--broker needs the epoll event loop, and libwebsockets' libev plugin did not load "
          "(Debian package libwebsockets-evlib-ev)");
    m.redis->attach(m.ev.get());
  }
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
               {"console", console_url()},
               {"db", m.redis ? std::string() : cfg.db_path},
               {"broker", m.redis ? m.redis->shown_url() : std::string()},
               {"auth", cfg.auth},
               {"timezone", cfg.timezone},
               {"epoch", m.engine->epoch()},
               {"event_loop", m.ev ? "epoll" : "poll"},
               {"last_seq", std::to_string(m.engine->last_seq_at_start())}});
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
  // The Redis engine's connections are watchers on the loop: they go before it.
  if (m.redis) {
    m.redis = nullptr;
    m.engine.reset();
  }
  m.ev.reset();
  // Store last: its destructor commits what is pending (presence events from the close).
  m.api.reset();
  m.sio.reset();
  m.hub.reset();
  m.engine.reset();
  m.store.reset();
}

void server::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] { run(); });
}

void server::run() {
  impl& m = *impl_;
  while (!m.finished()) {
    if (m.ev)
      ev_run(m.ev.get(), EVRUN_ONCE);
    else if (lws_service(m.ctx, 0) < 0)
      break;
  }
  // Connections that outlived the shutdown deadline (a peer that never answered the close) go
  // now, so their presence events are committed and counted before the frontier is logged.
  m.hub->release_all();
  m.engine->flush();
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

// "HOST:PORT" of the bound listener, an IPv6 host in brackets: what url() and console_url() share.
static std::string host_port(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string server::url() const {
  return "ws://" + host_port(impl_->cfg.host, impl_->bound_port) + "/events/ws/connect";
}

std::string server::console_url() const {
  if (!impl_->cfg.console) return {};
  return "http://" + host_port(impl_->cfg.host, impl_->bound_port) + "/console";
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
