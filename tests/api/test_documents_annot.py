"""Documents: PDF attachments rendered to PNG pages (poppler, cached), annotations
(圈阅: strokes, circles, marks per user per page, stored as data) with their
permissions, validation and the seal of archiving, and the diff of two saved versions."""
import os
import struct
from datetime import datetime
import tempfile
from types import SimpleNamespace

import pytest

import test_plugins as tp
from conftest import wait_for
from directory_helpers import error
from test_documents import elements


def make_pdf(sizes):
    """A minimal valid PDF, one page per (width, height) in points, each with a blue box."""
    n = len(sizes)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            ("<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % (3 + i) for i in range(n)), n)).encode()]
    for i, (w, h) in enumerate(sizes):
        objs.append(("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R >>"
                     % (w, h, 3 + n + i)).encode())
    for _ in sizes:
        stream = b"0 0 1 rg 10 10 50 30 re f"
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out, offsets = b"%PDF-1.4\n", []
    for k, o in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (k + 1) + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def d():
    with tempfile.TemporaryDirectory(prefix="yimen-documents-annot-") as tmp:
        conf = tp.plugin_conf([tp.BUILT], ["documents"], 'documents = { reviewer_role = "a_reviewer", leader_role = "a_leader", clerk_role = "a_clerk" }\n')
        s = tp.new_server(tmp, conf).start()
        try:
            admin = tp.admin_api(s)
            t = SimpleNamespace(s=s, admin=admin)
            t.O = tp.make_unit(admin, "department", "县政府办公室")
            t.X = tp.make_unit(admin, "township", "无关镇")
            t.T = tp.make_unit(admin, "township", "第一镇")
            tp.make_role(admin, "a_clerk", ["documents.read", "documents.draft", "documents.send", "documents.receive"])
            tp.make_role(admin, "a_reviewer", ["documents.read", "documents.review"])
            tp.make_role(admin, "a_leader", ["documents.read", "documents.signoff", "documents.annotations"])
            t.drafter = tp.person(s, admin, t.O, [("a_clerk", t.O, False)])
            t.reviewer = tp.person(s, admin, t.O, [("a_reviewer", t.O, False)])
            t.leader = tp.person(s, admin, t.O, [("a_leader", t.O, False)])
            t.xclerk = tp.person(s, admin, t.X, [("a_clerk", t.X, False)])
            t.tclerk = tp.person(s, admin, t.T, [("a_clerk", t.T, False)])
            yield t
        finally:
            tp.stop_clean(s)


def upload(api, data, name="附件.pdf"):
    r = api.post("/api/files?name=" + name, raw=data, ctype="application/pdf")
    assert r.status_code == 201, r.text
    return r.json()["id"]


def draft_with_pdf(t, sizes=((200, 100), (300, 400))):
    r = t.drafter.post("/api/documents", elements())
    assert r.status_code == 201, r.text
    i = r.json()["id"]
    fid = upload(t.drafter, make_pdf(list(sizes)))
    r = t.drafter.post("/api/documents/%d/attachments" % i, {"file_id": fid})
    assert r.status_code == 201, r.text
    return i, fid


STROKE = {"kind": "stroke", "points": [[0.1, 0.1], [0.5, 0.4], [0.9, 0.2]], "color": "#d00000", "width": 3}
CIRCLE = {"kind": "circle", "center": [0.5, 0.5], "radius": 0.2, "color": "#0000ff", "width": 2}
MARK = {"kind": "mark", "at": [0.3, 0.7], "symbol": "check", "color": "#008000"}


def test_attachment_pages_render_to_png_of_the_page_size(d):
    i, fid = draft_with_pdf(d)
    att = d.drafter.get("/api/documents/%d/attachments" % i).json()["items"]
    assert [(a["file_id"], a["pages"], a["type"]) for a in att] == [(fid, 2, "application/pdf")]
    r = d.drafter.get("/api/documents/%d/attachments/%d/pages" % (i, fid))
    assert r.status_code == 200 and r.json()["pages"] == 2 and r.json()["page_sizes"] == [[200, 100], [300, 400]], r.text
    r = d.drafter.get("/api/documents/%d/attachments/%d/pages/1" % (i, fid))
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    assert png_size(r.content) == (200, 100)
    r = d.drafter.get("/api/documents/%d/attachments/%d/pages/2?scale=1.5" % (i, fid))
    assert r.status_code == 200 and png_size(r.content) == (450, 600)
    # cached by content hash, page and scale; the second read is the same bytes
    cache = os.path.join(d.s.data, "plugins", "documents", "pages")
    assert len([f for f in os.listdir(cache) if f.endswith(".png")]) == 2
    assert d.drafter.get("/api/documents/%d/attachments/%d/pages/2?scale=1.5" % (i, fid)).content == r.content
    # the page is still white around the blue box: a real rendering
    error(d.drafter.get("/api/documents/%d/attachments/%d/pages/3" % (i, fid)), 404)
    error(d.drafter.get("/api/documents/%d/attachments/%d/pages/0" % (i, fid)), 404)
    error(d.drafter.get("/api/documents/%d/attachments/%d/pages/1?scale=9" % (i, fid)), 400, "invalid", "scale")
    error(d.drafter.get("/api/documents/%d/attachments/%d/pages/1?scale=x" % (i, fid)), 400, "invalid", "scale")
    error(d.drafter.get("/api/documents/%d/attachments/999999/pages/1" % i), 404)
    # a poster-sized page is refused at a scale that would be too many pixels, before rendering
    r = d.drafter.post("/api/documents", elements())
    j = r.json()["id"]
    big = upload(d.drafter, make_pdf([(14400, 14400)]))
    assert d.drafter.post("/api/documents/%d/attachments" % j, {"file_id": big}).status_code == 201
    error(d.drafter.get("/api/documents/%d/attachments/%d/pages/1" % (j, big)), 400, "invalid", "scale")
    assert png_size(d.drafter.get("/api/documents/%d/attachments/%d/pages/1?scale=0.25" % (j, big)).content) == (3600, 3600)
    # another unit sees neither the document nor its pages
    error(d.xclerk.get("/api/documents/%d/attachments/%d/pages/1" % (i, fid)), 404)
    error(d.xclerk.get("/api/documents/%d/attachments" % i), 404)


def test_attach_refusals(d):
    r = d.drafter.post("/api/documents", elements())
    i = r.json()["id"]
    error(d.drafter.post("/api/documents/%d/attachments" % i, {"file_id": "1"}), 400, "invalid", "file_id")
    error(d.drafter.post("/api/documents/%d/attachments" % i, {"file_id": 1, "x": 1}), 400, "invalid", "x")
    error(d.drafter.post("/api/documents/%d/attachments" % i, raw=b"{", ctype="application/json"), 400)
    other = upload(d.xclerk, make_pdf([(100, 100)]))
    error(d.drafter.post("/api/documents/%d/attachments" % i, {"file_id": other}), 400, "invalid", "file_id")
    bad = upload(d.drafter, b"%PDF-1.4\nnot really a pdf\n")
    error(d.drafter.post("/api/documents/%d/attachments" % i, {"file_id": bad}), 400, "invalid", "file_id")
    assert d.drafter.get("/api/documents/%d/attachments" % i).json()["items"] == []
    # the failed attach left the file unattached: it can go to another record
    assert tp.db_rows(d.s, "SELECT owner FROM core_files WHERE id = ?", bad)[0][0] is None
    mine = upload(d.drafter, make_pdf([(100, 100)]))
    error(d.xclerk.post("/api/documents/%d/attachments" % i, {"file_id": mine}), 404)
    error(d.reviewer.post("/api/documents/%d/attachments" % i, {"file_id": mine}), 404)


def test_annotations_round_trip_in_order(d):
    i, fid = draft_with_pdf(d)
    base = "/api/documents/%d/annotations" % i
    r = d.leader.post(base, {"target": fid, "page": 2, "items": [STROKE, CIRCLE, MARK]})
    assert r.status_code == 201, r.text
    made = r.json()["items"]
    assert [a["kind"] for a in made] == ["stroke", "circle", "mark"]
    r = d.leader.post(base, {"target": "body", "page": 1, "items": [dict(STROKE, color="#123456")]})
    assert r.status_code == 201, r.text
    d.drafter.post(base, {"target": fid, "page": 2, "items": [STROKE]})
    got = d.leader.get(base + "?target=%d&page=2" % fid).json()["items"]
    assert [a["kind"] for a in got] == ["stroke", "circle", "mark"]          # own only, in order
    assert got[0]["points"] == STROKE["points"] and got[0]["color"] == "#d00000" and got[0]["width"] == 3
    assert got[1]["center"] == [0.5, 0.5] and got[1]["radius"] == 0.2 and got[2]["symbol"] == "check"
    assert all(a["user"]["id"] == d.leader.id and a["target"] == fid and a["page"] == 2 for a in got)
    body = d.leader.get(base + "?target=body").json()["items"]
    assert [(a["target"], a["color"]) for a in body] == [("body", "#123456")]
    # everyone's: the leader holds documents.annotations; the drafter does not
    all_ = d.leader.get(base + "?target=%d&page=2&user=all" % fid).json()["items"]
    assert sorted({a["user"]["id"] for a in all_}) == sorted([d.leader.id, d.drafter.id]) and len(all_) == 4
    assert [a["id"] for a in all_] == sorted(a["id"] for a in all_)
    error(d.drafter.get(base + "?user=all"), 403, "forbidden")
    error(d.drafter.get(base + "?user=%d" % d.leader.id), 403, "forbidden")
    assert len(d.drafter.get(base).json()["items"]) == 1
    # delete: one's own only
    error(d.drafter.delete(base + "/%d" % made[0]["id"]), 403)
    error(d.leader.delete(base + "/99999999"), 404)
    assert d.leader.delete(base + "/%d" % made[1]["id"]).status_code == 204
    got = d.leader.get(base + "?target=%d&page=2" % fid).json()["items"]
    assert [a["kind"] for a in got] == ["stroke", "mark"]
    # another unit: the document does not exist for it
    error(d.xclerk.get(base), 404)
    error(d.xclerk.post(base, {"target": "body", "page": 1, "items": [STROKE]}), 404)


@pytest.mark.parametrize("body,field", [
    ({"target": "page", "page": 1, "items": [STROKE]}, "target"),
    ({"target": 999999, "page": 1, "items": [STROKE]}, "target"),
    ({"target": "body", "page": 0, "items": [STROKE]}, "page"),
    ({"target": "body", "page": "1", "items": [STROKE]}, "page"),
    ({"target": "FID", "page": 3, "items": [STROKE]}, "page"),
    ({"target": "body", "page": 1, "items": []}, "items"),
    ({"target": "body", "page": 1, "items": [STROKE] * 201}, "items"),
    ({"target": "body", "page": 1, "items": {}}, "items"),
    ({"target": "body", "page": 1, "items": [STROKE], "extra": 1}, "extra"),
    ({"target": "body", "page": 1, "items": ["x"]}, "items[0]"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, kind="arrow")]}, "items[0].kind"),
    ({"target": "body", "page": 1, "items": [STROKE, dict(STROKE, points=[[0.1, 0.1]])]}, "items[1].points"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, points=[[0.1, 0.1]] * 2001)]}, "items[0].points"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, points=[[0.1, 0.1], [1.5, 0.2]])]}, "items[0].points[1]"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, points=[[0.1, 0.1], ["a", 0.2]])]}, "items[0].points[1]"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, points=[[0.1, 0.1], [0.2]])]}, "items[0].points[1]"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, color="red")]}, "items[0].color"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, color="#12345g")]}, "items[0].color"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, width=0)]}, "items[0].width"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, width=21)]}, "items[0].width"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, width="3")]}, "items[0].width"),
    ({"target": "body", "page": 1, "items": [dict(STROKE, radius=1)]}, "items[0].radius"),
    ({"target": "body", "page": 1, "items": [dict(CIRCLE, radius=0)]}, "items[0].radius"),
    ({"target": "body", "page": 1, "items": [dict(CIRCLE, center=[2, 0])]}, "items[0].center"),
    ({"target": "body", "page": 1, "items": [dict(MARK, symbol="smile")]}, "items[0].symbol"),
    ({"target": "body", "page": 1, "items": [dict(MARK, at=None)]}, "items[0].at"),
])
def test_annotation_bad_input_writes_nothing(d, body, field):
    if not hasattr(d, "bad_doc"):
        d.bad_doc, d.bad_fid = draft_with_pdf(d)
    if body["target"] == "FID":
        body = dict(body, target=d.bad_fid)
    before = tp.db_rows(d.s, "SELECT count(*) FROM documents_annotations")[0][0]
    error(d.leader.post("/api/documents/%d/annotations" % d.bad_doc, body), 400, "invalid", field)
    assert tp.db_rows(d.s, "SELECT count(*) FROM documents_annotations")[0][0] == before


