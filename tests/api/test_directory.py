"""The directory over HTTP: /api/units (tree, scope, move, deactivate), /api/users
(accounts, passwords, disable/unlock) and /api/contacts, on a small county built through
the API: root -> townships A and B -> villages, with a unit admin of A, a clerk of one
village and staff of B. Refusals are checked in the audit table as well as on the wire."""
import json

import pytest
import requests

# helpers of both modules; asserts in them report as asserts in a test do
from directory_helpers import (INIT_PW, NEW_PW, Api, audit, county, db_value, error, login_resp, make_unit, make_user,
                               person, serve, uniq)


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def srv():
    yield from serve("yimen-dir-")


@pytest.fixture(scope="module")
def t(srv):
    """root -> A (A1, A2), B (B1); a_admin (unit_admin on A's subtree), a1_clerk (clerk on
    A1 only), b_staff (staff on B's subtree), a_staff (no grant)."""
    t = county(srv)
    admin = t.admin
    t.A1 = make_unit(admin, "village", "甲一村", t.A)
    t.A2 = make_unit(admin, "village", "甲二村", t.A)
    t.B1 = make_unit(admin, "village", "乙一村", t.B)
    t.a_admin = person(srv, admin, t.A, [("unit_admin", t.A, True)], display_name="甲镇管理员")
    t.a1_clerk = person(srv, admin, t.A1, [("clerk", t.A1, False)], display_name="甲一村收发员")
    t.b_staff = person(srv, admin, t.B, [("staff", t.B, True)], display_name="乙镇职员", title="科员",
                       phone="13800000001")
    t.a_staff = person(srv, admin, t.A, display_name="甲镇无权限")
    return t


# ---------------------------------------------------------------- units

def page_all(api, path, limit):
    ids, after, pages = [], None, 0
    while True:
        sep = "&" if "?" in path else "?"
        r = api.get("%s%slimit=%d%s" % (path, sep, limit, "&after=%d" % after if after else ""))
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        ids += [x["id"] for x in body["items"]]
        pages += 1
        if body["next"] is None:
            return ids, pages
        assert body["next"] == body["items"][-1]["id"]
        after = body["next"]


def test_units_list_pages_through_everything(t):
    ids, pages = page_all(t.admin, "/api/units", 2)
    assert ids == sorted(set(ids))
    assert len(ids) == db_value(t.srv, "SELECT count(*) FROM core_units")
    assert pages >= 3
    assert {t.root, t.A, t.B, t.A1, t.A2, t.B1} <= set(ids)


def test_units_list_filters(t):
    kids = t.admin.get("/api/units?parent_id=%d" % t.A).json()["items"]
    assert {u["id"] for u in kids} >= {t.A1, t.A2}
    assert all(u["parent_id"] == t.A for u in kids)
    villages = t.admin.get("/api/units?kind=village&limit=500").json()["items"]
    assert all(u["kind"] == "village" for u in villages) and {t.A1, t.B1} <= {u["id"] for u in villages}
    pct = make_unit(t.admin, "other", "百分之百%办")
    und = make_unit(t.admin, "other", "下划_线办")
    got = {u["id"] for u in t.admin.get("/api/units?q=%25&limit=500").json()["items"]}
    assert pct in got and und not in got and t.A not in got
    got = {u["id"] for u in t.admin.get("/api/units?q=_&limit=500").json()["items"]}
    assert und in got and pct not in got
    got = {u["id"] for u in t.admin.get("/api/units?q=" + requests.utils.quote("甲一")).json()["items"]}
    assert t.A1 in got and not {t.A, t.A2, t.B1} & got


def test_units_list_active_filter(t):
    u = make_unit(t.admin, "other", uniq("停用办"))
    assert t.admin.patch("/api/units/%d" % u, {"active": False}).status_code == 200
    off = {x["id"] for x in t.admin.get("/api/units?active=false&limit=500").json()["items"]}
    on = {x["id"] for x in t.admin.get("/api/units?active=true&limit=500").json()["items"]}
    assert u in off and u not in on and t.A in on


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=abc", "limit"), ("after=-3", "after"),
    ("after=x", "after"), ("parent_id=x", "parent_id"), ("kind=planet", "kind"), ("active=maybe", "active"),
    ("q=" + "x" * 101, "q"),
])
def test_units_list_bad_query(t, query, field):
    error(t.admin.get("/api/units?" + query), 400, "invalid", field)


