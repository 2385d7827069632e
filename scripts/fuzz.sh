#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 60): docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS]
#
# Installs the nightly toolchain and cargo-fuzz if missing, builds all targets once (release,
# debug assertions and overflow checks on, AddressSanitizer), then runs each target on a work
# copy of its committed seeds (fuzz/corpus/<target>, never written to) with a per-input timeout
# and a memory limit. Prints, per target: executions, executions per second, corpus size and
# coverage (libFuzzer's cov: and ft:). Exits non-zero if any target crashed, timed out or ran
# out of memory; the input is left in fuzz/artifacts/<target>/ (reproduce: docs/fuzzing.md).
#
# Environment: FUZZ_TARGETS (space-separated subset), FUZZ_TIMEOUT (seconds per input, 10),
# FUZZ_RSS_MB (2048), FUZZ_WORK (the grown corpora, fuzz/work; kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-60}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
RSS_MB="${FUZZ_RSS_MB:-2048}"
WORK="${FUZZ_WORK:-$PWD/fuzz/work}"
# The fuzz crate has its own target directory whatever the caller's environment says.
export CARGO_TARGET_DIR="$PWD/fuzz/target"
export CARGO_TERM_COLOR=never

echo "== fuzz: tools"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    start=$(date +%s)
    cargo install cargo-fuzz --locked
    echo "cargo-fuzz installed in $(( $(date +%s) - start ))s"
fi
rustup run nightly rustc --version
cargo fuzz --version

cd fuzz
TARGETS="${FUZZ_TARGETS:-$(cargo +nightly fuzz list | tr '\n' ' ')}"

echo "== fuzz: build ($TARGETS)"
start=$(date +%s)
cargo +nightly fuzz build
echo "build: $(( $(date +%s) - start ))s"

failed=()
summary=()
for t in $TARGETS; do
    echo "== fuzz: $t for ${SECONDS_PER_TARGET}s"
    mkdir -p "$WORK/$t" "artifacts/$t"
    log="$WORK/$t.log"
    # The first corpus directory receives new inputs; the committed seeds are only read.
    if cargo +nightly fuzz run "$t" "$WORK/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" \
        -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$t")
        tail -n 40 "$log"
        ls -l "artifacts/$t" || true
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
    line=$(printf '%-17s %-6s executions=%-10s exec/s=%-7s corpus=%-12s cov=%-6s ft=%-6s' \
        "$t" "$status" "${runs:-?}" "${rate:-?}" "${corp:-?}" "${cov:-?}" "${ft:-?}")
    echo "$line"
    summary+=("$line")
done

echo "== fuzz: summary (${SECONDS_PER_TARGET}s per target, timeout ${TIMEOUT}s per input, rss limit ${RSS_MB} MB)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/; docs/fuzzing.md, 'A crash')" >&2
    exit 1
fi
echo "fuzz: ok"
