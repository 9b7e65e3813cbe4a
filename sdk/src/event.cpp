#include "rtev/event.hpp"
#include "rtev/json.hpp"

#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>

namespace rtev {
namespace {

using json = nlohmann::json;

[[noreturn]] void expected(const char* field, const char* what, const json& got) {
  throw parse_error(std::string("event.") + field,
                    std::string("expected ") + what + ", got " + json_type_name(got));
}

const json* find(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string required_string(const json& j, const char* key, const char* what) {
  const json* v = find(j, key);
  if (!v) throw parse_error(std::string("event.") + key, "required field is missing");
  if (!v->is_string()) expected(key, what, *v);
  return v->get<std::string>();
}

}  // namespace

namespace {

// Random bytes for event ids, from OpenSSL's CSPRNG (seeded from the OS, reseeded after fork()
// by OpenSSL itself), drawn in blocks so an id costs a copy rather than a RAND_bytes call.
// A forked child must not reuse the block it inherited — parent and child would make the same
// ids, and the store drops the second of two events with one id as a duplicate — so a fork
// (pthread_atfork) starts a new generation and each thread's block is refilled when its
// generation is old.
std::atomic<std::uint64_t> fork_generation{0};

void random_bytes(unsigned char* out, std::size_t n) {
  static std::once_flag at_fork;
  std::call_once(at_fork,
                 [] { pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); }); });
  struct block {
    unsigned char bytes[1024];
    std::size_t used = sizeof bytes;  // empty
    std::uint64_t generation = 0;
  };
  thread_local block b;
  const std::uint64_t gen = fork_generation.load(std::memory_order_relaxed);
  if (b.generation != gen || b.used + n > sizeof b.bytes) {
    if (RAND_bytes(b.bytes, static_cast<int>(sizeof b.bytes)) != 1)
      throw error("cannot make an event id: OpenSSL's random generator failed");
    b.used = 0;
    b.generation = gen;
  }
  std::memcpy(out, b.bytes + b.used, n);
  b.used += n;
}

}  // namespace

std::string make_event_id() {
  // UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits from a
  // cryptographic source. Ids made close in time sort close together, so a store's unique
  // index on them grows at one end instead of touching a random page per insert; the random
  // bits keep them unique across threads, processes and machines without coordination.
  unsigned char r[10];
  random_bytes(r, sizeof r);
  std::uint64_t rand_a = 0, rand_b = 0;
  for (int i = 0; i < 2; ++i) rand_a = (rand_a << 8) | r[i];
  for (int i = 2; i < 10; ++i) rand_b = (rand_b << 8) | r[i];
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  const std::uint64_t a = (ms << 16) | 0x7000u | (rand_a & 0x0fffu);                  // version 7
  const std::uint64_t lo = (rand_b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::string json_type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "nothing";
  }
  return "unknown";
}

event event::make(std::string type, json data, std::string_view zone) {
  event e;
  e.type = std::move(type);
  e.timezone = std::string(zone);
  e.timestamp = time::format_rfc3339(time::now(), zone);
  e.data = std::move(data);
  return e;
}

event event::parse(std::string_view json_text) {
  std::string why;
  json j = rtev::parse_json(json_text, &why);
  if (j.is_discarded())
    throw parse_error("event", "expected a JSON object, got malformed JSON (" + why + ")");
  return from_json(j);
}

event event::from_json(const json& j) {
  if (!j.is_object()) throw parse_error("event", "expected an object, got " + json_type_name(j));
  event e;
  e.type = required_string(j, "type", "a string");
  if (e.type.empty()) throw parse_error("event.type", "expected a non-empty string");

  e.timezone = required_string(j, "timezone", "an IANA time zone string");
  try {
    time::validate_zone(e.timezone);
  } catch (const unknown_zone_error& err) {
    throw parse_error("event.timezone", err.what());
  }

  e.timestamp = required_string(j, "timestamp", "an RFC 3339 string");
  try {
    time::parse_rfc3339(e.timestamp, e.timezone);
  } catch (const parse_error& err) {
    throw parse_error("event.timestamp", err.what());
  }

  const json* data = find(j, "data");
  if (!data) throw parse_error("event.data", "required field is missing");
  e.data = *data;

  if (const json* id = find(j, "id"); id && !id->is_null()) {
    if (!id->is_string()) expected("id", "a string", *id);
    e.id = id->get<std::string>();
  }
  if (const json* seq = find(j, "seq"); seq && !seq->is_null()) {
    if (seq->is_number_unsigned())
      e.seq = seq->get<std::uint64_t>();
    else if (seq->is_number_integer() && seq->get<std::int64_t>() >= 0)
      e.seq = static_cast<std::uint64_t>(seq->get<std::int64_t>());
    else
      expected("seq", "a non-negative integer", *seq);
  }
  if (const json* room = find(j, "room"); room && !room->is_null()) {
    if (!room->is_string()) expected("room", "a string", *room);
    e.room = room->get<std::string>();
  }

  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "type" && k != "id" && k != "seq" && k != "room" && k != "timestamp" &&
        k != "timezone" && k != "data")
      e.extra[k] = it.value();
  }
  return e;
}

json event::to_json() const {
  json j = extra.is_object() ? extra : json::object();
  j["type"] = type;
  if (id) j["id"] = *id;
  if (seq) j["seq"] = *seq;
  if (room) j["room"] = *room;
  j["timestamp"] = timestamp;
  j["timezone"] = timezone;
  j["data"] = data;
  return j;
}

std::string event::dump() const {
  return to_json().dump();
}

rtev::timestamp event::time() const {
  try {
    return time::parse_rfc3339(timestamp, timezone);
  } catch (const parse_error& err) {
    throw parse_error("event.timestamp", err.what());
  }
}

}  // namespace rtev
