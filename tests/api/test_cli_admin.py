"""The admin command line against a running server: yimen user add/passwd/disable/
enable/unlock, unit add, CSV imports (UTF-8, UTF-8 with BOM, GB18030; all or nothing)
and yimen audit verify, including a row tampered with behind the server's back."""
import os
import re
import sqlite3
import stat
import subprocess
import tempfile

import pytest
import requests

from conftest import BIN, Server

ADMIN_PW = "Cli-Admin-Pass-2026!"
CONF = '''
auth = { argon2 = { memory = "1MiB", iterations = 1 },
         rate_limit = { per_ip = 100000, per_account = 100000 } }
'''


@pytest.fixture(scope="module")
def srv():
    with tempfile.TemporaryDirectory(prefix="yimen-cliadm-") as tmp:
        s = Server(tmp, extra=CONF, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        yield s
        assert s.stop() == 0


# ---------------------------------------------------------------- helpers

def yimen(srv, *args, stdin=None, env=None):
    e = dict(srv.env)
    e.update(env or {})
    return subprocess.run([BIN, *args, "-c", srv.conf], input=stdin, capture_output=True, text=True,
                          env=e, timeout=60)


def ok(r):
    assert r.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr)
    return r


def failed(r, needle):
    assert r.returncode == 1, r
    assert needle in r.stderr, r.stderr
    return r


def printed_password(r):
    m = re.search(r"^password: (\S+)$", r.stdout, re.M)
    assert m, r.stdout
    return m.group(1)


def login(srv, username, password):
    return requests.post(srv.url + "/api/auth/login", json={"username": username, "password": password}, timeout=10)


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def db(srv):
    return sqlite3.connect(os.path.join(srv.data, "yimen.db"), timeout=10)


def scalar(srv, sql, *args):
    with db(srv) as c:
        row = c.execute(sql, args).fetchone()
    return row[0] if row else None


def write_csv(path, text, encoding):
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)
    return path


def secrets_of(stdout):
    """username -> password from the "username,password" lines an import prints."""
    lines = [ln for ln in stdout.splitlines() if ln and ln != "username,password"]
    return dict(ln.split(",", 1) for ln in lines)


# ---------------------------------------------------------------- user add

def test_user_add_random_password_must_change(srv):
    r = ok(yimen(srv, "user", "add", "alice", "--name", "艾丽斯", "--unit", "1", "--title", "科员",
                 "--phone", "13800000001"))
    assert "user alice created" in r.stdout
    pw = printed_password(r)
    assert len(pw) >= 12
    resp = login(srv, "alice", pw)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["must_change_password"] is True
    assert body["user"]["display_name"] == "艾丽斯"
    assert body["user"]["title"] == "科员" and body["user"]["phone"] == "13800000001"
    # until the password is changed, only the user's own routes answer
    r2 = requests.get(srv.url + "/api/audit", headers=bearer(body["token"]), timeout=5)
    assert r2.status_code == 403 and r2.json()["error"]["code"] == "password_change_required"
    me = requests.get(srv.url + "/api/me", headers=bearer(body["token"]), timeout=5).json()
    assert {g["role"] for g in me["roles"]} == {"staff"}
    row = scalar(srv, "SELECT count(*) FROM core_audit WHERE action = 'cli.user.add' AND actor_name = 'cli' "
                      "AND ip = 'local' AND target = 'user:' || ?", body["user"]["id"])
    assert row == 1


def test_user_add_password_stdin_and_roles(srv):
    pw = "Bright-Orchid-4471"
    r = ok(yimen(srv, "user", "add", "bob.clerk", "--name", "鲍伯", "--unit", "1", "--role", "clerk",
                 "--role", "leader", "--password-stdin", stdin=pw + "\n"))
    assert "password:" not in r.stdout
    resp = login(srv, "bob.clerk", pw)
    assert resp.status_code == 200 and resp.json()["must_change_password"] is True
    me = requests.get(srv.url + "/api/me", headers=bearer(resp.json()["token"]), timeout=5).json()
    assert {g["role"] for g in me["roles"]} == {"staff", "clerk", "leader"}
    # the password is nowhere in the audit log
    assert scalar(srv, "SELECT count(*) FROM core_audit WHERE detail LIKE ?", "%" + pw + "%") == 0


