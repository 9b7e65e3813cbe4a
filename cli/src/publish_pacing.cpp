#include "publish_pacing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

namespace rtev::cli {

void send_budget::reset(const rate_limit_info& limit, clock::time_point now) {
  // Under the server's limit, not at it: 95 % of its rate, and a bucket a tenth (at least one
  // message) smaller than its burst. Messages reach the server later than they leave, which
  // only helps, but not always evenly spaced; and a connection may have spent a few messages
  // (joins, emits) before publishing.
  rate_ = limit.per_second * 0.95;
  const double margin = std::max(1.0, std::floor(limit.burst * 0.1));
  capacity_ = std::max(1.0, limit.burst - margin);
  tokens_ = capacity_;
  at_ = now;
}

void send_budget::refill(clock::time_point now) {
  if (now <= at_) return;
  tokens_ = std::min(capacity_, tokens_ + std::chrono::duration<double>(now - at_).count() * rate_);
  at_ = now;
}

std::chrono::microseconds send_budget::wait(clock::time_point now) {
  if (!limited()) return std::chrono::microseconds(0);
  refill(now);
  if (tokens_ >= 1.0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(
      static_cast<std::int64_t>(std::ceil((1.0 - tokens_) / rate_ * 1e6)));
}

void send_budget::take(clock::time_point now) {
  if (!limited()) return;
  refill(now);
  tokens_ -= 1.0;  // may go slightly negative when the caller did not wait: paid back later
}

publish_progress::publish_progress(bool enabled, std::uint64_t total)
    : enabled_(enabled && total > 1), total_(total) {}

void publish_progress::update(std::uint64_t done) {
  if (!enabled_) return;
  const auto now = clock::now();
  // Quick runs show nothing; longer ones redraw four times a second.
  if (now - started_ < std::chrono::milliseconds(500)) return;
  if (shown_ && now - drawn_ < std::chrono::milliseconds(250)) return;
  drawn_ = now;
  draw(done, false);
}

void publish_progress::finish(std::uint64_t done) {
  if (!enabled_ || !shown_) return;
  draw(done, true);
}

void publish_progress::draw(std::uint64_t done, bool final) {
  const double elapsed = std::chrono::duration<double>(clock::now() - started_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  char line[160];
  if (final) {
    std::snprintf(line, sizeof line, "\rrtev: published %llu/%llu in %.1fs (%.0f/s)\033[K\n",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
                  elapsed, rate);
  } else {
    std::string eta = "?";
    if (rate > 0) {
      const double left = static_cast<double>(total_ - std::min(done, total_)) / rate;
      eta = left < 60 ? std::to_string(static_cast<long>(std::ceil(left))) + "s"
                      : std::to_string(static_cast<long>(left / 60)) + "m" +
                            std::to_string(static_cast<long>(left) % 60) + "s";
    }
    std::snprintf(line, sizeof line, "\rrtev: published %llu/%llu, %.0f/s, ETA %s\033[K",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
                  rate, eta.c_str());
  }
  // Through std::cerr, so an open progress line is known (terminal_line.hpp) and ended before a
  // message that follows an interrupt.
  std::cerr << line << std::flush;
  shown_ = true;
}

}  // namespace rtev::cli
