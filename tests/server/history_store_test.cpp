#include "history_store.hpp"

#include <rtev/error.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using rtev::server_lite::history_page;
using rtev::server_lite::history_query;
using rtev::server_lite::history_store;
using rtev::server_lite::retention_policy;
using rtev::server_lite::stored_event;
using append_results = std::vector<history_store::append_result>;

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t base_time_us = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "rtev-store-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// A small event whose envelope is about 300 bytes, like a typical chat message.
stored_event make_event(std::uint64_t seq, std::string room = "chat:1",
                        std::string type = "msg.created", std::int64_t time_us = 0) {
  stored_event e;
  e.seq = seq;
  e.id = "id-" + std::to_string(seq);
  e.type = std::move(type);
  e.room = std::move(room);
  e.time_us = time_us != 0 ? time_us : base_time_us + static_cast<std::int64_t>(seq);
  e.json = R"({"id":")" + e.id + R"(","type":")" + e.type + R"(","room":")" + e.room +
           R"(","seq":)" + std::to_string(seq) +
           R"(,"data":{"text":"hello from the history store test, padded to a typical size",)"
           R"("user":"alice","tags":["one","two","three"],"n":42}})";
  e.json.resize(std::max<std::size_t>(e.json.size(), 300), ' ');
  return e;
}

append_results append_sync(history_store& store, std::vector<stored_event> events) {
  std::promise<append_results> done;
  auto result = done.get_future();
  store.append(std::move(events), [&done](append_results r) { done.set_value(std::move(r)); });
  return result.get();
}

history_page everything(const history_store& store) {
  history_query q;
  q.include_broadcasts = true;
  q.limit = 1'000'000;
  return store.query(q);
}

std::vector<std::uint64_t> seqs_of(const history_page& page) {
  std::vector<std::uint64_t> out;
  for (const auto& e : page.events) out.push_back(e.seq);
  return out;
}

std::string open_error(const std::string& path) {
  try {
    history_store store(path, {});
  } catch (const rtev::config_error& e) {
    return e.what();
  }
  return "(no error)";
}

// Runs `body` in a forked child and returns what it returned (or "exception: …"). For tests
// that change process-wide state (user id, file size limit).
std::string run_in_child(const std::function<std::string()>& body) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    std::string out;
    try {
      out = body();
    } catch (const std::exception& e) {
      out = std::string("exception: ") + e.what();
    }
    ssize_t unused = write(fds[1], out.data(), out.size());
    (void)unused;
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buffer[512];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  return out;
}

}  // namespace

TEST_CASE("appends_complete_in_order_once_committed", "[server][store]") {
  history_store store(":memory:", {});

  SECTION("each append gets one result per event, in the order the appends were made") {
    std::mutex order_mutex;
    std::vector<int> order;
    std::vector<std::future<append_results>> futures;
    std::vector<std::shared_ptr<std::promise<append_results>>> promises;
    std::uint64_t seq = 0;
    for (int call = 0; call < 20; ++call) {
      std::vector<stored_event> events;
      for (int i = 0; i <= call % 4; ++i) events.push_back(make_event(++seq));
      auto p = std::make_shared<std::promise<append_results>>();
      futures.push_back(p->get_future());
      store.append(std::move(events), [&order_mutex, &order, p, call](append_results r) {
        {
          std::lock_guard<std::mutex> lock(order_mutex);
          order.push_back(call);
        }
        p->set_value(std::move(r));
      });
    }
    for (int call = 0; call < 20; ++call) {
      auto results = futures[static_cast<std::size_t>(call)].get();
      REQUIRE(results.size() == static_cast<std::size_t>(call % 4 + 1));
      for (const auto& r : results) {
        CHECK(r.ok);
        CHECK(r.error.empty());
        CHECK_FALSE(r.duplicate_of);
      }
    }
    std::vector<int> expected(20);
    for (int i = 0; i < 20; ++i) expected[static_cast<std::size_t>(i)] = i;
    CHECK(order == expected);

    auto page = everything(store);
    REQUIRE(page.events.size() == seq);
    CHECK(page.events.front().seq == 1);
    CHECK(page.events.back().seq == seq);
    CHECK(page.events[4].json == make_event(5).json);
    CHECK(page.events[4].time_us == make_event(5).time_us);

    auto s = store.stats();
    CHECK(s.events == seq);
    CHECK(s.first_seq == 1);
    CHECK(s.last_seq == seq);
    CHECK(s.pending == 0);
  }

  SECTION("events appended while a batch is committing are counted as pending") {
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future().share();
    store.append({make_event(1)}, [&entered, released](append_results) {
      entered.set_value();
      released.wait();
    });
    entered.get_future().wait();
    std::promise<append_results> second;
    auto second_done = second.get_future();
    store.append({make_event(2), make_event(3)},
                 [&second](append_results r) { second.set_value(std::move(r)); });
    CHECK(store.stats().pending == 2);
    CHECK(store.stats().events == 1);
    release.set_value();
    CHECK(second_done.get().size() == 2);
    CHECK(store.stats().pending == 0);
    CHECK(store.stats().events == 3);
  }

  SECTION("flush waits for every append made before it") {
    std::atomic<int> completed{0};
    for (std::uint64_t i = 1; i <= 50; ++i) {
      store.append({make_event(i)}, [&completed](append_results) { ++completed; });
    }
    store.flush();
    CHECK(completed == 50);
    CHECK(store.stats().events == 50);
  }

  SECTION("an empty append completes with no results") {
    CHECK(append_sync(store, {}).empty());
  }

  SECTION("a completion that throws does not stop the writer") {
    store.append({make_event(1)}, [](append_results) { throw std::runtime_error("boom"); });
    auto results = append_sync(store, {make_event(2)});
    REQUIRE(results.size() == 1);
    CHECK(results[0].ok);
    CHECK(store.stats().events == 2);
  }
}

