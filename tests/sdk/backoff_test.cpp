#include "rtev/backoff.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace std::chrono_literals;
using rtev::backoff_policy;
using rtev::backoff_schedule;

TEST_CASE("default_policy_matches_the_documented_defaults", "[sdk][backoff]") {
  backoff_policy p;
  CHECK(p.initial == 500ms);
  CHECK(p.multiplier == 2.0);
  CHECK(p.max == 30s);
  CHECK(p.jitter == 0.5);
  CHECK_FALSE(p.max_attempts.has_value());
}

TEST_CASE("delay_grows_exponentially_and_is_capped", "[sdk][backoff]") {
  backoff_policy p;
  SECTION("each attempt doubles the delay from 500 ms") {
    CHECK(p.delay(0) == 500ms);
    CHECK(p.delay(1) == 1000ms);
    CHECK(p.delay(2) == 2000ms);
    CHECK(p.delay(5) == 16000ms);
  }
  SECTION("the delay never exceeds max") {
    CHECK(p.delay(6) == 30s);
    CHECK(p.delay(7) == 30s);
  }
  SECTION("huge attempt numbers do not overflow") {
    CHECK(p.delay(1000) == 30s);
    CHECK(p.delay(UINT32_MAX) == 30s);
    backoff_policy steep;
    steep.multiplier = 1e300;
    steep.max = std::chrono::milliseconds::max();
    CHECK(steep.delay(5) == steep.max);
  }
}

TEST_CASE("jitter_draws_from_the_lower_part_of_the_delay", "[sdk][backoff]") {
  backoff_policy p;  // jitter 0.5
  SECTION("a draw of 0 gives the full delay") {
    CHECK(p.wait(1, 0.0) == 1000ms);
  }
  SECTION("a draw near 1 gives delay times (1 - jitter)") {
    CHECK(p.wait(1, 0.999999) == 500ms);
  }
  SECTION("a draw of one half lands in the middle") {
    CHECK(p.wait(2, 0.5) == 1500ms);
  }
  SECTION("out-of-range draws are clamped") {
    CHECK(p.wait(0, -3.0) == 500ms);
    CHECK(p.wait(0, 7.0) == 250ms);
  }
}

TEST_CASE("fixed_delay_policy_waits_the_same_every_time", "[sdk][backoff]") {
  auto p = backoff_policy::fixed(3s);
  backoff_schedule s(p, [] { return 0.9; });
  for (int i = 0; i < 10; ++i) CHECK(s.next() == std::optional<std::chrono::milliseconds>(3s));
}

TEST_CASE("schedule_is_deterministic_under_an_injected_random_source", "[sdk][backoff]") {
  std::vector<double> draws{0.0, 0.5, 1.0 - 1e-9, 0.25};
  std::size_t i = 0;
  backoff_schedule s(backoff_policy{}, [&] { return draws[i++ % draws.size()]; });
  CHECK(*s.next() == 500ms);   // 500 × (1 − 0)
  CHECK(*s.next() == 750ms);   // 1000 × (1 − 0.25)
  CHECK(*s.next() == 1000ms);  // 2000 × (1 − 0.5)
  CHECK(*s.next() == 3500ms);  // 4000 × (1 − 0.125)
  CHECK(s.attempts() == 4);
}

TEST_CASE("schedule_without_injected_source_stays_within_bounds", "[sdk][backoff]") {
  backoff_schedule s(backoff_policy{});
  for (std::uint32_t n = 0; n < 12; ++n) {
    auto d = s.policy().delay(n);
    auto w = *s.next();
    CHECK(w <= d);
    CHECK(w >= d / 2);
  }
}

TEST_CASE("schedule_gives_up_after_max_attempts", "[sdk][backoff]") {
  backoff_policy p;
  p.max_attempts = 3;
  backoff_schedule s(p, [] { return 0.0; });
  CHECK(s.next().has_value());
  CHECK(s.next().has_value());
  CHECK(s.next().has_value());
  CHECK_FALSE(s.next().has_value());
  CHECK_FALSE(s.next().has_value());
  SECTION("a reset allows retries again") {
    s.reset();
    CHECK(s.next() == std::optional<std::chrono::milliseconds>(500ms));
  }
}

TEST_CASE("attempt_count_resets_after_a_connection_stayed_up", "[sdk][backoff]") {
  backoff_schedule s(backoff_policy{}, [] { return 0.0; });
  s.next();
  s.next();
  s.next();
  REQUIRE(s.attempts() == 3);
  const auto t0 = backoff_schedule::clock::time_point{} + 1h;

  SECTION("a short-lived connection keeps the count growing") {
    s.connected(t0);
    s.disconnected(t0 + 2s);
    CHECK(s.attempts() == 3);
    CHECK(*s.next() == 4000ms);
  }
  SECTION("a connection that stayed up reset_after or longer starts over") {
    s.connected(t0);
    s.disconnected(t0 + 10s);
    CHECK(s.attempts() == 0);
    CHECK(*s.next() == 500ms);
  }
  SECTION("a disconnect without a connect changes nothing") {
    s.disconnected(t0);
    CHECK(s.attempts() == 3);
  }
}

TEST_CASE("invalid_policies_are_rejected_with_the_field_named", "[sdk][backoff]") {
  using Catch::Matchers::Contains;
  backoff_policy p;
  SECTION("multiplier below one") {
    p.multiplier = 0.5;
    CHECK_THROWS_WITH(p.validate(), Contains("multiplier") && Contains("0.5"));
  }
  SECTION("jitter above one") {
    p.jitter = 1.5;
    CHECK_THROWS_WITH(p.validate(), Contains("jitter"));
  }
  SECTION("max below initial") {
    p.max = 100ms;
    CHECK_THROWS_WITH(p.validate(), Contains("max delay (100 ms)"));
  }
  SECTION("negative initial delay") {
    p.initial = -1ms;
    CHECK_THROWS_AS(p.validate(), rtev::config_error);
  }
  SECTION("a schedule refuses an invalid policy at construction") {
    p.jitter = -0.1;
    CHECK_THROWS_AS(backoff_schedule(p), rtev::config_error);
  }
}
