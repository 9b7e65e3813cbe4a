#!/usr/bin/python3
"""End-to-end: `rtev connect` used as a person would, in a terminal run by tmux (issue 5 spec):
typed lines are sent (/sub, /pub, /ping, /help, /quit), replies and incoming events show up
(events pretty, on a terminal) above the prompt, an event arriving while a line is half typed
leaves that line whole on screen, Ctrl-D ends the session. Reads the screen with capture-pane,
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


def last_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1].rstrip() if lines else ""


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
        "message_sent" in l and '{"hello":"tmux"}' in l and not l.lstrip().startswith(("{", "/pub", "rtev>"))
        for l in x.splitlines()))
    t.check("typed /pub: the ACK and the event show up, the event pretty-printed (a terminal)", ok, text)

    type_line(s, "/ping")
    ok, text = wait_screen(s, lambda x: '"PONG"' in x)
    t.check("typed /ping: PONG shows up", ok, text)

    half = '/pub half_typed {"a":'
    tmux("send-keys", "-t", s, "-l", half)
    ok, text = wait_screen(s, lambda x: last_line(x) == "rtev> " + half)
    p = t.run("publish", "--url", URL, "from_another_shell", '{"n":7}', "--room", "lobby")
    ok, text = wait_screen(s, lambda x: any("from_another_shell" in l and '{"n":7}' in l for l in x.splitlines())
                           and last_line(x) == "rtev> " + half)
    t.check("an event published elsewhere while a line is half typed shows up above the prompt, "
            "the half-typed line whole below it", p.rc == 0 and ok, text)
    type_line(s, "1} lobby")
    ok, text = wait_screen(s, lambda x: x.count('"op":"PUBLISH"') == 2)
    t.check("… finishing the line publishes what was typed",
            ok and [e["data"] for e in srv.history("lobby") if e["type"] == "half_typed"] == [{"a": 1}], text)

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


def test_ctrl_z():
    s = "jobs"
    # An interactive bash, for its job control: Ctrl-Z stops the job, `fg` continues it.
    tmux("new-session", "-d", "-s", s, "-x", "200", "-y", "50",
         "env PS1='bash$ ' HISTFILE=/dev/null bash --norc --noprofile -i")  # no ~/.bash_history
    watch_output(s)
    ok, text = wait_screen(s, lambda x: "bash$" in x)
    type_line(s, f"{shlex.quote(t.rtev)} connect {shlex.quote(URL)}")
    ok, text = wait_screen(s, lambda x: last_line(x) == "rtev>")
    tmux("send-keys", "-t", s, "-l", "/pi")
    ok, text = wait_screen(s, lambda x: last_line(x) == "rtev> /pi")
    tmux("send-keys", "-t", s, "C-z")
    ok, text = wait_screen(s, lambda x: "Stopped" in x and last_line(x) == "bash$")
    t.check("Ctrl-Z while typing stops connect, and the shell is back", ok, text)
    type_line(s, "fg")
    ok, text = wait_screen(s, lambda x: x.count("rtev> /pi") == 2 and last_line(x) == "rtev> /pi")
    t.check("… fg brings it back with the prompt and the half-typed line drawn again", ok, text)
    type_line(s, "ng")
    ok, text = wait_screen(s, lambda x: '"PONG"' in x)
    t.check("… and the line goes on being edited: '/pi' + 'ng' is sent as /ping", ok, text)
    tmux("send-keys", "-t", s, "C-d")
    type_line(s, "echo \"[rtev exited $?]\"")
    ok, text = wait_screen(s, lambda x: "[rtev exited 0]" in x)
    t.check("… Ctrl-D then ends it with 0", ok, text)


for fn in (test_interactive_session, test_ctrl_d, test_ctrl_z):
    t.section(fn)
t.finish()
