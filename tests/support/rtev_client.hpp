#pragma once
// rtev_client: the rtev WebSocket protocol (docs/protocol.md) on top of ws_client, for tests.
// Received JSON messages go to a mailbox: a test waits for the message it expects (an ACK
// with its ref, an event of a type) and everything else stays queued, in order, for later.
//
// Failures (a time-out, an unexpected close, a non-JSON frame) throw std::runtime_error with a
// description and what was received meanwhile, which Catch reports as the test's failure.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe.

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/ws_client.hpp"

namespace rtev::test {

using json = nlohmann::json;

class rtev_client {
 public:
  using predicate = std::function<bool(const json&)>;

  explicit rtev_client(std::uint16_t port, ws_options options = {});

  /// Connects with `?token=<token>` (URL-encoded) and waits for `authenticated`.
  static rtev_client connect_as(std::uint16_t port, const std::string& token,
                                ws_options options = {});

  ws_client& ws() { return ws_; }
  bool open() const { return ws_.open(); }

  void send(const json& msg);
  /// {"type": op, "data": data, "ref"?: ref}
  void send_op(const std::string& op, const json& data, const std::optional<std::string>& ref = {});

  /// The next message (the mailbox first).
  json next(millis timeout = default_timeout);
  /// The next message, or nothing if none arrives within `timeout`.
  std::optional<json> try_next(millis timeout);
  /// The next message satisfying `pred`; the others stay in the mailbox, in order.
  json next_where(const predicate& pred, millis timeout = default_timeout,
                  const std::string& what = "a matching message");
  /// The next message whose "type" is `type`.
  json next_of_type(const std::string& type, millis timeout = default_timeout);
  /// The next event (a message with a "seq") in `room`.
  json next_event_in(const std::string& room, millis timeout = default_timeout);
  /// Waits for `{"type":"authenticated"}` and returns its data.
  json authenticated(millis timeout = default_timeout);

  /// Sends `op` with a fresh ref and waits for the reply carrying it (ACK, ERROR or PONG).
  json request(const std::string& op, const json& data, millis timeout = default_timeout);
  /// As request(), also returning every message that arrived between the send and the reply
  /// (in order), taken from the wire: replayed events, history events.
  std::pair<std::vector<json>, json> request_collect(const std::string& op, const json& data,
                                                     millis timeout = default_timeout);
  /// request() that requires an ACK and returns its data.
  json ack(const std::string& op, const json& data, millis timeout = default_timeout);
  /// request() that requires an ERROR and returns its data ({"code","message"}).
  json error(const std::string& op, const json& data, millis timeout = default_timeout);
  json subscribe(const std::string& room, json extra = json::object());
  json publish(const json& data);

  /// Starts the close handshake (1000) and waits for the server's answering close.
  ws_message close();
  /// Waits for the server's close frame, queueing messages that come before it.
  ws_message wait_close(millis timeout = default_timeout);
  /// Whether a message arrives within `timeout` that satisfies `pred` (it is consumed; the
  /// others are queued). For "this must not arrive" checks prefer a sentinel message.
  bool receives(const predicate& pred, millis timeout);

  std::deque<json>& mailbox() { return mailbox_; }
  /// A fresh ref: "r1", "r2", …
  std::string new_ref() { return "r" + std::to_string(++refs_); }

 private:
  // One JSON message from the wire; nullopt on time-out. Throws on close, eof, non-JSON.
  std::optional<json> read(steady::time_point deadline, const std::string& what);
  std::string mailbox_summary() const;

  ws_client ws_;
  std::deque<json> mailbox_;
  std::optional<ws_message> close_;  // the close frame, once received
  std::uint64_t refs_ = 0;
};

/// POST /api/events with `body`; requires 202 and returns the reply's JSON. `api_key` non-empty
/// adds `Authorization: Bearer <api_key>`.
json publish_http(std::uint16_t port, const json& body, const std::string& api_key = {});
/// Every stored event of `room` via GET /api/history, following `next` page by page.
std::vector<json> fetch_history(std::uint16_t port, const std::string& room,
                                const std::string& api_key = {});
/// Whether `text` is an RFC 3339 time with exactly six fractional digits.
bool is_rfc3339_micros(const std::string& text);

/// The message's "type", or "" when it has none.
std::string type_of(const json& msg);
/// Whether `msg` is a reply (ACK, ERROR, PONG) carrying `ref`.
bool is_reply_to(const json& msg, const std::string& ref);
/// Whether `msg` is a stored event (has a numeric "seq") of the given room.
bool is_event_in(const json& msg, const std::string& room);

}  // namespace rtev::test
