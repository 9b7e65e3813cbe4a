#pragma once
// socketio_door: the /socket.io/ front door — Engine.IO v4 sessions (HTTP long-polling, the
// upgrade to WebSocket, WebSocket-only), Socket.IO v5 on the default namespace, mapped onto the
// hub's connections: emits are decoded into the hub's typed operations, and the session's codec
// writes the hub's typed replies as Socket.IO acks and events. See docs/protocol.md, "Socket.IO
// front door".
//
// No libwebsockets here: the lws glue (socketio_glue.cpp) hands over requests and messages, asks
// for what to write when a transport is writeable, and wakes transports through the callbacks it
// gives. One Engine.IO session = one hub connection (conn_kind::socketio), whichever transport
// carries it at the moment.
//
// Threads: service thread only, like the hub.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http_api.hpp"
#include "room_hub.hpp"

namespace rtev::server_lite {

struct socketio_config {
  std::chrono::milliseconds ping_interval{30000};
  std::chrono::milliseconds ping_timeout{10000};
  std::size_t max_payload = 1 << 20;  ///< largest packet a client may send (maxPayload)
  std::size_t max_connections = 10000;
};

class socketio_door {
 public:
  using waker = std::function<void()>;

  socketio_door(socketio_config cfg, room_hub& hub, const authenticator& auth);
  ~socketio_door();

  /// Stop taking new sessions (shutdown): handshakes get 503.
  void stop_accepting() { accepting_ = false; }
  /// How the glue drops every transport (WebSocket, held poll) of a session at once, without a
  /// goodbye: the hub's kill for a session whose peer stopped reading (room_hub::tick).
  void set_killer(std::function<void(const std::string& sid)> kill) { kill_ = std::move(kill); }

  // --- HTTP long-polling -------------------------------------------------------------------
  /// A GET: either an immediate response (handshake, error) or a held poll (`poll_id` set),
  /// answered later through poll_ready() once `wake` has been called.
  struct poll_start {
    std::optional<http_response> response;
    std::string sid;
    std::uint64_t poll_id = 0;
  };
  poll_start poll_get(const http_request& req, waker wake);
  /// What a held poll sends now, or nothing yet (keep holding).
  std::optional<http_response> poll_ready(const std::string& sid, std::uint64_t poll_id);
  /// The held poll's HTTP connection went away before it was answered.
  void poll_gone(const std::string& sid, std::uint64_t poll_id);
  /// A POST of packets: "ok", or an Engine.IO error.
  http_response poll_post(const http_request& req);

  // --- WebSocket ---------------------------------------------------------------------------
  /// Whether a WebSocket upgrade to /socket.io/ with this query may proceed (an error
  /// response if not).
  std::optional<http_response> ws_check(const http_request& req) const;
  /// The upgrade is done: a new session (no sid) or a probe for an existing one (sid).
  /// Returns the link id the glue passes back; 0 if refused (close the socket).
  std::uint64_t ws_open(const http_request& req, waker wake, std::string& sid_out);
  /// A complete text message. Returns false when the socket should close now.
  bool ws_message(const std::string& sid, std::uint64_t link, std::string_view text);

  struct ws_step {
    /// Text frames to write, in order (none: nothing due). Several when several packets were
    /// queued: the server writes them in one go, up to max_coalesced_bytes (frame.hpp).
    std::vector<frame_ptr> frames;
    bool more = false;  ///< ask for another writeable callback afterwards
    std::optional<std::pair<int, std::string>> close;  ///< close with code, reason
  };
  ws_step ws_writeable(const std::string& sid, std::uint64_t link);
  void ws_closed(const std::string& sid, std::uint64_t link);

  /// Timers: sessions closed by the hub whose client never came back for the close.
  void tick(steady::time_point now);
  std::size_t session_count() const { return sessions_.size(); }

 private:
  struct session;

  session* find(const std::string& sid);
  session& create(const http_request& req);
  void end(session& s);
  void wake(const std::string& sid);
  std::string open_packet(const std::string& sid, bool upgrades) const;

  // Engine.IO and Socket.IO packets from the client, whatever the transport.
  void on_packet(session& s, char type, std::string_view data, bool from_ws);
  void on_sio(session& s, connection& c, std::string_view text);
  void on_connect(session& s, connection& c, const json& auth);
  void on_event(session& s, connection& c, const json& args, std::optional<std::uint64_t> ack);
  // The session's codec: the hub's replies as acks and events (nothing before CONNECT).
  void encode(session& s, const connection& c, const hub_reply& r, std::vector<frame_ptr>& out);

  // Queue a packet for this session (Engine.IO text, e.g. "42[…]").
  void push(session& s, const std::string& packet);
  void reply(session& s, std::optional<std::uint64_t> ack, const std::string& event,
             const json& payload);
  void fail(session& s, std::optional<std::uint64_t> ack, const std::string& code,
            const std::string& message);
  static std::string error_packet(std::optional<std::uint64_t> ack, const std::string& code,
                                  const std::string& message);

  // The next packet for whichever transport carries the session; nullopt when none.
  std::optional<frame_ptr> next_packet(session& s, connection& c, bool& end_after);

  socketio_config cfg_;
  room_hub& hub_;
  const authenticator& auth_;
  bool accepting_ = true;
  std::uint64_t next_link_ = 1;
  std::unordered_map<std::string, std::unique_ptr<session>> sessions_;
  std::function<void(const std::string&)> kill_;
};

}  // namespace rtev::server_lite
