"""Access over HTTP: /api/roles, /api/grants (no escalation), API tokens (/api/me/tokens,
limited to their permissions and unit) and 代批 delegations (/api/me/delegations, audit rows
on behalf of the delegator), on a small county built through the API."""
import json
from datetime import datetime, timedelta, timezone

import pytest

# helpers of both modules; asserts in them report as asserts in a test do
from directory_helpers import Api, audit, county, db_value, error, grant, make_unit, person, serve, uniq


# ---------------------------------------------------------------- helpers

def rfc3339(dt):
    return dt.astimezone(timezone(timedelta(hours=8))).isoformat(timespec="seconds")


def now():
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def srv():
    yield from serve("yimen-access-")


@pytest.fixture(scope="module")
def t(srv):
    """root -> A (A1), B (B1); a_admin: unit_admin on A's subtree; sec: security_admin on
    the root; b_admin: unit_admin on B's subtree; staff in A without permissions."""
    t = county(srv)
    admin = t.admin
    t.A1 = make_unit(admin, "village", "甲一村", t.A)
    t.B1 = make_unit(admin, "village", "乙一村", t.B)
    t.a_admin = person(srv, admin, t.A, [("unit_admin", t.A, True)], "甲镇管理员")
    t.b_admin = person(srv, admin, t.B, [("unit_admin", t.B, True)], "乙镇管理员")
    t.sec = person(srv, admin, t.root, [("security_admin", t.root, True)], "安全管理员")
    t.clerk = person(srv, admin, t.A1, [("clerk", t.A1, False)], "甲一村收发员")
    return t


def role_id(t, key):
    return next(r["id"] for r in t.admin.get("/api/roles?limit=500").json()["items"] if r["key"] == key)


# ---------------------------------------------------------------- roles

def test_roles_list_and_get(t):
    items = t.a_admin.api.get("/api/roles?limit=500").json()["items"]
    by_key = {r["key"]: r for r in items}
    assert {"system_admin", "security_admin", "audit_admin", "unit_admin", "clerk"} <= set(by_key)
    sa = by_key["system_admin"]
    assert sa["builtin"] is True and sa["permissions"] == ["*"] and sa["name"]
    assert "users.manage" in by_key["unit_admin"]["permissions"]
    assert t.admin.get("/api/roles/%d" % sa["id"]).json() == sa
    first = t.admin.get("/api/roles?limit=2").json()
    assert len(first["items"]) == 2 and first["next"] == first["items"][1]["id"]
    rest = t.admin.get("/api/roles?limit=500&after=%d" % first["next"]).json()["items"]
    assert [r["id"] for r in first["items"] + rest] == [r["id"] for r in items]
    error(t.admin.get("/api/roles/999999"), 404, "not_found")
    error(t.clerk.api.get("/api/roles"), 403, "forbidden")


def test_role_create_patch_delete(t):
    r = t.sec.api.post("/api/roles", {"key": "archivist", "name": "档案员", "description": "管档案",
                                      "permissions": ["units.read", "contacts.read", "users.read", "units.read"]})
    assert r.status_code == 201, r.text
    role = r.json()
    assert role["key"] == "archivist" and role["builtin"] is False
    assert role["permissions"] == ["contacts.read", "units.read", "users.read"]
    assert t.admin.get("/api/roles/%d" % role["id"]).json() == role
    assert audit(t.srv, action="roles.create", target="role:%d" % role["id"])[-1]["actor_id"] == t.sec.id
    r = t.sec.api.patch("/api/roles/%d" % role["id"], {"name": "档案管理员", "permissions": ["units.read"]})
    assert r.status_code == 200 and r.json()["permissions"] == ["units.read"] and r.json()["name"] == "档案管理员"
    ch = audit(t.srv, action="roles.update", target="role:%d" % role["id"])[-1]["detail"]["changes"]
    assert ch["permissions"] == {"old": ["contacts.read", "units.read", "users.read"], "new": ["units.read"]}
    g = grant(t.admin, t.clerk.id, "archivist", t.A1)
    error(t.sec.api.delete("/api/roles/%d" % role["id"]), 409, "conflict")
    assert t.admin.delete("/api/grants/%d" % g["id"]).status_code == 204
    assert t.sec.api.delete("/api/roles/%d" % role["id"]).status_code == 204
    error(t.admin.get("/api/roles/%d" % role["id"]), 404)
    assert audit(t.srv, action="roles.delete", target="role:%d" % role["id"])[-1]["detail"] == {"key": "archivist"}


