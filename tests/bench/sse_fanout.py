#!/usr/bin/env python3
"""tests/bench/sse_fanout.py: the client of tests/bench/sse.sh (run by it, not by hand).

One process, one thread for the measured part: every socket is non-blocking and
registered with one epoll, so an arrival is timed when epoll reports it (the clock is
read after each recv, time.perf_counter_ns). Stdlib only.

  1. signs in USERS distinct demo accounts (16 threads, keep-alive connections);
  2. measures the yimen workers' VmRSS and Pss, opens one GET /api/events per user
     (BATCH at a time, each batch waited for until its first bytes "retry: 3000"
     arrive), notes which worker (X-Request-Id, pid in hex) holds each stream, waits
     SETTLE s, measures again;
  3. does the same for nginx: USERS keep-alive connections, one small GET each, then idle;
  4. ROUNDS rounds, in turns: yimen: POST /api/admin/notify (root unit, subtree) on a
     kept-alive admin connection; the time from just before the POST's send to the
     arrival of its frame (found by the round's unique title) on every stream, and to
     the POST's 201. nginx: the same client sends one GET on each of its USERS idle
     connections in one loop; the time from the first send to the last response.

Per-round lines go to stdout; the numbers for the summary to --out as KEY=VALUE lines
(sourced by sse.sh).
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import re
import select
import socket
import statistics
import sys
import threading
import time

now_ns = time.perf_counter_ns


def ms(ns):
    return ns / 1e6


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a list."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(1, -(-len(v) * p // 100))  # ceil
    return v[int(k) - 1]


def proc_mem(pid):
    """(VmRSS kB, Pss kB) of a process."""
    rss = pss = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                    break
    except OSError:
        pass
    return rss, pss


def children(pid):
    out = []
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            out = [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def mem_of(pids):
    return {p: proc_mem(p) for p in pids}


class Api:
    """A keep-alive JSON client, one per thread."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(3):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise


def login_all(port, names, password, threads=16):
    local = threading.local()

    def one(name):
        if not hasattr(local, "api"):
            local.api = Api(port)
        st, body = local.api.call("POST", "/api/auth/login", {"username": name, "password": password})
        if st != 200 or not body.get("token") or body.get("must_change_password"):
            raise RuntimeError("login %s: %s %s" % (name, st, body))
        return body["token"]

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, names))


class Conn:
    __slots__ = ("sock", "fd", "buf", "head", "status", "worker", "ready", "got", "user")

    def __init__(self, sock, user=None):
        self.sock = sock
        self.fd = sock.fileno()
        self.buf = b""
        self.head = False
        self.status = 0
        self.worker = 0
        self.ready = False
        self.got = None
        self.user = user


