#!/usr/bin/python3
"""End-to-end: `rtev publish` against a real `rtev serve` (issue 5 spec): a JSON argument,
--data @file, `-` for stdin, --room/--user/--broadcast, --count with {{seq}}/{{now}}/{{uuid}},
--rate, waiting for every ACK, --jsonl round trip of `tail` output (new ids/seqs; --keep-ids
deduplicated), --http (and --token as the API key), exit 1 naming a rejected event, exit 2
for invalid input before connecting, exit 3 when unreachable.
usage: e2e_publish.py RTEV_BINARY"""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite, _die_with_parent, free_port, one_line_naming  # noqa: E402

t = Suite("publish")
srv = t.server()
URL = srv.url
DOWN = f"ws://127.0.0.1:{free_port()}/events/ws/connect"


def pub(*args, **kw):
    return t.run("publish", "--url", URL, *args, **kw)


def test_targets_and_data():
    before = srv.last_seq()
    r = pub("message_sent", '{"message_text":"hi","n":1}')
    t.check("publish TYPE JSON without a target: exit 2, one line naming --room, --user and --broadcast; "
            "nothing sent (forgetting the room must not reach everyone)",
            one_line_naming(r, "--room", "--user", "--broadcast") and srv.last_seq() == before, (r, srv.last_seq()))
    r = pub("message_sent", '{"message_text":"hi","n":1}', "--broadcast")
    evs = [e for e in srv.history() if e["seq"] > before and e["type"] == "message_sent"]
    t.check("publish TYPE JSON --broadcast: exit 0, stored with that data, without a room",
            r.rc == 0 and len(evs) == 1 and evs[0]["data"] == {"message_text": "hi", "n": 1} and "room" not in evs[0], (r, evs))

    r = pub("note", '{"to":"room"}', "--room", "p-room")
    h = srv.history("p-room")
    t.check("--room R publishes to R", r.rc == 0 and [e["data"] for e in h] == [{"to": "room"}], (r, h))
    r = pub("note", '{"to":"user"}', "--user", "42")
    h = srv.history("user:42", key="42")  # in none mode the token names the reader
    t.check("--user ID publishes to room user:ID", r.rc == 0 and [e["data"] for e in h] == [{"to": "user"}], (r, h))
    before = srv.last_seq()
    r = pub("bc_note", '{"to":"all"}', "--broadcast")
    evs = [e for e in srv.history() if e["seq"] > before and e["type"] == "bc_note"]
    t.check("--broadcast publishes without a room", r.rc == 0 and len(evs) == 1 and "room" not in evs[0], (r, evs))

    f = t.write("data.json", '{"from": "file", "list": [1, 2]}\n')
    r = pub("note", "--data", "@" + f, "--room", "p-file")
    h = srv.history("p-file")
    t.check("--data @FILE", r.rc == 0 and [e["data"] for e in h] == [{"from": "file", "list": [1, 2]}], (r, h))
    r = pub("note", "-", "--room", "p-stdin", input='{"from":"stdin"}\n')
    h = srv.history("p-stdin")
    t.check("DATA `-` reads stdin", r.rc == 0 and [e["data"] for e in h] == [{"from": "stdin"}], (r, h))
    r = pub("note", "--data", "-", "--room", "p-stdin2", input='{"from":"stdin2"}')
    h = srv.history("p-stdin2")
    t.check("--data - reads stdin", r.rc == 0 and [e["data"] for e in h] == [{"from": "stdin2"}], (r, h))

    r = pub("tick", '{"n":{{seq}},"s":"#{{seq}}","id":"{{uuid}}","at":"{{now}}"}', "--count", "3", "--room", "p-count")
    h = srv.history("p-count")
    ok = r.rc == 0 and [e["data"]["n"] for e in h] == [1, 2, 3] and [e["data"]["s"] for e in h] == ["#1", "#2", "#3"]
    ok = ok and len({e["data"]["id"] for e in h}) == 3
    try:
        for e in h:
            datetime.fromisoformat(e["data"]["at"])
    except Exception:
        ok = False
    t.check("--count 3 with {{seq}} (1..3, in order), {{uuid}} (distinct) and {{now}} (RFC 3339)", ok, (r, h))

    r = pub("bulk", '{"n":{{seq}}}', "--count", "50", "--room", "p-acks")
    h = srv.history("p-acks")  # read at once: publish returned only after every ACK
    t.check("publish waits for every ACK: all 50 events are stored when it exits",
            r.rc == 0 and [e["data"]["n"] for e in h] == list(range(1, 51)), (r, len(h)))

    r = pub("paced", '{"n":{{seq}}}', "--count", "5", "--rate", "10/s", "--room", "p-rate")
    h = srv.history("p-rate")
    t.check("--rate 10/s --count 5 takes about 0.4 s (loosely: 0.35 s to 5 s) and sends all",
            r.rc == 0 and 0.35 <= r.elapsed < 5 and len(h) == 5, (r, len(h)))


