"""The tasks plugin (任务清单, lua/tasks): lists and tasks on the tracked-items engine,
Excel import (all or nothing, line-numbered errors; a 146-task list) and export,
decomposition with the deadline rule, the execution ledger against numeric targets,
permissions across units, bad input, and lagging under the test clock: a task red for
longer than red_days emits "tasks.lagging" once (consumed by supervision when enabled)."""
import io
import json
import os
import tempfile
import zipfile
from types import SimpleNamespace

import pytest

import test_plugins as tp
from conftest import wait_for
from directory_helpers import error
from test_lua_services import xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["条款", "任务内容", "目标", "计量单位", "牵头单位", "责任单位", "责任领导", "节点", "完成时限", "报告周期"]


def county(s, admin, tag):
    t = SimpleNamespace(s=s, admin=admin, tag=tag)
    t.O = tp.make_unit(admin, "department", "县政府办" + tag)
    t.A = tp.make_unit(admin, "department", "发改局" + tag)
    t.A1 = tp.make_unit(admin, "department", "发改局项目科" + tag, t.A)
    t.B = tp.make_unit(admin, "department", "交通局" + tag)
    t.X = tp.make_unit(admin, "township", "无关镇" + tag)
    tp.make_role(admin, "t_owner" + tag, ["tasks.read", "tasks.manage"])
    tp.make_role(admin, "t_lead" + tag, ["tasks.read", "tasks.handle", "tasks.manage"])
    tp.make_role(admin, "t_handle" + tag, ["tasks.read", "tasks.handle"])
    t.owner = tp.person(s, admin, t.O, [("t_owner" + tag, t.O, True)])
    t.lead = tp.person(s, admin, t.A, [("t_lead" + tag, t.A, True)])
    t.sub = tp.person(s, admin, t.A1, [("t_handle" + tag, t.A1, True)])
    t.co = tp.person(s, admin, t.B, [("t_handle" + tag, t.B, True)])
    t.other = tp.person(s, admin, t.X, [("t_lead" + tag, t.X, True)])
    return t


@pytest.fixture(scope="module")
def T():
    with tempfile.TemporaryDirectory(prefix="yimen-tasks-") as tmp:
        s = tp.new_server(tmp, tp.plugin_conf([tp.BUILT, tp.LUA], ["tasks"])).start()
        try:
            yield county(s, tp.admin_api(s), "")
        finally:
            tp.stop_clean(s)


def server_today(T):
    # the server's local date (test clock included), from a timestamp it writes
    lst = new_list(T, "日期探测")
    return lst["created_at"][:10]


def new_list(T, title="2026年政府工作报告任务清单", who=None):
    r = (who or T.owner).post("/api/tasks/lists", {"title": title, "source_doc": "2026年县政府工作报告", "year": 2026})
    assert r.status_code == 201, r.text
    return r.json()


def task_body(T, **kw):
    b = {"clause": "一、1", "content": "新建改建农村公路", "target_value": 120, "target_unit": "公里",
         "lead_unit": T.A, "co_units": [T.B], "leader": "王副县长", "nodes": "quarterly",
         "deadline": "2026-12-31", "report_cycle": "monthly 28"}
    b.update(kw)
    return {k: v for k, v in b.items() if v is not None}


def new_task(T, lst, **kw):
    r = T.owner.post("/api/tasks/lists/%d/tasks" % lst["id"], task_body(T, **kw))
    assert r.status_code == 201, r.text
    return r.json()


def import_xlsx(api, lid, data):
    return api.call("POST", "/api/tasks/lists/%d/import" % lid, raw=data, ctype=XLSX)


def rows_146(T, bad_row=None):
    rows = [HEADER]
    for i in range(1, 147):
        lead = "发改局" if i % 2 else "交通局"
        co = "交通局" if i % 2 else ""
        target = str(10 + i) if i % 3 else "完成项目竣工验收"
        unit = "亿元" if i % 3 else ""
        rows.append(["%d" % i, "任务%d：推进重点工作落实" % i, target, unit, lead, co, "李县长",
                     "季度" if i % 4 == 0 else "", "2026-12-31", "每月28日"])
    if bad_row:
        rows[bad_row - 1][8] = "年底前"          # sheet row bad_row, column I: not a date
    return xlsx(rows)


