#!/usr/bin/env bash
# tests/bench/http.sh: yimen's HTTP path against nginx on the same machine.
#
#   1. throughput/latency: wrk on GET /healthz, nginx and yimen in turns
#   2. reload under load: wrk on yimen while `yimen reload` runs every second
#   3. idle memory: PSS of the yimen master and its workers
#
# Run with `make bench` (installs nginx and wrk, builds) or directly from the
# repository root. Knobs (environment):
#   DURATION  seconds per wrk run (default 10)
#   CONNS     wrk connections (default 64); wrk threads are always 2
#   ROUNDS    rounds per server in scenario 1 (default 3, at least 2)
#   YIMEN_BIN the binary (default build/yimen)
#   NGINX_BIN the nginx binary (default /usr/sbin/nginx)
# Talks to 127.0.0.1 only; every process it starts and every temp dir it makes is
# removed on exit. Run time with the defaults: about 90 seconds.
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
PSS_TARGET_KB=$((15 * 1024))

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 60 ]] || die "DURATION must be 1..60 seconds"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 2 ]] || die "CONNS must be a number >= 2"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 2 && $ROUNDS -le 5 ]] || die "ROUNDS must be 2..5"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
[[ -x $NGINX_BIN ]] || die "$NGINX_BIN not found (apt-get install nginx-light, or 'make bench')"
for t in wrk curl python3; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install wrk curl python3)"
done
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")

bench_tmp

# ---- yimen ----
yimen_conf
start_yimen
YBODY=$(curl -fsS "http://127.0.0.1:$YPORT/healthz")

# ---- nginx: the same body (same length) from `return 200` ----
start_nginx /healthz "location = /healthz {
            default_type application/json;
            return 200 '$YBODY';
        }"