def test_role_patterns(t):
    r = t.admin.post("/api/roles", {"key": uniq("unitsall"), "name": "单位全权", "permissions": ["units.*"]})
    assert r.status_code == 201 and r.json()["permissions"] == ["units.*"]
    error(t.admin.post("/api/roles", {"key": uniq("r"), "name": "x", "permissions": ["nosuch.*"]}),
          400, "invalid", "permissions")


@pytest.mark.parametrize("body,field", [
    ({"name": "无键"}, "key"), ({"key": "Bad-Key", "name": "x"}, "key"), ({"key": "9x", "name": "x"}, "key"),
    ({"key": "ok_key"}, "name"), ({"key": "ok_key", "name": ""}, "name"), ({"key": "ok_key", "name": "n" * 101}, "name"),
    ({"key": "ok_key", "name": "x", "permissions": "units.read"}, "permissions"),
    ({"key": "ok_key", "name": "x", "permissions": ["units.fly"]}, "permissions"),
    ({"key": "ok_key", "name": "x", "permissions": [1]}, "permissions"),
    ({"key": "ok_key", "name": "x", "builtin": True}, "builtin"),
])
def test_role_create_invalid(t, body, field):
    error(t.admin.post("/api/roles", body), 400, "invalid", field)


def test_role_create_refusals(t):
    error(t.admin.post("/api/roles", {"key": "clerk", "name": "重复"}), 409, "conflict")
    # the security admin does not hold units.manage, so may not put it in a role
    error(t.sec.api.post("/api/roles", {"key": uniq("r"), "name": "x", "permissions": ["units.manage"]}),
          403, "forbidden")
    # nobody's "*" covers the audit log
    error(t.admin.post("/api/roles", {"key": uniq("r"), "name": "x", "permissions": ["audit.read"]}), 403, "forbidden")
    rows = audit(t.srv, action="roles.create", result="denied")
    assert {r["detail"]["permission"] for r in rows} >= {"units.manage", "audit.read"}
    error(t.a_admin.api.post("/api/roles", {"key": uniq("r"), "name": "x"}), 403, "forbidden")
    error(t.admin.post("/api/roles", raw=b"{oops"), 400, "bad_json")


def test_builtin_roles_keep_their_permissions(t):
    cid = role_id(t, "clerk")
    error(t.admin.patch("/api/roles/%d" % cid, {"permissions": ["units.read"]}), 409, "conflict")
    r = t.admin.patch("/api/roles/%d" % cid, {"description": "签收与分发"})
    assert r.status_code == 200 and r.json()["description"] == "签收与分发"
    error(t.admin.delete("/api/roles/%d" % cid), 409, "conflict")
    error(t.admin.patch("/api/roles/%d" % cid, {"key": "x"}), 400, "invalid", "key")
    error(t.admin.patch("/api/roles/999999", {"name": "x"}), 404)
    error(t.admin.delete("/api/roles/999999"), 404)


def test_role_patch_needs_every_permission(t):
    r = t.admin.post("/api/roles", {"key": uniq("mgr"), "name": "x", "permissions": ["units.manage"]})
    rid = r.json()["id"]
    # the security admin may neither remove nor add what it does not hold
    error(t.sec.api.patch("/api/roles/%d" % rid, {"permissions": ["units.read"]}), 403, "forbidden")
    assert t.admin.get("/api/roles/%d" % rid).json()["permissions"] == ["units.manage"]


# ---------------------------------------------------------------- grants

