#!/usr/bin/python3
"""End-to-end: `rtev tail` and `rtev subscribe` against a real `rtev serve` (issue 5 spec):
--count/--timeout (exit 0 / exit 5), --type globs and !excludes, --room, --presence, --where, --since (5m, RFC 3339,
seq:N, beginning) with --until-end, every --format, --time, --tz / RTEV_TZ, -o FILE, pretty on
a terminal vs JSONL in a pipe, --color / NO_COLOR.
usage: e2e_tail.py RTEV_BINARY"""
import json
import os
import re
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite, free_port, one_line_naming, strip_ansi  # noqa: E402

t = Suite("tail")
srv = t.server()
URL = srv.url
DOWN = f"ws://127.0.0.1:{free_port()}/events/ws/connect"

# Seeded through the HTTP API (not the CLI under test): rooms r1, r2, r3 and a broadcast.
SEED = [
    {"type": "message_sent", "room": "r1", "data": {"platform": "whatsapp", "message_text": "hello from r1", "n": 1}},
    {"type": "message_sent", "room": "r2", "data": {"platform": "telegram", "message_text": "hello from r2", "n": 2}},
    {"type": "new_message", "room": "r1", "data": {"platform": "email", "n": 3}},
    {"type": "MESSAGE_SENT", "broadcast": True, "data": {"n": 4}},
    {"type": "content-created", "room": "r3", "data": {"n": 5}},
]
acks = [srv.post(e) for e in SEED]
stored = {e["seq"]: e for e in srv.history()}
E = [stored[a["seq"]] for a in acks]  # the seeded envelopes as stored, E[0] … E[4]
SEEDED_SEQS = {e["seq"] for e in E}


def seeded(res):
    """The seeded events among a run's JSONL output (presence events of the CLI's own
    connections left out), as n values in output order."""
    return [e["data"]["n"] for e in res.json_lines() if e.get("seq") in SEEDED_SEQS]


def hist(*extra):
    return t.run("tail", "--url", URL, "--since", "beginning", "--until-end", *extra)


def clock_ms(ts, zone):
    """pretty's local time: the wall clock in the zone, to the millisecond, fixed width."""
    d = datetime.fromisoformat(ts).astimezone(ZoneInfo(zone))
    return f"{d:%Y-%m-%d %H:%M:%S}.{d.microsecond // 1000:03d}"


def iso_in(ts, zone):
    return datetime.fromisoformat(ts).astimezone(ZoneInfo(zone)).isoformat(timespec="microseconds")


