"""The meetings plugin (会议通知, plugins/meetings): notices validated and stored as drafts,
sent through the dispatch engine to units and persons, signed and replied through the core
routes /api/dispatches/:id/..., the board with exact attending counts (also under
concurrent replies), the reminder ladder and the deadline warning under the test clock,
change and cancel re-sent (the old dispatch withdrawn, the new one signed again), the
rotating check-in code (an expired code refused, an uninvited unit refused), minutes whose
decisions become tracked items, room clashes, statistics, and bad input writing nothing."""
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

import test_plugins as tp
from directory_helpers import error
from sse_helpers import Sse

# long sessions: the test clock moves days ahead
CONF = ('plugin_paths = { "%s" }\nplugins = { "meetings" }\n' % tp.BUILT
        + 'auth = { argon2 = { memory = "1MiB", iterations = 1 }, idle_timeout = "7d", absolute_timeout = "30d",\n'
        '         rate_limit = { per_ip = 100000, per_account = 100000 } }\n'
        'notify = { channels = { sms = { type = "log", min_severity = "urgent" } } }\n')
NTOWNS = 24


@pytest.fixture(scope="module")
def m():
    with tempfile.TemporaryDirectory(prefix="yimen-meetings-") as tmp:
        s = tp.new_server(tmp, CONF).start()
        try:
            admin = tp.admin_api(s)
            t = SimpleNamespace(s=s, admin=admin)
            t.O = tp.make_unit(admin, "department", "县政府办公室")
            t.X = tp.make_unit(admin, "township", "未邀请镇")
            t.towns = [tp.make_unit(admin, "township", "第%d镇" % i) for i in range(NTOWNS)]
            tp.make_role(admin, "mt_org", ["meetings.read", "meetings.send", "meetings.manage"])
            tp.make_role(admin, "mt_recv", ["meetings.read", "meetings.receive", "meetings.handle"])
            t.org = tp.person(s, admin, t.O, [("mt_org", t.O, False)])
            t.duty = tp.person(s, admin, t.O, [("duty_officer", t.O, False)])
            t.clerks = {u: tp.person(s, admin, u, [("mt_recv", u, False)]) for u in t.towns}
            t.staff = tp.person(s, admin, t.towns[0])                  # a plain user of an invited unit
            t.outsider = tp.person(s, admin, t.X, [("mt_recv", t.X, False)])
            t.person = tp.person(s, admin, t.X)                        # invited as a person
            t.xstaff = tp.person(s, admin, t.X)                        # a plain user of an uninvited unit
            # a township's contact whose own unit is elsewhere: meetings.receive on the township only
            tp.make_role(admin, "mt_contact", ["meetings.receive"])
            t.contact = tp.person(s, admin, t.X, [("mt_contact", t.towns[17], False)])
            yield t
        finally:
            tp.stop_clean(s)


# ---------------------------------------------------------------- helpers

def server_now(t):
    r = t.admin.post("/api/test/clock", {"advance": 0})
    assert r.status_code == 200, r.text
    return datetime.fromisoformat(r.json()["now"])


def clock(t, seconds):
    r = t.admin.post("/api/test/clock", {"advance": seconds})
    assert r.status_code == 200, r.text


def iso(dt):
    return dt.isoformat(timespec="seconds")


def create(t, **kw):
    now = server_now(t)
    body = {"title": "全县安全生产工作会议", "start_at": iso(now + timedelta(days=1)), "duration_min": 90,
            "place": "县政府三楼会议室", "content": "传达上级会议精神", "attendance": "主要负责人",
            "materials": "本单位安全生产情况汇报", "sms": True}
    body.update(kw)
    r = t.org.post("/api/meetings", body)
    assert r.status_code == 201, r.text
    return r.json()


def send(t, mid, units, users=None):
    body = {"unit_ids": units}
    if users:
        body["user_ids"] = users
    r = t.org.post("/api/meetings/%d/send" % mid, body)
    assert r.status_code == 200, r.text
    return r.json()


def board(t, mid):
    r = t.org.get("/api/meetings/%d/board" % mid)
    assert r.status_code == 200, r.text
    return r.json()


def count(t, sql, *args):
    return tp.db_rows(t.s, sql, *args)[0][0]


def n_meetings(t):
    return count(t, "SELECT count(*) FROM meetings_meetings")


# ---------------------------------------------------------------- the notice

