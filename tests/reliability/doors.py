"""Inputs (how a bad input is sent through one door) and expected replies (how the answer is
checked) for tests/reliability/bad_inputs.py. Each input and each expectation describes
itself in one line for the table in docs/reliability.md, so the table is generated from the
same objects the test runs.

An input's run(env) returns what came back: an open RawWs (rtev or Engine.IO WebSocket), an
HttpReply, or an EioPolling session; the expectation reads the reply from it and returns None
(as expected) or what was wrong."""
import json
import time

from streams import EioPolling, sio_event, sio_ws_next, sio_ws_open
from wire import DEADLINE, RawWs, bearer, http, http_raw, rtev_ws

WS, HTTP, SSE, SIO_POLL, SIO_WS = "rtev WebSocket", "HTTP API", "SSE", "Socket.IO polling", "Socket.IO WebSocket"


def code(text):
    """Markdown inline code that survives a table cell."""
    text = text.replace("|", "\\|")
    return f"`{text}`" if "`" not in text else f"``{text}``"


def short(value, limit=90):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- inputs -----------------------------------------------------------------------------------

class WsSend:
    """Messages on an authenticated rtev WebSocket (user `probe`, role `member`). Each message is
    a dict (JSON text frame), a str (text frame), bytes (binary frame) or ("raw", bytes) for
    frames built by hand. token=None: the connection does not authenticate first."""
    door = WS

    def __init__(self, *messages, label=None, token="probe"):
        self.messages, self.token = messages, token
        self.label = label or " then ".join(code(short(m)) for m in messages)
        self.ref = next((m.get("ref") for m in messages if isinstance(m, dict) and "ref" in m), None)

    def run(self, env):
        if self.token is None:
            ws = RawWs(env.hostport, "/ws")
        else:
            ws, auth = rtev_ws(env.hostport, env.tokens[self.token])
            if not isinstance(auth, dict) or auth.get("type") != "authenticated":
                raise RuntimeError(f"probe could not authenticate: {auth!r}")
        for m in self.messages:
            if isinstance(m, tuple):
                ok = ws.send_raw(m[1])
            else:
                ok = ws.send(m)
            if not ok:
                break
        return ws


class WsConnect:
    """An rtev WebSocket upgrade with a token (Authorization header or ?token=), or with the
    token sent in an `authenticate` message (how='message')."""
    door = WS

    def __init__(self, token, label, how="header"):
        self.token, self.label, self.how, self.ref = token, label, how, None

    def run(self, env):
        tok = env.tokens.get(self.token, self.token) if isinstance(self.token, str) else self.token
        if self.how == "message":
            ws = RawWs(env.hostport, "/ws")
            ws.send({"type": "authenticate", "data": {"token": tok}})
            return ws
        headers = bearer(tok) if self.how == "header" else {}
        path = "/ws" + ("?token=" + tok if self.how == "query" else "")
        return RawWs(env.hostport, path, headers)


# How each credential is named in the table.
CREDENTIALS = {"key": "API key", None: "no credentials", "probe": "member's JWT", "wrong-key": "a wrong API key",
               "bad_sig": "JWT with a bad signature", "alg_none": "`alg: none` JWT", "expired": "expired JWT"}


class Http:
    """One HTTP request: method, path (sent as is), body (JSON value, str or bytes), headers;
    auth: 'key' (the API key as Bearer), a token name, or None."""

    def __init__(self, method, path, body=None, label=None, auth="key", headers=None, door=HTTP):
        self.method, self.path, self.body, self.auth, self.door = method, path, body, auth, door
        self.headers = headers or {}
        if label is None:
            label = code(short(f"{method} {path}" + (f" {short(body, 60)}" if body not in (None, "") else "")))
            label += "".join(f", {code(f'{k}: {v}')}" for k, v in self.headers.items() if k != "Content-Type")
        self.label = f"{label} ({CREDENTIALS[auth]})"

    def run(self, env):
        h = dict(self.headers)
        if self.auth:
            h.update(bearer(env.api_key if self.auth == "key" else env.tokens.get(self.auth, self.auth)))
        return http(env.hostport, self.method, self.path, self.body, h,
                    timeout=DEADLINE) if self.door != SSE else self._sse(env, h)

    def _sse(self, env, h):
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {env.hostport}"]
        lines += [f"{k}: {v}" for k, v in h.items()]
        return http_raw(env.hostport, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), stream=True)


class HttpRaw:
    """Bytes written to the HTTP port as they are; {host} is replaced by the server's address."""
    door = HTTP

    def __init__(self, data, label, head_only=False):
        self.data, self.label, self.head_only = data, label, head_only

    def run(self, env):
        return http_raw(env.hostport, self.data.replace(b"{host}", env.hostport.encode()),
                        head_only=self.head_only)


