#include "cli/src/commands/bench_histogram.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>

using rtev::cli::latency_histogram;

TEST_CASE("bench_histogram_buckets_are_log_linear", "[cli][bench]") {
  SECTION("values below 256 have a bucket each") {
    for (std::uint64_t v = 0; v < 256; ++v) {
      REQUIRE(latency_histogram::bucket_of(v) == v);
      REQUIRE(latency_histogram::bucket_high(v) == v);
    }
  }
  SECTION("every value lies in its bucket, whose width is under 1% of it") {
    for (std::uint64_t v : {256ULL, 257ULL, 1000ULL, 123456ULL, 999'999'999ULL, 1ULL << 40,
                            (1ULL << 40) + 12345, ~0ULL}) {
      const auto b = latency_histogram::bucket_of(v);
      REQUIRE(b < latency_histogram::bucket_count);
      const std::uint64_t high = latency_histogram::bucket_high(b);
      REQUIRE(high >= v);
      REQUIRE(static_cast<double>(high - v) <= static_cast<double>(v) / 128.0);
      if (b > 0) REQUIRE(latency_histogram::bucket_high(b - 1) < v);
    }
  }
  SECTION("the largest value falls in the last bucket") {
    REQUIRE(latency_histogram::bucket_of(~0ULL) == latency_histogram::bucket_count - 1);
    REQUIRE(latency_histogram::bucket_high(latency_histogram::bucket_count - 1) == ~0ULL);
  }
}

TEST_CASE("bench_histogram_percentiles", "[cli][bench]") {
  auto h = std::make_unique<latency_histogram>();
  SECTION("an empty histogram reports zeros") {
    REQUIRE(h->count() == 0);
    REQUIRE(h->percentile(50) == 0);
    REQUIRE(h->max() == 0);
  }
  SECTION("1..100000 gives percentiles within 1% and ordered") {
    for (std::uint64_t v = 1; v <= 100000; ++v) h->record(v);
    REQUIRE(h->count() == 100000);
    REQUIRE(h->min() == 1);
    REQUIRE(h->max() == 100000);
    REQUIRE(h->mean() == Approx(50000.5));
    const double wanted[] = {50, 90, 99, 99.9};
    std::uint64_t last = 0;
    for (double p : wanted) {
      const auto got = static_cast<double>(h->percentile(p));
      REQUIRE(got == Approx(p * 1000).epsilon(0.01));
      REQUIRE(got >= static_cast<double>(last));
      last = static_cast<std::uint64_t>(got);
    }
    REQUIRE(h->percentile(100) == 100000);
    REQUIRE(h->percentile(0) == 1);
  }
  SECTION("one outlier is the max and p99.9 of 1000 samples, not p99") {
    for (int i = 0; i < 999; ++i) h->record(1000);
    h->record(5'000'000);
    // Reported as the highest value of 1000's bucket (1003), as HDR histograms do.
    const std::uint64_t bucket_top = latency_histogram::bucket_high(latency_histogram::bucket_of(1000));
    REQUIRE(bucket_top - 1000 < 1000 / 128);
    REQUIRE(h->percentile(99) == bucket_top);
    REQUIRE(h->percentile(99.9) == bucket_top);
    REQUIRE(h->percentile(100) == 5'000'000);
    REQUIRE(h->max() == 5'000'000);
  }
  SECTION("merging adds the counts, min and max") {
    auto other = std::make_unique<latency_histogram>();
    h->record(10);
    other->record(5);
    other->record(20000);
    h->merge(*other);
    REQUIRE(h->count() == 3);
    REQUIRE(h->min() == 5);
    REQUIRE(h->max() == 20000);
    REQUIRE(h->percentile(50) == 10);
  }
}
