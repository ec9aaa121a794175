"""The supervision plugin under the test clock, on a calendar of its own (2030, with the
Labour Day and National Day holidays and two make-up working days): the return (退回)
of an assigned case only within return_workdays working days of its assignment, and
a case's colour over time across a weekend and a holiday, and the recolour job's one
notice per unit on a mass change. The clock only moves forward,
so the tests run in the order written."""
import tempfile

import pytest

import test_plugins as tp
from directory_helpers import error
from test_supervision import county, case_body

CALENDAR_2030 = '''-- a test calendar
holidays = {
    { "2030-05-01", "2030-05-05", "劳动节" },
    { "2030-10-01", "2030-10-07", "国庆节" },
}
workdays = { "2030-09-29", "2030-10-12" }
'''


@pytest.fixture(scope="module")
def ck():
    with tempfile.TemporaryDirectory(prefix="yimen-supervision-clock-") as tmp:
        conf = (tp.plugin_conf([tp.BUILT], ["supervision"]).replace(tp.AUTH, tp.LONG_AUTH)
                + tp.calendar_conf(tmp, 2030, CALENDAR_2030))
        s = tp.new_server(tmp, conf).start()
        try:
            yield county(s)
        finally:
            tp.stop_clean(s)


def goto(t, when):
    r = tp.clock_to(t.admin, when)
    assert r.json()["now"].startswith(when[:16]), r.json()


def new_case(t, **kw):
    r = t.office.post("/api/supervision/cases", case_body(t, co_units=None, report_cycle=None, **kw))
    assert r.status_code == 201, r.text
    return r.json()


def state(t, c):
    return t.office.get("/api/supervision/cases/%d" % c["id"]).json()["item"]["state"]


def test_return_only_within_the_working_days_after_assignment(ck):
    # assigned on Monday 2030-04-29: 3 working days are 04-30, then (Labour Day 05-01..05 off) 05-06 and 05-07
    goto(ck, "2030-04-29T10:00:00")
    a = new_case(ck, title="退回测试甲", deadline="2030-06-28")
    b = new_case(ck, title="退回测试乙", deadline="2030-06-28")
    c = new_case(ck, title="退回测试丙", deadline="2030-06-28")
    assert ck.lead.post("/api/items/%d/accept" % c["item_id"]).status_code == 200
    path = "/api/supervision/cases/%d/return"
    # refusals: another unit, an unrelated staff member, bad input, an unknown case, an accepted case
    error(ck.co.post(path % a["id"], {"reason": "不属于我单位职责"}), 403, "forbidden")
    error(ck.staff.post(path % a["id"], {"reason": "x"}), 403)
    error(ck.lead.post(path % a["id"], {}), 400, "invalid", "reason")
    error(ck.lead.post(path % a["id"], {"reason": ""}), 400, "invalid", "reason")
    error(ck.lead.post(path % a["id"], {"reason": 5}), 400, "invalid", "reason")
    error(ck.lead.post(path % a["id"], {"reason": "x", "until": "2030-05-01"}), 400, "invalid", "until")
    error(ck.lead.post(path % a["id"], raw=b"{", ctype="application/json"), 400, "bad_json")
    error(ck.lead.post(path % 99999999, {"reason": "x"}), 404, "not_found")
    error(ck.lead.post(path % c["id"], {"reason": "已签收"}), 409, "wrong_state")
    assert state(ck, a) == "assigned" and state(ck, c) == "accepted"
    # Tuesday 05-07, the 3rd working day (8 calendar days later): still within the window
    goto(ck, "2030-05-07T16:00:00")
    r = ck.lead.post(path % a["id"], {"reason": "该事项属县财政局职责，建议改由其牵头"})
    assert r.status_code == 200, r.text
    assert r.json()["item"]["state"] == "returned"
    assert [e["kind"] for e in r.json()["item"]["timeline"]][-1] == "returned"
    assert tp.db_rows(ck.s, "SELECT action FROM core_audit WHERE target = ?", "supervision_cases:%d" % a["id"]) == \
        [("supervision.create",), ("supervision.return",)]
    # Wednesday 05-08: the window closed; nothing is written
    goto(ck, "2030-05-08T09:00:00")
    err = error(ck.lead.post(path % b["id"], {"reason": "太晚了"}), 409, "return_window_closed")
    assert "3 working days" in err["message"] and "2030-05-07" in err["message"], err
    assert state(ck, b) == "assigned"
    assert tp.db_rows(ck.s, "SELECT count(*) FROM core_item_timeline WHERE item_id = ? AND kind = 'returned'",
                      b["item_id"])[0][0] == 0