def test_history_and_filters():
    r = hist()
    t.check("tail --since beginning --until-end: exit 0 with every room and the broadcast, in seq order",
            r.rc == 0 and seeded(r) == [1, 2, 3, 4, 5], r)
    t.check("tail in a pipe prints JSONL (every stdout line is a JSON envelope, no colour)",
            r.rc == 0 and all(isinstance(j, dict) and "type" in j and "seq" in j for j in r.json_lines())
            and "\x1b" not in r.out, r)

    r = hist("--type", "message_*")
    t.check("--type glob message_* matches message_sent only (case-sensitive: not MESSAGE_SENT)",
            r.rc == 0 and seeded(r) == [1, 2], r)
    r = hist("--type", "new_message", "--type", "content-*")
    t.check("--type is repeatable", r.rc == 0 and seeded(r) == [3, 5], r)
    r = hist("--type", "MESSAGE_SENT")
    t.check("--type exact dashboard type", r.rc == 0 and seeded(r) == [4], r)

    r = hist("--room", "r1")
    t.check("--room r1 shows only r1's events (no broadcast, no other room)",
            r.rc == 0 and [e.get("room") for e in r.json_lines()] == ["r1", "r1"] and seeded(r) == [1, 3], r)
    r = hist("--room", "r1", "--room", "r2")
    # Each room's history comes in seq order; the spec does not order rooms among themselves.
    t.check("--room is repeatable", r.rc == 0 and sorted(seeded(r)) == [1, 2, 3]
            and [n for n in seeded(r) if n != 2] == [1, 3]
            and all(e.get("room") in ("r1", "r2") for e in r.json_lines()), r)

    r = hist("--room", "r*")
    t.check("--room glob r* (anyone may use globs on an --auth none server)",
            r.rc == 0 and sorted(seeded(r)) == [1, 2, 3, 5] and all(e.get("room", "")[:1] == "r" for e in r.json_lines()), r)

    r = hist("--where", "data.platform=whatsapp")
    t.check("--where data.platform=whatsapp", r.rc == 0 and seeded(r) == [1]
            and len(r.json_lines()) == 1, r)
    r = hist("--type", "message_sent", "--where", "data.platform!=whatsapp")
    t.check("--where FIELD!=VALUE", r.rc == 0 and seeded(r) == [2], r)
    r = hist("--where", "data.platform=whatsapp", "--where", "data.n=1")
    r2 = hist("--where", "data.platform=whatsapp", "--where", "data.n=2")
    t.check("--where is repeatable (all tests must hold; numbers compare)",
            r.rc == 0 and seeded(r) == [1] and r2.rc == 0 and r2.lines() == [], (r, r2))
    r = hist("--where", "room=r2")
    t.check("--where on an envelope field (room=r2)", r.rc == 0 and seeded(r) == [2], r)
    r = hist("--where", "data.n>=2", "--where", "data.n<4")
    t.check("--where FIELD>=V and FIELD<V compare numbers as numbers", r.rc == 0 and seeded(r) == [2, 3], r)
    r = hist("--where", "data.n>10")
    t.check("--where data.n>10: numbers, not text ('3' > '10' as text)", r.rc == 0 and seeded(r) == [], r)
    r = hist("--where", "timestamp>" + E[2]["timestamp"])
    t.check("--where timestamp>T orders RFC 3339 times as text", r.rc == 0 and seeded(r) == [4, 5], r)
    r = hist("--where", "data.message_text~^hello from r[12]$")
    t.check("--where FIELD~REGEX (POSIX extended, searched)", r.rc == 0 and seeded(r) == [1, 2], r)
    r = hist("--type", "message_sent", "--where", "data.platform!~^what")
    t.check("--where FIELD!~REGEX", r.rc == 0 and seeded(r) == [2], r)
    r = hist("--where", "data.message_text")
    t.check("--where FIELD: the field exists", r.rc == 0 and seeded(r) == [1, 2], r)
    r = hist("--where", "!data.platform")
    t.check("--where !FIELD: the field is missing", r.rc == 0 and seeded(r) == [4, 5], r)
    r = t.run("tail", "--url", URL, "--where", "data.x~(unclosed")
    t.check("--where with a bad regular expression: exit 2 naming it",
            r.rc == 2 and "bad regular expression '(unclosed'" in r.err and len(r.err.strip().splitlines()) == 1, r)
    r = t.run("tail", "--url", URL, "--where", "data.x~((a{255}){255}){255}")
    t.check("--where with a regular expression that expands past 100000 parts: exit 2, not gigabytes",
            r.rc == 2 and "is too large once its repeats are expanded" in r.err, r)
    r = t.run("tail", "--url", URL, "--where", "=x")
    t.check("--where without a FIELD: exit 2 listing the forms", r.rc == 2 and "FIELD~REGEX" in r.err, r)

    r = t.run("tail", "--url", URL, "--since", "seq:%d" % E[1]["seq"], "--until-end")
    t.check("--since seq:N replays the events after seq N", r.rc == 0 and seeded(r) == [3, 4, 5], r)
    ts_z = E[2]["timestamp"].replace("+00:00", "Z")
    r = t.run("tail", "--url", URL, "--since", ts_z, "--until-end")
    t.check(f"--since RFC 3339 ({ts_z}) replays the events at or after that time",
            r.rc == 0 and seeded(r) == [3, 4, 5], r)
    r = t.run("tail", "--url", URL, "--since", "2000-01-01T00:00:00Z", "--until-end")
    t.check("--since 2000-01-01T00:00:00Z replays everything", r.rc == 0 and seeded(r) == [1, 2, 3, 4, 5], r)
    r = t.run("tail", "--url", URL, "--since", "5m", "--until-end")
    t.check("--since 5m replays the events of the last 5 minutes", r.rc == 0 and seeded(r) == [1, 2, 3, 4, 5], r)
    r = t.run("tail", "--url", URL, "--since", "now", "--until-end")
    t.check("--since now replays nothing stored before now", r.rc == 0 and seeded(r) == [], r)
    r = t.run("tail", "--url", URL, "--since", "@946684800", "--until-end")
    t.check("--since @UNIX_SECONDS (2000-01-01) replays everything after that time",
            r.rc == 0 and seeded(r) == [1, 2, 3, 4, 5], r)
    r = t.run("tail", "--url", URL, "--since", "1733300000", "--until-end")
    t.check("--since with a bare Unix-time-sized number is not read as a seq: exit 2 naming both",
            r.rc == 2 and "seq:1733300000" in r.err and "@1733300000" in r.err, r)
    r = t.run("tail", "--url", URL, "--since", "%d" % E[3]["seq"], "--until-end")
    t.check("--since with a small bare number is a seq (as the protocol's since)", r.rc == 0 and seeded(r) == [5], r)
    r = t.run("tail", "--url", URL, "--since", "2999-01-01T00:00:00Z", "--until-end", "--timeout", "10s")
    t.check("--since a future time + --until-end: nothing, exit 0", r.rc == 0 and seeded(r) == [], r)
    r = hist("--type", "nothing_like_this")
    t.check("--until-end with no matching history exits 0 at once", r.rc == 0 and r.lines() == [] and r.elapsed < 5, r)
    r = t.run("tail", "--url", URL, "--since", "beginning", "--type", "message_sent", "--count", "1")
    t.check("--since beginning --count 1 exits 0 after the first replayed match",
            r.rc == 0 and seeded(r) == [1] and len(r.lines()) == 1, r)