# ================================================================ lists and tasks

def test_list_and_task_crud(T):
    lst = new_list(T)
    assert lst["owner_unit"]["id"] == T.O and lst["year"] == 2026 and lst["tasks"] == 0
    t = new_task(T, lst)
    assert t["target"] == {"kind": "number", "value": 120, "unit": "公里"}
    assert t["lead_unit"]["id"] == T.A and [u["id"] for u in t["co_units"]] == [T.B]
    assert t["report_cycle"] == "monthly 28" and t["nodes"][-1] == {"title": "完成", "deadline": "2026-12-31"}
    item = T.owner.get("/api/items/%d" % t["item_id"]).json()
    assert item["source"] == "tasks" and item["record"] == "tasks_tasks:%d" % t["id"]
    assert item["supervisor_unit"]["id"] == T.O and item["state"] == "assigned" and item["source_kind"] == "task_list"
    assert item["report_cycle"] == "monthly 28" and len(item["nodes"]) == len(t["nodes"])
    g = T.lead.get("/api/tasks/tasks/%d" % t["id"])
    assert g.status_code == 200 and g.json()["item"]["id"] == t["item_id"], g.text
    r = T.owner.patch("/api/tasks/tasks/%d" % t["id"], {"milestone": "全线通车"})
    assert r.status_code == 200 and r.json()["target"] == {"kind": "milestone", "milestone": "全线通车"}, r.text
    r = T.owner.patch("/api/tasks/tasks/%d" % t["id"], {"target_value": 130, "target_unit": "公里"})
    assert r.json()["target"] == {"kind": "number", "value": 130, "unit": "公里"}, r.text
    assert T.owner.get("/api/tasks/lists/%d" % lst["id"]).json()["tasks"] == 1
    assert tp.db_rows(T.s, "SELECT count(*) FROM core_audit WHERE action = 'tasks.task_create' AND target = ?",
                      "tasks_task:%d" % t["id"]) == [(1,)]
    error(T.owner.delete("/api/tasks/lists/%d" % lst["id"]), 409, "conflict")
    empty = new_list(T, "空清单")
    assert T.owner.delete("/api/tasks/lists/%d" % empty["id"]).status_code == 204
    error(T.owner.get("/api/tasks/lists/%d" % empty["id"]), 404, "not_found")


@pytest.mark.parametrize("change,field", [
    ({"clause": ""}, "clause"), ({"content": None}, "content"), ({"target_value": -1}, "target_value"),
    ({"target_unit": None}, "target_unit"), ({"target_value": None}, "target_value"),
    ({"milestone": "竣工"}, "milestone"), ({"lead_unit": 99999999}, "lead_unit"),
    ({"co_units": [99999999]}, "co_units"), ({"deadline": "2026-02-30"}, "deadline"),
    ({"report_cycle": "monthly 32"}, "report_cycle"), ({"nodes": "yearly"}, "nodes"),
    ({"nodes": [{"title": "晚", "deadline": "2027-01-05"}]}, "nodes"), ({"colour": "red"}, "colour"),
])
def test_task_bad_input(T, change, field):
    lst = new_list(T, "坏输入")
    error(T.owner.post("/api/tasks/lists/%d/tasks" % lst["id"], task_body(T, **change)), 400, "invalid", field)
    assert T.owner.get("/api/tasks/lists/%d" % lst["id"]).json()["tasks"] == 0


def test_list_bad_input(T):
    error(T.owner.post("/api/tasks/lists", {"title": "x", "source_doc": "y", "year": 1999}), 400, "invalid", "year")
    error(T.owner.post("/api/tasks/lists", {"title": "", "source_doc": "y", "year": 2026}), 400, "invalid", "title")
    error(T.owner.post("/api/tasks/lists", raw=b"{", ctype="application/json"), 400, "bad_json")
    error(T.owner.post("/api/tasks/lists", {"title": "x", "source_doc": "y", "year": 2026, "owner_unit": T.A}), 403)


# ================================================================ import and export

