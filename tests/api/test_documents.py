"""The documents plugin (文件阅办, plugins/documents): the GB/T 9704 record and its
validation per type, secrecy, the outgoing flow (draft with versions → review →
countersign → sign-off with gap-free numbering → dispatch through the engine → archive)
with send-backs, the incoming flow at a recipient unit (register → propose → instruct →
handle → complete → archive) and circulation, the lists, and the refusals."""
import json
import tempfile
import threading
import time
from types import SimpleNamespace
from urllib.parse import quote

import pytest

import test_plugins as tp
from directory_helpers import error

YEAR = time.localtime().tm_year


@pytest.fixture(scope="module")
def d():
    with tempfile.TemporaryDirectory(prefix="yimen-documents-") as tmp:
        conf = tp.plugin_conf([tp.BUILT], ["documents"], 'documents = { max_secrecy = "秘密", reviewer_role = "t_reviewer", countersign_role = "t_cs", leader_role = "t_leader", clerk_role = "t_clerk" }\n')
        s = tp.new_server(tmp, conf).start()
        try:
            admin = tp.admin_api(s)
            t = SimpleNamespace(s=s, admin=admin)
            t.O = tp.make_unit(admin, "department", "县政府办公室")
            t.C = tp.make_unit(admin, "department", "县财政局")
            t.D = tp.make_unit(admin, "department", "承办科")
            t.X = tp.make_unit(admin, "township", "无关镇")
            t.towns = [tp.make_unit(admin, "township", "第%d镇" % i) for i in range(1, 23)]
            tp.make_role(admin, "t_clerk", ["documents.read", "documents.draft", "documents.send", "documents.receive"])
            tp.make_role(admin, "t_reviewer", ["documents.read", "documents.review"])
            tp.make_role(admin, "t_cs", ["documents.countersign"])
            tp.make_role(admin, "t_leader", ["documents.read", "documents.signoff", "documents.instruct"])
            tp.make_role(admin, "t_handler", ["documents.handle"])
            t.drafter = tp.person(s, admin, t.O, [("t_clerk", t.O, False)])
            t.reviewer = tp.person(s, admin, t.O, [("t_reviewer", t.O, False)])
            t.leader = tp.person(s, admin, t.O, [("t_leader", t.O, False)])
            t.cs = tp.person(s, admin, t.C, [("t_cs", t.C, False)])
            t.xclerk = tp.person(s, admin, t.X, [("t_clerk", t.X, False), ("t_reviewer", t.X, False),
                                                 ("t_leader", t.X, False)])
            t.tclerk = tp.person(s, admin, t.towns[0], [("t_clerk", u, False) for u in t.towns])
            T1 = t.towns[0]
            t.t1leader = tp.person(s, admin, T1, [("t_leader", T1, False)])
            t.handler = tp.person(s, admin, t.D, [("t_handler", t.D, False)])
            t.readers = [tp.person(s, admin, T1) for _ in range(3)]
            yield t
        finally:
            tp.stop_clean(s)


def elements(**kw):
    el = {"doc_type": "通知", "title": "关于做好冬季安全生产工作的通知", "issuer_organ": "某县人民政府办公室",
          "org_code": "县政办发", "main_to": ["各乡镇人民政府", "县直各单位"], "body": "各乡镇、各单位：\n现将有关事项通知如下。",
          "signature_organ": "某县人民政府办公室", "doc_date": "%d-11-20" % YEAR, "urgency": "加急",
          "copy_to": ["县委办公室"], "printer_organ": "某县人民政府办公室", "print_date": "%d-11-20" % YEAR, "seal": True}
    el.update(kw)
    return {k: v for k, v in el.items() if v is not None}


def create(t, **kw):
    r = t.drafter.post("/api/documents", elements(**kw))
    assert r.status_code == 201, r.text
    return r.json()


def count_docs(t):
    return tp.db_rows(t.s, "SELECT count(*) FROM documents_docs")[0][0]


def to_signing(t, **kw):
    doc = create(t, **kw)
    assert t.drafter.post("/api/documents/%d/submit" % doc["id"]).status_code == 200
    r = t.reviewer.post("/api/documents/%d/review" % doc["id"], {"decision": "pass"})
    assert r.status_code == 200 and r.json()["state"] == "signing", r.text
    return doc["id"]


def signed(t, **kw):
    i = to_signing(t, **kw)
    r = t.leader.post("/api/documents/%d/signoff" % i, {"decision": "approve"})
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------- the record

