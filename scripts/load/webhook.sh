#!/usr/bin/env bash
# Load test of the webhook handler over loopback (method and results: docs/benchmarks.md):
# cold start to first answer, latency under 32 connections with the server pinned to one core,
# and the server's peak RSS. Needs wrk (Debian package) and a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${PORT:-3100}
DURATION=${DURATION:-15s}
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
cargo build --release -p webhook --example loopback
BIN=target/release/examples/loopback
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT

python3 scripts/load/payload.py "$work"   # writes body.json and post.lua (signed like Meta)
echo "== cold start (process spawn to first answered request), 20 runs"
python3 scripts/load/coldstart.py "$BIN" "$PORT"

echo "== latency: server on core 0, wrk on core 1, 32 connections, $DURATION"
PORT=$PORT taskset -c 0 "$BIN" > "$work/server.log" &
pid=$!
for _ in $(seq 100); do grep -q ready "$work/server.log" 2>/dev/null && break; sleep 0.05; done
taskset -c 1 wrk -t1 -c32 -d"$DURATION" --latency -s "$work/post.lua" "http://127.0.0.1:$PORT/webhooks/facebook"
kill -TERM "$pid"; wait "$pid" || true; pid=
echo "== server: $(tail -n 1 "$work/server.log")"

echo "== cold start of the Lambda binary itself (stand-in Runtime API on loopback)"
cargo build --release -p webhook --bin webhook
python3 scripts/load/lambda_coldstart.py target/release/webhook events/webhook-verify.json