def test_import_146_with_an_error_in_row_90_writes_nothing(T):
    lst = new_list(T, "146项（错）")
    items_before = tp.db_rows(T.s, "SELECT count(*) FROM core_items WHERE source = 'tasks'")[0][0]
    err = error(import_xlsx(T.owner, lst["id"], rows_146(T, bad_row=90)), 400, "invalid", "file")
    assert "row 90, column I" in err["message"], err
    assert T.owner.get("/api/tasks/lists/%d" % lst["id"]).json()["tasks"] == 0
    assert tp.db_rows(T.s, "SELECT count(*) FROM core_items WHERE source = 'tasks'")[0][0] == items_before
    bad_unit = [HEADER, ["1", "任务", "5", "个", "不存在的局", "", "", "", "2026-12-31", ""]]
    err = error(import_xlsx(T.owner, lst["id"], xlsx(bad_unit)), 400, "invalid", "file")
    assert err["message"].startswith("row 2, column E"), err
    for garbage in (b"", b"not a spreadsheet", xlsx([HEADER])):
        error(import_xlsx(T.owner, lst["id"], garbage), 400, "invalid", "file")
    error(import_xlsx(T.lead, lst["id"], rows_146(T)), 404)    # not its list: not even seen


def test_import_146_and_export(T):
    lst = new_list(T, "146项")
    r = import_xlsx(T.owner, lst["id"], rows_146(T))
    assert r.status_code == 201 and r.json()["imported"] == 146, r.text
    assert T.owner.get("/api/tasks/lists/%d" % lst["id"]).json()["tasks"] == 146
    ids = r.json()["ids"]
    assert tp.db_rows(T.s, "SELECT count(*) FROM core_items WHERE source = 'tasks' AND record IN (%s)"
                      % ",".join("'tasks_tasks:%d'" % i for i in ids)) == [(146,)]
    t = T.owner.get("/api/tasks/tasks/%d" % ids[3]).json()           # row 5: sheet task 4, quarterly
    assert t["node_plan"] == "quarterly" and t["co_units"] == [] and t["lead_unit"]["id"] == T.B
    assert t["target"] == {"kind": "number", "value": 14, "unit": "亿元"}
    assert T.owner.get("/api/tasks/tasks/%d" % ids[2]).json()["target"]["kind"] == "milestone"
    x = T.owner.get("/api/tasks/lists/%d.xlsx" % lst["id"])
    assert x.status_code == 200 and x.content[:2] == b"PK", x.text[:200]
    z = zipfile.ZipFile(io.BytesIO(x.content))
    text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    assert "任务90：推进重点工作落实" in text and "发改局" in text
    # exported, it imports again into another list
    again = new_list(T, "146项（再导入）")
    r = import_xlsx(T.owner, again["id"], x.content)
    assert r.status_code == 201 and r.json()["imported"] == 146, r.text
    # the lead unit sees its own tasks of the list; an unrelated unit sees nothing
    r = T.lead.get("/api/tasks/tasks?list=%d&mine=1&limit=500" % lst["id"])
    assert r.status_code == 200, r.text
    mine = r.json()["items"]
    assert len(mine) == 73 and all(m["list_id"] == lst["id"] and m["lead_unit"]["id"] == T.A for m in mine)
    co = T.co.get("/api/tasks/tasks?list=%d&mine=1&limit=500" % lst["id"]).json()["items"]
    assert len(co) == 146                                # 交通局 leads 73 and co-handles 73
    assert T.other.get("/api/tasks/tasks?list=%d" % lst["id"]).json()["items"] == []
    error(T.other.get("/api/tasks/lists/%d" % lst["id"]), 404)
    error(T.other.get("/api/tasks/lists/%d.xlsx" % lst["id"]), 404)
    page = T.owner.get("/api/tasks/tasks?list=%d&limit=100" % lst["id"]).json()
    assert len(page["items"]) == 100 and page["next"]
    rest = T.owner.get("/api/tasks/tasks?list=%d&limit=100&after=%d" % (lst["id"], page["next"])).json()
    assert len(rest["items"]) == 46 and rest["next"] is None
    by_leader = T.owner.get("/api/tasks/tasks?list=%d&leader=%s&limit=500" % (lst["id"], "李县长")).json()["items"]
    assert len(by_leader) == 146


# ================================================================ decomposition

