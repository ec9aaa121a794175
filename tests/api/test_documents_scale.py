"""Documents at the county's scale: a directory of 573 recipient units made by the bulk
import (`yimen unit import`), one document dispatched to the 22 townships and forwarded
down to villages through the dispatch engine, one to all 573 units, each unit signing for
and registering it; the lists over hundreds of units; and who is refused on the way."""
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

import test_plugins as tp
from directory_helpers import error

YEAR = time.localtime().tm_year
TOWNS, VILLAGES, DEPTS = 22, 20, 111          # 22 + 22 * 20 + 111 = 573 recipient units


def units_csv():
    rows = ["name,kind,parent,short_name,credit_code,sort", "县政府办公室,部门,,,,1"]
    for t in range(1, TOWNS + 1):
        rows.append("第%d镇,乡镇,,,,%d" % (t, t))
        rows += ["第%d镇第%d村,村,第%d镇,,,%d" % (t, v, t, v) for v in range(1, VILLAGES + 1)]
    rows += ["县直第%d局,部门,,,,%d" % (k, 100 + k) for k in range(1, DEPTS + 1)]
    return "\r\n".join(rows) + "\r\n"


@pytest.fixture(scope="module")
def c():
    with tempfile.TemporaryDirectory(prefix="yimen-documents-scale-") as tmp:
        conf = tp.plugin_conf([tp.BUILT], ["documents"], 'documents = { clerk_role = "t_clerk" }\n')
        s = tp.new_server(tmp, conf).start()
        try:
            path = os.path.join(tmp, "units.csv")
            with open(path, "w", encoding="utf-8") as f:
                f.write(units_csv())
            r = s.cli("unit", "import", path)
            assert r.returncode == 0 and "imported 574 units" in r.stdout, r.stdout + r.stderr
            admin = tp.admin_api(s)
            t = SimpleNamespace(s=s, admin=admin)
            ids = dict(tp.db_rows(s, "SELECT name, id FROM core_units"))
            t.root = tp.db_rows(s, "SELECT id FROM core_units WHERE kind = 'county'")[0][0]
            t.O = ids["县政府办公室"]
            t.towns = [ids["第%d镇" % k] for k in range(1, TOWNS + 1)]
            t.villages = {tn: [ids["第%d镇第%d村" % (k + 1, v)] for v in range(1, VILLAGES + 1)]
                          for k, tn in enumerate(t.towns)}
            t.depts = [ids["县直第%d局" % k] for k in range(1, DEPTS + 1)]
            t.all = t.towns + [v for vs in t.villages.values() for v in vs] + t.depts
            assert len(t.all) == len(set(t.all)) == 573
            tp.make_role(admin, "t_clerk", ["documents.read", "documents.draft", "documents.send", "documents.receive"])
            tp.make_role(admin, "t_office", ["documents.read", "documents.draft", "documents.review", "documents.signoff",
                                             "documents.send"])
            t.office = tp.person(s, admin, t.O, [("t_office", t.O, False)])
            # the county's receiving desk: every unit's clerk (a grant on the county with its subtree)
            t.desk = tp.person(s, admin, t.root, [("t_clerk", t.root, True)])
            T1 = t.towns[0]
            t.t1clerk = tp.person(s, admin, T1, [("t_clerk", T1, False)])
            t.v1clerk = tp.person(s, admin, t.villages[T1][0], [("t_clerk", t.villages[T1][0], False)])
            # three townships with their villages: 63 units, more than one query per unit is for
            t.tri = tp.person(s, admin, T1, [("t_clerk", u, True) for u in t.towns[:3]])
            yield t
        finally:
            tp.stop_clean(s)