def test_grant_create_list_delete(t):
    p = person(t.srv, t.admin, t.A1)
    r = t.a_admin.api.post("/api/grants", {"user_id": p.id, "role": "clerk", "unit_id": t.A1,
                                           "include_descendants": False})
    assert r.status_code == 201, r.text
    g = r.json()
    assert (g["user_id"], g["role"], g["unit_id"], g["include_descendants"]) == (p.id, "clerk", t.A1, False)
    assert g["created_by"] == t.a_admin.id and g["username"] == p.username and g["unit_name"] == "甲一村"
    assert p.api.get("/api/units/%d" % t.A1).status_code == 200
    listed = t.a_admin.api.get("/api/grants?user_id=%d" % p.id).json()["items"]
    assert [x["id"] for x in listed] == [g["id"]]
    assert t.admin.get("/api/grants?unit_id=%d" % t.A1).json()["items"][-1]["id"] == g["id"]
    dup = t.a_admin.api.post("/api/grants", {"user_id": p.id, "role_id": role_id(t, "clerk"), "unit_id": t.A1})
    error(dup, 409, "conflict")
    row = audit(t.srv, action="grants.create", target="grant:%d" % g["id"])[-1]
    assert row["detail"] == {"user_id": p.id, "role": "clerk", "unit_id": t.A1, "include_descendants": False}
    assert t.a_admin.api.delete("/api/grants/%d" % g["id"]).status_code == 204
    error(p.api.get("/api/units/%d" % t.A1), 403, "forbidden")
    error(t.a_admin.api.delete("/api/grants/%d" % g["id"]), 404)
    assert audit(t.srv, action="grants.delete", target="grant:%d" % g["id"])[-1]["result"] == "ok"


def test_unit_admin_cannot_grant_system_admin(t):
    p = person(t.srv, t.admin, t.A1)
    error(t.a_admin.api.post("/api/grants", {"user_id": p.id, "role": "system_admin", "unit_id": t.A}),
          403, "forbidden")
    error(t.a_admin.api.post("/api/grants", {"user_id": p.id, "role": "security_admin", "unit_id": t.A1}),
          403, "forbidden")
    error(t.a_admin.api.post("/api/grants", {"user_id": p.id, "role": "clerk", "unit_id": t.B}), 403, "forbidden")
    rows = audit(t.srv, action="grants.create", actor_id=t.a_admin.id, result="denied")
    assert len(rows) >= 3 and all(r["result"] == "denied" for r in rows)
    assert t.admin.get("/api/grants?user_id=%d" % p.id).json()["items"] == []
    # its own role, on its own subtree, is within reach
    assert t.a_admin.api.post("/api/grants", {"user_id": p.id, "role": "unit_admin", "unit_id": t.A1}).status_code == 201


def test_grant_subtree_needs_subtree_reach(t):
    """The clerk of A1 (no subtree) is given grants.manage there via a custom role; it may
    grant clerk on A1 itself but not with include_descendants."""
    r = t.admin.post("/api/roles", {"key": uniq("granter"), "name": "授权员",
                                    "permissions": ["grants.manage", "units.read", "contacts.read"]})
    key = r.json()["key"]
    g = grant(t.admin, t.clerk.id, key, t.A1, False)
    p = person(t.srv, t.admin, t.A1)
    error(t.clerk.api.post("/api/grants", {"user_id": p.id, "role": "clerk", "unit_id": t.A1,
                                           "include_descendants": True}), 403, "forbidden")
    ok = t.clerk.api.post("/api/grants", {"user_id": p.id, "role": "clerk", "unit_id": t.A1,
                                          "include_descendants": False})
    assert ok.status_code == 201, ok.text
    assert t.admin.delete("/api/grants/%d" % g["id"]).status_code == 204


@pytest.mark.parametrize("body,field", [
    ({"role": "clerk", "unit_id": 1}, "user_id"), ({"user_id": 999999, "role": "clerk", "unit_id": 1}, "user_id"),
    ({"user_id": 1, "unit_id": 1}, "role_id"), ({"user_id": 1, "role": "nosuch", "unit_id": 1}, "role"),
    ({"user_id": 1, "role": "clerk", "role_id": 5, "unit_id": 1}, "role"),
    ({"user_id": 1, "role_id": 999999, "unit_id": 1}, "role_id"), ({"user_id": 1, "role": "clerk"}, "unit_id"),
    ({"user_id": 1, "role": "clerk", "unit_id": 999999}, "unit_id"),
    ({"user_id": "1", "role": "clerk", "unit_id": 1}, "user_id"),
    ({"user_id": 1, "role": "clerk", "unit_id": 1, "include_descendants": "yes"}, "include_descendants"),
    ({"user_id": 1, "role": "clerk", "unit_id": 1, "expires": 3}, "expires"),
])
def test_grant_create_invalid(t, body, field):
    error(t.admin.post("/api/grants", body), 400, "invalid", field)