def test_decomposition_deadline_rules(T):
    lst = new_list(T, "分解")
    p = new_task(T, lst, deadline="2026-12-31", nodes=None)
    url = "/api/tasks/tasks/%d/children" % p["id"]
    error(T.lead.post(url, {"lead_unit": T.A1, "deadline": "2027-01-10"}), 400, "invalid", "deadline")
    error(T.lead.post(url, {"lead_unit": T.B}), 400, "invalid", "lead_unit")       # not below the lead unit
    error(T.co.post(url, {"lead_unit": T.A1}), 403)                                 # a co-unit does not split
    error(T.other.post(url, {"lead_unit": T.A1}), 404)
    r = T.lead.post(url, {"lead_unit": T.A1, "target_value": 40, "deadline": "2026-12-15"})
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["parent_id"] == p["id"] and c["deadline"] == "2026-12-15" and c["target"]["unit"] == "公里"
    assert c["content"] == p["content"] and c["report_cycle"] == "monthly 28"
    inherit = T.lead.post(url, {"lead_unit": T.A1, "content": "子任务二"}).json()
    assert inherit["deadline"] == "2026-12-31", inherit
    item = T.lead.get("/api/items/%d" % c["item_id"]).json()
    assert item["parent_id"] == p["item_id"] and item["supervisor_unit"]["id"] == T.A
    assert [x["id"] for x in T.owner.get("/api/tasks/tasks/%d" % p["id"]).json()["children"]] == [c["id"], inherit["id"]]
    assert T.sub.get("/api/tasks/tasks/%d" % c["id"]).status_code == 200
    error(T.sub.get("/api/tasks/tasks/%d" % p["id"]), 404)


# ================================================================ the ledger

def test_reports_against_a_numeric_target(T):
    lst = new_list(T, "台账")
    t = new_task(T, lst, nodes=None)
    url = "/api/tasks/tasks/%d/reports" % t["id"]
    err = error(T.lead.post(url, {"text": "正在加快推进"}), 400, "invalid", "value")
    assert "120" in err["message"]
    error(T.lead.post(url, {"text": "x", "value": -3}), 400, "invalid", "value")
    error(T.lead.post(url, {"text": "", "value": 3}), 400, "invalid", "text")
    error(T.lead.post(url, {"text": "x", "value": 3, "extra": 1}), 400, "invalid", "extra")
    error(T.other.post(url, {"text": "x", "value": 3}), 404)
    r = T.lead.post(url, {"text": "已完成60公里", "value": 60, "funds": 350.5, "self_assessment": "按序时推进"})
    assert r.status_code == 201, r.text
    rep, task = r.json()["report"], r.json()["task"]
    assert rep["value"] == 60 and rep["funds"] == 350.5 and rep["unit_id"] == T.A
    assert task["achieved"] == 60 and task["progress"] == 0.5 and task["reports"] == 1
    item = T.lead.get("/api/items/%d" % t["item_id"]).json()
    assert item["state"] == "in_progress" and item["units"][0]["percent"] == 50, item["units"]
    r = T.co.post(url, {"text": "配合完成10公里", "value": 10})
    assert r.status_code == 201 and r.json()["report"]["unit_id"] == T.B, r.text
    assert r.json()["task"]["achieved"] == 60          # only the lead unit's value is the task's
    ledger = T.owner.get(url).json()
    assert [x["value"] for x in ledger["items"]] == [60, 10] and ledger["funds_total"] == 350.5
    rid = rep["id"]
    error(T.lead.post("/api/tasks/reports/%d/review" % rid, {"comment": "好", "score": 90}), 403)
    error(T.owner.post("/api/tasks/reports/%d/review" % rid, {"comment": "好", "score": 101}), 400, "invalid", "score")
    r = T.owner.post("/api/tasks/reports/%d/review" % rid, {"comment": "进度符合序时", "score": 92})
    assert r.status_code == 200 and r.json()["score"] == 92 and r.json()["comment"] == "进度符合序时", r.text
    ms = new_task(T, lst, target_value=None, target_unit=None, milestone="完成立项", nodes=None)
    murl = "/api/tasks/tasks/%d/reports" % ms["id"]
    error(T.lead.post(murl, {"text": "x", "value": 1}), 400, "invalid", "value")
    assert T.lead.post(murl, {"text": "立项材料已报送", "percent": 50}).status_code == 201
    rank = T.owner.get("/api/tasks/ranking?list=%d" % lst["id"]).json()["items"]
    assert rank[0]["unit"]["id"] == T.A and rank[0]["rank"] == 1 and rank[0]["score"] == 92
    assert T.lead.get("/api/tasks/ranking?list=%d" % lst["id"]).status_code == 200
    error(T.other.get("/api/tasks/ranking?list=%d" % lst["id"]), 404)


