"""Lua plugins over HTTP: hello_lua end to end (CRUD, paging, validation, permissions,
unit scope, audit), and a hostile Lua plugin `evil` written at run time into a
temporary plugin directory: runaway loops (also inside pcall and coroutines), memory
bombs, deep recursion, sandbox escapes, writes to core and to another plugin's tables,
bad return values. Each answers 500 (503 for memory) for that request alone: the same
worker serves the next request to the same plugin, and /healthz."""
import json
import os
import re
import sqlite3
import tempfile
import textwrap
import time
from types import SimpleNamespace

import pytest
import requests

from conftest import ADMIN_PASSWORD, ROOT, Server
from directory_helpers import error, login, uniq  # noqa: E402  (shared with the directory tests)

LUA = os.path.join(ROOT, "lua")
INIT_PW = "Initial-Pass-4711!"
NEW_PW = "Changed-Pass-4711!"
AUTH = ('auth = { argon2 = { memory = "1MiB", iterations = 1 }, '
        'rate_limit = { per_ip = 1000, per_account = 1000 } }\n')
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?\+08:00$")
GREETINGS = "/api/hello_lua/greetings"

# The hostile plugin. Every route is public so that the tests need no token.
EVIL = r'''
local yimen = require "yimen"
local M = { name = "evil", version = "0.0.1", core_min = "0.1" }
local saved_req

local function probe()
  local function loads(chunk, mode)
    local f = load(chunk, "x", mode)
    return f ~= nil
  end
  local function requires(name) return (pcall(require, name)) end
  return {
    io = io ~= nil, debug = debug ~= nil, package = package ~= nil, dofile = dofile ~= nil,
    loadfile = loadfile ~= nil, execute = os.execute ~= nil, getenv = os.getenv ~= nil,
    remove = os.remove ~= nil, exit = os.exit ~= nil, dump = string.dump ~= nil,
    bytecode = loads("\27Lua\84\0\25\147\13\10\26\10", "bt"), mode_b = loads("return 1", "b"),
    require_io = requires("io"), require_up = requires("../hello_lua/init"),
    require_abs = requires("/etc/passwd"), gc = (pcall(setmetatable, {}, { __gc = print })),
    collect = (pcall(collectgarbage, "collect")),
  }
end

local routes = {
  ok = function(req) return 200, { ok = true, pid_hint = yimen.now() } end,
  calendar = function(req)
    return 200, {
      national_day = yimen.calendar.is_working_day("2026-10-01"),
      makeup = yimen.calendar.is_working_day("2026-10-10"),
      deadline = yimen.calendar.add_working_days("2026-09-30", 3),
      before = yimen.calendar.add_working_days("2026-10-08", -1),
      end_ms = yimen.calendar.end_ms("2026-10-08"),
      bad_date = (pcall(yimen.calendar.add_working_days, "2026-02-30", 1)),
    }
  end,
  escapes = function(req) return 200, probe() end,
  loop = function(req) while true do end end,
  pcall_loop = function(req)
    for i = 1, 1e9 do pcall(function() while true do end end) end
    return 200, { survived = true }
  end,
  co_loop = function(req)
    local co = coroutine.wrap(function()
      local x <close> = setmetatable({}, { __close = function() while true do end end })
      while true do end
    end)
    pcall(co)
    return 200, { survived = true }
  end,
  xpcall_loop = function(req)
    xpcall(function() while true do end end, function() while true do end end)
    return 200, { survived = true }
  end,
  alloc = function(req)
    local t = {}
    for i = 1, 1e9 do t[i] = ("x"):rep(1000) .. i end
  end,
  rep = function(req) return 200, { s = ("x"):rep(1 << 30) } end,
  concat = function(req) local s = "x" while true do s = s .. s end end,
  recurse = function(req) local function f() return 1 + f() end return 200, { n = f() } end,
  io = function(req) return 200, { f = io.open("/etc/passwd"):read("a") } end,
  execute = function(req) return 200, { rc = os.execute("touch /tmp/yimen-evil-was-here") } end,
  error = function(req) error("deliberate failure 4711") end,
  error_table = function(req) error({ secret = "x" }) end,
  structured = function(req) yimen.error(409, "conflict", "not now") end,
  invalid = function(req) yimen.invalid("name", "name is taken") end,
  core_write = function(req) yimen.db.exec("UPDATE core_users SET display_name = 'pwned'") return 200, {} end,
  core_read = function(req) return 200, yimen.db.query("SELECT password_hash FROM core_users") end,
  other_write = function(req)
    yimen.db.exec("UPDATE hello_lua_greetings SET text = 'pwned'")
    return 200, {}
  end,
  commit = function(req) yimen.db.exec("COMMIT") return 200, {} end,
  write_then_loop = function(req)
    yimen.db.write(function()
      yimen.db.exec("INSERT INTO evil_log (x) VALUES (?)", "partial")
      while true do end
    end)
  end,
  write_then_fail = function(req)
    yimen.db.write(function()
      yimen.db.exec("INSERT INTO evil_log (x) VALUES (?)", "partial")
      error("after the insert")
    end)
  end,
  write_ok = function(req)
    local _, id = yimen.db.exec("INSERT INTO evil_log (x) VALUES (?)", req:query("x") or "ok")
    return 201, { id = id }
  end,
  log_count = function(req)
    return 200, yimen.db.query("SELECT count(*) AS n FROM evil_log")[1]
  end,
  save_req = function(req) saved_req = req return 200, { saved = true } end,
  use_saved = function(req) return 200, { path = saved_req.path } end,
  bad_status = function(req) return "hello" end,
  bad_body = function(req) return 200, { f = print } end,
  bad_utf8 = function(req) return 200, { s = "\255" } end,
  raw = function(req) return 200, '{"raw":true}' end,
  nothing = function(req) end,
  empty = function(req) return 200, {} end,
  array = function(req) return 200, yimen.array() end,
  null = function(req) return 200, { a = yimen.null, b = { 1, 2 } } end,
  echo = function(req)
    return 200, { method = req.method, path = req.path, q = req:query("q"), h = req:header("x-thing"),
                  body = req:body(), user_id = req.user_id }
  end,
  json = function(req) return 200, { got = req:json() } end,
  json_caught = function(req)
    local ok = pcall(req.json, req)
    return 200, { caught = not ok }
  end,
}

function M.init()
  for name, fn in pairs(routes) do
    yimen.route("GET", "/api/evil/" .. name, "public", fn)
  end
  yimen.route("POST", "/api/evil/json", "public", routes.json)
  yimen.route("POST", "/api/evil/json_caught", "public", routes.json_caught)
  yimen.route("POST", "/api/evil/echo", "public", routes.echo)
end

return M
'''