def test_unit_create_get_and_audit(t):
    r = t.admin.post("/api/units", {"parent_id": t.A, "kind": "department", "name": "甲镇党政办",
                                     "short_name": "党政办", "credit_code": "11330000MB0000001X", "sort": 3})
    assert r.status_code == 201, r.text
    u = r.json()
    assert u == {"id": u["id"], "parent_id": t.A, "kind": "department", "name": "甲镇党政办",
                 "short_name": "党政办", "credit_code": "11330000MB0000001X", "sort": 3, "active": True}
    assert t.admin.get("/api/units/%d" % u["id"]).json() == u
    row = audit(t.srv, action="units.create", target="unit:%d" % u["id"])[-1]
    assert row["result"] == "ok" and row["detail"]["parent_id"] == t.A and row["detail"]["name"] == "甲镇党政办"


def test_unit_create_defaults_to_root(t):
    r = t.admin.post("/api/units", {"kind": "department", "name": "县政府办"})
    assert r.status_code == 201 and r.json()["parent_id"] == t.root


@pytest.mark.parametrize("body,field", [
    ({"name": "无类型"}, "kind"),
    ({"kind": "planet", "name": "x"}, "kind"),
    ({"kind": "other"}, "name"),
    ({"kind": "other", "name": ""}, "name"),
    ({"kind": "other", "name": "长" * 80}, "name"),          # 240 bytes > 200
    ({"kind": "other", "name": 5}, "name"),
    ({"kind": "other", "name": "x", "sort": "1"}, "sort"),
    ({"kind": "other", "name": "x", "sort": 1.5}, "sort"),
    ({"kind": "other", "name": "x", "parent_id": "1"}, "parent_id"),
    ({"kind": "other", "name": "x", "parent_id": 999999}, "parent_id"),
    ({"kind": "other", "name": "x", "credit_code": "123"}, "credit_code"),
    ({"kind": "other", "name": "x", "short_name": "s" * 65}, "short_name"),
    ({"kind": "other", "name": "x", "path": "/1/"}, "path"),
    ({"kind": "other", "name": "x", "active": False}, "active"),
])
def test_unit_create_invalid(t, body, field):
    error(t.admin.post("/api/units", body), 400, "invalid", field)


def test_unit_create_bad_bodies(t):
    error(t.admin.post("/api/units", raw=b'{"kind": "other", "name": '), 400, "bad_json")
    error(t.admin.post("/api/units", raw=b'{"kind":"other","kind":"other","name":"x"}'), 400, "bad_json")
    error(t.admin.post("/api/units", raw=b'["kind"]'), 400, "invalid")
    error(t.admin.post("/api/units", raw=b'{"kind":"other","name":"x"}', ctype="text/plain"), 415)


def test_unit_credit_code_is_unique(t):
    make_unit(t.admin, "other", uniq("信用"), credit_code="91330000MA0000002Y")
    error(t.admin.post("/api/units", {"kind": "other", "name": "重复", "credit_code": "91330000MA0000002Y"}),
          400, "invalid", "credit_code")
    other = make_unit(t.admin, "other", uniq("信用"))
    error(t.admin.patch("/api/units/%d" % other, {"credit_code": "91330000MA0000002Y"}), 400, "invalid", "credit_code")


def test_unit_get_unknown(t):
    error(t.admin.get("/api/units/999999"), 404, "not_found")
    error(t.admin.get("/api/units/abc"), 404, "not_found")
    error(t.admin.get("/api/units/0"), 404, "not_found")
    error(t.admin.patch("/api/units/999999", {"name": "x"}), 404, "not_found")


def test_units_are_never_deleted(t):
    r = t.admin.delete("/api/units/%d" % t.A1)
    error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, HEAD, PATCH"


def test_units_need_authentication(t):
    error(requests.get(t.srv.url + "/api/units", timeout=5), 401, "unauthenticated")
    error(requests.post(t.srv.url + "/api/units", json={"kind": "other", "name": "x"}, timeout=5), 401)