def test_grants_list_is_scoped(t):
    grant(t.admin, t.b_admin.id, "clerk", t.B1)
    mine = t.a_admin.api.get("/api/grants?limit=500").json()["items"]
    assert mine and all(g["unit_id"] in (t.A, t.A1) for g in mine)
    everything = t.admin.get("/api/grants?limit=500").json()["items"]
    assert any(g["unit_id"] == t.B1 for g in everything)
    error(t.admin.get("/api/grants?user_id=abc"), 400, "invalid", "user_id")
    error(t.clerk.api.get("/api/grants"), 403, "forbidden")


def test_grant_delete_refusals(t):
    b_grant = next(g for g in t.admin.get("/api/grants?user_id=%d" % t.b_admin.id).json()["items"]
                   if g["role"] == "unit_admin")
    error(t.a_admin.api.delete("/api/grants/%d" % b_grant["id"]), 404, "not_found")
    assert audit(t.srv, action="grants.delete", actor_id=t.a_admin.id, result="denied")
    root_grant = next(g for g in t.admin.get("/api/grants?user_id=1").json()["items"] if g["role"] == "system_admin")
    error(t.admin.delete("/api/grants/%d" % root_grant["id"]), 409, "conflict")
    error(t.admin.delete("/api/grants/999999"), 404)
    error(t.admin.delete("/api/grants/x"), 404)


# ---------------------------------------------------------------- API tokens

def make_token(api, **body):
    r = api.post("/api/me/tokens", body)
    assert r.status_code == 201, r.text
    return r.json()


def test_token_is_limited_to_its_permissions(t):
    tok = make_token(t.admin, name="只读单位", permissions=["units.read"], unit_id=t.root)
    assert tok["token"].startswith("yt_") and len(tok["token"]) >= 40
    assert tok["permissions"] == ["units.read"] and tok["unit_id"] == t.root
    bot = Api(t.srv, tok["token"])
    assert bot.get("/api/units").status_code == 200
    error(bot.get("/api/users"), 403, "forbidden")
    error(bot.get("/api/contacts"), 403, "forbidden")
    error(bot.post("/api/units", {"kind": "other", "name": "x"}), 403, "forbidden")
    me = bot.get("/api/me").json()
    assert me["auth"] == "api_token" and me["permissions"] == ["units.read"]
    rows = audit(t.srv, action="access.denied", actor_id=1)
    assert any(r["detail"]["permission"] == "users.read" for r in rows)
    hashed = db_value(t.srv, "SELECT token_hash FROM core_api_tokens WHERE id = ?", tok["id"])
    assert hashed and tok["token"] not in str(hashed)
    assert tok["token"] not in json.dumps(audit(t.srv, action="tokens.create"))


def test_token_is_limited_to_its_unit(t):
    tok = make_token(t.a_admin.api, name="甲镇同步", permissions=["units.read", "users.read"], unit_id=t.A1,
                     include_descendants=False)
    bot = Api(t.srv, tok["token"])
    assert [u["id"] for u in bot.get("/api/units").json()["items"]] == [t.A1]
    error(bot.get("/api/units/%d" % t.A), 404)
    assert t.a_admin.api.get("/api/units/%d" % t.A).status_code == 200
    users = bot.get("/api/users?limit=500").json()["items"]
    assert users and all(u["unit_id"] == t.A1 for u in users)
    error(bot.get("/api/users/%d" % t.a_admin.id), 404)


def test_token_cannot_exceed_its_owner(t):
    error(t.a_admin.api.post("/api/me/tokens", {"name": "x", "permissions": ["units.read"], "unit_id": t.B}),
          403, "forbidden")
    error(t.a_admin.api.post("/api/me/tokens", {"name": "x", "permissions": ["roles.manage"]}), 403, "forbidden")
    error(t.admin.post("/api/me/tokens", {"name": "x", "permissions": ["audit.read"]}), 403, "forbidden")
    assert audit(t.srv, action="tokens.create", actor_id=t.a_admin.id, result="denied")
    bot = Api(t.srv, make_token(t.admin, name="t", permissions=["*"])["token"])
    error(bot.post("/api/me/tokens", {"name": "child", "permissions": ["units.read"]}), 403, "forbidden")
    error(bot.post("/api/me/delegations", {"to_user_id": t.sec.id, "permissions": ["units.read"],
                                           "ends_at": rfc3339(now() + timedelta(days=1))}), 403, "forbidden")


