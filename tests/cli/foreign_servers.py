"""Foreign servers for the CLI end-to-end tests: Node test servers from tests/interop
(a socket.io server, an SSE server, a FastAPI-style WebSocket server) run from
tests/interop/node_modules, each printing one JSON line per thing that happens."""
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request

from cli_e2e_support import REPO, _die_with_parent

INTEROP = os.path.join(REPO, "tests", "interop")
NODE = shutil.which("node")


def have_node_module(name):
    return bool(NODE) and os.path.isdir(os.path.join(INTEROP, "node_modules", name))


class NodeServer:
    """A Node test server printing one JSON line per happening; ready at {"ready":true,"port"}."""

    def __init__(self, t, script, *args):
        """t: the Suite (the server is stopped with its cleanups)."""
        self.p = subprocess.Popen([NODE, os.path.join(INTEROP, script), *map(str, args)], cwd=INTEROP,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  preexec_fn=_die_with_parent)
        self.lines, self.err = [], []
        self.cv = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.p.stderr), daemon=True).start()
        t.cleanups.append(self.stop)
        ready = self.wait(lambda j: j.get("ready"), 15)
        if not ready:
            self.stop()
            raise RuntimeError(f"{script} did not start: {''.join(self.err)}")
        self.port = ready["port"]
        self.http = f"http://127.0.0.1:{self.port}"

    def _pump(self):
        for line in self.p.stdout:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            with self.cv:
                self.lines.append(j)
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)
            self.cv.notify_all()

    def wait(self, pred, timeout=10, start=0):
        """The first line (from index `start`) satisfying pred, or None at the deadline / exit."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for j in self.lines[start:]:
                    if j is not None and pred(j):
                        return j
                left = deadline - time.monotonic()
                if None in self.lines or left <= 0:
                    return None
                self.cv.wait(left)

    def wait_n(self, pred, n, timeout=10, start=0):
        """Waits until n lines (from `start`) satisfy pred; returns those seen (maybe fewer)."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                got = [j for j in self.lines[start:] if j is not None and pred(j)]
                left = deadline - time.monotonic()
                if len(got) >= n or None in self.lines or left <= 0:
                    return got
                self.cv.wait(left)

    def mark(self):
        with self.cv:
            return len(self.lines)

    def seen(self, pred, start=0):
        with self.cv:
            return [j for j in self.lines[start:] if j is not None and pred(j)]

    def post(self, path, body):
        req = urllib.request.Request(self.http + path, json.dumps(body).encode(),
                                     {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
