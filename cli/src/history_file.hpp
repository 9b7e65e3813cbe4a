#pragma once
// The lines typed in `rtev connect`, kept in a plain text file (one line per entry, oldest
// first) so the next session can recall them with Up. Each accepted line is appended at once
// (O_APPEND: two sessions open at the same time both keep theirs, and nothing is lost if the
// process is killed); the file is cut back to the newest `max_lines` when it is loaded.
// A file that cannot be read or written never fails the session: the first problem is handed
// to `warn` (one line), and the history then lives in memory only.
//
// Thread safety: distinct objects: safe; shared objects: unsafe (used by the reader thread).

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace rtev::cli {

/// Where `connect` keeps its history: RTEV_HISTORY_FILE when set (set but empty: nowhere), else
/// ${XDG_STATE_HOME:-~/.local/state}/rtev/connect_history; empty (no history) when neither
/// XDG_STATE_HOME nor HOME is set.
std::string connect_history_path();

class history_file {
 public:
  /// `path` empty: a history that is never read or written.
  history_file(std::string path, std::size_t max_lines,
               std::function<void(const std::string&)> warn);

  /// The stored lines, oldest first, at most max_lines; creates the file's directory, and
  /// rewrites the file with only those lines when it held more.
  std::vector<std::string> load();

  /// Whether `line` is worth keeping: not blank, not the same as the previous entry (trailing
  /// blanks, such as the space Tab leaves, do not count).
  bool worth_keeping(const std::string& line) const;

  /// Records `line` without its trailing blanks, when worth keeping, and returns that entry
  /// (empty: not kept); appends it to the file unless writing failed before.
  std::string add(const std::string& line);

  const std::string& path() const { return path_; }

 private:
  void warn_once(const std::string& what);

  std::string path_;
  std::size_t max_lines_;
  std::function<void(const std::string&)> warn_;
  std::string last_;
  bool warned_ = false;
  bool writable_ = true;
};

}  // namespace rtev::cli
