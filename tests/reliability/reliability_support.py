"""Shared pieces of the fault tests (tests/reliability/*.py): a raw rtev WebSocket client, a
raw SSE reader, a TCP proxy that cuts, freezes and delays the link, and /proc readings of a
server process. The rest (Suite, Server, Bg) is tests/cli/cli_e2e_support.py.

Standard library only (Debian's /usr/bin/python3)."""
import base64
import json
import os
import queue
import random
import select
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from cli_e2e_support import Suite, Server, Bg  # noqa: E402,F401


class Closed(Exception):
    """The peer closed the connection (or it broke)."""


def rst_close(sock):
    """Closes a socket with a TCP reset (SO_LINGER 0), as a crashed peer would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def ws_handshake_bytes(host_port, path):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n").encode()


class RawWs:
    """A minimal rtev WebSocket client over a plain socket: it answers the server's pings on
    its own reader thread and queues every text message (parsed JSON) for recv(). Used where a
    test needs to see exactly what the wire carries, with no SDK logic in between."""

    def __init__(self, port, path="/events/ws/connect", timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(ws_handshake_bytes(f"127.0.0.1:{port}", path))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed("closed during the handshake")
            head += chunk
        status, _, rest = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise Closed(f"upgrade refused: {status.splitlines()[0]!r}")
        self.sock.settimeout(None)
        self.buf = rest
        self.inbox = queue.Queue()
        self.close_code = None
        self.wlock = threading.Lock()  # guards writes to sock (the reader answers pings)
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("eof")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_frame(self):
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        mask = self._need(4) if b1 & 0x80 else None
        payload = self._need(n)
        if mask:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return b0 & 0x80, b0 & 0x0F, payload

    def _read_loop(self):
        message, op0 = b"", 0
        try:
            while True:
                fin, op, payload = self._read_frame()
                if op == 0x9:
                    self._send_frame(0xA, payload)
                    continue
                if op == 0xA:
                    continue
                if op == 0x8:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    break
                if op != 0:
                    op0 = op
                message += payload
                if fin:
                    if op0 == 0x1:
                        self.inbox.put(json.loads(message.decode()))
                    message = b""
        except (Closed, OSError, ValueError):
            pass
        self.inbox.put(None)  # end of stream

    def _send_frame(self, op, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | op])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        with self.wlock:
            self.sock.sendall(head + mask + body)

    def send(self, obj):
        try:
            self._send_frame(0x1, json.dumps(obj).encode())
        except OSError as e:
            raise Closed(str(e))

    def recv(self, timeout=10):
        """The next message, or raises Closed at the end of the stream, TimeoutError after
        timeout seconds."""
        try:
            m = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no message within {timeout}s")
        if m is None:
            self.inbox.put(None)
            raise Closed(f"closed (code {self.close_code})")
        return m

    def recv_type(self, *types, timeout=10):
        """Skips messages until one of `types` arrives."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.01, deadline - time.monotonic()))
            if m.get("type") in types:
                return m

    def close(self, reset=False):
        if reset:
            rst_close(self.sock)
            return
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class SseReader:
    """GET /api/events on a plain socket; yields (id, data) pairs. Raises Closed at the end."""

    def __init__(self, port, query, last_event_id=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.sock.sendall(f"GET /api/events?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n")[0]:
            raise Closed(f"SSE refused: {head.splitlines()[0]!r}")
        self.chunked = b"chunked" in head.lower()
        self.text = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed("eof")
        self.buf += chunk

    def _until(self, sep):
        while sep not in self.buf:
            self._fill()
        out, _, self.buf = self.buf.partition(sep)
        return out

    def _more_text(self):
        if not self.chunked:
            self._fill()
            self.text += self.buf
            self.buf = b""
            return
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            raise Closed("last chunk")
        while len(self.buf) < size + 2:
            self._fill()
        self.text += self.buf[:size]
        self.buf = self.buf[size + 2:]

    def next_event(self, timeout):
        """The next (id, data) with a data line; comments are skipped."""
        self.sock.settimeout(timeout)
        while True:
            while b"\n\n" not in self.text:
                try:
                    self._more_text()
                except socket.timeout:
                    raise TimeoutError(f"no SSE bytes within {timeout}s")
                except OSError as e:
                    raise Closed(str(e))
            block, _, self.text = self.text.partition(b"\n\n")
            eid, data = None, []
            for line in block.decode().split("\n"):
                if line.startswith("id:"):
                    eid = line[3:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
            if data:
                return eid, "\n".join(data)

    def close(self):
        rst_close(self.sock)


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
