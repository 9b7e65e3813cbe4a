#!/usr/bin/python3
"""End-to-end: `--protocol rtev|sse|socketio` (issue 6) — how the protocol is chosen (flag,
RTEV_PROTOCOL, profile, inferred from the URL; the default URL follows it), flags that do not
apply to it and malformed values refused with exit 2 naming them; and `rtev tail`, `subscribe`,
`publish`, `connect` over SSE and Socket.IO against a real `rtev serve` (its /api/events stream
and its /socket.io/ door), with --count / --timeout / --until-end exit codes.
usage: e2e_protocols.py RTEV_BINARY"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite, free_port, one_line_naming  # noqa: E402

t = Suite("protocols")
DOWN = free_port()


def test_usage_errors():
    sio = ["--protocol", "socketio", "--url", f"http://127.0.0.1:{DOWN}"]
    sse = ["--url", f"http://127.0.0.1:{DOWN}/events"]
    cases = [
        ("--protocol with an unknown value", ["tail", "--protocol", "mqtt"], ("--protocol", "mqtt", "rtev, sse or socketio")),
        ("--emit needs --protocol socketio (sse inferred from the URL)", ["tail", *sse, "--emit", "a", "{}"],
         ("--emit needs --protocol socketio", "sse", "the URL")),
        ("--join on rtev", ["tail", "--url", f"ws://127.0.0.1:{DOWN}/x", "--join", "r"], ("--join", "socketio", "rtev")),
        ("--namespace on sse", ["subscribe", "r", *sse, "--namespace", "/chat"], ("--namespace", "socketio")),
        ("--auth-json that is not JSON", ["tail", *sio, "--auth-json", "{token:1}"], ("--auth-json", "{token:1}")),
        ("--auth-json that is not an object", ["tail", *sio, "--auth-json", "[1]"], ("--auth-json", "object")),
        ("--emit with JSON that is not JSON", ["tail", *sio, "--emit", "authenticate", "{bad"], ("--emit authenticate", "{bad")),
        ("--emit with one value", ["tail", *sio, "--emit", "authenticate"], ("--emit",)),
        ("--emit with three values", ["tail", *sio, "--emit", "a", "1", "2"], ("2",)),
        ("--transport with an unknown value", ["tail", *sio, "--transport", "pigeon"], ("--transport", "pigeon")),
        ("--last-event-id on socketio", ["tail", *sio, "--last-event-id", "3"], ("--last-event-id", "sse")),
        ("--publish-url on rtev", ["publish", "t", "{}", "--publish-url", "http://127.0.0.1:1/p"], ("--publish-url", "rtev")),
        ("--publish-url that is not http", ["publish", "t", "{}", *sse, "--publish-url", "ws://x/"], ("--publish-url", "ws://x/")),
        ("--until-end on sse", ["tail", *sse, "--until-end"], ("--until-end", "sse")),
        ("--until-end on socketio without rooms", ["tail", *sio, "--until-end"], ("--until-end", "--join")),
        ("--http on socketio", ["publish", "t", "{}", "--room", "r", *sio, "--http"], ("--http", "socketio")),
        ("--header without a colon", ["tail", *sse, "--header", "Cookie"], ("--header", "Cookie")),
        ("--namespace and a URL path naming another", ["tail", "--protocol", "socketio", "--url",
                                                       f"http://127.0.0.1:{DOWN}/a", "--namespace", "/b"],
         ("--namespace /b", "/a")),
        ("tail with an argument that is not a URL", ["tail", "lobby"], ("lobby", "URL")),
        ("tail with a URL argument and another --url", ["tail", *sse, f"http://127.0.0.1:{DOWN}/other"], ("two URLs", "/other")),
        ("a URL with another scheme", ["tail", "--url", f"ftp://127.0.0.1:{DOWN}/"], ("--url", "ftp://")),
        ("--ack-timeout 0", ["publish", "t", "{}", "--ack-timeout", "0s"], ("--ack-timeout",)),
        # One URL parser for the SDK and the CLI (sdk/src/url.hpp): what the client would refuse,
        # the CLI refuses up front, for every protocol and for the HTTP commands.
        ("a URL with a space in the host", ["tail", "--url", "ws://exa mple.com/"], ("--url", "a space")),
        ("an SSE URL with user info", ["tail", "--url", f"http://u:p@127.0.0.1:{DOWN}/events"], ("--url", "user info")),
        ("a Socket.IO URL with a bad port", ["tail", "--protocol", "socketio", "--url", "http://127.0.0.1:99999"],
         ("--url", "bad port")),
        ("health with a host no name has", ["health", "--url", "http://ex!ample.com"], ("--url", "ex!ample.com")),
        ("--publish-url with no host", ["publish", "t", "{}", *sse, "--publish-url", "http:///p"], ("--publish-url", "no host")),
    ]
    for name, args, needles in cases:
        r = t.run(*args)
        t.check(f"{name}: exit 2, one line naming it", one_line_naming(r, *needles), r)
    r = t.run("tail", env=t.env(RTEV_PROTOCOL="carrier", RTEV_URL=f"http://127.0.0.1:{DOWN}/x"))
    t.check("RTEV_PROTOCOL with an unknown value (URL from the environment): exit 2 naming it",
            one_line_naming(r, "RTEV_PROTOCOL", "carrier"), r)
    for proto, url in (("socketio", f"http://127.0.0.1:{DOWN}"), ("sse", f"http://127.0.0.1:{DOWN}/events")):
        r = t.run("tail", "--protocol", proto, "--url", url, "--connect-timeout", "1s")
        t.check(f"tail --protocol {proto} with nothing listening: exit 3 naming the URL and why the last attempt failed",
                r.rc == 3 and url in r.err and "(last attempt: " in r.err, r)
    r = t.run("profile", "add", "p", "--url", "http://127.0.0.1:1", "--protocol", "smtp")
    t.check("profile add --protocol with an unknown value: exit 2", r.rc == 2 and "--protocol" in r.err, r)


def test_against_rtev_serve():
    srv = t.server()
    sse_url = srv.http + "/api/events"

    # SSE: tail (inferred from http://) + publish (a POST to the stream URL)
    # The URL as tail's argument (as connect takes it), protocol inferred from http://.
    tail = t.bg("tail", sse_url + "?rooms=lobby", "--type", "order_*", "--count", "2", "--timeout", "30s", "-v")
    t.check("tail over SSE: connected", tail.wait_err("connected to", 15), tail.err)
    r = t.run("publish", "--url", sse_url, "order_created", '{"n":{{seq}}}', "--room", "lobby", "--count", "2", "-v")
    t.check("publish over SSE to rtev serve: exit 0, both stored", r.rc == 0
            and [e["data"]["n"] for e in srv.history("lobby") if e["type"] == "order_created"] == [1, 2], r)
    r = t.run("publish", "--url", sse_url, "in_order", '{"n":{{seq}}}', "--room", "ordered", "--count", "30")
    stored = [e["data"]["n"] for e in srv.history("ordered")]
    t.check("publish --count 30 over SSE: stored in publish order (one POST at a time)",
            r.rc == 0 and stored == list(range(1, 31)), (r, stored))
    res = tail.finish(30)
    evs = res.json_lines() if res.rc == 0 else []
    t.check("tail over SSE receives them: exit 0 after --count 2, rtev envelopes as sent (seq, room)",
            res.rc == 0 and [e["data"]["n"] for e in evs] == [1, 2] and all(e["room"] == "lobby" and e["seq"] for e in evs), res)
    t.check("rtev envelopes over SSE need no filling in (nothing said with -v)", "filled in" not in res.err, res)

    r = t.run("subscribe", "lobby", "--protocol", "sse", "--since", "beginning", "--type", "order_created",
              "--count", "2", "--timeout", "20s", env=t.env(RTEV_URL=srv.url))
    t.check("subscribe ROOM --protocol sse --since beginning with RTEV_URL=ws://…/events/ws/connect: the same "
            "server's SSE stream, the room's history", r.rc == 0 and [e["data"]["n"] for e in r.json_lines()] == [1, 2], r)
    first = [e["seq"] for e in srv.history("lobby") if e["type"] == "order_created"][0]
    r = t.run("tail", "--url", sse_url, "--room", "lobby", "--last-event-id", str(first), "--type", "order_created",
              "--count", "1", "--timeout", "20s")
    t.check("--last-event-id N on rtev serve resumes after seq N",
            r.rc == 0 and [e["data"]["n"] for e in r.json_lines()] == [2], r)
    r = t.run("tail", "--url", sse_url, "--type", "nothing_like_this", "--count", "1", "--timeout", "1s")
    t.check("tail over SSE: deadline before --count: exit 5", r.rc == 5, r)

    # Socket.IO door
    # With a token: the door answers it with an `authenticated` event (an anonymous connect hears none).
    tail = t.bg("tail", "--protocol", "socketio", "--url", srv.http, "--token", "sio-tail", "--join", "sio-room",
                "--count", "2", "--timeout", "30s", "-v")
    t.check("tail --protocol socketio to rtev serve: joined", tail.wait_err("joined sio-room", 15), tail.err)
    r = t.run("publish", "--protocol", "socketio", "--url", srv.http, "shipped", '{"n":{{seq}}}', "--room", "sio-room",
              "--count", "2", "-v")
    stored = [e for e in srv.history("sio-room") if e["type"] == "shipped"]
    t.check("publish --protocol socketio to rtev serve: acknowledged with the seq, stored",
            r.rc == 0 and [e["data"]["n"] for e in stored] == [1, 2]
            and f"event 1 (shipped) stored as seq {stored[0]['seq']}" in r.err if len(stored) == 2 else False, r)
    res = tail.finish(30)
    evs = res.json_lines() if res.rc == 0 else []
    t.check("a socketio tail receives them with their room, seq and timestamp (from the meta argument)",
            res.rc == 0 and [e["data"].get("n") for e in evs] == [1, 2]
            and [e.get("seq") for e in evs] == [e["seq"] for e in stored] and all(e.get("room") == "sio-room" for e in evs), res)
    t.check("the door's `authenticated` is not counted or printed as an event (said with -v)",
            "rtev: authenticated: {" in res.err and "filled in for authenticated" not in res.err, res)

    r = t.run("tail", "--type", "shipped", "--since", "beginning", "--until-end", "--timeout", "20s",
              "--join", "sio-room", env=t.env(RTEV_URL=srv.url, RTEV_PROTOCOL="socketio"))
    t.check("RTEV_PROTOCOL=socketio with RTEV_URL=ws://…/events/ws/connect reaches the same server's door; "
            "--since beginning --until-end replays the room and exits 0",
            r.rc == 0 and [e["data"]["n"] for e in r.json_lines()] == [1, 2], r)
    r = t.run("tail", "--protocol", "socketio", "--url", srv.http, "--type", "none_such", "--count", "1", "--timeout", "1s")
    t.check("tail --protocol socketio: deadline before --count: exit 5", r.rc == 5, r)

    r = t.run("connect", srv.http, "--protocol", "socketio",
              input='/sub c-room\n/pub said {"x":1} c-room\n/emit-ack history {"room":"c-room"}\n')
    t.check("connect --protocol socketio to rtev serve: /sub, /pub, /emit-ack answered (exit 0)",
            r.rc == 0 and any('"type":"said"' in l for l in r.lines()) and any(l.startswith("43") for l in r.lines()), r)

    rec = t.write("rec.jsonl", "".join(json.dumps({"type": "replayed", "room": "rp-room", "data": {"n": n},
                                                     "timestamp": f"2026-01-01T00:00:0{n}Z", "timezone": "UTC"}) + "\n"
                                        for n in (1, 2)))
    r = t.run("replay", rec, "--speed", "max", "--protocol", "socketio", "--url", srv.http)
    r2 = t.run("replay", rec, "--speed", "max", "--url", sse_url)
    t.check("replay --protocol socketio and replay over SSE publish the recording",
            r.rc == 0 and r2.rc == 0 and [e["data"]["n"] for e in srv.history("rp-room")] == [1, 2, 1, 2], (r, r2))

    # The protocol from a profile goes with the profile's URL only.
    r = t.run("profile", "add", "sio", "--url", srv.http, "--protocol", "socketio")
    r2 = t.run("tail", "--profile", "sio", "--join", "sio-room", "--type", "shipped", "--count", "1",
               "--since", "beginning", "--timeout", "20s")
    t.check("a profile's protocol is used with its URL", r.rc == 0 and r2.rc == 0 and len(r2.json_lines()) == 1, (r, r2))
    r = t.run("tail", "--profile", "sio", "--url", sse_url, "--room", "lobby", "--type", "order_created",
              "--count", "1", "--since", "beginning", "--timeout", "20s")
    t.check("… but not with a --url given on the command line (inferred from that URL instead)",
            r.rc == 0 and len(r.json_lines()) == 1, r)
    r = t.run("profile", "ls")
    t.check("profile ls shows the protocol", "protocol=socketio" in r.out, r)


for fn in (test_usage_errors, test_against_rtev_serve):
    t.section(fn)
t.finish()
