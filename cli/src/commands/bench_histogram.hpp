#pragma once
// A latency histogram in the HDR style: log-linear buckets (each power of two split into 128
// linear sub-buckets), so any value up to 2^64 ns is recorded in O(1) with a relative error
// below 1% (exact below 256), in fixed memory (about 60 KB), without keeping the samples.
// Used by `rtev bench` for publish→receive latency.
//
// Thread safety: none; one histogram per thread (bench has one).

#include <array>
#include <cstdint>

namespace rtev::cli {

class latency_histogram {
 public:
  /// Sub-buckets per power of two: 2^7 = 128, a relative error below 1/128.
  static constexpr int sub_bits = 7;
  static constexpr std::uint64_t sub_count = 1ULL << sub_bits;
  /// Values below 2 * sub_count have a bucket each; above, 128 per power of two up to 2^64.
  static constexpr std::size_t bucket_count = 2 * sub_count + (63 - sub_bits) * sub_count;

  void record(std::uint64_t value);
  /// Adds every count of `other`.
  void merge(const latency_histogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const {
    return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0;
  }
  /// The value at or below which `percent` (0–100) of the recorded values lie: the highest value
  /// of the bucket holding that rank, clamped to [min, max]. 0 when empty.
  std::uint64_t percentile(double percent) const;

  /// The bucket a value falls in, and the highest value that bucket holds (for tests).
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t bucket_high(std::size_t bucket);

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0, min_ = 0, max_ = 0, sum_ = 0;
};

}  // namespace rtev::cli