def test_count_timeout():
    # The spec's CI assertion: rtev tail --type message_sent --count 1 --timeout 10s
    b = t.bg("tail", "--url", URL, "--type", "ci_check", "--count", "2", "--timeout", "10s", "-v")
    ready = b.wait_err("joined", 10)
    for i in range(3):
        srv.post({"type": "ci_check", "room": "ci", "data": {"i": i}})
    r = b.finish(20)
    t.check("tail --count 2 --timeout 10s: exit 0 after exactly 2 live events",
            ready and r.rc == 0 and [e["data"]["i"] for e in r.json_lines()] == [0, 1] and r.elapsed < 10, r)

    # A burst (one HTTP request, five events): --count 2 still means exactly two.
    b = t.bg("tail", "--url", URL, "--type", "burst", "--count", "2", "--timeout", "10s", "-v")
    ready = b.wait_err("joined", 10)
    srv.post([{"type": "burst", "room": "ci", "data": {"i": i}} for i in range(5)])
    r = b.finish(20)
    t.check("tail --count 2 prints exactly 2 events when more arrive at once",
            ready and r.rc == 0 and [e["data"]["i"] for e in r.json_lines()] == [0, 1], r)

    b = t.bg("tail", "--url", URL, "--type", "message_sent", "--count", "1", "--timeout", "10s", "-v")
    ready = b.wait_err("joined", 10)
    t.run("publish", "--url", URL, "message_sent", '{"message_text":"ci"}', "--room", "ci")
    r = b.finish(20)
    t.check("`rtev tail --type message_sent --count 1 --timeout 10s` + `rtev publish` is a CI assertion (exit 0)",
            ready and r.rc == 0 and len(r.json_lines()) == 1 and r.json_lines()[0]["data"]["message_text"] == "ci", r)

    # --since replays, then follows: 2 stored + 1 live = --count 3.
    srv.post({"type": "rf_event", "room": "rf", "data": {"i": 1}})
    srv.post({"type": "rf_event", "room": "rf", "data": {"i": 2}})
    b = t.bg("tail", "--url", URL, "--type", "rf_event", "--since", "beginning", "--count", "3", "--timeout", "10s", "-v")
    ready = b.wait_err("joined", 10)
    srv.post({"type": "rf_event", "room": "rf", "data": {"i": 3}})
    r = b.finish(20)
    t.check("--since beginning replays then follows live events (2 stored + 1 live, no gap, no duplicate)",
            ready and r.rc == 0 and [e["data"]["i"] for e in r.json_lines()] == [1, 2, 3], r)

    r = t.run("tail", "--url", URL, "--type", "never_published", "--count", "1", "--timeout", "1s")
    t.check("--count not reached by --timeout 1s: exit 5, after about 1 s, a diagnostic on stderr",
            r.rc == 5 and 0.9 <= r.elapsed < 4 and r.out == "" and r.err.strip() != "", r)
    r = t.run("tail", "--url", URL, "--since", "beginning", "--type", "message_sent", "--count", "5",
              "--timeout", "1500ms")
    t.check("--count 5 with only 2 matching events: prints the 2, then exit 5",
            r.rc == 5 and seeded(r) == [1, 2], r)
    r = t.run("tail", "--url", URL, "--type", "never_published", "--timeout", "1s")
    t.check("--timeout without --count: a plain deadline, exit 0", r.rc == 0 and r.elapsed < 4, r)
    r = t.run("tail", "--url", URL, "--type", "never_published", "--count", "1", "--timeout", "1s", "-q")
    t.check("-q: exit 5 with nothing on stderr", r.rc == 5 and r.err == "", r)


