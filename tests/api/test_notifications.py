"""Notifications: the inbox routes, announcements (POST /api/admin/notify), the live
stream GET /api/events across two workers with Last-Event-ID resume, heartbeats, a
signed-out stream ending, and outbound channels (a webhook on 127.0.0.1, the log)."""
import http.server
import json
import tempfile
import threading
import time

import pytest
import requests

from conftest import Server, wait_for
from directory_helpers import (ADMIN_PW, EXTRA, Api, db_value, error, login, make_unit, person, audit)
from sse_helpers import Sse, streams_on_both_workers


class Hook(http.server.BaseHTTPRequestHandler):
    """The webhook receiver: records every POST; answers 500 while `fail` is set."""
    got = []
    fail = [False]

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.got.append({"path": self.path, "body": body.decode(), "ctype": self.headers.get("Content-Type"),
                         "token": self.headers.get("X-Token")})
        self.send_response(500 if Hook.fail[0] else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"no" if Hook.fail[0] else b"ok")

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def hook():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


def channels_conf(hook_port, dead_port):
    return ('notify = { heartbeat = "1s", channels = {\n'
            '  sms = { type = "webhook", url = "http://127.0.0.1:%d/sms", min_severity = "urgent",\n'
            '          content_type = "application/json", headers = { ["X-Token"] = "s3cret" },\n'
            '          template = \'{"to":"{{phone}}","text":"{{title}}: {{body}}","link":"{{url}}"}\' },\n'
            '  dead = { type = "webhook", url = "http://127.0.0.1:%d/x", min_severity = "urgent",\n'
            '           timeout = "500ms", max_attempts = 2 },\n'
            '  devlog = { type = "log", min_severity = "warning" },\n'
            '} }\n' % (hook_port, dead_port))


