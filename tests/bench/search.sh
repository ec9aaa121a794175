#!/usr/bin/env bash
# tests/bench/search.sh: GET /api/search over 100,000 Chinese records, against nginx
# serving a static file of the same size.
#
#   1. yimen is started once (schema, admin) and stopped; the demo county is loaded
#      (`yimen demo`); 100,000 documents made of county-government words are written
#      into the search index with the sqlite3 CLI, in one transaction, into both tables
#      ym_search_put writes: core_search_docs (kind, ref, title, body, unit_id,
#      permission, updated_at), core_search_fts (rowid = core_search_docs.id,
#      title, body) and core_search_title (rowid, title). Units are the demo
#      county's; permission "units.read".
#   2. yimen is started again, admin signs in, and wrk (-t2 -c$CONNS, Lua: Bearer
#      header, a rotation of queries) measures GET /api/search: 3+ character queries
#      hitting many and few records (FTS5 trigram), a 2-character query (the LIKE
#      path) and one with a kind filter. nginx serves a static file as long as the
#      first query's answer, in the same run; rounds alternate.
#   Target (the issue): p99 <= 20 ms at low concurrency.
#
# Query plan (checked at the start of every run and printed). A 3+ character query is
# two streams read one after the other, newest first, each without a sort: the title
# matches from the title-only index, then the rest from the title-and-body index
# (skipping ids that a second title stream shows to match in the title):
#   SCAN core_search_title VIRTUAL TABLE INDEX 192:M1<   ('"q"', rowid < cursor, DESC)
#   SCAN core_search_fts VIRTUAL TABLE INDEX 192:M2<     ('"q"', rowid < cursor, DESC)
# (with kind=, each adds CORRELATED SCALAR SUBQUERY ... SEARCH core_search_docs USING
# INTEGER PRIMARY KEY), so a page stops after limit + 1 visible rows; each examined id
# is then read from core_search_docs by primary key. Until schema 016 both streams
# were core_search_fts ('title : "q"', '"q" NOT (title : "q")') in one UNION ALL.
# The 1-2 character LIKE path is
#   SEARCH core_search_docs USING INTEGER PRIMARY KEY (rowid>?)
# (id order, stopped at limit + 1 visible rows; a rare pair scans the whole table).
# Before the fix (bm25 over every match, snippet() per match in the sort):
#   SCAN f VIRTUAL TABLE INDEX 0:M2 / SEARCH d USING INTEGER PRIMARY KEY /
#   USE TEMP B-TREE FOR ORDER BY  -- the index was used, but every match was ranked.
#
# Run from the repository root once build/yimen exists. Knobs (environment):
#   DURATION  seconds per wrk run (default 10)
#   CONNS     wrk connections (default 4); wrk threads are 2
#   ROUNDS    rounds per server (default 3, 2..5)
#   DOCS      documents in the index (default 100000)
#   YIMEN_BIN the binary (default build/yimen)
#   NGINX_BIN the nginx binary (default /usr/sbin/nginx)
# Talks to 127.0.0.1 only; every process it starts and every temp dir it makes is
# removed on exit. Run time with the defaults: about 90 seconds.
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-4}
ROUNDS=${ROUNDS:-3}
DOCS=${DOCS:-100000}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
P99_TARGET_MS=20

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 60 ]] || die "DURATION must be 1..60 seconds"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 2 ]] || die "CONNS must be a number >= 2"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 2 && $ROUNDS -le 5 ]] || die "ROUNDS must be 2..5"
[[ $DOCS =~ ^[0-9]+$ && $DOCS -ge 1000 && $DOCS -le 1000000 ]] || die "DOCS must be 1000..1000000"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
[[ -x $NGINX_BIN ]] || die "$NGINX_BIN not found (apt-get install nginx-light, or 'make bench')"
need_tools wrk curl python3 sqlite3
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")

bench_tmp

# ---- 1. schema and admin, the demo county, the documents ----
PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
yimen_conf 'auth = { rate_limit = { per_ip = 100000, per_account = 100000 } }'
YIMEN_ADMIN_PASSWORD=$PASSWORD start_yimen
stop_yimen
DB=$YDIR/data/yimen.db
YIMEN_DEMO_PASSWORD="Demo-$PASSWORD" "$YIMEN_BIN" demo -c "$YCONF" > "$YDIR/demo.log" 2>&1 \
    || die "yimen demo failed: $(tail -3 "$YDIR/demo.log")"

