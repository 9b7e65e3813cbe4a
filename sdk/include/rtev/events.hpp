#pragma once
/// \file
/// The product catalog: one typed event per event type of the messenger, inbox and dashboard
/// systems rtev was built for, so an app can write `client.on<rtev::events::message_sent>(…)`.
/// Optional: rtev/client.hpp does not include it; an app that wants these types includes it.
/// Each is declared with the same macro an app uses for its own types (RTEV_TYPED_EVENT, in
/// rtev/typed_event.hpp), with its family instead of `custom`.
///
///   - messenger (snake_case on the wire): rtev::events::message_sent, …
///   - inbox (snake_case): rtev::events::inbox::new_message, inbox::message, inbox::error, …
///   - dashboard (UPPER_CASE on the wire): rtev::events::dashboard::message_sent is
///     "MESSAGE_SENT", …
/// Any other type ("content-created", "friend-request-received", …) is a custom event: handled
/// through the untyped rtev::event, or through the app's own RTEV_TYPED_EVENT struct. Type
/// names are case-sensitive. rtev::catalog() (rtev/catalog.hpp) lists these types only.
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
/// Field kinds (the `type` in rtev::catalog()) and their C++ types: as for RTEV_TYPED_EVENT
///   (string → std::string, timestamp → std::string, integer → std::int64_t, number → double,
///   boolean → bool, id → rtev::id_value, object / array / any → nlohmann::json, and
///   integer_map, an "object" of integers (inbox unreadCounts) → std::map<std::string,
///   std::int64_t>).
///
/// Adding a type: one RTEV_EVENT(...) below (RTEV_TYPED_EVENT with a family), plus its name
/// in rtev::events::all (a static_assert fails until it is there). The run-time catalog,
/// JSON conversion and traits all follow from that one declaration.
///
/// Thread safety: the structs are plain values (distinct objects: safe; shared objects: safe
/// for concurrent reads only); all functions here are safe to call from any thread.

#include <string_view>

#include "rtev/catalog.hpp"
#include "rtev/detail/event_fields.hpp"
#include "rtev/typed_event.hpp"

// The catalog's declaration: RTEV_TYPED_EVENT's expansion with the event's family. Undefined
// at the end of this header.
#define RTEV_EVENT(name_, wire_name_, family_, fields_) \
  RTEV_DETAIL_TYPED_EVENT(name_, wire_name_, family_, fields_)

namespace rtev::detail {
// Internal linkage on purpose: __COUNTER__ values differ between translation units; only
// the difference (the number of RTEV_EVENTs below) is used.
constexpr int events_counter_begin = __COUNTER__;
}  // namespace rtev::detail

