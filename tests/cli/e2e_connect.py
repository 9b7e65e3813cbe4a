#!/usr/bin/python3
"""End-to-end: `rtev connect` driven through a pipe (issue 5 spec): with stdin not a terminal it
reads lines only after the connection is open, sends them (raw JSON, /sub, /unsub, /pub,
/typing, /ping, /history, /quit), prints incoming events and replies, and exits when stdin ends
and the replies are in.
usage: e2e_connect.py RTEV_BINARY"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Server, Suite, free_port  # noqa: E402

t = Suite("connect")
srv = t.server()
URL = srv.url


def messages(text):
    """Every JSON line of connect's output (events and replies, JSONL in a pipe)."""
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def replies(msgs, kind, op=None):
    return [m for m in msgs if m.get("type") == kind and (op is None or m.get("data", {}).get("op") == op)]


def test_pipe_basics():
    r = t.run("connect", URL, input='/sub lobby\n/pub message_sent {"a":1} lobby\n/ping\n', timeout=20)
    msgs = messages(r.out)
    events = [m for m in msgs if m.get("type") == "message_sent"]
    t.check("printf '/sub lobby\\n/pub message_sent {\"a\":1} lobby\\n/ping\\n' | rtev connect URL: exit 0 once the replies are in",
            r.rc == 0 and r.elapsed < 5, r)
    t.check("… shows the SUBSCRIBE and PUBLISH ACKs and the PONG",
            len(replies(msgs, "ACK", "SUBSCRIBE")) == 1 and len(replies(msgs, "ACK", "PUBLISH")) == 1
            and len(replies(msgs, "PONG")) == 1, r)
    t.check("… and the event itself (as a JSON line: stdout is a pipe)",
            len(events) == 1 and events[0]["data"] == {"a": 1} and events[0].get("room") == "lobby", r)
    t.check("… and the event was really stored in lobby", [e["data"] for e in srv.history("lobby")] == [{"a": 1}])

    r = t.run("connect", URL, input='{"type":"PING"}\n/history lobby\n/typing lobby on\n/unsub lobby\n', timeout=20)
    msgs = messages(r.out)
    hist = [m for m in msgs if m.get("type") == "message_sent"]
    t.check("raw JSON lines are sent as they are ({\"type\":\"PING\"} → PONG)", r.rc == 0 and len(replies(msgs, "PONG")) == 1, r)
    t.check("/history ROOM prints the stored events and the ACK",
            len(hist) == 1 and hist[0]["data"] == {"a": 1} and len(replies(msgs, "ACK", "HISTORY")) == 1, r)
    t.check("/typing ROOM on and /unsub ROOM are acknowledged",
            len(replies(msgs, "ACK", "TYPING_START")) == 1 and len(replies(msgs, "ACK", "UNSUBSCRIBE")) == 1, r)

    r = t.run("connect", URL, input='/pub bc_from_connect {"b":2}\n', timeout=20)
    before = [e for e in srv.history() if e["type"] == "bc_from_connect"]
    t.check("/pub TYPE JSON without a ROOM publishes a broadcast",
            r.rc == 0 and len(before) == 1 and "room" not in before[0], (r, before))

    r = t.run("connect", URL, input='/ping\n/quit\n/pub after_quit {} q-room\n', timeout=20)
    t.check("/quit ends the session: later lines are not sent",
            r.rc == 0 and len(replies(messages(r.out), "PONG")) == 1 and srv.history("q-room") == [], r)

    r = t.run("connect", "--url", URL, input="/ping\n", timeout=20)
    r2 = t.run("connect", input="/ping\n", env=t.env(RTEV_URL=URL), timeout=20)
    t.check("connect takes the URL from --url and from RTEV_URL too",
            r.rc == 0 and r2.rc == 0 and len(replies(messages(r.out), "PONG")) == 1
            and len(replies(messages(r2.out), "PONG")) == 1, (r, r2))


def test_reads_after_open():
    # stdin is full before the server exists: the lines must wait for the connection.
    port = free_port()
    b = t.bg("connect", f"ws://127.0.0.1:{port}/events/ws/connect", "--connect-timeout", "15s",
             stdin_data='/sub early\n/pub early_event {"e":1} early\n/ping\n')
    late = Server(t, port=port)
    r = b.finish(30)
    msgs = messages(r.out)
    t.check("connect reads piped lines only once the connection is open (server started after it)",
            r.rc == 0 and len(replies(msgs, "ACK", "SUBSCRIBE")) == 1 and len(replies(msgs, "PONG")) == 1
            and [e["data"] for e in late.history("early")] == [{"e": 1}], r)
    late.stop()


