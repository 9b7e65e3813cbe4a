// rtev.v1 over WebSocket (/events/ws/connect, /ws): the upgrade's checks (for /socket.io/ too),
// a new connection's hub registration and token, message reassembly, and the writer — pings,
// the polite close, and queued frames coalesced into one write.
//
// Threads: service thread only (lws callbacks).

#include <libwebsockets.h>

#include <cstring>
#include <optional>
#include <string>

#include "frame.hpp"
#include "http_request_head.hpp"
#include "publish_frame.hpp"
#include "server_impl.hpp"
#include "ws_protocol.hpp"

namespace rtev {

using namespace server_lite;

namespace {

const char* const ws_paths[] = {"/events/ws/connect", "/ws"};

}  // namespace

int server::impl::ws_confirm_upgrade(lws* wsi) {
  const std::string path = request_header(wsi, WSI_TOKEN_GET_URI);
  http_request head;
  head.method = "GET";
  head.path = path;
  head.query = query_args(wsi);
  if (auto refused = head_refusal(wsi, head, cfg.max_message_bytes * 16))
    return write_whole_response(wsi, *refused);
  if (is_socketio_path(path)) {
    if (auto refused = sio->ws_check(sio_request(wsi))) return write_whole_response(wsi, *refused);
    return 0;
  }
  bool ok_path = false;
  for (const char* p : ws_paths) ok_path = ok_path || path == p;
  if (!ok_path)
    return write_whole_response(wsi,
                                json_error(404, "not_found",
                                           "no WebSocket endpoint at " + path +
                                               "; use /events/ws/connect, /ws or /socket.io/"));
  if (auto refused = presence_refusal(head)) return write_whole_response(wsi, *refused);
  if (stopping)
    return write_whole_response(wsi,
                                json_error(503, "shutting_down", "the server is shutting down"));
  if (hub->connection_count() >= cfg.max_connections)
    return write_whole_response(wsi, json_error(503, "too_many_connections",
                                                "the server is at --max-connections (" +
                                                    std::to_string(cfg.max_connections) + ")"));
  return 0;
}

int server::impl::ws_established(lws* wsi, session& s) {
  connection& c =
      hub->open(conn_kind::websocket, peer(wsi), waker(wsi), killer(wsi), rtev_ws_codec());
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

int server::impl::ws_receive(lws* wsi, session& s, const void* in, size_t len) {
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
                     reinterpret_cast<unsigned char*>(const_cast<char*>(msg)), sizeof msg - 1);
    return -1;
  }
  // Spare capacity for simdjson to read past the message's end (publish_frame.hpp): the
  // message is parsed where it was assembled, without a padded copy.
  s.rx.reserve(s.rx.size() + len + json_read_padding);
  s.rx.append(static_cast<const char*>(in), len);
  if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
    std::string msg;
    msg.swap(s.rx);
    // Socket.IO binary attachments are not supported (their header packet got an error).
    if (s.sio_link)
      return lws_frame_is_binary(wsi) || sio->ws_message(s.sio_sid, s.sio_link, msg) ? 0 : -1;
    if (c) handle_rtev_message(*hub, *c, msg, msg.capacity());  // gone if killed meanwhile
  }
  return 0;
}

int server::impl::ws_writeable(lws* wsi, session& s) {
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
  if (!o) return 0;  // (after an extra turn, after_write: nothing came, POLLOUT goes off)
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
  after_write(wsi, !c->queue.empty() || c->closing);
  return 0;
}

// After a writeable turn that wrote: the next turn if more is due. On epoll, also one turn more
// when the queue has drained: turning POLLOUT off and on again costs two epoll_ctl calls per
// drained queue, and libev tells the kernel only about watcher sets that changed between two
// turns, so if the next event arrives during that turn no call is made (performance.md §7).
// A turn that finds nothing to write asks for no other, and POLLOUT goes off.
void server::impl::after_write(lws* wsi, bool more) {
  if (more || ev) lws_callback_on_writable(wsi);
}

// Writes `coalesced` after its LWS_PRE headroom as it is; lws keeps what the socket does not
// take and sends it before the next writeable callback.
bool server::impl::write_coalesced(lws* wsi) {
  auto* bytes = reinterpret_cast<unsigned char*>(coalesced.data()) + LWS_PRE;
  const std::size_t n = coalesced.size() - LWS_PRE;
  return lws_write(wsi, bytes, n, LWS_WRITE_HTTP) >= static_cast<int>(n);
}
}  // namespace rtev