def test_create_read_update_delete(m):
    mt = create(m, title="春耕生产调度会")
    assert mt["state"] == "draft" and mt["number"].startswith("HY") and mt["type"] == "meeting"
    assert mt["organiser_unit"]["id"] == m.O and mt["convener"]["id"] == m.org.id
    assert tp.TIME_RE.match(mt["start_at"]) and mt["duration_min"] == 90
    assert mt["sms_text"].endswith("在县政府三楼会议室开会，议题：春耕生产调度会"), mt["sms_text"]
    assert "月" in mt["sms_text"] and "日" in mt["sms_text"]
    r = m.org.patch("/api/meetings/%d" % mt["id"], {"place": "县委党校报告厅"})
    assert r.status_code == 200 and r.json()["place"] == "县委党校报告厅", r.text
    assert "县委党校报告厅开会" in r.json()["sms_text"]
    assert m.org.get("/api/meetings/%d" % mt["id"]).json()["title"] == "春耕生产调度会"
    items = m.org.get("/api/meetings").json()["items"]
    assert mt["id"] in [x["id"] for x in items]
    # a draft is not visible to anybody outside the organising unit
    error(m.clerks[m.towns[0]].get("/api/meetings/%d" % mt["id"]), 404)
    assert m.org.delete("/api/meetings/%d" % mt["id"]).status_code == 204
    error(m.org.get("/api/meetings/%d" % mt["id"]), 404)
    acts = [a for (a,) in tp.db_rows(m.s, "SELECT action FROM core_audit WHERE target = ?",
                                     "meetings_meetings:%d" % mt["id"])]
    assert acts == ["meetings.create", "meetings.update", "meetings.delete"], acts


@pytest.mark.parametrize("body,field", [
    ({"title": ""}, "title"),
    ({"title": 5}, "title"),
    ({"type": "party"}, "type"),
    ({"start_at": "tomorrow"}, "start_at"),
    ({"start_at": "2026-12-01T09:00:00"}, "start_at"),          # no offset
    ({"duration_min": 0}, "duration_min"),
    ({"duration_min": "60"}, "duration_min"),
    ({"organiser_unit": 99999999}, "organiser_unit"),
    ({"convener_user": 99999999}, "convener_user"),
    ({"room_id": 99999999}, "room_id"),
    ({"sms": "yes"}, "sms"),
    ({"colour": "red"}, "colour"),
    ({"place": ""}, "place"),
])
def test_create_invalid(m, body, field):
    before = n_meetings(m)
    now = server_now(m)
    full = {"title": "无效会议", "start_at": iso(now + timedelta(days=1)), "place": "会议室"}
    full.update(body)
    error(m.org.post("/api/meetings", full), 400, "invalid", field)
    assert n_meetings(m) == before


def test_bad_bodies_and_unknown_ids(m):
    before = n_meetings(m)
    error(m.org.post("/api/meetings", raw=b"{"), 400, "bad_json")
    error(m.org.post("/api/meetings", raw=b"[1]"), 400, "invalid")
    error(m.org.post("/api/meetings", raw=b"{}", ctype="text/plain"), 415)
    error(m.org.post("/api/meetings", {"start_at": iso(server_now(m))}), 400, "invalid", "title")
    error(m.org.get("/api/meetings/99999999"), 404, "not_found")
    error(m.org.get("/api/meetings/abc"), 404)
    error(m.org.post("/api/meetings/99999999/send", {"unit_ids": [m.towns[0]]}), 404)
    error(m.org.post("/api/meetings/99999999/cancel", {"reason": "x"}), 404)
    error(m.org.get("/api/meetings/99999999/board"), 404)
    # the recipients' role may not organise
    error(m.clerks[m.towns[0]].post("/api/meetings", {"title": "x", "start_at": iso(server_now(m)), "place": "x"}), 403)
    # nor for a unit where the organiser holds nothing
    error(m.org.post("/api/meetings", {"title": "x", "start_at": iso(server_now(m)), "place": "x",
                                       "organiser_unit": m.X}), 403)
    assert n_meetings(m) == before


# ---------------------------------------------------------------- send, sign, reply, board

