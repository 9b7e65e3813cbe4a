"""Streams for the reliability suites (tests/reliability/*.py), over the raw clients of wire.py:
an SSE reader, Engine.IO long-polling and Socket.IO packet parsing, and the canary subscriber
that must be served while bad or broken clients do their worst. Standard library only."""
import json
import os
import queue
import socket
import threading
import time
import urllib.parse

from wire import DEADLINE, Closed, RawWs, _parse_head, bearer, close_sock, http, rtev_ws


# --- SSE ----------------------------------------------------------------------------------------

class SseReader:
    """GET /api/events<query> on a plain socket, with a token (Bearer) and a Last-Event-ID if
    given. `status` is the answer's HTTP status; when it is not 200, `body` is its (JSON) body.
    next_event() yields (id, data) pairs, events_until() the parsed envelopes."""

    def __init__(self, hostport, query, token=None, last_event_id=None, timeout=DEADLINE):
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        lines = [f"GET /api/events{query} HTTP/1.1", f"Host: {hostport}"]
        lines += [f"{k}: {v}" for k, v in bearer(token).items()]
        if last_event_id is not None:
            lines.append(f"Last-Event-ID: {last_event_id}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf, self.text, self.body = b"", b"", b""
        head = self._until(b"\r\n\r\n")
        self.status, headers, _ = _parse_head(head + b"\r\n\r\n")
        self.chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if self.status != 200:  # a JSON refusal: read all of it
            n = int(headers.get("content-length", "0") or 0)
            try:
                while len(self.buf) < n:
                    self._fill()
            except (Closed, OSError):
                pass
            self.body = self.buf

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
            if not self.buf:  # what came with the head is used before waiting for more
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
        """The next (id, data) with a data line; comments are skipped. Raises TimeoutError when
        no byte comes for `timeout` seconds, Closed at the end of the stream."""
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

    def events_until(self, pred, timeout=DEADLINE):
        """Envelopes (parsed data) until pred(envelope), that one included; None at the deadline
        or the end of the stream."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                _, data = self.next_event(left)
            except (Closed, TimeoutError):
                return None
            env = json.loads(data)
            out.append(env)
            if pred(env):
                return out

    def close(self, reset=False):
        close_sock(self.sock, reset)


# --- Engine.IO / Socket.IO ---------------------------------------------------------------------

SEP = "\x1e"


class EioPolling:
    """An Engine.IO v4 long-polling session (handshake on construction)."""

    def __init__(self, hostport, query=""):
        self.hostport = hostport
        r = http(hostport, "GET", f"/socket.io/?EIO=4&transport=polling{query}")
        if r.status != 200 or not r.body.startswith(b"0"):
            raise Closed(f"engine.io handshake refused: {r!r}")
        self.open = json.loads(r.body[1:].decode())
        self.sid = self.open["sid"]

    def url(self):
        return f"/socket.io/?EIO=4&transport=polling&sid={urllib.parse.quote(self.sid)}"

    def post(self, *packets, raw=None):
        body = raw if raw is not None else SEP.join(packets).encode()
        return http(self.hostport, "POST", self.url(), body, {"Content-Type": "text/plain;charset=UTF-8"})

    def poll(self, timeout=DEADLINE):
        """One GET; the packets it carries (server pings are answered with the next post)."""
        r = http(self.hostport, "GET", self.url(), timeout=timeout)
        if r.status != 200:
            return r, []
        packets = r.body.decode("utf-8", "replace").split(SEP)
        if "2" in packets:
            self.post("3")
        return r, packets

    def until(self, pred, timeout=DEADLINE):
        """Polls until a packet satisfies pred; returns (packet or None, every packet seen)."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            r, packets = self.poll(max(0.5, deadline - time.monotonic()))
            if r.status != 200:
                seen.append(r)
                return None, seen
            for p in packets:
                seen.append(p)
                if pred(p):
                    return p, seen
            if "1" in packets:
                return None, seen
        return None, seen


def sio_ws_open(hostport):
    """A Socket.IO WebSocket (Engine.IO v4), its open packet read."""
    ws = RawWs(hostport, "/socket.io/?EIO=4&transport=websocket")
    first = ws.recv()
    if first[0] != "text" or not first[1].startswith("0"):
        raise RuntimeError(f"no Engine.IO open packet: {first!r}")
    return ws


def sio_ws_next(ws, deadline):
    """The next Engine.IO packet (text) on a Socket.IO WebSocket, the server's pings answered;
    the outcome tuple of RawWs.recv when the connection ends or the deadline passes."""
    while True:
        m = ws.recv(max(0.0, deadline - time.monotonic()))
        if m[0] != "text":
            return m
        if m[1] != "2":
            return m[1]
        ws.send("3")


def sio_event(packet):
    """(name, args, ack_id) of a Socket.IO EVENT/ACK text ("42[...]", "43N[...]"), else None."""
    if not packet.startswith("4") or len(packet) < 2 or packet[1] not in "23":
        return None
    body = packet[2:]
    i = 0
    while i < len(body) and body[i].isdigit():
        i += 1
    ack_id = int(body[:i]) if i else None
    try:
        args = json.loads(body[i:])
    except ValueError:
        return None
    if packet[1] == "3":
        return ("<ack>", args, ack_id)
    return (args[0], args[1:], ack_id) if isinstance(args, list) and args else None


# --- the canary -------------------------------------------------------------------------------

class Canary:
    """One rtev WebSocket, connected and subscribed to `room` once, never reconnecting; a
    reader thread answers pings and queues what arrives. check() publishes a fresh event through
    the HTTP API (with api_key, if any) and waits for exactly that event. The token goes in an
    Authorization header, or in ?token= when header=False."""

    def __init__(self, hostport, token, api_key, room="canary", path="/ws", header=True):
        self.hostport, self.api_key, self.room = hostport, api_key, room
        self.ws, auth = rtev_ws(hostport, token, path=path, header=header)
        if not isinstance(auth, dict) or auth.get("type") != "authenticated":
            raise RuntimeError(f"canary could not authenticate: {auth!r}")
        self.ws.send({"type": "SUBSCRIBE", "ref": "canary", "data": {"room": room}})
        ack, seen = self.ws.until(lambda m: m.get("type") == "ACK" and m.get("ref") == "canary")
        if not isinstance(ack, dict):
            raise RuntimeError(f"canary could not subscribe: {seen!r}")
        self.q = queue.Queue()
        self.n = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            m = self.ws.recv_json(3600)
            self.q.put(m)
            if isinstance(m, tuple) and m[0] != "text" and m[0] != "timeout":
                return

    def check(self):
        """None when a fresh canary event arrived, else what went wrong."""
        self.n += 1
        marker = f"c{self.n}-{os.urandom(4).hex()}"
        r = http(self.hostport, "POST", "/api/events",
                 {"room": self.room, "type": "canary", "data": {"marker": marker}}, bearer(self.api_key))
        if r.status != 202:
            return f"canary publish through the HTTP API answered {r!r}"
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                m = self.q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return f"canary event {marker} did not arrive within {DEADLINE}s"
            if isinstance(m, tuple):
                return f"canary connection ended: {m!r}"
            if m.get("type") == "canary" and m.get("data", {}).get("marker") == marker:
                return None