def test_jsonl_round_trip():
    pub("rt_event", '{"n":{{seq}}}', "--count", "3", "--room", "rt")
    original = srv.history("rt")
    rec = t.path("rt.jsonl")
    r = t.run("tail", "--url", URL, "--room", "rt", "--since", "beginning", "--until-end", "-o", rec)
    t.check("tail -o records the room (setup for the round trip)",
            r.rc == 0 and len(r.lines()) == 3 and len(open(rec).read().splitlines()) == 3, r)

    r = pub("--jsonl", input=open(rec).read())
    h = srv.history("rt")
    again = h[3:]
    old_ids = {e["id"] for e in original}
    t.check("publish --jsonl < `tail -o` recording: exit 0, the events appear again with new ids and seqs",
            r.rc == 0 and len(h) == 6
            and [(e["type"], e["room"], e["data"]) for e in again] == [(e["type"], e["room"], e["data"]) for e in original]
            and not ({e["id"] for e in again} & old_ids)
            and min(e["seq"] for e in again) > max(e["seq"] for e in original), (r, h))

    r = pub("--jsonl", input=t.run("tail", "--url", URL, "--room", "rt", "--since", "beginning", "--until-end",
                                   "--type", "rt_event").out)
    h = srv.history("rt")
    t.check("publish --jsonl < tail's own stdout (JSONL in a pipe) round-trips too", r.rc == 0 and len(h) == 12, (r, len(h)))

    r = pub("--jsonl", "--keep-ids", input=open(rec).read())
    h = srv.history("rt")
    t.check("publish --jsonl --keep-ids: the recorded ids are kept and the server deduplicates (nothing new stored)",
            r.rc == 0 and len(h) == 12, (r, len(h)))

    # tail | publish --jsonl into a second server, as a pipeline.
    other = t.server()
    tail = subprocess.Popen([t.rtev, "tail", "--url", URL, "--room", "rt", "--since", "beginning", "--until-end"],
                            stdout=subprocess.PIPE, env=t.env(), preexec_fn=_die_with_parent)
    p = subprocess.run([t.rtev, "publish", "--jsonl", "--url", other.url], stdin=tail.stdout, capture_output=True,
                       text=True, env=t.env(), timeout=30, preexec_fn=_die_with_parent)
    tail.stdout.close()
    tail.wait(30)
    h2 = other.history("rt")
    t.check("`rtev tail … | rtev publish --jsonl --url OTHER` copies a room to another server",
            tail.returncode == 0 and p.returncode == 0 and [e["data"] for e in h2] == [e["data"] for e in srv.history("rt")],
            (p.stderr, len(h2)))
    other.stop()

    r = pub("--jsonl", "--room", "rt-redirect", input=open(rec).read())
    t.check("publish --jsonl --room R redirects the envelopes", r.rc == 0 and len(srv.history("rt-redirect")) == 3, r)

    r = pub("--jsonl", input='{"type":"hand_written","room":"rt-hand"}\n{"type":"hand_written","room":"rt-hand","data":{"n":2}}\n')
    h = srv.history("rt-hand")
    t.check("publish --jsonl: lines with only type (no timestamp/timezone/data) are published, stamped by the server",
            r.rc == 0 and [e["data"] for e in h] == [{}, {"n": 2}] and all(e["timezone"] for e in h), (r, h))
    r = t.run("publish", "--url", DOWN, "--jsonl", input='{"data":{}}\n', timeout=10)
    t.check("publish --jsonl: a line without type is exit 2 naming the field",
            one_line_naming(r, "line 1") and "type" in r.err, r)

    r = t.run("publish", "--url", DOWN, "--jsonl", input='{"type":"x","timestamp":"2024-01-15T10:30:45Z","timezone":"UTC","data":{}}\nnot json\n', timeout=10)
    t.check("publish --jsonl with a bad line: exit 2 naming the line, before connecting",
            one_line_naming(r, "line 2") and r.elapsed < 3, r)


