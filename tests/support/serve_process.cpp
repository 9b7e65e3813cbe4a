#include "tests/support/serve_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace rtev::test {

namespace {

int remaining_ms(steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<millis>(deadline - steady::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// The current environment with `extra` ("NAME=value") added or replacing variables.
std::vector<std::string> environment(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string var = *e;
    const std::string name = var.substr(0, var.find('='));
    bool replaced = false;
    for (const auto& x : extra) replaced = replaced || x.substr(0, x.find('=')) == name;
    if (!replaced) out.push_back(var);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

// Spawns rtev with stdin from /dev/null, stdout to `out_fd` and stderr to `err_fd`.
pid_t spawn(std::vector<std::string> args, const std::vector<std::string>& env, int out_fd,
            int err_fd) {
  args.insert(args.begin(), rtev_binary());
  std::vector<std::string> envs = environment(env);
  std::vector<char*> argv = c_strings(args);
  std::vector<char*> envp = c_strings(envs);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("posix_spawn " + args[0] + ": " + std::strerror(rc));
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string rtev_binary() {
  return RTEV_BINARY;
}

process_result run_rtev(const std::vector<std::string>& args, millis timeout,
                        const std::vector<std::string>& env) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = spawn(args, env, out[1], err[1]);
  ::close(out[1]);
  ::close(err[1]);
  process_result r;
  const auto deadline = steady::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    const int n = ::poll(fds, 2, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(got));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

serve_process::serve_process(std::vector<std::string> args, std::vector<std::string> env,
                             millis timeout) {
  args.insert(args.begin(), "serve");
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const std::string err_path = dir_.file("stderr.log");
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (err_fd < 0) throw std::runtime_error("cannot create " + err_path);
  try {
    pid_ = spawn(args, env, out[1], err_fd);
  } catch (...) {
    ::close(out[0]);
    ::close(out[1]);
    ::close(err_fd);
    throw;
  }
  ::close(out[1]);
  ::close(err_fd);
  out_fd_ = out[0];

  const auto deadline = steady::now() + timeout;
  const std::string prefix = "RTEV_URL=";
  for (;;) {
    const auto nl = out_.find('\n');
    if (nl != std::string::npos) {
      ready_line_ = out_.substr(0, nl);
      break;
    }
    pollfd p{out_fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    char buf[4096];
    const ssize_t got = n > 0 ? ::read(out_fd_, buf, sizeof buf) : 0;
    if (got <= 0) {
      const bool exited = n > 0;
      kill_now();
      ::close(out_fd_);
      out_fd_ = -1;
      throw std::runtime_error(std::string("rtev serve ") +
                               (exited ? "exited before it was ready" : "was not ready in time") +
                               "; stderr:\n" + stderr_text());
    }
    out_.append(buf, static_cast<std::size_t>(got));
  }
  const auto colon = ready_line_.rfind(':');
  const auto slash = ready_line_.find('/', colon);
  if (ready_line_.rfind(prefix, 0) != 0 || colon == std::string::npos ||
      slash == std::string::npos) {
    kill_now();
    ::close(out_fd_);
    out_fd_ = -1;
    throw std::runtime_error("unexpected ready line '" + ready_line_ + "'");
  }
  port_ = static_cast<std::uint16_t>(std::stoul(ready_line_.substr(colon + 1, slash - colon - 1)));
}

serve_process::~serve_process() {
  if (running()) kill_now();
  if (out_fd_ >= 0) ::close(out_fd_);
}

void serve_process::send_signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> serve_process::wait_exit(millis timeout) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  // The child's exit closes its end of the stdout pipe: wait for that, then reap.
  const auto deadline = steady::now() + timeout;
  while (out_fd_ >= 0) {
    pollfd p{out_fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return std::nullopt;
    char buf[4096];
    const ssize_t got = ::read(out_fd_, buf, sizeof buf);
    if (got > 0) {
      out_.append(buf, static_cast<std::size_t>(got));
      continue;
    }
    ::close(out_fd_);
    out_fd_ = -1;
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = decode_status(status);
  return status_;
}

void serve_process::kill_now() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = decode_status(status);
}

std::string serve_process::stderr_text() const {
  std::ifstream f(dir_.file("stderr.log"));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace rtev::test
