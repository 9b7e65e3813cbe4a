#pragma once
// How `rtev publish` and `rtev replay` keep to a server's rate limit and show their progress.
//
// send_budget: a client-side token bucket under the limit the server announced in
// `authenticated` ({"per_second", "burst"}), with a margin so that a burst that arrives a
// little bunched (or the few messages the connection sent before publishing) still fits the
// server's own bucket. publish_progress: a one-line count, rate and ETA redrawn on stderr when
// stderr is a terminal; nothing at all when it is not.
//
// Thread safety: neither class is synchronised; each is used by the one thread that publishes.

#include <chrono>
#include <cstdint>
#include <optional>

#include "rtev/client.hpp"

namespace rtev::cli {

class send_budget {
 public:
  using clock = std::chrono::steady_clock;

  /// No limit known: wait() is always zero.
  send_budget() = default;
  /// Follow `limit` from `now` on (a new connection: the server's bucket starts full).
  void reset(const rate_limit_info& limit, clock::time_point now);
  bool limited() const { return rate_ > 0; }
  /// How long to wait from `now` before the next message may go.
  std::chrono::microseconds wait(clock::time_point now);
  /// One message sent at `now` (after waiting what wait() said).
  void take(clock::time_point now);

  double rate() const { return rate_; }
  double capacity() const { return capacity_; }

 private:
  void refill(clock::time_point now);
  double rate_ = 0, capacity_ = 0, tokens_ = 0;
  clock::time_point at_{};
};

class publish_progress {
 public:
  using clock = std::chrono::steady_clock;

  /// `enabled`: stderr is a terminal and diagnostics are not --quiet.
  publish_progress(bool enabled, std::uint64_t total);
  /// `done` of `total` acknowledged: redraws at most a few times a second, and only once the
  /// run has lasted long enough to be worth a progress line.
  void update(std::uint64_t done);
  /// Ends the line: a summary if a progress line was shown, nothing otherwise.
  void finish(std::uint64_t done);

 private:
  void draw(std::uint64_t done, bool final);
  bool enabled_;
  std::uint64_t total_;
  clock::time_point started_ = clock::now(), drawn_{};
  bool shown_ = false;
};

}  // namespace rtev::cli