@pytest.mark.parametrize("args,stdin,needle", [
    (("user", "add", "carol", "--name", "卡罗", "--unit", "无此单位"), None, "no unit named 无此单位"),
    (("user", "add", "carol", "--name", "卡罗", "--unit", "999"), None, "no unit with id 999"),
    (("user", "add", "carol", "--unit", "1"), None, "needs --name and --unit"),
    (("user", "add", "Carol!", "--name", "卡罗", "--unit", "1"), None, "a-z, 0-9"),
    (("user", "add", "carol", "--name", "卡罗", "--unit", "1", "--role", "nosuch"), None, "no role nosuch"),
    (("user", "add", "carol", "--name", "卡罗", "--unit", "1", "--password-stdin"), "short\n", "password:"),
    (("user", "add", "carol", "--name", "卡罗", "--unit", "1", "--password-stdin"), "", "no password on stdin"),
    (("user", "add", "admin", "--name", "重名", "--unit", "1"), None, "already taken"),
    (("user", "add", "carol", "--name", "卡罗", "--unit", "1", "--bogus"), None, "unknown option --bogus"),
    (("user", "add"), None, "missing argument"),
    (("user", "frob", "x"), None, "unknown command"),
    (("user", "passwd", "nobody"), None, "no user nobody"),
    (("unit", "add", "某镇"), None, "needs --kind"),
    (("unit", "add", "某镇", "--kind", "hamlet"), None, "--kind"),
    (("demo", "--seed", "abc"), None, "--seed"),
])
def test_usage_errors(srv, args, stdin, needle):
    failed(yimen(srv, *args, stdin=stdin), needle)
    assert scalar(srv, "SELECT count(*) FROM core_users WHERE username = 'carol'") == 0


