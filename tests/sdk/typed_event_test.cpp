#include "rtev/typed_event.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <type_traits>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "rtev/catalog.hpp"
#include "rtev/error.hpp"

// An app's own typed events, declared outside namespace rtev exactly as docs/sdk.md shows.
// This file includes rtev/typed_event.hpp, not the product catalog (rtev/events.hpp).

// clang-format off
namespace billing {
RTEV_TYPED_EVENT(invoice_paid, "invoice_paid",
                 (required, number,  amount)
                 (required, string,  currency)
                 (optional, id,      customer_id));
}  // namespace billing

// The global namespace works too.
RTEV_TYPED_EVENT(app_heartbeat, "app.heartbeat",
                 (optional, integer, n));

// A deeper namespace, every field kind, a field named like the struct, and fields named like
// the macro's own parameters.
namespace app::audit {
RTEV_TYPED_EVENT(entry, "audit-entry",
                 (required, string,      entry)
                 (optional, timestamp,   at)
                 (optional, integer,     count)
                 (optional, boolean,     ok)
                 (optional, object,      before)
                 (optional, array,       tags)
                 (optional, any,         detail)
                 (optional, integer_map, per_site)
                 (optional, string,      a)
                 (optional, string,      e)
                 (optional, string,      j)
                 (optional, string,      visit)
                 (optional, string,      self));
}  // namespace app::audit
// clang-format on

namespace {

using nlohmann::json;
using rtev::event_family;

// --- compile time -----------------------------------------------------------------------------

static_assert(rtev::is_typed_event_v<billing::invoice_paid>);
static_assert(rtev::is_typed_event_v<app_heartbeat>);
static_assert(rtev::is_typed_event_v<app::audit::entry>);
static_assert(!rtev::is_typed_event_v<const billing::invoice_paid>);
static_assert(!rtev::is_typed_event_v<billing::invoice_paid&>);
static_assert(!rtev::is_typed_event_v<int>);
static_assert(!rtev::is_typed_event_v<json>);

static_assert(rtev::event_traits<billing::invoice_paid>::name == "invoice_paid");
static_assert(rtev::event_traits<billing::invoice_paid>::family == event_family::custom);
static_assert(rtev::event_traits<app_heartbeat>::name == "app.heartbeat");
static_assert(rtev::event_traits<app::audit::entry>::name == "audit-entry");

// A type derived from an event is not itself one (its traits would name the base's type).
struct receipt : billing::invoice_paid {};
static_assert(!rtev::is_typed_event_v<receipt>);

// Members: required plain, optional std::optional, in declaration order (aggregate).
static_assert(std::is_same_v<decltype(billing::invoice_paid::amount), double>);
static_assert(std::is_same_v<decltype(billing::invoice_paid::currency), std::string>);
static_assert(
    std::is_same_v<decltype(billing::invoice_paid::customer_id), std::optional<rtev::id_value>>);
static_assert(std::is_same_v<decltype(app::audit::entry::per_site),
                             std::optional<std::map<std::string, std::int64_t>>>);
static_assert(std::is_aggregate_v<billing::invoice_paid>);

// from_json / to_json are found by ADL, so nlohmann::json converts both ways.
static_assert(std::is_convertible_v<billing::invoice_paid, json>);

std::string decode_error(const json& data) {
  try {
    (void)rtev::decode<billing::invoice_paid>(data);
  } catch (const rtev::parse_error& e) {
    return e.what();
  }
  return "(decoded)";
}

}  // namespace

TEST_CASE("app_typed_event_round_trips_through_encode_and_decode", "[sdk][typed_event]") {
  billing::invoice_paid paid{49.5, "EUR"};
  paid.customer_id = "cus_42";

  const json data = rtev::encode(paid);
  CHECK(data == json{{"amount", 49.5}, {"currency", "EUR"}, {"customer_id", "cus_42"}});
  const auto back = rtev::decode<billing::invoice_paid>(data);
  CHECK(back == paid);
  CHECK(back.amount == 49.5);
  CHECK(back.customer_id == std::optional<rtev::id_value>("cus_42"));

  SECTION("through nlohmann's own conversions (ADL)") {
    const json j = paid;
    CHECK(j == data);
    CHECK(j.get<billing::invoice_paid>() == paid);
  }
  SECTION("an integer id stays an integer, an absent optional field stays absent") {
    const auto p = rtev::decode<billing::invoice_paid>(
        json{{"amount", 10}, {"currency", "USD"}, {"customer_id", 7}});
    REQUIRE(p.customer_id.has_value());
    CHECK(p.customer_id->is_integer());
    CHECK(rtev::encode(p).at("customer_id") == 7);
    const auto q = rtev::decode<billing::invoice_paid>(json{{"amount", 1}, {"currency", "X"}});
    CHECK_FALSE(q.customer_id.has_value());
    CHECK_FALSE(rtev::encode(q).contains("customer_id"));
  }
  SECTION("a different value compares unequal") {
    auto other = paid;
    other.currency = "USD";
    CHECK(other != paid);
  }
}