TEST_CASE("queries_filter_by_room_time_seq_and_type", "[server][store]") {
  history_store store(":memory:", {});
  // Appended out of seq order on purpose: results must still come oldest (lowest seq) first.
  std::vector<stored_event> events = {
      make_event(3, "chat:2", "msg.created"),  make_event(1, "chat:1", "msg.created"),
      make_event(2, "chat:1", "msg.deleted"),  make_event(4, "game:1", "score"),
      make_event(5, "", "announcement"),  // broadcast
      make_event(6, "chat:1:sub", "presence"), make_event(7, "chat:1", "odd?type[x]"),
      make_event(8, "chat:1", "oddXtypex"),    make_event(9, "", "msg.created"),  // broadcast
      make_event(10, "Chat:1", "msg.created"),
  };
  for (const auto& r : append_sync(store, events)) REQUIRE(r.ok);
  history_query q;
  q.limit = 100;

  SECTION("an exact room matches only that room") {
    q.rooms = {"chat:1"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 7, 8});
  }
  SECTION("a room glob's '*' matches any characters including ':'") {
    q.rooms = {"chat:*"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 3, 6, 7, 8});
    q.rooms = {"*:1"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 4, 7, 8, 10});
    q.rooms = {"*"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 3, 4, 6, 7, 8, 10});
  }
  SECTION("broadcasts are included only when asked for") {
    q.rooms = {"game:1"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{4});
    q.include_broadcasts = true;
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{4, 5, 9});
    q.rooms = {"game:*"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{4, 5, 9});
    auto page = store.query(q);
    CHECK(page.events[1].room.empty());
  }
  SECTION("several exact rooms are merged in seq order, with broadcasts when included") {
    q.rooms = {"game:1", "chat:1", "Chat:1", "chat:1"};  // a repeated room counts once
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 4, 7, 8, 10});
    q.include_broadcasts = true;
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 4, 5, 7, 8, 9, 10});
    q.types = {"msg.*"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 9, 10});
  }
  SECTION("exact rooms and globs together") {
    q.rooms = {"game:1", "chat:1:*"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{4, 6});
    q.include_broadcasts = true;
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{4, 5, 6, 9});
  }
  SECTION("a page over several rooms stops at the limit and says there is more") {
    q.rooms = {"chat:1", "chat:2", "game:1"};
    q.include_broadcasts = true;
    q.limit = 3;
    auto page = store.query(q);
    CHECK(seqs_of(page) == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(page.more);
    q.after_seq = 3;
    page = store.query(q);
    CHECK(seqs_of(page) == std::vector<std::uint64_t>{4, 5, 7});
    CHECK(page.more);
    q.after_seq = 7;
    page = store.query(q);
    CHECK(seqs_of(page) == std::vector<std::uint64_t>{8, 9});
    CHECK_FALSE(page.more);
    q.after_seq = 6;
    q.limit = 3;  // exactly the rest: no more
    page = store.query(q);
    CHECK(seqs_of(page) == std::vector<std::uint64_t>{7, 8, 9});
    CHECK_FALSE(page.more);
  }
  SECTION("an empty room means every room, and broadcasts when included") {
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 3, 4, 6, 7, 8, 10});
    q.include_broadcasts = true;
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  }
  SECTION("after_seq is exclusive and max_seq inclusive") {
    q.include_broadcasts = true;
    q.after_seq = 3;
    q.max_seq = 6;
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{4, 5, 6});
    q.after_seq = std::numeric_limits<std::uint64_t>::max();
    CHECK(store.query(q).events.empty());
  }
  SECTION("since_us and until_us are inclusive") {
    q.include_broadcasts = true;
    q.since_us = base_time_us + 2;
    q.until_us = base_time_us + 4;
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{2, 3, 4});
  }
  SECTION("type globs select types, and '?' '[' in a type are literal") {
    q.include_broadcasts = true;
    q.types = {"msg.*"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{1, 2, 3, 9, 10});
    q.types = {"score", "presence"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{4, 6});
    q.types = {"odd?type[x]"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{7});
    q.types = {"odd*"};
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{7, 8});
    q.types = {"MSG.*"};
    CHECK(store.query(q).events.empty());
  }
  SECTION("filters combine") {
    q.rooms = {"chat:*"};
    q.types = {"msg.*"};
    q.after_seq = 1;
    CHECK(seqs_of(store.query(q)) == std::vector<std::uint64_t>{2, 3});
  }
  SECTION("limit cuts the page and more says whether matches remain") {
    q.include_broadcasts = true;
    q.limit = 4;
    auto page = store.query(q);
    CHECK(seqs_of(page) == std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(page.more);
    q.after_seq = 4;
    page = store.query(q);
    CHECK(seqs_of(page) == std::vector<std::uint64_t>{5, 6, 7, 8});
    CHECK(page.more);
    q.after_seq = 8;
    page = store.query(q);
    CHECK(seqs_of(page) == std::vector<std::uint64_t>{9, 10});
    CHECK_FALSE(page.more);
    q.after_seq = 6;
    page = store.query(q);
    CHECK(seqs_of(page) == std::vector<std::uint64_t>{7, 8, 9, 10});
    CHECK_FALSE(page.more);
    q.limit = 0;
    page = store.query(q);
    CHECK(page.events.empty());
    CHECK(page.more);
  }
  SECTION("returned events carry every stored field") {
    q.rooms = {"chat:2"};
    auto page = store.query(q);
    REQUIRE(page.events.size() == 1);
    const auto& e = page.events[0];
    auto expected = make_event(3, "chat:2", "msg.created");
    CHECK(e.seq == 3);
    CHECK(e.id == expected.id);
    CHECK(e.type == expected.type);
    CHECK(e.room == "chat:2");
    CHECK(e.time_us == expected.time_us);
    CHECK(e.json == expected.json);
  }
}