def test_broadcasts_live():
    # Without --room broadcasts show; with --room only that room.
    # (--count is not what this checks: the first two events are compared.)
    all_rooms = t.bg("tail", "--url", URL, "--type", "live_*", "--count", "2", "--timeout", "10s", "-v")
    only_r1 = t.bg("tail", "--url", URL, "--room", "lr1", "--type", "live_*", "--count", "1", "--timeout", "10s", "-v")
    ready = all_rooms.wait_err("joined", 10) and only_r1.wait_err("joined", 10)
    srv.post({"type": "live_bc", "broadcast": True, "data": {"k": "broadcast"}})
    srv.post({"type": "live_other", "room": "lr2", "data": {"k": "r2"}})
    srv.post({"type": "live_r1", "room": "lr1", "data": {"k": "r1"}})
    a, b = all_rooms.finish(20), only_r1.finish(20)
    t.check("live tail without --room shows broadcasts and every room",
            ready and a.rc == 0 and [e["data"]["k"] for e in a.json_lines()][:2] == ["broadcast", "r2"], a)
    t.check("live tail --room r1 shows neither the broadcast nor r2",
            ready and b.rc == 0 and [e["data"]["k"] for e in b.json_lines()][:1] == ["r1"], b)


def test_formats():
    e1 = E[0]
    r = hist("--room", "r1", "--format", "jsonl")
    t.check("--format jsonl: one compact envelope per line, equal to the stored one",
            r.rc == 0 and len(r.lines()) == 2 and r.json_lines()[0] == e1, r)

    r = hist("--room", "r1", "--format", "json")
    docs, pos, text = [], 0, r.out
    try:
        dec = json.JSONDecoder()
        while text[pos:].strip():
            while text[pos].isspace():
                pos += 1
            d, pos = dec.raw_decode(text, pos)
            docs.append(d)
    except Exception as ex:
        docs = [f"unparsable: {ex}"]
    t.check("--format json: indented JSON documents, one per event",
            r.rc == 0 and len(docs) == 2 and docs[0] == e1 and len(r.out.splitlines()) > 2, r)

    r = hist("--room", "r1", "--format", "raw")
    t.check("--format raw: the data only", r.rc == 0 and r.json_lines() == [E[0]["data"], E[2]["data"]], r)

    r = hist("--room", "r1", "--type", "message_sent", "--format", "{{type}} {{data.message_text}} {{timestamp}}")
    t.check("--format '{{type}} {{data.message_text}} {{timestamp}}'",
            r.rc == 0 and r.lines() == [f"message_sent hello from r1 {e1['timestamp']}"], r)
    r = hist("--room", "r1", "--format", "{{seq}}|{{room}}|{{data.n}}")
    t.check("--format template with seq, room and a number",
            r.rc == 0 and r.lines() == [f"{E[0]['seq']}|r1|1", f"{E[2]['seq']}|r1|3"], r)

    r = hist("--room", "r1", "--type", "message_sent", "--format", "pretty", "--tz", "Asia/Tokyo")
    line = r.lines()[0] if r.lines() else ""
    want_time = clock_ms(e1["timestamp"], "Asia/Tokyo")
    t.check("--format pretty --tz Asia/Tokyo: the time in that zone, the type, the room, a compact payload",
            r.rc == 0 and len(r.lines()) == 1 and want_time in line and "message_sent" in line and " r1 " in f" {line} "
            and '"message_text":"hello from r1"' in line and "\x1b" not in line, f"want {want_time!r}\n{r}")
    r = hist("--room", "r1", "--type", "message_sent", "--format", "pretty", "--time", "iso", "--tz", "Asia/Kolkata")
    want = iso_in(e1["timestamp"], "Asia/Kolkata")
    t.check("--time iso: RFC 3339 in the --tz zone", r.rc == 0 and want in r.out, f"want {want!r}\n{r}")
    r = hist("--room", "r1", "--type", "message_sent", "--format", "pretty", "--time", "relative")
    # The events were published when this suite started: under a loaded sanitizer run that can
    # be a minute ago, so any recent relative form is right ("just now", "42s ago", "1m ago").
    t.check("--time relative: a fresh event is shown relative to now",
            r.rc == 0 and re.search(r"(?:^|\s)(?:just now|\d+s ago|\d+m ago)\s", r.out) is not None, r)
    r = hist("--room", "r1", "--type", "message_sent", "--format", "pretty", "--time", "local", "--tz", "UTC")
    t.check("--time local --tz UTC: pretty's clock, to the millisecond",
            r.rc == 0 and r.out.startswith(clock_ms(e1["timestamp"], "UTC") + "  "), r)
    r = hist("--format", "pretty", "--tz", "America/New_York")
    rows = r.lines()[:5]  # the seeded events, seqs 1-5 (other sections add more later)
    want = [clock_ms(e["timestamp"], "America/New_York") for e in E]
    # A column is as wide as its widest value so far: new_message is padded to message_sent's
    # width, so the payloads of rows 1-3 start in one column; (broadcast) and content-created
    # widen theirs for the rows after them.
    starts = [l.index("{") for l in rows]
    t.check("pretty lines up its columns: a 23-character clock with milliseconds in --tz, then type, room "
            "and #seq padded to the widest so far",
            r.rc == 0 and len(rows) == 5 and [l[:23] for l in rows] == want
            and all(l[23:25] == "  " for l in rows) and starts[0] == starts[1] == starts[2]
            and starts == sorted(starts) and rows[4].split()[2:5] == ["content-created", "r3", f"#{E[4]['seq']}"], r)
    env = t.env(RTEV_TZ="America/New_York")
    r = t.run("tail", "--url", URL, "--since", "beginning", "--until-end", "--room", "r1", "--type", "message_sent",
              "--format", "pretty", "--time", "iso", env=env)
    want = iso_in(e1["timestamp"], "America/New_York")
    t.check("RTEV_TZ=America/New_York sets the display zone", r.rc == 0 and want in r.out, f"want {want!r}\n{r}")
    r = t.run("tail", "--url", URL, "--since", "beginning", "--until-end", "--room", "r1", "--type", "message_sent",
              "--format", "pretty", "--time", "iso", "--tz", "Asia/Tokyo", env=env)
    t.check("--tz wins over RTEV_TZ", r.rc == 0 and iso_in(e1["timestamp"], "Asia/Tokyo") in r.out, r)

    rec = t.path("tail-record.jsonl")
    r = hist("--room", "r1", "--format", "{{data.n}}", "-o", rec)
    try:
        recorded = [json.loads(l) for l in open(rec) if l.strip()]
    except Exception as ex:
        recorded = f"unreadable: {ex}"
    t.check("-o FILE records the shown events as JSONL while stdout keeps its format",
            r.rc == 0 and r.lines() == ["1", "3"] and recorded == [E[0], E[2]], (r, recorded))


