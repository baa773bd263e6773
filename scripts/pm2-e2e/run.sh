#!/usr/bin/env bash
# Run pm2's own e2e shell tests against real pm2 and against runpm.
#
#   ./run.sh                      # every script, both sides
#   ./run.sh runpm cli/reload.sh  # selected scripts, one side (pm2|runpm|both)
#   ./run.sh both cli/reload.sh logs/log-json.sh
#
# Per-run logs: logs/<pm2|runpm>/<dir>-<script>.log
# Raw results:  results.tsv (script, side, status, rc, seconds, first failure)
# Table:        results.md (regenerated from results.tsv after every run)
#
# Runs are strictly serial: include.sh's `should` writes /tmp/tmp_out.txt and
# fixtures listen on fixed ports.

HERE=$(cd "$(dirname "$0")"; pwd)
REPO=$(cd "$HERE/../.."; pwd)
# pm2's test/e2e and test/fixtures (pm2's code, not committed here) live under PM2_E2E_ROOT.
ROOT=${PM2_E2E_ROOT:-$HERE/work}
E2E="$ROOT/test/e2e"
FIX="$ROOT/test/fixtures"
PRISTINE="$ROOT/fixtures.pristine"
REAL_PM2=$REPO/node_modules/.bin/pm2
RUNPM_WRAPPER="$HERE/bin/runpm"
TIMEOUT=${TIMEOUT:-150}
TSV="$ROOT/results.tsv"

SIDE=both
case "$1" in
  pm2|runpm|both) SIDE=$1; shift ;;
esac

