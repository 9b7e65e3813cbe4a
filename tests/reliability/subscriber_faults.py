"""Subscribers behind a bad link, under load, end with every event exactly once, in seq order.

A publisher (a raw rtev WebSocket straight to the server) publishes a steady stream into one
room while four subscribers follow it through a TCP proxy that, over and over, resets every
connection (RST), freezes the link (no byte moves either way, for longer than the server's
ping time-out) and delays it:
- `rtev tail` over rtev WebSocket (the SDK's own reconnect and `since` resume),
- `rtev tail` over SSE (the SDK's reconnect with `Last-Event-ID`),
- a raw WebSocket client that resumes by itself with SUBSCRIBE `since` = the last seq it saw,
- a raw SSE reader that reconnects with `Last-Event-ID` itself.
Each must end with the published seqs exactly, once each and in order. The server must also
drop frozen WebSocket peers on its own (ping time-out), which the proxy sees as a close from
the server while the link is frozen.

usage: subscriber_faults.py RTEV_BINARY [--cycles N]   (or RTEV_SOAK_CYCLES=N; default 2
fault rounds of cut / delay / freeze, about 3 s each)
"""
import collections
import json
import os
import re
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from cli_e2e_support import Suite  # noqa: E402
from faults import FaultProxy, soak_cycles, wait_until  # noqa: E402
from streams import SseReader  # noqa: E402
from wire import Closed, JsonWs  # noqa: E402

ROOM = "faults"
RATE = 150           # events per second from the publisher
FREEZE_S = 2.5       # > --ping-interval + --ping-timeout
PING = ("--ping-interval", "500ms", "--ping-timeout", "1s")


def publisher(port, total, acked, done, problems, faults_over):
    """Publishes `total` events at about RATE per second in windows of 5, each window's ACKs
    awaited; appends each acknowledged seq to `acked`. The last fifth waits until the faults
    are over (so the load lasts as long as they do), then goes out unpaced."""
    ws = JsonWs(f"127.0.0.1:{port}")
    ws.recv_type("authenticated")
    pace = threading.Event()
    t0 = time.monotonic()
    n = 0
    try:
        while n < total:
            if n >= total * 4 // 5 and not faults_over.is_set():
                faults_over.wait(0.05)
                continue
            for _ in range(min(5, total - n)):
                n += 1
                ws.send({"type": "PUBLISH", "ref": n, "data": {"type": "fault_event", "room": ROOM,
                                                               "id": f"pub-{n}", "data": {"n": n}}})
            while len(acked) < n:
                m = ws.recv(30)
                if m.get("type") == "ACK":
                    acked.append(m["data"]["seq"])
                elif m.get("type") == "ERROR":
                    problems.append(m)
                    acked.append(None)
            # Steady load: the n-th event goes out about n / RATE seconds after the start.
            if not faults_over.is_set():
                pace.wait(max(0.0, t0 + n / RATE - time.monotonic()))
    finally:
        ws.close()
        done.set()


class RawWsFollower:
    """Follows ROOM through the proxy, resuming with `since` = the last seq seen."""

    def __init__(self, port, want):
        self.port, self.want = port, want
        self.seqs, self.connects, self.closes = [], 0, []
        self.close_codes = []  # per ended connection: the server's close code, None for a reset
        self.live = False      # subscribed on the current connection (the SUBSCRIBE ACK came)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + 180
        while len(self.seqs) < self.want() and time.monotonic() < deadline:
            ws = None
            try:
                ws = JsonWs(f"127.0.0.1:{self.port}", timeout=3)
                self.connects += 1
                ws.recv_type("authenticated", timeout=3)
                since = self.seqs[-1] if self.seqs else "beginning"
                ws.send({"type": "SUBSCRIBE", "data": {"room": ROOM, "since": since}})
                while len(self.seqs) < self.want():
                    try:
                        m = ws.recv(3)
                    except TimeoutError:
                        # Silence: is the link alive? A PONG within 3 s says yes. (Longer than
                        # a freeze, so the server's own ping time-out is what ends a frozen link.)
                        ws.send({"type": "PING"})
                        m = ws.recv_type("PONG", timeout=3)
                    if m.get("type") == "ACK" and m["data"].get("op") == "SUBSCRIBE":
                        self.live = True
                    if m.get("room") == ROOM and "seq" in m and m.get("type") == "fault_event":
                        self.seqs.append(m["seq"])
                ws.close()
            except (Closed, OSError, TimeoutError) as e:
                self.closes.append(str(e)[:80])
                if ws:
                    ws.close(reset=True)
            self.live = False
            if ws:
                self.close_codes.append(ws.close_code)


