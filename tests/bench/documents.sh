#!/usr/bin/env bash
# tests/bench/documents.sh: the documents plugin (文件阅办, issue 8) at the county's scale.
#
#   0. yimen (plugins = {"documents"}, synchronous = FULL: the default) is started once for
#      its schema and admin and stopped; the county's units are written by the bulk import
#      (`yimen unit import`: the office, 22 townships with 20 villages each, 111
#      departments = 573 recipient units); yimen starts again and
#      tests/bench/documents_bench.py setup makes the roles and users over HTTP.
#   1. The disk's ceiling: COMMITS one-row commits with SQLite WAL synchronous=FULL in the
#      same data directory (documents_bench.py fsync): fsync'd commits per second.
#   2. Replay: tests/bench/documents_replay.c (built here with the system compiler against
#      libcurl and jansson) runs realistic flows (draft → submit → review → sign-off →
#      dispatch to 1..22 units → archive; per recipient: sign → register → handling or
#      circulation to 3 readers → archive) through the HTTP API from PROCS × CTHREADS
#      threads until STEPS rows of the flow log (流转) are written.
#      Total time and steps/s next to the ceiling; extrapolated to 619,184 steps when STEPS
#      is smaller; the rows in documents_flow are counted to check.
#   3. Dispatch of one document to all 573 units: DISPATCHES documents signed off, then
#      each dispatched in one request (timed): p50, p99, max.
#   4. Lists and search at DOCS documents: yimen is stopped, documents_bench.py fill writes
#      DOCS documents (with recipients, incoming records, circulation rows and search
#      entries, over every box and unit) with the sqlite3 CLI in one transaction; yimen
#      starts again and wrk (-t2 -c$CONNS, bearer header) runs each box as the user it is
#      for — the office (one unit: drafts, review, sign-off, sent, archived), the county
#      desk (573 units: to_receive, incoming, handle, archived_incoming), a township
#      clerk (one unit), a reader (circulating) — and GET /api/search; then nginx serving
#      a static file as long as the desk's incoming page.
#   Targets (the issue): replay of 619,184 steps < 5 minutes; dispatch to 573 units p99
#   < 100 ms; lists and search p99 < 20 ms.
#
# Run from the repository root once build/yimen and build/plugins exist. Knobs:
#   STEPS       flow-log rows of the replay (default 619184; e.g. STEPS=30000 for a quick run)
#   PROCS, CTHREADS replay client threads: PROCS × CTHREADS flows at once (default 4 and 8)
#   COMMITS     commits of the ceiling probe (default 300)
#   DISPATCHES  documents dispatched to 573 units (default 40)
#   DOCS        documents written for the lists (default 1000000; 0 skips part 4)
#   DURATION    seconds per wrk run (default 5); CONNS wrk connections (default 4)
#   YIMEN_BIN   the binary (default build/yimen); NGINX_BIN (default /usr/sbin/nginx)
# Talks to 127.0.0.1 only; every process it starts and every temp dir it makes is
# removed on exit.
set -euo pipefail

STEPS=${STEPS:-619184}
PROCS=${PROCS:-4}
CTHREADS=${CTHREADS:-8}
COMMITS=${COMMITS:-300}
DISPATCHES=${DISPATCHES:-40}
DOCS=${DOCS:-1000000}
DURATION=${DURATION:-5}
CONNS=${CONNS:-4}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
COUNTY_STEPS=619184
REPLAY_TARGET_S=300
DISPATCH_TARGET_MS=100
LIST_TARGET_MS=20
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"

[[ $STEPS =~ ^[0-9]+$ && $STEPS -ge 100 ]] || die "STEPS must be a number >= 100"
[[ $PROCS =~ ^[0-9]+$ && $PROCS -ge 1 && $PROCS -le 32 ]] || die "PROCS must be 1..32"
[[ $CTHREADS =~ ^[0-9]+$ && $CTHREADS -ge 1 && $CTHREADS -le 64 ]] || die "CTHREADS must be 1..64"
[[ $COMMITS =~ ^[0-9]+$ && $COMMITS -ge 10 ]] || die "COMMITS must be a number >= 10"
[[ $DISPATCHES =~ ^[0-9]+$ && $DISPATCHES -ge 1 && $DISPATCHES -le 1000 ]] || die "DISPATCHES must be 1..1000"
[[ $DOCS =~ ^[0-9]+$ && $DOCS -le 5000000 ]] || die "DOCS must be 0..5000000"
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 60 ]] || die "DURATION must be 1..60 seconds"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 2 ]] || die "CONNS must be a number >= 2"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
[[ -x $NGINX_BIN ]] || die "$NGINX_BIN not found (apt-get install nginx-light, or 'make bench')"
need_tools wrk curl python3 sqlite3 cc pkg-config
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")
PLUGINS=$(dirname "$YIMEN_BIN")/plugins
[[ -f $PLUGINS/documents/documents.so ]] || die "$PLUGINS/documents/documents.so not found (run 'make' first)"
CLIENT=$HERE/documents_bench.py

