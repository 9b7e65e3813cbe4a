#!/usr/bin/python3
"""End-to-end: certificates the CLI does not trust (issue 11). A local TLS WebSocket server
(tls_ws_server.py: Debian's python3-websockets over ssl) with a self-signed certificate made by
`openssl req` at test time: every command that connects fails at once with exit 3 and a line
naming the problem and the way out (--ca-file, --insecure) instead of OpenSSL's "SSL err 1:
error:00000001:lib(0)::reason(1)" and retries until the deadline; --ca-file with that
certificate and --insecure connect; a certificate for another name is named as such.
usage: e2e_tls.py RTEV_BINARY"""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import Bg, Suite  # noqa: E402

t = Suite("tls")
HERE = os.path.dirname(os.path.abspath(__file__))


def certificate(name, san):
    """A self-signed certificate and its key, made now: (cert.pem, key.pem)."""
    cert, key = t.path(f"{name}.crt"), t.path(f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tls_server(cert, key):
    """tls_ws_server.py on 127.0.0.1, ready once it prints `ready PORT`: its port."""
    b = Bg(["/usr/bin/python3", os.path.join(HERE, "tls_ws_server.py"), cert, key], t.env())
    t.cleanups.append(b.kill)
    if not b.wait_out(lambda o: o.startswith("ready "), 15):
        raise RuntimeError(f"tls_ws_server.py did not start: {b.finish(1)}")
    return int("".join(l for l in b.out if l).split()[1])


def test_self_signed():
    cert, key = certificate("127.0.0.1", "IP:127.0.0.1")
    port = tls_server(cert, key)
    wss = f"wss://127.0.0.1:{port}/events/ws/connect"
    https = f"https://127.0.0.1:{port}"
    rec = t.write("one.jsonl", json.dumps({"type": "x", "timestamp": "2024-01-15T10:00:00Z", "timezone": "UTC",
                                           "data": {}}) + "\n")
    cases = [("tail", ("tail", "--url", wss, "--count", "1", "--timeout", "30s")),
             ("subscribe", ("subscribe", "lobby", "--url", wss)),
             ("publish", ("publish", "x", "{}", "--room", "r", "--url", wss)),
             ("replay", ("replay", rec, "--url", wss)),
             ("connect", ("connect", wss)),
             ("tail over SSE (https://)", ("tail", "--url", https + "/api/events")),
             ("tail over Socket.IO (https://)", ("tail", "--protocol", "socketio", "--url", https))]
    for name, args in cases:
        r = t.run(*args, "--connect-timeout", "30s", "-v", input="", timeout=40)
        t.check(f"{name} to a self-signed wss/https server: exit 3 at once (no retries), naming the "
                "certificate problem and --ca-file / --insecure",
                r.rc == 3 and r.elapsed < 5 and "self-signed certificate" in r.err and "--ca-file" in r.err
                and "--insecure" in r.err and "reconnecting" not in r.err and "SSL err" not in r.err, r)
    r = t.run("tail", "--url", wss, "--count", "1", "--timeout", "10s", "--insecure")
    t.check("--insecure: connects, the event arrives (exit 0)",
            r.rc == 0 and [e["type"] for e in r.json_lines()] == ["over_tls"], r)
    r = t.run("tail", "--url", wss, "--count", "1", "--timeout", "10s", "--ca-file", cert)
    t.check("--ca-file with the server's certificate: verified, the event arrives (exit 0)",
            r.rc == 0 and [e["type"] for e in r.json_lines()] == ["over_tls"], r)
    other, _ = certificate("other-ca", "IP:127.0.0.1")
    r = t.run("publish", "x", "{}", "--room", "r", "--url", wss, "--ca-file", other)
    t.check("--ca-file with a CA that did not sign it: still exit 3, naming the problem",
            r.rc == 3 and r.elapsed < 5 and "not trusted" in r.err, r)


def test_wrong_name():
    cert, key = certificate("events.example", "DNS:events.example")
    port = tls_server(cert, key)
    r = t.run("tail", "--url", f"wss://127.0.0.1:{port}/ws", "--ca-file", cert, "--connect-timeout", "30s")
    t.check("a trusted certificate for another name: exit 3 at once, saying it is not valid for 127.0.0.1",
            r.rc == 3 and r.elapsed < 5 and "not valid for 127.0.0.1" in r.err and "--insecure" in r.err, r)
    r = t.run("tail", "--url", f"wss://127.0.0.1:{port}/ws", "--insecure", "--count", "1", "--timeout", "10s")
    t.check("… and --insecure skips the name check (exit 0)", r.rc == 0, r)


for fn in (test_self_signed, test_wrong_name):
    t.section(fn)
t.finish()