class RawSseFollower:
    """Follows ROOM over SSE through the proxy, reconnecting with Last-Event-ID."""

    def __init__(self, port, want):
        self.port, self.want = port, want
        self.seqs, self.connects = [], 0
        self.live = False  # the stream is open
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + 180
        last_id = None
        while len(self.seqs) < self.want() and time.monotonic() < deadline:
            r = None
            try:
                query = f"rooms={ROOM}" + ("" if last_id else "&since=beginning")
                r = SseReader(f"127.0.0.1:{self.port}", "?" + query, last_event_id=last_id, timeout=3)
                if r.status != 200:
                    raise Closed(f"SSE refused: HTTP {r.status}")
                self.connects += 1
                self.live = True
                while len(self.seqs) < self.want():
                    eid, data = r.next_event(timeout=3)  # heartbeat is 1 s: 3 s of silence = dead
                    ev = json.loads(data)
                    if ev.get("type") == "fault_event":
                        self.seqs.append(ev["seq"])
                    last_id = eid
            except (Closed, OSError, TimeoutError, ValueError):
                pass
            finally:
                self.live = False
                if r:
                    r.close(reset=True)


def seq_report(got, want):
    dup = len(got) - len(set(got))
    missing = sorted(set(want) - set(got))
    ordered = all(a < b for a, b in zip(got, got[1:]))
    return got == want, (f"got {len(got)} of {len(want)} (dup {dup}, missing {len(missing)} {missing[:10]}…"
                         f"{missing[-5:]}, ordered {ordered}; first seqs got {got[:12]}, published {want[:12]})")