TEST_CASE("duplicate_ids_are_stored_once", "[server][store]") {
  temp_dir dir;
  const std::string path = dir.file("events.db");

  SECTION("an id already stored by an earlier batch reports its seq") {
    history_store store(path, {});
    REQUIRE(append_sync(store, {make_event(1)})[0].ok);
    auto again = make_event(2);
    again.id = "id-1";
    auto results = append_sync(store, {again, make_event(3)});
    CHECK(results[0].ok);
    CHECK(results[0].duplicate_of == 1u);
    CHECK_FALSE(results[1].duplicate_of);
    CHECK(seqs_of(everything(store)) == std::vector<std::uint64_t>{1, 3});
    CHECK(store.stats().events == 2);
    CHECK(store.find_seq_by_id("id-1") == 1u);
    CHECK_FALSE(store.find_seq_by_id("id-2"));
  }

  SECTION("a repeated id within one append reports the first one's seq") {
    history_store store(path, {});
    auto a = make_event(1);
    auto b = make_event(2);
    b.id = a.id;
    auto results = append_sync(store, {a, b});
    CHECK_FALSE(results[0].duplicate_of);
    CHECK(results[1].duplicate_of == 1u);
    CHECK(store.stats().events == 1);
  }

  SECTION("a repeated id in two appends committed in the same batch is caught") {
    history_store store(path, {});
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future().share();
    store.append({make_event(1)}, [&entered, released](append_results) {
      entered.set_value();
      released.wait();
    });
    entered.get_future().wait();
    // Both are queued while the writer is busy, so the next batch holds both.
    std::promise<append_results> first;
    std::promise<append_results> second;
    auto first_done = first.get_future();
    auto second_done = second.get_future();
    auto b = make_event(11);
    b.id = "shared";
    auto c = make_event(12);
    c.id = "shared";
    store.append({b}, [&first](append_results r) { first.set_value(std::move(r)); });
    store.append({c}, [&second](append_results r) { second.set_value(std::move(r)); });
    release.set_value();
    CHECK_FALSE(first_done.get()[0].duplicate_of);
    CHECK(second_done.get()[0].duplicate_of == 11u);
    CHECK(store.find_seq_by_id("shared") == 11u);
  }

  SECTION("ids stay unique after the database is reopened") {
    {
      history_store store(path, {});
      append_sync(store, {make_event(1), make_event(2)});
    }
    history_store store(path, {});
    auto again = make_event(3);
    again.id = "id-2";
    auto results = append_sync(store, {again});
    CHECK(results[0].duplicate_of == 2u);
    CHECK(store.stats().events == 2);
  }

  SECTION("a reused seq fails that event only, with SQLite's message") {
    history_store store(path, {});
    append_sync(store, {make_event(1)});
    auto clash = make_event(1);
    clash.id = "another-id";
    auto results = append_sync(store, {clash, make_event(2)});
    CHECK_FALSE(results[0].ok);
    CHECK_THAT(results[0].error, Catch::Matchers::Contains("UNIQUE constraint failed"));
    CHECK(results[1].ok);
    CHECK(seqs_of(everything(store)) == std::vector<std::uint64_t>{1, 2});
    CHECK(store.stats().events == 2);
  }
}

