#!/usr/bin/python3
"""End-to-end: `rtev connect` typed at a real terminal (a pty that is the process's controlling
terminal, as in a shell): the prompt, Tab completion of /commands and their arguments, history
recalled with Up and kept in $XDG_STATE_HOME/rtev/connect_history, events arriving while a line
is half typed (the line survives and is sent whole), Ctrl-D and Ctrl-C giving the terminal back
as it was, an unusable history file (one warning, the session goes on), RTEV_HISTORY_FILE, and
no editing when stdin is not a terminal. Waits on the terminal's output with deadlines.
usage: e2e_connect_editing.py RTEV_BINARY"""
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Server, Suite, _die_with_parent, strip_ansi  # noqa: E402

t = Suite("connect_editing")
srv = t.server()
URL = srv.url
HISTORY = os.path.join(t.state_home, "rtev", "connect_history")
UP, CTRL_U, CTRL_D, CTRL_C, TAB = "\x1b[A", "\x15", "\x04", "\x03", "\t"


class Terminal:
    """`rtev connect` on a pty (stdin, stdout and stderr, 80x24): type() sends keys, wait()
    reads what the program writes until a predicate holds or the deadline passes."""

    def __init__(self, *args, env=None, stdin=None):
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.cooked = termios.tcgetattr(self.slave)
        slave = self.slave

        def become_session_leader():
            _die_with_parent()
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)  # Ctrl-C on it sends SIGINT

        self.p = subprocess.Popen([t.rtev, "connect", *args], env=env or t.env(),
                                  stdin=stdin if stdin is not None else slave, stdout=slave,
                                  stderr=slave, preexec_fn=become_session_leader)
        t.cleanups.append(self.close)
        self.buf = b""
        self.mark = 0

    def type(self, keys):
        self.mark = len(self.buf)  # wait() looks at what comes after
        os.write(self.master, keys.encode())

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: nobody has the terminal open any more
            return False
        self.buf += data
        return bool(data)

    def text(self, since=None):
        return self.buf[self.mark if since is None else since:].decode(errors="replace")

    def wait(self, pred, timeout=10, since=None):
        """Waits until pred(output since the last type(), or since `since`) holds."""
        if isinstance(pred, str):
            needle = pred
            pred = lambda x: needle in x  # noqa: E731
        deadline = time.monotonic() + timeout
        while not pred(self.text(since)):
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                return pred(self.text(since))
        return True

    def answered(self, needle, timeout=10):
        """Waits for `needle` and then the prompt drawn again after it. Keys typed before that
        may reach a terminal still in cooked mode between two lines, where Ctrl-D is the line
        discipline's end-of-file, not a key for the editor (as at a shell's prompt)."""
        return self.wait(lambda x: needle in x and "rtev> " in strip_ansi(x[x.index(needle):]),
                         timeout)

    def exit_code(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.p.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        # Everything it wrote is in the terminal's buffer by now (the test holds the slave
        # side open, so reading never ends by itself): take what is there.
        while self.p.poll() is not None and select.select([self.master], [], [], 0)[0]:
            if not self._read(0):
                break
        return self.p.poll()

    def tty_restored(self):
        """Whether the terminal's modes are the ones it had before rtev started."""
        now = termios.tcgetattr(self.slave)
        return now[:6] == self.cooked[:6]

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def history_lines():
    with open(HISTORY) as f:
        return f.read().splitlines()


def test_completion_history_and_events_while_typing():
    term = Terminal(URL)
    t.check("on a terminal connect says it is connected, then shows the prompt 'rtev> '",
            term.wait(lambda x: "/help" in x and x.rstrip().endswith("rtev>"), since=0), term.text(0))

    term.type("/su" + TAB)
    t.check("Tab completes '/su' to '/sub '", term.wait("b "), term.text())
    term.type("lobby\r")
    t.check("… and the completed line is sent: the SUBSCRIBE ACK comes",
            term.wait('"op":"SUBSCRIBE"'), term.text())

    term.type("/uns" + TAB + TAB)
    t.check("Tab completes /unsub, then the room joined ('lobby')", term.wait("lobby "), term.text())
    term.type("\r")
    t.check("… and /unsub lobby is acknowledged", term.wait('"op":"UNSUBSCRIBE"'), term.text())

    term.type(UP + UP + "\r")
    t.check("Up, Up, Enter sends '/sub lobby' again (its SUBSCRIBE ACK comes)",
            term.wait('"op":"SUBSCRIBE"'), term.text())

    term.type("/" + TAB)
    listed = ["/history", "/ping", "/pub", "/quit", "/typing", "/unsub"]
    t.check("Tab on '/' lists every command above the prompt, which is drawn again with '/'",
            term.wait(lambda x: all(c in x for c in listed) and strip_ansi(x).rstrip().endswith("rtev> /")),
            term.text())
    term.type(CTRL_U + "/pub message_se" + TAB)
    t.check("Tab completes an event type from the catalog ('message_se' → 'message_sent ')",
            term.wait("nt "), term.text())

    term.type('{"text":"half')
    term.wait("half")
    p = t.run("publish", "--url", URL, "from_elsewhere", '{"n":7}', "--room", "lobby")
    redrawn = 'rtev> /pub message_sent {"text":"half'
    ok = term.wait(lambda x: "from_elsewhere" in x and redrawn in x[x.find("from_elsewhere"):])
    t.check("an event arriving while a line is half typed is printed above it, and the prompt "
            "and the half-typed line are drawn again below it", p.rc == 0 and ok, term.text())
    term.type(' typed"} lobby\r')
    ok = term.wait('"op":"PUBLISH"')
    stored = [e["data"] for e in srv.history("lobby") if e["type"] == "message_sent"]
    t.check("… finishing the line sends it whole: the event stored is the one typed",
            ok and stored == [{"text": "half typed"}], (stored, term.text()))

    term.type("   \r/ping\r")
    term.wait('"PONG"')
    term.type("/ping\r")
    term.answered('"PONG"')
    term.type(CTRL_D)
    rc = term.exit_code()
    t.check("Ctrl-D on an empty line ends the session with exit 0, the terminal as it was",
            rc == 0 and term.tty_restored(), (rc, term.text(0)[-2000:]))
    t.check("the history file has the lines typed, in order, without blank lines or a repeated one",
            history_lines() == ["/sub lobby", "/unsub lobby", "/sub lobby",
                                '/pub message_sent {"text":"half typed"} lobby', "/ping"],
            history_lines())
    mode = os.stat(HISTORY).st_mode & 0o777
    t.check("… readable by its owner only (it may hold tokens)", mode == 0o600, oct(mode))

    term = Terminal(URL)
    term.wait("rtev> ", since=0)
    term.type(UP + UP + "\r")
    ok = term.wait('"op":"PUBLISH"')
    stored = [e["data"] for e in srv.history("lobby") if e["type"] == "message_sent"]
    t.check("a new session recalls the last one's lines: Up, Up, Enter publishes the same event again",
            ok and stored == [{"text": "half typed"}] * 2, (stored, term.text(0)))
    term.type("/sub lobby\r")
    term.wait('"op":"SUBSCRIBE"')
    term.type("/ty" + TAB + TAB + TAB + TAB)
    t.check("Tab completes /typing, then the room joined, then 'o', then lists on and off",
            term.wait(lambda x: "ping " in x and "lobby " in x and "off  on" in x), term.text())
    term.type("n\r")
    t.check("… and '/typing lobby on' is acknowledged", term.wait('"op":"TYPING_START"'), term.text())
    term.type(CTRL_C)
    rc = term.exit_code()
    t.check("Ctrl-C ends it with 130 (interrupted by SIGINT), the terminal as it was",
            rc == 130 and "interrupted by SIGINT" in term.text(0) and term.tty_restored(),
            (rc, term.text(0)[-1500:]))


def test_prompt_follows_the_connection():
    first = Server(t)
    port = first.port
    term = Terminal(first.url)
    term.wait("rtev> ", since=0)
    term.type("/pi")
    term.wait("/pi")
    first.stop()
    ok = term.wait(lambda x: "connection lost" in x and "rtev (reconnecting)> /pi" in x, timeout=15)
    t.check("the connection lost: the note is printed above the line, the prompt says "
            "'rtev (reconnecting)> ' and the half-typed line is kept", ok, term.text())
    mark = len(term.buf)
    Server(t, port=port)
    ok = term.wait(lambda x: "rtev> /pi" in x, since=mark, timeout=20)
    t.check("… connected again: the prompt is 'rtev> ' again", ok, term.text(mark))
    term.type("ng\r")
    ok = term.answered('"PONG"')
    term.type(CTRL_D)
    t.check("… and the line typed across the reconnect is sent whole", ok and term.exit_code() == 0,
            term.text())


def test_history_is_capped():
    os.makedirs(os.path.dirname(HISTORY), exist_ok=True)
    with open(HISTORY, "w") as f:
        f.writelines(f"/history room-{i}\n" for i in range(1500))
    term = Terminal(URL)
    term.wait("rtev> ", since=0)
    term.type(UP)
    ok = term.wait("room-1499")
    term.type(CTRL_U + CTRL_D)
    rc = term.exit_code()
    lines = history_lines()
    t.check("a history of 1500 lines is cut to the newest 1000 when a session starts",
            ok and rc == 0 and len(lines) == 1000 and lines[0] == "/history room-500"
            and lines[-1] == "/history room-1499", (ok, rc, len(lines), lines[:1], lines[-1:], term.text(0)))


def test_unusable_history_file():
    blocker = t.path("not-a-dir")
    open(blocker, "w").close()
    term = Terminal(URL, env=t.env(RTEV_HISTORY_FILE=os.path.join(blocker, "history")))
    term.wait("rtev> ", since=0)
    term.type("/ping\r")
    ok = term.answered('"PONG"')
    term.type(CTRL_D)
    rc = term.exit_code()
    out = strip_ansi(term.text(0))
    warnings = [l for l in out.splitlines() if "history" in l and l.startswith("rtev:")]
    t.check("a history file that cannot be created: one warning line, and the session works",
            ok and rc == 0 and len(warnings) == 1 and "not-a-dir" in warnings[0], out)

    directory = t.path("a-directory")
    os.makedirs(directory)
    term = Terminal(URL, env=t.env(RTEV_HISTORY_FILE=directory))
    term.wait("rtev> ", since=0)
    term.type("/ping\r")
    ok = term.wait('"PONG"')
    term.type("/ping \r")
    ok = ok and term.answered('"PONG"')
    term.type(CTRL_D)
    rc = term.exit_code()
    out = strip_ansi(term.text(0))
    warnings = [l for l in out.splitlines() if "cannot write the history file" in l]
    t.check("a history file that cannot be written: one warning however many lines are typed",
            ok and rc == 0 and len(warnings) == 1, out)


def test_history_disabled():
    if os.path.exists(HISTORY):
        os.remove(HISTORY)
    term = Terminal(URL, env=t.env(RTEV_HISTORY_FILE=""))
    term.wait("rtev> ", since=0)
    term.type("/ping\r")
    ok = term.answered('"PONG"')
    term.type(CTRL_D)
    rc = term.exit_code()
    t.check("RTEV_HISTORY_FILE= (empty) keeps no history file",
            ok and rc == 0 and not os.path.exists(HISTORY), term.text(0))

    path = t.path("my-history")
    term = Terminal(URL, env=t.env(RTEV_HISTORY_FILE=path))
    term.wait("rtev> ", since=0)
    term.type("/ping\r")
    ok = term.answered('"PONG"')
    term.type(CTRL_D)
    rc = term.exit_code()
    t.check("RTEV_HISTORY_FILE=PATH keeps it there", ok and rc == 0 and open(path).read() == "/ping\n",
            term.text(0))


def test_no_editing_without_a_terminal():
    if os.path.exists(HISTORY):
        os.remove(HISTORY)
    r, w = os.pipe()
    os.write(w, b"/ping\n")
    os.close(w)
    term = Terminal(URL, stdin=r)
    os.close(r)
    rc = term.exit_code()
    out = term.text(0)
    t.check("stdin a pipe, stdout a terminal: no prompt, no history, the line is sent as today",
            rc == 0 and '"PONG"' in out and "rtev>" not in out and not os.path.exists(HISTORY),
            out)

    term = Terminal(URL, env=t.env(TERM="dumb"))
    term.wait("/help", since=0)
    term.type("/ping\n")
    ok = term.wait('"PONG"')
    term.type(CTRL_D)
    rc = term.exit_code()
    t.check("TERM=dumb: lines are read as typed, without a prompt", ok and rc == 0 and "rtev>" not in term.text(0),
            term.text(0))


for fn in (test_completion_history_and_events_while_typing, test_prompt_follows_the_connection,
           test_history_is_capped,
           test_unusable_history_file, test_history_disabled, test_no_editing_without_a_terminal):
    t.section(fn)
t.finish()
