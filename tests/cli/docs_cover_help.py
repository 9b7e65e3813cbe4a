#!/usr/bin/python3
"""Fails when a subcommand or flag that `rtev --help` / `rtev CMD --help` lists is missing from
the man page or any completion script: docs that cannot drift."""
import re
import subprocess
import sys

rtev, src = sys.argv[1], sys.argv[2]


def help_text(*args):
    return subprocess.run([rtev, *args, "--help"], capture_output=True, text=True, check=True).stdout


def flags(text):
    return sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)) - {"--help"})


top = help_text()
m = re.search(r"Subcommands:\n(.*?)(?:\n\n|\Z)", top, re.S)
subcommands = re.findall(r"^\s+([a-z][a-z-]*)\s", m.group(1), re.M) if m else []
wanted = {"": flags(top)}
for sub in subcommands:
    wanted[sub] = flags(help_text(sub))

man = open(f"{src}/man/rtev.1").read().replace("\\-", "-")
completions = {name: open(f"{src}/completions/{name}").read() for name in ("rtev.bash", "_rtev", "rtev.fish")}

missing = []
for sub, fl in wanted.items():
    if sub:
        if not re.search(rf"\brtev {sub}\b", man):
            missing.append(f"man page: subcommand '{sub}'")
        for name, text in completions.items():
            if not re.search(rf"\b{sub}\b", text):
                missing.append(f"{name}: subcommand '{sub}'")
    for f in fl:
        if f not in man:
            missing.append(f"man page: {sub or 'rtev'} {f}")
        for name, text in completions.items():
            # fish spells flags as `-l name`
            if f not in text and not (name == "rtev.fish" and re.search(rf"-l {re.escape(f[2:])}\b", text)):
                missing.append(f"{name}: {sub or 'rtev'} {f}")

# The committed scripts are exactly what `rtev completion SHELL` generates.
for shell, name in (("bash", "rtev.bash"), ("zsh", "_rtev"), ("fish", "rtev.fish")):
    generated = subprocess.run([rtev, "completion", shell], capture_output=True, text=True, check=True).stdout
    if generated != completions[name]:
        missing.append(f"completions/{name}: differs from `rtev completion {shell}` (regenerate it)")

checked = sum(len(v) for v in wanted.values()) + len(subcommands) + 3
for line in missing:
    print("missing from", line)
print(f"{checked - len(missing)} passed, {len(missing)} failed")
sys.exit(1 if missing else 0)
