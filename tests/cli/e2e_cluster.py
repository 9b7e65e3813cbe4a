#!/usr/bin/python3
"""End-to-end: several `rtev serve --broker redis://…` nodes on one redis-server that the test
starts on a free port (no persistence unless a check needs it): one seq and one order on every
node (WebSocket and SSE), history and resume from any node, idempotent publish across nodes,
the broker's password never shown, Redis unreachable at start (exit 3, or --broker-wait),
Redis restarted with its data (nodes carry on, nothing acknowledged lost), Redis lost while
running (`unavailable`, /health, connected clients told), Redis flushed (a new epoch:
connected clients see the gap), presence across nodes (first/last connection anywhere, a killed
node's users expiring), PRESENCE, /api/users and /api/stats for the whole cluster.
Waits on readiness lines and files, with deadlines.
usage: e2e_cluster.py RTEV_BINARY"""
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Suite, free_port  # noqa: E402
from cluster_support import cluster_helpers  # noqa: E402

t = Suite("cluster")


Redis, node = cluster_helpers(t)


def health(srv):
    with urllib.request.urlopen(srv.http + "/health", timeout=10) as r:
        return json.load(r)


def tail(srv, *args, protocol=None):
    ready = t.path(f"tail-ready-{time.monotonic_ns()}")
    extra = ["--protocol", protocol] if protocol else []
    b = t.bg("tail", "--url", srv.url, *extra, "--ready-file", ready, *args)
    b.wait_file(ready, 15)
    return b


def publish(srv, n, text, room="lobby"):
    res = t.run("publish", "--url", srv.url, "--room", room, "--count", n, "--format", "jsonl",
                "message_sent", '{"text":"%s {{seq}}"}' % text)
    return res, [json.loads(l)["seq"] for l in res.out.splitlines() if l.startswith("{")]


def test_one_order_on_every_node():
    r = Redis()
    a, b, c = node(r), node(r), node(r)
    tails = [tail(a, "--room", "lobby", "--count", "6"), tail(b, "--room", "lobby", "--count", "6"),
             tail(c, "--room", "lobby", "--count", "6"),
             tail(c, "--room", "lobby", "--count", "6", protocol="sse"),
             tail(b, "--room", "lobby", "--count", "6", protocol="socketio")]
    ra, seqs_a = publish(a, 3, "from a")
    rb, seqs_b = publish(b, 3, "from b")
    t.check("publishes through two nodes are acknowledged with their seqs",
            ra.rc == 0 and rb.rc == 0 and len(seqs_a) == 3 and len(seqs_b) == 3, (ra, rb))
    got = []
    for x in tails:
        got.append([(e["seq"], e["data"]["text"]) for e in x.finish(15).json_lines()])
    want = sorted(zip(seqs_a + seqs_b, [f"from a {i}" for i in (1, 2, 3)] + [f"from b {i}" for i in (1, 2, 3)]))
    t.check("every node (rtev WebSocket on A, B and C, SSE on C, Socket.IO on B) delivers all six, in the same "
            "seq order, seqs strictly increasing across the cluster",
            all(g == want for g in got) and [s for s, _ in want] == sorted(set(s for s, _ in want)),
            (want, got))
    hist = [(e["seq"], e["data"]["text"]) for e in c.history("lobby")]
    t.check("history read on node C has the events published on A and B, in seq order", hist == want,
            (hist, want))
    res = t.run("tail", "--url", b.url, "--room", "lobby", "--since", f"seq:{want[2][0]}", "--count", "3",
                "--timeout", "10s")
    resumed = [(e["seq"], e["data"]["text"]) for e in map(json.loads, res.out.splitlines())]
    t.check("resuming on node B from a seq seen elsewhere brings exactly the rest", res.rc == 0 and resumed == want[3:],
            (res, resumed, want))
    ea, eb = health(a)["services"]["history"]["epoch"], health(c)["services"]["history"]["epoch"]
    t.check("every node serves the same epoch, kept in Redis", ea == eb and len(ea) == 16, (ea, eb))

    first = a.post({"type": "message_sent", "room": "lobby", "data": {"text": "once"}, "id": "client-id-1"})
    second = b.post({"type": "message_sent", "room": "lobby", "data": {"text": "once"}, "id": "client-id-1"})
    stored = [e for e in c.history("lobby") if e["id"] == "client-id-1"]
    t.check("the same id published through two nodes is stored once (the second is a duplicate "
            "of the first seq)",
            len(stored) == 1 and first["seq"] == second["seq"] == stored[0]["seq"] and second.get("duplicate"),
            (first, second, stored))

    d = node(r, prefix="other")
    t.check("another --broker-prefix is another deployment: its own history and epoch",
            d.history("lobby") == [] and health(d)["services"]["history"]["epoch"] != ea,
            (d.history("lobby"), health(d)))


