#pragma once
// A thread-safe log of values reported by rtev::client handlers, shared by the client tests.

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "rtev/client.hpp"
#include "tests/support/rtev_client.hpp"

namespace rtev::test {

// Values reported on the client's service thread, in arrival order; the test thread waits
// for the ones it needs (a condition variable, with a deadline).
template <class T>
class recorder {
 public:
  void add(T value) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      values_.push_back(std::move(value));
    }
    cv_.notify_all();
  }

  /// Waits until `pred(values)` holds; false on time-out.
  template <class Pred>
  bool wait(Pred pred, millis timeout = default_timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(values_); });
  }
  bool wait_size(std::size_t n, millis timeout = default_timeout) const {
    return wait([n](const std::vector<T>& v) { return v.size() >= n; }, timeout);
  }

  std::vector<T> values() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_;
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_.size();
  }

 private:
  mutable std::mutex mutex_;  // guards values_
  mutable std::condition_variable cv_;
  std::vector<T> values_;
};

/// Client options for `url` with a quick, jitter-free backoff (10 ms doubling to 100 ms).
inline rtev::client_options options_for(const std::string& url) {
  using namespace std::chrono_literals;
  rtev::client_options o;
  o.url = url;
  o.backoff.initial = 10ms;
  o.backoff.multiplier = 2;
  o.backoff.max = 100ms;
  o.backoff.jitter = 0;
  return o;
}

/// Whether a future (or shared future) is ready within `timeout`.
template <class F>
bool is_ready(const F& f, millis timeout = default_timeout) {
  return f.wait_for(timeout) == std::future_status::ready;
}

}  // namespace rtev::test