def test_help(srv):
    for args in (("user", "--help"), ("user", "add", "--help"), ("unit", "--help"), ("audit", "verify", "--help"),
                 ("demo", "--help")):
        r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and r.stdout.startswith("usage: yimen"), (args, r)
    r = subprocess.run([BIN, "user"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "usage: yimen user add" in r.stderr


# ---------------------------------------------------------------- passwd, disable, unlock

def test_passwd_revokes_sessions_and_forces_change(srv):
    old = "Old-Password-For-D4ve"
    ok(yimen(srv, "user", "add", "dave", "--name", "戴夫", "--unit", "1", "--password-stdin", stdin=old))
    tok = login(srv, "dave", old).json()["token"]
    assert requests.get(srv.url + "/api/me", headers=bearer(tok), timeout=5).status_code == 200
    new = "New-Password-For-D4ve"
    r = ok(yimen(srv, "user", "passwd", "dave", "--password-stdin", stdin=new + "\n"))
    assert "password:" not in r.stdout
    assert requests.get(srv.url + "/api/me", headers=bearer(tok), timeout=5).status_code == 401
    assert login(srv, "dave", old).status_code == 401
    resp = login(srv, "dave", new)
    assert resp.status_code == 200 and resp.json()["must_change_password"] is True
    # a random one, printed once
    r = ok(yimen(srv, "user", "passwd", "dave"))
    assert login(srv, "dave", printed_password(r)).status_code == 200
    failed(yimen(srv, "user", "passwd", "dave", "--password-stdin", stdin="dave\n"), "password:")


def test_disable_and_enable(srv):
    pw = "Green-Lantern-77x"
    ok(yimen(srv, "user", "add", "erin", "--name", "艾琳", "--unit", "1", "--password-stdin", stdin=pw))
    tok = login(srv, "erin", pw).json()["token"]
    ok(yimen(srv, "user", "disable", "erin"))
    r = login(srv, "erin", pw)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
    assert requests.get(srv.url + "/api/me", headers=bearer(tok), timeout=5).status_code == 401
    ok(yimen(srv, "user", "enable", "erin"))
    assert login(srv, "erin", pw).status_code == 200
    assert scalar(srv, "SELECT count(*) FROM core_audit WHERE action IN ('cli.user.disable', 'cli.user.enable')") == 2


def test_unlock(srv):
    pw = "Blue-Mountain-88y"
    ok(yimen(srv, "user", "add", "frank", "--name", "弗兰克", "--unit", "1", "--password-stdin", stdin=pw))
    for _ in range(6):
        login(srv, "frank", "wrong-password-xx")
    assert login(srv, "frank", pw).status_code == 401    # locked
    ok(yimen(srv, "user", "unlock", "frank"))
    assert login(srv, "frank", pw).status_code == 200


# ---------------------------------------------------------------- units

def test_unit_add(srv):
    r = ok(yimen(srv, "unit", "add", "新安镇", "--kind", "township", "--short", "新安", "--sort", "3"))
    tid = int(re.search(r"\(id (\d+)\)", r.stdout).group(1))
    r = ok(yimen(srv, "unit", "add", "新安村", "--kind", "村", "--parent", "新安镇"))
    vid = int(re.search(r"\(id (\d+)\)", r.stdout).group(1))
    with db(srv) as c:
        assert c.execute("SELECT name, kind, short_name, sort, parent_id FROM core_units WHERE id = ?",
                         (tid,)).fetchone() == ("新安镇", "township", "新安", 3, 1)
        assert c.execute("SELECT kind, parent_id FROM core_units WHERE id = ?", (vid,)).fetchone() == ("village", tid)
    failed(yimen(srv, "unit", "add", "新安村", "--kind", "village", "--parent", "新安镇"), "already exists")
    failed(yimen(srv, "unit", "add", "某村", "--kind", "village", "--parent", "无此镇"), "no unit named 无此镇")
    failed(yimen(srv, "unit", "add", "某局", "--kind", "department", "--code", "123"), "credit_code")
    # a user goes into the new village by its path
    ok(yimen(srv, "user", "add", "gina", "--name", "吉娜", "--unit", "新安镇/新安村"))
    assert scalar(srv, "SELECT unit_id FROM core_users WHERE username = 'gina'") == vid


# ---------------------------------------------------------------- CSV imports

UNITS_CSV = "name,kind,parent,short_name,credit_code,sort\r\n{t},乡镇,,{s},,9\r\n{v},村,{t},,,1\r\n"
USERS_CSV = ("username,display_name,unit,title,phone,role,password\r\n"
             "{p}.a,\"张, 三\",{t}/{v},文书,13900000001,clerk,\r\n"
             "{p}.b,李四,{t},\"职务\n两行\",,,Given-Password-123\r\n")


@pytest.mark.parametrize("encoding,tag", [("utf-8", "u8"), ("utf-8-sig", "bom"), ("gb18030", "gb")])
def test_import_units_and_users(srv, encoding, tag, tmp_path):
    town, village = {"u8": ("青山镇", "青山村"), "bom": ("白水镇", "白水村"), "gb": ("黄岭乡", "黄岭村")}[tag]
    units = write_csv(tmp_path / "units.csv", UNITS_CSV.format(t=town, s=town[:2], v=village), encoding)
    r = ok(yimen(srv, "unit", "import", str(units)))
    assert "imported 2 units" in r.stdout
    assert scalar(srv, "SELECT count(*) FROM core_units WHERE name = ?", village) == 1
    users = write_csv(tmp_path / "users.csv", USERS_CSV.format(p=tag, t=town, v=village), encoding)
    r = ok(yimen(srv, "user", "import", str(users)))
    assert "imported 2 users" in r.stderr
    secrets = secrets_of(r.stdout)
    assert list(secrets) == [tag + ".a"]
    resp = login(srv, tag + ".a", secrets[tag + ".a"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["user"]["display_name"] == "张, 三"
    assert resp.json()["must_change_password"] is True
    me = requests.get(srv.url + "/api/me", headers=bearer(resp.json()["token"]), timeout=5).json()
    assert {g["role"] for g in me["roles"]} == {"staff", "clerk"}
    resp = login(srv, tag + ".b", "Given-Password-123")
    assert resp.status_code == 200 and resp.json()["user"]["title"] == "职务\n两行"
    assert scalar(srv, "SELECT count(*) FROM core_audit WHERE action = 'cli.user.import' AND detail LIKE ?",
                  "%" + tag + ".%") == 2


def test_import_errors_report_every_line_and_keep_nothing(srv, tmp_path):
    text = ("username,display_name,unit,title,phone,role,password\n"
            "h.ok1,好一,1,,,,\n"
            "h.bad1,坏一,无此单位,,,,\n"
            "h.ok2,好二,1,,,,\n"
            "h.bad2,坏二,1,,,nosuchrole,\n"
            "h.ok3,好三,1,,,,\n")
    path = write_csv(tmp_path / "bad.csv", text, "utf-8")
    r = failed(yimen(srv, "user", "import", str(path)), "nothing imported")
    assert "line 3: unit: no unit named 无此单位" in r.stderr
    assert "line 5: role: no role nosuchrole" in r.stderr
    assert "line 2" not in r.stderr and "line 4" not in r.stderr
    assert r.stdout == ""
    assert scalar(srv, "SELECT count(*) FROM core_users WHERE username LIKE 'h.%'") == 0
    # a unit import that fails late keeps none of its earlier rows
    text = "name,kind,parent\n早镇,township,\n早村,village,早镇\n坏村,village,无此镇\n"
    path = write_csv(tmp_path / "bad_units.csv", text, "gb18030")
    r = failed(yimen(srv, "unit", "import", str(path)), "line 4: parent: no unit named 无此镇")
    assert scalar(srv, "SELECT count(*) FROM core_units WHERE name IN ('早镇', '早村')") == 0


def test_import_malformed_csv(srv, tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b"username,display_name,unit\nq1,\"unclosed,1\n")
    failed(yimen(srv, "user", "import", str(path)), "line 2: a quoted field is not closed")
    path.write_bytes(b"username,display_name\nq1,x\"y\n")
    failed(yimen(srv, "user", "import", str(path)), "line 2: a quote inside an unquoted field")
    path.write_bytes(b"\xff\xfeu\x00")
    failed(yimen(srv, "user", "import", str(path)), "UTF-16")
    failed(yimen(srv, "user", "import", str(tmp_path / "missing.csv")), "cannot read")


def test_import_passwords_out(srv, tmp_path):
    text = "username,display_name,unit\nk.one,甲,1\nk.two,乙,1\n"
    path = write_csv(tmp_path / "k.csv", text, "gb18030")
    out = tmp_path / "pw.csv"
    r = ok(yimen(srv, "user", "import", str(path), "--passwords-out", str(out)))
    assert "imported 2 users" in r.stdout and str(out) in r.stdout
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    secrets = secrets_of(out.read_text())
    assert sorted(secrets) == ["k.one", "k.two"]
    for u, pw in secrets.items():
        assert login(srv, u, pw).status_code == 200
        assert pw not in r.stdout
    # never overwrites a file of secrets
    failed(yimen(srv, "user", "import", str(path), "--passwords-out", str(out)), "exists")


# ---------------------------------------------------------------- audit verify

def test_audit_verify_and_tampering(tmp_path):
    s = Server(str(tmp_path), extra=CONF, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
    try:
        ok(yimen(s, "user", "add", "ivan", "--name", "伊万", "--unit", "1"))
        login(s, "admin", "wrong-password-123")
        r = ok(yimen(s, "audit", "verify"))
        n = int(re.fullmatch(r"ok: (\d+) rows\n", r.stdout).group(1))
        assert n >= 2
        with db(s) as c:
            first = c.execute("SELECT min(id) FROM core_audit").fetchone()[0]
            c.execute("UPDATE core_audit SET result = 'x' WHERE id = (SELECT min(id) FROM core_audit)")
        r = yimen(s, "audit", "verify")
        assert r.returncode == 1
        assert re.search(r"audit chain broken at row %d: " % first, r.stderr), r.stderr
    finally:
        assert s.stop() == 0