def test_unit_admin_sees_only_its_subtree(t):
    a = t.a_admin.api
    assert a.get("/api/units/%d" % t.A1).status_code == 200
    ids, _ = page_all(a, "/api/units", 50)
    assert {t.A, t.A1, t.A2} <= set(ids)
    assert not {t.root, t.B, t.B1} & set(ids)
    error(a.get("/api/units/%d" % t.B), 404, "not_found")
    rows = audit(t.srv, action="units.read", target="unit:%d" % t.B, actor_id=t.a_admin.id)
    assert rows and rows[-1]["result"] == "denied"


def test_unit_admin_creates_only_inside_its_subtree(t):
    a = t.a_admin.api
    r = a.post("/api/units", {"parent_id": t.A1, "kind": "other", "name": "甲一村村委"})
    assert r.status_code == 201, r.text
    error(a.post("/api/units", {"parent_id": t.B, "kind": "other", "name": "越权"}), 403, "forbidden")
    error(a.post("/api/units", {"kind": "other", "name": "越权到根"}), 403, "forbidden")
    rows = audit(t.srv, action="units.create", actor_id=t.a_admin.id, result="denied")
    assert {r["target"] for r in rows} >= {"unit:%d" % t.B, "unit:%d" % t.root}


def test_clerk_reads_only_its_village(t):
    c = t.a1_clerk.api
    assert c.get("/api/units/%d" % t.A1).status_code == 200
    error(c.get("/api/units/%d" % t.A), 404)
    assert [u["id"] for u in c.get("/api/units").json()["items"]] == [t.A1]
    error(c.post("/api/units", {"parent_id": t.A1, "kind": "other", "name": "x"}), 403, "forbidden")
    rows = audit(t.srv, action="access.denied", actor_id=t.a1_clerk.id, result="denied")
    assert any(r["detail"]["permission"] == "units.manage" for r in rows)


def test_unit_rename_is_audited_with_old_and_new(t):
    u = make_unit(t.admin, "village", "旧名村", t.B)
    r = t.admin.patch("/api/units/%d" % u, {"name": "新名村", "short_name": "新名", "sort": 7})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["short_name"], r.json()["sort"]) == ("新名村", "新名", 7)
    ch = audit(t.srv, action="units.update", target="unit:%d" % u)[-1]["detail"]["changes"]
    assert ch["name"] == {"old": "旧名村", "new": "新名村"}
    assert ch["short_name"] == {"old": None, "new": "新名"} and ch["sort"] == {"old": 0, "new": 7}
    r = t.admin.patch("/api/units/%d" % u, {"short_name": None})
    assert r.status_code == 200 and r.json()["short_name"] is None


@pytest.mark.parametrize("body,field", [
    ({"bogus": 1}, "bogus"), ({"name": ""}, "name"), ({"name": "长" * 80}, "name"), ({"name": None}, "name"),
    ({"sort": "x"}, "sort"), ({"active": "yes"}, "active"), ({"credit_code": "12"}, "credit_code"),
    ({"parent_id": None}, "parent_id"), ({"parent_id": 999999}, "parent_id"), ({"kind": "township"}, "kind"),
])
def test_unit_patch_invalid(t, body, field):
    error(t.admin.patch("/api/units/%d" % t.B1, body), 400, "invalid", field)