TEST_CASE("a_file_database_survives_reopening", "[server][store]") {
  temp_dir dir;
  // Parent directories that do not exist yet are created.
  const std::string path = dir.file("data/rtev/events.db");
  std::string epoch;
  {
    history_store store(path, {});
    epoch = store.epoch();
    CHECK(store.last_seq_at_open() == 0);
    std::vector<stored_event> events;
    for (std::uint64_t seq = 1; seq <= 30; ++seq) {
      events.push_back(make_event(seq, seq % 2 ? "room:odd" : "", "t",
                                  base_time_us + static_cast<std::int64_t>(seq) * 1000));
    }
    append_sync(store, events);
  }
  REQUIRE(fs::exists(path));

  history_store store(path, {});

  SECTION("the epoch is kept") {
    CHECK(epoch.size() == 16);
    CHECK(epoch.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(store.epoch() == epoch);
  }
  SECTION("seq continues from the last one committed") {
    CHECK(store.last_seq_at_open() == 30);
    auto s = store.stats();
    CHECK(s.events == 30);
    CHECK(s.first_seq == 1);
    CHECK(s.last_seq == 30);
    append_sync(store, {make_event(31)});
    CHECK(store.stats().last_seq == 31);
  }
  SECTION("the events and their contents are all there") {
    auto page = everything(store);
    REQUIRE(page.events.size() == 30);
    CHECK(page.events[0].room == "room:odd");
    CHECK(page.events[1].room.empty());
    CHECK(page.events[29].json == make_event(30, "", "t").json);
  }
  SECTION("ids_since lists the ids at or after an instant, in seq order") {
    auto ids = store.ids_since(base_time_us + 28 * 1000);
    REQUIRE(ids.size() == 3);
    CHECK(ids[0] == std::make_pair(std::string("id-28"), std::uint64_t{28}));
    CHECK(ids[2] == std::make_pair(std::string("id-30"), std::uint64_t{30}));
    CHECK(store.ids_since(base_time_us).size() == 30);
  }
}

TEST_CASE("a_memory_database_keeps_nothing", "[server][store]") {
  std::string first_epoch;
  {
    history_store store(":memory:", {});
    first_epoch = store.epoch();
    append_sync(store, {make_event(1)});
    CHECK(store.stats().events == 1);
  }
  history_store store(":memory:", {});
  CHECK(store.epoch().size() == 16);
  CHECK(store.epoch() != first_epoch);
  CHECK(store.last_seq_at_open() == 0);
  CHECK(store.stats().events == 0);
  CHECK(everything(store).events.empty());
  CHECK_FALSE(fs::exists(":memory:"));
}

TEST_CASE("the_destructor_commits_pending_appends", "[server][store]") {
  temp_dir dir;
  const std::string path = dir.file("events.db");
  std::atomic<int> completed{0};
  {
    history_store store(path, {});
    for (std::uint64_t seq = 1; seq <= 2500; ++seq) {
      store.append({make_event(seq)}, [&completed](append_results r) {
        if (r.at(0).ok) ++completed;
      });
    }
  }
  CHECK(completed == 2500);
  history_store store(path, {});
  CHECK(store.stats().events == 2500);
  CHECK(store.last_seq_at_open() == 2500);
}

TEST_CASE("retention_by_count_keeps_the_newest_events", "[server][store]") {
  temp_dir dir;
  const std::string path = dir.file("events.db");
  retention_policy keep_100;
  keep_100.max_events = 100;

  SECTION("excess events are removed oldest first, in chunks, and recorded across reopen") {
    {
      history_store store(path, keep_100);
      // 2500 events: more than two retention chunks to remove.
      for (std::uint64_t first = 1; first <= 2500; first += 500) {
        std::vector<stored_event> events;
        for (std::uint64_t seq = first; seq < first + 500; ++seq) events.push_back(make_event(seq));
        store.append(std::move(events), nullptr);
      }
      store.prune_now();
      auto s = store.stats();
      CHECK(s.events == 100);
      CHECK(s.first_seq == 2401);
      CHECK(s.last_seq == 2500);
      CHECK(s.pruned_through == 2400);
      CHECK(s.pruned_before_us == make_event(2400).time_us + 1);
      auto page = everything(store);
      REQUIRE(page.events.size() == 100);
      CHECK(page.events.front().seq == 2401);
    }
    history_store store(path, keep_100);
    auto s = store.stats();
    CHECK(s.events == 100);
    CHECK(s.first_seq == 2401);
    CHECK(s.pruned_through == 2400);
    CHECK(s.pruned_before_us == make_event(2400).time_us + 1);
    CHECK(store.last_seq_at_open() == 2500);
  }

  SECTION("retention runs by itself between batches") {
    history_store store(path, keep_100);
    std::vector<stored_event> events;
    for (std::uint64_t seq = 1; seq <= 150; ++seq) events.push_back(make_event(seq));
    append_sync(store, events);
    // The writer runs a retention chunk right after the first batch's completions, so it
    // has finished by the time the next batch completes.
    append_sync(store, {make_event(151)});
    CHECK(store.stats().pruned_through >= 50);
    store.prune_now();
    CHECK(store.stats().events == 100);
    CHECK(store.stats().first_seq == 52);
  }

  SECTION("seq continues upward even when retention removed every event") {
    retention_policy keep_none;
    keep_none.max_events = 0;
    {
      history_store store(path, keep_none);
      append_sync(store, {make_event(1), make_event(2), make_event(3)});
      store.prune_now();
      CHECK(store.stats().events == 0);
      CHECK(store.stats().first_seq == 0);
    }
    history_store store(path, keep_none);
    CHECK(store.last_seq_at_open() == 3);
    CHECK(store.stats().pruned_through == 3);
  }
}

TEST_CASE("retention_by_age_drops_old_events", "[server][store]") {
  temp_dir dir;
  const std::string path = dir.file("events.db");
  retention_policy one_hour;
  one_hour.max_age = std::chrono::hours(1);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::int64_t two_hours_ago = now - 2 * 3600 * 1'000'000LL;

  // 1500 old events (more than one chunk) and 10 fresh ones.
  std::vector<stored_event> events;
  for (std::uint64_t seq = 1; seq <= 1500; ++seq) {
    events.push_back(make_event(seq, "r", "t", two_hours_ago + static_cast<std::int64_t>(seq)));
  }
  for (std::uint64_t seq = 1501; seq <= 1510; ++seq)
    events.push_back(make_event(seq, "r", "t", now));

  SECTION("events older than max_age are removed and recorded across reopen") {
    {
      history_store store(path, one_hour);
      append_sync(store, events);
      store.prune_now();
      auto s = store.stats();
      CHECK(s.events == 10);
      CHECK(s.first_seq == 1501);
      CHECK(s.pruned_through == 1500);
      CHECK(s.pruned_before_us == two_hours_ago + 1500 + 1);
      CHECK(seqs_of(everything(store)).front() == 1501);
    }
    history_store store(path, one_hour);
    auto s = store.stats();
    CHECK(s.events == 10);
    CHECK(s.pruned_through == 1500);
    CHECK(s.pruned_before_us == two_hours_ago + 1500 + 1);
    CHECK(store.last_seq_at_open() == 1510);
  }

  SECTION("a store opened with max_age removes what expired while it was closed") {
    {
      history_store store(path, {});
      append_sync(store, events);
    }
    history_store store(path, one_hour);
    store.prune_now();
    CHECK(store.stats().events == 10);
    CHECK(store.stats().pruned_through == 1500);
  }
}

TEST_CASE("an_unusable_database_path_is_a_config_error", "[server][store]") {
  temp_dir dir;
  using Catch::Matchers::Contains;
  using Catch::Matchers::StartsWith;

  SECTION("a path in /proc fails when the store is constructed") {
    CHECK_THAT(open_error("/proc/x.db"), StartsWith("cannot open history database '/proc/x.db': "));
    CHECK_THAT(open_error("/proc/rtev/x.db"),
               StartsWith("cannot open history database '/proc/rtev/x.db': cannot create directory "
                          "'/proc/rtev'"));
  }
  SECTION("a parent that is a regular file names the directory") {
    std::ofstream(dir.file("plain")) << "x";
    const std::string path = dir.file("plain/events.db");
    CHECK_THAT(open_error(path), StartsWith("cannot open history database '" + path + "': ") &&
                                     Contains("Not a directory"));
  }
  SECTION("a file that is not a database gives SQLite's reason") {
    const std::string path = dir.file("notes.txt");
    std::ofstream(path) << std::string(4096, 'x');
    CHECK(open_error(path) ==
          "cannot open history database '" + path + "': file is not a database");
  }
  SECTION("a write-protected file or directory is refused, not opened read-only") {
    const std::string db_path = dir.file("events.db");
    { history_store store(db_path, {}); }
    REQUIRE(chmod(db_path.c_str(), 0444) == 0);
    const std::string locked_dir = dir.file("locked");
    fs::create_directory(locked_dir);
    REQUIRE(chmod(locked_dir.c_str(), 0555) == 0);
    REQUIRE(chmod(dir.path().c_str(), 0755) == 0);
    // Root ignores file modes: check as an unprivileged user in a child process.
    auto errors = run_in_child([&] {
      if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return std::string("setuid failed");
      return open_error(db_path) + "\n" + open_error(locked_dir + "/events.db");
    });
    CHECK_THAT(errors, StartsWith("cannot open history database '" + db_path +
                                  "': the file is read-only\n"));
    CHECK_THAT(errors, Contains("cannot open history database '" + locked_dir + "/events.db': ") &&
                           Contains("Permission denied"));
  }
}

TEST_CASE("acknowledged_events_survive_kill_9", "[server][store]") {
  temp_dir dir;
  const std::string path = dir.file("events.db");
  constexpr std::uint64_t total = 3000;

  int acked[2];
  REQUIRE(pipe(acked) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(acked[0]);
    try {
      history_store store(path, {});
      std::promise<bool> last;
      auto last_done = last.get_future();
      for (std::uint64_t seq = 1; seq <= total; seq += 100) {
        std::vector<stored_event> events;
        for (std::uint64_t s = seq; s < seq + 100; ++s) events.push_back(make_event(s));
        history_store::completion done;
        if (seq + 100 > total) {
          done = [&last](append_results r) {
            last.set_value(std::all_of(r.begin(), r.end(), [](const auto& x) { return x.ok; }));
          };
        }
        store.append(std::move(events), std::move(done));
      }
      // Completions run in order: the last one means every batch is committed.
      const char* message = last_done.get() ? "acked\n" : "failed\n";
      ssize_t unused = write(acked[1], message, std::strlen(message));
      (void)unused;
      for (;;) pause();  // killed here, the store never closed
    } catch (const std::exception& e) {
      ssize_t unused = write(acked[1], e.what(), std::strlen(e.what()));
      (void)unused;
    }
    _exit(1);
  }
  close(acked[1]);
  std::string message;
  char c;
  while (read(acked[0], &c, 1) == 1 && c != '\n') message += c;
  close(acked[0]);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(message == "acked");
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  history_store store(path, {});
  CHECK(store.last_seq_at_open() == total);
  CHECK(store.stats().events == total);
  auto page = everything(store);
  REQUIRE(page.events.size() == total);
  CHECK(page.events.back().json == make_event(total).json);
}

TEST_CASE("a_failed_commit_is_reported_and_the_store_keeps_running", "[server][store]") {
  temp_dir dir;
  const std::string path = dir.file("events.db");
  // A file size limit stands in for a full disk; it is process-wide, hence the child.
  auto report = run_in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);  // writes past the limit fail with EFBIG instead
    history_store store(path, {});
    append_sync(store, {make_event(1)});
    rlimit original{};
    getrlimit(RLIMIT_FSIZE, &original);
    rlimit tight = original;
    tight.rlim_cur = 256 * 1024;
    setrlimit(RLIMIT_FSIZE, &tight);
    std::vector<stored_event> big;
    for (std::uint64_t seq = 2; seq <= 4000; ++seq) big.push_back(make_event(seq));
    auto failed = append_sync(store, big);
    setrlimit(RLIMIT_FSIZE, &original);
    auto after = append_sync(store, {make_event(5000)});
    std::string out;
    out += failed.front().ok ? "first:ok" : "first:failed";
    out += failed.back().ok ? ",last:ok" : ",last:failed";
    out += ",error:" + failed.front().error;
    out += after[0].ok ? ",after:ok" : ",after:failed " + after[0].error;
    out += ",events:" + std::to_string(store.stats().events);
    out += ",pending:" + std::to_string(store.stats().pending);
    out += ",stored:" + std::to_string(everything(store).events.size());
    return out;
  });
  INFO(report);
  CHECK_THAT(report, Catch::Matchers::StartsWith("first:failed,last:failed,error:"));
  CHECK_FALSE(Catch::Matchers::StartsWith("first:failed,last:failed,error:,").match(report));
  CHECK_THAT(report, Catch::Matchers::EndsWith(",after:ok,events:2,pending:0,stored:2"));
}

