"""Changing and withdrawing tracked items (修改 / 撤销) over HTTP: PATCH /api/items/:id and
POST /api/items/:id/withdraw by the supervising office; the timeline keeps the old and new
values; the lead unit's open to-do follows the new deadline; a withdrawn item loses its
to-dos and takes no more actions but keeps its history and audit rows; closed items are
refused; another unit's user gets 404 and the lead unit 403; bad input names the field and
writes nothing. Items are created through the test-only POST /api/test/items."""
import json

import pytest

from directory_helpers import audit, county, db_value, error, make_unit, person, serve


@pytest.fixture(scope="module")
def srv():
    yield from serve("yimen-items-edit-")


@pytest.fixture(scope="module")
def t(srv):
    t = county(srv)
    admin = t.admin
    t.OFFICE = make_unit(admin, "department", "督查室")
    t.C1 = make_unit(admin, "department", "财政局")
    t.C2 = make_unit(admin, "department", "自然资源局")
    t.C3 = make_unit(admin, "department", "住建局")
    r = admin.post("/api/roles", {"key": "sup_role", "name": "督查员", "permissions": ["itemtest.manage"]})
    assert r.status_code == 201, r.text
    r = admin.post("/api/roles", {"key": "handler_role", "name": "承办员", "permissions": ["itemtest.handle"]})
    assert r.status_code == 201, r.text
    t.sup = person(srv, admin, t.OFFICE, roles=[("sup_role", t.OFFICE, False)], display_name="督查员")
    t.lead = person(srv, admin, t.A, roles=[("handler_role", t.A, False)], display_name="甲镇承办")
    t.other = person(srv, admin, t.B, roles=[("handler_role", t.B, False)], display_name="乙镇承办")
    return t


