#!/usr/bin/env bash
# Page-load benchmark of the web UI: 100 runs in the registry and a million-bar series.
#
#   tests/ui/bench/pageload.sh BQX_BINARY DEMO_STORE [REPEATS]
#
# DEMO_STORE is a store made by `bqx demo --store DIR` (left untouched: the benchmark works on a
# copy). The copy gets a seeded 1,000,000-bar EURUSD M1 series (generic CSV, ingested through
# `bqx ingest`) and enough `bqx run --stages panel` runs to hold 100 runs; then `bqx serve` serves
# it with the built UI and pageload.mjs times each page in headless Chromium. Needs
# `npm --prefix ui install && npm --prefix ui run build` first, and python3 (to count runs). Results: BENCHMARKS.md.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 BQX_BINARY DEMO_STORE [REPEATS]" >&2
  exit 2
fi
BQX=$(realpath "$1")
DEMO=$2
REPEATS=${3:-7}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
[[ -f "$DEMO/registry.sqlite" ]] || { echo "pageload.sh: $DEMO holds no store (bqx demo --store $DEMO)" >&2; exit 2; }
[[ -f ui/dist/index.html ]] || { echo "pageload.sh: build the UI first (npm --prefix ui run build)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/bqx-pageload.XXXXXX)
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

STORE=$WORK/store
cp -r "$DEMO" "$STORE"
rm -f "$STORE/bqx.lock"
node tests/ui/bench/make-series.mjs "$WORK/EURUSD_M1.csv" 1000000 EURUSD
"$BQX" --store "$STORE" ingest "$WORK/EURUSD_M1.csv" --progress none >/dev/null
runs() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from runs").fetchone()[0])' "$STORE/registry.sqlite"; }
n=$(runs)
while (( n < 100 )); do
  "$BQX" --store "$STORE" run --stages panel --progress none >/dev/null
  n=$((n + 1))
done
echo "pageload.sh: store ready with $(runs) runs" >&2

"$BQX" --store "$STORE" serve --bind 127.0.0.1:0 --ui ui/dist >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
URL=""
for _ in $(seq 100); do
  URL=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$WORK/serve.out")
  [[ -n "$URL" ]] && break
  sleep 0.1
done
[[ -n "$URL" ]] || { echo "pageload.sh: the server did not start:" >&2; cat "$WORK/serve.err" >&2; exit 1; }
BQX_URL=$URL node tests/ui/bench/pageload.mjs "$REPEATS"
