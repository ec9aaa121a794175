#!/usr/bin/env bash
# tests/bench/ui.sh: the web shell's first load on a village connection, yimen
# against nginx serving the same files.
#
# Headless Chromium (DevTools network emulation: 1.6 Mbit/s down, 750 kbit/s up,
# 150 ms RTT, cache disabled) loads "/" -- the shell with its login form -- from
# yimen (2 workers, the hello and hello_lua plugins) and from nginx serving a copy of
# core/www whose index.html is the page yimen rendered (the same import map and
# ?v= URLs; nginx ignores the query), gzip on for the same types. Measured by
# tests/bench/ui_bench.py: bytes transferred (sum of transferSize over every
# request) and time to interactive (until the shell signals it is ready: the
# `yimen:ready` event or window.yimenReady), the load event, and a repeat visit
# with the cache on. Targets (issue 6): ready under 3 s, under 150 KB.
#
# Knobs: ROUNDS (default 3), YIMEN_BIN (build/yimen), NGINX_BIN (/usr/sbin/nginx).
# Needs chromium, chromium-driver, python3-selenium (make deps) and nginx.
# Run time: about 40 seconds.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
YIMEN_BIN=${YIMEN_BIN:-build/yimen}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
PYTHON=${PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"

[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 && $ROUNDS -le 9 ]] || die "ROUNDS must be 1..9"
[[ -x $YIMEN_BIN ]] || die "$YIMEN_BIN not found or not executable (run 'make' first)"
[[ -x $NGINX_BIN ]] || die "$NGINX_BIN not found (apt-get install nginx-light, or 'make bench')"
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || die "chromium / chromedriver missing (make deps)"
"$PYTHON" -c 'import selenium' 2>/dev/null || die "python3-selenium missing (make deps)"
need_tools curl
YIMEN_BIN=$(cd "$(dirname "$YIMEN_BIN")" && pwd)/$(basename "$YIMEN_BIN")

bench_tmp

# ---- yimen: 2 workers, the teaching plugins (their modules are in the import map) ----
yimen_conf "plugin_paths = { \"$ROOT/build/plugins\", \"$ROOT/lua\" }
plugins = { \"hello\", \"hello_lua\" }
www_root = \"$ROOT/core/www\""
YIMEN_ADMIN_PASSWORD=Bench-Admin-Pass-1! start_yimen

# ---- nginx: the same files, the shell page as yimen renders it ----
W=$TMP/www
cp -r "$ROOT/core/www" "$W"
curl -fsS "http://127.0.0.1:$YPORT/" -o "$W/index.html"
for d in "$ROOT"/plugins/*/www "$ROOT"/lua/*/www; do
    [[ -d $d ]] || continue
    n=$(basename "$(dirname "$d")"); mkdir -p "$W/ui"; cp -r "$d" "$W/ui/$n"
done
NGINX_MAIN=''; [[ $(id -u) == 0 ]] && NGINX_MAIN='user root;'  # its workers read $TMP (mode 0700)
start_nginx / "root $W;
        index index.html;
        location = / { add_header Cache-Control no-cache; try_files /index.html =404; }
        location / { expires max; add_header Cache-Control immutable; }" "$NGINX_MAIN" \
    "gzip on; gzip_comp_level 6; gzip_min_length 256; gzip_vary on;
    gzip_types text/css application/javascript text/javascript application/json image/svg+xml;
    types { text/html html; text/css css; text/javascript js mjs; application/json json; image/svg+xml svg; image/png png; }"

echo "bench: nginx $(nginx_version) on 127.0.0.1:$NPORT, yimen ($YIMEN_BIN) on 127.0.0.1:$YPORT"
echo "bench: $(cpu_line); chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}')"
echo "bench: shell page: yimen $(curl -fsS --compressed -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "http://127.0.0.1:$YPORT/") bytes gzip"
echo "bench: load average at start: $(loadavg)"
echo
echo "== first load of / : 1.6 Mbit/s down, 750 kbit/s up, 150 ms RTT, cache off; then a repeat visit"
"$PYTHON" "$HERE/ui_bench.py" --rounds "$ROUNDS" "yimen=http://127.0.0.1:$YPORT/" "nginx=http://127.0.0.1:$NPORT/" \
    | tee "$TMP/out.txt" | grep -v '^RESULT '

"$PYTHON" - "$TMP/out.txt" <<'PY'
import json, sys
r = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        d = json.loads(line[7:]); r[d["name"]] = d
y, n = r["yimen"], r["nginx"]
print()
print("   server  bytes (median)  body      requests  ready ms  load ms  repeat-visit bytes  repeat ready ms")
for s in (n, y):
    print("   %-6s %14d %9d %9d %9.0f %8.0f %19d %16.0f" % (s["name"], s["bytes"], s["body"], s["requests"],
          s["ready_ms"], s["load_ms"], s["repeat_bytes"], s["repeat_ready_ms"]))
ratio = lambda a, b: ("%.2f" % (a / b)) if b else "n/a"
print("   ratio yimen/nginx: bytes %s, ready %s" % (ratio(y["bytes"], n["bytes"]), ratio(y["ready_ms"], n["ready_ms"])))
print("   yimen ready measured by: %s" % y["how"])
print("   yimen files (path, transferSize, encodedBodySize):")
for f in y["files"]:
    print("     %-60s %7d %7d" % tuple(f))
ok_t = y["ready_ms"] < 3000
ok_b = y["bytes"] < 150 * 1024
print()
print("   target ready < 3000 ms: %s (%.0f ms)" % ("ok" if ok_t else "MISSED", y["ready_ms"]))
print("   target bytes < 150 KB: %s (%.1f KB)" % ("ok" if ok_b else "MISSED", y["bytes"] / 1024))
PY
yimen_stderr_report
