"""The command line: version, help, unknown commands, check-config with precise
error locations, backup while serving and restore into a stopped data_dir."""
import os
import re
import sqlite3
import subprocess
import tempfile

import pytest

from conftest import BIN, ROOT, Server, post_json, run_bin


def run(*args, env=None, cwd=None):
    return run_bin([BIN, *args], capture_output=True, text=True, timeout=30, env=env, cwd=cwd)


# ---------------------------------------------------------------- basics

def test_version():
    r = run("version")
    assert r.returncode == 0
    assert r.stdout.startswith("yimen ")
    version = r.stdout.split()[1]
    assert version[0].isdigit() and version.count(".") >= 1
    assert r.stderr == ""


def test_version_matches_healthz(server):
    import requests
    v = run("version").stdout.split()[1]
    assert requests.get(server.url + "/healthz", timeout=2).json()["version"] == v


def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("serve", "check-config", "reload", "backup", "restore", "version"):
        assert cmd in r.stdout
    assert run("-h").stdout == r.stdout


def test_command_help():
    r = run("backup", "--help")
    assert r.returncode == 0
    assert "backup" in r.stdout and "OUT" in r.stdout


def test_no_command_is_usage_error():
    r = run()
    assert r.returncode == 1
    assert "usage" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args,needle", [
    (("frobnicate",), "unknown command frobnicate"),
    (("serve", "--bogus"), "unexpected argument: --bogus"),
    (("version", "extra"), "unexpected argument"),
    (("backup",), "needs a directory"),
    (("restore",), "needs a directory"),
])
def test_bad_invocations_exit_1(args, needle):
    r = run(*args)
    assert r.returncode == 1, r
    assert r.stderr.startswith("yimen: ")
    assert needle in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1     # the first error only


# ---------------------------------------------------------------- check-config

@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "yimen.conf"

    def write(text):
        path.write_text(text)
        return str(path)
    return write


BASE = 'listen = "127.0.0.1:8080"\ndata_dir = "var"\n'


def test_check_config_ok(conf, tmp_path):
    p = conf(BASE + 'limits = { body = "1MiB", uri = 4096 }\ntimeouts = { header = "250ms", idle = 30 }\n'
                    'metrics = { loopback_only = false }\ntrusted_proxies = { "10.0.0.0/8", "::1" }\n'
                    'public_url = "https://oa.example.gov.cn"\nworkers = 3\n')
    r = run("check-config", "-c", p)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
    assert not (tmp_path / "var").exists(), "check-config must not create the data_dir"


def test_shipped_default_config_is_valid():
    r = run("check-config", "-c", os.path.join(ROOT, "config", "yimen.conf"))
    assert r.returncode == 0, r.stderr
    # without -c the shipped config beside the binary is used
    r = run("check-config")
    assert r.returncode == 0, r.stderr


CONFIG_ERRORS = [
    (BASE + "foo = 1\n", 3, "foo", "unknown key"),
    (BASE + "\n\nlimits = {\n  uri = \"8KiB\",\n  bodyy = 1,\n}\n", 5, "limits.bodyy", "unknown key"),
    (BASE + "timeouts = { header = 1, idel = 3 }\n", 3, "timeouts.idel", "unknown key"),
    (BASE + 'workers = "two"\n', 3, "workers", ""),
    (BASE + "limits = 5\n", 3, "limits", "table"),
    (BASE + 'limits = { body = "8XB" }\n', 3, "limits.body", "size"),
    (BASE + 'limits = { body = "8MB" }\n', 3, "limits.body", "size"),
    (BASE + 'limits = { body = -1 }\n', 3, "limits.body", ""),
    (BASE + 'timeouts = { header = "10x" }\n', 3, "timeouts.header", "duration"),
    ('data_dir = "var"\nlisten = "nohost"\n', 2, "listen", "host:port"),
    ('data_dir = "var"\nlisten = "127.0.0.1:99999"\n', 2, "listen", ""),
    ('data_dir = "var"\nlisten = "300.1.1.1:80"\n', 2, "listen", ""),
    ('data_dir = "var"\nlisten = 8080\n', 2, "listen", ""),
    (BASE + 'log_level = "loud"\n', 3, "log_level", ""),
    (BASE + 'metrics = { loopback_only = "yes" }\n', 3, "metrics.loopback_only", ""),
    (BASE + 'metrics = { loopback = true }\n', 3, "metrics.loopback", "unknown key"),
    (BASE + 'database = { synchronous = "sometimes" }\n', 3, "database.synchronous", ""),
    (BASE + 'timezone = "Mars/Olympus"\n', 3, "timezone", ""),
    (BASE + 'trusted_proxies = { "10.0.0.0/99" }\n', 3, "trusted_proxies", ""),
    (BASE + 'workers = 0\n', 3, "workers", ""),
]


