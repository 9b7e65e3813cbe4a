"""Helpers of the cluster tests (e2e_cluster.py, e2e_cluster_sdk.py): a redis-server of the
test's own on a free port, and `rtev serve --broker` nodes on it."""
import os
import subprocess
import threading

from cli_e2e_support import Server, _die_with_parent, free_port


def cluster_helpers(t):
    """Redis and node() bound to the suite `t` (its temporary directory and clean-ups)."""
    class Redis:
        """redis-server on 127.0.0.1:PORT, ready once it logs that it accepts connections."""

        def __init__(self, port=None, password=None, persist=False):
            self.port = port or free_port()
            self.password = password
            self.dir = t.path(f"redis-{self.port}")
            os.makedirs(self.dir, exist_ok=True)
            args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                    "--save", "", "--appendonly", "yes" if persist else "no", "--appendfsync", "always",
                    "--logfile", ""]
            if password:
                args += ["--requirepass", password]
            self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      preexec_fn=_die_with_parent)
            self.log = []
            ready = threading.Event()

            def pump():
                for line in self.p.stdout:
                    self.log.append(line)
                    if "Ready to accept connections" in line:
                        ready.set()
            threading.Thread(target=pump, daemon=True).start()
            if not ready.wait(15):
                raise RuntimeError("redis-server did not start: " + "".join(self.log))
            t.cleanups.append(self.stop)

        def url(self, prefix_auth=True):
            auth = f":{self.password}@" if self.password and prefix_auth else ""
            return f"redis://{auth}127.0.0.1:{self.port}"

        def cli(self, *args):
            cmd = ["redis-cli", "-p", str(self.port)]
            env = dict(os.environ)
            if self.password:
                env["REDISCLI_AUTH"] = self.password
            return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, timeout=10).stdout

        def stop(self):
            if self.p.poll() is None:
                self.p.terminate()
                try:
                    self.p.wait(10)
                except subprocess.TimeoutExpired:
                    self.p.kill()
                    self.p.wait()

    def node(redis, *args, prefix="t"):
        return Server(t, "--broker", redis.url(), "--broker-prefix", prefix, "--rate-limit", "10000/s",
                      *args, db=None)

    return Redis, node
