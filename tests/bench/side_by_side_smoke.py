#!/usr/bin/python3
"""Smoke run of bench/side-by-side --quick: every server starts, every row is measured for the
servers it applies to, and each pub/sub run lost nothing (deliveries == acknowledged publishes ×
subscribers). No figure is compared with another: speed is for the benchmark, not the suite.
usage: side_by_side_smoke.py RTEV_BINARY"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failed = 0


def check(name, ok, detail=""):
    global failed
    print(("ok    " if ok else "FAIL  ") + name + ("" if ok else f"\n      {detail}"))
    failed += 0 if ok else 1


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "sbs.json")
    r = subprocess.run([os.path.join(ROOT, "bench/side-by-side"), "--quick", "--no-setup",
                        "--rtev", sys.argv[1], "--json", out], capture_output=True, text=True,
                       timeout=600)
    check("side-by-side --quick exits 0", r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:])
    check("it prints the table with the generator's ceiling",
          "load generator (rtev bench) ceiling" in r.stdout and "1 → 1, deliveries/s" in r.stdout,
          r.stdout[-2000:])
    res = json.load(open(out)) if os.path.exists(out) else {"rows": {}}
    rows = res["rows"]
    everyone = {"rtev serve", "Node ws naive", "Node ws corked", "nats-server"}
    for row in ("1 → 1, deliveries/s", "1 → 10, deliveries/s", "p99 at 5k deliveries/s, ms",
                "idle RSS per connection at 200, KB"):
        cells = rows.get(row, {})
        check(f"row '{row}' measured for every server",
              set(cells) == everyone and all(c["mean"] is not None for c in cells.values()),
              json.dumps(cells)[:800])
    for row in ("ingest, stored publishes/s", "rtev socketio door 1 → 10, deliveries/s",
                "rtev sse door 1 → 10, deliveries/s"):
        cells = rows.get(row, {})
        check(f"row '{row}' measured for rtev serve only",
              set(cells) == {"rtev serve"} and cells["rtev serve"]["mean"] is not None,
              json.dumps(cells)[:800])
    for row, cells in rows.items():
        for server, c in cells.items():
            for d in c["details"]:
                if d.get("mode") == "pubsub":
                    check(f"{row} / {server}: nothing lost",
                          d["published"] > 0 and d["delivered"] == d["expected_deliveries"]
                          and d["errors"] == 0, json.dumps(d)[:600])

print(f"{failed} failed")
sys.exit(1 if failed else 0)