def test_unit_move_recomputes_the_subtree(t):
    """A township with its village moves under A: A's admin now reaches the village;
    moved on under B, it no longer does, and B's staff does."""
    tw = make_unit(t.admin, "township", uniq("丙镇"))
    v = make_unit(t.admin, "village", uniq("丙一村"), tw)
    g = make_unit(t.admin, "other", uniq("丙一村组"), v)
    error(t.a_admin.api.get("/api/units/%d" % v), 404)
    r = t.admin.patch("/api/units/%d" % tw, {"parent_id": t.A})
    assert r.status_code == 200 and r.json()["parent_id"] == t.A
    a_path = db_value(t.srv, "SELECT path FROM core_units WHERE id = ?", t.A)
    assert db_value(t.srv, "SELECT path FROM core_units WHERE id = ?", g) == "%s%d/%d/%d/" % (a_path, tw, v, g)
    assert t.a_admin.api.get("/api/units/%d" % v).status_code == 200
    assert t.a_admin.api.get("/api/units/%d" % g).status_code == 200
    row = audit(t.srv, action="units.move", target="unit:%d" % tw)[-1]
    assert row["detail"]["old_parent_id"] == t.root and row["detail"]["new_parent_id"] == t.A
    assert row["detail"]["units"] == 3
    assert t.admin.patch("/api/units/%d" % tw, {"parent_id": t.B}).status_code == 200
    error(t.a_admin.api.get("/api/units/%d" % g), 404)
    assert t.b_staff.api.get("/api/units/%d" % g).status_code == 200
    b_path = db_value(t.srv, "SELECT path FROM core_units WHERE id = ?", t.B)
    assert db_value(t.srv, "SELECT path FROM core_units WHERE id = ?", g).startswith(b_path)


def test_unit_move_refusals(t):
    tw = make_unit(t.admin, "township", uniq("丁镇"))
    v = make_unit(t.admin, "village", uniq("丁一村"), tw)
    error(t.admin.patch("/api/units/%d" % tw, {"parent_id": tw}), 400, "invalid", "parent_id")
    error(t.admin.patch("/api/units/%d" % tw, {"parent_id": v}), 400, "invalid", "parent_id")
    error(t.admin.patch("/api/units/%d" % t.root, {"parent_id": t.A}), 400, "invalid", "parent_id")
    error(t.admin.patch("/api/units/%d" % t.root, {"active": False}), 400, "invalid", "active")
    # A's admin manages A1 but not B: moving A1 there is refused and audited
    error(t.a_admin.api.patch("/api/units/%d" % t.A1, {"parent_id": t.B}), 403, "forbidden")
    rows = audit(t.srv, action="units.move", actor_id=t.a_admin.id, result="denied")
    assert rows and rows[-1]["target"] == "unit:%d" % t.B
    assert t.admin.get("/api/units/%d" % t.A1).json()["parent_id"] == t.A
    # outside its subtree, even patching is a 404 (existence is not revealed)
    error(t.a_admin.api.patch("/api/units/%d" % t.B1, {"name": "越权"}), 404)


def test_unit_deactivate_rules(t):
    tw = make_unit(t.admin, "township", uniq("戊镇"))
    v = make_unit(t.admin, "village", uniq("戊一村"), tw)
    error(t.admin.patch("/api/units/%d" % tw, {"active": False}), 409, "conflict")
    assert t.admin.patch("/api/units/%d" % v, {"active": False}).json()["active"] is False
    assert t.admin.patch("/api/units/%d" % tw, {"active": False}).json()["active"] is False
    error(t.admin.patch("/api/units/%d" % v, {"active": True}), 409, "conflict")
    error(t.admin.post("/api/units", {"parent_id": tw, "kind": "village", "name": "x"}), 400, "invalid", "parent_id")
    error(t.admin.patch("/api/units/%d" % t.A2, {"parent_id": tw}), 400, "invalid", "parent_id")
    ch = audit(t.srv, action="units.update", target="unit:%d" % tw)[-1]["detail"]["changes"]
    assert ch == {"active": {"old": True, "new": False}}


# ---------------------------------------------------------------- contacts

def test_contacts_show_the_whole_county(t):
    items = t.a1_clerk.api.get("/api/contacts?limit=500").json()["items"]
    by_id = {c["id"]: c for c in items}
    assert t.b_staff.id in by_id and t.a_admin.id in by_id
    c = by_id[t.b_staff.id]
    assert c == {"id": t.b_staff.id, "display_name": "乙镇职员", "unit_id": t.B, "unit_name": "乙镇",
                 "title": "科员", "phone": "13800000001"}


def test_contacts_search_and_filter(t):
    c = t.a1_clerk.api
    q = lambda s: {x["id"] for x in c.get("/api/contacts?q=" + requests.utils.quote(s)).json()["items"]}
    assert q("13800000001") == {t.b_staff.id}
    assert t.b_staff.id in q("乙镇") and t.a_admin.id not in q("乙镇")
    assert t.b_staff.id in q("科员")
    assert t.a1_clerk.id in q("收发员")
    assert q("%") == set()
    got = {x["id"] for x in c.get("/api/contacts?unit_id=%d" % t.A1).json()["items"]}
    assert t.a1_clerk.id in got and t.b_staff.id not in got and t.a_admin.id not in got
    ids, pages = page_all(c, "/api/contacts", 1)
    assert len(ids) == len(set(ids)) >= 4 and pages >= len(ids)


