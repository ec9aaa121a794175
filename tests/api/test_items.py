"""Tracked items (督办事项) over HTTP: the flow through every state with a supervisor, a lead
unit and two co-units; colours across the 2026 National Day holiday with the test clock;
the lag reason required when late; co-unit reports; extension approval and denial;
permissions (another unit's user: 404 on actions; anyone signed in reads the public view
and the lag reasons); bad input with nothing written; exact statistics. Items are created
through the test-only POST /api/test/items (source "itemtest")."""
from datetime import datetime, timedelta, timezone

import pytest

from directory_helpers import county, db_value, error, make_unit, person, serve, audit

CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def srv():
    yield from serve("yimen-items-")


def set_day(t, day, hour=10):
    """Moves the test clock to day (YYYY-MM-DD) at hour (Asia/Shanghai); jobs that fell due run."""
    r = t.admin.post("/api/test/clock", {"advance": 0})
    now = datetime.fromisoformat(r.json()["now"])
    target = datetime.fromisoformat(day).replace(hour=hour, tzinfo=CST)
    r = t.admin.post("/api/test/clock", {"advance": (target - now).total_seconds()})
    assert r.status_code == 200, r.text
    # the recolour job is not due again when the clock moved backwards: run it now
    r = t.admin.post("/api/test/items/recolour", {})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def t(srv):
    t = county(srv)
    admin = t.admin
    t.OFFICE = make_unit(admin, "department", "督查室")
    t.C1 = make_unit(admin, "department", "财政局")
    t.C2 = make_unit(admin, "department", "自然资源局")
    r = admin.post("/api/roles", {"key": "sup_role", "name": "督查员", "permissions": ["itemtest.manage"]})
    assert r.status_code == 201, r.text
    r = admin.post("/api/roles", {"key": "handler_role", "name": "承办员", "permissions": ["itemtest.handle"]})
    assert r.status_code == 201, r.text
    t.sup = person(srv, admin, t.OFFICE, roles=[("sup_role", t.OFFICE, False)], display_name="督查员")
    t.lead = person(srv, admin, t.A, roles=[("handler_role", t.A, False)], display_name="甲镇承办")
    t.clerk_a = person(srv, admin, t.A, roles=[("clerk", t.A, False)], display_name="甲镇收发员")
    t.co1 = person(srv, admin, t.C1, roles=[("handler_role", t.C1, False)], display_name="财政承办")
    t.co2 = person(srv, admin, t.C2, roles=[("clerk", t.C2, False)], display_name="自然资源收发")
    t.other = person(srv, admin, t.B, roles=[("handler_role", t.B, False)], display_name="乙镇承办")
    # signed in now (at the real time): the sessions outlive the clock moves into the past
    t.U = make_unit(admin, "township", "统计镇")
    t.h = person(srv, admin, t.U, roles=[("handler_role", t.U, False)])
    return t


def create(t, **kw):
    body = dict(source="itemtest", source_kind="instruction", title="修缮县道", supervisor_unit=t.OFFICE,
                lead_unit=t.A, co_units=[t.C1, t.C2])
    body.update(kw)
    r = t.admin.post("/api/test/items", body)
    assert r.status_code == 201, r.text
    return r.json()


def act(api, iid, what, body=None, status=200):
    r = api.post("/api/items/%d/%s" % (iid, what), body if body is not None else {})
    assert r.status_code == status, r.text
    return r.json()


