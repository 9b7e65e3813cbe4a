#include "line_editor.hpp"

#include <fcntl.h>
#include <histedit.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <clocale>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <cwchar>
#include <iostream>
#include <mutex>
#include <streambuf>
#include <utility>

#include "history_file.hpp"
#include "interrupts.hpp"

namespace rtev::cli {

namespace {

// Lines kept in the history, in memory and in the file.
constexpr std::size_t history_lines = 1000;

// SIGCONT (`fg` after Ctrl-Z): libedit's own handler puts the terminal back in raw mode but
// does not draw the line again, then passes the signal on to the handler it found — this one,
// which wakes the reader to redraw. Async-signal-safe: a flag and a write().
volatile std::sig_atomic_t continued = 0;
volatile std::sig_atomic_t continued_wake_fd = -1;

extern "C" void on_sigcont(int) {
  const int saved = errno;
  continued = 1;
  if (continued_wake_fd >= 0) {
    const char byte = 'c';
    [[maybe_unused]] const ssize_t n = ::write(continued_wake_fd, &byte, 1);
  }
  errno = saved;
}

void write_all(int fd, const std::string& text) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the terminal went away: nothing more can be shown
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

// Columns a character takes as libedit draws it: control characters as ^X, others by wcwidth.
std::size_t char_width(wchar_t c) {
  if (c < 0x20 || c == 0x7f) return 2;
  const int w = ::wcwidth(c);
  return w < 0 ? 4 : static_cast<std::size_t>(w);  // unprintable: \ooo
}

std::size_t width_of(const wchar_t* from, const wchar_t* to) {
  std::size_t w = 0;
  for (; from < to; ++from) w += char_width(*from);
  return w;
}

std::size_t width_of(const std::string& s) {
  std::mbstate_t st{};
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size();) {
    wchar_t c = 0;
    const std::size_t n = std::mbrtowc(&c, s.data() + i, s.size() - i, &st);
    if (n == 0 || n > s.size() - i) {  // invalid or cut short: a byte, one column
      st = {};
      ++i;
      ++w;
      continue;
    }
    i += n;
    w += char_width(c);
  }
  return w;
}

// A terminal in raw mode does not turn '\n' into "\r\n" for us.
std::string crlf(const std::string& text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string common_prefix(const std::vector<std::string>& words) {
  std::string p = words.front();
  for (const auto& w : words) {
    std::size_t i = 0;
    while (i < p.size() && i < w.size() && p[i] == w[i]) ++i;
    p.resize(i);
  }
  return p;
}

}  // namespace

// What stands between the program's output and the terminal while the editor is open.
class terminal_buf : public std::streambuf {
 public:
  terminal_buf(line_editor::impl& ed, int fd) : ed_(ed), fd_(fd) {}

 protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;

 private:
  line_editor::impl& ed_;
  int fd_;
};

struct line_editor::impl {
  impl(std::string prompt, std::string history_path, std::function<void(const std::string&)> warn)
      : history(std::move(history_path), history_lines, std::move(warn)),
        shown_prompt(prompt),
        wanted_prompt(std::move(prompt)) {}

  // --- the reader thread only ---
  EditLine* el = nullptr;
  History* hist = nullptr;
  history_file history;
  completer complete;
  std::string shown_prompt;  // what libedit draws (prompt_fn)
  bool closed = false;
  int wake[2] = {-1, -1};  // [1] written by writers on other threads, [0] polled by next()
  terminal_buf out_buf{*this, 1}, err_buf{*this, 2};
  std::streambuf* old_out = nullptr;
  std::streambuf* old_err = nullptr;
  termios saved_tty{};  // the terminal as we found it, put back at once on a signal
  bool have_saved_tty = false;
  std::unique_ptr<interrupt_hook> on_signal;
  struct sigaction old_sigcont {};

  // --- shared with writers ---
  std::mutex mutex;  // guards everything below; held while the reader draws
  std::string wanted_prompt;
  bool showing = false;  // the prompt and the input are on screen, libedit has the terminal raw
  std::vector<std::pair<int, std::string>> queued;  // whole lines waiting to be drawn
  std::string partial[3];                           // by fd: text after the last '\n'
  bool closed_for_writers = false;                  // after close(): output goes straight out

  void write(int fd, const char* s, std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex);
    if (closed_for_writers) {
      write_all(fd, std::string(s, n));
      return;
    }
    std::string& part = partial[fd];
    part.append(s, n);
    const auto nl = part.rfind('\n');
    if (nl == std::string::npos) return;
    std::string lines = part.substr(0, nl + 1);
    part.erase(0, nl + 1);
    if (!showing) {
      write_all(fd, lines);
      return;
    }
    queued.emplace_back(fd, std::move(lines));
    if (queued.size() == 1) poke();
  }

