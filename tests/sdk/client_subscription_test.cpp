// rtev::client subscriptions against the real server (rtev::server in-process): typed
// handlers from the catalog and for the app's own RTEV_TYPED_EVENT types, by name and by glob,
// subscription handles (reset, destroy, unsubscribe from inside a handler), handler exceptions and
// payloads that do not decode.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rtev/client.hpp"
#include "rtev/events.hpp"
#include "tests/sdk/client_recorder.hpp"
#include "tests/support/local_server.hpp"
#include "tests/support/rtev_client.hpp"

using namespace std::chrono_literals;
using rtev::client_state;
using rtev::test::default_timeout;
using rtev::test::millis;
using json = nlohmann::json;
using rtev::test::recorder;

// An app's own typed event, outside namespace rtev.
namespace shop {
// clang-format off
RTEV_TYPED_EVENT(invoice_paid, "invoice_paid",
                 (required, number, amount)
                 (required, string, currency)
                 (optional, id,     customer_id));
// clang-format on
}  // namespace shop

namespace {

std::vector<std::string> types_of(const std::vector<rtev::event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type);
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A server, one client joined to room "r", and an HTTP publisher. The last event of every
// step is a "sentinel" the `all` recorder (registered last, so it runs after every other
// handler of that event) waits for: once it has it, every handler has seen everything before.
struct fixture {
  rtev::test::local_server srv;
  recorder<rtev::event> all;
  recorder<rtev::client_error> errors;
  std::optional<rtev::client> c;

  fixture() {
    rtev::client_options opt;
    opt.url = srv.get().url();
    opt.rooms = {"r"};
    c.emplace(opt);
    c->on_error([this](const rtev::client_error& e) { errors.add(e); });
  }
  ~fixture() { c.reset(); }  // stop the client before the recorders go

  // Registers the `all` recorder (after the test's own handlers) and connects.
  rtev::subscription start() {
    auto s = c->on("*", [this](const rtev::event& e) { all.add(e); });
    c->start();
    REQUIRE(c->connected().wait_for(default_timeout) == std::future_status::ready);
    c->ping().get();  // the room subscription is in place
    return s;
  }

  std::uint64_t publish(const std::string& type, json data) {
    return rtev::test::publish_http(srv.port(), {{"room", "r"}, {"type", type}, {"data", data}})
        .at("seq")
        .get<std::uint64_t>();
  }
  // Publishes a sentinel and waits until every handler has seen it.
  void settle() {
    const auto seq = publish("sentinel", json::object());
    REQUIRE(all.wait([seq](const auto& v) { return !v.empty() && v.back().seq == seq; }));
  }
};

const json hello = {{"message_id", 1},          {"conversation_id", 7},
                    {"sender_id", "user123"},   {"sender_name", "John Doe"},
                    {"message_text", "Hello!"}, {"platform", "whatsapp"}};

}  // namespace

TEST_CASE("client_delivers_typed_events_from_the_catalog", "[sdk][client][subscribe]") {
  recorder<rtev::events::message_sent> typed;
  recorder<rtev::event> envelopes;
  fixture f;  // after the recorders: the client stops before they go
  auto sub = f.c->on<rtev::events::message_sent>(
      [&](const rtev::events::message_sent& m, const rtev::event& e) {
        typed.add(m);
        envelopes.add(e);
      });
  auto all = f.start();
  const auto seq = f.publish("message_sent", hello);
  f.publish("message_updated", {{"message_id", 1}});  // another type: not for this handler
  f.settle();

  REQUIRE(typed.size() == 1);
  const auto m = typed.values().front();
  CHECK(m.message_id == rtev::id_value(1));
  CHECK(m.conversation_id == rtev::id_value(7));
  CHECK(m.sender_id == std::optional<rtev::id_value>("user123"));
  CHECK(m.message_text == std::optional<std::string>("Hello!"));
  CHECK_FALSE(m.receiver_id.has_value());
  const auto e = envelopes.values().front();
  CHECK(e.type == "message_sent");
  CHECK(e.seq == seq);
  CHECK(e.room == std::optional<std::string>("r"));
  CHECK(f.errors.size() == 0);
}

