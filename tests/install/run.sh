#!/usr/bin/env bash
# Installs the build tree into a scratch prefix and builds/runs a consumer project against it.
# usage: run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
for f in bin/rtev include/rtev/event.hpp share/man/man1/rtev.1 \
         share/bash-completion/completions/rtev share/zsh/vendor-completions/_rtev \
         share/fish/vendor_completions.d/rtev.fish; do
  [ -e "$work/prefix/$f" ] || { echo "not installed: $f" >&2; exit 1; }
done
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_FLAGS="${CONSUMER_CXX_FLAGS:-}" \
  -DCMAKE_EXE_LINKER_FLAGS="${CONSUMER_LD_FLAGS:-}" >/dev/null
cmake --build "$work/consumer" >/dev/null
out=$("$work/consumer/consumer")
# One line per check in consumer/main.cpp, in order.
expected=$(cat <<'EOF'
message_sent Jan 16, 2024, 12:30:45 AM 1 4000
invoice_paid {"amount":49.5,"currency":"EUR","customer_id":42} 1 data.amount: expected a number, got string
executor closed 1
EOF
)
if [ "$out" != "$expected" ]; then
  printf 'consumer printed:\n%s\nexpected:\n%s\n' "$out" "$expected" >&2
  exit 1
fi
"$work/prefix/bin/rtev" --version
printf 'installed package works:\n%s\n' "$out"