def create(t, **kw):
    body = dict(source="itemtest", source_kind="instruction", title="修缮县道", supervisor_unit=t.OFFICE,
                lead_unit=t.A, co_units=[t.C1, t.C2], deadline="2030-06-30", assign=True)
    body.update(kw)
    r = t.admin.post("/api/test/items", body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def ok(resp, status=200):
    assert resp.status_code == status, resp.text
    return resp.json()


def open_todos(t, iid):
    return db_value(t.srv, "SELECT count(*) FROM core_todos WHERE owner = 'core' AND key LIKE ? "
                           "AND resolved_at IS NULL", "item:%d:%%" % iid)


def test_update_fields_timeline_todo_and_audit(t):
    iid = create(t, nodes=[{"title": "方案", "deadline": "2030-03-31"}, {"title": "完成", "deadline": "2030-06-30"}])
    ok(t.lead.api.post("/api/items/%d/accept" % iid, {}))
    it = ok(t.sup.api.patch("/api/items/%d" % iid, {
        "title": "修缮县道（调整）", "content": "增加路灯", "deadline": "2030-09-30",
        "co_units": [t.C2, t.C3], "leader": "王副县长"}))
    assert it["title"] == "修缮县道（调整）" and it["content"] == "增加路灯"
    assert it["deadline"] == "2030-09-30" and it["leader"] == "王副县长" and it["state"] == "accepted"
    # the completion node, due on the old deadline, moves with it; the others stay
    assert [n["deadline"] for n in it["nodes"]] == ["2030-03-31", "2030-09-30"]
    co = sorted(u["id"] for u in it["units"] if u["role"] == "co")
    assert co == sorted([t.C2, t.C3])
    row = [e for e in it["timeline"] if e["kind"] == "updated"][-1]
    detail = row["detail"]
    assert detail["deadline"] == {"from": "2030-06-30", "to": "2030-09-30"}
    assert detail["title"]["from"] == "修缮县道" and detail["content"] is True
    assert detail["co_units"]["from"] == sorted([t.C1, t.C2]) and detail["co_units"]["to"] == sorted([t.C2, t.C3])
    # the lead unit's open to-do shows the new title and is due on the new deadline
    title = db_value(t.srv, "SELECT title FROM core_todos WHERE owner = 'core' AND key = ? AND resolved_at IS NULL",
                     "item:%d:handle" % iid)
    assert title == "办理督办：修缮县道（调整）"
    a = audit(t.srv, action="items.update", target="item:%d" % iid)
    assert a and a[-1]["result"] == "ok"
    # the leader cleared; an empty change is a no-op without a timeline row
    it = ok(t.sup.api.patch("/api/items/%d" % iid, {"leader": None}))
    assert it["leader"] is None
    n = len(it["timeline"])
    it = ok(t.sup.api.patch("/api/items/%d" % iid, {}))
    assert len(it["timeline"]) == n


def test_update_bad_input_writes_nothing(t):
    iid = create(t, nodes=[{"title": "方案", "deadline": "2030-03-31"}])
    path = "/api/items/%d" % iid
    r = t.sup.api.call("PATCH", path, raw=b'{"title": ', ctype="application/json")
    assert r.status_code == 400, r.text
    error(t.sup.api.patch(path, {"title": 5}), 400, field="title")
    error(t.sup.api.patch(path, {"title": ""}), 400, field="title")
    error(t.sup.api.patch(path, {"title": "新标题", "deadline": "2030-02-30"}), 400, field="deadline")
    error(t.sup.api.patch(path, {"title": "新标题", "deadline": "2030-03-01"}), 400, field="deadline")  # node after it
    error(t.sup.api.patch(path, {"title": "新标题", "co_units": [t.A]}), 400, field="co_units")  # the lead unit
    error(t.sup.api.patch(path, {"title": "新标题", "co_units": [t.C1, t.C1]}), 400, field="co_units")
    error(t.sup.api.patch(path, {"title": "新标题", "co_units": [999999]}), 400, field="co_units")
    error(t.sup.api.patch(path, {"title": "新标题", "co_units": "1,2"}), 400, field="co_units")
    error(t.sup.api.patch(path, {"title": "新标题", "leader": ["x"]}), 400, field="leader")
    error(t.sup.api.patch(path, {"title": "新标题", "state": "closed"}), 400, field="state")
    it = ok(t.sup.api.get(path))
    assert it["title"] == "修缮县道" and it["deadline"] == "2030-06-30"
    assert not [e for e in it["timeline"] if e["kind"] == "updated"]
    error(t.sup.api.patch("/api/items/999999", {"title": "x"}), 404)
    error(t.sup.api.patch("/api/items/abc", {"title": "x"}), 404)


def test_permissions(t):
    iid = create(t)
    path = "/api/items/%d" % iid
    error(t.other.api.patch(path, {"title": "乙镇改"}), 404)           # no part in it
    error(t.other.api.post(path + "/withdraw", {"reason": "x"}), 404)
    error(t.lead.api.patch(path, {"title": "甲镇改"}), 403)            # a party, not the supervisor
    error(t.lead.api.post(path + "/withdraw", {"reason": "x"}), 403)
    it = ok(t.sup.api.get(path))
    assert it["title"] == "修缮县道" and it["state"] == "assigned"
    assert audit(t.srv, action="update", target="item:%d" % iid, result="denied")
    assert not audit(t.srv, action="items.update", target="item:%d" % iid)


def test_withdraw_drops_todos_keeps_history(t):
    iid = create(t)
    path = "/api/items/%d" % iid
    ok(t.lead.api.post(path + "/accept", {}))
    ok(t.lead.api.post(path + "/report", {"text": "已开工", "percent": 20}), 201)
    assert open_todos(t, iid) >= 1
    error(t.sup.api.post(path + "/withdraw", {}), 400, field="reason")
    error(t.sup.api.post(path + "/withdraw", {"reason": 3}), 400, field="reason")
    error(t.sup.api.post(path + "/withdraw", {"reason": "x", "why": 1}), 400, field="why")
    assert ok(t.sup.api.get(path))["state"] == "in_progress"
    it = ok(t.sup.api.post(path + "/withdraw", {"reason": "上级政策调整，不再实施"}))
    assert it["state"] == "withdrawn"
    assert open_todos(t, iid) == 0
    kinds = [e["kind"] for e in it["timeline"]]
    assert kinds[-1] == "withdrawn" and "report" in kinds and "accepted" in kinds
    assert it["timeline"][-1]["detail"]["reason"] == "上级政策调整，不再实施"
    assert db_value(t.srv, "SELECT withdrawn_at IS NOT NULL FROM core_items WHERE id = ?", iid) == 1
    assert audit(t.srv, action="items.withdraw", target="item:%d" % iid, result="ok")
    # no more actions
    error(t.lead.api.post(path + "/report", {"text": "继续"}), 409, "wrong_state")
    error(t.sup.api.patch(path, {"title": "再改"}), 409, "wrong_state")
    error(t.sup.api.post(path + "/withdraw", {"reason": "again"}), 409, "wrong_state")
    # found by state, out of the open items
    ids = [i["id"] for i in ok(t.sup.api.get("/api/items?state=withdrawn"))["items"]]
    assert iid in ids
    ids = [i["id"] for i in ok(t.sup.api.get("/api/items?state=in_progress"))["items"]]
    assert iid not in ids
    ev = db_value(t.srv, "SELECT payload FROM core_events WHERE name = 'core.items.state' "
                         "AND payload LIKE ? ORDER BY id DESC LIMIT 1", '%%"item_id":%d,%%' % iid)
    assert json.loads(ev)["to"] == "withdrawn"


def test_closed_item_refused(t):
    iid = create(t)
    path = "/api/items/%d" % iid
    ok(t.lead.api.post(path + "/accept", {}))
    ok(t.lead.api.post(path + "/complete", {"text": "已完工"}), 201)
    ok(t.sup.api.post(path + "/review", {"accept": True}))
    ok(t.sup.api.post(path + "/close", {}))
    error(t.sup.api.patch(path, {"title": "改"}), 409, "wrong_state")
    error(t.sup.api.post(path + "/withdraw", {"reason": "撤销"}), 409, "wrong_state")
    assert ok(t.sup.api.get(path))["state"] == "closed"


def test_draft_withdrawn_without_notices(t):
    iid = create(t, assign=False)
    it = ok(t.sup.api.post("/api/items/%d/withdraw" % iid, {"reason": "重复立项"}))
    assert it["state"] == "withdrawn"