def test_annotation_malformed_and_oversized_bodies(d):
    i, _ = draft_with_pdf(d)
    base = "/api/documents/%d/annotations" % i
    error(d.leader.post(base, raw=b'{"target":', ctype="application/json"), 400)
    error(d.leader.post(base, raw=b"[]", ctype="application/json"), 400, "invalid")
    big = {"target": "body", "page": 1, "items": [dict(STROKE, points=[[0.123456789, 0.123456789]] * 2000)] * 40}
    error(d.leader.post(base, big), 413)
    error(d.leader.get(base + "?target=x"), 400, "invalid", "target")
    error(d.leader.get(base + "?page=0"), 400, "invalid", "page")
    error(d.leader.get(base + "?user=me"), 400, "invalid", "user")
    error(d.leader.get("/api/documents/99999999/annotations"), 404)


def archived_doc(t, with_pdf=True):
    i, fid = draft_with_pdf(t) if with_pdf else (t.drafter.post("/api/documents", elements()).json()["id"], None)
    assert t.drafter.post("/api/documents/%d/submit" % i).status_code == 200
    assert t.reviewer.post("/api/documents/%d/review" % i, {"decision": "pass"}).status_code == 200
    assert t.leader.post("/api/documents/%d/signoff" % i, {"decision": "approve"}).status_code == 200
    r = t.drafter.post("/api/documents/%d/dispatch" % i, {"main": [t.T]})
    assert r.status_code == 200, r.text
    return i, fid, r.json()["dispatch_id"]


