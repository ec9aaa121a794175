"""The two core engines from a C plugin (ABI 1.2), through the teaching plugin hello: a
hello item tracked as a 督办 item (item_create, item_act, item_get) and acted on through
the core routes /api/items/:id/... with hello's permissions; a hello item dispatched to
units (dispatch_create, dispatch_board) and signed through /api/dispatches/:id/...."""
import tempfile
from types import SimpleNamespace

import pytest

import test_plugins as tp
from directory_helpers import error


@pytest.fixture(scope="module")
def h():
    with tempfile.TemporaryDirectory(prefix="yimen-engines-") as tmp:
        s = tp.new_server(tmp, tp.plugin_conf([tp.BUILT, tp.LUA], ["hello", "hello_lua"])).start()
        try:
            admin = tp.admin_api(s)
            t = SimpleNamespace(s=s, admin=admin)
            t.S = tp.make_unit(admin, "department", "督查室")
            t.A = tp.make_unit(admin, "township", "牵头镇")
            t.C = tp.make_unit(admin, "department", "配合局")
            t.X = tp.make_unit(admin, "township", "无关镇")
            tp.make_role(admin, "eng_sup", ["hello.read", "hello.write", "hello.manage", "hello.send"])
            tp.make_role(admin, "eng_handle", ["hello.read", "hello.handle", "hello.receive"])
            t.sup = tp.person(s, admin, t.S, [("eng_sup", t.S, True)])
            t.lead = tp.person(s, admin, t.A, [("eng_handle", t.A, True)])
            t.co = tp.person(s, admin, t.C, [("eng_handle", t.C, True)])
            t.other = tp.person(s, admin, t.X, [("eng_handle", t.X, True)])
            yield t
        finally:
            tp.stop_clean(s)


def hello_item(api, name):
    r = api.post("/api/hello/items", {"name": name})
    assert r.status_code == 201, r.text
    return r.json()


def track(t, name="督办示例", **body):
    item = hello_item(t.sup, name)
    body.setdefault("lead_unit", t.A)
    body.setdefault("co_units", [t.C])
    body.setdefault("deadline_workdays", 5)
    r = t.sup.post("/api/hello/items/%d/track" % item["id"], body)
    assert r.status_code == 201, r.text
    return item, r.json()


def test_tracked_item_through_every_state(h):
    item, tracked = track(h, "修缮示例县道")
    tid = tracked["id"]
    assert tracked["source"] == "hello" and tracked["record"] == "hello_items:%d" % item["id"]
    assert tracked["state"] == "assigned" and tracked["lead_unit"]["id"] == h.A and tracked["deadline"]
    # the lead unit accepts, reports; the co-unit reports its part; the lead completes
    assert h.lead.post("/api/items/%d/accept" % tid).status_code == 200
    r = h.lead.post("/api/items/%d/report" % tid, {"text": "方案已完成", "percent": 50})
    assert r.status_code == 201, r.text
    r = h.co.post("/api/items/%d/report" % tid, {"text": "配合资金已落实", "percent": 100})
    assert r.status_code == 201, r.text
    r = h.lead.post("/api/items/%d/complete" % tid, {"text": "全部完成"})
    assert r.status_code == 201, r.text
    # the supervising side (hello.manage on the supervisor unit) reviews and closes
    assert h.sup.post("/api/items/%d/review" % tid, {"accept": True}).status_code == 200
    r = h.sup.post("/api/items/%d/close" % tid)
    assert r.status_code == 200 and r.json()["state"] == "closed", r.text
    full = h.sup.get("/api/items/%d" % tid).json()
    parts = {u["id"]: u for u in full["units"]}
    assert parts[h.C]["reports"] == 1 and parts[h.A]["reports"] >= 1
    # a report on a closed item: 409, nothing written
    error(h.lead.post("/api/items/%d/report" % tid, {"text": "再报"}), 409, "wrong_state")


def test_urge_through_item_act_and_refusals(h):
    _, tracked = track(h, "催办示例")
    tid = tracked["id"]
    r = h.sup.post("/api/hello/tracked/%d/urge" % tid, {"message": "请加快进度"})
    assert r.status_code == 200, r.text
    assert r.json()["urge_count"] == 1
    inbox = h.lead.get("/api/notifications").json()["items"]
    assert any("请加快进度" in (n["body"] or "") or "催办" in n["title"] for n in inbox), inbox
    error(h.sup.post("/api/hello/tracked/99999999/urge", {"message": "x"}), 404, "not_found")
    error(h.sup.post("/api/hello/tracked/%d/urge" % tid, {"message": 5}), 400, "invalid")
    error(h.sup.post("/api/hello/tracked/%d/urge" % tid, raw=b"{"), 400, "bad_json")
    # a handler is not the supervising side
    error(h.lead.post("/api/hello/tracked/%d/urge" % tid, {"message": "x"}), 403)
    # an unrelated unit cannot act on it through the core routes
    error(h.other.post("/api/items/%d/accept" % tid), 404)


