#!/usr/bin/env python3
"""tests/bench/dispatch_bench.py: the client of tests/bench/dispatch.sh (run by it, not by hand).

Reuses tests/bench/sse_fanout.py (sign-in, stream opening, percentiles). Stdlib only.

  1. reads the demo county's units and clerks from the database (read-only), gives
     d02.leader a role with test.send on 县政府办公室 (the sender side), signs in the
     573 clerks and opens one GET /api/events for each (and one for the sender);
  2. ROUNDS rounds: POST /api/test/dispatches to all 573 units (one request) on a kept-
     alive admin connection: the time to its 201, and from sending it to the arrival of
     the notification (found by the round's unique title) on every clerk's stream; then
     nginx: one small GET on each of 573 idle keep-alive connections in one burst (time
     to the last answer), as tests/bench/sse.sh does;
  3. the last round's dispatch: 573 clerks sign concurrently (THREADS threads, keep-
     alive): wall time, per-request p50/p99, statuses; then the board must count exactly
     573 signed, and the sender's stream must have 573 receipt events. nginx: the same
     573 requests (GET) from the same pool.

Per-round lines to stdout; KEY=VALUE lines to --out (sourced by dispatch.sh).
"""
import argparse
import concurrent.futures
import json
import os
import select
import sqlite3
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sse_fanout import Api, Conn, connect, login_all, ms, now_ns, open_batches, parse_head, pct  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yport", type=int, required=True)
    ap.add_argument("--nport", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--admin-password", required=True)
    ap.add_argument("--demo-password", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--gap", type=float, default=0.3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    res = {}

    def say(*x):
        print(*x, flush=True)

    con = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True, timeout=10)
    units = [r[0] for r in con.execute("SELECT id FROM core_units ORDER BY id")]
    clerks = dict(con.execute("SELECT unit_id, username FROM core_users WHERE username LIKE '%.clerk'"))
    d02 = con.execute("SELECT unit_id, id FROM core_users WHERE username = 'd02.leader'").fetchone()
    con.close()
    if len(units) != 573 or len(clerks) != 573:
        sys.exit("the demo county has %d units / %d clerks, 573 wanted" % (len(units), len(clerks)))

    api = Api(a.yport)
    st, body = api.call("POST", "/api/auth/login", {"username": "admin", "password": a.admin_password})
    if st != 200:
        sys.exit("admin login: %s %s" % (st, body))
    admin = body["token"]
    st, body = api.call("POST", "/api/roles", {"key": "bench_sender", "name": "压测发文", "permissions": ["test.send"]},
                        token=admin)
    if st != 201:
        sys.exit("POST /api/roles: %s %s" % (st, body))
    st, body = api.call("POST", "/api/grants", {"user_id": d02[1], "role": "bench_sender", "unit_id": d02[0],
                                                 "include_descendants": False}, token=admin)
    if st != 201:
        sys.exit("POST /api/grants: %s %s" % (st, body))
    names = [clerks[u] for u in units]
    t = time.time()
    tokens = login_all(a.yport, names + ["d02.leader"], a.demo_password)
    sender_token = tokens.pop()
    say("   signed in 573 clerks and the sender in %.2f s" % (time.time() - t))
    reqs = [("GET /api/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
             "Accept: text/event-stream\r\n\r\n" % tok).encode() for tok in tokens + [sender_token]]
    streams = open_batches(a.yport, reqs, b"retry: 3000", 100)
    sender_stream = streams.pop()
    workers = {}
    for c in streams:
        workers[c.worker] = workers.get(c.worker, 0) + 1
    say("   %d clerk streams open (per worker pid: %s) + the sender's" % (
        len(streams), ", ".join("%d: %d" % kv for kv in sorted(workers.items()))))
    nreq = b"GET /burst HTTP/1.1\r\nHost: bench\r\n\r\n"
    nconns = open_batches(a.nport, [nreq] * len(streams), b"data: ok", 100)

    ep = select.epoll()
    by_fd = {}
    for c in streams + nconns + [sender_stream]:
        by_fd[c.fd] = c
        ep.register(c.fd, select.EPOLLIN)
    adm = connect(a.yport)
    adm.setblocking(False)
    admc = Conn(adm)
    by_fd[admc.fd] = admc
    ep.register(admc.fd, select.EPOLLIN)

    def drain(conns, want, deadline, stop_on=None):
        left = sum(1 for c in conns if c.got is None)
        while (left or (stop_on and stop_on.got is None)) and now_ns() < deadline:
            for fd, ev in ep.poll(0.5):
                c = by_fd[fd]
                try:
                    data = c.sock.recv(262144)
                except BlockingIOError:
                    continue
                t = now_ns()
                if not data:
                    raise RuntimeError("a connection closed during the rounds")
                if c is sender_stream:
                    c.buf = (c.buf + data)[-4096:]
                    continue
                c.buf += data
                if c.got is None and want(c):
                    c.got = t
                    if c is not stop_on:
                        left -= 1
                        c.buf = b""
                elif c.got is None and c is not admc:
                    c.buf = c.buf[-600:]
        return left

    run_id = os.urandom(3).hex()
    recips = [{"unit_id": u} for u in units]
    y_post, y_last, y_med, n_last = [], [], [], []
    missing = 0
    last_id = None
    for r in range(1, a.rounds + 1):
        title = "分发压测-%s-%02d" % (run_id, r)
        mark = title.encode()
        for c in streams:
            c.got, c.buf = None, b""
        admc.got, admc.buf, admc.head = None, b"", False
        body = json.dumps({"source": "test", "record": "bench:%d" % r, "sender_unit": d02[0], "sender_user": d02[1],
                           "title": title, "urgency": "urgent", "recipients": recips,
                           "reply_form": {"fields": [{"name": "attending", "type": "boolean", "required": True}]},
                           "deadline_in": 86400}, ensure_ascii=False).encode()
        req = ("POST /api/test/dispatches HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (admin, len(body))).encode() + body

        def want(c):
            if c is admc:
                return parse_head(c) and b"}" in c.buf
            return mark in c.buf

        t0 = now_ns()
        adm.sendall(req)
        left = drain(streams, want, t0 + 10 * 10**9, stop_on=admc)
        if admc.got is None or admc.status != 201:
            raise RuntimeError("POST /api/test/dispatches: %s %r" % (admc.status, admc.buf[:300]))
        last_id = json.loads(admc.buf[admc.buf.index(b"{"):].decode())["id"]
        got = [c.got - t0 for c in streams if c.got is not None]
        missing += left
        y_post.append(admc.got - t0)
        y_last.append(max(got) if got else 0)
        y_med.append(statistics.median(got) if got else 0)
        time.sleep(a.gap)
        for c in nconns:
            c.got, c.buf = None, b""
        t1 = now_ns()
        for c in nconns:
            c.sock.send(nreq)
        nleft = drain(nconns, lambda c: b"data: ok" in c.buf, t1 + 10 * 10**9)
        missing += nleft
        ngot = [c.got - t1 for c in nconns if c.got is not None]
        n_last.append(max(ngot) if ngot else 0)
        say("  round %2d  yimen: POST %6.2f ms, median clerk %6.2f ms, last clerk %6.2f ms, missing %d | "
            "nginx burst: last %6.2f ms, missing %d" % (r, ms(y_post[-1]), ms(y_med[-1]), ms(y_last[-1]), left,
                                                       ms(n_last[-1]), nleft))
        time.sleep(a.gap)

    # ---- 573 concurrent signs on the last dispatch ----
    local = threading.local()

    def sign(tok):
        if not hasattr(local, "api"):
            local.api = Api(a.yport)
        t = now_ns()
        st, _ = local.api.call("POST", "/api/dispatches/%d/sign" % last_id, {}, token=tok)
        return st, now_ns() - t

    sender_stream.buf = b""
    t = now_ns()
    with concurrent.futures.ThreadPoolExecutor(a.threads) as ex:
        out = list(ex.map(sign, tokens))
    wall = now_ns() - t
    codes = {}
    for st, _ in out:
        codes[st] = codes.get(st, 0) + 1
    lat = [d for _, d in out]
    with concurrent.futures.ThreadPoolExecutor(a.threads) as ex:
        again = list(ex.map(sign, tokens[:100]))
    st, board = Api(a.yport).call("GET", "/api/dispatches/%d/board" % last_id, token=sender_token)
    counts = board["counts"] if st == 200 else {}
    # the sender's receipt events (counted from the live rows: the stream may coalesce)
    con = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True, timeout=10)
    events = con.execute("SELECT count(*) FROM core_notifications WHERE user_id = ? AND type = 'core.dispatch.receipt' "
                         "AND json_extract(data, '$.dispatch_id') = ? AND json_extract(data, '$.action') = 'sign'",
                         (d02[1], last_id)).fetchone()[0]
    double = con.execute("SELECT count(*) FROM core_audit WHERE action = 'dispatches.sign' AND target = ? "
                         "AND result = 'ok'", ("dispatch:%d" % last_id,)).fetchone()[0]
    con.close()

    local_n = threading.local()

    def nget(_):
        if not hasattr(local_n, "c"):
            import http.client
            local_n.c = http.client.HTTPConnection("127.0.0.1", a.nport, timeout=30)
        t = now_ns()
        local_n.c.request("GET", "/burst")
        local_n.c.getresponse().read()
        return now_ns() - t

    t = now_ns()
    with concurrent.futures.ThreadPoolExecutor(a.threads) as ex:
        nlat = list(ex.map(nget, range(len(tokens))))
    nwall = now_ns() - t
    say("   573 concurrent signs (%d threads): %.1f ms wall, p50 %.2f ms, p99 %.2f ms, statuses %s; again: %s; "
        "board signed %s of %s; audit ok rows %d; sender's receipt events %d" % (
            a.threads, ms(wall), ms(pct(lat, 50)), ms(pct(lat, 99)), codes,
            sorted(set(s for s, _ in again)), counts.get("signed"), counts.get("total"), double, events))
    say("   nginx, the same 573 requests (GET /burst) from the same pool: %.1f ms wall, p50 %.2f ms, p99 %.2f ms" % (
        ms(nwall), ms(pct(nlat, 50)), ms(pct(nlat, 99))))

    for key, vals in (("Y_POST", y_post), ("Y_LAST", y_last), ("Y_MED", y_med), ("N_LAST", n_last)):
        res[key + "_P50"] = "%.2f" % ms(pct(vals, 50))
        res[key + "_P99"] = "%.2f" % ms(pct(vals, 99))
        res[key + "_MAX"] = "%.2f" % ms(max(vals))
    res["MISSING"] = missing
    res["SIGN_WALL"] = "%.1f" % ms(wall)
    res["SIGN_P50"] = "%.2f" % ms(pct(lat, 50))
    res["SIGN_P99"] = "%.2f" % ms(pct(lat, 99))
    res["SIGN_OK"] = codes.get(200, 0)
    res["SIGN_AGAIN_409"] = sum(1 for s, _ in again if s == 409)
    res["BOARD_SIGNED"] = counts.get("signed", -1)
    res["AUDIT_OK"] = double
    res["EVENTS"] = events
    res["N_WALL"] = "%.1f" % ms(nwall)
    res["N_P99"] = "%.2f" % ms(pct(nlat, 99))
    with open(a.out, "w") as f:
        for k, v in res.items():
            f.write("%s=%s\n" % (k, v))


if __name__ == "__main__":
    main()