def test_a_recipient_annotates_and_the_archive_seals(d):
    i, fid, did = archived_doc(d)
    base = "/api/documents/%d/annotations" % i
    # the township sees it once registered, and annotates its pages
    error(d.tclerk.post(base, {"target": fid, "page": 1, "items": [STROKE]}), 404)
    assert d.tclerk.post("/api/dispatches/%d/sign" % did, {"unit_id": d.T}).status_code == 200
    assert d.tclerk.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": d.T}).status_code == 201
    r = d.tclerk.post(base, {"target": fid, "page": 1, "items": [MARK]})
    assert r.status_code == 201, r.text
    assert d.tclerk.get("/api/documents/%d/attachments/%d/pages/1" % (i, fid)).status_code == 200
    mine = r.json()["items"][0]["id"]
    assert d.leader.post(base, {"target": fid, "page": 1, "items": [STROKE]}).status_code == 201
    assert d.drafter.post("/api/documents/%d/archive" % i).status_code == 200
    before = tp.db_rows(d.s, "SELECT count(*) FROM documents_annotations WHERE doc_id = ?", i)[0][0]
    error(d.leader.post(base, {"target": fid, "page": 1, "items": [STROKE]}), 409, "conflict")
    error(d.tclerk.delete(base + "/%d" % mine), 409, "conflict")
    fid2 = upload(d.drafter, make_pdf([(100, 100)]))
    error(d.drafter.post("/api/documents/%d/attachments" % i, {"file_id": fid2}), 409, "conflict")
    assert tp.db_rows(d.s, "SELECT count(*) FROM documents_annotations WHERE doc_id = ?", i)[0][0] == before
    # still listed and replayable
    assert [a["kind"] for a in d.leader.get(base + "?user=all").json()["items"]] == ["mark", "stroke"]


