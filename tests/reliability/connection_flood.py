"""A flood of broken connections leaves `rtev serve` as it was, serving a canary throughout.

Against one server (`--auth token --auth-timeout 1s --ping-interval 1s --ping-timeout 1s`):
- held open by the client, never finished: half-open TCP connections (nothing sent),
  WebSocket handshakes cut off midway through the headers, HTTP requests with half their
  headers or half their body — the server must close each of them itself (lws's 30 s
  time-out for an unfinished request is the slowest of these);
- thousands of connections closed abruptly with a reset (SO_LINGER 0): bare connects, cut
  upgrades, finished upgrades, HTTP requests whose answer is never read;
- WebSocket upgrades that never authenticate (closed with 1008 after the auth time-out);
- Socket.IO polling handshakes never upgraded nor polled again.
Meanwhile a canary (a WebSocket subscriber plus HTTP publishes) must get every event. At the
end, waited for with a deadline: the server's fd count and `/api/stats` connections are back
at the baseline, and its RSS is near it.

usage: connection_flood.py RTEV_BINARY [--cycles N]   (or RTEV_SOAK_CYCLES=N: N × the flood;
default 1 = 3,000 resets)
"""
import os
import select
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from cli_e2e_support import Suite  # noqa: E402
from faults import proc_fds, proc_rss_kb, small_asan_quarantine, soak_cycles, wait_until  # noqa: E402
from streams import Canary  # noqa: E402
from wire import Closed, JsonWs, http, rst_close, ws_handshake_bytes  # noqa: E402

HELD_EACH = 250       # per kind of never-finished connection
RESETS = 3000         # abrupt connects × kinds, per cycle
NO_AUTH = 200
SOCKETIO = 200


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def http_json(port, method, path, body=None):
    r = http(f"127.0.0.1:{port}", method, path, body)
    return r.status, r.json()


class CanaryLoop:
    """A subscriber that must be served throughout: round after round, streams.Canary publishes
    one event over HTTP and waits (10 s deadline) for it on its WebSocket."""

    def __init__(self, port):
        self.canary = Canary(f"127.0.0.1:{port}", "canary", None, path="/events/ws/connect", header=False)
        self.rounds, self.failures, self.worst = 0, [], 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            n = self.rounds + 1
            t0 = time.monotonic()
            try:
                why = self.canary.check()
            except Exception as e:  # noqa: BLE001 — any failure of a round is recorded
                why = repr(e)
            if why is not None:
                self.failures.append(f"round {n}: {why}")
                if why.startswith("canary connection ended"):
                    return
            self.worst = max(self.worst, time.monotonic() - t0)
            self.rounds = n
            self.stop.wait(0.05)


class Sampler:
    """Peak fd count and RSS of a process, sampled every 50 ms."""

    def __init__(self, pid):
        self.pid, self.peak_fds, self.peak_rss = pid, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak_fds = max(self.peak_fds, proc_fds(self.pid))
                self.peak_rss = max(self.peak_rss, proc_rss_kb(self.pid))
            except OSError:
                return
            self.stop.wait(0.05)


