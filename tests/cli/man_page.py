#!/usr/bin/python3
"""The man page (man/rtev.1) renders without a single warning (`groff -ww -man`, `man -l
--warnings`), shows every option text (a line starting with `.` would be taken for a request
and vanish), and its EXAMPLES run as written (issue 11): each `.nf` block is taken from the
page, unescaped and run with bash, `rtev` on PATH. The CI example must start its own server and
pass against it alone: a decoy `rtev serve` on the default port 8000 (when that port is free)
must see nothing of it.
usage: man_page.py RTEV_BINARY"""
import os
import re
import shutil
import signal
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import REPO, Server, Suite, _die_with_parent  # noqa: E402

t = Suite("man")
MAN = os.path.join(REPO, "man", "rtev.1")
page = open(MAN).read()


def test_renders_cleanly():
    if shutil.which("groff"):
        p = subprocess.run(["groff", "-ww", "-man", "-z", MAN], capture_output=True, text=True, timeout=60)
        t.check("groff -ww -man -z man/rtev.1: no warnings", p.returncode == 0 and p.stderr == "", p.stderr)
        p = subprocess.run(["groff", "-man", "-Tutf8", MAN], capture_output=True, text=True, timeout=60)
        text = re.sub(r".\x08", "", p.stdout)
        t.check("the subscribe ROOM argument's text is rendered (no line dropped as a request)",
                re.search(r"rooms\s+Rooms to join", text) is not None, text[:3000])
    else:
        t.check("groff is installed (./dev test installs groff-base)", False)
    if shutil.which("man"):
        p = subprocess.run(["man", "-l", "--warnings", MAN], capture_output=True, text=True, timeout=60,
                           env=t.env(MANPAGER="cat", PAGER="cat", MANWIDTH="100"))
        t.check("man -l --warnings man/rtev.1: no warnings", p.returncode == 0 and p.stderr == "", p.stderr)
    lines = page.splitlines()
    bad = [l for l in lines if l.startswith((".", "'")) and not re.match(r"^\.(\\\"|[A-Za-z]{1,2}\b)", l)]
    t.check("every line that starts with . or ' is a macro call", not bad, bad)
    t.check("no raw non-ASCII characters (troff warns about them without preconv)",
            all(ord(c) < 128 for c in page), [l for l in lines if any(ord(c) >= 128 for c in l)][:3])


def unescape(line):
    return line.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "").replace("\\(aq", "'")


def examples():
    """(text before the block, shell script) for every .nf … .fi block of EXAMPLES."""
    section = page[page.index(".SH EXAMPLES\n") + len(".SH EXAMPLES\n"):]
    section = section[:section.index("\n.SH ")]
    out, intro, body = [], [], None
    for line in section.splitlines():
        if line == ".nf":
            body = []
        elif line == ".fi":
            out.append((re.sub(r"\\f[BIRP]", "", unescape(" ".join(intro))), "\n".join(body) + "\n"))
            intro, body = [], None
        elif body is not None:
            if line not in (".RS", ".RE"):
                body.append(unescape(line))
        elif not line.startswith("."):
            intro.append(line)
    return out


def run_example(script, cwd, env):
    """Runs it with bash in its own process group (whatever it leaves running is ended), its
    output in files: a server it left behind must not hold a pipe open."""
    with open(os.path.join(cwd, "stdout"), "w") as out, open(os.path.join(cwd, "stderr"), "w") as err:
        p = subprocess.Popen(["bash", "-e", "-c", script], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=out, stderr=err, start_new_session=True, preexec_fn=_die_with_parent)
        try:
            rc = p.wait(60)
        except subprocess.TimeoutExpired:
            rc = "timed out after 60 s"
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        p.wait()
    return rc, open(os.path.join(cwd, "stdout")).read(), open(os.path.join(cwd, "stderr")).read()


def test_examples_run():
    found = examples()
    t.check("EXAMPLES has the CI example and the record/replay example", len(found) == 2,
            [i for i, _ in found])
    bindir = t.path("bin")
    os.makedirs(bindir)
    os.symlink(t.rtev, os.path.join(bindir, "rtev"))
    path = bindir + os.pathsep + os.environ.get("PATH", "")
    for n, (intro, script) in enumerate(found):
        cwd = t.path(f"example-{n}")
        os.makedirs(cwd)
        if "rtev serve" in script:
            try:
                decoy = Server(t, port=8000)  # a dev server where the default URL points
            except Exception:
                decoy = None  # port 8000 is taken: the example still has to pass
            rc, out, err = run_example(script, cwd, t.env(PATH=path))
            got = open(os.path.join(cwd, "got.jsonl")).read() if os.path.exists(os.path.join(cwd, "got.jsonl")) else ""
            t.check(f"man EXAMPLES: {intro[:60]}…: exits 0, the tail got the event",
                    rc == 0 and '"deploy_finished"' in got and '"1.2.3"' in got, (rc, out, err, got))
            if decoy:
                seen = decoy.history()
                t.check("… against its own server only: the decoy on port 8000 saw nothing", seen == [], seen)
                decoy.stop()
        else:
            s = t.server()
            for i in range(2):
                s.post({"type": "recorded", "room": "rec", "data": {"i": i}})
            rc, out, err = run_example(script, cwd, t.env(PATH=path, RTEV_URL=s.url))
            session = os.path.join(cwd, "session.jsonl")
            recorded = open(session).read().count('"recorded"') if os.path.exists(session) else 0
            again = [e for e in s.history("rec") if e["type"] == "recorded"]
            t.check(f"man EXAMPLES: {intro[:60]}…: exits 0, records the events and publishes them again",
                    rc == 0 and recorded == 2 and len(again) == 4, (rc, out, err, recorded, again))
            s.stop()


def test_docs_carry_the_same_ci_example():
    ci = [script for _, script in examples() if "rtev serve" in script]
    docs = open(os.path.join(REPO, "docs", "cli.md")).read()
    blocks = re.findall(r"^```sh\n(.*?)^```", docs, re.M | re.S)
    t.check("docs/cli.md's CI script is the man page's (which this test runs)",
            len(ci) == 1 and ci[0] in blocks, (ci, blocks))


for fn in (test_renders_cleanly, test_examples_run, test_docs_carry_the_same_ci_example):
    t.section(fn)
t.finish()