def test_permissions_across_units(T):
    lst = new_list(T, "权限")
    t = new_task(T, lst, nodes=None)
    for api in (T.owner, T.lead, T.co):
        assert api.get("/api/tasks/tasks/%d" % t["id"]).status_code == 200
    error(T.other.get("/api/tasks/tasks/%d" % t["id"]), 404)
    error(T.other.get("/api/tasks/tasks/%d/reports" % t["id"]), 404)
    error(T.lead.patch("/api/tasks/tasks/%d" % t["id"], {"content": "改"}), 403)
    error(T.lead.post("/api/tasks/lists/%d/tasks" % lst["id"], task_body(T)), 403)
    error(T.other.post("/api/tasks/lists/%d/tasks" % lst["id"], task_body(T)), 404)
    error(T.owner.post("/api/tasks/tasks/%d/reports" % t["id"], {"text": "x", "value": 1}), 403)
    assert lst["id"] in [x["id"] for x in T.lead.get("/api/tasks/lists").json()["items"]]
    assert lst["id"] not in [x["id"] for x in T.other.get("/api/tasks/lists").json()["items"]]
    anon = tp.Api(T.s)
    error(anon.get("/api/tasks/lists"), 401)


# ================================================================ editing and withdrawing (engine update / withdraw)

def test_edit_deadline_units_leader_reaches_the_item(T):
    lst = new_list(T, "修改")
    t = new_task(T, lst)                                   # quarterly nodes, then 完成 on 12-31
    url = "/api/tasks/tasks/%d" % t["id"]
    r = T.owner.patch(url, {"deadline": "2026-12-20", "co_units": [T.A1], "leader": "李副县长",
                            "content": "新建改建农村公路（调整）"})
    assert r.status_code == 200, r.text
    n = r.json()
    assert n["deadline"] == "2026-12-20" and [u["id"] for u in n["co_units"]] == [T.A1] and n["leader"] == "李副县长"
    assert n["nodes"][-1] == {"title": "完成", "deadline": "2026-12-20"}
    item = T.owner.get("/api/items/%d" % t["item_id"]).json()
    assert item["deadline"] == "2026-12-20" and item["leader"] == "李副县长"
    assert item["title"] == "一、1 新建改建农村公路（调整）" and item["content"].endswith("目标：120公里")
    assert sorted(u["id"] for u in item["units"] if u["role"] == "co") == [T.A1]
    assert [x["deadline"] for x in item["nodes"]][-1] == "2026-12-20"
    assert any(e["kind"] == "updated" for e in item["timeline"])
    r = T.owner.patch(url, {"leader": None})
    assert r.status_code == 200 and r.json()["leader"] is None, r.text
    assert T.owner.get("/api/items/%d" % t["item_id"]).json()["leader"] is None
    # the co-unit that left no longer reads the task; the new one does
    error(T.co.get(url), 404)
    assert T.sub.get(url).status_code == 200