def test_flow_every_state(t):
    set_day(t, "2026-09-28")
    item = create(t, deadline_workdays=5, nodes=[{"title": "方案", "deadline": "2026-10-09"}],
                  report_cycle="weekly")
    iid = item["id"]
    assert item["state"] == "draft" and item["deadline"] is None and item["colour"] is None
    it = act(t.sup.api, iid, "assign")
    # 9/29, 9/30, (10/1-10/7 holiday), 10/8, 10/9, 10/10 (make-up working Saturday)
    assert it["state"] == "assigned" and it["deadline"] == "2026-10-10"
    assert it["colour"] == "green"
    it = act(t.lead.api, iid, "return", {"reason": "不属于本单位职责"})
    assert it["state"] == "returned"
    it = act(t.sup.api, iid, "assign")
    assert it["state"] == "assigned"
    # wrong state
    error(t.sup.api.post("/api/items/%d/close" % iid, {}), 409, "wrong_state")
    it = act(t.clerk_a.api, iid, "accept")  # a clerk of the lead unit acts for it
    assert it["state"] == "accepted"
    r = act(t.co1.api, iid, "report", {"text": "资金已落实", "percent": 50}, 201)
    assert r["item"]["state"] == "in_progress"
    parts = {u["id"]: u for u in r["item"]["units"]}
    assert parts[t.C1]["percent"] == 50 and parts[t.C1]["reports"] == 1 and parts[t.C1]["role"] == "co"
    r = act(t.co2.api, iid, "report", {"text": "用地已报批"}, 201)
    node = r["item"]["nodes"][0]["id"]
    r = act(t.lead.api, iid, "report", {"text": "方案完成", "node_id": node}, 201)
    assert r["item"]["nodes"][0]["done_at"] is not None
    r = act(t.lead.api, iid, "complete", {"text": "已完工"}, 201)
    assert r["item"]["state"] == "completed"
    it = act(t.sup.api, iid, "review", {"accept": False, "comment": "缺照片"})
    assert it["state"] == "in_progress"
    act(t.lead.api, iid, "complete", {"text": "补充照片"}, 201)
    it = act(t.sup.api, iid, "review", {"accept": True})
    assert it["state"] == "reviewed"
    it = act(t.sup.api, iid, "close")
    assert it["state"] == "closed" and it["closed_at"]
    kinds = [e["kind"] for e in it["timeline"]]
    for k in ("created", "assigned", "returned", "accepted", "report", "completed", "reviewed", "closed"):
        assert k in kinds
    # a report on a closed item
    error(t.lead.api.post("/api/items/%d/report" % iid, {"text": "x"}), 409, "wrong_state")
    assert audit(t.srv, action="items.close", result="ok")


def test_colours_across_holiday_and_lag_reason(t):
    set_day(t, "2026-09-21")
    iid = create(t, deadline="2026-09-30", assign=True)["id"]
    act(t.lead.api, iid, "accept")
    it = t.lead.api.get("/api/items/%d" % iid).json()
    assert it["colour"] == "green"  # 9/30 is 7 working days away
    set_day(t, "2026-09-28")  # 9/30 within 3 working days
    assert t.lead.api.get("/api/items/%d" % iid).json()["colour"] == "blue"
    set_day(t, "2026-10-06")  # overdue, but no working day has passed since 9/30
    it = t.lead.api.get("/api/items/%d" % iid).json()
    assert it["colour"] == "orange" and it["late"] == "overdue" and it["lag_reason_required"]
    err = error(t.lead.api.post("/api/items/%d/report" % iid, {"text": "进展"}), 409, "lag_reason_required")
    assert err
    error(t.lead.api.post("/api/items/%d/reasons" % iid, {"category": "nope", "text": "x"}), 400, "invalid",
          "category")
    r = act(t.lead.api, iid, "reasons", {"category": "funding", "text": "资金未到位"}, 201)
    assert r["item"]["lag_reason_required"] is False
    act(t.lead.api, iid, "report", {"text": "进展"}, 201)
    # 10/8, 10/9, 10/10, 10/12, 10/13 are 5 working days: still orange; 10/14 is the 6th
    set_day(t, "2026-10-13")
    assert t.lead.api.get("/api/items/%d" % iid).json()["colour"] == "orange"
    set_day(t, "2026-10-14")
    it = t.lead.api.get("/api/items/%d" % iid).json()
    assert it["colour"] == "red" and it["worst_colour"] == "red"
    # every signed-in user reads the reasons and the public view (全员督查)
    reasons = t.other.api.get("/api/items/%d/reasons" % iid).json()["items"]
    assert reasons[0]["category"] == "funding" and reasons[0]["text"] == "资金未到位"
    pub = t.other.api.get("/api/items/%d" % iid).json()
    assert pub["view"] == "public" and "content" not in pub and "reports" not in pub
    assert "detail" not in pub["timeline"][0]
    assert [e for e in pub["timeline"] if e["kind"] == "colour" and e["colour"] == "red"]
    # the red colour urged the lead unit automatically (items.auto_urge = {"red"})
    assert it["urge_count"] >= 1
    n = t.lead.api.get("/api/notifications").json()["items"]
    assert any("催办" in x["title"] and x["severity"] == "urgent" for x in n)