def test_send_sign_reply_board(m):
    a, b, c = m.towns[:3]
    mt = create(m, title="防汛工作部署会")
    sent = send(m, mt["id"], [a, b, c], [m.person.id])
    did = sent["dispatch_id"]
    assert sent["state"] == "sent" and did and sent["reply_deadline"] == sent["start_at"]
    d = m.clerks[a].get("/api/dispatches/%d" % did).json()
    assert d["source"] == "meetings" and d["record"] == "meetings_meetings:%d" % mt["id"]
    names = [f["name"] for f in d["reply_form"]["fields"]]
    assert names == ["attending", "attendees", "leave_reason"]
    # the recipients see the meeting; an uninvited unit does not
    assert m.clerks[a].get("/api/meetings/%d" % mt["id"]).status_code == 200
    error(m.outsider.get("/api/meetings/%d" % mt["id"]), 404)
    error(m.outsider.get("/api/dispatches/%d" % did), 404)
    error(m.outsider.post("/api/dispatches/%d/sign" % did), 404)
    error(m.outsider.post("/api/dispatches/%d/reply" % did, {"answers": {"attending": True}}), 404)
    # a signs then replies with two attendees; b replies (signing too) that it cannot come; c nothing
    assert m.clerks[a].post("/api/dispatches/%d/sign" % did).status_code == 200
    r = m.clerks[a].post("/api/dispatches/%d/reply" % did, {"answers": {"attending": True, "attendees": [
        {"name": "张敏", "post": "镇长", "phone": "13800000001"}, {"name": "李强", "post": "安监站长"}]}})
    assert r.status_code == 200, r.text
    r = m.clerks[b].post("/api/dispatches/%d/reply" % did,
                         {"answers": {"attending": False, "leave_reason": "抗旱一线"}})
    assert r.status_code == 200, r.text
    # a reply that does not fit the form
    error(m.clerks[c].post("/api/dispatches/%d/reply" % did, {"answers": {"attending": "yes"}}), 400, "invalid")
    # the person recipient signs
    assert m.person.post("/api/dispatches/%d/sign" % did).status_code == 200
    bd = board(m, mt["id"])
    assert bd["id"] == did and bd["meeting"]["id"] == mt["id"]
    assert bd["counts"]["total"] == 4 and bd["counts"]["replied"] == 2 and bd["counts"]["signed"] == 1
    att = bd["attendance"]
    assert att["attending_units"] == 1 and att["absent_units"] == 1 and att["attendees"] == 2
    assert sorted(x["name"] for x in att["names"]) == ["张敏", "李强"]
    assert att["leave"][0]["leave_reason"] == "抗旱一线"
    assert {x["unit"]["id"] if x["unit"] else x["user"]["id"] for x in bd["missing"]} == {c, m.person.id}
    # the board is the organiser's
    error(m.clerks[a].get("/api/meetings/%d/board" % mt["id"]), 403)
    # sending twice is a conflict
    error(m.org.post("/api/meetings/%d/send" % mt["id"], {"unit_ids": [a]}), 409)
    # the event
    ev = tp.db_rows(m.s, "SELECT count(*) FROM core_audit WHERE action = 'meetings.send' AND target = ?",
                    "meetings_meetings:%d" % mt["id"])
    assert ev == [(1,)]


def test_send_errors_write_nothing(m):
    mt = create(m, title="错误分发")
    for body, field in (({"unit_ids": "A"}, "unit_ids"), ({"unit_ids": []}, "unit_ids"),
                        ({"unit_ids": [m.towns[0]], "colour": 1}, "colour"), ({"user_ids": [0]}, "user_ids")):
        error(m.org.post("/api/meetings/%d/send" % mt["id"], body), 400, "invalid", field)
    error(m.org.post("/api/meetings/%d/send" % mt["id"], {"unit_ids": [99999999]}), 400, "invalid")
    error(m.org.post("/api/meetings/%d/send" % mt["id"], raw=b"{"), 400, "bad_json")
    error(m.clerks[m.towns[0]].post("/api/meetings/%d/send" % mt["id"], {"unit_ids": [m.towns[0]]}), 403)
    assert m.org.get("/api/meetings/%d" % mt["id"]).json()["state"] == "draft"
    assert count(m, "SELECT count(*) FROM meetings_recipients WHERE meeting_id = ?", mt["id"]) == 0
    assert count(m, "SELECT count(*) FROM core_dispatches WHERE record = ?", "meetings_meetings:%d" % mt["id"]) == 0


def test_concurrent_replies_exact_counts(m):
    mt = create(m, title="并发回执")
    did = send(m, mt["id"], m.towns)["dispatch_id"]

    def reply(i_unit):
        i, u = i_unit
        answers = ({"attending": True, "attendees": [{"name": "参会%d-%d" % (i, k), "post": "干部"}
                                                     for k in range(i % 3 + 1)]}
                   if i % 4 else {"attending": False, "leave_reason": "请假%d" % i})
        return m.clerks[u].post("/api/dispatches/%d/reply" % did, {"answers": answers}).status_code

    with ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(reply, enumerate(m.towns)))
    assert codes == [200] * NTOWNS
    with ThreadPoolExecutor(8) as ex:
        again = list(ex.map(reply, list(enumerate(m.towns))[:8]))
    assert again == [409] * 8
    bd = board(m, mt["id"])
    attending = [i for i in range(NTOWNS) if i % 4]
    assert bd["counts"]["replied"] == NTOWNS and bd["counts"]["missing"] == 0
    assert bd["attendance"]["attending_units"] == len(attending)
    assert bd["attendance"]["absent_units"] == NTOWNS - len(attending)
    assert bd["attendance"]["attendees"] == sum(i % 3 + 1 for i in attending)
    assert len(bd["attendance"]["names"]) == bd["attendance"]["attendees"]
    assert bd["time_to_full_reply_ms"] is not None
    st = m.org.get("/api/meetings/%d/stats" % mt["id"]).json()
    assert st["recipients"] == NTOWNS and st["sign_rate"] == 1.0 and st["reply_rate"] == 1.0
    assert st["attending_units"] == len(attending) and st["checked_in"] == 0


# ---------------------------------------------------------------- reminders

