#!/usr/bin/env bash
# Validate template.yaml with `sam validate --lint` (SAM transform + cfn-lint), offline.
# Needs python3 with venv; no AWS account, no Docker. Usage: scripts/sam-lint.sh
# VENV overrides the virtualenv location (default .venv at the repo root).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

venv="${VENV:-.venv}"

if [[ ! -x "$venv/bin/python" ]]; then
  if ! python3 -m venv "$venv"; then
    echo "sam-lint: 'python3 -m venv' failed; install the venv module (e.g. apt-get install python3-venv)" >&2
    exit 1
  fi
fi

if [[ ! -x "$venv/bin/sam" ]]; then
  # aws-sam-cli depends on cfn-lint, which `--lint` uses.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check aws-sam-cli
fi

# Dummy credentials and a fixed region: validation is local, nothing is called on AWS.
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_SESSION_TOKEN=testing
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export SAM_CLI_TELEMETRY=0

exec "$venv/bin/sam" validate --lint --template template.yaml --region us-east-1