TEST_CASE("client_delivers_events_by_name_and_by_glob", "[sdk][client][subscribe]") {
  recorder<rtev::event> custom, messages, everything, upper;
  fixture f;
  auto s1 = f.c->on("content-created", [&](const rtev::event& e) { custom.add(e); });
  auto s2 = f.c->on("message_*", [&](const rtev::event& e) { messages.add(e); });
  auto s3 = f.c->on("*", [&](const rtev::event& e) { everything.add(e); });
  auto s4 = f.c->on("MESSAGE_*", [&](const rtev::event& e) { upper.add(e); });
  auto all = f.start();
  f.publish("content-created", {{"id", 5}});
  f.publish("message_sent", hello);
  f.publish("message_deleted", {{"message_id", 1}});
  f.publish("MESSAGE_SENT", {{"content", "x"}});
  f.publish("conversation_created", {{"conversation_id", 1}});
  f.settle();

  SECTION("a custom type by its exact name") {
    CHECK(types_of(custom.values()) == std::vector<std::string>{"content-created"});
    CHECK(custom.values().front().data == json{{"id", 5}});
  }
  SECTION("\"message_*\" matches the messenger message types only (names are case-sensitive)") {
    CHECK(types_of(messages.values()) ==
          std::vector<std::string>{"message_sent", "message_deleted"});
    CHECK(types_of(upper.values()) == std::vector<std::string>{"MESSAGE_SENT"});
  }
  SECTION("\"*\" matches every type, in order") {
    CHECK(types_of(everything.values()) ==
          std::vector<std::string>{"content-created", "message_sent", "message_deleted",
                                   "MESSAGE_SENT", "conversation_created", "sentinel"});
  }
}

TEST_CASE("client_subscription_handles_unsubscribe", "[sdk][client][subscribe]") {
  std::atomic<int> calls{0};
  fixture f;

  SECTION("unsubscribe() from inside the handler: it is not called again") {
    std::mutex m;  // guards self (assigned here, used by the handler on the service thread)
    rtev::subscription self;
    {
      std::lock_guard<std::mutex> lock(m);
      self = f.c->on("note", [&](const rtev::event&) {
        ++calls;
        std::lock_guard<std::mutex> inner(m);
        self.unsubscribe();
      });
    }
    auto all = f.start();
    for (int i = 0; i < 3; ++i) f.publish("note", {{"i", i}});
    f.settle();
    CHECK(calls == 1);
    std::lock_guard<std::mutex> lock(m);
    CHECK_FALSE(self.active());
  }
  SECTION("reset() from inside the handler, on a typed subscription") {
    std::mutex m;  // guards self
    rtev::subscription self;
    {
      std::lock_guard<std::mutex> lock(m);
      self = f.c->on<rtev::events::message_sent>(
          [&](const rtev::events::message_sent&, const rtev::event&) {
            ++calls;
            std::lock_guard<std::mutex> inner(m);
            self.reset();
          });
    }
    auto all = f.start();
    for (int i = 0; i < 3; ++i) f.publish("message_sent", hello);
    f.settle();
    CHECK(calls == 1);
  }
  SECTION("one handler unsubscribing another mid-dispatch") {
    std::mutex m;  // guards victim
    rtev::subscription victim;
    auto killer = f.c->on("note", [&](const rtev::event&) {
      std::lock_guard<std::mutex> lock(m);
      victim.unsubscribe();
    });
    {
      std::lock_guard<std::mutex> lock(m);
      victim = f.c->on("note", [&](const rtev::event&) { ++calls; });
    }
    auto all = f.start();
    for (int i = 0; i < 3; ++i) f.publish("note", {{"i", i}});
    f.settle();
    CHECK(calls <= 1);  // at most the event being dispatched when it went
    CHECK(f.all.size() == 4);
  }
  SECTION("a handle destroyed, reset or moved-from on another thread stops its handler") {
    std::atomic<int> kept{0};
    auto destroyed =
        std::make_unique<rtev::subscription>(f.c->on("note", [&](const rtev::event&) { ++calls; }));
    auto reset = f.c->on("note", [&](const rtev::event&) { ++calls; });
    auto moved_from = f.c->on("note", [&](const rtev::event&) { ++kept; });
    auto all = f.start();
    f.publish("note", {{"i", 0}});
    f.settle();
    CHECK(calls == 2);
    CHECK(kept == 1);
    destroyed.reset();
    reset.reset();
    CHECK_FALSE(reset.active());
    rtev::subscription moved_to = std::move(moved_from);
    CHECK_FALSE(moved_from.active());
    CHECK(moved_to.active());
    f.publish("note", {{"i", 1}});
    f.settle();
    CHECK(calls == 2);
    CHECK(kept == 2);  // a move transfers the registration; it does not end it
  }
  SECTION("a handle that outlives its client is harmless") {
    auto late = f.c->on("note", [&](const rtev::event&) { ++calls; });
    auto all = f.start();
    f.c.reset();
    CHECK_FALSE(late.active());
    late.unsubscribe();
  }
}