@pytest.mark.parametrize("body,field", [
    ({"permissions": ["units.read"]}, "name"), ({"name": "", "permissions": ["units.read"]}, "name"),
    ({"name": "x"}, "permissions"), ({"name": "x", "permissions": []}, "permissions"),
    ({"name": "x", "permissions": ["units.fly"]}, "permissions"),
    ({"name": "x", "permissions": ["units.read"], "expires_in_days": 0}, "expires_in_days"),
    ({"name": "x", "permissions": ["units.read"], "expires_in_days": 366}, "expires_in_days"),
    ({"name": "x", "permissions": ["units.read"], "unit_id": 999999}, "unit_id"),
    ({"name": "x" * 101, "permissions": ["units.read"]}, "name"),
    ({"name": "x", "permissions": ["units.read"], "token": "yt_mine"}, "token"),
])
def test_token_create_invalid(t, body, field):
    error(t.admin.post("/api/me/tokens", body), 400, "invalid", field)


def test_token_list_and_revoke(t):
    tok = make_token(t.sec.api, name="导出", permissions=["users.read"], expires_in_days=7)
    listed = t.sec.api.get("/api/me/tokens").json()["items"]
    assert [x["id"] for x in listed] == [tok["id"]]
    assert "token" not in listed[0] and listed[0]["expired"] is False and listed[0]["unit_id"] == t.root
    exp = datetime.fromisoformat(listed[0]["expires_at"])
    assert timedelta(days=6, hours=23) < exp - now() < timedelta(days=7, hours=1)
    assert t.admin.get("/api/me/tokens").json()["items"] != listed
    bot = Api(t.srv, tok["token"])
    assert bot.get("/api/users").status_code == 200
    error(t.admin.delete("/api/me/tokens/%d" % tok["id"]), 404, "not_found")
    assert t.sec.api.delete("/api/me/tokens/%d" % tok["id"]).status_code == 204
    error(bot.get("/api/users"), 401)
    assert t.sec.api.get("/api/me/tokens").json()["items"] == []
    error(t.sec.api.delete("/api/me/tokens/%d" % tok["id"]), 404)
    assert audit(t.srv, action="tokens.revoke", target="token:%d" % tok["id"])[-1]["actor_id"] == t.sec.id


def test_token_of_a_disabled_user_stops(t):
    p = person(t.srv, t.admin, t.A1, [("clerk", t.A1, False)])
    bot = Api(t.srv, make_token(p.api, name="x", permissions=["units.read"])["token"])
    assert bot.get("/api/units").status_code == 200
    assert t.admin.post("/api/users/%d/disable" % p.id).status_code == 200
    error(bot.get("/api/units"), 401)


# ---------------------------------------------------------------- delegations (代批)

def delegate(api, to, perms, days=3, **extra):
    body = {"to_user_id": to, "permissions": perms, "ends_at": rfc3339(now() + timedelta(days=days))}
    body.update(extra)
    r = api.post("/api/me/delegations", body)
    assert r.status_code == 201, r.text
    return r.json()


