"""Raw wire access for the reliability suites (tests/reliability/*.py): HTTP requests as bytes and
the one raw WebSocket client, which can send any frame (fragments, binary, invalid UTF-8,
oversized), with JsonWs, the same client read by a thread into a queue of JSON messages (for
publishers and followers that send while messages arrive). SSE, Engine.IO and the canary are in
streams.py. Standard library only, so every byte the server sees is one the test chose.

Every read has a deadline; a reply that never comes is reported as "timeout", a connection
closed without a reply as "eof" or "reset", so a test can name a hang or a reset precisely."""
import base64
import json
import os
import queue
import socket
import struct
import threading
import time
import urllib.parse

DEADLINE = 10  # seconds to wait for any one reply


# --- HTTP -------------------------------------------------------------------------------------

class HttpReply:
    """A parsed HTTP response, or what happened instead (`outcome`: ok, eof, reset, timeout)."""

    def __init__(self, outcome, status=None, headers=None, body=b"", raw=b""):
        self.outcome, self.status, self.headers, self.body, self.raw = outcome, status, headers or {}, body, raw

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def error(self):
        """(code, message) of an rtev JSON error body, else (None, None)."""
        j = self.json()
        if isinstance(j, dict) and isinstance(j.get("error"), dict):
            return j["error"].get("code"), j["error"].get("message")
        return None, None

    def __repr__(self):
        if self.outcome != "ok":
            return f"<no HTTP reply: {self.outcome}; got {self.raw[:300]!r}>"
        return f"<HTTP {self.status} {self.body[:400]!r}>"


def _parse_head(raw):
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def http_raw(hostport, request, head_only=False, timeout=DEADLINE, stream=False):
    """Sends `request` (bytes, sent as is) and reads one response. The body is read by
    Content-Length, chunked framing or to EOF; `head_only` (a HEAD request, sent with
    Connection: close) reads to the close and returns what followed the head as the body;
    `stream` (SSE) returns once the head and the first body bytes are in."""
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    deadline = time.monotonic() + timeout
    raw = b""
    try:
        s.sendall(request)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return HttpReply("timeout", raw=raw) if b"\r\n\r\n" not in raw else _finish(raw, "timeout", head_only)
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return HttpReply("reset", raw=raw) if b"\r\n\r\n" not in raw else _finish(raw, "reset", head_only)
            if not chunk:
                return HttpReply("eof", raw=raw) if b"\r\n\r\n" not in raw else _finish(raw, "eof", head_only)
            raw += chunk
            if b"\r\n\r\n" not in raw:
                continue
            status, headers, rest = _parse_head(raw)
            if head_only:
                continue  # a HEAD answer: read to the close (Connection: close), then see what followed
            if stream and rest:
                return HttpReply("ok", status, headers, rest, raw)
            if "content-length" in headers and headers["content-length"].isdigit():
                if len(rest) >= int(headers["content-length"]):
                    return HttpReply("ok", status, headers, rest[:int(headers["content-length"])], raw)
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                body = _dechunk(rest)
                if body is not None:
                    return HttpReply("ok", status, headers, body, raw)
    finally:
        s.close()


def _finish(raw, how, head_only=False):
    """The connection ended (or the deadline passed) after a full head: what arrived is the
    reply when the body is complete (or delimited by EOF). A HEAD answer's body is whatever
    followed the head."""
    status, headers, rest = _parse_head(raw)
    if head_only:
        return HttpReply("ok", status, headers, rest, raw)
    if "content-length" in headers and headers["content-length"].isdigit():
        if len(rest) >= int(headers["content-length"]):
            return HttpReply("ok", status, headers, rest[:int(headers["content-length"])], raw)
        return HttpReply(how, status, headers, rest, raw)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(rest)
        return HttpReply("ok" if body is not None else how, status, headers, body or rest, raw)
    return HttpReply("ok" if how == "eof" else how, status, headers, rest, raw)


def _dechunk(data):
    out = b""
    while True:
        line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return None
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            return None
        if n == 0:
            return out
        if len(rest) < n + 2:
            return None
        out += rest[:n]
        data = rest[n + 2:]


