"""Documents: the retention period (保管期限) chosen at archiving with defaults per type
from the config, and the yearly archive export: a zip with a DA/T 22 item-level
manifest and, per document, its record, versions, flow log, annotations and files."""
import io
import json
import tempfile
import time
import zipfile
from types import SimpleNamespace

import pytest

import test_plugins as tp
from directory_helpers import error
from test_documents import elements
from test_documents_annot import make_pdf, upload, STROKE

YEAR = time.localtime().tm_year


@pytest.fixture(scope="module")
def d():
    with tempfile.TemporaryDirectory(prefix="yimen-documents-archive-") as tmp:
        conf = tp.plugin_conf([tp.BUILT], ["documents"],
                              'documents = { reviewer_role = "r_reviewer", leader_role = "r_leader", '
                              'clerk_role = "r_clerk", retention = "通知=定期10年,*=永久" }\n')
        s = tp.new_server(tmp, conf).start()
        try:
            admin = tp.admin_api(s)
            t = SimpleNamespace(s=s, admin=admin)
            t.O = tp.make_unit(admin, "department", "县档案局")
            t.X = tp.make_unit(admin, "township", "无关镇")
            t.T = tp.make_unit(admin, "township", "第二镇")
            tp.make_role(admin, "r_clerk", ["documents.read", "documents.draft", "documents.send", "documents.receive"])
            tp.make_role(admin, "r_reviewer", ["documents.read", "documents.review"])
            tp.make_role(admin, "r_leader", ["documents.read", "documents.signoff"])
            t.drafter = tp.person(s, admin, t.O, [("r_clerk", t.O, False)])
            t.reviewer = tp.person(s, admin, t.O, [("r_reviewer", t.O, False)])
            t.leader = tp.person(s, admin, t.O, [("r_leader", t.O, False)])
            t.xclerk = tp.person(s, admin, t.X, [("r_clerk", t.X, False)])
            t.D = tp.make_unit(admin, "department", "第二镇党政办")
            tp.make_role(admin, "r_handler", ["documents.handle"])
            t.tclerk = tp.person(s, admin, t.T, [("r_clerk", t.T, False)])
            t.handler = tp.person(s, admin, t.D, [("r_handler", t.D, False)])
            yield t
        finally:
            tp.stop_clean(s)


def dispatched(t, pdf=False, **kw):
    r = t.drafter.post("/api/documents", elements(**kw))
    assert r.status_code == 201, r.text
    i, fid = r.json()["id"], None
    if pdf:
        fid = upload(t.drafter, make_pdf([(200, 100), (200, 100), (200, 100)]), name="附件一.pdf")
        assert t.drafter.post("/api/documents/%d/attachments" % i, {"file_id": fid}).status_code == 201
    assert t.drafter.patch("/api/documents/%d" % i, {"notes": "联系人：李四"}).status_code == 200
    assert t.drafter.post("/api/documents/%d/submit" % i).status_code == 200
    assert t.reviewer.post("/api/documents/%d/review" % i, {"decision": "pass"}).status_code == 200
    assert t.leader.post("/api/documents/%d/signoff" % i, {"decision": "approve"}).status_code == 200
    assert t.drafter.post("/api/documents/%d/dispatch" % i, {"main": [t.T]}).status_code == 200
    return i, fid


def test_retention_defaults_per_type_and_is_chosen_at_archiving(d):
    i, _ = dispatched(d, title="关于春耕生产的通知")
    r = d.drafter.get("/api/documents/%d/retention" % i)
    assert r.json() == {"document": i, "period": "定期10年", "chosen": False}, r.text
    j, _ = dispatched(d, doc_type="决定", title="关于表彰先进集体的决定")
    assert d.drafter.get("/api/documents/%d/retention" % j).json()["period"] == "永久"
    r = d.drafter.call("PUT", "/api/documents/%d/retention" % i, {"period": "定期30年"})
    assert r.status_code == 200 and r.json() == {"document": i, "period": "定期30年", "chosen": True}, r.text
    error(d.drafter.call("PUT", "/api/documents/%d/retention" % i, {"period": "30年"}), 400, "invalid", "period")
    error(d.drafter.call("PUT", "/api/documents/%d/retention" % i, {"period": 30}), 400, "invalid", "period")
    error(d.drafter.call("PUT", "/api/documents/%d/retention" % i, {"years": 30}), 400, "invalid", "years")
    error(d.leader.call("PUT", "/api/documents/%d/retention" % i, {"period": "永久"}), 403)   # no documents.send
    error(d.xclerk.call("PUT", "/api/documents/%d/retention" % i, {"period": "永久"}), 404)
    draft = d.drafter.post("/api/documents", elements()).json()["id"]
    error(d.drafter.call("PUT", "/api/documents/%d/retention" % draft, {"period": "永久"}), 409, "conflict")
    assert d.drafter.get("/api/documents/%d/retention" % i).json()["period"] == "定期30年"