TEST_CASE("client_reports_handler_exceptions_and_keeps_running", "[sdk][client][subscribe]") {
  recorder<rtev::event> after;
  fixture f;
  auto thrower = f.c->on("note", [](const rtev::event& e) {
    if (e.data.at("kind") == "std") throw std::runtime_error("boom from a handler");
    throw 42;
  });
  auto bystander = f.c->on("note", [&](const rtev::event& e) { after.add(e); });
  auto state_thrower = f.c->on_state(
      [](const rtev::state_info&) { throw std::logic_error("boom from a state handler"); });
  auto all = f.start();
  f.publish("note", {{"kind", "std"}});
  f.publish("note", {{"kind", "int"}});
  f.settle();

  CHECK(after.size() == 2);  // the other handler still got both events
  const auto errors = f.errors.values();
  std::vector<rtev::client_error> from_events;
  for (const auto& e : errors)
    if (e.ev) from_events.push_back(e);
  REQUIRE(from_events.size() == 2);
  CHECK(from_events[0].what == rtev::client_error::kind::handler);
  CHECK(contains(from_events[0].message, "boom from a handler"));
  CHECK(from_events[0].ev->data == json{{"kind", "std"}});
  CHECK(from_events[1].what == rtev::client_error::kind::handler);
  CHECK(from_events[1].ev->data == json{{"kind", "int"}});
  // The state handler's exception (on connecting, connected) was reported too.
  CHECK(std::any_of(errors.begin(), errors.end(), [](const rtev::client_error& e) {
    return e.what == rtev::client_error::kind::handler &&
           contains(e.message, "boom from a state handler");
  }));
  // And the client is still connected and working.
  CHECK(f.c->state() == client_state::connected);
  CHECK_NOTHROW(f.c->ping().get());
  const auto seq = f.publish("note", {{"kind", "std"}});
  CHECK(after.wait([seq](const auto& v) { return v.back().seq == seq; }));
}

