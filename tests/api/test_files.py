"""Attachments (/api/files): raw-body upload, sniffed types, content-addressed blobs,
safe downloads (Content-Disposition, nosniff), access by uploader or files.read, limits."""
import base64
import hashlib
import os
import tempfile
from urllib.parse import quote

import pytest
import requests

from conftest import Server
from directory_helpers import ADMIN_PW, EXTRA, Api, audit, county, db_value, error, login, person, serve

# a 1x1 transparent PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
HTML = b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n"


@pytest.fixture(scope="module")
def srv():
    yield from serve("yimen-files-")


@pytest.fixture(scope="module")
def t(srv):
    t = county(srv)
    t.alice = person(srv, t.admin, t.A)
    t.bob = person(srv, t.admin, t.B)
    return t


def upload(api, name, data, ctype="application/octet-stream"):
    path = "/api/files" if name is None else "/api/files?name=" + quote(name, safe="")
    return api.call("POST", path, raw=data, ctype=ctype)


def files_on_disk(srv):
    out = []
    for root, _dirs, names in os.walk(os.path.join(srv.data, "files")):
        out += [os.path.join(root, n) for n in names]
    return sorted(out)


def test_png_sniffed_and_downloaded(t):
    r = upload(t.alice.api, "pic.txt", PNG, ctype="text/plain")
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["type"] == "image/png" and f["declared_type"] == "text/plain"
    assert f["size"] == len(PNG) and f["name"] == "pic.txt"
    assert f["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert f["created_at"][4] == "-" and "T" in f["created_at"]
    assert f["uploader_id"] == t.alice.id and f["unit_id"] == t.A and f["owner"] is None
    d = t.alice.api.get("/api/files/%d" % f["id"])
    assert d.status_code == 200
    assert d.content == PNG
    assert d.headers["Content-Type"] == "image/png"
    assert d.headers["Content-Disposition"] == "inline; filename=\"pic.txt\"; filename*=UTF-8''pic.txt"
    assert d.headers["X-Content-Type-Options"] == "nosniff"
    m = t.alice.api.get("/api/files/%d/meta" % f["id"])
    assert m.status_code == 200 and m.json() == f
    # the blob is content-addressed
    h = f["sha256"]
    blob = os.path.join(t.srv.data, "files", h[:2], h[2:4], h)
    with open(blob, "rb") as fh:
        assert fh.read() == PNG


def test_html_is_an_attachment(t):
    r = upload(t.alice.api, "page.html", HTML, ctype="text/html")
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "text/html"
    d = t.alice.api.get("/api/files/%d" % r.json()["id"])
    assert d.status_code == 200 and d.content == HTML
    assert d.headers["Content-Type"] == "application/octet-stream"
    assert d.headers["Content-Disposition"].startswith("attachment; ")
    assert d.headers["X-Content-Type-Options"] == "nosniff"


def test_chinese_name(t):
    name = "春耕通知 \"终稿\".pdf"
    r = upload(t.alice.api, name, b"plain words\n")
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name and r.json()["type"] == "text/plain"
    d = t.alice.api.get("/api/files/%d" % r.json()["id"])
    cd = d.headers["Content-Disposition"]
    assert cd == ("inline; filename=\"____ ____.pdf\"; filename*=UTF-8''"
                  "%E6%98%A5%E8%80%95%E9%80%9A%E7%9F%A5%20%22%E7%BB%88%E7%A8%BF%22.pdf")
    assert cd.split("filename*=UTF-8''")[1] == quote(name.encode(), safe="!#$&+-.^_`|~")


def test_names_paths_and_controls(t):
    r = upload(t.alice.api, "../../etc/passwd", b"x")
    assert r.status_code == 201 and r.json()["name"] == "passwd"
    r = upload(t.alice.api, "C:\\Users\\me\\报告.doc", b"y")
    assert r.status_code == 201 and r.json()["name"] == "报告.doc"
    error(upload(t.alice.api, "a\nb.txt", b"z"), 400, "invalid", "name")
    error(upload(t.alice.api, "tab\there", b"z"), 400, "invalid", "name")
    error(upload(t.alice.api, None, b"z"), 400, "invalid", "name")
    error(upload(t.alice.api, "", b"z"), 400, "invalid", "name")
    error(upload(t.alice.api, "dir/", b"z"), 400, "invalid", "name")
    error(upload(t.alice.api, "..", b"z"), 400, "invalid", "name")
    error(upload(t.alice.api, "a" * 256, b"z"), 400, "invalid", "name")
    assert upload(t.alice.api, "a" * 255, b"z").status_code == 201
    r = t.alice.api.call("POST", "/api/files?name=bad%FF.txt", raw=b"z", ctype="text/plain")
    error(r, 400, "invalid", "name")


def test_same_content_one_blob(t):
    data = os.urandom(3000)
    h = hashlib.sha256(data).hexdigest()
    a = upload(t.alice.api, "one.bin", data)
    b = upload(t.bob.api, "two.bin", data)
    assert a.status_code == 201 and b.status_code == 201
    assert a.json()["id"] != b.json()["id"] and a.json()["sha256"] == b.json()["sha256"] == h
    assert [p for p in files_on_disk(t.srv) if p.endswith(h)] == \
        [os.path.join(t.srv.data, "files", h[:2], h[2:4], h)]
    assert db_value(t.srv, "SELECT COUNT(*) FROM core_files WHERE sha256 = ?", h) == 2
    assert not os.listdir(os.path.join(t.srv.data, "files", "tmp"))


def test_access(t):
    r = upload(t.alice.api, "secret.txt", b"for unit A only\n")
    fid = r.json()["id"]
    error(t.bob.api.get("/api/files/%d" % fid), 404, "not_found")
    error(t.bob.api.get("/api/files/%d/meta" % fid), 404, "not_found")
    # the administrator holds files.read everywhere
    assert t.admin.get("/api/files/%d" % fid).content == b"for unit A only\n"
    assert t.admin.get("/api/files/%d/meta" % fid).json()["id"] == fid
    for bad in ("999999", "0", "-1", "abc", "1x", "99999999999999999999999"):
        error(t.alice.api.get("/api/files/" + bad), 404, "not_found")
        error(t.alice.api.get("/api/files/%s/meta" % bad), 404, "not_found")
    anon = Api(t.srv)
    error(anon.get("/api/files/%d" % fid), 401, "unauthenticated")
    error(anon.get("/api/files/%d/meta" % fid), 401)
    error(upload(anon, "x.txt", b"x"), 401)


def test_upload_audited(t):
    r = upload(t.alice.api, "audited.txt", b"audit me\n")
    fid = r.json()["id"]
    rows = audit(t.srv, action="files.upload", target="file:%d" % fid)
    assert len(rows) == 1
    row = rows[0]
    assert row["result"] == "ok" and row["actor_id"] == t.alice.id
    assert row["detail"]["name"] == "audited.txt" and row["detail"]["sha256"] == r.json()["sha256"]


def test_over_the_limit_writes_nothing():
    with tempfile.TemporaryDirectory(prefix="yimen-files-limit-") as tmp:
        s = Server(tmp, EXTRA + '\nlimits = { body = "64KiB" }', env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        try:
            admin = Api(s, login(s, "admin", ADMIN_PW))
            ok = upload(admin, "small.bin", os.urandom(1000))
            assert ok.status_code == 201, ok.text
            before = files_on_disk(s)
            assert len(before) == 1
            try:
                r = upload(admin, "big.bin", os.urandom(64 * 1024 + 1))
                assert r.status_code == 413
            except requests.ConnectionError:
                pass  # the server may close before the whole body is sent
            assert files_on_disk(s) == before
            assert os.listdir(os.path.join(s.data, "files", "tmp")) == []
            assert db_value(s, "SELECT COUNT(*) FROM core_files") == 1
            exact = upload(admin, "exact.bin", os.urandom(64 * 1024))
            assert exact.status_code == 201, exact.text
        finally:
            rc = s.stop()
        assert rc == 0, s.log_text()[-3000:]


def test_cleanup_job_reaps_unattached_uploads():
    """core.files_cleanup (daily 03:30): two days on, an upload never attached is gone
    with its blob; an attached one (owner set as a plugin's ym_files_attach would) stays."""
    import sqlite3
    import time
    with tempfile.TemporaryDirectory(prefix="yimen-files-cleanup-") as tmp:
        s = Server(tmp, EXTRA, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        try:
            admin = Api(s, login(s, "admin", ADMIN_PW))
            orphan = upload(admin, "orphan.txt", b"never attached\n")
            kept = upload(admin, "kept.txt", b"attached to a record\n")
            assert orphan.status_code == 201 and kept.status_code == 201
            orphan, kept = orphan.json(), kept.json()
            con = sqlite3.connect(os.path.join(s.data, "yimen.db"), timeout=10)
            with con:
                con.execute("UPDATE core_files SET owner = 'hello_item:5' WHERE id = ?", (kept["id"],))
            con.close()
            blob = lambda f: os.path.join(s.data, "files", f["sha256"][:2], f["sha256"][2:4], f["sha256"])
            assert os.path.exists(blob(orphan)) and os.path.exists(blob(kept))
            assert db_value(s, "SELECT schedule FROM core_jobs WHERE name = 'core.files_cleanup'") == "daily 03:30"
            r = admin.call("POST", "/api/test/clock", {"advance": 2 * 86400})
            assert r.status_code == 200, r.text
            # the answering worker ran it before answering, or the other one at its tick
            deadline = time.time() + 10
            while os.path.exists(blob(orphan)) and time.time() < deadline:
                time.sleep(0.1)
            assert not os.path.exists(blob(orphan))
            runs = lambda: db_value(s, "SELECT runs FROM core_jobs WHERE name = 'core.files_cleanup'")
            while runs() != 1 and time.time() < deadline:  # recorded just after the run
                time.sleep(0.1)
            assert runs() == 1
            admin = Api(s, login(s, "admin", ADMIN_PW))  # the old session may have lapsed
            assert admin.get("/api/files/%d" % orphan["id"]).status_code == 404
            assert admin.get("/api/files/%d/meta" % orphan["id"]).status_code == 404
            d = admin.get("/api/files/%d" % kept["id"])
            assert d.status_code == 200 and d.content == b"attached to a record\n"
            assert os.path.exists(blob(kept))
        finally:
            rc = s.stop()
        assert rc == 0, s.log_text()[-3000:]
