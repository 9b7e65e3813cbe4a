#!/usr/bin/python3
"""End-to-end: `--jq FILTER` for `rtev tail`, `subscribe` and `replay --from-server` against a
real `rtev serve` (issue 11): select, projection, several outputs per event, --count counting
shown events only, --where/--type before --jq, --jq-raw, -o, a compile error (exit 2 naming
the filter), a runtime error (one warning, the event skipped, the tail goes on), and the flags
--jq refuses to combine with.
usage: e2e_jq.py RTEV_BINARY"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite  # noqa: E402

t = Suite("jq")
srv = t.server()
URL = srv.url

# Seeded through the HTTP API (not the CLI under test). Event 6's n is a string: `.data.n + 1`
# fails on it and on nothing else.
SEED = [
    {"type": "message_sent", "room": "r1", "data": {"platform": "whatsapp", "text": "hello", "n": 1}},
    {"type": "message_sent", "room": "r2", "data": {"platform": "telegram", "text": "salut", "n": 2}},
    {"type": "new_message", "room": "r1", "data": {"platform": "email", "n": 3, "tags": ["a", "b"]}},
    {"type": "order_created", "room": "r3", "data": {"n": 4}},
    {"type": "order_created", "broadcast": True, "data": {"n": 5}},
    {"type": "odd_one", "room": "r3", "data": {"n": "six"}},
]
acks = [srv.post(e) for e in SEED]
stored = {e["seq"]: e for e in srv.history()}
E = [stored[a["seq"]] for a in acks]  # the seeded envelopes as stored


def hist(*extra, cmd=("tail",)):
    return t.run(*cmd, "--url", URL, "--since", "beginning", "--until-end", *extra)


def test_select_and_projection():
    r = hist("--jq", ".")
    t.check("--jq . prints each envelope as one compact JSON line, the same object --format json prints",
            r.rc == 0 and r.json_lines() == E and all(": " not in l for l in r.lines()), r)
    r = hist("--jq", "select(.data.n == 2 or .data.n == 4)")
    t.check("--jq select(…): only the events it yields are shown",
            r.rc == 0 and [e["seq"] for e in r.json_lines()] == [E[1]["seq"], E[3]["seq"]], r)
    r = hist("--jq", "{type, n: .data.n}")
    t.check("--jq projection: one line per event with the filter's output",
            r.rc == 0 and r.json_lines() == [{"type": e["type"], "n": e["data"]["n"]} for e in E], r)
    r = hist("--jq", ".data.text")
    t.check("--jq on a missing field prints null (as jq does), strings as JSON strings",
            r.rc == 0 and r.lines() == ['"hello"', '"salut"', "null", "null", "null", "null"], r)
    r = hist("--jq", ".data.tags[]?")
    t.check("--jq yielding several outputs for one event prints each on its own line; "
            "yielding none (an empty iteration) shows nothing",
            r.rc == 0 and r.lines() == ['"a"', '"b"'], r)
    r = hist("--jq", "select(.data.platform) | .data.platform", "--jq-raw")
    t.check("--jq-raw prints string outputs as their text",
            r.rc == 0 and r.lines() == ["whatsapp", "telegram", "email"], r)
    r = hist("--jq", ".data.n", "--jq-raw")
    t.check("--jq-raw leaves other values as JSON", r.rc == 0 and r.lines() == ["1", "2", "3", "4", "5", "six"], r)
    r = hist("--where", "data.platform~^(whatsapp|email)$", "--type", "message_*", "--jq", ".data.n")
    t.check("--where and --type filter first, then --jq runs on what is left",
            r.rc == 0 and r.lines() == ["1"], r)
    r = hist("--format", "jsonl", "--jq", ".data.n")
    t.check("--format jsonl (what --jq prints anyway) is accepted with --jq",
            r.rc == 0 and r.lines() == ["1", "2", "3", "4", "5", '"six"'], r)
    rec = t.path("shown.jsonl")
    r = hist("--jq", "select(.type == \"order_created\") | .data.n", "-o", rec)
    recorded = [json.loads(l) for l in open(rec)] if os.path.exists(rec) else None
    t.check("-o records the envelopes of the events --jq showed (not its outputs, not the others)",
            r.rc == 0 and r.lines() == ["4", "5"] and recorded == [E[3], E[4]], (r, recorded))


def test_count():
    r = hist("--jq", "select(.data.n == 3 or .data.n == 5) | .data.n", "--count", "2")
    t.check("--count counts the events --jq showed, not those it dropped",
            r.rc == 0 and r.lines() == ["3", "5"], r)
    r = t.run("tail", "--url", URL, "--since", "beginning", "--jq", "select(.type == \"new_message\") | .data.tags[]",
              "--count", "1", "--timeout", "20s")
    t.check("an event with several outputs prints them all and counts once (--count 1: exit 0, both lines)",
            r.rc == 0 and r.lines() == ['"a"', '"b"'], r)
    r = hist("--jq", "select(.data.n == 1) | .data.n", "--count", "2")
    t.check("--count not reached by shown events at the end of the history: exit 5, saying 1 of 2",
            r.rc == 5 and r.lines() == ["1"] and "1 of 2 events" in r.err, r)
    r = hist("--jq", "empty", "--count", "1")
    t.check("--jq empty shows nothing: exit 5 with --count", r.rc == 5 and r.lines() == [], r)


def test_errors():
    r = t.run("tail", "--url", URL, "--jq", ".data |")
    t.check("a filter that does not compile: exit 2 at once, naming the filter, with jq's message",
            r.rc == 2 and r.lines() == [] and r.err.startswith("rtev: --jq '.data |': jq: error: syntax error")
            and "jq: 1 compile error" in r.err and r.elapsed < 10, r)
    r = t.run("tail", "--url", URL, "--jq", "$nope")
    t.check("an undefined variable is a compile error too (exit 2, jq's message)",
            r.rc == 2 and "$nope is not defined" in r.err, r)
    r = t.run("tail", "--url", URL, "--jq", 'import "no_such_module" as m; .')
    t.check("an import of a module that is not there: exit 2 with jq's message (no crash)",
            r.rc == 2 and "module not found: no_such_module" in r.err, r)

    r = hist("--jq", ".data.n + 1")
    warn = [l for l in r.err_lines() if "--jq" in l]
    t.check("a runtime error on one event: one warning naming the event and jq's error, the event "
            "skipped, the others shown, exit 0",
            r.rc == 0 and r.lines() == ["2", "3", "4", "5", "6"] and len(warn) == 1
            and f"odd_one (seq {E[5]['seq']})" in warn[0]
            and 'string ("six") and number (1) cannot be added' in warn[0], r)
    r = hist("--jq", 'if .data.n == 2 then error("two is not allowed") else .data.n end', "--count", "5")
    t.check("error(\"…\") in the filter: the event is skipped with the message and does not count",
            r.rc == 0 and r.lines() == ["1", "3", "4", "5", '"six"'] and "two is not allowed" in r.err, r)
    r = hist("--jq", '.data.n, (if .data.n == 3 then error("x") else empty end)')
    t.check("outputs before a runtime error in the same event are dropped with it",
            r.rc == 0 and r.lines() == ["1", "2", "4", "5", '"six"'], r)
    r = hist("--jq", "([inputs] | length), (.data.n | debug | empty)", "--type", "order_*")
    t.check("each event is a run of its own: inputs finds none; debug writes to stderr as jq does",
            r.rc == 0 and r.lines() == ["0", "0"] and '["DEBUG:",4]' in r.err and '["DEBUG:",5]' in r.err, r)

    for extra, why in ((["--format", "pretty"], "--format pretty"),
                       (["--format", "{{type}}"], "a --format template"),
                       (["--jq", ""], "an empty filter")):
        r = t.run("tail", "--url", URL, *(["--jq", "."] if extra[0] != "--jq" else []), *extra)
        t.check(f"--jq with {why}: exit 2 with one line naming it", r.rc == 2 and len(r.err_lines()) == 1
                and "--jq" in r.err, r)
    r = t.run("tail", "--url", URL, "--jq-raw")
    t.check("--jq-raw without --jq: exit 2", r.rc == 2 and "--jq-raw needs --jq" in r.err, r)


def test_subscribe_and_replay():
    r = hist("--jq", ".data.n", cmd=("subscribe", "r1", "r3"))
    t.check("subscribe --jq", r.rc == 0 and r.lines() == ["1", "3", "4", '"six"'], r)
    r = t.run("replay", "--url", URL, "--from-server", "--room", "r1", "--since", "beginning",
              "--jq", "select(.type == \"new_message\") | {seq, platform: .data.platform}")
    t.check("replay --from-server --jq: the stored history through the filter",
            r.rc == 0 and r.json_lines() == [{"seq": E[2]["seq"], "platform": "email"}], r)
    r = t.run("replay", "--url", URL, "--from-server", "--room", "r3", "--since", "beginning", "--jq", ".data.n + 1")
    t.check("replay --from-server --jq: a runtime error skips that event only",
            r.rc == 0 and r.lines() == ["5"] and "odd_one" in r.err, r)
    rec = t.write("rec.jsonl", json.dumps(E[0]) + "\n")
    r = t.run("replay", rec, "--url", URL, "--jq", ".")
    t.check("replay FILE --jq: exit 2 (a FILE is published, not printed)",
            r.rc == 2 and "--jq needs --from-server" in r.err, r)


def test_live():
    ready = t.path("live.ready")
    b = t.bg("tail", "--url", URL, "--room", "live", "--jq", "select(.data.ok) | .data.v", "--count", "2",
             "--timeout", "20s", "--ready-file", ready)
    got_ready = b.wait_file(ready, 15)
    for v, ok in ((1, False), (2, True), (3, False), (4, True), (5, True)):
        srv.post({"type": "live_event", "room": "live", "data": {"v": v, "ok": ok}})
    r = b.finish(30)
    t.check("a live tail --jq --count 2 prints the first two events the filter shows, exit 0",
            got_ready and r.rc == 0 and r.lines() == ["2", "4"], r)


for fn in (test_select_and_projection, test_count, test_errors, test_subscribe_and_replay, test_live):
    t.section(fn)
t.finish()
