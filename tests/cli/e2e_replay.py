#!/usr/bin/python3
"""End-to-end: `rtev replay` against a real `rtev serve` (issue 5 spec): a recording published
again with its original gaps (measured loosely), --speed N / max, --room redirect, --dry-run,
--loop, recorded ids dropped (or kept with --keep-ids), `-` for stdin, and
`--from-server --room R --since … [--until …]` printing stored history.
usage: e2e_replay.py RTEV_BINARY"""
import json
import os
import signal
import sys
from datetime import datetime, timedelta, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite, free_port, one_line_naming  # noqa: E402

t = Suite("replay")
srv = t.server()
URL = srv.url
DOWN = f"ws://127.0.0.1:{free_port()}/events/ws/connect"
T0 = datetime(2024, 1, 15, 10, 0, 0, tzinfo=timezone.utc)


def recording(name, gaps_ms, type_="paced", room="orig", id_prefix=None):
    """A JSONL recording, as `rtev tail -o` writes it: one event at each offset."""
    lines, at = [], T0
    for i, gap in enumerate([0] + list(gaps_ms), 1):
        at = at + timedelta(milliseconds=gap)
        e = {"type": type_, "room": room, "seq": 1000 + i, "id": f"{id_prefix or name}-{i}",
             "timestamp": at.isoformat(timespec="microseconds"), "timezone": "UTC", "data": {"i": i}}
        lines.append(json.dumps(e))
    return t.write(name, "\n".join(lines) + "\n")


def replay(*args, **kw):
    return t.run("replay", "--url", URL, *args, **kw)


def test_pacing():
    rec = recording("paced.jsonl", [300, 300])
    r = replay(rec, "--room", "pace-1")
    h = srv.history("pace-1")
    t.check("replay at --speed 1 keeps the gaps: 3 events 300 ms apart take >= 0.5 s (and < 5 s)",
            r.rc == 0 and 0.5 <= r.elapsed < 5 and [e["data"]["i"] for e in h] == [1, 2, 3], (r, h))
    if len(h) == 3:
        gap = (datetime.fromisoformat(h[2]["timestamp"]) - datetime.fromisoformat(h[0]["timestamp"])).total_seconds()
        t.check("the replayed events are stored about 0.6 s apart (loosely: 0.45 s to 3 s)", 0.45 <= gap < 3, gap)
    t.check("replay drops recorded ids and seqs: the server assigns new ones",
            len(h) == 3 and not any(e["id"].startswith("paced.jsonl-") for e in h)
            and all(e["seq"] < 1000 or e["seq"] != 1000 + i for i, e in enumerate(h, 1)), h)

    slow = recording("slow.jsonl", [2000, 2000])
    r = replay(slow, "--speed", "max", "--room", "pace-max")
    t.check("--speed max ignores the gaps (4 s of recording in < 1.5 s)",
            r.rc == 0 and r.elapsed < 1.5 and len(srv.history("pace-max")) == 3, r)
    one_s = recording("one-second.jsonl", [1000, 1000])
    r = replay(one_s, "--speed", "10", "--room", "pace-10")
    t.check("--speed 10: 2 s of recording in about 0.2 s (loosely: 0.15 s to 1.5 s)",
            r.rc == 0 and 0.15 <= r.elapsed < 1.5 and len(srv.history("pace-10")) == 3, r)


def test_redirect_ids_stdin():
    rec = recording("redirect.jsonl", [10, 10], room="orig-room")
    r = replay(rec, "--speed", "max")
    t.check("replay without --room publishes to the recorded room", r.rc == 0 and len(srv.history("orig-room")) == 3, r)
    r = replay(rec, "--speed", "max")
    t.check("replaying the same recording twice stores it twice (not swallowed by idempotency)",
            r.rc == 0 and len(srv.history("orig-room")) == 6, r)
    r = replay(rec, "--speed", "max", "--room", "moved")
    t.check("--room redirects every event; the recorded room is untouched",
            r.rc == 0 and [e["data"]["i"] for e in srv.history("moved")] == [1, 2, 3]
            and len(srv.history("orig-room")) == 6, r)

    keep = recording("keep.jsonl", [10, 10], room="keep-room", id_prefix="keep-ids-test")
    r1 = replay(keep, "--speed", "max", "--keep-ids")
    ids = [e["id"] for e in srv.history("keep-room")]
    r2 = replay(keep, "--speed", "max", "--keep-ids")
    t.check("--keep-ids keeps the recorded ids; a second replay is deduplicated by the server",
            r1.rc == 0 and r2.rc == 0 and ids == ["keep-ids-test-1", "keep-ids-test-2", "keep-ids-test-3"]
            and len(srv.history("keep-room")) == 3, (r1, r2, ids))

    r = replay("-", "--speed", "max", "--room", "from-stdin", input=open(rec).read())
    t.check("replay - reads the recording from stdin", r.rc == 0 and len(srv.history("from-stdin")) == 3, r)

    # A real `tail -o` recording replays too.
    out = t.path("tailed.jsonl")
    tr = t.run("tail", "--url", URL, "--room", "moved", "--since", "beginning", "--until-end", "-o", out)
    r = replay(out, "--room", "moved-again", "--speed", "max")
    t.check("a `tail -o` recording replays", tr.rc == 0 and r.rc == 0 and
            [e["data"] for e in srv.history("moved-again")] == [e["data"] for e in srv.history("moved")], (tr, r))


