"""The process model: master + workers, reload (good, broken, listen change),
worker crash recovery, graceful stop, the pid-file lock, --single, and reloads
under load without a single failed request."""
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (BIN, Conn, connect, get, metric, run_bin, running_server, scrape, worker_pid_of)

QUICK = 'timeouts = { drain = "2s" }\n'


def ppid_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def wait_for(pred, timeout, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def pids_seen(server, n=30):
    """Worker pids that answered n requests on new connections."""
    seen = set()
    for _ in range(n):
        r = get(server, "/healthz")
        assert r.status == 200
        seen.add(worker_pid_of(r))
    return seen


def raw_config(server, replace=None, extra=""):
    text = server.config_text(QUICK + extra)
    for a, b in (replace or {}).items():
        assert a in text
        text = text.replace(a, b)
    return text


# ---------------------------------------------------------------- layout

def test_master_and_two_worker_children(fresh_server):
    s = fresh_server.configure(QUICK).start()
    workers = wait_for(lambda: len(s.worker_pids()) == 2 and s.worker_pids(), 5)
    assert workers and len(workers) == 2, s.worker_pids()
    for pid in workers:
        assert ppid_of(pid) == s.proc.pid
    seen = pids_seen(s)
    assert seen <= set(workers), (seen, workers)
    assert s.proc.pid not in seen          # the master never answers requests
    assert len(seen) == 2, "one worker served all 30 new connections"
    with open(os.path.join(s.data, "yimen.pid")) as f:
        assert int(f.read().strip()) == s.proc.pid
    assert s.stop() == 0


# ---------------------------------------------------------------- reload

def test_reload_good_config(fresh_server):
    s = fresh_server.configure(QUICK).start()
    assert s.generation() == 1
    old = set(s.worker_pids())
    get(s, "/before-reload-marker")
    s.wait_log("path=/before-reload-marker")
    assert get(s, "/" + "u" * 300).status == 404
    s.write_config(raw=raw_config(s, {'log_level = "info"': 'log_level = "warn"'},
                                  extra='limits = { uri = "200" }\n'))
    s.reload_and_wait(2)
    # until the old workers have closed their listeners, a new connection may still land there
    assert wait_for(lambda: s.generation() == 2, 6)
    # the old generation drains and leaves; two new workers remain
    assert wait_for(lambda: len(s.worker_pids()) == 2 and not (set(s.worker_pids()) & old), 6), \
        (old, s.worker_pids())
    assert pids_seen(s, 10).isdisjoint(old)
    assert metric(scrape(s), "yimen_generation") == 2
    # the new generation runs the new config: no info lines, a smaller URI limit
    assert get(s, "/" + "u" * 300).status == 414
    get(s, "/after-reload-marker")
    time.sleep(0.3)
    assert "path=/after-reload-marker" not in s.log_text()
    assert s.stop() == 0


def test_reload_changes_worker_count(fresh_server):
    s = fresh_server.configure(QUICK).start()
    s.write_config(QUICK, workers=3)
    s.reload_and_wait(2)
    assert wait_for(lambda: len(s.worker_pids()) == 3, 6), s.worker_pids()
    assert len(pids_seen(s, 40)) == 3
    s.write_config(QUICK, workers=1)
    s.reload_and_wait(3)
    assert wait_for(lambda: len(s.worker_pids()) == 1, 6), s.worker_pids()
    assert len(pids_seen(s, 10)) == 1
    assert s.stop() == 0


@pytest.mark.parametrize("bad,reason", [
    ('listen = "127.0.0.1:1"\nworkers = {{{\n', None),                     # syntax error
    (None, "bogus_key: unknown key"),                                    # unknown key
    ('limits = { bodyy = 1 }\n', "limits.bodyy: unknown key"),             # nested unknown key
    ('workers = "many"\n', "workers"),                                     # wrong type
], ids=["syntax_error", "unknown_key", "nested_unknown_key", "wrong_type"])
def test_reload_broken_config_keeps_old(fresh_server, bad, reason):
    s = fresh_server.configure(QUICK).start()
    old = set(s.worker_pids())
    if bad is None:
        text = raw_config(s, extra="bogus_key = 1\n")
    elif bad.startswith("listen"):
        text = bad
    else:
        text = raw_config(s).replace('workers = 2\n', '') + bad if "workers" in bad else raw_config(s, extra=bad)
    s.write_config(raw=text)
    # `yimen reload` validates the file first and does not signal
    r = s.cli("reload")
    assert r.returncode == 1, r
    assert r.stderr.startswith("yimen: " + s.conf + ":"), r.stderr
    if reason:
        assert reason in r.stderr, r.stderr
    time.sleep(0.2)
    assert "reload refused" not in s.log_text() and "reloading" not in s.log_text()
    # a SIGHUP (kill -HUP, systemd reload) makes the master read the broken file
    s.proc.send_signal(signal.SIGHUP)
    log = s.wait_log("reload refused")
    line = [l for l in log.splitlines() if "reload refused" in l][-1]
    assert s.conf in line, line           # the reason names the file ...
    if reason:
        assert reason in line, line       # ... and the key
    time.sleep(0.3)
    assert s.generation() == 1
    assert set(s.worker_pids()) == old
    assert pids_seen(s, 10) <= old
    # a later good config still reloads
    s.write_config(QUICK)
    s.reload_and_wait(2)
    assert s.stop() == 0


def test_reload_changing_listen_refused(fresh_server):
    s = fresh_server.configure(QUICK).start()
    from conftest import free_port
    other = free_port()
    s.write_config(raw=raw_config(s, {"127.0.0.1:%d" % s.port: "127.0.0.1:%d" % other}))
    # the file is valid: `yimen reload` finds the master through data_dir and signals it
    assert s.cli("reload").returncode == 0
    log = s.wait_log("reload refused")
    assert "listen" in [l for l in log.splitlines() if "reload refused" in l][-1]
    time.sleep(0.3)
    assert s.generation() == 1
    assert s.healthy()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", other), timeout=1).close()
    assert s.stop() == 0


def test_reload_without_server_fails(fresh_server):
    r = fresh_server.cli("reload")
    assert r.returncode == 1
    assert "no running yimen" in r.stderr


# ---------------------------------------------------------------- crash

def test_sigkill_worker_is_replaced(fresh_server):
    s = fresh_server.configure(QUICK).start()
    before = scrape(s)
    workers = s.worker_pids()
    assert len(workers) == 2
    victim, survivor = workers
    os.kill(victim, signal.SIGKILL)
    t0 = time.time()
    ok = 0
    replaced = None
    while time.time() - t0 < 2.0:
        r = get(s, "/healthz", timeout=3)        # every request still succeeds
        assert r.status == 200, r
        ok += 1
        now = s.worker_pids()
        if len(now) == 2 and victim not in now:
            replaced = now
            break
    assert replaced, "worker %d not replaced within 2 s: %s" % (victim, s.worker_pids())
    assert survivor in replaced
    new = (set(replaced) - {survivor}).pop()
    assert ppid_of(new) == s.proc.pid
    # the new worker serves
    assert wait_for(lambda: new in pids_seen(s, 10), 3)
    after = scrape(s)
    assert metric(after, "yimen_worker_restarts_total") == metric(before, "yimen_worker_restarts_total") + 1
    assert metric(after, "yimen_generation") == metric(before, "yimen_generation")
    s.wait_log("restarting worker")
    assert s.stop() == 0


def test_requests_during_worker_crash_all_succeed(fresh_server):
    """Only a request the killed worker was answering at that instant may fail;
    every request started after the kill succeeds (it waits in the slot's
    listen queue for the replacement)."""
    s = fresh_server.configure(QUICK).start()
    failures, count = [], [0]
    kills = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            t0 = time.time()
            try:
                r = get(s, "/healthz", timeout=5)
                if r is None or r.status != 200:
                    failures.append((t0, time.time(), repr(r)))
            except OSError as e:
                failures.append((t0, time.time(), repr(e)))
            count[0] += 1

    t = threading.Thread(target=client)
    t.start()
    try:
        time.sleep(0.2)
        for _ in range(3):
            victim = s.worker_pids()[0]
            kills.append(time.time())
            os.kill(victim, signal.SIGKILL)
            assert wait_for(lambda: len(s.worker_pids()) == 2 and victim not in s.worker_pids(), 3)
            time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    assert count[0] > 20
    for start, end, what in failures:
        assert any(start <= k <= end for k in kills), \
            "a request started %.3f s after the last kill failed: %s" % (start - max(kills), what)
    assert len(failures) <= len(kills), failures
    assert s.stop() == 0


# ---------------------------------------------------------------- stop

def test_sigterm_graceful_in_flight_answered(fresh_server):
    s = fresh_server.configure('timeouts = { drain = "5s" }\n').start()
    pidfile = os.path.join(s.data, "yimen.pid")
    assert os.path.exists(pidfile)
    a, b = connect(s), connect(s)
    assert a.request("GET", "/healthz").status == 200
    assert b.request("GET", "/healthz").status == 200
    # a: a request half sent when the stop begins; b: an idle keep-alive connection
    a.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    t0 = time.time()
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    a.send(b"\r\n")
    ra = a.read_response()
    assert ra is not None and ra.status == 200, ra
    assert ra.header("connection") == "close", "draining worker did not say Connection: close"
    assert a.closed_by_server(3)
    rb = b.request("GET", "/healthz")
    assert rb is not None and rb.status == 200, rb
    assert rb.header("connection") == "close"
    a.close()
    b.close()
    assert s.proc.wait(10) == 0
    assert time.time() - t0 < 5, "stop waited for the drain deadline with no connection left"
    assert not os.path.exists(pidfile)
    assert "stopped" in s.log_text()


def test_sigterm_closes_idle_keep_alive_at_drain_deadline(fresh_server):
    s = fresh_server.configure('timeouts = { drain = "1s" }\n').start()
    c = connect(s)
    assert c.request("GET", "/healthz").status == 200
    t0 = time.time()
    s.proc.send_signal(signal.SIGTERM)
    assert c.closed_by_server(5)
    assert s.proc.wait(10) == 0
    assert time.time() - t0 < 4
    c.close()


def test_sigterm_with_no_clients_is_quick(fresh_server):
    s = fresh_server.configure(QUICK).start()
    workers = s.worker_pids()
    t0 = time.time()
    assert s.stop() == 0
    assert time.time() - t0 < 2
    assert not os.path.exists(os.path.join(s.data, "yimen.pid"))
    for pid in workers:
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s.port), timeout=1).close()


