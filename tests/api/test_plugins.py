"""Plugins over HTTP: the hello plugin end to end (CRUD, validation, permissions, unit
scope, settings), disabling and re-enabling by reload, refused reloads, every refusal of
the loader (ABI, name, symbol, file safety, dependencies, reserved and duplicate names),
storage isolation against a hostile plugin, per-plugin migrations, registration rules,
the admin API and `yimen plugins`, and a plugin whose start() crashes the worker.

Test plugins are C sources in plugin_fixtures/, compiled at run time into a temporary
plugin directory that comes first in plugin_paths (build/plugins, holding hello, comes
second). Servers are grouped so the file runs in well under a minute."""
import atexit
import json
import os
from datetime import datetime
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

from types import SimpleNamespace

import pytest
import requests

from conftest import ADMIN_PASSWORD, ROOT, Server
from directory_helpers import error, login, uniq  # noqa: E402  (shared with the directory tests)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "plugin_fixtures")
BUILT = os.path.join(ROOT, "build", "plugins")
LUA = os.path.join(ROOT, "lua")
INCLUDE = os.path.join(ROOT, "core", "include")
INIT_PW = "Initial-Pass-5820!"
NEW_PW = "Changed-Pass-5820!"
AUTH = ('auth = { argon2 = { memory = "1MiB", iterations = 1 }, '
        'rate_limit = { per_ip = 1000, per_account = 1000 } }\n')
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?\+08:00$")
HELLO_ROUTES = [("GET", "/api/hello/items"), ("POST", "/api/hello/items"), ("GET", "/api/hello/items/:id"),
                ("PATCH", "/api/hello/items/:id"), ("DELETE", "/api/hello/items/:id"),
                ("POST", "/api/hello/items/:id/confirm"), ("POST", "/api/hello/items/:id/files"),
                ("GET", "/api/hello/items.xlsx"), ("POST", "/api/hello/items/import"), ("GET", "/api/hello/seen"),
                ("POST", "/api/hello/items/:id/track"), ("POST", "/api/hello/tracked/:id/urge"),
                ("POST", "/api/hello/items/:id/dispatch"), ("POST", "/api/hello/dispatches/:id/sign")]


# ---------------------------------------------------------------- building fixtures

_build_dir = tempfile.mkdtemp(prefix="yimen-fixtures-")
atexit.register(shutil.rmtree, _build_dir, True)
_built = {}


def _pkg(flag):
    return subprocess.run(["pkg-config", flag, "jansson"], capture_output=True, text=True,
                          check=True).stdout.split()


def fixture_so(src, **defines):
    """Compiles plugin_fixtures/<src>.c with -D defines (once per set) and returns the .so."""
    key = (src, tuple(sorted(defines.items())))
    if key not in _built:
        out = os.path.join(_build_dir, "%s-%d.so" % (src, len(_built)))
        flags = ["-D%s=%s" % (k, v) for k, v in sorted(defines.items())]
        cmd = (["gcc", "-std=gnu11", "-shared", "-fPIC", "-Wall", "-Werror", "-I" + INCLUDE] + _pkg("--cflags")
               + flags + ["-o", out, os.path.join(FIXTURES, src + ".c")] + _pkg("--libs"))
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, "fixture %s did not compile:\n%s" % (src, r.stderr)
        _built[key] = out
    return _built[key]


def q(s):
    """A C string literal for -D."""
    return '"%s"' % s


def install(base, name, so, schema=None):
    """<base>/<name>/<name>.so (by rename, as a county would install it), and schema/."""
    d = os.path.join(base, name)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, ".%s.so.tmp" % name)
    shutil.copyfile(so, tmp)
    os.chmod(tmp, 0o755)
    os.rename(tmp, os.path.join(d, name + ".so"))
    if schema:
        os.makedirs(os.path.join(d, "schema"), exist_ok=True)
        for fname, sql in schema.items():
            with open(os.path.join(d, "schema", fname), "w") as f:
                f.write(sql)
    return d


def generic(base, name, **defines):
    defines.setdefault("FX_NAME", q(name))
    defines.setdefault("FX_DIR", q(name))
    return install(base, name, fixture_so("generic", **defines))


def plugin_conf(paths, enabled, extra=""):
    return ("plugin_paths = { %s }\n" % ", ".join('"%s"' % p for p in paths)
            + "plugins = { %s }\n" % ", ".join('"%s"' % n for n in enabled) + AUTH + extra)


# ---------------------------------------------------------------- HTTP helpers

class Api:
    """A signed-in client (bearer token) of one server."""

    def __init__(self, server, token=None):
        self.server = server
        self.token = token

    def call(self, method, path, body=None, raw=None, ctype="application/json"):
        headers = {"Authorization": "Bearer " + self.token} if self.token else {}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None and ctype:
            headers["Content-Type"] = ctype
        return requests.request(method, self.server.url + path, data=data, headers=headers, timeout=20)

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path):
        return self.call("DELETE", path)


def admin_api(server):
    return Api(server, login(server, "admin", ADMIN_PASSWORD))