def test_failover_to_another_node():
    r = Redis()
    a, b, c = node(r), node(r), node(r)
    ready = t.path("failover-ready")
    watcher = t.bg("tail", "--url", f"{a.url},{b.url}", "--room", "lobby", "--count", "60",
                   "--timeout", "60s", "--ready-file", ready)
    t.check("rtev tail takes a list of nodes (--url A,B) and joins on the first", watcher.wait_file(ready, 15),
            watcher.err)
    pubs = [t.bg("publish", "--url", srv.url, "--room", "lobby", "--count", "30", "--rate", "30/s",
                 "message_sent", '{"n":{{seq}}}') for srv in (b, c)]
    watcher.wait_out_lines(10, 15)
    a.p.kill()  # kill -9 of the node the tail is connected to, publishers still running
    res = watcher.finish(60)
    pub_rc = [p.finish(60).rc for p in pubs]
    seqs = [e["seq"] for e in res.json_lines()]
    stored = [e["seq"] for e in b.history("lobby")]
    t.check("node A killed (-9) while B and C publish: the tail resumes on B with every event exactly "
            "once and in order, no gap reported, and exits 0 at its count",
            res.rc == 0 and pub_rc == [0, 0] and seqs == stored and len(stored) == 60
            and "connection lost" in res.err and "gap in" not in res.err, (res.rc, pub_rc, seqs, stored, res.err))


def test_resume_right_after_publishes():
    r = Redis()
    a, b = node(r), node(r)
    for i in range(3):
        a.post({"type": "message_sent", "room": "lobby", "data": {"i": i}})
    res = t.run("tail", "--url", b.url, "--room", "lobby", "--since", "seq:1", "--count", "2", "--timeout", "10s")
    seqs = [e["seq"] for e in res.json_lines()] if res.rc == 0 else []
    t.check("resuming on node B at once after publishes through A: the rest, and no false gap (B's view of "
            "what was trimmed is measured, not guessed from a stale length)",
            res.rc == 0 and seqs == [2, 3] and "gap" not in res.err, res)


def test_retention_by_age_and_count():
    r = Redis()
    aged = node(r, "--history-max-age", "1s", "-v", prefix="aged")
    publish(aged, 3, "old")
    # Trimmed in one or two passes (they run twice a second): each says so in the log.
    since = 0
    for _ in range(3):
        since = aged.wait_log("history trimmed by age", 15, since)
        if not since or aged.history("lobby") == []:
            break
    t.check("--history-max-age with --broker: events older than it leave the shared history",
            since and aged.history("lobby") == [], (aged.history("lobby"), aged.err_lines[-5:]))
    counted = node(r, "--history-max-events", "5", prefix="counted")
    _, seqs = publish(counted, 8, "n")
    kept = [e["seq"] for e in counted.history("lobby")]
    t.check("--history-max-events with --broker: the newest N are kept", kept == seqs[-5:], (kept, seqs))


