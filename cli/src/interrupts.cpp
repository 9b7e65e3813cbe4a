#include "interrupts.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include "terminal_line.hpp"

namespace rtev::cli {

namespace {

struct watch_state {
  std::mutex mutex;  // guards hooks, next_id; held while hooks run
  std::condition_variable cv;
  std::map<std::uint64_t, std::function<void(int)>> hooks;
  std::uint64_t next_id = 1;
  std::atomic<int> sig{0};
  int pipe_fds[2] = {-1, -1};  // [0] readable once a signal arrived (one byte, never read)
};

// Never destroyed: the detached watcher may still wake while static destructors run at exit.
watch_state& state() {
  static watch_state* s = new watch_state;
  return *s;
}

// How long a command may take to wind down after a signal before the process ends anyway.
constexpr int grace_seconds = 3;

}  // namespace

void watch_signals() {
  watch_state& s = state();
  if (s.pipe_fds[0] >= 0) return;
  if (::pipe2(s.pipe_fds, O_CLOEXEC) != 0) s.pipe_fds[0] = s.pipe_fds[1] = -1;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    watch_state& st = state();
    siginfo_t info{};
    const int sig = sigwaitinfo(&set, &info);
    if (sig <= 0) return;
    // Before anything else is printed: the `^C` a terminal echoed (Ctrl-C typed on it: the
    // kernel sent the signal) or a half-drawn line is ended, so what follows starts clean.
    terminal::note_signal(info.si_code == SI_KERNEL);
    terminal::finish_lines();
    {
      std::lock_guard<std::mutex> lock(st.mutex);
      st.sig = sig;
      if (st.pipe_fds[1] >= 0) {
        const char byte = 'x';
        [[maybe_unused]] const ssize_t n = ::write(st.pipe_fds[1], &byte, 1);
      }
      st.cv.notify_all();
      for (auto& [id, fn] : st.hooks) fn(sig);
    }
    // The command winds down on its own; a second signal, or one that takes too long (blocked
    // in a DNS lookup, a stuck peer), ends the process now.
    // sigtimedwait returns early with EINTR when the thread is stopped and resumed (LeakSanitizer
    // does that to every thread as the process exits): it waits again for what is left.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(grace_seconds);
    int again = -1;
    for (;;) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      const timespec grace{static_cast<time_t>(ns / 1000000000),
                           static_cast<long>(ns % 1000000000)};
      again = sigtimedwait(&set, nullptr, &grace);
      if (again > 0 || errno != EINTR) break;
    }
    std::_Exit(interrupt_exit_code(again > 0 ? again : sig));
  }).detach();
}

int interrupt_signal() {
  return state().sig.load();
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal " + std::to_string(sig);
  }
}

int interrupt_fd() {
  return state().pipe_fds[0];
}

interrupted::interrupted(int sig, const std::string& context, bool while_connecting)
    : command_failure(interrupt_exit_code(sig), "interrupted by " + signal_name(sig) + context),
      connecting(while_connecting) {}

void throw_if_interrupted(const std::string& context) {
  if (const int sig = interrupt_signal()) throw interrupted(sig, context);
}

void pause_or_interrupt(std::chrono::microseconds d, const std::string& context) {
  watch_state& s = state();
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.cv.wait_for(lock, d, [&] { return s.sig.load() != 0; });
  }
  throw_if_interrupted(context);
}

interrupt_hook::interrupt_hook(std::function<void(int)> fn) {
  watch_state& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  id_ = s.next_id++;
  if (const int sig = s.sig.load()) fn(sig);
  s.hooks.emplace(id_, std::move(fn));
}

interrupt_hook::~interrupt_hook() {
  watch_state& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.hooks.erase(id_);
}

}  // namespace rtev::cli