def test_terminal_and_colour():
    args = ("tail", "--url", URL, "--since", "beginning", "--until-end", "--type", "message_sent", "--type", "new_message",
            "--type", "MESSAGE_SENT")
    r = t.run_pty(*args)
    lines = [l for l in r.out.splitlines() if l.strip()]
    plain = [strip_ansi(l) for l in lines]

    def is_json(l):
        try:
            json.loads(l)
            return True
        except ValueError:
            return False
    t.check("tail on a terminal prints pretty (not JSON) lines, coloured",
            r.rc == 0 and len(lines) >= 3 and not any(is_json(p) for p in plain) and "\x1b[" in r.out
            and any("message_sent" in p and "r1" in p for p in plain), r)

    def colour_of(type_name):
        for l in lines:
            m = re.search(r"((?:\x1b\[[0-9;]*m)+)" + re.escape(type_name) + r"(?![A-Za-z_])", l)
            if m:
                return m.group(1)
        return None
    c_msg, c_inbox, c_dash = colour_of("message_sent"), colour_of("new_message"), colour_of("MESSAGE_SENT")
    t.check("pretty colours the type by family (messenger, inbox, dashboard differ)",
            None not in (c_msg, c_inbox, c_dash) and len({c_msg, c_inbox, c_dash}) == 3,
            f"messenger={c_msg!r} inbox={c_inbox!r} dashboard={c_dash!r}\n{r}")

    r = t.run_pty(*args, env=t.env(NO_COLOR="1"))
    plain_lines = [l for l in r.out.splitlines() if l.strip()]
    t.check("NO_COLOR=1 on a terminal: still pretty, no colour",
            r.rc == 0 and len(plain_lines) >= 3 and "\x1b" not in r.out and not any(is_json(l) for l in plain_lines), r)
    r = t.run_pty(*args, "--color", "never")
    t.check("--color never on a terminal: no colour", r.rc == 0 and r.out.strip() and "\x1b" not in r.out, r)
    r = t.run_pty(*args, "--color", "always", env=t.env(NO_COLOR="1"))
    t.check("--color always wins over NO_COLOR", r.rc == 0 and "\x1b[" in r.out, r)
    r = t.run_pty(*args, "--format", "jsonl")
    ok = r.rc == 0 and r.out.strip() != ""
    try:
        ok = ok and all(isinstance(json.loads(l), dict) for l in r.out.splitlines() if l.strip())
    except ValueError:
        ok = False
    t.check("--format jsonl wins over terminal detection (JSON lines, no colour)", ok and "\x1b" not in r.out, r)
    r = t.run(*args, "--format", "pretty", "--color", "always")
    t.check("--color always in a pipe colours pretty output", r.rc == 0 and "\x1b[" in r.out, r)
    r = t.run(*args, "--format", "pretty")
    t.check("--format pretty in a pipe: pretty, but no colour (not a terminal)",
            r.rc == 0 and r.out.strip() and "\x1b" not in r.out and "message_sent" in r.out, r)

    r = t.run_pty("subscribe", "r1", "--url", URL, "--since", "beginning", "--until-end")
    plain_lines = [strip_ansi(l) for l in r.out.splitlines() if l.strip()]
    t.check("subscribe on a terminal prints pretty", r.rc == 0 and len(plain_lines) == 2
            and not any(is_json(l) for l in plain_lines) and "message_sent" in r.out, r)


