"""Dispatch (分发/签收) over HTTP with the demo county (573 units, 1,452 staff): one request
sends to every unit; clerks read, sign, reply (validated against the reply form), return
and forward to their villages; the board's counts and tree are exact; a unit outside the
recipients gets 404; to-dos come and go; the sender's SSE stream gets the receipt events;
573 concurrent signs lose and double nothing; the escalation ladder fires each step once
at its time under the test clock; bad input writes nothing."""
import json
import os
import sqlite3
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import requests

from conftest import BIN, Server
from directory_helpers import ADMIN_PW, Api, error, login
from sse_helpers import Sse

DEMO_PW = "Demo-Staff-Pass-2026!"
CONF = ('auth = { argon2 = { memory = "1MiB", iterations = 1 }, idle_timeout = "7d", absolute_timeout = "30d",\n'
        '         rate_limit = { per_ip = 1000000, per_account = 1000000 } }\n'
        'notify = { channels = { sms = { type = "log", min_severity = "urgent" } } }\n')
FORM = {"fields": [
    {"name": "attending", "label": "能否参会", "type": "boolean", "required": True},
    {"name": "attendees", "label": "参会人员", "type": "list", "columns": ["name", "post"], "max": 5},
    {"name": "note", "type": "string", "max": 50},
]}


@pytest.fixture(scope="module")
def srv():
    with tempfile.TemporaryDirectory(prefix="yimen-dispatch-") as tmp:
        s = Server(tmp, CONF, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        try:
            r = subprocess.run([BIN, "demo", "-c", s.conf, "--seed", "7"], capture_output=True, text=True,
                               env=dict(s.env, YIMEN_DEMO_PASSWORD=DEMO_PW), timeout=120)
            assert r.returncode == 0, r.stderr
            yield s
        finally:
            rc = s.stop()
        log = s.log_text()
        assert rc == 0 and "restarting worker" not in log and "Sanitizer" not in log, log[-4000:]


def ro(srv):
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.data, "yimen.db"), uri=True, timeout=10)
    return con


def q(srv, sql, *args):
    con = ro(srv)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def q1(srv, sql, *args):
    rows = q(srv, sql, *args)
    return rows[0][0] if rows else None


class Users:
    """Signed-in clients by username (logged in once, on first use)."""

    def __init__(self, srv):
        self.srv, self.c = srv, {}

    def __call__(self, username):
        if username not in self.c:
            self.c[username] = Api(self.srv, login(self.srv, username, DEMO_PW))
        return self.c[username]


@pytest.fixture(scope="module")
def t(srv):
    admin = Api(srv, login(srv, "admin", ADMIN_PW))
    t = SimpleNamespace(srv=srv, admin=admin, u=Users(srv))
    rows = q(srv, "SELECT id, kind, name, parent_id FROM core_units ORDER BY id")
    assert len(rows) == 573
    t.units = {r[0]: SimpleNamespace(id=r[0], kind=r[1], name=r[2], parent=r[3]) for r in rows}
    t.code = {}   # unit id -> demo code (t01, t01v02, d04, cty)
    for uid, username in q(srv, "SELECT unit_id, username FROM core_users WHERE username LIKE '%.clerk'"):
        t.code[uid] = username.split(".")[0]
    t.by_code = {c: u for u, c in t.code.items()}
    t.uid = dict(q(srv, "SELECT username, id FROM core_users"))
    # the sender side: d02's leader holds test.send there; d02's s01-less clerk is the duty officer
    r = admin.post("/api/roles", {"key": "test_sender", "name": "测试发文", "permissions": ["test.send"]})
    assert r.status_code == 201, r.text
    t.sender_unit = t.by_code["d02"]
    for user, role in (("d02.leader", "test_sender"), ("d02.clerk", "duty_officer")):
        r = admin.post("/api/grants", {"user_id": t.uid[user], "role": role, "unit_id": t.sender_unit,
                                       "include_descendants": False})
        assert r.status_code == 201, r.text
    t.sender = t.u("d02.leader")
    return t


def clerk(t, unit_id):
    return t.u(t.code[unit_id] + ".clerk")


def send(t, recipients, **kw):
    body = dict(source="test", record="test_doc:1", sender_unit=t.sender_unit, sender_user=t.uid["d02.leader"],
                title=kw.pop("title", "关于召开全县安全生产工作会议的通知"), urgency="urgent", link="#/test/1",
                recipients=recipients)
    body.update(kw)
    return t.admin.post("/api/test/dispatches", body)


