#include "since_last.hpp"

#include <future>

#include "connecting.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"

namespace rtev::cli {

std::optional<std::uint64_t> parse_since_last(const std::string& text) {
  if (text.rfind("last:", 0) != 0) return std::nullopt;
  const std::string digits = text.substr(5);
  const bool whole = !digits.empty() && digits.size() <= 7 &&
                     digits.find_first_not_of("0123456789") == std::string::npos;
  const std::uint64_t n = whole ? std::stoull(digits) : 0;
  if (n < 1 || n > max_since_last)
    throw usage_error("--since " + text +
                      ": expected last: and a whole number of events from 1 to " +
                      std::to_string(max_since_last) + " (one history page)");
  return n;
}

std::uint64_t seq_before_last(const more_than_fn& more_than) {
  if (!more_than(0)) return 0;
  // more_than holds below the answer and fails from it on. Find a seq past it by doubling,
  // then halve the interval: about 2·log2(last seq) requests of at most N events each.
  std::uint64_t lo = 0, hi = 1024;
  while (more_than(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    (more_than(mid) ? lo : hi) = mid;
  }
  return hi;
}

std::map<std::string, nlohmann::json> since_last_points(
    const common_options& common, const client_options& opt, std::uint64_t n,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  client_options popt = opt;
  popt.rooms.clear();
  popt.presence = false;  // a look at the history is nobody's news
  popt.recover = false;
  client probe(popt);
  connect_or_exit(probe, common, deadline);
  const std::string flag = "--since last:" + std::to_string(n);
  std::map<std::string, nlohmann::json> points;
  for (const auto& room : opt.rooms) {
    std::string about = flag;
    about.append(": history of '").append(room).append("'");
    const std::uint64_t seq = seq_before_last([&](std::uint64_t since) {
      auto f = probe.history(room, since == 0 ? nlohmann::json("beginning") : nlohmann::json(since),
                             nullptr, n);
      if (f.wait_for(common.connect_timeout_ms) != std::future_status::ready)
        throw command_failure(exit_error, about + ": no answer within " + common.connect_timeout);
      try {
        return f.get().next.has_value();
      } catch (const request_error& e) {
        throw command_failure(exit_error, about + ": " + e.what());
      }
    });
    debug(common,
          about + ": starting " +
              (seq == 0 ? std::string("at the beginning") : "after seq " + std::to_string(seq)));
    points[room] = seq == 0 ? nlohmann::json("beginning") : nlohmann::json(seq);
  }
  probe.stop();
  return points;
}

}  // namespace rtev::cli
