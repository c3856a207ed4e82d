#!/usr/bin/env bash
# Browser end-to-end test of the web UI against a real `bqx serve`.
#
#   tests/ui/run.sh BQX_BINARY STORE_DIR
#
# STORE_DIR must already hold a demo run (`bqx demo --store STORE_DIR`). Builds nothing: run
# `npm --prefix ui install && npm --prefix ui run build` first. Screenshots go to $SHOT_DIR
# (default: a fresh temporary directory). BQX_E2E_RUN=1 also starts a run from the UI and
# ingests tests/ui/fixtures/GBPJPY_M1_20240305.csv from the Data page (this writes runs and
# bars to the store: use a scratch copy).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BQX_BINARY STORE_DIR" >&2
  exit 2
fi
BQX=$1
STORE=$2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

[[ -x "$BQX" ]] || { echo "run.sh: $BQX is not an executable" >&2; exit 2; }
[[ -d "$STORE" ]] || { echo "run.sh: no store at $STORE (create one with: $BQX demo --store $STORE)" >&2; exit 2; }
[[ -f ui/dist/index.html ]] || { echo "run.sh: ui/dist is missing: npm --prefix ui install && npm --prefix ui run build" >&2; exit 2; }
[[ -d ui/node_modules/playwright-core ]] || { echo "run.sh: ui/node_modules is missing: npm --prefix ui install" >&2; exit 2; }

SHOT_DIR=${SHOT_DIR:-$(mktemp -d /tmp/bqx-ui-shots.XXXXXX)}
export SHOT_DIR
LOG=$(mktemp /tmp/bqx-serve-log.XXXXXX)
FIFO=$(mktemp -u /tmp/bqx-serve-out.XXXXXX)
mkfifo "$FIFO"

SERVER_PID=""
KEEP_LOG=1
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -f "$FIFO"
  if [[ $KEEP_LOG -eq 0 ]]; then rm -f "$LOG"; fi
}
trap cleanup EXIT INT TERM

"$BQX" --store "$STORE" serve --bind 127.0.0.1:0 --ui ui/dist >"$FIFO" 2>"$LOG" &
SERVER_PID=$!

# Wait (at most 120 s) for "listening on http://127.0.0.1:PORT" on the server's stdout; keep
# draining stdout to the log afterwards so the server never blocks on a full pipe.
URL=""
DEADLINE=$((SECONDS + 120))
exec 3<"$FIFO"
while (( SECONDS < DEADLINE )) && IFS= read -r -t $((DEADLINE - SECONDS)) line <&3; do
  echo "serve: $line" >&2
  if [[ $line =~ listening\ on\ (http://[^[:space:]]+) ]]; then
    URL=${BASH_REMATCH[1]}
    break
  fi
done
if [[ -z "$URL" ]]; then
  echo "run.sh: the server did not say where it listens within 120 s; its stderr:" >&2
  cat "$LOG" >&2
  exit 1
fi
cat <&3 >>"$LOG" &
exec 3<&-

echo "run.sh: server at $URL (pid $SERVER_PID), screenshots in $SHOT_DIR" >&2
status=0
BQX_URL=$URL node tests/ui/e2e.mjs || status=$?
if [[ $status -eq 0 ]]; then
  KEEP_LOG=0
else
  echo "run.sh: e2e failed (exit $status); server log: $LOG" >&2
  tail -n 40 "$LOG" >&2 || true
fi
exit "$status"
