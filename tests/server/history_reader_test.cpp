// history_reader: queries answered on the reader's own thread, one at a time in the order
// submitted. (Its destructor with queries queued runs in every server shutdown test, under
// ASan and TSan.)
#include "history_reader.hpp"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

using rtev::server_lite::history_page;
using rtev::server_lite::history_query;
using rtev::server_lite::history_reader;
using rtev::server_lite::history_store;
using rtev::server_lite::stored_event;

namespace {

stored_event event_in(std::uint64_t seq, const std::string& room) {
  stored_event e;
  e.seq = seq;
  e.id = "id-" + std::to_string(seq);
  e.type = "t";
  e.room = room;
  e.time_us = 1'700'000'000'000'000 + static_cast<std::int64_t>(seq);
  e.json = R"({"seq":)" + std::to_string(seq) + "}";
  return e;
}

}  // namespace

TEST_CASE("history reader answers off the caller's thread, in the order asked", "[server][store]") {
  history_store store(":memory:", {});
  std::promise<void> stored;
  store.append({event_in(1, "a"), event_in(2, "b"), event_in(3, "a")},
               [&](std::vector<history_store::append_result>) { stored.set_value(); });
  stored.get_future().wait();

  history_reader reader(store);
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> answered;  // room of each answer, in answer order
  std::vector<std::vector<std::uint64_t>> pages;
  std::vector<std::thread::id> threads;
  for (const char* room : {"a", "b", "a", "nobody"}) {
    history_query q;
    q.rooms = {room};
    reader.submit(q, [&, room](history_page&& page, std::string&& error) {
      std::lock_guard<std::mutex> lock(m);
      CHECK(error.empty());
      answered.emplace_back(room);
      std::vector<std::uint64_t> seqs;
      for (const auto& e : page.events) seqs.push_back(e.seq);
      pages.push_back(seqs);
      threads.push_back(std::this_thread::get_id());
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(m);
  REQUIRE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered.size() == 4; }));
  CHECK(answered == std::vector<std::string>{"a", "b", "a", "nobody"});
  CHECK(pages == std::vector<std::vector<std::uint64_t>>{{1, 3}, {2}, {1, 3}, {}});
  for (const auto& t : threads) CHECK(t != std::this_thread::get_id());
}
