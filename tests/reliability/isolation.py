#!/usr/bin/python3
"""reliability:isolation — who sees what on `rtev serve --auth jwt`.

Five users with different roles and JWT `rooms` claims try every target (each user's
`user:` room, each role room, team rooms, a public room, `presence`, the globs `team:*` and
`*`) through every read path of the three protocols: live delivery (rtev WebSocket, Socket.IO,
SSE with ?rooms= and the default SSE stream), `since` replay (SUBSCRIBE, Socket.IO join),
HISTORY, Socket.IO history, GET /api/history with the user's token, SSE ?since= and SSE
Last-Event-ID resume, PRESENCE and Socket.IO presence. Each cell is checked against an oracle
written from docs/protocol.md §4.2 (not from the server's code): a permitted target gives
every stored event of it (all of it), a refused one gives the refusal and no event, and no
path ever delivers an event from a room the user may not join.

  isolation.py RTEV_BINARY"""
import fnmatch
import json
import os
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cli"))

from cli_e2e_support import Suite, jwt_hs256  # noqa: E402
from env import check_clean_exit  # noqa: E402
from streams import EioPolling, SseReader, sio_event, sio_ws_next, sio_ws_open  # noqa: E402
from wire import DEADLINE, bearer, http, rtev_ws  # noqa: E402

SECRET, API_KEY = "isolation-secret", "isolation-key"

# user: (roles, JWT rooms claim or None)
USERS = {
    "alice": (["admin"], None),                       # admin, no claim: globs, presence
    "bob": (["support"], ["team:support", "lobby"]),
    "carol": (["sales"], ["team:sales", "lobby"]),
    "dave": ([], None),                               # no role, no claim
    "erin": (["admin", "sales"], ["team:*"]),         # admin, but only team rooms by claim
}
ROOMS = [f"user:{u}" for u in USERS] + ["role:admin", "role:support", "role:sales",
                                        "team:support", "team:sales", "lobby", "presence"]
TARGETS = ROOMS + ["team:*", "*"]


# --- the oracle (docs/protocol.md §4.2) --------------------------------------------------------

def matches(pattern, room):
    """Does subscription `pattern` reach an event in `room` (None: a broadcast)?"""
    if room is None:
        return pattern == "*"  # the firehose includes broadcasts
    return fnmatch.fnmatchcase(room, pattern) if "*" in pattern else room == pattern


def may_join(user, target):
    roles, claim = USERS[user]
    admin = "admin" in roles
    in_claim = claim is None or any(fnmatch.fnmatchcase(target, c) for c in claim)
    if "*" in target:
        return admin and in_claim
    if target.startswith("user:"):
        return target == f"user:{user}"
    if target.startswith("role:"):
        return target[5:] in roles
    if target == "presence" and not admin:
        return False
    return in_claim


def visible_rooms(user):
    """Concrete rooms (and None for broadcasts) whose events this user may ever receive."""
    out = {None}
    for r in ROOMS:
        if any(may_join(user, t) and matches(t, r) for t in TARGETS):
            out.add(r)
    return out


class Matrix:
    def __init__(self, suite):
        self.suite, self.cells, self.refusals, self.paths = suite, 0, 0, set()

    def cell(self, path, user, target, allowed, problem):
        """One (user, target, path) decision; problem is None when the server did what the
        oracle says."""
        self.cells += 1
        self.paths.add(path)
        if not allowed:
            self.refusals += 1
        verdict = "may" if allowed else "may not"
        self.suite.check(f"{path}: {user} {verdict} read {target}", problem is None, problem)


# --- helpers ----------------------------------------------------------------------------------

def all_events(hostport):
    """Every stored event, through the API key (the reference for 'all of it')."""
    r = http(hostport, "GET", "/api/history?since=beginning&limit=1000", headers=bearer(API_KEY))
    assert r.status == 200, r
    return r.json()["events"]


def expected(store, target, broadcasts, upto=None):
    """Seqs of the stored events `target` reaches (broadcasts only when the path includes
    them), up to seq `upto`."""
    return [e["seq"] for e in store if (upto is None or e["seq"] <= upto) and (
        (e.get("room") is not None and matches(target, e["room"])) or (broadcasts and e.get("room") is None))]


