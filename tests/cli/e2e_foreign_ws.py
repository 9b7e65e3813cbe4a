#!/usr/bin/python3
"""End-to-end: the rtev CLI against a WebSocket server rtev did not write (issue 11) — a
FastAPI-style server (tests/interop/foreign_ws_server.js, Node `ws`) at
`ws://HOST/events/ws/connect?token=u1` that pushes {type, timestamp (naive), timezone, data}
with no id or seq, answers what it does not know with {"type":"error"} and never sends rtev's
`authenticated`:

- `rtev tail` recognises it (its first message, or its silence), counts as connected at once —
  --count, --timeout and the exit codes behave as against rtev serve — and reads it leniently
  (missing timestamp → receive time, missing timezone → UTC, said with -v; naive timestamps
  read in their zone); --room filters only what names a room; reconnects keep `?token=`; a
  refused token is exit 4.
- `--detect-wait` sets how long a silent server has before it counts as foreign (0: never).
- `rtev connect` sends piped lines to it as they are and prints its answers.
- rtev serve is still rtev serve, and its silent token mode still ends in exit 4.
usage: e2e_foreign_ws.py RTEV_BINARY"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite, one_line_naming  # noqa: E402
from foreign_servers import NodeServer, have_node_module  # noqa: E402

t = Suite("foreign_ws")


def endpoint(srv, token="u1"):
    return f"ws://127.0.0.1:{srv.port}/events/ws/connect" + (f"?token={token}" if token else "")


def emit(srv, payload):
    srv.post("/emit", {"payload": payload})


def test_tail():
    srv = NodeServer(t, "foreign_ws_server.js")
    mark = srv.mark()
    tail = t.bg("tail", endpoint(srv), "--count", "3", "--timeout", "20s", "-v")
    t.check("tail connects", srv.wait(lambda j: "connection" in j, 15, mark) is not None, srv.lines)
    t.check("it says it is connected (before any --connect-timeout) and why it reads leniently",
            tail.wait_err("does not speak rtev's protocol", 5), tail.err)
    emit(srv, {"type": "x", "data": {}})
    emit(srv, {"type": "contact_updated", "timestamp": "2024-01-15T12:00:00", "timezone": "Europe/Paris",
               "data": {"contact_id": 7}})
    res = tail.finish(30)
    evs = res.json_lines() if res.rc == 0 else []
    t.check("tail: exit 0 after --count 3, long before --connect-timeout (10 s)",
            res.rc == 0 and res.elapsed < 8 and [e["type"] for e in evs] == ["connection_established", "x",
                                                                             "contact_updated"], res)
    if len(evs) == 3:
        hello, x, upd = evs
        t.check("a naive timestamp with its zone is kept as sent, no id or seq made up",
                hello["timestamp"] == "2024-01-15T10:30:45.123456" and hello["timezone"] == "Asia/Kolkata"
                and "id" not in hello and "seq" not in hello, hello)
        t.check("{type, data} without timestamp or timezone is not dropped: receive time, UTC",
                x["data"] == {} and x["timezone"] == "UTC" and x["timestamp"].endswith("+00:00"), x)
        t.check("the others arrive as sent", upd["data"] == {"contact_id": 7} and upd["timezone"] == "Europe/Paris",
                upd)
    t.check("-v says what was filled in", "filled in for x: timezone (UTC), timestamp (receive time)" in res.err
            and "unreadable event" not in res.err, res)
    t.check("-v says nothing was joined (the URL decides what such a server sends)", "joined" not in res.err, res)

    r = t.run("tail", endpoint(srv), "--type", "connection_established", "--count", "1", "--format", "{{time}}",
              "--time", "iso", "--tz", "UTC")
    t.check("a naive timestamp is read in its zone: 10:30:45 in Kolkata is 05:00:45 UTC",
            r.rc == 0 and r.out.strip() == "2024-01-15T05:00:45.123456+00:00", r)

    mark = srv.mark()
    tail = t.bg("tail", endpoint(srv), "--room", "lobby", "--type", "r*", "--count", "2", "--timeout", "20s")
    t.check("tail --room connects", srv.wait(lambda j: "connection" in j, 15, mark) is not None, srv.lines)
    for payload in ({"type": "r1", "room": "other", "data": {}}, {"type": "r2", "data": {}},
                    {"type": "r3", "room": "lobby", "data": {}}):
        emit(srv, payload)
    res = tail.finish(30)
    t.check("--room shows events of that room and those naming none (nothing can be joined)",
            res.rc == 0 and [e["type"] for e in res.json_lines()] == ["r2", "r3"], res)


def test_deadlines_and_exit_codes():
    quiet = NodeServer(t, "foreign_ws_server.js", "--silent")
    r = t.run("tail", endpoint(quiet), "--count", "1", "--timeout", "4s", "-v")
    t.check("a silent server: connected after the short wait (2 s), then --count not reached by --timeout: "
            "exit 5, not 3",
            r.rc == 5 and "deadline reached after 0 of 1" in r.err and "sent nothing within 2000 ms" in r.err, r)
    r = t.run("tail", endpoint(quiet), "--connect-timeout", "1s", "--timeout", "3s", "-v")
    t.check("--connect-timeout 1s shorter than the wait: connected in time all the same; --timeout alone: exit 0",
            r.rc == 0 and "could not connect" not in r.err and "sent nothing within 7" in r.err, r)

    srv = NodeServer(t, "foreign_ws_server.js")
    r = t.run("tail", endpoint(srv), "--until-end", "--timeout", "10s")
    t.check("--until-end: nothing is replayed, so it ends at once saying why (exit 0)",
            r.rc == 0 and r.elapsed < 5 and "--until-end: this server does not speak rtev's protocol" in r.err, r)
    r = t.run("tail", endpoint(srv, "bad"), "--timeout", "10s")
    t.check("a token the server refuses (HTTP 403): exit 4", r.rc == 4 and "403" in r.err, r)
    r = t.run("tail", endpoint(srv, None), "--timeout", "10s")
    t.check("no token (refused): exit 4", r.rc == 4, r)

    mark = srv.mark()
    tail = t.bg("tail", endpoint(srv), "--type", "after_drop", "--count", "1", "--timeout", "30s")
    t.check("connected", srv.wait(lambda j: "connection" in j, 15, mark) is not None, srv.lines)
    mark = srv.mark()
    srv.post("/drop", {})
    again = srv.wait(lambda j: "connection" in j, 15, mark)
    t.check("after the server cuts the connection, the reconnect keeps the URL's query (?token=u1)",
            again is not None and again["query"] == "token=u1" and again["token"] == "u1", srv.lines)
    t.check("the loss is said", tail.wait_err("connection lost", 10), tail.err)
    emit(srv, {"type": "after_drop", "data": {"n": 1}})
    res = tail.finish(30)
    t.check("and events flow again: exit 0", res.rc == 0 and [e["data"] for e in res.json_lines()] == [{"n": 1}]
            and "reconnected" in res.err, res)


def test_detect_wait():
    quiet = NodeServer(t, "foreign_ws_server.js", "--silent")
    tail = t.bg("tail", endpoint(quiet), "--detect-wait", "300ms", "--type", "late", "--count", "1",
                "--timeout", "30s", "-v")
    taken = tail.wait_err("sent nothing within 300 ms", 15)
    t.check("--detect-wait 300ms: a silent server is taken for a foreign one after 300 ms, and -v says so "
            "before the server has sent anything", taken, tail.err)
    if taken:
        emit(quiet, {"type": "late", "data": {"n": 1}})
    r = tail.finish(30)
    t.check("… and its first message, sent after that, is the event that meets --count 1: exit 0",
            taken and r.rc == 0 and [e["data"] for e in r.json_lines()] == [{"n": 1}], r)

    r = t.run("tail", endpoint(quiet), "--detect-wait", "0", "--connect-timeout", "1500ms", "-v")
    t.check("--detect-wait 0: silence never makes a server foreign, it waits for `authenticated`: "
            "exit 3 at --connect-timeout", r.rc == 3 and "does not speak" not in r.err
            and "could not connect" in r.err, r)
    s = t.server()
    r = t.run("tail", "--url", s.url, "--detect-wait", "0", "--timeout", "1s", "-v")
    t.check("--detect-wait 0 against rtev serve: rtev, as always", r.rc == 0 and f"connected to {s.url} (rtev)" in r.err, r)
    s.stop()
    for value in ("soon", "500us", "-1s", "2h", ""):
        r = t.run("tail", endpoint(quiet), "--detect-wait", value)
        t.check(f"--detect-wait {value!r}: exit 2 naming the flag and the accepted forms",
                one_line_naming(r, "--detect-wait", "0 (wait for 'authenticated'", "1ms to 1h"), r)
    r = t.run("tail", "--url", f"http://127.0.0.1:{quiet.port}/events", "--detect-wait", "1s")
    t.check("--detect-wait with SSE: exit 2, it needs --protocol rtev",
            one_line_naming(r, "--detect-wait", "needs --protocol rtev"), r)


def test_connect():
    srv = NodeServer(t, "foreign_ws_server.js")
    mark = srv.mark()
    r = t.run("connect", endpoint(srv), input='{"type":"ping"}\n{"type":"nope","data":{}}\nnot json\n')
    got = [j["received"] for j in srv.wait_n(lambda j: "received" in j, 3, 10, mark)]
    t.check("connect sends piped lines to the server as they are",
            got == ['{"type":"ping"}', '{"type":"nope","data":{}}', "not json"], (r, got))
    evs = r.json_lines() if r.rc == 0 else []
    t.check("and prints its answers (pong, its errors) before exiting 0",
            r.rc == 0 and [e["type"] for e in evs] == ["connection_established", "pong", "error", "error"]
            and evs[2]["data"] == {"message": "Unknown message type: nope"}
            and evs[3]["data"] == {"message": "Invalid JSON"}, r)
    r = t.run("connect", endpoint(srv), input="/sub lobby\n")
    t.check("rtev's /commands are not sent to it: exit 1 saying so",
            r.rc == 1 and "/sub is rtev's" in r.err, r)
    r = t.run("publish", "--url", endpoint(srv), "--room", "lobby", "chat", "{}")
    t.check("publish to it: exit 1, publishing needs rtev's protocol",
            r.rc == 1 and "event 1 (chat) rejected: unsupported: publishing needs rtev's protocol" in r.err, r)


def test_rtev_serve_is_still_rtev():
    s = t.server()
    r = t.run("tail", "--url", s.url, "--timeout", "1s", "-v")
    t.check("rtev serve is not taken for a foreign server",
            r.rc == 0 and f"connected to {s.url} (rtev)" in r.err and "does not speak" not in r.err, r)
    s.stop()
    tok = t.server("--auth", "token", "--auth-timeout", "3s")
    r = t.run("tail", "--url", tok.url, "--connect-timeout", "10s")
    t.check("serve --auth token without a token (silent until --auth-timeout 3s, longer than the wait): "
            "still exit 4", r.rc == 4 and r.elapsed < 8 and "authentication" in r.err, r)
    tok.stop()


if not have_node_module("ws"):
    print("node or tests/interop/node_modules/ws missing (npm ci in tests/interop): skipped")
    print("0 passed, 0 failed")
    sys.exit(0)

for fn in (test_tail, test_deadlines_and_exit_codes, test_detect_wait, test_connect, test_rtev_serve_is_still_rtev):
    t.section(fn)
t.finish()
