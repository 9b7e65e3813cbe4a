#include "rtev/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>

namespace rtev {

backoff_policy backoff_policy::fixed(std::chrono::milliseconds delay,
                                     std::optional<std::uint32_t> max_attempts) {
  backoff_policy p;
  p.initial = delay;
  p.max = delay;
  p.multiplier = 1.0;
  p.jitter = 0.0;
  p.max_attempts = max_attempts;
  return p;
}

void backoff_policy::validate() const {
  using std::to_string;
  if (initial.count() < 0)
    throw config_error("backoff initial delay must be >= 0 ms, got " + to_string(initial.count()));
  if (max < initial)
    throw config_error("backoff max delay (" + to_string(max.count()) +
                       " ms) must be >= the initial delay (" + to_string(initial.count()) + " ms)");
  if (!(multiplier >= 1.0) || !std::isfinite(multiplier))
    throw config_error("backoff multiplier must be a finite number >= 1, got " +
                       to_string(multiplier));
  if (!(jitter >= 0.0 && jitter <= 1.0))
    throw config_error("backoff jitter must be between 0 and 1, got " + to_string(jitter));
  if (reset_after.count() < 0)
    throw config_error("backoff reset_after must be >= 0 ms, got " +
                       to_string(reset_after.count()));
}

std::chrono::milliseconds backoff_policy::delay(std::uint32_t attempt) const {
  // Computed in floating point and capped before converting back: multiplier^attempt
  // overflows to +inf for large attempts, and min(max, inf) is still max.
  // Returning `max` itself (not a double round trip) keeps huge caps exact.
  const double raw = static_cast<double>(initial.count()) * std::pow(multiplier, attempt);
  if (!(raw < static_cast<double>(max.count()))) return max;
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(raw));
}

std::chrono::milliseconds backoff_policy::wait(std::uint32_t attempt, double u) const {
  u = std::clamp(u, 0.0, 1.0);
  const auto full = delay(attempt);
  const double w = static_cast<double>(full.count()) * (1.0 - jitter * u);
  if (!(w < static_cast<double>(full.count()))) return full;  // no jitter, or a huge cap
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(std::llround(w)));
}

backoff_schedule::backoff_schedule(backoff_policy policy, random_source random)
    : policy_(policy), random_(std::move(random)) {
  policy_.validate();
  if (!random_) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    random_ = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
}

std::optional<std::chrono::milliseconds> backoff_schedule::next() {
  if (policy_.max_attempts && attempts_ >= *policy_.max_attempts) return std::nullopt;
  const auto w = policy_.wait(attempts_, random_());
  // Saturate rather than wrap: delay() is capped anyway, the count only has to stay monotonic.
  if (attempts_ != UINT32_MAX) ++attempts_;
  return w;
}

void backoff_schedule::connected(clock::time_point now) {
  up_since_ = now;
}

void backoff_schedule::disconnected(clock::time_point now) {
  if (up_since_ && now - *up_since_ >= policy_.reset_after) attempts_ = 0;
  up_since_.reset();
}

}  // namespace rtev