# The generator prints SQL (BEGIN ... COMMIT) for the sqlite3 CLI: seeded, so every
# run indexes the same text. Titles like "关于做好青石镇春耕备耕工作的通知", bodies of
# 4-8 clauses (~150-300 characters). Some phrases are common ("安全生产" in about a
# quarter of the documents), some rare ("茶叶产业园" in about 0.3 %).
cat > "$TMP/gen.py" <<'EOF'
import random, sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(20261127)
con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
units = con.execute("SELECT id, name FROM core_units WHERE active = 1").fetchall()
towns = [u for u in units if u[1].endswith(("镇", "乡", "街道"))] or units
con.close()
verbs = ["做好", "加强", "开展", "推进", "落实", "规范", "部署", "印发", "调整", "组织"]
topics = ["春耕备耕", "防汛抗旱", "安全生产", "森林防火", "招商引资", "项目建设", "乡村振兴", "人居环境整治",
          "疫情防控", "秸秆禁烧", "农村公路养护", "饮水安全", "耕地保护", "低保审核", "医保缴费", "义务教育",
          "信访维稳", "河长制", "矛盾纠纷排查", "营商环境", "高标准农田", "集体经济", "消防安全", "食品安全"]
heads = ["工作", "专项行动", "督查检查", "项目", "培训", "会议", "考核", "宣传月活动"]
kinds_t = ["通知", "通报", "意见", "方案", "请示", "报告", "会议纪要", "督办单"]
clauses = ["各乡镇人民政府、县直各部门", "根据县委县政府工作安排", "为切实{t}工作", "经研究决定",
           "请各单位高度重视{t}", "严格落实属地管理责任", "于本月底前将{t}情况报县政府办公室",
           "县督查室将适时开展督办", "对工作不力的单位予以通报批评", "召开{t}工作推进会议",
           "各村（社区）要明确专人负责", "做好{t}台账管理", "确保各项措施落到实处",
           "本项目总投资约{m}万元", "招商项目签约{k}个", "完成{t}任务的{p}%",
           "请于{d}日前报送{t}统计表", "联系人：县{t}办公室", "切实做好安全生产和应急值守",
           "防汛物资储备到位", "春耕生产有序推进", "加强部门协作形成工作合力"]
rare = ["茶叶产业园", "云溪古镇保护", "光伏扶贫电站"]
def clause(t):
    return rnd.choice(clauses).format(t=t, m=rnd.randint(50, 90000), k=rnd.randint(1, 30),
                                      p=rnd.randint(10, 100), d=rnd.randint(1, 28))
now = int(time.time() * 1000)
out = sys.stdout
out.write("PRAGMA journal_mode=WAL;\nBEGIN IMMEDIATE;\n")
def q(s):
    return "'" + s.replace("'", "''") + "'"
for i in range(1, n + 1):
    uid, uname = rnd.choice(units)
    town = rnd.choice(towns)[1]
    t = rnd.choice(topics)
    title = "关于%s%s%s%s的%s" % (rnd.choice(verbs), town if rnd.random() < 0.6 else "", t, rnd.choice(heads),
                                 rnd.choice(kinds_t))
    parts = [clause(t) for _ in range(rnd.randint(4, 8))]
    if rnd.random() < 0.25 and "安全生产" not in title:
        parts.insert(rnd.randint(0, len(parts)), "强化安全生产责任")
    if rnd.random() < 0.003:
        parts.insert(rnd.randint(0, len(parts)), "推进%s建设" % rnd.choice(rare[:1]))
    if rnd.random() < 0.003:
        parts.insert(rnd.randint(0, len(parts)), rnd.choice(rare[1:]))
    body = "%s：%s。" % (uname, "，".join(parts))
    kind = "bench.task" if i % 10 < 3 else "bench.notice"
    out.write("INSERT INTO core_search_docs (kind, ref, title, body, unit_id, permission, updated_at) "
              "VALUES (%s, %s, %s, %s, %d, 'units.read', %d);\n" % (q(kind), q("%s:%d" % (kind, i)), q(title),
                                                                   q(body), uid, now))
# the same rows into the index, rowid = core_search_docs.id, as ym_search_put does
out.write("INSERT INTO core_search_fts (rowid, title, body) SELECT id, title, body FROM core_search_docs "
          "WHERE kind LIKE 'bench.%';\n")
out.write("INSERT INTO core_search_title (rowid, title) SELECT id, title FROM core_search_docs "
          "WHERE kind LIKE 'bench.%';\nCOMMIT;\n")
EOF
T0=$SECONDS
python3 "$TMP/gen.py" "$DB" "$DOCS" | sqlite3 -bail "$DB" > /dev/null || die "filling the index failed"
FILL_S=$((SECONDS - T0))
NDOCS=$(sqlite3 "$DB" "SELECT count(*) FROM core_search_docs")
NFTS=$(sqlite3 "$DB" "SELECT count(*) FROM core_search_fts")
[[ $NDOCS == "$NFTS" ]] || die "core_search_docs has $NDOCS rows, core_search_fts $NFTS"
NTITLE=$(sqlite3 "$DB" "SELECT count(*) FROM core_search_title")
[[ $NDOCS == "$NTITLE" ]] || die "core_search_docs has $NDOCS rows, core_search_title $NTITLE"
DBSIZE=$(du -m "$DB" | cut -f1)

