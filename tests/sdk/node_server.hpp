#pragma once
// A Node test server (tests/interop/node_modules) as a child process of an SDK test: spawned on
// 127.0.0.1, waited for by its first stdout line, its later lines waited for by prefix.
// Compiled into targets that define RTEV_NODE and RTEV_NODE_MODULES.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/rtev_client.hpp"

extern char** environ;

namespace rtev::test {

/// `node SCRIPT args…` as a child process (NODE_PATH: tests/interop/node_modules), ready once
/// its first stdout line gives the port: "LISTENING <port>" or {"ready":true,"port":N}.
/// Killed (SIGKILL) by stop() or the destructor.
class node_server {
 public:
  node_server(const char* script, std::vector<std::string> args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    std::vector<std::string> argv_s = {RTEV_NODE, script};
    for (auto& a : args) argv_s.push_back(a);
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s = {std::string("NODE_PATH=") + RTEV_NODE_MODULES};
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "NODE_PATH=", 10) != 0) env_s.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int rc = posix_spawn(&pid_, RTEV_NODE, &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_fd_ = fds[0];
    if (rc != 0) throw std::runtime_error("cannot spawn node");
    const std::string line = wait_line("");
    if (line.rfind("LISTENING ", 0) == 0) {
      port_ = static_cast<std::uint16_t>(std::stoi(line.substr(10)));
    } else {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("port"))
        throw std::runtime_error(std::string(script) + " did not start: " + line);
      port_ = j["port"].get<std::uint16_t>();
    }
  }
  ~node_server() {
    stop();
    if (out_fd_ >= 0) close(out_fd_);
  }
  node_server(const node_server&) = delete;
  node_server& operator=(const node_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string ws_url(const std::string& path = "") const {
    return "ws://127.0.0.1:" + std::to_string(port_) + path;
  }

  /// Waits for a stdout line starting with `prefix` (after those already returned).
  std::string wait_line(const std::string& prefix, millis timeout = default_timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (std::size_t nl; (nl = buf_.find('\n', scan_)) != std::string::npos;) {
        std::string line = buf_.substr(scan_, nl - scan_);
        scan_ = nl + 1;
        lines_.push_back(line);
        if (line.rfind(prefix, 0) == 0) return line;
      }
      const auto left =
          std::chrono::duration_cast<millis>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        throw std::runtime_error("node server: no line '" + prefix + "…' in time; output:\n" +
                                 buf_);
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const ssize_t n = read(out_fd_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("node server exited; output:\n" + buf_);
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// Every complete line seen so far.
  const std::vector<std::string>& lines() const { return lines_; }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string buf_;
  std::size_t scan_ = 0;
  std::vector<std::string> lines_;
};

}  // namespace rtev::test
