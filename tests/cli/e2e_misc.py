#!/usr/bin/python3
"""End-to-end: the rest of the `rtev` command line (issue 5 spec): invalid input caught before
connecting (exit 2, one line naming it), --version, -q / -v / RTEV_DEBUG, RTEV_URL / RTEV_TZ,
`events`, `completion bash|zsh|fish` (valid scripts that complete subcommands, flags, event
types and zones), `profile add|use|ls|rm` with --profile / RTEV_PROFILE, `serve` basics, and
examples/ci-smoke.sh.
usage: e2e_misc.py RTEV_BINARY"""
import json
import os
import shlex
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_e2e_support import REPO, Suite, _die_with_parent, free_port, one_line_naming  # noqa: E402

t = Suite("misc")
srv = t.server()
URL = srv.url
DOWN = f"ws://127.0.0.1:{free_port()}/events/ws/connect"
srv.post({"type": "message_sent", "room": "m1", "data": {"n": 1}})


def test_usage_errors():
    cases = [
        ("bad duration --timeout 10x", ("tail", "--timeout", "10x"), ("--timeout", "10x")),
        ("bad duration --since 10x", ("tail", "--since", "10x"), ("--since", "10x")),
        ("bad duration --connect-timeout 5parsecs", ("tail", "--connect-timeout", "5parsecs"), ("--connect-timeout", "5parsecs")),
        ("bad duration health --wait soon", ("health", "--wait", "soon"), ("--wait", "soon")),
        ("bad RFC 3339 --since", ("tail", "--since", "2024-13-01T00:00:00Z"), ("2024-13-01T00:00:00Z",)),
        ("unknown zone --tz Europe/Pari", ("tail", "--tz", "Europe/Pari"), ("Europe/Pari", "Europe/Paris")),
        ("unknown zone on publish", ("publish", "x", "{}", "--tz", "Mars/Olympus"), ("Mars/Olympus",)),
        ("bad JSON argument", ("publish", "message_sent", "{nope}"), ("JSON", "{nope}")),
        ("bad --format", ("tail", "--format", "yaml"), ("--format", "yaml")),
        ("bad --color", ("tail", "--color", "sometimes"), ("--color", "sometimes")),
        ("bad --time", ("tail", "--time", "yesterday"), ("--time", "yesterday")),
        ("bad --where", ("tail", "--where", "=whatsapp"), ("--where", "=whatsapp")),
        ("unknown flag", ("tail", "--frobnicate"), ("--frobnicate",)),
    ]
    for name, args, needles in cases:
        r = t.run(*args, "--url", DOWN, timeout=10)
        t.check(f"{name}: exit 2 before connecting, one line naming it", one_line_naming(r, *needles) and r.elapsed < 2, r)
    r = t.run("tail", "--url", DOWN, env=t.env(RTEV_TZ="Mars/Base"), timeout=10)
    t.check("unknown zone in RTEV_TZ: exit 2 naming it", one_line_naming(r, "Mars/Base"), r)
    r = t.run("tail", "--url", "not a url", timeout=10)
    t.check("a malformed --url: exit 2", r.rc == 2, r)
    r = t.run(timeout=10)
    t.check("no subcommand: exit 2", r.rc == 2, r)
    r = t.run("frobnicate", timeout=10)
    t.check("unknown subcommand: exit 2", r.rc == 2, r)


def test_version_and_diagnostics():
    r = t.run("--version")
    t.check("rtev --version: exit 0, prints the version", r.rc == 0 and r.out.startswith("rtev ") and r.out.strip() != "rtev", r)
    for cmd in ("tail", "publish"):
        r = t.run(cmd, "--version")
        t.check(f"--version is common to every command: rtev {cmd} --version prints the version (exit 0)",
                r.rc == 0 and r.out.startswith("rtev "), r)
    r = t.run("--help")
    t.check("rtev --help lists the exit codes", r.rc == 0 and "3" in r.out and "deadline" in r.out, r)

    base = ("tail", "--url", URL, "--since", "beginning", "--until-end", "--type", "message_sent")
    quiet = t.run(*base)
    t.check("events go to stdout, nothing on stderr by default", quiet.rc == 0 and len(quiet.lines()) == 1 and quiet.err == "", quiet)
    r = t.run(*base, "-v")
    t.check("-v: diagnostics on stderr, events unchanged on stdout",
            r.rc == 0 and r.err.strip() != "" and r.out == quiet.out and all(l.startswith("rtev") for l in r.err_lines()), r)
    r = t.run(*base, env=t.env(RTEV_DEBUG="1"))
    t.check("RTEV_DEBUG=1 works as -v", r.rc == 0 and r.err.strip() != "" and r.out == quiet.out, r)
    r = t.run("tail", "--url", URL, "--type", "never_published", "--count", "1", "--timeout", "500ms", "-q", "-v")
    t.check("-q wins over -v: no diagnostics (exit 5, empty stderr)", r.rc == 5 and r.err == "", r)


