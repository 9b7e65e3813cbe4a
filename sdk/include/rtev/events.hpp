#pragma once
/// \file
/// The typed event catalog: one struct per known event type, so the SDK can offer
/// `client.on<rtev::events::message_sent>(…)`.
///
///   - messenger (snake_case on the wire): rtev::events::message_sent, …
///   - inbox (snake_case): rtev::events::inbox::new_message, inbox::message, inbox::error, …
///   - dashboard (UPPER_CASE on the wire): rtev::events::dashboard::message_sent is
///     "MESSAGE_SENT", …
/// Any other type ("content-created", "friend-request-received", …) is a custom event, handled
/// through the untyped rtev::event only. Type names are case-sensitive.
///
/// Conventions, the same for every struct:
///   - One member per data field, named exactly as its JSON key (so inbox and dashboard
///     members are camelCase: `messageId`, `unreadCounts`). Required fields are plain values;
///     fields the source systems may leave out are std::optional.
///   - Identifiers are rtev::id_value: the sources send ids as integers (`"message_id": 1`) or
///     strings (`"sender_id": "user123"`), and an id_value keeps whichever it got.
///   - Timestamps inside data are std::string holding the RFC 3339 text as sent
///     (`"2024-01-15T10:30:45.123456"`, `"2024-01-01T00:00:00.000Z"`), not validated on
///     decode; rtev::time::parse_rfc3339 turns one into an instant. The envelope's own
///     timestamp and zone are rtev::event::timestamp / timezone.
///   - Nested records rtev does not model (inbox `message`, `conversation`) are nlohmann::json.
///   - `extra` keeps every data field the struct does not model, plus explicit nulls of
///     optional fields; to_json writes it back, so decode then encode gives the same JSON.
///   - to_json(nlohmann::json&, const T&) / from_json(const nlohmann::json&, T&) are found by
///     ADL (so `nlohmann::json j = e;` and `j.get<T>()` work); rtev::decode<T> and
///     rtev::encode name the intent. Errors are rtev::parse_error with the field path.
///
/// Field kinds (the `type` in rtev::catalog()) and their C++ types:
///   string → std::string, timestamp → std::string, integer → std::int64_t, number → double,
///   boolean → bool, id → rtev::id_value, object / array / any → nlohmann::json, and
///   "object" of integers (inbox unreadCounts) → std::map<std::string, std::int64_t>.
///
/// Adding a type: one RTEV_EVENT(...) below (see rtev/detail/event_macro.hpp), plus its name
/// in rtev::events::all (a static_assert fails until it is there). The run-time catalog,
/// JSON conversion and traits all follow from that one declaration.
///
/// Thread safety: the structs are plain values (distinct objects: safe; shared objects: safe
/// for concurrent reads only); all functions here are safe to call from any thread.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "rtev/catalog.hpp"
#include "rtev/detail/event_fields.hpp"
#include "rtev/detail/event_macro.hpp"
#include "rtev/error.hpp"

namespace rtev {

/// An identifier as the sources send it: an integer (`1`) or a string (`"user123"`).
/// It keeps which one it got, so its JSON form round-trips exactly; `1` and `"1"` are
/// different ids (compare to_string() values to match across sources). Ordered (integers
/// before strings) and hashable, for use as a map key. A default id_value is the integer 0.
///
/// Thread safety: a plain value (distinct objects: safe; shared objects: concurrent reads).
class id_value {
 public:
  id_value() = default;
  // Implicit on purpose, so `e.message_id = 42;` and `e.sender_id = "user123";` just work.
  /// From any integer type; an unsigned value above INT64_MAX throws rtev::error.
  template <class Int,
            std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  id_value(Int i) : integer_(checked_integer(i)) {}
  id_value(std::string s) : is_string_(true), string_(std::move(s)) {}
  id_value(const char* s) : is_string_(true), string_(s) {}
  id_value(bool) = delete;  ///< `true` is not an id

  bool is_integer() const noexcept { return !is_string_; }
  bool is_string() const noexcept { return is_string_; }
  /// The integer; throws rtev::error when the id is a string.
  std::int64_t as_integer() const;
  /// The string; throws rtev::error when the id is an integer (use rtev::to_string to convert).
  const std::string& as_string() const;