def test_edit_refusals_write_nothing(T):
    lst = new_list(T, "修改拒绝")
    p = new_task(T, lst, deadline="2026-12-31", nodes=None)
    c = T.lead.post("/api/tasks/tasks/%d/children" % p["id"], {"lead_unit": T.A1, "deadline": "2026-11-30"}).json()
    purl, curl = "/api/tasks/tasks/%d" % p["id"], "/api/tasks/tasks/%d" % c["id"]
    error(T.owner.patch(purl, {"deadline": "2026-11-15"}), 400, "invalid", "deadline")   # before the child's
    error(T.lead.patch(curl, {"deadline": "2027-01-15"}), 400, "invalid", "deadline")    # after the parent's
    error(T.owner.patch(purl, {"deadline": "2026-02-30"}), 400, "invalid", "deadline")
    error(T.owner.patch(purl, {"co_units": [T.A]}), 400, "invalid", "co_units")          # the lead unit
    error(T.owner.patch(purl, {"co_units": "交通局"}), 400, "invalid", "co_units")
    error(T.owner.patch(purl, {"lead_unit": T.B}), 400, "invalid", "lead_unit")          # fixed
    error(T.lead.patch(purl, {"deadline": "2026-12-30"}), 403)                            # not its supervisor
    error(T.other.patch(purl, {"deadline": "2026-12-30"}), 404)
    r = T.owner.call("PATCH", purl, raw=b'{"deadline": ', ctype="application/json")
    assert r.status_code == 400, r.text
    assert T.owner.get(purl).json()["deadline"] == "2026-12-31"
    assert T.owner.get("/api/items/%d" % p["item_id"]).json()["deadline"] == "2026-12-31"
    r = T.lead.patch(curl, {"deadline": "2026-12-31"})                                    # the parent's own: fine
    assert r.status_code == 200 and r.json()["deadline"] == "2026-12-31", r.text


def test_withdraw_a_task(T):
    lst = new_list(T, "撤销")
    p = new_task(T, lst, nodes=None)
    c = T.lead.post("/api/tasks/tasks/%d/children" % p["id"], {"lead_unit": T.A1}).json()
    url = "/api/tasks/tasks/%d/withdraw" % p["id"]
    error(T.owner.post(url, {}), 400, "invalid", "reason")
    error(T.owner.post(url, {"reason": 5}), 400, "invalid", "reason")
    error(T.lead.post(url, {"reason": "x"}), 403)
    error(T.other.post(url, {"reason": "x"}), 404)
    error(T.owner.post("/api/tasks/tasks/99999999/withdraw", {"reason": "x"}), 404)
    error(T.owner.post(url, {"reason": "政策调整"}), 409, "conflict")                      # its child is in force
    r = T.lead.post("/api/tasks/tasks/%d/withdraw" % c["id"], {"reason": "并入其他任务"})  # the child's supervisor
    assert r.status_code == 200 and r.json()["withdrawn_reason"] == "并入其他任务", r.text
    r = T.owner.post(url, {"reason": "政策调整"})
    assert r.status_code == 200 and r.json()["withdrawn_at"], r.text
    item = T.owner.get("/api/items/%d" % p["item_id"]).json()
    assert item["state"] == "withdrawn" and item["timeline"][-1]["kind"] == "withdrawn"
    assert tp.db_rows(T.s, "SELECT count(*) FROM core_todos WHERE key LIKE ? AND resolved_at IS NULL",
                      "item:%d:%%" % p["item_id"]) == [(0,)]
    # out of the lists and the ranking, still readable, refused for more work
    ids = [x["id"] for x in T.owner.get("/api/tasks/tasks?list=%d" % lst["id"]).json()["items"]]
    assert ids == []
    ids = [x["id"] for x in T.owner.get("/api/tasks/tasks?list=%d&withdrawn=1" % lst["id"]).json()["items"]]
    assert ids == [p["id"], c["id"]]
    error(T.owner.get("/api/tasks/tasks?withdrawn=2"), 400, "invalid", "withdrawn")
    assert T.owner.get("/api/tasks/ranking?list=%d" % lst["id"]).json()["items"] == []
    assert T.owner.get("/api/tasks/lists/%d" % lst["id"]).json()["withdrawn"] == 2
    assert T.lead.get("/api/tasks/tasks/%d" % p["id"]).status_code == 200
    error(T.lead.post("/api/tasks/tasks/%d/reports" % p["id"], {"text": "x", "value": 1}), 409, "wrong_state")
    error(T.owner.patch("/api/tasks/tasks/%d" % p["id"], {"leader": "张"}), 409, "wrong_state")
    error(T.owner.post(url, {"reason": "again"}), 409, "wrong_state")
    error(T.lead.post("/api/tasks/tasks/%d/children" % p["id"], {"lead_unit": T.A1}), 409, "wrong_state")
    assert tp.db_rows(T.s, "SELECT count(*) FROM core_audit WHERE action = 'tasks.task_withdraw'") == [(2,)]