def test_http():
    r = pub("--http", "via_http", '{"n":{{seq}}}', "--count", "2", "--room", "p-http")
    h = srv.history("p-http")
    t.check("--http publishes through POST /api/events", r.rc == 0 and [e["data"]["n"] for e in h] == [1, 2], (r, h))
    before = srv.last_seq()
    r = pub("--http", "http_bc", "{}")
    t.check("--http without a target: exit 2 naming the target flags, nothing stored",
            one_line_naming(r, "--room", "--broadcast") and srv.last_seq() == before, r)
    r = pub("--http", "http_bc", "{}", "--broadcast")
    evs = [e for e in srv.history() if e["seq"] > before and e["type"] == "http_bc"]
    t.check("--http --broadcast: stored without a room", r.rc == 0 and len(evs) == 1 and "room" not in evs[0], (r, evs))

    keyed = t.server("--api-key", "K1")
    r = t.run("publish", "--url", keyed.url, "--http", "--token", "K1", "keyed", '{"ok":true}', "--room", "k")
    t.check("--http --token KEY against `serve --api-key KEY`: exit 0, stored",
            r.rc == 0 and [e["data"] for e in keyed.history("k", key="K1")] == [{"ok": True}], r)
    r = t.run("publish", "--url", keyed.url, "--http", "--token", "wrong", "keyed", '{"ok":false}', "--room", "k")
    t.check("--http with a wrong API key: exit 4 (authentication rejected), nothing stored",
            r.rc == 4 and len(keyed.history("k", key="K1")) == 1, r)
    r = t.run("publish", "--url", keyed.url, "--http", "keyed", '{"ok":false}', "--room", "k")
    t.check("--http without the API key: exit 4", r.rc == 4, r)
    env = t.env(RTEV_TOKEN="K1")
    r = t.run("publish", "--url", keyed.url, "--http", "keyed", '{"env":true}', "--room", "k", env=env)
    t.check("RTEV_TOKEN is the API key for --http", r.rc == 0 and len(keyed.history("k", key="K1")) == 2, r)
    keyed.stop()

    r = t.run("publish", "--url", DOWN, "--http", "--connect-timeout", "1s", "x", "{}", "--room", "r")
    t.check("--http against an unreachable server: exit 3", r.rc == 3 and r.elapsed < 3, r)


def test_rejected():
    srv_t = t.server("--auth", "token")
    r = t.run("publish", "--url", srv_t.url, "--token", "alice", "message_sent", '{"x":1}', "--room", "user:bob")
    t.check("a non-admin publishing to another user's room: exit 1, stderr names the rejected event",
            r.rc == 1 and "message_sent" in r.err and ("reject" in r.err or "forbidden" in r.err), r)
    lines = "\n".join(json.dumps({"type": ty, "room": room, "timestamp": "2024-01-15T10:30:45.123456+00:00",
                                  "timezone": "UTC", "data": {"i": i}})
                      for i, (ty, room) in enumerate([("ok_one", "user:alice"), ("bad_one", "user:bob"),
                                                      ("ok_two", "user:alice")], 1))
    r = t.run("publish", "--url", srv_t.url, "--token", "alice", "--jsonl", input=lines + "\n")
    h = srv_t.history("user:alice", key="alice")
    t.check("publish --jsonl with one rejected envelope: exit 1 naming it (line 2, bad_one); the others stored",
            r.rc == 1 and "bad_one" in r.err and "line 2" in r.err and "ok_one" not in r.err and "ok_two" not in r.err
            and [e["type"] for e in h if e["type"].startswith("ok_")] == ["ok_one", "ok_two"], (r, h))
    r = t.run("publish", "--url", srv_t.url, "--token", "alice", "mine", '{"x":1}', "--room", "user:alice")
    t.check("the same user publishing to its own room: exit 0", r.rc == 0, r)
    srv_t.stop()