def compare(user, target, got, want, snapshot_max):
    """got: [(seq, room)] in arrival order. Every event must be one the user may see; every
    wanted seq must be there; nothing at or below the snapshot that was not wanted."""
    vis = visible_rooms(user)
    leaks = [(s, r) for s, r in got if r not in vis]
    if leaks:
        return f"LEAK: events from rooms {user} may not see: {leaks[:10]}"
    seqs = [s for s, _ in got]
    missing = [s for s in want if s not in seqs]
    if missing:
        return f"missing seqs {missing[:20]} (got {seqs[:40]})"
    extra = [s for s in seqs if s <= snapshot_max and s not in want]
    if extra:
        return f"unexpected seqs {extra[:20]} for {target} (wanted {want[:40]})"
    if len(set(seqs)) != len(seqs):
        return f"duplicates in {seqs}"
    return None


class SioClient:
    """A Socket.IO client connected with a token; subclasses carry the packets (a WebSocket, or
    Engine.IO long-polling)."""

    def connect(self, token):
        self.send("40" + json.dumps({"token": token}))
        self.next_ack = 1
        self.events = []  # (name, args, ack) of events read while waiting for something else
        got = self.until(lambda p: p.startswith('42["authenticated"'))
        assert got, f"socket.io connect failed: {self.events}"

    def until(self, pred, timeout=DEADLINE):
        """Reads packets until pred(packet); other events are kept in self.events."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.next_packet(deadline)
            if p is None:
                return None
            if pred(p):
                return p
            ev = sio_event(p)
            if ev:
                self.events.append(ev)

    def emit(self, name, payload):
        """Emits with an ack; returns (ack payload, events that arrived before the ack)."""
        n = self.next_ack
        self.next_ack += 1
        self.events = []
        self.send(f"42{n}" + json.dumps([name, payload]))
        ack = self.until(lambda p: p.startswith(f"43{n}["))
        before = self.events
        self.events = []
        return (json.loads(ack[2 + len(str(n)):])[0] if ack else None), before


class SioWs(SioClient):
    def __init__(self, hostport, token):
        self.ws = sio_ws_open(hostport)
        self.connect(token)

    def send(self, text):
        self.ws.send(text)

    def next_packet(self, deadline):
        p = sio_ws_next(self.ws, deadline)
        return p if isinstance(p, str) else None

    def close(self):
        self.ws.close()


class SioPoll(SioClient):
    def __init__(self, hostport, token):
        self.eio = EioPolling(hostport)
        self.pending = []
        self.connect(token)

    def send(self, text):
        r = self.eio.post(text)
        assert r.status == 200, r

    def next_packet(self, deadline):
        while not self.pending:
            if time.monotonic() >= deadline:
                return None
            r, packets = self.eio.poll(max(0.5, deadline - time.monotonic()))
            if r.status != 200:
                return None
            self.pending = [p for p in packets if p not in ("2", "6")]
        return self.pending.pop(0)

    def close(self):
        self.eio.post("1")


def sio_seq_room(ev):
    """(seq, room) of a Socket.IO EVENT's meta."""
    name, args, _ = ev
    meta = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    return meta.get("seq"), meta.get("room")


def is_end(env):
    return env.get("type") == "iso" and env.get("data", {}).get("marker") == "end"


# --- the paths --------------------------------------------------------------------------------