def test_track_errors(h):
    item = hello_item(h.sup, "错误示例")
    error(h.sup.post("/api/hello/items/%d/track" % item["id"], {"lead_unit": 99999999, "deadline_workdays": 3}),
          400, "invalid")
    error(h.sup.post("/api/hello/items/%d/track" % item["id"], {"lead_unit": h.A}), 400, "invalid")
    error(h.sup.post("/api/hello/items/%d/track" % item["id"], {"lead_unit": h.A, "deadline": "2026-13-01"}),
          400, "invalid")
    error(h.sup.post("/api/hello/items/%d/track" % item["id"], {"lead_unit": "A", "deadline_workdays": 3}),
          400, "invalid")
    error(h.sup.post("/api/hello/items/%d/track" % item["id"], {"colour": "red"}), 400, "invalid")
    error(h.lead.post("/api/hello/items/%d/track" % item["id"], {"lead_unit": h.A, "deadline_workdays": 3}), 403)
    assert tp.db_rows(h.s, "SELECT count(*) FROM core_items WHERE record = ?",
                      "hello_items:%d" % item["id"]) == [(0,)]


def test_dispatch_sign_and_board(h):
    item = hello_item(h.sup, "春耕会议通知示例")
    r = h.sup.post("/api/hello/items/%d/dispatch" % item["id"],
                   {"unit_ids": [h.A, h.C], "deadline_in": 86400,
                    "reply_form": {"fields": [{"name": "attending", "type": "boolean", "required": True}]}})
    assert r.status_code == 201, r.text
    board = r.json()
    did = board["id"]
    assert board["counts"]["total"] == 2 and board["counts"]["missing"] == 2, board["counts"]
    # the lead unit signs through the plugin (dispatch_act), the co unit through the core route
    r = h.lead.post("/api/hello/dispatches/%d/sign" % did)
    assert r.status_code == 200, r.text
    error(h.lead.post("/api/hello/dispatches/%d/sign" % did), 409)          # signed already
    r = h.co.post("/api/dispatches/%d/sign" % did)
    assert r.status_code == 200, r.text
    r = h.co.post("/api/dispatches/%d/reply" % did, {"answers": {"attending": True}})
    assert r.status_code == 200, r.text
    b = h.sup.get("/api/dispatches/%d/board" % did).json()
    assert b["counts"]["signed"] == 1 and b["counts"]["replied"] == 1, b["counts"]
    assert b["counts"]["signed_or_replied"] == 2 and b["counts"]["missing"] == 1, b["counts"]  # A owes its reply
    assert [m["unit_id"] if "unit_id" in m else m["unit"]["id"] for m in b["missing"]] == [h.A], b["missing"]
    # an outsider neither sees nor signs it; the plugin route says the same
    error(h.other.get("/api/dispatches/%d" % did), 404)
    error(h.other.post("/api/hello/dispatches/%d/sign" % did), 404)
    error(h.lead.post("/api/hello/dispatches/99999999/sign"), 404)
    error(h.sup.post("/api/hello/dispatches/%d/sign" % did), 403)  # no hello.receive anywhere


def test_dispatch_errors(h):
    item = hello_item(h.sup, "分发错误示例")
    error(h.sup.post("/api/hello/items/%d/dispatch" % item["id"], {"unit_ids": "A"}), 400, "invalid")
    error(h.sup.post("/api/hello/items/%d/dispatch" % item["id"], {"unit_ids": [99999999]}), 400, "invalid")
    error(h.sup.post("/api/hello/items/%d/dispatch" % item["id"], {"unit_ids": [h.A], "colour": 1}), 400, "invalid")
    error(h.sup.post("/api/hello/items/%d/dispatch" % item["id"], raw=b"{"), 400, "bad_json")
    error(h.lead.post("/api/hello/items/%d/dispatch" % item["id"], {"unit_ids": [h.A]}), 403)
    assert tp.db_rows(h.s, "SELECT count(*) FROM core_dispatches WHERE record = ?",
                      "hello_items:%d" % item["id"]) == [(0,)]


def test_report_files_are_read_by_the_items_parties(h):
    _, tracked = track(h, "带附件的督办")
    tid = tracked["id"]
    assert h.lead.post("/api/items/%d/accept" % tid).status_code == 200
    f = h.lead.call("POST", "/api/files?name=%E8%BF%9B%E5%B1%95.txt", raw=b"progress", ctype="text/plain").json()
    r = h.lead.post("/api/items/%d/report" % tid, {"text": "附进展材料", "file_ids": [f["id"]]})
    assert r.status_code == 201, r.text
    assert h.sup.get("/api/files/%d" % f["id"]).status_code == 200        # the supervising side
    assert h.co.get("/api/files/%d" % f["id"]).status_code == 200         # a co-unit
    error(h.other.get("/api/files/%d" % f["id"]), 404)                   # nobody else