NBODY=$(curl -fsS "http://127.0.0.1:$NPORT/healthz")
[[ ${#NBODY} -eq ${#YBODY} ]] || die "body lengths differ: nginx ${#NBODY}, yimen ${#YBODY}"

echo "bench: nginx $(nginx_version) on 127.0.0.1:$NPORT, yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT"
echo "bench: $(cpu_line); wrk -t$THREADS -c$CONNS -d${DURATION}s --latency"
echo "bench: healthz body ${#YBODY} bytes: $YBODY"
echo "bench: load average at start: $(loadavg) (anything else running skews the numbers)"

# ---- scenario 3 first, while yimen is idle: PSS after start and a few requests ----
for _ in $(seq 20); do curl -fsS -o /dev/null "http://127.0.0.1:$YPORT/healthz"; done
sleep 1
read -r PSS_TOTAL PSS_DETAIL <<<"$(measure_pss)"
remember_children

# ---- scenario 1: throughput and latency, in turns ----
echo
echo "== scenario 1: GET /healthz, $ROUNDS rounds each, alternating (1 s warm-up each first)"
alternate_rounds s1 nginx "http://127.0.0.1:$NPORT/healthz" yimen "http://127.0.0.1:$YPORT/healthz"

NF_MED=$(median_round s1-nginx)
YF_MED=$(median_round s1-yimen)
N_RPS=$(wrk_rps "$NF_MED"); Y_RPS=$(wrk_rps "$YF_MED")
echo
echo "   server   req/s (median round)   p50 ms     p99 ms"
for s in nginx yimen; do
    f=$NF_MED; [[ $s == yimen ]] && f=$YF_MED
    printf '   %-6s %20s %10s %10s\n' "$s" "$(wrk_rps "$f")" "$(to_ms "$(wrk_pct "$f" 50)")" "$(to_ms "$(wrk_pct "$f" 99)")"
done
RATIO=$(ratio "$Y_RPS" "$N_RPS")
echo "   ratio yimen/nginx req/s: $RATIO"

# ---- scenario 2: reload every second under load ----
echo
echo "== scenario 2: wrk on yimen for ${DURATION}s while 'yimen reload' runs every second"
GEN_BEFORE=$(yimen_generation)
(
    ok=0 fail=0
    trap 'echo "$ok $fail" > "$TMP/reloads"; exit 0' TERM
    while :; do
        sleep 1
        if "$YIMEN_BIN" reload -c "$YCONF" >> "$TMP/reload.log" 2>&1; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
        remember_children
        echo "$ok $fail" > "$TMP/reloads"
    done
) &
RELOAD_PID=$!
run_wrk yimen-reload "http://127.0.0.1:$YPORT/healthz" "$TMP/s2.txt"
kill "$RELOAD_PID" 2>/dev/null; wait "$RELOAD_PID" 2>/dev/null || true
RELOAD_PID=
read -r RELOAD_OK RELOAD_FAIL < "$TMP/reloads" || { RELOAD_OK=0; RELOAD_FAIL=0; }
sleep 1
GEN_AFTER=$(yimen_generation)
remember_children
S2_ERR=$(wrk_errors "$TMP/s2.txt")
S2_NON2XX=$(wrk_non2xx "$TMP/s2.txt")
S2_ERRSUM=$(wrk_errsum "$TMP/s2.txt")
echo "   requests: $(wrk_total "$TMP/s2.txt") in ${DURATION}s ($(wrk_rps "$TMP/s2.txt") req/s), p99 $(wrk_pct "$TMP/s2.txt" 99)"
echo "   reloads signalled: $RELOAD_OK ok, $RELOAD_FAIL failed; generation $GEN_BEFORE -> $GEN_AFTER"
echo "   socket errors: $S2_ERR  (target: all 0)"
echo "   Non-2xx or 3xx responses: $S2_NON2XX  (target: 0)"
if [[ $RELOAD_FAIL -gt 0 ]]; then sed 's/^/   reload: /' "$TMP/reload.log" | sort | uniq -c | head -5; fi

# ---- scenario 3 report, plus the same measure after load for comparison ----
read -r PSS_AFTER PSS_AFTER_DETAIL <<<"$(measure_pss)"
echo
echo "== scenario 3: idle PSS of the yimen master + workers (after start and 20 requests)"
echo "   total $((PSS_TOTAL / 1024)).$(( (PSS_TOTAL % 1024) * 10 / 1024 )) MiB ($PSS_TOTAL kB; master ${PSS_DETAIL%% *} kB, workers pid:kB ${PSS_DETAIL#* })  (target < 15 MiB)"
echo "   for comparison, after scenarios 1-2: $PSS_AFTER kB (master ${PSS_AFTER_DETAIL%% *} kB, workers ${PSS_AFTER_DETAIL#* })"

# ---- summary ----
echo
echo "== summary"
printf '   %-34s %s\n' "req/s nginx (median round)" "$N_RPS"
printf '   %-34s %s\n' "req/s yimen (median round)" "$Y_RPS"
printf '   %-34s %s\n' "ratio yimen/nginx" "$RATIO"
printf '   %-34s %s\n' "p50 / p99 nginx" "$(wrk_pct "$NF_MED" 50) / $(wrk_pct "$NF_MED" 99)"
printf '   %-34s %s\n' "p50 / p99 yimen" "$(wrk_pct "$YF_MED" 50) / $(wrk_pct "$YF_MED" 99)"
printf '   %-34s %s  [%s]\n' "reload: reloads ok / generations" "$RELOAD_OK ok, $RELOAD_FAIL failed; gen $GEN_BEFORE -> $GEN_AFTER" \
    "$(verdict "[[ $RELOAD_OK -gt 0 && $RELOAD_FAIL -eq 0 && ${GEN_AFTER:-0} -gt ${GEN_BEFORE:-0} ]]")"
printf '   %-34s %s  [%s]\n' "reload: socket errors (sum)" "$S2_ERRSUM" "$(verdict "[[ $S2_ERRSUM -eq 0 ]]")"
printf '   %-34s %s  [%s]\n' "reload: non-2xx/3xx" "$S2_NON2XX" "$(verdict "[[ $S2_NON2XX -eq 0 ]]")"
printf '   %-34s %s kB  [%s]\n' "idle PSS master+workers" "$PSS_TOTAL" "$(verdict "[[ $PSS_TOTAL -lt $PSS_TARGET_KB ]]")"
yimen_stderr_report
