#!/usr/bin/python3
"""End-to-end: the CLI in CI, as new users hit it (issue 11): `tail --ready-file` so that a
publish right after it is never missed (a loop of 20 tail-then-publish runs, rtev and SSE,
`subscribe` too); a --count that was not met is never success (--until-end at the end of the
history: exit 5); no token against `serve --auth token|jwt` is an authentication failure (exit 4
at once, saying how to give one), not a connect time-out; `--url ""` and an empty RTEV_URL are
usage errors, not the default server; `health -q` and what `health --help` lists.
usage: e2e_ci.py RTEV_BINARY"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite, free_port, jwt_hs256, one_line_naming  # noqa: E402

t = Suite("ci")
srv = t.server()
URL = srv.url
DOWN = f"ws://127.0.0.1:{free_port()}/events/ws/connect"


def test_ready_file_loop():
    ready = t.path("tail.ready")
    misses = []
    for i in range(20):
        # The same file every run, as a CI loop would: removed before the tail starts (the tail
        # removes a stale one too, but the loop could look before the tail has started).
        if os.path.exists(ready):
            os.remove(ready)
        b = t.bg("tail", "--url", URL, "--type", f"loop_{i}", "--count", "1", "--timeout", "10s",
                 "--ready-file", ready)
        up = b.wait_file(ready, 10)
        p = t.run("publish", "--url", URL, f"loop_{i}", json.dumps({"i": i}), "--room", "loop")
        r = b.finish(20)
        got = r.json_lines() if r.rc == 0 else []
        if not (up and p.rc == 0 and r.rc == 0 and [e["data"] for e in got] == [{"i": i}]):
            misses.append((i, up, p, r))
    t.check("20 runs of `tail --ready-file F &`, wait for F, `publish`: every tail got its event (exit 0)",
            not misses, misses[:2])

    stale = t.write("stale.ready", "ready\n")
    r = t.run("tail", "--url", DOWN, "--ready-file", stale, "--connect-timeout", "1s")
    t.check("--ready-file: a file left by an earlier run is removed at start (a tail that never got "
            "ready leaves none)", r.rc == 3 and not os.path.exists(stale), r)

    r = t.run("tail", "--url", DOWN, "--ready-file", t.path("no-such-dir/ready"))
    t.check("--ready-file in a directory that does not exist: exit 2 naming it, before connecting",
            one_line_naming(r, "--ready-file", "no-such-dir") and r.elapsed < 3, r)

    b = t.bg("tail", "--url", URL, "--type", "ready_v", "--count", "1", "--timeout", "10s", "-v",
             "--ready-file", t.path("v.ready"))
    said = b.wait_err("rtev: ready", 10)
    written = open(t.path("v.ready")).read() if os.path.exists(t.path("v.ready")) else None
    srv.post({"type": "ready_v", "room": "r", "data": {}})
    r = b.finish(20)
    lines = r.err_lines()
    order = [l for l in lines if l.startswith("rtev: joined") or l == "rtev: ready"]
    t.check("-v says `rtev: ready` once every room is joined (after the `joined` line), when the "
            "file is there, whole", said and r.rc == 0 and order[-1:] == ["rtev: ready"]
            and len(order) >= 2 and written == "ready\n", (r, written))

    room_file = t.path("sub.ready")
    misses = []
    for i in range(3):
        if os.path.exists(room_file):
            os.remove(room_file)
        b = t.bg("subscribe", f"sub-a-{i}", f"sub-b-{i}", "--url", URL, "--count", "2", "--timeout", "10s",
                 "--ready-file", room_file)
        up = b.wait_file(room_file, 10)
        pa = t.run("publish", "--url", URL, "in_a", "{}", "--room", f"sub-a-{i}")
        pb = t.run("publish", "--url", URL, "in_b", "{}", "--room", f"sub-b-{i}")
        r = b.finish(20)
        if not (up and pa.rc == 0 and pb.rc == 0 and r.rc == 0 and
                sorted(e["type"] for e in r.json_lines()) == ["in_a", "in_b"]):
            misses.append((i, r))
    t.check("subscribe ROOM ROOM --ready-file: ready once both rooms are joined (both events arrive)",
            not misses, misses[:1])

    sse_file = t.path("sse.ready")
    misses = []
    for i in range(3):
        if os.path.exists(sse_file):
            os.remove(sse_file)
        b = t.bg("tail", "--url", srv.http + "/api/events", "--type", f"sse_{i}", "--count", "1",
                 "--timeout", "10s", "--ready-file", sse_file)
        up = b.wait_file(sse_file, 10)
        p = t.run("publish", "--url", URL, f"sse_{i}", "{}", "--broadcast")
        r = b.finish(20)
        if not (up and p.rc == 0 and r.rc == 0 and len(r.json_lines()) == 1):
            misses.append((i, r))
    t.check("tail over SSE --ready-file: ready once the stream is open (the event arrives)", not misses,
            misses[:1])


def test_count_not_met_is_not_success():
    srv.post({"type": "hist_one", "room": "h", "data": {"n": 1}})
    r = t.run("tail", "--url", URL, "--since", "beginning", "--until-end", "--count", "1", "--type", "hist_none")
    t.check("tail --since beginning --until-end --count 1 with no match: exit 5, saying so",
            r.rc == 5 and r.out == "" and "end of history after 0 of 1 events" in r.err, r)
    r = t.run("tail", "--url", URL, "--since", "beginning", "--until-end", "--count", "2", "--type", "hist_one")
    t.check("--until-end --count 2 with one match: prints it, then exit 5",
            r.rc == 5 and len(r.json_lines()) == 1 and "1 of 2 events" in r.err, r)
    r = t.run("tail", "--url", URL, "--since", "beginning", "--until-end", "--count", "1", "--type", "hist_one")
    t.check("--until-end --count 1 with a match: exit 0", r.rc == 0 and len(r.json_lines()) == 1, r)
    r = t.run("tail", "--url", URL, "--since", "beginning", "--until-end", "--type", "hist_none")
    t.check("--until-end without --count and no match: exit 0 (nothing was expected)", r.rc == 0, r)
    r = t.run("subscribe", "h", "--url", URL, "--since", "beginning", "--until-end", "--count", "3")
    t.check("subscribe --until-end --count 3 with one stored event: exit 5", r.rc == 5, r)


def test_token_required():
    secret = "ci-secret"
    servers = [("token", t.server("--auth", "token")), ("jwt", t.server("--auth", "jwt", "--jwt-secret", secret))]
    rec = t.write("one.jsonl", json.dumps({"type": "x", "room": "r", "timestamp": "2024-01-15T10:00:00Z",
                                           "timezone": "UTC", "data": {}}) + "\n")
    for mode, s in servers:
        running = [(name, t.bg(*args, "--url", s.url, stdin_data="/ping\n")) for name, args in (
            ("tail", ("tail", "--count", "1", "--timeout", "30s")),
            ("subscribe", ("subscribe", "lobby")),
            ("publish", ("publish", "x", "{}", "--room", "r")),
            ("replay", ("replay", rec)),
            ("connect", ("connect",)))]
        for name, b in running:
            r = b.finish(30)
            t.check(f"no token on serve --auth {mode}: {name} exits 4 at once (not 3 after the 10 s "
                    "time-outs), saying a token is needed and how to give one",
                    r.rc == 4 and r.elapsed < 5 and "requires a token" in r.err and "--token" in r.err
                    and "RTEV_TOKEN" in r.err and "deadline" not in r.err, r)
    s = servers[1][1]
    good = jwt_hs256(secret, {"sub": "alice", "exp": int(time.time()) + 3600})
    r = t.run("tail", "--url", s.url, "--timeout", "1s", env=t.env(RTEV_TOKEN=good))
    t.check("with RTEV_TOKEN set the same tail connects (exit 0 at the plain deadline)", r.rc == 0, r)
    r = t.run("tail", "--url", s.url, "--token", "garbage", "--timeout", "10s")
    t.check("a wrong token still gets the server's own words (exit 4, no hint about giving one)",
            r.rc == 4 and "requires a token" not in r.err and r.err.strip() != "", r)
    r = t.run("connect", URL, "--no-reconnect", input="/ping\n")
    t.check("without a token on an --auth none server nothing changes: connect's PONG, exit 0, no "
            "extra line", r.rc == 0 and sum('"PONG"' in l for l in r.lines()) == 1
            and "rtev-auth-probe" not in r.out, r)
    for _, s in servers:
        s.stop()


def test_empty_url():
    for name, args in (("tail --url ''", ("tail", "--url", "")),
                       ("publish --url ''", ("publish", "x", "{}", "--room", "r", "--url", "")),
                       ("connect --url ''", ("connect", "--url", "")),
                       ("health --url ''", ("health", "--url", "")),
                       ("tail '' (the URL argument)", ("tail", "")),
                       ("connect '' (the URL argument)", ("connect", ""))):
        r = t.run(*args, input="", timeout=10)
        t.check(f"{name}: exit 2 naming the empty URL (not the default server)",
                one_line_naming(r, "URL is empty") and r.elapsed < 3, r)
    r = t.run("tail", "--count", "1", "--timeout", "5s", env=t.env(RTEV_URL=""))
    t.check("RTEV_URL set but empty: exit 2 naming RTEV_URL", one_line_naming(r, "RTEV_URL", "empty"), r)
    r = t.run("health", env=t.env(RTEV_URL=URL))
    t.check("a set RTEV_URL still works", r.rc == 0, r)


def test_health_quiet_and_help():
    r = t.run("health", "--url", URL, "-q")
    t.check("health -q of a healthy server: exit 0, prints nothing", r.rc == 0 and r.out == "" and r.err == "", r)
    r = t.run("health", "--url", DOWN, "-q")
    t.check("health -q of a stopped server: exit 3, prints nothing", r.rc == 3 and r.out == "" and r.err == "", r)
    r = t.run("health", "--url", URL)
    t.check("health without -q still prints the answer", r.rc == 0 and '"ok"' in r.out, r)
    r = t.run("health", "--help")
    # The option column of every option line: "-h,--help", "--wait", …
    flags = {f for l in r.out.splitlines() if l.lstrip().startswith("-") for f in l.split()[0].split(",")}
    want = {"-h", "--help", "--version", "--wait", "--url", "--profile", "--connect-timeout", "--insecure",
            "--ca-file", "--header", "-q", "--quiet", "-v", "--verbose"}
    t.check("health --help lists only the flags that apply to it (no --token, --tz, --retry, --color)",
            r.rc == 0 and flags == want, sorted(flags ^ want))
    for flag, value in (("--token", "x"), ("--tz", "UTC"), ("--retry", "1"), ("--no-reconnect", None),
                        ("--color", "never")):
        r = t.run("health", "--url", URL, flag, *([value] if value else []))
        t.check(f"health {flag}: refused as an unknown flag (exit 2), not silently ignored", r.rc == 2, r)


for fn in (test_ready_file_loop, test_count_not_met_is_not_success, test_token_required, test_empty_url,
           test_health_quiet_and_help):
    t.section(fn)
t.finish()
