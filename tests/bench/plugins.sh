#!/usr/bin/env bash
# tests/bench/plugins.sh: yimen's plugin routes against nginx with Lua, and plugin
# reload under load.
#
#   1. a Lua route returning a small JSON object: yimen's Lua plugin bench_lua against
#      nginx content_by_lua_block (libnginx-mod-http-lua, 2 workers each; target
#      >= 0.9x nginx), and the same route in a C plugin (bench_c) as a second row
#   2. reload under load: hello, hello_lua and 9 generated copies of hello_lua (hl1..hl9)
#      enabled; wrk for 10 s on a C and a Lua plugin route while `yimen reload` runs
#      every second; target 0 socket errors and 0 non-2xx, and each new generation
#      answering /healthz within 200 ms of the reload
#
# Run from the repository root after `make` (build/yimen, build/plugins/hello). Needs
# nginx, libnginx-mod-http-lua and lua-cjson (else scenario 1 compares with nginx
# `return 200` and says so), wrk, curl, python3, gcc. Knobs (environment):
#   DURATION  seconds per wrk run (default 10)
#   CONNS     wrk connections (default 64); wrk threads are 2
#   ROUNDS    rounds per server in scenario 1 (default 3, at least 2)
#   YIMEN_BIN the binary (default build/yimen); its plugins are in <bindir>/plugins
#   NGINX_BIN the nginx binary (default /usr/sbin/nginx)
#   NGINX_MODULES  directory of the nginx modules (default /usr/lib/nginx/modules)
#   SCENARIOS "1 2" (default), "1" or "2"
# Talks to 127.0.0.1 only; every process it starts and every temp dir it makes is
# removed on exit. Run time with the defaults: about 120 seconds.
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
NGINX_MODULES=${NGINX_MODULES:-/usr/lib/nginx/modules}
LUA_TARGET=0.9
SERVE_TARGET_MS=200
COPIES=9
SCENARIOS=${SCENARIOS:-1 2}

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 3 && $DURATION -le 60 ]] || die "DURATION must be 3..60 seconds"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 2 ]] || die "CONNS must be a number >= 2"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 2 && $ROUNDS -le 5 ]] || die "ROUNDS must be 2..5"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
[[ -x $NGINX_BIN ]] || die "$NGINX_BIN not found (apt-get install nginx-light libnginx-mod-http-lua lua-cjson)"
need_tools wrk curl python3 gcc
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")
CPLUGINS=$(dirname "$YIMEN_BIN")/plugins
[[ -f $CPLUGINS/hello/hello.so ]] || die "$CPLUGINS/hello/hello.so not found (run 'make' first)"
[[ $SCENARIOS =~ ^(1|2|1\ 2)$ ]] || die "SCENARIOS must be \"1 2\", \"1\" or \"2\""
[[ $SCENARIOS != *2* || -f $REPO/lua/hello_lua/init.lua ]] || die "$REPO/lua/hello_lua/init.lua not found (scenario 2 needs it; SCENARIOS=1 runs without)"

bench_tmp
P=$TMP/plugins
mkdir -p "$P/bench_lua" "$P/bench_c"

# ---- the two bench plugins: one public route answering {"hello":"world"} ----
cat > "$P/bench_lua/init.lua" <<'EOF'
-- bench_lua: one public route returning a small JSON object (tests/bench/plugins.sh).
local yimen = require "yimen"
local M = { name = "bench_lua", version = "1.0.0", core_min = "0.1", requires = {} }
function M.init()
    yimen.route("GET", "/api/bench_lua/ping", "public", function(req)
        return 200, { hello = "world" }
    end)
end
return M
EOF
cat > "$TMP/bench_c.c" <<'EOF'
/* bench_c: one public route returning a small JSON object (tests/bench/plugins.sh). */
#include "yimen.h"

static const ym_api *api;

static void ping(ym_request *r, void *ud)
{
    (void)ud;
    api->resp_json(r, 200, "{\"hello\":\"world\"}");
}

static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
    return api->route(self, "GET", "/api/bench_c/ping", "public", ping, NULL);
}

