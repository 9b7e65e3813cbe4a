#!/usr/bin/python3
"""End-to-end: the rtev CLI publishing to, and authenticating with, Socket.IO servers rtev did
not write (issue 11), against tests/interop/foreign_socketio_server.js (a real Node `socket.io`
server) and a real `rtev serve`:

- `rtev publish --protocol socketio TYPE DATA` emits TYPE with DATA to a foreign server (as
  `socket.emit('new_message', data)`), exit 0 once acknowledged or, for a server that never
  acknowledges, once written and the short wait has passed; an {error} ack is exit 1; rtev
  serve's door (which says "protocol":"rtev.v1" in its CONNECT answer) still gets `publish`;
  --publish-event, --join-event, --leave-event name the events; reserved names are refused.
- `--emit authenticate … --join ROOM`: the join waits for the emit's acknowledgement or its
  reply (`authenticated`, or --emit-reply NAME) — against servers that authenticate at once and
  asynchronously — and a refused join is exit 1 with the server's reason.
usage: e2e_foreign_socketio.py RTEV_BINARY"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite, one_line_naming  # noqa: E402
from foreign_servers import NodeServer, have_node_module  # noqa: E402

t = Suite("foreign_socketio")


def sio_args(url, *more):
    return ("--protocol", "socketio", "--url", url, *more)


def test_publish_to_a_foreign_server():
    sio = NodeServer(t, "foreign_socketio_server.js")
    mark = sio.mark()
    tail = t.bg("tail", *sio_args(sio.http), "--type", "new_message", "--count", "1", "--timeout", "30s")
    t.check("a socketio tail is connected", sio.wait(lambda j: j.get("connection") == "/", 15, mark) is not None,
            sio.lines)
    mark = sio.mark()
    r = t.run("publish", *sio_args(sio.http), "new_message", '{"text":"hi"}', "-v")
    got = sio.wait(lambda j: j.get("received") == "new_message", 10, mark)
    t.check("publish TYPE DATA to a foreign server emits TYPE with DATA (socket.emit('new_message', data))",
            got is not None and got["args"] == [{"text": "hi"}]
            and not sio.seen(lambda j: j.get("received") == "publish", mark), (r, sio.lines[mark:]))
    t.check("acknowledged by the server: exit 0 at once, said with -v",
            r.rc == 0 and r.elapsed < 2 and "event 1 (new_message) acknowledged" in r.err, r)
    res = tail.finish(30)
    t.check("a tail receives what the server relays", res.rc == 0
            and [(e["type"], e["data"]) for e in res.json_lines()] == [("new_message", {"text": "hi"})], res)

    r = t.run("publish", *sio_args(sio.http), "silent_message", '{"n":1}', "-v")
    t.check("a server that never acknowledges: exit 0 once written and 2 s have passed, said with -v",
            r.rc == 0 and 1.9 < r.elapsed < 6
            and "event 1 (silent_message) sent; the server did not acknowledge it within 2000 ms" in r.err, r)
    r = t.run("publish", *sio_args(sio.http), "silent_message", "{}", "--ack-timeout", "1s", "-v")
    t.check("--ack-timeout 1s shortens that wait to half of it (exit 0)",
            r.rc == 0 and r.elapsed < 6 and "within 500 ms" in r.err, r)
    r = t.run("publish", *sio_args(sio.http), "refused_message", "{}")
    t.check("an {error} acknowledgement: exit 1 naming the event and the server's message",
            r.rc == 1 and "event 1 (refused_message) rejected: forbidden: refused_message is not allowed here" in r.err,
            r)
    r = t.run("publish", *sio_args(sio.http), "disconnect", "{}")
    t.check("a type Socket.IO reserves is not emitted: exit 1 saying so", r.rc == 1 and "reserved" in r.err, r)

    mark = sio.mark()
    r = t.run("publish", *sio_args(sio.http), "--publish-event", "publish", "order_paid", '{"n":5}', "--room", "orders",
              "-v")
    got = sio.wait(lambda j: j.get("received") == "publish", 10, mark)
    t.check("--publish-event publish: the envelope {room,type,data,id} as that event, its ack's seq said",
            r.rc == 0 and got is not None and got["args"][0]["type"] == "order_paid"
            and got["args"][0]["data"] == {"n": 5} and got["args"][0]["room"] == "orders"
            and "stored as seq" in r.err, (r, got))


def test_publish_to_rtev_serve():
    s = t.server()
    r = t.run("publish", *sio_args(s.http), "chat", '{"k":1}', "--room", "lobby", "-v")
    stored = s.history("lobby")
    t.check("rtev serve's door still gets `publish` (its CONNECT answer says protocol rtev.v1): stored, seq said",
            r.rc == 0 and [(e["type"], e["data"]) for e in stored] == [("chat", {"k": 1})]
            and f"stored as seq {stored[0]['seq'] if stored else '?'}" in r.err, (r, stored))
    s.stop()


def test_event_name_flags():
    sio = NodeServer(t, "foreign_socketio_server.js")
    mark = sio.mark()
    r = t.run("tail", *sio_args(sio.http), "--join-event", "enter", "--join", "lobby", "--type", "room_event",
              "--count", "1", "--timeout", "20s")
    got = sio.wait(lambda j: j.get("received") in ("enter", "join"), 10, mark)
    t.check("--join-event enter: rooms are joined with that event {room}",
            r.rc == 0 and got is not None and got["received"] == "enter"
            and got["args"] == [{"room": "lobby", "types": ["room_event"]}]
            and [e["data"]["text"] for e in r.json_lines()] == ["entered lobby"], (r, got))
    mark = sio.mark()
    r = t.run("connect", sio.http, "--protocol", "socketio", "--leave-event", "exit",
              input='/sub lobby\n/unsub lobby\n/emit-ack join {"room":"sync"}\n')
    got = sio.wait(lambda j: j.get("received") == "exit", 10, mark)
    t.check("--leave-event exit: /unsub leaves with that event {room}",
            r.rc == 0 and got is not None and got["args"] == [{"room": "lobby"}], (r, sio.lines[mark:]))

    for flag, value in (("--publish-event", "connect"), ("--join-event", "disconnect"),
                        ("--emit-reply", "connect_error")):
        extra = ("--emit", "hello", "1") if flag == "--emit-reply" else ()
        r = t.run("publish", *sio_args(sio.http), *extra, flag, value, "x", "{}")
        t.check(f"{flag} {value}: a reserved Socket.IO name, exit 2 in one line naming it",
                one_line_naming(r, flag, value, "reserved"), r)
    r = t.run("tail", "--url", "ws://127.0.0.1:1/events/ws/connect", "--join-event", "enter")
    t.check("--join-event with the rtev protocol: exit 2, it needs --protocol socketio",
            one_line_naming(r, "--join-event", "needs --protocol socketio"), r)
    r = t.run("tail", *sio_args(sio.http), "--emit-reply", "auth_ok")
    t.check("--emit-reply without --emit: exit 2 saying so", one_line_naming(r, "--emit-reply", "--emit"), r)


def test_joins_wait_for_the_authentication():
    sio = NodeServer(t, "foreign_socketio_server.js")
    auth = ("--emit", "authenticate", '{"token":"secret"}')
    for nsp, extra, how in (("/sync", (), "at once (answered by `authenticated` and the ack)"),
                            ("/async", (), "300 ms later, answered by `authenticated`"),
                            ("/async-ack", (), "300 ms later, answered by the emit's acknowledgement"),
                            ("/async-custom", ("--emit-reply", "auth_ok"), "300 ms later, answered by "
                                                                           "--emit-reply auth_ok")):
        mark = sio.mark()
        r = t.run("tail", *sio_args(sio.http + nsp), *auth, *extra, "--join", "lobby", "--type", "room_event",
                  "--count", "1", "--timeout", "20s")
        # The server logs what it received on its stdout, which may lag the client's exit.
        order = [("authed" if "authed" in j else "join") for j in
                 sio.wait_n(lambda j: j.get("authed") == nsp or (j.get("received") == "join" and j.get("nsp") == nsp),
                            2, 10, mark)]
        t.check(f"--emit authenticate --join lobby, a server that authenticates {how}: the join waits, exit 0",
                r.rc == 0 and [e["data"]["room"] for e in r.json_lines()] == ["lobby"]
                and order == ["authed", "join"] and "no answer" not in r.err, (r, order))

    r = t.run("tail", *sio_args(sio.http + "/async-custom"), *auth, "--join", "lobby", "--type", "room_event",
              "--count", "1", "--timeout", "20s")
    t.check("without --emit-reply for a server answering `auth_ok`: the wait runs out (3 s), is said, the join "
            "goes then (exit 0)",
            r.rc == 0 and r.elapsed > 2.9 and "no answer to 'authenticate' within 3000 ms" in r.err, r)

    mark = sio.mark()
    r = t.run("tail", *sio_args(sio.http + "/async-custom"), *auth, "--emit-wait", "100ms", "--join", "lobby",
              "--timeout", "20s")
    order = [("authed" if "authed" in j else "join") for j in
             sio.seen(lambda j: j.get("authed") == "/async-custom" or (j.get("received") == "join"
                                                                     and j.get("nsp") == "/async-custom"), mark)]
    t.check("--emit-wait 100ms, a server that never answers in a way rtev knows (auth_ok, no ack): the wait "
            "is said with its length and the join goes before the server has authenticated (refused: exit 1)",
            r.rc == 1 and "no answer to 'authenticate' within 100 ms" in r.err and order[:1] == ["join"]
            and "cannot join 'lobby': authenticate first" in r.err, (r, order))
    mark = sio.mark()
    r = t.run("tail", *sio_args(sio.http), "--emit", "hello", '{"n":1}', "--emit-wait", "200ms", "--join", "lobby",
              "--type", "room_event", "--count", "1", "--timeout", "20s")
    t.check("--emit-wait 200ms with an emit nobody handles (never acknowledged): said, then the join goes "
            "and is answered: exit 0",
            r.rc == 0 and "no answer to 'hello' within 200 ms" in r.err
            and [e["data"]["room"] for e in r.json_lines()] == ["lobby"], r)
    mark = sio.mark()
    r = t.run("tail", *sio_args(sio.http + "/async"), *auth, "--emit-wait", "0", "--join", "lobby",
              "--timeout", "20s")
    order = [("authed" if "authed" in j else "join") for j in
             sio.seen(lambda j: j.get("authed") == "/async" or (j.get("received") == "join"
                                                              and j.get("nsp") == "/async"), mark)]
    t.check("--emit-wait 0: nothing waits for the emits (the join goes at once and is refused: exit 1), "
            "nothing said about a wait", r.rc == 1 and "no answer" not in r.err and order[:1] == ["join"], (r, order))
    for value in ("soon", "500us", "2h"):
        r = t.run("tail", *sio_args(sio.http), *auth, "--emit-wait", value)
        t.check(f"--emit-wait {value}: exit 2 naming the flag and the accepted forms",
                one_line_naming(r, "--emit-wait", "0 (no wait)", "1ms to 1h"), r)
    r = t.run("tail", *sio_args(sio.http), "--emit-wait", "1s")
    t.check("--emit-wait without --emit: exit 2 saying so", one_line_naming(r, "--emit-wait", "--emit"), r)
    r = t.run("tail", "--url", "ws://127.0.0.1:1/events/ws/connect", "--emit-wait", "1s")
    t.check("--emit-wait with the rtev protocol: exit 2, it needs --protocol socketio",
            one_line_naming(r, "--emit-wait", "needs --protocol socketio"), r)

    r = t.run("tail", *sio_args(sio.http + "/async"), "--join", "lobby", "--timeout", "20s")
    t.check("a refused join (no authentication): exit 1 at once with the server's reason",
            r.rc == 1 and r.elapsed < 10 and "cannot join 'lobby': authenticate first" in r.err, r)
    r = t.run("publish", *sio_args(sio.http + "/async"), "new_message", "{}", "--join", "lobby")
    t.check("publish --join with a refused join: exit 1 naming it",
            r.rc == 1 and "cannot join 'lobby'" in r.err, r)

    mark = sio.mark()
    r = t.run("publish", *sio_args(sio.http + "/async"), *auth, "new_message", '{"x":1}', "-v")
    order = [("authed" if "authed" in j else "publish") for j in
             sio.wait_n(lambda j: j.get("authed") == "/async" or j.get("received") == "new_message", 2, 10, mark)]
    t.check("publish after --emit authenticate waits for the asynchronous authentication: acknowledged, exit 0",
            r.rc == 0 and "event 1 (new_message) acknowledged" in r.err and order == ["authed", "publish"],
            (r, order))
    r = t.run("tail", *sio_args(sio.http + "/async"), "--emit", "authenticate", '{"token":"nope"}', "--join", "lobby",
              "--no-reconnect", "--timeout", "20s")
    t.check("a refused authentication is still exit 4 with the server's message", r.rc == 4 and "bad token" in r.err, r)


if not have_node_module("socket.io"):
    print("node or tests/interop/node_modules/socket.io missing (npm ci in tests/interop): skipped")
    print("0 passed, 0 failed")
    sys.exit(0)

for fn in (test_publish_to_a_foreign_server, test_publish_to_rtev_serve, test_event_name_flags,
           test_joins_wait_for_the_authentication):
    t.section(fn)
t.finish()