def test_usage_and_connect_errors():
    r = t.run("publish", "--url", DOWN, "message_sent", '{"a":', timeout=10)
    t.check("bad JSON argument: exit 2 with one line naming it, before connecting",
            one_line_naming(r, "JSON") and '{"a":' in r.err and r.elapsed < 3, r)
    deep = "[" * 200 + "]" * 200
    r = t.run("publish", "--url", DOWN, "message_sent", deep, timeout=10)
    t.check("JSON nested past 128 levels: exit 2 with one line naming the limit, before connecting",
            one_line_naming(r, "nested deeper than 128 levels") and r.elapsed < 3, r)
    with open(t.path("deep.json"), "w") as f:
        f.write('{"a":' + "[" * 100000 + "]" * 100000 + "}")
    r = t.run("publish", "--url", DOWN, "note", "--data", "@" + t.path("deep.json"), timeout=10)
    t.check("--data @file nested 100k levels: exit 2 naming the limit (no crash)",
            one_line_naming(r, "nested deeper than 128 levels"), r)
    r = t.run("publish", "--url", DOWN, "note", "--data", "@" + t.path("missing.json"), timeout=10)
    t.check("--data @missing-file: exit 2 naming the file", one_line_naming(r, "missing.json"), r)
    r = t.run("publish", "--url", DOWN, "note", "{}", "--rate", "fast", timeout=10)
    t.check("bad --rate: exit 2 naming it", one_line_naming(r, "--rate", "fast"), r)
    r = t.run("publish", "--url", DOWN, "note", "{}", "--room", "a", "--broadcast", timeout=10)
    t.check("--room with --broadcast: exit 2", r.rc == 2, r)
    r = t.run("publish", "--url", DOWN, timeout=10)
    t.check("publish without a TYPE: exit 2", r.rc == 2, r)
    r = t.run("publish", "--url", DOWN, "--connect-timeout", "1s", "note", "{}", "--room", "r")
    t.check("publish to an unreachable server: exit 3 within --connect-timeout 1s", r.rc == 3 and r.elapsed < 6, r)


def test_format_jsonl():
    def stored(room):
        return [{"id": e["id"], "seq": e["seq"]} for e in srv.history(room)]

    r = pub("fmt", '{"n":{{seq}}}', "--room", "fmt-ws", "--count", "3", "--format", "jsonl")
    t.check("publish --format jsonl: one {\"id\",\"seq\"} line per acknowledgement, as stored",
            r.rc == 0 and r.json_lines() == stored("fmt-ws") and len(r.lines()) == 3
            and all(list(j) == ["id", "seq"] for j in r.json_lines()), r)
    r = pub("fmt", "{}", "--room", "fmt-http", "--count", "2", "--http", "--format", "jsonl")
    t.check("publish --http --format jsonl: the same lines from POST /api/events",
            r.rc == 0 and r.json_lines() == stored("fmt-http") and len(r.lines()) == 2, r)
    lines = "".join(json.dumps({"type": "fmt", "room": "fmt-jl", "data": {"n": i}}) + "\n" for i in (1, 2))
    r = t.run("publish", "--url", URL, "--jsonl", "--format", "jsonl", input=lines)
    t.check("publish --jsonl --format jsonl: a line per published envelope",
            r.rc == 0 and r.json_lines() == stored("fmt-jl") and len(r.lines()) == 2, r)
    r = pub("fmt", "{}", "--room", "fmt-text", "--format", "text")
    t.check("publish --format text (the default): nothing on stdout, as before", r.rc == 0 and r.out == "", r)
    r = pub("fmt", "{}", "--room", "fmt-text")
    t.check("publish without --format: nothing on stdout", r.rc == 0 and r.out == "", r)
    r = t.run("publish", "--url", DOWN, "fmt", "{}", "--room", "r", "--format", "json", timeout=10)
    t.check("publish --format json: exit 2 naming the value and the accepted ones",
            r.rc == 2 and "json" in r.err and "text" in r.err and "jsonl" in r.err, r)
    tok = t.server("--auth", "token")
    r = t.run("publish", "--url", tok.url, "--token", "alice", "fmt", "{}", "--room", "user:bob", "--format", "jsonl")
    t.check("a rejected event prints no line (exit 1, the reason on stderr)", r.rc == 1 and r.out == "", r)
    tok.stop()