const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "bench_c", .version = "1.0.0", .core_min = "0.1", .requires = NULL,
    .init = init, .start = NULL, .stop = NULL,
};
EOF
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -I"$REPO/core/include" \
    -o "$P/bench_c/bench_c.so" "$TMP/bench_c.c" || die "cannot compile the bench_c plugin"

# The copies of hello_lua: hl1..hl9, every "hello_lua" (table, routes, permissions,
# module name) renamed.
copy_hello_lua() {
    local i
    for i in $(seq "$COPIES"); do
        cp -r "$REPO/lua/hello_lua" "$P/hl$i"
        grep -rlZ hello_lua "$P/hl$i" | xargs -0 -r sed -i "s/hello_lua/hl$i/g"
    done
}

# ---- helper scripts ----
cat > "$TMP/reload.py" <<'EOF'
# Every `period` s: run `yimen reload`, then poll on fresh connections every 5 ms (at
# most 5 s) until (a) /healthz is answered by the new generation (each worker reports
# its own) and (b) /metrics shows it as the generation serving (yimen_generation: the
# master switched to it; the old one drains). Polls that reach an old worker after (b)
# are counted: the old generation should not take new connections by then.
import http.client, json, re, subprocess, sys, time
ybin, conf, port, count, period, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
errors = []
def get(path):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        if r.status == 200:
            return body
        errors.append(f"{path} {r.status}")
    except Exception as e:
        errors.append(f"{path} {e!r}")
    return None
def answering():
    b = get("/healthz")
    return json.loads(b)["generation"] if b else None
def serving():
    b = get("/metrics")
    m = b and re.search(r"^yimen_generation (\d+)$", b, re.M)
    return int(m.group(1)) if m else None
res = []
highest = serving() or 0
start = time.monotonic()
for k in range(count):
    time.sleep(max(0.0, start + (k + 1) * period - time.monotonic()))
    want = highest + 1
    t0 = time.monotonic()
    p = subprocess.run([ybin, "reload", "-c", conf], capture_output=True, text=True, timeout=10)
    t1 = time.monotonic()
    first = switched = None
    polls = stale = 0
    while time.monotonic() < t0 + 5 and (first is None or switched is None):
        polls += 1
        g = answering()
        if g is not None and g >= want and first is None:
            first = time.monotonic()
        if g is not None and g < want and switched is not None:
            stale += 1
        if switched is None:
            s = serving()
            if s is not None and s >= want:
                switched = time.monotonic()
        time.sleep(0.005)
    # 20 more polls after the switch: does an old worker still take new connections?
    for _ in range(20 if switched else 0):
        g = answering()
        stale += g is not None and g < want
        time.sleep(0.005)
    highest = max(highest, serving() or 0)
    ms = lambda t: (t - t0) * 1000 if t else None
    res.append({"rc": p.returncode, "err": p.stderr.strip()[:200], "want": want, "polls": polls, "stale": stale,
                "cli_ms": (t1 - t0) * 1000, "first_ms": ms(first), "switch_ms": ms(switched)})
with open(out, "w") as f:
    json.dump({"reloads": res, "poll_errors": errors}, f)
EOF
cat > "$TMP/reloads.py" <<'EOF'
# Prints each reload of reload.py's output (unless argv[2] is "brief"), then "RESULT n
# answered min median max switched min median max stale poll_errors".
import json, statistics, sys
d = json.load(open(sys.argv[1]))
r = d["reloads"]
f = lambda v: f"{v:.1f} ms" if v is not None else "NOT within 5 s"
for i, x in enumerate(r if sys.argv[2:] != ["brief"] else [], 1):
    rc = f"; rc {x['rc']}: {x['err']}" if x["rc"] else ""
    st = f"; {x['stale']} polls after the switch answered by the old generation" if x["stale"] else ""
    print(f"   reload {i} (to generation {x['want']}): first answer {f(x['first_ms'])}, switched {f(x['switch_ms'])} "
          f"after `yimen reload` started (the command itself {x['cli_ms']:.1f} ms; {x['polls']} polls){st}{rc}")
