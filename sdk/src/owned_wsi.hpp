#pragma once
// Internal: the one client wsi an http_exchange or a ws_link holds at a time, and how it is let
// go. Both route their lws callbacks by the wsi's opaque user data (themselves); giving the wsi
// up clears it, so later callbacks of that wsi reach nobody, and closes the connection:
//
// - from inside one of its own callbacks: that callback returns -1 (lws closes it as the
//   callback unwinds; a nested callback and the outer one both return -1);
// - its request already written (CLIENT_APPEND_HANDSHAKE_HEADER seen): on the next loop turn
//   (LWS_TO_KILL_ASYNC). Not synchronously: from another wsi's callback that freed a wsi lws
//   was about to service (lws_service_do_ripe_rxflow crashed on a long-poll GET killed from
//   its POST's callback);
// - still connecting: synchronously (an asynchronous kill of a connecting wsi crashed lws 4.1's
//   timer list).
// docs/lws-notes.md has both traps.
//
//     int on_callback(lws* w, …) {
//       if (!owns(w)) return 0;
//       wsi_.enter(w);
//       … wsi_.release() anywhere (finish) …
//       return wsi_.leave(w, rc, reason);
//     }
//
// Threads: the client's service thread only.

#include <libwebsockets.h>

#include <vector>

namespace rtev::detail {

class owned_wsi {
 public:
  lws* get() const { return wsi_; }
  /// For lws_client_connect_info::pwsi (lws writes it during the connect call).
  lws** slot() { return &wsi_; }
  void set(lws* w) { wsi_ = w; }
  /// Its request is being written: from now on a release closes it asynchronously.
  void request_written() { requested_ = true; }
  /// Let the wsi go (see the file comment); idle afterwards.
  void release();
  /// A callback of `w` begins.
  void enter(lws* w) { callback_stack_.push_back(w); }
  /// A callback of `w` ends with `rc`: -1 instead when `w` was released inside it (0 for the
  /// last callbacks, CLOSED and CONNECTION_ERROR: lws is closing it already).
  int leave(lws* w, int rc, lws_callback_reasons reason);

 private:
  lws* wsi_ = nullptr;
  bool requested_ = false;
  // The wsis whose callbacks are running (nested when a completion starts the next
  // connection), and those among them released meanwhile.
  std::vector<lws*> callback_stack_, doomed_;
};

}  // namespace rtev::detail
