#pragma once
// Internal: the Socket.IO transport, a Socket.IO v5 client over Engine.IO v4 on the client's
// lws context. One class, two files by layer:
//
//   transport_socketio.cpp          Engine.IO: its connections (long-polling GET/POST as
//                                   http_exchanges, the WebSocket and its upgrade probe as
//                                   ws_links, or WebSocket only), the open packet,
//                                   heartbeats, ending an attempt.
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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http_exchange.hpp"
#include "transport.hpp"
#include "wire/socketio_codec.hpp"
#include "ws_link.hpp"

namespace rtev::detail {

class socketio_transport final : public transport {
 public:
  explicit socketio_transport(const transport_context& c);
  ~socketio_transport() override;

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
  struct outgoing {
    std::string text;               // one Engine.IO packet
    std::function<void()> written;  // called once the server has it (may be empty)
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
  std::string query(const char* transport_name);
  http_request poll_request(const char* method, std::string body);
  void start_ws(ws_link& link, bool probe);
  void bind_ws(ws_link& link, bool probe);
  void on_get_done(int status, const std::string& body);
  void on_post_done(int status, const std::string& body,
                    std::vector<std::function<void()>>& written);
  void on_poll_failed(const std::string& what, const http_result& r);
  void fail_http(const std::string& what, int status, const std::string& body);
  void on_eio_text(const std::string& text);
  void on_eio_packet(wire::eio_packet&& p);
  void on_open(const std::string& data);
  void on_probe_text(const std::string& text);
  void maybe_finish_upgrade();
  void drop_probe(const std::string& why);
  void send_eio(outgoing o);
  void flush_poll();
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
  std::string engine_path_, nsp_, extra_query_;

  // The connections (sdk/src/ws_link.hpp, http_exchange.hpp): the session's WebSocket (after
  // an upgrade, the probe that succeeded), the upgrade probe, the long-poll GET, the POST.
  std::unique_ptr<ws_link> main_ws_, probe_ws_;
  http_exchange get_x_, post_x_;
  std::vector<std::function<void()>> post_written_;  // the POST in flight's packets' callbacks
  std::size_t post_bytes_ = 0;                       // and its body's size

  std::uint64_t attempt_ = 0;
  bool ended_ = true, eio_open_ = false, authenticated_ = false, kill_requested_ = false;
  unsigned long attachments_to_skip_ = 0;  // binary frames of a refused binary packet
  bool upgraded_ = false, pausing_ = false, closing_ = false;
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
