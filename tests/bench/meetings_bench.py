#!/usr/bin/env python3
"""tests/bench/meetings_bench.py: the client of tests/bench/meetings.sh (run by it, not by hand).

The reference scenario of issue 9 on the demo county: a notice to 188 units, all sign and
reply through the API concurrently.

  1. gives d02.leader a role with meetings.* on 县政府办公室 (the organiser), signs in the
     188 clerks of the first 188 units that are not the county nor the organiser;
  2. ROUNDS rounds, each a new meeting: create, send to the 188 units (latency of the
     send: one request, 188 receipts), then every clerk signs and replies concurrently
     (THREADS threads, keep-alive). Measured: wall time of the exchange, and the server-
     side time: the growth of yimen_request_duration_seconds_sum (GET /metrics, nothing
     else running) over the send and the 376 sign/reply requests (overlapping requests
     each count their queueing); the board must then
     count 188 replied and the attendance exactly;
  3. one more meeting with the organiser polling GET /api/meetings/:id/board in a loop
     while the clerks reply: for each reply, the time from its 200 to the end of the first
     board GET (started after it) that counts it: "the board reflects each reply within".

KEY=VALUE lines to --out (sourced by meetings.sh).
"""
import argparse
import concurrent.futures
import datetime
import os
import sqlite3
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sse_fanout import Api, login_all, pct  # noqa: E402

N = 188


def metric_sum(port):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith("yimen_request_duration_seconds_sum"):
            return float(line.split()[-1])
    raise RuntimeError("no yimen_request_duration_seconds_sum in /metrics")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yport", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--admin-password", required=True)
    ap.add_argument("--demo-password", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    def say(*x):
        print(*x, flush=True)

    con = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True, timeout=10)
    d02_unit, d02_user = con.execute("SELECT unit_id, id FROM core_users WHERE username = 'd02.leader'").fetchone()
    rows = con.execute("SELECT u.id, c.username FROM core_units u JOIN core_users c ON c.unit_id = u.id AND "
                       "c.username LIKE '%.clerk' WHERE u.kind <> 'county' AND u.id <> ? ORDER BY u.id", (d02_unit,))
    units = rows.fetchall()[:N]
    con.close()
    if len(units) != N:
        sys.exit("the demo county has only %d units with a clerk" % len(units))
    adm = Api(a.yport)
    st, body = adm.call("POST", "/api/auth/login", {"username": "admin", "password": a.admin_password})
    assert st == 200, body
    atok = body["token"]
    st, body = adm.call("POST", "/api/roles", {"key": "bench_mt", "name": "会议组织",
                                              "permissions": ["meetings.read", "meetings.send", "meetings.manage"]}, atok)
    assert st == 201, body
    st, body = adm.call("POST", "/api/grants", {"user_id": d02_user, "role": "bench_mt", "unit_id": d02_unit,
                                               "include_descendants": False}, atok)
    assert st == 201, body
    org = login_all(a.yport, ["d02.leader"], a.demo_password)[0]
    tokens = login_all(a.yport, [u for _, u in units], a.demo_password)
    say("bench: %d clerks signed in" % len(tokens))
    oapi = Api(a.yport)
    local = threading.local()

    def api():
        if not hasattr(local, "api"):
            local.api = Api(a.yport)
        return local.api

    def meeting(title):
        start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).isoformat(timespec="seconds")
        st, m = oapi.call("POST", "/api/meetings", {"title": title, "start_at": start, "place": "县政府三楼会议室",
                                                    "attendance": "主要负责人"}, org)
        assert st == 201, m
        t0 = time.perf_counter()
        st, m = oapi.call("POST", "/api/meetings/%d/send" % m["id"], {"unit_ids": [u for u, _ in units]}, org)
        assert st == 200, m
        return m, (time.perf_counter() - t0) * 1000

    def exchange(did, i, done=None):
        tok = tokens[i]
        st1, b1 = api().call("POST", "/api/dispatches/%d/sign" % did, None, tok)
        st2, b2 = api().call("POST", "/api/dispatches/%d/reply" % did, {"answers": {
            "attending": True, "attendees": [{"name": "参会人%d" % i, "post": "主要负责人", "phone": "1380000%04d" % i}]}},
            tok)
        if done is not None:
            done.append(time.perf_counter())
        return st1, st2

    totals, walls, sends = [], [], []
    for rnd in range(a.rounds):
        before = metric_sum(a.yport)
        t0 = time.perf_counter()
        m, send_ms = meeting("基准测试会议 %d" % rnd)
        with concurrent.futures.ThreadPoolExecutor(a.threads) as ex:
            codes = list(ex.map(lambda i: exchange(m["dispatch_id"], i), range(N)))
        wall = (time.perf_counter() - t0) * 1000
        server = (metric_sum(a.yport) - before) * 1000
        assert codes == [(200, 200)] * N, {c: codes.count(c) for c in set(codes)}
        st, b = oapi.call("GET", "/api/meetings/%d/board" % m["id"], None, org)
        assert st == 200 and b["counts"]["replied"] == N and b["attendance"]["attendees"] == N, b["counts"]
        say("round %d: send %.1f ms; %d signs + %d replies: wall %.0f ms (from the create), sum of server times %.0f ms"
            % (rnd + 1, send_ms, N, N, wall, server))
        totals.append(server)
        walls.append(wall)
        sends.append(send_ms)

    # the board under the replies
    m, _ = meeting("看板延迟测试")
    did, done, polls, stop = m["dispatch_id"], [], [], threading.Event()

    def poll():
        p = Api(a.yport)
        while not stop.is_set():
            t0 = time.perf_counter()
            st, b = p.call("GET", "/api/meetings/%d/board" % m["id"], None, org)
            polls.append((t0, time.perf_counter(), b["counts"]["replied"] if st == 200 else -1))

    th = threading.Thread(target=poll)
    th.start()
    with concurrent.futures.ThreadPoolExecutor(a.threads) as ex:
        list(ex.map(lambda i: exchange(did, i, done), range(N)))
    time.sleep(0.3)
    stop.set()
    th.join()
    done.sort()
    lags = []
    for k, t in enumerate(done):   # the k+1-th reply is in every board whose GET started after t
        seen = [end for (start, end, c) in polls if start >= t and c >= k + 1]
        if seen:
            lags.append((min(seen) - t) * 1000)
    board_ms = [(e - s) * 1000 for s, e, _ in polls]
    say("board: %d GETs during the replies, p50 %.1f ms, p99 %.1f ms; a reply shows within p50 %.1f ms, p99 %.1f ms, "
        "max %.1f ms" % (len(polls), pct(board_ms, 50), pct(board_ms, 99), pct(lags, 50), pct(lags, 99), max(lags)))
    with open(a.out, "w") as f:
        f.write("TOTAL_MED=%.0f\nTOTAL_MAX=%.0f\nWALL_MED=%.0f\nSEND_MED=%.1f\nBOARD_P50=%.1f\nBOARD_P99=%.1f\n"
                "LAG_P99=%.1f\nLAG_MAX=%.1f\n" % (sorted(totals)[len(totals) // 2], max(totals),
                                                   sorted(walls)[len(walls) // 2], sorted(sends)[len(sends) // 2],
                                                   pct(board_ms, 50), pct(board_ms, 99), pct(lags, 99), max(lags)))


if __name__ == "__main__":
    main()
