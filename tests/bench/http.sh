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
THREADS=2
PSS_TARGET_KB=$((15 * 1024))

die() { echo "bench: $*" >&2; exit 1; }

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 60 ]] || die "DURATION must be 1..60 seconds"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 2 ]] || die "CONNS must be a number >= 2"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 2 && $ROUNDS -le 5 ]] || die "ROUNDS must be 2..5"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
[[ -x $NGINX_BIN ]] || die "$NGINX_BIN not found (apt-get install nginx-light, or 'make bench')"
for t in wrk curl python3; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install wrk curl python3)"
done
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/yimen-bench.XXXXXX")
YIMEN_PID= NGINX_PID= WRK_PID= RELOAD_PID=

cleanup() {
    local rc=$?
    set +e
    for p in $RELOAD_PID $WRK_PID; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    if [[ -n $NGINX_PID ]]; then
        kill -QUIT "$NGINX_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null
        wait "$NGINX_PID" 2>/dev/null
    fi
    if [[ -n $YIMEN_PID ]]; then
        remember_children
        kill -TERM "$YIMEN_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$YIMEN_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$YIMEN_PID" 2>/dev/null
        wait "$YIMEN_PID" 2>/dev/null
    fi
    # Workers of any generation the master did not take down (by pid, never by name).
    for p in $(sort -u "$TMP/children" 2>/dev/null); do
        kill -0 "$p" 2>/dev/null && [[ $(cat "/proc/$p/cmdline" 2>/dev/null | tr '\0' ' ') == *yimen* ]] \
            && kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url, seconds
    local url=$1 end=$((SECONDS + $2))
    until curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; do
        ((SECONDS < end)) || return 1
        sleep 0.1
    done
}

# Worker pids of every generation seen, in a file (the reload loop is a subshell).
remember_children() {
    pgrep -P "$YIMEN_PID" >> "$TMP/children" 2>/dev/null || true
}

# ---- yimen ----
YPORT=$(free_port)
mkdir -p "$TMP/yimen/data"
YCONF=$TMP/yimen/yimen.conf
cat > "$YCONF" <<EOF
listen = "127.0.0.1:$YPORT"
workers = 2
data_dir = "data"
log_level = "warn"
EOF
"$YIMEN_BIN" serve -c "$YCONF" > "$TMP/yimen/stdout.log" 2> "$TMP/yimen/stderr.log" &
YIMEN_PID=$!
if ! wait_http "http://127.0.0.1:$YPORT/healthz" 15; then
    tail -20 "$TMP/yimen/stderr.log" >&2
    die "yimen did not answer /healthz on 127.0.0.1:$YPORT within 15 s"
fi
remember_children
YBODY=$(curl -fsS "http://127.0.0.1:$YPORT/healthz")

# ---- nginx: the same body (same length) from `return 200` ----
NPORT=$(free_port)
N=$TMP/nginx
mkdir -p "$N/logs"
temp_paths="client_body_temp_path $N/client_body;"
nginx_v=$("$NGINX_BIN" -V 2>&1)
for m in proxy fastcgi uwsgi scgi; do
    [[ $nginx_v == *--without-http_${m}_module* ]] || temp_paths+=" ${m}_temp_path $N/$m;"
done
cat > "$N/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
pid $N/nginx.pid;
error_log $N/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    $temp_paths
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NPORT;
        location = /healthz {
            default_type application/json;
            return 200 '$YBODY';
        }
    }
}
EOF
"$NGINX_BIN" -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log" > "$N/logs/stdout.log" 2>&1 &
NGINX_PID=$!
if ! wait_http "http://127.0.0.1:$NPORT/healthz" 10; then
    cat "$N/logs/error.log" "$N/logs/stdout.log" >&2 2>/dev/null
    die "nginx did not answer on 127.0.0.1:$NPORT within 10 s"