def test_subscribe():
    r = t.run("subscribe", "r1", "r2", "--url", URL, "--since", "beginning", "--until-end")
    t.check("subscribe r1 r2: every event of those rooms as JSONL, no broadcast, no other room",
            r.rc == 0 and sorted(seeded(r)) == [1, 2, 3] and [n for n in seeded(r) if n != 2] == [1, 3] and all(e.get("room") in ("r1", "r2") for e in r.json_lines()), r)
    b = t.bg("subscribe", "sub-a", "sub-b", "--url", URL, "--count", "3", "--timeout", "10s", "-v")
    ready = b.wait_err("joined sub-a", 10) and b.wait_err("joined sub-b", 10)
    srv.post({"type": "x1", "room": "sub-a", "data": {"i": 1}})
    srv.post({"type": "x2", "room": "elsewhere", "data": {"i": 2}})
    srv.post({"type": "x3", "broadcast": True, "data": {"i": 3}})
    srv.post({"type": "x4", "room": "sub-b", "data": {"i": 4}})
    srv.post({"type": "x5", "room": "sub-a", "data": {"i": 5}})
    r = b.finish(20)
    t.check("subscribe ROOM... streams live events of its rooms only (JSONL), exits 0 at --count",
            ready and r.rc == 0 and [e["data"]["i"] for e in r.json_lines()] == [1, 4, 5], r)
    r = t.run("subscribe", "r9", "--url", URL, "--count", "1", "--timeout", "1s")
    t.check("subscribe --count/--timeout not reached: exit 5", r.rc == 5, r)
    r = t.run("subscribe", "--url", URL)
    t.check("subscribe without a ROOM: exit 2", r.rc == 2, r)


