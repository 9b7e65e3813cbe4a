#pragma once
// Ending a streaming command: the first of "done" (from a client handler), a signal, or a
// deadline decides the exit code. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace rtev::cli {

class stopper {
 public:
  /// The first call wins; later calls are ignored.
  void finish(int code) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!code_) code_ = code;
    cv_.notify_all();
  }
  /// The exit code, or nothing when `deadline` passed first.
  std::optional<int> wait_until(std::optional<std::chrono::steady_clock::time_point> deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (deadline)
      cv_.wait_until(lock, *deadline, [&] { return code_.has_value(); });
    else
      cv_.wait(lock, [&] { return code_.has_value(); });
    return code_;
  }

 private:
  std::mutex mutex_;  // guards code_
  std::condition_variable cv_;
  std::optional<int> code_;
};

/// SIGINT and SIGTERM call finish(0) on `s` (from a dedicated thread, via sigwait). Call before
/// any other thread starts, so they all inherit the blocked mask.
void stop_on_signals(stopper& s);

}  // namespace rtev::cli
