#!/usr/bin/env python3
"""tests/bench/ui_bench.py: the shell's first load in headless Chromium on an emulated
slow link (DevTools Network.emulateNetworkConditions: 1.6 Mbit/s down, 750 kbit/s up,
150 ms RTT, cache disabled), then a repeat visit with the cache on.

  ui_bench.py [--rounds N] NAME=URL [NAME=URL ...]

For each server, N rounds in turns (a fresh profile each), it reports:
  bytes     sum of transferSize (headers + compressed body) over the navigation and
            every resource of the page; body = sum of encodedBodySize
  ready     time to interactive: from navigation start until the login form is
            usable and the shell's module has run -- the `yimen:ready` event or
            `window.yimenReady` if the shell provides one; otherwise (a page that
            signals nothing, as nginx serving files does not run differently) the
            later of DOMContentLoaded and the end of the last module response
  load      the load event
and prints one JSON line per server with the medians (for ui.sh)."""
import json
import shutil
import statistics
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
NET = {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}

# Runs before any script of the page: records when the shell says it is ready.
PROBE = """
window.__bench = {ready: null, how: null};
addEventListener('yimen:ready', () => { if (window.__bench.ready === null) {
  window.__bench.ready = performance.now(); window.__bench.how = 'yimen:ready event'; } });
(function poll() {
  if (window.__bench.ready === null && window.yimenReady) {
    window.__bench.ready = performance.now(); window.__bench.how = 'window.yimenReady'; }
  if (window.__bench.ready === null) setTimeout(poll, 5);
})();
"""

MEASURE = """
const nav = performance.getEntriesByType('navigation')[0];
const res = performance.getEntriesByType('resource');
const all = [nav, ...res];
const js = res.filter(e => /\\.js(\\?|$)/.test(e.name));
const b = document.getElementById('login-submit');
return {
  transfer: all.reduce((s, e) => s + (e.transferSize || 0), 0),
  body: all.reduce((s, e) => s + (e.encodedBodySize || 0), 0),
  decoded: all.reduce((s, e) => s + (e.decodedBodySize || 0), 0),
  requests: all.length,
  dcl: nav.domContentLoadedEventEnd,
  load: nav.loadEventEnd,
  last_js: js.reduce((m, e) => Math.max(m, e.responseEnd), 0),
  n_js: js.length,
  ready: window.__bench.ready, how: window.__bench.how,
  button_enabled: !!(b && !b.disabled),
  foreign: all.map(e => e.name).filter(u => !u.startsWith(location.origin + '/')),
  files: res.map(e => [e.name.replace(location.origin, ''), e.transferSize, e.encodedBodySize]),
};
"""


def driver(profile):
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions", "--window-size=375,667",
              "--user-data-dir=" + profile):
        o.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)


def wait_ready(d, timeout=30):
    """Until the shell's ready signal, or (no signal) load + the login button enabled."""
    end = time.time() + timeout
    while time.time() < end:
        m = d.execute_script("return [window.__bench && window.__bench.ready, document.readyState, "
                             "!!(document.getElementById('login-submit') && "
                             "!document.getElementById('login-submit').disabled)]")
        if m[0] is not None or (m[1] == "complete" and m[2] and time.time() > end - timeout + 3):
            return
        time.sleep(0.02)


def one(url):
    profile = tempfile.mkdtemp(prefix="yimen-bench-chrome-")
    d = driver(profile)
    try:
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.emulateNetworkConditions", NET)
        d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
        d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        d.get(url)
        wait_ready(d)
        first = d.execute_script(MEASURE)
        # the repeat visit: cache on (immutable ?v= files come from it), HTML revalidated
        d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
        d.get("about:blank")
        d.get(url)
        wait_ready(d)
        again = d.execute_script(MEASURE)
        return first, again
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def tti(m):
    if m["ready"] is not None:
        return m["ready"], m["how"]
    return max(m["dcl"], m["last_js"]), "DOMContentLoaded + modules (no ready signal)"


def main(argv):
    rounds = 3
    if argv[:1] == ["--rounds"]:
        rounds = int(argv[1])
        argv = argv[2:]
    targets = [a.split("=", 1) for a in argv]
    res = {name: [] for name, _ in targets}
    for r in range(rounds):
        for name, url in targets:
            first, again = one(url)
            t, how = tti(first)
            t2, _ = tti(again)
            res[name].append((first, again, t, how, t2))
            print("  round %d %-6s bytes %7d (body %7d, %2d requests)  ready %6.0f ms (%s)  load %6.0f ms  "
                  "| repeat visit: bytes %6d ready %5.0f ms" % (r + 1, name, first["transfer"], first["body"],
                                                              first["requests"], t, how, first["load"],
                                                              again["transfer"], t2), flush=True)
            if first["foreign"]:
                print("  WARNING: requests to another host: %r" % first["foreign"])
    for name, _ in targets:
        rows = res[name]
        med = lambda xs: statistics.median(xs)  # noqa: E731
        first = rows[0][0]
        out = {"name": name, "bytes": med([x[0]["transfer"] for x in rows]),
               "body": med([x[0]["body"] for x in rows]), "decoded": med([x[0]["decoded"] for x in rows]),
               "requests": first["requests"], "ready_ms": med([x[2] for x in rows]), "how": rows[0][3],
               "load_ms": med([x[0]["load"] for x in rows]),
               "repeat_bytes": med([x[1]["transfer"] for x in rows]), "repeat_ready_ms": med([x[4] for x in rows]),
               "files": first["files"]}
        print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
