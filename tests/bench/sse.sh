#!/usr/bin/env bash
# tests/bench/sse.sh: live notifications over Server-Sent Events at the county's size.
#
#   yimen, 2 workers, the demo county 云溪县 (1,452 staff): USERS distinct staff sign in,
#   each opens one GET /api/events; then ROUNDS times POST /api/admin/notify to the root
#   unit (every active user). Targets: the frame reaches the LAST stream within 200 ms
#   (p99 over the rounds, timed from sending the POST); memory per idle stream < 16 KB
#   (the workers' VmRSS delta over opening the streams / their number).
#   Peer, same run, same client: nginx (2 workers) holding USERS idle keep-alive
#   connections (memory per connection), and answering one small GET on each of them
#   sent in one burst (time to the last response).
#
# Run from the repository root once build/yimen exists. Knobs (environment):
#   USERS     signed-in users and streams (default 1452, the demo county's staff)
#   ROUNDS    notification rounds (default 20, 5..100)
#   YIMEN_BIN the binary (default build/yimen)
#   NGINX_BIN the nginx binary (default /usr/sbin/nginx)
# The config has a fast Argon2id (64 KiB, 1 iteration; the demo hashes its one password
# with it) and sign-in rate limits raised to 100000 a minute, so 1,452 logins take
# seconds. The client is tests/bench/sse_fanout.py (python3, stdlib, one epoll loop).
# Talks to 127.0.0.1 only; every process it starts and every temp dir it makes is
# removed on exit. Run time with the defaults: about 40 seconds.
set -euo pipefail

USERS=${USERS:-1452}
ROUNDS=${ROUNDS:-20}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
LAST_TARGET_MS=200
MEM_TARGET_KB=16

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"

[[ $USERS =~ ^[0-9]+$ && $USERS -ge 10 && $USERS -le 1452 ]] || die "USERS must be 10..1452"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 5 && $ROUNDS -le 100 ]] || die "ROUNDS must be 5..100"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
[[ -x $NGINX_BIN ]] || die "$NGINX_BIN not found (apt-get install nginx-light, or 'make bench')"
need_tools curl python3
NEED_FDS=$((USERS * 2 + 100))
if (($(ulimit -n) < NEED_FDS)); then
    ulimit -n "$NEED_FDS" 2>/dev/null || die "the client needs $NEED_FDS open files (ulimit -n is $(ulimit -n))"
fi
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")

bench_tmp

# ---- yimen with the demo county ----
ADMIN_PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
DEMO_PASSWORD="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
yimen_conf 'auth = {
    argon2 = { memory = "64KiB", iterations = 1 },
    rate_limit = { per_ip = 100000, per_account = 100000 },
}'
(cd "$YDIR" && YIMEN_ADMIN_PASSWORD=$ADMIN_PASSWORD YIMEN_DEMO_PASSWORD=$DEMO_PASSWORD \
    "$YIMEN_BIN" demo -c "$YCONF" > "$YDIR/demo.log" 2>&1) || { cat "$YDIR/demo.log" >&2; die "yimen demo failed"; }
YIMEN_ADMIN_PASSWORD=$ADMIN_PASSWORD start_yimen

# ---- nginx: a small answer, idle keep-alive connections kept for 10 minutes ----
start_nginx /burst "location = /burst {
            default_type text/plain;
            return 200 'data: ok\n\n';
        }" "" "keepalive_timeout 600s;"

echo "bench: nginx $(nginx_version) on 127.0.0.1:$NPORT, yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT"
echo "bench: $(cpu_line); load average at start: $(loadavg) (anything else running skews the numbers)"
echo "bench: $(grep -m1 '^demo county' "$YDIR/demo.log" || echo 'demo county loaded')"
echo "bench: auth.argon2 64KiB x 1 iteration, auth.rate_limit per_ip/per_account 100000 (fast sign-in for the setup)"
echo "bench: 2 yimen workers, 2 nginx workers; client: tests/bench/sse_fanout.py (one epoll loop), $USERS users, $ROUNDS rounds"
echo
echo "== setup: sign in, open the streams and the nginx connections"
python3 "$HERE/sse_fanout.py" --yport "$YPORT" --nport "$NPORT" --yimen-pid "$YIMEN_PID" --nginx-pid "$NGINX_PID" \
    --admin-password "$ADMIN_PASSWORD" --demo-password "$DEMO_PASSWORD" --users "$USERS" --rounds "$ROUNDS" \
    --out "$TMP/results" &