def stats(key):
    v = sorted(x[key] for x in r if x["rc"] == 0 and x[key] is not None)
    return len(v), (f"{v[0]:.1f} {statistics.median(v):.1f} {v[-1]:.1f}" if v else "- - -")
na, a = stats("first_ms")
ns, s = stats("switch_ms")
if d["poll_errors"]:
    print(f"   poll errors: {len(d['poll_errors'])}, first: {d['poll_errors'][0]}")
print(f"RESULT {len(r)} {na} {a} {ns} {s} {sum(x['stale'] for x in r)} {len(d['poll_errors'])}")
EOF

PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
login() { # -> token of admin
    curl -fsS --max-time 30 -H 'Content-Type: application/json' \
        --data-binary "$(python3 -c 'import json,sys; print(json.dumps({"username": "admin", "password": sys.argv[1]}))' "$PASSWORD")" \
        "http://127.0.0.1:$YPORT/api/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
plugin_states() { # token -> "name:state ..." from GET /api/admin/plugins
    curl -fsS --max-time 5 -H "Authorization: Bearer $1" "http://127.0.0.1:$YPORT/api/admin/plugins" | python3 -c '
import json, sys
print(" ".join(p["name"] + ":" + p["state"] + ("(" + p["reason"] + ")" if p.get("reason") else "") for p in json.load(sys.stdin)["items"]))'
}
count_enabled() { tr ' ' '\n' <<<"$1" | grep -c ':enabled$' || true; }

echo "bench: yimen $YIMEN_BIN, C plugins from $CPLUGINS, Lua from $REPO/lua, generated ones in a temp dir"
echo "bench: $(cpu_line); load average at start: $(loadavg) (anything else running skews the numbers)"

# ---- scenario 1: a small JSON from a Lua route (and a C one) vs nginx + Lua ----
scenario1() {
    PEER="nginx content_by_lua_block, cjson.encode of the same table, Content-Length set"
    NLABEL=nginx-lua
    if [[ -f $NGINX_MODULES/ndk_http_module.so && -f $NGINX_MODULES/ngx_http_lua_module.so ]] \
        && [[ -n $(find /usr/lib -path '*/lua/5.1/cjson.so' -print -quit 2>/dev/null) ]]; then
        start_nginx /api/bench_lua/ping "location = /api/bench_lua/ping {
            default_type application/json;
            content_by_lua_block {
                local cjson = require \"cjson\"
                local body = cjson.encode({ hello = \"world\" })
                ngx.header.content_length = #body
                ngx.print(body)
            }
        }" "load_module $NGINX_MODULES/ndk_http_module.so;
load_module $NGINX_MODULES/ngx_http_lua_module.so;"
    else
        echo "bench: WARNING: libnginx-mod-http-lua or lua-cjson is not installed; the peer is nginx 'return 200', NOT Lua" >&2
        PEER="nginx return 200 (NOT Lua: libnginx-mod-http-lua or lua-cjson missing)"
        NLABEL=nginx-ret
        start_nginx /api/bench_lua/ping "location = /api/bench_lua/ping {
            default_type application/json;
            return 200 '{\"hello\":\"world\"}';
        }"
    fi

    YDIR=$TMP/yimen-1
    yimen_conf "plugin_paths = { \"$CPLUGINS\", \"$REPO/lua\", \"$P\" }
plugins = { \"bench_lua\", \"bench_c\" }"
    YIMEN_ADMIN_PASSWORD=$PASSWORD start_yimen
    local nbody lbody cbody s f r
    nbody=$(curl -fsS "http://127.0.0.1:$NPORT/api/bench_lua/ping")
    lbody=$(curl -fsS "http://127.0.0.1:$YPORT/api/bench_lua/ping") \
        || { tail -5 "$YDIR/stderr.log" >&2; die "yimen GET /api/bench_lua/ping failed"; }
    cbody=$(curl -fsS "http://127.0.0.1:$YPORT/api/bench_c/ping") \
        || { tail -5 "$YDIR/stderr.log" >&2; die "yimen GET /api/bench_c/ping failed"; }
    [[ $nbody == "$lbody" && $lbody == "$cbody" ]] || die "bodies differ: nginx '$nbody', bench_lua '$lbody', bench_c '$cbody'"

    echo
    echo "== scenario 1: GET /api/bench_lua/ping (Lua plugin) and /api/bench_c/ping (C plugin) against $PEER"
    echo "   nginx $(nginx_version) on 127.0.0.1:$NPORT, worker_processes 2; yimen on 127.0.0.1:$YPORT, workers = 2"
    echo "   body ${#lbody} bytes: $lbody; wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, $ROUNDS rounds each, in turns (1 s warm-up each first)"
    alternate_rounds s1 "$NLABEL" "http://127.0.0.1:$NPORT/api/bench_lua/ping" \
        yimen-lua "http://127.0.0.1:$YPORT/api/bench_lua/ping" \
        yimen-c "http://127.0.0.1:$YPORT/api/bench_c/ping"
    NF_MED=$(median_round "s1-$NLABEL")
    LF_MED=$(median_round s1-yimen-lua)
    CF_MED=$(median_round s1-yimen-c)
    N_RPS=$(wrk_rps "$NF_MED"); L_RPS=$(wrk_rps "$LF_MED"); C_RPS=$(wrk_rps "$CF_MED")
    L_RATIO=$(ratio "$L_RPS" "$N_RPS"); C_RATIO=$(ratio "$C_RPS" "$N_RPS")
    S1_BAD=$(for f in "$TMP"/s1-yimen-*-[0-9]*.txt; do echo $(($(wrk_non2xx "$f") + $(wrk_errsum "$f"))); done | awk '{ s += $1 } END { print s + 0 }')
    echo
    echo "   server      req/s (median round)   p50 ms     p99 ms   ratio to $NLABEL"
    for s in "$NLABEL" yimen-lua yimen-c; do
        case $s in yimen-lua) f=$LF_MED r=$L_RATIO ;; yimen-c) f=$CF_MED r=$C_RATIO ;; *) f=$NF_MED r=1.00 ;; esac
        printf '   %-9s %20s %10s %10s   %s\n' "$s" "$(wrk_rps "$f")" "$(to_ms "$(wrk_pct "$f" 50)")" "$(to_ms "$(wrk_pct "$f" 99)")" "$r"
    done
    echo "   yimen non-2xx + socket errors over all rounds: $S1_BAD"
    stop_yimen
    stop_nginx
}