def test_bad_retention_setting_fails_the_plugin(tmp_path):
    conf = tp.plugin_conf([tp.BUILT], ["documents"], 'documents = { retention = "通知=十年" }\n')
    s = tp.new_server(str(tmp_path), conf).start()
    try:
        admin = tp.admin_api(s)
        p = tp.plugins_by_name(admin)["documents"]
        assert p["state"] == "failed" and "documents.retention" in p["reason"], p
    finally:
        tp.stop_clean(s)


def test_yearly_export_zip_with_manifest_and_files(d):
    a, fid = dispatched(d, pdf=True, title="关于加强档案管理的通知")
    b, _ = dispatched(d, doc_type="决定", title="关于调整议事机构的决定", secrecy=None)
    c, _ = dispatched(d, title="尚未归档的通知")
    # a leader annotates a page before archiving; the export keeps it
    assert d.leader.post("/api/documents/%d/annotations" % a, {"target": fid, "page": 2, "items": [STROKE]}).status_code == 201
    for i in (a, b):
        assert d.drafter.post("/api/documents/%d/archive" % i).status_code == 200
    assert d.drafter.call("PUT", "/api/documents/%d/retention" % a, {"period": "定期30年"}).status_code == 200
    r = d.drafter.get("/api/documents/archives/%d" % YEAR)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip", r.text
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert z.testzip() is None
    man = json.loads(z.read("manifest.json"))
    assert man["year"] == YEAR and man["unit"]["id"] == d.O
    by_doc = {it["document_id"]: it for it in man["items"]}
    assert set(by_doc) == {a, b} and man["count"] == 2                      # c is not archived
    ia, ib = by_doc[a], by_doc[b]
    assert ib["保管期限"] == "永久" and ib["档号"] == "%d-Y-0001" % YEAR and ib["件号"] == "0001"
    assert ia["保管期限"] == "定期30年" and ia["档号"] == "%d-D30-0001" % YEAR
    assert ia["题名"] == "关于加强档案管理的通知" and ia["文种"] == "通知" and ia["密级"] == "非密" and ia["类别"] == "发文"
    assert ia["文号"].startswith("县政办发〔%d〕" % YEAR) and ia["责任者"] == "某县人民政府办公室"
    assert ia["日期"] == "%d1120" % YEAR and ia["页数"] == 3 and ia["附件数"] == 1 and ib["附件数"] == 0
    names = set(z.namelist())
    folder = ia["path"]
    for f in ("document.json", "versions.json", "flow.json", "annotations.json"):
        assert "%s/%s" % (folder, f) in names, names
    assert ia["files"] == ["%s/attachments/%d-附件一.pdf" % (folder, fid)]
    assert z.read(ia["files"][0]).startswith(b"%PDF-1.4")
    doc = json.loads(z.read(folder + "/document.json"))
    assert doc["id"] == a and doc["state"] == "archived"
    assert [v["version"] for v in json.loads(z.read(folder + "/versions.json"))] == [1, 2]
    flow = json.loads(z.read(folder + "/flow.json"))
    assert [f["action"] for f in flow["outgoing"]][-1] == "archive"
    ann = json.loads(z.read(folder + "/annotations.json"))
    assert [(x["kind"], x["page"], x["user"]["id"]) for x in ann] == [("stroke", 2, d.leader.id)]
    # refusals: another unit's clerk may not export ours; bad year and unit; an empty year
    error(d.xclerk.get("/api/documents/archives/%d?unit=%d" % (YEAR, d.O)), 403)
    error(d.leader.get("/api/documents/archives/%d" % YEAR), 403)
    error(d.drafter.get("/api/documents/archives/12"), 400, "invalid", "year")
    error(d.drafter.get("/api/documents/archives/%d?unit=x" % YEAR), 400, "invalid", "unit")
    for other in (YEAR - 1, YEAR + 1):   # the years on either side hold none of them
        r = d.drafter.get("/api/documents/archives/%d" % other)
        z = zipfile.ZipFile(io.BytesIO(r.content))
        assert json.loads(z.read("manifest.json"))["items"] == [] and z.namelist() == ["manifest.json"]
    assert tp.db_rows(d.s, "SELECT count(*) FROM core_audit WHERE action = 'documents.archive_export'")[0][0] >= 2