def signed(t, title):
    el = {"doc_type": "通知", "title": title, "issuer_organ": "某县人民政府办公室", "org_code": "县政办发",
          "main_to": ["各乡镇人民政府"], "body": "各乡镇、各单位：\n现将有关事项通知如下。",
          "signature_organ": "某县人民政府办公室", "doc_date": "%d-11-20" % YEAR}
    r = t.office.post("/api/documents", el)
    assert r.status_code == 201, r.text
    i = r.json()["id"]
    assert t.office.post("/api/documents/%d/submit" % i).status_code == 200
    assert t.office.post("/api/documents/%d/review" % i, {"decision": "pass"}).json()["state"] == "signing"
    r = t.office.post("/api/documents/%d/signoff" % i, {"decision": "approve"})
    assert r.status_code == 200 and r.json()["state"] == "signed", r.text
    return i


def sign_and_register(client, did, unit):
    r = client.post("/api/dispatches/%d/sign" % did, {"unit_id": unit})
    assert r.status_code == 200, r.text
    r = client.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": unit})
    assert r.status_code == 201, r.text
    return r.json()


def pages(client, query, limit=200):
    """Every item of a list, page by page (the keyset's next)."""
    out, after = [], None
    for _ in range(100):
        r = client.get("/api/documents?%s&limit=%d%s" % (query, limit, "&after=%d" % after if after else ""))
        assert r.status_code == 200, r.text
        out += r.json()["items"]
        after = r.json()["next"]
        if after is None:
            return out
    raise AssertionError("the list never ended")


def test_dispatch_to_22_townships_with_receipt_and_forwarding(c):
    i = signed(c, "关于做好秋冬季森林防火工作的通知")
    r = c.office.post("/api/documents/%d/dispatch" % i, {"main": c.towns})
    assert r.status_code == 200, r.text
    did = r.json()["dispatch_id"]
    board = c.office.get("/api/dispatches/%d/board" % did).json()
    assert sorted(x["unit"]["id"] for x in board["receipts"]) == sorted(c.towns)
    # the desk sees the document waiting at each township (a list over 573 units)
    waiting = [x["for_unit"] for x in pages(c.desk, "box=to_receive") if x["id"] == i]
    assert sorted(waiting) == sorted(c.towns)
    # a township clerk acts for their own township only
    T1, T2 = c.towns[0], c.towns[1]
    error(c.t1clerk.post("/api/dispatches/%d/sign" % did, {"unit_id": T2}), 403)
    error(c.t1clerk.post("/api/documents/incoming", {"dispatch_id": did, "unit_id": T2}), 404)
    inc1 = sign_and_register(c.t1clerk, did, T1)
    assert inc1["unit"]["id"] == T1 and inc1["document"]["id"] == i
    with ThreadPoolExecutor(4) as ex:
        incs = list(ex.map(lambda u: sign_and_register(c.desk, did, u), c.towns[1:]))
    assert sorted(x["unit"]["id"] for x in incs) == sorted(c.towns[1:])
    assert not [x for x in pages(c.desk, "box=to_receive") if x["id"] == i]
    # forwarding down to T1's villages through the engine: a child dispatch of the same record
    vs = c.villages[T1]
    error(c.t1clerk.post("/api/dispatches/%d/forward" % did, {"unit_ids": [c.villages[T2][0]], "unit_id": T1}), 400)
    r = c.t1clerk.post("/api/dispatches/%d/forward" % did, {"unit_ids": vs, "unit_id": T1})
    assert r.status_code == 201, r.text
    child = r.json()["id"]
    error(c.v1clerk.post("/api/documents/incoming", {"dispatch_id": child, "unit_id": vs[0]}), 409)   # not signed
    v1 = sign_and_register(c.v1clerk, child, vs[0])
    assert v1["document"]["id"] == i and v1["unit"]["id"] == vs[0] and v1["dispatch_id"] == child
    error(c.v1clerk.post("/api/documents/incoming", {"dispatch_id": child, "unit_id": vs[1]}), 404)  # another village
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda u: sign_and_register(c.desk, child, u), vs[1:]))
    # the chain of custody: the township's child dispatch on the county's board, all signed
    board = c.office.get("/api/dispatches/%d/board" % did).json()
    kids = [k for k in board["children"] if k["id"] == child]
    assert len(kids) == 1 and sorted(x["unit"]["id"] for x in kids[0]["receipts"]) == sorted(vs)
    assert all(x["state"] == "signed" for x in kids[0]["receipts"])
    # one incoming record per unit, each with its register row in the flow log
    rows = tp.db_rows(c.s, "SELECT unit_id FROM documents_incoming WHERE doc_id = ?", i)
    assert sorted(u for (u,) in rows) == sorted(c.towns + vs)
    assert tp.db_rows(c.s, "SELECT count(*) FROM documents_flow WHERE doc_id = ? AND action = 'register'", i)[0][0] \
        == len(c.towns) + len(vs)
    # the village clerk's incoming box holds it; the township clerk's does not show the village's record
    assert [x["incoming"]["unit_id"] for x in c.v1clerk.get("/api/documents?box=incoming").json()["items"]
            if x["id"] == i] == [vs[0]]
    assert [x["incoming"]["unit_id"] for x in c.t1clerk.get("/api/documents?box=incoming").json()["items"]
            if x["id"] == i] == [T1]


