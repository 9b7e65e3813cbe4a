#pragma once
// history_reader: answers history queries on a thread of its own, so that replay pages,
// HISTORY, /api/history and SSE resume never read SQLite on the lws service thread.
//
//     history_reader reader(store);
//     reader.submit(q, [](history_page&& page, std::string&& error) { … });  // reader thread
//
// Queries are answered one at a time, in the order submitted. `done` runs on the reader's
// thread, with the page, or with an empty page and SQLite's message when the query failed;
// the owner hands the result to its own thread (room_hub posts it to the service thread).
// The destructor answers nothing more: queued queries are dropped, the one running finishes,
// and the thread is joined.
//
// Threads: submit() from any thread; history_store::query is safe from any thread.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "history_store.hpp"

namespace rtev::server_lite {

class history_reader {
 public:
  using done_fn = std::function<void(history_page&&, std::string&& error)>;

  explicit history_reader(const history_store& store);
  ~history_reader();
  history_reader(const history_reader&) = delete;
  history_reader& operator=(const history_reader&) = delete;

  void submit(history_query q, done_fn done);
  /// Waits until every query submitted so far has been answered (its `done` has returned).
  void flush();

 private:
  void run();

  const history_store& store_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;  // wakes flush()
  std::deque<std::pair<history_query, done_fn>> queue_;
  std::uint64_t submitted_ = 0, answered_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: started when everything above is ready
};

}  // namespace rtev::server_lite