def test_the_engine_keeps_the_return_window_on_its_own_route(ck):
    # the case carries the window into the engine: the engine's own route refuses too
    goto(ck, "2030-05-08T10:00:00")
    d = new_case(ck, title="退回测试丁", deadline="2030-06-28")
    item = ck.office.get("/api/supervision/cases/%d" % d["id"]).json()["item"]
    # assigned on Wednesday 05-08: 3 working days are 05-09, 05-10 and (after the weekend) Monday 05-13
    assert item["return_workdays"] == 3 and item["return_until"] == "2030-05-13", item
    got = ck.lead.get("/api/supervision/cases/%d" % d["id"]).json()
    assert got["actions"]["return"] is True and got["actions"]["return_until"] == "2030-05-13", got["actions"]
    b = [c for c in ck.office.get("/api/supervision/board?limit=100").json()["items"] if c["title"] == "退回测试乙"][0]
    path = "/api/items/%d/return"
    # the window of case 乙 closed on 05-07: the engine refuses it, naming the last day, and writes nothing
    err = error(ck.lead.post(path % b["item_id"], {"reason": "绕过插件退回"}), 409, "return_window_closed")
    assert "2030-05-07" in err["message"], err
    assert state(ck, b) == "assigned"
    assert tp.db_rows(ck.s, "SELECT count(*) FROM core_item_timeline WHERE item_id = ? AND kind = 'returned'",
                      b["item_id"])[0][0] == 0
    # bad input is still a 400 before the window (no reason)
    error(ck.lead.post(path % d["item_id"], {}), 400, "invalid", "reason")
    # Monday 05-13, the last day: the engine's route returns it
    goto(ck, "2030-05-13T17:00:00")
    r = ck.lead.post(path % d["item_id"], {"reason": "职责不符"})
    assert r.status_code == 200, r.text
    assert state(ck, d) == "returned"
    # assigned again on Tuesday 05-14: a new window from that day (05-17), then closed on 05-20
    goto(ck, "2030-05-14T09:00:00")
    r = ck.office.post("/api/items/%d/assign" % d["item_id"])
    assert r.status_code == 200, r.text
    assert r.json()["return_until"] == "2030-05-17", r.json()
    goto(ck, "2030-05-20T09:00:00")
    err = error(ck.lead.post(path % d["item_id"], {"reason": "再次退回"}), 409, "return_window_closed")
    assert "2030-05-17" in err["message"], err
    err = error(ck.lead.post("/api/supervision/cases/%d/return" % d["id"], {"reason": "再次退回"}), 409,
                "return_window_closed")
    assert "2030-05-17" in err["message"], err
    assert state(ck, d) == "assigned"


def colour(t, c):
    r = t.admin.post("/api/test/items/recolour")
    assert r.status_code == 200, r.text
    got = t.staff.get("/api/supervision/cases/%d" % c["id"]).json()
    return got["item"]["colour"], got["item"]["late"]