def test_http_rate_limit_headers():
    """POST /api/events answers announce the per-address limit; a refused one says when to retry."""
    slow = t.server("--rate-limit", "2/s", "--rate-burst", "3")
    answers = []
    for i in range(5):
        req = urllib.request.Request(slow.http + "/api/events",
                                     json.dumps({"type": "h", "room": "h", "data": {"i": i}}).encode(),
                                     {"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                answers.append((resp.status, dict(resp.headers)))
        except urllib.error.HTTPError as e:
            answers.append((e.code, dict(e.headers)))
    statuses = [a[0] for a in answers]
    t.check("--rate-limit 2/s --rate-burst 3: three POSTs accepted (202), then 429",
            statuses[:3] == [202, 202, 202] and 429 in statuses[3:], answers)
    t.check("every answer carries X-RateLimit-Limit: 2 and X-RateLimit-Burst: 3",
            all(h.get("X-RateLimit-Limit") == "2" and h.get("X-RateLimit-Burst") == "3" for _, h in answers),
            answers)
    refused = [h for st, h in answers if st == 429]
    t.check("a 429 carries Retry-After in whole seconds (1 at 2/s)",
            refused and all(h.get("Retry-After") == "1" for h in refused), answers)
    slow.stop()


def test_rate_limit_and_progress():
    """A default `rtev serve` allows 100 messages a second per connection (burst 100): publishing
    keeps under the limit it announces, so large runs are all stored, exit 0."""
    fresh = t.server()  # default limits, nothing else stored
    r = t.run("publish", "--url", fresh.url, "bulk", '{"n":{{seq}}}', "--count", "500", "--room", "bulk", timeout=60)
    h = fresh.history("bulk")
    t.check("publish --count 500 against a default server: exit 0, all 500 stored in order, "
            "paced under 100/s (more than 3 s), no 'too many messages'",
            r.rc == 0 and [e["data"]["n"] for e in h] == list(range(1, 501)) and r.elapsed > 3
            and "too many" not in r.err, (r, len(h)))
    t.check("... and nothing else was stored: a publisher announces no presence (last_seq is 500)",
            fresh.last_seq() == 500 and fresh.history("presence") == [], (fresh.last_seq(), fresh.history("presence")))
    t.check("... with stderr a pipe: no progress output at all", r.err == "", r.err)

    lines = "".join(json.dumps({"type": "line", "room": "jl", "data": {"n": i}}) + "\n" for i in range(1, 151))
    r = t.run("publish", "--url", fresh.url, "--jsonl", input=lines, timeout=60)
    t.check("publish --jsonl with 150 lines: exit 0, all stored",
            r.rc == 0 and [e["data"]["n"] for e in fresh.history("jl")] == list(range(1, 151)), r)

    r = t.run("publish", "--url", fresh.url, "--http", "viahttp", '{"n":{{seq}}}', "--count", "250", "--room", "hb",
              timeout=60)
    t.check("publish --http --count 250 (over the per-address limit): 429s are retried, exit 0, all stored once",
            r.rc == 0 and [e["data"]["n"] for e in fresh.history("hb")] == list(range(1, 251)), r)

    for proto, args in (("--protocol sse", ("--protocol", "sse")), ("--http", ("--http",))):
        room = "sse500" if "sse" in proto else "http500"
        r = t.run("publish", "--url", fresh.url, *args, "bulk", '{"n":{{seq}}}', "--count", "500", "--room", room,
                  timeout=90)
        t.check(f"publish {proto} --count 500 against a default server (HTTP POSTs, 100/s per address): exit 0, "
                "all 500 stored once, in order",
                r.rc == 0 and [e["data"]["n"] for e in fresh.history(room)] == list(range(1, 501))
                and "too many" not in r.err, (r, len(fresh.history(room))))
    rec = t.write("sse-replay.jsonl", "".join(json.dumps({"type": "rp", "room": "rp", "data": {"n": i},
                                                          "timestamp": "2024-01-15T10:00:00Z", "timezone": "UTC"})
                                              + "\n" for i in range(1, 251)))
    r = t.run("replay", "--url", fresh.url, "--protocol", "sse", rec, "--speed", "max", timeout=90)
    t.check("replay --speed max --protocol sse of 250 events: exit 0, all stored in order",
            r.rc == 0 and [e["data"]["n"] for e in fresh.history("rp")] == list(range(1, 251)), r)

    r = t.run_stderr_tty("publish", "--url", fresh.url, "tty", '{"n":{{seq}}}', "--count", "300", "--room", "tty")
    t.check("with stderr a terminal: a progress line with count, rate and ETA, then a summary; stdout empty",
            r.rc == 0 and "published" in r.err and "/300" in r.err and "/s" in r.err and "ETA" in r.err
            and "published 300/300 in" in r.err and r.out == "" and len(fresh.history("tty")) == 300, r)
    fresh.stop()


for fn in (test_targets_and_data, test_jsonl_round_trip, test_http, test_rejected, test_usage_and_connect_errors,
           test_format_jsonl, test_http_rate_limit_headers, test_rate_limit_and_progress):
    t.section(fn)
t.finish()
