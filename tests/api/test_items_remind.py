"""Reminders of tracked items (core.items_remind, every 10 minutes): before each node, the
deadline and the next periodic report, at the offsets of items.remind_days (working days
on the calendar), the lead unit is reminded once per due date and offset; a report made
in the period spares the report reminder. Under the test clock on a calendar of its own
(2030: the National Day holiday 10-01..07, make-up working days 09-29 and 10-12); the
clock only moves forward and the job runs when it falls due. Items are created through
the test-only POST /api/test/items (source "itemtest"). Also: items.remind_days checked
by check-config."""
import tempfile
import time

import pytest

import test_plugins as tp
from conftest import BIN, run_bin

CALENDAR_2030 = '''holidays = { { "2030-10-01", "2030-10-07", "国庆节" } }
workdays = { "2030-09-29", "2030-10-12" }
'''


@pytest.fixture(scope="module")
def rm():
    with tempfile.TemporaryDirectory(prefix="yimen-items-remind-") as tmp:
        conf = (tp.plugin_conf([tp.BUILT], []).replace(tp.AUTH, tp.LONG_AUTH)
                + tp.calendar_conf(tmp, 2030, CALENDAR_2030) + "items = { remind_days = { 3, 1 } }\n")
        s = tp.new_server(tmp, conf).start()
        try:
            admin = tp.admin_api(s)
            t = type("T", (), {})()
            t.s, t.admin = s, admin
            t.O = tp.make_unit(admin, "department", "督查室")
            t.A = tp.make_unit(admin, "township", "甲镇")
            t.B = tp.make_unit(admin, "township", "乙镇")
            t.X = tp.make_unit(admin, "township", "无关镇")
            tp.make_role(admin, "it_handle", ["itemtest.handle"])
            t.a = tp.person(s, admin, t.A, [("it_handle", t.A, False)])
            t.b = tp.person(s, admin, t.B, [("it_handle", t.B, False)])
            t.x = tp.person(s, admin, t.X)
            yield t
        finally:
            tp.stop_clean(s)


def goto(t, when):
    tp.clock_to(t.admin, when)


def reminders(api):
    """The titles of the reminders in api's inbox, oldest first."""
    items = api.get("/api/notifications?limit=100").json()["items"]
    return sorted((n["created_at"], n["title"]) for n in items if "到期" in n["title"])


def titles(api):
    return [x[1] for x in reminders(api)]