def reminders(t, user, did, severity):
    return count(t, "SELECT count(*) FROM core_notifications WHERE user_id = ? AND severity = ? AND title LIKE '催办%' "
                    "AND link = (SELECT link FROM core_dispatches WHERE id = ?)", user.id, severity, did)


def test_reminder_ladder_and_deadline_warning(m):
    a, b = m.towns[3], m.towns[4]
    now = server_now(m)
    mt = create(m, title="催办测试会", start_at=iso(now + timedelta(days=1)),
                reply_deadline=iso(now + timedelta(hours=3)))
    did = send(m, mt["id"], [a, b])["dispatch_id"]
    assert m.clerks[a].post("/api/dispatches/%d/reply" % did, {"answers": {"attending": True}}).status_code == 200
    ca, cb = m.clerks[a], m.clerks[b]
    steps = count(m, "SELECT count(*) FROM core_dispatch_escalations x JOIN core_dispatch_receipts r "
                     "ON r.id = x.receipt_id WHERE r.dispatch_id = ?", did)
    assert steps == 0
    clock(m, 55 * 60)
    assert reminders(m, cb, did, "reminder") == 0
    clock(m, 6 * 60)                                   # 61 min: the in-app reminder
    assert reminders(m, cb, did, "reminder") == 1 and reminders(m, ca, did, "reminder") == 0
    assert reminders(m, cb, did, "urgent") == 0
    clock(m, 60 * 60)                                  # 121 min: through the channel (SMS)
    assert reminders(m, cb, did, "urgent") == 1
    assert count(m, "SELECT count(*) FROM core_notify_outbox o JOIN core_notifications n ON n.id = o.notification_id "
                    "WHERE n.user_id = ? AND o.channel = 'sms' AND n.title LIKE '催办%'", cb.id) >= 1

    def calls():
        items = m.duty.get("/api/me/todos").json()["items"]
        return [x for x in items if x["kind"] == "call" and x["key"].startswith("dispatch:%d:" % did)]

    def warned():
        return count(m, "SELECT count(*) FROM core_notifications WHERE user_id = ? AND severity = 'warning' "
                        "AND title = '回执截止：催办测试会'", m.org.id)

    assert calls() == [] and warned() == 0
    clock(m, 50 * 60)                                  # 171 min: not yet
    assert calls() == [] and warned() == 0
    clock(m, 10 * 60)                                  # 181 min: the call to-do, the warning to the convener
    got = calls()
    assert len(got) == 1 and got[0]["title"].startswith("电话催办")
    assert warned() == 1
    body = tp.db_rows(m.s, "SELECT body FROM core_notifications WHERE user_id = ? AND title = '回执截止：催办测试会'",
                      m.org.id)[0][0]
    assert "第4镇" in body and "第3镇" not in body and "1 个" in body
    clock(m, 3600)
    assert warned() == 1 and reminders(m, cb, did, "reminder") == 1 and len(calls()) == 1


def test_warning_type_fastest_ladder(m):
    a = m.towns[5]
    mt = create(m, title="台风紧急预警", type="warning", place="", start_at=iso(server_now(m)))
    did = send(m, mt["id"], [a, m.towns[6]])["dispatch_id"]
    d = m.clerks[a].get("/api/dispatches/%d" % did).json()
    assert d["urgency"] == "very_urgent" and d["reply_form"] is None and d["title"].startswith("【预警】")
    assert m.clerks[a].post("/api/dispatches/%d/sign" % did).status_code == 200
    bd = board(m, mt["id"])
    assert bd["receipts"][0]["unit"]["id"] == m.towns[6]         # who has not acknowledged first
    cb = m.clerks[m.towns[6]]
    clock(m, 4 * 60)
    assert reminders(m, cb, did, "reminder") == 0
    clock(m, 2 * 60)                                              # 6 min
    assert reminders(m, cb, did, "reminder") == 1
    clock(m, 5 * 60)                                              # 11 min
    assert reminders(m, cb, did, "urgent") == 1
    clock(m, 5 * 60)                                              # 16 min: the duty officer's call
    rows = tp.db_rows(m.s, "SELECT x.action FROM core_dispatch_escalations x JOIN core_dispatch_receipts r "
                           "ON r.id = x.receipt_id WHERE r.dispatch_id = ? ORDER BY x.idx", did)
    assert rows == [("remind",), ("channel",), ("call",)]


# ---------------------------------------------------------------- change and cancel

