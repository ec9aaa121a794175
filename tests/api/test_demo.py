"""yimen demo against a running server: the printed clerk signs in and has the clerk role
on 城关镇; the county has 573 units and 1,452 staff; a second run is refused."""
import os
import re
import sqlite3
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import BIN, Server

ADMIN_PW = "Demo-Admin-Pass-2026!"
CONF = '''
auth = { argon2 = { memory = "1MiB", iterations = 1 },
         rate_limit = { per_ip = 100000, per_account = 100000 } }
'''


@pytest.fixture(scope="module")
def srv():
    with tempfile.TemporaryDirectory(prefix="yimen-demo-") as tmp:
        s = Server(tmp, extra=CONF, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        yield s
        assert s.stop() == 0


def demo(srv, *args, env=None):
    e = {k: v for k, v in srv.env.items() if k != "YIMEN_DEMO_PASSWORD"}
    e.update(env or {})
    return subprocess.run([BIN, "demo", "-c", srv.conf, *args], capture_output=True, text=True, env=e, timeout=120)


def login(srv, username, password):
    return requests.post(srv.url + "/api/auth/login", json={"username": username, "password": password}, timeout=10)


@pytest.fixture(scope="module")
def loaded(srv):
    t0 = time.time()
    r = demo(srv, "--seed", "5")
    elapsed = time.time() - t0
    assert r.returncode == 0, r.stderr
    assert elapsed < 10, elapsed
    return r


def test_counts_printed_and_stored(srv, loaded):
    assert "573 units" in loaded.stdout and "1452 staff" in loaded.stdout
    with sqlite3.connect(os.path.join(srv.data, "yimen.db")) as c:
        assert c.execute("SELECT count(*) FROM core_units").fetchone()[0] == 573
        assert c.execute("SELECT count(*) FROM core_users WHERE username <> 'admin'").fetchone()[0] == 1452
        assert c.execute("SELECT count(*) FROM core_units WHERE kind = 'township'").fetchone()[0] == 22
        assert c.execute("SELECT value FROM core_state WHERE key = 'demo_loaded'").fetchone()[0] == "1"


def test_printed_clerk_signs_in(srv, loaded):
    user = re.search(r"clerk of 城关镇: username (\S+)", loaded.stdout).group(1)
    pw = re.search(r"password of every demo account: (\S+) \(shown only now\)", loaded.stdout).group(1)
    r = login(srv, user, pw)
    assert r.status_code == 200, r.text
    assert r.json()["must_change_password"] is False
    me = requests.get(srv.url + "/api/me", headers={"Authorization": "Bearer " + r.json()["token"]}, timeout=5)
    assert me.status_code == 200
    body = me.json()
    clerk = [g for g in body["roles"] if g["role"] == "clerk"]
    assert len(clerk) == 1
    assert clerk[0]["unit_id"] == body["user"]["unit_id"]
    assert body["units"][0]["name"] == "城关镇" and body["units"][0]["kind"] == "township"
    assert {g["role"] for g in body["roles"]} == {"staff", "clerk"}
    # the leader of the same township shares the one password
    leader = re.search(r"leader of 城关镇: username (\S+)", loaded.stdout).group(1)
    assert login(srv, leader, pw).status_code == 200
    # and the admin is untouched
    assert login(srv, "admin", ADMIN_PW).status_code == 200


def test_second_run_refused(srv, loaded):
    r = demo(srv)
    assert r.returncode == 1
    assert "the demo county is already loaded" in r.stderr
    r = demo(srv, "--if-empty")
    assert r.returncode == 0 and "skipped" in r.stdout


def test_demo_password_from_env(tmp_path):
    s = Server(str(tmp_path), extra=CONF, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
    try:
        weak = demo(s, env={"YIMEN_DEMO_PASSWORD": "short"})
        assert weak.returncode == 1 and "the demo password" in weak.stderr
        pw = "Yunxi-Demo-Pass-2026"
        r = demo(s, "--if-empty", env={"YIMEN_DEMO_PASSWORD": pw})
        assert r.returncode == 0, r.stderr
        assert pw not in r.stdout and "YIMEN_DEMO_PASSWORD" in r.stdout
        assert login(s, "d04.clerk", pw).status_code == 200
        with sqlite3.connect(os.path.join(s.data, "yimen.db")) as c:
            row = c.execute("SELECT actor_name, ip, action FROM core_audit WHERE action = 'cli.demo'").fetchone()
        assert row == ("cli", "local", "cli.demo")
        v = subprocess.run([BIN, "audit", "verify", "-c", s.conf], capture_output=True, text=True, timeout=30)
        assert v.returncode == 0 and v.stdout.startswith("ok: ")
    finally:
        assert s.stop() == 0
