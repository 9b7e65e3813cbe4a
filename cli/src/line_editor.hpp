#pragma once
// Line editing for `rtev connect` when a person types at a terminal: libedit's emacs keys
// (arrows, Ctrl-A/E/K/U/W, Ctrl-R search; ~/.editrc applies), a prompt, Tab completion through
// a callback, and history recalled with Up and kept in a history_file.
//
// libedit (Debian's libedit-dev, BSD-licensed) is used through its native API in its
// "unbuffered" mode: next() waits in poll() for a key, a signal (interrupt_fd()) or output, and
// hands libedit one key at a time, so the reader never blocks inside the library.
//
// Output: while an editor is open, what is written to std::cout (and std::cerr when it is the
// terminal too) in whole lines appears above the input line: the prompt and what was typed so
// far are erased, the lines written, then both drawn again. Writers on other threads queue
// their lines and wake the reader, which does the drawing: libedit is only ever called from
// the reader thread.
//
// Thread safety: construct, next(), set_completer(), close() and destroy on one thread (the
// reader); set_prompt() and writing to std::cout / std::cerr from any thread. One line_editor
// at a time (it takes over the terminal and std::cout / std::cerr).

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rtev::cli {

class line_editor {
 public:
  /// The candidates for the word being completed: `before` is the line before that word (""
  /// for the first word), `word` what is typed of it. Candidates that do not start with `word`
  /// are dropped. Runs on the reader thread, inside next().
  using completer =
      std::function<std::vector<std::string>(const std::string& before, const std::string& word)>;

  /// Whether stdin and stdout are both terminals that can be edited on (TERM set, not "dumb").
  static bool wanted();

  /// Takes std::cout / std::cerr over; the terminal is only put in raw mode by next().
  /// `history_path` empty: no history file. `warn` says a problem with it (one line).
  line_editor(std::string prompt, std::string history_path,
              std::function<void(const std::string&)> warn);
  /// Gives the terminal, std::cout and std::cerr back (output still queued is written).
  ~line_editor();
  line_editor(const line_editor&) = delete;
  line_editor& operator=(const line_editor&) = delete;

  /// The next line typed (without '\n'); false at Ctrl-D on an empty line or when the terminal
  /// goes away. Lines worth keeping go into the history. Throws interrupted on SIGINT/SIGTERM,
  /// with the terminal already given back.
  bool next(std::string& line);

  /// The prompt from now on (redrawn at once when shown). Any thread.
  void set_prompt(std::string prompt);

  void set_completer(completer c);

  /// Gives the terminal back (cooked mode, the cursor on a fresh line); output goes straight
  /// out from then on. next() returns false afterwards. Idempotent.
  void close();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace rtev::cli
