// SSE streams (GET /api/events): the checks and authentication before the stream opens, its
// headers, the writer (heartbeat comments, queued events coalesced into one write), and the
// tick's peek at held streams — SSE and Socket.IO long-polls — whose peer has gone.
//
// Threads: service thread only (lws callbacks and the tick).

#include <libwebsockets.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "frame.hpp"
#include "names.hpp"
#include "reply_json.hpp"
#include "rtev/error.hpp"
#include "server_impl.hpp"

namespace rtev {

using namespace server_lite;

int server::impl::sse_start(lws* wsi, session& s) {
  const http_request& req = s.req;
  if (stopping) {
    respond(wsi, s, json_error(503, "shutting_down", "the server is shutting down"));
    return 0;
  }
  if (hub->connection_count() >= cfg.max_connections) {
    respond(wsi, s, json_error(503, "too_many_connections", "the server is at --max-connections"));
    return 0;
  }
  if (auto refused = presence_refusal(req)) {
    respond(wsi, s, std::move(*refused));
    return 0;
  }
  // SSE carries events, and the server's status (an `event: server_status` without an id):
  // replies (ACK, ERROR, auth_error, …) are dropped; heartbeat comments instead of pings.
  door_codec codec;
  codec.pings = false;
  codec.encode = [](const connection&, const hub_reply& r, std::vector<frame_ptr>& out) {
    if (const auto* st = std::get_if<server_status_reply>(&r))
      out.push_back(std::make_shared<frame>(
          "event: server_status\ndata: " + json_text(server_status_json(*st)) + "\n\n"));
  };
  connection& c = hub->open(conn_kind::sse, req.remote, waker(wsi), killer(wsi), codec);
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
  // The store the client's position came from (rtev's SDK sends it with Last-Event-ID).
  const std::optional<std::string> since_epoch = req.param("epoch");
  const auto named = req.param("named");
  std::optional<http_response> refused;
  try {
    const std::vector<std::string> rooms = split(req.param("rooms").value_or(""));
    std::vector<std::string> types = split(req.param("types").value_or(""));
    require_names("rooms", rooms, name_kind::room_pattern);
    require_names("types", types, name_kind::type_pattern);
    std::optional<since_point> start;
    if (since) start = parse_since(json(*since), hub->timezone());
    // A seq of another store says nothing about this one (it numbers from 1 again): resume
    // from this store's beginning, so none of its events is missed.
    if (start && start->seq && since_epoch && *since_epoch != hub->epoch()) start->seq = 0;
    // ?types= applies to every event the stream would get, broadcasts included.
    if (!types.empty())
      c.codec.accepts = [types = std::move(types)](const shared_event& e) {
        return any_glob_matches(types, e.type);
      };
    s.sse_named = named && *named != "0" && *named != "false";
    err = hub->open_sse(c, rooms, start);
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
  // The store's epoch and frontier, as a WebSocket client learns them from `authenticated`: a
  // client that reconnects to another store can tell (docs/protocol.md §6).
  const std::string& epoch = hub->epoch();
  const std::string frontier = std::to_string(hub->frontier());
  // The server's state, as `authenticated` says it to the other doors (§4.7): the named
  // event with the reason follows in the stream while it is not ok.
  const std::string status = hub->status_notice() ? "degraded" : "ok";
  if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream",
                                  LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
      lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("cache-control:"),
                                  reinterpret_cast<const unsigned char*>("no-cache"), 8, &p, end) ||
      lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("rtev-epoch:"),
                                  reinterpret_cast<const unsigned char*>(epoch.data()),
                                  static_cast<int>(epoch.size()), &p, end) ||
      lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("rtev-last-seq:"),
                                  reinterpret_cast<const unsigned char*>(frontier.data()),
                                  static_cast<int>(frontier.size()), &p, end) ||
      lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("rtev-status:"),
                                  reinterpret_cast<const unsigned char*>(status.data()),
                                  static_cast<int>(status.size()), &p, end) ||
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

int server::impl::sse_writeable(lws* wsi, session& s) {
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
    if (o->event) coalesced.append(o->event->sse_frame(s.sse_named)->payload());
    if (o->control) coalesced.append(o->control->payload());
  }
  if (coalesced.size() == LWS_PRE) {  // nothing written (after an extra turn: POLLOUT goes off)
    if (!c->queue.empty()) lws_callback_on_writable(wsi);
    return 0;
  }
  if (!write_coalesced(wsi)) return -1;
  after_write(wsi, !c->queue.empty());
  return 0;
}

// A held stream whose peer has closed (EOF, or an error, on a non-blocking peek) is closed
// from its next WRITEABLE, which releases its hub connection — presence, counts, limits.
void server::impl::check_held_streams() {
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
}  // namespace rtev
