"""The events admin routes: GET /api/admin/events (backlog per subscriber),
GET /api/admin/events/deliveries (keyset pages of pending or failing deliveries) and
POST /api/admin/events/deliveries/:id/retry; only for admin.plugins, audited."""
import re
import sqlite3
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import BIN, Server

ADMIN_PW = "Events-Admin-Pass-2026!"
CLERK_PW = "Plain-Desk-4417"
CLERK_PW2 = "Plain-Desk-8862"
CONF = '''
auth = { argon2 = { memory = "1MiB", iterations = 1 },
         rate_limit = { per_ip = 100000, per_account = 100000 } }
'''
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
DELIVERY_FIELDS = {"id", "event_id", "subscriber", "source", "name", "state", "attempts", "created_at", "next_at",
                   "last_error", "last_attempt_at", "done_at", "payload"}


@pytest.fixture(scope="module")
def srv():
    with tempfile.TemporaryDirectory(prefix="yimen-events-") as tmp:
        s = Server(tmp, extra=CONF, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        yield s
        assert s.stop() == 0


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def login(srv, username, password):
    return requests.post(srv.url + "/api/auth/login", json={"username": username, "password": password}, timeout=10)


@pytest.fixture(scope="module")
def admin(srv):
    r = login(srv, "admin", ADMIN_PW)
    assert r.status_code == 200, r.text
    return r.json()["token"]


@pytest.fixture(scope="module")
def clerk(srv):
    """A member of staff (no admin.plugins), made with the CLI, password changed once."""
    r = subprocess.run([BIN, "user", "add", "clerk", "--name", "办事员", "--unit", "1", "--password-stdin",
                        "-c", srv.conf], input=CLERK_PW + "\n", capture_output=True, text=True, env=srv.env,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    tok = login(srv, "clerk", CLERK_PW).json()["token"]
    r = requests.post(srv.url + "/api/me/password", headers=bearer(tok),
                      json={"old_password": CLERK_PW, "new_password": CLERK_PW2}, timeout=10)
    assert r.status_code in (200, 204), r.text
    r = login(srv, "clerk", CLERK_PW2)
    assert r.status_code == 200
    return r.json()["token"]


def get(srv, tok, path, **params):
    return requests.get(srv.url + path, params=params, headers=bearer(tok) if tok else {}, timeout=10)


def post(srv, tok, path):
    return requests.post(srv.url + path, json={}, headers=bearer(tok) if tok else {}, timeout=10)


def db(srv):
    return sqlite3.connect(f"{srv.data}/yimen.db", timeout=10)


ROUTES = [("GET", "/api/admin/events"), ("GET", "/api/admin/events/deliveries"),
          ("POST", "/api/admin/events/deliveries/1/retry")]


@pytest.mark.parametrize("method,path", ROUTES)
def test_unauthenticated(srv, method, path):
    r = requests.request(method, srv.url + path, json={} if method == "POST" else None, timeout=10)
    assert r.status_code == 401, r.text


@pytest.mark.parametrize("method,path", ROUTES)
def test_not_an_admin(srv, clerk, method, path):
    r = requests.request(method, srv.url + path, json={} if method == "POST" else None, headers=bearer(clerk),
                         timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text


def test_empty_on_a_fresh_server(srv, admin):
    r = get(srv, admin, "/api/admin/events")
    assert r.status_code == 200 and r.json() == {"items": []}
    for state in (None, "pending", "failing"):
        r = get(srv, admin, "/api/admin/events/deliveries", **({"state": state} if state else {}))
        assert r.status_code == 200 and r.json() == {"items": [], "next": None}, r.text


@pytest.mark.parametrize("params,field", [({"state": "done"}, "state"), ({"state": ""}, "state"),
                                          ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                                          ({"after": "-1"}, "after"), ({"subscriber": "x" * 300}, "subscriber")])
def test_bad_parameters(srv, admin, params, field):
    r = get(srv, admin, "/api/admin/events/deliveries", **params)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid" and r.json()["error"]["field"] == field


@pytest.mark.parametrize("ident", ["999999", "0", "abc"])
def test_retry_unknown(srv, admin, ident):
    r = post(srv, admin, f"/api/admin/events/deliveries/{ident}/retry")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text


def test_backlog_of_an_unregistered_subscriber(srv, admin):
    """Rows written as an emit would (the plugin API comes later): a subscriber no
    worker has (its plugin is off) keeps its deliveries pending and shown."""
    now = int(time.time() * 1000)
    with db(srv) as c:
        ids = []
        for i in range(3):
            ev = c.execute("INSERT INTO core_events(source, name, payload, created_at) VALUES('ghost', 'ghost.x', ?, ?)",
                           ('{"n":%d}' % i, now)).lastrowid
            ids.append(c.execute("INSERT INTO core_event_deliveries(event_id, subscriber, source, attempts, "
                                 "created_at, next_at, last_error, last_attempt_at) VALUES(?, 'ghost:ghost.*', "
                                 "'ghost', ?, ?, ?, ?, ?)", (ev, 2 if i == 0 else 0, now, now + 3600_000,
                                                             "boom" if i == 0 else None,
                                                             now if i == 0 else None)).lastrowid)
    c.close()
    items = get(srv, admin, "/api/admin/events").json()["items"]
    assert len(items) == 1
    it = items[0]
    assert it["subscriber"] == "ghost:ghost.*" and it["pending"] == 3 and it["failing"] == 1
    assert it["attempts"] == 2 and it["last_error"] == "boom" and it["registered"] is False
    assert RFC3339.match(it["oldest_pending_at"])

    page = get(srv, admin, "/api/admin/events/deliveries", limit=2).json()
    assert [d["id"] for d in page["items"]] == ids[:2] and page["next"] == ids[1]
    d = page["items"][0]
    assert set(d) == DELIVERY_FIELDS
    assert d["state"] == "pending" and d["name"] == "ghost.x" and d["source"] == "ghost" and d["payload"] == {"n": 0}
    rest = get(srv, admin, "/api/admin/events/deliveries", limit=2, after=page["next"]).json()
    assert [d["id"] for d in rest["items"]] == ids[2:] and rest["next"] is None
    failing = get(srv, admin, "/api/admin/events/deliveries", state="failing").json()["items"]
    assert [d["id"] for d in failing] == ids[:1]
    assert get(srv, admin, "/api/admin/events/deliveries", subscriber="nobody:*").json()["items"] == []
    assert len(get(srv, admin, "/api/admin/events/deliveries", subscriber="ghost:ghost.*").json()["items"]) == 3

    r = post(srv, admin, f"/api/admin/events/deliveries/{ids[0]}/retry")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == ids[0] and r.json()["state"] == "pending"
    c = db(srv)
    next_at, = c.execute("SELECT next_at FROM core_event_deliveries WHERE id = ?", (ids[0],)).fetchone()
    audit = c.execute("SELECT action, target, result FROM core_audit WHERE action = 'events.retry'").fetchall()
    c.close()
    assert next_at <= int(time.time() * 1000) + 1000
    assert audit == [("events.retry", f"event_delivery:{ids[0]}", "ok")]

    with db(srv) as c:
        c.execute("UPDATE core_event_deliveries SET state = 'done', done_at = ? WHERE id = ?", (now, ids[2]))
    c.close()
    r = post(srv, admin, f"/api/admin/events/deliveries/{ids[2]}/retry")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert get(srv, admin, "/api/admin/events").json()["items"][0]["pending"] == 2