@pytest.mark.parametrize("kw,field", [
    ({"title": None}, "title"),
    ({"doc_type": None}, "doc_type"),
    ({"doc_type": "便函"}, "doc_type"),
    ({"main_to": None}, "main_to"),                                # a 通知 needs 主送
    ({"doc_type": "请示", "main_to": ["县政府", "县委"]}, "main_to"),   # one 主送 only
    ({"doc_type": "函", "signature_organ": None}, "signature_organ"),
    ({"org_code": None}, "org_code"),
    ({"body": ""}, "body"),
    ({"doc_date": "2026-02-30"}, "doc_date"),
    ({"urgency": "平急"}, "urgency"),
    ({"copy_no": "12a"}, "copy_no"),
    ({"seal": "yes"}, "seal"),
    ({"main_to": "各乡镇"}, "main_to"),
    ({"colour": "red"}, "colour"),
    ({"secrecy": "秘密", "copy_no": "000001"}, "secrecy_period"),  # classified: period and 份号
    ({"secrecy": "秘密", "secrecy_period": "1年"}, "copy_no"),
])
def test_validation_names_the_missing_element(d, kw, field):
    before = count_docs(d)
    error(d.drafter.post("/api/documents", elements(**kw)), 400, "invalid", field)
    assert count_docs(d) == before


def test_types_without_main_to_and_signature(d):
    doc = create(d, doc_type="纪要", main_to=None, signature_organ=None, title="县政府常务会议纪要")
    assert doc["state"] == "draft" and doc["version"] == 1 and doc["elements"]["secrecy"] == "非密"
    create(d, doc_type="公告", main_to=None, title="公告示例")
    create(d, doc_type="请示", main_to=["县人民政府"], title="请示示例")


def test_secrecy_above_the_network_is_refused(d):
    before = count_docs(d)
    for level in ("机密", "绝密"):
        err = error(d.drafter.post("/api/documents", elements(secrecy=level, secrecy_period="10年", copy_no="000001")),
                    400, "invalid", "secrecy")
        assert "秘密" in err["message"] and level in err["message"], err
    assert count_docs(d) == before
    doc = create(d, secrecy="秘密", secrecy_period="1年", copy_no="000007")   # within max_secrecy
    assert doc["elements"]["secrecy"] == "秘密"
    # and the same through an edit
    error(d.drafter.call("PATCH", "/api/documents/%d" % doc["id"], {"secrecy": "机密"}), 400, "invalid", "secrecy")


def test_bad_bodies_write_nothing(d):
    before = count_docs(d)
    error(d.drafter.post("/api/documents", raw=b"{\"title\": "), 400, "bad_json")
    error(d.drafter.post("/api/documents", raw=b"[1]"), 400, "invalid")
    error(d.drafter.post("/api/documents", raw=b"title=x", ctype="text/plain"), 415)
    error(d.drafter.post("/api/documents", elements(title=5)), 400, "invalid", "title")
    assert count_docs(d) == before
    error(d.drafter.get("/api/documents/99999999"), 404, "not_found")
    error(d.drafter.get("/api/documents/abc"), 404, "not_found")
    error(d.drafter.post("/api/documents/99999999/submit"), 404, "not_found")
    error(d.reviewer.post("/api/documents/99999999/review", {"decision": "pass"}), 404, "not_found")


def test_create_needs_the_permission_and_unit(d):
    error(d.reviewer.post("/api/documents", elements()), 403)        # no documents.draft anywhere
    error(d.cs.post("/api/documents", elements()), 403)
    doc = create(d)
    error(d.xclerk.get("/api/documents/%d" % doc["id"]), 404)       # another unit's clerk
    error(d.xclerk.call("PATCH", "/api/documents/%d" % doc["id"], {"title": "改"}), 404)
    error(d.xclerk.post("/api/documents/%d/submit" % doc["id"]), 404)


# ---------------------------------------------------------------- outgoing

def test_versions_are_kept(d):
    doc = create(d)
    i = doc["id"]
    r = d.drafter.call("PATCH", "/api/documents/%d" % i, {"title": "关于做好冬季安全生产工作的紧急通知", "notes": "联系人：张三"})
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    r = d.drafter.call("PATCH", "/api/documents/%d" % i, {"notes": None})
    assert r.json()["version"] == 3 and "notes" not in r.json()["elements"]
    vs = d.drafter.get("/api/documents/%d/versions" % i).json()["items"]
    assert [v["version"] for v in vs] == [1, 2, 3]
    v1 = d.drafter.get("/api/documents/%d/versions/1" % i).json()
    v2 = d.drafter.get("/api/documents/%d/versions/2" % i).json()
    assert v1["elements"]["title"] == "关于做好冬季安全生产工作的通知"
    assert v2["elements"]["notes"] == "联系人：张三"
    error(d.drafter.get("/api/documents/%d/versions/9" % i), 404)
    error(d.drafter.call("PATCH", "/api/documents/%d" % i, {"main_to": None}), 400, "invalid", "main_to")
    assert d.drafter.get("/api/documents/%d" % i).json()["version"] == 3