class SioSend:
    """A Socket.IO session connected to `/` with the probe's token (CONNECT auth), over
    long-polling or a WebSocket; then `packets` (Engine.IO packet texts, or raw bytes for a
    POST body / ("raw", frame) for a WebSocket frame)."""

    def __init__(self, *packets, label=None, ws=False, connect=True):
        self.packets, self.ws, self.connect = packets, ws, connect
        self.door = SIO_WS if ws else SIO_POLL
        self.label = label or " then ".join(code(short(p if isinstance(p, str) else repr(p))) for p in packets)

    def run(self, env):
        auth = "40" + json.dumps({"token": env.tokens["probe"]})
        if self.ws:
            ws = sio_ws_open(env.hostport)
            if self.connect:
                ws.send(auth)
                _wait_sio_ws(ws, lambda p: p.startswith('42["authenticated"'))
            for p in self.packets:
                if isinstance(p, tuple):
                    ws.send_raw(p[1])
                else:
                    ws.send(p)
            return ws
        s = EioPolling(env.hostport)
        if self.connect:
            s.post(auth)
            got, seen = s.until(lambda p: p.startswith('42["authenticated"'))
            if got is None:
                raise RuntimeError(f"socket.io connect failed: {seen!r}")
        for p in self.packets:
            s.last_post = s.post(raw=p) if isinstance(p, bytes) else s.post(p)
        return s


