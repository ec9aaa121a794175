#!/usr/bin/env bash
# tests/bench/auth.sh: yimen's authenticated path against nginx, and what a burst of
# sign-ins (Argon2id at the production cost) does to the latency of other requests.
#
#   1. GET /api/me with a Bearer token (session lookup + a few SQLite reads), wrk
#      -t2 -c64, against nginx `return 200` of the same body; target >= 0.6x nginx
#   2. 50 concurrent logins fired at about second 3 of a 10 s wrk -t1 -c8 run on
#      /healthz; target: /healthz p99 during the burst <= 20 ms, all 50 logins 200
#
# Run from the repository root once build/yimen exists. Knobs (environment):
#   DURATION  seconds per wrk run in scenario 1 (default 10)
#   CONNS     wrk connections in scenario 1 (default 64); wrk threads are 2
#   ROUNDS    rounds per server in scenario 1 (default 3, at least 2)
#   LOGINS    concurrent logins in scenario 2 (default 50)
#   YIMEN_BIN the binary (default build/yimen)
#   NGINX_BIN the nginx binary (default /usr/sbin/nginx)
#   UV_THREADPOOL_SIZE  passed to yimen as is (unset: libuv's default, 4 per worker)
# The config uses the production Argon2id cost (19 MiB, 2 iterations) and raises the
# sign-in rate limits to 100000 a minute, so scenario 2 measures hashing, not 429s.
# Talks to 127.0.0.1 only; every process it starts and every temp dir it makes is
# removed on exit. Run time with the defaults: about 100 seconds.
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
LOGINS=${LOGINS:-50}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
ME_TARGET=0.6
P99_TARGET_MS=20
SLICES=10      # scenario 2: ten 1 s wrk runs back to back
BURST_AT=3     # the burst starts with slice 4, about second 3

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 60 ]] || die "DURATION must be 1..60 seconds"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 2 ]] || die "CONNS must be a number >= 2"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 2 && $ROUNDS -le 5 ]] || die "ROUNDS must be 2..5"
[[ $LOGINS =~ ^[0-9]+$ && $LOGINS -ge 1 && $LOGINS -le 200 ]] || die "LOGINS must be 1..200"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
[[ -x $NGINX_BIN ]] || die "$NGINX_BIN not found (apt-get install nginx-light, or 'make bench')"
need_tools wrk curl python3
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")

bench_tmp

# ---- yimen, with the production Argon2id cost ----
PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
yimen_conf 'auth = {
    argon2 = { memory = "19MiB", iterations = 2 },
    rate_limit = { per_ip = 100000, per_account = 100000 },
}'
YIMEN_ADMIN_PASSWORD=$PASSWORD start_yimen
POOL=${UV_THREADPOOL_SIZE:-"unset (libuv default: 4)"}

login_json() { python3 -c 'import json,sys; print(json.dumps({"username": "admin", "password": sys.argv[1]}))' "$PASSWORD"; }
LOGIN_OUT=$(curl -sS --max-time 30 -w '\n%{http_code} %{time_total}' -H 'Content-Type: application/json' \
    --data-binary "$(login_json)" "http://127.0.0.1:$YPORT/api/auth/login")
