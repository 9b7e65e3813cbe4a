#pragma once
// Ending a streaming command: the first of "done" (from a client handler), a signal (through an
// interrupt_hook), or a deadline decides the exit code, and what to say about it. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

namespace rtev::cli {

class stopper {
 public:
  struct outcome {
    int code = 0;
    std::string message;  ///< said on stderr when the command ends this way; may be empty
  };

  /// The first call wins; later calls are ignored.
  void finish(int code, std::string message = {}) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!result_) result_ = outcome{code, std::move(message)};
    cv_.notify_all();
  }
  /// How it ended, or nothing when `deadline` passed first.
  std::optional<outcome> wait_until(std::optional<std::chrono::steady_clock::time_point> deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (deadline)
      cv_.wait_until(lock, *deadline, [&] { return result_.has_value(); });
    else
      cv_.wait(lock, [&] { return result_.has_value(); });
    return result_;
  }

 private:
  std::mutex mutex_;  // guards result_
  std::condition_variable cv_;
  std::optional<outcome> result_;
};

}  // namespace rtev::cli
