#pragma once
// Internal: the Socket.IO transport, a Socket.IO v5 client over Engine.IO v4 on the client's
// lws context. One class, two files by layer:
//
//   transport_socketio.cpp          Engine.IO: the lws connections (long-polling GET/POST, the
//                                   WebSocket probe and upgrade, or WebSocket only), the open
//                                   packet, heartbeats, ending an attempt.
//   transport_socketio_packets.cpp  Socket.IO: the namespace CONNECT, events in and out, acks,
//                                   the translation of rtev requests, the handshake emits and
//                                   the wait for their answer, publishing.
//
// Threads: the client's service thread only (see transport.hpp).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "transport.hpp"
#include "wire/socketio_codec.hpp"

namespace rtev::detail {

class socketio_transport final : public transport {
 public:
  explicit socketio_transport(const transport_context& c);

  void open(const std::string& token) override;
  void send(nlohmann::json&& request) override;
  void send_raw(std::string text) override;
  void emit(const std::string& name, nlohmann::json args, ack_callback ack) override;
  bool close() override;
  void retarget(const parsed_url& url) override;
  void kill(const std::string& reason) override;
  void tick(steady::time_point now) override;
  int on_callback(lws* w, lws_callback_reasons reason, void* in, size_t len) override;

 private:
  enum class role { ws, probe, poll_get, poll_post };

  struct outgoing {
    std::string text;               // one Engine.IO packet
    std::function<void()> written;  // called once the server has it (may be empty)
  };

  // One lws connection of this transport.
  struct conn {
    role kind = role::ws;
    lws* wsi = nullptr;
    bool zombie = false;   // belongs to an ended attempt or a dropped probe: close on sight
    bool ws_open = false;  // ws/probe: the upgrade is done
    bool want_close = false;
    int status = 0;                              // HTTP status of the response
    std::string rx;                              // ws: message being reassembled; http: body
    std::deque<outgoing> outq;                   // ws: frames to write
    std::string body;                            // poll_post: the payload
    std::vector<std::function<void()>> written;  // poll_post: callbacks once the POST is taken
  };

  // An emit waiting for its acknowledgement.
  struct pending {
    enum kind_t {
      none,
      user,       // emit() with an ack callback
      join,       // SUBSCRIBE → join_event
      publish,    // PUBLISH → publish_event {room, type, data, id}
      direct,     // PUBLISH → the event type itself with data
      handshake,  // one of socketio.emits
    } what = none;
    std::string ref, room, publish_id, name;
    ack_callback callback;
    // direct: written, and no ack by then → completed unacknowledged.
    std::optional<steady::time_point> give_up_at;
  };

  // --- Engine.IO (transport_socketio.cpp) ---
  static bool is_final(lws_callback_reasons r);
  static bool closes_on_error(lws_callback_reasons r);
  conn* find(std::uintptr_t id);
  std::string query(const char* transport_name);
  std::uintptr_t start(role kind, std::string body = {});
  int append_headers(lws* w, conn& cn, unsigned char** p, size_t len);
  void on_get_done(int status, const std::string& body);
  void on_post_done(int status, const std::string& body,
                    std::vector<std::function<void()>>& written);
  void fail_http(const std::string& what, int status, const std::string& body);
  void on_eio_text(const std::string& text);
  void on_eio_packet(wire::eio_packet&& p);
  void on_open(const std::string& data);
  int on_probe_text(std::uintptr_t id, const std::string& text);
  void maybe_finish_upgrade();
  void drop_probe(const std::string& why);
  void send_eio(outgoing o);
  void flush_poll();
  void on_conn_lost(std::uintptr_t id, role kind, int status, const std::string& why,
                    const std::string& body);
  void retire(conn& cn);
  void kill_all_now();
  void close_zombies_now();
  void end(const std::string& why);

  // --- Socket.IO (transport_socketio_packets.cpp) ---
  void reset_session();
  void send_connect();
  void on_sio_text(const std::string& text);
  void on_connected(const nlohmann::json& d);
  /// The rtev `authenticated` message for an identity (a CONNECT answer, an `authenticated`
  /// event's payload), handed to the client.
  void report_authenticated(const nlohmann::json& d);
  void on_connect_error(const nlohmann::json& d);
  void on_sio_event(wire::sio_packet&& p);
  void on_sio_ack(std::uint64_t id, const nlohmann::json& args);
  void on_handshake_answer(const pending& p, const nlohmann::json* args);
  void open_gate();
  void sio_tick(steady::time_point now);
  void publish_direct(const std::string& ref, const nlohmann::json& data);
  /// Application packets (not the handshake's): held while the handshake emits are unanswered.
  void send_app(outgoing o);
  void emit_packet(const std::string& name, const nlohmann::json& args, pending p);
  /// `handshake`: sent even while the gate is closed.
  void emit_packet_as(const std::string& name, const nlohmann::json& args, pending p,
                      bool handshake);
  void fail_pending(const std::string& why);
  void reply_ack(const std::string& ref, nlohmann::json data);
  void reply_error(const std::string& ref, const std::string& code, const std::string& message);
  /// An ack's {error: {code, message}} (or {error: "text"}) as ERROR for request `op`.
  void reply_server_error(const std::string& ref, const nlohmann::json& err, const char* op);

  transport_context c_;
  const client_options& opt_;
  lws_retry_bo_t no_validity_{};
  std::string engine_path_, nsp_, extra_query_, host_header_, origin_;

  std::map<std::uintptr_t, conn> conns_;
  std::uintptr_t next_conn_id_ = 0;
  lws* connecting_ = nullptr;  // lws_client_connect_via_info's pwsi

  std::uint64_t attempt_ = 0;
  bool ended_ = true, eio_open_ = false, authenticated_ = false, kill_requested_ = false;
  unsigned long attachments_to_skip_ = 0;  // binary frames of a refused binary packet
  bool upgraded_ = false, pausing_ = false, closing_ = false;
  std::uintptr_t main_ws_ = 0, get_ = 0, post_ = 0, probe_ = 0;
  std::deque<outgoing> pollq_;  // Engine.IO packets waiting for the next POST
  std::map<std::uint64_t, pending> acks_;
  std::uint64_t next_ack_id_ = 0;

  // Socket.IO session state, reset by reset_session() on every open().
  bool rtev_door_ = false;  // the CONNECT answer says "protocol":"rtev.v1" (rtev serve)
  // rtev serve accepted the namespace without an identity (token mode, no token at CONNECT):
  // the client is connected when its `authenticated` event answers the handshake emits.
  bool identity_pending_ = false;
  // The handshake: socketio.emits sent, application packets held until they are answered.
  bool gate_closed_ = false;
  std::size_t handshake_unanswered_ = 0;
  steady::time_point gate_deadline_{};
  std::deque<outgoing> held_;

  std::string token_, sid_;
  std::chrono::milliseconds ping_interval_{25000}, ping_timeout_{20000};
  std::size_t max_payload_ = 1000000;
  steady::time_point last_ping_{}, last_timeout_push_{};
  transport_end end_;
};

}  // namespace rtev::detail