def make_unit(api, kind, name, parent=None):
    body = {"kind": kind, "name": name}
    if parent:
        body["parent_id"] = parent
    r = api.post("/api/units", body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def make_role(api, key, perms):
    r = api.post("/api/roles", {"key": key, "name": key, "permissions": perms})
    assert r.status_code == 201, r.text


def person(server, admin, unit, grants=()):
    """A user of unit with grants [(role, unit, include_descendants)], signed in, with the
    first-sign-in password change done."""
    r = admin.post("/api/users", {"username": uniq("p"), "display_name": "测试", "unit_id": unit,
                                  "password": INIT_PW})
    assert r.status_code == 201, r.text
    u = r.json()
    for role, on, desc in grants:
        g = admin.post("/api/grants", {"user_id": u["id"], "role": role, "unit_id": on,
                                       "include_descendants": desc})
        assert g.status_code == 201, g.text
    api = Api(server, login(server, u["username"], INIT_PW))
    r = api.post("/api/me/password", {"old_password": INIT_PW, "new_password": NEW_PW})
    assert r.status_code == 204, r.text
    api.id, api.unit = u["id"], unit
    return api


def ro_db(server):
    return sqlite3.connect("file:%s?mode=ro" % os.path.join(server.data, "yimen.db"), uri=True, timeout=10)


def db_rows(server, sql, *args):
    con = ro_db(server)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def plugins_by_name(api):
    r = api.get("/api/admin/plugins")
    assert r.status_code == 200, r.text
    return {p["name"]: p for p in r.json()["items"]}


def generation(server):
    return requests.get(server.url + "/healthz", headers={"Connection": "close"}, timeout=5).json()["generation"]


def settle(server, gen, n=10, timeout=15):
    """Until n fresh connections in a row are answered by generation gen."""
    deadline, ok = time.time() + timeout, 0
    while time.time() < deadline and ok < n:
        try:
            ok = ok + 1 if generation(server) == gen else 0
        except requests.RequestException:
            ok = 0
        if ok < n:
            time.sleep(0.02)
    assert ok >= n, "generation %d never took over:\n%s" % (gen, server.log_text()[-3000:])


def reload(server, gen, timeout=15):
    """`yimen reload`, then wait until generation gen serves; a refused reload fails at once."""
    mark = len(server.log_text())
    r = server.cli("reload")
    assert r.returncode == 0, r.stderr
    deadline = time.time() + timeout
    while time.time() < deadline:
        refused = [ln for ln in log_since(server, mark).splitlines() if "reload failed" in ln or "reload refused" in ln]
        assert not refused, refused
        try:
            if generation(server) >= gen:
                return settle(server, gen)
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError("generation %d not serving:\n%s" % (gen, log_since(server, mark)[-3000:]))


def log_since(server, mark):
    return server.log_text()[mark:]


def wait_log_since(server, mark, needle, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = log_since(server, mark)
        if (needle.search(text) if hasattr(needle, "search") else needle in text):
            return text
        time.sleep(0.05)
    raise AssertionError("log never showed %r:\n%s" % (needle, log_since(server, mark)[-4000:]))


def refusal_logged(log, name, fragment):
    """A `plugin refused` line for name whose reason contains fragment."""
    for line in log.splitlines():
        if 'msg="plugin refused"' in line and ("plugin=%s " % name) in line and fragment in line:
            return True
    return False


def new_server(tmp, extra, workers=2):
    os.makedirs(os.path.join(tmp, "plugins"), exist_ok=True)
    return Server(tmp, extra, workers=workers)


# sessions that outlive test-clock jumps of months
LONG_AUTH = ('auth = { argon2 = { memory = "1MiB", iterations = 1 }, idle_timeout = "3650d", '
             'absolute_timeout = "3650d", rate_limit = { per_ip = 100000, per_account = 100000 } }\n')


def calendar_conf(tmp, year, text):
    """A calendar file <tmp>/calendar/<year>.conf holding text; the config line that uses it."""
    cal = os.path.join(tmp, "calendar")
    os.makedirs(cal, exist_ok=True)
    with open(os.path.join(cal, "%d.conf" % year), "w") as f:
        f.write(text)
    return 'calendar_dir = "%s"\n' % cal


def clock_to(admin, when):
    """Moves the test clock forward to when (local time, +08:00); the jobs that fall due run."""
    now = admin.post("/api/test/clock", {"advance": 0}).json()["now"]
    delta = (datetime.fromisoformat(when + "+08:00") - datetime.fromisoformat(now)).total_seconds()
    assert delta >= 0, (now, when)
    r = admin.post("/api/test/clock", {"advance": delta})
    assert r.status_code == 200, r.text
    return r


def stop_clean(server):
    rc = server.stop()
    log = server.log_text()
    assert rc == 0, "server did not stop cleanly (%s):\n%s" % (rc, log[-4000:])
    assert "Sanitizer" not in log, log[-4000:]


# ================================================================ hello over HTTP

@pytest.fixture(scope="module")
def h():
    """A server with hello; units A and B under the county; roles hello_editor and
    hello_reader; a_ed / a_rd / a_none in A, b_ed in B, x_ed in B with hello_editor on
    A only."""
    with tempfile.TemporaryDirectory(prefix="yimen-hello-") as tmp:
        s = new_server(tmp, plugin_conf([os.path.join(tmp, "plugins"), BUILT], ["hello"])).start()
        try:
            admin = admin_api(s)
            t = SimpleNamespace(s=s, admin=admin)
            t.root = admin.get("/api/units?kind=county").json()["items"][0]["id"]
            t.A = make_unit(admin, "township", "甲镇")
            t.B = make_unit(admin, "township", "乙镇")
            make_role(admin, "hello_editor", ["hello.read", "hello.write"])
            make_role(admin, "hello_reader", ["hello.read"])
            t.a_ed = person(s, admin, t.A, [("hello_editor", t.A, True)])
            t.a_rd = person(s, admin, t.A, [("hello_reader", t.A, True)])
            t.a_none = person(s, admin, t.A, [("staff", t.A, True)])
            t.b_ed = person(s, admin, t.B, [("hello_editor", t.B, True)])
            t.x_ed = person(s, admin, t.B, [("hello_editor", t.A, True)])
            yield t
        finally:
            stop_clean(s)


def new_item(api, name=None):
    r = api.post("/api/hello/items", {"name": name or uniq("条目")})
    assert r.status_code == 201, r.text
    return r.json()


def test_hello_crud_happy_path(h):
    item = new_item(h.a_ed, "第一条")
    assert set(item) == {"id", "name", "unit_id", "created_by", "created_at", "updated_at"}
    assert item["name"] == "第一条" and item["unit_id"] == h.A and item["created_by"] == h.a_ed.id
    assert isinstance(item["id"], int) and item["id"] > 0
    path = "/api/hello/items/%d" % item["id"]
    r = h.a_ed.get(path)
    assert r.status_code == 200 and r.json() == item, r.text
    r = h.a_ed.patch(path, {"name": "改过的"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "改过的" and r.json()["id"] == item["id"]
    assert r.json()["created_at"] == item["created_at"]
    listed = h.a_ed.get("/api/hello/items?limit=100").json()
    assert item["id"] in [i["id"] for i in listed["items"]]
    assert "greeting" in listed
    r = h.a_ed.delete(path)
    assert r.status_code == 204 and r.content == b"", r.text
    error(h.a_ed.get(path), 404, "not_found")
    error(h.a_ed.delete(path), 404, "not_found")
    assert item["id"] not in [i["id"] for i in h.a_ed.get("/api/hello/items?limit=100").json()["items"]]


def test_hello_times_are_rfc3339_in_the_server_zone(h):
    item = new_item(h.a_ed)
    assert TIME_RE.match(item["created_at"]), item
    assert TIME_RE.match(item["updated_at"]), item
    r = requests.post(h.s.url + "/api/test/clock", json={"advance": 90},
                      headers={"Authorization": "Bearer " + h.admin.token}, timeout=10)
    assert r.status_code == 200, r.text
    patched = h.a_ed.patch("/api/hello/items/%d" % item["id"], {"name": "九十秒后"}).json()
    assert TIME_RE.match(patched["updated_at"]), patched
    assert patched["created_at"] == item["created_at"]
    assert patched["updated_at"] > item["updated_at"], (item, patched)


def test_hello_list_pages_by_cursor(h):
    unit = make_unit(h.admin, "village", uniq("村"), h.A)
    api = person(h.s, h.admin, unit, [("hello_editor", unit, False)])
    ids = [new_item(api)["id"] for _ in range(5)]
    page1 = api.get("/api/hello/items?limit=2").json()
    assert [i["id"] for i in page1["items"]] == ids[:2] and page1["next"] == ids[1]
    page2 = api.get("/api/hello/items?limit=2&after=%d" % page1["next"]).json()
    assert [i["id"] for i in page2["items"]] == ids[2:4] and page2["next"] == ids[3]
    page3 = api.get("/api/hello/items?limit=2&after=%d" % page2["next"]).json()
    assert [i["id"] for i in page3["items"]] == ids[4:] and page3["next"] is None
    everything = api.get("/api/hello/items").json()
    assert [i["id"] for i in everything["items"]] == ids and everything["next"] is None


@pytest.mark.parametrize("body,field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "字" * 67}, "name"),          # 201 bytes of UTF-8: the limit is in bytes
    ({"name": 5}, "name"),
    ({"name": None}, "name"),
    ({"name": ["a"]}, "name"),
    ({"name": "ok", "colour": "red"}, "colour"),
])
def test_hello_create_invalid(h, body, field):
    error(h.a_ed.post("/api/hello/items", body), 400, "invalid", field)
    error(h.a_ed.patch("/api/hello/items/%d" % new_item(h.a_ed)["id"], body), 400, "invalid", field)


def test_hello_name_limits_are_inclusive(h):
    assert new_item(h.a_ed, "x" * 200)["name"] == "x" * 200
    assert new_item(h.a_ed, "字" * 66)["name"] == "字" * 66


def test_hello_bad_bodies(h):
    item = new_item(h.a_ed)
    for method, path in (("POST", "/api/hello/items"), ("PATCH", "/api/hello/items/%d" % item["id"])):
        error(h.a_ed.call(method, path, raw=b'{"name": "a",'), 400, "bad_json")
        error(h.a_ed.call(method, path, raw=b'{"name": "a", "name": "b"}'), 400, "bad_json")
        error(h.a_ed.call(method, path, raw=b'{"name": "a"}', ctype="text/plain"), 415, "unsupported_media_type")
        error(h.a_ed.call(method, path, raw=b'["a"]'), 400, "invalid")
        error(h.a_ed.call(method, path, raw=b''), 400)
    assert h.a_ed.get("/api/hello/items/%d" % item["id"]).json()["name"] == item["name"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", ""])
def test_hello_limit_out_of_range(h, limit):
    error(h.a_ed.get("/api/hello/items?limit=" + limit), 400, "invalid", "limit")


def test_hello_limit_bounds_accepted(h):
    for limit in ("1", "100"):
        assert h.a_ed.get("/api/hello/items?limit=" + limit).status_code == 200


@pytest.mark.parametrize("query,field", [("limit=5x", "limit"), ("after=abc", "after")])
def test_hello_bad_query_values_are_refused(h, query, field):
    # docs/api conventions: a bad limit or after is 400 invalid with field
    error(h.a_ed.get("/api/hello/items?" + query), 400, "invalid", field)


@pytest.mark.parametrize("ident", ["999999", "0", "-1", "abc", "1x"])
def test_hello_unknown_id_is_404(h, ident):
    path = "/api/hello/items/" + ident
    error(h.a_ed.get(path), 404, "not_found")
    error(h.a_ed.patch(path, {"name": "x"}), 404, "not_found")
    error(h.a_ed.delete(path), 404, "not_found")


def test_hello_needs_sign_in(h):
    item = new_item(h.a_ed)
    anon = Api(h.s)
    for method, path in HELLO_ROUTES:
        body = {"name": "x"} if method in ("POST", "PATCH") else None
        r = anon.call(method, path.replace(":id", str(item["id"])), body)
        assert r.status_code == 401, (method, path, r.text)


def test_hello_without_permission_is_403_on_every_route(h):
    item = new_item(h.a_ed)
    for method, path in HELLO_ROUTES:
        body = {"name": "x"} if method in ("POST", "PATCH") else None
        error(h.a_none.call(method, path.replace(":id", str(item["id"])), body), 403, "forbidden")
    assert h.a_ed.get("/api/hello/items/%d" % item["id"]).json()["name"] == item["name"]


def test_hello_reader_reads_but_cannot_write(h):
    item = new_item(h.a_ed)
    path = "/api/hello/items/%d" % item["id"]
    assert h.a_rd.get(path).json() == item
    assert item["id"] in [i["id"] for i in h.a_rd.get("/api/hello/items?limit=100").json()["items"]]
    error(h.a_rd.post("/api/hello/items", {"name": "x"}), 403, "forbidden")
    error(h.a_rd.patch(path, {"name": "x"}), 403, "forbidden")
    error(h.a_rd.delete(path), 403, "forbidden")
    assert h.a_ed.get(path).json() == item


def test_hello_other_units_items_are_404(h):
    item = new_item(h.a_ed)
    path = "/api/hello/items/%d" % item["id"]
    error(h.b_ed.get(path), 404, "not_found")
    error(h.b_ed.patch(path, {"name": "乙镇改的"}), 404, "not_found")
    error(h.b_ed.delete(path), 404, "not_found")
    assert item["id"] not in [i["id"] for i in h.b_ed.get("/api/hello/items?limit=100").json()["items"]]
    assert h.a_ed.get(path).json() == item
    # the county's administrator holds "*" on the root: every unit is in scope
    assert h.admin.get(path).json() == item


def test_hello_create_needs_write_on_the_callers_unit(h):
    # x_ed sits in B but holds hello.write on A only: an item of B would be one they
    # can neither read nor change afterwards
    r = h.x_ed.post("/api/hello/items", {"name": "不该有"})
    assert r.status_code == 403, "created an item in a unit without hello.write there: %s" % r.text
    assert not db_rows(h.s, "SELECT id FROM hello_items WHERE name = '不该有'")


def test_hello_writes_are_audited(h):
    item = new_item(h.a_ed)
    h.a_ed.patch("/api/hello/items/%d" % item["id"], {"name": "审计"})
    h.a_ed.delete("/api/hello/items/%d" % item["id"])
    rows = db_rows(h.s, "SELECT action, actor_id, result FROM core_audit WHERE target = ? ORDER BY id",
                   "hello_item:%d" % item["id"])
    assert rows == [("hello.create", h.a_ed.id, "ok"), ("hello.update", h.a_ed.id, "ok"),
                    ("hello.delete", h.a_ed.id, "ok")], rows


# ================================================================ hello settings

def test_hello_max_items(tmp_path):
    tmp = str(tmp_path)
    s = new_server(tmp, plugin_conf([tmp + "/plugins", BUILT], ["hello"], "hello = { max_items = 2 }\n")).start()
    try:
        api = admin_api(s)
        new_item(api)
        new_item(api)
        error(api.post("/api/hello/items", {"name": "third"}), 409, "conflict")
        assert db_rows(s, "SELECT count(*) FROM hello_items") == [(2,)]
        assert len(api.get("/api/hello/items").json()["items"]) == 2
    finally:
        stop_clean(s)


@pytest.mark.parametrize("settings,reason", [
    ('{ max_items = "x" }', "hello.max_items: must be an integer"),
    ("{ max_items = 0 }", "hello.max_items: must be an integer"),
    ("{ max_items = 2.5 }", "hello.max_items: must be an integer"),
    ('{ colour = "red" }', "hello.colour: unknown setting"),
    ("{ greeting = 5 }", "hello.greeting: must be a string"),
])
def test_hello_bad_settings_fail_it_at_first_start(tmp_path, settings, reason):
    tmp = str(tmp_path)
    s = new_server(tmp, plugin_conf([tmp + "/plugins", BUILT], ["hello"], "hello = %s\n" % settings)).start()
    try:
        api = admin_api(s)
        p = plugins_by_name(api)["hello"]
        assert p["state"] == "failed" and reason in (p["reason"] or ""), p
        for method, path in HELLO_ROUTES:
            error(api.call(method, path.replace(":id", "1"), {"name": "x"} if method in ("POST", "PATCH") else None),
                  404, "not_found")
        assert refusal_logged(s.log_text(), "hello", reason), s.log_text()[-3000:]
        # everything else works
        assert requests.get(s.url + "/healthz", timeout=5).json()["status"] == "ok"
        assert api.get("/api/me").status_code == 200
        assert api.get("/api/units").status_code == 200
    finally:
        stop_clean(s)


# ================================================================ disable, enable, reload

def test_disable_enable_reload_and_refused_reload(tmp_path):
    tmp = str(tmp_path)
    paths = [tmp + "/plugins", BUILT]
    s = new_server(tmp, plugin_conf(paths, ["hello"], "hello = { greeting = \"早\" }\n")).start()
    try:
        api = admin_api(s)
        item = new_item(api, "留着")
        assert generation(s) == 1

        # disable: routes go, the admin API says so, the data stays
        s.write_config(plugin_conf(paths, []))
        reload(s, 2)
        for method, path in HELLO_ROUTES:
            error(api.call(method, path.replace(":id", str(item["id"])),
                           {"name": "x"} if method in ("POST", "PATCH") else None), 404, "not_found")
        p = plugins_by_name(api)["hello"]
        assert p["state"] == "disabled" and p["routes"] == [], p
        assert db_rows(s, "SELECT name FROM hello_items WHERE id = ?", item["id"]) == [("留着",)]

        # enable again: the same data is back
        s.write_config(plugin_conf(paths, ["hello"], "hello = { greeting = \"早\" }\n"))
        reload(s, 3)
        assert api.get("/api/hello/items/%d" % item["id"]).json() == item
        assert plugins_by_name(api)["hello"]["state"] == "enabled"
        assert api.get("/api/hello/items").json()["greeting"] == "早"

        # a reload that would lose hello is refused: generation 3 keeps serving
        mark = len(s.log_text())
        s.write_config(plugin_conf(paths, ["hello"], 'hello = { max_items = "x" }\n'))
        r = s.cli("reload")
        assert r.returncode == 0, r.stderr
        log = wait_log_since(s, mark, "reload failed; the old generation keeps serving")
        refusal = [ln for ln in log.splitlines() if "reload failed" in ln]
        assert any("hello" in ln and "max_items" in ln for ln in refusal), refusal
        time.sleep(0.3)
        for _ in range(10):
            assert generation(s) == 3
        assert api.get("/api/hello/items/%d" % item["id"]).json() == item
        assert plugins_by_name(api)["hello"]["state"] == "enabled"

        # POST /api/admin/reload with the good configuration back
        s.write_config(plugin_conf(paths, ["hello"]))
        root = api.get("/api/units?kind=county").json()["items"][0]["id"]
        staff = person(s, api, root, [("staff", root, True)])
        error(staff.post("/api/admin/reload", {}), 403, "forbidden")
        error(Api(s).post("/api/admin/reload", {}), 401)
        r = api.post("/api/admin/reload", {})
        assert r.status_code == 202 and r.json() == {"reloading": True}, r.text
        deadline = time.time() + 15
        while generation(s) <= 3 and time.time() < deadline:
            time.sleep(0.05)
        settle(s, generation(s))
        assert generation(s) > 3
        assert api.get("/api/hello/items/%d" % item["id"]).json() == item
        audit = db_rows(s, "SELECT count(*) FROM core_audit WHERE action = 'admin.reload' AND actor_id = 1")
        assert audit[0][0] >= 1
    finally:
        stop_clean(s)


def test_admin_reload_in_single_mode_is_409(tmp_path):
    tmp = str(tmp_path)
    s = new_server(tmp, plugin_conf([tmp + "/plugins", BUILT], ["hello"])).start(single=True)
    try:
        api = admin_api(s)
        error(api.post("/api/admin/reload", {}), 409, "conflict")
        assert api.get("/api/hello/items").status_code == 200
    finally:
        stop_clean(s)


def test_reload_not_blocked_by_a_plugin_that_is_not_enabled(tmp_path):
    # a directory named after a core service sits in plugin_paths, but nobody enables it
    tmp = str(tmp_path)
    paths = [tmp + "/plugins", BUILT]
    s = new_server(tmp, plugin_conf(paths, ["hello"]))
    generic(tmp + "/plugins", "users")
    s.start()
    try:
        api = admin_api(s)
        assert plugins_by_name(api)["hello"]["state"] == "enabled"
        s.write_config(plugin_conf(paths, ["hello"], 'hello = { greeting = "新" }\n'))
        reload(s, 2)
        assert api.get("/api/hello/items").json()["greeting"] == "新"
    finally:
        stop_clean(s)


# ================================================================ refusals, isolation, registration

def _abi_minor():
    with open(os.path.join(ROOT, "core", "include", "yimen.h")) as f:
        return int(re.search(r"#define YM_ABI_MINOR (\d+)", f.read()).group(1))


MINOR = _abi_minor()
REFUSED = {
    # name: (fragments of the reason, in the admin API and the log)
    "abimajor": ["built for ABI 99.%d" % MINOR, "this yimen has ABI 1."],
    "abiminor": ["built for ABI 1.%d" % (MINOR + 1), "this yimen has ABI 1.%d" % MINOR],
    "wrongname": ["someoneelse", "wrongname"],
    "nosym": ["no exported symbol yimen_plugin"],
    "shortdef": ["definition is 16 bytes, expected"],
    "toonew": ["needs yimen 99.0 or newer"],
    "unresolved": ["cannot load", "yimen_fixture_nowhere"],
    "wwparent": ["its plugin_paths directory is world-writable"],
    "wwso": ["wwso.so is world-writable"],
    "wwdir": ["wwdir is world-writable"],
    "symlink": ["symlink.so is a link that leads out of the plugin's directory"],
    "needmissing": ["missing dependency nothere (not found)"],
    "needoff": ["missing dependency offplug (not enabled)"],
    "needfailed": ["missing dependency abimajor (failed)"],
    "users": ["the name users is reserved"],
    "ghost": ["enabled in the config but not found in plugin_paths"],
    "badmig": ["badmig migration 001_init.sql failed", "not authorized"],
    "outside": ["route /api/hello/steal is outside /api/outside/"],
    "outside2": ["route /api/outside2x/ping is outside /api/outside2/"],
    "startfail": ["startfail: cannot open its spool directory"],
}
ENABLED = ["hello", "abimajor", "abiminor", "wrongname", "nosym", "shortdef", "toonew", "unresolved", "wwparent",
           "wwso", "wwdir", "symlink", "needmissing", "needoff", "needfailed", "dup", "ghost", "evil", "lateroute",
           "outside", "outside2", "badmig", "startfail", "fine", "hello_lua"]


@pytest.fixture(scope="module")
def rs():
    """One server with every kind of refused plugin (REFUSED) next to hello, hello_lua and
    the working fixtures (fine, dup, evil, lateroute); offplug and users are installed but
    not enabled. plugin_paths: plugins/, plugins2/ (a second dup), plugins3/ (world-
    writable, holding wwparent), build/plugins, lua/."""
    with tempfile.TemporaryDirectory(prefix="yimen-refuse-") as tmp:
        base, second = os.path.join(tmp, "plugins"), os.path.join(tmp, "plugins2")
        writable = os.path.join(tmp, "plugins3")
        os.makedirs(base)
        os.makedirs(second)
        generic(writable, "wwparent")
        os.chmod(writable, 0o777)
        generic(base, "fine")
        generic(base, "abimajor", FX_ABI_MAJOR="99")
        generic(base, "abiminor", FX_ABI_MINOR="YM_ABI_MINOR+1")
        generic(base, "wrongname", FX_NAME=q("someoneelse"))
        install(base, "nosym", fixture_so("nosym"))
        generic(base, "shortdef", FX_SIZE="16")
        generic(base, "toonew", FX_CORE_MIN=q("99.0"))
        generic(base, "unresolved", FX_UNDEFINED="1")
        os.chmod(os.path.join(generic(base, "wwso"), "wwso.so"), 0o757)
        os.chmod(generic(base, "wwdir"), 0o757)
        outside = os.path.join(tmp, "elsewhere")
        generic(outside, "symlink")
        os.makedirs(os.path.join(base, "symlink"))
        os.symlink(os.path.join(outside, "symlink", "symlink.so"), os.path.join(base, "symlink", "symlink.so"))
        generic(base, "needmissing", FX_REQUIRES=q("nothere"))
        generic(base, "offplug")
        generic(base, "needoff", FX_REQUIRES=q("offplug"))
        generic(base, "needfailed", FX_REQUIRES=q("abimajor"))
        generic(base, "users")
        generic(base, "dup", FX_VERSION=q("1.0.0"))
        generic(second, "dup", FX_VERSION=q("2.0.0"))
        with open(os.path.join(FIXTURES, "evil_schema", "001_init.sql")) as f:
            install(base, "evil", fixture_so("evil"), {"001_init.sql": f.read()})
        install(base, "lateroute", fixture_so("lateroute"))
        generic(base, "outside", FX_ROUTE=q("/api/hello/steal"))
        generic(base, "outside2", FX_ROUTE=q("/api/outside2x/ping"))
        install(base, "badmig", fixture_so("generic", FX_NAME=q("badmig"), FX_DIR=q("badmig")),
                {"001_init.sql": "CREATE TABLE core_x (a INTEGER);\n"})
        generic(base, "startfail", FX_START_FAIL="1")
        s = new_server(tmp, plugin_conf([base, second, writable, BUILT, LUA], ENABLED))
        s.start()
        try:
            api = admin_api(s)
            yield SimpleNamespace(s=s, admin=api, tmp=tmp, base=base, second=second)
        finally:
            stop_clean(s)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_plugin_has_its_reason(rs, name):
    p = plugins_by_name(rs.admin)[name]
    assert p["state"] == "failed", p
    for fragment in REFUSED[name]:
        assert fragment in (p["reason"] or ""), p
    assert refusal_logged(rs.s.log_text(), name, REFUSED[name][0]), rs.s.log_text()[-4000:]


@pytest.mark.parametrize("name", ["abimajor", "abiminor", "wrongname", "shortdef", "toonew", "unresolved", "wwparent",
                                  "wwso", "wwdir", "symlink", "needmissing", "needoff", "needfailed", "badmig",
                                  "outside2"])
def test_refused_plugin_has_no_routes(rs, name):
    error(rs.admin.get("/api/%s/ping" % name), 404, "not_found")
    assert plugins_by_name(rs.admin)[name]["routes"] == []


def test_refused_plugins_leave_everything_else_serving(rs):
    assert requests.get(rs.s.url + "/healthz", timeout=5).json()["status"] == "ok"
    plugins = plugins_by_name(rs.admin)
    for name in ("hello", "fine", "dup", "evil", "lateroute"):
        assert plugins[name]["state"] == "enabled" and plugins[name]["reason"] is None, plugins[name]
    assert plugins["offplug"]["state"] == "disabled", plugins["offplug"]
    item = new_item(rs.admin)
    assert rs.admin.get("/api/hello/items/%d" % item["id"]).json() == item
    assert rs.admin.get("/api/fine/ping").json() == {"plugin": "fine", "version": "1.0.0"}
    error(rs.admin.get("/api/hello/steal"), 404)
    error(rs.admin.get("/api/offplug/ping"), 404, "not_found")
    assert rs.admin.get("/api/users").status_code == 200       # the core's, not the plugin's
    assert "restarting worker" not in rs.s.log_text()


def test_duplicate_name_first_path_wins(rs):
    p = plugins_by_name(rs.admin)["dup"]
    assert p["state"] == "enabled" and p["version"] == "1.0.0", p
    assert rs.admin.get("/api/dup/ping").json()["version"] == "1.0.0"
    lines = [ln for ln in rs.s.log_text().splitlines() if "plugin=dup" in ln and "found first elsewhere" in ln]
    assert lines and os.path.join(rs.second, "dup") in lines[0], lines


def test_failed_start_takes_its_routes_away(rs):
    p = plugins_by_name(rs.admin)["startfail"]
    assert p["state"] == "failed", p
    error(rs.admin.get("/api/startfail/ping"), 404, "not_found")


def test_registration_outside_init_is_refused(rs):
    p = plugins_by_name(rs.admin)["lateroute"]
    assert p["state"] == "enabled", p
    assert [r["path"] for r in p["routes"]] == ["/api/lateroute/status"], p
    assert p["permissions"] == [], p
    assert rs.admin.get("/api/lateroute/status").json() == {"route_rc": -1, "permission_rc": -1}
    error(rs.admin.get("/api/lateroute/late"), 404, "not_found")
    log = rs.s.log_text()
    assert "registration outside init refused" in log and "plugin=lateroute" in log


def test_admin_plugins_shape(rs):
    r = rs.admin.get("/api/admin/plugins")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    items = r.json()["items"]
    names = [p["name"] for p in items]
    assert len(names) == len(set(names)), names
    # every plugin found is listed: the enabled ones, and those installed but not enabled
    # (the fixtures here, and the built subsystems that this test does not enable)
    installed = {n for n in os.listdir(BUILT) if os.path.isdir(os.path.join(BUILT, n))}
    installed |= {n for n in os.listdir(LUA) if os.path.isfile(os.path.join(LUA, n, "init.lua"))}
    assert set(ENABLED) | {"offplug", "users"} <= set(names) <= set(ENABLED) | {"offplug", "users"} | installed, names
    for p in items:
        if p["name"] not in set(ENABLED) | {"offplug", "users"}:
            assert p["state"] == "disabled", p
    for p in items:
        assert set(p) == {"name", "version", "kind", "state", "reason", "routes", "permissions"}, p
        assert p["kind"] in ("c", "lua") and p["state"] in ("enabled", "disabled", "failed"), p
        assert (p["reason"] is None) == (p["state"] != "failed"), p
        assert isinstance(p["routes"], list) and isinstance(p["permissions"], list), p
        for route in p["routes"]:
            assert set(route) == {"method", "path", "permission"}, route
            assert route["path"].startswith("/api/%s/" % p["name"]), route
        for perm in p["permissions"]:
            assert set(perm) == {"name", "label_zh", "label_en"} and perm["name"].startswith(p["name"] + "."), perm
        if p["state"] == "enabled":
            assert isinstance(p["version"], str) and p["version"], p
    hello = {p["name"]: p for p in items}["hello"]
    assert hello["kind"] == "c" and hello["version"] == "1.0.0"
    assert [(x["method"], x["path"]) for x in hello["routes"]] == HELLO_ROUTES
    assert {x["path"]: x["permission"] for x in hello["routes"] if x["method"] == "GET"} == {
        "/api/hello/items": "hello.read", "/api/hello/items/:id": "hello.read", "/api/hello/items.xlsx": "hello.read",
        "/api/hello/seen": "hello.read"}
    assert hello["permissions"] == [
        {"name": "hello.read", "label_zh": "查看示例条目", "label_en": "read hello items"},
        {"name": "hello.write", "label_zh": "编辑示例条目", "label_en": "edit hello items"},
        {"name": "hello.manage", "label_zh": "督办示例条目", "label_en": "supervise hello items as tracked items"},
        {"name": "hello.handle", "label_zh": "办理示例督办", "label_en": "handle tracked hello items"},
        {"name": "hello.send", "label_zh": "分发示例条目", "label_en": "send hello items to units"},
        {"name": "hello.receive", "label_zh": "签收示例条目", "label_en": "sign for hello items"}]
    lua = {p["name"]: p for p in items}["hello_lua"]
    assert lua["kind"] == "lua" and lua["state"] == "enabled", lua
    assert all(x["path"].startswith("/api/hello_lua/") for x in lua["routes"]) and lua["routes"], lua
    evil = {p["name"]: p for p in items}["evil"]
    assert evil["version"] == "0.6.6" and evil["permissions"][0]["name"] == "evil.run"


def test_admin_plugins_needs_its_permission(rs):
    error(Api(rs.s).get("/api/admin/plugins"), 401)
    root = rs.admin.get("/api/units?kind=county").json()["items"][0]["id"]
    staff = person(rs.s, rs.admin, root, [("staff", root, True)])
    error(staff.get("/api/admin/plugins"), 403, "forbidden")
    error(staff.post("/api/admin/reload", {}), 403, "forbidden")


def test_cli_plugins_table_matches_the_admin_api(rs):
    r = rs.s.cli("plugins")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:5] == ["NAME", "VERSION", "KIND", "STATE", "ROUTES"], lines[0]
    table = {}
    for ln in lines[1:]:
        f = ln.split()
        table[f[0]] = (f[3], int(f[4]))
    api = plugins_by_name(rs.admin)
    assert set(table) == set(api), (sorted(table), sorted(api))
    for name, p in api.items():
        assert table[name] == (p["state"], len(p["routes"])), (name, table[name], p)


# ---- storage isolation (the hostile plugin "evil")

def snapshot(s):
    con = ro_db(s)
    try:
        return {
            "users": con.execute("SELECT id, username, password_hash, title, status FROM core_users "
                                 "ORDER BY id").fetchall(),
            "sessions": con.execute("SELECT id, user_id FROM core_sessions ORDER BY id").fetchall(),
            "hello": con.execute("SELECT id, name, updated_at FROM hello_items ORDER BY id").fetchall(),
            "schema": con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall(),
        }
    finally:
        con.close()


def evil_sql(rs, sql):
    return rs.admin.post("/api/evil/sql", raw=sql.encode(), ctype="text/plain")


STORAGE_REFUSED = [
    "INSERT INTO core_users (username, display_name, unit_id) VALUES ('mallory', 'M', 1)",
    "UPDATE core_users SET title = 'pwned'",
    "DELETE FROM core_sessions",
    "UPDATE hello_items SET name = 'pwned'",
    "DELETE FROM hello_items",
    "CREATE TABLE other_x (a INTEGER)",
    "CREATE TABLE hello_evil (a INTEGER)",
    "CREATE TABLE core_evil (a INTEGER)",
    "CREATE INDEX evil_i ON hello_items (name)",
    "CREATE TRIGGER evil_tr AFTER INSERT ON core_audit BEGIN DELETE FROM core_audit; END",
    "DROP TABLE hello_items",
    "ALTER TABLE hello_items ADD COLUMN evil TEXT",
    "SELECT * FROM core_sessions",
    "SELECT password_hash FROM core_users",
    "SELECT name FROM hello_items",
    "SELECT count(*) FROM core_audit",
    "ATTACH DATABASE ':memory:' AS side",
    "PRAGMA writable_schema = ON",
    "PRAGMA table_info(core_users)",
    "CREATE TEMP TABLE evil_tmp (a INTEGER)",
]


def test_storage_refused_at_prepare_and_nothing_changed(rs):
    new_item(rs.admin, "别动我")
    before = snapshot(rs.s)
    for sql in STORAGE_REFUSED:
        r = evil_sql(rs, sql)
        assert r.status_code == 500, (sql, r.status_code, r.text)
        err = r.json()["error"]
        assert err["code"] == "refused" and err["message"].startswith("prepare:"), (sql, err)
        assert re.search(r"not authorized|access to \S+ is prohibited", err["message"]), (sql, err)
    assert snapshot(rs.s) == before
    assert rs.admin.get("/api/hello/items?limit=100").status_code == 200


def test_storage_own_tables_are_allowed(rs):
    r = evil_sql(rs, "SELECT x FROM evil_t")
    assert r.status_code == 200 and {"x": "mine"} in r.json()["rows"], r.text
    r = evil_sql(rs, "INSERT INTO evil_log (x) VALUES ('ok')")
    assert r.status_code == 200, r.text
    assert ("ok",) in db_rows(rs.s, "SELECT x FROM evil_log")
    # even its own schema changes only through migrations, never from a request
    r = evil_sql(rs, "CREATE TABLE evil_more (a INTEGER)")
    assert r.status_code == 500 and "not authorized" in r.json()["error"]["message"], r.text
    r = evil_sql(rs, "SELECT count(*) AS n FROM evil_v")
    assert r.status_code == 200 and r.json()["rows"] == [{"n": 1}], r.text


def test_storage_core_views_are_readable(rs):
    r = rs.admin.get("/api/evil/units")
    assert r.status_code == 200, r.text
    row = r.json()["rows"][0]
    assert row["units"] >= 1 and row["users"] >= 1, row
    r = evil_sql(rs, "SELECT username FROM core_v_users WHERE id = 1")
    assert r.status_code == 200 and r.json()["rows"] == [{"username": "admin"}], r.text
    r = evil_sql(rs, "SELECT id, name FROM core_v_units ORDER BY id LIMIT 1")
    assert r.status_code == 200 and r.json()["rows"][0]["id"] >= 1, r.text


@pytest.mark.parametrize("sql", ["COMMIT", "ROLLBACK", "BEGIN", "SAVEPOINT evil", "RELEASE w1"])
def test_storage_transaction_control_is_refused(rs, sql):
    # writes of one loop turn share the core's transaction (group commit): a plugin that
    # could end it would commit or undo the writes of other requests
    before = snapshot(rs.s)
    r = evil_sql(rs, sql)
    assert r.status_code == 500 and "prepare:" in r.json()["error"]["message"], (sql, r.text)
    assert snapshot(rs.s) == before
    item = new_item(rs.admin)
    assert rs.admin.get("/api/hello/items/%d" % item["id"]).json() == item


def test_storage_view_redefined_under_a_prepared_statement_leaks_nothing(rs):
    # a statement authorized on the plugin's own view is re-prepared by SQLite after the
    # view changes: the re-prepare must be checked as the plugin too
    r = rs.admin.post("/api/evil/swap", {})
    text = r.text
    assert "$argon2" not in text and "admin:" not in text, "core_users leaked: %s" % text
    assert r.status_code == 500, text
    assert db_rows(rs.s, "SELECT sql FROM sqlite_master WHERE name = 'evil_v'")[0][0].endswith("FROM evil_t")


def test_storage_trigger_cannot_reach_core_tables(rs):
    before = snapshot(rs.s)
    r = rs.admin.post("/api/evil/trigger", {})
    after = snapshot(rs.s)
    assert after["users"] == before["users"], "core_users changed by a plugin's trigger: %s" % r.text
    assert r.status_code == 500, r.text
    assert not db_rows(rs.s, "SELECT name FROM sqlite_master WHERE name = 'evil_trg'")


def test_migration_touching_a_core_table_fails_the_plugin(rs):
    p = plugins_by_name(rs.admin)["badmig"]
    assert p["state"] == "failed" and "not authorized" in p["reason"], p
    assert not db_rows(rs.s, "SELECT name FROM sqlite_master WHERE name = 'core_x'")
    assert not db_rows(rs.s, "SELECT name FROM core_migrations WHERE owner = 'badmig'")


def test_migrations_recorded_per_plugin(rs):
    rows = db_rows(rs.s, "SELECT owner, name, length(checksum) FROM core_migrations "
                         "WHERE owner IN ('hello', 'evil') ORDER BY owner")
    assert rows == [("evil", "001_init.sql", 64), ("hello", "001_init.sql", 64), ("hello", "002_seen.sql", 64)], rows


# ================================================================ migrations

def test_migrations_once_then_changed_or_newer_are_refused(tmp_path):
    tmp = str(tmp_path)
    base = os.path.join(tmp, "plugins")
    os.makedirs(base)
    # a copy of the built hello that this test may edit; it comes first in plugin_paths
    shutil.copytree(os.path.join(BUILT, "hello"), os.path.join(base, "hello"))
    mig = os.path.join(base, "hello", "schema", "001_init.sql")
    s = new_server(tmp, plugin_conf([base, BUILT], ["hello"]))
    s.start()
    try:
        api = admin_api(s)
        item = new_item(api, "迁移前")
        rows = db_rows(s, "SELECT owner, name, checksum, applied_at FROM core_migrations WHERE owner = 'hello' "
                          "ORDER BY name")
        assert [r[1] for r in rows] == ["001_init.sql", "002_seen.sql"], rows
        stop_clean(s)

        # second start: nothing applied again, the data is there
        s.start()
        assert db_rows(s, "SELECT owner, name, checksum, applied_at FROM core_migrations WHERE owner = 'hello' "
                          "ORDER BY name") == rows
        assert api.get("/api/hello/items/%d" % item["id"]).json() == item
        stop_clean(s)

        # the applied file was edited
        original = open(mig).read()
        with open(mig, "a") as f:
            f.write("-- edited after release\n")
        s.start()
        p = plugins_by_name(api)["hello"]
        assert p["state"] == "failed" and "changed after it was applied" in p["reason"], p
        assert "001_init.sql" in p["reason"]
        error(api.get("/api/hello/items/%d" % item["id"]), 404)
        assert refusal_logged(s.log_text(), "hello", "changed after it was applied")
        stop_clean(s)

        # a database migrated by a newer version of the plugin
        with open(mig, "w") as f:
            f.write(original)
        con = sqlite3.connect(os.path.join(s.data, "yimen.db"))
        con.execute("INSERT INTO core_migrations (owner, name, checksum, applied_at) "
                    "VALUES ('hello', '002_later.sql', ?, '2027-01-01T00:00:00.000Z')", ("0" * 64,))
        con.commit()
        con.close()
        s.start()
        p = plugins_by_name(api)["hello"]
        assert p["state"] == "failed" and "002_later.sql" in p["reason"] and "newer" in p["reason"], p
        error(api.get("/api/hello/items/%d" % item["id"]), 404)
        assert db_rows(s, "SELECT count(*) FROM hello_items") == [(1,)]     # never migrated backwards
        assert requests.get(s.url + "/healthz", timeout=5).json()["status"] == "ok"
    finally:
        stop_clean(s)


# ================================================================ a start() that crashes

def test_start_that_crashes_the_worker_is_left_out(tmp_path):
    tmp = str(tmp_path)
    base = os.path.join(tmp, "plugins")
    os.makedirs(base)
    install(base, "crashy", fixture_so("crashy"))
    marker = os.path.join(tmp, "crash-now")
    s = new_server(tmp, plugin_conf([base, BUILT], ["hello", "crashy"], 'crashy = { marker = "%s" }\n' % marker),
                   workers=1)
    s.start()
    try:
        api = admin_api(s)
        assert api.get("/api/crashy/ping").json() == {"plugin": "crashy"}
        item = new_item(api)
        open(marker, "w").close()
        mark = len(s.log_text())
        (pid,) = s.worker_pids()
        os.kill(pid, signal.SIGKILL)
        wait_log_since(s, mark, re.compile(r'msg="plugin refused" plugin=crashy reason="[^"]*crashed'), timeout=30)
        wait_log_since(s, mark, re.compile(r'msg="worker ready"'), timeout=10)
        s.wait_ready()
        restarts = log_since(s, mark).count('msg="restarting worker"')
        assert restarts == 4, log_since(s, mark)    # the kill, then three crashed starts
        p = plugins_by_name(api)["crashy"]
        assert p["state"] == "failed" and "crashed the worker 3 times" in p["reason"], p
        error(api.get("/api/crashy/ping"), 404, "not_found")
        assert api.get("/api/hello/items/%d" % item["id"]).json() == item
        assert requests.get(s.url + "/healthz", timeout=5).json()["status"] == "ok"
        table = s.cli("plugins").stdout
        assert re.search(r"^crashy\s+\S+\s+c\s+failed\b", table, re.M), table
    finally:
        s.stop()