def test_outgoing_flow_with_countersign_signoff_dispatch_archive(d):
    doc = create(d, title="关于开展冬春农田水利建设的通知", org_code="县政办函")
    i = doc["id"]
    # wrong state: nothing to review, sign or dispatch yet
    error(d.reviewer.post("/api/documents/%d/review" % i, {"decision": "pass"}), 409, "conflict")
    error(d.leader.post("/api/documents/%d/signoff" % i, {"decision": "approve"}), 409, "conflict")
    error(d.drafter.post("/api/documents/%d/dispatch" % i, {"main": [d.towns[0]]}), 409, "conflict")
    r = d.drafter.post("/api/documents/%d/submit" % i, {"comment": "请核稿"})
    assert r.status_code == 200, r.text
    error(d.drafter.post("/api/documents/%d/submit" % i), 409)
    error(d.drafter.call("PATCH", "/api/documents/%d" % i, {"title": "x"}), 409)   # not a draft now
    # wrong role: the drafter holds no documents.review anywhere; another unit's reviewer sees nothing
    error(d.drafter.post("/api/documents/%d/review" % i, {"decision": "pass"}), 403)
    error(d.xclerk.post("/api/documents/%d/review" % i, {"decision": "pass"}), 404)
    error(d.reviewer.post("/api/documents/%d/review" % i, {"decision": "maybe"}), 400, "invalid", "decision")
    error(d.reviewer.post("/api/documents/%d/review" % i, {"decision": "pass", "countersign_units": [d.O]}),
          400, "invalid", "countersign_units")
    r = d.reviewer.post("/api/documents/%d/review" % i, {"decision": "pass", "countersign_units": [d.C]})
    assert r.status_code == 200 and r.json()["state"] == "countersigning", r.text
    # the countersigning unit sees it and agrees; another unit may not
    assert d.cs.get("/api/documents/%d" % i).status_code == 200
    assert any(x["id"] == i for x in d.cs.get("/api/documents?box=countersign").json()["items"])
    error(d.xclerk.post("/api/documents/%d/countersign" % i, {"decision": "agree"}), 403)  # no countersign perm
    error(d.leader.post("/api/documents/%d/signoff" % i, {"decision": "approve"}), 409)
    r = d.cs.post("/api/documents/%d/countersign" % i, {"decision": "agree", "comment": "同意"})
    assert r.status_code == 200 and r.json()["state"] == "signing", r.text
    error(d.cs.post("/api/documents/%d/countersign" % i, {"decision": "agree"}), 409)
    assert any(x["id"] == i for x in d.leader.get("/api/documents?box=signoff").json()["items"])
    error(d.reviewer.post("/api/documents/%d/signoff" % i, {"decision": "approve"}), 403)
    error(d.xclerk.post("/api/documents/%d/signoff" % i, {"decision": "approve"}), 404)
    r = d.leader.post("/api/documents/%d/signoff" % i, {"decision": "approve", "comment": "同意印发"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["state"] == "signed" and doc["number"] == "县政办函〔%d〕1号" % YEAR and doc["signer_id"] == d.leader.id
    error(d.leader.post("/api/documents/%d/signoff" % i, {"decision": "approve"}), 409)
    # dispatch to the 22 townships (main) and the finance bureau (copy), one call
    error(d.drafter.post("/api/documents/%d/dispatch" % i, {"main": [99999999]}), 400, "invalid", "main")
    error(d.drafter.post("/api/documents/%d/dispatch" % i, {"main": [d.O]}), 400, "invalid", "main")
    error(d.drafter.post("/api/documents/%d/dispatch" % i, {}), 400, "invalid")
    error(d.reviewer.post("/api/documents/%d/dispatch" % i, {"main": d.towns}), 403)
    r = d.drafter.post("/api/documents/%d/dispatch" % i, {"main": d.towns, "copy": [d.C]})
    assert r.status_code == 200 and r.json()["state"] == "dispatched", r.text
    did = r.json()["dispatch_id"]
    assert len(r.json()["recipients"]) == 23
    board = d.drafter.get("/api/dispatches/%d/board" % did).json()
    assert board["counts"]["total"] == 23 and board["urgency"] == "urgent", board["counts"]
    for u in d.towns:
        r = d.tclerk.post("/api/dispatches/%d/sign" % did, {"unit_id": u})
        assert r.status_code == 200, r.text
    error(d.cs.post("/api/dispatches/%d/sign" % did), 403)     # a copy recipient's non-clerk may not sign
    board = d.drafter.get("/api/dispatches/%d/board" % did).json()
    assert board["counts"]["signed"] >= 22, board["counts"]
    ev = tp.db_rows(d.s, "SELECT payload FROM core_events WHERE name = 'documents.dispatched'")
    assert any(json.loads(p)["document"] == i and len(json.loads(p)["units"]) == 23 for (p,) in ev), ev
    # archive: sealed
    error(d.leader.post("/api/documents/%d/archive" % i), 403)
    r = d.drafter.post("/api/documents/%d/archive" % i)
    assert r.status_code == 200 and r.json()["state"] == "archived", r.text
    error(d.drafter.call("PATCH", "/api/documents/%d" % i, {"title": "改"}), 409, "conflict")
    error(d.drafter.post("/api/documents/%d/archive" % i), 409)
    assert tp.db_rows(d.s, "SELECT count(*) FROM core_events WHERE name = 'documents.archived'")[0][0] >= 1
    assert any(x["id"] == i for x in d.drafter.get("/api/documents?box=archived").json()["items"])
    flow = d.drafter.get("/api/documents/%d/flow" % i).json()["items"]
    assert [f["action"] for f in flow] == ["draft", "submit", "review", "countersign", "signoff", "dispatch", "archive"]
    assert flow[3]["unit"]["id"] == d.C and flow[3]["comment"] == "同意" and flow[4]["user"]["id"] == d.leader.id
    # audit rows for every step
    acts = [a for (a,) in tp.db_rows(d.s, "SELECT action FROM core_audit WHERE target = ?", "documents_doc:%d" % i)]
    assert {"documents.create", "documents.signoff", "documents.dispatch", "documents.archive"} <= set(acts), acts


def test_send_back_at_each_step(d):
    doc = create(d, title="退回示例")
    i = doc["id"]
    d.drafter.post("/api/documents/%d/submit" % i)
    error(d.reviewer.post("/api/documents/%d/review" % i, {"decision": "return"}), 400, "invalid", "comment")
    r = d.reviewer.post("/api/documents/%d/review" % i, {"decision": "return", "comment": "标题不规范"})
    assert r.status_code == 200 and r.json()["state"] == "draft", r.text
    d.drafter.call("PATCH", "/api/documents/%d" % i, {"title": "关于退回示例的通知"})
    d.drafter.post("/api/documents/%d/submit" % i)
    d.reviewer.post("/api/documents/%d/review" % i, {"decision": "pass", "countersign_units": [d.C]})
    r = d.cs.post("/api/documents/%d/countersign" % i, {"decision": "return", "comment": "资金来源需明确"})
    assert r.status_code == 200 and r.json()["state"] == "draft" and r.json()["countersigns"] == [], r.text
    d.drafter.post("/api/documents/%d/submit" % i)
    d.reviewer.post("/api/documents/%d/review" % i, {"decision": "pass"})
    r = d.leader.post("/api/documents/%d/signoff" % i, {"decision": "return", "comment": "再斟酌"})
    assert r.status_code == 200 and r.json()["state"] == "draft" and r.json()["number"] is None, r.text
    flow = d.drafter.get("/api/documents/%d/flow" % i).json()["items"]
    backs = [f["comment"] for f in flow if f["action"] == "return"]
    assert backs == ["标题不规范", "资金来源需明确", "再斟酌"], flow
    assert any(x["id"] == i for x in d.drafter.get("/api/documents?box=drafts").json()["items"])


def test_numbering_under_concurrent_signoffs_has_no_gap(d):
    ids = [to_signing(d, org_code="并发字", title="并发签发%d" % k) for k in range(12)]
    results = {}

    def sign(i):
        results[i] = d.leader.post("/api/documents/%d/signoff" % i, {"decision": "approve"})

    threads = [threading.Thread(target=sign, args=(i,)) for i in ids]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r.status_code == 200 for r in results.values()), [r.text for r in results.values()]
    serials = sorted(r.json()["serial"] for r in results.values())
    assert serials == list(range(1, 13)), serials
    # voiding keeps the record; the next sign-off takes the next number
    victim = ids[0]
    error(d.leader.post("/api/documents/%d/void-number" % victim, {}), 400, "invalid", "reason")
    r = d.leader.post("/api/documents/%d/void-number" % victim, {"reason": "文号填错"})
    assert r.status_code == 200 and r.json()["state"] == "signing" and r.json()["number"] is None, r.text
    error(d.leader.post("/api/documents/%d/void-number" % victim, {"reason": "again"}), 409)
    r = d.leader.post("/api/documents/%d/signoff" % victim, {"decision": "approve"})
    assert r.json()["serial"] == 13, r.text
    rows = tp.db_rows(d.s, "SELECT serial, state FROM documents_numbers WHERE org_code = '并发字' ORDER BY serial")
    assert [s for s, _ in rows] == list(range(1, 14)) and sum(1 for _, st in rows if st == "void") == 1, rows


def test_search_finds_a_dispatched_document_by_number(d):
    doc = signed(d, org_code="检索字", title="关于检索测试的通知", body="正文里有独特词汇梅花鹿")
    r = d.drafter.post("/api/documents/%d/dispatch" % doc["id"], {"main": [d.towns[1]]})
    assert r.status_code == 200, r.text
    number = r.json()["number"]
    hits = d.drafter.get("/api/search?kind=documents&q=" + quote(number)).json()["items"]
    assert [h["ref"] for h in hits] == ["doc:%d" % doc["id"]], hits
    hits = d.drafter.get("/api/search?kind=documents&q=" + quote("梅花鹿")).json()["items"]
    assert any(h["ref"] == "doc:%d" % doc["id"] for h in hits), hits
    assert d.xclerk.get("/api/search?kind=documents&q=" + quote(number)).json()["items"] == []


# ---------------------------------------------------------------- incoming

def sent_to_t1(t, title):
    doc = signed(t, org_code="收文测", title=title)
    r = t.drafter.post("/api/documents/%d/dispatch" % doc["id"], {"main": [t.towns[0], t.towns[2]]})
    assert r.status_code == 200, r.text
    return doc["id"], r.json()["dispatch_id"]


def test_incoming_flow_with_instruction_and_tracked_item(d):
    T1 = d.towns[0]
    i, did = sent_to_t1(d, "关于开展森林防火检查的通知")
    assert any(x["id"] == i and x["for_unit"] == T1 for x in d.tclerk.get("/api/documents?box=to_receive").json()["items"])
    # not signed yet: 409; an outsider: 404; bad input: 400
    error(d.tclerk.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": T1}), 409, "conflict")
    error(d.xclerk.post("/api/documents/incoming", {"dispatch_id": did}), 404)
    error(d.tclerk.post("/api/documents/incoming", {"dispatch_id": "x"}), 400, "invalid", "dispatch_id")
    error(d.tclerk.post("/api/documents/incoming", {"dispatch_id": 99999999}), 404)
    assert d.tclerk.post("/api/dispatches/%d/sign" % did, {"unit_id": T1}).status_code == 200
    r = d.tclerk.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": T1})
    assert r.status_code == 201, r.text
    inc = r.json()
    n = inc["id"]
    assert inc["state"] == "registered" and inc["unit"]["id"] == T1 and inc["document"]["id"] == i
    assert inc["serial"] >= 1 and inc["document"]["number"].startswith("收文测")
    error(d.tclerk.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": T1}), 409)   # once
    error(d.xclerk.get("/api/documents/incoming/%d" % n), 404)
    error(d.t1leader.post("/api/documents/incoming/%d/assign" % n, {"department": d.D, "deadline": "%d-12-31" % YEAR}),
          403)
    error(d.tclerk.post("/api/documents/incoming/%d/complete" % n, {"result": "x"}), 403)
    error(d.tclerk.post("/api/documents/incoming/%d/assign" % n, {"department": d.D, "deadline": "%d-12-31" % YEAR}),
          409)
    error(d.tclerk.post("/api/documents/incoming/%d/propose" % n, {}), 400, "invalid", "opinion")
    r = d.tclerk.post("/api/documents/incoming/%d/propose" % n, {"opinion": "拟请王镇长阅示"})
    assert r.status_code == 200 and r.json()["state"] == "proposed", r.text
    error(d.tclerk.post("/api/documents/incoming/%d/instruct" % n, {"text": "x"}), 403)
    error(d.leader.post("/api/documents/incoming/%d/instruct" % n, {"text": "x"}), 404)   # another unit's leader
    r = d.t1leader.post("/api/documents/incoming/%d/instruct" % n,
                        {"text": "请承办科抓紧落实，月底前报结果。", "units": [d.D],
                         "track": {"lead_unit": d.D, "deadline_workdays": 10}})
    assert r.status_code == 200 and r.json()["state"] == "instructed", r.text
    item = r.json()["item_id"]
    assert item and r.json()["instruction"].startswith("请承办科")
    ev = [json.loads(p) for (p,) in tp.db_rows(d.s, "SELECT payload FROM core_events "
                                                     "WHERE name = 'documents.instruction.created'")]
    assert any(e["incoming"] == n and e["leader"] == d.t1leader.id and e["units"] == [d.D] and e["document"] == i
               and e["text"].startswith("请承办科") for e in ev), ev
    rows = tp.db_rows(d.s, "SELECT source, source_kind, record, lead_unit FROM core_items WHERE id = ?", item)
    assert rows == [("documents", "instruction", "documents_incoming:%d" % n, d.D)], rows
    error(d.t1leader.post("/api/documents/incoming/%d/instruct" % n, {"text": "again"}), 409)
    error(d.tclerk.post("/api/documents/incoming/%d/assign" % n, {"department": d.D, "deadline": "明天"}),
          400, "invalid", "deadline")
    r = d.tclerk.post("/api/documents/incoming/%d/assign" % n, {"department": d.D, "deadline": "%d-12-31" % YEAR})
    assert r.status_code == 200 and r.json()["state"] == "handling", r.text
    assert any(x["incoming"]["id"] == n for x in d.handler.get("/api/documents?box=handle").json()["items"])
    assert d.handler.get("/api/documents/incoming/%d" % n).status_code == 200
    error(d.tclerk.post("/api/documents/incoming/%d/archive" % n), 409)
    r = d.handler.post("/api/documents/incoming/%d/complete" % n, {"result": "已完成全镇检查"})
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    r = d.tclerk.post("/api/documents/incoming/%d/archive" % n)
    assert r.status_code == 200 and r.json()["state"] == "archived", r.text
    error(d.tclerk.post("/api/documents/incoming/%d/circulate" % n,
                        {"user_ids": [d.readers[0].id], "mode": "parallel"}), 409)
    full = d.tclerk.get("/api/documents/incoming/%d" % n).json()
    assert [f["action"] for f in full["flow"]] == ["register", "propose", "instruct", "assign", "complete", "archive"]
    assert any(x["incoming"]["id"] == n for x in d.tclerk.get("/api/documents?box=archived_incoming").json()["items"])


def registered(t, title, unit_index=0):
    i, did = sent_to_t1(t, title)
    u = t.towns[unit_index]
    assert t.tclerk.post("/api/dispatches/%d/sign" % did, {"unit_id": u}).status_code == 200
    r = t.tclerk.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": u})
    assert r.status_code == 201, r.text
    return r.json()


def test_incoming_serials_are_per_unit_and_gap_free(d):
    a = registered(d, "序号一")
    b = registered(d, "序号二")
    c = registered(d, "序号三", unit_index=2)
    assert b["serial"] == a["serial"] + 1 and b["year"] == YEAR
    rows = tp.db_rows(d.s, "SELECT serial FROM documents_incoming WHERE unit_id = ? ORDER BY serial", d.towns[0])
    assert [s for (s,) in rows] == list(range(1, len(rows) + 1))
    assert c["unit"]["id"] == d.towns[2]


def test_circulation_in_sequence(d):
    n = registered(d, "依次传阅示例")["id"]
    r1, r2, r3 = d.readers
    error(d.tclerk.post("/api/documents/incoming/%d/circulate" % n, {"user_ids": [r1.id], "mode": "random"}),
          400, "invalid", "mode")
    error(d.tclerk.post("/api/documents/incoming/%d/circulate" % n, {"user_ids": [r1.id, r1.id], "mode": "sequence"}),
          400, "invalid", "user_ids")
    error(d.tclerk.post("/api/documents/incoming/%d/circulate" % n, {"user_ids": [99999999], "mode": "sequence"}),
          400, "invalid", "user_ids")
    r = d.tclerk.post("/api/documents/incoming/%d/circulate" % n, {"user_ids": [r1.id, r2.id, r3.id], "mode": "sequence"})
    assert r.status_code == 200, r.text
    assert [c["state"] for c in r.json()["circulation"]] == ["pending", "waiting", "waiting"]
    assert [x["incoming"]["id"] for x in r1.get("/api/documents?box=circulating").json()["items"]] == [n]
    assert r2.get("/api/documents?box=circulating").json()["items"] == []
    error(r2.post("/api/documents/incoming/%d/read" % n), 409)                       # not r2's turn
    error(d.xclerk.post("/api/documents/incoming/%d/read" % n), 404)                 # not on it
    assert r2.get("/api/documents/incoming/%d" % n).status_code == 200              # a reader sees it
    r = r1.post("/api/documents/incoming/%d/read" % n, {"comment": "已阅"})
    assert r.status_code == 200 and [c["state"] for c in r.json()["circulation"]] == ["read", "pending", "waiting"]
    error(r1.post("/api/documents/incoming/%d/read" % n), 409)                       # twice
    assert r2.post("/api/documents/incoming/%d/read" % n).status_code == 200
    r = r3.post("/api/documents/incoming/%d/read" % n, {"comment": "圈阅"})
    circ = r.json()["circulation"]
    assert [c["state"] for c in circ] == ["read"] * 3 and circ[0]["comment"] == "已阅" and circ[2]["comment"] == "圈阅"
    todos = r3.get("/api/me/todos").json()["items"]
    assert not any("依次传阅示例" in t["title"] for t in todos), todos


def test_circulation_in_parallel(d):
    n = registered(d, "同时传阅示例")["id"]
    r1, r2, r3 = d.readers
    r = d.tclerk.post("/api/documents/incoming/%d/circulate" % n, {"user_ids": [r1.id, r2.id, r3.id], "mode": "parallel"})
    assert [c["state"] for c in r.json()["circulation"]] == ["pending"] * 3
    todos = r3.get("/api/me/todos").json()["items"]
    assert any("同时传阅示例" in t["title"] for t in todos), todos
    assert r3.post("/api/documents/incoming/%d/read" % n).status_code == 200
    assert r1.post("/api/documents/incoming/%d/read" % n, {"comment": "同意"}).status_code == 200
    r = r2.post("/api/documents/incoming/%d/read" % n)
    assert [c["state"] for c in r.json()["circulation"]] == ["read"] * 3
    error(d.tclerk.post("/api/documents/incoming/%d/circulate" % n, {"user_ids": [r1.id], "mode": "parallel"}),
          400, "invalid", "user_ids")   # already on it


# ---------------------------------------------------------------- lists

def test_lists_filter_and_page(d):
    for k in range(3):
        create(d, title="分页%d" % k, doc_type="函", urgency="特急")
    p1 = d.drafter.get("/api/documents?box=drafts&type=%s&urgency=%s&limit=2" % (quote("函"), quote("特急"))).json()
    assert len(p1["items"]) == 2 and p1["next"]
    p2 = d.drafter.get("/api/documents?box=drafts&type=%s&urgency=%s&limit=2&after=%d"
                       % (quote("函"), quote("特急"), p1["next"])).json()
    ids = [x["id"] for x in p1["items"] + p2["items"]]
    assert len(ids) == len(set(ids)) >= 3 and ids == sorted(ids, reverse=True)
    assert all(x["elements"]["doc_type"] == "函" and "body" not in x["elements"] for x in p1["items"])
    assert d.reviewer.get("/api/documents?box=drafts").json()["items"] == []
    error(d.drafter.get("/api/documents?box=nope"), 400, "invalid", "box")
    error(d.drafter.get("/api/documents?box=drafts&limit=0"), 400, "invalid", "limit")
    error(d.drafter.get("/api/documents?box=drafts&secrecy=x"), 400, "invalid", "secrecy")
    error(d.drafter.get("/api/documents?box=drafts&from=2026-13-01"), 400, "invalid", "from")
    assert d.xclerk.get("/api/documents?box=signoff").json()["items"] == []


def test_lists_date_range_far_back(d):
    old = [to_signing(d, title="旧日期%d" % k, doc_date="2018-05-%02d" % (k + 1)) for k in range(3)]
    later = to_signing(d, title="旧日期之后", doc_date="2018-09-01")
    now = to_signing(d, title="今日之文")
    # a narrow range far back: read from the date index, newest id first, paged by id
    q = "/api/documents?box=signoff&from=2018-05-01&to=2018-05-31"
    p1 = d.leader.get(q + "&limit=2").json()
    assert [x["id"] for x in p1["items"]] == [old[2], old[1]] and p1["next"] == old[1], p1
    p2 = d.leader.get(q + "&limit=2&after=%d" % p1["next"]).json()
    assert [x["id"] for x in p2["items"]] == [old[0]] and p2["next"] is None, p2
    assert [x["id"] for x in d.leader.get(q + "&type=%s" % quote("函")).json()["items"]] == []
    # a range reaching today: walked from the newest row, the same filter
    wide = [x["id"] for x in d.leader.get("/api/documents?box=signoff&limit=200&from=2018-05-01&to=%d-12-31"
                                          % YEAR).json()["items"]]
    assert set(old + [later, now]) <= set(wide) and wide == sorted(wide, reverse=True)
    assert d.leader.get("/api/documents?box=signoff&from=2018-06-01&to=2018-05-01").json()["items"] == []
    assert d.xclerk.get(q).json()["items"] == []                      # another unit's clerk
    error(d.leader.get("/api/documents?box=signoff&from=2018-05-01&to=2018-05-32"), 400, "invalid", "to")


def test_search_entry_follows_the_draft(d):
    doc = create(d, title="关于草稿检索的通知", body="正文里有独特词汇丹顶鹤")
    ref = "doc:%d" % doc["id"]
    hits = lambda who, q: [h["ref"] for h in who.get("/api/search?kind=documents&q=" + quote(q)).json()["items"]]
    assert ref in hits(d.drafter, "丹顶鹤")
    r = d.drafter.call("PATCH", "/api/documents/%d" % doc["id"], {"body": "正文改为独特词汇白头鹤"})
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    assert ref in hits(d.drafter, "白头鹤") and ref not in hits(d.drafter, "丹顶鹤")
    assert ref not in hits(d.xclerk, "白头鹤")                         # another unit
    error(d.drafter.call("PATCH", "/api/documents/%d" % doc["id"], {"title": 5}), 400, "invalid", "title")
    assert d.drafter.get("/api/documents/%d" % doc["id"]).json()["version"] == 2   # nothing written


def test_circulation_shows_reader_names(d):
    n = registered(d, "传阅显示姓名")["id"]
    r1, r2 = d.readers[:2]
    for u, name in ((r1, "王传阅"), (r2, "李传阅")):
        assert d.admin.patch("/api/users/%d" % u.id, {"display_name": name}).status_code == 200
    r = d.tclerk.post("/api/documents/incoming/%d/circulate" % n, {"user_ids": [r2.id, r1.id], "mode": "parallel"})
    assert r.status_code == 200, r.text
    assert [(c["user_id"], c["name"]) for c in r.json()["circulation"]] == [(r2.id, "李传阅"), (r1.id, "王传阅")]
    got = r1.get("/api/documents/incoming/%d" % n).json()["circulation"]
    assert {c["name"] for c in got} == {"王传阅", "李传阅"}


def test_units_to_pick_without_units_read(d):
    # the drafting clerk's role has documents.send but not units.read
    error(d.drafter.get("/api/units"), 403)
    r = d.drafter.get("/api/documents/units")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    ids = {u["id"] for u in items}
    assert set(d.towns) <= ids and d.O in ids
    assert all(set(u) >= {"id", "parent_id", "kind", "name", "active"} for u in items)
    assert d.reviewer.get("/api/documents/units").status_code == 200     # picks countersigning units
    error(d.handler.get("/api/documents/units"), 403, "forbidden")       # may neither dispatch nor review
    error(d.readers[0].get("/api/documents/units"), 403, "forbidden")


def test_lists_unit_filter_and_received(d):
    T1, T3 = d.towns[0], d.towns[2]
    i, did = sent_to_t1(d, "按单位筛选")
    box = lambda unit: [x["id"] for x in d.tclerk.get("/api/documents?box=to_receive&limit=200&unit=%d" % unit)
                        .json()["items"]]
    assert i in box(T1) and i in box(T3)
    assert i not in box(d.towns[5])                                          # not sent there
    assert d.xclerk.get("/api/documents?box=to_receive&unit=%d" % T1).json()["items"] == []   # not theirs
    assert d.tclerk.post("/api/dispatches/%d/sign" % did, {"unit_id": T1}).status_code == 200
    assert d.tclerk.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": T1}).status_code == 201
    assert i not in box(T1) and i in box(T3)                                 # registered at T1 only
    inc = [x for x in d.tclerk.get("/api/documents?box=incoming&unit=%d" % T1).json()["items"] if x["id"] == i]
    assert len(inc) == 1 and inc[0]["incoming"]["unit_id"] == T1
    assert not [x for x in d.tclerk.get("/api/documents?box=incoming&unit=%d" % T3).json()["items"] if x["id"] == i]
    for bad in ("0", "x", "-3", "1.5"):
        error(d.tclerk.get("/api/documents?box=incoming&unit=" + bad), 400, "invalid", "unit")
    error(d.tclerk.get("/api/documents?box=incoming&after=x"), 400, "invalid", "after")
    error(d.tclerk.get("/api/documents?box=incoming&to=2026-02-30"), 400, "invalid", "to")
    error(d.tclerk.get("/api/documents?box=incoming&urgency=x"), 400, "invalid", "urgency")


def test_lists_merge_units_in_key_order(d):
    # to_receive over several units: one page merges the units' rows, newest first, no repeats
    sent = [sent_to_t1(d, "合并分页%d" % k)[0] for k in range(3)]
    seen, after = [], None
    for _ in range(20):
        r = d.tclerk.get("/api/documents?box=to_receive&limit=2" + ("&after=%d" % after if after else "")).json()
        seen += [(x["id"], x["for_unit"]) for x in r["items"]]
        after = r["next"]
        if not after:
            break
    assert len(seen) == len(set(seen))
    assert [x for x in seen if x[0] in sent] == [(i, u) for i in reversed(sent) for u in (d.towns[2], d.towns[0])]
