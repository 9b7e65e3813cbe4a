"""Shared helpers for the `rtev` CLI end-to-end tests (tests/cli/e2e_*.py).

Every script takes the rtev binary as argv[1], starts real `rtev serve` processes on
127.0.0.1 (port 0, waiting for the RTEV_URL= line or the ready file, never sleeping), runs the
CLI as a user would, prints one line per check and ends with `N passed, M failed`.

Standard library only (Debian's /usr/bin/python3)."""
import atexit
import base64
import ctypes
import fcntl
import hashlib
import hmac
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import traceback
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _die_with_parent():
    """Child processes get SIGTERM when the test script dies (a ctest TIMEOUT, a crash), so no
    server or CLI outlives it."""
    try:
        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except Exception:
        pass


def strip_ansi(text):
    return ANSI.sub("", text)


class Result:
    """A finished CLI run."""

    def __init__(self, rc, out, err, elapsed):
        self.rc, self.out, self.err, self.elapsed = rc, out, err, elapsed

    def lines(self):
        return [l for l in self.out.splitlines() if l.strip()]

    def err_lines(self):
        return [l for l in self.err.splitlines() if l.strip()]

    def json_lines(self):
        """stdout as JSONL; raises ValueError on a line that is not JSON."""
        return [json.loads(l) for l in self.lines()]

    def __repr__(self):
        return (f"rc={self.rc} elapsed={self.elapsed:.2f}s\n--- stdout ---\n{self.out[-3000:]}"
                f"\n--- stderr ---\n{self.err[-2000:]}")