def test_colour_over_time_across_a_weekend_and_a_holiday(ck):
    # deadline Tuesday 2030-10-08, the first working day after the National Day holiday (10-01..07);
    # blue within 3 working days of the deadline, red after 5 working days overdue (the default rule)
    goto(ck, "2030-09-20T10:00:00")
    c = new_case(ck, title="灯色随时间变化", deadline="2030-10-08")
    assert colour(ck, c) == ("green", "none")
    goto(ck, "2030-09-26T10:00:00")            # Thu: 3 working days on is Mon 09-30
    assert colour(ck, c) == ("green", "none")
    goto(ck, "2030-09-27T10:00:00")            # Fri: Sun 09-29 (make-up), Mon 09-30, then Tue 10-08
    assert colour(ck, c) == ("blue", "none")
    goto(ck, "2030-10-08T18:00:00")            # the deadline day itself
    assert colour(ck, c) == ("blue", "none")
    goto(ck, "2030-10-09T09:00:00")            # the day after: overdue
    assert colour(ck, c) == ("orange", "overdue")
    goto(ck, "2030-10-13T12:00:00")            # Sun: 4 working days overdue (10-12 is a make-up Saturday)
    assert colour(ck, c) == ("orange", "overdue")
    goto(ck, "2030-10-14T12:00:00")            # Mon: 5, not yet more than 5
    assert colour(ck, c) == ("orange", "overdue")
    goto(ck, "2030-10-15T09:00:00")            # Tue: 6 working days overdue
    assert colour(ck, c) == ("red", "overdue")
    got = ck.office.get("/api/supervision/cases/%d" % c["id"]).json()["item"]
    assert [e["colour"] for e in got["timeline"] if e["kind"] == "colour"] == ["green", "blue", "orange", "red"]
    # the board's colour filter follows
    rows = ck.staff.get("/api/supervision/board?colour=red&unit=%d" % ck.A).json()["items"]
    assert c["id"] in [x["id"] for x in rows]
    assert c["id"] not in [x["id"] for x in ck.staff.get("/api/supervision/board?colour=blue").json()["items"]]


def test_a_mass_colour_change_sends_one_notice_per_unit(ck):
    """The recolour job batches its notices: the lead unit's members get one notice listing
    its changed cases (with the automatic urges of those turning red), each case still gets
    its own timeline entries and urge count; a unit with a single change gets that case's own
    notice."""
    goto(ck, "2030-10-16T10:00:00")
    many = tp.make_unit(ck.admin, "township", "批量镇")
    one = tp.make_unit(ck.admin, "township", "单件镇")
    m_user = tp.person(ck.s, ck.admin, many)
    o_user = tp.person(ck.s, ck.admin, one)
    cases = [new_case(ck, title="批量%d" % k, lead_unit=many, deadline="2030-10-17") for k in range(3)]
    single = new_case(ck, title="单件", lead_unit=one, deadline="2030-10-17")
    before_m = len(m_user.get("/api/notifications?limit=100").json()["items"])
    before_o = len(o_user.get("/api/notifications?limit=100").json()["items"])
    goto(ck, "2030-10-29T10:00:00")          # 8 working days overdue: red; the job ran when the clock moved
    ck.admin.post("/api/test/items/recolour")      # nothing left to change: no further notices
    notes = m_user.get("/api/notifications?limit=100").json()["items"]
    assert len(notes) == before_m + 1, notes
    n = notes[0]
    assert n["title"] == "催办：3项督办事项灯色变化，其中3项催办" and n["severity"] == "urgent", n
    assert all("「批量%d」蓝灯→红灯（催办）" % k in n["body"] for k in range(3)), n
    for c in cases:
        it = ck.office.get("/api/supervision/cases/%d" % c["id"]).json()["item"]
        assert it["colour"] == "red" and it["urge_count"] == 1, it
        assert [e["kind"] for e in it["timeline"]].count("urge") == 1
    notes = o_user.get("/api/notifications?limit=100").json()["items"]
    assert len(notes) == before_o + 1 and notes[0]["title"] == "催办督办事项「单件」", notes
    assert single["id"] not in [c["id"] for c in cases]
