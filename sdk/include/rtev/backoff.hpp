#pragma once
/// \file
/// Reconnect backoff: a pure policy plus a small stateful schedule.
///
///     delay(n) = min(max, initial × multiplier^n)          n = 0, 1, 2, … (attempt index)
///     wait(n)  = uniform in [delay(n) × (1 − jitter), delay(n)]
///
/// Defaults: initial 500 ms, multiplier 2, max 30 s, jitter 0.5, unlimited attempts; the
/// attempt count resets once a connection has stayed up for `reset_after` (10 s).
/// A fixed delay is `backoff_policy::fixed(3s)` (multiplier 1, no jitter).
///
/// Thread safety: backoff_policy is a value type. A backoff_schedule is not synchronised:
/// one owner (the client's service thread) uses it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "rtev/error.hpp"

namespace rtev {

struct backoff_policy {
  std::chrono::milliseconds initial{500};  ///< delay before the first retry (attempt 0)
  double multiplier = 2.0;                 ///< growth per attempt, >= 1
  std::chrono::milliseconds max{30000};    ///< cap on the delay, >= initial
  double jitter = 0.5;  ///< 0 (none) … 1 (full): share of the delay drawn at random
  std::optional<std::uint32_t> max_attempts;     ///< retries before giving up; nullopt = unlimited
  std::chrono::milliseconds reset_after{10000};  ///< uptime after which the attempt count resets

  /// Same delay every time, no jitter.
  static backoff_policy fixed(std::chrono::milliseconds delay,
                              std::optional<std::uint32_t> max_attempts = std::nullopt);

  /// Throws config_error naming the bad field and the accepted range.
  void validate() const;

  /// The capped delay before jitter for attempt index `attempt` (0-based). Never overflows:
  /// any attempt number gives at most `max`.
  std::chrono::milliseconds delay(std::uint32_t attempt) const;

  /// The jittered wait for `attempt`, given a uniform draw `u` in [0, 1):
  /// delay × (1 − jitter × u). u = 0 gives the full delay.
  std::chrono::milliseconds wait(std::uint32_t attempt, double u) const;
};

/// A source of uniform doubles in [0, 1). Inject one for deterministic tests.
using random_source = std::function<double()>;

/// The retry state of one connection: counts attempts, draws jitter, and resets after a
/// connection that stayed up long enough.
class backoff_schedule {
 public:
  using clock = std::chrono::steady_clock;

  /// Throws config_error if `policy` is invalid. Without `random`, a per-schedule
  /// std::mt19937_64 seeded from std::random_device is used.
  explicit backoff_schedule(backoff_policy policy, random_source random = {});

  /// The wait before the next attempt and advances the count; nullopt once max_attempts
  /// retries have been handed out.
  std::optional<std::chrono::milliseconds> next();

  /// Retries handed out since the last reset.
  std::uint32_t attempts() const noexcept { return attempts_; }
  const backoff_policy& policy() const noexcept { return policy_; }

  /// A connection was established at `now`.
  void connected(clock::time_point now = clock::now());
  /// The connection dropped at `now`: resets the attempt count when it had been up for at
  /// least reset_after.
  void disconnected(clock::time_point now = clock::now());
  /// Start over from attempt 0.
  void reset() noexcept { attempts_ = 0; }

 private:
  backoff_policy policy_;
  random_source random_;
  std::uint32_t attempts_ = 0;
  std::optional<clock::time_point> up_since_;
};

}  // namespace rtev
