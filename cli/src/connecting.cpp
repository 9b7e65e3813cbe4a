#include "connecting.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>

#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "interrupts.hpp"

namespace rtev::cli {

std::string certificate_advice(const std::string& problem) {
  // "issued for another name": a CA bundle would not help.
  return problem.find("name") != std::string::npos ? ": connect by that name, or use --insecure"
                                                   : ": use --ca-file FILE or --insecure";
}

void connect_or_exit(client& c, const common_options& opt,
                     std::optional<std::chrono::steady_clock::time_point> deadline) {
  auto fut = c.connected();
  // Woken by the first connected/closed state or by a signal; keeps why attempts failed, for
  // the message when time runs out (not only with -v).
  struct progress {
    std::mutex mutex;  // guards the members
    std::condition_variable cv;
    bool settled = false;
    int signal = 0;
    std::string reason;
  };
  auto p = std::make_shared<progress>();
  auto states = c.on_state([p](const state_info& s) {
    std::lock_guard<std::mutex> lock(p->mutex);
    if (s.state == client_state::reconnecting && !s.reason.empty()) p->reason = s.reason;
    if (s.state == client_state::connected || s.state == client_state::closed) p->settled = true;
    p->cv.notify_all();
  });
  interrupt_hook on_signal([p](int sig) {
    std::lock_guard<std::mutex> lock(p->mutex);
    p->signal = sig;
    p->cv.notify_all();
  });
  debug(opt, "connecting to " + opt.url + " (" + std::string(to_string(opt.protocol)) + ")");
  c.start();
  auto until = std::chrono::steady_clock::now() + opt.connect_timeout_ms;
  if (deadline && *deadline < until) until = *deadline;
  std::unique_lock<std::mutex> lock(p->mutex);
  p->cv.wait_until(lock, until, [&] { return p->settled || p->signal != 0; });
  const int sig = p->signal;
  const bool settled = p->settled;
  const std::string last_reason = p->reason;
  lock.unlock();
  if (sig != 0 && !settled) {
    c.stop();
    throw interrupted(sig, " while connecting to " + opt.url, true);
  }
  if (!settled) {
    c.stop();
    const bool by_deadline =
        deadline && *deadline < std::chrono::steady_clock::now() + opt.connect_timeout_ms;
    const std::string why = last_reason.empty() ? "" : " (last attempt: " + last_reason + ")";
    throw command_failure(exit_connect, "could not connect to " + opt.url +
                                            (by_deadline ? " before the --timeout deadline"
                                                         : " within " + opt.connect_timeout) +
                                            why);
  }
  try {
    fut.get();
  } catch (const request_error&) {
    const state_info s = c.closed().get();
    if (s.auth_failed) {
      // No token at all: say how to give one (a wrong one gets the server's own words).
      throw command_failure(
          exit_auth, s.reason + (s.token_required ? " (give one with --token or RTEV_TOKEN)" : ""));
    }
    if (!s.certificate_problem.empty())
      throw command_failure(exit_connect, "could not connect to " + opt.url + ": " + s.reason +
                                              certificate_advice(s.certificate_problem));
    throw command_failure(exit_connect, "could not connect to " + opt.url + ": " + s.reason);
  }
}

}  // namespace rtev::cli
