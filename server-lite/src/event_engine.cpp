// event_engine.hpp's one free function: the envelope every engine stores and feeds.

#include "event_engine.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "reply_json.hpp"

namespace rtev::server_lite {

using json = nlohmann::json;

namespace {

// Appends `text` as a JSON string. Names (names.hpp), ids the server makes, RFC 3339 stamps and
// zone names are plain printable ASCII and go as they are; anything else is escaped by
// nlohmann's serializer.
void append_json_string(std::string& out, const std::string& text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u >= 0x20 && u < 0x7f && ch != '"' && ch != '\\';
  });
  if (!plain) {
    out += json_text(json(text));
    return;
  }
  out += '"';
  out += text;
  out += '"';
}

}  // namespace

// Written directly (no JSON tree): the keys in the order nlohmann writes an object's (sorted),
// so the bytes on the wire are what they were when it was built as a tree; `data` is the
// request's JSON text as the door serialised it.
std::string envelope_json(const new_event& e, std::uint64_t seq) {
  std::string out;
  out.reserve(e.data.size() + e.type.size() + e.room.size() + e.id.size() + e.stamp.size() +
              e.zone.size() + 96);
  out += "{\"data\":";
  out += e.data;
  out += ",\"id\":";
  append_json_string(out, e.id);
  if (!e.room.empty()) {
    out += ",\"room\":";
    append_json_string(out, e.room);
  }
  out += ",\"seq\":";
  out += std::to_string(seq);
  out += ",\"timestamp\":";
  append_json_string(out, e.stamp);
  out += ",\"timezone\":";
  append_json_string(out, e.zone);
  out += ",\"type\":";
  append_json_string(out, e.type);
  out += '}';
  return out;
}

std::shared_ptr<shared_event> stored_shared_event(const new_event& e, std::uint64_t seq) {
  auto ev = std::make_shared<shared_event>();
  ev->seq = seq;
  ev->json = envelope_json(e, seq);
  ev->type = e.type;
  ev->room = e.room;
  return ev;
}

}  // namespace rtev::server_lite