def test_contacts_unit_filter_includes_extra_memberships(t):
    p = make_user(t.admin, t.B, display_name="兼职人员", extra_unit_ids=[t.A2])
    got = {x["id"]: x for x in t.a1_clerk.api.get("/api/contacts?limit=500&unit_id=%d" % t.A2).json()["items"]}
    assert p["id"] in got and got[p["id"]]["unit_id"] == t.B and got[p["id"]]["unit_name"] == "乙镇"


def test_no_users_in_an_inactive_unit(t):
    u = make_unit(t.admin, "other", uniq("撤并办"))
    assert t.admin.patch("/api/units/%d" % u, {"active": False}).status_code == 200
    error(t.admin.post("/api/users", {"username": uniq("x"), "display_name": "x", "unit_id": u}), 400, "invalid", "unit_id")
    error(t.admin.patch("/api/users/%d" % t.a_staff.id, {"unit_id": u}), 400, "invalid", "unit_id")


def test_contacts_leave_out_disabled_users(t):
    p = make_user(t.admin, t.B1, display_name="待停用人员")
    c = t.a1_clerk.api
    assert p["id"] in {x["id"] for x in c.get("/api/contacts?q=" + requests.utils.quote("待停用")).json()["items"]}
    assert t.admin.post("/api/users/%d/disable" % p["id"]).status_code == 200
    assert c.get("/api/contacts?q=" + requests.utils.quote("待停用")).json()["items"] == []


def test_contacts_need_the_permission(t):
    error(t.a_staff.api.get("/api/contacts"), 403, "forbidden")
    rows = audit(t.srv, action="access.denied", actor_id=t.a_staff.id)
    assert rows[-1]["result"] == "denied" and rows[-1]["detail"]["permission"] == "contacts.read"
    error(t.a1_clerk.api.get("/api/contacts?unit_id=x"), 400, "invalid", "unit_id")


# ---------------------------------------------------------------- users

def test_users_list_scope_and_filters(t):
    everyone, _ = page_all(t.admin, "/api/users", 2)
    assert {t.a_admin.id, t.b_staff.id, t.a1_clerk.id} <= set(everyone)
    mine, _ = page_all(t.a_admin.api, "/api/users", 50)
    assert {t.a_admin.id, t.a1_clerk.id, t.a_staff.id} <= set(mine)
    assert t.b_staff.id not in mine and 1 not in mine
    got = t.admin.get("/api/users?unit_id=%d" % t.A1).json()["items"]
    assert {u["id"] for u in got} >= {t.a1_clerk.id} and all(u["unit_id"] == t.A1 for u in got)
    got = t.admin.get("/api/users?q=" + t.b_staff.username).json()["items"]
    assert [u["id"] for u in got] == [t.b_staff.id]
    assert all(u["status"] == "active" for u in t.admin.get("/api/users?status=active&limit=500").json()["items"])
    error(t.admin.get("/api/users?status=gone"), 400, "invalid", "status")
    error(t.a1_clerk.api.get("/api/users"), 403, "forbidden")


def test_user_create_with_password(t):
    name = uniq("wang")
    r = t.admin.post("/api/users", {"username": name, "display_name": "王五", "unit_id": t.A, "title": "副镇长",
                                    "phone": "0571-8888 0000", "extra_unit_ids": [t.A1, t.A1, t.A],
                                    "password": INIT_PW})
    assert r.status_code == 201, r.text
    u = r.json()
    assert u["username"] == name and u["unit_id"] == t.A and u["extra_unit_ids"] == [t.A1]
    assert u["must_change_password"] is True and u["status"] == "active"
    assert "initial_password" not in u and "password_hash" not in u and "password" not in u
    assert t.admin.get("/api/users/%d" % u["id"]).json() == u
    row = audit(t.srv, action="users.create", target="user:%d" % u["id"])[-1]
    assert INIT_PW not in json.dumps(row) and row["detail"]["password_source"] == "set"
    body = login_resp(t.srv, name, INIT_PW).json()
    assert body["must_change_password"] is True
    error(Api(t.srv, body["token"]).get("/api/units"), 403, "password_change_required")


