#pragma once
// hub_ops: the hub's typed interface with the front doors. A door decodes its wire format into
// an `operation` (op_decode.hpp holds the rtev vocabulary's decoders), the hub acts on it and
// answers with `reply` values, and the connection's `door_codec` — supplied by its door when
// the connection opens — turns each reply into that door's frames (or drops it: SSE). The hub
// never sees a protocol's JSON and never asks which protocol a connection speaks.
//
//   door decodes → operation → room_hub::handle → reply → door_codec::encode → frames
//
// Plain values: no threads here (the hub and the codecs run on the service thread).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "frame.hpp"

namespace rtev::server_lite {

/// A request's ref as the client sent it, as JSON text (`"a1"` with its quotes, or `7`), which
/// an encoder splices back into its answer; empty when the request had none.
using op_ref = std::string;

/// Where a replay or a history query starts: after a seq, or at a time (microseconds since
/// the Unix epoch); neither: from the beginning of what is kept.
struct since_point {
  std::optional<std::uint64_t> seq;
  std::optional<std::int64_t> time_us;
};

/// What a publisher asked for, from any front door.
struct publish_request {
  std::string type;
  std::string data = "{}";  ///< the event's data as JSON text, serialised once by the door
  std::optional<std::string> id;
  std::string room;  ///< empty with broadcast
  bool broadcast = false;
};

/// One event's answer to a publish.
struct publish_result {
  std::string id;
  std::uint64_t seq = 0;   ///< the stored seq (the first one for a duplicate); 0 if not stored
  std::string room;        ///< the event's room when known (empty for broadcasts)
  bool duplicate = false;  ///< the id was already stored: nothing new was stored or delivered
  std::string error_code;  ///< empty when stored (storage_error otherwise)
  std::string error_message;
  bool stored() const { return error_code.empty(); }
};

/// Replies to a publish, filled as the store commits: one result per event.
struct publish_outcome {
  std::vector<publish_result> results;
  bool failed = false;
};

// --- operations ----------------------------------------------------------------------------

struct authenticate_op {
  op_ref ref;
  std::string token;             ///< empty: none given
  std::optional<bool> presence;  ///< the client's presence option, when it gave one
};
struct ping_op {
  op_ref ref;
};
struct subscribe_op {
  op_ref ref;
  std::string room;  ///< a room pattern
  std::vector<std::string> types;
  std::optional<std::string> epoch;  ///< the store the client's position came from
  std::optional<since_point> since;  ///< replay from here
};
struct unsubscribe_op {
  op_ref ref;
  std::string room;
};
struct publish_op {
  op_ref ref;
  std::vector<publish_request> events;  ///< one per addressed user for user_ids
};
struct typing_op {
  op_ref ref;
  std::string room;
  bool typing = true;  ///< started (true) or stopped typing
};
struct history_op {
  op_ref ref;
  std::string room;  ///< a room pattern
  std::vector<std::string> types;
  std::size_t limit = 100;
  std::optional<since_point> since;
  std::optional<std::int64_t> until_us;
};
struct presence_op {
  op_ref ref;
  std::string room;
};
/// A request the door could not decode: answered with ERROR {code, message}. `needs_auth`: the
/// request named an operation that needs an identity, so an unauthenticated client hears
/// not_authenticated instead (what it must fix first).
struct bad_op {
  op_ref ref;
  std::string code;
  std::string message;
  bool needs_auth = false;
};

using hub_operation = std::variant<authenticate_op, ping_op, subscribe_op, unsubscribe_op,
                                   publish_op, typing_op, history_op, presence_op, bad_op>;

// --- replies -------------------------------------------------------------------------------

/// The per-connection rate limit, announced in `authenticated`.
struct rate_limit_values {
  double per_second = 0;
  double burst = 0;
};

/// Who a connection is, as `authenticated` tells it.
struct connection_info {
  std::string user_id;
  std::string connection_id;
  std::vector<std::string> roles;
  std::string timezone;
  std::string server_time;
  std::string epoch;
  std::uint64_t last_seq = 0;
  bool anonymous = false;
  bool presence = true;
  rate_limit_values rate_limit;
  /// Why the server is not ok now (server_status, docs/protocol.md §4.7); none: it is.
  std::optional<std::string> degraded;
};

struct presence_entry {
  std::string user_id;
  std::size_t connections = 0;
};

/// SUBSCRIBE's answer, once its replay (if any) has been queued.
struct subscribed_reply {
  op_ref ref;
  std::string room;
  std::uint64_t replayed = 0;
  bool recovered = true;
  std::string epoch;
  std::uint64_t last_seq = 0;
};
struct unsubscribed_reply {
  op_ref ref;
  std::string room;
  bool was_subscribed = false;
};
/// A publish whose events were all stored (or found duplicates).
struct published_reply {
  op_ref ref;
  std::vector<publish_result> results;
};
struct typing_reply {
  op_ref ref;
  std::string room;
  bool typing = true;
};
/// A HISTORY page: the stored envelopes (JSON text) in order, then its ACK.
struct history_reply {
  op_ref ref;
  std::string room;
  std::vector<std::string> events;
  std::optional<std::uint64_t> next;  ///< the seq to continue after, when there is more
};
struct presence_reply {
  op_ref ref;
  std::string room;
  std::vector<presence_entry> users;
};
struct pong_reply {
  op_ref ref;
  std::string server_time;
};
struct authenticated_reply {
  op_ref ref;
  connection_info info;
};
struct auth_error_reply {
  op_ref ref;
  std::string code;  ///< empty: none (a refused token says only why)
  std::string message;
};
/// ERROR {code, message}. `op` and `room` name a subscription the server ended on its own
/// (re-authentication with fewer rights), which has no ref.
struct error_reply {
  op_ref ref;
  std::string code;
  std::string message;
  std::string op;
  std::string room;
};
/// A request that needs an identity from a client that has none yet; each door says how to
/// authenticate in its own terms.
struct not_authenticated_reply {
  op_ref ref;
};
/// The server's own state changed (with --broker: this node lost Redis, or has it again): told
/// to every connection when it changes, and to a new one while it is not ok.
struct server_status_reply {
  op_ref ref;  ///< always empty: nobody asked
  bool ok = true;
  std::string reason;  ///< why not ok
  std::string timestamp;
};

using hub_reply =
    std::variant<subscribed_reply, unsubscribed_reply, published_reply, typing_reply, history_reply,
                 presence_reply, pong_reply, authenticated_reply, auth_error_reply, error_reply,
                 not_authenticated_reply, server_status_reply>;

/// Visits a hub_reply (or a hub_operation) with one lambda per alternative:
/// `std::visit(overloaded{[](const pong_reply&) {…}, [](const auto&) {…}}, r)`.
template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

/// The ref a reply answers.
inline const op_ref& ref_of(const hub_reply& r) {
  return std::visit([](const auto& x) -> const op_ref& { return x.ref; }, r);
}

struct connection;

/// What a door supplies for each of its connections (room_hub::open): how replies become its
/// frames, which events it takes, and how its liveness is checked. Called on the service
/// thread.
struct door_codec {
  /// Appends the frames that carry `r` on `c` (none: the door drops it, as SSE does).
  std::function<void(const connection& c, const hub_reply& r, std::vector<frame_ptr>& out)> encode;
  /// Whether an event goes to this connection at all (SSE's ?types=); unset: every event its
  /// subscriptions match.
  std::function<bool(const shared_event&)> accepts;
  /// True: the door pings the peer (WebSocket, Engine.IO) and an unanswered ping closes the
  /// connection. False: it writes heartbeat comments instead (SSE).
  bool pings = true;
};

}  // namespace rtev::server_lite