# ---------------------------------------------------------------- version diff

def test_diff_of_two_versions_by_character(d):
    r = d.drafter.post("/api/documents", elements(title="关于做好冬季安全生产工作的通知", body="第一条。\n第二条。"))
    i = r.json()["id"]
    r = d.drafter.patch("/api/documents/%d" % i, {"title": "关于做好冬春季节安全生产工作的紧急通知",
                                                   "body": "第一条。\n第三条。", "notes": "联系人：张三"})
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    r = d.drafter.get("/api/documents/%d/diff?from=1&to=2" % i)
    assert r.status_code == 200, r.text
    ch = {c["field"]: c for c in r.json()["changes"]}
    assert set(ch) == {"title", "body", "notes"}
    t = ch["title"]["ops"]
    assert "".join(o["text"] for o in t if o["op"] != "insert") == "关于做好冬季安全生产工作的通知"
    assert "".join(o["text"] for o in t if o["op"] != "delete") == "关于做好冬春季节安全生产工作的紧急通知"
    assert {"op": "insert", "text": "紧急"} in t and {"op": "insert", "text": "春"} in t
    assert {"op": "delete", "text": "二"} in ch["body"]["ops"] and {"op": "insert", "text": "三"} in ch["body"]["ops"]
    assert ch["notes"]["kind"] == "added" and ch["notes"]["ops"] == [{"op": "insert", "text": "联系人：张三"}]
    back = d.drafter.get("/api/documents/%d/diff?from=2&to=1" % i).json()
    assert {c["field"]: c["kind"] for c in back["changes"]}["notes"] == "removed"
    assert d.drafter.get("/api/documents/%d/diff?from=1&to=1" % i).json()["changes"] == []
    error(d.drafter.get("/api/documents/%d/diff?from=1" % i), 400, "invalid", "to")
    error(d.drafter.get("/api/documents/%d/diff?from=a&to=2" % i), 400, "invalid", "from")
    error(d.drafter.get("/api/documents/%d/diff?from=1&to=9" % i), 404)
    error(d.xclerk.get("/api/documents/%d/diff?from=1&to=2" % i), 404)


