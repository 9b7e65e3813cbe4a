#!/usr/bin/python3
"""End-to-end: the rtev CLI against servers that are not rtev (issue 6) — a real Node
`socket.io` server (tests/interop/foreign_socketio_server.js) and a plain Node SSE server
(tests/interop/foreign_sse_server.js), spawned from tests/interop/node_modules:
`rtev tail --protocol socketio` with the default transport (polling + upgrade) and
--transport websocket, --namespace (and the URL path as namespace), --auth-json / --token,
--emit (in order; `authenticate` answered by `authenticated`), --join and --room, events of
every shape with what -v says was filled in; `rtev publish --publish-event publish` as the
`publish` event with an acknowledgement; `rtev connect` with /emit, /emit-ack, /pub and raw
packets (the default publishing, the handshake wait and the FastAPI-style WebSocket server are
in e2e_foreign_socketio.py and e2e_foreign_ws.py);
`rtev tail http://…` (SSE inferred) reading `data: {"userId","type","data"}` events with
`id:` lines, named events, non-JSON data, --header, --last-event-id, reconnecting after the
server restarts and resuming with Last-Event-ID without missing or repeating an event;
`rtev publish` over SSE (a POST to the stream URL or --publish-url) and `rtev connect` over
SSE (receive-only).
usage: e2e_foreign.py RTEV_BINARY"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite  # noqa: E402
from foreign_servers import INTEROP, NODE, NodeServer  # noqa: E402

t = Suite("foreign")


def run(*args, **kw):
    return t.run(*args, **kw)


def jl(res):
    """stdout JSONL as dicts, ignoring nothing: every line must be JSON."""
    return res.json_lines()


# --- Socket.IO ------------------------------------------------------------------------------

def test_socketio_tail_default_transport():
    sio = NodeServer(t, "foreign_socketio_server.js")
    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--count", "5", "--timeout", "20s", "-v")
    evs = jl(r) if r.rc == 0 else []
    t.check("tail --protocol socketio: exit 0 after --count 5 events from a socket.io server, in order",
            r.rc == 0 and [e["type"] for e in evs] == ["notification", "order_created", "move", "text", "upgraded"], r)
    t.check("an event sent after the upgrade arrives (over the WebSocket)",
            len(evs) == 5 and evs[4]["data"] == {"transport": "websocket"}, r)
    if len(evs) == 5:
        n, env, move, text, _ = evs
        t.check("an event with data only: the event name is the type, the argument the data",
                n["data"] == {"title": "welcome"} and n["timezone"] == "UTC" and n["timestamp"], n)
        t.check("an envelope argument keeps its own type, id, timestamp and timezone",
                env["id"] == "o-42" and env["data"] == {"order": 42} and env["timezone"] == "Europe/Paris"
                and env["timestamp"].startswith("2026-01-15T10:00:00"), env)
        t.check("an event with two arguments: the first is the data, the others are kept as `args`",
                move["data"] == 3 and move.get("args") == [4], move)
        t.check("a string argument is kept as a string", text["data"] == "plain words", text)
    t.check("-v says what was filled in for a bare payload",
            "rtev: filled in for notification: " in r.err and "timestamp (receive time)" in r.err
            and "timezone (UTC)" in r.err, r)
    filled = [l for l in r.err_lines() if l.startswith("rtev: filled in for order_created")]
    t.check("-v names no filled-in timestamp or timezone for the envelope that had them",
            all("timestamp" not in l and "timezone" not in l for l in filled), r)
    conn = sio.wait(lambda j: j.get("connection") == "/")
    up = sio.wait(lambda j: j.get("upgrade") == "/")
    t.check("the default transport starts with long-polling and upgrades to WebSocket (as io(url))",
            conn and conn["transport"] == "polling" and up and up["transport"] == "websocket", sio.lines)

    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--transport", "websocket", "--count", "1",
            "--type", "text", "--timeout", "20s")
    m = sio.wait_n(lambda j: j.get("connection") == "/", 2)
    t.check("--transport websocket: connects with WebSocket only and receives",
            r.rc == 0 and [e["data"] for e in jl(r)] == ["plain words"] and len(m) == 2
            and m[1]["transport"] == "websocket", (r, m))


def test_socketio_namespaces_and_auth():
    sio = NodeServer(t, "foreign_socketio_server.js")
    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--namespace", "/chat", "--count", "1",
            "--timeout", "20s")
    t.check("--namespace /chat: that namespace's events",
            r.rc == 0 and [(e["type"], e["data"]) for e in jl(r)] == [("chat_message", {"text": "hello from /chat"})], r)
    r = run("tail", "--protocol", "socketio", "--url", sio.http + "/chat", "--count", "1", "--timeout", "20s")
    t.check("the URL's path is the namespace, as with io(url)",
            r.rc == 0 and [e["type"] for e in jl(r)] == ["chat_message"], r)

    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--namespace", "/secure", "--auth-json",
            '{"token":"secret","client":"rtev"}', "--count", "1", "--timeout", "20s")
    conn = sio.wait(lambda j: j.get("connection") == "/secure")
    t.check("--auth-json is the CONNECT auth payload (accepted by the namespace's middleware)",
            r.rc == 0 and [e["type"] for e in jl(r)] == ["secure_hello"]
            and conn and conn["auth"] == {"token": "secret", "client": "rtev"}, (r, sio.lines))
    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--namespace", "/secure", "--token", "secret",
            "--count", "1", "--timeout", "20s")
    t.check("--token alone is sent as auth {token}", r.rc == 0 and [e["type"] for e in jl(r)] == ["secure_hello"], r)
    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--namespace", "/secure", "--auth-json",
            '{"token":"wrong"}', "--timeout", "20s")
    t.check("a refused CONNECT (connect_error) exits 4 with the server's message",
            r.rc == 4 and "invalid token" in r.err, r)


def test_socketio_emit_and_join():
    sio = NodeServer(t, "foreign_socketio_server.js")
    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--emit", "hello", "1", "--emit", "pair", "[2,3]",
            "--emit", "authenticate", '{"token":"secret"}', "--type", "private_message", "--count", "1",
            "--timeout", "20s")
    got = sio.wait_n(lambda j: j.get("received") in ("hello", "pair", "authenticate"), 3)
    t.check("--emit authenticate {token}: the server's answer to it arrives",
            r.rc == 0 and [e["data"] for e in jl(r)] == [{"text": "only for user 7"}], r)
    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--transport", "websocket", "--emit", "authenticate",
            '{"token":"secret"}', "--count", "5", "--timeout", "20s", "-v")
    t.check("the `authenticated` answer is said with -v, not printed or counted as an event",
            r.rc == 0 and [e["type"] for e in jl(r)][-1] == "private_message"
            and "authenticated" not in [e["type"] for e in jl(r)] and 'rtev: authenticated: {"userId":"7"}' in r.err, r)
    t.check("--emit is repeatable, sent in order; a JSON array is several arguments",
            [(j["received"], j["args"]) for j in got] == [("hello", [1]), ("pair", [2, 3]),
                                                           ("authenticate", [{"token": "secret"}])], got)

    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--emit", "authenticate", '{"token":"nope"}',
            "--no-reconnect", "--timeout", "20s")
    t.check("authenticate refused (auth_error, then a disconnect): exit 4 with the server's message",
            r.rc == 4 and "bad token" in r.err, r)

    mark = sio.mark()
    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--join", "lobby", "--join", "news",
            "--type", "room_event", "--count", "2", "--timeout", "20s")
    joins = sio.wait_n(lambda j: j.get("received") == "join", 2, start=mark)
    t.check("--join ROOM (repeatable) joins with the join event {room, types (from --type)}",
            [j["args"][0] for j in joins] == [{"room": "lobby", "types": ["room_event"]},
                                              {"room": "news", "types": ["room_event"]}], joins)
    t.check("events sent to the joined rooms arrive",
            r.rc == 0 and sorted(e["data"]["room"] for e in jl(r)) == ["lobby", "news"], r)
    mark = sio.mark()
    r = run("tail", "--protocol", "socketio", "--url", sio.http, "--room", "lobby", "--type", "room_event",
            "--count", "1", "--timeout", "20s")
    joins = sio.wait_n(lambda j: j.get("received") == "join", 1, start=mark)
    t.check("--room joins as well with socketio",
            r.rc == 0 and [j["args"][0]["room"] for j in joins] == ["lobby"] and len(jl(r)) == 1, (r, joins))


def test_socketio_publish_and_connect():
    sio = NodeServer(t, "foreign_socketio_server.js")
    mark = sio.mark()
    tail = t.bg("tail", "--protocol", "socketio", "--url", sio.http, "--join", "orders", "--type", "order_shipped",
                "--count", "2", "--timeout", "30s")
    joined = sio.wait(lambda j: j.get("received") == "join", 15, mark)
    r = run("publish", "--protocol", "socketio", "--url", sio.http, "--publish-event", "publish", "order_shipped",
            '{"n":{{seq}}}', "--room", "orders", "--count", "2", "-v")
    pubs = sio.wait_n(lambda j: j.get("received") == "publish", 2)
    t.check("publish --protocol socketio --publish-event publish: the publish event {room,type,data,id}, "
            "acknowledged (exit 0)",
            joined and r.rc == 0 and [p["args"][0]["data"] for p in pubs] == [{"n": 1}, {"n": 2}]
            and all(p["args"][0]["room"] == "orders" and p["args"][0]["type"] == "order_shipped"
                    and p["args"][0].get("id") for p in pubs)
            and "event 2 (order_shipped) stored as seq 2" in r.err, (r, pubs))
    res = tail.finish(30)
    t.check("a socketio tail in the room receives what was published",
            res.rc == 0 and [e["data"] for e in jl(res)] == [{"n": 1}, {"n": 2}], res)

    r = run("publish", "--protocol", "socketio", "--url", sio.http, "--publish-event", "publish", "forbidden_thing",
            "{}", "--broadcast")
    t.check("an error in the acknowledgement: exit 1 naming the event and the server's message",
            r.rc == 1 and "event 1 (forbidden_thing) rejected" in r.err and "not allowed here" in r.err, r)
    r = run("publish", "--protocol", "socketio", "--url", sio.http, "--namespace", "/chat", "--publish-event",
            "publish", "note", "{}", "--broadcast", "--ack-timeout", "1s")
    t.check("no acknowledgement (a namespace without a publish handler): exit 1 after --ack-timeout naming it",
            r.rc == 1 and "event 1 (note): no acknowledgement" in r.err, r)

    # The last /emit-ack is answered after the server has sent everything before it (one socket,
    # in order), so connect exits having printed the `shout` event.
    script = ("/emit-ack join {\"room\":\"r1\"}\n"
              "/pub shout {\"loud\":true} r1\n"
              "42[\"hello\",\"raw\"]\n"
              "2[\"hello\",\"bare\"]\n"
              "[\"hello\",\"array\",2]\n"
              "/emit hello {\"x\":1}\n"
              "/emit-ack join {\"room\":\"r2\"}\n")
    mark = sio.mark()
    r = run("connect", sio.http, "--protocol", "socketio", "--publish-event", "publish", input=script)
    got = [(j["received"], j["args"])
           for j in sio.wait_n(lambda j: j.get("received") in ("hello", "join", "publish"), 7, start=mark)]
    t.check("connect --protocol socketio: /emit-ack, /pub, raw packets and [NAME, ARGS…] lines are sent, in order",
            r.rc == 0 and [g[0] for g in got] == ["join", "publish", "hello", "hello", "hello", "hello", "join"]
            and got[2][1] == ["raw"] and got[3][1] == ["bare"] and got[4][1] == ["array", 2]
            and got[5][1] == [{"x": 1}], (r, got))
    lines = r.lines()
    t.check("connect prints acknowledgements as packets and events through the printer",
            any(l.startswith("430[") and '"room":"r1"' in l for l in lines) and lines[0].startswith("40{")
            and any('"type":"shout"' in l and '"loud":true' in l for l in lines), r)
    r = run("connect", sio.http, "--protocol", "socketio", input='{"type":"PING"}\n')
    t.check("connect --protocol socketio: an rtev JSON object line is refused with a hint (exit 1)",
            r.rc == 1 and "/emit NAME JSON" in r.err, r)


# --- SSE ------------------------------------------------------------------------------------

def test_sse_restart_and_resume():
    log = t.path("sse-events.jsonl")
    a = NodeServer(t, "foreign_sse_server.js", "--log", log, "--retry", "50")
    port = a.port
    tail = t.bg("tail", "--url", f"{a.http}/events", "--count", "5", "--timeout", "40s", "-v")
    t.check("tail http://… connects (SSE inferred from the URL)",
            a.wait(lambda j: j.get("connected"), 15) is not None, (a.lines, tail.err))
    for n in (1, 2):
        a.post("/emit", {"payload": {"userId": 1, "type": "notification", "data": {"n": n}}})
    t.check("events arrive", tail.wait_out_lines(2, 15), tail.out)
    a.stop()
    t.check("the server's end is noticed (connection lost, reconnecting)", tail.wait_err("connection lost", 15), tail.err)
    # Produced while the server was down: the restarted server finds them in its log.
    with open(log, "a") as f:
        for n in (3, 4):
            f.write(json.dumps({"id": str(n), "payload": {"userId": 1, "type": "notification", "data": {"n": n}}}) + "\n")
    b = NodeServer(t, "foreign_sse_server.js", "--log", log, "--retry", "50", "--port", port)
    c = b.wait(lambda j: j.get("connected"), 20)
    t.check("after the restart the client comes back with Last-Event-ID of the last event it saw",
            c is not None and c["lastEventId"] == "2", b.lines)
    t.check("the replay arrives", tail.wait_out_lines(4, 15), tail.out)
    b.post("/emit", {"payload": {"userId": 1, "type": "notification", "data": {"n": 5}}})
    res = tail.finish(30)
    evs = jl(res) if res.rc == 0 else []
    t.check("tail over SSE across a server restart: exit 0 with every event once, in order",
            res.rc == 0 and [e["data"]["n"] for e in evs] == [1, 2, 3, 4, 5], res)
    t.check("`id:` lines are the events' ids; unknown fields (userId) are kept",
            [e.get("id") for e in evs] == ["1", "2", "3", "4", "5"] and all(e.get("userId") == 1 for e in evs), evs)
    filled = [l for l in res.err_lines() if l.startswith("rtev: filled in for notification: ")]
    t.check("-v shows what was filled in, for every event: timestamp (receive time), timezone (UTC), id",
            len(filled) == 5 and all("timestamp (receive time)" in l and "timezone (UTC)" in l
                                     and "id (from the SSE id)" in l for l in filled), res)
    t.check("the reconnect is said on stderr", "reconnected" in res.err, res)


def test_sse_shapes_headers_publish_connect():
    log = t.path("sse-shapes.jsonl")
    s = NodeServer(t, "foreign_sse_server.js", "--log", log)
    mark = s.mark()
    tail = t.bg("tail", "--url", f"{s.http}/events", "--count", "3", "--timeout", "30s", "-v",
                "--header", "X-Trace: abc", "--token", "tok-1")
    c = s.wait(lambda j: j.get("connected"), 15, mark)
    s.post("/emit", {"event": "alert", "payload": {"level": "high"}})
    s.post("/emit", {"payload": "line one\nline two"})
    s.post("/emit", {"event": "ignored_name", "payload": {"type": "from_json", "data": {"k": 1}}})
    res = tail.finish(30)
    evs = jl(res) if res.rc == 0 else []
    t.check("--token is sent as Authorization: Bearer on the SSE request, --header as given",
            c is not None and c["authorization"] == "Bearer tok-1" and c["trace"] == "abc", s.lines)
    t.check("an `event:` name is the type of a payload without one; the payload is the data",
            len(evs) == 3 and evs[0]["type"] == "alert" and evs[0]["data"] == {"level": "high"}, res)
    t.check("multi-line non-JSON data is kept as a string (joined with newlines), type message",
            len(evs) == 3 and evs[1]["type"] == "message" and evs[1]["data"] == "line one\nline two", res)
    t.check("the JSON's own type wins over the event name",
            len(evs) == 3 and evs[2]["type"] == "from_json" and evs[2]["data"] == {"k": 1}, res)
    t.check("-v: the non-JSON data is said to be kept as a string",
            "filled in for message:" in res.err and "not JSON" in res.err, res)

    r = run("tail", "--url", f"{s.http}/events", "--last-event-id", "1", "--count", "2", "--timeout", "20s")
    t.check("--last-event-id resumes after that id (the server replays the rest)",
            r.rc == 0 and [e["id"] for e in jl(r)] == ["2", "3"], r)
    r = run("tail", "--url", f"{s.http}/events", "--type", "never", "--count", "1", "--timeout", "1s")
    t.check("tail over SSE: --count not reached by --timeout exits 5", r.rc == 5 and "0 of 1" in r.err, r)

    r = run("publish", "--url", f"{s.http}/events", "order_paid", '{"n":7}', "--room", "orders", "-v")
    p = s.wait(lambda j: "published" in j)
    t.check("publish over SSE: a POST of the event to the stream URL, exit 0",
            r.rc == 0 and p and p["published"]["type"] == "order_paid" and p["published"]["data"] == {"n": 7}
            and p["published"].get("room") == "orders", (r, s.lines))
    mark = s.mark()
    r = run("publish", "--url", f"{s.http}/events", "--publish-url", f"{s.http}/publish", "order_paid", '{"n":8}',
            "--room", "orders")
    p = s.wait(lambda j: "published" in j, 10, mark)
    t.check("--publish-url: the POST goes there instead",
            r.rc == 0 and p and p["path"] == "/publish" and p["published"]["data"] == {"n": 8}, (r, s.lines))
    r = run("publish", "--url", f"{s.http}/events", "forbidden_x", "{}", "--room", "orders")
    t.check("publish over SSE refused: exit 1 naming the event and the server's message",
            r.rc == 1 and "event 1 (forbidden_x) rejected" in r.err and "not allowed here" in r.err, r)

    r = run("connect", f"{s.http}/events", input="hello\n")
    t.check("connect over SSE is receive-only: typed input is not sent, said once, exit 1 in a script",
            r.rc == 1 and "SSE is receive-only" in r.err, r)


if not NODE or not os.path.isdir(os.path.join(INTEROP, "node_modules", "socket.io")):
    print("node or tests/interop/node_modules/socket.io missing (npm ci in tests/interop): skipped")
    print("0 passed, 0 failed")
    sys.exit(0)

for fn in (test_socketio_tail_default_transport, test_socketio_namespaces_and_auth, test_socketio_emit_and_join,
           test_socketio_publish_and_connect, test_sse_restart_and_resume, test_sse_shapes_headers_publish_connect):
    t.section(fn)
t.finish()
