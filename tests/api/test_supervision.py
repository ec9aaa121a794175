"""The supervision plugin (督查督办, plugins/supervision): intake by hand and from the
events of documents (批示), meetings (minutes' decisions) and tasks (a lagging task, from
a small fixture plugin compiled here), one case per source; the flow to closing through
the core routes /api/items/:id/...; the public board with lag reasons visible to an
unrelated staff member and restricted cases hidden from them; the league table exact on
a small known data set; escalation of a red case to its leader; the 通报 with its .xlsx;
bad input writing nothing. Also runs with documents and meetings disabled (the
subscriptions simply never fire)."""
import io
import json
import os
import subprocess
import tempfile
import time
import zipfile
from types import SimpleNamespace

import pytest

import test_plugins as tp
from directory_helpers import error

AUTH = ('auth = { argon2 = { memory = "1MiB", iterations = 1 }, idle_timeout = "7d", absolute_timeout = "30d",\n'
        '         rate_limit = { per_ip = 100000, per_account = 100000 } }\n')

# a stand-in for the tasks plugin: POST /api/tasks/lagging emits tasks.lagging with the body
TASKS_C = r'''
#include <stdlib.h>
#include <string.h>
#include "yimen.h"
static const ym_api *api;
static void lagging(ym_request *r, void *ud)
{
    size_t len;
    const char *body = api->req_body(r, &len);
    char *p = strndup(body, len);
    int rc = api->emit(ud, "tasks.lagging", p);
    free(p);
    if (rc < 0)
        api->resp_error(r, 400, "invalid", api->error(ud));
    else
        api->resp_json(r, 200, "{\"emitted\":true}");
}
static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
    return api->route(self, "POST", "/api/tasks/lagging", "user", lagging, self);
}
const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "tasks", .version = "0.0.1", .core_min = "0.1", .init = init,
};
'''


