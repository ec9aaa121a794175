"""GET /metrics: Prometheus text shared by all workers, counters by route
pattern (never raw paths), the connection gauge, a well-formed histogram, and
the loopback-only setting."""
import socket
import time

import pytest

from conftest import (connect, free_port, get, metric, parse_metrics, running_server, scrape,
                      worker_pid_of)


def counters(m, route=None):
    """{(method, route, status): value} of yimen_requests_total."""
    out = {}
    for (name, labels), v in m.items():
        if name != "yimen_requests_total":
            continue
        d = dict(labels)
        if route is None or d["route"] == route:
            out[(d["method"], d["route"], d["status"])] = v
    return out


def diff(after, before):
    a, b = counters(after), counters(before)
    return {k: a[k] - b.get(k, 0) for k in a if a[k] != b.get(k, 0)}


def test_content_type_and_families(server):
    r = get(server, "/metrics")
    assert r.status == 200
    assert r.header("content-type").startswith("text/plain")
    assert "version=0.0.4" in r.header("content-type")
    text = r.body.decode()
    for fam, typ in [("yimen_requests_total", "counter"), ("yimen_request_duration_seconds", "histogram"),
                     ("yimen_open_connections", "gauge"), ("yimen_generation", "gauge"),
                     ("yimen_worker_restarts_total", "counter")]:
        assert "# TYPE %s %s\n" % (fam, typ) in text, fam
        assert "# HELP %s " % fam in text, fam
    assert text.endswith("\n")
    m = parse_metrics(text)
    assert metric(m, "yimen_generation") >= 1
    assert ("yimen_open_connections", frozenset()) in m


def test_head_metrics(server):
    with connect(server) as c:
        r = c.request("HEAD", "/metrics")
        assert r.status == 200 and r.body == b""
        assert r.header("content-type").startswith("text/plain")


def test_counters_by_route_pattern(server):
    before = scrape(server)
    for _ in range(3):
        assert get(server, "/healthz").status == 200
    for p in ("/nope-metrics-a1", "/nope-metrics-b2"):
        assert get(server, p).status == 404
    assert get(server, "/").status == 200
    with connect(server) as c:
        assert c.request("POST", "/healthz", {"Content-Length": "0", "Connection": "close"}).status == 405
    with connect(server) as c:
        c.send(b"GET /healthz HTTP/1.1\r\n\r\n")             # no Host: refused by the parser
        assert c.read_response().status == 400
    for sid in ("123", "456"):
        with connect(server) as c:
            r = c.request("DELETE", "/api/me/sessions/" + sid, {"Connection": "close"})
            assert r.status == 401, r
    after = scrape(server)
    d = diff(after, before)
    assert d.pop(("GET", "/healthz", "200")) == 3
    assert d.pop(("GET", "(404)", "404")) == 2
    assert d.pop(("GET", "(static)", "200")) == 1
    assert d.pop(("POST", "(405)", "405")) == 1
    assert d.pop(("DELETE", "/api/me/sessions/:id", "401")) == 2
    assert d.pop(("GET", "/metrics", "200")) == 1          # the first scrape
    errors = {k: v for k, v in d.items() if k[1] == "(error)"}
    assert sum(errors.values()) == 1 and all(k[2] == "400" for k in errors), errors
    for k in errors:
        d.pop(k)
    assert d == {}, "unexpected counter changes: %s" % d
    text = get(server, "/metrics").body.decode()
    for raw in ("nope-metrics", "/api/me/sessions/123", "/api/me/sessions/456"):
        assert raw not in text, raw


def test_histogram_well_formed(server):
    for _ in range(5):
        get(server, "/healthz")
    m = scrape(server)
    buckets = []
    for (name, labels), v in m.items():
        if name == "yimen_request_duration_seconds_bucket":
            le = dict(labels)["le"]
            buckets.append((float("inf") if le == "+Inf" else float(le), v))
    buckets.sort()
    assert len(buckets) >= 5
    assert buckets[-1][0] == float("inf")
    values = [v for _, v in buckets]
    assert values == sorted(values), "buckets are not cumulative: %s" % buckets
    count = metric(m, "yimen_request_duration_seconds_count")
    assert buckets[-1][1] == count
    assert count >= 5
    total = metric(m, "yimen_request_duration_seconds_sum")
    assert 0 < total < count * 10
    assert sum(counters(m).values()) <= count + metric(m, "yimen_metrics_overflow_total")


def test_histogram_count_counts_every_request(server):
    a = scrape(server)
    for _ in range(7):
        get(server, "/healthz")
    get(server, "/nope")
    b = scrape(server)
    # 7 + 1 + the first scrape itself
    assert metric(b, "yimen_request_duration_seconds_count") - metric(a, "yimen_request_duration_seconds_count") == 9
    assert metric(b, "yimen_request_duration_seconds_bucket", le="+Inf") - \
        metric(a, "yimen_request_duration_seconds_bucket", le="+Inf") == 9


