#include "terminal_line.hpp"

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <streambuf>

namespace rtev::cli::terminal {

namespace {

// One terminal written to: stdout's, and stderr's when that is another one.
struct tty_state {
  std::ostream* stream = nullptr;  // where a newline for it is written; null: not tracked
  int fd = -1;
  std::atomic<bool> at_line_start{true};  // the shell left the cursor at column 0
  bool echoes = false;                    // echoes a typed Ctrl-C (when tracking began)
};

tty_state out_tty, err_tty;
std::atomic<bool> signal_from_terminal{false};
std::mutex finish_mutex;  // serialises finish_lines (the signal watcher and main may both call)

// Forwards to the stream's own buffer (no buffering of its own, so the order of writes and the
// standard streams' sync with stdio are unchanged) and remembers whether the last character
// written was a newline.
class tracking_buf : public std::streambuf {
 public:
  tracking_buf(std::streambuf* inner, tty_state& tty) : inner_(inner), tty_(tty) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof()))
      return inner_->pubsync() == 0 ? traits_type::not_eof(c) : traits_type::eof();
    // Noted before the write: a line-buffered terminal shows a newline inside sputc, and a
    // signal sent the moment it appears must find the cursor already at column 0.
    tty_.at_line_start = traits_type::to_char_type(c) == '\n';
    return inner_->sputc(traits_type::to_char_type(c));
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n > 0) tty_.at_line_start = s[n - 1] == '\n';  // before the write, as in overflow()
    return inner_->sputn(s, n);
  }
  int sync() override { return inner_->pubsync(); }

 private:
  std::streambuf* inner_;
  tty_state& tty_;
};

bool echoes_ctrl_c(int fd);

void track(std::ostream& stream, int fd, tty_state& tty) {
  tty.stream = &stream;
  tty.fd = fd;
  tty.echoes = echoes_ctrl_c(fd);
  // Never destroyed: the streams are written to until the very end of the process.
  stream.rdbuf(new tracking_buf(stream.rdbuf(), tty));
}

bool same_terminal(int a, int b) {
  struct stat sa {
  }, sb{};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_rdev == sb.st_rdev;
}

// The terminal echoes a typed Ctrl-C as `^C` on itself: it is the process's controlling
// terminal, and echoes control characters visibly.
bool echoes_ctrl_c(int fd) {
  termios t{};
  if (::tcgetattr(fd, &t) != 0) return false;
  return (t.c_lflag & ECHO) && (t.c_lflag & ECHOCTL) && ::tcgetsid(fd) == ::getsid(0);
}

}  // namespace

void track_lines() {
  static std::once_flag once;
  std::call_once(once, [] {
    const bool out = ::isatty(1) != 0, err = ::isatty(2) != 0;
    if (out && err && same_terminal(1, 2)) {
      // One cursor: a newline goes to stderr, where the messages that follow a signal go.
      track(std::cerr, 2, err_tty);
      std::cout.rdbuf(new tracking_buf(std::cout.rdbuf(), err_tty));
      return;
    }
    if (out) track(std::cout, 1, out_tty);
    if (err) track(std::cerr, 2, err_tty);
  });
}

void note_signal(bool from_terminal) {
  if (from_terminal) signal_from_terminal.store(true);
}

void end_echoed_line(bool from_terminal) {
  if (!from_terminal) return;
  for (tty_state* tty : {&out_tty, &err_tty}) {
    if (!tty->stream || !tty->echoes) continue;
    [[maybe_unused]] const ssize_t n = ::write(tty->fd, "\n", 1);
    tty->at_line_start = true;
  }
}

int finish_lines() {
  std::lock_guard<std::mutex> lock(finish_mutex);
  const bool echoed = signal_from_terminal.exchange(false);
  int newlines = 0;
  for (tty_state* tty : {&out_tty, &err_tty}) {
    if (!tty->stream) continue;
    if (tty->at_line_start.load() && !(echoed && echoes_ctrl_c(tty->fd))) continue;
    std::cout.flush();  // what stdout holds goes before the newline
    *tty->stream << '\n' << std::flush;
    tty->at_line_start = true;
    ++newlines;
  }
  return newlines;
}

}  // namespace rtev::cli::terminal