def test_a_recipients_export_holds_its_incoming_records(d):
    i, fid = dispatched(d, pdf=True, title="关于做好收文归档工作的通知")
    did = d.drafter.get("/api/documents/%d" % i).json()["dispatch_id"]
    assert d.tclerk.post("/api/dispatches/%d/sign" % did, {"unit_id": d.T}).status_code == 200
    r = d.tclerk.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": d.T})
    assert r.status_code == 201, r.text
    n = r.json()["id"]
    # the township clerk and the county leader both annotate; the township's archive keeps its own people's
    assert d.tclerk.post("/api/documents/%d/annotations" % i, {"target": fid, "page": 1, "items": [
        {"kind": "mark", "at": [0.5, 0.5], "symbol": "check", "color": "#008000"}]}).status_code == 201
    assert d.leader.post("/api/documents/%d/annotations" % i, {"target": fid, "page": 1, "items": [STROKE]}).status_code == 201
    assert d.tclerk.post("/api/documents/incoming/%d/propose" % n, {"opinion": "拟请党政办办理"}).status_code == 200
    assert d.tclerk.post("/api/documents/incoming/%d/assign" % n, {"department": d.D, "deadline": "%d-12-31" % YEAR}).status_code == 200
    assert d.handler.post("/api/documents/incoming/%d/complete" % n, {"result": "已办结"}).status_code == 200
    assert d.tclerk.post("/api/documents/incoming/%d/archive" % n).status_code == 200
    r = d.tclerk.get("/api/documents/archives/%d" % YEAR)
    assert r.status_code == 200, r.text
    z = zipfile.ZipFile(io.BytesIO(r.content))
    man = json.loads(z.read("manifest.json"))
    assert man["unit"]["id"] == d.T
    items = [it for it in man["items"] if it["document_id"] == i]
    assert len(items) == 1 and all(it["类别"] == "收文" for it in man["items"]), man["items"]
    it = items[0]
    assert it["incoming_id"] == n and it["收文号"].startswith("%d-" % YEAR) and it["保管期限"] == "定期10年"   # a 通知
    assert it["题名"] == "关于做好收文归档工作的通知" and it["附件数"] == 1 and it["页数"] == 3
    folder = it["path"]
    assert json.loads(z.read(folder + "/incoming.json"))["state"] == "archived"
    flow = json.loads(z.read(folder + "/flow.json"))["incoming"]
    assert [f["action"] for f in flow] == ["register", "propose", "assign", "complete", "archive"]
    ann = json.loads(z.read(folder + "/annotations.json"))
    assert [(a["kind"], a["user"]["id"]) for a in ann] == [("mark", d.tclerk.id)]
    assert folder + "/versions.json" not in z.namelist()
    assert z.read(it["files"][0]).startswith(b"%PDF-1.4")
    # the drafting unit's export has no incoming records; another unit's clerk gets nothing of T
    r = d.drafter.get("/api/documents/archives/%d" % YEAR)
    assert all(x["类别"] == "发文" for x in json.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("manifest.json"))["items"])
    error(d.xclerk.get("/api/documents/archives/%d?unit=%d" % (YEAR, d.T)), 403)
