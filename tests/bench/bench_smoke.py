"""What the bench smoke tests share: ok/FAIL lines, a --quick run of a bench script with its
JSON, and the check that a pub/sub run lost nothing (deliveries == acknowledged publishes ×
subscribers)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failed = 0


def check(name, ok, detail=""):
    global failed
    print(("ok    " if ok else "FAIL  ") + name + ("" if ok else f"\n      {detail}"))
    failed += 0 if ok else 1


def run_quick(script, rtev, tmp, timeout):
    """`bench/SCRIPT --quick --no-setup` against `rtev`: the finished process and its JSON
    (rows empty if it wrote none); checks that it exited 0."""
    out = os.path.join(tmp, "bench.json")
    r = subprocess.run([os.path.join(ROOT, "bench", script), "--quick", "--no-setup", "--rtev",
                        rtev, "--json", out], capture_output=True, text=True, timeout=timeout)
    check(f"{script} --quick exits 0", r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:])
    return r, json.load(open(out)) if os.path.exists(out) else {"rows": {}}


def check_nothing_lost(row, server, d):
    if d.get("mode") == "pubsub":
        check(f"{row} / {server}: nothing lost",
              d["published"] > 0 and d["delivered"] == d["expected_deliveries"]
              and d["errors"] == 0, json.dumps(d)[:600])


def finish():
    print(f"{failed} failed")
    sys.exit(1 if failed else 0)