def test_delegation_lets_b_act_for_a(t):
    """A's admin is away; a plain colleague signs for it: the audit row names A's admin."""
    stand_in = person(t.srv, t.admin, t.A, display_name="代理人")
    error(stand_in.api.post("/api/users", {"username": uniq("x"), "display_name": "x", "unit_id": t.A1}), 403)
    d = delegate(t.a_admin.api, stand_in.id, ["users.manage", "users.read"], reason="外出学习")
    assert d["from_user_id"] == t.a_admin.id and d["to_user_id"] == stand_in.id and d["active"] is True
    assert d["reason"] == "外出学习" and d["permissions"] == ["users.manage", "users.read"]
    r = stand_in.api.post("/api/users", {"username": uniq("dlg"), "display_name": "代办新人", "unit_id": t.A1})
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    row = audit(t.srv, action="users.create", target="user:%d" % uid)[-1]
    assert row["actor_id"] == stand_in.id and row["on_behalf_of"] == t.a_admin.id
    # only as far as the delegator reaches
    error(stand_in.api.post("/api/users", {"username": uniq("x"), "display_name": "x", "unit_id": t.B}), 403)
    # the delegator sees what was done for them, newest first
    acts = t.a_admin.api.get("/api/me/delegated-actions").json()
    assert acts["items"][0]["action"] == "users.create" and acts["items"][0]["actor_id"] == stand_in.id
    assert acts["items"][0]["target"] == "user:%d" % uid
    assert t.admin.get("/api/me/delegated-actions").json()["items"] == []
    got = stand_in.api.get("/api/me/delegations").json()
    assert [x["id"] for x in got["received"]] == [d["id"]] and got["given"] == []
    assert [x["id"] for x in t.a_admin.api.get("/api/me/delegations").json()["given"]] == [d["id"]]
    # revoked: the stand-in is back to nothing
    error(stand_in.api.delete("/api/me/delegations/%d" % d["id"]), 404)
    assert t.a_admin.api.delete("/api/me/delegations/%d" % d["id"]).status_code == 204
    error(stand_in.api.post("/api/users", {"username": uniq("x"), "display_name": "x", "unit_id": t.A1}), 403)
    assert t.a_admin.api.get("/api/me/delegations").json()["given"][0]["active"] is False
    assert audit(t.srv, action="delegations.revoke", target="delegation:%d" % d["id"])


def test_delegated_actions_paging(t):
    helper = person(t.srv, t.admin, t.B, display_name="乙镇代理")
    delegate(t.b_admin.api, helper.id, ["units.manage", "units.read"])
    made = [helper.api.post("/api/units", {"parent_id": t.B1, "kind": "other", "name": uniq("组")}).json()["id"]
            for _ in range(3)]
    ids, after = [], None
    while True:
        r = t.b_admin.api.get("/api/me/delegated-actions?limit=2" + ("&after=%d" % after if after else ""))
        body = r.json()
        ids += [x["id"] for x in body["items"]]
        if not body["next"]:
            break
        after = body["next"]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3
    targets = {row["target"] for row in audit(t.srv, on_behalf_of=t.b_admin.id)}
    assert {"unit:%d" % m for m in made} <= targets


def test_delegation_refusals(t):
    p = person(t.srv, t.admin, t.A)
    a = t.a_admin.api
    error(a.post("/api/me/delegations", {"to_user_id": p.id, "permissions": ["roles.manage"],
                                         "ends_at": rfc3339(now() + timedelta(days=1))}), 403, "forbidden")
    assert audit(t.srv, action="delegations.create", actor_id=t.a_admin.id, result="denied")
    # what was delegated to me is not mine to hand on
    d = delegate(a, p.id, ["users.read"])
    q = person(t.srv, t.admin, t.A)
    error(p.api.post("/api/me/delegations", {"to_user_id": q.id, "permissions": ["users.read"],
                                             "ends_at": rfc3339(now() + timedelta(days=1))}), 403, "forbidden")
    assert a.delete("/api/me/delegations/%d" % d["id"]).status_code == 204
    error(a.delete("/api/me/delegations/%d" % d["id"]), 404)