def test_user_create_generates_a_password_once(t):
    r = t.admin.post("/api/users", {"username": uniq("zhao"), "display_name": "赵六", "unit_id": t.B})
    assert r.status_code == 201, r.text
    u = r.json()
    pw = u["initial_password"]
    assert isinstance(pw, str) and len(pw) >= 16
    assert "initial_password" not in t.admin.get("/api/users/%d" % u["id"]).json()
    assert login_resp(t.srv, u["username"], pw).status_code == 200
    row = audit(t.srv, action="users.create", target="user:%d" % u["id"])[-1]
    assert pw not in json.dumps(row) and row["detail"]["password_source"] == "generated"


@pytest.mark.parametrize("patch,field", [
    ({"username": "A!"}, "username"), ({"username": "x"}, "username"), ({"username": 7}, "username"),
    ({"display_name": None}, "display_name"), ({"display_name": ""}, "display_name"),
    ({"display_name": "名" * 43}, "display_name"), ({"unit_id": None}, "unit_id"), ({"unit_id": "2"}, "unit_id"),
    ({"unit_id": 999999}, "unit_id"), ({"title": "t" * 129}, "title"), ({"phone": "call me"}, "phone"),
    ({"extra_unit_ids": "1"}, "extra_unit_ids"), ({"extra_unit_ids": [0]}, "extra_unit_ids"),
    ({"extra_unit_ids": [999999]}, "extra_unit_ids"), ({"password": "short"}, "password"),
    ({"password": 12345678901234}, "password"), ({"nickname": "x"}, "nickname"),
])
def test_user_create_invalid(t, patch, field):
    body = {"username": uniq("bad"), "display_name": "坏", "unit_id": t.A, "password": INIT_PW}
    body.update(patch)
    body = {k: v for k, v in body.items() if v is not None or k not in ("display_name", "unit_id")}
    error(t.admin.post("/api/users", body), 400, "invalid", field)


def test_user_create_duplicate_username(t):
    error(t.admin.post("/api/users", {"username": t.b_staff.username, "display_name": "重名", "unit_id": t.B}),
          409, "conflict")


@pytest.mark.parametrize("key,value", [("roles", ["admin"]), ("status", "active"), ("password_hash", "$argon2id$x"),
                                       ("must_change", 0)])
def test_user_create_refuses_privileged_fields(t, key, value):
    """A unit admin's "roles": ["admin"] is refused outright (400), audited, and grants nothing."""
    name = uniq("sneak")
    body = {"username": name, "display_name": "夹带", "unit_id": t.A1, key: value}
    error(t.a_admin.api.post("/api/users", body), 400, "invalid", key)
    assert t.admin.get("/api/users?q=" + name).json()["items"] == []
    rows = audit(t.srv, action="users.create", actor_id=t.a_admin.id, result="denied")
    assert rows[-1]["detail"]["field"] == key
    admins = [g for g in t.admin.get("/api/grants?limit=500").json()["items"] if g["role"] == "system_admin"]
    assert [g["username"] for g in admins] == ["admin"]


def test_unit_admin_creates_users_only_in_its_subtree(t):
    a = t.a_admin.api
    r = a.post("/api/users", {"username": uniq("a1p"), "display_name": "甲一村村民", "unit_id": t.A1})
    assert r.status_code == 201, r.text
    error(a.post("/api/users", {"username": uniq("bp"), "display_name": "越权", "unit_id": t.B}), 403, "forbidden")
    error(a.post("/api/users", {"username": uniq("bp"), "display_name": "越权", "unit_id": t.A1,
                                "extra_unit_ids": [t.B1]}), 403, "forbidden")
    rows = audit(t.srv, action="users.create", actor_id=t.a_admin.id, result="denied")
    assert {"unit:%d" % t.B, "unit:%d" % t.B1} <= {r["target"] for r in rows}