def test_second_server_on_same_data_dir_refused(fresh_server):
    s = fresh_server.configure(QUICK).start()
    r = run_bin([BIN, "serve", "-c", s.conf], capture_output=True, text=True, env=s.env, timeout=20)
    assert r.returncode == 1
    assert "another yimen" in r.stderr, r.stderr
    assert str(s.proc.pid) in r.stderr
    assert s.healthy()
    with open(os.path.join(s.data, "yimen.pid")) as f:
        assert int(f.read()) == s.proc.pid
    assert s.stop() == 0


def test_stale_pid_file_does_not_block_start(fresh_server):
    os.makedirs(fresh_server.data, exist_ok=True)
    p = subprocess.Popen(["true"])
    p.wait()
    with open(os.path.join(fresh_server.data, "yimen.pid"), "w") as f:
        f.write("%d\n" % p.pid)
    s = fresh_server.configure(QUICK).start()
    with open(os.path.join(s.data, "yimen.pid")) as f:
        assert int(f.read()) == s.proc.pid
    assert s.stop() == 0


def test_single_process_mode(fresh_server):
    s = fresh_server.configure(QUICK).start(single=True)
    r = get(s, "/healthz")
    assert r.status == 200 and r.json()["generation"] == 1
    assert worker_pid_of(r) == s.proc.pid
    assert s.worker_pids() == []
    assert get(s, "/").status == 200
    assert get(s, "/nope").status == 404
    assert os.path.exists(os.path.join(s.data, "yimen.pid"))
    assert s.stop() == 0
    assert not os.path.exists(os.path.join(s.data, "yimen.pid"))