# ---- scenario 2: hello, hello_lua, hl1..hl9; reload every second ----
scenario2() {
    local i k f u enabled="\"hello\", \"hello_lua\"" not_enabled
    copy_hello_lua
    for i in $(seq "$COPIES"); do enabled+=", \"hl$i\""; done
    YDIR=$TMP/yimen-2
    yimen_conf "plugin_paths = { \"$CPLUGINS\", \"$REPO/lua\", \"$P\" }
plugins = { $enabled }"
    YIMEN_ADMIN_PASSWORD=$PASSWORD start_yimen
    TOKEN=$(login) || die "login failed"
    STATES=$(plugin_states "$TOKEN")
    not_enabled=$(tr ' ' '\n' <<<"$STATES" | grep -E '^(hello|hello_lua|hl[0-9]+):' | grep -v ':enabled$' || true)
    [[ -z $not_enabled ]] || { tail -5 "$YDIR/stderr.log" >&2; die "plugins not enabled: $not_enabled"; }
    N_ENABLED=$(count_enabled "$STATES")
    [[ $N_ENABLED -eq $((COPIES + 2)) ]] || die "$N_ENABLED plugins enabled, not $((COPIES + 2)): $STATES"
    C_URL="http://127.0.0.1:$YPORT/api/hello/items"
    L_URL="http://127.0.0.1:$YPORT/api/hello_lua/greetings"
    for u in "$C_URL" "$L_URL"; do
        curl -fsS -o /dev/null --max-time 5 -H "Authorization: Bearer $TOKEN" "$u" || die "GET $u with the admin token failed"
    done

    echo
    echo "== scenario 2: reload every second under load, ${DURATION}s"
    echo "   plugins enabled ($N_ENABLED): $STATES"
    echo "   wrk -t1 -c$((CONNS / 2)) on GET /api/hello/items (C) and the same on GET /api/hello_lua/greetings (Lua), both with the admin token"
    # For comparison: the same measure without load, 3 reloads a second apart.
    python3 "$TMP/reload.py" "$YIMEN_BIN" "$YCONF" "$YPORT" 3 1 "$TMP/idle.json" &
    RELOAD_PID=$!
    wait "$RELOAD_PID" || die "the reload driver failed"
    RELOAD_PID=
    remember_children
    python3 "$TMP/reloads.py" "$TMP/idle.json" brief > "$TMP/idle.result"
    read -r _ I_N _ I_MIN I_MED I_MAX _ I_SMIN I_SMED I_SMAX _ < <(grep '^RESULT' "$TMP/idle.result")
    echo "   without load, $I_N reloads: first answer from the new generation min $I_MIN / median $I_MED / max $I_MAX ms;" \
        "switched min $I_SMIN / median $I_SMED / max $I_SMAX ms"
    sleep 1
    echo "   under load:"
    GEN_BEFORE=$(yimen_generation)
    WRK_PID=
    wrk -t1 -c$((CONNS / 2)) -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$C_URL" > "$TMP/s2-c.txt" 2>&1 &
    WRK_PID+=" $!"
    wrk -t1 -c$((CONNS / 2)) -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$L_URL" > "$TMP/s2-lua.txt" 2>&1 &
    WRK_PID+=" $!"
    python3 "$TMP/reload.py" "$YIMEN_BIN" "$YCONF" "$YPORT" $((DURATION - 1)) 1 "$TMP/reloads.json" &
    RELOAD_PID=$!
    # remember every generation's workers for cleanup while the reloads go on
    (for _ in $(seq $((DURATION * 4 + 40))); do kill -0 "$RELOAD_PID" 2>/dev/null || break; remember_children; sleep 0.25; done) &
    local watch=$!
    BG_PIDS+=" $watch"
    wait "$RELOAD_PID" || die "the reload driver failed"
    RELOAD_PID=
    for i in $WRK_PID; do wait "$i" || die "wrk failed: $(tail -3 "$TMP"/s2-*.txt)"; done
    WRK_PID=
    wait "$watch" 2>/dev/null || true
    BG_PIDS=${BG_PIDS% "$watch"}
    sleep 1
    GEN_AFTER=$(yimen_generation)
    remember_children
    STATES_AFTER=$(plugin_states "$TOKEN")
    N_AFTER=$(count_enabled "$STATES_AFTER")

    S2_ERRSUM=0 S2_NON2XX=0
    for k in c lua; do
        f=$TMP/s2-$k.txt
        u=$C_URL; [[ $k == lua ]] && u=$L_URL
        echo "   ${u#http://127.0.0.1:"$YPORT"}: $(wrk_total "$f") requests ($(wrk_rps "$f") req/s), p50 $(wrk_pct "$f" 50), p99 $(wrk_pct "$f" 99)"
        echo "      socket errors: $(wrk_errors "$f"); non-2xx/3xx: $(wrk_non2xx "$f")"
        S2_ERRSUM=$((S2_ERRSUM + $(wrk_errsum "$f")))
        S2_NON2XX=$((S2_NON2XX + $(wrk_non2xx "$f")))
    done
    python3 "$TMP/reloads.py" "$TMP/reloads.json" > "$TMP/s2.result"
    grep -v '^RESULT' "$TMP/s2.result"
    read -r _ R_N R_OK R_MIN R_MED R_MAX R_SOK R_SMIN R_SMED R_SMAX R_STALE R_POLLERR < <(grep '^RESULT' "$TMP/s2.result")
    echo "   generation $GEN_BEFORE -> $GEN_AFTER; plugins enabled after: $N_AFTER (before: $N_ENABLED)"
    [[ $STATES_AFTER == "$STATES" ]] || echo "   plugin states after: $STATES_AFTER"
}

