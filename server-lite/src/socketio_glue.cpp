// The lws side of /socket.io/: an Engine.IO WebSocket's opening and writer, held long-polling
// GETs, and the list of each session's transports that the door's kill closes. The protocol
// itself is socketio_door.cpp, which knows nothing of lws.
//
// Threads: service thread only (lws callbacks, and the door's kill from the hub's tick).

#include <libwebsockets.h>

#include <optional>
#include <string>

#include "frame.hpp"
#include "http_request_head.hpp"
#include "server_impl.hpp"

namespace rtev {

using namespace server_lite;

int server::impl::sio_established(lws* wsi, session& s) {
  s.sio_link = sio->ws_open(sio_request(wsi), waker(wsi), s.sio_sid);
  if (s.sio_link) sio_track(wsi, s);
  return s.sio_link ? 0 : -1;
}

void server::impl::sio_get(lws* wsi, session& s) {
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

// A held poll's reply, once the door has one: true when it is now the session's response.
bool server::impl::sio_poll_take(session& s) {
  std::optional<http_response> r = sio->poll_ready(s.sio_sid, s.sio_poll);
  if (!r) return false;
  s.sio_poll = 0;
  sio_untrack(s);
  s.response = std::move(*r);
  s.headers_sent = false;
  return true;
}

int server::impl::sio_ws_writeable(lws* wsi, session& s) {
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
  if (step.frames.empty()) return 0;  // (after an extra turn: POLLOUT goes off)
  if (step.frames.size() == 1) {
    const frame_ptr& f = step.frames.front();
    if (lws_write(wsi, f->data(), f->size(), LWS_WRITE_TEXT) < static_cast<int>(f->size()))
      return -1;
  } else {
    coalesced.assign(LWS_PRE, '\0');
    for (const frame_ptr& f : step.frames) append_ws_text_frame(coalesced, f->payload());
    if (!write_coalesced(wsi)) return -1;
  }
  after_write(wsi, step.more);
  return 0;
}

void server::impl::sio_track(lws* wsi, session& s) {
  s.sio_wsi = wsi;
  sio_transports[s.sio_sid].insert(wsi);
}

void server::impl::sio_untrack(session& s) {
  if (!s.sio_wsi) return;
  if (auto it = sio_transports.find(s.sio_sid); it != sio_transports.end()) {
    it->second.erase(s.sio_wsi);
    if (it->second.empty()) sio_transports.erase(it);
  }
  s.sio_wsi = nullptr;
}

void server::impl::sio_kill(const std::string& sid) {
  auto it = sio_transports.find(sid);
  if (it == sio_transports.end()) return;
  for (lws* wsi : it->second) killer(wsi)();
}

http_request server::impl::sio_request(lws* wsi) {
  http_request r;
  r.query = query_args(wsi);
  r.authorization = request_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  r.remote = peer(wsi);
  return r;
}
}  // namespace rtev