# ---- the queries: path, expected hits ----
# name|q|kind|path (FTS or LIKE)
QUERIES=(
    "many|安全生产||fts"
    "some|防汛抗旱||fts"
    "few|茶叶产业园||fts"
    "like2|督办||like"
    "kind|会议纪要|bench.task|fts"
)
urlq() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
PATHS=()
for e in "${QUERIES[@]}"; do
    IFS='|' read -r name q kind _ <<<"$e"
    p="/api/search?q=$(urlq "$q")"
    [[ -n $kind ]] && p+="&kind=$kind"
    PATHS+=("$p")
done

# Query plans as the C code asks them (search.c); printed, and checked for the FTS index.
FTS_SQL="SELECT rowid FROM core_search_title WHERE core_search_title MATCH '\"安全生产\"' AND rowid < 9223372036854775807 AND (NULL IS NULL OR (SELECT kind FROM core_search_docs WHERE id = core_search_title.rowid) = NULL) ORDER BY rowid DESC"
FTS_SQL2="SELECT rowid FROM core_search_fts WHERE core_search_fts MATCH '\"安全生产\"' AND rowid < 9223372036854775807 AND (NULL IS NULL OR (SELECT kind FROM core_search_docs WHERE id = core_search_fts.rowid) = NULL) ORDER BY rowid DESC"
PLAN_FTS=$(sqlite3 "$DB" "EXPLAIN QUERY PLAN $FTS_SQL"; sqlite3 "$DB" "EXPLAIN QUERY PLAN $FTS_SQL2")
PLAN_LIKE=$(sqlite3 "$DB" "EXPLAIN QUERY PLAN SELECT id FROM core_search_docs WHERE id > 0 AND (NULL IS NULL OR kind = NULL) AND (title LIKE '%督办%' ESCAPE '\\' OR body LIKE '%督办%' ESCAPE '\\') ORDER BY id LIMIT 5000")
[[ $PLAN_FTS == *"core_search_title VIRTUAL TABLE INDEX"*":M"*"core_search_fts VIRTUAL TABLE INDEX"*":M"* && $PLAN_FTS != *"TEMP B-TREE"* ]] \
    || die "the FTS query does not stream from the FTS5 index: $PLAN_FTS"