def open_held(port):
    """Never-finished connections the client keeps open; the server must close them."""
    held = []
    host = f"127.0.0.1:{port}"
    for i in range(HELD_EACH):
        held.append(("half-open", connect(port)))
        s = connect(port)
        hs = ws_handshake_bytes(host, "/events/ws/connect")
        s.sendall(hs[: len(hs) // 2])
        held.append(("cut WebSocket handshake", s))
        s = connect(port)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: " + host.encode() + b"\r\nAcc")
        held.append(("HTTP request cut in its headers", s))
        s = connect(port)
        s.sendall(b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 400\r\n\r\n{\"type\":\"half\",")
        held.append(("HTTP body cut short", s))
    return held


def closed_by_server(sock):
    """True once the server has closed this socket (EOF or reset)."""
    p = select.poll()
    p.register(sock, select.POLLIN | select.POLLRDHUP)
    if not p.poll(0):
        return False
    try:
        while True:
            chunk = sock.recv(65536, socket.MSG_DONTWAIT)
            if not chunk:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def reset_storm(port, count, errors):
    """`count` connections, each closed with a RST at a different point."""
    host = f"127.0.0.1:{port}"
    for i in range(count):
        try:
            s = connect(port)
            kind = i % 4
            if kind == 1:
                hs = ws_handshake_bytes(host, "/events/ws/connect")
                s.sendall(hs[: len(hs) * 2 // 3])
            elif kind == 2:
                s.sendall(ws_handshake_bytes(host, "/events/ws/connect?token=flood"))
                s.recv(256)  # the 101: upgraded, then gone without a close frame
            elif kind == 3:
                s.sendall(f"GET /api/stats HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            rst_close(s)
        except OSError as e:
            errors.append(repr(e))


def main():
    s = Suite("flood")
    small_asan_quarantine()
    cycles = soak_cycles(1)
    srv = s.server("--auth", "token", "--auth-timeout", "1s", "--ping-interval", "1s", "--ping-timeout", "1s",
                   "--rate-limit", "1000000/s")
    pid = srv.p.pid
    canary = CanaryLoop(srv.port)
    s.check("the canary is served before the flood", wait_until(lambda: canary.rounds >= 5, 20), canary.failures)

    def conns():
        return http_json(srv.port, "GET", "/api/stats")[1]["connections"]

    base_fds, base_rss, base_conns = proc_fds(pid), proc_rss_kb(pid), conns()
    sampler = Sampler(pid)
    errors, no_auth_codes, sio_status = [], [], []
    held_total = held_closed = 0
    t_flood = time.monotonic()
    for cycle in range(cycles):
        held = open_held(srv.port)
        threads = [threading.Thread(target=reset_storm, args=(srv.port, RESETS // 4, errors)) for _ in range(4)]
        for t in threads:
            t.start()
        # Upgraded, never authenticated: the server closes them after --auth-timeout.
        unauth = []
        for _ in range(NO_AUTH):
            try:
                unauth.append(JsonWs(f"127.0.0.1:{srv.port}"))
            except (Closed, OSError) as e:
                errors.append(repr(e))
        # Socket.IO polling handshakes, never polled again nor upgraded; half keep their
        # keep-alive connection open, half reset it.
        sio_held = []
        for i in range(SOCKETIO):
            c = connect(srv.port)
            c.sendall(f"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n"
                      .encode())
            head = c.recv(4096)
            sio_status.append(head.split(b"\r\n")[0].decode(errors="replace"))
            if i % 2:
                rst_close(c)
            else:
                sio_held.append(("Socket.IO handshake, connection kept", c))
        for t in threads:
            t.join(120)
        for ws in unauth:
            try:
                ws.recv_type("__never__", timeout=10)
            except (Closed, TimeoutError):
                pass
            no_auth_codes.append(ws.close_code)
            ws.close(reset=True)
        held += sio_held
        held_total += len(held)
        # The server must close every never-finished connection by itself.
        closed = set()

        def all_closed():
            closed.update(i for i, (_, c) in enumerate(held) if i not in closed and closed_by_server(c))
            return len(closed) == len(held)

        wait_until(all_closed, 60)
        still = {}
        for i, (kind, c) in enumerate(held):
            if i in closed:
                held_closed += 1
            else:
                still[kind] = still.get(kind, 0) + 1
            rst_close(c)
        s.check(f"cycle {cycle + 1}: the server closed every never-finished connection itself", not still, still)

    back = wait_until(lambda: proc_fds(pid) <= base_fds + 8 and conns() <= base_conns, 60)
    t_back = time.monotonic() - t_flood
    after_fds, after_rss, after_conns = proc_fds(pid), proc_rss_kb(pid), conns()
    canary.stop.set()
    canary.thread.join(15)
    sampler.stop.set()
    sampler.thread.join(5)

    print(f"figures: {cycles} cycle(s): {RESETS * cycles} reset connections, {held_total} never-finished held "
          f"({held_closed} closed by the server), {NO_AUTH * cycles} unauthenticated upgrades, "
          f"{SOCKETIO * cycles} Socket.IO handshakes; fds before {base_fds} peak {sampler.peak_fds} after "
          f"{after_fds}; RSS before {base_rss} kB peak {sampler.peak_rss} kB after {after_rss} kB; "
          f"connections before {base_conns} after {after_conns}; back to baseline {t_back:.1f} s after the flood "
          f"began; canary {canary.rounds} rounds, slowest {canary.worst * 1000:.0f} ms, "
          f"failures {len(canary.failures)}", flush=True)

    s.check("no client-side error opening the flood connections", not errors, errors[:5])
    s.check("the flood really held many server fds at once", sampler.peak_fds >= base_fds + 500,
            (base_fds, sampler.peak_fds))
    s.check("every unauthenticated upgrade was closed with 1008",
            no_auth_codes and all(c == 1008 for c in no_auth_codes),
            {c: no_auth_codes.count(c) for c in set(no_auth_codes)})
    s.check("every Socket.IO handshake was answered 200",
            all(" 200 " in st + " " for st in sio_status), [x for x in sio_status if " 200" not in x][:3])
    s.check("the server's fd count and connection count came back to the baseline", back,
            (base_fds, after_fds, base_conns, after_conns))
    # Generous: the allocator keeps some of the peak; a per-connection leak of thousands of
    # connections would go far past this.
    s.check("RSS after the flood is near the baseline (≤ baseline + 48 MB)", after_rss <= base_rss + 48 * 1024,
            (base_rss, after_rss))
    s.check("the canary was served throughout", not canary.failures and canary.rounds >= 10,
            (canary.rounds, canary.failures[:5]))
    s.check("the server is alive and healthy", srv.p.poll() is None and http_json(srv.port, "GET", "/health")[0] == 200)
    s.finish()


if __name__ == "__main__":
    main()