class Bg:
    """A CLI process running in the background; stdout and stderr are collected line by line
    so a test can wait for a line (an event the process reports) with a deadline."""

    def __init__(self, args, env, stdin_data=None, cwd=None, keep_stdin=False):
        """stdin_data: written to stdin, which is then closed; keep_stdin: stdin stays an open
        pipe for send() / close_stdin(); neither: /dev/null."""
        self.args = args
        self.start = time.monotonic()
        piped = stdin_data is not None or keep_stdin
        self.p = subprocess.Popen(args, env=env, cwd=cwd, text=True, preexec_fn=_die_with_parent,
                                  stdin=subprocess.PIPE if piped else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out, self.err = [], []
        self.cv = threading.Condition()
        self.threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self.out), daemon=True),
                        threading.Thread(target=self._pump, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()
        if stdin_data is not None:
            self.p.stdin.write(stdin_data)
            if not keep_stdin:
                self.p.stdin.close()

    def send(self, text):
        self.p.stdin.write(text)
        self.p.stdin.flush()

    def close_stdin(self):
        self.p.stdin.close()

    def _pump(self, stream, sink):
        for line in stream:
            with self.cv:
                sink.append(line)
                self.cv.notify_all()
        with self.cv:
            sink.append(None)  # end of stream
            self.cv.notify_all()

    def _wait(self, sink, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                text = "".join(l for l in sink if l is not None)
                if pred(text):
                    return True
                if None in sink:
                    return pred(text)
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)

    def wait_err(self, needle, timeout=10):
        """Waits until stderr contains needle (a string) or the stream ends."""
        return self._wait(self.err, lambda t: needle in t, timeout)

    def wait_out(self, pred, timeout=10):
        return self._wait(self.out, pred, timeout)

    def wait_out_lines(self, n, timeout=10):
        return self._wait(self.out, lambda t: len([l for l in t.splitlines() if l.strip()]) >= n, timeout)

    def finish(self, timeout=30):
        """Waits for the process to exit (killing it after timeout) and returns a Result."""
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = f"killed after {timeout}s"
            self.p.wait()
        elapsed = time.monotonic() - self.start
        for t in self.threads:
            t.join(5)
        with self.cv:
            out = "".join(l for l in self.out if l is not None)
            err = "".join(l for l in self.err if l is not None)
        return Result(rc, out, err, elapsed)

    def signal(self, sig):
        """Sends sig; returns the monotonic time it was sent (None if the process had ended)."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
            return time.monotonic()
        return None

    def wait_file(self, path, timeout=10):
        """Waits until the file at path exists (the process writes it when it is ready: a
        --ready-file) while the process runs. There is no event to block on for a file appearing,
        so it looks every 10 ms; returns False if the process ended or the time ran out first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                return True
            if self.p.poll() is not None:
                return os.path.exists(path)
            time.sleep(0.01)
        return False

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            pass


class Server:
    """`rtev serve --port P --db DB --ready-file F …`, ready once its RTEV_URL= line is read."""

    def __init__(self, suite, *args, db=":memory:", port=0, ready_file=None):
        self.suite = suite
        self.db, self.extra = db, args
        self.ready_file = ready_file or os.path.join(suite.tmp, f"ready-{id(self)}-{time.monotonic_ns()}")
        cmd = [suite.rtev, "serve", "--port", str(port), *(["--db", db] if db is not None else []),
               "--ready-file", self.ready_file, *args]
        self.p = subprocess.Popen(cmd, env=suite.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  preexec_fn=_die_with_parent)
        self.err_lines = []
        self.err_cv = threading.Condition()

        def pump():
            for line in self.p.stderr:
                with self.err_cv:
                    self.err_lines.append(line)
                    self.err_cv.notify_all()
        threading.Thread(target=pump, daemon=True).start()
        # The server is listening once this line is printed: read it, with a deadline.
        line = self._readline(15)
        if not line.startswith("RTEV_URL="):
            self.p.kill()
            raise RuntimeError(f"rtev serve did not start: {line!r} {''.join(self.err_lines)}")
        self.url = line.strip()[len("RTEV_URL="):]
        self.hostport = self.url.split("/")[2]
        self.port = int(self.hostport.rsplit(":", 1)[1])
        self.http = "http://" + self.hostport
        suite.cleanups.append(self.stop)

    def wait_log(self, needle, timeout=15, since=0):
        """Waits until a log line from index `since` on contains needle; returns its index + 1
        (for a later since), or 0 when the time ran out."""
        deadline = time.monotonic() + timeout
        with self.err_cv:
            while True:
                for i in range(since, len(self.err_lines)):
                    if needle in self.err_lines[i]:
                        return i + 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return 0
                self.err_cv.wait(left)

    def _readline(self, timeout):
        fd = self.p.stdout.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return ""
        return self.p.stdout.readline()

    def stop(self, timeout=10):
        """SIGTERM, as a user's Ctrl-C would; returns the exit code."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode

    # --- direct HTTP access, to seed and inspect without going through the CLI under test ---

    def post(self, body, key=None):
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = "Bearer " + key
        req = urllib.request.Request(self.http + "/api/events", json.dumps(body).encode(), headers)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def history(self, room=None, since="beginning", key=None, types=None):
        """Every stored event (of room, or of all rooms), oldest first."""
        events = []
        cursor = since
        while True:
            q = {"since": cursor, "limit": "1000"}
            if room is not None:
                q["room"] = room
            if types:
                q["types"] = types
            req = urllib.request.Request(self.http + "/api/history?" + urllib.parse.urlencode(q))
            if key:
                req.add_header("authorization", "Bearer " + key)
            with urllib.request.urlopen(req, timeout=10) as r:
                j = json.load(r)
            events += j["events"]
            if j.get("next") is None:
                return events
            cursor = str(j["next"])

    def last_seq(self):
        with urllib.request.urlopen(self.http + "/health", timeout=10) as r:
            return json.load(r)["services"]["history"]["last_seq"]


def free_port():
    """A port nothing listens on right now (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Blackhole:
    """A TCP listener on 127.0.0.1 that accepts and never answers: a server that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                return

    def close(self):
        self.stopped = True
        for c in self.conns:
            c.close()
        self.sock.close()


def b64url(raw):
    """base64url without padding, as JWT parts are written."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_hs256(secret, claims):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


class Terminal:
    """`rtev ARGS…` on a terminal of its own, as a person runs it: a pty that is its controlling
    terminal (stdin, stdout and stderr all on it, default line discipline: typing Ctrl-C there
    sends SIGINT and echoes `^C`). `screen` is every byte the terminal showed, \r\n kept."""

    def __init__(self, args, env):
        master, slave = pty.openpty()

        def child_setup():
            _die_with_parent()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # after setsid (start_new_session)

        self.p = subprocess.Popen(args, env=env, stdin=slave, stdout=slave, stderr=slave,
                                  start_new_session=True, preexec_fn=child_setup)
        os.close(slave)
        self.master = master
        self.screen = b""

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every process closed the terminal
            return False
        self.screen += data
        return bool(data)

    def wait_for(self, needle, timeout=10):
        """Reads until the screen shows `needle` (bytes); False on time-out or the end."""
        deadline = time.monotonic() + timeout
        while needle not in self.screen:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                return needle in self.screen
        return True

    def type(self, data):
        os.write(self.master, data)

    def finish(self, timeout=15):
        """Reads to the end; returns the exit code (or "killed")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            if self.p.poll() is not None and not select.select([self.master], [], [], 0.2)[0]:
                break
        try:
            rc = self.p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "killed"
        os.close(self.master)
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()


class Suite:
    def __init__(self, name):
        if len(sys.argv) < 2:
            sys.exit(f"usage: {sys.argv[0]} RTEV_BINARY")
        self.rtev = os.path.abspath(sys.argv[1])
        self.name = name
        self.passed = self.failed = 0
        self.failures = []
        self.tmp = tempfile.mkdtemp(prefix=f"rtev-e2e-{name}-")
        self.cleanups = []
        # A private config dir: the user's own profiles must not change what the tests see.
        self.config_home = os.path.join(self.tmp, "config")
        os.makedirs(self.config_home)
        # … and a private state dir: `connect` on a terminal keeps its history there.
        self.state_home = os.path.join(self.tmp, "state")
        atexit.register(self.cleanup)  # also when the script dies of an exception

    def env(self, **extra):
        """The environment for a CLI run: no RTEV_* / NO_COLOR from the caller, a private
        XDG_CONFIG_HOME and XDG_STATE_HOME; keyword arguments add variables (None removes one)."""
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("RTEV_") and k not in ("NO_COLOR", "XDG_CONFIG_HOME", "XDG_STATE_HOME")}
        e["XDG_CONFIG_HOME"] = self.config_home
        e["XDG_STATE_HOME"] = self.state_home
        e.setdefault("TERM", "xterm")
        for k, v in extra.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    # --- reporting ---

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok - {name}", flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            detail = str(detail)
            if len(detail) > 4000:
                detail = detail[:1500] + "\n…\n" + detail[-2500:]
            print(f"FAIL - {name}: {detail}", flush=True)
        return ok

    def section(self, fn):
        """Runs one group of checks; an exception in it is one failed check, the rest go on."""
        try:
            fn()
        except Exception:
            self.check(f"{fn.__name__} ran to the end", False, traceback.format_exc())

    def cleanup(self):
        """Stops every server and background process started, removes the temp dir. Idempotent."""
        while self.cleanups:
            try:
                self.cleanups.pop()()
            except Exception:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def finish(self):
        self.cleanup()
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)

    # --- running the CLI ---

    def run(self, *args, input=None, env=None, timeout=30, cwd=None):
        """Runs `rtev ARGS…` with stdout and stderr as pipes."""
        t0 = time.monotonic()
        try:
            p = subprocess.run([self.rtev, *map(str, args)], input=input, capture_output=True, text=True,
                               env=env or self.env(), timeout=timeout, cwd=cwd, preexec_fn=_die_with_parent)
            return Result(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
        except subprocess.TimeoutExpired as e:
            def s(x):
                return x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
            return Result(f"timed out after {timeout}s", s(e.stdout), s(e.stderr), time.monotonic() - t0)

    def bg(self, *args, env=None, stdin_data=None, keep_stdin=False):
        b = Bg([self.rtev, *map(str, args)], env or self.env(), stdin_data, keep_stdin=keep_stdin)
        self.cleanups.append(b.kill)
        return b

    def terminal(self, *args, env=None):
        term = Terminal([self.rtev, *map(str, args)], env or self.env())
        self.cleanups.append(term.kill)
        return term

    def run_pty(self, *args, env=None, timeout=20):
        """Runs `rtev ARGS…` with stdout on a terminal (a pty), stderr a pipe. Output has the
        pty's \\r\\n turned back into \\n."""
        master, slave = pty.openpty()
        t0 = time.monotonic()
        p = subprocess.Popen([self.rtev, *map(str, args)], env=env or self.env(), stdin=subprocess.DEVNULL,
                             stdout=slave, stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        os.close(slave)
        err_chunks = []
        et = threading.Thread(target=lambda: err_chunks.append(p.stderr.read()), daemon=True)
        et.start()
        buf = b""
        deadline = t0 + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                p.kill()
                break
            r, _, _ = select.select([master], [], [], left)
            if not r:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            buf += data
        try:
            rc = p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "killed"
        os.close(master)
        et.join(5)
        err = b"".join(err_chunks).decode(errors="replace")
        return Result(rc, buf.decode(errors="replace").replace("\r\n", "\n"), err, time.monotonic() - t0)

    def run_stderr_tty(self, *args, env=None, timeout=60):
        """Runs `rtev ARGS…` with stderr on a terminal (a pty) and stdout a pipe: what a person
        sees of diagnostics and progress lines. Returns Result(rc, stdout, the terminal's bytes
        as text, elapsed)."""
        master, slave = pty.openpty()
        t0 = time.monotonic()
        p = subprocess.Popen([self.rtev, *map(str, args)], env=env or self.env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=slave, preexec_fn=_die_with_parent)
        os.close(slave)
        out_chunks = []
        ot = threading.Thread(target=lambda: out_chunks.append(p.stdout.read()), daemon=True)
        ot.start()
        buf = b""
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            buf += data
        try:
            rc = p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "killed"
        os.close(master)
        ot.join(5)
        out = b"".join(out_chunks).decode(errors="replace")
        return Result(rc, out, buf.decode(errors="replace"), time.monotonic() - t0)

    def server(self, *args, **kw):
        return Server(self, *args, **kw)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p


def one_line_naming(res, *needles):
    """usage errors: exit 2, exactly one line on stderr, naming the culprit."""
    lines = res.err_lines()
    return res.rc == 2 and len(lines) == 1 and all(n in lines[0] for n in needles)