# ---- 2. serve, sign in ----
YIMEN_ADMIN_PASSWORD=$PASSWORD start_yimen
login_json() { python3 -c 'import json,sys; print(json.dumps({"username": "admin", "password": sys.argv[1]}))' "$PASSWORD"; }
LOGIN_OUT=$(curl -sS --max-time 30 -w '\n%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$(login_json)" "http://127.0.0.1:$YPORT/api/auth/login")
[[ $(tail -1 <<<"$LOGIN_OUT") == 200 ]] || die "login failed: $(head -1 <<<"$LOGIN_OUT")"
TOKEN=$(head -1 <<<"$LOGIN_OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

echo "bench: nginx $(nginx_version), yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT"
echo "bench: $(cpu_line); load average at start: $(loadavg) (anything else running skews the numbers)"
echo "bench: $NDOCS documents in core_search_docs/core_search_fts (demo county, $DOCS generated), written in ${FILL_S} s; database ${DBSIZE} MiB"
echo "bench: query plan, 3+ characters: $(tr '\n' ';' <<<"$PLAN_FTS")"
echo "bench: query plan, 1-2 characters: $(tr '\n' ';' <<<"$PLAN_LIKE")"
echo
echo "== the queries, one at a time (curl, unloaded; admin sees every row): matches in the index, items, bytes, ms"
i=0
for e in "${QUERIES[@]}"; do
    IFS='|' read -r name q kind path <<<"$e"
    if [[ $path == fts ]]; then
        m=$(sqlite3 "$DB" "SELECT count(*) FROM core_search_fts f JOIN core_search_docs d ON d.id = f.rowid WHERE core_search_fts MATCH '\"$q\"'${kind:+ AND d.kind = '$kind'}")
    else
        m=$(sqlite3 "$DB" "SELECT count(*) FROM core_search_docs WHERE title LIKE '%$q%' OR body LIKE '%$q%'")
    fi
    out=$(curl -sS -o "$TMP/resp-$name.json" -w '%{http_code} %{size_download} %{time_total}' \
        -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$YPORT${PATHS[i]}")
    read -r code size secs <<<"$out"
    [[ $code == 200 ]] || die "${PATHS[i]} answered $code: $(head -c 300 "$TMP/resp-$name.json")"
    items=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$TMP/resp-$name.json")
    printf '   %-6s %-24s %-5s %7s matches %4s items %6s bytes %7s ms\n' "$name" "$q${kind:+ kind=$kind}" "$path" \
        "$m" "$items" "$size" "$(awk -v t="$secs" 'BEGIN { printf "%.1f", t * 1000 }')"
    i=$((i + 1))
done

# ---- nginx: a static file as long as the first answer ----
mkdir -p "$TMP/www"
cp "$TMP/resp-many.json" "$TMP/www/search.json"
# $TMP is 0700: as root, nginx's workers (nobody otherwise) must be root to read the file
NGINX_MAIN=''; [[ $(id -u) == 0 ]] && NGINX_MAIN='user root;'
start_nginx /search.json "location = /search.json { root $TMP/www; default_type application/json; }" "$NGINX_MAIN"
SLEN=$(wc -c < "$TMP/www/search.json")

# wrk: the Bearer header and the rotation, one query after the other on every connection
{
    echo 'local paths = {'
    for p in "${PATHS[@]}"; do printf '    "%s",\n' "$p"; done
    echo '}'
    cat <<EOF
local i = 0
request = function()
    i = i % #paths + 1
    return wrk.format("GET", paths[i], { ["Authorization"] = "Bearer $TOKEN" })
end
EOF
} > "$TMP/rotate.lua"

echo
echo "== GET /api/search, the ${#QUERIES[@]} queries in rotation, wrk -t$THREADS -c$CONNS -d${DURATION}s; nginx: a ${SLEN}-byte static file; $ROUNDS rounds each, alternating (1 s warm-up each first)"
# alternate_rounds with a different wrk script per server: nginx gets none
run_one() { # name url out duration
    local extra=()
    [[ $1 == yimen ]] && extra=(-s "$TMP/rotate.lua")
    wrk -t"$THREADS" -c"$CONNS" -d"${4}s" --latency "${extra[@]}" "$2" > "$3" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk failed against $1: $(tail -3 "$3")"
    WRK_PID=
}
NURL="http://127.0.0.1:$NPORT/search.json"
YURL="http://127.0.0.1:$YPORT"
run_one nginx "$NURL" "$TMP/warm-nginx.txt" 1
run_one yimen "$YURL" "$TMP/warm-yimen.txt" 1
for r in $(seq "$ROUNDS"); do
    run_one nginx "$NURL" "$TMP/s-nginx-$r.txt" "$DURATION"; round_line "$r" nginx "$TMP/s-nginx-$r.txt"
    run_one yimen "$YURL" "$TMP/s-yimen-$r.txt" "$DURATION"; round_line "$r" yimen "$TMP/s-yimen-$r.txt"
done
NF=$(median_round s-nginx)
YF=$(median_round s-yimen)
N_RPS=$(wrk_rps "$NF"); Y_RPS=$(wrk_rps "$YF")
Y_P50=$(to_ms "$(wrk_pct "$YF" 50)"); Y_P99=$(to_ms "$(wrk_pct "$YF" 99)")
N_P50=$(to_ms "$(wrk_pct "$NF" 50)"); N_P99=$(to_ms "$(wrk_pct "$NF" 99)")
Y_BAD=$(for f in "$TMP"/s-yimen-[0-9]*.txt; do echo $(($(wrk_non2xx "$f") + $(wrk_errsum "$f"))); done | awk '{ s += $1 } END { print s + 0 }')
WORST_P99=$(for f in "$TMP"/s-yimen-[0-9]*.txt; do to_ms "$(wrk_pct "$f" 99)"; echo; done | sort -n | tail -1)

echo
echo "== summary (load average at end: $(loadavg))"
echo "   server   req/s (median round)   p50 ms     p99 ms"
printf '   %-6s %20s %10s %10s\n' nginx "$N_RPS" "$N_P50" "$N_P99"
printf '   %-6s %20s %10s %10s\n' yimen "$Y_RPS" "$Y_P50" "$Y_P99"
printf '   %-40s %s\n' "ratio yimen/nginx req/s" "$(ratio "$Y_RPS" "$N_RPS")"
printf '   %-40s %s\n' "ratio yimen/nginx p99" "$(ratio "$Y_P99" "$N_P99")"
printf '   %-40s %s ms (worst round %s ms)  [%s]\n' "search p99 (<= $P99_TARGET_MS ms)" "$Y_P99" "$WORST_P99" \
    "$(verdict "[[ $Y_BAD -eq 0 ]] && awk -v p=$Y_P99 -v t=$P99_TARGET_MS 'BEGIN { exit !(p <= t) }'")"
printf '   %-40s %s\n' "yimen non-2xx + socket errors" "$Y_BAD"
yimen_stderr_report