def test_dispatch_to_all_573_units(c):
    i = signed(c, "关于开展全县安全生产大检查的通知")
    error(c.office.post("/api/documents/%d/dispatch" % i, {"main": c.towns, "copy": c.all[:5]}), 400, "invalid", "copy")
    error(c.office.post("/api/documents/%d/dispatch" % i, {"main": c.all + [c.O]}), 400, "invalid", "main")
    error(c.t1clerk.post("/api/documents/%d/dispatch" % i, {"main": c.all}), 404)
    t0 = time.monotonic()
    r = c.office.post("/api/documents/%d/dispatch" % i, {"main": c.towns, "copy": c.all[len(c.towns):]})
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert took < 5, took
    did = r.json()["dispatch_id"]
    assert tp.db_rows(c.s, "SELECT count(*), sum(kind = 'main') FROM documents_recipients WHERE doc_id = ?", i)[0] \
        == (573, len(c.towns))
    board = c.office.get("/api/dispatches/%d/board" % did).json()
    assert len(board["receipts"]) == 573
    # the desk's to_receive (573 units: one walk of the index) and one unit's (one query)
    waiting = [x["for_unit"] for x in pages(c.desk, "box=to_receive") if x["id"] == i]
    assert sorted(waiting) == sorted(c.all)
    assert [x["id"] for x in c.desk.get("/api/documents?box=to_receive&unit=%d" % c.depts[7]).json()["items"]
            if x["id"] == i] == [i]
    three = c.towns[:3] + [v for tn in c.towns[:3] for v in c.villages[tn]]
    assert sorted(x["for_unit"] for x in pages(c.tri, "box=to_receive", limit=7) if x["id"] == i) == sorted(three)
    assert c.tri.get("/api/documents?box=to_receive&unit=%d" % c.depts[0]).json()["items"] == []
    with ThreadPoolExecutor(4) as ex:
        incs = list(ex.map(lambda u: sign_and_register(c.desk, did, u), c.all))
    assert sorted(x["unit"]["id"] for x in incs) == sorted(c.all)
    # each unit's serial for the year: gap-free per unit
    assert all(x["year"] == YEAR and x["serial"] >= 1 for x in incs)
    assert not [x for x in pages(c.desk, "box=to_receive") if x["id"] == i]
    mine = [x["incoming"]["unit_id"] for x in pages(c.desk, "box=incoming") if x["id"] == i]
    assert sorted(mine) == sorted(c.all)
    r = c.office.get("/api/dispatches/%d/board" % did).json()
    assert all(x["state"] == "signed" for x in r["receipts"])
    # a township clerk sees only their own township's record in the lists
    assert [x["incoming"]["unit_id"] for x in c.t1clerk.get("/api/documents?box=incoming").json()["items"]
            if x["id"] == i] == [c.towns[0]]