def test_presence_and_type_excludes():
    fresh = t.server()  # nothing else connected: every presence event here is one of ours
    b = t.bg("tail", "--url", fresh.url, "--count", "1", "--timeout", "10s", "-v")
    ready = b.wait_err("joined", 10)
    p = t.run("publish", "--url", fresh.url, "first_real", '{"n":1}', "--room", "pr")
    r = b.finish(20)
    t.check("tail --count 1 + rtev publish: the count is the published event, not the publisher's user_online",
            ready and p.rc == 0 and r.rc == 0 and [e["type"] for e in r.json_lines()] == ["first_real"], (p, r))

    w = t.bg("tail", "--url", fresh.url, "--presence", "--type", "user_*", "--count", "1", "--timeout", "10s", "-v")
    ready = w.wait_err("joined", 10)
    p = t.run("publish", "--url", fresh.url, "quiet", "{}", "--room", "pr")  # a publisher: not announced
    bob = t.run("tail", "--url", fresh.url, "--token", "bob", "--timeout", "500ms")
    r = w.finish(20)
    ev = r.json_lines()
    t.check("tail --presence shows the presence room; its first user_online is bob's (the publisher announced nothing), "
            "without a seq (live-only)",
            ready and p.rc == 0 and bob.rc == 0 and r.rc == 0 and len(ev) == 1 and ev[0]["type"] == "user_online"
            and ev[0]["data"]["user_id"] == "bob" and ev[0]["room"] == "presence" and "seq" not in ev[0], r)

    w = t.bg("tail", "--url", fresh.url, "--room", "presence", "--count", "1", "--timeout", "10s", "-v")
    ready = w.wait_err("joined presence", 10)
    t.run("tail", "--url", fresh.url, "--token", "carol", "--timeout", "500ms")
    r = w.finish(20)
    t.check("tail --room presence shows it too",
            ready and r.rc == 0 and [(e["type"], e["data"]["user_id"]) for e in r.json_lines()] == [("user_online", "carol")], r)
    t.check("nothing of it is stored: the presence room's history is empty", fresh.history("presence") == [],
            fresh.history("presence"))

    fresh.post({"type": "user_online", "room": "ex", "data": {"user_id": "not-presence"}})
    fresh.post({"type": "a_1", "room": "ex", "data": {}})
    fresh.post({"type": "user_x", "room": "ex", "data": {}})
    fresh.post({"type": "b_2", "room": "ex", "data": {}})

    def types(*extra):
        r = t.run("tail", "--url", fresh.url, "--room", "ex", "--since", "beginning", "--until-end", *extra)
        return r.rc, [e["type"] for e in r.json_lines()]
    t.check("a user_online published to another room is an ordinary event (shown without --presence)",
            types() == (0, ["user_online", "a_1", "user_x", "b_2"]), types())
    t.check("--type '!user_*' excludes", types("--type", "!user_*") == (0, ["a_1", "b_2"]), types("--type", "!user_*"))
    got = types("--type", "a_*", "--type", "user_*", "--type", "!user_x")
    t.check("several --type: includes OR'ed, excludes applied after", got == (0, ["user_online", "a_1"]), got)
    r = t.run("tail", "--url", fresh.url, "--type", "!")
    t.check("--type '!' alone: exit 2 naming it", r.rc == 2 and "--type" in r.err and len(r.err_lines()) == 1, r)

    # A typo of a catalog type: one warning with the likely name, and the command goes on.
    fresh.post({"type": "message_sent", "room": "ex", "data": {}})
    r = t.run("tail", "--url", fresh.url, "--room", "ex", "--since", "beginning", "--until-end", "--type", "mesage_sent")
    t.check("--type mesage_sent: one warning naming message_sent on stderr, exit unchanged (0), nothing matches",
            r.rc == 0 and r.err_lines() == ["rtev: warning: --type 'mesage_sent' is not a known event type; "
                                            "did you mean 'message_sent'?"] and r.out == "", r)
    r = t.run("tail", "--url", fresh.url, "--room", "ex", "--since", "beginning", "--until-end",
              "--type", "mesage_sent", "--type", "mesage_sent", "--type", "!user_onlin", "--count", "1",
              "--timeout", "3s")
    t.check("the same typo twice warns once; an exclude '!user_onlin' suggests '!user_online'; --count not met "
            "is still exit 5",
            r.rc == 5 and r.err_lines()[:2] == [
                "rtev: warning: --type '!user_onlin' is not a known event type; did you mean '!user_online'?",
                "rtev: warning: --type 'mesage_sent' is not a known event type; did you mean 'message_sent'?"]
            and len([l for l in r.err_lines() if "warning" in l]) == 2, r)
    for quiet in (("--type", "deploy_finished"), ("--type", "message_sent"), ("--type", "mesage_*"),
                  ("--type", "b_2"), ("--type", "mesage_sent", "-q")):
        r = t.run("tail", "--url", fresh.url, "--room", "ex", "--since", "beginning", "--until-end", *quiet)
        t.check(f"{' '.join(quiet)}: no warning (a custom type far from the catalog, a catalog name, a glob, -q)",
                r.rc == 0 and r.err == "", r)
    fresh.stop()