def test_incoming_events():
    watcher = t.bg("connect", URL, keep_stdin=True)
    watcher.send("/sub live-room\n")
    joined = watcher.wait_out(lambda o: any(m.get("data", {}).get("op") == "SUBSCRIBE" for m in messages(o)), 10)
    p = t.run("publish", "--url", URL, "from_elsewhere", '{"x":42}', "--room", "live-room")
    typer = t.run("connect", URL, input="/typing live-room on\n", timeout=20)
    got = watcher.wait_out(lambda o: any(m.get("type") == "from_elsewhere" for m in messages(o))
                           and any(m.get("type") == "typing_indicator" for m in messages(o)), 10)
    watcher.close_stdin()
    r = watcher.finish(20)
    msgs = messages(r.out)
    ev = [m for m in msgs if m.get("type") == "from_elsewhere"]
    ty = [m for m in msgs if m.get("type") == "typing_indicator"]
    t.check("connect prints events published by others to a room it joined",
            joined and p.rc == 0 and got and len(ev) == 1 and ev[0]["data"] == {"x": 42}, r)
    t.check("connect prints another member's typing indicator",
            typer.rc == 0 and len(ty) == 1 and ty[0]["data"].get("is_typing") is True, (typer, r))
    t.check("connect exits 0 when its stdin ends", r.rc == 0, r)


def test_own_refs():
    # Raw JSON that carries its own ref (issue 11): sent, its reply awaited, the exit code says how
    # it went. Before, stdin ended at once and the client stopped before writing them.
    lines = "".join(json.dumps({"type": "PUBLISH", "ref": f"mine-{i}",
                                "data": {"type": "own_ref", "room": "refs", "data": {"i": i}}}) + "\n"
                    for i in range(10))
    r = t.run("connect", URL, input=lines, timeout=30)
    acks = replies(messages(r.out), "ACK", "PUBLISH")
    stored = [e["data"]["i"] for e in srv.history("refs")]
    t.check("10 piped PUBLISH lines with their own refs: all sent and stored, every ACK (with that ref) "
            "printed, exit 0", r.rc == 0 and sorted(stored) == list(range(10))
            and sorted(a.get("ref") for a in acks) == sorted(f"mine-{i}" for i in range(10)), (r, stored))
    r = t.run("connect", URL, input='{"type":"PING","ref":7}\n', timeout=20)
    pongs = replies(messages(r.out), "PONG")
    t.check("a number ref is awaited too (PONG with ref 7, exit 0)", r.rc == 0 and [p.get("ref") for p in pongs] == [7], r)
    line = json.dumps({"type": "PUBLISH", "ref": {"k": "v"}, "data": {"type": "obj_ref", "room": "objref", "data": {}}})
    # A follower of the room sees the event once the server has it (its store commits later).
    ready = t.path("objref.ready")
    b = t.bg("subscribe", "objref", "--url", URL, "--count", "1", "--timeout", "10s", "--ready-file", ready)
    up = b.wait_file(ready, 10)
    r = t.run("connect", URL, input=line + "\n", timeout=20)
    seen = b.finish(15)
    t.check("a ref the server cannot echo (an object): not waited for (a note says why), but sent before "
            "the command ends (a follower gets it), exit 0", up and r.rc == 0 and r.elapsed < 5
            and "a ref is a string or a number" in r.err and seen.rc == 0 and "obj_ref" in seen.out, (r, seen))
    r = t.run("connect", URL, input='{"type":"SUBSCRIBE","ref":"bad","data":{}}\n/ping\n', timeout=20)
    t.check("a piped request the server answers with ERROR: the ERROR is printed, exit 1",
            r.rc == 1 and len(replies(messages(r.out), "ERROR")) == 1 and len(replies(messages(r.out), "PONG")) == 1, r)
    r = t.run("connect", URL, input='/sub lobby\n/history no-such-room\n', timeout=20)
    t.check("/commands whose answers are ACKs: exit 0", r.rc == 0, r)
    r = t.run("connect", URL, input='{"type":"authenticate","data":{"token":"carol"}}\n', timeout=20)
    auths = [m for m in messages(r.out) if m.get("type") == "authenticated"]
    t.check("a piped authenticate waits for its `authenticated` answer (no ref), exit 0",
            r.rc == 0 and r.elapsed < 5 and any(a["data"].get("user_id") == "carol" for a in auths), r)


for fn in (test_pipe_basics, test_reads_after_open, test_incoming_events, test_own_refs):
    t.section(fn)
t.finish()