# ---------------------------------------------------------------- reload under load

def test_reloads_under_load_lose_nothing(fresh_server):
    s = fresh_server.configure(QUICK).start()
    stop = threading.Event()
    failures = []
    counts = {"new": 0, "keepalive": 0, "reconnects": 0}

    def new_connections():
        while not stop.is_set():
            try:
                with Conn(s.port, timeout=5) as c:
                    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    r = c.read_response()
                if r is None or r.status != 200:
                    failures.append(("new", repr(r)))
            except (OSError, AssertionError) as e:
                failures.append(("new", repr(e)))
            counts["new"] += 1

    def keep_alive():
        c = None
        while not stop.is_set():
            try:
                if c is None:
                    c = Conn(s.port, timeout=5)
                    counts["reconnects"] += 1
                c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                r = c.read_response()
                if r is None or r.status != 200:
                    failures.append(("keepalive", repr(r)))
                    c.close()
                    c = None
                elif r.header("connection") == "close":
                    c.close()
                    c = None
            except (OSError, AssertionError) as e:
                failures.append(("keepalive", repr(e)))
                if c:
                    c.close()
                c = None
            counts["keepalive"] += 1
        if c:
            c.close()

    threads = [threading.Thread(target=new_connections), threading.Thread(target=keep_alive)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        for gen in (2, 3, 4):
            s.reload_and_wait(gen)
            time.sleep(0.4)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == [], (failures, counts)
    assert counts["new"] > 30 and counts["keepalive"] > 30, counts
    assert counts["reconnects"] >= 2, counts     # the old generations said Connection: close
    assert s.generation() == 4
    assert s.stop() == 0


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_stop_when_master_is_killed_and_restart_works(fresh_server):
    s = fresh_server.configure(QUICK).start()
    workers = s.worker_pids()
    assert len(workers) == 2
    s.proc.kill()
    s.proc.wait()
    # orphaned workers notice the master is gone and leave
    assert wait_for(lambda: not any(alive(p) for p in workers), 5), [p for p in workers if alive(p)]
    # the stale pid file does not block a new start on the same data_dir
    s.log.close()
    s.start()
    assert s.healthy()
    assert s.stop() == 0


def test_clock_offset_survives_reload_and_worker_crash(fresh_server):
    from conftest import post_json
    s = fresh_server.configure(QUICK).start()
    r = post_json(s, "/api/test/clock", {"advance": 5000})
    assert r.status == 200
    s.write_config(QUICK + 'log_level = "warn"\n'.replace("log_level", "-- log_level"))
    s.reload_and_wait(2)
    # the old generation may still be draining: kill one of the new one
    assert wait_for(lambda: len(s.worker_pids()) == 2, 10), s.worker_pids()
    victim = s.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len(s.worker_pids()) == 2 and victim not in s.worker_pids(), 3)
    offsets, pids = set(), set()
    for _ in range(20):
        r = post_json(s, "/api/test/clock", {"advance": 0})
        assert r.status == 200, r
        offsets.add(r.json()["offset"])
        pids.add(worker_pid_of(r))
    assert offsets == {5000}, offsets
    assert len(pids) == 2
    assert s.stop() == 0