def test_redis_restarted_under_load():
    port = free_port()
    r = Redis(port=port, persist=True)
    a, b = node(r, prefix="load"), node(r, prefix="load")
    pubs = [t.bg("publish", "--url", srv.url, "--room", "busy", "--count", "400", "--rate", "100/s",
                 "--format", "jsonl", "message_sent", '{"n":{{seq}}}') for srv in (a, b)]
    for p in pubs:
        p.wait_out_lines(20, 15)
    r.stop()
    r = Redis(port=port, persist=True)
    results = [p.finish(60) for p in pubs]
    acked = sorted(json.loads(l)["seq"] for res in results for l in res.out.splitlines() if l.startswith("{"))
    down_a, down_b = a.wait_log("broker failing"), b.wait_log("broker failing")
    back = a.wait_log("broker reachable", 20, down_a) and b.wait_log("broker reachable", 20, down_b)
    t.check("Redis restarted under load (AOF): the nodes recover",
            back and health(a)["status"] == "ok" and health(b)["status"] == "ok", (health(a), health(b)))
    stored = [e["seq"] for e in b.history("busy")]
    t.check("… every acknowledged publish is stored, once, in seq order (refused ones were never "
            "acknowledged)", acked and set(acked) <= set(stored) and stored == sorted(set(stored)),
            (len(acked), len(stored), [res.err[-300:] for res in results]))


def test_password_never_shown():
    r = Redis(password="s3cret-pw")
    srv = node(r)
    res, seqs = publish(srv, 1, "with auth")
    h = json.dumps(health(srv))
    with urllib.request.urlopen(srv.http + "/api/stats", timeout=10) as s:
        stats = s.read().decode()
    srv.stop()
    logs = "".join(srv.err_lines)
    t.check("redis://:PASSWORD@… works, and the password is in no log line, /health or /api/stats",
            res.rc == 0 and seqs and "s3cret-pw" not in logs + h + stats and "***" in logs,
            (res, logs, h))
    bad = t.run("serve", "--port", "0", "--broker", f"redis://:wrong-pw@127.0.0.1:{r.port}")
    t.check("a wrong password: exit 3, one line naming the refusal, without the password",
            bad.rc == 3 and len(bad.err_lines()) == 1 and "AUTH" in bad.err and "wrong-pw" not in bad.err,
            bad)
    r.cli("ACL", "SETUSER", "keysonly", "on", ">user-pw", "~*", "+@all")  # Redis 7: no channels
    acl = t.run("serve", "--port", "0", "--broker", f"redis://keysonly:user-pw@127.0.0.1:{r.port}",
                "--broker-prefix", "acl")
    t.check("an ACL user without the nodes' channels: exit 3, one line naming &PREFIX:bus*",
            acl.rc == 3 and len(acl.err_lines()) == 1 and "&acl:bus*" in acl.err and "user-pw" not in acl.err, acl)


def test_unreachable_at_start():
    port = free_port()
    res = t.run("serve", "--port", "0", "--broker", f"redis://:pw@127.0.0.1:{port}")
    t.check("Redis unreachable at start: exit 3 and one line naming the broker (no password)",
            res.rc == 3 and len(res.err_lines()) == 1 and f"127.0.0.1:{port}" in res.err
            and "pw@" not in res.err.replace(":***@", ""), res)
    res = t.run("serve", "--port", "0", "--broker", "redis://127.0.0.1:notaport")
    t.check("a bad broker URL: exit 2 naming it", res.rc == 2 and "notaport" in res.err, res)
    res = t.run("serve", "--port", "0", "--broker", f"redis://127.0.0.1:{port}", "--db", t.path("x.db"))
    t.check("--db and --broker together: exit 2 saying the history is in one or the other",
            res.rc == 2 and "--db" in res.err and "--broker" in res.err, res)

    waiting = t.bg("serve", "--port", "0", "--broker", f"redis://127.0.0.1:{port}", "--broker-wait", "20s",
                   "--broker-prefix", "w")
    tried = waiting.wait_err("waiting for the broker", 10)
    Redis(port=port)
    ok = waiting.wait_out(lambda out: "RTEV_URL=" in out, 20)
    t.check("--broker-wait: the node says it waits, keeps trying, and serves once Redis is up",
            tried and ok, (waiting.out, waiting.err))