def test_env_vars():
    r = t.run("tail", "--since", "beginning", "--until-end", "--type", "message_sent", env=t.env(RTEV_URL=URL))
    t.check("RTEV_URL is the default server", r.rc == 0 and len(r.json_lines()) == 1, r)
    r = t.run("tail", "--url", URL, "--since", "beginning", "--until-end", "--type", "message_sent",
              env=t.env(RTEV_URL=DOWN))
    t.check("--url wins over RTEV_URL", r.rc == 0 and len(r.json_lines()) == 1, r)
    tok = t.server("--auth", "token")
    r = t.run("publish", "--url", tok.url, "mine", "{}", "--room", "user:carol", env=t.env(RTEV_TOKEN="carol"))
    t.check("RTEV_TOKEN is the token (carol may publish to user:carol)", r.rc == 0 and r.elapsed < 5, r)
    r = t.run("publish", "--url", tok.url, "mine", "{}", "--room", "user:dave", env=t.env(RTEV_TOKEN="carol"))
    t.check("RTEV_TOKEN identifies the user (carol may not publish to user:dave: exit 1)", r.rc == 1, r)
    tok.stop()
    r = t.run("tail", "--url", URL, "--since", "beginning", "--until-end", "--type", "message_sent",
              "--format", "{{time}}", "--time", "iso", env=t.env(RTEV_TZ="Asia/Kolkata"))
    t.check("RTEV_TZ sets the zone of displayed times", r.rc == 0 and r.out.strip().endswith("+05:30"), r)


def test_events():
    r = t.run("events")
    lines = r.lines()
    msg = [l for l in lines if l.split()[:1] == ["message_sent"]]
    t.check("rtev events lists the 40 catalog types, one per line", r.rc == 0 and len(lines) == 40, r)
    t.check("rtev events shows name, family and fields",
            len(msg) == 1 and "messenger" in msg[0] and "message_id" in msg[0] and "message_text" in msg[0]
            and any(l.startswith("new_message") and "inbox" in l for l in lines)
            and any(l.startswith("CAMPAIGN_PROGRESS") and "dashboard" in l for l in lines), r)
    r = t.run("events", "--format", "json")
    try:
        j = json.loads(r.out)
    except ValueError:
        j = []
    t.check("rtev events --format json", r.rc == 0 and len(j) == 40 and
            {"name", "family", "fields"} <= set(j[0]), r)
    r = t.run("events", "--format", "names", "--family", "inbox")
    t.check("rtev events --family inbox --format names", r.rc == 0 and "new_message" in r.lines()
            and "message_sent" not in r.lines(), r)


