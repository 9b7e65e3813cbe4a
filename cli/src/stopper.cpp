#include "stopper.hpp"

#include <csignal>
#include <thread>

namespace rtev::cli {

void stop_on_signals(stopper& s) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([&s, set] {
    int sig = 0;
    sigwait(&set, &sig);
    s.finish(0);
  }).detach();
}

}  // namespace rtev::cli