def test_extension_and_permissions(t):
    set_day(t, "2026-11-02")
    iid = create(t, deadline="2026-11-04", assign=True)["id"]
    # another unit's user: 404 on actions; a co-unit cannot accept (403)
    error(t.other.api.post("/api/items/%d/accept" % iid, {}), 404, "not_found")
    error(t.other.api.post("/api/items/%d/urge" % iid, {}), 404, "not_found")
    error(t.co1.api.post("/api/items/%d/assign" % iid, {}), 403, "forbidden")
    act(t.lead.api, iid, "accept")
    assert t.lead.api.get("/api/items/%d" % iid).json()["colour"] == "blue"
    r = act(t.lead.api, iid, "extend", {"until": "2026-11-30", "reason": "需要更多时间"}, 201)
    eid = r["id"]
    error(t.lead.api.post("/api/items/%d/extend" % iid, {"until": "2026-12-30", "reason": "再延"}), 409,
          "wrong_state")
    error(t.lead.api.post("/api/items/%d/extensions/%d/decide" % (iid, eid), {"approve": True}), 403)
    it = act(t.sup.api, iid, "extensions/%d/decide" % eid, {"approve": True, "comment": "同意"})
    assert it["deadline"] == "2026-11-30" and it["colour"] == "green"
    error(t.sup.api.post("/api/items/%d/extensions/%d/decide" % (iid, eid), {"approve": True}), 409)
    eid2 = act(t.lead.api, iid, "extend", {"until": "2026-12-30", "reason": "再延"}, 201)["id"]
    it = act(t.sup.api, iid, "extensions/%d/decide" % eid2, {"approve": False, "comment": "不同意"})
    assert it["deadline"] == "2026-11-30"
    error(t.sup.api.post("/api/items/%d/extensions/99999/decide" % iid, {"approve": True}), 404)
    # urge by hand, escalate to red by hand
    it = act(t.sup.api, iid, "urge", {"message": "请加快"})
    assert it["urge_count"] == 1
    it = act(t.sup.api, iid, "escalate", {"escalated": True, "reason": "领导批示"})
    assert it["colour"] == "red"
    it = act(t.sup.api, iid, "links", {"record": "meetings_minutes:4"})
    assert it["links"][0]["record"] == "meetings_minutes:4"
    child = create(t, deadline="2026-11-20", parent_id=iid, title="子事项")
    assert t.sup.api.get("/api/items/%d" % iid).json()["children"][0]["id"] == child["id"]