def test_redis_restarted_and_lost():
    port = free_port()
    r = Redis(port=port, persist=True)
    a, b = node(r), node(r)
    epoch = health(a)["services"]["history"]["epoch"]
    _, before = publish(a, 5, "before")
    watchers = [tail(a, "--room", "lobby", "--since", "now", protocol=p) for p in ("rtev", "sse", "socketio")]
    r.stop()
    down = a.wait_log("broker failing")
    told = [w.wait_err("is degraded: the broker is unreachable", 20) for w in watchers]
    t.check("Redis gone: connected clients are told (server_status degraded, with the reason), over the rtev "
            "WebSocket, SSE and Socket.IO", all(told), ["".join(l for l in w.err if l) for w in watchers])
    late = [t.run("tail", "--url", a.url, "--room", "lobby", "--timeout", "1s", "--protocol", p)
            for p in ("rtev", "sse", "socketio")]
    t.check("… and so is a client that connects while it lasts (in its handshake, over all three protocols), "
            "once, never told ok meanwhile",
            all(x.err.count("is degraded") == 1 and "ok again" not in x.err for x in late), late)
    t.check("Redis gone: /health says the broker is down and status is not ok",
            down and health(a)["services"].get("broker", {}).get("status") == "down"
            and health(a)["status"] != "ok", health(a))
    res = t.run("publish", "--url", a.url, "--room", "lobby", "message_sent", '{"text":"lost"}')
    t.check("… a publish is refused with unavailable, nothing acknowledged", res.rc == 1 and "unavailable" in res.err,
            res)
    r = Redis(port=port, persist=True)
    back = a.wait_log("broker reachable", 20, down) and b.wait_log("broker reachable", 20)
    told = [w.wait_err("is ok again", 20) for w in watchers]
    t.check("… and they are told it is over (server_status ok)", all(told),
            ["".join(l for l in w.err if l) for w in watchers])
    t.check("Redis back (with its data): the nodes reconnect by themselves and /health is ok again",
            back and health(a)["status"] == "ok" and health(b)["status"] == "ok", (health(a), health(b)))
    _, after = publish(b, 3, "after")
    hist = [e["seq"] for e in a.history("lobby")]
    t.check("… nothing acknowledged is lost and the seqs go on, on the same epoch",
            hist == before + after and health(a)["services"]["history"]["epoch"] == epoch
            and after and after[0] > before[-1], (hist, before, after))

    watcher = tail(b, "--room", "lobby", "--since", "now")
    r.cli("FLUSHALL")
    ok = a.wait_log("history replaced", 20) and b.wait_log("history replaced", 20)
    t.check("Redis flushed: every node says so in its log and moves to a new epoch",
            ok and health(a)["services"]["history"]["epoch"] == health(b)["services"]["history"]["epoch"] != epoch,
            (health(a), health(b)))
    ok = watcher.wait_err("gap in lobby", 20)
    t.check("… a connected client is told (closed with 4002, it resumes and reports the gap)", ok,
            "".join(l for l in watcher.err if l))
    res, seqs = publish(a, 1, "new history")
    t.check("… and publishing goes on in the new history", res.rc == 0 and seqs == [1], res)


