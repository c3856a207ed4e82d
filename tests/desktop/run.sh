#!/usr/bin/env bash
# End-to-end test of the desktop app as a user gets it: build the .deb (debug profile, which
# shares the compiled DuckDB in CARGO_TARGET_DIR), install it, start the INSTALLED binary on a
# virtual display with a copy of STORE, screenshot the real X window, and check over WebDriver
# that the window shows the store's newest run.
#
#   tests/desktop/run.sh STORE SHOT_DIR
#
# STORE holds at least one run (e.g. made by `bqx demo`); it is copied, never written.
# Needs (see /work/shared/spec/toolchain.md, "Tauri v2"): the WebKitGTK build packages, xvfb,
# x11-utils, imagemagick, webkit2gtk-driver, node/npm, root (to install the .deb), and
# tauri-driver (`cargo install tauri-driver --locked`; installed here when missing).
set -euo pipefail

die() { echo "desktop e2e: FAIL: $*" >&2; exit 1; }
say() { echo "[desktop e2e +$(( $(date +%s) - started ))s] $*"; }
started=${BQX_DESKTOP_E2E_STARTED:-$(date +%s)}
export BQX_DESKTOP_E2E_STARTED=$started

[ $# -eq 2 ] || { echo "usage: $0 STORE SHOT_DIR" >&2; exit 2; }
store_src=$(realpath "$1")
mkdir -p "$2"
shots=$(realpath "$2")
[ -f "$store_src/registry.sqlite" ] || die "$store_src has no registry.sqlite (not a store?)"

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

# --- inner part: runs inside xvfb-run (see the bottom of this file) -------------------------
if [ "${BQX_DESKTOP_E2E_INNER:-}" = 1 ]; then
  app=/usr/bin/bqx-desktop
  port=4444
  driver_log="$shots/tauri-driver.log"
  # No notification daemon runs here: record the Notify calls on this private session bus.
  notify_log="$shots/notifications.log"
  stdbuf -oL dbus-monitor --session \
    "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
    >"$notify_log" 2>&1 &
  monitor_pid=$!
  # tauri-driver starts WebKitWebDriver, which starts the app with this environment.
  tauri-driver --port "$port" >"$driver_log" 2>&1 &
  driver_pid=$!
  session=""
  cleanup_inner() {
    if [ -n "$session" ]; then
      python3 tests/desktop/webdriver.py close "http://127.0.0.1:$port" "$session" || true
    fi
    kill "$driver_pid" "$monitor_pid" 2>/dev/null || true
    wait "$driver_pid" "$monitor_pid" 2>/dev/null || true
  }
  trap cleanup_inner EXIT

  wd() { python3 tests/desktop/webdriver.py "$1" "http://127.0.0.1:$port" "${@:2}"; }

  session=$(wd open "$app") || die "no WebDriver session (see $driver_log)"
  say "WebDriver session $session"

  # The real X window of the app: the top-level window titled "BQX ML".
  win=""
  deadline=$(( $(date +%s) + 60 ))
  while [ -z "$win" ]; do
    win=$(xwininfo -root -tree | awk '/"BQX ML"/ && / 1280x800\+/ {print $1; exit}')
    if [ -z "$win" ]; then
      [ "$(date +%s)" -lt "$deadline" ] || die "no 1280x800 window titled \"BQX ML\" after 60 s"
      sleep 0.2
    fi
  done
  say "window $win"

  # Capture the X window after the page showed `testid`; fail on a blank or flat image.
  capture() { # name testid
    local file="$shots/$1.png"
    sleep 1 # settle: let the charts finish drawing after the DOM change (toolchain.md)
    import -window "$win" "$file" || die "import could not capture window $win"
    local sd colours
    sd=$(convert "$file" -colorspace Gray -format '%[fx:standard_deviation]' info:)
    colours=$(convert "$file" -format '%k' info:)
    say "$file: stddev $sd, $colours colours"
    awk -v sd="$sd" 'BEGIN { exit !(sd > 0.03) }' \
      || die "$file looks blank (grey standard deviation $sd <= 0.03)"
    [ "$colours" -ge 64 ] || die "$file looks blank (only $colours distinct colours)"
    echo "$file" >>"$shots/.list"
  }

  : >"$shots/.list"
  # The store's newest run, read straight from the registry (same order as the API).
  newest=$(python3 - "$BQX_HOME/registry.sqlite" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
row = db.execute("SELECT run_id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1").fetchone()
print(row[0] if row else "")
EOF
)
  [ -n "$newest" ] || die "the store has no runs"
  say "newest run in the registry: $newest"

  # 1. The start page (Pipeline) rendered from the store.
  wd text "$session" stage-table 60 >/dev/null || die "the Pipeline page did not render"
  capture 01-pipeline

  # 2. Runs: the first row must be the registry's newest run.
  wd goto "$session" '#/runs'
  shown=$(wd text "$session" newest-run-id 60) || die "the Runs page shows no run"
  [ "$shown" = "$newest" ] || die "Runs page shows newest run '$shown', registry has '$newest'"
  say "Runs page shows the newest run: $shown"
  capture 02-runs

  # 3. Backtest of the newest run (the demo run has one): its id and a pooled table.
  wd goto "$session" '#/backtest'
  bt=$(wd text "$session" run-id 120) || die "the Backtest page shows no run"
  wd text "$session" pooled-table 120 >/dev/null || die "the Backtest page shows no pooled metrics"
  say "Backtest page shows run $bt"
  capture 03-backtest

  # 4. Data: the store the app opened is the one given in BQX_HOME, with its bars (DuckDB).
  wd goto "$session" '#/data'
  data_store=$(wd text "$session" data-store 120) || die "the Data page shows no store"
  [ "$data_store" = "$BQX_HOME" ] || die "the app opened '$data_store', not BQX_HOME=$BQX_HOME"
  bars=$(wd text "$session" data-bars 60)
  [ -n "${bars//[^0-9]/}" ] && [ "${bars//[^0-9]/}" -gt 0 ] || die "the Data page shows '$bars' bars"
  say "Data page shows store $data_store with $bars bars"
  capture 04-data

  # 5. A run started from the window: the job's end reaches the page only as a `bqx-event`
  #    (the Pipeline page does not poll), then the Runs page lists the new run first.
  wd goto "$session" '#/pipeline'
  wd text "$session" stage-table 60 >/dev/null || die "the Pipeline page did not render"
  wd click "$session" run-button || die "cannot click the run button"
  state=$(wd text "$session" job-state 600 succeeded failed) \
    || die "the run started from the window did not finish within 10 min"
  [ "$state" = succeeded ] || die "the run started from the window failed: $(wd text "$session" job-error 5 || true)"
  new_run=$(wd text "$session" job-run-id 30) || die "the finished job shows no run id"
  [ "$new_run" != "$newest" ] || die "the job reports the old run $new_run"
  say "run $new_run started from the window succeeded (job state arrived as an event)"
  capture 05-run-finished
  deadline=$(( $(date +%s) + 30 ))
  until grep -q '"Run finished"' "$notify_log"; do
    [ "$(date +%s)" -lt "$deadline" ] || die "no \"Run finished\" notification (see $notify_log)"
    sleep 0.2
  done
  say "native notification sent: $(grep -A1 '"Run finished"' "$notify_log" | tail -n 1 | sed 's/^ *string //')"
  wd goto "$session" '#/runs'
  shown=$(wd text "$session" newest-run-id 60)
  [ "$shown" = "$new_run" ] || die "Runs page shows '$shown' first, not the new run $new_run"
  exit 0
fi

# --- outer part -----------------------------------------------------------------------------
for tool in xvfb-run xwininfo import convert WebKitWebDriver dbus-run-session dbus-monitor npm \
  python3 dpkg; do
  command -v "$tool" >/dev/null || die "$tool is missing (see toolchain.md, Tauri v2)"
done
[ "$(id -u)" = 0 ] || die "installing the .deb needs root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bqx/target}"
export CARGO_TERM_PROGRESS_WHEN=never CI=true
if [ -z "${RUSTC_WRAPPER:-}" ] && command -v sccache >/dev/null; then
  export RUSTC_WRAPPER=sccache SCCACHE_DIR="${SCCACHE_DIR:-$HOME/.cache/bqx/sccache}"
fi
if ! command -v tauri-driver >/dev/null; then
  say "installing tauri-driver"
  cargo install tauri-driver --locked
fi
export PATH="$HOME/.cargo/bin:$PATH"

say "building the UI"
[ -d ui/node_modules ] || npm --prefix ui install
npm --prefix ui run build >/dev/null

say "building the desktop bundles (debug profile)"
npx --prefix ui tauri build --debug --bundles deb,rpm
deb=$(ls -t "$CARGO_TARGET_DIR"/debug/bundle/deb/*.deb | head -n 1)
[ -f "$deb" ] || die "no .deb was built"
say "installing $deb ($(du -h "$deb" | cut -f1))"
dpkg -i "$deb" >/dev/null
dpkg-deb --fsys-tarfile "$deb" | tar -xO usr/bin/bqx-desktop | cmp -s - /usr/bin/bqx-desktop \
  || die "/usr/bin/bqx-desktop is not the binary of $deb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$store_src" "$work/store"
rm -f "$work/store/bqx.lock"

say "starting the installed app on Xvfb"
# A private D-Bus session (for the notification check); no accessibility bus.
BQX_HOME="$work/store" BQX_DESKTOP_E2E_INNER=1 NO_AT_BRIDGE=1 dbus-run-session -- \
  xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" "$0" "$store_src" "$shots"

say "PASS; screenshots:"
cat "$shots/.list"
rm -f "$shots/.list"
