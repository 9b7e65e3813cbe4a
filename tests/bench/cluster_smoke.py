#!/usr/bin/python3
"""Smoke run of bench/cluster --quick: every deployment starts (a redis-server with 1, 2 and 3
rtev serve nodes, one rtev serve on SQLite, nats-server alone and routed three ways, Node `ws`),
every row is measured for the deployments it applies to, rtev bench was given every node of a
cluster (it spreads its connections over them), the servers' CPU and Redis's commandstats were
taken, and each pub/sub run lost nothing — with subscribers on every node and the publisher on
node 1, that means every event crossed to the other nodes. No figure is compared with another:
speed is for the benchmark, not the suite.
usage: cluster_smoke.py RTEV_BINARY"""
import json
import sys
import tempfile

sys.dont_write_bytecode = True
from bench_smoke import check, check_nothing_lost, finish, run_quick  # noqa: E402

everyone = {"SQLite", "Redis ×1", "Redis ×2", "Redis ×3", "nats ×1", "nats ×3", "Node ws"}
rtev_only = {"SQLite", "Redis ×1", "Redis ×2", "Redis ×3"}
rows_expected = {"ingest, 6 publishers spread, publishes/s": rtev_only,
                 "1 → 6 spread, deliveries/s": everyone,
                 "p99 at 3k deliveries/s (1 → 6 spread), ms": everyone}
nodes_of = {"Redis ×1": 1, "Redis ×2": 2, "Redis ×3": 3, "nats ×3": 3}

with tempfile.TemporaryDirectory() as tmp:
    r, res = run_quick("cluster", sys.argv[1], tmp, 300)
    check("it prints the table with the generator's ceiling and every row",
          "load generator (rtev bench) ceiling" in r.stdout
          and all(row in r.stdout for row in rows_expected), r.stdout[-2000:])
    rows = res["rows"]
    check("no other rows", set(rows) == set(rows_expected), sorted(rows))
    for row, servers in rows_expected.items():
        cells = rows.get(row, {})
        check(f"row '{row}' measured for {len(servers)} deployments",
              set(cells) == servers and all(c["mean"] is not None for c in cells.values()),
              json.dumps(cells)[:800])
    for row, cells in rows.items():
        for server, c in cells.items():
            for d in c["details"]:
                n = nodes_of.get(server, 1)
                check(f"{row} / {server}: rtev bench had every node's URL ({n})",
                      len(d.get("nodes", [d.get("url")])) == n, json.dumps(d)[:600])
                cpu = d.get("cpu_percent", {})
                check(f"{row} / {server}: each process's CPU was sampled",
                      "machine" in cpu and len(cpu) == n + 1 + server.startswith("Redis"),
                      json.dumps(cpu))
                if server.startswith("Redis"):
                    check(f"{row} / {server}: Redis ran the publish script",
                          d.get("redis_commandstats", {}).get("evalsha", {}).get("calls", 0) > 0,
                          json.dumps(d.get("redis_commandstats"))[:600])
                check_nothing_lost(row, server, d)

finish()