def test_bad_input_writes_nothing(t):
    set_day(t, "2026-11-02")
    iid = create(t, deadline="2026-11-20", assign=True)["id"]
    act(t.lead.api, iid, "accept")
    before = db_value(t.srv, "SELECT count(*) FROM core_item_reports")
    api = t.lead.api
    error(api.post("/api/items/%d/report" % iid, raw=b"{bad", ctype="application/json"), 400, "bad_json")
    error(api.post("/api/items/%d/report" % iid, {"text": 5}), 400, "invalid", "text")
    error(api.post("/api/items/%d/report" % iid, {"text": "x", "percent": 101}), 400, "invalid", "percent")
    error(api.post("/api/items/%d/report" % iid, {"text": "x", "bogus": 1}), 400, "invalid")
    error(api.post("/api/items/%d/report" % iid, {"text": "x", "file_ids": [999999]}), 400, "invalid", "file_ids")
    error(api.post("/api/items/%d/report" % iid, {"text": "x", "node_id": 999999}), 400, "invalid", "node_id")
    error(api.post("/api/items/999999/report", {"text": "x"}), 404, "not_found")
    error(api.post("/api/items/abc/report", {"text": "x"}), 404)
    error(api.get("/api/items/999999"), 404)
    error(t.sup.api.post("/api/items/%d/review" % iid, {"accept": "yes"}), 400, "invalid", "accept")
    error(api.post("/api/items/%d/extend" % iid, {"until": "2026-11-01", "reason": "x"}), 400, "invalid", "until")
    assert db_value(t.srv, "SELECT count(*) FROM core_item_reports") == before
    error(t.admin.post("/api/test/items", {"source": "itemtest", "source_kind": "bogus", "title": "x",
                                           "supervisor_unit": t.OFFICE, "lead_unit": t.A,
                                           "deadline": "2026-12-01"}), 400, "invalid", "source_kind")
    error(api.get("/api/items?colour=purple"), 400, "invalid", "colour")


def test_stats_exact(t):
    U, h = t.U, t.h
    # the sessions were opened at the real time (2026-11-27 in CI) and end 12 h later: stay before it
    set_day(t, "2026-11-16")
    a = create(t, lead_unit=U, co_units=[], deadline="2026-11-18", assign=True)["id"]
    b = create(t, lead_unit=U, co_units=[], deadline="2026-11-19", assign=True)["id"]
    create(t, lead_unit=U, co_units=[], deadline="2026-11-30", assign=True)  # not in the period
    for iid in (a, b):
        act(h.api, iid, "accept")
    act(h.api, a, "complete", {"text": "done"}, 201)  # on time
    act(t.sup.api, a, "review", {"accept": True})
    set_day(t, "2026-11-18", hour=12)
    act(t.sup.api, a, "close")  # two days and two hours after assignment
    set_day(t, "2026-11-25")  # b is overdue
    s = t.other.api.get("/api/items/stats?unit=%d&from=2026-11-16&to=2026-11-25" % U).json()
    tot = s["totals"]
    assert tot["items"] == 2 and tot["completed_on_time"] == 1 and tot["overdue"] == 1
    assert tot["on_time_rate"] == 0.5 and tot["closed"] == 1
    assert abs(tot["mean_days_to_close"] - (2 + 2 / 24)) < 1e-6
    assert s["units"][0]["unit"]["id"] == U
    error(t.other.api.get("/api/items/stats?from=2026-13-01"), 400, "invalid", "from")


def listed(api, **query):
    """Every item id GET /api/items lists to api (source itemtest), over all pages."""
    ids, after = [], 0
    while True:
        q = "&".join("%s=%s" % kv for kv in dict(source="itemtest", limit=100, **query).items())
        r = api.get("/api/items?" + q + ("&after=%d" % after if after else ""))
        assert r.status_code == 200, r.text
        ids += [x["id"] for x in r.json()["items"]]
        if r.json()["next"] is None:
            return ids
        after = r.json()["next"]


