#include "history_reader.hpp"

#include <exception>

namespace rtev::server_lite {

history_reader::history_reader(const history_store& store)
    : store_(store), thread_([this] { run(); }) {}

history_reader::~history_reader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_one();
  thread_.join();
}

void history_reader::submit(history_query q, done_fn done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.emplace_back(std::move(q), std::move(done));
    ++submitted_;
  }
  cv_.notify_one();
}

void history_reader::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  const std::uint64_t ticket = submitted_;
  idle_cv_.wait(lock, [&] { return answered_ >= ticket || stop_; });
}

void history_reader::run() {
  for (;;) {
    std::pair<history_query, done_fn> work;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    history_page page;
    std::string error;
    try {
      page = store_.query(work.first);
    } catch (const std::exception& e) {
      error = e.what();
    }
    work.second(std::move(page), std::move(error));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++answered_;
    }
    idle_cv_.notify_all();
  }
}

}  // namespace rtev::server_lite
