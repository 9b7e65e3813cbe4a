#!/usr/bin/python3
"""End-to-end: `rtev bench` against a real `rtev serve` — short runs over each subscriber
protocol (rtev WebSocket, SSE, Socket.IO) at a modest --rate lose nothing (delivered ==
published × subscribers per room) and report ordered percentiles; --rate max, --idle, the table;
bad flags exit 2 naming them, an unreachable server 3, a missing token 4, refused publishes 1.
No timing assertions: a run ends when its --duration is over and its ACKs and deliveries are in.
usage: e2e_bench.py RTEV_BINARY"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite, free_port, one_line_naming  # noqa: E402

t = Suite("bench")
DOWN = free_port()
SHORT = ["--duration", "1s", "--warmup", "200ms", "-q"]


def report(r):
    """The --json report, or None."""
    lines = r.lines()
    if r.rc != 0 or len(lines) != 1:
        return None
    return json.loads(lines[0])


def percentiles_ordered(j):
    lat = j.get("latency_ms") or {}
    keys = ("min", "p50", "p90", "p99", "p99_9", "max")
    return all(k in lat for k in keys) and all(lat[a] <= lat[b] for a, b in zip(keys, keys[1:]))


def test_usage_errors():
    cases = [
        ("--subscribers -1", ["--subscribers", "-1"], ("--subscribers", "-1")),
        ("--publishers 0", ["--publishers", "0"], ("--publishers", "0")),
        ("--rooms 0", ["--rooms", "0"], ("--rooms",)),
        ("--size 0", ["--size", "0"], ("--size",)),
        ("--rate that is not a rate", ["--rate", "fast"], ("--rate", "fast", "max")),
        ("--duration 0s", ["--duration", "0s"], ("--duration", "0s")),
        ("--warmup that is not a duration", ["--warmup", "soon"], ("--warmup", "soon")),
        ("--window 0", ["--window", "0"], ("--window",)),
        ("--idle without --connections", ["--idle"], ("--idle", "--connections")),
        ("--connections without --idle", ["--connections", "5"], ("--connections", "--idle")),
        ("--idle with --subscribers", ["--connections", "5", "--idle", "--subscribers", "2"], ("--subscribers", "--idle")),
        ("--protocol mqtt", ["--protocol", "mqtt"], ("--protocol", "mqtt")),
        ("--server-kind mqtt", ["--server-kind", "mqtt"], ("--server-kind", "mqtt")),
        ("--server-kind nats with SSE", ["--server-kind", "nats", "--protocol", "sse"], ("--server-kind", "nats", "sse")),
        ("--server-kind ws-broadcast with 2 rooms", ["--server-kind", "ws-broadcast", "--rooms", "2"], ("--rooms", "ws-broadcast")),
        ("--server-kind ws-broadcast with a token", ["--server-kind", "ws-broadcast", "--token", "t"], ("--token", "ws-broadcast")),
    ]
    for name, args, needles in cases:
        r = t.run("bench", "--url", f"ws://127.0.0.1:{DOWN}/events/ws/connect", *args)
        t.check(f"bench {name}: exit 2, one line naming it", one_line_naming(r, *needles), r)
    for name, args, needles in (("a wss:// URL (no TLS in the bench)", ["--url", "wss://127.0.0.1:1/"], ("--url", "wss://")),
                                ("an https:// URL", ["--url", "https://127.0.0.1:1/api/events"], ("--url", "https://"))):
        r = t.run("bench", *args)
        t.check(f"bench {name}: exit 2, one line naming it", one_line_naming(r, *needles), r)


def test_unreachable():
    for proto, url in (("rtev", f"ws://127.0.0.1:{DOWN}/events/ws/connect"),
                       ("sse", f"http://127.0.0.1:{DOWN}/api/events"),
                       ("socketio", f"http://127.0.0.1:{DOWN}")):
        r = t.run("bench", "--protocol", proto, "--url", url, *SHORT)
        t.check(f"bench --protocol {proto} with nothing listening: exit 3 naming the address",
                r.rc == 3 and f"127.0.0.1:{DOWN}" in r.err, r)


def test_protocols():
    srv = t.server("--rate-limit", "1000000/s")
    urls = {"rtev": srv.url, "sse": srv.http + "/api/events", "socketio": srv.http}
    for proto, url in urls.items():
        # 4 subscribers over 2 rooms (2 each); publisher j publishes to room j.
        r = t.run("bench", "--protocol", proto, "--url", url, "--subscribers", "4", "--rooms", "2",
                  "--publishers", "2", "--rate", "200", "--json", *SHORT)
        j = report(r)
        t.check(f"bench --protocol {proto} --rate 200: exit 0, one JSON object", j is not None, r)
        if j is None:
            continue
        t.check(f"{proto}: published > 0 and delivered == published × 2 subscribers per room, none lost",
                j["published"] > 0 and j["delivered"] == 2 * j["published"] == j["expected_deliveries"]
                and j["errors"] == 0, j)
        t.check(f"{proto}: latency percentiles present and ordered min <= p50 <= p90 <= p99 <= p99.9 <= max",
                percentiles_ordered(j), j)
        t.check(f"{proto}: the protocol, the server's counters and the bench's CPU are reported",
                j["protocol"] == proto and j["server"]["events_published"] >= j["published"]
                and "bench_cpu_percent" in j and isinstance(j["bench_bound"], bool), j)

    r = t.run("bench", "--url", srv.url, "--subscribers", "3", "--rate", "max", "--window", "5", "--json", *SHORT)
    j = report(r)
    t.check("bench --rate max (window 5): exit 0, every published event delivered to the 3 subscribers",
            j is not None and j["published"] > 0 and j["delivered"] == 3 * j["published"]
            and j["rate"] == "max" and j["window"] == 5, r)

    r = t.run("bench", "--url", srv.url, "--subscribers", "0", "--rate", "100", "--json", *SHORT)
    j = report(r)
    t.check("bench --subscribers 0: publishes only, exit 0 with nothing to deliver",
            j is not None and j["published"] > 0 and j["delivered"] == 0 and "latency_ms" not in j, r)

    r = t.run("bench", "--url", srv.url, "--subscribers", "2", "--rate", "100", "--duration", "1500ms", "--warmup", "0s")
    t.check("bench without --json: a table on stdout (published, delivered, latency, errors), "
            "progress on stderr once a second",
            r.rc == 0 and all(any(l.startswith(k) for l in r.lines())
                              for k in ("rtev bench", "published", "delivered", "latency", "errors", "bench CPU"))
            and "rtev: bench" in r.err, r)

    r = t.run("bench", "--url", srv.url, "--connections", "30", "--idle", "--duration", "200ms", "--json", "-q")
    j = report(r)
    t.check("bench --connections 30 --idle: exit 0, 30 connections open, the server counts them",
            j is not None and j["mode"] == "idle" and j["connections"] == 30
            and j["server"]["connections"] >= 30, r)
    r = t.run("bench", "--url", srv.http, "--protocol", "socketio", "--connections", "10", "--idle",
              "--duration", "200ms", "--json", "-q")
    j = report(r)
    t.check("bench --idle over Socket.IO: exit 0, 10 connections", j is not None and j["connections"] == 10, r)


def test_refusals():
    srv = t.server("--auth", "token")
    for proto, url in (("rtev", srv.url), ("sse", srv.http + "/api/events"), ("socketio", srv.http)):
        r = t.run("bench", "--protocol", proto, "--url", url, *SHORT)
        t.check(f"bench --protocol {proto} without the token the server requires: exit 4", r.rc == 4, r)
    r = t.run("bench", "--url", srv.url, "--token", "alice", "--subscribers", "2", "--rate", "50", "--json", *SHORT)
    j = report(r)
    t.check("… and with one: exit 0, everything delivered",
            j is not None and j["published"] > 0 and j["delivered"] == 2 * j["published"], r)

    # rtev serve's default --rate-limit (100/s per connection) refuses a publisher at --rate max.
    limited = t.server()
    r = t.run("bench", "--url", limited.url, "--subscribers", "1", "--rate", "max", "--json", *SHORT)
    lines = r.lines()
    j = json.loads(lines[0]) if len(lines) == 1 else {}
    t.check("bench against the server's rate limit: exit 1, the refusals counted by kind",
            r.rc == 1 and j.get("errors", 0) > 0
            and any("rate_limited" in k for k in j.get("error_kinds", {})), r)


for fn in (test_usage_errors, test_unreachable, test_protocols, test_refusals):
    t.section(fn)
t.finish()
