#!/usr/bin/env bash
# A CI smoke test with rtev, to copy into your pipeline:
#   1. start a throw-away `rtev serve` on a free port, history in memory;
#   2. wait until it is ready (it writes its URL to a ready file);
#   3. tail for the event you expect, with a deadline, in the background, and wait until it is
#      subscribed (its --ready-file);
#   4. publish the event (in real CI: trigger the system that should publish it);
#   5. assert the tail's exit code (0: arrived; 5: not in time; 3: no server) and output.
# The server and the tail are stopped and the temporary files removed however the script ends.
#
# usage: examples/ci-smoke.sh [path/to/rtev]      (default: rtev on PATH, or $RTEV)
set -euo pipefail

RTEV=${1:-${RTEV:-rtev}}
work=$(mktemp -d)
server_pid=
tail_pid=

cleanup() {
  local pid
  for pid in $tail_pid $server_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $tail_pid $server_pid; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "ci-smoke: FAIL: $*" >&2
  for f in "$work"/*.log "$work"/*.out; do
    [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
  done
  exit 1
}

# Waits until the file $1 exists, while process $2 runs (both write their ready files
# atomically, so the file is never half written). There is no event to wait on from a shell:
# look every 0.1 s, for at most 10 s.
wait_for_file() {
  for _ in $(seq 100); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  [ -s "$1" ]
}

# 1. A server on a free port (--port 0), nothing kept on disk (--db :memory:).
"$RTEV" serve --port 0 --db :memory: --ready-file "$work/ready" >"$work/serve.out" 2>"$work/serve.log" &
server_pid=$!

# 2. Ready once the ready file exists; it holds the line RTEV_URL=ws://127.0.0.1:PORT/….
wait_for_file "$work/ready" "$server_pid" || fail "rtev serve was not ready within 10 s"
url=$(sed -n 's/^RTEV_URL=//p' "$work/ready")
export RTEV_URL=$url # every rtev command below talks to this server (an empty one is refused)
echo "ci-smoke: server ready at $url"

# 3. Expect one `deploy_finished` event within 10 s. --ready-file appears once the tail is
#    subscribed: anything published after that reaches it.
"$RTEV" tail --type deploy_finished --count 1 --timeout 10s --ready-file "$work/tail.ready" \
  --format '{{type}} {{data.version}}' >"$work/tail.out" 2>"$work/tail.log" &
tail_pid=$!
wait_for_file "$work/tail.ready" "$tail_pid" || fail "tail was not subscribed within 10 s"

# 4. Publish (waits for the server's ACK; exit 1 if the server rejected it).
"$RTEV" publish deploy_finished '{"version":"1.2.3"}' --room deploys || fail "publish exited $?"

# 5. Assert: the tail exited 0 (the event arrived in time) and printed it.
rc=0
wait "$tail_pid" || rc=$?
tail_pid=
[ "$rc" -eq 0 ] || fail "tail exited $rc (5: deadline reached, 3: could not connect, 4: token needed)"
[ "$(cat "$work/tail.out")" = "deploy_finished 1.2.3" ] || fail "unexpected tail output"

# And the other way round: an event that never comes is exit 5 once the deadline passes.
rc=0
"$RTEV" tail --type never_published --count 1 --timeout 1s -q >/dev/null || rc=$?
[ "$rc" -eq 5 ] || fail "tail for a missing event exited $rc, expected 5"

echo "ci-smoke: ok"