bench_tmp
REPLAY=$TMP/documents_replay
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -o "$REPLAY" "$HERE/documents_replay.c" $(pkg-config --cflags --libs libcurl jansson) -pthread \
    || die "building documents_replay.c failed (apt-get install libcurl4-openssl-dev libjansson-dev)"

# ---- 0. schema, units, users ----
PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
yimen_conf "plugin_paths = { \"$PLUGINS\" }
plugins = { \"documents\" }
auth = { rate_limit = { per_ip = 100000, per_account = 100000 } }"
YIMEN_ADMIN_PASSWORD=$PASSWORD start_yimen
stop_yimen
DB=$YDIR/data/yimen.db
python3 "$CLIENT" units > "$TMP/units.csv"
(cd "$YDIR" && "$YIMEN_BIN" unit import -c "$YCONF" "$TMP/units.csv" > "$YDIR/import.log" 2>&1) \
    || die "yimen unit import failed: $(tail -3 "$YDIR/import.log")"
NUNITS=$(sqlite3 "$DB" "SELECT count(*) FROM core_units")
YIMEN_ADMIN_PASSWORD=$PASSWORD start_yimen
URL=http://127.0.0.1:$YPORT
python3 "$CLIENT" setup "$URL" "$PASSWORD" "$TMP/users.json" || die "setup over HTTP failed"
SYNC=$(sqlite3 "$DB" "PRAGMA journal_mode" | tr -d '\n')

echo "bench: nginx $(nginx_version), yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT, 2 workers, plugins = {\"documents\"}, database synchronous = FULL (default), journal $SYNC"
echo "bench: $(cpu_line); load average at start: $(loadavg)"
echo "bench: $NUNITS units in the directory (bulk import); users: office, county desk, a township clerk, 8 readers"

# ---- 1. the disk's fsync'd-commit ceiling ----
CEIL_JSON=$(python3 "$CLIENT" fsync "$YDIR/data" "$COMMITS")
CEIL=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["per_s"])' "$CEIL_JSON")
echo
echo "== 1. the disk: $COMMITS one-row commits, SQLite WAL synchronous=FULL, in the data directory"
echo "   $CEIL_JSON"

# ---- 2. the replay ----
echo
echo "== 2. replay: $STEPS flow-log steps through the HTTP API ($PROCS x $CTHREADS client threads = $((PROCS * CTHREADS)) concurrent flows)"
FLOW0=$(sqlite3 "$DB" "SELECT count(*) FROM documents_flow")
REPLAY_JSON=$("$REPLAY" "$URL" "$TMP/users.json" "$STEPS" "$PROCS" "$CTHREADS")
echo "   $REPLAY_JSON"
read -r RSTEPS RREQ RSECS RERR < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["steps"], j["requests"], j["seconds"], j["errors"])' "$REPLAY_JSON")
FLOW1=$(sqlite3 "$DB" "SELECT count(*) FROM documents_flow")
NDOCS=$(sqlite3 "$DB" "SELECT count(*) FROM documents_docs")
NINC=$(sqlite3 "$DB" "SELECT count(*) FROM documents_incoming")
SPS=$(awk -v s="$RSTEPS" -v t="$RSECS" 'BEGIN { printf "%.0f", s / t }')
RPS=$(awk -v s="$RREQ" -v t="$RSECS" 'BEGIN { printf "%.0f", s / t }')
EXTRA=$(awk -v s="$SPS" -v n=$COUNTY_STEPS 'BEGIN { printf "%.0f", n / s }')
echo "   flow-log rows written: $((FLOW1 - FLOW0)) (client count $RSTEPS); documents $NDOCS, incoming records $NINC; errors $RERR"
echo "   $RSTEPS steps in $RSECS s = $SPS steps/s ($RPS requests/s); ceiling $CEIL fsync'd commits/s -> $(ratio "$SPS" "$CEIL") steps per commit-time"
echo "   the county's $COUNTY_STEPS steps at this rate: $EXTRA s"

# ---- 3. dispatch to 573 units ----
echo
echo "== 3. dispatch of one document to all 573 units ($DISPATCHES documents, one request each, sequential)"
DISP_JSON=$(python3 "$CLIENT" dispatch "$URL" "$TMP/users.json" "$DISPATCHES")
echo "   $DISP_JSON"
DP99=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p99"])' "$DISP_JSON")