def parse_head(c):
    """Parses the response head once \\r\\n\\r\\n is in c.buf; True when it was."""
    if c.head:
        return True
    i = c.buf.find(b"\r\n\r\n")
    if i < 0:
        return False
    lines = c.buf[:i].decode("latin-1").split("\r\n")
    c.buf = c.buf[i + 4:]
    parts = lines[0].split()
    c.status = int(parts[1]) if len(parts) > 1 else 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "x-request-id":
            try:
                c.worker = int(v.strip().split("-")[0], 16)
            except ValueError:
                pass
    c.head = True
    return True


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def open_batches(port, requests, marker, batch, timeout=30):
    """Opens one connection per request (bytes), sends it, and waits per batch until
    marker is in each answer (after the head). Returns the Conns (blocking off)."""
    conns = []
    ep = select.epoll()
    for start in range(0, len(requests), batch):
        pending = {}
        for req in requests[start:start + batch]:
            s = connect(port)
            s.sendall(req)
            s.setblocking(False)
            c = Conn(s)
            conns.append(c)
            pending[c.fd] = c
            ep.register(c.fd, select.EPOLLIN)
        deadline = time.time() + timeout
        while pending:
            if time.time() > deadline:
                raise RuntimeError("%d connections got no %r within %d s" % (len(pending), marker, timeout))
            for fd, _ in ep.poll(1.0):
                c = pending.get(fd)
                if c is None:
                    continue
                data = c.sock.recv(65536)
                if not data:
                    raise RuntimeError("a connection closed while opening (status %d)" % c.status)
                c.buf += data
                if parse_head(c):
                    if c.status != 200:
                        raise RuntimeError("answered %d: %r" % (c.status, c.buf[:300]))
                    if marker in c.buf:
                        c.ready = True
                        c.buf = b""
                        del pending[fd]
                        ep.unregister(fd)
    ep.close()
    return conns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yport", type=int, required=True)
    ap.add_argument("--nport", type=int, required=True)
    ap.add_argument("--yimen-pid", type=int, required=True)
    ap.add_argument("--nginx-pid", type=int, required=True)
    ap.add_argument("--admin-password", required=True)
    ap.add_argument("--demo-password", required=True)
    ap.add_argument("--users", type=int, default=1452)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--gap", type=float, default=0.3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    res = {}
    out = sys.stdout

    def say(*x):
        print(*x, file=out, flush=True)

    # ---- sign in ----
    api = Api(a.yport)
    st, body = api.call("POST", "/api/auth/login", {"username": "admin", "password": a.admin_password})
    if st != 200:
        sys.exit("admin login: %s %s" % (st, body))
    admin = body["token"]
    names, after = [], 0
    while True:
        st, body = api.call("GET", "/api/users?limit=500" + ("&after=%d" % after if after else ""),
                            token=admin)
        if st != 200:
            sys.exit("GET /api/users: %s %s" % (st, body))
        names += [u["username"] for u in body["items"] if u["username"] != "admin" and u.get("status") == "active"]
        if not body.get("next"):
            break
        after = body["next"]
    st, body = api.call("GET", "/api/me", token=admin)
    root_unit = body["user"]["unit_id"] if st == 200 else 1
    if len(names) < a.users:
        sys.exit("only %d active demo users, %d wanted" % (len(names), a.users))
    names = names[:a.users]
    t = time.time()
    tokens = login_all(a.yport, names, a.demo_password)
    res["LOGIN_S"] = "%.2f" % (time.time() - t)
    res["USERS"] = len(set(tokens))
    say("   signed in %d distinct users in %s s (16 threads; + admin)" % (len(set(tokens)), res["LOGIN_S"]))

    # ---- yimen streams and their memory ----
    workers = children(a.yimen_pid)
    time.sleep(0.5)
    before = mem_of(workers)
    reqs = [("GET /api/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
             "Accept: text/event-stream\r\n\r\n" % tok).encode() for tok in tokens]
    t = time.time()
    streams = open_batches(a.yport, reqs, b"retry: 3000", a.batch)
    res["OPEN_S"] = "%.2f" % (time.time() - t)
    time.sleep(a.settle)
    after_m = mem_of(workers)
    per_worker = {}
    for c in streams:
        per_worker[c.worker] = per_worker.get(c.worker, 0) + 1
    unknown = set(per_worker) - set(workers)
    res["STREAMS"] = len(streams)
    res["STREAM_WORKERS"] = len(per_worker)
    res["STREAM_SPLIT"] = "/".join(str(per_worker.get(w, 0)) for w in workers) + \
        ("" if not unknown else " (+%d on unknown pids)" % sum(per_worker[u] for u in unknown))
    d_rss = sum(after_m[w][0] - before[w][0] for w in workers)
    d_pss = sum(after_m[w][1] - before[w][1] for w in workers)
    res["Y_RSS_BEFORE"] = sum(before[w][0] for w in workers)
    res["Y_RSS_AFTER"] = sum(after_m[w][0] for w in workers)
    res["Y_PSS_BEFORE"] = sum(before[w][1] for w in workers)
    res["Y_PSS_AFTER"] = sum(after_m[w][1] for w in workers)
    res["Y_RSS_PER"] = "%.2f" % (d_rss / len(streams))
    res["Y_PSS_PER"] = "%.2f" % (d_pss / len(streams))
    say("   %d streams open in %s s (batches of %d), all sent \"retry: 3000\"; per worker pid: %s" % (
        len(streams), res["OPEN_S"], a.batch,
        ", ".join("%d: %d" % (w, per_worker.get(w, 0)) for w in workers)))
    for w in workers:
        say("   worker %d: VmRSS %d -> %d kB, Pss %d -> %d kB" % (w, before[w][0], after_m[w][0], before[w][1],
                                                                    after_m[w][1]))
    say("   yimen per idle stream: VmRSS %s kB, Pss %s kB" % (res["Y_RSS_PER"], res["Y_PSS_PER"]))

    # ---- nginx connections and their memory ----
    nworkers = children(a.nginx_pid)
    nbefore = mem_of(nworkers)
    nreq = b"GET /burst HTTP/1.1\r\nHost: bench\r\n\r\n"
    t = time.time()
    nconns = open_batches(a.nport, [nreq] * len(streams), b"data: ok", a.batch)
    time.sleep(a.settle)
    nafter = mem_of(nworkers)
    nd_rss = sum(nafter[w][0] - nbefore[w][0] for w in nworkers)
    nd_pss = sum(nafter[w][1] - nbefore[w][1] for w in nworkers)
    res["N_CONNS"] = len(nconns)
    res["N_RSS_PER"] = "%.2f" % (nd_rss / len(nconns))
    res["N_PSS_PER"] = "%.2f" % (nd_pss / len(nconns))
    for w in nworkers:
        say("   nginx worker %d: VmRSS %d -> %d kB, Pss %d -> %d kB" % (w, nbefore[w][0], nafter[w][0],
                                                                          nbefore[w][1], nafter[w][1]))
    say("   nginx per idle keep-alive connection: VmRSS %s kB, Pss %s kB" % (res["N_RSS_PER"], res["N_PSS_PER"]))

    # ---- rounds ----
    ep = select.epoll()
    by_fd = {}
    for c in streams:
        by_fd[c.fd] = c
        ep.register(c.fd, select.EPOLLIN)
    for c in nconns:
        by_fd[c.fd] = c
        ep.register(c.fd, select.EPOLLIN)
    adm = connect(a.yport)
    adm.setblocking(False)
    admc = Conn(adm)
    by_fd[admc.fd] = admc
    ep.register(admc.fd, select.EPOLLIN)
    run_id = os.urandom(4).hex()
    y_last, y_p50, y_first, y_post, n_last, n_send, n_p50 = [], [], [], [], [], [], []
    missing_total = 0
    sent_counts = set()
    heartbeats = 0

    def drain(conns, want, deadline, stop_on=None):
        """Reads until each of conns has c.got (marker found) or the deadline."""
        nonlocal heartbeats
        left = sum(1 for c in conns if c.got is None)
        while (left or (stop_on and stop_on.got is None)) and now_ns() < deadline:
            for fd, ev in ep.poll(0.5):
                c = by_fd[fd]
                try:
                    data = c.sock.recv(65536)
                except BlockingIOError:
                    continue
                t = now_ns()
                if not data:
                    raise RuntimeError("a connection closed during the rounds (worker %d)" % c.worker)
                c.buf += data
                if c.got is None and want(c):
                    c.got = t
                    if c is not stop_on:
                        left -= 1
                        c.buf = b""
                elif b":\n\n" in c.buf and c.got is None:
                    heartbeats += 1
                    c.buf = c.buf[-200:]
        return left

    post_body_tpl = '{"title":"%s","unit_id":%d,"subtree":true,"severity":"info"}'
    for r in range(1, a.rounds + 1):
        # yimen
        title = "sse-bench-%s-%02d" % (run_id, r)
        mark = title.encode()
        for c in streams:
            c.got = None
            c.buf = b""
        admc.got = None
        admc.buf = b""
        admc.head = False
        body = (post_body_tpl % (title, root_unit)).encode()
        req = ("POST /api/admin/notify HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (admin, len(body))).encode() + body

        def want_y(c):
            if c is admc:
                if parse_head(c) and b"}" in c.buf:
                    return True
                return False
            return mark in c.buf

        t0 = t0y = now_ns()
        adm.sendall(req)
        left = drain(streams, want_y, t0 + 10 * 10**9, stop_on=admc)
        got = [c.got - t0 for c in streams if c.got is not None]
        missing_total += left
        if admc.got is None or admc.status != 201:
            raise RuntimeError("POST /api/admin/notify: %s %r" % (admc.status, admc.buf[:300]))
        m = re.search(rb'"sent":\s*(\d+)', admc.buf)
        sent = int(m.group(1)) if m else None
        sent_counts.add(sent)
        y_post.append(admc.got - t0)
        last = max(got) if got else 0
        y_last.append(last)
        y_first.append(min(got) if got else 0)
        y_p50.append(statistics.median(got) if got else 0)
        time.sleep(a.gap)
        # nginx
        for c in nconns:
            c.got = None
            c.buf = b""
        t0 = now_ns()
        for c in nconns:
            c.sock.send(nreq)
        t_sent = now_ns()
        nleft = drain(nconns, lambda c: b"data: ok" in c.buf, t0 + 10 * 10**9)
        ngot = [c.got - t0 for c in nconns if c.got is not None]
        missing_total += nleft
        n_last.append(max(ngot) if ngot else 0)
        n_p50.append(statistics.median(ngot) if ngot else 0)
        n_send.append(t_sent - t0)
        wl = {}
        for c in streams:
            if c.got is not None:
                wl[c.worker] = max(wl.get(c.worker, 0), c.got - t0y)
        say("  round %2d  yimen: POST %6.2f ms (sent %s), first %6.2f, median %6.2f, last stream %6.2f ms "
            "(per worker %s), missing %d | nginx: sends %6.2f, median %6.2f, last %6.2f ms, missing %d" % (
                r, ms(y_post[-1]), sent, ms(y_first[-1]), ms(y_p50[-1]), ms(last),
                "/".join("%.1f" % ms(wl.get(w, 0)) for w in workers), left,
                ms(n_send[-1]), ms(n_p50[-1]), ms(n_last[-1]), nleft))
        time.sleep(a.gap)

    res["ROUNDS"] = a.rounds
    res["MISSING"] = missing_total
    res["SENT"] = ",".join(str(s) for s in sorted(sent_counts, key=str))
    res["HEARTBEATS"] = heartbeats
    for key, vals in (("Y_LAST", y_last), ("Y_POST", y_post), ("Y_MED", y_p50), ("N_LAST", n_last),
                      ("N_SEND", n_send), ("N_MED", n_p50)):
        res[key + "_P50"] = "%.2f" % ms(pct(vals, 50))
        res[key + "_P99"] = "%.2f" % ms(pct(vals, 99))
        res[key + "_MAX"] = "%.2f" % ms(max(vals))
        res[key + "_MIN"] = "%.2f" % ms(min(vals))
    with open(a.out, "w") as f:
        for k, v in res.items():
            f.write("%s='%s'\n" % (k, v))
    for c in streams + nconns + [admc]:
        c.sock.close()


if __name__ == "__main__":
    main()