def board(t, did, who=None):
    r = (who or t.sender).get("/api/dispatches/%d/board" % did)
    assert r.status_code == 200, r.text
    return r.json()


def todos(api, source="core"):
    r = api.get("/api/me/todos?source=" + source)
    assert r.status_code == 200, r.text
    return r.json()["items"]


# ---------------------------------------------------------------- the big one

def test_send_to_all_573_units_in_one_request(t):
    recips = [{"unit_id": u.id, "kind": "copy" if u.kind in ("county", "department") else "main"}
              for u in t.units.values()]
    before = q1(t.srv, "SELECT count(*) FROM core_notifications WHERE type = 'notification'")
    t0 = time.time()
    r = send(t, recips, reply_form=FORM, deadline_in=3 * 86400)
    took = time.time() - t0
    assert r.status_code == 201, r.text
    assert r.json()["recipients"] == 573
    assert took < 5, took
    t.big = did = r.json()["id"]
    assert q1(t.srv, "SELECT count(*) FROM core_dispatch_receipts WHERE dispatch_id = ?", did) == 573
    assert q1(t.srv, "SELECT count(*) FROM core_dispatch_receipts WHERE dispatch_id = ? AND reply_owed = 1",
              did) == 573 - 42
    # one to-do per unit for its clerk role, one notification per clerk
    assert q1(t.srv, "SELECT count(*) FROM core_todos WHERE owner = 'core' AND key LIKE ? AND resolved_at IS NULL",
              "dispatch:%d:r:%%" % did) == 573
    after = q1(t.srv, "SELECT count(*) FROM core_notifications WHERE type = 'notification'")
    assert after - before == 573
    assert q1(t.srv, "SELECT count(*) FROM core_audit WHERE action = 'dispatches.create' AND target = ?",
              "dispatch:%d" % did) == 1
    # the clerk has the notification and the to-do
    c = clerk(t, t.by_code["t01"])
    n = c.get("/api/notifications?limit=5").json()["items"]
    assert n[0]["title"] == "【加急】关于召开全县安全生产工作会议的通知" and n[0]["link"] == "#/test/1"
    items = [x for x in todos(c) if x["key"].startswith("dispatch:%d:" % did)]
    assert len(items) == 1 and items[0]["kind"] == "sign" and items[0]["role"] == "clerk"
    # a staff member without the clerk role has no to-do but sees the dispatch in the inbox
    inbox = t.u("t01.leader").get("/api/dispatches?box=inbox").json()["items"]
    assert [x["id"] for x in inbox][:1] == [did] and inbox[0]["my_state"] == "delivered"
    sent = t.sender.get("/api/dispatches?box=sent").json()["items"]
    assert sent[0]["id"] == did and sent[0]["counts"]["total"] == 573