if [[ $SCENARIOS == *1* ]]; then scenario1; fi
if [[ $SCENARIOS == *2* ]]; then scenario2; fi

# ---- summary ----
echo
echo "== summary (load average at end: $(loadavg))"
if [[ $SCENARIOS == *1* ]]; then
    printf '   %-46s %s\n' "req/s $NLABEL (median round)" "$N_RPS"
    printf '   %-46s %s\n' "req/s yimen bench_lua (median round)" "$L_RPS"
    printf '   %-46s %s\n' "req/s yimen bench_c (median round)" "$C_RPS"
    printf '   %-46s %s / %s / %s\n' "p50 $NLABEL / yimen-lua / yimen-c" "$(wrk_pct "$NF_MED" 50)" "$(wrk_pct "$LF_MED" 50)" "$(wrk_pct "$CF_MED" 50)"
    printf '   %-46s %s / %s / %s\n' "p99 $NLABEL / yimen-lua / yimen-c" "$(wrk_pct "$NF_MED" 99)" "$(wrk_pct "$LF_MED" 99)" "$(wrk_pct "$CF_MED" 99)"
    printf '   %-46s %s  [%s]%s\n' "ratio yimen Lua route / $NLABEL (>= $LUA_TARGET)" "$L_RATIO" \
        "$(verdict "[[ $S1_BAD -eq 0 ]] && awk -v r=$L_RATIO -v t=$LUA_TARGET 'BEGIN { exit !(r + 0 >= t) }'")" \
        "$([[ $NLABEL == nginx-lua ]] || echo '  (peer WITHOUT Lua: not the target comparison)')"
    printf '   %-46s %s\n' "ratio yimen C route / $NLABEL" "$C_RATIO"
