// fifo (server-lite/src/fifo.hpp): the connection queues. Order, sizes and iteration across the
// front being consumed, compacted and the storage given back.
#include <catch2/catch.hpp>
#include <memory>
#include <vector>

#include "fifo.hpp"

using rtev::server_lite::fifo;

TEST_CASE("fifo keeps order across compaction and drains to empty", "[fifo]") {
  fifo<int> q;
  CHECK(q.empty());
  int next_in = 0;
  int next_out = 0;
  // Uneven pushes and pops: the consumed front passes the compaction point many times.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 97; ++i) q.push_back(next_in++);
    for (int i = 0; i < 60 && !q.empty(); ++i) {
      REQUIRE(q.front() == next_out++);
      q.pop_front();
    }
    REQUIRE(q.size() == static_cast<std::size_t>(next_in - next_out));
    int expect = next_out;
    for (int v : q) REQUIRE(v == expect++);
    REQUIRE(expect == next_in);
  }
  while (!q.empty()) {
    REQUIRE(q.front() == next_out++);
    q.pop_front();
  }
  CHECK(next_out == next_in);
  CHECK(q.size() == 0);
  q.push_back(7);  // usable again after the storage was given back
  CHECK(q.front() == 7);
}

TEST_CASE("fifo releases a popped item at once and swaps whole queues", "[fifo]") {
  auto held = std::make_shared<int>(1);
  fifo<std::shared_ptr<int>> q;
  q.push_back(held);
  q.push_back(std::make_shared<int>(2));
  CHECK(held.use_count() == 2);
  q.pop_front();
  CHECK(held.use_count() == 1);  // not kept until a compaction

  fifo<std::shared_ptr<int>> other;
  other.push_back(std::make_shared<int>(3));
  other.push_back(std::make_shared<int>(4));
  q.swap(other);
  REQUIRE(q.size() == 2);
  CHECK(*q.front() == 3);
  REQUIRE(other.size() == 1);
  CHECK(*other.front() == 2);
}