def test_page_cache_cleanup_keeps_pages_shown_lately(d):
    """documents.pages_cleanup (daily) removes cached pages not shown for 30 days; a page
    shown again is rendered again."""
    i, fid = draft_with_pdf(d)
    url = "/api/documents/%d/attachments/%d/pages/%%d?scale=0.5" % (i, fid)
    first = d.drafter.get(url % 1)
    assert first.status_code == 200 and d.drafter.get(url % 2).status_code == 200
    cache = os.path.join(d.s.data, "plugins", "documents", "pages")
    p1, p2 = (os.path.join(cache, f) for f in sorted(f for f in os.listdir(cache) if f.endswith("-s50.png")))
    now = d.admin.post("/api/test/clock", {"advance": 0}).json()["now"]
    shown = datetime.fromisoformat(now).timestamp() + 40 * 86400   # shown 40 days after the server's now
    os.utime(p2, (shown, shown))
    r = d.admin.post("/api/test/clock", {"advance": 31 * 86400})   # the daily job falls due
    assert r.status_code == 200, r.text
    assert wait_for(lambda: not os.path.exists(p1), timeout=10), "an old page stayed in the cache"
    assert os.path.exists(p2)
    # a month on, sessions have ended: a clerk signed in now attaches the same PDF
    clerk = tp.person(d.s, tp.admin_api(d.s), d.O, [("a_clerk", d.O, False)])
    j, gid = draft_with_pdf(SimpleNamespace(drafter=clerk))
    again = clerk.get("/api/documents/%d/attachments/%d/pages/1?scale=0.5" % (j, gid))
    assert again.status_code == 200 and again.content == first.content and os.path.exists(p1), again.text
