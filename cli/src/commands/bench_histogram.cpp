#include "commands/bench_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace rtev::cli {

std::size_t latency_histogram::bucket_of(std::uint64_t v) {
  if (v < 2 * sub_count) return static_cast<std::size_t>(v);
  const int msb = 63 - __builtin_clzll(v);  // >= sub_bits + 1
  const int shift = msb - sub_bits;         // >= 1
  const std::uint64_t top = v >> shift;     // in [sub_count, 2 * sub_count)
  return static_cast<std::size_t>(
      2 * sub_count + static_cast<std::uint64_t>(shift - 1) * sub_count + (top - sub_count));
}

std::uint64_t latency_histogram::bucket_high(std::size_t b) {
  if (b < 2 * sub_count) return b;
  const std::uint64_t rest = b - 2 * sub_count;
  const int shift = static_cast<int>(rest / sub_count) + 1;
  const std::uint64_t top = rest % sub_count + sub_count;
  // The last bucket's upper end is 2^64 - 1: computed without overflowing.
  return (top << shift) + ((1ULL << shift) - 1);
}

void latency_histogram::record(std::uint64_t v) {
  ++counts_[bucket_of(v)];
  if (count_ == 0 || v < min_) min_ = v;
  max_ = std::max(max_, v);
  ++count_;
  sum_ += v;
}

void latency_histogram::merge(const latency_histogram& o) {
  if (o.count_ == 0) return;
  for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
  min_ = count_ ? std::min(min_, o.min_) : o.min_;
  max_ = std::max(max_, o.max_);
  count_ += o.count_;
  sum_ += o.sum_;
}

std::uint64_t latency_histogram::percentile(double percent) const {
  if (count_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  // The rank of the value wanted, at least the first and at most the last; the small epsilon
  // keeps 99.9% of 1000 at rank 999 (99.9 / 100 is not exact in binary).
  auto rank =
      static_cast<std::uint64_t>(std::ceil(percent * static_cast<double>(count_) / 100.0 - 1e-9));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucket_high(i), min_, max_);
  }
  return max_;
}

}  // namespace rtev::cli