def test_change_and_cancel_resend(m):
    a, b = m.towns[7], m.towns[8]
    mt = create(m, title="变更测试会")
    old = send(m, mt["id"], [a, b])["dispatch_id"]
    assert m.clerks[a].post("/api/dispatches/%d/sign" % old).status_code == 200
    later = iso(server_now(m) + timedelta(days=2))
    r = m.org.post("/api/meetings/%d/change" % mt["id"], {"start_at": later, "place": "县会议中心", "note": "改期"})
    assert r.status_code == 200, r.text
    ch = r.json()
    assert ch["state"] == "changed" and ch["dispatch_id"] != old and ch["change_note"] == "改期"
    assert "县会议中心" in ch["sms_text"]
    assert m.org.get("/api/dispatches/%d" % old).json()["state"] == "withdrawn"
    new = ch["dispatch_id"]
    d = m.clerks[a].get("/api/dispatches/%d" % new).json()
    assert d["title"].startswith("【变更】") and d["my_receipts"][0]["state"] == "read"
    bd = board(m, mt["id"])
    assert bd["id"] == new and bd["counts"]["signed_or_replied"] == 0 and bd["counts"]["total"] == 2
    assert m.clerks[a].post("/api/dispatches/%d/sign" % new).status_code == 200   # signed again
    error(m.clerks[a].post("/api/dispatches/%d/sign" % old), 409)                  # the old one is gone
    # cancel: withdrawn again, a 【取消】 dispatch to sign, no reply form
    error(m.org.post("/api/meetings/%d/cancel" % mt["id"], {}), 400, "invalid", "reason")
    r = m.org.post("/api/meetings/%d/cancel" % mt["id"], {"reason": "上级会议冲突"})
    assert r.status_code == 200, r.text
    cc = r.json()
    assert cc["state"] == "cancelled" and cc["cancel_reason"] == "上级会议冲突" and cc["dispatch_id"] != new
    assert m.org.get("/api/dispatches/%d" % new).json()["state"] == "withdrawn"
    d = m.clerks[b].get("/api/dispatches/%d" % cc["dispatch_id"]).json()
    assert d["title"].startswith("【取消】") and d["reply_form"] is None
    assert m.clerks[b].post("/api/dispatches/%d/sign" % cc["dispatch_id"]).status_code == 200
    kinds = tp.db_rows(m.s, "SELECT kind FROM meetings_dispatches WHERE meeting_id = ? ORDER BY dispatch_id", mt["id"])
    assert kinds == [("send",), ("change",), ("cancel",)]
    events = [json.loads(p) for (p,) in tp.db_rows(m.s, "SELECT payload FROM core_events WHERE name = 'meetings.sent' "
                                                       "ORDER BY id")]
    mine = [(e["kind"], e["dispatch_id"], e["units"]) for e in events if e["meeting_id"] == mt["id"]]
    assert mine == [("send", old, 2), ("change", new, 2), ("cancel", cc["dispatch_id"], 2)], mine
    error(m.org.post("/api/meetings/%d/change" % mt["id"], {"place": "x"}), 409)
    error(m.org.post("/api/meetings/%d/cancel" % mt["id"], {"reason": "again"}), 409)


# ---------------------------------------------------------------- check-in

def test_checkin_rotating_code(m):
    a = m.towns[0]                  # m.staff works there too
    mt = create(m, title="签到测试会", start_at=iso(server_now(m) + timedelta(minutes=10)))
    error(m.org.get("/api/meetings/%d/checkin-code" % mt["id"]), 409)      # a draft
    send(m, mt["id"], [a])
    r = m.org.get("/api/meetings/%d/checkin-code" % mt["id"])
    assert r.status_code == 200, r.text
    c = r.json()
    assert len(c["code"]) == 6 and c["code"].isdigit() and c["svg"].lstrip().startswith(("<?xml", "<svg"))
    assert c["link"] == "#/p/meetings/checkin?m=%d&c=%s" % (mt["id"], c["code"])
    error(m.clerks[a].get("/api/meetings/%d/checkin-code" % mt["id"]), 403)
    # an invited unit's user checks in, on time; twice is a conflict
    r = m.clerks[a].post("/api/meetings/%d/checkin" % mt["id"], {"code": c["code"]})
    assert r.status_code == 201 and r.json()["late"] is False, r.text
    error(m.clerks[a].post("/api/meetings/%d/checkin" % mt["id"], {"code": c["code"]}), 409, "already_checked_in")
    # an uninvited unit: 404, whatever the code
    error(m.outsider.post("/api/meetings/%d/checkin" % mt["id"], {"code": c["code"]}), 404)
    error(m.clerks[m.towns[10]].post("/api/meetings/%d/checkin" % mt["id"], {"code": c["code"]}), 404)
    # bad codes
    error(m.staff.post("/api/meetings/%d/checkin" % mt["id"], {"code": "12ab"}), 400, "invalid", "code")
    # expired: 61 s later the code is refused; the new one is accepted, after start: late
    clock(m, 11 * 60)
    error(m.staff.post("/api/meetings/%d/checkin" % mt["id"], {"code": c["code"]}), 409, "code_expired")
    c2 = m.org.get("/api/meetings/%d/checkin-code" % mt["id"]).json()
    assert c2["code"] != c["code"] or c2["expires_at"] != c["expires_at"]
    clock(m, 30)                                                         # the previous window still counts
    r = m.staff.post("/api/meetings/%d/checkin" % mt["id"], {"code": c2["code"]})
    assert r.status_code == 201 and r.json()["late"] is True, r.text
    assert count(m, "SELECT count(*) FROM meetings_checkins WHERE meeting_id = ?", mt["id"]) == 2
    bd = board(m, mt["id"])
    assert bd["checkins"] == {"total": 2, "late": 1}
    st = m.org.get("/api/meetings/%d/stats" % mt["id"]).json()
    assert st["checked_in"] == 2 and st["late"] == 1 and st["on_time_rate"] == 0.5