BG_PIDS=$!
wait "$BG_PIDS" || die "the client sse_fanout.py failed"
BG_PIDS=
# shellcheck disable=SC1091
. "$TMP/results"
remember_children
LOAD_END=$(loadavg)

# ---- summary ----
echo
echo "== summary ($ROUNDS rounds; times in ms from sending the POST / the first GET; load average at end: $LOAD_END)"
echo "   what                                         p50        p99        max"
row() { printf '   %-40s %10s %10s %10s\n' "$1" "$2" "$3" "$4"; }
row "yimen: notify -> frame on the LAST stream" "$Y_LAST_P50" "$Y_LAST_P99" "$Y_LAST_MAX"
row "yimen: notify -> frame, median stream" "$Y_MED_P50" "$Y_MED_P99" "$Y_MED_MAX"
row "yimen: POST /api/admin/notify -> 201" "$Y_POST_P50" "$Y_POST_P99" "$Y_POST_MAX"
row "nginx: burst -> LAST response" "$N_LAST_P50" "$N_LAST_P99" "$N_LAST_MAX"
row "nginx: burst -> median response" "$N_MED_P50" "$N_MED_P99" "$N_MED_MAX"
row "client: the $USERS sends of the burst" "$N_SEND_P50" "$N_SEND_P99" "$N_SEND_MAX"
echo
printf '   %-40s %s\n' "streams open / on workers" "$STREAMS on $STREAM_WORKERS workers ($STREAM_SPLIT)"
printf '   %-40s %s\n' "frames or answers missing (all rounds)" "$MISSING"
printf '   %-40s %s\n' "notify 'sent' (recipients)" "$SENT"
printf '   %-40s %s\n' "yimen workers VmRSS before -> after" "$Y_RSS_BEFORE -> $Y_RSS_AFTER kB (Pss $Y_PSS_BEFORE -> $Y_PSS_AFTER kB)"
printf '   %-40s %s\n' "memory per idle stream / connection" "yimen VmRSS $Y_RSS_PER kB (Pss $Y_PSS_PER kB); nginx VmRSS $N_RSS_PER kB (Pss $N_PSS_PER kB)"
printf '   %-40s %s\n' "ratio yimen/nginx, last arrival p99" "$(ratio "$Y_LAST_P99" "$N_LAST_P99")"
printf '   %-40s %s\n' "ratio yimen/nginx, memory per conn" "$(ratio "$Y_RSS_PER" "$N_RSS_PER")"
echo
printf '   %-40s %s ms  [%s]\n' "target: last stream p99 <= $LAST_TARGET_MS ms" "$Y_LAST_P99" \
    "$(verdict "awk 'BEGIN { exit !($Y_LAST_P99 <= $LAST_TARGET_MS) }'")"
printf '   %-40s %s kB  [%s]\n' "target: per idle stream < $MEM_TARGET_KB KB" "$Y_RSS_PER" \
    "$(verdict "awk 'BEGIN { exit !($Y_RSS_PER < $MEM_TARGET_KB) }'")"
printf '   %-40s %s  [%s]\n' "check: streams on both workers" "$STREAM_WORKERS" "$(verdict "[[ $STREAM_WORKERS -ge 2 ]]")"
printf '   %-40s %s  [%s]\n' "check: every frame arrived" "$MISSING missing" "$(verdict "[[ $MISSING -eq 0 ]]")"
yimen_stderr_report
exit 0