def test_read_sign_reply_return(t):
    did = t.big
    towns = sorted(u.id for u in t.units.values() if u.kind == "township")
    # t01's leader opens it first: read by the leader for the whole unit
    r = t.u("t01.leader").get("/api/dispatches/%d" % did)
    assert r.status_code == 200, r.text
    mine = r.json()["my_receipts"]
    assert len(mine) == 1 and mine[0]["state"] == "read" and mine[0]["read_by"]["id"] == t.uid["t01.leader"]
    assert mine[0]["may_act"] is False
    # the leader is no clerk: 403 (they may see it)
    error(t.u("t01.leader").post("/api/dispatches/%d/sign" % did), 403, "forbidden")
    # 10 townships sign; 6 of them reply
    for i, tid in enumerate(towns[:10]):
        c = clerk(t, tid)
        r = c.post("/api/dispatches/%d/sign" % did)
        assert r.status_code == 200, r.text
        error(c.post("/api/dispatches/%d/sign" % did), 409, "conflict")
        # the to-do is now to reply
        items = [x for x in todos(c) if x["key"].startswith("dispatch:%d:" % did)]
        assert len(items) == 1 and items[0]["kind"] == "reply"
    for tid in towns[:6]:
        c = clerk(t, tid)
        r = c.post("/api/dispatches/%d/reply" % did, {"answers": {
            "attending": True, "attendees": [{"name": "张三", "post": "镇长"}], "note": "准时参加"}})
        assert r.status_code == 200, r.text
        assert not [x for x in todos(c) if x["key"].startswith("dispatch:%d:" % did)]
        error(c.post("/api/dispatches/%d/reply" % did, {"answers": {"attending": False}}), 409, "conflict")
    # a village replies without signing first: reply implies sign
    v = next(u.id for u in t.units.values() if u.kind == "village" and u.parent == towns[20])
    r = clerk(t, v).post("/api/dispatches/%d/reply" % did, {"answers": {"attending": False}})
    assert r.status_code == 200, r.text
    t.replied_village = v
    # a department (copy: no reply owed) signs; reply -> 409
    d05 = t.by_code["d05"]
    assert clerk(t, d05).post("/api/dispatches/%d/sign" % did).status_code == 200
    error(clerk(t, d05).post("/api/dispatches/%d/reply" % did, {"answers": {"attending": True}}), 409)
    # d06 returns it
    d06 = t.by_code["d06"]
    error(clerk(t, d06).post("/api/dispatches/%d/return" % did, {}), 400, "invalid", "reason")
    error(clerk(t, d06).post("/api/dispatches/%d/return" % did, {"reason": ""}), 400, "invalid", "reason")
    r = clerk(t, d06).post("/api/dispatches/%d/return" % did, {"reason": "非本单位职责，请转县应急管理局"})
    assert r.status_code == 200, r.text
    error(clerk(t, d06).post("/api/dispatches/%d/sign" % did), 409, "conflict")
    assert not [x for x in todos(clerk(t, d06)) if x["key"].startswith("dispatch:%d:" % did)]
    # the sender hears of the return
    n = t.sender.get("/api/notifications?limit=3").json()["items"]
    assert any(x["title"].startswith("退回") and "非本单位职责" in x["body"] for x in n)
    t.towns = towns


def test_reply_must_match_the_form(t):
    did, c = t.big, clerk(t, t.towns[15])
    before = q1(t.srv, "SELECT count(*) FROM core_audit WHERE action = 'dispatches.reply'")
    for answers, why in (({}, "required"), ({"attending": "yes"}, "attending"), ({"attending": True, "x": 1}, "x"),
                         ({"attending": True, "attendees": [{"name": "a", "rank": "b"}]}, "attendees"),
                         ({"attending": True, "attendees": [{"name": str(i)} for i in range(6)]}, "attendees"),
                         ({"attending": True, "note": "长" * 51}, "note")):
        err = error(c.post("/api/dispatches/%d/reply" % did, {"answers": answers}), 400, "invalid", "answers")
        assert why in err["message"], err
    error(c.post("/api/dispatches/%d/reply" % did, {"answers": [1]}), 400, "invalid", "answers")
    error(c.post("/api/dispatches/%d/reply" % did, {"answers": {"attending": True}, "extra": 1}), 400, "invalid")
    error(c.post("/api/dispatches/%d/reply" % did, raw=b"{not json"), 400)
    error(c.post("/api/dispatches/%d/sign" % did, {"unit_id": "x"}), 400, "invalid", "unit_id")
    error(c.post("/api/dispatches/999999/sign"), 404, "not_found")
    error(c.get("/api/dispatches/999999"), 404, "not_found")
    assert q1(t.srv, "SELECT count(*) FROM core_audit WHERE action = 'dispatches.reply'") == before
    assert q1(t.srv, "SELECT state FROM core_dispatch_receipts WHERE dispatch_id = ? AND unit_id = ?",
              did, t.towns[15]) == "delivered"


