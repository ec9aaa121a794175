# shellcheck shell=bash
# tests/bench/lib.sh: what the bench scripts share (sourced, never run): process and
# temp-dir cleanup, starting nginx and yimen on free loopback ports, wrk and its output.
#
# A script sets `set -euo pipefail`, its knobs (DURATION, CONNS, ROUNDS, YIMEN_BIN,
# NGINX_BIN), checks them, calls bench_tmp (makes $TMP and installs the EXIT trap),
# then start_yimen / start_nginx. Every process started here is recorded by pid
# (YIMEN_PID, NGINX_PID, WRK_PID, RELOAD_PID, and BG_PIDS for anything else) and
# stopped by cleanup; nothing is ever killed by name.

THREADS=2              # wrk threads of run_wrk
NGINX_WORKERS=2        # like yimen's `workers = 2`
WRK_ARGS=()            # extra wrk arguments for run_wrk (e.g. -H "Authorization: ...")
YIMEN_PID='' NGINX_PID='' WRK_PID='' RELOAD_PID='' BG_PIDS='' YDIR=''
TMP=''

die() { echo "bench: $*" >&2; exit 1; }

# need_tools tool...: each must be on PATH.
need_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || die "$t not found (apt-get install $t)"
    done
}

# The temp dir and the trap; call once, after the knobs are checked.
bench_tmp() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/yimen-bench.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

cleanup() {
    local rc=$?
    set +e
    for p in $RELOAD_PID $WRK_PID $BG_PIDS; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    stop_nginx
    stop_yimen
    # Workers of any generation the master did not take down (by pid, never by name).
    for p in $(sort -u "$TMP/children" 2>/dev/null); do
        kill -0 "$p" 2>/dev/null && [[ $(cat "/proc/$p/cmdline" 2>/dev/null | tr '\0' ' ') == *yimen* ]] \
            && kill -KILL "$p" 2>/dev/null
    done
    [[ -n $TMP ]] && rm -rf "$TMP"
    exit $rc
}

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
    [[ -n $YIMEN_PID ]] && pgrep -P "$YIMEN_PID" >> "$TMP/children" 2>/dev/null || true
}

# ---- yimen ----

# yimen_conf [extra config text]: picks YPORT, writes YCONF ($YDIR/yimen.conf; YDIR
# defaults to $TMP/yimen) with 2 workers, data_dir $YDIR/data and log_level warn, then
# the extra text, then $YIMEN_CONF_EXTRA (environment; for experiments, e.g.
# 'database = { synchronous = "normal" }'; the scripts print it when set).
yimen_conf() {
    YDIR=${YDIR:-$TMP/yimen}
    YPORT=$(free_port)
    mkdir -p "$YDIR/data"
    YCONF=$YDIR/yimen.conf
    cat > "$YCONF" <<EOF
listen = "127.0.0.1:$YPORT"
workers = 2
data_dir = "data"
log_level = "warn"
EOF
    if [[ -n ${1:-} ]]; then printf '%s\n' "$1" >> "$YCONF"; fi
    if [[ -n ${YIMEN_CONF_EXTRA:-} ]]; then
        printf '%s\n' "$YIMEN_CONF_EXTRA" >> "$YCONF"
        echo "bench: YIMEN_CONF_EXTRA added to the yimen config: $YIMEN_CONF_EXTRA"
    fi
}

# start_yimen: `yimen serve -c $YCONF` in the background (environment as the caller's),
# waits for /healthz. Sets YIMEN_PID.
start_yimen() {
    "$YIMEN_BIN" serve -c "$YCONF" > "$YDIR/stdout.log" 2> "$YDIR/stderr.log" &
    YIMEN_PID=$!
    if ! wait_http "http://127.0.0.1:$YPORT/healthz" 15; then
        tail -20 "$YDIR/stderr.log" >&2
        die "yimen did not answer /healthz on 127.0.0.1:$YPORT within 15 s"
    fi
    remember_children
}

# stop_yimen: SIGTERM to the master, up to 10 s for it to drain, then SIGKILL; its
# workers are remembered for cleanup. For a script that runs several servers in turn.
stop_yimen() {
    [[ -n $YIMEN_PID ]] || return 0
    remember_children
    kill -TERM "$YIMEN_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$YIMEN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$YIMEN_PID" 2>/dev/null || true
    wait "$YIMEN_PID" 2>/dev/null || true
    YIMEN_PID=
}

# The "generation" of yimen's /healthz answer (a fresh connection).
yimen_generation() {
    curl -fsS --max-time 2 "http://127.0.0.1:$YPORT/healthz" | sed -n 's/.*"generation":\([0-9]*\).*/\1/p'
}