  friend bool operator==(const id_value& a, const id_value& b) {
    return a.is_string_ == b.is_string_ &&
           (a.is_string_ ? a.string_ == b.string_ : a.integer_ == b.integer_);
  }
  friend bool operator!=(const id_value& a, const id_value& b) { return !(a == b); }
  friend bool operator<(const id_value& a, const id_value& b) {
    if (a.is_string_ != b.is_string_) return b.is_string_;
    return a.is_string_ ? a.string_ < b.string_ : a.integer_ < b.integer_;
  }
  friend bool operator>(const id_value& a, const id_value& b) { return b < a; }
  friend bool operator<=(const id_value& a, const id_value& b) { return !(b < a); }
  friend bool operator>=(const id_value& a, const id_value& b) { return !(a < b); }

  /// JSON integer or string; from_json throws parse_error (empty path) for anything else:
  /// "expected an id (integer or string), got boolean".
  friend void to_json(nlohmann::json& j, const id_value& v);
  friend void from_json(const nlohmann::json& j, id_value& v);

  /// Writes to_string(v) (for logs and test output).
  friend std::ostream& operator<<(std::ostream& os, const id_value& v);

  /// A hash of the value, for std::hash<rtev::id_value>.
  std::size_t hash() const noexcept {
    return is_string_ ? std::hash<std::string>{}(string_) : ~std::hash<std::int64_t>{}(integer_);
  }

 private:
  template <class Int>
  static std::int64_t checked_integer(Int i) {
    if constexpr (std::is_unsigned_v<Int> && sizeof(Int) >= sizeof(std::int64_t)) {
      if (i > static_cast<Int>(std::numeric_limits<std::int64_t>::max())) {
        throw_out_of_range(static_cast<std::uint64_t>(i));
      }
    }
    return static_cast<std::int64_t>(i);
  }
  [[noreturn]] static void throw_out_of_range(std::uint64_t i);

  // Two plain members rather than std::variant: GCC 12 reports false -Wmaybe-uninitialized
  // warnings for variant<int64_t, string> comparisons in optimised sanitizer builds.
  bool is_string_ = false;
  std::int64_t integer_ = 0;  ///< the id when !is_string_
  std::string string_;        ///< the id when is_string_
};

/// The id as text: `1` → "1", `"user123"` → "user123".
std::string to_string(const id_value& v);

/// True for the structs of rtev::events (unqualified types only): event_traits<T> gives
/// `name` and `family`, and T has its field list and `extra`. Use in static_assert.
template <class T, class = void>
struct is_catalog_event : std::false_type {};
template <class T>
struct is_catalog_event<
    T, std::void_t<decltype(event_traits<T>::name), decltype(event_traits<T>::family),
                   decltype(T::rtev_visit_fields(detail::ignore_fields{})),
                   decltype(std::declval<T&>().extra)>> : std::true_type {};
template <class T>
inline constexpr bool is_catalog_event_v = is_catalog_event<T>::value;

/// The typed form of an event's `data`. Throws parse_error naming the field:
///   "data: expected an object, got array"
///   "data.user_id: required field is missing"
///   "data.message_id: expected an id (integer or string), got boolean"
/// Unknown fields land in `extra`.
template <class T>
T decode(const nlohmann::json& data) {
  static_assert(is_catalog_event_v<T>, "rtev::decode<T>: T must be an event from rtev/events.hpp");
  T out;
  detail::read_fields(data, out);
  return out;
}

/// The `data` object for a typed event: `extra` overlaid with every set field (a field wins
/// over an `extra` entry with the same key).
/// Throws rtev::error when `extra` is neither an object nor null.
template <class T>
nlohmann::json encode(const T& e) {
  static_assert(is_catalog_event_v<T>, "rtev::encode(e): e must be an event from rtev/events.hpp");
  nlohmann::json data;
  detail::write_event(data, e);
  return data;
}

}  // namespace rtev

namespace std {
template <>
struct hash<rtev::id_value> {
  std::size_t operator()(const rtev::id_value& v) const noexcept { return v.hash(); }
};
}  // namespace std

namespace rtev::detail {
// Internal linkage on purpose: __COUNTER__ values differ between translation units; only
// the difference (the number of RTEV_EVENTs below) is used.
constexpr int events_counter_begin = __COUNTER__;
}  // namespace rtev::detail