def test_counters_shared_by_all_workers(server):
    for _ in range(4):
        get(server, "/healthz")
    seen, values = set(), set()
    for _ in range(16):
        r = get(server, "/metrics")
        seen.add(worker_pid_of(r))
        values.add(counters(parse_metrics(r.body.decode())).get(("GET", "/healthz", "200")))
    assert len(seen) >= 2, "all scrapes answered by one worker"
    assert len(values) == 1, "workers disagree on the same counter: %s" % values


def test_open_connections_gauge(server):
    base = metric(scrape(server), "yimen_open_connections")
    conns = [connect(server) for _ in range(4)]
    try:
        for c in conns:
            assert c.request("GET", "/healthz").status == 200
        now = metric(scrape(server), "yimen_open_connections")
        assert now >= base + 4, (base, now)
    finally:
        for c in conns:
            c.close()
    deadline = time.time() + 3
    while time.time() < deadline:
        now = metric(scrape(server), "yimen_open_connections")
        if now <= base:
            break
        time.sleep(0.05)
    assert now <= base, "gauge did not come back down after the clients left (%s > %s)" % (now, base)
    assert now >= 1     # at least the scrape's own connection


# ---------------------------------------------------------------- loopback only

def test_metrics_loopback_only_refuses_forwarded_client():
    """With a trusted local proxy the client address comes from X-Forwarded-For:
    a remote client behind it is not loopback and gets 403."""
    with running_server('trusted_proxies = { "127.0.0.1" }\n', workers=1) as s:
        assert get(s, "/metrics").status == 200
        r = get(s, "/metrics", {"X-Forwarded-For": "203.0.113.9"})
        assert r.status == 403, r
        assert r.json()["error"]["code"] == "forbidden"
        assert b"yimen_requests_total" not in r.body
        assert get(s, "/healthz", {"X-Forwarded-For": "203.0.113.9"}).status == 200


def test_untrusted_forwarded_for_is_ignored(server):
    # no trusted_proxies: the header is not believed; the peer is loopback
    r = get(server, "/metrics", {"X-Forwarded-For": "203.0.113.9"})
    assert r.status == 200


def test_metrics_loopback_only_false_accepted():
    with running_server('metrics = { loopback_only = false }\ntrusted_proxies = { "127.0.0.1" }\n',
                        workers=1) as s:
        assert get(s, "/metrics").status == 200
        r = get(s, "/metrics", {"X-Forwarded-For": "203.0.113.9"})
        assert r.status == 200
        assert b"yimen_requests_total" in r.body


def local_non_loopback_ip():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.connect(("192.0.2.1", 9))
            ip = u.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


@pytest.mark.parametrize("loopback_only,want", [(True, 403), (False, 200)])
def test_metrics_from_a_real_non_loopback_address(loopback_only, want):
    ip = local_non_loopback_ip()
    if not ip:
        pytest.skip("no non-loopback IPv4 address on this machine")
    port = free_port()
    extra = 'metrics = { loopback_only = %s }\n' % ("true" if loopback_only else "false")
    with running_server(extra, workers=1) as s:
        s.write_config(raw=s.config_text(extra).replace(
            'listen = "127.0.0.1:%d"' % s.port, 'listen = { "127.0.0.1:%d", "%s:%d" }' % (s.port, ip, port)))
        s.stop()
        s.start()
        from conftest import Conn
        with Conn(port, host=ip) as c:
            r = c.request("GET", "/metrics", {"Connection": "close"})
        assert r.status == want, r
        with Conn(port, host=ip) as c:
            assert c.request("GET", "/healthz", {"Connection": "close"}).status == 200


def test_open_connections_gauge_after_worker_crash():
    """Connections of a worker that was killed are gone: the gauge must not keep
    counting them (it is shared by all workers)."""
    import os
    import signal
    with running_server('timeouts = { drain = "2s" }\n') as s:
        time.sleep(0.2)
        base = metric(scrape(s), "yimen_open_connections")
        conns, victim = [], None
        for _ in range(40):
            c = connect(s)
            r = c.request("GET", "/healthz")
            pid = worker_pid_of(r)
            if victim is None:
                victim = pid
            if pid == victim and len(conns) < 3:
                conns.append(c)
            else:
                c.close()
            if len(conns) == 3:
                break
        assert len(conns) == 3
        assert metric(scrape(s), "yimen_open_connections") >= base + 3
        os.kill(victim, signal.SIGKILL)
        for c in conns:
            assert c.closed_by_server(3)
            c.close()
        deadline = time.time() + 3
        while time.time() < deadline:
            now = metric(scrape(s), "yimen_open_connections")
            if now <= base:
                break
            time.sleep(0.1)
        assert now <= base, "gauge still counts the dead worker's connections: %s > %s" % (now, base)
