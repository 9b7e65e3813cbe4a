#pragma once
// Where the cursor is on the terminals the CLI writes to (stdout, stderr), so that what follows a
// Ctrl-C — the exit message, a summary, the shell's prompt — starts on a line of its own instead
// of being glued to the `^C` the terminal echoed (or to a half-drawn progress line).
//
// track_lines() wraps std::cout's and std::cerr's buffers, for those on a terminal, so every
// write through them is seen: the last character written says whether the cursor is at column 0.
// Writes that bypass the streams (printf) are not seen; the CLI prints only whole lines that way.
// A signal the terminal itself sent (Ctrl-C typed on it: si_code SI_KERNEL) moved the cursor too
// when the terminal echoes control characters (ECHO and ECHOCTL, the default): `^C`.
//
// Thread safety: every function may be called from any thread; note_signal() also from a signal
// handler (it only stores to atomics).

namespace rtev::cli::terminal {

/// Starts tracking std::cout and std::cerr (those on a terminal). Call once, from main, before
/// any other thread writes; later calls do nothing.
void track_lines();

/// A signal arrived; `from_terminal`: the terminal's line discipline sent it (the user typed
/// Ctrl-C or Ctrl-\ there), so it may have echoed `^C`. Async-signal-safe.
void note_signal(bool from_terminal);

/// For a signal handler: ends the line of the `^C` that a signal the terminal sent
/// (`from_terminal`) left on the tracked terminals, with write(2); whether a terminal echoes is as
/// track_lines() found it. Async-signal-safe. For programs whose other output bypasses the streams
/// (rtev serve's log).
void end_echoed_line(bool from_terminal);

/// Ends the current line (writes "\n") on each tracked terminal whose cursor is not at column 0,
/// counting the `^C` echo of a signal noted before. Returns how many newlines it wrote.
int finish_lines();

}  // namespace rtev::cli::terminal