def test_checkin_code_expires_after_61_seconds(m):
    a = m.towns[11]
    mt = create(m, title="过期签到码", start_at=iso(server_now(m) + timedelta(hours=1)))
    send(m, mt["id"], [a])
    code = m.org.get("/api/meetings/%d/checkin-code" % mt["id"]).json()["code"]
    clock(m, 61)
    error(m.clerks[a].post("/api/meetings/%d/checkin" % mt["id"], {"code": code}), 409, "code_expired")
    assert count(m, "SELECT count(*) FROM meetings_checkins WHERE meeting_id = ?", mt["id"]) == 0


# ---------------------------------------------------------------- minutes

def test_minutes_to_tracked_items(m):
    a, b = m.towns[12], m.towns[13]
    mt = create(m, title="纪要测试会")
    send(m, mt["id"], [a, b])
    body = {"text": "会议研究了防汛工作。", "decisions": [
        {"text": "城关片区排涝泵站检修", "lead_unit": a, "deadline": "2027-03-15"},
        {"text": "河道清障", "lead_unit": b, "deadline": "2027-04-30"}]}
    error(m.org.post("/api/meetings/%d/minutes" % mt["id"], body), 409)           # not finished yet
    assert m.org.post("/api/meetings/%d/start" % mt["id"]).json()["state"] == "in_progress"
    assert m.org.post("/api/meetings/%d/finish" % mt["id"]).json()["state"] == "finished"
    error(m.org.post("/api/meetings/%d/minutes" % mt["id"], {"text": "x", "decisions": [{"text": "y"}]}),
          400, "invalid", "decisions")
    error(m.org.post("/api/meetings/%d/minutes" % mt["id"],
                     {"text": "x", "decisions": [{"text": "y", "lead_unit": 99999999, "deadline": "2027-01-01"}]}),
          400, "invalid")
    assert count(m, "SELECT count(*) FROM core_items WHERE record = ?", "meetings_meetings:%d" % mt["id"]) == 0
    error(m.clerks[a].post("/api/meetings/%d/minutes" % mt["id"], body), 403)
    r = m.org.post("/api/meetings/%d/minutes" % mt["id"], body)
    assert r.status_code == 201, r.text
    mins = r.json()
    assert [d["lead_unit"] for d in mins["decisions"]] == [a, b]
    for d, want in zip(mins["decisions"], body["decisions"]):
        item = m.org.get("/api/items/%d" % d["item_id"]).json()
        assert item["source"] == "meetings" and item["source_kind"] == "minutes"
        assert item["record"] == "meetings_meetings:%d" % mt["id"] and item["title"] == want["text"]
        assert item["lead_unit"]["id"] == want["lead_unit"] and item["deadline"] == want["deadline"]
        assert item["supervisor_unit"]["id"] == m.O and item["state"] == "assigned"
    # the lead unit handles it through the core routes
    assert m.clerks[a].post("/api/items/%d/accept" % mins["decisions"][0]["item_id"]).status_code == 200
    error(m.org.post("/api/meetings/%d/minutes" % mt["id"], body), 409)            # once
    ev = [json.loads(p) for (p,) in tp.db_rows(m.s, "SELECT payload FROM core_events WHERE "
                                                   "name = 'meetings.minutes.published'")]
    ev = [e for e in ev if e["meeting_id"] == mt["id"]]
    assert len(ev) == 1 and ev[0]["decisions"] == mins["decisions"] and ev[0]["organiser_unit"] == m.O
    assert m.clerks[a].get("/api/meetings/%d/minutes" % mt["id"]).json()["text"] == "会议研究了防汛工作。"


# ---------------------------------------------------------------- rooms