  void poke() {
    const char byte = 'x';
    [[maybe_unused]] const ssize_t n = ::write(wake[1], &byte, 1);
  }

  // Moves the cursor from where libedit left it to the first column of the prompt's row and
  // clears from there down. Mutex held, showing.
  void erase() {
    const LineInfoW* li = el_wline(el);
    const std::size_t before = width_of(shown_prompt) + width_of(li->buffer, li->cursor);
    int cols = 0;
    el_get(el, EL_GETTC, "co", &cols);
    std::string seq = "\r";
    if (cols > 0 && before / static_cast<std::size_t>(cols) > 0)
      seq += "\x1b[" + std::to_string(before / static_cast<std::size_t>(cols)) + "A";
    seq += "\x1b[J";
    write_all(1, seq);
  }

  // Draws what writers queued (and a new prompt) above the input line. Reader, via the wake pipe.
  void draw_queued() {
    char drain[64];
    while (::read(wake[0], drain, sizeof drain) > 0) {
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (continued != 0) {
      continued = 0;
      if (showing) {
        // Back from a stop: the shell may have set the terminal its own way while we were
        // stopped (a second Ctrl-Z on the same line stops us without libedit's handler), so
        // raw mode is set again; the cursor is on a fresh row below the shell's messages.
        el_set(el, EL_PREP_TERM, 0);
        el_set(el, EL_PREP_TERM, 1);
        write_all(1, "\r\x1b[J");
        el_set(el, EL_REFRESH);
      }
    }
    if (queued.empty() && wanted_prompt == shown_prompt) return;
    if (showing) erase();
    for (auto& [fd, text] : queued) write_all(fd, showing ? crlf(text) : text);
    queued.clear();
    shown_prompt = wanted_prompt;
    if (showing) el_set(el, EL_REFRESH);
  }

  // Prints the prompt and hands the terminal to libedit (raw mode). Reader.
  void show() {
    std::lock_guard<std::mutex> lock(mutex);
    for (int fd : {1, 2})
      if (!partial[fd].empty()) {
        write_all(fd, partial[fd] + '\n');
        partial[fd].clear();
      }
    for (auto& [fd, text] : queued) write_all(fd, text);
    queued.clear();
    shown_prompt = wanted_prompt;
    el_set(el, EL_UNBUFFERED, 1);  // resets the line, sets the terminal raw, prints the prompt
    showing = true;
  }

  // A line was entered (libedit has moved to the next row): the terminal goes back to cooked
  // mode and output goes straight out until the next show(). Reader.
  void hide() {
    std::lock_guard<std::mutex> lock(mutex);
    el_set(el, EL_UNBUFFERED, 0);
    showing = false;
    for (auto& [fd, text] : queued) write_all(fd, text);
    queued.clear();
  }

  // Tab: completes the word before the cursor; lists the candidates when several remain and
  // none of them can be completed further.
  unsigned char complete_word() {
    if (!complete) return CC_ERROR;
    const LineInfo* li = el_line(el);
    const std::string before(li->buffer, li->cursor);
    const auto space = before.find_last_of(" \t");
    const std::size_t start = space == std::string::npos ? 0 : space + 1;
    const std::string word = before.substr(start);
    std::vector<std::string> found;
    for (auto& c : complete(before.substr(0, start), word))
      if (c.compare(0, word.size(), word) == 0) found.push_back(std::move(c));
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    if (found.empty()) return CC_ERROR;  // a beep
    if (found.size() == 1) {
      el_insertstr(el, (found[0].substr(word.size()) + ' ').c_str());
      return CC_REFRESH;
    }
    const std::string common = common_prefix(found);
    if (common.size() > word.size()) {
      el_insertstr(el, common.substr(word.size()).c_str());
      return CC_REFRESH;
    }
    // Listed above the input line, as output is: columns as wide as the longest candidate.
    int cols = 80;
    el_get(el, EL_GETTC, "co", &cols);
    std::size_t longest = 0;
    for (const auto& c : found) longest = std::max(longest, width_of(c));
    const std::size_t per_row =
        std::max<std::size_t>(1, static_cast<std::size_t>(std::max(cols, 1)) / (longest + 2));
    std::string list;
    for (std::size_t i = 0; i < found.size(); ++i) {
      list += found[i];
      const bool row_end = (i + 1) % per_row == 0 || i + 1 == found.size();
      list += row_end ? std::string("\n") : std::string(longest + 2 - width_of(found[i]), ' ');
    }
    std::lock_guard<std::mutex> lock(mutex);
    erase();
    write_all(1, crlf(list));
    el_set(el, EL_REFRESH);
    return CC_NORM;
  }

  // Puts the cursor on a fresh row below the input and gives the terminal back. Reader.
  void close() {
    if (closed) return;
    closed = true;
    std::lock_guard<std::mutex> lock(mutex);
    if (showing) {
      const LineInfoW* li = el_wline(el);
      const std::size_t p = width_of(shown_prompt);
      int cols = 0;
      el_get(el, EL_GETTC, "co", &cols);
      if (cols > 0) {
        const std::size_t c = static_cast<std::size_t>(cols);
        const std::size_t down = (p + width_of(li->buffer, li->lastchar)) / c -
                                 (p + width_of(li->buffer, li->cursor)) / c;
        if (down > 0) write_all(1, "\x1b[" + std::to_string(down) + "B");
      }
      write_all(1, "\r\n");
      el_set(el, EL_UNBUFFERED, 0);
      showing = false;
    }
    for (auto& [fd, text] : queued) write_all(fd, text);
    queued.clear();
    closed_for_writers = true;
    for (int fd : {1, 2}) {
      write_all(fd, partial[fd]);
      partial[fd].clear();
    }
  }
};

terminal_buf::int_type terminal_buf::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
  const char ch = traits_type::to_char_type(c);
  ed_.write(fd_, &ch, 1);
  return c;
}