TEST_CASE("concurrent_appends_and_queries_stay_consistent", "[server][store]") {
  temp_dir dir;
  std::string path;
  SECTION("with a file database (writer and reader connections)") {
    path = dir.file("events.db");
  }
  SECTION("with an in-memory database (one shared connection)") {
    path = ":memory:";
  }

  history_store store(path, {});
  constexpr int writers = 4;
  constexpr std::uint64_t per_writer = 400;
  std::atomic<std::uint64_t> next_seq{0};
  std::atomic<int> writers_left{writers};
  std::atomic<std::uint64_t> failures{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::uint64_t sent = 0;
      while (sent < per_writer) {
        std::vector<stored_event> events;
        for (std::uint64_t i = 0; i < 1 + sent % 5 && sent < per_writer; ++i, ++sent) {
          events.push_back(make_event(++next_seq, "room:" + std::to_string(w)));
        }
        store.append(std::move(events), [&failures](append_results r) {
          for (const auto& x : r) {
            if (!x.ok || x.duplicate_of) ++failures;
          }
        });
      }
      --writers_left;
    });
  }

  // Queries while the writers run: pages are ordered, and counters never go backwards.
  std::uint64_t queries = 0;
  std::uint64_t last_events = 0;
  bool ordered = true;
  bool monotonic = true;
  while (writers_left > 0 || queries < 20) {
    history_query q;
    q.rooms = {"room:*"};
    q.limit = 50;
    q.after_seq = queries * 7 % 1000;
    auto page = store.query(q);
    for (std::size_t i = 1; i < page.events.size(); ++i) {
      if (page.events[i - 1].seq >= page.events[i].seq) ordered = false;
    }
    auto s = store.stats();
    if (s.events < last_events) monotonic = false;
    last_events = s.events;
    store.find_seq_by_id("id-1");
    ++queries;
  }
  for (auto& t : threads) t.join();
  store.flush();

  CHECK(ordered);
  CHECK(monotonic);
  CHECK(failures == 0);
  const std::uint64_t total = writers * per_writer;
  auto s = store.stats();
  CHECK(s.events == total);
  CHECK(s.last_seq == total);
  CHECK(s.pending == 0);
  auto page = everything(store);
  REQUIRE(page.events.size() == total);
  std::set<std::uint64_t> seen;
  for (const auto& e : page.events) seen.insert(e.seq);
  CHECK(seen.size() == total);
  CHECK(*seen.rbegin() == total);
  for (int w = 0; w < writers; ++w) {
    history_query q;
    q.rooms = {"room:" + std::to_string(w)};
    q.limit = 10'000;
    CHECK(store.query(q).events.size() == per_writer);
  }
}