def test_unit_admin_gets_404_for_another_townships_user(t):
    a = t.a_admin.api
    uid = t.b_staff.id
    assert a.get("/api/users/%d" % t.a1_clerk.id).status_code == 200
    error(a.get("/api/users/%d" % uid), 404, "not_found")
    error(a.patch("/api/users/%d" % uid, {"title": "越权"}), 404, "not_found")
    error(a.post("/api/users/%d/password" % uid), 404, "not_found")
    error(a.post("/api/users/%d/disable" % uid), 404, "not_found")
    rows = audit(t.srv, actor_id=t.a_admin.id, target="user:%d" % uid, result="denied")
    assert {r["action"] for r in rows} >= {"users.read", "users.update", "users.password", "users.disable"}
    assert t.admin.get("/api/users/%d" % uid).json()["title"] == "科员"


def test_village_clerk_cannot_read_a_township_user(t):
    error(t.a1_clerk.api.get("/api/users/%d" % t.a_admin.id), 403, "forbidden")
    rows = audit(t.srv, action="access.denied", actor_id=t.a1_clerk.id)
    assert any(r["detail"]["permission"] == "users.read" for r in rows)


def test_user_get_unknown(t):
    error(t.admin.get("/api/users/999999"), 404, "not_found")
    error(t.admin.get("/api/users/x"), 404, "not_found")
    error(t.admin.post("/api/users/999999/unlock"), 404, "not_found")


def test_users_are_never_deleted(t):
    r = t.admin.delete("/api/users/%d" % t.a_staff.id)
    error(r, 405, "method_not_allowed")
    assert "PATCH" in r.headers["Allow"]


def test_user_patch(t):
    u = make_user(t.admin, t.A, display_name="原名")
    a = t.a_admin.api
    r = a.patch("/api/users/%d" % u["id"], {"display_name": "新名", "title": "站长", "phone": "13900000000",
                                            "extra_unit_ids": [t.A2]})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["display_name"], got["title"], got["phone"], got["extra_unit_ids"]) == ("新名", "站长", "13900000000", [t.A2])
    ch = audit(t.srv, action="users.update", target="user:%d" % u["id"])[-1]["detail"]["changes"]
    assert ch["display_name"] == {"old": "原名", "new": "新名"} and ch["extra_unit_ids"] == {"old": [], "new": [t.A2]}
    r = a.patch("/api/users/%d" % u["id"], {"unit_id": t.A1})
    assert r.status_code == 200 and r.json()["unit_id"] == t.A1
    assert audit(t.srv, action="users.move", target="user:%d" % u["id"])[-1]["detail"]["changes"]["unit_id"] == \
        {"old": t.A, "new": t.A1}
    error(a.patch("/api/users/%d" % u["id"], {"unit_id": t.B}), 403, "forbidden")
    error(a.patch("/api/users/%d" % u["id"], {"extra_unit_ids": [t.B1]}), 403, "forbidden")
    assert t.admin.get("/api/users/%d" % u["id"]).json()["unit_id"] == t.A1


@pytest.mark.parametrize("body,field", [
    ({"username": "renamed"}, "username"), ({"status": "disabled"}, "status"), ({"roles": ["x"]}, "roles"),
    ({"password": INIT_PW}, "password"), ({"nickname": "x"}, "nickname"), ({"display_name": ""}, "display_name"),
    ({"phone": "abc"}, "phone"), ({"unit_id": 0}, "unit_id"), ({"unit_id": 999999}, "unit_id"),
])
def test_user_patch_invalid(t, body, field):
    error(t.admin.patch("/api/users/%d" % t.a_staff.id, body), 400, "invalid", field)


def test_user_patch_bad_bodies(t):
    error(t.admin.patch("/api/users/%d" % t.a_staff.id, raw=b"{"), 400, "bad_json")
    error(t.admin.patch("/api/users/%d" % t.a_staff.id, raw=b"[]"), 400, "invalid")
    error(t.admin.patch("/api/users/%d" % t.a_staff.id, raw=b"{}", ctype=None), 415)