def test_rooms_and_clash(m):
    r = m.org.post("/api/meetings/rooms", {"name": "三楼会议室", "capacity": 60})
    assert r.status_code == 201, r.text
    room = r.json()
    error(m.org.post("/api/meetings/rooms", {"name": "", "capacity": 60}), 400, "invalid", "name")
    error(m.org.post("/api/meetings/rooms", {"name": "x", "capacity": 0}), 400, "invalid", "capacity")
    error(m.clerks[m.towns[0]].post("/api/meetings/rooms", {"name": "x", "capacity": 5}), 403)
    assert room["id"] in [x["id"] for x in m.org.get("/api/meetings/rooms").json()["items"]]
    base = server_now(m) + timedelta(days=5)
    first = create(m, title="占用会议室", place="", room_id=room["id"], start_at=iso(base), duration_min=60)
    assert first["place"] == "三楼会议室" and first["room"]["id"] == room["id"]
    before = n_meetings(m)
    err = error(m.org.post("/api/meetings", {"title": "冲突会议", "room_id": room["id"],
                                             "start_at": iso(base + timedelta(minutes=30))}), 409, "room_conflict")
    assert first["number"] in err["message"] and "占用会议室" in err["message"]
    assert n_meetings(m) == before
    # back to back is fine; after a cancellation the slot is free
    create(m, title="紧接着的会", room_id=room["id"], start_at=iso(base + timedelta(minutes=60)))
    assert m.org.post("/api/meetings/%d/cancel" % first["id"], {"reason": "取消"}).json()["state"] == "cancelled"
    create(m, title="改用会议室", room_id=room["id"], start_at=iso(base + timedelta(minutes=30)), duration_min=30)
    r = m.org.patch("/api/meetings/rooms/%d" % room["id"], {"capacity": 80})
    assert r.status_code == 200 and r.json()["capacity"] == 80
    assert m.org.delete("/api/meetings/rooms/%d" % room["id"]).status_code == 204
    error(m.org.post("/api/meetings", {"title": "x", "room_id": room["id"], "start_at": iso(base)}), 400, "invalid",
          "room_id")


# ---------------------------------------------------------------- statistics and lists

def test_unit_stats_and_invited_box(m):
    a = tp.make_unit(m.admin, "township", "统计镇")
    m.clerks[a] = tp.person(m.s, m.admin, a, [("mt_recv", a, False)])
    mt = create(m, title="统计测试会")
    did = send(m, mt["id"], [a, m.towns[15]])["dispatch_id"]
    clock(m, 120)
    assert m.clerks[a].post("/api/dispatches/%d/reply" % did, {"answers": {"attending": True}}).status_code == 200
    st = m.clerks[a].get("/api/meetings/stats?unit=%d" % a).json()
    assert st["unit"]["id"] == a and st["meetings"] == 1 and st["sign_rate"] == 1.0 and st["reply_rate"] == 1.0
    assert 120000 <= st["mean_time_to_sign_ms"] < 180000
    error(m.clerks[a].get("/api/meetings/stats?unit=%d" % m.towns[15]), 403)
    error(m.clerks[a].get("/api/meetings/stats?unit=x"), 400, "invalid", "unit")
    inv = m.clerks[a].get("/api/meetings?box=invited").json()["items"]
    assert [x["id"] for x in inv] == [mt["id"]]
    error(m.clerks[a].get("/api/meetings?box=other"), 400, "invalid", "box")
    error(m.clerks[a].get("/api/meetings/%d/stats" % mt["id"]), 403)


def test_reminder_before_the_start(m):
    a = m.towns[16]
    mt = create(m, title="会前提醒测试", start_at=iso(server_now(m) + timedelta(hours=2)))
    send(m, mt["id"], [a])

    def told():
        return count(m, "SELECT count(*) FROM core_notifications WHERE user_id = ? AND severity = 'reminder' "
                        "AND title = '会议提醒：会前提醒测试'", m.clerks[a].id)

    clock(m, 80 * 60)
    assert told() == 0
    clock(m, 15 * 60)                                  # 95 min: 25 min before the start
    assert told() == 1
    body = tp.db_rows(m.s, "SELECT body FROM core_notifications WHERE user_id = ? AND title = '会议提醒：会前提醒测试'",
                      m.clerks[a].id)[0][0]
    assert body == m.org.get("/api/meetings/%d" % mt["id"]).json()["sms_text"]
    clock(m, 10 * 60)
    assert told() == 1