@pytest.mark.parametrize("patch,field", [
    ({"to_user_id": None}, "to_user_id"), ({"to_user_id": 999999}, "to_user_id"), ({"to_user_id": "x"}, "to_user_id"),
    ({"permissions": []}, "permissions"), ({"permissions": ["nope.read"]}, "permissions"),
    ({"ends_at": "tomorrow"}, "ends_at"), ({"ends_at": "2026-13-01T00:00:00Z"}, "ends_at"),
    ({"ends_at": "2026-02-30T00:00:00+08:00"}, "ends_at"), ({"ends_at": None}, "ends_at"),
    ({"starts_at": "2026-01-01"}, "starts_at"), ({"reason": "r" * 501}, "reason"), ({"note": "x"}, "note"),
    ({"ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
])
def test_delegation_invalid(t, patch, field):
    body = {"to_user_id": t.sec.id, "permissions": ["users.read"], "ends_at": rfc3339(now() + timedelta(days=1))}
    body.update(patch)
    body = {k: v for k, v in body.items() if v is not None}
    error(t.a_admin.api.post("/api/me/delegations", body), 400, "invalid", field)


def test_delegation_time_rules(t):
    a = t.a_admin.api
    start = now() + timedelta(days=1)
    body = {"to_user_id": t.sec.id, "permissions": ["users.read"], "starts_at": rfc3339(start)}
    error(a.post("/api/me/delegations", dict(body, ends_at=rfc3339(start))), 400, "invalid", "ends_at")
    error(a.post("/api/me/delegations", dict(body, ends_at=rfc3339(start - timedelta(hours=1)))), 400, "invalid", "ends_at")
    error(a.post("/api/me/delegations", dict(body, ends_at=rfc3339(start + timedelta(days=91)))), 400, "invalid", "ends_at")
    error(a.post("/api/me/delegations", {"to_user_id": t.a_admin.id, "permissions": ["users.read"],
                                         "ends_at": rfc3339(start)}), 400, "invalid", "to_user_id")
    r = a.post("/api/me/delegations", dict(body, ends_at=rfc3339(start + timedelta(days=90))))
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["active"] is False
    assert datetime.fromisoformat(d["starts_at"]) == start.replace(microsecond=0)
    # not yet started: the colleague cannot use it
    assert a.delete("/api/me/delegations/%d" % d["id"]).status_code == 204
    r = a.post("/api/me/delegations", {"to_user_id": t.sec.id, "permissions": ["users.read"],
                                       "ends_at": "2099-01-01T00:00:00.5Z", "starts_at": "2098-12-01T08:00:00.123+08:00"})
    assert r.status_code == 201, r.text
    assert r.json()["starts_at"].startswith("2098-12-01T08:00:00.123+08:00")
    assert a.delete("/api/me/delegations/%d" % r.json()["id"]).status_code == 204


def test_delegation_not_yet_started_grants_nothing(t):
    p = person(t.srv, t.admin, t.A)
    body = {"to_user_id": p.id, "permissions": ["users.read"], "starts_at": rfc3339(now() + timedelta(hours=2)),
            "ends_at": rfc3339(now() + timedelta(days=2))}
    r = t.a_admin.api.post("/api/me/delegations", body)
    assert r.status_code == 201
    error(p.api.get("/api/users"), 403, "forbidden")


# ---------------------------------------------------------------- permissions

def test_permissions_list_for_the_role_editor():
    """GET /api/permissions: the core's and the enabled plugins' permissions with their labels,
    sorted by name, for whoever holds roles.manage; 403 for others."""
    import os
    import tempfile
    from conftest import Server
    from directory_helpers import ADMIN_PW, EXTRA, login
    with tempfile.TemporaryDirectory(prefix="yimen-perms-") as tmp:
        d = os.path.join(tmp, "plugins", "permdemo")
        os.makedirs(d)
        with open(os.path.join(d, "init.lua"), "w") as f:
            f.write('local yimen = require "yimen"\n'
                    'local M = { name = "permdemo", version = "1.0.0", core_min = "0.1" }\n'
                    'function M.init()\n'
                    '  yimen.permission("permdemo.read", "查看演示", "read the demo")\n'
                    '  yimen.permission("permdemo.write", "编辑演示", "edit the demo")\n'
                    'end\nreturn M\n')
        s = Server(tmp, EXTRA + '\nplugin_paths = { "%s" }\nplugins = { "permdemo" }\n'
                   % os.path.join(tmp, "plugins"), workers=1,
                   env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW}).start()
        try:
            admin = Api(s, login(s, "admin", ADMIN_PW))
            r = admin.get("/api/permissions")
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            names = [p["name"] for p in items]
            assert names == sorted(names) and len(names) == len(set(names))
            by = {p["name"]: p for p in items}
            assert by["roles.manage"] == {"name": "roles.manage", "owner": "core", "label_zh": "管理角色",
                                          "label_en": "manage roles"}
            assert by["permdemo.write"] == {"name": "permdemo.write", "owner": "permdemo",
                                            "label_zh": "编辑演示", "label_en": "edit the demo"}
            assert {"users.manage", "audit.read", "permdemo.read"} <= set(names)
            assert "*" not in names
            root = admin.get("/api/units?kind=county").json()["items"][0]["id"]
            staff = person(s, admin, root, [("staff", root, True)])
            error(staff.api.get("/api/permissions"), 403, "forbidden")
            error(Api(s).get("/api/permissions"), 401)
        finally:
            assert s.stop() == 0, s.log_text()[-4000:]