def _wait_sio_ws(ws, pred, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        m = sio_ws_next(ws, deadline)
        if not isinstance(m, str):
            return m, seen
        seen.append(m)
        if pred(m):
            return m, seen


class WsUpgrade:
    """A WebSocket upgrade request to `path`, refused or not (HttpStatus checks a refusal)."""

    def __init__(self, path, label, door=SIO_WS):
        self.path, self.label, self.door = path, label, door

    def run(self, env):
        return RawWs(env.hostport, self.path)


class EioRequest(Http):
    """An Engine.IO HTTP request outside a session (bad version, transport, sid, method)."""

    def __init__(self, method, path, body=None, label=None):
        super().__init__(method, path, body, label, auth=None, headers={"Content-Type": "text/plain"}, door=SIO_POLL)


# --- expected replies -------------------------------------------------------------------------

def _msg_ok(msg, starts, contains):
    if starts and not (msg or "").startswith(starts):
        return f"message should start with {starts!r}"
    for c in ([contains] if isinstance(contains, str) else contains or []):
        if c not in (msg or ""):
            return f"message should contain {c!r}"
    return None


class WsError:
    """The next reply is ERROR with this code; the message starts with / contains the given text;
    the request's ref is echoed."""

    def __init__(self, code_, starts=None, contains=None):
        self.code, self.starts, self.contains = code_, starts, contains

    def describe(self):
        d = f"ERROR {code(self.code)}"
        if self.starts:
            d += f", message starts {code(self.starts)}"
        if self.contains:
            d += f", message names {', '.join(code(c) for c in ([self.contains] if isinstance(self.contains, str) else self.contains))}"
        return d

    def check(self, ws, inp):
        if ws.status != 101:
            return f"upgrade refused: {ws.refusal!r}"
        m, seen = ws.until(lambda m: isinstance(m, dict) and m.get("type") in ("ERROR", "ACK", "PONG"))
        if not isinstance(m, dict):
            return f"no reply, the connection ended: {m!r} after {seen[:-1]!r}"
        if m.get("type") != "ERROR" or m.get("data", {}).get("code") != self.code:
            return f"got {m!r}"
        if inp.ref is not None and m.get("ref") != inp.ref:
            return f"ref {inp.ref!r} not echoed: {m!r}"
        why = _msg_ok(m["data"].get("message"), self.starts, self.contains)
        return f"{why}: {m!r}" if why else None


class WsReply:
    """The next reply is `type` (ACK/PONG), with the request's ref."""

    def __init__(self, type_):
        self.type = type_

    def describe(self):
        return f"{self.type}, the connection stays open"

    def check(self, ws, inp):
        m, seen = ws.until(lambda m: isinstance(m, dict) and m.get("type") in ("ERROR", "ACK", "PONG"))
        if not isinstance(m, dict) or m.get("type") != self.type:
            return f"got {m!r} after {seen[:-1]!r}"
        if inp.ref is not None and m.get("ref") != inp.ref:
            return f"ref {inp.ref!r} not echoed: {m!r}"
        return None


class WsClose:
    """The server closes with this WebSocket close code (a close frame, not a reset); with
    auth_error: an `auth_error` naming `contains` comes first; with acks=N: N answers first."""

    def __init__(self, code_, auth_error=None, acks=0):
        self.code, self.auth_error, self.acks = code_, auth_error, acks

    def describe(self):
        d = f"close {self.code}"
        if self.auth_error:
            d = f"`auth_error` naming {code(self.auth_error)}, then " + d
        if self.acks:
            d = (f"the first {self.acks} answered, then `rate_limited` errors, every reply with its `ref`, then "
                 + d + " (not a reset)")
        return d

    def check(self, ws, inp):
        if ws.status != 101:
            return f"upgrade refused: {ws.refusal!r}"
        seen = []
        while True:
            m = ws.recv_json()
            if isinstance(m, tuple) and m[0] != "text":
                break
            seen.append(m)
        if m[0] != "close" or m[1] != self.code:
            return f"ended with {m!r} (wanted close {self.code}) after {short(repr(seen[-5:]), 600)}"
        if self.auth_error:
            ae = [x for x in seen if isinstance(x, dict) and x.get("type") == "auth_error"]
            if not ae or self.auth_error not in ae[0].get("data", {}).get("message", ""):
                return f"no auth_error naming {self.auth_error!r}: {seen!r}"
        if self.acks:
            answered = [x for x in seen if isinstance(x, dict) and x.get("type") in ("PONG", "ACK")]
            if len(answered) < self.acks:
                return f"only {len(answered)} answers before the close (wanted {self.acks})"
            unrefd = [x for x in seen if isinstance(x, dict) and x.get("type") in ("PONG", "ACK", "ERROR") and "ref" not in x]
            if unrefd:
                return f"{len(unrefd)} replies without their request's ref, e.g. {unrefd[0]!r}"
        return None


class HttpStatus:
    """An HTTP response with this status; code: the rtev JSON error code (or Engine.IO numeric
    code); no_body: a HEAD answer (headers only)."""

    def __init__(self, status, code_=None, contains=None, no_body=False, any_4xx=False):
        self.status, self.code, self.contains, self.no_body, self.any_4xx = status, code_, contains, no_body, any_4xx

    def describe(self):
        if self.any_4xx:
            return "an HTTP 4xx answer (not a reset, not a hang)"
        d = f"HTTP {self.status}"
        if self.code is not None:
            d += f" {code(self.code)}" if isinstance(self.code, str) else f" {code(json.dumps({'code': self.code}))}"
        if self.contains:
            d += f" naming {code(self.contains)}"
        if self.no_body:
            d += ", headers and no body"
        return d

    def check(self, r, inp):
        r = getattr(r, "last_post", r)  # a Socket.IO session: the answer to its last POST
        if isinstance(r, RawWs):
            if r.status == 101:
                return "the upgrade was accepted"
            r = r.refusal
        if r.outcome != "ok":
            return f"no HTTP response: {r!r}"
        if self.any_4xx:
            return None if 400 <= r.status < 500 else f"got {r!r}"
        if r.status != self.status:
            return f"got {r!r}"
        if self.no_body:
            return None if not r.body else f"HEAD answer has a body: {r.body[:200]!r}"
        if isinstance(self.code, int):
            j = r.json()
            return None if isinstance(j, dict) and j.get("code") == self.code else f"got {r!r}"
        if self.code is not None:
            c, m = r.error()
            if c != self.code:
                return f"got {r!r}"
            if self.contains and self.contains not in (m or ""):
                return f"message should name {self.contains!r}: {r!r}"
        return None


class SioError:
    """A Socket.IO `error` event (or, with an ack id, an ack {error}) with this code."""

    def __init__(self, code_, contains=None, via_ack=False):
        self.code, self.contains, self.via_ack = code_, contains, via_ack

    def describe(self):
        if self.code is None:
            d = f"event {code('error')}"
        else:
            d = ("ack " + code('{"error":{"code":"' + self.code + '"}}')) if self.via_ack else \
                f"event {code('error')} {code(self.code)}"
        return d + (f" naming {code(self.contains)}" if self.contains else "")

    def _ok(self, packet):
        ev = sio_event(packet)
        if not ev:
            return False
        name, args, _ = ev
        if self.via_ack:
            err = args[0].get("error") if name == "<ack>" and args and isinstance(args[0], dict) else None
        else:
            err = args[0] if name == "error" and args and isinstance(args[0], dict) else None
        return bool(err) and self.code in (None, err.get("code")) and (not self.contains or self.contains in err.get("message", ""))

    def check(self, s, inp):
        if isinstance(s, RawWs):
            m, seen = _wait_sio_ws(s, lambda p: sio_event(p) is not None and sio_event(p)[0] in ("error", "<ack>"))
        else:
            if getattr(s, "last_post", None) is not None and s.last_post.status != 200:
                return f"POST answered {s.last_post!r}"
            m, seen = s.until(lambda p: isinstance(p, str) and sio_event(p) is not None
                              and sio_event(p)[0] in ("error", "<ack>"))
        if not isinstance(m, str) or not self._ok(m):
            return f"got {m!r} after {short(repr(seen), 600)}"
        return None


class SioPacket:
    """A given Socket.IO packet comes back (a CONNECT_ERROR, …): starts with `prefix` and
    contains `contains`."""

    def __init__(self, prefix, contains):
        self.prefix, self.contains = prefix, contains

    def describe(self):
        return f"packet {code(self.prefix + '…')} naming {code(self.contains)}"

    def check(self, s, inp):
        pred = (lambda p: isinstance(p, str) and p.startswith(self.prefix))
        m, seen = _wait_sio_ws(s, pred) if isinstance(s, RawWs) else s.until(pred)
        if not isinstance(m, str) or self.contains not in m:
            return f"got {m!r} after {short(repr(seen), 600)}"
        return None