def live_event(stream, etype, timeout=5):
    """The data of the next frame of type etype on stream, or None within timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for f in stream.frames(timeout=max(0.01, deadline - time.time()), count=1):
            if f.get("event") == etype:
                return f["data"]["data"]
    return None


def test_checkin_pushes_live_event_to_the_organiser(m):
    a = m.towns[19]
    mt = create(m, title="签到推送测试", start_at=iso(server_now(m) + timedelta(hours=1)))
    send(m, mt["id"], [a])
    code = m.org.get("/api/meetings/%d/checkin-code" % mt["id"]).json()["code"]
    # a colleague who may send for the organising unit watches the board too
    colleague = tp.person(m.s, m.admin, m.O, [("mt_org", m.O, False)])
    org, clerk, col = Sse(m.s, m.org.token), Sse(m.s, m.clerks[a].token), Sse(m.s, colleague.token)
    try:
        assert org.status == 200 and clerk.status == 200 and col.status == 200
        org.frames(timeout=0.3)
        clerk.frames(timeout=0.3)
        col.frames(timeout=0.3)
        # a refused check-in pushes nothing
        wrong = "000000" if code != "000000" else "111111"
        error(m.clerks[a].post("/api/meetings/%d/checkin" % mt["id"], {"code": wrong}), 400, "invalid", "code")
        t0 = time.time()
        r = m.clerks[a].post("/api/meetings/%d/checkin" % mt["id"], {"code": code})
        assert r.status_code == 201, r.text
        d = live_event(org, "meetings.checkin")
        assert d is not None, "no live event for the check-in"
        assert time.time() - t0 < 2
        assert d["meeting_id"] == mt["id"] and d["user_id"] == m.clerks[a].id and d["unit_id"] == a
        assert d["late"] is False and d["checkins"] == {"total": 1, "late": 0}
        assert d["dispatch_id"] == m.org.get("/api/meetings/%d" % mt["id"]).json()["dispatch_id"]
        assert board(m, mt["id"])["checkins"] == d["checkins"]
        c = live_event(col, "meetings.checkin")
        assert c is not None and c["meeting_id"] == mt["id"] and c["checkins"] == d["checkins"], c
        # a second check-in is refused and pushes nothing; the attendee's own stream gets none
        error(m.clerks[a].post("/api/meetings/%d/checkin" % mt["id"], {"code": code}), 409, "already_checked_in")
        assert live_event(org, "meetings.checkin", timeout=0.5) is None
        assert live_event(clerk, "meetings.checkin", timeout=0.2) is None
    finally:
        org.close()
        clerk.close()
        col.close()


def test_my_meetings_need_no_permission(m):
    a, b = m.towns[17], m.towns[18]
    mt = create(m, title="我的会议测试")
    draft = create(m, title="我的会议草稿")
    did = send(m, mt["id"], [a], [m.person.id])["dispatch_id"]
    other = create(m, title="发给别的镇的会")
    send(m, other["id"], [b])
    staff_a = tp.person(m.s, m.admin, a)              # no role at all

    def mine(api):
        r = api.get("/api/meetings?box=invited")
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    # owed: staff of the unit, its contact (own unit elsewhere, meetings.receive only), the person
    for who in (staff_a, m.contact, m.person):
        got = mine(who)
        assert mt["id"] in got and other["id"] not in got and draft["id"] not in got, got
        assert who.get("/api/meetings/%d" % mt["id"]).json()["id"] == mt["id"]
        assert m.org.get("/api/meetings/%d" % mt["id"]).json()["title"] == "我的会议测试"
        error(who.get("/api/meetings/%d" % other["id"]), 404)
        error(who.get("/api/meetings/%d" % draft["id"]), 404)
        error(who.get("/api/meetings/%d/minutes" % other["id"]), 404)
    sent_to_a = [i for (i,) in tp.db_rows(m.s, "SELECT meeting_id FROM meetings_recipients WHERE unit_id = ? "
                                               "ORDER BY meeting_id DESC", a)]
    assert mine(staff_a) == sent_to_a and mine(m.contact) == sent_to_a and len(sent_to_a) >= 2
    assert mine(m.person) == [i for (i,) in tp.db_rows(m.s, "SELECT meeting_id FROM meetings_recipients WHERE "
                                                           "user_id = ? ORDER BY meeting_id DESC", m.person.id)]
    # nothing they are not owed: a plain user of the person's unit; the other town's clerk
    assert mine(m.xstaff) == []
    error(m.xstaff.get("/api/meetings/%d" % mt["id"]), 404)
    assert mt["id"] not in mine(m.clerks[b])
    # the organised box still needs meetings.read on the unit; bad paging is refused
    error(staff_a.get("/api/meetings"), 403, "forbidden")
    error(m.contact.get("/api/meetings?unit=%d" % a), 403, "forbidden")
    error(staff_a.get("/api/meetings?box=invited&limit=0"), 400, "invalid", "limit")
    error(staff_a.get("/api/meetings?box=invited&state=open"), 400, "invalid", "state")
    assert mt["id"] in [x["id"] for x in staff_a.get("/api/meetings?box=invited&state=sent").json()["items"]]
    assert mt["id"] not in [x["id"] for x in staff_a.get("/api/meetings?box=invited&state=finished").json()["items"]]
    # the contact signs for the unit and checks in for it; plain staff check in too
    assert m.contact.post("/api/dispatches/%d/sign" % did).status_code == 200
    code = m.org.get("/api/meetings/%d/checkin-code" % mt["id"]).json()["code"]
    r = m.contact.post("/api/meetings/%d/checkin" % mt["id"], {"code": code})
    assert r.status_code == 201 and r.json()["unit_id"] == a, r.text
    r = staff_a.post("/api/meetings/%d/checkin" % mt["id"], {"code": code})
    assert r.status_code == 201 and r.json()["unit_id"] == a, r.text
    error(m.xstaff.post("/api/meetings/%d/checkin" % mt["id"], {"code": code}), 404)
    assert count(m, "SELECT count(*) FROM meetings_checkins WHERE meeting_id = ? AND unit_id = ?", mt["id"], a) == 2
