#!/usr/bin/python3
"""Runs every example against a real `rtev serve` and checks what it prints.
usage: run_examples.py RTEV_BINARY EXAMPLES_DIR"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

rtev, examples = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"FAIL - {name}: {detail}")


def start_server(*args, db=":memory:", port="0"):
    proc = subprocess.Popen([rtev, "serve", "--port", port, "--db", db, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()  # the server is listening once this line arrives
    assert line.startswith("RTEV_URL="), line
    url = line[len("RTEV_URL="):]
    return proc, url, "http://" + url.split("/")[2]


def post(http, body):
    req = urllib.request.Request(http + "/api/events", json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def example(name, *args):
    return os.path.join(examples, "example_" + name), *args


def wait_ready(proc):
    for line in proc.stdout:
        if line.strip() == "ready" or line.startswith("ready ("):
            return True
    return False


proc, url, http = start_server()
try:
    # typed subscriber + publisher: the subscriber prints the publisher's three messages.
    sub = subprocess.Popen(example("typed_subscriber", url, "lobby", "3"), stdout=subprocess.PIPE, text=True)
    check("typed_subscriber connects", wait_ready(sub))
    pub = subprocess.run(example("publisher", url, "lobby", "3"), capture_output=True, text=True, timeout=30)
    check("publisher gets three acks", pub.returncode == 0 and pub.stdout.count("published ") == 3, pub.stdout + pub.stderr)
    m = re.search(r"round trip (\d+) us, (\d+) bytes out", pub.stdout)
    check("publisher reports its metrics", m is not None and int(m.group(1)) > 0 and int(m.group(2)) > 0, pub.stdout)
    bad = subprocess.run(example("publisher", "ws://exa mple.com/"), capture_output=True, text=True, timeout=30)
    check("publisher refuses bad options with an error code", bad.returncode == 2 and
          "cannot use these options (invalid client options): invalid url 'ws://exa mple.com/'" in bad.stderr,
          bad.stdout + bad.stderr)
    out, _ = sub.communicate(timeout=30)
    lines = [l for l in out.splitlines() if l.startswith("message_sent")]
    check("typed_subscriber prints the typed events", sub.returncode == 0 and len(lines) == 3 and
          lines[0].endswith("from publisher: hello #1"), out)

    r = subprocess.run(example("typing_indicator", url), capture_output=True, text=True, timeout=30)
    check("typing_indicator shows start and stop", r.returncode == 0 and r.stdout.splitlines() == ["alice is typing", "alice stopped typing"], r.stdout + r.stderr)

    # custom_event: the app's own typed event, published typed and received through on<T>; the
    # malformed one reaches the error handler with its field path.
    r = subprocess.run(example("custom_event", url, "billing"), capture_output=True, text=True, timeout=30)
    m = re.search(r"published invoice_paid seq (\d+)", r.stdout)
    check("custom_event round-trips the app's own typed event", r.returncode == 0 and m is not None and
          f"invoice_paid #{m.group(1)}: 49.50 EUR from customer 42" in r.stdout and
          "error: data.amount: expected a number, got string" in r.stdout, r.stdout + r.stderr)

    r = subprocess.run(example("timezones", url), capture_output=True, text=True, timeout=30)
    check("timezones formats in several zones", r.returncode == 0 and "Asia/Kolkata: " in r.stdout and
          "2024-03-10T07:30:00Z in New York: Mar 10, 2024, 3:30:00 AM" in r.stdout and
          "did you mean 'Europe/Paris'" in r.stdout, r.stdout + r.stderr)

    # frame_loop: a poll()-driven client publishes 5 ticks, one per frame, and sees them all.
    r = subprocess.run(example("frame_loop", url, "frames", "5"), capture_output=True, text=True, timeout=40)
    ticks = [l for l in r.stdout.splitlines() if l.startswith("tick ")]
    check("frame_loop drives the client with poll()", r.returncode == 0 and
          [l.split()[1] for l in ticks] == ["1", "2", "3", "4", "5"] and "received 5 in " in r.stdout,
          r.stdout + r.stderr)

    # ui_executor: every handler on the main thread's queue, a future waited for there.
    r = subprocess.run(example("ui_executor", url, "ui"), capture_output=True, text=True, timeout=40)
    check("ui_executor runs the handlers on the app's queue", r.returncode == 0 and
          "ui shows: first" in r.stdout and "ui shows: second" in r.stdout and
          re.search(r"second acknowledged as seq \d+", r.stdout) is not None, r.stdout + r.stderr)

    # room_objects: two room objects; each one's handlers see only its room.
    r = subprocess.run(example("room_objects", url), capture_output=True, text=True, timeout=40)
    lines = r.stdout.splitlines()
    check("room_objects scopes handlers and states to each room", r.returncode == 0 and
          "news is subscribed" in lines and "joined news (replayed 0)" in lines and
          "sports: 2-1" in lines and "news: rtev ships rooms as objects" in lines and
          "news is unsubscribed after unsubscribe()" in lines and
          not any(l.startswith("news: 2-1") or l.startswith("sports: rtev") for l in lines),
          r.stdout + r.stderr)

    # any_server: the same client over SSE and over Socket.IO (rtev serve's /socket.io/ door).
    # The Socket.IO one publishes "hello" itself; both then see it and two posted events.
    sse = subprocess.Popen(example("any_server", "sse", http + "/api/events", "multi", "3"),
                           stdout=subprocess.PIPE, text=True)
    check("any_server over SSE connects", wait_ready(sse))
    sio = subprocess.Popen(example("any_server", "socketio", http, "multi", "3"), stdout=subprocess.PIPE, text=True)
    check("any_server over Socket.IO connects", wait_ready(sio))
    sio_out = ""
    for line in sio.stdout:  # the ack arrives before the posts below
        sio_out += line
        if line.startswith("published over socket.io"):
            break
    for i in range(2):
        post(http, {"type": "note", "room": "multi", "data": {"i": i}})
    sse_out, _ = sse.communicate(timeout=30)
    rest, _ = sio.communicate(timeout=30)
    sio_out += rest
    for name, out, code in (("SSE", sse_out, sse.returncode), ("Socket.IO", sio_out, sio.returncode)):
        events = [l for l in out.splitlines() if l.startswith("event ")]
        check(f"any_server over {name} prints the published event and the two posts",
              code == 0 and [l.split()[1] for l in events] == ["hello", "note", "note"], out)
    check("any_server over Socket.IO publishes with an ack carrying a seq",
          "published over socket.io: seq " in sio_out, sio_out)

    # history_pager: seven events read back three at a time with next_page(), then itself in
    # the room's presence (the callback form).
    r = subprocess.run(example("history_pager", url, "pager", "7", "3"), capture_output=True, text=True, timeout=30)
    pages = [l for l in r.stdout.splitlines() if l.startswith("page ")]
    seqs = [(int(m.group(1)), int(m.group(2))) for m in (re.search(r"seq (\d+) to (\d+)", l) for l in pages) if m]
    check("history_pager pages 3, 3, 1 in seq order and stops", r.returncode == 0 and
          [l.split(": ")[1].split(",")[0] for l in pages] == ["3 events", "3 events", "1 event"] and
          len(seqs) == 3 and all(a <= b for a, b in seqs) and seqs[0][1] < seqs[1][0] and seqs[1][1] < seqs[2][0],
          r.stdout + r.stderr)
    check("history_pager lists itself with the presence callback",
          "present: pager (1 connection)" in r.stdout.splitlines(), r.stdout + r.stderr)
finally:
    proc.terminate()
    proc.wait(10)

# The resumable consumer across a server restart that loses history: it reports the gap.
tmp = tempfile.mkdtemp(prefix="rtev-examples-")
db = os.path.join(tmp, "events.db")
proc, url, http = start_server(db=db, *("--history-max-events", "3"))
port = url.split(":")[2].split("/")[0]
consumer = subprocess.Popen(example("resumable_consumer", url, "feed", "100"), stdout=subprocess.PIPE, text=True)
try:
    check("resumable_consumer connects", wait_ready(consumer))
    for i in range(2):
        post(http, {"type": "tick", "room": "feed", "data": {"i": i}})
    # Once it has both: restart the server on the same store and port, and publish more than
    # its retention keeps before the consumer is back. It resumes, is told of the gap, and gets
    # what is left.
    got = 0
    for line in consumer.stdout:
        if line.startswith("event "):
            got += 1
            if got == 2:
                break
    # Pause the consumer, restart the server on the same store and port, and publish more than
    # its retention keeps; resume the consumer once the history has been pruned. It reconnects,
    # is told of the gap, and gets what is left.
    consumer.send_signal(signal.SIGSTOP)
    proc.terminate()
    proc.wait(10)
    proc, url, http = start_server("--history-max-events", "3", db=db, port=port)
    for i in range(2, 8):
        post(http, {"type": "tick", "room": "feed", "data": {"i": i}})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # retention runs right after each commit: a few polls
        try:
            with urllib.request.urlopen(http + "/api/history?room=*", timeout=10) as r:
                if len(json.load(r)["events"]) <= 3:
                    break
        except urllib.error.HTTPError as e:  # 429 when polled too fast: poll again
            if e.code != 429:
                raise
    consumer.send_signal(signal.SIGCONT)
    # The replayed events come first, then the SUBSCRIBE answer that reports the gap.
    out = ""
    for line in consumer.stdout:
        out += line
        if line.startswith("gap in feed"):
            break
    check("resumable_consumer reports the gap and goes on",
          "gap in feed after seq" in out and "(history pruned)" in out and "event tick" in out, out)
finally:
    consumer.kill()
    proc.terminate()
    proc.wait(10)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