def build_tasks_fixture(base):
    src = os.path.join(base, "tasks_fixture.c")
    with open(src, "w") as f:
        f.write(TASKS_C)
    so = os.path.join(base, "tasks_fixture.so")
    r = subprocess.run(["gcc", "-std=gnu11", "-shared", "-fPIC", "-Wall", "-Werror", "-I" + tp.INCLUDE]
                       + tp._pkg("--cflags") + ["-o", so, src] + tp._pkg("--libs"), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return tp.install(os.path.join(base, "fx"), "tasks", so)


def county(s):
    admin = tp.admin_api(s)
    t = SimpleNamespace(s=s, admin=admin)
    t.O = tp.make_unit(admin, "department", "县委督查室")
    t.A = tp.make_unit(admin, "township", "甲镇")
    t.B = tp.make_unit(admin, "department", "县财政局")
    t.X = tp.make_unit(admin, "township", "无关镇")
    tp.make_role(admin, "sv_office", ["supervision.manage", "supervision.read"])
    tp.make_role(admin, "sv_unit", ["supervision.handle"])
    t.office = tp.person(s, admin, t.O, [("sv_office", t.O, False)])
    t.lead = tp.person(s, admin, t.A, [("sv_unit", t.A, False)])
    t.co = tp.person(s, admin, t.B, [("sv_unit", t.B, False)])
    t.staff = tp.person(s, admin, t.X)                     # an unrelated staff member, no grants
    t.leader = tp.person(s, admin, t.O)                    # 王县长, a user
    return t


@pytest.fixture(scope="module")
def sv():
    with tempfile.TemporaryDirectory(prefix="yimen-supervision-") as tmp:
        fx = os.path.dirname(build_tasks_fixture(tmp))
        conf = tp.plugin_conf([fx, tp.BUILT], ["supervision", "tasks"]).replace(tp.AUTH, AUTH)
        s = tp.new_server(tmp, conf).start()
        try:
            yield county(s)
        finally:
            tp.stop_clean(s)


# ---------------------------------------------------------------- helpers

def case_body(t, **kw):
    body = {"source_kind": "instruction", "text": "请县财政局、甲镇抓紧修缮县道，月底前报结果。", "leader": "王县长",
            "leader_user": t.leader.id, "lead_unit": t.A, "co_units": [t.B], "deadline": "2031-06-30",
            "report_cycle": "weekly"}
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def new_case(t, **kw):
    r = t.office.post("/api/supervision/cases", case_body(t, **kw))
    assert r.status_code == 201, r.text
    return r.json()


def n_cases(t):
    return tp.db_rows(t.s, "SELECT count(*) FROM supervision_cases")[0][0]


def board(api, query=""):
    r = api.get("/api/supervision/board" + query)
    assert r.status_code == 200, r.text
    return r.json()


def all_board(api, query=""):
    out, after = [], None
    while True:
        sep = "&" if query else "?"
        page = board(api, query + ("%safter=%d" % (sep, after) if after else ""))
        out += page["items"]
        if page["next"] is None:
            return out
        after = page["next"]


def wait_case(t, ref, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = tp.db_rows(t.s, "SELECT id, item_id FROM supervision_cases WHERE source_ref = ?", ref)
        if rows:
            return rows[0]
        time.sleep(0.05)
    raise AssertionError("no case for %s:\n%s" % (ref, t.s.log_text()[-3000:]))


def recolour(t):
    r = t.admin.post("/api/test/items/recolour")
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- intake by hand

def test_intake_by_hand(sv):
    c = new_case(sv, source_record="documents_incoming:77", title="修缮县道")
    assert c["origin"] == "hand" and c["source_kind"] == "instruction" and c["title"] == "修缮县道"
    assert c["original_text"].startswith("请县财政局") and c["leader"] == "王县长" and c["leader_user"] == sv.leader.id
    assert c["supervisor_unit"] == sv.O and c["lead_unit"] == sv.A and not c["restricted"] and c["view"] == "full"
    it = c["item"]
    assert it["source"] == "supervision" and it["record"] == "supervision_cases:%d" % c["id"]
    assert it["state"] == "assigned" and it["deadline"] == "2031-06-30" and it["leader"] == "王县长"
    assert [u["id"] for u in it["units"]] == [sv.A, sv.B] and it["report_cycle"] == "weekly"
    assert [lk["record"] for lk in it["links"]] == ["documents_incoming:77"]
    assert tp.db_rows(sv.s, "SELECT action FROM core_audit WHERE target = ?", "supervision_cases:%d" % c["id"]) == \
        [("supervision.create",)]
    # a title is made from the text when not given; working days instead of a date; nodes
    c2 = new_case(sv, title=None, deadline=None, deadline_workdays=5,
                  nodes=[{"title": "方案", "deadline": "2031-01-10"}])
    assert c2["title"] == "请县财政局、甲镇抓紧修缮县道，月底前报结果。" and c2["item"]["deadline_workdays"] == 5
    assert [n["title"] for n in c2["item"]["nodes"]] == ["方案"]
    # a proposal (not assigned) stays draft and off the public board
    c3 = new_case(sv, assign=False, title="待立项事项")
    assert c3["item"]["state"] == "draft"
    assert c3["id"] not in [x["id"] for x in all_board(sv.staff)]
    assert c3["id"] in [x["id"] for x in all_board(sv.office)]


@pytest.mark.parametrize("kw,field", [
    ({"source_kind": None}, "source_kind"),
    ({"source_kind": "rumour"}, "source_kind"),
    ({"text": None}, "text"),
    ({"text": ""}, "text"),
    ({"title": "两行\n标题"}, "title"),
    ({"lead_unit": None}, "lead_unit"),
    ({"lead_unit": "甲镇"}, "lead_unit"),
    ({"lead_unit": 99999999}, "lead_unit"),
    ({"co_units": [99999999]}, "co_units"),
    ({"co_units": "x"}, "co_units"),
    ({"deadline": None}, "deadline"),
    ({"deadline": "2031-13-40"}, "deadline"),
    ({"deadline_workdays": 5}, "deadline"),
    ({"deadline": None, "deadline_workdays": 0}, "deadline_workdays"),
    ({"leader_user": 99999999}, "leader_user"),
    ({"restricted": "yes"}, "restricted"),
    ({"report_cycle": "daily"}, "report_cycle"),
    ({"source_record": "not a record"}, "source_record"),
    ({"colour": "red"}, "colour"),
])
def test_intake_bad_input_writes_nothing(sv, kw, field):
    before = n_cases(sv)
    error(sv.office.post("/api/supervision/cases", case_body(sv, **kw)), 400, "invalid", field)
    assert n_cases(sv) == before


def test_intake_refusals(sv):
    before = n_cases(sv)
    error(sv.staff.post("/api/supervision/cases", case_body(sv)), 403)                   # no supervision.manage
    error(sv.office.post("/api/supervision/cases", case_body(sv, supervisor_unit=sv.X)), 403)   # not on that unit
    error(sv.office.post("/api/supervision/cases", raw=b"{", ctype="application/json"), 400, "bad_json")
    error(sv.office.post("/api/supervision/cases", [1, 2]), 400, "invalid")
    assert n_cases(sv) == before
    error(sv.staff.get("/api/supervision/cases/99999999"), 404)
    error(sv.staff.get("/api/supervision/cases/abc"), 404)


# ---------------------------------------------------------------- the flow

def test_flow_to_closing_through_the_item_routes(sv):
    c = new_case(sv, title="流程测试：县道修缮")
    i = c["item_id"]
    error(sv.staff.post("/api/items/%d/accept" % i), 404)                   # not a party
    assert sv.lead.post("/api/items/%d/accept" % i).json()["state"] == "accepted"
    r = sv.co.post("/api/items/%d/report" % i, {"text": "资金已拨付", "percent": 50})
    assert r.status_code == 201, r.text
    r = sv.lead.post("/api/items/%d/report" % i, {"text": "路基已完成", "percent": 60})
    assert r.status_code == 201 and r.json()["item"]["state"] == "in_progress", r.text
    row = [x for x in all_board(sv.staff) if x["id"] == c["id"]][0]
    assert row["latest_report"]["text"] == "路基已完成" and row["latest_report"]["percent"] == 60
    assert row["lead_unit"]["id"] == sv.A and [u["id"] for u in row["co_units"]] == [sv.B]
    assert row["colour"] == "green" and row["deadline"] == "2031-06-30" and row["leader"] == "王县长"
    error(sv.lead.post("/api/items/%d/close" % i), 403)                     # the handling side may not close
    assert sv.lead.post("/api/items/%d/complete" % i, {"text": "已全部完工"}).status_code == 201
    error(sv.office.post("/api/items/%d/review" % i, {"accept": False}), 400, "invalid")
    assert sv.office.post("/api/items/%d/review" % i, {"accept": True}).json()["state"] == "reviewed"
    r = sv.office.post("/api/items/%d/close" % i)
    assert r.status_code == 200 and r.json()["state"] == "closed", r.text
    assert sv.office.get("/api/supervision/cases/%d" % c["id"]).json()["item"]["state"] == "closed"


# ---------------------------------------------------------------- decomposition (分解)

@pytest.fixture(scope="module")
def split(sv):
    """Under 甲镇 (the lead unit): two villages and a clerk of each; a handler of 甲镇."""
    t = SimpleNamespace()
    t.V1 = tp.make_unit(sv.admin, "village", "东村", parent=sv.A)
    t.V2 = tp.make_unit(sv.admin, "village", "西村", parent=sv.A)
    t.v1 = tp.person(sv.s, sv.admin, t.V1, [("sv_unit", t.V1, False)])
    return t


def accepted_case(t, **kw):
    c = new_case(t, **kw)
    assert t.lead.post("/api/items/%d/accept" % c["item_id"]).status_code == 200
    return c


def test_decomposition_into_child_cases(sv, split):
    parent = accepted_case(sv, title="分解测试：人居环境整治", co_units=None, deadline="2031-06-30")
    r = sv.lead.post("/api/supervision/cases/%d/children" % parent["id"],
                     {"lead_unit": split.V1, "deadline": "2031-05-31", "title": "东村人居环境整治"})
    assert r.status_code == 201, r.text
    child = r.json()
    assert child["origin"] == "decomposed" and child["lead_unit"] == split.V1 and child["supervisor_unit"] == sv.A
    assert child["source_kind"] == "instruction" and child["leader"] == "王县长"
    assert child["source_record"] == "supervision_cases:%d" % parent["id"] and child["title"] == "东村人居环境整治"
    it = child["item"]
    assert it["parent_id"] == parent["item_id"] and it["state"] == "assigned" and it["deadline"] == "2031-05-31"
    # the same deadline as the parent's is fine; without one the child takes the parent's
    r = sv.lead.post("/api/supervision/cases/%d/children" % parent["id"], {"lead_unit": split.V2})
    assert r.status_code == 201, r.text
    c2 = r.json()
    assert c2["item"]["deadline"] == "2031-06-30" and c2["title"] == "分解测试：人居环境整治（分解）"
    # the child's unit takes it on; the parent lists its children with their lights, for everyone
    assert split.v1.post("/api/items/%d/accept" % child["item_id"]).status_code == 200
    recolour(sv)
    got = sv.staff.get("/api/supervision/cases/%d" % parent["id"]).json()
    assert [(k["id"], k["lead_unit"]["id"], k["lead_unit"]["name"], k["state"], k["colour"], k["deadline"])
            for k in got["children"]] == [
        (child["id"], split.V1, "东村", "accepted", "green", "2031-05-31"),
        (c2["id"], split.V2, "西村", "assigned", "green", "2031-06-30")]
    assert got["view"] == "public"
    assert "supervision_cases:%d" % child["id"] in [x["record"] for x in
                                                    sv.lead.get("/api/items/%d" % parent["item_id"]).json()["links"]]
    assert sv.staff.get("/api/supervision/cases/%d" % child["id"]).json()["children"] == []
    # the page's forms: the lead unit's handler may decompose (the units under it are listed), nobody else
    mine = sv.lead.get("/api/supervision/cases/%d" % parent["id"]).json()
    assert mine["actions"] == {"decompose": True, "return": False, "return_until": None}, mine.get("actions")
    assert [u["id"] for u in mine["subunits"]] == [split.V1, split.V2]
    assert sv.office.get("/api/supervision/cases/%d" % parent["id"]).json()["actions"]["decompose"] is False
    assert "actions" not in got and "subunits" not in got
    assert tp.db_rows(sv.s, "SELECT action FROM core_audit WHERE target = ?", "supervision_cases:%d" % child["id"]) == \
        [("supervision.decompose",)]


def test_decomposition_refusals_write_nothing(sv, split):
    parent = accepted_case(sv, title="分解拒绝测试", co_units=None, deadline="2031-06-30")
    path = "/api/supervision/cases/%d/children" % parent["id"]
    before = n_cases(sv)
    # a later deadline would loosen the parent's
    error(sv.lead.post(path, {"lead_unit": split.V1, "deadline": "2031-07-01"}), 400, "invalid", "deadline")
    # a unit outside the lead unit's subtree (a sibling township, the lead unit itself)
    error(sv.lead.post(path, {"lead_unit": sv.X}), 400, "invalid", "lead_unit")
    error(sv.lead.post(path, {"lead_unit": sv.A}), 400, "invalid", "lead_unit")
    error(sv.lead.post(path, {"lead_unit": split.V1, "co_units": [sv.B]}), 400, "invalid", "co_units")
    # another unit's handler, the office, an unrelated staff member
    error(sv.co.post(path, {"lead_unit": split.V1}), 403, "forbidden")
    error(split.v1.post(path, {"lead_unit": split.V2}), 403, "forbidden")
    error(sv.staff.post(path, {"lead_unit": split.V1}), 403)
    # bad input
    error(sv.lead.post(path, raw=b"{", ctype="application/json"), 400, "bad_json")
    error(sv.lead.post(path, [split.V1]), 400, "invalid")
    error(sv.lead.post(path, {"lead_unit": "东村"}), 400, "invalid", "lead_unit")
    error(sv.lead.post(path, {"lead_unit": split.V1, "deadline": "2031-02-30"}), 400, "invalid", "deadline")
    error(sv.lead.post(path, {"lead_unit": split.V1, "title": ""}), 400, "invalid", "title")
    error(sv.lead.post(path, {"lead_unit": split.V1, "colour": "red"}), 400, "invalid", "colour")
    error(sv.lead.post(path, {"lead_unit": split.V1, "report_cycle": "daily"}), 400, "invalid", "report_cycle")
    error(sv.lead.post("/api/supervision/cases/99999999/children", {"lead_unit": split.V1}), 404, "not_found")
    # not yet accepted: the lead unit signs for it first
    fresh = new_case(sv, title="未签收不能分解", co_units=None)
    error(sv.lead.post("/api/supervision/cases/%d/children" % fresh["id"], {"lead_unit": split.V1}), 409,
          "wrong_state")
    assert n_cases(sv) == before + 1
    assert sv.staff.get("/api/supervision/cases/%d" % parent["id"]).json()["children"] == []


# ---------------------------------------------------------------- the public board

def test_restricted_hidden_and_lag_reasons_public(sv):
    secret = new_case(sv, title="限阅事项：干部问题线索核查", restricted=True)
    late = new_case(sv, title="超期事项：农贸市场改造", deadline="2026-01-05", co_units=None)
    recolour(sv)
    assert sv.lead.post("/api/items/%d/accept" % late["item_id"]).status_code == 200
    r = sv.lead.post("/api/items/%d/report" % late["item_id"], {"text": "进展"})
    error(r, 409, "lag_reason_required")
    r = sv.lead.post("/api/items/%d/reasons" % late["item_id"], {"category": "funding", "text": "资金未到位"})
    assert r.status_code == 201, r.text
    # an unrelated staff member: the public case with its lag reason, not the restricted one
    rows = {x["id"]: x for x in all_board(sv.staff)}
    assert secret["id"] not in rows
    error(sv.staff.get("/api/supervision/cases/%d" % secret["id"]), 404)
    pub = rows[late["id"]]
    assert pub["colour"] in ("orange", "red") and pub["late"] == "overdue"
    assert [(x["category"], x["text"], x["unit_name"]) for x in pub["reasons"]] == [("funding", "资金未到位", "甲镇")]
    view = sv.staff.get("/api/supervision/cases/%d" % late["id"]).json()
    assert view["view"] == "public" and "original_text" not in view and "reports" not in view["item"]
    assert view["item"]["reasons"][0]["text"] == "资金未到位" and "content" not in view["item"]
    # the parties see the restricted case
    assert secret["id"] in [x["id"] for x in all_board(sv.lead)]
    assert secret["id"] in [x["id"] for x in all_board(sv.co)]
    assert sv.lead.get("/api/supervision/cases/%d" % secret["id"]).json()["view"] == "full"
    assert sv.leader.get("/api/supervision/cases/%d" % secret["id"]).status_code == 200
    # the engine hides the restricted item too: 404 and left out of GET /api/items for others
    assert secret["item"]["restricted"] is True and late["item"]["restricted"] is False
    error(sv.staff.get("/api/items/%d" % secret["item_id"]), 404, "not_found")
    error(sv.staff.get("/api/items/%d/reasons" % secret["item_id"]), 404, "not_found")
    assert secret["item_id"] not in item_ids(sv.staff)
    assert late["item_id"] in item_ids(sv.staff)
    assert sv.lead.get("/api/items/%d" % secret["item_id"]).json()["view"] == "full"
    assert secret["item_id"] in item_ids(sv.lead)


def item_ids(api):
    """Every item id GET /api/items?source=supervision lists to api, over all pages."""
    ids, after = [], 0
    while True:
        r = api.get("/api/items?source=supervision&limit=100" + ("&after=%d" % after if after else ""))
        assert r.status_code == 200, r.text
        ids += [x["id"] for x in r.json()["items"]]
        if r.json()["next"] is None:
            return ids
        after = r.json()["next"]


def test_board_filters_and_paging(sv):
    u = tp.make_unit(sv.admin, "township", "筛选镇")
    clerk = tp.person(sv.s, sv.admin, u, [("sv_unit", u, False)])
    ids = [new_case(sv, title="筛选%d" % k, lead_unit=u, co_units=None, source_kind=kind, leader=ld)["id"]
           for k, (kind, ld) in enumerate([("minutes", "李副县长"), ("project", "李副县长"), ("minutes", "张书记")])]
    assert [x["id"] for x in all_board(sv.staff, "?unit=%d" % u)] == ids[::-1]
    assert [x["id"] for x in all_board(sv.staff, "?unit=%d&source=minutes" % u)] == [ids[2], ids[0]]
    assert [x["id"] for x in all_board(sv.staff, "?unit=%d&leader=%s" % (u, "李副县长"))] == [ids[1], ids[0]]
    assert [x["id"] for x in all_board(sv.staff, "?unit=%d&colour=red" % u)] == []
    assert [x["id"] for x in all_board(sv.staff, "?unit=%d&colour=green" % u)] == ids[::-1]
    page = board(sv.staff, "?unit=%d&limit=2" % u)
    assert [x["id"] for x in page["items"]] == [ids[2], ids[1]] and page["next"] == ids[1]
    page = board(sv.staff, "?unit=%d&limit=2&after=%d" % (u, page["next"]))
    assert [x["id"] for x in page["items"]] == [ids[0]] and page["next"] is None
    assert clerk.get("/api/supervision/board?unit=%d" % u).status_code == 200
    # the colour filter pages by the items' order, which is the cases' order
    greens = [x["id"] for x in all_board(sv.staff, "?colour=green")]
    assert greens == sorted(greens, reverse=True) and set(ids) <= set(greens)
    assert [x["id"] for x in all_board(sv.staff, "?colour=green&limit=2")] == greens
    assert [x["id"] for x in all_board(sv.staff, "?colour=green&source=minutes&limit=1")] == \
        [x["id"] for x in all_board(sv.staff, "?colour=green&source=minutes")]


def test_board_rows_match_the_items(sv):
    """Every board row carries what the case's item says: state, colour, lateness, lead and
    co-units, the lag reasons and the latest report (a case with two reports, two co-units
    and a lag reason; a withdrawn case is left out)."""
    c = new_case(sv, title="看板行核对：老旧小区改造", deadline="2026-01-05")
    recolour(sv)
    iid = c["item_id"]
    assert sv.lead.post("/api/items/%d/accept" % iid).status_code == 200
    r = sv.lead.post("/api/items/%d/reasons" % iid, {"category": "funding", "text": "专项资金未下达"})
    assert r.status_code == 201, r.text
    for text, pct in (("第一次进展", 20), ("第二次进展：已完成招标", 45)):
        r = sv.lead.post("/api/items/%d/report" % iid, {"text": text, "percent": pct})
        assert r.status_code == 201, r.text
    gone = new_case(sv, title="看板行核对：撤销的事项")
    r = sv.office.post("/api/items/%d/withdraw" % gone["item_id"], {"reason": "重复立项"})
    assert r.status_code == 200, r.text
    rows = all_board(sv.office, "?limit=100")
    assert gone["id"] not in [x["id"] for x in rows]
    assert [x["id"] for x in rows] == [x["id"] for x in all_board(sv.office, "?limit=3")]
    assert c["id"] in [x["id"] for x in rows]
    for row in rows:
        case = sv.office.get("/api/supervision/cases/%d" % row["id"]).json()
        item = case["item"]
        for k in ("state", "colour", "late", "escalated", "deadline", "lead_unit", "lag_reason_required", "reasons"):
            assert row[k] == item[k], (row["id"], k, row[k], item[k])
        for k in ("title", "source_kind", "origin", "restricted", "leader", "item_id"):
            assert row[k] == case[k], (row["id"], k, row[k], case[k])
        assert row["co_units"] == [{"id": u["id"], "name": u["name"]} for u in item["units"] if u["role"] == "co"]
        last = tp.db_rows(sv.s, "SELECT unit_id, kind, percent, text FROM core_item_reports WHERE item_id = ? "
                                "ORDER BY id DESC LIMIT 1", row["item_id"])
        got = row["latest_report"]
        assert (got and (got["unit_id"], got["kind"], got["percent"], got["text"])) == (last[0] if last else None)
        if "reports" in item:  # the full view: the same time as the item's newest report
            newest = item["reports"][-1] if item["reports"] else None
            assert got == (newest and {k: newest[k] for k in ("unit_id", "kind", "percent", "text")}
                           | {"at": newest["created_at"]}), row["id"]
    mine = [x for x in rows if x["id"] == c["id"]][0]
    assert mine["latest_report"]["text"] == "第二次进展：已完成招标" and mine["latest_report"]["percent"] == 45
    assert len(mine["co_units"]) == 1 and [x["text"] for x in mine["reasons"]] == ["专项资金未下达"]
    # an unrelated staff member reads the same public row
    assert [x for x in all_board(sv.staff, "?limit=100") if x["id"] == c["id"]] == [mine]


@pytest.mark.parametrize("query,field", [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                                         ("after=-1", "after"), ("unit=abc", "unit"), ("colour=purple", "colour")])
def test_board_bad_query(sv, query, field):
    error(sv.staff.get("/api/supervision/board?" + query), 400, "invalid", field)


def test_board_needs_sign_in(sv):
    error(tp.Api(sv.s).get("/api/supervision/board"), 401)


# ---------------------------------------------------------------- the league

def test_league_numbers_exact(sv):
    L1 = tp.make_unit(sv.admin, "township", "排名一镇")
    L2 = tp.make_unit(sv.admin, "township", "排名二镇")
    c1 = tp.person(sv.s, sv.admin, L1, [("sv_unit", L1, False)])
    c2 = tp.person(sv.s, sv.admin, L2, [("sv_unit", L2, False)])
    a = new_case(sv, title="排名甲", lead_unit=L1, co_units=None, deadline="2031-05-20")
    new_case(sv, title="排名乙", lead_unit=L1, co_units=None, deadline="2025-03-03")       # overdue, red
    c = new_case(sv, title="排名丙", lead_unit=L2, co_units=None, deadline="2025-03-04")   # completed late
    new_case(sv, title="排名丁", lead_unit=L2, co_units=None, deadline="2031-05-21", assign=False)   # draft: not counted
    recolour(sv)
    i = a["item_id"]
    assert c1.post("/api/items/%d/accept" % i).status_code == 200
    assert c1.post("/api/items/%d/complete" % i, {"text": "完成"}).status_code == 201
    assert sv.office.post("/api/items/%d/review" % i, {"accept": True}).status_code == 200
    assert sv.office.post("/api/items/%d/close" % i).status_code == 200
    i = c["item_id"]
    assert c2.post("/api/items/%d/accept" % i).status_code == 200
    assert c2.post("/api/items/%d/reasons" % i, {"category": "approval", "text": "审批未完成"}).status_code == 201
    assert c2.post("/api/items/%d/complete" % i, {"text": "迟交"}).status_code == 201
    r = sv.staff.get("/api/supervision/league?from=2025-01-01&to=2031-12-31")
    assert r.status_code == 200, r.text
    units = {u["unit"]["id"]: u for u in r.json()["units"]}
    u1, u2 = units[L1], units[L2]
    assert (u1["items"], u1["completed_on_time"], u1["overdue"], u1["red"], u1["closed"]) == (2, 1, 1, 1, 1), u1
    assert u1["on_time_rate"] == 0.5 and u1["mean_days_to_close"] == 0.0 and u1["unit"]["name"] == "排名一镇"
    assert (u2["items"], u2["completed_on_time"], u2["overdue"], u2["red"], u2["closed"]) == (1, 0, 1, 1, 0), u2
    assert u2["on_time_rate"] == 0.0 and u2["mean_days_to_close"] is None
    assert u1["rank"] < u2["rank"]
    # a window without them
    units = {u["unit"]["id"] for u in sv.staff.get("/api/supervision/league?from=2029-01-01&to=2029-12-31").json()["units"]}
    assert L1 not in units and L2 not in units
    error(sv.staff.get("/api/supervision/league?from=2025-13-01"), 400, "invalid", "from")
    error(sv.staff.get("/api/supervision/league?from=2026-02-01&to=2026-01-01"), 400, "invalid", "from")


# ---------------------------------------------------------------- escalation and 通报

def test_red_case_escalated_to_its_leader(sv):
    leader = tp.person(sv.s, sv.admin, sv.O)
    c = new_case(sv, title="红灯升级测试", deadline="2025-02-03", leader_user=leader.id, co_units=None)
    recolour(sv)
    assert sv.staff.get("/api/supervision/cases/%d" % c["id"]).json()["item"]["colour"] == "red"
    error(sv.staff.post("/api/supervision/escalations/run"), 403)
    r = sv.office.post("/api/supervision/escalations/run")
    assert r.status_code == 200 and r.json()["escalated"] >= 1, r.text
    got = sv.office.get("/api/supervision/cases/%d" % c["id"]).json()
    assert got["escalated_at"] and got["item"]["escalated"] is True
    assert "escalated" in [e["kind"] for e in got["item"]["timeline"]]
    notes = leader.get("/api/notifications").json()["items"]
    assert [n["title"] for n in notes].count("督查事项亮红灯") == 1, notes
    assert sv.office.post("/api/supervision/escalations/run").json()["escalated"] == 0     # once
    assert [n["title"] for n in leader.get("/api/notifications").json()["items"]].count("督查事项亮红灯") == 1


def test_notice_text_and_xlsx(sv):
    error(sv.staff.post("/api/supervision/reports"), 403)
    r = sv.office.post("/api/supervision/reports")
    assert r.status_code == 201, r.text
    n = r.json()
    assert n["summary"].startswith("督查督办工作通报") and n["rows"] and n["notified"] >= 1
    league = sv.staff.get("/api/supervision/league?from=%s&to=%s" % (n["from"], n["to"])).json()
    assert [(x["unit_id"], x["items"], x["overdue"]) for x in n["rows"]] == \
        [(u["unit"]["id"], u["items"], u["overdue"]) for u in league["units"]]
    assert n["totals"] == league["totals"]
    assert all(row["unit_name"] in n["summary"] for row in n["rows"])
    assert sv.staff.get("/api/supervision/reports/latest").json()["id"] == n["id"]
    assert any(x["title"].startswith("督查督办工作通报") for x in sv.leader.get("/api/notifications").json()["items"])
    r = sv.staff.get("/api/supervision/reports/latest.xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["Content-Type"], r.headers
    z = zipfile.ZipFile(io.BytesIO(r.content))
    sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count("<row ") == 1 + len(n["rows"]), sheet[:500]
    strings = z.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in z.namelist() else sheet
    assert "按时办结率" in strings and all(row["unit_name"] in strings for row in n["rows"])
    rows = tp.db_rows(sv.s, "SELECT count(*) FROM supervision_notice_rows WHERE notice_id = ?", n["id"])
    assert rows[0][0] == len(n["rows"])


# ---------------------------------------------------------------- tasks.lagging

def test_lagging_task_proposes_one_case(sv):
    ev = {"task_id": 4101, "list_id": 7, "title": "农村公路提档升级", "lead_unit": sv.A, "deadline": "2031-09-30",
          "colour": "yellow", "since": "2026-11-20", "record": "tasks_tasks:4101"}
    assert sv.staff.post("/api/tasks/lagging", ev).status_code == 200
    assert sv.staff.post("/api/tasks/lagging", ev).status_code == 200          # twice: still one case
    cid, item = wait_case(sv, "tasks:4101")
    time.sleep(0.5)
    assert tp.db_rows(sv.s, "SELECT count(*) FROM supervision_cases WHERE source_ref = 'tasks:4101'")[0][0] == 1
    got = sv.lead.get("/api/supervision/cases/%d" % cid).json()     # the lead unit is a party
    assert got["view"] == "full" and got["supervisor_unit"] == sv.A   # no office_unit set: the lead unit supervises
    assert got["origin"] == "tasks" and got["source_kind"] == "task_list" and got["title"] == "滞后任务：农村公路提档升级"
    assert got["source_record"] == "tasks_tasks:4101" and got["item"]["state"] == "draft"
    assert got["item"]["links"][0]["record"] == "tasks_tasks:4101" and got["item"]["deadline"] == "2031-09-30"
    # a proposal is off the public board; an event the engine refuses is logged and skipped
    assert cid not in [x["id"] for x in all_board(sv.staff)]
    assert sv.staff.post("/api/tasks/lagging", {"task_id": 4102, "lead_unit": 99999999, "title": "x"}).status_code == 200
    time.sleep(1)
    assert tp.db_rows(sv.s, "SELECT count(*) FROM supervision_cases WHERE source_ref = 'tasks:4102'")[0][0] == 0


def test_plugin_loads_without_documents_and_meetings(sv):
    plugins = tp.plugins_by_name(sv.admin)
    assert plugins["supervision"]["state"] == "enabled", plugins["supervision"]
    assert plugins.get("documents", {}).get("state") != "enabled" and plugins.get("meetings", {}).get("state") != "enabled"


# ================================================================ with documents and meetings

YEAR = time.localtime().tm_year


@pytest.fixture(scope="module")
def ev():
    with tempfile.TemporaryDirectory(prefix="yimen-supervision-ev-") as tmp:
        conf = tp.plugin_conf([tp.BUILT], ["supervision", "documents", "meetings"],
                              'documents = { reviewer_role = "t_reviewer", leader_role = "t_leader", '
                              'clerk_role = "t_clerk" }\n')
        s = tp.new_server(tmp, conf.replace(tp.AUTH, AUTH)).start()
        try:
            t = county(s)
            admin = t.admin
            tp.make_role(admin, "t_clerk", ["documents.read", "documents.draft", "documents.send", "documents.receive"])
            tp.make_role(admin, "t_reviewer", ["documents.read", "documents.review"])
            tp.make_role(admin, "t_leader", ["documents.read", "documents.signoff", "documents.instruct"])
            tp.make_role(admin, "mt_org", ["meetings.read", "meetings.send", "meetings.manage"])
            tp.make_role(admin, "mt_recv", ["meetings.read", "meetings.receive", "meetings.handle"])
            t.drafter = tp.person(s, admin, t.O, [("t_clerk", t.O, False)])
            t.reviewer = tp.person(s, admin, t.O, [("t_reviewer", t.O, False)])
            t.signer = tp.person(s, admin, t.O, [("t_leader", t.O, False)])
            t.aclerk = tp.person(s, admin, t.A, [("t_clerk", t.A, False), ("mt_recv", t.A, False)])
            t.aleader = tp.person(s, admin, t.A, [("t_leader", t.A, False)])
            t.org = tp.person(s, admin, t.O, [("mt_org", t.O, False)])
            yield t
        finally:
            tp.stop_clean(s)


def test_instruction_becomes_a_case(ev):
    doc = ev.drafter.post("/api/documents", {
        "doc_type": "通知", "title": "关于做好冬季安全生产工作的通知", "issuer_organ": "某县人民政府办公室",
        "org_code": "县政办发", "main_to": ["各乡镇人民政府"], "body": "各乡镇：\n现将有关事项通知如下。",
        "signature_organ": "某县人民政府办公室", "doc_date": "%d-11-20" % YEAR, "seal": True})
    assert doc.status_code == 201, doc.text
    d = doc.json()["id"]
    assert ev.drafter.post("/api/documents/%d/submit" % d).status_code == 200
    assert ev.reviewer.post("/api/documents/%d/review" % d, {"decision": "pass"}).status_code == 200
    assert ev.signer.post("/api/documents/%d/signoff" % d, {"decision": "approve"}).status_code == 200
    r = ev.drafter.post("/api/documents/%d/dispatch" % d, {"main": [ev.A]})
    assert r.status_code == 200, r.text
    did = r.json()["dispatch_id"]
    assert ev.aclerk.post("/api/dispatches/%d/sign" % did, {"unit_id": ev.A}).status_code == 200
    r = ev.aclerk.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": ev.A})
    assert r.status_code == 201, r.text
    n = r.json()["id"]
    assert ev.aclerk.post("/api/documents/incoming/%d/propose" % n, {"opinion": "拟请镇长阅示"}).status_code == 200
    r = ev.aleader.post("/api/documents/incoming/%d/instruct" % n,
                        {"text": "请县财政局牵头落实冬季安全检查，十日内报结果。", "units": [ev.B, ev.A]})
    assert r.status_code == 200, r.text
    cid, item = wait_case(ev, "documents_incoming:%d" % n)
    got = ev.office.get("/api/supervision/cases/%d" % cid)
    c = ev.admin.get("/api/supervision/cases/%d" % cid).json()
    assert c["origin"] == "documents" and c["source_kind"] == "instruction"
    assert c["original_text"] == "请县财政局牵头落实冬季安全检查，十日内报结果。" and c["leader_user"] == ev.aleader.id
    assert c["lead_unit"] == ev.B and c["supervisor_unit"] == ev.A and c["source_record"] == "documents_incoming:%d" % n
    assert c["title"].startswith("领导批示：请县财政局") and c["item"]["state"] == "draft"
    assert c["item"]["links"][0]["record"] == "documents_incoming:%d" % n
    assert [u["id"] for u in c["item"]["units"]] == [ev.B, ev.A]
    assert got.status_code in (200, 404)
    assert tp.db_rows(ev.s, "SELECT count(*) FROM supervision_cases WHERE source_ref = ?",
                      "documents_incoming:%d" % n)[0][0] == 1


def test_minutes_decisions_become_cases(ev):
    now = ev.admin.post("/api/test/clock", {"advance": 0}).json()["now"]
    from datetime import datetime, timedelta
    start = (datetime.fromisoformat(now) + timedelta(days=1)).isoformat(timespec="seconds")
    r = ev.org.post("/api/meetings", {"title": "防汛工作会", "start_at": start, "duration_min": 60, "place": "三楼"})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    assert ev.org.post("/api/meetings/%d/send" % mid, {"unit_ids": [ev.A]}).status_code == 200
    assert ev.org.post("/api/meetings/%d/start" % mid).status_code == 200
    assert ev.org.post("/api/meetings/%d/finish" % mid).status_code == 200
    body = {"text": "会议研究了防汛工作。", "decisions": [
        {"text": "城关片区排涝泵站检修", "lead_unit": ev.A, "deadline": "2031-03-15"},
        {"text": "河道清障", "lead_unit": ev.B, "deadline": "2031-04-30"}]}
    r = ev.org.post("/api/meetings/%d/minutes" % mid, body)
    assert r.status_code == 201, r.text
    c1, i1 = wait_case(ev, "meetings_meetings:%d#1" % mid)
    c2, i2 = wait_case(ev, "meetings_meetings:%d#2" % mid)
    for cid, want in ((c1, body["decisions"][0]), (c2, body["decisions"][1])):
        c = ev.office.get("/api/supervision/cases/%d" % cid).json()
        assert c["origin"] == "meetings" and c["source_kind"] == "minutes" and c["title"] == want["text"]
        assert c["lead_unit"] == want["lead_unit"] and c["item"]["deadline"] == want["deadline"]
        assert c["supervisor_unit"] == ev.O and c["item"]["state"] == "draft" and "防汛工作会" in c["original_text"]
        assert c["item"]["links"][0]["record"] == "meetings_meetings:%d" % mid
    # the office takes the proposal in (立项) through the core route, and the lead unit accepts it
    r = ev.office.post("/api/items/%d/assign" % i1)
    assert r.status_code == 200 and r.json()["state"] == "assigned", r.text
    assert ev.lead.post("/api/items/%d/accept" % i1).status_code == 200
    assert c1 in [x["id"] for x in all_board(ev.staff)] and c2 not in [x["id"] for x in all_board(ev.staff)]


# ================================================================ settings

@pytest.mark.parametrize("settings,reason", [
    ('{ office_unit = "x" }', "supervision.office_unit: must be an integer"),
    ("{ default_workdays = 0 }", "supervision.default_workdays: must be an integer"),
    ('{ auto_assign = "yes" }', "supervision.auto_assign: must be true or false"),
    ("{ notice_schedule = 5 }", "supervision.notice_schedule: must be a schedule"),
    ('{ notice_schedule = "weekly" }', "job supervision.notice: unknown schedule"),
    ('{ colour = "red" }', "supervision.colour: unknown setting"),
])
def test_bad_settings_fail_the_plugin(tmp_path, settings, reason):
    tmp = str(tmp_path)
    s = tp.new_server(tmp, tp.plugin_conf([tp.BUILT], ["supervision"], "supervision = %s\n" % settings)).start()
    try:
        api = tp.admin_api(s)
        p = tp.plugins_by_name(api)["supervision"]
        assert p["state"] == "failed" and reason in (p["reason"] or ""), p
        error(api.get("/api/supervision/board"), 404, "not_found")
        assert api.get("/api/me").status_code == 200
    finally:
        tp.stop_clean(s)


def test_office_unit_and_auto_assign(tmp_path):
    """With office_unit and auto_assign, a lagging task becomes an assigned case supervised by the office."""
    tmp = str(tmp_path)
    fx = os.path.dirname(build_tasks_fixture(tmp))
    # the units are made by the API after the first start: ids 2 (the office) and 3, as in county()
    conf = tp.plugin_conf([fx, tp.BUILT], ["supervision", "tasks"],
                          "supervision = { office_unit = 2, auto_assign = true, default_workdays = 3 }\n")
    s = tp.new_server(tmp, conf.replace(tp.AUTH, AUTH)).start()
    try:
        t = county(s)
        assert (t.O, t.A) == (2, 3)
        ev = {"task_id": 5, "title": "无期限任务", "lead_unit": t.A}
        assert t.staff.post("/api/tasks/lagging", ev).status_code == 200
        cid, item = wait_case(t, "tasks:5")
        c = t.office.get("/api/supervision/cases/%d" % cid).json()
        assert c["supervisor_unit"] == t.O and c["view"] == "full"
        assert c["item"]["state"] == "assigned" and c["item"]["deadline_workdays"] == 3 and c["item"]["deadline"]
        assert cid in [x["id"] for x in all_board(t.staff)]
    finally:
        tp.stop_clean(s)
