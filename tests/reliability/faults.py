"""Fault and soak tools of the reliability suites (tests/reliability/*.py): a TCP proxy that
cuts, freezes and delays the link, /proc readings of a server process, a deadline wait, and the
soak knobs (RTEV_SOAK_CYCLES, RTEV_SOAK_SEED). The clients are in wire.py and streams.py; Suite
and Server in tests/cli/cli_e2e_support.py.

Standard library only (Debian's /usr/bin/python3)."""
import os
import random
import select
import socket
import sys
import threading
import time

from wire import rst_close


class FaultProxy:
    """A TCP proxy on 127.0.0.1 that can break the link between its clients and a target port:
    cut() resets every current connection (RST on both sides), freeze() stops moving bytes
    either way while keeping the sockets open (a dead peer: the server's writes pile up in the
    kernel), delay(s) holds each chunk s seconds before forwarding it. During a freeze a
    close from the target is noticed (POLLRDHUP) and counted: `target_closed_while_frozen`
    says the server itself dropped the stalled peer. The held bytes and that close reach the
    client after thaw()."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()  # guards every field below
        self.pairs = []
        self.frozen = False
        self.delay_s = 0.0
        self.accepted = 0
        self.target_closed_while_frozen = 0
        self.stopped = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                t = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                rst_close(c)
                continue
            pair = {"c": c, "t": t, "dead": False}
            with self.lock:
                if self.stopped:
                    rst_close(c)
                    rst_close(t)
                    return
                self.accepted += 1
                self.pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair, c, t, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, t, c, False), daemon=True).start()

    def _pump(self, pair, src, dst, from_client):
        src.settimeout(None)
        p = select.poll()
        p.register(src, select.POLLIN | select.POLLRDHUP)
        noted_close = False
        try:
            while not pair["dead"]:
                with self.lock:
                    frozen, delay = self.frozen, self.delay_s
                if frozen:
                    # Bytes stay in the kernel; only a close from the target is looked at.
                    ev = p.poll(20)
                    if not from_client and ev and ev[0][1] & (select.POLLRDHUP | select.POLLHUP | select.POLLERR) \
                            and not noted_close:
                        noted_close = True
                        with self.lock:
                            self.target_closed_while_frozen += 1
                    continue
                if not p.poll(50):
                    continue
                data = src.recv(65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay)  # the simulated link latency, not a wait for an event
                dst.sendall(data)
        except OSError:
            pass
        # One direction ended: pass the end on as a FIN (a cut() already reset both).
        if not pair["dead"]:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def freeze(self):
        with self.lock:
            self.frozen = True

    def thaw(self):
        with self.lock:
            self.frozen = False

    def delay(self, seconds):
        with self.lock:
            self.delay_s = seconds

    def cut(self):
        """Resets every current connection."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            pair["dead"] = True
            rst_close(pair["c"])
            rst_close(pair["t"])
        return len(pairs)

    def close(self):
        with self.lock:
            self.stopped = True
        self.lsock.close()
        self.cut()


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def small_asan_quarantine():
    """Servers started after this (they inherit ASAN_OPTIONS) keep a small ASan quarantine, so
    RSS measures the server's memory and not the freed blocks the sanitizer holds (256 MB by
    default). Without ASan the variable is ignored."""
    extra = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (extra + ":" if extra else "") + "quarantine_size_mb=8"


def wait_until(pred, timeout, poll=None):
    """Re-evaluates pred until true or the deadline; `poll` is a threading.Event whose wait
    paces the loop (so a stop signal wakes it). Returns the last value of pred."""
    ev = poll or threading.Event()
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        ev.wait(0.05)


def soak_cycles(default):
    """RTEV_SOAK_CYCLES=N, or `--cycles N` after the rtev binary, or default."""
    if "--cycles" in sys.argv:
        return int(sys.argv[sys.argv.index("--cycles") + 1])
    return int(os.environ.get("RTEV_SOAK_CYCLES", default))


rng = random.Random(int(os.environ.get("RTEV_SOAK_SEED", str(time.time_ns() % 1_000_000))))
