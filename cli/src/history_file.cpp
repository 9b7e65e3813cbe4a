#include "history_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

namespace rtev::cli {

std::string connect_history_path() {
  if (const char* f = std::getenv("RTEV_HISTORY_FILE")) return f;
  std::string base;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x)
    base = x;
  else if (const char* h = std::getenv("HOME"); h && *h)
    base = std::string(h) + "/.local/state";
  else
    return {};
  return base + "/rtev/connect_history";
}

history_file::history_file(std::string path, std::size_t max_lines,
                           std::function<void(const std::string&)> warn)
    : path_(std::move(path)), max_lines_(max_lines), warn_(std::move(warn)) {}

void history_file::warn_once(const std::string& what) {
  writable_ = false;
  if (warned_) return;
  warned_ = true;
  if (warn_) warn_(what + "; this session's lines are not saved");
}

std::vector<std::string> history_file::load() {
  std::vector<std::string> out;
  if (path_.empty()) return out;
  const std::filesystem::path p(path_);
  if (p.has_parent_path()) {
    std::error_code ec;
    // The history may hold tokens (an `authenticate` line): only its owner may read it.
    if (std::filesystem::create_directories(p.parent_path(), ec))
      std::filesystem::permissions(p.parent_path(), std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, ec);
    if (ec) {
      warn_once("cannot create " + p.parent_path().string() + " for the history: " + ec.message());
      return out;
    }
  }
  std::ifstream in(path_);
  if (!in) {
    if (errno != ENOENT)
      warn_once("cannot read the history file " + path_ + ": " + std::strerror(errno));
    return out;
  }
  std::deque<std::string> kept;
  std::size_t stored = 0;
  for (std::string line; std::getline(in, line);) {
    ++stored;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    kept.push_back(std::move(line));
    if (kept.size() > max_lines_) kept.pop_front();
  }
  out.assign(kept.begin(), kept.end());
  if (!out.empty()) last_ = out.back();
  if (stored <= max_lines_) return out;
  // Cut back to the newest lines: written beside the file, then renamed over it, so a session
  // killed halfway leaves the old file whole.
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::string text;
  for (const auto& l : out) text += l + '\n';
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  if (ok && std::rename(tmp.c_str(), path_.c_str()) == 0) return out;
  const std::string why = std::strerror(ok ? errno : saved);
  std::remove(tmp.c_str());
  warn_once("cannot rewrite the history file " + path_ + ": " + why);
  return out;
}

namespace {
// "/unsub lobby " (as Tab leaves it) is kept as "/unsub lobby".
std::string trimmed(const std::string& line) {
  const auto end = line.find_last_not_of(" \t\r");
  return end == std::string::npos ? std::string() : line.substr(0, end + 1);
}
}  // namespace

bool history_file::worth_keeping(const std::string& line) const {
  const std::string t = trimmed(line);
  return !t.empty() && t != last_;
}

std::string history_file::add(const std::string& typed) {
  if (!worth_keeping(typed)) return {};
  std::string line = trimmed(typed);
  last_ = line;
  if (path_.empty() || !writable_) return line;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  const std::string text = line + '\n';
  // One write(): lines from two sessions appending at once do not interleave.
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  if (!ok) warn_once("cannot write the history file " + path_ + ": " + std::strerror(saved));
  return line;
}

}  // namespace rtev::cli
