#!/usr/bin/python3
"""End-to-end: Ctrl-C (SIGINT) and SIGTERM end every command that connects promptly, in every
phase (issue 11): while connecting to a server that never answers the upgrade, while backing off
between attempts to a port nothing listens on, while reading (following events, reading stdin,
pacing a publish), and `health --wait`. Interrupted, a command exits 130 (SIGINT) or 143
(SIGTERM); `tail`/`subscribe` without --count, once following, end with 0 as documented, and a
--count that was not met is never success. Every signal is sent once the process has said (-v)
that it reached the phase; "promptly" is well under the 3 s after which the process would end
anyway.
usage: e2e_signals.py RTEV_BINARY"""
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Blackhole, Suite, free_port  # noqa: E402

t = Suite("signals")
srv = t.server()
URL = srv.url
DOWN = f"ws://127.0.0.1:{free_port()}/events/ws/connect"
PROMPT = 2.5  # seconds from the signal to the exit; the fallback exit comes at 3 s
CODE = {signal.SIGINT: 130, signal.SIGTERM: 143}


def interrupt(b, phase_line, sig, wait_out=None):
    """Waits until the process reports the phase (a stderr line, or stdout via wait_out), sends
    sig, and returns (reached, Result, seconds from the signal to the exit)."""
    reached = b.wait_out(wait_out, 15) if wait_out else b.wait_err(phase_line, 15)
    sent = b.signal(sig) if reached else None
    r = b.finish(15)
    took = time.monotonic() - sent if sent else float("inf")
    return reached, r, took


def test_connecting():
    hole = Blackhole()
    hung = f"ws://127.0.0.1:{hole.port}/events/ws/connect"
    rec = t.write("one.jsonl", json.dumps({"type": "x", "timestamp": "2024-01-15T10:00:00Z", "timezone": "UTC",
                                           "data": {}}) + "\n")
    cases = [("tail", ("tail",), signal.SIGINT),
             ("tail --count 1", ("tail", "--count", "1"), signal.SIGTERM),
             ("subscribe", ("subscribe", "lobby"), signal.SIGINT),
             ("publish", ("publish", "x", "{}", "--room", "r"), signal.SIGINT),
             ("replay", ("replay", rec), signal.SIGTERM),
             ("connect", ("connect",), signal.SIGINT),
             ("tail --protocol sse", ("tail", "--protocol", "sse"), signal.SIGINT)]
    for label, url in (("a server that never answers the upgrade", hung), ("a port nothing listens on", DOWN)):
        for name, args, sig in cases:
            b = t.bg(*args, "--url", url, "--connect-timeout", "30s", "-v", keep_stdin=True)
            reached, r, took = interrupt(b, "rtev: connecting to", sig)
            t.check(f"{name}, connecting to {label}: {signal.Signals(sig).name} ends it promptly with "
                    f"{CODE[sig]}, saying so", reached and r.rc == CODE[sig] and took < PROMPT
                    and "interrupted by " + signal.Signals(sig).name in r.err, (took, r))
    hole.close()


def test_backoff():
    b = t.bg("tail", "--url", DOWN, "--connect-timeout", "30s", "-v")
    reached, r, took = interrupt(b, "reconnecting in", signal.SIGINT)
    t.check("tail waiting to retry (backoff) before it ever connected: SIGINT ends it promptly with 130",
            reached and r.rc == 130 and took < PROMPT, (took, r))


def test_health_wait():
    for label, url in (("a port nothing listens on", DOWN),):
        b = t.bg("health", "--url", url, "--wait", "30s", "-v")
        reached, r, took = interrupt(b, "not healthy yet", signal.SIGINT)
        t.check(f"health --wait 30s against {label}: SIGINT ends it promptly with 130",
                reached and r.rc == 130 and took < PROMPT, (took, r))
    hole = Blackhole()
    b = t.bg("health", "--url", f"ws://127.0.0.1:{hole.port}/events/ws/connect", "--wait", "30s", "-v")
    reached, r, took = interrupt(b, "rtev: checking", signal.SIGTERM)
    t.check("health --wait 30s against a server that never answers (mid-request): SIGTERM ends it "
            "promptly with 143", reached and r.rc == 143 and took < PROMPT, (took, r))
    hole.close()