read -r LOGIN_CODE LOGIN_TIME <<<"$(tail -1 <<<"$LOGIN_OUT")"
[[ $LOGIN_CODE == 200 ]] || die "login answered $LOGIN_CODE: $(head -1 <<<"$LOGIN_OUT")"
TOKEN=$(head -1 <<<"$LOGIN_OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
MEBODY=$(curl -fsS --max-time 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$YPORT/api/me")
case $MEBODY in *"'"* | *'\'* | *'$'*) die "the /api/me body has a quote, backslash or \$; nginx 'return' cannot carry it as is";; esac

# ---- nginx: the same body bytes from `return 200` ----
start_nginx /api/me "location = /api/me {
            default_type application/json;
            return 200 '$MEBODY';
        }"
NLEN=$(curl -fsS "http://127.0.0.1:$NPORT/api/me" | wc -c)
YLEN=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$YPORT/api/me" | wc -c)
[[ $NLEN -eq $YLEN ]] || die "body lengths differ: nginx $NLEN, yimen $YLEN bytes"

echo "bench: nginx $(nginx_version) on 127.0.0.1:$NPORT, yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT"
echo "bench: $(cpu_line); load average at start: $(loadavg) (anything else running skews the numbers)"
echo "bench: auth.argon2 19MiB x 2 iterations (production), auth.rate_limit per_ip/per_account 100000 (raised for the burst)"
echo "bench: UV_THREADPOOL_SIZE $POOL; 2 yimen workers"
echo "bench: one login, unloaded: $LOGIN_CODE in $(awk -v t="$LOGIN_TIME" 'BEGIN { printf "%.1f", t * 1000 }') ms"
echo "bench: /api/me body $YLEN bytes: $MEBODY"

# ---- scenario 1: GET /api/me with a token, in turns ----
echo
echo "== scenario 1: GET /api/me (Authorization: Bearer), wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds each, alternating (1 s warm-up each first)"
WRK_ARGS=(-H "Authorization: Bearer $TOKEN")
alternate_rounds me nginx "http://127.0.0.1:$NPORT/api/me" yimen "http://127.0.0.1:$YPORT/api/me"
WRK_ARGS=()
NF_MED=$(median_round me-nginx)
YF_MED=$(median_round me-yimen)
N_RPS=$(wrk_rps "$NF_MED"); Y_RPS=$(wrk_rps "$YF_MED")
ME_RATIO=$(ratio "$Y_RPS" "$N_RPS")
ME_BAD=$(for f in "$TMP"/me-yimen-[0-9]*.txt; do echo $(($(wrk_non2xx "$f") + $(wrk_errsum "$f"))); done | awk '{ s += $1 } END { print s + 0 }')
echo
echo "   server   req/s (median round)   p50 ms     p99 ms"
for s in nginx yimen; do
    f=$NF_MED; [[ $s == yimen ]] && f=$YF_MED
    printf '   %-6s %20s %10s %10s\n' "$s" "$(wrk_rps "$f")" "$(to_ms "$(wrk_pct "$f" 50)")" "$(to_ms "$(wrk_pct "$f" 99)")"
done
echo "   ratio yimen/nginx req/s: $ME_RATIO (target >= $ME_TARGET); yimen non-2xx + socket errors over all rounds: $ME_BAD"

# ---- scenario 2: /healthz latency while LOGINS logins hash ----
# wrk reports one p99 per run, so the 10 s are ten back-to-back 1 s runs, each
# dumping its whole latency histogram (done() below); the slices that overlap the
# burst are merged, and their p99 is the p99 "during the burst".
cat > "$TMP/hist.lua" <<'EOF'
done = function(summary, latency, requests)
    for i = 1, #latency do
        local v, c = latency(i)
        io.write(string.format("H %d %d\n", v, c))
    end
end
EOF
cat > "$TMP/burst.py" <<'EOF'
# LOGINS concurrent POST /api/auth/login: each thread connects, all wait on a
# barrier and then until fire_at, then send at once. Bounded: 30 s per request,
# 60 s after fire_at for all.
import http.client, json, sys, threading, time
port, n, password, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
fire_at = float(sys.argv[5])  # epoch seconds: connect now, send then
body = json.dumps({"username": "admin", "password": password})
barrier = threading.Barrier(n, timeout=10)
res = [{"status": 0, "error": "did not finish"} for _ in range(n)]
def one(i):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.connect()
        barrier.wait()
        time.sleep(max(0.0, fire_at - time.time()))
        t0 = time.time()
        c.request("POST", "/api/auth/login", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        t1 = time.time()
        ok = r.status == 200 and "token" in json.loads(data)
        res[i] = {"status": r.status, "ok": ok, "start": t0, "end": t1}
        c.close()
    except Exception as e:
        res[i] = {"status": 0, "error": repr(e)}
threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
for t in threads:
    t.start()
deadline = max(time.time(), fire_at) + 60
for t in threads:
    t.join(max(0.0, deadline - time.time()))
with open(out, "w") as f:
    json.dump(res, f)
EOF

# slice_run tag [burst]: SLICES wrk runs of 1 s; with burst, the login script starts
# first (its threads connect and wait) and fires BURST_AT s after slice 1 begins, so
# Python's start-up is not in the burst. Files $TMP/<tag>-slice-<i>.txt, times in
# $TMP/<tag>-times.
slice_run() {
    local tag=$1 burst=${2:-} i burst_pid='' t0 t1
    : > "$TMP/$tag-times"
    if [[ -n $burst ]]; then
        python3 "$TMP/burst.py" "$YPORT" "$LOGINS" "$PASSWORD" "$TMP/burst.json" \
            "$(awk -v t="$(date +%s.%N)" -v d="$BURST_AT" 'BEGIN { printf "%.3f", t + d + 0.5 }')" &
        burst_pid=$!
        BG_PIDS+=" $burst_pid"
        sleep 0.5
    fi
    for i in $(seq "$SLICES"); do
        t0=$(date +%s.%N)
        wrk -t1 -c8 -d1s --latency -s "$TMP/hist.lua" "http://127.0.0.1:$YPORT/healthz" > "$TMP/$tag-slice-$i.txt" 2>&1 &
        WRK_PID=$!
        wait "$WRK_PID" || die "wrk failed against /healthz: $(tail -3 "$TMP/$tag-slice-$i.txt")"
        WRK_PID=
        t1=$(date +%s.%N)
        echo "$i $t0 $t1" >> "$TMP/$tag-times"
    done
    if [[ -n $burst_pid ]]; then
        wait "$burst_pid" || die "the login burst script failed"
        BG_PIDS=${BG_PIDS% "$burst_pid"}
    fi
}

echo
echo "== scenario 2: wrk -t1 -c8 --latency on /healthz, ${SLICES} x 1 s; baseline, then with $LOGINS concurrent logins at about second $BURST_AT"
slice_run base
slice_run burst yes

cat > "$TMP/analyse.py" <<'EOF'
import json, math, re, statistics, sys
tmp, slices, target = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def load(tag):
    times = {}
    for line in open(f"{tmp}/{tag}-times"):
        i, a, b = line.split()
        times[int(i)] = (float(a), float(b))
    hists, rps = {}, {}
    for i in range(1, slices + 1):
        h = {}
        text = open(f"{tmp}/{tag}-slice-{i}.txt").read()
        for v, c in re.findall(r"^H (\d+) (\d+)$", text, re.M):
            h[int(v)] = h.get(int(v), 0) + int(c)
        hists[i] = h
        m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
        rps[i] = m.group(1) if m else "?"
    return times, hists, rps
def pct(hs, p):
    merged = {}
    for h in hs:
        for v, c in h.items():
            merged[v] = merged.get(v, 0) + c
    total = sum(merged.values())
    if not total:
        return float("nan"), 0
    rank, seen = math.ceil(p / 100 * total), 0
    for v in sorted(merged):
        seen += merged[v]
        if seen >= rank:
            return v / 1000, total
    return max(merged) / 1000, total
bt, bh, brps = load("base")
t, h, rps = load("burst")
res = json.load(open(f"{tmp}/burst.json"))
done = [r for r in res if "start" in r]
ok = sum(1 for r in res if r.get("ok"))
codes = {}
for r in res:
    codes[r["status"]] = codes.get(r["status"], 0) + 1
w0 = min(r["start"] for r in done) if done else None
w1 = max(r["end"] for r in done) if done else None
win = [i for i in range(1, slices + 1) if done and t[i][0] < w1 and t[i][1] > w0]
origin = t[1][0]
print("   slice  start   baseline req/s  p99 ms  |  burst req/s  p99 ms")
for i in range(1, slices + 1):
    mark = "  <- burst" if i in win else ""
    print(f"   {i:5d} {t[i][0] - origin:6.2f}s {brps[i]:>15} {pct([bh[i]], 99)[0]:7.2f}  | {rps[i]:>12} {pct([h[i]], 99)[0]:7.2f}{mark}")
lat = sorted((r["end"] - r["start"]) * 1000 for r in done)
wp99, wn = pct([h[i] for i in win], 99)
bp99, bn = pct([bh[i] for i in win], 99)
allb, _ = pct(list(bh.values()), 99)
allt, _ = pct(list(h.values()), 99)
print(f"   burst: {len(res)} logins sent at {w0 - origin:.2f}s, last answered at {w1 - origin:.2f}s ({(w1 - w0) * 1000:.0f} ms); status counts {codes}" if done else "   burst: no login was answered")
if lat:
    print(f"   login latency ms: min {lat[0]:.1f}  median {statistics.median(lat):.1f}  max {lat[-1]:.1f}")
for r in res:
    if "error" in r:
        print(f"   login error: {r['error']}")
        break
print(f"   /healthz p99 in the burst slices {win}: {wp99:.2f} ms over {wn} wrk latency samples; baseline, same slices: {bp99:.2f} ms over {bn}")
print(f"   /healthz p99 over all 10 s: baseline {allb:.2f} ms, with the burst {allt:.2f} ms")
with open(f"{tmp}/s2.result", "w") as f:
    f.write(f"{wp99:.2f} {bp99:.2f} {ok} {len(res)} {lat[0] if lat else 0:.1f} {statistics.median(lat) if lat else 0:.1f} {lat[-1] if lat else 0:.1f} {(w1 - w0) * 1000 if done else 0:.0f} {allb:.2f} {allt:.2f}\n")
EOF
python3 "$TMP/analyse.py" "$TMP" "$SLICES" "$P99_TARGET_MS"
read -r W_P99 B_P99 L_OK L_N L_MIN L_MED L_MAX L_SPAN ALL_B ALL_T < "$TMP/s2.result"

# ---- summary ----
echo
echo "== summary (load average at end: $(loadavg))"
printf '   %-40s %s\n' "/api/me req/s nginx (median round)" "$N_RPS"
printf '   %-40s %s\n' "/api/me req/s yimen (median round)" "$Y_RPS"
printf '   %-40s %s / %s\n' "/api/me p50 / p99 nginx" "$(wrk_pct "$NF_MED" 50)" "$(wrk_pct "$NF_MED" 99)"
printf '   %-40s %s / %s\n' "/api/me p50 / p99 yimen" "$(wrk_pct "$YF_MED" 50)" "$(wrk_pct "$YF_MED" 99)"
printf '   %-40s %s  [%s]\n' "/api/me ratio yimen/nginx (>= $ME_TARGET)" "$ME_RATIO" \
    "$(verdict "[[ $ME_BAD -eq 0 ]] && awk -v r=$ME_RATIO -v t=$ME_TARGET 'BEGIN { exit !(r + 0 >= t) }'")"
printf '   %-40s %s ms (baseline %s ms)  [%s]\n' "/healthz p99 during the burst (<= ${P99_TARGET_MS})" "$W_P99" "$B_P99" \
    "$(verdict "awk -v p=$W_P99 -v t=$P99_TARGET_MS 'BEGIN { exit !(p <= t) }'")"
printf '   %-40s baseline %s ms, with the burst %s ms\n' "/healthz p99 over all 10 s" "$ALL_B" "$ALL_T"
printf '   %-40s %s of %s  [%s]\n' "logins answered 200 with a token" "$L_OK" "$L_N" "$(verdict "[[ $L_OK -eq $L_N ]]")"
printf '   %-40s min %s / median %s / max %s ms; burst %s ms\n' "login latency under the burst" "$L_MIN" "$L_MED" "$L_MAX" "$L_SPAN"
printf '   %-40s %s\n' "UV_THREADPOOL_SIZE" "$POOL"
yimen_stderr_report