fi
NBODY=$(curl -fsS "http://127.0.0.1:$NPORT/healthz")
[[ ${#NBODY} -eq ${#YBODY} ]] || die "body lengths differ: nginx ${#NBODY}, yimen ${#YBODY}"

# ---- wrk output parsing ----
to_ms() { # "1.23ms" / "850.00us" / "1.02s" -> milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}
wrk_rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
wrk_pct() { awk -v p="$2%" '$1 == p { print $2; exit }' "$1"; }
wrk_errors() { # "connect C, read R, write W, timeout T" or zeros
    local l
    l=$(grep -m1 'Socket errors:' "$1" || true)
    if [[ -n $l ]]; then echo "${l#*Socket errors: }"; else echo "connect 0, read 0, write 0, timeout 0"; fi
}
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ { print $NF; f = 1 } END { if (!f) print 0 }' "$1"; }
wrk_total() { awk '/requests in/ { print $1; exit }' "$1"; }

run_wrk() { # name url out [duration]
    wrk -t"$THREADS" -c"$CONNS" -d"${4:-$DURATION}s" --latency "$2" > "$3" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk failed against $1: $(tail -3 "$3")"
    WRK_PID=
}

echo "bench: nginx $("$NGINX_BIN" -v 2>&1 | sed 's|.*/||') on 127.0.0.1:$NPORT, yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT"
echo "bench: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)); wrk -t$THREADS -c$CONNS -d${DURATION}s --latency"
echo "bench: healthz body ${#YBODY} bytes: $YBODY"
echo "bench: load average at start: $(cut -d" " -f1-3 /proc/loadavg) (anything else running skews the numbers)"

# ---- scenario 3 first, while yimen is idle: PSS after start and a few requests ----
for _ in $(seq 20); do curl -fsS -o /dev/null "http://127.0.0.1:$YPORT/healthz"; done
sleep 1
pss_kb() { awk '/^Pss:/ { print $2; exit }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
measure_pss() { # prints "total_kb master_kb worker1_kb ..."
    local m w total line
    m=$(pss_kb "$YIMEN_PID"); total=$m; line=$m
    for w in $(pgrep -P "$YIMEN_PID"); do
        local k; k=$(pss_kb "$w"); total=$((total + k)); line+=" $w:$k"
    done
    echo "$total $line"
}
read -r PSS_TOTAL PSS_DETAIL <<<"$(measure_pss)"
remember_children

# ---- scenario 1: throughput and latency, in turns ----
echo
echo "== scenario 1: GET /healthz, $ROUNDS rounds each, alternating (1 s warm-up each first)"
run_wrk nginx "http://127.0.0.1:$NPORT/healthz" "$TMP/warm-nginx.txt" 1
run_wrk yimen "http://127.0.0.1:$YPORT/healthz" "$TMP/warm-yimen.txt" 1
for r in $(seq "$ROUNDS"); do
    for s in nginx yimen; do
        port=$NPORT; [[ $s == yimen ]] && port=$YPORT
        out=$TMP/s1-$s-$r.txt
        run_wrk "$s" "http://127.0.0.1:$port/healthz" "$out"
        printf '  round %d %-5s %10s req/s  p50 %8s  p99 %8s  errors: %s  non-2xx: %s\n' "$r" "$s" \
            "$(wrk_rps "$out")" "$(wrk_pct "$out" 50)" "$(wrk_pct "$out" 99)" "$(wrk_errors "$out")" "$(wrk_non2xx "$out")"
    done
done

# The median round by req/s (for an even ROUNDS the lower of the two middle ones);
# its p50/p99 are reported with it, so each row is one real wrk run.
median_round() { # server -> file
    local f
    for f in "$TMP"/s1-"$1"-*.txt; do echo "$(wrk_rps "$f") $f"; done | sort -n | \
        awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) { print $2 }'
}
NF_MED=$(median_round nginx)
YF_MED=$(median_round yimen)
N_RPS=$(wrk_rps "$NF_MED"); Y_RPS=$(wrk_rps "$YF_MED")
echo
echo "   server   req/s (median round)   p50 ms     p99 ms"
for s in nginx yimen; do
    f=$NF_MED; [[ $s == yimen ]] && f=$YF_MED
    printf '   %-6s %20s %10s %10s\n' "$s" "$(wrk_rps "$f")" "$(to_ms "$(wrk_pct "$f" 50)")" "$(to_ms "$(wrk_pct "$f" 99)")"
done
RATIO=$(awk -v y="$Y_RPS" -v n="$N_RPS" 'BEGIN { if (n > 0) printf "%.2f", y / n; else print "n/a" }')
echo "   ratio yimen/nginx req/s: $RATIO"

# ---- scenario 2: reload every second under load ----
echo
echo "== scenario 2: wrk on yimen for ${DURATION}s while 'yimen reload' runs every second"
GEN_BEFORE=$(curl -fsS "http://127.0.0.1:$YPORT/healthz" | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
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
GEN_AFTER=$(curl -fsS "http://127.0.0.1:$YPORT/healthz" | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
remember_children
S2_ERR=$(wrk_errors "$TMP/s2.txt")
S2_NON2XX=$(wrk_non2xx "$TMP/s2.txt")
S2_ERRSUM=$(echo "$S2_ERR" | grep -o '[0-9]\+' | awk '{ s += $1 } END { print s + 0 }')
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
verdict() { if eval "$1"; then echo ok; else echo MISSED; fi; }
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
if grep -qiE 'error|fatal|crash|signal' "$TMP/yimen/stderr.log"; then
    echo "   yimen stderr (warn and above), first lines:"
    grep -iE 'error|fatal|crash|signal' "$TMP/yimen/stderr.log" | head -5 | sed 's/^/     /'
fi