@pytest.mark.parametrize("text,line,key,msg", CONFIG_ERRORS,
                         ids=["%s-%d" % (e[2], i) for i, e in enumerate(CONFIG_ERRORS)])
def test_check_config_errors_name_file_line_key(conf, text, line, key, msg):
    p = conf(text)
    r = run("check-config", "-c", p)
    assert r.returncode == 1, r
    assert r.stdout == ""
    prefix = "yimen: %s:%d: %s" % (p, line, key)
    assert r.stderr.startswith(prefix), (prefix, r.stderr)
    # the key path ends there (a list item may add its index: trusted_proxies[1])
    assert re.match(r"(\[\d+\])?: ", r.stderr[len(prefix):]), r.stderr
    assert msg in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text,line", [
    (BASE + "workers = \n", 4),
    (BASE + "limits = { body = 1\n", 4),
    (BASE + 'listen = "a" "b"\n', 3),
    ("data_dir = 'var'\n\n\n}}\n", 4),
])
def test_check_config_syntax_error_has_line(conf, text, line):
    p = conf(text)
    r = run("check-config", "-c", p)
    assert r.returncode == 1
    assert r.stderr.startswith("yimen: %s:%d: " % (p, line)), r.stderr


@pytest.mark.parametrize("text,needle", [
    (BASE + "x = os.exit(1)\n", ""),
    (BASE + "while true do end\n", "plain data"),
    (BASE + 'x = string.rep("a", 100000000)\n', ""),
    (BASE + "t = {} t.t = t\n", ""),
])
def test_check_config_sandbox(conf, text, needle):
    p = conf(text)
    r = run("check-config", "-c", p)
    assert r.returncode == 1
    assert r.stderr.startswith("yimen: " + p + ":"), r.stderr
    assert needle in r.stderr


def test_check_config_missing_file():
    r = run("check-config", "-c", "/nonexistent/yimen.conf")
    assert r.returncode == 1
    assert "/nonexistent/yimen.conf" in r.stderr


def test_serve_with_bad_config_exits_1(conf):
    p = conf(BASE + "foo = 1\n")
    r = run("serve", "-c", p)
    assert r.returncode == 1
    assert "foo: unknown key" in r.stderr


# ---------------------------------------------------------------- backup / restore