def test_forward_to_villages(t):
    did, town = t.big, t.towns[0]
    c = clerk(t, town)
    villages = sorted(u.id for u in t.units.values() if u.parent == town)
    assert len(villages) >= 15
    other = next(u.id for u in t.units.values() if u.parent == t.towns[1])
    n_before = q1(t.srv, "SELECT count(*) FROM core_dispatches")
    # outside the subtree, itself, unknown, bad types: 400 and nothing written
    for ids in ([other], [town], [villages[0], other], [99999999]):
        error(c.post("/api/dispatches/%d/forward" % did, {"unit_ids": ids}), 400, "invalid", "unit_ids")
    error(c.post("/api/dispatches/%d/forward" % did, {"unit_ids": "x"}), 400, "invalid", "unit_ids")
    error(c.post("/api/dispatches/%d/forward" % did, {}), 400, "invalid", "unit_ids")
    # a clerk who has not signed yet: 409
    c2 = clerk(t, t.towns[12])
    error(c2.post("/api/dispatches/%d/forward" % did,
                  {"unit_ids": [u.id for u in t.units.values() if u.parent == t.towns[12]][:1]}), 409, "conflict")
    # someone who is not a clerk of the recipient: 403 / 404
    error(t.u("t01.leader").post("/api/dispatches/%d/forward" % did, {"unit_ids": villages}), 403)
    assert q1(t.srv, "SELECT count(*) FROM core_dispatches") == n_before
    r = c.post("/api/dispatches/%d/forward" % did, {"unit_ids": villages, "title": "转发：关于召开全县安全生产工作会议的通知"})
    assert r.status_code == 201, r.text
    child = t.child = r.json()["id"]
    assert r.json()["parent_id"] == did
    # the villages of t01 see and sign the child; the child is in their inbox
    for v in villages[:10]:
        cv = clerk(t, v)
        inbox = cv.get("/api/dispatches?box=inbox&state=delivered").json()["items"]
        assert child in [x["id"] for x in inbox]
        assert cv.post("/api/dispatches/%d/sign" % child).status_code == 200
    for v in villages[10:12]:
        assert clerk(t, v).post("/api/dispatches/%d/reply" % child, {"answers": {"attending": True}}).status_code == 200
    t.villages = villages
    # the township sees its child's board, not the original's
    b = board(t, child, c)
    assert b["counts"]["total"] == len(villages) and b["counts"]["signed"] == 10 and b["counts"]["replied"] == 2
    assert b["parent_id"] == did and b["sender_unit"]["id"] == town
    error(c.get("/api/dispatches/%d/board" % did), 403)


def test_board_exact_with_tree(t):
    did = t.big
    b = board(t, did)
    c = b["counts"]
    # read: t01 (by its leader) ; signed: 4 townships (signed, not replied) + d05 + t01 (signed, forwarded, not replied)
    # replied: 6 townships + 1 village ; returned: d06
    assert c["total"] == 573
    assert c["replied"] == 7
    assert c["returned"] == 1
    assert c["signed"] == 4 + 1   # towns[6:10] and d05 (t01 is among towns[:10])
    assert c["read"] == 0         # t01 was signed after its leader read it
    assert c["delivered"] == 573 - 7 - 1 - 5
    assert c["signed_or_replied"] == 12
    assert c["missing"] == 573 - 1 - 7 - 1     # neither returned nor complete (signed townships still owe replies)
    assert len(b["missing"]) == c["missing"] and len(b["receipts"]) == 573
    assert b["full_receipt_at"] is None and b["time_to_full_receipt_ms"] is None
    t01 = next(x for x in b["receipts"] if x["unit"]["id"] == t.towns[0])
    assert t01["read_by"]["id"] == t.uid["t01.leader"] and t01["signed_by"]["id"] == t.uid["t01.clerk"]
    assert t01["forwarded_at"] is not None
    ret = next(x for x in b["receipts"] if x["state"] == "returned")
    assert ret["unit"]["id"] == t.by_code["d06"] and ret["return_reason"].startswith("非本单位职责")
    rep = next(x for x in b["receipts"] if x["unit"]["id"] == t.replied_village)
    assert rep["reply"] == {"attending": False} and rep["signed_at"] and rep["replied_by"]["id"]
    # the tree of receipts: the child of t01 with its own counts
    assert [k["id"] for k in b["children"]] == [t.child]
    k = b["children"][0]
    assert k["counts"]["signed"] == 10 and k["counts"]["replied"] == 2 and k["counts"]["total"] == len(t.villages)
    # the database agrees
    assert q1(t.srv, "SELECT count(*) FROM core_dispatch_receipts WHERE dispatch_id = ? AND state = 'delivered'",
              did) == c["delivered"]