TEST_CASE("history_store_keeps_the_wal_small_under_steady_appends", "[server][history][wal]") {
  // On a small disk a WAL that grows to SQLite's default checkpoint threshold (4 MB) fills the
  // disk before it is ever checkpointed; the store checkpoints past 1 MB and truncates to 1 MB.
  temp_dir dir;
  const std::string path = dir.file("events.db");
  history_store store(path, {});
  std::uintmax_t largest_wal = 0;
  std::uint64_t seq = 0;
  for (int batch = 0; batch < 30; ++batch) {
    std::vector<stored_event> events;
    for (int i = 0; i < 200; ++i) {
      stored_event e = make_event(++seq);
      e.json.resize(1000, ' ');
      events.push_back(std::move(e));
    }
    for (const auto& r : append_sync(store, std::move(events))) REQUIRE(r.ok);
    std::error_code ec;
    largest_wal = std::max(largest_wal, fs::file_size(path + "-wal", ec));
  }
  INFO("largest WAL: " << largest_wal << " bytes after " << seq << " events of 1 KB");
  CHECK(largest_wal > 0);
  CHECK(largest_wal <= 2u * 1024 * 1024);
  CHECK(store.health().ok);
  CHECK(store.health().failed_writes == 0);
  CHECK(everything(store).events.size() == seq);
}