// clang-format off
namespace rtev {

// ---------------------------------------------------------------------------------------------
// Messenger family: the social-media messenger's WebSocket events (snake_case). Its example
// shows message_id / conversation_id as integers and sender_id / receiver_id as strings.
// Required: the id of the event's subject where the source establishes it (message_id,
// conversation_id, user_id), typing_indicator's is_typing, and email_received's sender —
// everything else may be left out.
// ---------------------------------------------------------------------------------------------

/// "message_sent": a message left the user's account.
RTEV_EVENT(events, message_sent, "message_sent", messenger,
           (required, id,        message_id)
           (required, id,        conversation_id)
           (optional, id,        sender_id)
           (optional, string,    sender_name)
           (optional, id,        receiver_id)
           (optional, string,    receiver_name)
           (optional, string,    message_text)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "message_received": a new message arrived (same fields as message_sent).
RTEV_EVENT(events, message_received, "message_received", messenger,
           (required, id,        message_id)
           (required, id,        conversation_id)
           (optional, id,        sender_id)
           (optional, string,    sender_name)
           (optional, id,        receiver_id)
           (optional, string,    receiver_name)
           (optional, string,    message_text)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "message_updated": a message changed (edited, marked as read, …); fields that did not
/// change may be absent.
RTEV_EVENT(events, message_updated, "message_updated", messenger,
           (required, id,        message_id)
           (optional, id,        conversation_id)
           (optional, string,    message_text)
           (optional, string,    status)
           (optional, boolean,   is_read)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "message_deleted".
RTEV_EVENT(events, message_deleted, "message_deleted", messenger,
           (required, id,        message_id)
           (optional, id,        conversation_id)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "conversation_created".
RTEV_EVENT(events, conversation_created, "conversation_created", messenger,
           (required, id,        conversation_id)
           (optional, id,        contact_id)
           (optional, string,    contact_name)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "conversation_updated".
RTEV_EVENT(events, conversation_updated, "conversation_updated", messenger,
           (required, id,        conversation_id)
           (optional, string,    last_message)
           (optional, integer,   unread_count)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "user_online".
RTEV_EVENT(events, user_online, "user_online", messenger,
           (required, id,        user_id)
           (optional, string,    user_name)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "user_offline".
RTEV_EVENT(events, user_offline, "user_offline", messenger,
           (required, id,        user_id)
           (optional, string,    user_name)
           (optional, string,    platform)
           (optional, timestamp, last_seen)
           (optional, timestamp, timestamp));

/// "typing_indicator": `is_typing` true when the user starts typing, false when they stop.
RTEV_EVENT(events, typing_indicator, "typing_indicator", messenger,
           (required, id,        user_id)
           (required, boolean,   is_typing)
           (optional, string,    user_name)
           (optional, id,        conversation_id)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "contact_updated".
RTEV_EVENT(events, contact_updated, "contact_updated", messenger,
           (optional, id,        contact_id)
           (optional, string,    contact_name)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "account_connected": a platform account (WhatsApp, Telegram, …) was connected.
RTEV_EVENT(events, account_connected, "account_connected", messenger,
           (optional, id,        account_id)
           (optional, string,    account_name)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "account_disconnected": `reason` when the source gives one.
RTEV_EVENT(events, account_disconnected, "account_disconnected", messenger,
           (optional, id,        account_id)
           (optional, string,    account_name)
           (optional, string,    platform)
           (optional, string,    reason)
           (optional, timestamp, timestamp));

/// "email_received": `sender` is the From address; an email may have no subject.
RTEV_EVENT(events, email_received, "email_received", messenger,
           (required, string,    sender)
           (optional, string,    subject)
           (optional, id,        email_id)
           (optional, string,    recipient)
           (optional, string,    preview)
           (optional, timestamp, timestamp));

/// "email_sent".
RTEV_EVENT(events, email_sent, "email_sent", messenger,
           (optional, id,        email_id)
           (optional, string,    sender)
           (optional, string,    recipient)
           (optional, string,    subject)
           (optional, timestamp, timestamp));

/// "system_notification": `level` is e.g. "info", "warning", "error".
RTEV_EVENT(events, system_notification, "system_notification", messenger,
           (optional, string,    title)
           (optional, string,    message)
           (optional, string,    level)
           (optional, timestamp, timestamp));

// ---------------------------------------------------------------------------------------------
// Inbox family: the multi-platform inbox's Socket.IO events (whose TypeScript payload types
// give required/optional exactly) and the SSE app's events (notification, message,
// conversation_update, group_update: payloads not documented, so optional). camelCase keys.
// ---------------------------------------------------------------------------------------------

/// "new_message": `message` (and `conversation`) are the source's records, kept as JSON.
RTEV_EVENT(events::inbox, new_message, "new_message", inbox,
           (required, object,      message)
           (optional, object,      conversation)
           (required, timestamp,   timestamp));

/// "message_status_update": `status` is "read" or "delivered" (not enforced, for forward
/// compatibility).
RTEV_EVENT(events::inbox, message_status_update, "message_status_update", inbox,
           (required, id,          messageId)
           (required, id,          conversationId)
           (required, string,      status)
           (required, timestamp,   timestamp));

/// "unread_count_update": unread messages per platform and in total.
RTEV_EVENT(events::inbox, unread_count_update, "unread_count_update", inbox,
           (required, integer_map, unreadCounts)
           (required, integer,     totalUnread)
           (required, timestamp,   timestamp));

/// "conversation_update": the Socket.IO inbox sends {conversation, timestamp}; the SSE app
/// sends the same type name with its own payload, so both fields are optional.
RTEV_EVENT(events::inbox, conversation_update, "conversation_update", inbox,
           (optional, object,      conversation)
           (optional, timestamp,   timestamp));

/// "notification": the SSE app's notification record (friend requests, new messages, …).
RTEV_EVENT(events::inbox, notification, "notification", inbox,
           (optional, id,          id)
           (optional, id,          userId)
           (optional, string,      type)
           (optional, string,      title)
           (optional, string,      message)
           (optional, boolean,     read)
           (optional, timestamp,   createdAt));

/// "message": a new message in a conversation or a group, as {conversationId, message}.
RTEV_EVENT(events::inbox, message, "message", inbox,
           (required, object,      message)
           (optional, id,          conversationId)
           (optional, id,          groupId));

/// "group_update": the group list changed (for sidebars).
RTEV_EVENT(events::inbox, group_update, "group_update", inbox,
           (optional, id,          groupId)
           (optional, object,      group));

/// "error": an error the server reports on the stream (the connection stays open).
RTEV_EVENT(events::inbox, error, "error", inbox,
           (required, string,      error)
           (optional, string,      code)
           (required, timestamp,   timestamp));

// ---------------------------------------------------------------------------------------------
// Dashboard family: the admin dashboard's WebSocket rooms (UPPER_CASE). The source documents
// the types but not their payloads, so every field is optional; names follow the camelCase
// ids of its rooms (contactId, campaignId, leadId, userId).
// ---------------------------------------------------------------------------------------------

/// "NOTIFICATION": `priority` is e.g. "low", "normal", "high", "urgent".
RTEV_EVENT(events::dashboard, notification, "NOTIFICATION", dashboard,
           (optional, id,        id)
           (optional, id,        userId)
           (optional, string,    title)
           (optional, string,    message)
           (optional, string,    priority)
           (optional, timestamp, createdAt));

/// "MESSAGE_RECEIVED": a new message from a contact.
RTEV_EVENT(events::dashboard, message_received, "MESSAGE_RECEIVED", dashboard,
           (optional, id,        messageId)
           (optional, id,        contactId)
           (optional, string,    contactName)
           (optional, string,    content)
           (optional, string,    platform)
           (optional, timestamp, createdAt));

/// "MESSAGE_SENT": a message sent to a contact (by `userId`).
RTEV_EVENT(events::dashboard, message_sent, "MESSAGE_SENT", dashboard,
           (optional, id,        messageId)
           (optional, id,        contactId)
           (optional, id,        userId)
           (optional, string,    content)
           (optional, string,    platform)
           (optional, timestamp, createdAt));

/// "MESSAGE_STATUS_UPDATE": `status` is e.g. "sent", "delivered", "read", "failed".
RTEV_EVENT(events::dashboard, message_status_update, "MESSAGE_STATUS_UPDATE", dashboard,
           (optional, id,        messageId)
           (optional, id,        contactId)
           (optional, string,    status));

/// "TYPING_START".
RTEV_EVENT(events::dashboard, typing_start, "TYPING_START", dashboard,
           (optional, id,        contactId)
           (optional, id,        userId)
           (optional, string,    userName));

/// "TYPING_STOP".
RTEV_EVENT(events::dashboard, typing_stop, "TYPING_STOP", dashboard,
           (optional, id,        contactId)
           (optional, id,        userId)
           (optional, string,    userName));

/// "CAMPAIGN_STARTED".
RTEV_EVENT(events::dashboard, campaign_started, "CAMPAIGN_STARTED", dashboard,
           (optional, id,        campaignId)
           (optional, string,    name)
           (optional, integer,   totalRecipients)
           (optional, timestamp, startedAt));

/// "CAMPAIGN_PROGRESS": counts so far; `progress` in percent (0–100).
RTEV_EVENT(events::dashboard, campaign_progress, "CAMPAIGN_PROGRESS", dashboard,
           (optional, id,        campaignId)
           (optional, integer,   totalRecipients)
           (optional, integer,   sentCount)
           (optional, integer,   deliveredCount)
           (optional, integer,   failedCount)
           (optional, number,    progress));

/// "CAMPAIGN_COMPLETED".
RTEV_EVENT(events::dashboard, campaign_completed, "CAMPAIGN_COMPLETED", dashboard,
           (optional, id,        campaignId)
           (optional, string,    name)
           (optional, integer,   totalRecipients)
           (optional, integer,   sentCount)
           (optional, integer,   deliveredCount)
           (optional, integer,   failedCount)
           (optional, timestamp, completedAt));

/// "CAMPAIGN_FAILED".
RTEV_EVENT(events::dashboard, campaign_failed, "CAMPAIGN_FAILED", dashboard,
           (optional, id,        campaignId)
           (optional, string,    name)
           (optional, string,    error)
           (optional, timestamp, failedAt));

/// "LEAD_CREATED".
RTEV_EVENT(events::dashboard, lead_created, "LEAD_CREATED", dashboard,
           (optional, id,        leadId)
           (optional, id,        contactId)
           (optional, string,    name)
           (optional, string,    source)
           (optional, string,    status)
           (optional, id,        assignedTo));

/// "LEAD_UPDATED": `changes` holds the changed fields.
RTEV_EVENT(events::dashboard, lead_updated, "LEAD_UPDATED", dashboard,
           (optional, id,        leadId)
           (optional, string,    status)
           (optional, object,    changes));

/// "LEAD_ASSIGNED".
RTEV_EVENT(events::dashboard, lead_assigned, "LEAD_ASSIGNED", dashboard,
           (optional, id,        leadId)
           (optional, id,        assignedTo)
           (optional, id,        assignedBy));

/// "LEAD_CONVERTED": the lead became a customer.
RTEV_EVENT(events::dashboard, lead_converted, "LEAD_CONVERTED", dashboard,
           (optional, id,        leadId)
           (optional, id,        contactId)
           (optional, timestamp, convertedAt));

/// "SYSTEM_ALERT": `severity` is e.g. "info", "warning", "error", "critical".
RTEV_EVENT(events::dashboard, system_alert, "SYSTEM_ALERT", dashboard,
           (optional, string,    severity)
           (optional, string,    title)
           (optional, string,    message));

/// "STATS_UPDATE": live dashboard counters (other counters land in `extra`).
RTEV_EVENT(events::dashboard, stats_update, "STATS_UPDATE", dashboard,
           (optional, integer,   totalContacts)
           (optional, integer,   totalMessages)
           (optional, integer,   totalLeads)
           (optional, integer,   activeCampaigns));

/// "CONTACT_UPDATED": `changes` holds the changed fields.
RTEV_EVENT(events::dashboard, contact_updated, "CONTACT_UPDATED", dashboard,
           (optional, id,        contactId)
           (optional, string,    name)
           (optional, object,    changes));

}  // namespace rtev
// clang-format on

namespace rtev::events {

/// Every catalog event type, grouped by family; rtev::catalog() lists them in this order.
using all = detail::type_list<
    // messenger
    message_sent, message_received, message_updated, message_deleted, conversation_created,
    conversation_updated, user_online, user_offline, typing_indicator, contact_updated,
    account_connected, account_disconnected, email_received, email_sent, system_notification,
    // inbox
    inbox::new_message, inbox::message_status_update, inbox::unread_count_update,
    inbox::conversation_update, inbox::notification, inbox::message, inbox::group_update,
    inbox::error,
    // dashboard
    dashboard::notification, dashboard::message_received, dashboard::message_sent,
    dashboard::message_status_update, dashboard::typing_start, dashboard::typing_stop,
    dashboard::campaign_started, dashboard::campaign_progress, dashboard::campaign_completed,
    dashboard::campaign_failed, dashboard::lead_created, dashboard::lead_updated,
    dashboard::lead_assigned, dashboard::lead_converted, dashboard::system_alert,
    dashboard::stats_update, dashboard::contact_updated>;

static_assert(all::size == __COUNTER__ - detail::events_counter_begin - 1,
              "rtev::events::all must list every RTEV_EVENT declared above");
static_assert(detail::all_distinct(all{}), "rtev::events::all lists a type twice");

}  // namespace rtev::events
