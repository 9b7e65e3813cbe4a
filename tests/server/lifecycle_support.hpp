#pragma once
// Helpers for the connection-lifecycle and fault tests: a server process's open fds and RSS
// from /proc, its connection count from /api/stats, and a bounded wait on a condition.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace rtev::test {

/// How many file descriptors process `pid` has open (/proc/PID/fd).
std::size_t open_fds(pid_t pid);
/// Resident set size of process `pid` in KiB (VmRSS in /proc/PID/status); -1 if unreadable.
long rss_kib(pid_t pid);
/// `connections` from GET /api/stats.
std::size_t connections(std::uint16_t port);
/// Polls `done` every 20 ms until it holds or `limit` passes. Returns whether it held.
bool wait_until(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(20));
/// Waits until /api/stats reports exactly `n` connections.
bool wait_for_connections(std::uint16_t port, std::size_t n);

}  // namespace rtev::test
