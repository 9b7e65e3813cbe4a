#!/usr/bin/python3
"""End-to-end: the CLI's own HTTP requests over https:// (issues 11 and 13). `health`, `stats`,
`publish --http` and `replay --from-server` go through the SDK's HTTP client, so https:// works
with --ca-file and --insecure, --header arrives, and a certificate the CLI does not trust fails
at once (exit 3) naming the problem and the way out, as the WebSocket path does (e2e_tls.py).

A real `rtev serve` behind tls_http_proxy.py (Python's ssl module terminating TLS with a
self-signed certificate made by `openssl req` at test time; it prints every request head it
passes on, and has a second port that never answers).
usage: e2e_https.py RTEV_BINARY"""
import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Bg, Suite, free_port  # noqa: E402

t = Suite("https")
HERE = os.path.dirname(os.path.abspath(__file__))
PROMPT = 1.0  # seconds from a signal to the exit (the forced exit comes at 3 s)


def certificate(name, san):
    """A self-signed certificate and its key, made now: (cert.pem, key.pem)."""
    cert, key = t.path(f"{name}.crt"), t.path(f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class Front:
    """tls_http_proxy.py in front of `backend` (an rtev serve), ready once it prints its ports."""

    def __init__(self, cert, key, backend):
        self.b = Bg(["/usr/bin/python3", os.path.join(HERE, "tls_http_proxy.py"), cert, key, str(backend.port)],
                    t.env())
        t.cleanups.append(self.b.kill)
        if not self.b.wait_out(lambda o: o.startswith("ready "), 15):
            raise RuntimeError(f"tls_http_proxy.py did not start: {self.b.finish(1)}")
        _, port, hold = self.b.out[0].split()
        self.url = f"https://127.0.0.1:{port}"
        self.hold = f"https://127.0.0.1:{hold}"

    def requests(self):
        """Every request head passed on so far: [{"request": "GET /health", "headers": {…}}]."""
        return [json.loads(l) for l in self.b.out[1:] if l and l.startswith("{")]

    def wait_request(self, pred, timeout=10):
        return self.b.wait_out(lambda _: any(pred(r) for r in self.requests()), timeout)


srv = t.server()
CERT, KEY = certificate("127.0.0.1", "IP:127.0.0.1")
front = Front(CERT, KEY, srv)


def test_verified():
    r = t.run("health", "--url", front.url, "--ca-file", CERT)
    j = r.json_lines()
    t.check("health https:// --ca-file with the server's certificate: verified, healthy (exit 0)",
            r.rc == 0 and j and j[0]["status"] == "ok", r)
    r = t.run("health", "--url", front.url, "--insecure")
    t.check("health https:// --insecure: no certificate check, healthy (exit 0)", r.rc == 0, r)
    r = t.run("health", "--url", front.url.replace("https://", "wss://") + "/events/ws/connect", "--ca-file", CERT)
    t.check("health with the wss:// URL of the same server asks https:// (exit 0)", r.rc == 0, r)
    r = t.run("stats", front.url, "--ca-file", CERT, "--format", "json")
    j = r.json_lines()
    t.check("stats https:// --ca-file: the server's counters (exit 0)", r.rc == 0 and "last_seq" in j[0], r)


def test_untrusted():
    cases = [("health", ("health", "--url", front.url)),
             ("health --wait 30s (waiting would meet the same certificate)",
              ("health", "--url", front.url, "--wait", "30s")),
             ("stats", ("stats", front.url)),
             ("publish --http", ("publish", "x", "{}", "--room", "r", "--http", "--url", front.url)),
             ("replay --from-server", ("replay", "--from-server", "--room", "r", "--url", front.url))]
    for name, args in cases:
        r = t.run(*args, "--connect-timeout", "30s", timeout=40)
        t.check(f"{name} to a self-signed https:// server: exit 3 at once, naming the certificate problem "
                "and --ca-file / --insecure",
                r.rc == 3 and r.elapsed < 5 and "self-signed certificate" in r.err and "--ca-file" in r.err
                and "--insecure" in r.err and "SSL err" not in r.err, r)
    r = t.run("health", "--url", front.url, "-q")
    t.check("health -q to a self-signed server: exit 3, nothing printed", r.rc == 3 and r.err == "" and r.out == "", r)
    other, _ = certificate("other-ca", "IP:127.0.0.1")
    r = t.run("health", "--url", front.url, "--ca-file", other)
    t.check("--ca-file with a CA that did not sign it: exit 3, 'not trusted'",
            r.rc == 3 and r.elapsed < 5 and "not trusted" in r.err, r)
    named, named_key = certificate("events.example", "DNS:events.example")
    elsewhere = Front(named, named_key, srv)
    r = t.run("health", "--url", elsewhere.url, "--ca-file", named)
    t.check("a trusted certificate for another name: exit 3, 'not valid for 127.0.0.1', pointing to --insecure",
            r.rc == 3 and "not valid for 127.0.0.1" in r.err and "--insecure" in r.err, r)
    r = t.run("health", "--url", elsewhere.url, "--insecure")
    t.check("… and --insecure skips the name check (exit 0)", r.rc == 0, r)


def test_other_failures():
    r = t.run("health", "--url", front.url, "--ca-file", t.path("missing.pem"))
    t.check("--ca-file naming a file that is not there: exit 2, naming it",
            r.rc == 2 and "--ca-file" in r.err and "missing.pem" in r.err, r)
    r = t.run("health", "--url", front.url, "--ca-file", KEY)
    t.check("--ca-file with no certificate in it (a key): exit 2, saying so",
            r.rc == 2 and "no PEM certificate" in r.err, r)
    r = t.run("health", "--url", f"https://127.0.0.1:{srv.port}", "--connect-timeout", "30s", timeout=40)
    t.check("https:// to a plain-HTTP port: exit 3 at once, saying the TLS handshake failed",
            r.rc == 3 and r.elapsed < 5 and "TLS handshake failed" in r.err, r)
    down = f"https://127.0.0.1:{free_port()}"
    r = t.run("health", "--url", down)
    t.check("https:// to a port nothing listens on: exit 3, 'cannot connect to … connection refused'",
            r.rc == 3 and f"cannot connect to {down}: connection refused" in r.err, r)
    r = t.run("stats", "http://no-such-host.invalid:8000", "--connect-timeout", "5s", timeout=20)
    t.check("a name that does not resolve: exit 3, 'unknown host' (or the lookup failed, without DNS)",
            r.rc == 3 and ("unknown host" in r.err or "name lookup failed" in r.err), r)
    r = t.run("health", "--url", front.hold, "--insecure", "--connect-timeout", "1s", timeout=20)
    t.check("a server that never answers: exit 3 after --connect-timeout, 'no response … within 1s'",
            r.rc == 3 and 0.9 < r.elapsed < 5 and "no response from" in r.err and "within 1s" in r.err, r)


def test_headers():
    r = t.run("health", "--url", front.url, "--ca-file", CERT, "--header", "X-Trace: e2e-health",
              "--header", "Cookie: session=abc")
    t.check("health --header (repeated): exit 0 and both headers arrive",
            r.rc == 0 and front.wait_request(lambda q: q["headers"].get("x-trace") == "e2e-health"
                                             and q["headers"].get("cookie") == "session=abc"), (r, front.requests()))
    r = t.run("stats", front.url, "--ca-file", CERT, "--token", "k1", "--header", "X-Trace: e2e-stats")
    t.check("stats --token --header: both the API key and the header arrive",
            r.rc == 0 and front.wait_request(lambda q: q["headers"].get("x-trace") == "e2e-stats"
                                             and q["headers"].get("authorization") == "Bearer k1"),
            (r, front.requests()))
    r = t.run("stats", front.url, "--ca-file", CERT, "--token", "k1", "--header", "authorization: Bearer k2",
              "--header", "X-Trace: e2e-replace")
    seen = [q for q in front.requests() if q["headers"].get("x-trace") == "e2e-replace"]
    t.check("--header with the name of one the command sends (Authorization from --token) replaces it",
            r.rc == 0 and len(seen) == 1 and seen[0]["headers"]["authorization"] == "Bearer k2", (r, seen))
    r = t.run("health", "--url", front.url, "--header", "no colon")
    t.check("--header without 'Name: value': exit 2", r.rc == 2 and "--header" in r.err, r)


def test_publish_and_replay():
    r = t.run("publish", "over_https", '{"n": 1}', "--room", "secure", "--http", "--url", front.url,
              "--ca-file", CERT, "--count", "3", "--header", "X-Trace: e2e-publish")
    stored = [e for e in srv.history("secure") if e["type"] == "over_https"]
    t.check("publish --http https://: exit 0, the three events are stored",
            r.rc == 0 and len(stored) == 3 and stored[0]["data"] == {"n": 1}, (r, stored))
    t.check("… each POST carried --header",
            len([q for q in front.requests() if q["request"] == "POST /api/events"
                 and q["headers"].get("x-trace") == "e2e-publish"]) == 3, front.requests())
    r = t.run("replay", "--from-server", "--room", "secure", "--url", front.url, "--ca-file", CERT)
    t.check("replay --from-server https://: the stored events, oldest first (exit 0)",
            r.rc == 0 and [e["type"] for e in r.json_lines()] == ["over_https"] * 3
            and [e["seq"] for e in r.json_lines()] == [e["seq"] for e in stored], r)
    rec = t.write("rec.jsonl", json.dumps({"type": "replayed_https", "timestamp": "2024-01-15T10:00:00Z",
                                           "timezone": "UTC", "room": "secure", "data": {}}) + "\n")
    r = t.run("replay", rec, "--http", "--url", front.url, "--insecure")
    t.check("replay FILE --http https:// --insecure: published (exit 0)",
            r.rc == 0 and any(e["type"] == "replayed_https" for e in srv.history("secure")), r)


def test_interrupted():
    for sig, code, args in ((signal.SIGINT, 130, ("health", "--url", front.hold)),
                            (signal.SIGTERM, 143, ("health", "--url", front.hold, "--wait", "30s")),
                            (signal.SIGINT, 130, ("stats", front.hold)),
                            (signal.SIGTERM, 143, ("publish", "x", "{}", "--room", "r", "--http", "--url", front.hold)),
                            (signal.SIGINT, 130, ("replay", "--from-server", "--room", "r", "--url", front.hold))):
        before = len(front.requests())
        b = t.bg(*args, "--insecure", "--connect-timeout", "30s")
        # The request is in flight once the server has its head.
        reached = front.b.wait_out(lambda _: len(front.requests()) > before, 15)
        sent = b.signal(sig) if reached else None
        r = b.finish(15)
        took = time.monotonic() - sent if sent else float("inf")
        t.check(f"{' '.join(a for a in args if not a.startswith('https://'))} waiting for a server that never "
                f"answers: {signal.Signals(sig).name} ends it promptly with {code}, saying so",
                reached and r.rc == code and took < PROMPT
                and "interrupted by " + signal.Signals(sig).name in r.err, (took, r))


for fn in (test_verified, test_untrusted, test_other_failures, test_headers, test_publish_and_replay,
           test_interrupted):
    t.section(fn)
t.finish()