def live_round(suite, m, hostport, tokens):
    """Every user connects by rtev WebSocket, Socket.IO and SSE (?rooms= every target it may
    join, and the default stream), tries to join every target, then one event is published to
    every room and a broadcast; each connection must get exactly its visible rooms' events."""
    conns = {}
    for u in USERS:
        ws, auth = rtev_ws(hostport, tokens[u])
        assert auth.get("type") == "authenticated", auth
        sios = {"Socket.IO": SioWs(hostport, tokens[u]), "Socket.IO polling": SioPoll(hostport, tokens[u])}
        for t in TARGETS:
            ok = may_join(u, t)
            ws.send({"type": "SUBSCRIBE", "ref": t, "data": {"room": t}})
            reply, _ = ws.until(lambda x: x.get("type") in ("ACK", "ERROR") and x.get("ref") == t)
            code = reply.get("data", {}).get("code") if isinstance(reply, dict) else reply
            got_ok = isinstance(reply, dict) and reply.get("type") == "ACK"
            m.cell("rtev SUBSCRIBE", u, t, ok,
                   None if got_ok == ok and (ok or code == "forbidden") else f"got {reply!r}")
            for door, sio in sios.items():
                ack, _ = sio.emit("join", {"room": t})
                got_ok = isinstance(ack, dict) and "error" not in ack
                m.cell(f"{door} join", u, t, ok, None if got_ok == ok and (ok or ack.get("error", {}).get("code") == "forbidden")
                       else f"got {ack!r}")
        allowed = [t for t in TARGETS if may_join(u, t)]
        sse = SseReader(hostport, "?rooms=" + urllib.parse.quote(",".join(allowed), safe=",:*"), tokens[u])
        assert sse.status == 200, (u, sse.status, sse.body)
        sse_default = SseReader(hostport, "", tokens[u])
        assert sse_default.status == 200, (u, sse_default.status)
        conns[u] = (ws, sios, sse, sse_default)
    # Typing indicators (not stored, no seq): every user types in every room; each ACK comes
    # after the indicator was handed to the room's members, so all are queued before the
    # publish below, whose closing broadcast then marks the end of everything.
    backlog = {u: [] for u in USERS}
    for u, (ws, _, _, _) in conns.items():
        for r in ROOMS:
            ok = may_join(u, r)
            ws.send({"type": "TYPING_START", "ref": "t", "data": {"room": r}})
            reply, seen = ws.until(lambda x: x.get("type") in ("ACK", "ERROR") and x.get("ref") == "t")
            backlog[u] += seen[:-1]
            got_ok = isinstance(reply, dict) and reply.get("type") == "ACK"
            m.cell("rtev TYPING_START", u, r, ok,
                   None if got_ok == ok and (ok or reply.get("data", {}).get("code") == "forbidden")
                   else f"got {reply!r}")
    # Every connection is open and subscribed (each SUBSCRIBE was acknowledged): publish.
    # User rooms are targeted as a publisher would (`user_id`), the rest by room.
    batch = [({"user_id": r[5:]} if r.startswith("user:") else {"room": r}) | {"type": "iso", "data": {"marker": r}}
             for r in ROOMS]
    batch.append({"broadcast": True, "type": "iso", "data": {"marker": "broadcast"}})
    batch.append({"broadcast": True, "type": "iso", "data": {"marker": "end"}})
    r = http(hostport, "POST", "/api/events", batch, bearer(API_KEY))
    assert r.status == 202, r
    published = {e["seq"]: item["data"]["marker"] if item.get("broadcast") is None else None
                 for e, item in zip(r.json(), batch)}
    end_seq = max(published)
    for u, (ws, sios, sse, sse_default) in conns.items():
        vis = visible_rooms(u)
        auto = {None, f"user:{u}"} | {f"role:{x}" for x in USERS[u][0]}
        # rtev WebSocket
        got = []
        _, seen = ws.until(lambda x: is_end(x))
        seen = backlog[u] + seen
        for x in seen:
            if isinstance(x, dict) and "seq" in x and x.get("type") not in ("ACK", "ERROR"):
                got.append((x["seq"], x.get("room")))
        check_live(m, "rtev live", u, got, vis, published, end_seq)
        typing = [(x["data"].get("user_id"), x.get("room")) for x in seen
                  if isinstance(x, dict) and x.get("type") == "typing_indicator"]
        check_typing(m, "rtev typing", u, typing, vis, own_connection=True)
        # Socket.IO, over a WebSocket and over long-polling
        for door, sio in sios.items():
            end = sio.until(lambda p: p.startswith('42["iso"') and '"marker":"end"' in p)
            got = [sio_seq_room(ev) for ev in sio.events if ev[0] not in ("<ack>", "typing_indicator")]
            if end:
                got.append(sio_seq_room(sio_event(end)))
            check_live(m, f"{door} live", u, got, vis, published, end_seq)
            typing = [(ev[1][0].get("user_id"), ev[1][0].get("room")) for ev in sio.events
                      if ev[0] == "typing_indicator"]
            check_typing(m, f"{door} typing", u, typing, vis, own_connection=False)
            sio.close()
        # SSE ?rooms= and the default stream (own user/role rooms and broadcasts)
        for name, stream, want in (("SSE live ?rooms=", sse, vis), ("SSE live default", sse_default, auto)):
            evs = stream.events_until(is_end) or []
            check_live(m, name, u, [(e.get("seq"), e.get("room")) for e in evs if "seq" in e], want, published,
                       end_seq)
            typing = [(e["data"].get("user_id"), e.get("room")) for e in evs if e.get("type") == "typing_indicator"]
            check_typing(m, name.replace("live", "typing"), u, typing, want, own_connection=False)
            stream.close()
        ws.close()