# ---------------------------------------------------------------- helpers

class Api:
    """A signed-in client (bearer token) of one server."""

    def __init__(self, server, token=None):
        self.server = server
        self.token = token

    def call(self, method, path, body=None, raw=None, ctype="application/json", headers=None):
        h = {"Authorization": "Bearer " + self.token} if self.token else {}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None and ctype:
            h["Content-Type"] = ctype
        return requests.request(method, self.server.url + path, data=data, headers=h, timeout=20)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path):
        return self.call("DELETE", path)


def make_unit(admin, name):
    r = admin.post("/api/units", {"kind": "township", "name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def make_role(admin, key, perms):
    r = admin.post("/api/roles", {"key": key, "name": key, "permissions": perms})
    assert r.status_code == 201, r.text


def person(server, admin, unit, grants=()):
    """A signed-in user of unit with grants [(role, unit)] (subtree), first password change done."""
    r = admin.post("/api/users", {"username": uniq("lu"), "display_name": "测试", "unit_id": unit,
                                  "password": INIT_PW})
    assert r.status_code == 201, r.text
    u = r.json()
    for role, on in grants:
        g = admin.post("/api/grants", {"user_id": u["id"], "role": role, "unit_id": on, "include_descendants": True})
        assert g.status_code == 201, g.text
    api = Api(server, login(server, u["username"], INIT_PW))
    r = api.post("/api/me/password", {"old_password": INIT_PW, "new_password": NEW_PW})
    assert r.status_code == 204, r.text
    api.id, api.unit = u["id"], unit
    return api


def db_rows(server, sql, *args):
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(server.data, "yimen.db"), uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def write_plugin(base, name, init_lua, schema=None):
    d = os.path.join(base, name)
    os.makedirs(os.path.join(d, "schema"), exist_ok=True)
    with open(os.path.join(d, "init.lua"), "w") as f:
        f.write(init_lua)
    for fname, sql in (schema or {}).items():
        with open(os.path.join(d, "schema", fname), "w") as f:
            f.write(sql)
    return d


# ---------------------------------------------------------------- the server

@pytest.fixture(scope="module")
def L():
    """hello_lua and evil on 2 workers; units A and B; hello_lua roles; users a_ed, a_rd,
    a_none in A and b_ed in B."""
    with tempfile.TemporaryDirectory(prefix="yimen-lua-") as tmp:
        plugins = os.path.join(tmp, "plugins")
        write_plugin(plugins, "evil", EVIL, {"001_init.sql": "CREATE TABLE evil_log (id INTEGER PRIMARY KEY, x TEXT);\n"})
        extra = ('plugin_paths = { "%s", "%s" }\nplugins = { "hello_lua", "evil" }\n'
                 'evil = { memory = "16MiB", instructions = 2000000 }\n'
                 'hello_lua = { max_greetings = 1000 }\n' % (plugins, LUA)) + AUTH
        s = Server(tmp, extra, workers=2).start()
        try:
            admin = Api(s, login(s, "admin", ADMIN_PASSWORD))
            t = SimpleNamespace(s=s, admin=admin, anon=Api(s))
            t.A = make_unit(admin, uniq("甲镇"))
            t.B = make_unit(admin, uniq("乙镇"))
            make_role(admin, "hl_editor", ["hello_lua.read", "hello_lua.write"])
            make_role(admin, "hl_reader", ["hello_lua.read"])
            t.a_ed = person(s, admin, t.A, [("hl_editor", t.A)])
            t.a_rd = person(s, admin, t.A, [("hl_reader", t.A)])
            t.a_none = person(s, admin, t.A, [("staff", t.A)])
            t.b_ed = person(s, admin, t.B, [("hl_editor", t.B)])
            yield t
        finally:
            rc = s.stop()
            log = s.log_text()
            assert rc == 0, "server did not stop cleanly (%s):\n%s" % (rc, log[-4000:])
            assert "Sanitizer" not in log, log[-4000:]


def create(api, text):
    r = api.post(GREETINGS, {"text": text})
    assert r.status_code == 201, r.text
    return r.json()


# ================================================================ hello_lua

def test_loaded_and_listed(L):
    r = L.admin.get("/api/admin/plugins")
    assert r.status_code == 200, r.text
    items = {p["name"]: p for p in r.json()["items"]}
    for name in ("hello_lua", "evil"):
        assert items[name]["kind"] == "lua" and items[name]["state"] == "enabled", items[name]
    assert {(x["method"], x["path"]) for x in items["hello_lua"]["routes"]} == {
        ("GET", GREETINGS), ("POST", GREETINGS), ("GET", GREETINGS + "/:id"),
        ("PATCH", GREETINGS + "/:id"), ("DELETE", GREETINGS + "/:id"),
        ("GET", GREETINGS + ".xlsx"), ("POST", GREETINGS + "/import"),
        ("POST", GREETINGS + "/:id/review"), ("POST", GREETINGS + "/:id/files"),
        ("POST", GREETINGS + "/:id/track"), ("POST", "/api/hello_lua/tracked/:id/urge"),
        ("POST", GREETINGS + "/:id/dispatch"), ("POST", "/api/hello_lua/dispatches/:id/sign"),
        ("POST", "/api/hello_lua/tracked/:id/update"), ("POST", "/api/hello_lua/tracked/:id/withdraw"),
        ("POST", "/api/hello_lua/text_and_dates")}
    assert items["hello_lua"]["version"] == "1.0.0"


def test_crud(L):
    g = create(L.a_ed, "你好，世界")
    assert g["text"] == "你好，世界" and g["unit_id"] == L.A and g["created_by"] == L.a_ed.id
    assert isinstance(g["id"], int) and TIME_RE.match(g["created_at"]), g
    assert set(g) == {"id", "text", "unit_id", "created_by", "created_at"}
    r = L.a_ed.get("%s/%d" % (GREETINGS, g["id"]))
    assert r.status_code == 200 and r.json() == g, r.text
    r = L.a_ed.get(GREETINGS + "?limit=100")
    assert r.status_code == 200 and g in r.json()["items"], r.text
    r = L.a_ed.patch("%s/%d" % (GREETINGS, g["id"]), {"text": "再见"})
    assert r.status_code == 200 and r.json()["text"] == "再见" and r.json()["id"] == g["id"], r.text
    r = L.a_ed.patch("%s/%d" % (GREETINGS, g["id"]), {})
    assert r.status_code == 200 and r.json()["text"] == "再见", r.text
    r = L.a_ed.delete("%s/%d" % (GREETINGS, g["id"]))
    assert r.status_code == 204 and r.content == b"", r.text
    error(L.a_ed.get("%s/%d" % (GREETINGS, g["id"])), 404, "not_found")
    error(L.a_ed.delete("%s/%d" % (GREETINGS, g["id"])), 404, "not_found")
    rows = db_rows(L.s, "SELECT action, actor_id, result, detail FROM core_audit WHERE target = ? ORDER BY id",
                   "greeting:%d" % g["id"])
    assert [(a, u, res) for a, u, res, _ in rows] == [
        ("hello_lua.create", L.a_ed.id, "ok"), ("hello_lua.update", L.a_ed.id, "ok"),
        ("hello_lua.delete", L.a_ed.id, "ok")], rows
    assert json.loads(rows[0][3]) == {"text": "你好，世界"}


def test_paging(L):
    ids = [create(L.b_ed, "第%d条" % i)["id"] for i in range(5)]
    seen, after, pages = [], "", 0
    while True:
        r = L.b_ed.get("%s?limit=2&after=%s" % (GREETINGS, after))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [x["id"] for x in page["items"]]
        pages += 1
        if page["next"] is None:
            break
        after = page["next"]
        assert after == page["items"][-1]["id"]
    assert [i for i in seen if i in ids] == ids and seen == sorted(seen), seen
    assert pages >= 3
    r = L.b_ed.get(GREETINGS + "?after=%d" % ids[-1])
    assert r.status_code == 200 and r.json() == {"items": [], "next": None}, r.text
    for bad in ("0", "101", "abc", "-1", "1.5", ""):
        error(L.b_ed.get(GREETINGS + "?limit=" + bad), 400, "invalid", "limit")
    for bad in ("abc", "-3", "0"):
        error(L.b_ed.get(GREETINGS + "?after=" + bad), 400, "invalid", "after")


def test_bad_input(L):
    api = L.a_ed
    error(api.post(GREETINGS, {}), 400, "invalid", "text")
    error(api.post(GREETINGS, {"text": ""}), 400, "invalid", "text")
    error(api.post(GREETINGS, {"text": "x" * 201}), 400, "invalid", "text")
    error(api.post(GREETINGS, {"text": 7}), 400, "invalid", "text")
    error(api.post(GREETINGS, {"text": None}), 400, "invalid", "text")
    error(api.post(GREETINGS, {"text": ["a"]}), 400, "invalid", "text")
    error(api.post(GREETINGS, {"text": "hi", "unit_id": 1}), 400, "invalid", "unit_id")
    error(api.post(GREETINGS, ["text"]), 400, "invalid", "")
    error(api.post(GREETINGS, "text"), 400)  # a bare string: bad_json by the core's parser
    error(api.post(GREETINGS, raw=b"{bad"), 400, "bad_json")
    error(api.post(GREETINGS, raw=b""), 400, "bad_json")
    error(api.post(GREETINGS, raw=b'{"text":"a","text":"b"}'), 400, "bad_json")
    error(api.post(GREETINGS, raw=b'{"text":"hi"}', ctype="text/plain"), 415)
    assert create(api, "字" * 200)["text"] == "字" * 200  # characters, not bytes
    g = create(api, "ok")
    path = "%s/%d" % (GREETINGS, g["id"])
    error(api.patch(path, {"text": ""}), 400, "invalid", "text")
    error(api.patch(path, {"colour": "red"}), 400, "invalid", "colour")
    error(api.patch(path, raw=b"[1"), 400, "bad_json")
    for bad in ("abc", "0", "-1", "99999999", "1e3", "%20"):
        error(api.get(GREETINGS + "/" + bad), 404, "not_found")
    assert api.get(path).json()["text"] == "ok"


def test_permissions(L):
    g = create(L.a_ed, "甲镇的问候")
    path = "%s/%d" % (GREETINGS, g["id"])
    for method in ("GET", "POST"):
        error(L.anon.call(method, GREETINGS, {"text": "x"} if method == "POST" else None), 401)
        error(L.a_none.call(method, GREETINGS, {"text": "x"} if method == "POST" else None), 403)
    error(L.a_none.get(path), 403)
    # a reader reads, but does not write
    assert L.a_rd.get(path).status_code == 200
    assert g in L.a_rd.get(GREETINGS + "?limit=100").json()["items"]
    error(L.a_rd.post(GREETINGS, {"text": "x"}), 403)
    error(L.a_rd.patch(path, {"text": "x"}), 403)
    error(L.a_rd.delete(path), 403)
    # another unit's editor neither sees nor changes it, nor learns that it exists
    error(L.b_ed.get(path), 404, "not_found")
    error(L.b_ed.patch(path, {"text": "mine now"}), 404, "not_found")
    error(L.b_ed.delete(path), 404, "not_found")
    assert all(x["unit_id"] == L.B for x in L.b_ed.get(GREETINGS + "?limit=100").json()["items"])
    # the administrator (hello_lua.write on the whole county) may
    r = L.admin.patch(path, {"text": "县里改的"})
    assert r.status_code == 200 and r.json()["text"] == "县里改的", r.text
    assert L.a_ed.get(path).json()["text"] == "县里改的"


def test_max_greetings_setting(tmp_path):
    plugins = str(tmp_path / "plugins")
    os.makedirs(plugins)
    extra = ('plugin_paths = { "%s" }\nplugins = { "hello_lua" }\nhello_lua = { max_greetings = 2 }\n'
             % LUA) + AUTH
    s = Server(str(tmp_path), extra, workers=1).start()
    try:
        admin = Api(s, login(s, "admin", ADMIN_PASSWORD))
        create(admin, "一")
        create(admin, "二")
        error(admin.post(GREETINGS, {"text": "三"}), 409, "conflict")
        assert len(admin.get(GREETINGS).json()["items"]) == 2
    finally:
        assert s.stop() == 0


# ================================================================ the hostile plugin

def evil(L, name, method="GET", session=None, **kw):
    if session:
        return session.get(L.s.url + "/api/evil/" + name, timeout=20)
    return L.anon.call(method, "/api/evil/" + name, **kw)


def wait_log_since(server, mark, needle, timeout=10):
    deadline = time.time() + timeout
    while True:
        text = server.log_text()[mark:]
        if needle in text or time.time() > deadline:
            return text
        time.sleep(0.05)


def still_serving(L, pids):
    """The same workers answer the next request to the plugin, and /healthz."""
    for _ in range(4):  # more than one connection: both workers
        r = evil(L, "ok")
        assert r.status_code == 200 and r.json()["ok"] is True, r.text
        assert requests.get(L.s.url + "/healthz", headers={"Connection": "close"}, timeout=5).status_code == 200
    assert sorted(L.s.worker_pids()) == pids, "a worker died"


def test_sandbox_has_no_way_out(L):
    r = evil(L, "escapes")
    assert r.status_code == 200, r.text
    assert r.json() == {k: False for k in r.json()}, r.json()
    assert len(r.json()) == 17


@pytest.mark.parametrize("route", ["loop", "pcall_loop", "co_loop", "xpcall_loop"])
def test_runaway_loops_stopped(L, route):
    pids = sorted(L.s.worker_pids())
    mark = len(L.s.log_text())
    err = error(evil(L, route), 500, "internal")
    assert err["message"] == "the evil plugin failed"
    log = wait_log_since(L.s, mark, "instruction limit")
    assert re.search(r'plugin=evil .*instruction limit of 2000000 exceeded', log), log
    still_serving(L, pids)


@pytest.mark.parametrize("route", ["alloc", "rep", "concat"])
def test_memory_bombs_stopped(L, route):
    pids = sorted(L.s.worker_pids())
    err = error(evil(L, route), 503, "out_of_memory")
    assert err["message"] == "the plugin ran out of memory"
    still_serving(L, pids)
    # the memory came back: the same bomb is stopped the same way again
    error(evil(L, route), 503, "out_of_memory")
    still_serving(L, pids)


def test_deep_recursion_stopped(L):
    pids = sorted(L.s.worker_pids())
    r = evil(L, "recurse")
    assert r.status_code in (500, 503), r.text
    assert "stack" not in r.text and "init.lua" not in r.text
    still_serving(L, pids)


@pytest.mark.parametrize("route,lua_error", [
    ("io", "global 'io'"), ("execute", "field 'execute'"), ("error", "deliberate failure 4711"),
    ("error_table", "error object is a table value"), ("bad_status", "must return an HTTP status"),
    ("bad_body", "cannot be JSON"), ("bad_utf8", "not valid UTF-8"), ("use_saved", "this request is over"),
])
def test_lua_errors_answer_500_and_log(L, route, lua_error):
    pids = sorted(L.s.worker_pids())
    session = requests.Session()  # one connection: one worker, whose state kept the req
    if route == "use_saved":
        assert evil(L, "save_req", session=session).status_code == 200
    mark = len(L.s.log_text())
    r = evil(L, route, session=session)
    err = error(r, 500, "internal")
    assert err == {"code": "internal", "message": "the evil plugin failed"}
    assert "init.lua" not in r.text and "traceback" not in r.text
    log = wait_log_since(L.s, mark, lua_error)
    line = [ln for ln in log.splitlines() if lua_error in ln][0]
    assert "plugin=evil" in line and "level=error" in line, line
    assert not os.path.exists("/tmp/yimen-evil-was-here")
    still_serving(L, pids)


def test_structured_errors(L):
    assert error(evil(L, "structured"), 409, "conflict")["message"] == "not now"
    assert error(evil(L, "invalid"), 400, "invalid", "name")["message"] == "name is taken"


def test_return_values(L):
    r = evil(L, "raw")
    assert r.status_code == 200 and r.content == b'{"raw":true}', r.text
    assert r.headers["Content-Type"].startswith("application/json")
    r = evil(L, "nothing")
    assert r.status_code == 204 and r.content == b""
    assert evil(L, "empty").content == b"{}"
    assert evil(L, "array").content == b"[]"
    assert evil(L, "null").json() == {"a": None, "b": [1, 2]}


def test_request_object(L):
    r = evil(L, "echo", "POST", raw=b"a body", ctype="text/plain", headers={"X-Thing": "v1"})
    assert r.status_code == 200, r.text
    assert r.json() == {"method": "POST", "path": "/api/evil/echo", "body": "a body", "user_id": 0, "h": "v1"}
    r = L.anon.call("GET", "/api/evil/echo?q=%E4%BD%A0+x", headers={"X-Thing": "v"})
    assert r.json()["q"] == "你 x" and r.json()["h"] == "v", r.text
    r = evil(L, "json", "POST", raw=b'{"a":[1,{}],"b":null}')
    assert r.status_code == 200 and r.json() == {"got": {"a": [1, {}], "b": None}}, r.text
    error(evil(L, "json", "POST", raw=b'{"a":'), 400, "bad_json")
    error(evil(L, "json", "POST", raw=b'{}', ctype="text/plain"), 415)
    # the handler caught the error of req:json(); the 400 it answered stands
    error(evil(L, "json_caught", "POST", raw=b'nope'), 400, "bad_json")


def test_storage_is_the_plugins_own(L):
    g = create(L.a_ed, "不许改")
    before_users = db_rows(L.s, "SELECT id, display_name FROM core_users ORDER BY id")
    for route in ("core_write", "core_read", "other_write", "commit"):
        err = error(evil(L, route), 500, "internal")
        assert err["message"] == "the evil plugin failed"
    assert db_rows(L.s, "SELECT id, display_name FROM core_users ORDER BY id") == before_users
    assert L.a_ed.get("%s/%d" % (GREETINGS, g["id"])).json()["text"] == "不许改"
    assert not db_rows(L.s, "SELECT 1 FROM hello_lua_greetings WHERE text = 'pwned'")
    # its own table works, and a write cut short leaves nothing behind
    n = evil(L, "log_count").json()["n"]
    assert evil(L, "write_ok?x=kept").status_code == 201
    error(evil(L, "write_then_loop"), 500, "internal")
    error(evil(L, "write_then_fail"), 500, "internal")
    assert evil(L, "log_count").json()["n"] == n + 1
    assert db_rows(L.s, "SELECT x FROM evil_log WHERE x = 'partial'") == []
    assert evil(L, "write_ok").status_code == 201


def test_failed_lua_plugin_is_refused_alone(tmp_path):
    plugins = str(tmp_path / "plugins")
    write_plugin(plugins, "broken", "local M = { name = 'broken', version = '1' \n return M\n")
    write_plugin(plugins, "greedy", textwrap.dedent("""
        return { name = "greedy", version = "1", init = function() end }
    """))
    extra = ('plugin_paths = { "%s", "%s" }\nplugins = { "hello_lua", "broken", "greedy" }\n'
             'greedy = { memory = "lots" }\n' % (plugins, LUA)) + AUTH
    s = Server(str(tmp_path), extra, workers=1).start()
    try:
        admin = Api(s, login(s, "admin", ADMIN_PASSWORD))
        items = {p["name"]: p for p in admin.get("/api/admin/plugins").json()["items"]}
        assert items["broken"]["state"] == "failed" and "broken/init.lua:2" in items["broken"]["reason"], items
        assert items["greedy"]["state"] == "failed" and "setting memory" in items["greedy"]["reason"], items
        assert items["hello_lua"]["state"] == "enabled"
        assert admin.get(GREETINGS).status_code == 200
    finally:
        assert s.stop() == 0


def test_calendar_service(L):
    """yimen.calendar: the shipped 2026 calendar, a deadline across the National Day."""
    r = evil(L, "calendar")
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["national_day"] is False and j["makeup"] is True
    assert j["deadline"] == "2026-10-10" and j["before"] == "2026-09-30"
    assert j["bad_date"] is False
    # 2026-10-08 23:59:59.999 in Asia/Shanghai
    assert j["end_ms"] == 1791475199999
