#!/usr/bin/python3
"""Smoke run of bench/side-by-side --quick: every server starts, every row is measured for the
servers it applies to, and each pub/sub run lost nothing (deliveries == acknowledged publishes ×
subscribers). No figure is compared with another: speed is for the benchmark, not the suite.
usage: side_by_side_smoke.py RTEV_BINARY"""
import json
import sys
import tempfile

sys.dont_write_bytecode = True
from bench_smoke import check, check_nothing_lost, finish, run_quick  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    r, res = run_quick("side-by-side", sys.argv[1], tmp, 600)
    check("it prints the table with the generator's ceiling",
          "load generator (rtev bench) ceiling" in r.stdout and "1 → 1, deliveries/s" in r.stdout,
          r.stdout[-2000:])
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
                check_nothing_lost(row, server, d)

finish()
