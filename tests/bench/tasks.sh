#!/usr/bin/env bash
# tests/bench/tasks.sh: issue 11's throughput target. The Lua plugin tasks (lua/tasks) lists a
# task list's tasks; the C plugin supervision lists its board. Target: the Lua route within
# 0.8x the C route's throughput for a comparable list query, in the same run.
#
#   yimen, 2 workers, plugins = {"supervision", "tasks"}. tests/bench/tasks_bench.py builds the
#   data through the APIs: 3 units, one office user holding tasks.* and supervision.*, a list
#   of $N tasks imported from one .xlsx, and $N supervision cases (POST /api/supervision/cases,
#   same titles, lead units, co-units, leader, deadline). Then wrk (-t2 -c$CONNS, Lua: Bearer
#   header of that user) measures, rounds alternating after a 1 s warm-up of each:
#     lua  GET /api/tasks/tasks?list=<id>&limit=$LIMIT
#     c    GET /api/supervision/board?limit=$LIMIT
#   Same page size, same caller (a party of every row: full views on both).
#
# Run from the repository root once build/yimen and build/plugins/supervision exist. Knobs:
#   DURATION (10), CONNS (8), ROUNDS (3, 2..5), N (146 rows each), LIMIT (100; the board's
#   maximum), YIMEN_BIN (build/yimen). 127.0.0.1 only; every process and temp dir it makes is
#   removed on exit. About 75 seconds.
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-8}
ROUNDS=${ROUNDS:-3}
N=${N:-146}
LIMIT=${LIMIT:-100}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
RATIO_TARGET=0.8

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 60 ]] || die "DURATION must be 1..60 seconds"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 2 ]] || die "CONNS must be a number >= 2"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 2 && $ROUNDS -le 5 ]] || die "ROUNDS must be 2..5"
[[ $N =~ ^[0-9]+$ && $N -ge 1 && $N -le 2000 ]] || die "N must be 1..2000"
[[ $LIMIT =~ ^[0-9]+$ && $LIMIT -ge 1 && $LIMIT -le 100 ]] || die "LIMIT must be 1..100"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")
PLUGINS=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/plugins
LUA_DIR=$(cd "$HERE/../../lua" && pwd)
[[ -f $PLUGINS/supervision/supervision.so ]] || die "$PLUGINS/supervision/supervision.so not found (run 'make' first)"
[[ -f $LUA_DIR/tasks/init.lua ]] || die "$LUA_DIR/tasks/init.lua not found"
need_tools wrk curl python3

bench_tmp

ADMIN_PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
yimen_conf "plugin_paths = { \"$PLUGINS\", \"$LUA_DIR\" }
plugins = { \"supervision\", \"tasks\" }
auth = {
    argon2 = { memory = \"64KiB\", iterations = 1 },
    rate_limit = { per_ip = 100000, per_account = 100000 },
}"
YIMEN_ADMIN_PASSWORD=$ADMIN_PASSWORD start_yimen

T0=$SECONDS
python3 "$HERE/tasks_bench.py" --yport "$YPORT" --admin-password "$ADMIN_PASSWORD" --n "$N" --out "$TMP/data" &
BG_PIDS=$!
wait "$BG_PIDS" || die "the data builder tasks_bench.py failed"
BG_PIDS=
BUILD_S=$((SECONDS - T0))
# shellcheck disable=SC1091
. "$TMP/data"

YURL="http://127.0.0.1:$YPORT"
LPATH="/api/tasks/tasks?list=$LIST_ID&limit=$LIMIT"
CPATH="/api/supervision/board?limit=$LIMIT"

echo "bench: yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT, 2 workers, plugins = {\"supervision\", \"tasks\"}"
echo "bench: $(cpu_line); load average at start: $(loadavg)"
echo "bench: data through the APIs in ${BUILD_S} s: a list of $TASKS tasks (one .xlsx import), $CASES supervision cases"
echo
echo "== each route once (curl, unloaded): items, bytes, ms"
for e in "lua|$LPATH" "c|$CPATH"; do
    IFS='|' read -r name path <<<"$e"
    out=$(curl -sS -o "$TMP/resp-$name.json" -w '%{http_code} %{size_download} %{time_total}' \
        -H "Authorization: Bearer $TOKEN" "$YURL$path")
    read -r code size secs <<<"$out"
    [[ $code == 200 ]] || die "$path answered $code: $(head -c 300 "$TMP/resp-$name.json")"
    items=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$TMP/resp-$name.json")
    [[ $items == "$LIMIT" || $items -ge $N ]] || die "$path gave $items items, expected a full page of $LIMIT"
    printf '   %-4s %-44s %4s items %7s bytes %7s ms\n' "$name" "$path" "$items" "$size" \
        "$(awk -v t="$secs" 'BEGIN { printf "%.1f", t * 1000 }')"
done

for name in lua c; do
    p=$LPATH; [[ $name == c ]] && p=$CPATH
    printf 'request = function()\n    return wrk.format("GET", "%s", { ["Authorization"] = "Bearer %s" })\nend\n' \
        "$p" "$TOKEN" > "$TMP/$name.lua"
done
run_one() { # name out duration
    wrk -t"$THREADS" -c"$CONNS" -d"${3}s" --latency -s "$TMP/$1.lua" "$YURL" > "$2" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk failed against $1: $(tail -3 "$2")"
    WRK_PID=
}
echo
echo "== wrk -t$THREADS -c$CONNS -d${DURATION}s, lua = $LPATH, c = $CPATH; $ROUNDS rounds each, alternating (1 s warm-up each first)"
run_one lua "$TMP/warm-lua.txt" 1
run_one c "$TMP/warm-c.txt" 1
for r in $(seq "$ROUNDS"); do
    run_one lua "$TMP/t-lua-$r.txt" "$DURATION"; round_line "$r" lua "$TMP/t-lua-$r.txt"
    run_one c "$TMP/t-c-$r.txt" "$DURATION"; round_line "$r" c "$TMP/t-c-$r.txt"
done
LF=$(median_round t-lua)
CF=$(median_round t-c)
L_RPS=$(wrk_rps "$LF"); C_RPS=$(wrk_rps "$CF")
L_P50=$(to_ms "$(wrk_pct "$LF" 50)"); L_P99=$(to_ms "$(wrk_pct "$LF" 99)")
C_P50=$(to_ms "$(wrk_pct "$CF" 50)"); C_P99=$(to_ms "$(wrk_pct "$CF" 99)")
BAD=$(for f in "$TMP"/t-*-[0-9]*.txt; do echo $(($(wrk_non2xx "$f") + $(wrk_errsum "$f"))); done | awk '{ s += $1 } END { print s + 0 }')
R=$(ratio "$L_RPS" "$C_RPS")

echo
echo "== summary (load average at end: $(loadavg))"
echo "   route              req/s (median round)   p50 ms     p99 ms"
printf '   %-12s %26s %10s %10s\n' "lua (tasks)" "$L_RPS" "$L_P50" "$L_P99"
printf '   %-12s %26s %10s %10s\n' "c (board)" "$C_RPS" "$C_P50" "$C_P99"
printf '   %-40s %s\n' "ratio lua/c p99" "$(ratio "$L_P99" "$C_P99")"
printf '   %-40s %s  [%s]\n' "ratio lua/c req/s (>= $RATIO_TARGET)" "$R" \
    "$(verdict "[[ $BAD -eq 0 ]] && awk -v r=$R -v t=$RATIO_TARGET 'BEGIN { exit !(r >= t) }'")"
printf '   %-40s %s\n' "non-2xx + socket errors (all rounds)" "$BAD"
yimen_stderr_report