def migrations(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute("SELECT * FROM core_migrations ORDER BY 1").fetchall()
    finally:
        con.close()


def test_backup_while_serving_then_restore(fresh_server):
    s = fresh_server.start()
    r = post_json(s, "/api/test/clock", {"advance": 12345})
    assert r.status == 200
    # an attachment blob, as the files service stores them
    blob_dir = os.path.join(s.data, "files", "ab")
    os.makedirs(blob_dir)
    with open(os.path.join(blob_dir, "abcdef"), "wb") as f:
        f.write(b"BLOB-CONTENT")
    out = os.path.join(s.dir, "backup1")
    b = s.cli("backup", out)
    assert b.returncode == 0, b.stderr
    assert s.healthy(), "backup disturbed the server"
    db = os.path.join(out, "yimen.db")
    assert os.path.isfile(db)
    src_rows = migrations(os.path.join(s.data, "yimen.db"))
    assert len(src_rows) > 0
    assert migrations(db) == src_rows
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with open(os.path.join(out, "files", "ab", "abcdef"), "rb") as f:
        assert f.read() == b"BLOB-CONTENT"

    # restore is refused while this data_dir is served
    r = s.cli("restore", out)
    assert r.returncode == 1
    assert "serving" in r.stderr and str(s.proc.pid) in r.stderr
    assert s.healthy()

    # restore into a new, stopped data_dir
    with tempfile.TemporaryDirectory(prefix="yimen-api-") as tmp2:
        t = Server(tmp2)
        r = t.cli("restore", out)
        assert r.returncode == 0, r.stderr
        restored = os.path.join(t.data, "yimen.db")
        assert migrations(restored) == src_rows
        with open(os.path.join(t.data, "files", "ab", "abcdef"), "rb") as f:
            assert f.read() == b"BLOB-CONTENT"
        # the restored data serves, with the state it had (the clock offset)
        t.start()
        try:
            j = post_json(t, "/api/test/clock", {"advance": 0}).json()
            assert j["offset"] == pytest.approx(12345, abs=1e-3)
        finally:
            assert t.stop() == 0
    assert s.stop() == 0


def test_restore_replaces_existing_stopped_data(fresh_server):
    s = fresh_server.start()
    post_json(s, "/api/test/clock", {"advance": 100})
    out = os.path.join(s.dir, "bk")
    assert s.cli("backup", out).returncode == 0
    post_json(s, "/api/test/clock", {"advance": 900})          # offset now 1000
    assert s.stop() == 0
    r = s.cli("restore", out)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(s.data, "yimen.db-wal")) or \
        os.path.getsize(os.path.join(s.data, "yimen.db-wal")) == 0
    s.start()
    j = post_json(s, "/api/test/clock", {"advance": 0}).json()
    assert j["offset"] == pytest.approx(100, abs=1e-3)
    assert s.stop() == 0


def test_backup_into_non_empty_dir_refused(fresh_server):
    s = fresh_server.start()
    out = os.path.join(s.dir, "notempty")
    os.makedirs(out)
    with open(os.path.join(out, "keep.txt"), "w") as f:
        f.write("precious")
    r = s.cli("backup", out)
    assert r.returncode == 1
    assert "not empty" in r.stderr
    assert os.listdir(out) == ["keep.txt"]
    with open(os.path.join(out, "keep.txt")) as f:
        assert f.read() == "precious"
    # an empty existing directory is fine
    empty = os.path.join(s.dir, "empty")
    os.makedirs(empty)
    assert s.cli("backup", empty).returncode == 0
    assert os.path.isfile(os.path.join(empty, "yimen.db"))
    assert s.stop() == 0


def test_backup_without_database_fails(fresh_server):
    r = fresh_server.cli("backup", os.path.join(fresh_server.dir, "out"))
    assert r.returncode == 1
    assert "no database" in r.stderr


def test_restore_rejects_bad_backup_and_keeps_data(fresh_server):
    s = fresh_server.start()
    post_json(s, "/api/test/clock", {"advance": 42})
    assert s.stop() == 0
    before = migrations(os.path.join(s.data, "yimen.db"))
    # no database at all
    empty = os.path.join(s.dir, "emptybk")
    os.makedirs(empty)
    r = s.cli("restore", empty)
    assert r.returncode == 1 and "no database" in r.stderr
    # a corrupt database
    bad = os.path.join(s.dir, "badbk")
    os.makedirs(bad)
    with open(os.path.join(bad, "yimen.db"), "wb") as f:
        f.write(b"SQLite format 3\x00" + os.urandom(8192))
    r = s.cli("restore", bad)
    assert r.returncode == 1, r
    assert migrations(os.path.join(s.data, "yimen.db")) == before
    s.start()
    assert post_json(s, "/api/test/clock", {"advance": 0}).json()["offset"] == pytest.approx(42, abs=1e-3)
    assert s.stop() == 0