def test_dry_run():
    rec = recording("dry.jsonl", [300, 300], type_="dry_type")
    before = srv.last_seq()
    r = replay(rec, "--dry-run")
    after = srv.last_seq()
    lines = r.lines()
    t.check("--dry-run prints each event (with its type) and when it would go, and publishes nothing",
            r.rc == 0 and len(lines) == 3 and all("dry_type" in l for l in lines) and before == after
            and not srv.history("orig"), (r, before, after))
    t.check("--dry-run shows the pacing (0.3 s and 0.6 s offsets)",
            len(lines) == 3 and "0.3" in lines[1] and "0.6" in lines[2], r)
    r = replay(rec, "--dry-run", "--room", "dry-room", "--speed", "max")
    t.check("--dry-run --room shows the redirected room", r.rc == 0 and all("dry-room" in l for l in r.lines())
            and len(r.lines()) == 3, r)


def test_loop():
    rec = recording("loop.jsonl", [150], type_="looped")
    b = t.bg("tail", "--url", URL, "--room", "loop-room", "--count", "5", "--timeout", "15s", "-v")
    ready = b.wait_err("joined", 10)
    loop = t.bg("replay", "--url", URL, rec, "--room", "loop-room", "--loop")
    r = b.finish(20)
    loop.signal(signal.SIGINT)
    lr = loop.finish(10)
    t.check("--loop starts over at the end (a 2-event recording yields 5+ events)",
            ready and r.rc == 0 and [e["data"]["i"] for e in r.json_lines()][:5] == [1, 2, 1, 2, 1], r)
    t.check("an interrupted --loop replay (SIGINT) ends", isinstance(lr.rc, int), lr)


def test_from_server():
    for i in range(1, 4):
        srv.post({"type": "stored", "room": "hist", "data": {"i": i}})
    h = srv.history("hist")
    r = replay("--from-server", "--room", "hist", "--since", "1h")
    t.check("replay --from-server --room R --since 1h prints the stored history (JSONL in a pipe)",
            r.rc == 0 and r.json_lines() == h, (r, h))
    r = replay("--from-server", "--room", "hist", "--since", "seq:%d" % h[0]["seq"])
    t.check("--from-server --since seq:N prints the events after N", r.rc == 0 and r.json_lines() == h[1:], r)
    r = replay("--from-server", "--room", "hist", "--since", "beginning", "--until", h[1]["timestamp"])
    t.check("--from-server --until T stops at T", r.rc == 0 and [e["data"]["i"] for e in r.json_lines()] in ([1], [1, 2]), r)
    r = replay("--from-server", "--room", "hist", "--since", "beginning", "--format", "{{data.i}}")
    t.check("--from-server honours --format", r.rc == 0 and r.lines() == ["1", "2", "3"], r)
    r = replay("--from-server", "--room", "hist", "--since", "last:2")
    t.check("--from-server --since last:2 prints the last 2 stored events", r.rc == 0 and r.json_lines() == h[1:], r)
    r = replay("--from-server", "--room", "hist", "--since", "last:0")
    t.check("--from-server --since last:0: exit 2 naming it", one_line_naming(r, "last:0", "1 to 1000"), r)
    r = replay("--from-server", "--room", "empty-room", "--since", "1h")
    t.check("--from-server of an empty room: nothing, exit 0", r.rc == 0 and r.out == "", r)
    r = t.run("replay", "--url", DOWN, "--from-server", "--since", "1h")
    t.check("--from-server without --room: exit 2", r.rc == 2, r)