TEST_CASE("app_typed_event_decode_errors_name_the_field", "[sdk][typed_event]") {
  CHECK(decode_error({{"amount", "49.5"}, {"currency", "EUR"}}) ==
        "data.amount: expected a number, got string");
  CHECK(decode_error({{"amount", 49.5}}) == "data.currency: required field is missing");
  CHECK(decode_error({{"amount", 1}, {"currency", "EUR"}, {"customer_id", true}}) ==
        "data.customer_id: expected an id (integer or string), got boolean");
  CHECK(decode_error(json::array({1, 2})) == "data: expected an object, got array");

  try {
    (void)rtev::decode<billing::invoice_paid>(json{{"amount", nullptr}, {"currency", "EUR"}});
    FAIL("a null required number decoded");
  } catch (const rtev::parse_error& e) {
    CHECK(e.path() == "data.amount");
  }
  // nlohmann's get<T>() throws the same error.
  CHECK_THROWS_AS((json{{"currency", "EUR"}}.get<billing::invoice_paid>()), rtev::parse_error);
}

TEST_CASE("app_typed_event_keeps_fields_it_does_not_model", "[sdk][typed_event]") {
  const json data = {{"amount", 12.25},
                     {"currency", "EUR"},
                     {"customer_id", nullptr},
                     {"invoice", {{"number", "F-2024-001"}}},
                     {"note", "paid by card"}};
  const auto p = rtev::decode<billing::invoice_paid>(data);
  CHECK_FALSE(p.customer_id.has_value());
  CHECK(p.extra == json{{"customer_id", nullptr},
                        {"invoice", {{"number", "F-2024-001"}}},
                        {"note", "paid by card"}});
  CHECK(rtev::encode(p) == data);  // decode then encode gives the same JSON
}

TEST_CASE("app_typed_event_in_any_namespace_supports_every_field_kind", "[sdk][typed_event]") {
  const json data = {{"entry", "login"},
                     {"at", "2024-01-15T10:30:45Z"},
                     {"count", 3},
                     {"ok", true},
                     {"before", {{"role", "user"}}},
                     {"tags", {"a", "b"}},
                     {"detail", nullptr},
                     {"per_site", {{"eu", 2}, {"us", 1}}},
                     {"a", "1"},
                     {"e", "2"},
                     {"j", "3"},
                     {"visit", "4"},
                     {"self", "5"}};
  const auto e = rtev::decode<app::audit::entry>(data);
  CHECK(e.entry == "login");  // the field named like its struct
  CHECK(e.count == std::optional<std::int64_t>(3));
  REQUIRE(e.per_site.has_value());
  CHECK(*e.per_site == std::map<std::string, std::int64_t>{{"eu", 2}, {"us", 1}});
  // An explicit null in an optional field reads as absent and is kept in `extra`.
  CHECK_FALSE(e.detail.has_value());
  CHECK(e.extra == json{{"detail", nullptr}});
  CHECK(e.visit == std::optional<std::string>("4"));
  CHECK(rtev::encode(e) == data);

  CHECK(rtev::encode(app_heartbeat{}) == json::object());
  CHECK(rtev::decode<app_heartbeat>(json{{"n", 2}}).n == std::optional<std::int64_t>(2));
}

TEST_CASE("app_typed_events_are_not_added_to_the_product_catalog", "[sdk][typed_event]") {
  CHECK(rtev::find_event_type("invoice_paid") == nullptr);
  CHECK(rtev::find_event_type("audit-entry") == nullptr);
  CHECK(rtev::to_string(rtev::event_traits<billing::invoice_paid>::family) == "custom");
}
