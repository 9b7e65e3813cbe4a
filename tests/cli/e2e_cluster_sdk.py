#!/usr/bin/python3
"""End-to-end: an SDK program (examples/resumable_consumer.cpp, given the nodes as a URL list)
fails over between `rtev serve --broker redis://…` nodes on one redis-server: connected to node
A, with A killed (-9) while publishers run on B and C, it resumes on B with every event exactly
once and in order (issue 14; e2e_cluster.py checks the same of `rtev tail --url A,B`).
Waits on readiness lines, with deadlines.
usage: e2e_cluster_sdk.py RTEV_BINARY RESUMABLE_CONSUMER_BINARY"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cli_e2e_support import Bg, Suite  # noqa: E402
from cluster_support import cluster_helpers  # noqa: E402

t = Suite("cluster-sdk")
if len(sys.argv) < 3:
    sys.exit(f"usage: {sys.argv[0]} RTEV_BINARY RESUMABLE_CONSUMER_BINARY")
CONSUMER = os.path.abspath(sys.argv[2])


Redis, node = cluster_helpers(t)


def consumer(urls, room, count):
    b = Bg([CONSUMER, ",".join(urls), room, str(count)], t.env())
    t.cleanups.append(b.kill)
    return b


def lines_starting(text, prefix):
    return [l for l in text.splitlines() if l.startswith(prefix)]


def test_sdk_client_fails_over_to_another_node():
    r = Redis()
    a, b, c = node(r), node(r), node(r)
    watcher = consumer([a.url, b.url], "lobby", 60)
    t.check("the SDK client, given the nodes A,B, joins on the first",
            watcher.wait_out(lambda out: "ready (joined lobby" in out, 15)
            and lines_starting("".join(l for l in watcher.out if l), "connected to ") == [f"connected to {a.url}"],
            watcher.out)
    pubs = [t.bg("publish", "--url", srv.url, "--room", "lobby", "--count", "30", "--rate", "30/s",
                 "message_sent", '{"n":{{seq}}}') for srv in (b, c)]
    streaming = watcher.wait_out(lambda out: len(lines_starting(out, "event ")) >= 10, 15)
    a.p.kill()  # kill -9 of the node the client is connected to, publishers still running
    pub_results = [p.finish(60) for p in pubs]
    res = watcher.finish(20)
    seqs = [int(l.rsplit(" ", 1)[1]) for l in lines_starting(res.out, "event ")]
    stored = [e["seq"] for e in b.history("lobby")]
    t.check("node A killed (-9) while B and C publish: the SDK client resumes with every event exactly "
            "once and in order, no gap reported, and exits 0 at its count",
            streaming and res.rc == 0 and [p.rc for p in pub_results] == [0, 0]
            and seqs == stored and len(stored) == 60 and "gap in" not in res.out,
            (streaming, res, seqs, stored, pub_results))
    connects = lines_starting(res.out, "connected to ")
    t.check("… it was on A when A died, then said it was reconnecting and moved on to B",
            connects[:1] == [f"connected to {a.url}"] and connects[-1:] == [f"connected to {b.url}"]
            and -1 < res.out.find("reconnecting") < res.out.rfind(f"connected to {b.url}"), res.out)


t.section(test_sdk_client_fails_over_to_another_node)
t.finish()