def test_password_reset_generates_and_revokes_sessions(t):
    p = person(t.srv, t.admin, t.A2)
    assert p.api.get("/api/me").status_code == 200
    r = t.a_admin.api.post("/api/users/%d/password" % p.id)
    assert r.status_code == 200, r.text
    body = r.json()
    pw = body["initial_password"]
    assert body["must_change_password"] is True and len(pw) >= 16
    error(p.api.get("/api/me"), 401)
    error(login_resp(t.srv, p.username, NEW_PW), 401, "bad_credentials")
    again = login_resp(t.srv, p.username, pw)
    assert again.status_code == 200 and again.json()["must_change_password"] is True
    row = audit(t.srv, action="users.password", target="user:%d" % p.id)[-1]
    assert row["result"] == "ok" and row["detail"] == {"generated": True} and pw not in json.dumps(row)


def test_password_reset_with_a_chosen_password(t):
    p = person(t.srv, t.admin, t.A2)
    r = t.admin.post("/api/users/%d/password" % p.id, {"password": "Chosen-By-Admin-42!"})
    assert r.status_code == 200 and "initial_password" not in r.json()
    assert login_resp(t.srv, p.username, "Chosen-By-Admin-42!").status_code == 200
    error(t.admin.post("/api/users/%d/password" % p.id, {"password": "short"}), 400, "invalid", "password")
    error(t.admin.post("/api/users/%d/password" % p.id, {"pw": "x"}), 400, "invalid", "pw")
    error(t.admin.post("/api/users/%d/password" % p.id, raw=b"nope"), 400, "bad_json")


def test_no_takeover_of_a_more_powerful_account(t):
    """A's admin may not reset, disable or edit an account in A that holds more than it does."""
    boss = person(t.srv, t.admin, t.A, [("security_admin", t.root, True)])
    a = t.a_admin.api
    error(a.post("/api/users/%d/password" % boss.id), 403, "forbidden")
    error(a.post("/api/users/%d/disable" % boss.id), 403, "forbidden")
    error(a.patch("/api/users/%d" % boss.id, {"title": "x"}), 403, "forbidden")
    rows = audit(t.srv, actor_id=t.a_admin.id, target="user:%d" % boss.id, result="denied")
    assert {r["action"] for r in rows} == {"users.password", "users.disable", "users.update"}
    assert boss.api.get("/api/me").status_code == 200
    assert t.admin.post("/api/users/%d/unlock" % boss.id).status_code == 200


def test_disable_and_enable(t):
    p = person(t.srv, t.admin, t.A1)
    r = t.a_admin.api.post("/api/users/%d/disable" % p.id)
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    error(p.api.get("/api/me"), 401)
    error(login_resp(t.srv, p.username, NEW_PW), 401, "bad_credentials")
    assert p.id in {u["id"] for u in t.admin.get("/api/users?status=disabled&limit=500").json()["items"]}
    r = t.a_admin.api.post("/api/users/%d/enable" % p.id)
    assert r.status_code == 200 and r.json()["status"] == "active"
    error(p.api.get("/api/me"), 401)          # sessions were revoked, not just paused
    assert login_resp(t.srv, p.username, NEW_PW).status_code == 200
    acts = [r["action"] for r in audit(t.srv, target="user:%d" % p.id) if r["result"] == "ok"]
    assert "users.disable" in acts and "users.enable" in acts
    error(t.admin.post("/api/users/1/disable"), 409, "conflict")


def test_unlock(t):
    p = person(t.srv, t.admin, t.A1)
    for _ in range(5):
        error(login_resp(t.srv, p.username, "Wrong-Password-000!"), 401, "bad_credentials")
    error(login_resp(t.srv, p.username, NEW_PW), 401, "bad_credentials")
    assert t.admin.get("/api/users/%d" % p.id).json()["status"] == "locked"
    assert p.id in {u["id"] for u in t.admin.get("/api/users?status=locked&limit=500").json()["items"]}
    error(t.a1_clerk.api.post("/api/users/%d/unlock" % p.id), 403, "forbidden")
    r = t.a_admin.api.post("/api/users/%d/unlock" % p.id)
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert login_resp(t.srv, p.username, NEW_PW).status_code == 200
    assert audit(t.srv, action="users.unlock", target="user:%d" % p.id)[-1]["actor_id"] == t.a_admin.id
