"""kill -9 during a publish storm: every acknowledged event survives, exactly once.

Several publishers — raw rtev WebSockets (a window of PUBLISHes in flight) and HTTP
`POST /api/events` (keep-alive, one at a time) — publish events with client-chosen ids as
fast as the acknowledgements come. `rtev serve` (file db) is killed with SIGKILL at a random
point after some acknowledgements and restarted on the same db, for several cycles. After each
restart the ids left unanswered by the kill, and a sample of acknowledged ones, are sent again
(a client retrying): an acknowledged id must come back with its original seq.

At the end: every acknowledged event is stored exactly once with the seq its ACK named, no id
is stored twice, seqs are strictly increasing and no seq is used for two ids, and `last_seq`
after each restart is never below an acknowledged seq.

usage: kill9_storm.py RTEV_BINARY [--cycles N]   (or RTEV_SOAK_CYCLES=N; default 3)
"""
import http.client
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from cli_e2e_support import Suite  # noqa: E402
from faults import rng, soak_cycles  # noqa: E402
from wire import Closed, JsonWs, http as http_request  # noqa: E402

WS_PUBLISHERS = 3
HTTP_PUBLISHERS = 2
WS_WINDOW = 16
ROOM = "storm"


class Ledger:
    """What the clients were told. Guarded by `lock`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.acked = {}          # id -> seq, from every ACK / 202 seen
        self.conflicts = []      # (id, first seq, later seq): one id acknowledged with two seqs
        self.in_flight = set()   # ids sent and not acknowledged (a kill may leave them so)
        self.cycle_acks = 0
        self.errors = []         # refusals: a publish the server answered with an error

    def sent(self, ids):
        with self.lock:
            self.in_flight.update(ids)

    def ack(self, eid, seq):
        with self.lock:
            self.in_flight.discard(eid)
            old = self.acked.get(eid)
            if old is not None and old != seq:
                self.conflicts.append((eid, old, seq))
            elif old is None:
                self.acked[eid] = seq
            self.cycle_acks += 1
            self.cv.notify_all()

    def error(self, what):
        with self.lock:
            self.errors.append(what)
            self.cv.notify_all()


def event(eid, n):
    return {"type": "storm_event", "room": ROOM, "id": eid, "data": {"n": n, "pad": "x" * (n % 200)}}


def ws_publisher(port, name, ledger, stop):
    try:
        ws = JsonWs(f"127.0.0.1:{port}")
        ws.recv_type("authenticated")
    except (Closed, OSError, TimeoutError):
        return
    n, inflight = 0, 0
    try:
        while not stop.is_set():
            while inflight < WS_WINDOW:
                n += 1
                eid = f"{name}-{n}"
                ledger.sent([eid])
                ws.send({"type": "PUBLISH", "ref": eid, "data": event(eid, n)})
                inflight += 1
            m = ws.recv(30)
            if m.get("type") == "ACK" and m["data"].get("op") == "PUBLISH":
                ledger.ack(m["data"]["id"], m["data"]["seq"])
                inflight -= 1
            elif m.get("type") == "ERROR":
                ledger.error(f"{name}: {m}")
                inflight -= 1
    except (Closed, OSError, TimeoutError):
        pass
    finally:
        ws.close(reset=True)


def http_publisher(port, name, ledger, stop):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n = 0
    try:
        while not stop.is_set():
            n += 1
            eid = f"{name}-{n}"
            ledger.sent([eid])
            conn.request("POST", "/api/events", json.dumps(event(eid, n)), {"content-type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            if r.status != 202:
                ledger.error(f"{name}: HTTP {r.status} {body[:200]!r}")
                continue
            j = json.loads(body)
            ledger.ack(j["id"], j["seq"])
    except (OSError, http.client.HTTPException, ValueError):
        pass
    finally:
        conn.close()


def post_batch(port, events):
    r = http_request(f"127.0.0.1:{port}", "POST", "/api/events", events, timeout=30)
    return r.status, r.json()


def main():
    s = Suite("kill9")
    cycles = soak_cycles(3)
    db = s.path("storm.db")
    ledger = Ledger()
    totals = {"kills": 0, "retried": 0, "retry_same_seq": 0}
    low_last_seq = []        # (cycle, last_seq after restart, highest acknowledged seq before)
    reused = []              # (cycle, id, seq) a new ACK with a seq not above every earlier one
    retry_mismatch = []
    start_failures = []

    for cycle in range(1, cycles + 1):
        try:
            srv = s.server("--rate-limit", "1000000/s", db=db)
        except RuntimeError as e:
            start_failures.append((cycle, str(e)[:500]))
            break
        with ledger.lock:
            top_before = max(ledger.acked.values(), default=0)
            known_before = dict(ledger.acked)
            unanswered = sorted(ledger.in_flight)
            ledger.in_flight.clear()
        last = srv.last_seq()
        if last < top_before:
            low_last_seq.append((cycle, last, top_before))

        # A client retrying after the crash: the ids the kill left unanswered, and a sample of
        # acknowledged ones, sent again with their ids.
        sample = rng.sample(sorted(known_before), min(30, len(known_before)))
        retry_ids = unanswered[:200] + sample
        if retry_ids:
            status, replies = post_batch(srv.port, [event(i, 0) for i in retry_ids])
            totals["retried"] += len(retry_ids)
            if status != 202:
                retry_mismatch.append(("status", status, replies))
            else:
                for eid, rep in zip(retry_ids, replies):
                    if eid in known_before:
                        if rep["seq"] == known_before[eid]:
                            totals["retry_same_seq"] += 1
                        else:
                            retry_mismatch.append((eid, known_before[eid], rep))
                    ledger.ack(eid, rep["seq"])
                    if eid not in known_before and rep["seq"] <= top_before and not rep.get("duplicate"):
                        reused.append((cycle, eid, rep["seq"]))
        with ledger.lock:
            ledger.cycle_acks = 0
            top_at_start = max(ledger.acked.values(), default=0)
            seen_ids = set(ledger.acked)

        stop = threading.Event()
        threads = [threading.Thread(target=ws_publisher, args=(srv.port, f"c{cycle}-ws{i}", ledger, stop))
                   for i in range(WS_PUBLISHERS)]
        threads += [threading.Thread(target=http_publisher, args=(srv.port, f"c{cycle}-http{i}", ledger, stop))
                    for i in range(HTTP_PUBLISHERS)]
        for t in threads:
            t.start()
        kill_after = rng.randint(300, 3000)
        with ledger.cv:
            ledger.cv.wait_for(lambda: ledger.cycle_acks >= kill_after or ledger.errors, timeout=60)
            acks_at_kill = ledger.cycle_acks
        srv.p.kill()  # SIGKILL, mid-storm
        srv.p.wait()
        totals["kills"] += 1
        stop.set()
        for t in threads:
            t.join(30)
        with ledger.lock:
            for eid, seq in ledger.acked.items():
                if eid not in seen_ids and seq <= top_at_start:
                    reused.append((cycle, eid, seq))
        print(f"cycle {cycle}: last_seq at start {last}, killed after {acks_at_kill} acks "
              f"(target {kill_after}), {len(unanswered)} retried from the previous kill", flush=True)

    srv = s.server("--rate-limit", "1000000/s", db=db)
    with ledger.lock:
        acked = dict(ledger.acked)
    top = max(acked.values(), default=0)
    last = srv.last_seq()
    if last < top:
        low_last_seq.append(("final", last, top))
    history = srv.history()
    srv.stop()

    seqs = [e["seq"] for e in history]
    count = {}
    for e in history:
        count[e["id"]] = count.get(e["id"], 0) + 1
    stored_seq = {e["id"]: e["seq"] for e in history}
    missing = [i for i in acked if i not in stored_seq]
    duplicated = [i for i, c in count.items() if c > 1]
    wrong_seq = [(i, acked[i], stored_seq[i]) for i in acked if i in stored_seq and stored_seq[i] != acked[i]]
    by_seq = {}
    for i, q in acked.items():
        by_seq.setdefault(q, []).append(i)
    ack_seq_shared = {q: ids for q, ids in by_seq.items() if len(ids) > 1}
    storm_stored = sum(1 for e in history if e.get("room") == ROOM)

    print(f"totals: cycles {cycles}, kills {totals['kills']}, acknowledged {len(acked)}, "
          f"stored {storm_stored} (of {len(history)} events in the db), missing {len(missing)}, "
          f"duplicated {len(duplicated)}, retried {totals['retried']} "
          f"({totals['retry_same_seq']} acknowledged ones answered with their original seq), "
          f"last_seq {last}", flush=True)

    s.check("the server restarts on the killed db every cycle", not start_failures, start_failures)
    s.check("no publish was refused during the storm", not ledger.errors, ledger.errors[:5])
    s.check(f"every acknowledged event is stored ({len(acked)} acknowledged)", not missing, missing[:20])
    s.check("no event id is stored twice", not duplicated, duplicated[:20])
    s.check("each acknowledged event is stored under the seq its ACK named", not wrong_seq, wrong_seq[:20])
    s.check("stored seqs are strictly increasing", all(a < b for a, b in zip(seqs, seqs[1:])),
            [(a, b) for a, b in zip(seqs, seqs[1:]) if a >= b][:20])
    s.check("no seq was acknowledged for two ids", not ack_seq_shared, list(ack_seq_shared.items())[:10])
    s.check("no id was acknowledged with two different seqs", not ledger.conflicts, ledger.conflicts[:10])
    s.check("seqs acknowledged after a restart are above every earlier one (never reused)", not reused,
            reused[:10])
    s.check("last_seq after every restart is at least the highest acknowledged seq", not low_last_seq,
            low_last_seq)
    s.check("a retried acknowledged id is answered with its original seq", not retry_mismatch,
            retry_mismatch[:10])
    s.check("the storm acknowledged events in every cycle", len(acked) >= 300 * cycles, len(acked))
    s.finish()


if __name__ == "__main__":
    main()