TEST_CASE("history_store_reports_a_full_disk_once_and_recovers_by_itself",
          "[server][history][storage]") {
  temp_dir dir;
  const std::string mnt = dir.file("small");
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) {
    WARN("SKIPPED: cannot mount a tmpfs to fill (" << std::strerror(errno)
                                                   << "); this test needs root, as in CI");
    return;
  }
  struct unmount {
    std::string dir;
    ~unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount_later{mnt};

  std::mutex m;  // guards reports
  std::vector<std::pair<bool, std::string>> reports;
  std::promise<void> recovered;
  history_store store(mnt + "/events.db", {});
  store.set_health_listener([&](bool ok, const std::string& error) {
    std::lock_guard<std::mutex> lock(m);
    reports.emplace_back(ok, error);
    if (ok && reports.size() == 2) recovered.set_value();
  });
  REQUIRE(append_sync(store, {make_event(1)}).at(0).ok);

  // Fill the file system.
  const std::string filler = mnt + "/filler";
  {
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    const std::string chunk(64 * 1024, 'x');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    ::close(fd);
  }
  // 1 KB events until a batch fails; every later failure of the episode is not reported again.
  std::uint64_t seq = 1;
  std::size_t failed_batches = 0;
  for (int i = 0; i < 400 && failed_batches < 3; ++i) {
    std::vector<stored_event> events;
    for (int j = 0; j < 20; ++j) {
      stored_event e = make_event(++seq);
      e.json.resize(1000, ' ');
      events.push_back(std::move(e));
    }
    const auto results = append_sync(store, std::move(events));
    if (!results.at(0).ok) ++failed_batches;
  }
  REQUIRE(failed_batches == 3);
  const auto failing = store.health();
  CHECK_FALSE(failing.ok);
  CHECK(failing.last_error.find("full") != std::string::npos);
  CHECK(failing.failing_since_us > 0);
  CHECK(failing.failed_writes >= 3);
  {
    std::lock_guard<std::mutex> lock(m);
    REQUIRE(reports.size() == 1);
    CHECK_FALSE(reports[0].first);
    CHECK(reports[0].second.find("full") != std::string::npos);
  }

  // Space comes back: the writer's probe notices without any append.
  fs::remove(filler);
  REQUIRE(recovered.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(store.health().ok);
  CHECK(store.health().last_error == failing.last_error);
  {
    std::lock_guard<std::mutex> lock(m);
    CHECK(reports.size() == 2);
  }
  CHECK(append_sync(store, {make_event(++seq)}).at(0).ok);
}