def check_typing(m, path, user, got, vis, own_connection):
    """got: (sender, room) of the typing indicators a connection received. Every user who may
    join a room typed in it; the connection must hear exactly the senders of its visible rooms
    (not its own indicators on the connection that sent them)."""
    for room in ROOMS:
        want = {s for s in USERS if may_join(s, room) and not (own_connection and s == user)} if room in vis else set()
        heard = {s for s, r in got if r == room}
        problem = None
        if heard - want:
            problem = f"LEAK: typing of {sorted(heard - want)} in {room}"
        elif want - heard:
            problem = f"typing of {sorted(want - heard)} in {room} not delivered"
        m.cell(path, user, room, room in vis, problem)


def check_live(m, path, user, got, vis, published, end_seq):
    for room in ROOMS + [None]:
        seq = next(s for s, r in published.items() if r == room and s != end_seq)
        want = room in vis
        arrived = seq in [s for s, _ in got]
        target = room or "(broadcast)"
        problem = None
        if arrived != want:
            problem = "LEAK: delivered" if arrived else "not delivered"
        if end_seq not in [s for s, _ in got]:
            problem = f"the closing broadcast never arrived; got {got[:30]}"
        m.cell(path, user, target, want, problem)
    leaks = [(s, r) for s, r in got if r not in vis]
    m.suite.check(f"{path}: {user} received nothing from rooms it may not see", not leaks, f"LEAK: {leaks}")