def http(hostport, method, path, body=None, headers=None, timeout=DEADLINE):
    """One well-formed request (Connection: close); body: bytes, str or a JSON value."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {hostport}", "Connection: close"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
        if not any(k.lower() == "content-type" for k in (headers or {})):
            lines.append("Content-Type: application/json")
    req = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
    return http_raw(hostport, req, head_only=(method == "HEAD"), timeout=timeout)


def bearer(token):
    return {"Authorization": f"Bearer {token}"} if token else {}


# --- WebSocket --------------------------------------------------------------------------------

class Closed(Exception):
    """The peer closed the connection (or it broke, or the handshake failed)."""


def close_sock(sock, reset=False):
    """Closes a socket: with a TCP reset (SO_LINGER 0) as a crashed peer would, or with a
    shutdown first (a FIN)."""
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def rst_close(sock):
    """Closes a socket with a TCP reset, as a crashed peer would."""
    close_sock(sock, reset=True)


def ws_handshake_bytes(hostport, path, headers=None):
    """A WebSocket upgrade request (a fresh Sec-WebSocket-Key) for `path`, with extra headers."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {hostport}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class RawWs:
    """A client WebSocket over a plain socket. `status` is the handshake's HTTP status (101 when
    upgraded); `refusal` the HttpReply when it was not."""

    def __init__(self, hostport, path, headers=None, timeout=DEADLINE):
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.buf = b""
        self.closed = None  # ("close", code, reason) | ("eof",) | ("reset",)
        self.wlock = threading.Lock()  # guards writes (a JsonWs reader thread answers pings)
        self.sock.sendall(ws_handshake_bytes(hostport, path, headers))
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            chunk = self._recv(deadline)
            if not chunk:
                raise Closed(f"handshake: {self.closed}, got {self.buf[:200]!r}")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status, self.headers, _ = _parse_head(head + b"\r\n\r\n")
        self.refusal = None
        if self.status != 101:
            body = self.buf
            n = int(self.headers.get("content-length", "0") or 0)
            while len(body) < n:
                chunk = self._recv(deadline)
                if not chunk:
                    break
                body += chunk
            self.refusal = HttpReply("ok", self.status, self.headers, body[:n] if n else body)
            self.sock.close()

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            self.closed = ("reset",)
            return b""
        if not chunk:
            self.closed = self.closed or ("eof",)
        return chunk

    # sending

    @staticmethod
    def frame(opcode, payload, fin=True, rsv=0, mask=True):
        if isinstance(payload, str):
            payload = payload.encode()
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, key)
        return head + key + masked

    def send_raw(self, data):
        try:
            with self.wlock:
                self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.closed = self.closed or ("reset",)
            return False

    def send(self, payload, opcode=None):
        """A text frame for str/dict/list (dicts are JSON), a binary frame for bytes unless an
        opcode says otherwise."""
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        if opcode is None:
            opcode = 2 if isinstance(payload, bytes) else 1
        return self.send_raw(self.frame(opcode, payload))

    # receiving

    def recv(self, timeout=DEADLINE):
        """The next whole message: ("text", str) | ("binary", bytes) | ("close", code, reason)
        | ("eof",) | ("reset",) | ("timeout",). Pings are answered."""
        deadline = time.monotonic() + timeout
        parts, first_op = [], None
        while True:
            if self.closed and self.closed[0] != "close":
                return self.closed
            fr = self._frame(deadline)
            if fr is None:
                return self.closed if self.closed else ("timeout",)
            fin, op, payload = fr
            if op == 9:
                self.send_raw(self.frame(10, payload))
                continue
            if op == 10:
                continue
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.closed = ("close", code, payload[2:].decode("utf-8", "replace"))
                self.send_raw(self.frame(8, payload[:2]))
                return self.closed
            if op != 0:
                first_op = op
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                if first_op == 1:
                    return ("text", data.decode("utf-8", "replace"))
                return ("binary", data)

    def _frame(self, deadline):
        while True:
            if len(self.buf) >= 2:
                b0, b1 = self.buf[0], self.buf[1]
                n, off = b1 & 0x7F, 2
                if n == 126 and len(self.buf) >= 4:
                    n, off = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127 and len(self.buf) >= 10:
                    n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
                elif n >= 126:
                    n = None
                if n is not None and len(self.buf) >= off + n:
                    payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
                    return bool(b0 & 0x80), b0 & 0x0F, payload
            chunk = self._recv(deadline)
            if not chunk:
                return None
            self.buf += chunk

    def recv_json(self, timeout=DEADLINE):
        """The next text message as JSON; a non-text outcome is returned as its tuple."""
        m = self.recv(timeout)
        if m[0] != "text":
            return m
        try:
            return json.loads(m[1])
        except ValueError:
            return ("text", m[1])

    def until(self, pred, timeout=DEADLINE):
        """Reads messages until pred(msg) (msg a JSON value or an outcome tuple); returns
        (match or the ending outcome, every message read)."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv_json(max(0.0, deadline - time.monotonic()))
            seen.append(m)
            if not isinstance(m, tuple) and pred(m):
                return m, seen
            if isinstance(m, tuple) and m[0] != "text":
                return m, seen

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _mask_fast(payload, key):
    k = int.from_bytes((key * ((len(payload) + 3) // 4))[:len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(len(payload), "big")


def rtev_ws(hostport, token=None, path="/ws", header=True):
    """An rtev WebSocket authenticated with token (Authorization header, or ?token= when
    header=False); returns (ws, the `authenticated` message or the outcome)."""
    headers = bearer(token) if header else {}
    if token and not header:
        path += "?token=" + urllib.parse.quote(token)
    ws = RawWs(hostport, path, headers)
    if ws.status != 101:
        return ws, ws.refusal
    first, _ = ws.until(lambda m: isinstance(m, dict) and m.get("type") in ("authenticated", "auth_error"))
    return ws, first


class JsonWs:
    """A RawWs whose reader thread answers pings and queues every text message as parsed JSON:
    for publishers, followers and canaries that send while messages arrive. recv() raises
    Closed at the end of the stream, TimeoutError after the timeout; `close_code` is the
    server's close code (1005 for a close frame without one, None without a close frame)."""

    def __init__(self, hostport, path="/events/ws/connect", timeout=DEADLINE):
        self.ws = RawWs(hostport, path, timeout=timeout)
        if self.ws.status != 101:
            raise Closed(f"upgrade refused: {self.ws.refusal!r}")
        self.sock = self.ws.sock
        self.inbox = queue.Queue()
        self.close_code = None
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    def _read_loop(self):
        try:
            while True:
                m = self.ws.recv(3600)
                if m[0] == "text":
                    self.inbox.put(json.loads(m[1]))
                elif m[0] == "close":
                    self.close_code = m[1] if m[1] is not None else 1005
                    break
                elif m[0] != "binary" and m[0] != "timeout":
                    break  # eof, reset
        except (OSError, ValueError):
            pass
        self.inbox.put(None)  # end of stream

    def send(self, obj):
        if not self.ws.send(obj):
            raise Closed(f"send failed: {self.ws.closed}")

    def recv(self, timeout=DEADLINE):
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

    def recv_type(self, *types, timeout=DEADLINE):
        """Skips messages until one of `types` arrives."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.01, deadline - time.monotonic()))
            if m.get("type") in types:
                return m

    def close(self, reset=False):
        close_sock(self.sock, reset)
