"""What bench/side-by-side and bench/cluster share: servers started on free ports and awaited
on their readiness line, `rtev bench --json` runs, and the table of measurements (mean of the
runs; a server that fell behind is a result, any other error a failure)."""
import json
import os
import resource
import socket
import subprocess
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def require_tools(script, tools):
    for tool in tools:
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            raise SystemExit(f"{script}: {tool} is not installed (run ./dev bench-deps)")


class Server:
    """A server process; ready once it printed `ready_text` (`wait_count` times). Without a
    `url`, the rest of the readiness line is the URL (rtev serve's `RTEV_URL=…`). With
    `wait=False` the caller calls wait_ready() (servers that only get ready together)."""

    def __init__(self, name, argv, ready_text, url, kind, cwd=None, wait_count=1, wait=True):
        self.name, self.kind, self.url = name, kind, url
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     cwd=cwd, text=True, preexec_fn=raise_fd_limit)
        self.output = []
        self.ready = threading.Event()

        def read():
            seen = 0
            for line in self.proc.stdout:
                self.output.append(line)
                if ready_text in line:
                    seen += 1
                    if self.url is None:
                        self.url = line.split(ready_text, 1)[1].strip()
                    if seen >= wait_count:
                        self.ready.set()
            self.ready.set()

        threading.Thread(target=read, daemon=True).start()
        if wait:
            self.wait_ready()

    def wait_ready(self):
        if not self.ready.wait(30) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"{self.name} did not start:\n" + "".join(self.output[-20:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_rtev(rtev, tmp, name="rtev serve", broker=None, prefix=None):
    """`rtev serve` as a user runs it, only --rate-limit and --max-connections raised: file
    history (--db), or a node of a cluster on `broker` (redis://…) with key prefix `prefix`."""
    store = ["--broker", broker, "--broker-prefix", prefix] if broker else \
        ["--db", os.path.join(tmp, f"rtev-{free_port()}.db")]
    return Server(name, [rtev, "serve", "--port", "0", *store, "--rate-limit", "1000000/s",
                         "--max-connections", "100000"], "RTEV_URL=", None, "rtev")


def start_node(corked, amplify=1):
    port = free_port()
    argv = ["node", os.path.join(ROOT, "bench/peers/ws_broadcast.js"), str(port)]
    if corked:
        argv.append("--corked")
    if amplify > 1:
        argv += ["--amplify", str(amplify)]
    name = "Node ws corked" if corked else "Node ws naive"
    return Server(name, argv, "listening", f"ws://127.0.0.1:{port}/", "ws-broadcast")


def start_nats(tmp, name="nats-server", cluster_port=None, routes=()):
    """nats-server with its WebSocket listener; with `cluster_port` and `routes` (the other
    servers' cluster ports) one server of a cluster on loopback, not waited for: its
    wait_ready() returns once every route is up."""
    port = free_port()
    conf = os.path.join(tmp, f"nats-{port}.conf")
    with open(conf, "w") as f:
        f.write(f'listen: "127.0.0.1:{free_port()}"\n'
                f'websocket {{ listen: "127.0.0.1:{port}", no_tls: true }}\n'
                "max_connections: 100000\n")
        if cluster_port:
            f.write(f'cluster {{ name: "bench", listen: "127.0.0.1:{cluster_port}", routes: ['
                    + ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in routes) + "] }\n")
    if not routes:
        return Server(name, ["nats-server", "-c", conf], "Server is ready",
                      f"ws://127.0.0.1:{port}/", "nats")
    return Server(name, ["nats-server", "-c", conf], "Route connection created",
                  f"ws://127.0.0.1:{port}/", "nats", wait_count=len(routes), wait=False)


def bench(rtev, server, args, url=None):
    """One `rtev bench --json` run; the report, or {"error": …}."""
    argv = [rtev, "bench", "--url", url or server.url, "--server-kind", server.kind, "--json",
            "-q", "--connect-timeout", "60s"] + args
    r = subprocess.run(argv, capture_output=True, text=True, preexec_fn=raise_fd_limit)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"error": f"exit {r.returncode}: {r.stderr.strip()[:300]}"}
    j = json.loads(lines[-1])
    if r.returncode != 0:
        j["error"] = f"exit {r.returncode}: " + (r.stderr.strip()[:300] or str(j.get("error_kinds")))
    return j


def generator_ceiling(rtev, load, failures):
    """The load generator's own ceiling: a server that writes every frame 50 times in large
    pieces (the corked Node server with --amplify 50), so the reader is the limit."""
    amp = start_node(True, amplify=50)
    try:
        j = bench(rtev, amp, ["--subscribers", "10"] + load)
        if "error" in j:
            failures.append("generator ceiling: " + j["error"])
        return {"received_per_s": j.get("delivered_per_s"),
                "cpu_percent": j.get("bench_cpu_percent")}
    finally:
        amp.stop()


def generator_line(g):
    if not g.get("received_per_s"):
        return None
    return (f"load generator (rtev bench) ceiling: received {fmt_rate(g['received_per_s'])} "
            f"frames/s at {g['cpu_percent']:.0f}% of one core")


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def fmt_rate(v):
    if v is None:
        return "failed"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.0f}k"


class Measurements:
    """rows[row][server] = {"values": [one per run], "details": [rtev bench's reports]}."""

    def __init__(self):
        self.rows = {}
        self.failures = []

    def add(self, row, server, value, detail=None):
        self.rows.setdefault(row, {}).setdefault(server, {"values": [], "details": []})
        self.rows[row][server]["values"].append(value)
        if detail is not None:
            self.rows[row][server]["details"].append(detail)

    def record(self, row, name, j, key):
        if j.get("error_kinds") and set(j["error_kinds"]) == {"not drained within 5 s after the run"}:
            # A result, not a failure: at this load the server fell behind (its deliveries were
            # still arriving 5 s after the run).
            self.add(row, name, None, dict(j, fell_behind=True))
        elif "error" in j:
            self.failures.append(f"{row} / {name}: {j['error']}")
            self.add(row, name, None, j)
        else:
            self.add(row, name, key(j), j)

    def finish(self):
        """Each cell's mean over the runs."""
        for row in self.rows.values():
            for cell in row.values():
                cell["mean"] = mean(cell["values"])

    @staticmethod
    def cell_text(row, cell):
        if cell is None:
            return "—"
        if cell["mean"] is None:
            return "fell behind" if any(d.get("fell_behind") for d in cell["details"]) else "failed"
        if row.endswith("deliveries/s") or row.endswith("publishes/s"):
            return fmt_rate(cell["mean"])
        return f"{cell['mean']:.1f}"