def test_completion():
    files = {"bash": "completions/rtev.bash", "zsh": "completions/_rtev", "fish": "completions/rtev.fish"}
    bindir = t.path("bin")
    os.makedirs(bindir)
    os.symlink(t.rtev, os.path.join(bindir, "rtev"))
    env = t.env(PATH=bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"))
    for shell, installed in files.items():
        r = t.run("completion", shell)
        script = t.write(f"completion.{shell}", r.out)
        t.check(f"completion {shell}: exit 0, a script", r.rc == 0 and len(r.out) > 100, r)
        try:
            same = open(os.path.join(REPO, installed)).read() == r.out
        except OSError as e:
            same = e
        t.check(f"completion {shell} is the script installed from {installed}", same is True, same)
        exe = shutil.which(shell)  # ./dev installs all three
        t.check(f"{shell} is installed (./dev test installs it)", exe is not None, shell)
        if exe:
            p = subprocess.run([exe, "-n", script], capture_output=True, text=True)
            t.check(f"{shell} -n accepts the {shell} completion script", p.returncode == 0, p.stderr)

    def complete(*words):
        """bash: what _rtev offers for the last word of `rtev WORDS…`."""
        line = " ".join(["rtev", *words])
        quoted = " ".join(shlex.quote(w) for w in ["rtev", *words])
        prog = (f"source {shlex.quote(t.path('completion.bash'))}\n"
                f"COMP_WORDS=({quoted})\n"
                f"COMP_CWORD={len(words)}\nCOMP_LINE={shlex.quote(line)}\nCOMP_POINT={len(line)}\n"
                "_rtev\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
        p = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, env=env, timeout=20)
        return p.stdout.split()
    got = complete("ta")
    t.check("bash completion offers subcommands (rtev ta<TAB> → tail)", got == ["tail"], got)
    got = complete("tail", "--ty")
    t.check("bash completion offers flags (rtev tail --ty<TAB> → --type)", "--type" in got, got)
    got = complete("tail", "--type", "message_s")
    t.check("bash completion offers catalog event types for --type", "message_sent" in got and all(g.startswith("message_s") for g in got), got)
    got = complete("tail", "--tz", "Europe/Par")
    t.check("bash completion offers zone names for --tz", got == ["Europe/Paris"], got)
    got = complete("profile", "")
    t.check("bash completion offers profile's subcommands", {"add", "use", "ls", "rm"} <= set(got), got)
    got = complete("events", "--format", "")
    t.check("bash completion offers each command's own --format values (events)", got == ["text", "json", "names"], got)
    got = complete("tail", "--format", "")
    t.check("bash completion offers each command's own --format values (tail)", got == ["pretty", "json", "jsonl", "raw"], got)
    got = complete("completion", "")
    t.check("bash completion offers shell names after `completion`", got == ["bash", "zsh", "fish"], got)
    files_dir = t.path("files")
    os.makedirs(files_dir)
    open(os.path.join(files_dir, "rec.jsonl"), "w").close()
    got = complete("replay", os.path.join(files_dir, "re"))
    t.check("bash completion offers file names for `replay FILE`", got == [os.path.join(files_dir, "rec.jsonl")], got)
    got = complete("publish", "message_sent", "@" + os.path.join(files_dir, "re"))
    t.check("bash completion offers file names after @ (publish's @FILE data)", got == ["@" + os.path.join(files_dir, "rec.jsonl")], got)
    got = complete("publish", "message_s")
    t.check("bash completion offers event types for publish's TYPE", "message_sent" in got, got)
    got = complete("tail", "--room", "profile", "")
    t.check("bash completion: a flag's value is not read as a subcommand", "--type" in got and "add" not in got, got)

    zsh = shutil.which("zsh")
    if zsh:
        zscript = t.path("completion.zsh")

        def zsh_complete(*words):
            """zsh: what _rtev offers (compadd and _files stubbed to print) for `rtev WORDS…`."""
            quoted = " ".join(shlex.quote(w) for w in ["rtev", *words])
            prog = (f"source {shlex.quote(zscript)} >/dev/null 2>&1\n"
                    "compadd() { [[ $1 == -- ]] && shift; print -rl -- \"$@\"; }\n"
                    "_files() { print -r -- '<files>'; }\ncompset() { return 0; }\n"
                    f"words=({quoted}); CURRENT=$#words\n_rtev\n")
            p = subprocess.run([zsh, "-f", "-c", prog], capture_output=True, text=True, env=env, timeout=20)
            return p.stdout.split()
        p = subprocess.run([zsh, "-f", "-c", f"source <(rtev completion zsh) && print -r -- \"$_comps[rtev]|$(command -v rtev)\""],
                           capture_output=True, text=True, env=env, timeout=20)
        t.check("zsh: `source <(rtev completion zsh)` registers _rtev with no error and leaves $PATH working",
                p.returncode == 0 and p.stderr == "" and p.stdout.strip() == "_rtev|" + os.path.join(bindir, "rtev"),
                (p.returncode, p.stdout, p.stderr))
        got = zsh_complete("")
        t.check("zsh completion offers subcommands", {"tail", "publish", "completion"} <= set(got), got)
        got = zsh_complete("tail", "--ty")
        t.check("zsh completion offers flags", "--type" in got, got)
        got = zsh_complete("tail", "--type", "")
        t.check("zsh completion offers event types for --type", "message_sent" in got, got)
        got = zsh_complete("events", "--format", "")
        t.check("zsh completion offers each command's own --format values", got == ["text", "json", "names"], got)
        got = zsh_complete("completion", "")
        t.check("zsh completion offers shell names after `completion`", got == ["bash", "zsh", "fish"], got)
        got = (zsh_complete("replay", ""), zsh_complete("tail", "-o", ""))
        t.check("zsh completion offers files for `replay FILE` and -o", got == (["<files>"], ["<files>"]), got)
    fish = shutil.which("fish")
    if fish:
        def fish_complete(line):
            p = subprocess.run([fish, "--no-config", "-c", f"source {shlex.quote(t.path('completion.fish'))}; "
                                f"complete -C {shlex.quote(line)}"], capture_output=True, text=True, env=env, timeout=20)
            return [l.split("\t")[0] for l in p.stdout.splitlines()]
        got = (fish_complete("rtev ta"), fish_complete("rtev tail --type message_s"),
               fish_complete("rtev tail --tz Europe/Par"), fish_complete("rtev publish --bro"))
        t.check("fish completion offers subcommands, event types, zones and flags",
                "tail" in got[0] and "message_sent" in got[1] and "Europe/Paris" in got[2] and "--broadcast" in got[3], got)
        got = (fish_complete("rtev events --format "), fish_complete("rtev completion "),
               fish_complete("rtev replay " + os.path.join(files_dir, "re")))
        t.check("fish completion offers each command's --format values, shells, and files for replay",
                sorted(got[0]) == ["json", "names", "text"] and sorted(got[1]) == ["bash", "fish", "zsh"]
                and got[2] == [os.path.join(files_dir, "rec.jsonl")], got)
    r = t.run("completion", "tcsh")
    t.check("completion of an unknown shell: exit 2", r.rc == 2, r)


def test_profiles():
    xdg = t.path("xdg")
    env = t.env(XDG_CONFIG_HOME=xdg)
    r = t.run("profile", "ls", env=env)
    t.check("profile ls with no config: exit 0, nothing listed", r.rc == 0 and r.out.strip() == "", r)
    r = t.run("profile", "add", "local", "--url", URL, "--tz", "Asia/Tokyo", env=env)
    cfg = os.path.join(xdg, "rtev", "config.json")
    try:
        j = json.load(open(cfg))
    except Exception as e:
        j = str(e)
    t.check("profile add NAME --url URL --tz ZONE writes ${XDG_CONFIG_HOME}/rtev/config.json",
            r.rc == 0 and URL in json.dumps(j) and "Asia/Tokyo" in json.dumps(j), (r, j))
    r = t.run("profile", "add", "down", "--url", DOWN, "--token", "t0k", env=env)
    ls = t.run("profile", "ls", env=env)
    t.check("profile ls lists every profile", r.rc == 0 and ls.rc == 0 and "local" in ls.out and "down" in ls.out, (r, ls))

    r = t.run("profile", "use", "down", env=env)
    h = t.run("health", "--connect-timeout", "1s", env=env)
    t.check("profile use NAME makes it the default (health goes to its unreachable URL: exit 3)",
            r.rc == 0 and h.rc == 3, (r, h))
    r = t.run("health", "--profile", "local", env=env)
    t.check("--profile NAME picks a profile", r.rc == 0 and '"ok"' in r.out, r)
    r = t.run("health", env=t.env(XDG_CONFIG_HOME=xdg, RTEV_PROFILE="local"))
    t.check("RTEV_PROFILE=NAME picks a profile", r.rc == 0 and '"ok"' in r.out, r)
    r = t.run("profile", "use", "local", env=env)
    r2 = t.run("tail", "--since", "beginning", "--until-end", "--type", "message_sent", "--format", "{{time}}",
               "--time", "iso", env=env)
    t.check("profile use local: commands use its url and its tz (Asia/Tokyo)",
            r.rc == 0 and r2.rc == 0 and r2.out.strip().endswith("+09:00"), (r, r2))
    r = t.run("tail", "--since", "beginning", "--until-end", "--type", "message_sent", "--format", "{{time}}",
              "--time", "iso", "--tz", "UTC", env=env)
    t.check("--tz wins over the profile's tz", r.rc == 0 and r.out.strip().endswith("+00:00"), r)

    tok = t.server("--auth", "token")
    t.run("profile", "add", "tok", "--url", tok.url, "--token", "erin", env=env)
    r = t.run("publish", "--profile", "tok", "mine", "{}", "--room", "user:erin", env=env)
    t.check("a profile's token is used (erin publishes to user:erin)", r.rc == 0 and r.elapsed < 5, r)
    tok.stop()

    r = t.run("profile", "rm", "down", env=env)
    ls = t.run("profile", "ls", env=env)
    t.check("profile rm NAME removes it", r.rc == 0 and "down" not in ls.out and "local" in ls.out, (r, ls))
    r = t.run("profile", "rm", "down", env=env)
    t.check("profile rm of an unknown profile: exit 2", r.rc == 2, r)
    r = t.run("profile", "use", "nope", env=env)
    t.check("profile use of an unknown profile: exit 2", r.rc == 2, r)
    r = t.run("health", "--profile", "nope", env=env)
    t.check("--profile of an unknown profile: exit 2 naming it", one_line_naming(r, "nope"), r)
    r = t.run("profile", "add", "bad", "--url", URL, "--tz", "Europe/Pari", env=env)
    t.check("profile add with an unknown zone: exit 2 naming it", one_line_naming(r, "Europe/Pari"), r)


def test_serve():
    ready = srv.ready_file
    try:
        content = open(ready).read().strip()
    except OSError as e:
        content = str(e)
    t.check("serve --ready-file writes the RTEV_URL= line it printed", content == "RTEV_URL=" + URL, content)
    r = t.run("serve", "--port", "0", "--db", ":memory:", "--timezone", "Europe/Pari", timeout=10)
    t.check("serve --timezone Europe/Pari: exit 2 naming it", one_line_naming(r, "Europe/Pari"), r)
    r = t.run("serve", "--port", "0", "--db", ":memory:", "--ping-interval", "10x", timeout=10)
    t.check("serve --ping-interval 10x: exit 2 naming it", one_line_naming(r, "--ping-interval", "10x"), r)
    r = t.run("serve", "--port", str(srv.port), "--db", ":memory:", timeout=10)
    t.check("serve on a busy port: exit 2 saying so", r.rc == 2 and str(srv.port) in r.err, r)
    other = t.server("--timezone", "Asia/Tokyo")
    other.post({"type": "zoned", "room": "z", "data": {}})
    h = other.history("z")
    t.check("serve --timezone stamps events in that zone", h and h[0]["timezone"] == "Asia/Tokyo"
            and h[0]["timestamp"].endswith("+09:00"), h)
    t.check("serve exits 0 on SIGTERM", other.stop() == 0)
    for loop in ("poll", "epoll", "auto"):
        looped = t.server("--event-loop", loop)
        tail = t.bg("tail", "--url", looped.url, "--room", "loop", "--count", "1", "--timeout", "20s", "-v")
        tail.wait_err("rtev: ready")
        looped.post({"type": "looped", "room": "loop", "data": {"via": loop}})
        r = tail.finish()
        t.check(f"serve --event-loop {loop}: an event published over HTTP reaches a WebSocket tail",
                r.rc == 0 and [e["data"] for e in r.json_lines()] == [{"via": loop}], r)
        t.check(f"serve --event-loop {loop} exits 0 on SIGTERM", looped.stop() == 0)
        # auto is epoll where lws's libev plugin is installed (./dev installs it).
        said = "".join(looped.err_lines)
        t.check(f"serve --event-loop {loop}: its log names the loop it runs",
                f"event_loop={'poll' if loop == 'poll' else 'epoll'}" in said, said)
    r = t.run("serve", "--port", "0", "--db", ":memory:", "--event-loop", "select", timeout=10)
    t.check("serve --event-loop select: exit 2 naming the flag and the choices",
            one_line_naming(r, "--event-loop", "select", "auto", "epoll", "poll"), r)


def test_ci_smoke():
    script = os.path.join(REPO, "examples", "ci-smoke.sh")
    tmpdir = t.path("ci-smoke-tmp")
    os.makedirs(tmpdir)
    p = subprocess.run(["bash", script, t.rtev], capture_output=True, text=True, timeout=60,
                       env=t.env(TMPDIR=tmpdir), preexec_fn=_die_with_parent)
    t.check("examples/ci-smoke.sh passes against this rtev", p.returncode == 0 and "ci-smoke: ok" in p.stdout,
            p.stdout + p.stderr)
    left = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if tmpdir.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                    left.append(pid)
            except OSError:
                pass
    t.check("examples/ci-smoke.sh cleans up: no server left running, temp dir removed",
            not left and os.listdir(tmpdir) == [], (left, os.listdir(tmpdir)))


def test_numeric_flags():
    """Every numeric and duration flag refuses nan/inf/negative/fractional/huge/empty values the
    same way: exit 2 before doing anything, one line naming the flag, the value and the range."""
    huge = "9" * 400
    bad = ["-1", "nan", "inf", "1.5", huge, ""]
    flags = [
        ("serve", "--port", "0 to 65535"),
        ("serve", "--history-max-events", "1 to"),
        ("serve", "--max-message-bytes", "64 to"),
        ("serve", "--max-connections", "1 to"),
        ("serve", "--send-queue-max", "1 to"),
        ("serve", "--rate-burst", "1 to"),
        ("serve", "--rate-limit", "at most"),
        ("serve", "--history-max-age", "1s to"),
        ("serve", "--auth-timeout", "1ms to"),
        ("serve", "--ping-interval", "1ms to"),
        ("serve", "--ping-timeout", "1ms to"),
        ("serve", "--sse-heartbeat", "1ms to"),
        ("publish", "--count", "1 to"),
        ("publish", "--rate", "at most"),
        ("publish", "--ack-timeout", "1ms to"),
        ("publish", "--retry", "0 to"),
        ("publish", "--connect-timeout", "1ms to"),
        ("tail", "--count", "1 to"),
        ("tail", "--timeout", "1ms to"),
        ("connect", "--reply-timeout", "1ms to"),
        ("health", "--wait", "0s to"),
        ("replay", "--speed", "or max"),
    ]
    extra = {"serve": ["--db", ":memory:", "--port", "0"], "publish": ["x", "{}"], "replay": ["-"]}
    for cmd, flag, accepted in flags:
        for value in bad:
            if value == "1.5" and flag in ("--rate-burst", "--rate-limit", "--rate", "--speed"):
                value = "1e-9"  # fractions are fine there; a value below the range is not
            args = [cmd] + [a for a in extra.get(cmd, []) if not (flag == "--port" and a in ("--port", "0"))]
            if cmd != "serve":
                args += ["--url", DOWN]
            r = t.run(*args, flag, value, timeout=10)
            shown = value if len(value) < 20 else value[:8] + "…"
            t.check(f"{cmd} {flag} {shown!r}: exit 2, one line naming the flag, the value and {accepted!r}",
                    one_line_naming(r, flag, f"'{value}'", accepted) and "RTEV_URL=" not in r.out, r)
    # 0.5 is a burst that never holds a whole message: the server would refuse everything.
    r = t.run("serve", "--db", ":memory:", "--port", "0", "--rate-burst", "0.5", timeout=10)
    t.check("serve --rate-burst 0.5: exit 2 naming it", one_line_naming(r, "--rate-burst", "'0.5'"), r)
    # A large --count is streamed: it starts publishing at once instead of building every event
    # first (10^12 events would need terabytes). --ack-timeout bounds the run.
    r = t.run("publish", "x", "{}", "--room", "r", "--count", "1000000000000", "--url", DOWN,
              "--connect-timeout", "1s", timeout=20)
    t.check("publish --count 10^12 to an unreachable server: exit 3 (could not connect), no memory blow-up",
            r.rc == 3, r)


def help_flags(*cmd):
    """The option column of every option line of `rtev CMD --help`: "-h,--help", "--url", …"""
    r = t.run(*cmd, "--help")
    return r, {f for l in r.out.splitlines() if l.lstrip().startswith("-") for f in l.split()[0].split(",")}


def test_stats():
    own = t.server()
    for i in range(3):
        own.post({"type": "stats_a", "room": "s1", "data": {"i": i}})
    own.post({"type": "stats_b", "room": "s2", "data": {}})
    r = t.run("stats", own.url)
    j = r.json_lines()
    t.check("stats in a pipe: one JSON object from /api/stats with the counts by type",
            r.rc == 0 and len(j) == 1 and j[0]["by_type"] == {"stats_a": 3, "stats_b": 1}
            and j[0]["events_published"] == 4 and j[0]["last_seq"] >= 4, r)
    r = t.run("stats", "--url", own.url, "--format", "table")
    lines = r.lines()
    t.check("stats --format table: aligned counters, then the types, most published first",
            r.rc == 0 and any(l.split() == ["published", "4"] for l in lines)
            and lines[-2:] == [l for l in lines if l.startswith("stats_")]
            and lines[-2].split() == ["stats_a", "3"] and lines[-1].split() == ["stats_b", "1"], r)
    r = t.run("stats", DOWN, "--connect-timeout", "1s", timeout=10)
    t.check("stats against a port nobody listens on: exit 3", r.rc == 3 and "cannot connect" in r.err, r)
    r = t.run("stats", own.url, "--format", "yaml")
    t.check("stats --format yaml: exit 2", r.rc == 2, r)
    r, flags = help_flags("stats")
    want = {"-h", "--help", "--version", "--format", "--url", "--token", "--profile", "--connect-timeout",
            "--insecure", "--ca-file", "--header", "-q", "--quiet", "-v", "--verbose"}
    t.check("stats --help lists only the flags that apply to it (no --tz, --retry, --no-reconnect, --color)",
            r.rc == 0 and flags == want, sorted(flags ^ want))
    for flag, value in (("--tz", "UTC"), ("--retry", "1"), ("--no-reconnect", None), ("--color", "never"),
                        ("--protocol", "sse")):
        r = t.run("stats", own.url, flag, *([value] if value else []))
        t.check(f"stats {flag}: refused as an unknown flag (exit 2, naming it), not silently ignored",
                r.rc == 2 and flag in r.err, r)
    r = t.run("stats", own.url, "--token", "any-key")
    t.check("stats --token still works (the API key; rtev serve without --api-key ignores it)", r.rc == 0, r)


def test_presence():
    b = t.bg("tail", "--url", URL.split("?")[0] + "?token=pres-alice", "--room", "pres-room", "-v")
    b.wait_err("joined", 10)
    r = t.run("presence", "pres-room", "--url", URL)
    j = r.json_lines()
    t.check("presence ROOM in a pipe: one JSON object naming the users in the room",
            r.rc == 0 and j == [{"room": "pres-room", "users": [{"user_id": "pres-alice", "connections": 1}]}], r)
    r = t.run("presence", "pres-room", URL, "--format", "table")
    t.check("presence --format table: a user and connections column",
            r.rc == 0 and r.lines()[0].split() == ["user", "connections"] and r.lines()[1].split() == ["pres-alice", "1"], r)
    b.kill()
    r = t.run("presence", "bad room", "--url", URL)
    t.check("presence of a name outside the rule: exit 1 with the server's reason", r.rc == 1 and "bad room" in r.err, r)
    r = t.run("presence", "x", "--url", DOWN, "--connect-timeout", "1s", timeout=10)
    t.check("presence against a port nobody listens on: exit 3", r.rc == 3, r)
    r, flags = help_flags("presence")
    want = {"-h", "--help", "--version", "--format", "--url", "--token", "--profile", "--connect-timeout",
            "--insecure", "--ca-file", "--header", "-q", "--quiet", "-v", "--verbose"}
    t.check("presence --help lists only the flags that apply to it (no --tz, --retry, --no-reconnect, --color)",
            r.rc == 0 and flags == want, sorted(flags ^ want))
    for flag, value in (("--tz", "UTC"), ("--retry", "1"), ("--no-reconnect", None), ("--color", "never")):
        r = t.run("presence", "pres-room", "--url", URL, flag, *([value] if value else []))
        t.check(f"presence {flag}: refused as an unknown flag (exit 2, naming it)", r.rc == 2 and flag in r.err, r)


for fn in (test_usage_errors, test_numeric_flags, test_version_and_diagnostics, test_env_vars, test_events, test_completion,
           test_profiles, test_serve, test_ci_smoke, test_stats, test_presence):
    t.section(fn)
t.finish()