def test_restricted_only_for_parties(t):
    set_day(t, "2026-11-02")
    secret = create(t, title="限阅：线索核查", deadline="2026-11-20", restricted=True, assign=True)
    plain = create(t, deadline="2026-11-20", assign=True)
    assert secret["restricted"] is True and plain["restricted"] is False
    sid = secret["id"]
    # a non-party: the same 404 as an unknown item, and not in the list (the plain one is)
    for path in ("/api/items/%d" % sid, "/api/items/%d/reasons" % sid):
        unknown = t.other.api.get(path.replace(str(sid), "999999"))
        r = t.other.api.get(path)
        error(r, 404, "not_found")
        assert r.json() == unknown.json()
    error(t.other.api.post("/api/items/%d/accept" % sid, {}), 404, "not_found")
    ids = listed(t.other.api)
    assert sid not in ids and plain["id"] in ids
    # paging past hidden items still finds the rest
    page = t.other.api.get("/api/items?source=itemtest&limit=1&after=%d" % (sid - 1)).json()
    assert [x["id"] for x in page["items"]] == [plain["id"]]
    # the parties: the supervising side, the lead unit (handle or clerk) and the co-units
    for who in (t.sup, t.lead, t.clerk_a, t.co1, t.co2):
        r = who.api.get("/api/items/%d" % sid)
        assert r.status_code == 200 and r.json()["view"] == "full" and r.json()["restricted"] is True, r.text
        assert who.api.get("/api/items/%d/reasons" % sid).status_code == 200
        assert sid in listed(who.api)
    act(t.lead.api, sid, "accept")
    # statistics count it as any other item
    s = t.other.api.get("/api/items/stats?unit=%d&from=2026-11-20&to=2026-11-20" % t.A).json()
    assert s["totals"]["items"] >= 2
    error(t.admin.post("/api/test/items", {"source": "itemtest", "source_kind": "other", "title": "x",
                                           "supervisor_unit": t.OFFICE, "lead_unit": t.A, "deadline": "2026-12-01",
                                           "restricted": "yes"}), 400, "invalid", "restricted")


def test_return_window_kept_by_the_engine(t):
    # assigned on Monday 2026-11-02 with return_workdays 2: the lead unit may return it through Wednesday 11-04
    set_day(t, "2026-11-02")
    late = create(t, title="退回时限甲", deadline="2027-03-01", return_workdays=2, assign=True)
    ok = create(t, title="退回时限乙", deadline="2027-03-01", return_workdays=2, assign=True)
    free = create(t, title="无退回时限", deadline="2027-03-01", assign=True)
    assert late["return_workdays"] == 2 and late["return_until"] == "2026-11-04", late
    assert free["return_workdays"] == 0 and free["return_until"] is None, free
    # bad input: nothing is created
    before = db_value(t.srv, "SELECT count(*) FROM core_items")
    for bad in ("2", -1, 1001, 1.5, True):
        error(t.admin.post("/api/test/items", {"source": "itemtest", "source_kind": "other", "title": "x",
                                               "supervisor_unit": t.OFFICE, "lead_unit": t.A,
                                               "deadline": "2027-03-01", "return_workdays": bad}),
              400, "invalid", "return_workdays")
    assert db_value(t.srv, "SELECT count(*) FROM core_items") == before
    # another unit's handler cannot return it; a return needs a reason
    error(t.other.api.post("/api/items/%d/return" % late["id"], {"reason": "x"}), 404)
    error(t.lead.api.post("/api/items/%d/return" % late["id"], {}), 400, "invalid", "reason")
    # the last day of the window: returned
    set_day(t, "2026-11-04", hour=17)
    assert act(t.lead.api, ok["id"], "return", {"reason": "不属本单位职责"})["state"] == "returned"
    # the day after: refused with the last day named, nothing written
    set_day(t, "2026-11-05")
    rows = db_value(t.srv, "SELECT count(*) FROM core_item_timeline WHERE item_id = %d" % late["id"])
    err = error(t.lead.api.post("/api/items/%d/return" % late["id"], {"reason": "太晚了"}), 409,
                "return_window_closed")
    assert "2026-11-04" in err["message"], err
    assert t.lead.api.get("/api/items/%d" % late["id"]).json()["state"] == "assigned"
    assert db_value(t.srv, "SELECT count(*) FROM core_item_timeline WHERE item_id = %d" % late["id"]) == rows
    # an item without a window is returned at any time; a returned item assigned again gets a new window
    assert act(t.lead.api, free["id"], "return", {"reason": "不属本单位职责"})["state"] == "returned"
    again = act(t.sup.api, ok["id"], "assign")
    assert again["state"] == "assigned" and again["return_until"] == "2026-11-09", again
