#!/usr/bin/env bash
# tests/bench/dispatch.sh: 分发/签收 at the county's size.
#
#   yimen, 2 workers, the demo county 云溪县 (573 units, 1,452 staff), YIMEN_TEST_CLOCK=1
#   for POST /api/test/dispatches (plugins are wired later). The 573 clerks sign in and
#   each opens one GET /api/events. ROUNDS times: one POST /api/test/dispatches to all
#   573 units (one request, one transaction); measured: the request's latency (target:
#   p99 < 100 ms) and the time until every clerk's stream has the notification (target:
#   the last one within 300 ms, p99). Then 573 clerks sign the last dispatch concurrently
#   (SIGN_THREADS threads): every sign 200, a second sign 409, the board counts exactly 573.
#   Peer, same run, same client: nginx (2 workers): one small GET on each of 573 idle
#   keep-alive connections in one burst (time to the last answer, vs. the last clerk's
#   notification), and the 573 sign requests' shape as GETs from the same pool.
#
# Run from the repository root once build/yimen exists. Knobs (environment):
#   ROUNDS    dispatch rounds (default 20, 5..100)
#   SIGN_THREADS client threads for the concurrent signs (default 64)
#   YIMEN_BIN the binary (default build/yimen)
#   NGINX_BIN the nginx binary (default /usr/sbin/nginx)
# The client is tests/bench/dispatch_bench.py (python3, stdlib; reuses sse_fanout.py).
# Talks to 127.0.0.1 only; every process it starts and every temp dir it makes is
# removed on exit. Run time with the defaults: about 30 seconds.
set -euo pipefail

ROUNDS=${ROUNDS:-20}
SIGN_THREADS=${SIGN_THREADS:-64}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
POST_TARGET_MS=100
LAST_TARGET_MS=300

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"

[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 5 && $ROUNDS -le 100 ]] || die "ROUNDS must be 5..100"
[[ $SIGN_THREADS =~ ^[0-9]+$ && $SIGN_THREADS -ge 1 && $SIGN_THREADS -le 256 ]] || die "SIGN_THREADS must be 1..256"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
[[ -x $NGINX_BIN ]] || die "$NGINX_BIN not found (apt-get install nginx-light, or 'make bench')"
need_tools curl python3
NEED_FDS=$((573 * 2 + 400))
if (($(ulimit -n) < NEED_FDS)); then
    ulimit -n "$NEED_FDS" 2>/dev/null || die "the client needs $NEED_FDS open files (ulimit -n is $(ulimit -n))"
fi
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")

bench_tmp

ADMIN_PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
DEMO_PASSWORD="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
yimen_conf 'auth = {
    argon2 = { memory = "64KiB", iterations = 1 },
    rate_limit = { per_ip = 100000, per_account = 100000 },
}'
(cd "$YDIR" && YIMEN_ADMIN_PASSWORD=$ADMIN_PASSWORD YIMEN_DEMO_PASSWORD=$DEMO_PASSWORD \
    "$YIMEN_BIN" demo -c "$YCONF" > "$YDIR/demo.log" 2>&1) || { cat "$YDIR/demo.log" >&2; die "yimen demo failed"; }
YIMEN_TEST_CLOCK=1 YIMEN_ADMIN_PASSWORD=$ADMIN_PASSWORD start_yimen

start_nginx /burst "location = /burst {
            default_type text/plain;
            return 200 'data: ok\n\n';
        }" "" "keepalive_timeout 600s;"

echo "bench: nginx $(nginx_version) on 127.0.0.1:$NPORT, yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT"
echo "bench: $(cpu_line); load average at start: $(loadavg) (anything else running skews the numbers)"
echo "bench: $(grep -m1 '^demo county' "$YDIR/demo.log" || echo 'demo county loaded')"
echo "bench: 2 yimen workers (YIMEN_TEST_CLOCK=1), 2 nginx workers; client: tests/bench/dispatch_bench.py, $ROUNDS rounds, $SIGN_THREADS threads"
echo
echo "== setup: sign in, open the clerks' streams and the nginx connections; then the rounds"
python3 "$HERE/dispatch_bench.py" --yport "$YPORT" --nport "$NPORT" --db "$YDIR/data/yimen.db" \
    --admin-password "$ADMIN_PASSWORD" --demo-password "$DEMO_PASSWORD" --rounds "$ROUNDS" --threads "$SIGN_THREADS" \
    --out "$TMP/results" &
BG_PIDS=$!
wait "$BG_PIDS" || die "the client dispatch_bench.py failed"
BG_PIDS=
# shellcheck disable=SC1091
. "$TMP/results"
remember_children
LOAD_END=$(loadavg)

echo
echo "== summary ($ROUNDS rounds; times in ms from sending the request / the first GET; load average at end: $LOAD_END)"
echo "   what                                            p50        p99        max"
row() { printf '   %-43s %10s %10s %10s\n' "$1" "$2" "$3" "$4"; }
row "yimen: POST /api/test/dispatches (573) -> 201" "$Y_POST_P50" "$Y_POST_P99" "$Y_POST_MAX"
row "yimen: -> notification on the LAST clerk" "$Y_LAST_P50" "$Y_LAST_P99" "$Y_LAST_MAX"
row "yimen: -> notification, median clerk" "$Y_MED_P50" "$Y_MED_P99" "$Y_MED_MAX"
row "nginx: burst on 573 conns -> LAST answer" "$N_LAST_P50" "$N_LAST_P99" "$N_LAST_MAX"
echo
printf '   %-43s %s\n' "573 concurrent signs: wall / p50 / p99" "$SIGN_WALL ms / $SIGN_P50 ms / $SIGN_P99 ms ($SIGN_OK x 200)"
printf '   %-43s %s\n' "nginx, 573 GETs same pool: wall / p99" "$N_WALL ms / $N_P99 ms"
printf '   %-43s %s\n' "ratio yimen/nginx, last arrival p99" "$(ratio "$Y_LAST_P99" "$N_LAST_P99")"
printf '   %-43s %s\n' "ratio yimen/nginx, 573 requests wall" "$(ratio "$SIGN_WALL" "$N_WALL")"
echo
printf '   %-43s %s ms  [%s]\n' "target: request p99 < $POST_TARGET_MS ms" "$Y_POST_P99" \
    "$(verdict "awk 'BEGIN { exit !($Y_POST_P99 < $POST_TARGET_MS) }'")"
printf '   %-43s %s ms  [%s]\n' "target: every clerk within $LAST_TARGET_MS ms (p99)" "$Y_LAST_P99" \
    "$(verdict "awk 'BEGIN { exit !($Y_LAST_P99 <= $LAST_TARGET_MS) }'")"
printf '   %-43s %s  [%s]\n' "check: every notification arrived" "$MISSING missing" "$(verdict "[[ $MISSING -eq 0 ]]")"
printf '   %-43s %s  [%s]\n' "check: 573 signs, none lost" "$SIGN_OK ok, board $BOARD_SIGNED" \
    "$(verdict "[[ $SIGN_OK -eq 573 && $BOARD_SIGNED -eq 573 ]]")"
printf '   %-43s %s  [%s]\n' "check: none doubled" "$AUDIT_OK audit rows, $SIGN_AGAIN_409/100 re-signs 409" \
    "$(verdict "[[ $AUDIT_OK -eq 573 && $SIGN_AGAIN_409 -eq 100 ]]")"
printf '   %-43s %s  [%s]\n' "check: sender's receipt events" "$EVENTS" "$(verdict "[[ $EVENTS -eq 573 ]]")"
yimen_stderr_report
exit 0