def test_outsider_gets_404(t):
    a, b = t.towns[2], t.towns[3]
    r = send(t, [{"unit_id": a}, {"unit_id": b}], title="仅发两镇")
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    for who in (clerk(t, t.towns[4]), t.u(t.code[t.towns[4]] + ".leader"),
                clerk(t, next(u.id for u in t.units.values() if u.parent == a))):   # even a village below a
        for method, path, body in (("GET", "", None), ("POST", "/sign", None), ("GET", "/board", None),
                                   ("POST", "/return", {"reason": "x"}), ("POST", "/withdraw", None),
                                   ("POST", "/reply", {"answers": {}}), ("POST", "/forward", {"unit_ids": [a]})):
            r = who.call(method, "/api/dispatches/%d%s" % (did, path), body)
            assert r.status_code == 404, (path, r.status_code, r.text)
        assert did not in [x["id"] for x in who.get("/api/dispatches?box=inbox").json()["items"]]
        assert did not in [x["id"] for x in who.get("/api/dispatches?box=sent").json()["items"]]
    assert q1(t.srv, "SELECT count(*) FROM core_dispatch_receipts WHERE dispatch_id = ? AND state <> 'delivered'",
              did) == 0
    # the refusals are audited as denied
    assert q1(t.srv, "SELECT count(*) FROM core_audit WHERE target = ? AND result = 'denied'", "dispatch:%d" % did) >= 3
    # a recipient's plain staff may see it but not its board
    error(t.u(t.code[a] + ".leader").get("/api/dispatches/%d/board" % did), 403)
    # withdraw by the sender: receipts closed, to-dos resolved; then 409
    assert t.sender.post("/api/dispatches/%d/withdraw" % did).status_code == 200
    error(t.sender.post("/api/dispatches/%d/withdraw" % did), 409)
    error(clerk(t, a).post("/api/dispatches/%d/sign" % did), 409)
    assert q1(t.srv, "SELECT count(*) FROM core_todos WHERE key LIKE ? AND resolved_at IS NULL",
              "dispatch:%d:%%" % did) == 0
    assert board(t, did)["counts"]["withdrawn"] == 2


def test_bad_create_writes_nothing(t):
    n = q1(t.srv, "SELECT count(*) FROM core_dispatches")
    u = t.towns[0]
    for body, field in (({"recipients": []}, "recipients"), ({"recipients": [{"unit_id": 99999999}]}, "recipients"),
                        ({"recipients": [{"unit_id": u}, {"unit_id": u}]}, "recipients"),
                        ({"recipients": [{"unit_id": u}], "urgency": "asap"}, "urgency"),
                        ({"recipients": [{"unit_id": u}], "reply_form": {"fields": [{"name": "A"}]}}, "reply_form"),
                        ({"recipients": [{"unit_id": u}], "ladder": [{"offset_ms": 1, "action": "shout"}]}, "ladder"),
                        ({"recipients": [{"unit_id": u}],
                          "ladder": [{"offset_ms": 1, "action": "remind", "before_deadline": True}]}, "ladder"),
                        ({"recipients": [{"unit_id": u}], "ladder": [{"offset_ms": 1, "action": "channel",
                                                                        "channel": "nosuch"}]}, "ladder"),
                        ({"recipients": [{"unit_id": u}], "title": ""}, "title")):
        error(send(t, **body), 400, "invalid", field)
    assert q1(t.srv, "SELECT count(*) FROM core_dispatches") == n
    # the test route is the admin's (test.clock)
    error(clerk(t, u).post("/api/test/dispatches", {"recipients": []}), 403)


# ---------------------------------------------------------------- live events

def test_sender_stream_gets_receipt_events(t):
    towns = t.towns
    r = send(t, [{"unit_id": towns[5]}, {"unit_id": towns[6]}], title="直播测试")
    did = r.json()["id"]
    s = Sse(t.srv, t.sender.token)
    try:
        assert s.status == 200
        s.frames(timeout=0.5)   # whatever was queued before
        assert clerk(t, towns[5]).post("/api/dispatches/%d/sign" % did).status_code == 200
        got = [f for f in s.frames(timeout=5, count=1) if f.get("event") == "core.dispatch.receipt"]
        assert got, "no receipt event"
        d = got[0]["data"]["data"] if "data" in got[0]["data"] else got[0]["data"]
        assert d["dispatch_id"] == did and d["unit_id"] == towns[5] and d["state"] == "signed"
        assert d["action"] == "sign" and d["counts"]["signed"] == 1 and d["counts"]["total"] == 2
    finally:
        s.close()


# ---------------------------------------------------------------- concurrency