if [ $# -gt 0 ]; then
  SCRIPTS=("$@")
else
  SCRIPTS=()
  for d in cli process-file logs misc; do
    for f in "$E2E/$d"/*.sh; do
      b=$(basename "$f")
      case "$b" in .#*|*~|\#*) continue ;; esac
      SCRIPTS+=("$d/$b")
    done
  done
fi

case "$SIDE" in
  both) SIDES=(pm2 runpm) ;;
  *) SIDES=("$SIDE") ;;
esac

mkdir -p "$ROOT/logs/pm2" "$ROOT/logs/runpm"
touch "$TSV"

# Snapshot of the fetched fixtures, restored before each run so one run's
# leftovers (log files, renamed git dir, ...) cannot leak into the next.
if [ ! -d "$PRISTINE" ]; then
  cp -a "$FIX" "$PRISTINE"
fi

kill_leftovers() {
  local tmp=$1
  # processes whose command line names the temp dir (pm2 God daemon, runpmd)
  for pid in $(pgrep -f -- "$tmp"); do kill -9 "$pid" 2>/dev/null; done
  # apps started from the fixture tree that outlived their daemon
  for pid in $(pgrep -f -- "$FIX"); do kill -9 "$pid" 2>/dev/null; done
  # nub-loader.sh points PM2_HOME into the fixture dir
  for pid in $(pgrep -f -- "$FIX/nub-loader/.pm2"); do kill -9 "$pid" 2>/dev/null; done
}

run_one() {
  local side=$1 script=$2
  local dir=$(dirname "$script") name=$(basename "$script" .sh)
  local log="$ROOT/logs/$side/$dir-$name.log"
  local tmp=$(mktemp -d /tmp/pm2e2e-$side.XXXXXX)
  mkdir -p "$tmp/home"

  rm -rf "$FIX" && cp -a "$PRISTINE" "$FIX"
  rm -f /tmp/tmp_out.txt

  local envs=(env -u PM2_HOME -u RUNPM_HOME HOME="$tmp/home")
  if [ "$side" = pm2 ]; then
    envs+=(PM2_BIN="$REAL_PM2" PM2_HOME="$tmp/home/.pm2")
  else
    envs+=(PM2_BIN="$RUNPM_WRAPPER" RUNPM_HOME="$tmp/runpm")
    mkdir -p "$tmp/runpm"
  fi
  # otel-install.sh makes pm2 run `npm install/remove` with cwd inside
  # node_modules/pm2 of this repository; a failing npm shim keeps it intact.
  if [ "$script" = cli/otel-install.sh ]; then
    envs+=(PATH="$HERE/npm-shim:$PATH")
  fi

  local start=$(date +%s)
  {
    echo "### $side $script  (tmp=$tmp)  $(date -Is)"
    cd "$ROOT"
    "${envs[@]}" timeout -k 5 "$TIMEOUT" bash "$E2E/$script" < /dev/null
    echo "### exit code $?" 
  } > "$log" 2>&1
  local rc=$(sed -n 's/^### exit code \([0-9]*\)$/\1/p' "$log" | tail -1)
  local secs=$(( $(date +%s) - start ))

  # cleanup with the same env
  (cd "$ROOT"; "${envs[@]}" timeout -k 2 20 "${PM2_BIN_FOR[$side]}" kill > /dev/null 2>&1 < /dev/null)
  kill_leftovers "$tmp"
  sleep 0.5
  kill_leftovers "$tmp"

  local status first
  if [ "$rc" = 0 ]; then
    status=PASS; first=""
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    status=FAIL
    first="TIMEOUT (${TIMEOUT}s); last assertion: $(grep -a -E '✔|✘' "$log" | tail -1 | tr -d '\t' | cut -c1-120)"
  else
    status=FAIL
    first=$(grep -a -m1 '######## ✘' "$log" | sed 's/^######## ✘ *//' | tr -d '\t' | cut -c1-160)
    [ -n "$first" ] || first="exit $rc (no ✘ line)"
  fi

  # replace previous row for (script, side)
  grep -v -P "^\Q$script\E\t$side\t" "$TSV" > "$TSV.tmp"; mv "$TSV.tmp" "$TSV"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$script" "$side" "$status" "$rc" "$secs" "$first" >> "$TSV"
  printf '%-40s %-6s %s rc=%s %ss %s\n' "$script" "$side" "$status" "$rc" "$secs" "$first"
  # keep the daemon's own log next to the run log
  for f in "$tmp"/runpm/*/daemon.log "$tmp"/home/.pm2/pm2.log; do
    [ -f "$f" ] && cp "$f" "${log%.log}.$(basename "$f")"
  done
  rm -rf "$tmp"
}

declare -A PM2_BIN_FOR=([pm2]="$REAL_PM2" [runpm]="$RUNPM_WRAPPER")

write_md() {
  python3 - "$TSV" "$ROOT/results.md" "$(node -p "require('$REPO/node_modules/pm2/package.json').version")" <<'PY'
import sys, collections
tsv, md, ver = sys.argv[1], sys.argv[2], sys.argv[3]
rows = collections.OrderedDict()
for line in open(tsv, encoding='utf-8', errors='replace'):
    p = line.rstrip('\n').split('\t')
    if len(p) < 6: continue
    s, side, st, rc, secs, first = p[:6]
    rows.setdefault(s, {})[side] = (st, rc, secs, first)
order = sorted(rows)
out = ["# pm2 e2e scripts: real pm2 vs runpm", "",
       f"pm2 version: {ver}. Each script run with `timeout -k 5 150`, fresh HOME per run.", "",
       "| script | pm2 | runpm | pm2 first failure | runpm first failure |",
       "|---|---|---|---|---|"]
cnt = collections.Counter()
for s in order:
    r = rows[s]
    def cell(side):
        if side not in r: return ("-", "")
        st, rc, secs, first = r[side]
        return (f"{st} ({secs}s)", first.replace('|', '\\|'))
    a, af = cell('pm2'); b, bf = cell('runpm')
    out.append(f"| {s} | {a} | {b} | {af} | {bf} |")
    ka = r.get('pm2', ('-',))[0]; kb = r.get('runpm', ('-',))[0]
    cnt[(ka, kb)] += 1
out += ["", "Summary (pm2, runpm): " + ", ".join(f"{k[0]}/{k[1]}: {v}" for k, v in sorted(cnt.items()))]
open(md, 'w').write("\n".join(out) + "\n")
PY
}

for script in "${SCRIPTS[@]}"; do
  if [ ! -f "$E2E/$script" ]; then echo "no such script: $script" >&2; continue; fi
  for side in "${SIDES[@]}"; do
    run_one "$side" "$script"
  done
  write_md
done
write_md
echo "results: $ROOT/results.md"