def test_what_publish_jsonl_takes():
    # Only `type` is required, as for `publish --jsonl`: timestamp (the time the line is read),
    # timezone (UTC) and data ({}) are filled in.
    lines = [{"type": "bare", "room": "fill"},
             {"type": "no_zone", "room": "fill", "data": {"i": 2}, "timestamp": "2024-01-15T10:00:00Z"},
             {"type": "no_time", "room": "fill", "data": {"i": 3}, "timezone": "Europe/Paris"}]
    rec = t.write("sparse.jsonl", "\n".join(json.dumps(l) for l in lines) + "\n")
    r = replay(rec, "--dry-run")
    t.check("replay --dry-run of lines without timestamp/timezone/data: exit 0, each planned at once",
            r.rc == 0 and len(r.lines()) == 3 and r.lines()[0].startswith("+0.000s bare fill {}"), r)
    r = replay(rec, "--speed", "max")
    h = srv.history("fill")
    t.check("replay of lines without timestamp/timezone/data: exit 0, every event stored with its data",
            r.rc == 0 and [(e["type"], e["data"]) for e in h] == [("bare", {}), ("no_zone", {"i": 2}), ("no_time", {"i": 3})],
            (r, h))
    p = t.run("publish", "--url", URL, "--jsonl", "--room", "fill-published", input=open(rec).read())
    t.check("... as publish --jsonl takes the same lines",
            p.rc == 0 and [(e["type"], e["data"]) for e in srv.history("fill-published")] == [(e["type"], e["data"]) for e in h],
            p)
    bad = t.write("no-type.jsonl", json.dumps({"room": "fill", "data": {}}) + "\n")
    r = t.run("replay", "--url", DOWN, bad)
    t.check("a line without type is still exit 2 naming the line and the field, before connecting",
            one_line_naming(r, "line 1", "type") and r.elapsed < 3, r)


def test_errors():
    r = t.run("replay", "--url", DOWN, t.path("nope.jsonl"))
    t.check("replay of a missing file: exit 2 naming it", one_line_naming(r, "nope.jsonl"), r)
    bad = t.write("bad.jsonl", json.dumps({"type": "x", "timestamp": "2024-01-15T10:00:00Z", "timezone": "UTC",
                                           "data": {}}) + "\n{oops\n")
    r = t.run("replay", "--url", DOWN, bad)
    t.check("replay of a recording with a bad line: exit 2 naming the line, before connecting",
            one_line_naming(r, "line 2") and r.elapsed < 3, r)
    rec = recording("err.jsonl", [10])
    r = t.run("replay", "--url", DOWN, rec, "--speed", "fast")
    t.check("replay --speed fast: exit 2 naming it", one_line_naming(r, "--speed", "fast"), r)
    r = t.run("replay", "--url", DOWN, rec, "--connect-timeout", "1s")
    t.check("replay to an unreachable server: exit 3 within --connect-timeout 1s", r.rc == 3 and r.elapsed < 6, r)
    tok = t.server("--auth", "token")
    r = t.run("replay", "--url", tok.url, "--token", "alice", rec, "--room", "user:bob", "--speed", "max")
    t.check("replay rejected by the server (another user's room): exit 1 naming the event",
            r.rc == 1 and "paced" in r.err, r)
    tok.stop()


def test_speed_max_under_the_rate_limit():
    # 300 events at --speed max against a default server (100 messages/s per connection, burst
    # 100): replay paces itself under the limit it announces, so all are stored, exit 0.
    fresh = t.server()
    rec = recording("many.jsonl", [1] * 299, type_="many", room="bulk")
    r = t.run("replay", "--url", fresh.url, rec, "--speed", "max", timeout=60)
    h = fresh.history("bulk")
    t.check("replay --speed max of 300 events against a default rtev serve: exit 0, all 300 stored in order",
            r.rc == 0 and [e["data"]["i"] for e in h] == list(range(1, 301)) and "too many" not in r.err, (r, len(h)))
    t.check("... and only those: the replaying connection stored no presence events",
            fresh.last_seq() == 300, fresh.last_seq())

    # A recording made with `tail --presence -o` holds the server's presence events: replaying
    # them would store fake user_online/user_offline. They are skipped, and said so.
    lines = [json.dumps({"type": ty, "room": room, "timestamp": "2024-01-15T10:00:00Z", "timezone": "UTC",
                         "data": {"user_id": "ann"}})
             for ty, room in (("user_online", "presence"), ("note", "kept"), ("user_offline", "presence"),
                              ("user_online", "kept"))]
    rec = t.write("with-presence.jsonl", "\n".join(lines) + "\n")
    r = t.run("replay", "--url", fresh.url, rec, "--speed", "max")
    t.check("replay skips the presence room's user_online/user_offline (saying so); the same types elsewhere are kept",
            r.rc == 0 and "skipped 2 presence" in r.err and fresh.history("presence") == []
            and [e["type"] for e in fresh.history("kept")] == ["note", "user_online"], r)
    r = t.run("publish", "--url", fresh.url, "--jsonl", input=open(rec).read())
    t.check("publish --jsonl skips them too",
            r.rc == 0 and "skipped 2 presence" in r.err and fresh.history("presence") == []
            and len(fresh.history("kept")) == 4, r)
    fresh.stop()


for fn in (test_pacing, test_redirect_ids_stdin, test_dry_run, test_what_publish_jsonl_takes, test_loop, test_from_server, test_errors,
           test_speed_max_under_the_rate_limit):
    t.section(fn)
t.finish()