def test_reading():
    for sig in (signal.SIGINT, signal.SIGTERM):
        b = t.bg("tail", "--url", URL, "--type", "never_sent", "--count", "5", "--timeout", "60s", "-v")
        reached, r, took = interrupt(b, "rtev: ready", sig)
        t.check(f"tail --count 5 following, {signal.Signals(sig).name} with the count unmet: exit {CODE[sig]} "
                "(never success), saying how far it got", reached and r.rc == CODE[sig] and took < PROMPT
                and "0 of 5 events" in r.err, (took, r))
    b = t.bg("tail", "--url", URL, "-v")
    reached, r, took = interrupt(b, "rtev: ready", signal.SIGINT)
    t.check("tail without --count, following: SIGINT ends it with 0 (the documented way to stop it)",
            reached and r.rc == 0 and took < PROMPT, (took, r))
    b = t.bg("subscribe", "lobby", "--url", URL, "-v")
    reached, r, took = interrupt(b, "rtev: ready", signal.SIGTERM)
    t.check("subscribe without --count, following: SIGTERM ends it with 0", reached and r.rc == 0 and took < PROMPT,
            (took, r))

    b = t.bg("connect", URL, keep_stdin=True)
    reached, r, took = interrupt(b, None, signal.SIGINT, wait_out=lambda o: '"authenticated"' in o)
    t.check("connect waiting for input on stdin: SIGINT ends it promptly with 130",
            reached and r.rc == 130 and took < PROMPT, (took, r))

    b = t.bg("publish", "--url", URL, "paced", "{}", "--room", "r", "--count", "100", "--rate", "1/s", "-v")
    reached, r, took = interrupt(b, "event 1 (paced) stored", signal.SIGINT)
    t.check("publish --count 100 --rate 1/s between two events: SIGINT ends it promptly with 130, "
            "saying how far it got", reached and r.rc == 130 and took < PROMPT and "1 of 100" in r.err,
            (took, r))
    stored = [e for e in srv.history() if e["type"] == "paced"]
    t.check("… and only what it had sent is stored", 1 <= len(stored) <= 2, stored)

    rec = t.write("loop.jsonl", "".join(json.dumps({"type": "looped", "room": "loop", "timestamp": ts,
                                                    "timezone": "UTC", "data": {}}) + "\n"
                                        for ts in ("2024-01-15T10:00:00Z", "2024-01-15T10:00:01Z")))
    b = t.bg("replay", "--url", URL, rec, "--loop", "-v")
    reached, r, took = interrupt(b, "stored as seq", signal.SIGTERM)
    t.check("replay --loop, publishing: SIGTERM ends it promptly with 0 (a loop has no end of its own)",
            reached and r.rc == 0 and took < PROMPT, (took, r))


def test_second_signal():
    hole = Blackhole()
    b = t.bg("tail", "--url", f"ws://127.0.0.1:{hole.port}/events/ws/connect", "--count", "1", "-v")
    reached = b.wait_err("rtev: connecting to", 15)
    if reached:
        b.signal(signal.SIGINT)
        b.signal(signal.SIGINT)
    r = b.finish(15)
    t.check("two Ctrl-C in a row: exit 130 (the second ends it at once if the first has not yet)",
            reached and r.rc == 130, r)
    hole.close()


def after_ctrl_c(screen):
    """What the terminal showed after the echoed ^C (bytes), or None without one."""
    at = screen.rfind(b"^C")
    return None if at < 0 else screen[at + 2:]


def test_clean_line_after_ctrl_c():
    """Ctrl-C typed on the terminal the command runs on: the terminal echoes `^C` where the cursor
    is; what follows — the exit message, and the shell's prompt after the exit — starts on a line
    of its own, at column 0."""
    srv.post({"type": "clean_line", "room": "cl", "data": {"n": 1}})
    term = t.terminal("tail", "--url", URL, "--room", "cl", "--since", "beginning")
    shown = term.wait_for(b'{"n":1}\r\n', 15)
    term.type(b"\x03")
    rc = term.finish()
    t.check("tail (pretty, on its terminal), Ctrl-C: exit 0 and the line after ^C is ended, nothing "
            "glued to it", shown and rc == 0 and after_ctrl_c(term.screen) == b"\r\n", (rc, term.screen))

    term = t.terminal("tail", "--url", URL, "--room", "cl", "--since", "beginning", "--count", "5")
    shown = term.wait_for(b'{"n":1}\r\n', 15)
    term.type(b"\x03")
    rc = term.finish()
    rest = after_ctrl_c(term.screen)
    t.check("tail --count 5, Ctrl-C: the exit message starts a line of its own after ^C (not '^Crtev: …') "
            "and the screen ends at column 0 for the prompt",
            shown and rc == 130 and rest is not None and rest.startswith(b"\r\nrtev: interrupted by SIGINT")
            and rest.endswith(b"\r\n"), (rc, term.screen))

    term = t.terminal("tail", "--url", URL, "--room", "cl", "--since", "beginning", "--count", "5")
    shown = term.wait_for(b'{"n":1}\r\n', 15)
    term.p.send_signal(signal.SIGTERM)
    rc = term.finish()
    t.check("SIGTERM from another process (nothing echoed, the cursor at column 0): no blank line added, "
            "the message follows the last event line directly",
            shown and rc == 143 and b'{"n":1}\r\nrtev: interrupted by SIGTERM' in term.screen
            and term.screen.endswith(b"\r\n"), (rc, term.screen))

    term = t.terminal("publish", "--url", URL, "progress", "{}", "--room", "cl", "--count", "100", "--rate", "2/s")
    shown = term.wait_for(b"rtev: published", 15)
    term.type(b"\x03")
    rc = term.finish()
    rest = after_ctrl_c(term.screen)
    t.check("publish drawing its progress line, Ctrl-C: the line with the progress and ^C is ended before "
            "the exit message, which starts at column 0; the screen ends at column 0",
            shown and rc == 130 and rest is not None and rest.startswith(b"\r\n") and b"^Crtev" not in term.screen
            and b"\nrtev: interrupted by SIGINT" in rest and rest.endswith(b"\r\n"), (rc, term.screen))

    term = t.terminal("serve", "--port", "0", "--db", ":memory:")
    shown = term.wait_for(b"RTEV_URL=", 15) and term.wait_for(b"\r\n", 5)
    term.type(b"\x03")
    rc = term.finish()
    rest = after_ctrl_c(term.screen)
    t.check("rtev serve on its terminal, Ctrl-C: exit 0 and the ^C line is ended for the prompt",
            shown and rc == 0 and rest is not None and rest.startswith(b"\r\n") and rest.endswith(b"\r\n"),
            (rc, term.screen))


for fn in (test_connecting, test_backoff, test_health_wait, test_reading, test_second_signal,
           test_clean_line_after_ctrl_c):
    t.section(fn)
t.finish()