def test_export_route_has_its_own_pattern(T):
    lst = new_list(T, "导出")
    new_task(T, lst, nodes=None)
    x = T.owner.get("/api/tasks/lists/%d.xlsx" % lst["id"])
    assert x.status_code == 200 and x.content[:4] == b"PK\x03\x04"
    error(T.owner.get("/api/tasks/lists/abc.xlsx"), 404)
    error(T.owner.get("/api/tasks/lists/%d.pdf" % lst["id"]), 404)      # no such suffix: not a list id either
    error(T.owner.get("/api/tasks/lists/99999999.xlsx"), 404)


# ================================================================ lagging (moves the clock: last)

def lagging_events(s, task_id):
    return [json.loads(p) for (p,) in tp.db_rows(s, "SELECT payload FROM core_events WHERE name = 'tasks.lagging'")
            if json.loads(p)["task_id"] == task_id]


def clock(s, seconds):
    """Moves the test clock; sessions expire meanwhile, so the admin signs in afresh."""
    r = tp.admin_api(s).post("/api/test/clock", {"advance": seconds})
    assert r.status_code == 200, r.text


def task_row(s, task_id):
    return tp.db_rows(s, "SELECT colour, red_since, lagging_at FROM tasks_tasks WHERE id = ?", task_id)[0]


def red_task(T, lst):
    """A task due today, made red by the engine: the clock moves 12 days (8+ working days late)."""
    t = new_task(T, lst, nodes=None, deadline=server_today(T), co_units=[])
    clock(T.s, 12 * 86400)
    tp.admin_api(T.s).post("/api/test/items/recolour")
    assert wait_for(lambda: task_row(T.s, t["id"])[0] == "red", timeout=15), task_row(T.s, t["id"])
    return t


def test_lagging_emits_once_after_red_days(T):
    lst = new_list(T, "滞后")
    t = red_task(T, lst)
    colour, since, lagging_at = task_row(T.s, t["id"])
    assert since and lagging_at is None
    clock(T.s, 4 * 86400)                                # red 4 days: not yet
    clock(T.s, 600)
    assert not wait_for(lambda: lagging_events(T.s, t["id"]), timeout=2)
    clock(T.s, 2 * 86400)                                # red 6 days > red_days 5
    clock(T.s, 600)
    assert wait_for(lambda: lagging_events(T.s, t["id"]), timeout=15)
    ev = lagging_events(T.s, t["id"])[0]
    assert ev["list_id"] == lst["id"] and ev["lead_unit"] == T.A and ev["colour"] == "red"
    assert ev["record"] == "tasks_tasks:%d" % t["id"] and ev["deadline"] == t["deadline"] and ev["title"]
    assert ev["since"].startswith(t["deadline"][:4])
    clock(T.s, 86400)
    clock(T.s, 600)
    wait_for(lambda: len(lagging_events(T.s, t["id"])) > 1, timeout=2)
    assert len(lagging_events(T.s, t["id"])) == 1
    assert task_row(T.s, t["id"])[2]


@pytest.mark.skipif(not os.path.exists(os.path.join(tp.BUILT, "supervision", "supervision.so")),
                    reason="the supervision plugin is not built")
def test_lagging_reaches_supervision_when_enabled(tmp_path):
    s = tp.new_server(str(tmp_path), tp.plugin_conf([tp.BUILT, tp.LUA], ["tasks", "supervision"],
                                                     "tasks = { red_days = 1 }\n")).start()
    try:
        T2 = county(s, tp.admin_api(s), "")
        lst = new_list(T2, "滞后（督查）")
        t = red_task(T2, lst)
        clock(s, 2 * 86400)
        clock(s, 600)
        assert wait_for(lambda: lagging_events(s, t["id"]), timeout=15)
        assert wait_for(lambda: tp.db_rows(s, "SELECT count(*) FROM core_items WHERE source = 'supervision'")[0][0]
                        >= 1, timeout=15)
        titles = [x for (x,) in tp.db_rows(s, "SELECT title FROM core_items WHERE source = 'supervision'")]
        assert any(x.startswith("滞后任务：") for x in titles), titles
    finally:
        tp.stop_clean(s)