def test_573_concurrent_signs(t):
    r = send(t, [{"unit_id": u} for u in t.units], title="并发签收", reply_form=None)
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    clients = [clerk(t, u) for u in t.units]   # sign in first

    def sign(c):
        return c.post("/api/dispatches/%d/sign" % did).status_code

    with ThreadPoolExecutor(64) as ex:
        codes = list(ex.map(sign, clients))
    assert codes.count(200) == 573, {c: codes.count(c) for c in set(codes)}
    with ThreadPoolExecutor(64) as ex:
        again = list(ex.map(sign, clients[:50]))
    assert again == [409] * 50
    b = board(t, did)
    assert b["counts"]["signed"] == 573 and b["counts"]["delivered"] == 0 and b["counts"]["missing"] == 0
    assert b["time_to_full_receipt_ms"] is not None and b["full_receipt_at"]
    assert q1(t.srv, "SELECT count(*) FROM core_audit WHERE action = 'dispatches.sign' AND target = ?",
              "dispatch:%d" % did) == 573
    assert q1(t.srv, "SELECT count(DISTINCT signed_by) FROM core_dispatch_receipts WHERE dispatch_id = ?", did) == 573


# ---------------------------------------------------------------- escalation

def clock(t, seconds):
    r = t.admin.post("/api/test/clock", {"advance": seconds})
    assert r.status_code == 200, r.text


def reminders(t, username, did, severity):
    return q1(t.srv, "SELECT count(*) FROM core_notifications WHERE user_id = ? AND type = 'notification' "
                     "AND severity = ? AND link = '#/test/1' AND title LIKE '催办%' AND created_at >= "
                     "(SELECT sent_at FROM core_dispatches WHERE id = ?)", t.uid[username], severity, did)


def test_escalation_ladder_fires_once_at_its_times(t):
    a, b = t.towns[7], t.towns[8]   # a signs at once; b never does
    ladder = [{"offset_ms": 10 * 60000, "action": "remind"},
              {"offset_ms": 20 * 60000, "action": "channel", "channel": "sms"},
              {"offset_ms": 30 * 60000, "action": "call", "before_deadline": True}]
    r = send(t, [{"unit_id": a}, {"unit_id": b}], title="催办测试", deadline_in=2 * 3600, ladder=ladder)
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    assert clerk(t, a).post("/api/dispatches/%d/sign" % did).status_code == 200
    ca, cb = t.code[a] + ".clerk", t.code[b] + ".clerk"
    clock(t, 9 * 60)
    assert reminders(t, cb, did, "reminder") == 0
    clock(t, 2 * 60)                                    # 11 min: the in-app reminder
    assert reminders(t, cb, did, "reminder") == 1
    assert reminders(t, ca, did, "reminder") == 0       # signed: nothing
    assert reminders(t, cb, did, "urgent") == 0
    clock(t, 5 * 60)
    assert reminders(t, cb, did, "reminder") == 1       # once
    clock(t, 5 * 60)                                    # 21 min: the channel (sms, a log channel here)
    assert reminders(t, cb, did, "urgent") == 1
    assert q1(t.srv, "SELECT count(*) FROM core_notify_outbox o JOIN core_notifications n ON n.id = o.notification_id "
                     "WHERE n.user_id = ? AND o.channel = 'sms' AND n.title LIKE '催办%'", t.uid[cb]) == 1
    duty = t.u("d02.clerk")
    calls = lambda: [x for x in todos(duty) if x["kind"] == "call" and x["key"].startswith("dispatch:%d:" % did)]
    assert calls() == []
    clock(t, 60 * 60)                                   # 81 min: not yet (the call is 30 min before 120)
    assert calls() == []
    clock(t, 10 * 60)                                   # 91 min: the duty officer's phone call
    got = calls()
    assert len(got) == 1 and got[0]["title"].startswith("电话催办：") and t.units[b].name in got[0]["title"]
    clock(t, 3600)
    assert len(calls()) == 1
    assert reminders(t, cb, did, "reminder") == 1 and reminders(t, cb, did, "urgent") == 1
    rows = q(t.srv, "SELECT r.unit_id, x.idx, x.action FROM core_dispatch_escalations x JOIN core_dispatch_receipts r "
                    "ON r.id = x.receipt_id WHERE r.dispatch_id = ? ORDER BY x.idx", did)
    assert rows == [(b, 0, "remind"), (b, 1, "channel"), (b, 2, "call")]
    # b signs at last: the call to-do is resolved; the board marks b late
    assert clerk(t, b).post("/api/dispatches/%d/sign" % did).status_code == 200
    assert calls() == []
    bd = board(t, did)
    assert [x["unit"]["id"] for x in bd["late"]] == [b] and bd["counts"]["late"] == 1
    assert next(x for x in bd["receipts"] if x["unit"]["id"] == b)["escalations"] == 3