@pytest.fixture(scope="module")
def srv(hook):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="yimen-notify-") as tmp:
        s = Server(tmp, EXTRA + "\n" + channels_conf(hook.server_address[1], dead) +
                   'public_url = "https://oa.example.test"\n',
                   env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        try:
            yield s
        finally:
            rc = s.stop()
        log = s.log_text()
        assert rc == 0 and "restarting worker" not in log and "Sanitizer" not in log, log[-4000:]


@pytest.fixture(scope="module")
def t(srv):
    admin = Api(srv, login(srv, "admin", ADMIN_PW))
    from types import SimpleNamespace
    t = SimpleNamespace(admin=admin, srv=srv)
    t.root = admin.get("/api/units?kind=county").json()["items"][0]["id"]
    t.A = make_unit(admin, "township", "通知甲镇")
    t.B = make_unit(admin, "township", "通知乙镇")
    t.a1 = person(srv, admin, t.A, phone="13800000001")
    t.a2 = person(srv, admin, t.A)
    t.b1 = person(srv, admin, t.B)
    return t


def announce(t, **body):
    body.setdefault("title", "测试通知")
    body.setdefault("unit_id", t.A)
    r = t.admin.post("/api/admin/notify", body)
    assert r.status_code == 201, r.text
    return r.json()["sent"]


def inbox(api, **params):
    from urllib.parse import urlencode
    r = api.get("/api/notifications" + ("?" + urlencode(params) if params else ""))
    assert r.status_code == 200, r.text
    return r.json()


# ---------- the inbox ----------

def test_announce_reaches_the_unit_only(t):
    assert announce(t, title="春耕生产会议通知", body="请各村于周五前报送。", link="#/meetings/7",
                    severity="reminder") == 2
    got = inbox(t.a1.api)["items"][0]
    assert got["title"] == "春耕生产会议通知" and got["body"] == "请各村于周五前报送。"
    assert got["link"] == "#/meetings/7" and got["severity"] == "reminder" and got["source"] == "core"
    assert got["read"] is False and got["read_at"] is None and got["type"] == "notification"
    assert all(i["title"] != "春耕生产会议通知" for i in inbox(t.b1.api)["items"])
    rows = audit(t.srv, action="notify.broadcast")
    assert rows and rows[-1]["detail"]["sent"] == 2 and rows[-1]["detail"]["unit_id"] == t.A


def test_subtree_and_root(t):
    village = make_unit(t.admin, "village", "通知村", parent=t.A)
    v = person(t.srv, t.admin, village)
    assert announce(t, title="全镇通知", unit_id=t.A) == 3            # A's two and the village's one
    assert announce(t, title="仅本镇", unit_id=t.A, subtree=False) == 2
    assert inbox(v.api)["items"][0]["title"] == "全镇通知"


def test_read_unread_and_counts(t):
    announce(t, title="未读计数一")
    announce(t, title="未读计数二")
    api = t.a2.api
    before = api.get("/api/notifications/unread-count").json()["unread"]
    assert before >= 2
    first = inbox(api, unread="true")["items"][0]
    r = api.post("/api/notifications/%d/read" % first["id"])
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    assert api.post("/api/notifications/%d/read" % first["id"]).status_code == 200  # again: no change
    assert api.get("/api/notifications/unread-count").json()["unread"] == before - 1
    assert first["id"] not in [i["id"] for i in inbox(api, unread="true")["items"]]
    assert inbox(api)["unread"] == before - 1
    r = api.post("/api/notifications/read-all")
    assert r.status_code == 200 and r.json()["updated"] == before - 1
    assert api.get("/api/notifications/unread-count").json() == {"unread": 0}


def test_paging_newest_first(t):
    for i in range(3):
        announce(t, title="分页%d" % i)
    page = inbox(t.a1.api, limit=2)
    assert [i["title"] for i in page["items"]] == ["分页2", "分页1"] and page["next"]
    rest = inbox(t.a1.api, limit=2, after=page["next"])
    assert rest["items"][0]["title"] == "分页0"


def test_another_users_notification_is_404(t):
    mine = inbox(t.a1.api)["items"][0]["id"]
    error(t.b1.api.post("/api/notifications/%d/read" % mine), 404, "not_found")
    error(t.b1.api.post("/api/notifications/99999999/read"), 404, "not_found")
    error(t.b1.api.post("/api/notifications/abc/read"), 404)
    assert inbox(t.a1.api)["items"][0]["read"] is False


def test_inbox_bad_parameters(t):
    error(t.a1.api.get("/api/notifications?limit=0"), 400, "invalid", "limit")
    error(t.a1.api.get("/api/notifications?limit=x"), 400, "invalid", "limit")
    error(t.a1.api.get("/api/notifications?unread=maybe"), 400, "invalid", "unread")
    error(t.a1.api.get("/api/notifications?after=-3"), 400, "invalid", "after")
    r = requests.get(t.srv.url + "/api/notifications", timeout=5)
    error(r, 401, "unauthenticated")


def test_announce_errors(t):
    post = t.admin.post
    error(post("/api/admin/notify", {"unit_id": t.A}), 400, "invalid", "title")
    error(post("/api/admin/notify", {"title": "", "unit_id": t.A}), 400, "invalid", "title")
    error(post("/api/admin/notify", {"title": "x" * 201}), 400, "invalid", "title")
    assert post("/api/admin/notify", {"title": "通" * 200, "unit_id": t.B}).status_code == 201  # characters
    error(post("/api/admin/notify", {"title": "通" * 201}), 400, "invalid", "title")
    error(post("/api/admin/notify", {"title": "a\nb"}), 400, "invalid", "title")
    error(post("/api/admin/notify", {"title": "t", "severity": "loud"}), 400, "invalid", "severity")
    error(post("/api/admin/notify", {"title": "t", "severity": 3}), 400, "invalid", "severity")
    error(post("/api/admin/notify", {"title": "t", "link": "https://evil.example/"}), 400, "invalid", "link")
    error(post("/api/admin/notify", {"title": "t", "link": "//evil.example/"}), 400, "invalid", "link")
    error(post("/api/admin/notify", {"title": "t", "unit_id": 99999999}), 400, "invalid", "unit_id")
    error(post("/api/admin/notify", {"title": "t", "unit_id": "1"}), 400, "invalid", "unit_id")
    error(post("/api/admin/notify", {"title": "t", "channels": ["nope"]}), 400, "invalid", "channels")
    error(post("/api/admin/notify", {"title": "t", "channels": "sms"}), 400, "invalid", "channels")
    error(post("/api/admin/notify", {"title": "t", "colour": "red"}), 400, "invalid")
    error(post("/api/admin/notify", raw=b"{\"title\": "), 400, "bad_json")
    error(post("/api/admin/notify", raw=b"[1]"), 400)
    error(post("/api/admin/notify", {"title": "t"}, ctype="text/plain"), 415)
    # a plain user holds no notify.broadcast
    error(t.a1.api.post("/api/admin/notify", {"title": "t", "unit_id": t.A}), 403, "forbidden")
    # nothing of the refused requests was written
    assert db_value(t.srv, "SELECT count(*) FROM core_notifications WHERE title = 't'") == 0


# ---------- the live stream ----------

def test_stream_headers_and_auth(t):
    s = Sse(t.srv, t.a1.api.token)
    try:
        assert s.status == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        assert "content-length" not in s.headers and s.headers["cache-control"] == "no-store"
        assert s.buf.startswith(b"retry: 3000") or s.frames(timeout=0.3) == []
    finally:
        s.close()
    r = requests.get(t.srv.url + "/api/events", timeout=5)
    error(r, 401, "unauthenticated")
    r = requests.get(t.srv.url + "/api/events", headers={"Authorization": "Bearer " + t.a1.api.token,
                                                          "Last-Event-ID": "x1"}, timeout=5)
    error(r, 400, "invalid", "Last-Event-ID")
    r = requests.head(t.srv.url + "/api/events", headers={"Authorization": "Bearer " + t.a1.api.token}, timeout=5)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")


def test_stream_across_two_workers(t):
    streams = streams_on_both_workers(t.srv, t.a1.api.token)
    other = Sse(t.srv, t.b1.api.token)
    try:
        time.sleep(0.1)
        announce(t, title="跨进程推送", body="两个工作进程都要收到")
        for s in streams:
            f = s.frames(timeout=5, count=1)
            assert len(f) == 1, "worker %d got nothing" % s.worker
            assert f[0]["event"] == "notification" and f[0]["data"]["title"] == "跨进程推送"
            assert int(f[0]["id"]) == f[0]["data"]["id"]
        assert other.frames(timeout=0.5) == []  # B's user is not in unit A
    finally:
        for s in streams + [other]:
            s.close()


def test_last_event_id_resume(t):
    s = Sse(t.srv, t.a2.api.token)
    announce(t, title="续传一")
    first = s.frames(timeout=5, count=1)[0]
    s.close()
    announce(t, title="续传二")
    announce(t, title="续传三")
    s = Sse(t.srv, t.a2.api.token, last_event_id=first["id"])
    try:
        got = s.frames(timeout=5, count=2)
        assert [f["data"]["title"] for f in got] == ["续传二", "续传三"]
        assert int(got[0]["id"]) < int(got[1]["id"])
        assert s.frames(timeout=0.3) == []  # nothing twice
        announce(t, title="续传四")
        assert s.frames(timeout=5, count=1)[0]["data"]["title"] == "续传四"
    finally:
        s.close()
    # the query parameter works as well (clients that cannot set the header)
    s = Sse(t.srv, t.a2.api.token, path="/api/events?last_event_id=%s" % first["id"])
    try:
        assert [f["data"]["title"] for f in s.frames(timeout=5, count=3)] == ["续传二", "续传三", "续传四"]
    finally:
        s.close()


def test_heartbeat_and_signed_out_stream_ends(t):
    u = person(t.srv, t.admin, t.B)
    s = Sse(t.srv, u.api.token)
    try:
        beats = s.frames(timeout=3, comments=True)
        assert any("comment" in f for f in beats), beats
        assert u.api.post("/api/auth/logout").status_code in (200, 204)
        assert s.wait_closed(timeout=5), "the stream of a signed-out session stayed open"
    finally:
        s.close()


def test_reload_closes_streams(fresh_server):
    fresh_server.configure(extra=EXTRA, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
    token = login(fresh_server, "admin", ADMIN_PW)
    s = Sse(fresh_server, token)
    try:
        fresh_server.reload_and_wait(2)
        assert s.wait_closed(timeout=10)
        s2 = Sse(fresh_server, token)
        assert s2.status == 200
        s2.close()
    finally:
        s.close()


# ---------- channels ----------

def test_webhook_channel_and_template(t, hook):
    Hook.got.clear()
    announce(t, title="防汛紧急通知", body="立即上岗\"值守\"", link="#/duty/3", severity="urgent",
             unit_id=t.A, subtree=False)
    got = wait_for(lambda: [g for g in Hook.got if g["path"] == "/sms" and "防汛紧急通知" in g["body"]] or None)
    assert got and len(got) == 2, Hook.got
    bodies = [json.loads(g["body"]) for g in got]
    assert {b["to"] for b in bodies} == {"13800000001", ""}
    assert bodies[0]["text"] == "防汛紧急通知: 立即上岗\"值守\""   # escaped for JSON, then parsed back
    assert bodies[0]["link"] == "https://oa.example.test#/duty/3"
    assert got[0]["ctype"] == "application/json" and got[0]["token"] == "s3cret"
    sent = wait_for(lambda: t.admin.get("/api/admin/notify/outbox?channel=sms&state=sent").json()["items"])
    assert sent and sent[0]["state"] == "sent" and sent[0]["sent_at"]
    # the log channel (min_severity warning) logged it too
    t.srv.wait_log("channel=devlog")


def test_below_min_severity_is_not_sent(t):
    Hook.got.clear()
    announce(t, title="普通信息", severity="info")
    time.sleep(1.5)
    assert not [g for g in Hook.got if "普通信息" in g["body"]]
    # unless the channel is named
    announce(t, title="点名发送", severity="info", channels=["sms"], unit_id=t.B)
    assert wait_for(lambda: [g for g in Hook.got if "点名发送" in g["body"]])


def test_failing_channel_retries_then_fails_and_can_be_retried(t):
    announce(t, title="发不出去", severity="urgent", unit_id=t.B, channels=["dead"])
    first = wait_for(lambda: [i for i in t.admin.get("/api/admin/notify/outbox?channel=dead").json()["items"]
                              if i["attempts"] >= 1 and i["last_error"]])
    assert first, t.admin.get("/api/admin/notify/outbox?channel=dead").text
    assert first[0]["state"] == "pending"
    # past the backoff: the second attempt is the last (max_attempts = 2)
    r = t.admin.post("/api/test/clock", {"advance": 60})
    assert r.status_code == 200, r.text
    failed = wait_for(lambda: t.admin.get("/api/admin/notify/outbox?channel=dead&state=failed").json()["items"])
    assert failed and failed[0]["attempts"] == 2
    r = t.admin.post("/api/admin/notify/outbox/%d/retry" % failed[0]["id"])
    assert r.status_code == 200 and r.json()["state"] == "pending" and r.json()["attempts"] == 0
    error(t.admin.post("/api/admin/notify/outbox/99999999/retry"), 404, "not_found")
    error(t.admin.get("/api/admin/notify/outbox?state=lost"), 400, "invalid", "state")
    error(t.a1.api.get("/api/admin/notify/outbox"), 403, "forbidden")


def test_bad_channel_config_is_refused(tmp_path):
    s = Server(str(tmp_path), 'notify = { channels = { sms = { type = "webhook" } } }')
    r = s.cli("check-config")
    assert r.returncode == 1 and "notify.channels.sms.url" in r.stderr, r.stderr
    s.write_config('notify = { channels = { sms = { type = "log", colour = 1 } } }')
    r = s.cli("check-config")
    assert r.returncode == 1 and "notify.channels.sms.colour: unknown key" in r.stderr, r.stderr
    s.write_config('notify = { channels = { sms = { type = "webhook", url = "http://x/", '
                   'headers = { ["Bad Header"] = "v" } } } }')
    r = s.cli("check-config")
    assert r.returncode == 1 and "notify.channels.sms.headers.Bad Header" in r.stderr, r.stderr
    s.write_config('notify = { heartbeat = "10ms" }')
    r = s.cli("check-config")
    assert r.returncode == 1 and "notify.heartbeat" in r.stderr, r.stderr