// clang-format off
namespace rtev::events {

// ---------------------------------------------------------------------------------------------
// Messenger family: the social-media messenger's WebSocket events (snake_case). Its example
// shows message_id / conversation_id as integers and sender_id / receiver_id as strings.
// Required: the id of the event's subject where the source establishes it (message_id,
// conversation_id, user_id), typing_indicator's is_typing, and email_received's sender —
// everything else may be left out.
// ---------------------------------------------------------------------------------------------

/// "message_sent": a message left the user's account.
RTEV_EVENT(message_sent, "message_sent", messenger,
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
RTEV_EVENT(message_received, "message_received", messenger,
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
RTEV_EVENT(message_updated, "message_updated", messenger,
           (required, id,        message_id)
           (optional, id,        conversation_id)
           (optional, string,    message_text)
           (optional, string,    status)
           (optional, boolean,   is_read)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "message_deleted".
RTEV_EVENT(message_deleted, "message_deleted", messenger,
           (required, id,        message_id)
           (optional, id,        conversation_id)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "conversation_created".
RTEV_EVENT(conversation_created, "conversation_created", messenger,
           (required, id,        conversation_id)
           (optional, id,        contact_id)
           (optional, string,    contact_name)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "conversation_updated".
RTEV_EVENT(conversation_updated, "conversation_updated", messenger,
           (required, id,        conversation_id)
           (optional, string,    last_message)
           (optional, integer,   unread_count)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "user_online".
RTEV_EVENT(user_online, "user_online", messenger,
           (required, id,        user_id)
           (optional, string,    user_name)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "user_offline".
RTEV_EVENT(user_offline, "user_offline", messenger,
           (required, id,        user_id)
           (optional, string,    user_name)
           (optional, string,    platform)
           (optional, timestamp, last_seen)
           (optional, timestamp, timestamp));

/// "typing_indicator": `is_typing` true when the user starts typing, false when they stop.
RTEV_EVENT(typing_indicator, "typing_indicator", messenger,
           (required, id,        user_id)
           (required, boolean,   is_typing)
           (optional, string,    user_name)
           (optional, id,        conversation_id)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "contact_updated".
RTEV_EVENT(contact_updated, "contact_updated", messenger,
           (optional, id,        contact_id)
           (optional, string,    contact_name)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "account_connected": a platform account (WhatsApp, Telegram, …) was connected.
RTEV_EVENT(account_connected, "account_connected", messenger,
           (optional, id,        account_id)
           (optional, string,    account_name)
           (optional, string,    platform)
           (optional, timestamp, timestamp));

/// "account_disconnected": `reason` when the source gives one.
RTEV_EVENT(account_disconnected, "account_disconnected", messenger,
           (optional, id,        account_id)
           (optional, string,    account_name)
           (optional, string,    platform)
           (optional, string,    reason)
           (optional, timestamp, timestamp));

/// "email_received": `sender` is the From address; an email may have no subject.
RTEV_EVENT(email_received, "email_received", messenger,
           (required, string,    sender)
           (optional, string,    subject)
           (optional, id,        email_id)
           (optional, string,    recipient)
           (optional, string,    preview)
           (optional, timestamp, timestamp));

/// "email_sent".
RTEV_EVENT(email_sent, "email_sent", messenger,
           (optional, id,        email_id)
           (optional, string,    sender)
           (optional, string,    recipient)
           (optional, string,    subject)
           (optional, timestamp, timestamp));

/// "system_notification": `level` is e.g. "info", "warning", "error".
RTEV_EVENT(system_notification, "system_notification", messenger,
           (optional, string,    title)
           (optional, string,    message)
           (optional, string,    level)
           (optional, timestamp, timestamp));

}  // namespace rtev::events

// ---------------------------------------------------------------------------------------------
// Inbox family: the multi-platform inbox's Socket.IO events (whose TypeScript payload types
// give required/optional exactly) and the SSE app's events (notification, message,
// conversation_update, group_update: payloads not documented, so optional). camelCase keys.
// ---------------------------------------------------------------------------------------------
namespace rtev::events::inbox {

/// "new_message": `message` (and `conversation`) are the source's records, kept as JSON.
RTEV_EVENT(new_message, "new_message", inbox,
           (required, object,      message)
           (optional, object,      conversation)
           (required, timestamp,   timestamp));

/// "message_status_update": `status` is "read" or "delivered" (not enforced, for forward
/// compatibility).
RTEV_EVENT(message_status_update, "message_status_update", inbox,
           (required, id,          messageId)
           (required, id,          conversationId)
           (required, string,      status)
           (required, timestamp,   timestamp));

/// "unread_count_update": unread messages per platform and in total.
RTEV_EVENT(unread_count_update, "unread_count_update", inbox,
           (required, integer_map, unreadCounts)
           (required, integer,     totalUnread)
           (required, timestamp,   timestamp));

/// "conversation_update": the Socket.IO inbox sends {conversation, timestamp}; the SSE app
/// sends the same type name with its own payload, so both fields are optional.
RTEV_EVENT(conversation_update, "conversation_update", inbox,
           (optional, object,      conversation)
           (optional, timestamp,   timestamp));

/// "notification": the SSE app's notification record (friend requests, new messages, …).
RTEV_EVENT(notification, "notification", inbox,
           (optional, id,          id)
           (optional, id,          userId)
           (optional, string,      type)
           (optional, string,      title)
           (optional, string,      message)
           (optional, boolean,     read)
           (optional, timestamp,   createdAt));

/// "message": a new message in a conversation or a group, as {conversationId, message}.
RTEV_EVENT(message, "message", inbox,
           (required, object,      message)
           (optional, id,          conversationId)
           (optional, id,          groupId));

/// "group_update": the group list changed (for sidebars).
RTEV_EVENT(group_update, "group_update", inbox,
           (optional, id,          groupId)
           (optional, object,      group));

/// "error": an error the server reports on the stream (the connection stays open).
RTEV_EVENT(error, "error", inbox,
           (required, string,      error)
           (optional, string,      code)
           (required, timestamp,   timestamp));

}  // namespace rtev::events::inbox

// ---------------------------------------------------------------------------------------------
// Dashboard family: the admin dashboard's WebSocket rooms (UPPER_CASE). The source documents
// the types but not their payloads, so every field is optional; names follow the camelCase
// ids of its rooms (contactId, campaignId, leadId, userId).
// ---------------------------------------------------------------------------------------------
namespace rtev::events::dashboard {

/// "NOTIFICATION": `priority` is e.g. "low", "normal", "high", "urgent".
RTEV_EVENT(notification, "NOTIFICATION", dashboard,
           (optional, id,        id)
           (optional, id,        userId)
           (optional, string,    title)
           (optional, string,    message)
           (optional, string,    priority)
           (optional, timestamp, createdAt));

/// "MESSAGE_RECEIVED": a new message from a contact.
RTEV_EVENT(message_received, "MESSAGE_RECEIVED", dashboard,
           (optional, id,        messageId)
           (optional, id,        contactId)
           (optional, string,    contactName)
           (optional, string,    content)
           (optional, string,    platform)
           (optional, timestamp, createdAt));

/// "MESSAGE_SENT": a message sent to a contact (by `userId`).
RTEV_EVENT(message_sent, "MESSAGE_SENT", dashboard,
           (optional, id,        messageId)
           (optional, id,        contactId)
           (optional, id,        userId)
           (optional, string,    content)
           (optional, string,    platform)
           (optional, timestamp, createdAt));

/// "MESSAGE_STATUS_UPDATE": `status` is e.g. "sent", "delivered", "read", "failed".
RTEV_EVENT(message_status_update, "MESSAGE_STATUS_UPDATE", dashboard,
           (optional, id,        messageId)
           (optional, id,        contactId)
           (optional, string,    status));

/// "TYPING_START".
RTEV_EVENT(typing_start, "TYPING_START", dashboard,
           (optional, id,        contactId)
           (optional, id,        userId)
           (optional, string,    userName));

/// "TYPING_STOP".
RTEV_EVENT(typing_stop, "TYPING_STOP", dashboard,
           (optional, id,        contactId)
           (optional, id,        userId)
           (optional, string,    userName));

/// "CAMPAIGN_STARTED".
RTEV_EVENT(campaign_started, "CAMPAIGN_STARTED", dashboard,
           (optional, id,        campaignId)
           (optional, string,    name)
           (optional, integer,   totalRecipients)
           (optional, timestamp, startedAt));

/// "CAMPAIGN_PROGRESS": counts so far; `progress` in percent (0–100).
RTEV_EVENT(campaign_progress, "CAMPAIGN_PROGRESS", dashboard,
           (optional, id,        campaignId)
           (optional, integer,   totalRecipients)
           (optional, integer,   sentCount)
           (optional, integer,   deliveredCount)
           (optional, integer,   failedCount)
           (optional, number,    progress));

/// "CAMPAIGN_COMPLETED".
RTEV_EVENT(campaign_completed, "CAMPAIGN_COMPLETED", dashboard,
           (optional, id,        campaignId)
           (optional, string,    name)
           (optional, integer,   totalRecipients)
           (optional, integer,   sentCount)
           (optional, integer,   deliveredCount)
           (optional, integer,   failedCount)
           (optional, timestamp, completedAt));

/// "CAMPAIGN_FAILED".
RTEV_EVENT(campaign_failed, "CAMPAIGN_FAILED", dashboard,
           (optional, id,        campaignId)
           (optional, string,    name)
           (optional, string,    error)
           (optional, timestamp, failedAt));

/// "LEAD_CREATED".
RTEV_EVENT(lead_created, "LEAD_CREATED", dashboard,
           (optional, id,        leadId)
           (optional, id,        contactId)
           (optional, string,    name)
           (optional, string,    source)
           (optional, string,    status)
           (optional, id,        assignedTo));

/// "LEAD_UPDATED": `changes` holds the changed fields.
RTEV_EVENT(lead_updated, "LEAD_UPDATED", dashboard,
           (optional, id,        leadId)
           (optional, string,    status)
           (optional, object,    changes));

/// "LEAD_ASSIGNED".
RTEV_EVENT(lead_assigned, "LEAD_ASSIGNED", dashboard,
           (optional, id,        leadId)
           (optional, id,        assignedTo)
           (optional, id,        assignedBy));

/// "LEAD_CONVERTED": the lead became a customer.
RTEV_EVENT(lead_converted, "LEAD_CONVERTED", dashboard,
           (optional, id,        leadId)
           (optional, id,        contactId)
           (optional, timestamp, convertedAt));

/// "SYSTEM_ALERT": `severity` is e.g. "info", "warning", "error", "critical".
RTEV_EVENT(system_alert, "SYSTEM_ALERT", dashboard,
           (optional, string,    severity)
           (optional, string,    title)
           (optional, string,    message));

/// "STATS_UPDATE": live dashboard counters (other counters land in `extra`).
RTEV_EVENT(stats_update, "STATS_UPDATE", dashboard,
           (optional, integer,   totalContacts)
           (optional, integer,   totalMessages)
           (optional, integer,   totalLeads)
           (optional, integer,   activeCampaigns));

/// "CONTACT_UPDATED": `changes` holds the changed fields.
RTEV_EVENT(contact_updated, "CONTACT_UPDATED", dashboard,
           (optional, id,        contactId)
           (optional, string,    name)
           (optional, object,    changes));

}  // namespace rtev::events::dashboard
// clang-format on
#undef RTEV_EVENT

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
