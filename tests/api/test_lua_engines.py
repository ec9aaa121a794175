"""The two core engines from a Lua plugin (ABI 1.2), through hello_lua: a greeting tracked
as a 督办 item (yimen.items.create / act / get) and acted on through the core routes with
hello_lua's permissions; refusals of the engine come back as (nil, reason, code, field);
an item changed and withdrawn (撤销) through yimen.items.act "update" and "withdraw"."""
import tempfile
from types import SimpleNamespace

import pytest

import test_plugins as tp
from directory_helpers import error


@pytest.fixture(scope="module")
def h():
    with tempfile.TemporaryDirectory(prefix="yimen-lua-engines-") as tmp:
        s = tp.new_server(tmp, tp.plugin_conf([tp.BUILT, tp.LUA], ["hello_lua"])).start()
        try:
            admin = tp.admin_api(s)
            t = SimpleNamespace(s=s, admin=admin)
            t.S = tp.make_unit(admin, "department", "督查室")
            t.A = tp.make_unit(admin, "township", "牵头镇")
            t.X = tp.make_unit(admin, "township", "无关镇")
            tp.make_role(admin, "lua_sup", ["hello_lua.read", "hello_lua.write", "hello_lua.manage", "hello_lua.send"])
            tp.make_role(admin, "lua_handle", ["hello_lua.read", "hello_lua.handle", "hello_lua.receive"])
            t.sup = tp.person(s, admin, t.S, [("lua_sup", t.S, True)])
            t.lead = tp.person(s, admin, t.A, [("lua_handle", t.A, True)])
            t.other = tp.person(s, admin, t.X, [("lua_handle", t.X, True)])
            yield t
        finally:
            tp.stop_clean(s)


def greeting(api, text):
    r = api.post("/api/hello_lua/greetings", {"text": text})
    assert r.status_code == 201, r.text
    return r.json()


def track(t, text, **body):
    g = greeting(t.sup, text)
    body.setdefault("lead_unit", t.A)
    body.setdefault("deadline_workdays", 5)
    r = t.sup.post("/api/hello_lua/greetings/%d/track" % g["id"], body)
    assert r.status_code == 201, r.text
    return g, r.json()


def test_tracked_greeting_flow(h):
    g, item = track(h, "督办的问候")
    tid = item["id"]
    assert item["source"] == "hello_lua" and item["record"] == "hello_lua_greetings:%d" % g["id"]
    assert item["state"] == "assigned" and item["lead_unit"]["id"] == h.A
    assert h.lead.post("/api/items/%d/accept" % tid).status_code == 200
    assert h.lead.post("/api/items/%d/complete" % tid, {"text": "完成"}).status_code == 201
    assert h.sup.post("/api/items/%d/review" % tid, {"accept": True}).status_code == 200
    assert h.sup.post("/api/items/%d/close" % tid).json()["state"] == "closed"
    # the engine refuses an urge on a closed item: the plugin answers 409 from the code
    error(h.sup.post("/api/hello_lua/tracked/%d/urge" % tid, {"message": "晚了"}), 409, "wrong_state")


def test_urge_and_refusals(h):
    _, item = track(h, "要催办的问候")
    r = h.sup.post("/api/hello_lua/tracked/%d/urge" % item["id"], {"message": "请尽快"})
    assert r.status_code == 200 and r.json()["urge_count"] == 1, r.text
    error(h.sup.post("/api/hello_lua/tracked/99999999/urge", {"message": "x"}), 404, "not_found")
    error(h.lead.post("/api/hello_lua/tracked/%d/urge" % item["id"], {"message": "x"}), 403)
    error(h.other.post("/api/items/%d/accept" % item["id"]), 404)
    g = greeting(h.sup, "错误的督办")
    error(h.sup.post("/api/hello_lua/greetings/%d/track" % g["id"], {"lead_unit": h.A}), 400, "invalid")
    error(h.sup.post("/api/hello_lua/greetings/%d/track" % g["id"], {"lead_unit": h.A, "x": 1}), 400, "invalid", "x")
    error(h.sup.post("/api/hello_lua/greetings/%d/track" % g["id"], raw=b"[]"), 400, "invalid")
    assert tp.db_rows(h.s, "SELECT count(*) FROM core_items WHERE record = ?",
                      "hello_lua_greetings:%d" % g["id"]) == [(0,)]


def test_dispatch_from_lua(h):
    g = greeting(h.sup, "分发的问候")
    r = h.sup.post("/api/hello_lua/greetings/%d/dispatch" % g["id"], {"unit_ids": [h.A], "deadline_in": 3600})
    assert r.status_code == 201, r.text
    board = r.json()
    assert board["counts"]["total"] == 1 and board["counts"]["missing"] == 1
    did = board["id"]
    error(h.other.post("/api/hello_lua/dispatches/%d/sign" % did), 404)
    r = h.lead.post("/api/hello_lua/dispatches/%d/sign" % did)
    assert r.status_code == 200, r.text
    error(h.lead.post("/api/hello_lua/dispatches/%d/sign" % did), 409, "wrong_state")
    b = h.sup.get("/api/dispatches/%d/board" % did).json()
    assert b["counts"]["signed"] == 1 and b["counts"]["missing"] == 0 and b["full_receipt_at"], b["counts"]
    error(h.sup.post("/api/hello_lua/greetings/%d/dispatch" % g["id"], {"unit_ids": [99999999]}), 400, "invalid")
    error(h.lead.post("/api/hello_lua/greetings/%d/dispatch" % g["id"], {"unit_ids": [h.A]}), 403)


def test_update_and_withdraw_from_lua(h):
    _, item = track(h, "要修改的问候")
    tid = item["id"]
    base = "/api/hello_lua/tracked/%d/" % tid
    r = h.sup.post(base + "update", {"title": "修改后的问候", "deadline": "2030-09-30", "leader": "李主任"})
    assert r.status_code == 200, r.text
    it = r.json()
    assert it["title"] == "修改后的问候" and it["deadline"] == "2030-09-30" and it["leader"] == "李主任"
    assert it["timeline"][-1]["kind"] in ("updated", "colour")
    assert any(e["kind"] == "updated" for e in it["timeline"])
    # refusals name the field (the fourth value of yimen.items.act) and write nothing
    error(h.sup.post(base + "update", {"deadline": "2030-02-30"}), 400, "invalid", "deadline")
    error(h.sup.post(base + "update", {"title": 7}), 400, "invalid", "title")
    error(h.sup.post(base + "update", {"colour": "red"}), 400, "invalid", "colour")
    error(h.sup.post(base + "update", {"co_units": [h.A]}), 400, "invalid", "co_units")
    error(h.sup.post(base + "withdraw", {}), 400, "invalid", "reason")
    error(h.lead.post(base + "withdraw", {"reason": "x"}), 403)
    error(h.sup.post("/api/hello_lua/tracked/99999999/withdraw", {"reason": "x"}), 404, "not_found")
    assert h.sup.get("/api/items/%d" % tid).json()["deadline"] == "2030-09-30"
    r = h.sup.post(base + "withdraw", {"reason": "不再需要"})
    assert r.status_code == 200 and r.json()["state"] == "withdrawn", r.text
    error(h.sup.post(base + "update", {"title": "再改"}), 409, "wrong_state")
    error(h.lead.post("/api/items/%d/accept" % tid), 409, "wrong_state")
    assert tp.db_rows(h.s, "SELECT count(*) FROM core_audit WHERE action = 'hello_lua.withdraw' AND target = ?",
                      "item:%d" % tid) == [(1,)]