def api(srv, path, method="GET"):
    req = urllib.request.Request(srv.http + path, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def test_presence_across_nodes():
    r = Redis()
    a, b = node(r, "--broker-ttl", "2s"), node(r, "--broker-ttl", "2s")
    c = node(r, "--broker-ttl", "2s")
    watch = tail(b, "--room", "presence")

    def seen(kind, user, timeout=15):
        return watch.wait_out(lambda text: f'"type":"{kind}"' in text and f'"user_id":"{user}"' in text, timeout)

    alice_a = tail(a, "--room", "lobby", "--token", "alice")
    online = seen("user_online", "alice")
    alice_b = tail(b, "--room", "lobby", "--token", "alice")
    bob_c = tail(c, "--room", "lobby", "--token", "bob")
    online = online and seen("user_online", "bob")
    t.check("user_online for a user's first connection anywhere reaches a node where they are not (A → B)", online,
            watch.out)
    pres = t.run("presence", "--url", c.url, "lobby", "--format", "json")
    users = {u["user_id"]: u["connections"] for u in json.loads(pres.out)["users"]} if pres.rc == 0 else {}
    t.check("PRESENCE on any node counts the whole cluster (alice on A and B, bob on C)",
            users.get("alice") == 2 and users.get("bob") == 1, (pres, users))
    u = api(a, "/api/users/alice")
    per_node = sorted(n["connections"] for n in u.get("nodes", []))
    t.check("/api/users/{id} counts every node's connections, with per-node figures",
            u["connected"] and u["connections"] == 2 and per_node == [0, 1, 1] and u["nodes_missing"] == 0, u)
    # A monitoring client on the channels (a pattern subscriber never answers) changes nothing.
    monitor = subprocess.Popen(["redis-cli", "-p", str(r.port), "PSUBSCRIBE", "t:*"], stdout=subprocess.PIPE,
                               text=True)
    t.cleanups.append(monitor.kill)
    subscribed = [monitor.stdout.readline() for _ in range(3)]  # psubscribe, t:*, 1: it listens
    st = api(c, "/api/stats")
    t.check("/api/stats on one node has the cluster's figures and each node's",
            len(st.get("nodes", [])) == 3 and st["users"] == 2 + 1  # alice, bob, and the watcher
            and st["connections"] == sum(n["connections"] for n in st["nodes"]) == 4
            and st["nodes_missing"] == 0 and subscribed[-1].strip() == "1", (st, subscribed))
    table = t.run("stats", "--url", a.url, "--format", "table")
    t.check("rtev stats shows the per-node table", table.rc == 0 and table.out.count("\n") > 12
            and all(n["node"] in table.out for n in st["nodes"]), table)

    typed = t.run("connect", "--url", a.url, "--token", "dave", input="/sub lobby\n/typing lobby on\n")
    t.check("a typing indicator sent on node A reaches a subscriber on node C (live-only events cross nodes)",
            typed.rc == 0 and bob_c.wait_out(lambda out: '"typing_indicator"' in out and '"user_id":"dave"' in out, 10),
            (typed, bob_c.out))
    alice_a.kill()
    bob_c.kill()
    gone = seen("user_offline", "bob")
    t.check("user_offline once a user's last connection anywhere closed (bob), not while another node still has "
            "one (alice)", gone and "alice" not in "".join(l for l in watch.out if l and "user_offline" in l),
            watch.out)
    kicked = api(a, "/api/users/alice/disconnect", "POST")
    t.check("…/disconnect on node A closes the user's connections on node B", kicked["disconnected"] == 1
            and seen("user_offline", "alice"), (kicked, watch.out))

    carol = tail(c, "--room", "lobby", "--token", "carol")
    seen("user_online", "carol")
    c.p.kill()
    c.p.wait()
    killed = time.monotonic()
    offline = seen("user_offline", "carol", 8)
    after = time.monotonic() - killed
    # The TTL is the bound (the last heartbeat was before the kill); 0.5 s for the bus and the tail.
    t.check("a node killed (-9): its users go offline in the others' view within the TTL (--broker-ttl 2s)",
            offline and after < 2.5, (after, watch.out))
    carol.kill()
    anon = [tail(a, "--room", "lobby"), tail(b, "--room", "lobby")]
    ids = t.run("presence", "--url", a.url, "lobby", "--format", "json")
    # (alice's tail on B, disconnected by the API above, may be back: only the anonymous ones count)
    listed = [x["user_id"] for x in json.loads(ids.out)["users"] if x["user_id"].startswith("anon-")] \
        if ids.rc == 0 else []
    t.check("anonymous users on two nodes are two users (anon-<node>-<n>)", len(set(listed)) == 2, ids)
    for x in anon:
        x.kill()


for fn in (test_one_order_on_every_node, test_presence_across_nodes, test_resume_right_after_publishes, test_failover_to_another_node, test_retention_by_age_and_count,
           test_redis_restarted_under_load, test_password_never_shown, test_unreachable_at_start,
           test_redis_restarted_and_lost):
    t.section(fn)
t.finish()
