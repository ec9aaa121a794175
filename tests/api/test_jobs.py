"""The persistent scheduler end to end: `yimen jobs`, the test clock running what
became due, one run per due time across two workers, and a catch-up run at start."""
import os
import sqlite3
import subprocess
import time
from datetime import datetime

import requests

from conftest import ADMIN_PASSWORD, ROOT, running_server, wait_for

JOB = "core.sessions_cleanup"


def token(s):
    r = requests.post(s.url + "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def advance(s, tok, seconds):
    r = requests.post(s.url + "/api/test/clock", json={"advance": seconds},
                      headers={"Authorization": "Bearer " + tok}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def row(s, name=JOB):
    db = sqlite3.connect(f"file:{s.data}/yimen.db?mode=ro", uri=True, timeout=5)
    try:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM core_jobs WHERE name = ?", (name,)).fetchone())
    finally:
        db.close()


def jobs_cli(s):
    r = s.cli("jobs")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split("\n")
    head = lines[0].split("\t")
    return {f[0]: dict(zip(head, f)) for f in (ln.split("\t") for ln in lines[1:])}


def test_cli_lists_the_core_job():
    with running_server() as s:
        jobs = jobs_cli(s)
        j = jobs[JOB]
        assert j["OWNER"] == "core" and j["SCHEDULE"] == "every 1h"
        assert j["RUNS"] == "0" and j["FAILURES"] == "0" and j["PAUSED"] == "no" and j["LAST_RUN"] == "-"
        ahead = datetime.fromisoformat(j["NEXT_RUN"]).timestamp() - time.time()
        assert 3500 < ahead < 3700, j
        assert s.cli("jobs", "--help").returncode == 0


def test_clock_runs_what_became_due_once_across_workers():
    with running_server(workers=2) as s:
        tok = token(s)
        before = row(s)
        assert before["runs"] == 0 and before["last_run"] is None
        advance(s, tok, 7200)  # one due time (1 h ahead) passed: runs before the answer
        # the answering worker ran it, or the other one's tick claimed it first
        assert wait_for(lambda: row(s)["runs"] == 1), row(s)
        after = row(s)
        assert after["last_run"] is not None and after["lease_until"] == 0 and after["failures"] == 0
        assert after["next_run"] > before["next_run"] + 3600 * 1000
        time.sleep(2.5)  # both workers tick meanwhile: the claim keeps it at one run
        assert row(s)["runs"] == 1
        advance(s, tok, 7200)
        assert wait_for(lambda: row(s)["runs"] == 2)
        time.sleep(1.5)
        assert row(s)["runs"] == 2
        j = jobs_cli(s)[JOB]
        assert j["RUNS"] == "2" and j["LAST_RUN"] != "-"


def test_job_due_while_down_runs_at_start(fresh_server):
    s = fresh_server.start()
    first = row(s)
    assert s.stop() == 0
    db = sqlite3.connect(f"{s.data}/yimen.db", timeout=5)
    now = int(time.time() * 1000)
    with db:
        db.execute("UPDATE core_jobs SET next_run = 1000 WHERE name = ?", (JOB,))
        uid = db.execute("SELECT id FROM core_users ORDER BY id LIMIT 1").fetchone()[0]
        for i, expires in enumerate((1000, now - 31 * 86400 * 1000, now - 86400 * 1000, now + 86400 * 1000)):
            db.execute("INSERT INTO core_sessions(user_id, token_hash, csrf, created_at, last_seen, expires_at) "
                       "VALUES (?, ?, 'x', ?, ?, ?)", (uid, bytes([i]) * 32, expires - 1000, expires - 1000, expires))
    db.close()
    s.start()
    assert wait_for(lambda: row(s)["runs"] == first["runs"] + 1), row(s)
    r = row(s)
    assert r["next_run"] > time.time() * 1000 + 3500 * 1000
    time.sleep(1.5)
    assert row(s)["runs"] == first["runs"] + 1
    # the cleanup kept sessions that ended less than 30 days ago
    db = sqlite3.connect(f"file:{s.data}/yimen.db?mode=ro", uri=True, timeout=5)
    left = sorted(r[0] for r in db.execute("SELECT expires_at FROM core_sessions WHERE csrf = 'x'"))
    db.close()
    assert left == [now - 86400 * 1000, now + 86400 * 1000]


PLUGIN_C = r"""
#include <stddef.h>
#include <string.h>
#include "yimen.h"
static const ym_api *A;
static int tick(ym_plugin *self, const char *name, void *ud)
{
    ym_stmt *st = A->db_prepare(self, "INSERT INTO %(n)s_runs(name) VALUES (?1)");
    A->db_write_begin(self);
    A->db_bind_text(st, 1, name);
    int ok = A->db_step(st) == YM_DONE;
    A->db_reset(st);
    A->db_write_end(self, ok);
#ifdef JOB_FAILS
    ok = 0;
#endif
    return ok ? 0 : -1;
}
static int init(ym_plugin *self, const ym_api *api)
{
    A = api;
    if (api->size <= offsetof(ym_api, job))
        return -1;
    return api->job(self, JOB_NAME, JOB_SCHEDULE, tick, NULL);
}
const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "%(n)s", .version = "1.0.0", .core_min = "0.1", .init = init,
};
"""


def build_plugin(base, name, job, schedule, fails=False):
    d = os.path.join(base, name)
    os.makedirs(os.path.join(d, "schema"))
    with open(os.path.join(d, "schema", "001_init.sql"), "w") as f:
        f.write("CREATE TABLE %s_runs (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n" % name)
    src = os.path.join(base, name + ".c")
    with open(src, "w") as f:
        f.write(PLUGIN_C % {"n": name})
    cmd = ["gcc", "-std=gnu11", "-shared", "-fPIC", "-Wall", "-Werror", "-I" + os.path.join(ROOT, "core", "include"),
           '-DJOB_NAME="%s"' % job, '-DJOB_SCHEDULE="%s"' % schedule, "-o", os.path.join(d, name + ".so"), src]
    if fails:
        cmd.insert(1, "-DJOB_FAILS=1")
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_c_plugin_job(tmp_path):
    base = str(tmp_path)
    build_plugin(base, "jobfx", "jobfx.tick", "every 1h")
    build_plugin(base, "jobbad", "other.tick", "every 1h")      # not its own name
    build_plugin(base, "jobsch", "jobsch.tick", "every 5 min")  # bad schedule
    conf = 'plugin_paths = { "%s" }\nplugins = { "jobfx", "jobbad", "jobsch" }\n' % base
    with running_server(extra=conf) as s:
        jobs = jobs_cli(s)
        assert jobs["jobfx.tick"]["OWNER"] == "jobfx" and "other.tick" not in jobs and "jobsch.tick" not in jobs
        plugins = s.cli("plugins").stdout
        assert "other.tick must be named jobbad.<word>" in plugins, plugins
        assert 'job jobsch.tick: bad schedule "every 5 min"' in plugins, plugins
        advance(s, token(s), 7200)
        assert wait_for(lambda: row(s, "jobfx.tick")["runs"] == 1)
        db = sqlite3.connect(f"file:{s.data}/yimen.db?mode=ro", uri=True, timeout=5)
        assert db.execute("SELECT count(*) FROM jobfx_runs WHERE name = 'jobfx.tick'").fetchone()[0] == 1
        db.close()


def test_failing_job_is_paused_and_admins_are_notified(tmp_path):
    base = str(tmp_path)
    build_plugin(base, "jobfail", "jobfail.tick", "every 1m", fails=True)
    conf = 'plugin_paths = { "%s" }\nplugins = { "jobfail" }\n' % base
    with running_server(extra=conf) as s:
        tok = token(s)
        for i in range(1, 6):  # backoff doubles from a minute: two hours always covers it
            advance(s, tok, 7200)
            assert wait_for(lambda: row(s, "jobfail.tick")["failures"] == i), row(s, "jobfail.tick")
        r = row(s, "jobfail.tick")
        assert r["paused"] == 1 and "jobfail plugin reported a failure" in r["last_error"], r
        inbox = requests.get(s.url + "/api/notifications", headers={"Authorization": "Bearer " + tok},
                             timeout=5).json()["items"]
        paused = [n for n in inbox if n["title"] == "后台任务已暂停：jobfail.tick"]
        assert len(paused) == 1, inbox
        assert paused[0]["severity"] == "warning" and "jobfail plugin reported a failure" in paused[0]["body"]
        assert paused[0]["source"] == "core" and paused[0]["link"] == "#/admin/jobs"
        # paused: more time runs it no more, and nobody is told twice
        advance(s, tok, 7200)
        time.sleep(1)
        assert row(s, "jobfail.tick")["failures"] == 5
