#!/usr/bin/env python3
"""p99 of live fan-out (rtev bench 1 → 100 at 500 events/s) while READERS clients fetch 1,000-event
pages of a 100k-event room from /api/history in a loop. Prints one JSON line. Used for
docs/performance.md §4; compare two binaries alternately.
usage: histload.py RTEV_BIN [READERS=2]"""
import json, os, socket, subprocess, sys, tempfile, threading, time, urllib.request
rtev = sys.argv[1]
readers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
tmp = tempfile.mkdtemp()
port = free_port()
srv = subprocess.Popen([rtev, "serve", "--port", str(port), "--db", tmp + "/e.db", "--rate-limit", "1000000/s",
                        "--send-queue-max", "100000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
for line in srv.stdout:
    if "RTEV_URL=" in line: break
base = f"http://127.0.0.1:{port}"
def post(body):
    req = urllib.request.Request(base + "/api/events", json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r: r.read()
for i in range(100):
    post([{"room": "big", "type": "old", "data": {"i": i * 1000 + j, "pad": "x" * 150}} for j in range(1000)])
stop = threading.Event(); reads = [0]
def reader():
    while not stop.is_set():
        with urllib.request.urlopen(base + "/api/history?room=big&limit=1000&since=beginning", timeout=60) as r: r.read()
        reads[0] += 1
ts = [threading.Thread(target=reader, daemon=True) for _ in range(readers)]
for t in ts: t.start()
r = subprocess.run([rtev, "bench", "--url", f"ws://127.0.0.1:{port}/events/ws/connect", "--subscribers", "100",
                    "--rate", "500", "--duration", "8s", "--warmup", "1s", "--json", "-q"], capture_output=True, text=True)
stop.set()
for t in ts:
    t.join()
j = json.loads(r.stdout.strip().splitlines()[-1])
print(json.dumps({"p50": j["latency_ms"]["p50"], "p99": j["latency_ms"]["p99"], "max": j["latency_ms"]["max"],
                  "delivered_per_s": round(j["delivered_per_s"]), "history_reads": reads[0]}))
srv.terminate(); srv.wait()
