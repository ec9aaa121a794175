#!/usr/bin/env bash
# tests/bench/meetings.sh: the reference scenario of issue 9 (会议通知).
#
#   yimen, 2 workers, the demo county 云溪县 (573 units, 1,452 staff), plugins = {"meetings"}.
#   ROUNDS times: 县政府办公室 creates a notice and sends it to 188 units; the 188 clerks sign
#   and reply concurrently (REPLY_THREADS threads). Targets: the whole exchange (send + 188
#   signs + 188 replies) processed within 2 s: measured as the client's wall time from the
#   send to the last reply's answer, an upper bound of the server's span (also printed: the
#   sum of the per-request server times, yimen_request_duration_seconds_sum, which counts
#   overlapping requests' queueing once each); then the organiser's board
#   (polled in a loop during the replies) reflects each reply within 200 ms (p99).
#   No peer: the target is absolute.
#
# Run from the repository root once build/yimen and build/plugins/meetings exist. Knobs:
#   ROUNDS (default 5, 1..50), REPLY_THREADS (default 64), YIMEN_BIN (default build/yimen).
# The client is tests/bench/meetings_bench.py (python3, stdlib). 127.0.0.1 only; every
# process and temp dir it makes is removed on exit. About 15 seconds.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
REPLY_THREADS=${REPLY_THREADS:-64}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
TOTAL_TARGET_MS=2000
LAG_TARGET_MS=200

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"

[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 && $ROUNDS -le 50 ]] || die "ROUNDS must be 1..50"
[[ $REPLY_THREADS =~ ^[0-9]+$ && $REPLY_THREADS -ge 1 && $REPLY_THREADS -le 256 ]] || die "REPLY_THREADS must be 1..256"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")
PLUGINS=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/plugins
[[ -f $PLUGINS/meetings/meetings.so ]] || die "$PLUGINS/meetings/meetings.so not found (run 'make' first)"
need_tools curl python3

bench_tmp

ADMIN_PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
DEMO_PASSWORD="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
yimen_conf "plugin_paths = { \"$PLUGINS\" }
plugins = { \"meetings\" }
auth = {
    argon2 = { memory = \"64KiB\", iterations = 1 },
    rate_limit = { per_ip = 100000, per_account = 100000 },
}"
(cd "$YDIR" && YIMEN_ADMIN_PASSWORD=$ADMIN_PASSWORD YIMEN_DEMO_PASSWORD=$DEMO_PASSWORD \
    "$YIMEN_BIN" demo -c "$YCONF" > "$YDIR/demo.log" 2>&1) || { cat "$YDIR/demo.log" >&2; die "yimen demo failed"; }
YIMEN_ADMIN_PASSWORD=$ADMIN_PASSWORD start_yimen

echo "bench: yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT, 2 workers, plugins = {\"meetings\"}"
echo "bench: $(cpu_line); load average at start: $(loadavg)"
echo "bench: client tests/bench/meetings_bench.py, $ROUNDS rounds, $REPLY_THREADS threads"
python3 "$HERE/meetings_bench.py" --yport "$YPORT" --db "$YDIR/data/yimen.db" --admin-password "$ADMIN_PASSWORD" \
    --demo-password "$DEMO_PASSWORD" --rounds "$ROUNDS" --threads "$REPLY_THREADS" --out "$TMP/results" &
BG_PIDS=$!
wait "$BG_PIDS" || die "the client meetings_bench.py failed"
BG_PIDS=
# shellcheck disable=SC1091
. "$TMP/results"
echo
echo "the whole exchange (send to 188 + 188 signs + 188 replies), wall time: median $WALL_MED ms (target < $TOTAL_TARGET_MS ms): $(verdict "(( WALL_MED < TOTAL_TARGET_MS ))")"
echo "the send alone: median $SEND_MED ms; sum of the per-request server times (overlapping): median $TOTAL_MED ms, max $TOTAL_MAX ms"
echo "board GET during the replies: p50 $BOARD_P50 ms, p99 $BOARD_P99 ms"
echo "a reply shows on the board within: p99 $LAG_P99 ms, max $LAG_MAX ms (target p99 < $LAG_TARGET_MS ms): $(verdict "awk 'BEGIN { exit !($LAG_P99 < $LAG_TARGET_MS) }'")"