def main():
    s = Suite("subfaults")
    rounds = soak_cycles(2)
    total = RATE * (1 + rounds * 6)
    srv = s.server(*PING, "--sse-heartbeat", "1s", "--rate-limit", "100000/s")
    proxy = FaultProxy(srv.port)
    s.cleanups.append(proxy.close)

    acked, problems = [], []
    done, faults_over = threading.Event(), threading.Event()
    want = lambda: total  # noqa: E731
    common = ["--room", ROOM, "--since", "beginning", "--count", str(total), "--format", "jsonl",
              "--timeout", "150s", "-v"]
    tail_ws = s.bg("tail", "--url", f"ws://127.0.0.1:{proxy.port}/events/ws/connect", *common)
    tail_sse = s.bg("tail", "--url", f"http://127.0.0.1:{proxy.port}/api/events", *common)
    raw_ws = RawWsFollower(proxy.port, want)
    raw_sse = RawSseFollower(proxy.port, want)
    # Every follower is connected before the load and the faults start.
    s.check("four followers connect through the proxy", proxy_wait(proxy, 4), proxy.accepted)

    pub = threading.Thread(target=publisher, args=(srv.port, total, acked, done, problems, faults_over), daemon=True)
    faults = {"cuts": 0, "cut_connections": 0, "freezes": 0, "delays": 0}
    # The first cut lands before any follower has seen an event, and the load starts at once:
    # the events published while they reconnect must come from their `since` (an SSE client
    # that has no event id yet must ask again with `since`, or it loses them).
    faults["cut_connections"] += proxy.cut()
    faults["cuts"] += 1
    pub.start()
    closed_while_frozen, frozen_close_codes = [], []
    pace = threading.Event()

    def tail_up(bg):
        with bg.cv:
            err = "".join(line for line in bg.err if line is not None)
        # Connected once (a cut during the first handshake is only "cannot connect yet", and
        # leaves both counts at 0), and back after every loss since.
        return "connected to" in err and err.count("reconnected") >= err.count("connection lost")

    def all_following():
        """Each follower is connected (or done): so every fault hits every one of them."""
        done_all = lambda f: len(f.seqs) >= total  # noqa: E731
        return wait_until(lambda: (raw_ws.live or done_all(raw_ws)) and (raw_sse.live or done_all(raw_sse))
                          and tail_up(tail_ws) and tail_up(tail_sse), 15)

    r = 0
    while r < rounds:
        r += 1
        all_following()
        faults["cut_connections"] += proxy.cut()
        faults["cuts"] += 1
        pace.wait(0.7)  # the followers reconnect and catch up
        before = proxy.target_closed_while_frozen
        # The raw follower is subscribed when the link freezes: its connection must then end
        # with the server's 1008 (ping time-out), delivered after the thaw.
        was_live = all_following() and raw_ws.live
        ended = len(raw_ws.close_codes)
        proxy.freeze()
        faults["freezes"] += 1
        pace.wait(FREEZE_S)
        closed_while_frozen.append(proxy.target_closed_while_frozen - before)
        proxy.thaw()
        if was_live and wait_until(lambda: len(raw_ws.close_codes) > ended, 10):
            frozen_close_codes.append(raw_ws.close_codes[ended])
        else:
            frozen_close_codes.append("still open" if was_live else "not following")
        all_following()
        proxy.delay(0.15)
        faults["delays"] += 1
        pace.wait(1.0)
        proxy.delay(0)
        pace.wait(0.7)
    faults_over.set()
    pub.join(60)

    res_ws = tail_ws.finish(150)
    res_sse = tail_sse.finish(150)
    raw_ws.thread.join(150)
    raw_sse.thread.join(150)

    def tail_seqs(res):
        out = []
        for line in res.lines():
            try:
                out.append(json.loads(line)["seq"])
            except (ValueError, KeyError):
                pass
        return out

    reconnects = {
        "rtev tail (ws)": res_ws.err.count("reconnected"),
        "rtev tail (sse)": res_sse.err.count("reconnected"),
        "rtev tail (ws) connection lost": res_ws.err.count("connection lost"),
        "raw ws": raw_ws.connects - 1,
        "raw sse": raw_sse.connects - 1,
    }
    print(f"figures: {total} events published, {r} fault rounds ({faults['cuts']} cuts resetting "
          f"{faults['cut_connections']} connections, {faults['delays']} delay windows, {faults['freezes']} "
          f"freezes of {FREEZE_S}s), proxy accepted {proxy.accepted} connections, reconnects {reconnects}, "
          f"connections the server closed during each freeze {closed_while_frozen}, "
          f"raw WebSocket close code after each freeze {frozen_close_codes}", flush=True)

    for name, res in (("rtev tail (ws)", res_ws), ("rtev tail (sse)", res_sse)):
        why = collections.Counter(re.findall(r"connection lost \((.*?)\); reconnecting", res.err))
        print(f"{name} disconnects: {dict(why)}", flush=True)
    s.check(f"the publisher got {total} acknowledgements", len(acked) == total and not problems,
            (len(acked), problems[:3]))
    for name, got in (("rtev tail over rtev WebSocket", tail_seqs(res_ws)),
                      ("rtev tail over SSE", tail_seqs(res_sse)),
                      ("a raw WebSocket client resuming with since", raw_ws.seqs),
                      ("a raw SSE client resuming with Last-Event-ID", raw_sse.seqs)):
        ok, detail = seq_report(got, acked)
        s.check(f"{name} has every event exactly once, in seq order", ok, detail)
    s.check("rtev tail (ws) exits 0 after all of them", res_ws.rc == 0, res_ws)
    s.check("rtev tail (sse) exits 0 after all of them", res_sse.rc == 0, res_sse)
    s.check("every follower reconnected after every cut", all(v >= rounds for k, v in reconnects.items() if "lost" not in k), reconnects)
    # "not following": the raw client was between connections when the link froze (a close
    # from the ping time-out during the delay window); "still open": the server kept a dead
    # peer, the failure this checks for.
    s.check("the server drops a frozen WebSocket peer itself during every freeze (close 1008, ping time-out)",
            all(c in (1008, "not following") for c in frozen_close_codes)
            and 1008 in frozen_close_codes, frozen_close_codes)
    s.finish()


def proxy_wait(proxy, n):
    return wait_until(lambda: proxy.accepted >= n, 20)


if __name__ == "__main__":
    main()