std::streamsize terminal_buf::xsputn(const char* s, std::streamsize n) {
  ed_.write(fd_, s, static_cast<std::size_t>(n));
  return n;
}

namespace {

char* prompt_fn(EditLine* el) {
  line_editor::impl* self = nullptr;
  el_get(el, EL_CLIENTDATA, &self);
  return const_cast<char*>(self->shown_prompt.c_str());
}

unsigned char complete_fn(EditLine* el, int) {
  line_editor::impl* self = nullptr;
  el_get(el, EL_CLIENTDATA, &self);
  return self->complete_word();
}

}  // namespace

bool line_editor::wanted() {
  const char* term = std::getenv("TERM");
  // A dumb terminal (Emacs' shell buffer, some CI consoles) cannot move the cursor: typed lines
  // are read as they are, as from a pipe.
  return ::isatty(0) != 0 && ::isatty(1) != 0 && term != nullptr && *term != '\0' &&
         std::strcmp(term, "dumb") != 0;
}

line_editor::line_editor(std::string prompt, std::string history_path,
                         std::function<void(const std::string&)> warn)
    : impl_(std::make_unique<impl>(std::move(prompt), std::move(history_path), std::move(warn))) {
  impl& s = *impl_;
  // libedit reads and shows characters in the locale's encoding; JSON is UTF-8, so a
  // terminal without a locale (LANG unset) is taken to be UTF-8 rather than ASCII. Only
  // LC_CTYPE changes, before any other thread that could use it exists.
  const char* loc = std::setlocale(LC_CTYPE, "");
  if (loc == nullptr || std::strcmp(loc, "C") == 0 || std::strcmp(loc, "POSIX") == 0)
    std::setlocale(LC_CTYPE, "C.UTF-8");

  if (::pipe2(s.wake, O_CLOEXEC | O_NONBLOCK) != 0) s.wake[0] = s.wake[1] = -1;
  s.have_saved_tty = ::tcgetattr(0, &s.saved_tty) == 0;
  // A signal ends the session from next(); should the reader be stuck (a lone Esc waits for
  // the rest of its sequence), the process may end 3 s later: the terminal is back in the
  // mode we found it in by then.
  if (s.have_saved_tty)
    s.on_signal = std::make_unique<interrupt_hook>(
        [tty = s.saved_tty](int) { ::tcsetattr(0, TCSANOW, &tty); });

  continued_wake_fd = s.wake[1];
  struct sigaction sa {};
  sa.sa_handler = on_sigcont;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGCONT, &sa, &s.old_sigcont);

  s.el = el_init("rtev", stdin, stdout, stderr);
  s.hist = history_init();
  HistEvent ev;
  history(s.hist, &ev, H_SETSIZE, static_cast<int>(history_lines));
  history(s.hist, &ev, H_SETUNIQUE, 1);
  for (const auto& line : s.history.load()) history(s.hist, &ev, H_ENTER, line.c_str());

  el_set(s.el, EL_CLIENTDATA, &s);
  el_set(s.el, EL_PROMPT, prompt_fn);
  el_set(s.el, EL_EDITOR, "emacs");
  el_set(s.el, EL_SIGNAL, 1);  // Ctrl-Z, SIGCONT and window resizes are handled by libedit
  el_set(s.el, EL_HIST, history, s.hist);
  // The wide-character call: el_set's narrow EL_ADDFN copies both strings and never frees
  // them (libedit's eln.c says so: "XXX: The two strdup's leak"); these literals live forever.
  el_wset(s.el, EL_ADDFN, L"rtev-complete", L"Complete a /command or its argument", complete_fn);
  el_set(s.el, EL_BIND, "^I", "rtev-complete", nullptr);
  // The keys readline users expect where libedit's emacs map differs, and the keys terminals
  // send for Home, End, Delete and Ctrl-Left/Right.
  el_set(s.el, EL_BIND, "^R", "em-inc-search-prev", nullptr);
  el_set(s.el, EL_BIND, "^W", "ed-delete-prev-word", nullptr);
  el_set(s.el, EL_BIND, "^U", "vi-kill-line-prev", nullptr);
  for (const char* home : {"\\e[1~", "\\e[7~", "\\e[H", "\\eOH"})
    el_set(s.el, EL_BIND, home, "ed-move-to-beg", nullptr);
  for (const char* end : {"\\e[4~", "\\e[8~", "\\e[F", "\\eOF"})
    el_set(s.el, EL_BIND, end, "ed-move-to-end", nullptr);
  el_set(s.el, EL_BIND, "\\e[3~", "ed-delete-next-char", nullptr);
  for (const char* right : {"\\e[1;5C", "\\e[5C", "\\e\\e[C"})
    el_set(s.el, EL_BIND, right, "em-next-word", nullptr);
  for (const char* left : {"\\e[1;5D", "\\e[5D", "\\e\\e[D"})
    el_set(s.el, EL_BIND, left, "ed-prev-word", nullptr);
  el_source(s.el, nullptr);  // the user's ~/.editrc (or $EDITRC) has the last word

  s.old_out = std::cout.rdbuf(&s.out_buf);
  if (::isatty(2)) s.old_err = std::cerr.rdbuf(&s.err_buf);
}

