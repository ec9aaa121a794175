"""Shared helpers of the directory and access API tests (test_directory.py, test_access.py):
a signed-in client, sign-in, error and audit checks, and a small county built through the
API (units, users with grants, signed in with the first-login password change done)."""
import json
import os
import sqlite3
import tempfile
from types import SimpleNamespace

import requests

from conftest import Server

ADMIN_PW = "Admin-Pass-2026!"
INIT_PW = "Initial-Pass-9731!"
NEW_PW = "Changed-Pass-9731!"
EXTRA = ('auth = { argon2 = { memory = "1MiB", iterations = 1 }, '
         'rate_limit = { per_ip = 100000, per_account = 100000 } }')


class Api:
    """A signed-in client (bearer token) of one server."""

    def __init__(self, server, token=None):
        self.url = server.url
        self.token = token

    def call(self, method, path, body=None, raw=None, ctype="application/json"):
        headers = {"Authorization": "Bearer " + self.token} if self.token else {}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None and ctype:
            headers["Content-Type"] = ctype
        return requests.request(method, self.url + path, data=data, headers=headers, timeout=20)

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path):
        return self.call("DELETE", path)


def login_resp(server, username, password):
    return requests.post(server.url + "/api/auth/login", json={"username": username, "password": password},
                         timeout=20)


def login(server, username, password):
    r = login_resp(server, username, password)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def error(resp, status, code=None, field=None):
    assert resp.status_code == status, (resp.status_code, resp.text)
    err = resp.json()["error"]
    assert err["message"]
    if code:
        assert err["code"] == code, err
    if field is not None:
        assert err.get("field") == field, err
    return err


def audit(server, **where):
    """Rows of core_audit (read-only) matching column=value pairs, oldest first."""
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(server.data, "yimen.db"), uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        cond = " AND ".join("%s = ?" % k for k in where) or "1"
        rows = con.execute("SELECT * FROM core_audit WHERE %s ORDER BY id" % cond, list(where.values())).fetchall()
        out = []
        for row in rows:
            d = dict(row)
            d["detail"] = json.loads(d["detail"])
            out.append(d)
        return out
    finally:
        con.close()


def db_value(server, sql, *args):
    """The first column of the first row (read-only), or None when there is no row."""
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(server.data, "yimen.db"), uri=True, timeout=10)
    try:
        row = con.execute(sql, args).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def make_unit(api, kind, name, parent=None, **extra):
    body = dict(kind=kind, name=name, **extra)
    if parent:
        body["parent_id"] = parent
    r = api.post("/api/units", body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


_seq = [0]


def uniq(prefix):
    _seq[0] += 1
    return "%s%d" % (prefix, _seq[0])


def make_user(api, unit, username=None, **extra):
    body = dict(username=username or uniq("u"), display_name=extra.pop("display_name", "用户"), unit_id=unit,
                password=INIT_PW, **extra)
    r = api.post("/api/users", body)
    assert r.status_code == 201, r.text
    return r.json()


def grant(api, user_id, role, unit, descendants=True):
    r = api.post("/api/grants", {"user_id": user_id, "role": role, "unit_id": unit,
                                 "include_descendants": descendants})
    assert r.status_code == 201, r.text
    return r.json()


def person(server, admin, unit, roles=(), display_name="用户", **extra):
    """A new user with grants, signed in, with the first-login password change done."""
    u = make_user(admin, unit, display_name=display_name, **extra)
    for role, on, desc in roles:
        grant(admin, u["id"], role, on, desc)
    api = Api(server, login(server, u["username"], INIT_PW))
    r = api.post("/api/me/password", {"old_password": INIT_PW, "new_password": NEW_PW})
    assert r.status_code == 204, r.text
    return SimpleNamespace(id=u["id"], username=u["username"], api=api, unit=unit)


def serve(prefix):
    """The body of a module's srv fixture (`yield from serve(prefix)`): a server in a
    temporary directory, checked on the way out for a crashed worker."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        s = Server(tmp, EXTRA, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        try:
            yield s
        finally:
            rc = s.stop()
        # a worker that crashed after answering would go unnoticed otherwise
        log = s.log_text()
        assert rc == 0 and "restarting worker" not in log and "Sanitizer" not in log, log[-4000:]


def county(srv):
    """The admin signed in, the root unit and townships A and B; each module adds the rest."""
    admin = Api(srv, login(srv, "admin", ADMIN_PW))
    t = SimpleNamespace(admin=admin, srv=srv)
    t.root = admin.get("/api/units?kind=county").json()["items"][0]["id"]
    t.A = make_unit(admin, "township", "甲镇")
    t.B = make_unit(admin, "township", "乙镇")
    return t