fi
if [[ $SCENARIOS == *2* ]]; then
    printf '   %-46s %s  [%s]\n' "reload: socket errors (both wrk)" "$S2_ERRSUM" "$(verdict "[[ $S2_ERRSUM -eq 0 ]]")"
    printf '   %-46s %s  [%s]\n' "reload: non-2xx/3xx (both wrk)" "$S2_NON2XX" "$(verdict "[[ $S2_NON2XX -eq 0 ]]")"
    printf '   %-46s %s of %s; min %s / median %s / max %s ms  [%s]\n' "reload: new generation answers (<= ${SERVE_TARGET_MS} ms)" \
        "$R_OK" "$R_N" "$R_MIN" "$R_MED" "$R_MAX" \
        "$(verdict "[[ $R_N -gt 0 && $R_OK -eq $R_N ]] && awk -v m=$R_MAX -v t=$SERVE_TARGET_MS 'BEGIN { exit !(m <= t) }'")"
    printf '   %-46s %s of %s; min %s / median %s / max %s ms  [%s]\n' "reload: master switched (<= ${SERVE_TARGET_MS} ms)" \
        "$R_SOK" "$R_N" "$R_SMIN" "$R_SMED" "$R_SMAX" \
        "$(verdict "[[ $R_N -gt 0 && $R_SOK -eq $R_N ]] && awk -v m=$R_SMAX -v t=$SERVE_TARGET_MS 'BEGIN { exit !(m <= t) }'")"
    printf '   %-46s %s  [%s]\n' "reload: old generation answering after switch" "$R_STALE" "$(verdict "[[ $R_STALE -eq 0 ]]")"
    printf '   %-46s %s  [%s]\n' "reload: failed /healthz or /metrics polls" "$R_POLLERR" "$(verdict "[[ $R_POLLERR -eq 0 ]]")"
    printf '   %-46s answer min %s / median %s / max %s ms; switch min %s / median %s / max %s ms\n' "reload without load, for comparison" \
        "$I_MIN" "$I_MED" "$I_MAX" "$I_SMIN" "$I_SMED" "$I_SMAX"
    printf '   %-46s %s -> %s; %s plugins enabled before, %s after\n' "reload: generation" "$GEN_BEFORE" "$GEN_AFTER" "$N_ENABLED" "$N_AFTER"
fi
yimen_stderr_report
