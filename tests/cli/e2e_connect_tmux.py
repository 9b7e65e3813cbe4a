#!/usr/bin/python3
"""End-to-end: `rtev connect` used as a person would, in a terminal run by tmux (issue 5 spec):
typed lines are sent (/sub, /pub, /ping, /help, /quit), replies and incoming events show up
(events pretty, on a terminal), Ctrl-D ends the session. Reads the screen with capture-pane,
waiting by polling it with a deadline.
usage: e2e_connect_tmux.py RTEV_BINARY   (needs tmux)"""
import os
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite  # noqa: E402

t = Suite("tmux")
TMUX = shutil.which("tmux")
if not TMUX:
    t.check("tmux is installed", False, "tmux not found on PATH")
    t.finish()
SOCK = t.path("tmux.sock")  # a private tmux server, not the user's
srv = t.server()
URL = srv.url


def tmux(*args, check=True):
    p = subprocess.run([TMUX, "-S", SOCK, *args], capture_output=True, text=True, timeout=20,
                       env=t.env(SHELL="/bin/sh"))  # the pane command is POSIX sh
    if check and p.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)}: {p.stderr}")
    return p.stdout


t.cleanups.append(lambda: tmux("kill-server", check=False))


def screen(session):
    return tmux("capture-pane", "-p", "-J", "-S", "-500", "-t", session)


_pane_output = {}  # session -> read end of a FIFO fed by `tmux pipe-pane`


def wait_screen(session, pred, timeout=10):
    """Waits until pred(screen) holds or the deadline passes: the pane's output is piped into a
    FIFO, and the screen is checked again each time the program writes something."""
    deadline = time.monotonic() + timeout
    fd = _pane_output.get(session)
    while True:
        text = screen(session)
        if pred(text):
            return True, text
        left = deadline - time.monotonic()
        if left <= 0:
            return False, text
        if fd is None:  # no more output will come: the screen is final
            text = screen(session)
            return pred(text), text
        ready, _, _ = select.select([fd], [], [], left)
        if ready and not os.read(fd, 65536):
            os.close(fd)  # the pane's writer went away
            fd = _pane_output[session] = None


def watch_output(session):
    """Feeds everything the pane prints into a FIFO that wait_screen() blocks on."""
    fifo = os.path.join(tempfile.mkdtemp(prefix="rtev-tmux-"), "pane")
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    tmux("pipe-pane", "-O", "-t", session, f"cat > {fifo}")
    _pane_output[session] = fd


def start(session, command):
    # After rtev exits the shell prints its exit code and keeps the pane open to be read.
    tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50",
         f"{command}; echo \"[rtev exited $?]\"; exec sleep 600")
    watch_output(session)


def type_line(session, line):
    tmux("send-keys", "-t", session, "-l", line)
    tmux("send-keys", "-t", session, "Enter")


def test_interactive_session():
    s = "typing"
    start(s, f"{shlex.quote(t.rtev)} connect {shlex.quote(URL)}")
    ok, text = wait_screen(s, lambda x: "/help" in x)
    t.check("connect in a terminal says it is connected and how to get help", ok, text)

    type_line(s, "/sub lobby")
    ok, text = wait_screen(s, lambda x: '"op":"SUBSCRIBE"' in x and '"ref"' in x)
    t.check("typed /sub lobby: the ACK shows up", ok, text)

    type_line(s, '/pub message_sent {"hello":"tmux"} lobby')
    ok, text = wait_screen(s, lambda x: '"op":"PUBLISH"' in x and any(
        "message_sent" in l and '{"hello":"tmux"}' in l and not l.lstrip().startswith(("{", "/pub")) for l in x.splitlines()))
    t.check("typed /pub: the ACK and the event show up, the event pretty-printed (a terminal)", ok, text)

    type_line(s, "/ping")
    ok, text = wait_screen(s, lambda x: '"PONG"' in x)
    t.check("typed /ping: PONG shows up", ok, text)

    p = t.run("publish", "--url", URL, "from_another_shell", '{"n":7}', "--room", "lobby")
    ok, text = wait_screen(s, lambda x: any("from_another_shell" in l and '{"n":7}' in l for l in x.splitlines()))
    t.check("an event published elsewhere to the joined room shows up on screen", p.rc == 0 and ok, text)

    type_line(s, "/help")
    ok, text = wait_screen(s, lambda x: "/typing" in x and "/history" in x and "/unsub" in x)
    t.check("typed /help lists the commands", ok, text)

    type_line(s, "/quit")
    ok, text = wait_screen(s, lambda x: "[rtev exited" in x)
    t.check("typed /quit: connect exits 0", ok and "[rtev exited 0]" in text, text)
    t.check("the published event is stored", [e["data"] for e in srv.history("lobby")
                                              if e["type"] == "message_sent"] == [{"hello": "tmux"}])


def test_ctrl_d():
    s = "eof"
    start(s, f"RTEV_URL={shlex.quote(URL)} {shlex.quote(t.rtev)} connect")
    ok, text = wait_screen(s, lambda x: "/help" in x)
    type_line(s, "/ping")
    ok2, text = wait_screen(s, lambda x: '"PONG"' in x)
    tmux("send-keys", "-t", s, "C-d")
    ok3, text = wait_screen(s, lambda x: "[rtev exited" in x)
    t.check("connect with RTEV_URL in a terminal: /ping answered, Ctrl-D ends it with exit 0",
            ok and ok2 and ok3 and "[rtev exited 0]" in text, text)


for fn in (test_interactive_session, test_ctrl_d):
    t.section(fn)
t.finish()