TEST_CASE("client_reports_a_payload_that_does_not_match_its_typed_struct",
          "[sdk][client][subscribe]") {
  recorder<rtev::events::message_sent> typed;
  recorder<rtev::event> by_name;
  fixture f;
  auto s1 = f.c->on<rtev::events::message_sent>(
      [&](const rtev::events::message_sent& m, const rtev::event&) { typed.add(m); });
  auto s2 = f.c->on("message_sent", [&](const rtev::event& e) { by_name.add(e); });
  auto all = f.start();

  std::string field;
  json bad;
  SECTION("a field of the wrong type") {
    bad = {{"message_id", true}, {"conversation_id", 7}};
    field = "data.message_id";
  }
  SECTION("a required field missing") {
    bad = {{"message_id", 1}};
    field = "data.conversation_id";
  }
  SECTION("data that is not an object") {
    bad = json::array({1, 2});
    field = "data";
  }
  const auto bad_seq = f.publish("message_sent", bad);
  const auto good_seq = f.publish("message_sent", hello);
  f.settle();

  // The typed handler got only the good one; the others got both.
  REQUIRE(typed.size() == 1);
  CHECK(typed.values().front().message_text == std::optional<std::string>("Hello!"));
  REQUIRE(by_name.size() == 2);
  CHECK(by_name.values()[0].seq == bad_seq);
  CHECK(by_name.values()[1].seq == good_seq);
  CHECK(f.all.size() == 3);
  // The error handler was told, with the field path and the event.
  const auto errors = f.errors.values();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].what == rtev::client_error::kind::decode);
  INFO("message: " << errors[0].message);
  CHECK(errors[0].message.rfind(field + ":", 0) == 0);
  REQUIRE(errors[0].ev);
  CHECK(errors[0].ev->seq == bad_seq);
  CHECK(errors[0].ev->type == "message_sent");
  CHECK(f.c->state() == client_state::connected);
}

TEST_CASE("client_delivers_the_apps_own_typed_events", "[sdk][client][subscribe]") {
  recorder<shop::invoice_paid> paid;
  recorder<rtev::event> envelopes;
  fixture f;
  auto sub = f.c->on<shop::invoice_paid>([&](const shop::invoice_paid& p, const rtev::event& e) {
    paid.add(p);
    envelopes.add(e);
  });
  auto all = f.start();

  // A typed publish from the client itself, and one over HTTP that does not decode.
  shop::invoice_paid sent{49.5, "EUR"};
  sent.customer_id = 42;
  sent.extra["note"] = "first order";
  const auto ack = f.c->publish("r", sent).get();
  const auto bad_seq = f.publish("invoice_paid", {{"amount", "49.50"}, {"currency", "EUR"}});
  f.settle();

  REQUIRE(paid.size() == 1);
  CHECK(paid.values().front() == sent);  // every field, and the extra one, came back
  CHECK(envelopes.values().front().type == "invoice_paid");
  CHECK(envelopes.values().front().seq == ack.seq);
  CHECK(envelopes.values().front().data ==
        json{{"amount", 49.5}, {"currency", "EUR"}, {"customer_id", 42}, {"note", "first order"}});
  // The malformed one reached the error handler with its field path, as for catalog types.
  const auto errors = f.errors.values();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].what == rtev::client_error::kind::decode);
  CHECK(errors[0].message == "data.amount: expected a number, got string");
  REQUIRE(errors[0].ev);
  CHECK(errors[0].ev->seq == bad_seq);
  CHECK(f.all.size() == 3);
}

TEST_CASE("client_receives_only_the_event_types_it_asked_for", "[sdk][client][subscribe]") {
  rtev::test::local_server srv;
  recorder<rtev::event> got;
  rtev::client_options opt;
  opt.url = srv.get().url();
  opt.rooms = {"r"};
  opt.types = {"message_*", "done"};
  rtev::client c(opt);
  auto s = c.on("*", [&](const rtev::event& e) { got.add(e); });
  c.start();
  REQUIRE(c.connected().wait_for(default_timeout) == std::future_status::ready);
  c.ping().get();
  for (const char* type : {"note", "message_sent", "typing_indicator", "message_deleted", "done"})
    rtev::test::publish_http(
        srv.port(),
        {{"room", "r"}, {"type", type}, {"data", {{"message_id", 1}, {"conversation_id", 1}}}});
  REQUIRE(got.wait([](const auto& v) { return !v.empty() && v.back().type == "done"; }));
  CHECK(types_of(got.values()) ==
        std::vector<std::string>{"message_sent", "message_deleted", "done"});
}
