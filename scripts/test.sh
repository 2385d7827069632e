#!/usr/bin/env bash
# Runs every test of the workspace. DynamoDB and SQS tests need a moto server on loopback: this
# script installs moto into a virtualenv (.venv, or $VENV) if it is not there, starts it on a
# free port (scripts/moto_server.py: DynamoDB requests serialised as on AWS), exports MOTO_URL, runs `cargo test --workspace`, and stops moto again.
# Extra arguments go to cargo test (e.g. scripts/test.sh --test e2e).
# Then the console's tests in headless Chromium (scripts/browser-tests.sh; BROWSER_TESTS=0 skips
# them).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/moto_server" ]; then
  echo "installing moto server into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server,dynamodb,sqs,secretsmanager]'
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
"$VENV/bin/python" scripts/moto_server.py "$port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
deadline = time.time() + 60
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("moto server did not start; see target/moto.log")
PY
export MOTO_URL="http://127.0.0.1:$port"
echo "moto server on $MOTO_URL"
cargo test --workspace "$@"
kill "$moto_pid" 2>/dev/null || true
if [ "${BROWSER_TESTS:-1}" != 0 ]; then
  echo "browser tests (scripts/browser-tests.sh)"
  # The binary `cargo test` just built (local-stack/tests/binary.rs needs it): building it again
  # with `cargo build -p local-stack` would recompile its dependencies for a narrower feature set.
  bin="${CARGO_TARGET_DIR:-target}/debug/local-stack"
  if [ -z "${LOCAL_STACK_BIN:-}" ] && [ -x "$bin" ] && [ "$#" = 0 ]; then export LOCAL_STACK_BIN="$bin"; fi
  scripts/browser-tests.sh
fi