line_editor::~line_editor() {
  impl& s = *impl_;
  close();
  std::cout.rdbuf(s.old_out);
  if (s.old_err) std::cerr.rdbuf(s.old_err);
  s.on_signal.reset();
  el_end(s.el);
  ::sigaction(SIGCONT, &s.old_sigcont, nullptr);
  continued_wake_fd = -1;
  history_end(s.hist);
  for (int fd : s.wake)
    if (fd >= 0) ::close(fd);
}

bool line_editor::next(std::string& line) {
  impl& s = *impl_;
  if (s.closed) return false;
  s.show();
  for (;;) {
    pollfd p[3] = {{0, POLLIN, 0}, {s.wake[0], POLLIN, 0}, {interrupt_fd(), POLLIN, 0}};
    const int n = ::poll(p, p[2].fd >= 0 ? 3 : 2, -1);
    if (interrupt_signal() != 0) {
      close();
      throw_if_interrupted();
    }
    if (n < 0) {
      if (errno == EINTR) continue;  // SIGWINCH, SIGCONT: libedit has redrawn
      close();
      return false;
    }
    if (p[1].revents != 0) s.draw_queued();
    if ((p[0].revents & POLLIN) != 0) {
      int count = 0;
      const char* buf = el_gets(s.el, &count);
      if (buf != nullptr && count > 0 && buf[count - 1] == '\n') {
        line.assign(buf, static_cast<std::size_t>(count - 1));
        s.hide();
        if (const std::string entry = s.history.add(line); !entry.empty()) {
          HistEvent ev;
          history(s.hist, &ev, H_ENTER, entry.c_str());
        }
        return true;
      }
      // Ctrl-D on an empty line: libedit hands back the EOF character alone.
      if (buf != nullptr && count == 1 && buf[0] == '\x04') {
        close();
        return false;
      }
      if (buf != nullptr || (p[0].revents & POLLHUP) == 0) continue;
    }
    if ((p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
      close();  // the terminal went away
      return false;
    }
  }
}

void line_editor::set_prompt(std::string prompt) {
  impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.wanted_prompt == prompt) return;
  s.wanted_prompt = std::move(prompt);
  if (s.showing) s.poke();
}

void line_editor::set_completer(completer c) {
  impl_->complete = std::move(c);
}

void line_editor::close() {
  impl_->close();
}

}  // namespace rtev::cli