def replay_paths(suite, m, hostport, tokens):
    """since replay, HISTORY, Socket.IO join/history, HTTP history, SSE since and resume, presence."""
    for u in USERS:
        ws, auth = rtev_ws(hostport, tokens[u])
        sio = SioWs(hostport, tokens[u])
        sio_poll = SioPoll(hostport, tokens[u])
        for t in TARGETS:
            ok = may_join(u, t)
            store = all_events(hostport)
            top = store[-1]["seq"]

            end_seq = max(e["seq"] for e in store if e.get("data", {}).get("marker") == "end")

            def verdict(reply_ok, err_code, got, broadcasts, upto=None):
                """broadcasts None: a path without events (presence)."""
                if reply_ok != ok:
                    return f"{'refused' if ok else 'LEAK: allowed'} ({err_code}); events {got[:10]}"
                if not ok:
                    return None if err_code == "forbidden" and not got else f"refusal {err_code} with events {got[:10]}"
                if broadcasts is None:
                    return None
                return compare(u, t, got, expected(store, t, broadcasts, upto), upto or top)

            # rtev SUBSCRIBE with since
            ws.send({"type": "SUBSCRIBE", "ref": "s", "data": {"room": t, "since": 0}})
            reply, seen = ws.until(lambda x: x.get("type") in ("ACK", "ERROR") and x.get("ref") == "s")
            got = [(x["seq"], x.get("room")) for x in seen[:-1] if isinstance(x, dict) and "seq" in x]
            m.cell("rtev since replay", u, t, ok, verdict(reply.get("type") == "ACK", reply.get("data", {}).get("code"),
                                                          got, t == "*"))
            ws.send({"type": "UNSUBSCRIBE", "ref": "u", "data": {"room": t}})
            ws.until(lambda x: x.get("ref") == "u")
            # rtev HISTORY
            ws.send({"type": "HISTORY", "ref": "h", "data": {"room": t, "since": 0, "limit": 1000}})
            reply, seen = ws.until(lambda x: x.get("type") in ("ACK", "ERROR") and x.get("ref") == "h")
            got = [(x["seq"], x.get("room")) for x in seen[:-1] if isinstance(x, dict) and x.get("history")]
            m.cell("rtev HISTORY", u, t, ok, verdict(reply.get("type") == "ACK", reply.get("data", {}).get("code"),
                                                     got, False))
            # rtev PRESENCE: of one room; a pattern is not a room, refused for everyone (§4.2)
            ws.send({"type": "PRESENCE", "ref": "p", "data": {"room": t}})
            reply, _ = ws.until(lambda x: x.get("type") in ("ACK", "ERROR") and x.get("ref") == "p")
            if "*" in t:
                m.suite.check(f"rtev PRESENCE: {u} gets bad_request for the pattern {t}",
                              reply.get("data", {}).get("code") == "bad_request", reply)
            else:
                m.cell("rtev PRESENCE", u, t, ok, verdict(reply.get("type") == "ACK",
                                                          reply.get("data", {}).get("code"), [], None))
            # Socket.IO join with since, history, presence
            ack, evs = sio.emit("join", {"room": t, "since": 0})
            got = [sio_seq_room(e) for e in evs if e[0] != "<ack>"]
            m.cell("Socket.IO join since", u, t, ok, verdict(isinstance(ack, dict) and "error" not in ack,
                                                             (ack or {}).get("error", {}).get("code"), got, t == "*"))
            sio.emit("leave", {"room": t})
            ack, evs = sio_poll.emit("join", {"room": t, "since": 0})
            got = [sio_seq_room(e) for e in evs if e[0] != "<ack>"]
            m.cell("Socket.IO polling join since", u, t, ok, verdict(isinstance(ack, dict) and "error" not in ack,
                                                                     (ack or {}).get("error", {}).get("code"), got,
                                                                     t == "*"))
            sio_poll.emit("leave", {"room": t})
            ack, evs = sio.emit("history", {"room": t, "since": 0, "limit": 1000})
            got = [sio_seq_room(e) for e in evs if e[0] != "<ack>"]
            m.cell("Socket.IO history", u, t, ok, verdict(isinstance(ack, dict) and "error" not in ack,
                                                          (ack or {}).get("error", {}).get("code"), got, False))
            ack, _ = sio.emit("presence", {"room": t})
            if "*" in t:
                m.suite.check(f"Socket.IO presence: {u} gets bad_request for the pattern {t}",
                              (ack or {}).get("error", {}).get("code") == "bad_request", ack)
            else:
                m.cell("Socket.IO presence", u, t, ok, verdict(isinstance(ack, dict) and "error" not in ack,
                                                               (ack or {}).get("error", {}).get("code"), [], None))
            # GET /api/history with the user's token
            r = http(hostport, "GET", "/api/history?since=beginning&limit=1000&room=" + urllib.parse.quote(t, safe=":*"),
                     headers=bearer(tokens[u]))
            got = [(e["seq"], e.get("room")) for e in (r.json() or {}).get("events", [])] if r.status == 200 else []
            m.cell("GET /api/history", u, t, ok, verdict(r.status == 200, r.error()[0] if r.status == 403 else r.status,
                                                         got, False))
            # SSE ?since= and Last-Event-ID: the replay (with broadcasts) up to the closing broadcast
            for path, q, last in (("SSE ?since=", "&since=0", None), ("SSE Last-Event-ID", "", "0")):
                s = SseReader(hostport, "?rooms=" + urllib.parse.quote(t, safe=":*") + q, tokens[u], last)
                if s.status != 200:
                    err = json.loads(s.body.decode() or "{}").get("error", {}).get("code") if s.status == 403 else s.status
                    m.cell(path, u, t, ok, verdict(False, err, [], True))
                else:
                    evs = s.events_until(is_end) or []
                    got = [(e.get("seq"), e.get("room")) for e in evs]
                    end = [sq for sq, r in got if r is None and sq is not None]
                    m.cell(path, u, t, ok, verdict(True, None, got, True, end_seq) if end
                           else f"no closing broadcast: {got[:20]}")
                s.close()
        # GET /api/history of every room at once: admins only
        r = http(hostport, "GET", "/api/history?since=beginning", headers=bearer(tokens[u]))
        admin_all = "admin" in USERS[u][0] and USERS[u][1] is None
        m.cell("GET /api/history", u, "(all rooms)", admin_all,
               None if (r.status == 200) == admin_all else f"got {r!r}")
        ws.close()
        sio.close()
        sio_poll.close()


def main():
    suite = Suite("isolation")
    srv = suite.server("--auth", "jwt", "--jwt-secret", SECRET, "--api-key", API_KEY, "--rate-burst", "10000")
    tokens = {}
    for u, (roles, claim) in USERS.items():
        claims = {"sub": u, "roles": roles}
        if claim is not None:
            claims["rooms"] = claim
        tokens[u] = jwt_hs256(SECRET, claims)
    m = Matrix(suite)
    suite.section(lambda: live_round(suite, m, srv.hostport, tokens))
    suite.section(lambda: replay_paths(suite, m, srv.hostport, tokens))
    print(f"matrix: {len(USERS)} users x {len(TARGETS)} rooms and globs (+ broadcasts, + all rooms at once) x "
          f"{len(m.paths)} paths: {m.cells} (user, target, path) cells checked (a path is tried on every target it "
          f"can name), {m.refusals} of them refusals", flush=True)
    suite.check("the server is still running", srv.p.poll() is None)
    check_clean_exit(suite, srv)
    suite.finish()


if __name__ == "__main__":
    main()
