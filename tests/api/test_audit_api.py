"""GET /api/audit: only the audit administrator reads it (not system_admin's "*"),
filters, keyset paging newest first, no write or delete route, failed sign-ins
recorded, and no password or token anywhere in the log."""
import os
import re
import sqlite3
import subprocess
import tempfile
from datetime import date, timedelta

import pytest
import requests

from conftest import BIN, Server

ADMIN_PW = "Audit-Admin-Pass-2026!"
AUDITOR_PW = "Quiet-Ledger-5521"
AUDITOR_PW2 = "Quiet-Ledger-9934"
WRONG_PW = "Not-The-Password-1"
CONF = '''
auth = { argon2 = { memory = "1MiB", iterations = 1 },
         rate_limit = { per_ip = 100000, per_account = 100000 } }
'''
FIELDS = {"id", "at", "actor_id", "actor_name", "on_behalf_of", "unit_id", "ip", "action", "target", "result",
          "request_id", "detail"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Ctx:
    tokens = []


@pytest.fixture(scope="module")
def srv():
    with tempfile.TemporaryDirectory(prefix="yimen-audit-") as tmp:
        s = Server(tmp, extra=CONF, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        yield s
        assert s.stop() == 0


def login(srv, username, password):
    r = requests.post(srv.url + "/api/auth/login", json={"username": username, "password": password}, timeout=10)
    if r.status_code == 200:
        Ctx.tokens.append(r.json()["token"])
    return r


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


@pytest.fixture(scope="module")
def auditor(srv):
    """A user with the audit_admin role, made with the CLI, password changed once."""
    r = subprocess.run([BIN, "user", "add", "auditor", "--name", "审计员", "--unit", "1", "--role", "audit_admin",
                        "--password-stdin", "-c", srv.conf], input=AUDITOR_PW + "\n", capture_output=True, text=True,
                       env=srv.env, timeout=30)
    assert r.returncode == 0, r.stderr
    tok = login(srv, "auditor", AUDITOR_PW).json()["token"]
    r = requests.post(srv.url + "/api/me/password", headers=bearer(tok),
                      json={"old_password": AUDITOR_PW, "new_password": AUDITOR_PW2}, timeout=10)
    assert r.status_code in (200, 204), r.text
    r = login(srv, "auditor", AUDITOR_PW2)
    assert r.status_code == 200 and r.json()["must_change_password"] is False
    return {"token": r.json()["token"], "id": r.json()["user"]["id"]}


def audit(srv, auditor, **params):
    return requests.get(srv.url + "/api/audit", params=params, headers=bearer(auditor["token"]), timeout=10)


def items(srv, auditor, **params):
    r = audit(srv, auditor, **params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_shape_newest_first(srv, auditor):
    body = audit(srv, auditor).json()
    assert set(body) == {"items", "next"}
    its = body["items"]
    assert its, body
    ids = [i["id"] for i in its]
    assert ids == sorted(ids, reverse=True)
    for i in its:
        assert set(i) == FIELDS, i
        assert RFC3339.match(i["at"]), i["at"]
        assert isinstance(i["detail"], dict)
    newest = its[0]
    assert newest["actor_id"] == auditor["id"] and newest["action"] == "auth.login" and newest["result"] == "ok"
    assert newest["ip"] == "127.0.0.1" and newest["request_id"]


def test_only_audit_admin(srv, auditor):
    admin = login(srv, "admin", ADMIN_PW).json()["token"]
    r = requests.get(srv.url + "/api/audit", headers=bearer(admin), timeout=5)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    # the denial itself is on the record
    denied = items(srv, auditor, action="access.denied")
    assert denied and denied[0]["actor_name"] == "admin" and denied[0]["result"] == "denied"
    assert requests.get(srv.url + "/api/audit", timeout=5).status_code == 401
    assert requests.get(srv.url + "/api/audit", headers=bearer("ys_not-a-token"), timeout=5).status_code == 401


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", "PATCH"])
def test_no_write_route(srv, auditor, method):
    r = requests.request(method, srv.url + "/api/audit", headers=bearer(auditor["token"]), json={}, timeout=5)
    assert r.status_code == 405
    assert "GET" in r.headers.get("Allow", "")
    r = requests.request(method, srv.url + "/api/audit/1", headers=bearer(auditor["token"]), json={}, timeout=5)
    assert r.status_code in (404, 405)


def test_failed_login_recorded(srv, auditor):
    r = requests.post(srv.url + "/api/auth/login", json={"username": "admin", "password": WRONG_PW}, timeout=10)
    assert r.status_code == 401
    rid = r.headers["X-Request-Id"]
    got = items(srv, auditor, request_id=rid)
    assert len(got) == 1
    row = got[0]
    assert row["action"] == "auth.login" and row["result"] == "failed"
    assert row["detail"]["username"] == "admin" and row["detail"]["reason"] == "bad_password"
    assert row["target"] == "user:1"
    assert any(i["id"] == row["id"] for i in items(srv, auditor, action="auth.login", result="failed"))


def test_filters(srv, auditor):
    subprocess.run([BIN, "user", "add", "zoe", "--name", "佐伊", "--unit", "1", "-c", srv.conf], capture_output=True,
                   env=srv.env, timeout=30, check=True)
    mine = items(srv, auditor, actor_id=auditor["id"], limit=200)
    assert mine and all(i["actor_id"] == auditor["id"] for i in mine)
    cli = items(srv, auditor, action="cli.")
    assert cli and all(i["action"].startswith("cli.") for i in cli)
    assert {i["action"] for i in items(srv, auditor, action="cli.*")} == {i["action"] for i in cli}
    added = items(srv, auditor, action="cli.user.add")
    assert {i["detail"]["username"] for i in added} >= {"auditor", "zoe"}
    assert all(i["actor_name"] == "cli" and i["ip"] == "local" and i["actor_id"] is None for i in added)
    target = added[0]["target"]
    assert [i["id"] for i in items(srv, auditor, target=target)][-1] == added[0]["id"]
    assert items(srv, auditor, action="cli.user") == []      # exact unless it ends with a dot
    today = date.today()
    all_rows = items(srv, auditor, limit=200)
    span = items(srv, auditor, **{"from": (today - timedelta(days=1)).isoformat(),
                                  "to": (today + timedelta(days=1)).isoformat(), "limit": 200})
    assert len(span) == len(all_rows)
    assert items(srv, auditor, **{"from": (today + timedelta(days=2)).isoformat()}) == []
    assert items(srv, auditor, to="2000-01-01T00:00:00Z") == []
    at = all_rows[0]["at"]
    exact = items(srv, auditor, **{"from": at, "to": at})
    assert all_rows[0]["id"] in [i["id"] for i in exact]


@pytest.mark.parametrize("params,field", [
    ({"bogus": "1"}, "bogus"), ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "x"}, "limit"),
    ({"after": "-3"}, "after"), ({"actor_id": "abc"}, "actor_id"), ({"from": "yesterday"}, "from"),
    ({"to": "2026-13-01"}, "to"), ({"from": "2026-01-01T10:00:00"}, "from"), ({"action": ""}, "action"),
])
def test_bad_parameters(srv, auditor, params, field):
    r = audit(srv, auditor, **params)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid" and r.json()["error"]["field"] == field


def test_keyset_paging(srv, auditor):
    for _ in range(3):
        requests.post(srv.url + "/api/auth/login", json={"username": "nobody", "password": WRONG_PW}, timeout=10)
    everything = [i["id"] for i in items(srv, auditor, limit=200)]
    assert len(everything) >= 7
    seen, after = [], None
    while True:
        params = {"limit": 2}
        if after:
            params["after"] = after
        body = audit(srv, auditor, **params).json()
        seen += [i["id"] for i in body["items"]]
        after = body["next"]
        if after is None:
            break
        assert len(body["items"]) == 2
    # reading appends nothing, so the pages are the whole list: no gaps, no repeats
    assert seen == everything


def test_no_secrets_in_the_log(srv, auditor):
    login(srv, "admin", ADMIN_PW)
    requests.post(srv.url + "/api/auth/login", json={"username": "auditor", "password": WRONG_PW}, timeout=10)
    secrets = [ADMIN_PW, AUDITOR_PW, AUDITOR_PW2, WRONG_PW] + Ctx.tokens
    with sqlite3.connect(os.path.join(srv.data, "yimen.db")) as c:
        rows = c.execute("SELECT * FROM core_audit").fetchall()
    assert len(rows) > 10
    text = "\n".join("|".join(str(v) for v in row) for row in rows)
    for s in secrets:
        assert s not in text, "a secret is in the audit log"
    # the API shows the same rows without anything more
    shown = str(items(srv, auditor, limit=200))
    for s in secrets:
        assert s not in shown