def wait_titles(api, n, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = titles(api)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    return titles(api)


def item(t, **kw):
    body = dict(source="itemtest", source_kind="instruction", supervisor_unit=t.O, assign=True)
    body.update(kw)
    r = t.admin.post("/api/test/items", body)
    assert r.status_code == 201, r.text
    return r.json()


def test_reminders_before_nodes_deadline_and_reports(rm):
    goto(rm, "2030-09-20T10:00:00")                      # Friday
    a = item(rm, title="修缮县道", lead_unit=rm.A, deadline="2030-10-09",
             nodes=[{"title": "编制方案", "deadline": "2030-09-27"}])
    b = item(rm, title="农贸市场改造", lead_unit=rm.B, deadline="2030-12-31", report_cycle="weekly")
    assert rm.b.post("/api/items/%d/accept" % b["id"]).status_code == 200
    goto(rm, "2030-09-23T10:00:00")                      # Mon: nothing due within 3 working days
    assert titles(rm.a) == [] and titles(rm.b) == []
    goto(rm, "2030-09-24T10:00:00")                      # Tue: 3 working days before the node and the report
    node3 = "节点将于2030-09-27到期（提前3个工作日提醒）「修缮县道」"
    report3 = "进展报告将于2030-09-27到期（提前3个工作日提醒）「农贸市场改造」"
    assert wait_titles(rm.a, 1) == [node3]
    assert wait_titles(rm.b, 1) == [report3]
    goto(rm, "2030-09-24T15:00:00")                      # the job again: nothing twice
    goto(rm, "2030-09-25T10:00:00")
    assert titles(rm.a) == [node3] and titles(rm.b) == [report3]
    goto(rm, "2030-09-26T10:00:00")                      # Thu: 1 working day before
    assert wait_titles(rm.a, 2) == [node3, "节点将于2030-09-27到期（提前1个工作日提醒）「修缮县道」"]
    assert wait_titles(rm.b, 2)[-1] == "进展报告将于2030-09-27到期（提前1个工作日提醒）「农贸市场改造」"
    # B missed the report due 09-27; on Saturday 09-28 it records why and reports, for the
    # period ending 10-08 (10-04 falls in the holiday)
    goto(rm, "2030-09-28T10:00:00")
    r = rm.b.post("/api/items/%d/reasons" % b["id"], {"category": "other", "text": "负责人出差"})
    assert r.status_code == 201, r.text
    assert rm.b.post("/api/items/%d/report" % b["id"], {"text": "招标完成"}).status_code == 201
    # Sun 09-29 (a make-up working day): 3 working days before the deadline 10-09 (09-29, 09-30, 10-08);
    # no report reminder for B, who reported in the period
    goto(rm, "2030-09-29T10:00:00")
    deadline3 = "办理期限将于2030-10-09到期（提前3个工作日提醒）「修缮县道」"
    assert wait_titles(rm.a, 3)[-1] == deadline3
    # Mon 09-30, 1 working day before 10-08: B, who reported in the period, is spared
    # (its 3-day reminder went out on 09-28, before the report)
    goto(rm, "2030-09-30T10:00:00")
    assert titles(rm.b) == [report3, "进展报告将于2030-09-27到期（提前1个工作日提醒）「农贸市场改造」",
                            "进展报告将于2030-10-08到期（提前3个工作日提醒）「农贸市场改造」"]
    goto(rm, "2030-10-08T10:00:00")                      # the day before the deadline, after the holiday
    assert wait_titles(rm.a, 4)[-1] == "办理期限将于2030-10-09到期（提前1个工作日提醒）「修缮县道」"
    # only the lead unit is reminded; each (item, due date, offset) is recorded once
    assert titles(rm.x) == []
    assert "进展报告将于2030-10-08到期（提前1个工作日提醒）「农贸市场改造」" not in titles(rm.b)
    # on 10-08 the next report is due Fri 10-11 (the 3rd week), 3 working days on
    assert titles(rm.b)[-1] == "进展报告将于2030-10-11到期（提前3个工作日提醒）「农贸市场改造」"
    rows = tp.db_rows(rm.s, "SELECT what, due_date, offset_days FROM core_item_reminders WHERE item_id = ? "
                            "ORDER BY due_date, what, offset_days", a["id"])
    node = a["nodes"][0]["id"]
    assert rows == [("node:%d" % node, "2030-09-27", 1), ("node:%d" % node, "2030-09-27", 3),
                    ("deadline", "2030-10-09", 1), ("deadline", "2030-10-09", 3)]
    # the reminder links to the item
    n = [x for x in rm.a.get("/api/notifications?limit=100").json()["items"] if x["title"] == node3][0]
    assert n["link"] == "#/items/%d" % a["id"] and n["severity"] == "reminder"


def test_a_late_run_sends_one_reminder_for_the_passed_offsets(rm):
    goto(rm, "2030-10-09T10:00:00")
    c = item(rm, title="森林防火", lead_unit=rm.X, deadline="2030-10-14")
    # Fri 10-11: 3 working days before is 10-10 (passed), 1 is the make-up Saturday 10-12 (not yet)
    goto(rm, "2030-10-11T10:00:00")
    assert wait_titles(rm.x, 1) == ["办理期限将于2030-10-14到期（提前3个工作日提醒）「森林防火」"]
    d = item(rm, title="河道清障", lead_unit=rm.X, deadline="2030-10-15")
    # Mon 10-14, the job's next run: 河道清障's offsets 3 (10-11) and 1 (10-14) both passed, one notice;
    # 森林防火's 1-day reminder (due on Sat 10-12, when the job did not run) goes out on its due day
    goto(rm, "2030-10-14T10:00:00")
    got = wait_titles(rm.x, 3)
    assert len(got) == 3 and sorted(got[1:]) == ["办理期限将于2030-10-14到期（提前1个工作日提醒）「森林防火」",
                                                 "办理期限将于2030-10-15到期（提前1个工作日提醒）「河道清障」"], got
    assert tp.db_rows(rm.s, "SELECT offset_days FROM core_item_reminders WHERE item_id = ? ORDER BY 1",
                      d["id"]) == [(1,), (3,)]
    assert c["id"] != d["id"]


@pytest.mark.parametrize("value,where", [("{ 0 }", "items.remind_days[1]"), ("{ 3, 3 }", "items.remind_days[2]"),
                                         ('{ "3" }', "items.remind_days[1]"), ("5", "items.remind_days")])
def test_bad_remind_days_refused_by_check_config(tmp_path, value, where):
    p = tmp_path / "yimen.conf"
    p.write_text('listen = "127.0.0.1:8080"\ndata_dir = "var"\nitems = { remind_days = %s }\n' % value)
    r = run_bin([BIN, "check-config", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and where in r.stderr, r.stderr
    p.write_text('listen = "127.0.0.1:8080"\ndata_dir = "var"\nitems = { remind_days = { 5, 2, 1 } }\n')
    r = run_bin([BIN, "check-config", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_remind_needs_nothing_of_plugins(rm):
    """The job is the engine's: it ran here with no plugin enabled at all."""
    assert tp.db_rows(rm.s, "SELECT count(*) FROM core_jobs WHERE name = 'core.items_remind'")[0][0] == 1
    assert tp.plugins_by_name(rm.admin).get("supervision", {}).get("state") != "enabled"