# ---- 4. lists and search at DOCS documents ----
WORST=n/a
if [[ $DOCS -gt 0 ]]; then
    stop_yimen
    read -r OFFICE_U DESK_U T1_U READER_U READERS < <(python3 -c '
import json,sys; u=json.load(open(sys.argv[1]))["users"]
print(u["office"]["id"], u["desk"]["id"], u["t1clerk"]["id"], u["readers"][0]["id"], ",".join(str(r["id"]) for r in u["readers"]))' "$TMP/users.json")
    T0=$SECONDS
    python3 "$CLIENT" fill "$DB" "$DOCS" "$OFFICE_U" "$DESK_U" "$READERS" | sqlite3 -bail "$DB" > /dev/null \
        || die "filling the documents failed"
    # the title-only index (schema 016) as ym_search_put writes it, for rows the fill left out
    sqlite3 -bail "$DB" "INSERT INTO core_search_title (rowid, title) SELECT id, title FROM core_search_docs
        WHERE id > (SELECT coalesce(max(rowid), 0) FROM core_search_title) ORDER BY id" \
        || die "indexing the titles failed"
    FILL_S=$((SECONDS - T0))
    NDOCS=$(sqlite3 "$DB" "SELECT count(*) FROM documents_docs")
    NINC=$(sqlite3 "$DB" "SELECT count(*) FROM documents_incoming")
    NSEARCH=$(sqlite3 "$DB" "SELECT count(*) FROM core_search_docs WHERE kind = 'documents'")
    DBSIZE=$(du -m "$DB" | cut -f1)
    YIMEN_ADMIN_PASSWORD=$PASSWORD start_yimen
    URL=http://127.0.0.1:$YPORT
    tok() { python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))["users"]; print(u[sys.argv[2]]["token"] if sys.argv[2] != "reader" else u["readers"][0]["token"])' "$TMP/users.json" "$1"; }
    T1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["towns"][0])' "$TMP/users.json")
    echo
    echo "== 4. lists and search: $NDOCS documents, $NINC incoming records, $NSEARCH search entries (written in ${FILL_S} s; database ${DBSIZE} MiB)"
    Y3=$(($(date +%Y) - 3)); Y0=$(date +%Y)
    CASES=(
        "office|drafts|box=drafts"
        "office|review|box=review"
        "office|signoff|box=signoff"
        "office|sent|box=sent"
        "office|archived|box=archived"
        "office|archived+type|box=archived&type=%E5%87%BD"
        "office|archived+date|box=archived&from=$Y3-01-01&to=$Y3-06-30"
        "desk|to_receive|box=to_receive"
        "desk|incoming|box=incoming"
        "desk|incoming+urg|box=incoming&urgency=%E7%89%B9%E6%80%A5"
        "desk|handle|box=handle"
        "desk|arch_in|box=archived_incoming"
        "desk|arch_in+unit|box=archived_incoming&unit=$T1"
        "t1clerk|t1:incoming|box=incoming"
        "t1clerk|t1:arch_in|box=archived_incoming"
        "reader|circulating|box=circulating"
        "desk|search|SEARCH:q=%E6%A3%AE%E6%9E%97%E9%98%B2%E7%81%AB"
        "desk|search:no|SEARCH:q=%E5%8E%BF%E6%94%BF%E5%8A%9E%E5%8F%91%E3%80%94$Y0%E3%80%95"
    )
    echo "   each once (curl, unloaded): items, bytes, ms"
    for e in "${CASES[@]}"; do
        IFS='|' read -r who name qs <<<"$e"
        if [[ $qs == SEARCH:* ]]; then u="$URL/api/search?kind=documents&${qs#SEARCH:}"; else u="$URL/api/documents?$qs"; fi
        out=$(curl -sS -o "$TMP/list-$name.json" -w '%{http_code} %{size_download} %{time_total}' \
            -H "Authorization: Bearer $(tok "$who")" "$u")
        read -r code size secs <<<"$out"
        [[ $code == 200 ]] || die "$u answered $code: $(head -c 300 "$TMP/list-$name.json")"
        items=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$TMP/list-$name.json")
        printf '   %-8s %-14s %4s items %7s bytes %8s ms\n' "$who" "$name" "$items" "$size" \
            "$(awk -v t="$secs" 'BEGIN { printf "%.1f", t * 1000 }')"
    done
    mkdir -p "$TMP/www"
    cp "$TMP/list-incoming.json" "$TMP/www/list.json"
    NGINX_MAIN=''; [[ $(id -u) == 0 ]] && NGINX_MAIN='user root;'
    start_nginx /list.json "location = /list.json { root $TMP/www; default_type application/json; }" "$NGINX_MAIN"
    SLEN=$(wc -c < "$TMP/www/list.json")
    wrk_one() { # name url out duration [lua]
        local extra=()
        [[ -n ${5:-} ]] && extra=(-s "$5")
        wrk -t"$THREADS_WRK" -c"$CONNS" -d"${4}s" --latency "${extra[@]}" "$2" > "$3" 2>&1 &
        WRK_PID=$!
        wait "$WRK_PID" || die "wrk failed against $1: $(tail -3 "$3")"
        WRK_PID=
    }
    THREADS_WRK=2
    echo
    echo "== wrk -t$THREADS_WRK -c$CONNS -d${DURATION}s per list (1 s warm-up first); nginx: a ${SLEN}-byte static file"
    printf '   %-8s %-14s %9s %9s %9s %6s  %s\n' user list req/s "p50 ms" "p99 ms" bad "p99 < $LIST_TARGET_MS ms"
    wrk_one nginx "http://127.0.0.1:$NPORT/list.json" "$TMP/warm-nginx.txt" 1
    wrk_one nginx "http://127.0.0.1:$NPORT/list.json" "$TMP/w-nginx.txt" "$DURATION"
    NGINX_RPS=$(wrk_rps "$TMP/w-nginx.txt")
    WORST=0
    for e in "${CASES[@]}"; do
        IFS='|' read -r who name qs <<<"$e"
        if [[ $qs == SEARCH:* ]]; then u="$URL/api/search?kind=documents&${qs#SEARCH:}"; else u="$URL/api/documents?$qs"; fi
        printf 'request = function() return wrk.format("GET", nil, { ["Authorization"] = "Bearer %s" }) end\n' \
            "$(tok "$who")" > "$TMP/auth-$who.lua"
        wrk_one "$name" "$u" "$TMP/warm-$name.txt" 1 "$TMP/auth-$who.lua"
        f=$TMP/w-$name.txt
        wrk_one "$name" "$u" "$f" "$DURATION" "$TMP/auth-$who.lua"
        p99=$(to_ms "$(wrk_pct "$f" 99)"); bad=$(($(wrk_non2xx "$f") + $(wrk_errsum "$f")))
        printf '   %-8s %-14s %9s %9s %9s %6s  %s  (%s x nginx req/s)\n' "$who" "$name" "$(wrk_rps "$f")" \
            "$(to_ms "$(wrk_pct "$f" 50)")" "$p99" "$bad" \
            "$(verdict "[[ $bad -eq 0 ]] && awk -v p=$p99 -v t=$LIST_TARGET_MS 'BEGIN { exit !(p < t) }'")" \
            "$(ratio "$(wrk_rps "$f")" "$NGINX_RPS")"
        WORST=$(awk -v a="$WORST" -v b="$p99" 'BEGIN { print (b > a) ? b : a }')
    done
    f=$TMP/w-nginx.txt
    printf '   %-8s %-14s %9s %9s %9s %6s\n' nginx static "$NGINX_RPS" "$(to_ms "$(wrk_pct "$f" 50)")" \
        "$(to_ms "$(wrk_pct "$f" 99)")" "$(($(wrk_non2xx "$f") + $(wrk_errsum "$f")))"
fi

echo
echo "== summary (load average at end: $(loadavg))"
printf '   %-52s %s s  [%s]\n' "replay of $COUNTY_STEPS steps (measured $RSTEPS; < $REPLAY_TARGET_S s)" "$EXTRA" \
    "$(verdict "[[ $EXTRA -lt $REPLAY_TARGET_S && $RERR -eq 0 ]]")"
printf '   %-52s %s steps/s vs %s fsync%s commits/s\n' "replay rate, disk ceiling" "$SPS" "$CEIL" "'d"
printf '   %-52s %s ms  [%s]\n' "dispatch to 573 units, p99 (< $DISPATCH_TARGET_MS ms)" "$DP99" \
    "$(verdict "awk -v p=$DP99 -v t=$DISPATCH_TARGET_MS 'BEGIN { exit !(p < t) }'")"
if [[ $WORST != n/a ]]; then
    printf '   %-52s %s ms  [%s]\n' "lists and search p99, worst (< $LIST_TARGET_MS ms)" "$WORST" \
        "$(verdict "awk -v p=$WORST -v t=$LIST_TARGET_MS 'BEGIN { exit !(p < t) }'")"
fi
yimen_stderr_report