def test_since_last():
    own = t.server()
    for i in range(1, 6):
        own.post({"type": "la", "room": "la", "data": {"i": i}})
        own.post({"type": "lb", "room": "lb", "data": {"i": i}})

    def got(r):
        return [(e["room"], e["data"]["i"]) for e in r.json_lines() if e.get("room") in ("la", "lb")]

    r = t.run("tail", "--url", own.url, "--room", "la", "--room", "lb", "--since", "last:2", "--until-end")
    t.check("tail --since last:2 --room la --room lb: the last 2 stored events of each room, exit 0",
            r.rc == 0 and sorted(got(r)) == [("la", 4), ("la", 5), ("lb", 4), ("lb", 5)], r)
    r = t.run("subscribe", "la", "--url", own.url, "--since", "last:3", "--until-end")
    t.check("subscribe ROOM --since last:3: its last 3", r.rc == 0 and got(r) == [("la", 3), ("la", 4), ("la", 5)], r)
    r = t.run("tail", "--url", own.url, "--room", "la", "--since", "last:50", "--until-end")
    t.check("--since last:50 of a room holding 5: all 5", r.rc == 0 and len(got(r)) == 5, r)
    r = t.run("tail", "--url", own.url, "--room", "nothing-here", "--since", "last:2", "--until-end")
    t.check("--since last:2 of an empty room: nothing, exit 0", r.rc == 0 and r.out == "", r)

    ready = t.path("last-ready")
    b = t.bg("tail", "--url", own.url, "--room", "la", "--since", "last:2", "--count", "3", "--timeout", "10s",
             "--ready-file", ready)
    ok = b.wait_file(ready, 10)
    own.post({"type": "la", "room": "la", "data": {"i": 6}})
    r = b.finish(15)
    t.check("--since last:2 then live: 2 stored + 1 published after, in order, exit 0",
            ok and r.rc == 0 and got(r) == [("la", 4), ("la", 5), ("la", 6)], r)

    for bad in ("last:0", "last:-1", "last:", "last:x", "last:1001", "last:1.5", "last:99999999999999999999"):
        r = t.run("tail", "--url", DOWN, "--since", bad)
        t.check(f"--since {bad}: exit 2 naming it and what is accepted, before connecting",
                one_line_naming(r, "--since " + bad, "1 to 1000") and r.elapsed < 3, r)
    r = t.run("tail", "--url", own.http + "/api/events", "--since", "last:2")
    t.check("--since last:2 over SSE: exit 2 (history requests are rtev's protocol)",
            one_line_naming(r, "--since last:2", "--protocol rtev"), r)
    own.stop()


for fn in (test_history_and_filters, test_count_timeout, test_broadcasts_live, test_formats,
           test_terminal_and_colour, test_subscribe, test_presence_and_type_excludes, test_since_last):
    t.section(fn)
t.finish()