# Prints yimen stderr lines that look like trouble (warn and above are all it logs).
yimen_stderr_report() {
    local f tag
    for f in "$TMP"/*/stderr.log; do
        [[ -f $f ]] && grep -qiE 'error|fatal|crash|signal' "$f" || continue
        tag=; [[ $f == "$TMP/yimen/stderr.log" ]] || tag=" of ${f#"$TMP"/}"
        echo "   yimen stderr (warn and above)$tag, first lines:"
        grep -iE 'error|fatal|crash|signal' "$f" | head -5 | sed 's/^/     /'
    done
}

# ---- nginx ----

# start_nginx check_path server_body [main_lines [http_lines]]: picks NPORT, writes
# $TMP/nginx/nginx.conf (NGINX_WORKERS workers, access_log off, keep-alive without a
# request cap, every temp path inside $TMP) with one server on 127.0.0.1:$NPORT holding
# server_body, starts nginx in the foreground of a background job and waits until
# check_path answers 2xx. Sets NGINX_PID and N (its directory).
start_nginx() {
    local check=$1 body=$2 main=${3:-} httpx=${4:-}
    NPORT=$(free_port)
    N=$TMP/nginx
    mkdir -p "$N/logs"
    local temp_paths="client_body_temp_path $N/client_body;" nginx_v m
    nginx_v=$("$NGINX_BIN" -V 2>&1)
    for m in proxy fastcgi uwsgi scgi; do
        [[ $nginx_v == *--without-http_${m}_module* ]] || temp_paths+=" ${m}_temp_path $N/$m;"
    done
    cat > "$N/nginx.conf" <<EOF
$main
daemon off;
master_process on;
worker_processes $NGINX_WORKERS;
pid $N/nginx.pid;
error_log $N/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    $temp_paths
    keepalive_requests 1000000;
    $httpx
    server {
        listen 127.0.0.1:$NPORT;
        $body
    }
}
EOF
    "$NGINX_BIN" -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log" > "$N/logs/stdout.log" 2>&1 &
    NGINX_PID=$!
    if ! wait_http "http://127.0.0.1:$NPORT$check" 10; then
        cat "$N/logs/error.log" "$N/logs/stdout.log" >&2 2>/dev/null
        die "nginx did not answer on 127.0.0.1:$NPORT within 10 s"
    fi
}

# stop_nginx: graceful stop (SIGQUIT), up to 5 s, then SIGKILL.
stop_nginx() {
    [[ -n $NGINX_PID ]] || return 0
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=''
}

nginx_version() { "$NGINX_BIN" -v 2>&1 | sed 's|.*/||'; }

# ---- the machine ----

cpu_line() { echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))"; }
loadavg() { cut -d" " -f1-3 /proc/loadavg; }

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
wrk_errsum() { wrk_errors "$1" | grep -o '[0-9]\+' | awk '{ s += $1 } END { print s + 0 }'; }
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ { print $NF; f = 1 } END { if (!f) print 0 }' "$1"; }
wrk_total() { awk '/requests in/ { print $1; exit }' "$1"; }

# run_wrk name url out [duration]: wrk -t$THREADS -c$CONNS --latency plus WRK_ARGS.
run_wrk() {
    wrk -t"$THREADS" -c"$CONNS" -d"${4:-$DURATION}s" --latency "${WRK_ARGS[@]}" "$2" > "$3" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk failed against $1: $(tail -3 "$3")"
    WRK_PID=
}

# One line per round, as every script prints it.
round_line() { # round name file
    printf '  round %d %-5s %10s req/s  p50 %8s  p99 %8s  errors: %s  non-2xx: %s\n' "$1" "$2" \
        "$(wrk_rps "$3")" "$(wrk_pct "$3" 50)" "$(wrk_pct "$3" 99)" "$(wrk_errors "$3")" "$(wrk_non2xx "$3")"
}

# alternate_rounds tag name url [name url ...]: a 1 s warm-up of each, then ROUNDS
# rounds taking the servers in turn, so slow drift of the machine hits all alike.
# Round r of server name goes to $TMP/<tag>-<name>-<r>.txt.
alternate_rounds() {
    local tag=$1 r i
    shift
    local -a args=("$@")
    for ((i = 0; i < ${#args[@]}; i += 2)); do
        run_wrk "${args[i]}" "${args[i + 1]}" "$TMP/warm-${args[i]}.txt" 1
    done
    for r in $(seq "$ROUNDS"); do
        for ((i = 0; i < ${#args[@]}; i += 2)); do
            local out=$TMP/$tag-${args[i]}-$r.txt
            run_wrk "${args[i]}" "${args[i + 1]}" "$out"
            round_line "$r" "${args[i]}" "$out"
        done
    done
}

# The median round by req/s (for an even ROUNDS the lower of the two middle ones);
# its p50/p99 are reported with it, so each row is one real wrk run.
median_round() { # "<tag>-<name>" -> file
    local f
    for f in "$TMP"/"$1"-[0-9]*.txt; do echo "$(wrk_rps "$f") $f"; done | sort -n | \
        awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) { print $2 }'
}

ratio() { awk -v y="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", y / n; else print "n/a" }'; }

verdict() { if eval "$1"; then echo ok; else echo MISSED; fi; }

# ---- memory ----

pss_kb() { awk '/^Pss:/ { print $2; exit }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
measure_pss() { # prints "total_kb master_kb worker1_pid:kb ..."
    local m w total line
    m=$(pss_kb "$YIMEN_PID"); total=$m; line=$m
    for w in $(pgrep -P "$YIMEN_PID"); do
        local k; k=$(pss_kb "$w"); total=$((total + k)); line+=" $w:$k"
    done
    echo "$total $line"
}
