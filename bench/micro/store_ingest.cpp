// Micro-benchmark for issue 12's ingest target, the store alone: how many events per second
// history_store commits to a file database, and the CPU each costs, with WINDOW appends of one
// event in flight (as WINDOW publishes waiting for their ACK: a completion frees a slot) — no
// network, no parsing, no service thread. The events look like `rtev bench`'s: one room,
// server-made ids (UUID v7), about 400 bytes of envelope.
//
// Usage: rtev_store_bench [--window N] [--events N] [--dir DIRECTORY]
//   (defaults: 80 = rtev bench's 4 publishers × window 20; 30000; a fresh directory in /tmp)
// Prints one line: events/s, and CPU µs per event of the process and of the writer thread
// (the process minus the appending thread). docs/performance.md §8 has figures.

#include <rtev/event.hpp>

#include <sys/resource.h>
#include <time.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "history_store.hpp"

namespace {

using rtev::server_lite::history_store;
using rtev::server_lite::stored_event;

double seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

double process_cpu() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(r.ru_utime) + s(r.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  long window = 80;
  long events = 30000;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--window") == 0) {
      window = std::atol(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--events") == 0) {
      events = std::atol(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--dir") == 0) {
      dir = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: rtev_store_bench [--window N] [--events N] [--dir DIR]\n");
      return 2;
    }
  }
  if (window < 1 || events < 1) return 2;
  namespace fs = std::filesystem;
  const bool own_dir = dir.empty();
  if (own_dir) {
    char templ[] = "/tmp/rtev-store-bench-XXXXXX";
    if (!mkdtemp(templ)) return 1;
    dir = templ;
  }
  fs::create_directories(dir);
  const std::string path = (fs::path(dir) / "events.db").string();
  fs::remove(path);
  fs::remove(path + "-wal");
  fs::remove(path + "-shm");

  const std::string data = "{\"bench_t\":1765054800000000,\"p\":\"" + std::string(160, 'x') + "\"}";
  double wall = 0, cpu = 0, appender_cpu = 0;
  {
    history_store store(path, {});
    std::mutex m;
    std::condition_variable freed;
    long in_flight = 0;  // guarded by m
    const double wall0 = seconds(CLOCK_MONOTONIC);
    const double cpu0 = process_cpu();
    const double appender0 = seconds(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 1; i <= events; ++i) {
      {
        std::unique_lock<std::mutex> lock(m);
        freed.wait(lock, [&] { return in_flight < window; });
        ++in_flight;
      }
      stored_event e;
      e.seq = static_cast<std::uint64_t>(i);
      e.id = rtev::make_event_id();
      e.type = "bench";
      e.room = "bench-0";
      e.time_us = 1765054800000000 + i;
      e.json = "{\"data\":" + data + ",\"id\":\"" + e.id +
               "\",\"room\":\"bench-0\",\"seq\":" + std::to_string(i) +
               ",\"timestamp\":\"2026-12-06T21:00:00.000000Z\",\"timezone\":\"UTC\","
               "\"type\":\"bench\"}";
      std::vector<stored_event> batch;
      batch.push_back(std::move(e));
      store.append(std::move(batch), [&](std::vector<history_store::append_result> results) {
        if (results.empty() || !results[0].ok) {
          std::fprintf(stderr, "rtev_store_bench: an append failed\n");
          std::abort();
        }
        std::lock_guard<std::mutex> lock(m);
        --in_flight;
        freed.notify_one();
      });
    }
    store.flush();
    wall = seconds(CLOCK_MONOTONIC) - wall0;
    cpu = process_cpu() - cpu0;
    appender_cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - appender0;
  }
  if (own_dir) fs::remove_all(dir);
  const double n = static_cast<double>(events);
  std::printf("window=%ld events=%ld events/s=%.0f cpu_us/event process=%.2f writer=%.2f\n", window,
              events, n / wall, cpu / n * 1e6, (cpu - appender_cpu) / n * 1e6);
  return 0;
}
